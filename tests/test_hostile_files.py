"""Hostile input, the file classes: where a model is written, what a path names, what a model file holds.

Each test covers a class of failure, not one probe case (issue 11): no input is ever overwritten and no
special file replaced or written through; a destination that can't take the file fails before any
work; nothing is read without knowing what it is and how big; a model file passes the same checks as a
freshly trained model, so a loaded model never predicts garbage or crashes later.
"""

from __future__ import annotations

import json
import os
import socket
import stat
from pathlib import Path

import pytest
from helpers import run_cli
from safetensors import safe_open
from safetensors.torch import save as st_save

import cli
from core.config import ModelConfig, TokenizerConfig, TrainConfig
from core.errors import ModelFileError, StudioError
from core.files import check_destination, read_bounded, write_atomic
from core.store.modelfile import _weights_digest, check_model_destination, load_model, read_info, save_model

TINY = ["--epochs", "1", "--embed-dim", "8", "--hidden-size", "8", "--device", "cpu", "--quiet"]


def csv_rows(n: int = 60) -> str:
    return "text,label\n" + "".join(f"the film was {'good' if i % 2 else 'bad'} {i},{i % 2}\n" for i in range(n))


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if training or loading starts: a bad destination must be refused before both."""
    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the destination was checked")

    monkeypatch.setattr("core.train.pipeline.train_model", forbidden)
    monkeypatch.setattr("core.data.load_dataset", forbidden)


# ---------------------------------------------------------------------------------------------
# Data loss: the destination is checked first, inputs and special files are never replaced


def test_the_output_may_not_be_an_input_file(tmp_path, no_work):
    data = tmp_path / "reviews.csv"
    data.write_text(csv_rows())
    before = data.read_bytes()
    code, _, err = run_cli("train", "--data", str(data), "--out", str(data), *TINY)
    assert code == cli.EXIT_ERROR and "is also an input" in err and err.count("\n") == 1
    assert data.read_bytes() == before
    # the same file under another name (a hard link) and a split file of a data folder are inputs too
    os.link(data, tmp_path / "alias.safetensors")
    code, _, err = run_cli("train", "--data", str(data), "--out", str(tmp_path / "alias.safetensors"), *TINY)
    assert code == cli.EXIT_ERROR and "is also an input" in err
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "train.csv").write_text(csv_rows())
    code, _, err = run_cli("train", "--data", str(folder), "--out", str(folder / "train.csv"), *TINY)
    assert code == cli.EXIT_ERROR and "is also an input" in err
    assert data.read_bytes() == before and (folder / "train.csv").read_text() == csv_rows()


def test_saving_a_model_never_overwrites_its_own_data(tiny_model, tmp_path):
    """The app's Save (not only the CLI) knows the model's data file from its record."""
    data = tmp_path / "reviews.csv"
    data.write_text(csv_rows())
    tiny_model.info.dataset = str(data)
    with pytest.raises(ModelFileError, match="is also an input"):
        save_model(tiny_model, data)
    assert data.read_text() == csv_rows()


def _special_files(tmp_path: Path) -> dict[str, Path]:
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    sock_path = tmp_path / "s.st"
    with socket.socket(socket.AF_UNIX) as sock:  # the socket file stays after closing
        sock.bind(str(sock_path))
    link = tmp_path / "link-to-pipe.safetensors"
    link.symlink_to(fifo)
    return {"fifo": fifo, "socket": sock_path, "link to a fifo": link, "device": Path("/dev/null")}


def test_special_files_are_never_replaced_or_written_through(tmp_path, tiny_model):
    for name, path in _special_files(tmp_path).items():
        mode = path.lstat().st_mode
        with pytest.raises(StudioError, match="would not be replaced") as info:
            check_destination(path)  # only checks: a broken check must not write to /dev/null in a test
        assert "\n" not in str(info.value), name
        if name != "device":
            with pytest.raises(ModelFileError, match="would not be replaced"):
                save_model(tiny_model, path)
        assert path.lstat().st_mode == mode, f"{name} was replaced"


@pytest.mark.parametrize("case", ["under /proc", "name too long", "no such folder", "a folder", "a link loop",
                                  "a data file name"])
def test_a_destination_that_cannot_be_written_fails_before_any_work(tmp_path, no_work, case):
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    out = {
        "under /proc": "/proc/model.safetensors",
        "name too long": str(tmp_path / ("m" * 300 + ".safetensors")),
        "no such folder": str(tmp_path / "missing" / "m.safetensors"),
        "a folder": str(tmp_path),
        "a link loop": str(tmp_path / "loop1"),
        "a data file name": str(tmp_path / "test.csv"),  # in a data folder it would be read as the test split
    }[case]
    code, _, err = run_cli("train", "--data", "builtin:reviews?n=100", "--out", out, *TINY)
    assert code == cli.EXIT_ERROR and err.startswith("error: ") and err.count("\n") == 1, err
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())  # the probe leaves nothing


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_read_only_folder_fails_before_any_work(tmp_path, no_work):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    code, _, err = run_cli("train", "--data", "builtin:reviews?n=100", "--out", str(folder / "m.safetensors"), *TINY)
    assert code == cli.EXIT_ERROR and "Permission denied" in err


def test_a_long_name_in_many_bytes_that_the_file_system_takes_is_written(tmp_path):
    name = "😀" * 60 + ".st"  # 243 bytes: the temporary beside it is cut by bytes, not characters
    assert write_atomic(tmp_path / name, b"x").read_bytes() == b"x"
    with pytest.raises(StudioError, match="Can't write"):
        check_destination(str(tmp_path / "a\0b.st"))  # a NUL: one clear line, not a ValueError
    with pytest.raises(ModelFileError, match=r"would be taken for a \.jsonl data file"):
        check_model_destination(tmp_path / "model.jsonl")


def test_overwriting_keeps_the_files_permissions_and_a_new_file_gets_the_umask(tmp_path):
    path = tmp_path / "m.bin"
    write_atomic(path, b"one")
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask  # not mkstemp's private 0600
    for mode in (0o644, 0o640, 0o600):
        path.chmod(mode)
        write_atomic(path, b"two")
        assert stat.S_IMODE(path.stat().st_mode) == mode and path.read_bytes() == b"two"


def test_a_symlink_to_a_regular_file_replaces_that_file_and_keeps_the_link(tmp_path):
    target = tmp_path / "real.bin"
    target.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    write_atomic(link, b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"


# ---------------------------------------------------------------------------------------------
# Reading: the file type and size first, then a bounded read


def test_special_files_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # reading it would block forever
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")  # reading it would never end
    for path in (fifo, zero):
        with pytest.raises(StudioError, match="not a file that can be read"):
            read_bounded(path, 1 << 20, "data file")


def test_a_file_over_the_limit_is_refused_by_its_size_not_read(tmp_path, monkeypatch):
    sparse = tmp_path / "huge.csv"
    with open(sparse, "wb") as f:
        f.truncate(10 << 30)  # 10 GiB, no disk used
    def forbidden(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr("core.files.open", forbidden, raising=False)
    with pytest.raises(StudioError, match=r"is 10 GiB; the most this app reads is 1 MiB"):
        read_bounded(sparse, 1 << 20, "data file")


def test_a_file_that_grows_past_its_size_is_read_only_up_to_the_bound(tmp_path, monkeypatch):
    """Files under /proc say 0 bytes; the bound holds while reading too."""
    path = tmp_path / "liar.csv"
    path.write_bytes(b"x" * 2000)
    real_fstat = os.fstat

    def says_empty(fd):
        st = real_fstat(fd)
        return os.stat_result((st.st_mode, *st[1:6], 0, *st[7:10]))

    monkeypatch.setattr(os, "fstat", says_empty)
    with pytest.raises(StudioError, match="holds more than 1000 bytes"):
        read_bounded(path, 1000, "data file")


@pytest.mark.parametrize("command", ["train", "info", "predict", "predict-stdin"])
def test_fifos_and_devices_through_the_cli_end_quickly(main_py, tiny_model_file, tmp_path, command):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    data = tmp_path / "pipe.csv"
    os.mkfifo(data)
    if command == "train":
        r = main_py("train", "--data", str(data), "--out", str(tmp_path / "m.safetensors"), *TINY)
        needle = "FIFO"
    elif command == "info":
        r = main_py("info", str(fifo))
        needle = "FIFO"
    elif command == "predict":
        r = main_py("predict", "/dev/zero", "hello")
        needle = "device"
    else:
        with open("/dev/zero", "rb") as zero:
            r = main_py("predict", str(tiny_model_file), stdin=zero)
        needle = "line 1 of standard input is longer than 16 MiB"
    err = r.stderr.decode()
    assert r.returncode == cli.EXIT_ERROR and needle in err and "Traceback" not in err, err


# ---------------------------------------------------------------------------------------------
# Model files: the same validation as a freshly trained model


def rewrite(path: Path, out: Path, meta: dict | None = None, tensors_fn=None) -> Path:
    """Copy a model file changing its metadata or weights, with a valid checksum (a crafted file)."""
    with safe_open(str(path), "pt") as f:
        metadata = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if tensors_fn is not None:
        tensors_fn(tensors)
    metadata.update(meta or {})
    metadata["weights_sha256"] = _weights_digest(tensors)
    out.write_bytes(st_save(tensors, metadata=metadata))
    return out


@pytest.fixture
def model_path(tiny_model_file, tmp_path) -> Path:
    """A copy of the tiny model's file (tests/conftest.py) for the test to change."""
    path = tmp_path / "good.safetensors"
    path.write_bytes(tiny_model_file.read_bytes())
    return path


