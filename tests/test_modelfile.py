"""Model files: round trip, no code execution, clear errors for bad files, atomic saves."""

from __future__ import annotations

import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from core.errors import ModelFileError
from core.events import EpochEvent
from core.store.modelfile import FORMAT_VERSION, load_model, read_info, save_model, to_bytes

TEXTS = ["the film was great", "awful plot and very dull", "a lovely , fine film", "unknownword xyz", ""]


def test_round_trip_predicts_exactly_the_same(tiny_model, tmp_path):
    path = save_model(tiny_model, tmp_path / "m.safetensors")
    again = load_model(path)
    np.testing.assert_array_equal(tiny_model.predict_proba(TEXTS), again.predict_proba(TEXTS))
    assert again.label_names == tiny_model.label_names
    assert again.config == tiny_model.config
    assert again.record.test.accuracy == tiny_model.record.test.accuracy
    assert again.info.versions["torch"]
    t1, t2 = tiny_model.trace("the film was great"), again.trace("the film was great")
    np.testing.assert_array_equal(t1.cell().values["forget"], t2.cell().values["forget"])


def test_the_record_and_info_survive_a_round_trip_as_typed_records(tiny_model, tmp_path):
    again = load_model(save_model(tiny_model, tmp_path / "m.safetensors"))
    assert again.record.to_dict() == json.loads(json.dumps(tiny_model.record.to_dict()))
    assert isinstance(again.record.history.epochs[0], EpochEvent)
    assert again.record.finished.epochs_run == tiny_model.record.finished.epochs_run > 0
    assert again.info.splits == tiny_model.info.splits is not None  # how the splits were made
    path = tmp_path / "m.safetensors"
    assert again.info.file == str(path) and "file" not in read_info(path)["info"]  # where it is, not stored


DATA = Path(__file__).parent / "data"


def test_a_model_file_written_by_version_0_1_still_opens_and_predicts_the_same():
    """tests/data/v1-gru-af15710.safetensors was written by af15710, before the records were typed."""
    model = load_model(DATA / "v1-gru-af15710.safetensors")
    expected = json.loads((DATA / "v1-gru-af15710.expected.json").read_text())
    np.testing.assert_allclose(model.predict_proba(expected["texts"]), expected["probabilities"], atol=1e-6)
    assert model.label_names == expected["label_names"] and model.kind == "gru"
    fin, test = model.record.finished, model.record.test
    assert (fin.epochs_run, fin.best_epoch, fin.cancelled) == (2, 2, False) and fin.tokens_per_s > 0
    assert test.count == 20 and len(test.confusion) == 2 and 0 <= test.accuracy <= 1
    assert [e.epoch for e in model.record.history.epochs] == [1, 2] and len(model.record.history.step_loss) > 0
    assert model.info.dataset == "builtin:longrange?n=200&gap=2-4" and model.info.splits is None
    assert model.info.versions["sentiment_studio"] == "0.1.0"


def test_a_checkpoint_written_by_version_0_1_still_opens():
    """Its validation entry holds only accuracy, loss and macro F1: the rest reads as unknown."""
    model = load_model(DATA / "v1-checkpoint-af15710.safetensors")
    assert model.record.checkpoint.epoch == 1 and model.info.checkpoint
    val = model.record.validation
    assert 0 <= val.accuracy <= 1 and val.count == 0 and val.confusion == []
    assert model.record.finished.tokens_per_s is None and model.record.test is None


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
    with pytest.raises(ModelFileError, match="disk full"):  # one clear line, not an internal error
        save_model(tiny_model, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary left behind


def test_loading_draws_nothing_from_the_global_random_stream(tiny_model, tmp_path):
    import torch

    path = save_model(tiny_model, tmp_path / "m.safetensors")
    before = torch.random.get_rng_state().clone()
    load_model(path)
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize(("folds", "fold"), [(1, 0), (10, 10), ("10", 0), (10, -1), (10**6, 3), (3, 1.5)])
def test_a_fold_no_data_has_is_refused(tiny_model, tmp_path, folds, fold):
    """A model file names the fold its evaluation must redo: one that can't be is refused, never guessed at."""
    def change(meta, header):
        info = json.loads(meta["info"])
        info["splits"] = {**(info["splits"] or {}), "folds": folds, "fold": fold}
        meta["info"] = json.dumps(info)

    (tmp_path / "m.safetensors").write_bytes(_rewrite_metadata(to_bytes(tiny_model), change))
    with pytest.raises(ModelFileError, match="fold"):
        load_model(tmp_path / "m.safetensors")


@pytest.mark.parametrize("group", [
    {"id": 3, "kind": "seeds", "n": 3, "index": 0, "seed": 0}, {"id": "g", "kind": "x", "n": 3, "index": 0, "seed": 0},
    {"id": "g", "kind": "seeds", "n": 2, "index": 2, "seed": 0}, {"id": "g", "kind": "seeds", "n": 2, "index": 1,
                                                                  "seed": "x"},
    {"id": "g", "kind": "folds", "n": 2, "index": 1, "fold": None}, {"id": "g", "kind": "folds", "n": 2, "index": 1,
                                                                     "fold": 5},
    "seeds", [1]])
def test_a_group_the_app_never_writes_is_left_out(tiny_model, tmp_path, group):
    def change(meta, header):
        meta["info"] = json.dumps({**json.loads(meta["info"]), "group": group})

    (tmp_path / "m.safetensors").write_bytes(_rewrite_metadata(to_bytes(tiny_model), change))
    model = load_model(tmp_path / "m.safetensors")
    assert model.info.group is None
    from core.store.model_card import model_card

    assert "one of" not in model_card(model, "m.safetensors")  # and the card is written


@pytest.mark.parametrize("confusion", [[[1, 2], [3]], [1, 2], [["a", "b"], ["c", "d"]], [[-5, 2], [1, 9]], []])
def test_a_test_record_that_is_no_matrix_of_counts_has_no_interval(tiny_model, tmp_path, confusion):
    from cli.use import test_interval
    from core.store.model_card import model_card

    def change(meta, header):
        metrics = json.loads(meta["metrics"])
        metrics["test"] = {**(metrics.get("validation") or {}), "confusion": confusion}
        meta["metrics"] = json.dumps(metrics)

    (tmp_path / "m.safetensors").write_bytes(_rewrite_metadata(to_bytes(tiny_model), change))
    model = load_model(tmp_path / "m.safetensors")
    card = model_card(model, "m.safetensors")
    assert "model-index" not in card and "95% intervals" not in card
    assert test_interval(confusion) is None
