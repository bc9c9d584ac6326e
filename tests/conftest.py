"""Shared fixtures: tiny seeded data and models, and the path to ../shared/datasets."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as main.py does (see there); before numpy loads
# Runs the tests record (every `train`, in this process or a subprocess) go to a store of the test
# session's own, never the user's (core/store/runs.py); tests that look at the store set their own.
os.environ["SENTIMENT_STUDIO_HOME"] = __import__("tempfile").mkdtemp(prefix="studio-test-runs-")

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


def shared_dataset(name: str) -> Path:
    """The folder of one real benchmark dataset, or skip the test where ../shared is absent."""
    path = SHARED_DATASETS / name
    if not (path / "train.tsv").is_file():
        pytest.skip(f"../shared/datasets/{name} is not present on this machine")
    return path


@pytest.fixture
def tiny_dataset():
    """A small, learnable, in-memory binary dataset."""
    from core.data import Split, TextDataset

    rng = np.random.default_rng(0)
    good, bad = ["good", "great", "fine", "lovely"], ["bad", "awful", "poor", "dull"]
    filler = ["the", "film", "was", "a", "plot", "and", "it", "very"]

    def make(n: int) -> Split:
        texts, labels = [], []
        for i in range(n):
            y = i % 2
            words = list(rng.choice(filler, size=rng.integers(2, 8)))
            words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(good if y else bad)))
            texts.append(" ".join(words))
            labels.append(y)
        return Split(texts, np.array(labels, dtype=np.int64))

    return TextDataset("memory:tiny", {"train": make(200), "validation": make(40), "test": make(40)},
                       ["negative", "positive"])


@pytest.fixture
def tiny_model(tiny_dataset):
    """A quickly trained small LSTM SentimentModel."""
    from core.config import ModelConfig, TrainConfig
    from core.events import run_to_end
    from core.train.pipeline import train_model

    gen = train_model(
        tiny_dataset,
        ModelConfig(kind="lstm", embed_dim=16, hidden_size=16, dropout=0.0),
        TrainConfig(epochs=8, batch_size=16, learning_rate=1e-2, device="cpu", seed=0),
    )
    return run_to_end(gen).model


@pytest.fixture(autouse=True)
def _checkpoints_in_tmp(tmp_path, monkeypatch):
    """Windows made by tests keep their training checkpoints in the test's folder, not the user's, and
    never wait on a question."""
    try:
        import gui.main_window as main_window_module
    except ImportError:  # a core-only environment without Qt
        return
    monkeypatch.setattr(main_window_module, "checkpoint_dir", lambda: tmp_path / "checkpoints")
    # Closing a window with trained, unsaved models asks first: a modal dialog would block the test.
    # Tests answer Discard unless they patch it themselves.
    monkeypatch.setattr(main_window_module, "ask_unsaved", lambda parent, names: "discard")