def _json_meta(path: Path, key: str) -> dict | list:
    with safe_open(str(path), "pt") as f:
        return json.loads(f.metadata()[key])


def _edited(path: Path, key: str, **changes) -> dict:
    value = _json_meta(path, key)
    value.update(changes)
    return {key: json.dumps(value)}


@pytest.mark.parametrize("key, changes, needle", [
    ("tokenizer_config", {"max_length": 0}, "Max length (tokens) (--max-length) must be between 1 and 100,000"),
    ("tokenizer_config", {"kind": "sentencepiece"}, "Tokenizer (--tokenizer) must be one of word, bpe, wordpiece"),
    ("tokenizer_config", {"lowercase": "yes"}, "Lowercase (--lowercase) must be on or off"),
    ("model_config", {"num_layers": 100_000}, "Layers (--layers) must be between 1 and 8"),
    ("model_config", {"hidden_size": 10**10}, "Hidden size (--hidden-size) must be between 1 and 2,048"),
    ("model_config", {"bidirectional": "yes"}, "Bidirectional (--bidirectional) must be on or off"),
    ("model_config", {"pooling": "attention"}, "Pooling (--pooling) must be one of mean, max, last"),
])
def test_model_file_settings_that_decide_predictions_are_checked_as_in_training(model_path, tmp_path, key, changes,
                                                                                 needle):
    bad = rewrite(model_path, tmp_path / "bad.safetensors", _edited(model_path, key, **changes))
    with pytest.raises(ModelFileError, match="settings training would refuse") as info:
        load_model(bad)
    assert needle in str(info.value)


