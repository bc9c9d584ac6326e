"""Word vectors and sweeps as a careless or hostile user gives them (issue 27, causes 7, 8, 11 and 13): each
bad input is one clear error before any training, never a hang, a warning dump or a silently wrong model.

Every vectors file here is written by the test, in each format the readers take (text, .gz, .zip, word2vec
.bin, a .npy matrix with its words), a few rows of 4-d vectors.
"""

from __future__ import annotations

import gzip
import os
import threading
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_cli

import cli
from core.config import ModelConfig, TokenizerConfig, TrainConfig
from core.data import load_dataset
from core.errors import SettingError, StudioError
from core.events import PhaseEvent, TaskControl, run_to_end
from core.settings import from_stored
from core.text.vectors import VectorsError, WordVectors, read_vectors
from core.train.pipeline import train_model

WORDS = ["the", "good", "bad", "movie", "film", "not"]
VECS = {w: np.random.default_rng(3).normal(size=4).astype(np.float32) * (i + 1) for i, w in enumerate(WORDS)}
DATA = "builtin:reviews?n=200"
TINY = ["--epochs", "1", "--max-steps", "1", "--hidden-size", "4", "--device", "cpu", "--quiet"]
FORMATS = ["txt", "gz", "zip", "bin", "bin.gz", "npy"]


def _text(vectors: dict[str, np.ndarray], header: str = "") -> bytes:
    lines = [header] if header else []
    lines += [w + " " + " ".join(repr(float(x)) for x in v) for w, v in vectors.items()]
    return ("\n".join(lines) + "\n").encode()


def _word2vec(vectors: dict[str, np.ndarray], dtype: str = "<f4", header: str = "") -> bytes:
    dim = len(next(iter(vectors.values())))
    out = (header or f"{len(vectors)} {dim}").encode() + b"\n"
    for w, v in vectors.items():
        out += w.encode() + b" " + np.asarray(v, dtype=dtype).tobytes() + b"\n"
    return out


def write(folder: Path, fmt: str, vectors: dict[str, np.ndarray] = VECS, dtype: str = "<f4",
          header: str = "") -> Path:
    """``vectors`` as a file of format ``fmt`` in ``folder`` (values of ``dtype`` where the format keeps
    binary values: .bin, .npy); the path to give as --vectors."""
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "txt":
        path = folder / "vectors.txt"
        path.write_bytes(_text(vectors, header))
    elif fmt == "gz":
        path = folder / "vectors.txt.gz"
        path.write_bytes(gzip.compress(_text(vectors, header)))
    elif fmt == "zip":
        path = folder / "vectors.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("vectors.bin" if dtype != "<f4" else "vectors.txt",
                       _word2vec(vectors, dtype, header) if dtype != "<f4" else _text(vectors, header))
    elif fmt == "bin":
        path = folder / "vectors.bin"
        path.write_bytes(_word2vec(vectors, dtype, header))
    elif fmt == "bin.gz":
        path = folder / "vectors.bin.gz"
        path.write_bytes(gzip.compress(_word2vec(vectors, dtype, header)))
    elif fmt == "npy":
        path = folder / "emb.npy"
        np.save(path, np.stack(list(vectors.values())).astype(dtype))
        (folder / "emb.txt").write_text("\n".join(vectors) + "\n")
    else:
        raise ValueError(fmt)
    return path


def read(path: Path, wanted=frozenset(WORDS)) -> WordVectors:
    *events, vectors = read_vectors(path, set(wanted))
    assert all(isinstance(e, PhaseEvent) for e in events)
    return vectors


