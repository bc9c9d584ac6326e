"""Model files: round trip, no code execution, clear errors for bad files, atomic saves."""

from __future__ import annotations

import json
import os
import pickle
import struct

import numpy as np
import pytest

from core.errors import ModelFileError
from core.modelfile import FORMAT_VERSION, load_model, read_info, save_model, to_bytes

TEXTS = ["the film was great", "awful plot and very dull", "a lovely , fine film", "unknownword xyz", ""]


def test_round_trip_predicts_exactly_the_same(tiny_model, tmp_path):
    path = save_model(tiny_model, tmp_path / "m.safetensors")
    again = load_model(path)
    np.testing.assert_array_equal(tiny_model.predict_proba(TEXTS), again.predict_proba(TEXTS))
    assert again.label_names == tiny_model.label_names
    assert again.config == tiny_model.config
    assert again.metrics["test"]["accuracy"] == tiny_model.metrics["test"]["accuracy"]
    assert again.info["versions"]["torch"]
    t1, t2 = tiny_model.trace("the film was great"), again.trace("the film was great")
    np.testing.assert_array_equal(t1.cell().values["forget"], t2.cell().values["forget"])


def test_info_reads_metadata_only(tiny_model, tmp_path):
    path = save_model(tiny_model, tmp_path / "m.safetensors")
    info = read_info(path)
    assert info["format_version"] == FORMAT_VERSION
    assert info["model_config"]["kind"] == "lstm"
    assert info["label_names"] == ["negative", "positive"]


def test_a_pickle_payload_never_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Payload()))
    with pytest.raises(ModelFileError, match="not a Sentiment Studio model file"):
        load_model(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "too short"),
        (os.urandom(4096), "not a Sentiment Studio model file"),
        (struct.pack("<Q", 20) + b'{"a": {"dtype": 1}} ', "not a Sentiment Studio model"),
    ],
)
def test_garbage_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_missing_and_folder_paths(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "nope.safetensors")
    with pytest.raises(ModelFileError, match="folder"):
        load_model(tmp_path)


def test_truncated_file(tiny_model, tmp_path):
    data = to_bytes(tiny_model)
    for cut in (len(data) - 1, len(data) // 2, 9, 100):
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(data[:cut])
        with pytest.raises(ModelFileError):
            load_model(path)


def _rewrite_metadata(data: bytes, change) -> bytes:
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    change(header["__metadata__"], header)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data[8 + n :]


def test_future_format_version_is_refused(tiny_model, tmp_path):
    data = _rewrite_metadata(to_bytes(tiny_model), lambda m, h: m.update(format_version="99"))
    (tmp_path / "f.safetensors").write_bytes(data)
    with pytest.raises(ModelFileError, match="newer Sentiment Studio"):
        load_model(tmp_path / "f.safetensors")


@pytest.mark.parametrize("key", ["model_config", "tokenizer", "label_names"])
def test_missing_metadata_is_refused(tiny_model, tmp_path, key):
    data = _rewrite_metadata(to_bytes(tiny_model), lambda m, h: m.pop(key))
    (tmp_path / "m.safetensors").write_bytes(data)
    with pytest.raises(ModelFileError, match=key):
        load_model(tmp_path / "m.safetensors")


def test_shape_that_does_not_fit_the_config(tiny_model, tmp_path):
    def bigger(meta, header):
        cfg = json.loads(meta["model_config"])
        cfg["hidden_size"] += 1
        meta["model_config"] = json.dumps(cfg)

    (tmp_path / "m.safetensors").write_bytes(_rewrite_metadata(to_bytes(tiny_model), bigger))
    with pytest.raises(ModelFileError, match="do not fit"):
        load_model(tmp_path / "m.safetensors")


def test_tampered_weights_are_detected(tiny_model, tmp_path):
    data = bytearray(to_bytes(tiny_model))
    data[-3] ^= 0xFF
    (tmp_path / "m.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="changed after it was saved"):
        load_model(tmp_path / "m.safetensors")


def test_interrupted_save_leaves_the_old_file(tiny_model, tmp_path, monkeypatch):
    path = save_model(tiny_model, tmp_path / "m.safetensors")
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        save_model(tiny_model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary left behind


def test_loading_draws_nothing_from_the_global_random_stream(tiny_model, tmp_path):
    import torch

    path = save_model(tiny_model, tmp_path / "m.safetensors")
    before = torch.random.get_rng_state().clone()
    load_model(path)
    assert torch.equal(before, torch.random.get_rng_state())