@pytest.mark.parametrize("key, changes", [
    ("train_config", {"grad_clip": 1e9, "seed": 20240101123, "epochs": 2000, "device": "xpu", "learning_rate": 2}),
    ("train_config", {"grad_clip": -5.0, "seed": -1}),
    ("model_config", {"dropout": 0.97, "word_dropout": -1}),
    ("tokenizer_config", {"vocab_size": 5, "min_frequency": 0}),
])
def test_settings_that_only_shaped_training_fall_back_to_defaults(model_path, tmp_path, key, changes):
    """Files written before the ranges were checked (an old --grad-clip 1e9 or a long seed) still open: these
    settings don't change a prediction. Each value out of range becomes the default; the rest are kept."""
    good = load_model(model_path)
    model = load_model(rewrite(model_path, tmp_path / "old.safetensors", _edited(model_path, key, **changes)))
    config = {"train_config": model.train_config, "model_config": model.config,
              "tokenizer_config": model.tokenizer.config}[key]
    defaults = {"train_config": TrainConfig(), "model_config": ModelConfig(), "tokenizer_config": TokenizerConfig()}
    for name in changes:
        assert getattr(config, name) == getattr(defaults[key], name)
    assert model.predict_proba(["a good film"]).tolist() == good.predict_proba(["a good film"]).tolist()


@pytest.mark.parametrize("names, needle", [
    (["negative", "Negative"], 'repeat "negative"'),
    (["negative", ""], "not a list of non-empty texts"),
    (["negative", 1], "not a list of non-empty texts"),
])
def test_model_file_class_names_must_be_distinct_texts(model_path, tmp_path, names, needle):
    bad = rewrite(model_path, tmp_path / "bad.safetensors", {"label_names": json.dumps(names)})
    with pytest.raises(ModelFileError, match=needle):
        load_model(bad)


