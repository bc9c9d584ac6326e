"""The seed idea, measured: on builtin:longrange a plain RNN fails at long gaps, an LSTM does not.

The models classify from their last state, left to right only, so they must carry the deciding
word through the gap in their state (pooling or a backward direction would let them look it up).
"""

from __future__ import annotations

import numpy as np
import pytest

from core.config import ModelConfig, TrainConfig
from core.data import load_dataset
from core.events import run_to_end
from core.train.pipeline import train_model


@pytest.mark.slow
def test_lstm_beats_rnn_at_long_gaps():
    ds = load_dataset("builtin:longrange?n=4000&gap=5-50")
    test = ds["test"]
    far = test.extra["gap"] >= 30
    assert far.sum() >= 100
    accuracy = {}
    for kind in ("lstm", "rnn"):
        model = run_to_end(train_model(
            ds,
            ModelConfig(kind=kind, embed_dim=32, hidden_size=32, bidirectional=False, pooling="last", dropout=0.0),
            TrainConfig(epochs=8, batch_size=32, learning_rate=5e-3, patience=8, device="cpu", seed=0),
        )).model
        correct = model.predict_proba(test.texts).argmax(1) == test.labels
        accuracy[kind] = float(np.mean(correct[far]))
    assert accuracy["lstm"] >= 0.9, accuracy
    assert accuracy["rnn"] <= 0.7, accuracy
