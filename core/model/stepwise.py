"""Step-by-step re-run of a trained classifier, exposing every gate and state per token.

The fused cuDNN-style modules compute the recurrence out of sight. Here the same weights are run
one time step at a time, following the textbook equations (for the LSTM:
f_t = sigma(W_f.[h_{t-1}, x_t] + b_f), i_t, C~_t = tanh(...), C_t = f_t*C_{t-1} + i_t*C~_t, o_t,
h_t = o_t*tanh(C_t)), so the app can show what the fused module does. A parity test proves the
re-run equals the fused module to 1e-5. The loop runs in numpy: a sentence is a few dozen steps of
small vectors, where numpy's per-call cost is several times below torch's.
"""

from __future__ import annotations

import numpy as np
import torch
from threadpoolctl import ThreadpoolController

from core.model.classifier import SentimentClassifier, fused_rnn
from core.model.trace import GATE_NAMES, CellTrace


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # same as 1/(1+e^-x), without overflow warnings


def _run_cell(kind: str, x: np.ndarray, w_ih, w_hh, b_ih, b_hh) -> dict[str, np.ndarray]:
    """Run one direction of one layer over x (time, in) from a zero state; returns (time, hidden) arrays."""
    T, H = x.shape[0], w_hh.shape[1]
    xw = x @ w_ih.T + b_ih  # (time, gates*hidden): the input half of every gate at once
    w_hh_t = np.ascontiguousarray(w_hh.T)
    h = np.zeros(H, dtype=np.float32)
    names = GATE_NAMES[kind]
    out = {n: np.empty((T, H), dtype=np.float32) for n in names}
    if kind == "lstm":
        c = np.zeros(H, dtype=np.float32)
        for t in range(T):
            g = xw[t] + h @ w_hh_t + b_hh  # PyTorch's gate order: i, f, g (candidate), o
            i, f, cand, o = _sigmoid(g[:H]), _sigmoid(g[H : 2 * H]), np.tanh(g[2 * H : 3 * H]), _sigmoid(g[3 * H :])
            c = f * c + i * cand
            h = o * np.tanh(c)
            out["input"][t], out["forget"][t], out["candidate"][t] = i, f, cand
            out["cell"][t], out["output"][t], out["hidden"][t] = c, o, h
    elif kind == "gru":
        for t in range(T):
            gh = h @ w_hh_t + b_hh  # PyTorch's gate order: r (reset), z (update), n (candidate)
            r = _sigmoid(xw[t, :H] + gh[:H])
            z = _sigmoid(xw[t, H : 2 * H] + gh[H : 2 * H])
            n = np.tanh(xw[t, 2 * H :] + r * gh[2 * H :])
            h = (1.0 - z) * n + z * h
            out["reset"][t], out["update"][t], out["candidate"][t], out["hidden"][t] = r, z, n, h
    else:
        for t in range(T):
            h = np.tanh(xw[t] + h @ w_hh_t + b_hh)
            out["hidden"][t] = h
    return out


def _weights(model: SentimentClassifier, layer: int, direction: int):
    suffix = f"_l{layer}" + ("_reverse" if direction else "")
    p = {n: getattr(model.rnn, n + suffix).detach().cpu().float().numpy() for n in ("weight_ih", "weight_hh")}
    zeros = np.zeros(p["weight_ih"].shape[0], dtype=np.float32)
    b_ih = getattr(model.rnn, "bias_ih" + suffix, None)
    b_hh = getattr(model.rnn, "bias_hh" + suffix, None)
    return (
        p["weight_ih"],
        p["weight_hh"],
        zeros if b_ih is None else b_ih.detach().cpu().float().numpy(),
        zeros if b_hh is None else b_hh.detach().cpu().float().numpy(),
    )


_blas: ThreadpoolController | None = None


def _one_blas_thread():
    """A context that runs numpy's BLAS on one thread: a trace is hundreds of tiny matmuls, and
    OpenBLAS's threads spin after each and fight PyTorch's for the cores (a 40-word trace took 27 ms
    with 2 BLAS threads, 10 ms with 1, on 2 cores). Scoped, so a user's own numpy keeps its threads."""
    global _blas
    if _blas is None:
        _blas = ThreadpoolController()
    return _blas.limit(limits=1, user_api="blas")


def trace_ids(
    model: SentimentClassifier, ids: np.ndarray, prefixes: bool = True
) -> tuple[list[CellTrace], np.ndarray | None, np.ndarray]:
    """Trace one sequence of token ids (time,) through ``model`` in eval semantics (no dropout).

    Returns (cells, prefix_probabilities (time, classes) or None when ``prefixes`` is False,
    probabilities (classes,)). The prefix curve is the costly part for bidirectional models.
    """
    with _one_blas_thread(), torch.no_grad():
        return _trace_ids(model, ids, prefixes)


