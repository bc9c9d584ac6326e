"""Measurements behind the LSTM-vs-RNN story: memory across a gap, vanishing gradients, gate saturation.

Plain numpy results, for the Compare screen and for the results studies (``python -m benchmarks.results``) alike.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from core.data import Split
from core.errors import StudioError
from core.inspect.scores import SATURATION, Bucket, GateSummary, GradientCurve
from core.model.classifier import SentimentClassifier
from core.model.sentiment_model import SentimentModel, encode_split


def accuracy_by_value(correct: np.ndarray, values: np.ndarray, edges: list[float]) -> list[Bucket]:
    """Accuracy of the examples whose ``values`` (e.g. the longrange gap) fall in each [edge, next edge)."""
    correct, values = np.asarray(correct, dtype=bool), np.asarray(values)
    out = []
    for lo, hi in itertools.pairwise(edges):
        sel = (values >= lo) & (values < hi)
        if sel.any():
            out.append(Bucket(float(lo), float(hi), int(sel.sum()), float(correct[sel].mean())))
    return out


def reads_last_state(classifier: SentimentClassifier) -> bool:
    """One-way, one layer, classifying from the last state: the loss reaches h_t only through time."""
    c = classifier.config
    return not c.bidirectional and c.num_layers == 1 and c.pooling == "last"


def gradient_through_time(
    classifier: SentimentClassifier, ids: np.ndarray, labels: np.ndarray | None = None
) -> GradientCurve:
    """Mean over the batch of ||dObjective/dh_t|| for every time step t of the first layer's
    forward direction: how much of a signal at the end still reaches each earlier state.

    For a model that reads its last state (``reads_last_state``) with ``labels``, the objective is the
    real loss through the real read-out. Any other model (pooling or a backward direction would hand
    every h_t a direct path to the loss) gets the recurrence alone: the objective is u . h_T for the
    fixed unit vector u = 1/sqrt(H), so the curve still shows how fast gradients fade through time.

    ``ids`` (batch, time) holds texts of equal length (no padding), e.g. long texts cut to one length.
    The recurrence is unrolled in float64 autograd with the model's own weights (float32 would
    underflow to 0 within a few hundred RNN steps and hide the decay), following ``core.model.stepwise``'s
    equations (proven equal to the fused modules there).
    """
    c = classifier.config
    exact = labels is not None and reads_last_state(classifier)
    device = classifier.embedding.weight.device
    with torch.no_grad():  # on the CPU whatever the model's device: MPS has no float64
        x = classifier.embedding(torch.as_tensor(ids, dtype=torch.long, device=device)).cpu().double()
        w_ih, w_hh, b_ih, b_hh = (getattr(classifier.rnn, f"{n}_l0").detach().cpu().double()
                                  for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
    batch, steps = x.shape[0], x.shape[1]
    h = x.new_zeros(batch, c.hidden_size)
    cell = x.new_zeros(batch, c.hidden_size)
    states = []
    with torch.enable_grad():
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
            if t == 0:
                h.requires_grad_(True)  # the first state depends on no weight that needs a gradient
            h.retain_grad()
            states.append(h)
        if exact:
            head = classifier.head
            logits = h @ head.weight.detach().cpu().double().T + head.bias.detach().cpu().double()
            objective = nn.functional.cross_entropy(logits, torch.as_tensor(labels, dtype=torch.long))
        else:
            objective = h.sum() / c.hidden_size**0.5  # each text's gradient at h_T has norm 1
        objective.backward()
    norms = np.array([float(s.grad.norm(dim=1).mean()) for s in states])
    return GradientCurve(norms, exact)


def long_text_ids(
    model: SentimentModel, texts: Sequence[str], max_steps: int = 200, batch: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """(batch, time) token ids of the longest ``texts`` cut to the shortest of them (at most
    ``max_steps``), so no padding enters a gradient-through-time measurement, and their indices."""
    if not len(texts):
        raise StudioError("no texts to measure gradients on")
    split = encode_split(model.tokenizer, Split(texts, np.zeros(len(texts), dtype=np.int64)))
    order = np.argsort(-split.lengths, kind="stable")[:batch]
    ids = [np.asarray(split.flat_ids[s: s + n], dtype=np.int64) for s, n in
           zip(split.starts[order], split.lengths[order], strict=True)]
    steps = min(max_steps, min(len(a) for a in ids))
    return np.stack([a[:steps] for a in ids]), order


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