def _one_line(err: str) -> str:
    """The one error line of a command's stderr (notes before it are fine)."""
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("note: ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err and "internal error" not in err and "Warning" not in err, err
    return lines[0]


# --- cause 7: a sweep checks its devices and its vectors files before its first run ------------------------

@pytest.mark.parametrize("device", ["cuda", "cuda:7", "mps"])
def test_a_sweep_checks_every_device_before_the_first_run_trains(device):
    available = {"cuda": torch.cuda.is_available(), "cuda:7": torch.cuda.device_count() > 7,
                 "mps": torch.backends.mps.is_available()}
    if available[device]:
        pytest.skip(f"{device} is available here")
    code, out, err = run_cli("sweep", "--data", DATA, "--grid", f"device=cpu,{device}", *TINY)
    line = _one_line(err)
    assert code == cli.EXIT_ERROR and out == "" and device.split(":")[0] in line  # nothing trained, nothing printed


def test_a_gpu_this_machine_lacks_is_refused_by_its_number(monkeypatch):
    from core.device import choose_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert choose_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(StudioError, match=r"cuda:2 was asked for, but PyTorch sees 2 CUDA GPUs here \(cuda:0 to"):
        choose_device("cuda:2")


def _bad_vectors(folder: Path, kind: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / {"missing": "missing.txt", "junk.bin": "junk.bin", "zip": "broken.zip", "gz": "broken.txt.gz",
                     "lonely.npy": "lonely.npy", "folder": "empty", "pickle": "vectors.kv"}[kind]
    if kind == "junk.bin":
        path.write_bytes(b"\x00\x01garbage" * 100)
    elif kind == "zip":
        path.write_bytes(b"PK\x03\x04broken")
    elif kind == "gz":
        path.write_bytes(b"\x1f\x8b\x08broken")
    elif kind == "lonely.npy":
        np.save(path, np.ones((3, 4), dtype=np.float32))
    elif kind == "folder":
        path.mkdir()
    elif kind == "pickle":
        path.write_bytes(b"\x80\x04K\x01.")
    return path


@pytest.mark.parametrize("good", FORMATS)
@pytest.mark.parametrize("bad", ["missing", "junk.bin", "zip", "gz", "lonely.npy", "folder", "pickle"])
def test_a_sweep_opens_every_vectors_file_before_the_first_run_trains(tmp_path, good, bad):
    first, second = write(tmp_path / "good", good), _bad_vectors(tmp_path / "bad", bad)
    code, out, err = run_cli("sweep", "--data", DATA, "--grid", f"vectors={first},{second}", *TINY)
    line = _one_line(err)
    assert code == cli.EXIT_ERROR and out == "" and second.name in line, line


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_sweep_refuses_an_embedding_size_a_later_vectors_file_rules_out_before_training(tmp_path, fmt):
    wide = {w: np.ones(8, dtype=np.float32) for w in WORDS}
    narrow, wider = write(tmp_path / "narrow", fmt), write(tmp_path / "wide", fmt, wide)
    code, out, err = run_cli("sweep", "--data", DATA, "--grid", f"vectors={narrow},{wider}", "--embed-dim", "6",
                             *TINY)
    assert code == cli.EXIT_ERROR and out == "" and "smaller than the vectors' 8 dimensions" in _one_line(err)


@pytest.mark.parametrize("spec", ["device=cpu,cuda:9", "vectors={good},{missing}", "embed_dim=2,16"])
def test_the_apps_sweep_checks_every_combination_before_training(tmp_path, monkeypatch, spec):
    import core.train.pipeline as pipeline
    from core.train.sweep import combinations, parse_grid, train_grid

    if spec.startswith("device") and torch.cuda.device_count() > 9:
        pytest.skip("cuda:9 exists here")

    def must_not_train(*args, **kwargs):
        raise AssertionError("a combination trained before the sweep was checked")

    monkeypatch.setattr(pipeline, "train_models", must_not_train)
    spec = spec.format(good=write(tmp_path, "txt"), missing=tmp_path / "missing.txt")
    grid = parse_grid([spec])
    combos = combinations([ModelConfig(kind="lstm", hidden_size=4)], TokenizerConfig(),
                          TrainConfig(epochs=1, device="cpu", vectors=str(write(tmp_path, "txt"))), grid,
                          lambda kind, values: kind)
    with pytest.raises(StudioError) as caught:
        list(train_grid(load_dataset(DATA), combos, TaskControl()))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("rank", ["0", "1"])
def test_a_sweep_under_torchrun_is_refused_in_one_line(monkeypatch, rank):
    for name, value in {"WORLD_SIZE": "2", "RANK": rank, "LOCAL_RANK": rank, "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": "29999"}.items():
        monkeypatch.setenv(name, value)
    code, out, err = run_cli("sweep", "--data", DATA, "--grid", "hidden_size=4,8", *TINY)
    assert code == cli.EXIT_ERROR and out == "" and "torchrun" in _one_line(err)


@pytest.mark.parametrize("spec", ["hidden_size=8,8", "lr=0.001,1e-3", "kind=lstm,gru,lstm", "bidirectional=on,true",
                                  "vectors=a.txt,a.txt"])
def test_a_value_given_twice_in_a_grid_is_refused(spec):
    from core.train.sweep import parse_grid

    with pytest.raises(StudioError, match="twice"):
        parse_grid([spec])
    code, out, err = run_cli("sweep", "--data", DATA, "--grid", spec, *TINY)
    assert code == cli.EXIT_ERROR and out == "" and "twice" in _one_line(err)


# --- cause 8: a FIFO or a device as the vectors file is refused at once --------------------------------------

def _within(seconds: float, work, unblock: list[Path]):
    """``work()`` in a thread: what it returned or raised; fails if it is still running after ``seconds``
    (opening each FIFO in ``unblock`` for writing then lets it end)."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as e:  # handed to the test, which checks its type
            outcome["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        for fifo in unblock:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        thread.join(10)
        pytest.fail(f"still running after {seconds} s (blocked on a FIFO)")
    return outcome


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("name", ["vectors.txt", "vectors.txt.gz", "vectors.zip", "vectors.bin", "emb.npy",
                                  "folder/emb.npy", "zero.txt"])
def test_a_fifo_or_a_device_as_the_vectors_file_is_refused_at_once(tmp_path, name):
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    if name == "zero.txt":
        path.symlink_to("/dev/zero")
    else:
        os.mkfifo(path)
    if name.endswith(".npy"):
        (path.parent / "emb.txt").write_text("\n".join(WORDS) + "\n")
    given = path.parent if name.startswith("folder/") else path
    outcome = _within(10, lambda: read(given), [path])
    error = outcome.get("error")
    assert isinstance(error, VectorsError), outcome
    assert ("a device" if name == "zero.txt" else "a FIFO") in str(error)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_as_the_words_of_a_matrix_is_refused_at_once(tmp_path):
    np.save(tmp_path / "emb.npy", np.ones((len(WORDS), 4), dtype=np.float32))
    os.mkfifo(tmp_path / "emb.txt")
    outcome = _within(10, lambda: read(tmp_path / "emb.npy"), [tmp_path / "emb.txt"])
    assert isinstance(outcome.get("error"), VectorsError), outcome


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_train_with_a_fifo_as_vectors_ends_with_one_line(tmp_path):
    os.mkfifo(tmp_path / "vectors.txt")
    outcome = _within(60, lambda: run_cli("train", "--data", DATA, "--out", str(tmp_path / "m.safetensors"),
                                          "--vectors", str(tmp_path / "vectors.txt"), "--no-record", *TINY),
                      [tmp_path / "vectors.txt"])
    code, _, err = outcome["value"]
    assert code == cli.EXIT_ERROR and "FIFO" in _one_line(err) and not (tmp_path / "m.safetensors").exists()


# --- cause 11: readers that gave a wrong model or refused a good file ------------------------------------

@pytest.mark.parametrize("fmt", ["bin", "bin.gz", "zip"])
def test_a_float64_word2vec_file_is_read_as_its_values(tmp_path, fmt):
    vectors = read(write(tmp_path, fmt, dtype="<f8"))
    assert vectors.dim == 4 and vectors.file_words == len(WORDS) and sorted(vectors.rows) == sorted(WORDS)
    for word in WORDS:
        np.testing.assert_allclose(vectors.rows[word], VECS[word], rtol=1e-6)
        assert vectors.rows[word].dtype == np.float32


@pytest.mark.parametrize("fmt", ["txt", "gz", "bin", "bin.gz"])
@pytest.mark.parametrize("header_dim", [3, 5, 8])
def test_a_header_whose_dimension_the_vectors_do_not_have_is_refused(tmp_path, fmt, header_dim):
    path = write(tmp_path, fmt, header=f"{len(WORDS)} {header_dim}")
    with pytest.raises(VectorsError, match=f"header.*{header_dim}"):
        read(path)


@pytest.mark.parametrize("separator", [" ", "\t"])
@pytest.mark.parametrize("name", ["emb.txt", "vocab.txt"])
def test_a_matrix_with_glove_s_own_vocab_file_of_words_and_counts(tmp_path, separator, name):
    np.save(tmp_path / "emb.npy", np.stack(list(VECS.values())))
    (tmp_path / name).write_text("".join(f"{w}{separator}{1000 - i}\n" for i, w in enumerate(WORDS)))
    vectors = read(tmp_path / "emb.npy")
    assert sorted(vectors.rows) == sorted(WORDS)
    np.testing.assert_allclose(vectors.rows["film"], VECS["film"])


@pytest.mark.parametrize(("fmt", "embed_dim"), [("txt", 4), ("txt", 16)] + [(f, d) for f in FORMATS for d in (0, 128)])
def test_an_embedding_size_given_is_kept_and_left_at_its_default_it_follows_the_vectors(tmp_path, fmt, embed_dim):
    path = write(tmp_path, fmt)
    config = ModelConfig(hidden_size=4) if embed_dim == 0 else ModelConfig(hidden_size=4, embed_dim=embed_dim)
    model = run_to_end(train_model(load_dataset(DATA), config, TrainConfig(epochs=1, max_steps=1, device="cpu",
                                                                           vectors=str(path)))).model
    assert model.classifier.config.embed_dim == (embed_dim or 4)
    assert model.classifier.embedding.weight.shape[1] == (embed_dim or 4)


def test_the_embedding_size_without_vectors_and_from_old_configs(tmp_path):
    assert ModelConfig().embed_dim == 0  # follow the vectors; without them, 128
    model = run_to_end(train_model(load_dataset(DATA), ModelConfig(hidden_size=4),
                                   TrainConfig(epochs=1, max_steps=1, device="cpu"))).model
    assert model.classifier.config.embed_dim == 128
    assert ModelConfig.from_dict({"embed_dim": 128}).embed_dim == 128  # an old config keeps its size
    out = tmp_path / "m.safetensors"
    code, _, err = run_cli("train", "--data", DATA, "--out", str(out), "--embed-dim", "128", "--vectors",
                           str(write(tmp_path, "bin")), "--no-record", *TINY)
    from core.store.modelfile import load_model

    assert code == 0, err
    assert load_model(out).classifier.config.embed_dim == 128
    old = Path(__file__).parent / "data" / "v1-gru-af15710.safetensors"
    assert load_model(old).classifier.config.embed_dim > 0  # files written before still open


@pytest.mark.parametrize("member", ["vectors.txt", "vectors.vec", "vectors.bin", "glove/vectors.txt"])
def test_a_zip_made_by_macos_finder_is_read(tmp_path, member):
    path = tmp_path / "vectors.zip"
    content = _word2vec(VECS) if member.endswith(".bin") else _text(VECS)
    folder, _, name = member.rpartition("/")
    with zipfile.ZipFile(path, "w") as z:
        if folder:
            z.writestr(folder + "/", b"")
            z.writestr(f"{folder}/._{name}", b"\x00\x05\x16\x07" + b"\x00" * 80)  # AppleDouble beside it
        z.writestr(member, content)
        z.writestr(f"__MACOSX/{folder + '/' if folder else ''}._{name}", b"\x00\x05\x16\x07" + b"\x00" * 80)
        z.writestr("__MACOSX/._readme.txt", b"\x00\x05\x16\x07")
    vectors = read(path)
    assert sorted(vectors.rows) == sorted(WORDS) and vectors.name == f"vectors.zip:{member}"


@pytest.mark.parametrize("content", [b"\n", b"\r\n", b"   \t \n", b"the " + b"0 " * 100 + b"\n",
                                     b"good 1.5 2.5\n"], ids=["newlines", "crlf", "spaces", "zeros", "repeats"])
@pytest.mark.parametrize("fmt", ["gz", "zip"])
def test_a_small_archive_of_a_huge_repetitive_text_is_refused_quickly(tmp_path, content, fmt):
    body = content * (48_000_000 // len(content))
    path = tmp_path / ("bomb.txt.gz" if fmt == "gz" else "bomb.zip")
    if fmt == "gz":
        path.write_bytes(gzip.compress(body, 9))
    else:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("bomb.txt", body)
    assert path.stat().st_size < 500_000
    start = time.monotonic()
    with pytest.raises(VectorsError, match="not a vectors file"):
        read(path)
    assert time.monotonic() - start < 5


def test_freeze_vectors_without_vectors_is_refused(tmp_path):
    with pytest.raises(SettingError, match=r"--freeze-vectors.*--vectors") as caught:
        TrainConfig(freeze_vectors=True)
    assert caught.value.field == "freeze_vectors"
    TrainConfig(freeze_vectors=True, vectors="v.txt")  # with a file: fine
    code, out, err = run_cli("train", "--data", DATA, "--out", str(tmp_path / "m.safetensors"), "--freeze-vectors",
                             "--no-record", *TINY)
    assert code == cli.EXIT_ERROR and "--freeze-vectors" in _one_line(err)
    assert not (tmp_path / "m.safetensors").exists()
    code, out, err = run_cli("sweep", "--data", DATA, "--grid", "freeze_vectors=false,true", *TINY)
    assert code == cli.EXIT_ERROR and out == "" and "--freeze-vectors" in _one_line(err)
    # a model file written before the check still opens: the setting only shaped its training
    stored = from_stored(TrainConfig, {"freeze_vectors": True, "vectors": ""}, tuple(TrainConfig.__dataclass_fields__))
    assert stored.freeze_vectors is False


# --- cause 13: a value beyond float32, vectors wider than an embedding can be -----------------------------

@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("value", [1e39, -3.5e38])
def test_a_value_beyond_float32_is_one_clear_error_without_numpy_warnings(tmp_path, fmt, value):
    huge = dict(VECS, good=np.array([0.5, value, 1.0, 2.0]))
    path = write(tmp_path, fmt, huge, dtype="<f8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(VectorsError, match=r"'good'.*too large"):
            read(path)
    code, _, err = run_cli("train", "--data", DATA, "--out", str(tmp_path / "m.safetensors"), "--vectors", str(path),
                           "--no-record", *TINY)
    assert code == cli.EXIT_ERROR and "too large" in _one_line(err)


@pytest.mark.parametrize("fmt", ["txt", "bin", "npy"])
def test_vectors_wider_than_any_embedding_are_blamed_on_the_vectors(tmp_path, fmt):
    wide = {w: np.full(4096, 0.5, dtype=np.float32) for w in WORDS[:3]}
    path = write(tmp_path, fmt, wide)
    code, _, err = run_cli("train", "--data", DATA, "--out", str(tmp_path / "m.safetensors"), "--vectors", str(path),
                           "--no-record", *TINY)
    line = _one_line(err)
    assert code == cli.EXIT_ERROR and "4,096" in line and "2,048" in line and "--embed-dim" not in line, line