def _trace_ids(
    model: SentimentClassifier, ids: np.ndarray, prefixes: bool
) -> tuple[list[CellTrace], np.ndarray | None, np.ndarray]:
    cfg = model.config
    ids = np.asarray(ids, dtype=np.int64)
    emb = model.embedding.weight.detach().cpu().float().numpy()
    layer_in = emb[ids]  # (time, embed)
    cells: list[CellTrace] = []
    for layer in range(cfg.num_layers):
        outs = []
        for direction in range(cfg.num_directions):
            x = layer_in if direction == 0 else layer_in[::-1]
            values = _run_cell(cfg.kind, np.ascontiguousarray(x), *_weights(model, layer, direction))
            if direction == 1:  # back to token order
                values = {k: np.ascontiguousarray(v[::-1]) for k, v in values.items()}
            cells.append(CellTrace(layer, direction, values))
            outs.append(values["hidden"])
        layer_in = np.concatenate(outs, axis=1)  # (time, dirs*hidden): the next layer's input
    head_w = model.head.weight.detach().cpu().float().numpy()
    head_b = model.head.bias.detach().cpu().float().numpy()
    probabilities = _softmax(_pool(cfg, layer_in) @ head_w.T + head_b)
    prefix = _prefix_probabilities(model, ids, layer_in, head_w, head_b) if prefixes else None
    return cells, prefix, probabilities


def _pool(cfg, top: np.ndarray) -> np.ndarray:
    """The classifier's pooling over a whole traced text: (time, dirs*hidden) -> (dirs*hidden,)."""
    if cfg.pooling == "mean":
        return top.mean(axis=0)
    if cfg.pooling == "max":
        return top.max(axis=0)
    H = cfg.hidden_size  # "last": forward state after the last token, backward state after the first
    return top[-1] if not cfg.bidirectional else np.concatenate([top[-1, :H], top[0, H:]])


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _prefix_probabilities(
    model: SentimentClassifier, ids: np.ndarray, top: np.ndarray, w: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """Class probabilities as if the text ended after each token.

    Left-to-right models get them from the trace itself (the state after t *is* the state of the
    prefix). A backward direction sees the future, so each prefix must be read again from its end:
    with one layer only the backward direction is re-run, for all prefixes at once; deeper models
    re-run whole prefixes in one batch.
    """
    cfg = model.config
    T = top.shape[0]
    if not cfg.bidirectional:
        return _softmax(_running_pool(cfg.pooling, top) @ w.T + b)
    if cfg.num_layers == 1:
        H = cfg.hidden_size
        backward = _backward_over_prefixes(model, ids)  # (T prefixes, T positions, H), prefix n in row n-1
        n = np.arange(1, T + 1)
        real = np.arange(T)[None, :] < n[:, None]  # (T, T) positions inside each prefix
        if cfg.pooling == "last":
            back = backward[:, 0]  # after reading each prefix back to its first token
        elif cfg.pooling == "mean":
            back = np.where(real[..., None], backward, 0.0).sum(1) / n[:, None].astype(np.float32)
        else:
            back = np.where(real[..., None], backward, -np.inf).max(1)
        fwd = _running_pool(cfg.pooling, top[:, :H])
        return _softmax(np.concatenate([fwd, back], axis=1) @ w.T + b)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        probs = []
        chunk = max(1, 8192 // max(T, 1))  # bound memory for long texts: O(T^2) tokens in all
        for start in range(0, T, chunk):
            lens = np.arange(start + 1, min(T, start + chunk) + 1)
            batch = np.zeros((len(lens), lens[-1]), dtype=np.int64)
            for row, k in enumerate(lens):
                batch[row, :k] = ids[:k]
            logits = model(torch.from_numpy(batch).to(device), torch.from_numpy(lens))
            probs.append(torch.softmax(logits.float(), -1).cpu().numpy())
        return np.concatenate(probs)
    finally:
        model.train(was_training)


def _running_pool(pooling: str, states: np.ndarray) -> np.ndarray:
    """Pooling of every prefix of left-to-right states (time, features): row t pools states[:t+1]."""
    if pooling == "last":
        return states
    if pooling == "mean":
        return np.cumsum(states, axis=0) / np.arange(1, len(states) + 1, dtype=np.float32)[:, None]
    return np.maximum.accumulate(states, axis=0)


def _backward_over_prefixes(model: SentimentClassifier, ids: np.ndarray) -> np.ndarray:
    """The first layer's backward direction run over every prefix, as one packed batch.

    Row n-1 holds prefix n read from its last token back to its first, in token order (position j is
    the state after reading tokens n-1..j). Packing makes it T(T+1)/2 steps, not T^2; inference only.
    """
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    cfg = model.config
    T, H = len(ids), cfg.hidden_size
    device = model.embedding.weight.device
    n = np.arange(1, T + 1)
    steps = np.arange(T)[None, :]
    reversed_ids = np.where(steps < n[:, None], ids[np.clip(n[:, None] - 1 - steps, 0, None)], cfg.pad_id)
    x = model.embedding(torch.from_numpy(reversed_ids).to(device))  # (T, T, embed)
    packed = pack_padded_sequence(x, torch.from_numpy(n), batch_first=True, enforce_sorted=False)
    params = [getattr(model.rnn, f"{p}_l0_reverse") for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    out = fused_rnn(cfg.kind, packed.data, x.new_zeros(1, T, H), params, False, batch_sizes=packed.batch_sizes)
    out = packed._replace(data=out)
    padded, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (T, T, H), reversed order
    padded = padded.float().cpu().numpy()
    # back to token order within each prefix: position j of prefix n is reversed step n-1-j
    index = np.clip(n[:, None] - 1 - steps, 0, None)
    return np.take_along_axis(padded, index[..., None], axis=1)
