"""The classifier and the step-by-step trace: the trace must equal PyTorch's fused modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import headless

from core.config import ModelConfig
from core.model.classifier import SentimentClassifier
from core.model.stepwise import trace_ids
from core.model.trace import GATE_NAMES


def _model(kind, layers, bidirectional, pooling="max", seed=0):
    torch.manual_seed(seed)
    cfg = ModelConfig(kind=kind, vocab_size=40, num_classes=3, embed_dim=7, hidden_size=5,
                      num_layers=layers, bidirectional=bidirectional, pooling=pooling, dropout=0.3)
    return SentimentClassifier(cfg).eval()


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_trace_equals_fused_module(kind, layers, bidirectional, pooling):
    model = _model(kind, layers, bidirectional, pooling)
    ids = np.random.default_rng(1).integers(2, 40, size=11)
    cells, prefix, probs = trace_ids(model, ids)
    dirs = 2 if bidirectional else 1
    assert [(c.layer, c.direction) for c in cells] == [(layer, d) for layer in range(layers) for d in range(dirs)]
    for c in cells:
        assert set(c.values) == set(GATE_NAMES[kind])
        assert all(v.shape == (11, 5) for v in c.values.values())

    with torch.no_grad():
        x = torch.from_numpy(ids)[None]
        out, state = model.rnn(model.embedding(x))  # the fused module, unpacked: one full-length text
        h_n = state[0] if kind == "lstm" else state
        logits = model(x, torch.tensor([11]))
    top = np.concatenate([c.values["hidden"] for c in cells if c.layer == layers - 1], axis=1)
    np.testing.assert_allclose(top, out[0].numpy(), atol=1e-5)  # every step of the top layer
    for c in cells:  # every layer's final state, both directions
        last = c.values["hidden"][-1] if c.direction == 0 else c.values["hidden"][0]
        np.testing.assert_allclose(last, h_n[c.layer * dirs + c.direction, 0].numpy(), atol=1e-5)
        if kind == "lstm":
            cell_last = c.values["cell"][-1] if c.direction == 0 else c.values["cell"][0]
            np.testing.assert_allclose(cell_last, state[1][c.layer * dirs + c.direction, 0].numpy(), atol=1e-5)
    expected = torch.softmax(logits, -1)[0].numpy()
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    np.testing.assert_allclose(prefix[-1], expected, atol=1e-5)
    assert prefix.shape == (11, 3)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_prefix_probabilities_equal_model_on_each_prefix(kind, bidirectional):
    model = _model(kind, 1, bidirectional, "mean")
    ids = np.random.default_rng(2).integers(2, 40, size=9)
    _, prefix, _ = trace_ids(model, ids)
    with torch.no_grad():
        for t in range(1, 10):
            p = torch.softmax(model(torch.from_numpy(ids[:t])[None], torch.tensor([t])), -1)[0].numpy()
            np.testing.assert_allclose(prefix[t - 1], p, atol=1e-5)


def test_lstm_gates_follow_the_equations():
    """C_t = f_t*C_{t-1} + i_t*C~_t and h_t = o_t*tanh(C_t), gates in (0, 1)."""
    model = _model("lstm", 1, False)
    cells, _, _ = trace_ids(model, np.arange(2, 14))
    v = cells[0].values
    prev = np.vstack([np.zeros((1, 5)), v["cell"][:-1]])
    np.testing.assert_allclose(v["cell"], v["forget"] * prev + v["input"] * v["candidate"], atol=1e-6)
    np.testing.assert_allclose(v["hidden"], v["output"] * np.tanh(v["cell"]), atol=1e-6)
    for g in ("input", "forget", "output"):
        assert ((v[g] > 0) & (v[g] < 1)).all()


def test_padding_does_not_change_predictions():
    """Packed sequences: a text's logits are the same alone or beside a longer text."""
    model = _model("lstm", 2, True, "max")
    a = torch.tensor([[5, 6, 7, 0, 0, 0]])
    b = torch.tensor([[5, 6, 7, 0, 0, 0], [9, 8, 7, 6, 5, 4]])
    with torch.no_grad():
        alone = model(a[:, :3], torch.tensor([3]))
        batched = model(b, torch.tensor([3, 6]))
    torch.testing.assert_close(alone[0], batched[0], atol=1e-6, rtol=0)


