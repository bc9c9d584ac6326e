"""The measurements behind the LSTM-vs-RNN story."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.analysis import accuracy_by_value, gate_summary, gradient_through_time
from core.errors import StudioError
from core.models import ModelConfig, SentimentClassifier


def _model(kind: str, **kw) -> SentimentClassifier:
    torch.manual_seed(0)
    cfg = ModelConfig(kind=kind, vocab_size=30, embed_dim=6, hidden_size=5, bidirectional=False, pooling="last",
                      dropout=0.0, **kw)
    return SentimentClassifier(cfg)


def test_accuracy_by_value_buckets():
    buckets = accuracy_by_value(np.array([1, 0, 1, 1]), np.array([5, 7, 25, 60]), [0, 10, 50, 100])
    assert [(b.low, b.high, b.count, b.accuracy) for b in buckets] == [(0, 10, 2, 0.5), (10, 50, 1, 1.0),
                                                                        (50, 100, 1, 1.0)]


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_gradient_through_time_matches_the_model(kind):
    model = _model(kind)
    ids = np.random.default_rng(0).integers(2, 30, size=(4, 12))
    labels = np.array([0, 1, 0, 1])
    norms = gradient_through_time(model, ids, labels)
    assert norms.shape == (12,) and (norms >= 0).all() and norms[-1] > 0
    # the last state's gradient is the head's direct gradient: check it against the fused model
    x = torch.as_tensor(ids)
    out, _ = model.rnn(model.embedding(x))
    last = out[:, -1].detach().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(model.head(last), torch.as_tensor(labels))
    loss.backward()
    assert norms[-1] == pytest.approx(float(last.grad.norm(dim=1).mean()), rel=1e-4)


def test_rnn_gradients_vanish_faster_than_lstm_ones():
    """With saturating weights the plain RNN's gradient fades over 60 steps far more than the LSTM's."""
    ids = np.random.default_rng(1).integers(2, 30, size=(8, 60))
    labels = np.arange(8) % 2
    ratio = {}
    for kind in ("lstm", "rnn"):
        norms = gradient_through_time(_model(kind), ids, labels)
        ratio[kind] = norms[0] / norms[-1]
    assert ratio["rnn"] < ratio["lstm"]


def test_gradient_through_time_refuses_other_models():
    with pytest.raises(StudioError, match="one-way"):
        gradient_through_time(SentimentClassifier(ModelConfig(vocab_size=30)), np.ones((1, 3), int), np.zeros(1, int))


def test_forget_gate_summary(tiny_model):
    s = gate_summary(tiny_model, ["the film was great", "awful plot"])
    assert s.gate == "forget" and s.histogram.sum() == s.count > 0
    assert 0 <= s.left_saturated <= 1 and 0 <= s.right_saturated <= 1
    assert len(s.edges) == len(s.histogram) + 1
