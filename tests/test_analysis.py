"""The measurements behind the LSTM-vs-RNN story."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.config import ModelConfig
from core.errors import StudioError
from core.inspect.analysis import accuracy_by_value, gate_summary, gradient_through_time, long_text_ids
from core.model.classifier import SentimentClassifier


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
    curve = gradient_through_time(model, ids, labels)
    norms = curve.norms
    assert curve.exact_loss
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
        norms = gradient_through_time(_model(kind), ids, labels).norms
        ratio[kind] = norms[0] / norms[-1]
    assert ratio["rnn"] < ratio["lstm"]


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_other_models_get_the_recurrence_alone(kind):
    """A pooled, two-way model: the objective is u . h_T, whose gradient at h_T has norm 1 per text."""
    torch.manual_seed(0)
    model = SentimentClassifier(ModelConfig(kind=kind, vocab_size=30, embed_dim=6, hidden_size=5))
    curve = gradient_through_time(model, np.random.default_rng(0).integers(2, 30, size=(3, 9)), np.zeros(3, int))
    assert not curve.exact_loss and curve.norms.shape == (9,)
    assert curve.norms[-1] == pytest.approx(1.0)
    assert (curve.norms[:-1] > 0).all()


def test_long_rnn_gradients_do_not_underflow():
    """In float32 a saturating RNN's gradient hits exactly 0 within a few hundred steps; float64 keeps the decay."""
    ids = np.random.default_rng(2).integers(2, 30, size=(2, 200))
    norms = gradient_through_time(_model("rnn"), ids, np.zeros(2, int)).norms
    assert 0 < norms[0] < 1e-45 < norms[-1]  # below float32's smallest subnormal, still positive


def test_long_text_ids_takes_the_longest_texts_without_padding(tiny_model):
    texts = ["good", "a very good film indeed", "bad film", "the worst film of the year by far"]
    ids, order = long_text_ids(tiny_model, texts, batch=2)
    assert list(order) == [3, 1]
    assert ids.shape == (2, len(tiny_model.tokenizer.encode(texts[1]).ids[0]))
    with pytest.raises(StudioError):
        long_text_ids(tiny_model, [])


def test_forget_gate_summary(tiny_model):
    s = gate_summary(tiny_model, ["the film was great", "awful plot"])
    assert s.gate == "forget" and s.histogram.sum() == s.count > 0
    assert 0 <= s.left_saturated <= 1 and 0 <= s.right_saturated <= 1
    assert len(s.edges) == len(s.histogram) + 1