def test_model_file_class_names_are_counted_before_they_are_compared(model_path, tmp_path):
    names = [f"class {i}" for i in range(50_000)]
    bad = rewrite(model_path, tmp_path / "many.safetensors", {"label_names": json.dumps(names)})
    with pytest.raises(ModelFileError, match="50000 class names for 2 classes"):
        load_model(bad)


def _tokenizer_edit(path: Path, edit) -> dict:
    with safe_open(str(path), "pt") as f:
        spec = json.loads(f.metadata()["tokenizer"])
    edit(spec)
    return {"tokenizer": json.dumps(spec)}


def test_model_file_token_ids_out_of_range_are_refused(model_path, tmp_path):
    def far_id(spec):
        vocab = spec["model"]["vocab"]
        vocab[next(w for w in vocab if not w.startswith("["))] = 10**6

    bad = rewrite(model_path, tmp_path / "bad.safetensors", _tokenizer_edit(model_path, far_id))
    with pytest.raises(ModelFileError, match="token ids are not the numbers 0 to"):
        load_model(bad)


def test_model_file_tokenizer_of_another_kind_is_refused(model_path, tmp_path):
    def other(spec):
        spec["model"]["type"] = "Unigram"

    bad = rewrite(model_path, tmp_path / "bad.safetensors", _tokenizer_edit(model_path, other))
    with pytest.raises(ModelFileError, match="a 'Unigram' model, but its settings say word"):
        load_model(bad)


def test_a_crafted_tokenizer_pipeline_is_refused(model_path, tmp_path):
    """A file's normalizer, pre-tokenizer, post-processor and decoder must be the ones the app writes for
    its settings: a crafted pattern is refused, never run (the class: tests/test_hostile_text.py)."""
    def craft(spec):
        spec["pre_tokenizer"] = {"type": "Split", "pattern": {"Regex": "(?=o)"}, "behavior": "Isolated",
                                 "invert": False}
        spec["normalizer"] = {"type": "Replace", "pattern": {"String": "good"}, "content": "bad"}

    with pytest.raises(ModelFileError, match="has a damaged tokenizer: its normalizer is 'Replace'"):
        load_model(rewrite(model_path, tmp_path / "crafted.safetensors", _tokenizer_edit(model_path, craft)))


@pytest.fixture(scope="module")
def bpe_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bpe") / "bpe.safetensors"
    assert run_cli("train", "--data", "builtin:reviews?n=200", "--out", str(out), "--tokenizer", "bpe", "--vocab-size",
                   "300", *TINY)[0] == 0
    return out


@pytest.mark.parametrize("edit", ["dropout", "unk_token", "prefix"])
def test_a_bpe_files_own_model_options_are_ignored(bpe_file, tmp_path, edit):
    """Only the vocabulary and merges are read: BPE dropout in a file would make predictions random, a renamed
    unknown token would fail at prediction time, a prefix would split words differently."""
    def craft(spec):
        spec["model"].update({"dropout": {"dropout": 0.9}, "unk_token": {"unk_token": "<oops>"},
                              "prefix": {"continuing_subword_prefix": "##"}}[edit])

    crafted = load_model(rewrite(bpe_file, tmp_path / "c.safetensors", _tokenizer_edit(bpe_file, craft)))
    good = load_model(bpe_file)
    texts = ["the plot was clumsy but the acting was wonderful", "zzyzx unseen words"]
    assert [crafted.tokenizer.encode(t).tokens for t in texts] == [good.tokenizer.encode(t).tokens for t in texts]
    assert crafted.predict_proba(texts).tolist() == good.predict_proba(texts).tolist()


def test_a_tokenizer_with_tokens_of_its_own_is_refused(model_path, tmp_path):
    def add(spec):
        spec["added_tokens"].append({"id": 5, "content": "good", "single_word": False, "lstrip": False,
                                     "rstrip": False, "normalized": False, "special": True})

    with pytest.raises(ModelFileError, match="has a damaged tokenizer: the tokenizer adds tokens of its own"):
        load_model(rewrite(model_path, tmp_path / "c.safetensors", _tokenizer_edit(model_path, add)))


