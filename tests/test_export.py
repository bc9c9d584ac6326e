"""Export bundles: ONNX Runtime gives the app's probabilities, the model card's example runs without torch,
and a bad export is one clear line with nothing half-written."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import run_cli

import cli
from core.config import CELL_KINDS, POOLINGS, ModelConfig, TokenizerConfig, TrainConfig
from core.data import load_dataset
from core.errors import StudioError
from core.events import run_to_end
from core.model.classifier import build_classifier
from core.model.sentiment_model import SentimentModel
from core.store.export import FILES, export_steps, is_bundle, onnx_graph
from core.store.model_card import EXAMPLE
from core.store.modelfile import load_model, save_model
from core.text.tokenizer import TextTokenizer
from core.train.pipeline import train_model

ort = pytest.importorskip("onnxruntime")
ROOT = Path(__file__).resolve().parents[1]
CORPUS = ["the film was great", "an awful plot", "lovely and fine", "good acting, bad script", "dull"]
# mixed lengths: one word, empty, unknown words only, and longer than the maximum length (8 tokens)
PROBE = ["great", "", "zzz qqq", "an awful plot", "lovely fine good great the film",
         "the film was great and lovely and fine but the plot was awful, awful"]


def run_onnx(model: SentimentModel, texts: list[str]) -> np.ndarray:
    session = ort.InferenceSession(onnx_graph(model).SerializeToString())
    enc = model.tokenizer.encode_batch(texts, details=False)
    ids = np.full((len(texts), int(enc.lengths.max())), 0, dtype=np.int64)
    for row, seq in zip(ids, enc.ids, strict=True):
        row[: len(seq)] = seq
    return session.run(["probabilities"], {"ids": ids, "lengths": enc.lengths.astype(np.int64)})[0]


@pytest.mark.parametrize(("kind", "bidirectional", "layers"),
                         list(itertools.product(CELL_KINDS, [False, True], [1, 2])))
def test_onnx_runtime_gives_the_apps_probabilities(kind, bidirectional, layers):
    tokenizer = TextTokenizer.train(CORPUS, TokenizerConfig(max_length=8))
    for pooling in POOLINGS:
        config = ModelConfig(kind=kind, vocab_size=tokenizer.vocab_size, embed_dim=8, hidden_size=6, num_classes=3,
                             bidirectional=bidirectional, num_layers=layers, pooling=pooling)
        classifier = build_classifier(config, seed=1)
        with torch.no_grad():  # larger weights than at initialisation, so that every difference shows
            for p in classifier.parameters():
                p.mul_(3)
        model = SentimentModel(classifier.eval(), tokenizer, ["negative", "neutral", "positive"])
        want = model.predict_proba(PROBE)
        assert want.std() > 0.01  # the texts get different predictions: the comparison can fail
        np.testing.assert_allclose(run_onnx(model, PROBE), want, atol=1e-5, rtol=0, err_msg=pooling)


def test_padding_never_changes_an_onnx_prediction():
    tokenizer = TextTokenizer.train(CORPUS)
    config = ModelConfig(kind="lstm", vocab_size=tokenizer.vocab_size, embed_dim=8, hidden_size=6, pooling="last")
    model = SentimentModel(build_classifier(config, seed=2).eval(), tokenizer, ["negative", "positive"])
    alone = run_onnx(model, ["great"])
    beside_a_long_text = run_onnx(model, ["great", "the film was great and lovely and fine and good"])[:1]
    np.testing.assert_allclose(alone, beside_a_long_text, atol=1e-6, rtol=0)


# ---------------------------------------------------------------------------------------------
# Bundles from trained models, and the model card's example in a Python without torch

BLOCK_TORCH = textwrap.dedent('''
    import sys
    from importlib.abc import MetaPathFinder

    class NoTorch(MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in ("torch", "core", "safetensors"):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)

    sys.meta_path.insert(0, NoTorch())
''')


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """An LSTM, a GRU (left truncation, short maximum length) and an RNN, trained and saved."""
    folder = tmp_path_factory.mktemp("trained")
    dataset = load_dataset("builtin:reviews?n=300")
    files = {}
    for kind, tok in (("lstm", TokenizerConfig()), ("gru", TokenizerConfig(max_length=6, truncation_side="left")),
                      ("rnn", TokenizerConfig(kind="bpe", vocab_size=200))):
        model = run_to_end(train_model(dataset, ModelConfig(kind=kind, embed_dim=16, hidden_size=16),
                                       TrainConfig(epochs=2, device="cpu"), tok)).model
        files[kind] = save_model(model, folder / f"{kind}.safetensors")
    return files


@pytest.mark.parametrize("kind", CELL_KINDS)
def test_the_model_cards_example_runs_without_torch_and_matches_predict(trained, tmp_path, kind):
    bundle = tmp_path / "bundle"
    code = run_cli("export", str(trained[kind]), "--out", str(bundle)).code
    assert code == 0 and sorted(p.name for p in bundle.iterdir()) == sorted([*FILES, f"{kind}.safetensors"])
    readme = (bundle / "README.md").read_text()
    example = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert example == EXAMPLE and len(example.strip().splitlines()) <= 10
    (tmp_path / "example.py").write_text(example)
    (tmp_path / "blocker").mkdir()
    (tmp_path / "blocker" / "sitecustomize.py").write_text(BLOCK_TORCH)
    texts = ["a gripping and wonderful film", "the plot was not good but the acting was truly clever indeed",
             "dull", "", "zzz unknown words"]
    run = subprocess.run([sys.executable, str(tmp_path / "example.py"), *texts], cwd=bundle, capture_output=True,
                         timeout=120, env={"PYTHONPATH": str(tmp_path / "blocker"), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr.decode()
    got = [json.loads(line) for line in run.stdout.decode().splitlines()]
    model = load_model(trained[kind])
    for row, prediction in zip(got, model.predict(texts), strict=True):
        assert row["text"] == prediction.text
        for name, p in prediction.probabilities.items():
            assert row["probabilities"][name] == pytest.approx(p, abs=1e-5)
    # torch really was unimportable there
    check = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True,
                           env={"PYTHONPATH": str(tmp_path / "blocker")})
    assert check.returncode != 0 and b"blocked" in check.stderr
    # and the bundle's model file reopens in the app as it was
    assert load_model(bundle / f"{kind}.safetensors").predict_proba(texts).tolist() == model.predict_proba(
        texts).tolist()


def test_the_card_says_what_the_model_is_and_how_it_scored(trained, tmp_path):
    model = load_model(trained["gru"])
    done = run_to_end(export_steps(model, tmp_path / "b"))
    card = (Path(done.path) / "README.md").read_text()
    config = json.loads((Path(done.path) / "config.json").read_text())
    assert card.startswith("---\nlibrary_name: onnx\n") and "# GRU: a GRU sentiment classifier" in card
    assert "builtin:reviews?n=300 to tell" in card and "Words not seen in training are all one unknown word" in card
    assert f"| Vocabulary size | {model.tokenizer.vocab_size:,} (at most 30,000 from the training texts) |" in card
    assert f"accuracy **{100 * model.record.test.accuracy:.1f}%**" in card
    assert all(f"| {name} |" in card for name in model.label_names)
    assert "| Truncation side | left |" in card and "the beginning is dropped" in card
    assert config["labels"] == model.label_names and config["max_length"] == 6 and config["pad_id"] == 0
    assert (Path(done.path) / "GRU.safetensors").is_file()  # no file given: the model saved afresh


# ---------------------------------------------------------------------------------------------
# Bad exports: one line, nothing half-written


def test_bad_exports_are_one_line_and_leave_nothing(trained, tmp_path):
    not_a_model = tmp_path / "notes.safetensors"
    not_a_model.write_text("hello")
    a_file = tmp_path / "taken.txt"
    a_file.write_text("x")
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    (tmp_path / "link").symlink_to(full)
    for args, needle in [
        ((str(trained["lstm"]), "--out", str(full), "--force"), "is not an export bundle; --force replaces only"),
        ((str(trained["lstm"]), "--out", str(tmp_path / "link")), "is a symbolic link"),
        ((str(not_a_model), "--out", str(tmp_path / "b1")), "not a Sentiment Studio model file"),
        ((str(trained["lstm"]), "--out", str(a_file)), "is a file; give a folder"),
        ((str(trained["lstm"]), "--out", str(full)), "exists and is not empty"),
        ((str(trained["lstm"]), "--out", "/proc/bundle"), "can't write in /proc"),
        ((str(trained["lstm"]), "--out", str(tmp_path / "no" / "b")), "does not exist"),
    ]:
        code, _, err = run_cli("export", *args)
        assert code == cli.EXIT_ERROR and needle in err and err.count("\n") == 1, (args, err)
    assert (full / "keep.txt").read_text() == "mine" and a_file.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "link", "notes.safetensors", "taken.txt"]


def test_the_current_folder_is_never_swapped_out_from_under_the_shell(trained, tmp_path, monkeypatch):
    """The bundle replaces its folder by renaming; a shell sitting in that folder would be left in a deleted
    one, so "." (or a folder holding the current one) is refused in one line, and "./bundle" works."""
    (tmp_path / "inner").mkdir()
    monkeypatch.chdir(tmp_path / "inner")
    for out in (".", ".."):
        code, _, err = run_cli("export", str(trained["lstm"]), "--out", out)
        assert code == cli.EXIT_ERROR and "is the current folder (or holds it)" in err, err
    assert run_cli("export", str(trained["lstm"]), "--out", "bundle")[0] == 0
    assert is_bundle(tmp_path / "inner" / "bundle")


def test_the_bundle_never_carries_a_model_file_that_changed_since(trained, tmp_path):
    """The app exports a model it opened from a file; if that file now holds another model (a retrain to
    the same path), the bundle gets this model saved afresh, so model.onnx and the .safetensors agree."""
    path = tmp_path / "m.safetensors"
    path.write_bytes(trained["gru"].read_bytes())
    model = load_model(path)
    path.write_bytes(trained["lstm"].read_bytes())  # replaced behind the app's back
    done = run_to_end(export_steps(model, tmp_path / "b", model_file=path))
    (shipped,) = Path(done.path).glob("*.safetensors")
    assert load_model(shipped).kind == "gru" and shipped.read_bytes() != path.read_bytes()
    hidden = tmp_path / ".safetensors"  # a name that is all extension still gives a visible file
    hidden.write_bytes(trained["gru"].read_bytes())
    done = run_to_end(export_steps(model, tmp_path / "c", model_file=hidden))
    assert (Path(done.path) / "model.safetensors").read_bytes() == hidden.read_bytes()


def test_a_replaced_bundle_keeps_its_folders_mode_and_a_cancelled_export_leaves_nothing(trained, tmp_path):
    from core.events import TaskCancelled, TaskControl

    out = tmp_path / "bundle"
    assert run_cli("export", str(trained["lstm"]), "--out", str(out))[0] == 0
    out.chmod(0o750)
    assert run_cli("export", str(trained["gru"]), "--out", str(out), "--force")[0] == 0
    assert out.stat().st_mode & 0o7777 == 0o750
    control = TaskControl()
    control.cancel()
    with pytest.raises(TaskCancelled):
        run_to_end(export_steps(load_model(trained["rnn"]), tmp_path / "never", control=control))
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_the_readme_shows_the_cards_tested_example():
    assert EXAMPLE in (ROOT / "README.md").read_text()


def test_force_replaces_the_bundles_own_files_and_keeps_the_others(trained, tmp_path):
    """The earlier bundle's files (its model file too) are replaced; a file of the user's stays (issue 27:
    tests/test_hostile_export_cli.py tries many)."""
    out = tmp_path / "bundle"
    assert run_cli("export", str(trained["lstm"]), "--out", str(out))[0] == 0
    (out / "stray.txt").write_text("mine")
    code, stdout, err = run_cli("export", str(trained["rnn"]), "--out", str(out), "--force")
    assert code == 0 and "stray.txt" in err and json.loads(stdout)["kept"] == ["stray.txt"], err
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, "rnn.safetensors", "stray.txt"])
    assert (out / "stray.txt").read_text() == "mine" and load_model(out / "rnn.safetensors").kind == "rnn"
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # no temporary or old folder left


def test_an_export_interrupted_midway_leaves_the_old_bundle(trained, tmp_path, monkeypatch):
    out = tmp_path / "bundle"
    assert run_cli("export", str(trained["lstm"]), "--out", str(out))[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args, **kwargs):
        raise StudioError("the card could not be written")

    monkeypatch.setattr("core.store.model_card.model_card", broken)
    code, _, err = run_cli("export", str(trained["gru"]), "--out", str(out), "--force")
    assert code == cli.EXIT_ERROR and "could not be written" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
