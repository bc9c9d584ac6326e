"""Measurements behind the LSTM-vs-RNN story: memory across a gap, vanishing gradients, gate saturation.

Plain numpy results, for the Compare screen and for ``benchmarks/results.py`` alike.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.errors import StudioError
from core.models import SentimentClassifier
from core.sentiment_model import SentimentModel

SATURATION = (0.1, 0.9)  # a gate below/above these is "saturated" (Karpathy, Johnson & Fei-Fei 2015)


@dataclass
class Bucket:
    low: float  # inclusive
    high: float  # exclusive
    count: int
    accuracy: float


def accuracy_by_value(correct: np.ndarray, values: np.ndarray, edges: list[float]) -> list[Bucket]:
    """Accuracy of the examples whose ``values`` (e.g. the longrange gap) fall in each [edge, next edge)."""
    correct, values = np.asarray(correct, dtype=bool), np.asarray(values)
    out = []
    for lo, hi in itertools.pairwise(edges):
        sel = (values >= lo) & (values < hi)
        if sel.any():
            out.append(Bucket(float(lo), float(hi), int(sel.sum()), float(correct[sel].mean())))
    return out


def gradient_through_time(classifier: SentimentClassifier, ids: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean over the batch of ||dLoss/dh_t|| for every time step t, for a one-way, one-layer model
    classifying from its last state: how much the loss still "reaches" each earlier state.

    ``ids`` (batch, time) holds texts of equal length (no padding), e.g. long texts cut to one length.
    The recurrence is unrolled in autograd with the model's own weights, following the same equations
    as ``core.trace`` (proven equal to the fused modules there).
    """
    c = classifier.config
    if c.bidirectional or c.num_layers != 1 or c.pooling != "last":
        raise StudioError("the gradient-through-time view needs a one-way, one-layer model reading to its last state")
    was_training = classifier.training
    classifier.eval()  # no dropout: measure the recurrence, not the noise
    try:
        x = classifier.embedding(torch.as_tensor(ids, dtype=torch.long))  # (batch, time, embed)
        w_ih, w_hh = classifier.rnn.weight_ih_l0, classifier.rnn.weight_hh_l0
        b_ih, b_hh = classifier.rnn.bias_ih_l0, classifier.rnn.bias_hh_l0
        batch, steps = x.shape[0], x.shape[1]
        h = x.new_zeros(batch, c.hidden_size)
        cell = x.new_zeros(batch, c.hidden_size)
        states = []
        for t in range(steps):
            gi = x[:, t] @ w_ih.T + b_ih
            gh = h @ w_hh.T + b_hh
            if c.kind == "lstm":
                i, f, g, o = (gi + gh).chunk(4, dim=1)
                cell = torch.sigmoid(f) * cell + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(cell)
            elif c.kind == "gru":
                ri, zi, ni = gi.chunk(3, dim=1)
                rh, zh, nh = gh.chunk(3, dim=1)
                r, z = torch.sigmoid(ri + rh), torch.sigmoid(zi + zh)
                h = (1 - z) * torch.tanh(ni + r * nh) + z * h
            else:
                h = torch.tanh(gi + gh)
            h.retain_grad()
            states.append(h)
        loss = nn.functional.cross_entropy(classifier.head(h), torch.as_tensor(labels, dtype=torch.long))
        classifier.zero_grad(set_to_none=True)
        loss.backward()
        norms = np.array([float(s.grad.norm(dim=1).mean()) for s in states])
        classifier.zero_grad(set_to_none=True)
        return norms
    finally:
        classifier.train(was_training)


@dataclass
class GateSummary:
    gate: str
    count: int  # values seen (tokens x units)
    histogram: np.ndarray  # (bins,) counts over [0, 1]
    edges: np.ndarray  # (bins + 1,)
    left_saturated: float  # share below SATURATION[0]
    right_saturated: float  # share above SATURATION[1]


def gate_summary(model: SentimentModel, texts: list[str], gate: str = "forget", bins: int = 20) -> GateSummary:
    """Distribution of one gate's values over every token, unit, layer and direction of ``texts``."""
    values = []
    for text in texts:
        trace = model.trace(text, prefixes=False)
        for cell in trace.cells:
            if gate not in cell.values:
                raise StudioError(f"a {model.kind.upper()} has no {gate} gate")
            values.append(cell.values[gate].ravel())
    v = np.concatenate(values) if values else np.zeros(0, dtype=np.float32)
    hist, edges = np.histogram(v, bins=bins, range=(0.0, 1.0))
    n = max(v.size, 1)
    return GateSummary(gate, int(v.size), hist, edges, float((v < SATURATION[0]).sum() / n),
                       float((v > SATURATION[1]).sum() / n))