@pytest.mark.parametrize("ids", [{"pad_id": 5}, {"unk_id": 0}])
def test_special_ids_must_be_the_tokenizers(model_path, tmp_path, ids):
    with pytest.raises(ModelFileError, match="padding and unknown-word ids are not the tokenizer's"):
        load_model(rewrite(model_path, tmp_path / "c.safetensors", _edited(model_path, "model_config", **ids)))


def test_non_finite_weights_are_refused(model_path, tmp_path):
    def poison(tensors):
        next(t for t in tensors.values() if t.is_floating_point()).view(-1)[0] = float("nan")

    bad = rewrite(model_path, tmp_path / "bad.safetensors", tensors_fn=poison)
    with pytest.raises(ModelFileError, match="not finite numbers"):
        load_model(bad)


def test_weights_that_overflow_never_give_a_prediction_or_nan_json(main_py, model_path, tmp_path):
    def huge(tensors):
        for t in tensors.values():
            if t.is_floating_point():
                t.fill_(3e38)

    bad = rewrite(model_path, tmp_path / "huge.safetensors", tensors_fn=huge)
    model = load_model(bad)  # finite, so it opens; its outputs are not numbers
    with pytest.raises(StudioError, match="not finite numbers"):
        model.predict(["a good film"])
    code, _, err = run_cli("predict", str(bad), "a good film")
    assert code == cli.EXIT_ERROR and "not finite numbers" in err
    r = main_py("evaluate", str(bad), "--data", "builtin:reviews?n=100")
    assert r.returncode == cli.EXIT_ERROR and b"NaN" not in r.stdout and b"not finite" in r.stderr


def test_a_5000_digit_number_in_the_metadata(model_path, tmp_path):
    meta = _json_meta(model_path, "info")
    text = json.dumps(meta)[:-1] + ', "name_number": ' + "9" * 5000 + "}"
    bad = rewrite(model_path, tmp_path / "big.safetensors", {"info": text, "format_version": "1" * 5000})
    info = read_info(bad)  # info shows what it can
    assert info["info"] == text
    with pytest.raises(ModelFileError, match="has no valid format version"):  # one line, not a ValueError
        load_model(bad)
    assert run_cli("info", str(bad))[0] == 0


def test_the_tokenizer_runs_under_a_guard_for_rust_panics(tiny_model, monkeypatch):
    """pyo3's PanicException is a BaseException; the tokenizer turns it into a StudioError."""
    class PanicException(BaseException):
        pass

    class Exploding:
        def encode_batch(self, texts):
            raise PanicException("called `Option::unwrap()` on a `None` value")

        encode_batch_fast = encode_batch

    monkeypatch.setattr(tiny_model.tokenizer, "_tok", Exploding())
    with pytest.raises(StudioError, match="the tokenizer failed while tokenizing"):
        tiny_model.predict(["text"])


def test_the_cli_last_line_of_defence_catches_a_rust_panic(monkeypatch):
    class PanicException(BaseException):
        pass

    def explode(args):
        raise PanicException("thread panicked at src/lib.rs")

    monkeypatch.setattr(cli.use, "cmd_info", explode)  # the handler `info` registers (cli/use.py)
    code, _, err = run_cli("info", "whatever.safetensors")
    assert code == cli.EXIT_ERROR and err.startswith("internal error: PanicException") and err.count("\n") == 1


def test_a_model_over_the_parameter_bound_is_refused_before_anything_is_built(model_path):
    """A config asking for a model over the parameter bound is refused before anything is built."""
    from core.config import MAX_PARAMETERS, ModelConfig
    from core.model.classifier import SentimentClassifier

    config = _json_meta(model_path, "model_config")
    config.update(embed_dim=2048, vocab_size=1_000_000)
    with pytest.raises(StudioError, match="million parameters; the most is 500 million"):
        ModelConfig.from_dict(config)
    assert ModelConfig(embed_dim=16).num_parameters() < MAX_PARAMETERS
    for kind in ("lstm", "gru", "rnn"):  # the bound counts what would be built
        config = ModelConfig(kind=kind, vocab_size=50, embed_dim=6, hidden_size=5, num_layers=2, num_classes=3)
        built = sum(p.numel() for p in SentimentClassifier(config).parameters())
        assert config.num_parameters() == built