def test_bad_model_config_is_a_clear_error():
    from core.errors import StudioError

    with pytest.raises(StudioError, match=r"Model \(--model\) must be one of lstm, gru, rnn"):
        ModelConfig(kind="transformer")
    with pytest.raises(StudioError, match=r"Dropout \(--dropout\) must be between 0 and 0.95"):
        ModelConfig(dropout=1.5)
    with pytest.raises(StudioError, match=r"Hidden size \(--hidden-size\)"):
        ModelConfig(hidden_size=0)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_batches_match_packed_sequences(kind, layers, bidirectional):
    """The model runs padded, bucketed batches; it must equal PyTorch's packed-sequence semantics exactly."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    model = _model(kind, layers, bidirectional, "mean")
    lengths = torch.tensor([9, 7, 7, 3, 1])
    ids = torch.randint(2, 40, (5, 9), generator=torch.Generator().manual_seed(0))
    ids[torch.arange(9)[None, :] >= lengths[:, None]] = 0
    with torch.no_grad():
        out, h_n = model.run_rnn(ids, lengths)
        packed = pack_padded_sequence(model.embedding(ids), lengths, batch_first=True, enforce_sorted=False)
        ref_out, ref_state = model.rnn(packed)
        ref_out, _ = pad_packed_sequence(ref_out, batch_first=True, total_length=9)
    ref_h = ref_state[0] if kind == "lstm" else ref_state
    torch.testing.assert_close(out, ref_out, atol=1e-6, rtol=0)
    torch.testing.assert_close(h_n, ref_h, atol=1e-6, rtol=0)


def test_gradients_match_packed_sequences():
    """Training sees the same gradients as with packed sequences (padding contributes nothing)."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    lengths = torch.tensor([6, 4, 2])
    ids = torch.tensor([[3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 0, 0], [13, 14, 0, 0, 0, 0]])
    grads = []
    for packed in (False, True):
        model = _model("lstm", 2, True, "mean", seed=3)
        model.config.dropout = 0.0
        if packed:
            emb = model.embedding(ids)
            p = pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
            out, _ = pad_packed_sequence(model.rnn(p)[0], batch_first=True)
        else:
            out, _ = model.run_rnn(ids, lengths)
        out.sum().backward()
        grads.append({n: q.grad.clone() for n, q in model.named_parameters() if q.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], atol=1e-5, rtol=1e-4)


def test_fast_dropout_keeps_the_expected_value():
    from core.model.classifier import FastDropout

    drop = FastDropout(0.5).train()
    x = torch.ones(200_000)
    y = drop(x)
    assert set(torch.unique(y).tolist()) <= {0.0, 2.0}
    assert abs(float(y.mean()) - 1.0) < 0.02
    assert torch.equal(drop.eval()(x), x)


def test_the_trace_runs_numpy_on_one_blas_thread_whoever_imports_core():
    """A user's own script gets no OPENBLAS_NUM_THREADS=1 from main.py: the trace limits BLAS itself,
    for its own duration only."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import json, numpy, threadpoolctl\n"
        "from core.model import stepwise\n"
        "def blas(): return [i['num_threads'] for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']\n"
        "before = blas()\n"
        "with stepwise._one_blas_thread(): inside = blas()\n"
        "print(json.dumps([before, inside, blas()]))\n"
    )
    env = headless({k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")})
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr
    before, inside, after = json.loads(result.stdout)
    assert inside and set(inside) == {1}, result.stdout
    assert before == after  # the user's numpy keeps its own threads outside the trace
