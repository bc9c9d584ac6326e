"""Sentiment Studio's benchmark suite: measures side by side, in one run, and prints a table.

    .venv/bin/python benchmarks/run.py [--quick] [--json FILE]

1. training throughput (useful tokens/s, padding excluded) of the real pipeline for LSTM, GRU and RNN at
   the default sizes, against (a) the ceiling: the same fused modules' forward+backward+step on
   pre-built, padding-free batches of the same shapes, and (b) a naive pipeline as tutorials write it;
2. tokenization vs a naive Python tokenizer; 3. the interactive trace of a 40-word sentence and
   evaluation throughput; 4. GUI event-loop stalls while two models train; 5. start-up time;
   6. peak memory while training on 25,000 long reviews; 7. training beside busy programs; 8. data larger
   than memory; 9. time to a model that beats the seed article's Keras recipe on SST-2 (``--only seed``).
Ratios alternate the two sides with warm-up and take the median of repeats (the machine is shared).
Texts: ../shared/datasets/imdb when present, else generated texts with IMDB's length distribution.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as main.py does: measure what the app runs

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from core.config import CELL_KINDS, ModelConfig, TokenizerConfig, TrainConfig  # noqa: E402
from core.data import Split, TextDataset  # noqa: E402
from core.events import StepEvent  # noqa: E402
from core.model.classifier import build_classifier  # noqa: E402
from core.model.sentiment_model import SentimentModel  # noqa: E402
from core.text.batching import EncodedSplit, bucketed_order  # noqa: E402
from core.text.tokenizer import TextTokenizer  # noqa: E402
from core.train.pipeline import train_model  # noqa: E402
from core.train.trainer import adamw  # noqa: E402

IMDB = ROOT.parent / "shared" / "datasets" / "imdb"
TARGETS = {
    "train_vs_ceiling": 0.85,
    "train_vs_naive": 3.0,
    "tokenize_vs_naive": 10.0,
    "trace_ms_p95": 5.0,
    "explain_ig_ms_p95": 50.0,  # Integrated Gradients, 40 words, the default 32 steps
    "gui_stall_ms_max": 100.0,
    "gui_stall_ms_p99": 30.0,
    "startup_s": 2.0,
    "train_peak_rss_mb": 2048.0,
    "onnx_vs_torch_sentence": 1.0,  # ONNX Runtime at least as fast per sentence (p50 and p95)
    "onnx_size_vs_weights": 2.0,
    "runs_screen_open_s": 1.0,  # 10,000 runs in the store
    "runs_filter_ms": 100.0,
    "time_to_seed_accuracy_s": 17.0,  # SST-2, the app's defaults, start to a saved model over SEED_ACCURACY
}
SEED_ACCURACY = 0.809  # the seed article's Keras recipe (LSTM(50), pre-padding) on the same SST-2 files
END_ACCURACY = 0.81  # what the defaults must still reach at the end of a run


# --- data ---------------------------------------------------------------------------------------------
def imdb_like_texts(n: int, seed: int = 0) -> tuple[list[str], np.ndarray, str]:
    """IMDB reviews when present, else generated ones with IMDB's long-tailed length distribution."""
    if (IMDB / "train.tsv").is_file():
        rows = [line.rstrip("\n").rsplit("\t", 1) for line in (IMDB / "train.tsv").open(encoding="utf-8")][1:]
        rows = rows[:n]
        return [r[0] for r in rows], np.array([int(r[1]) for r in rows]), "../shared/datasets/imdb (train)"
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(20000)]
    p = 1 / np.arange(1, 20001)
    p /= p.sum()
    lengths = np.clip(rng.lognormal(mean=5.2, sigma=0.7, size=n), 10, 2500).astype(int)  # mean ~230, long tail
    texts = [" ".join(rng.choice(words, size=k, p=p)) for k in lengths]
    return texts, rng.integers(0, 2, size=n), "generated (IMDB-like lengths)"


def median_of(fn: Callable[[], float], repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


# --- 1. training throughput -----------------------------------------------------------------------------
def ours_train(texts: list[str], labels: np.ndarray, kind: str, batches: int, batch_size: int) -> float:
    """The app's pipeline end to end: tokenizer training and encoding, bucketed batches, packed model,
    AdamW, clipping; useful tokens per second over the training steps and the encoding."""
    n = batches * batch_size
    ds = TextDataset("bench", {
        "train": Split(texts[:n], labels[:n]),
        "validation": Split(texts[:8], labels[:8]),
        "test": Split(texts[:8], labels[:8]),
    }, ["negative", "positive"])
    t0 = time.perf_counter()
    gen = train_model(ds, ModelConfig(kind=kind), TrainConfig(epochs=1, batch_size=batch_size, device="cpu"))
    tokens, end = 0, t0
    for event in gen:
        if isinstance(event, StepEvent):
            end = time.perf_counter()
    # useful tokens = the real (truncated) tokens the steps consumed
    tok = TextTokenizer.train(texts[:n])
    tokens = int(tok.encode_batch(texts[:n], details=False).lengths.sum())
    return tokens / (end - t0)


def ceiling_train(split: EncodedSplit, kind: str, batches: int, batch_size: int, vocab_size: int) -> float:
    """The fused module alone on padding-free batches of our batches' shapes: embedding, nn.LSTM/GRU/RNN
    (no packing), mean pooling, linear, and the same fused AdamW the trainer uses (``core.train.trainer.adamw``),
    so the ratio measures the pipeline around the step. Every token is useful."""
    cfg = ModelConfig(kind=kind, vocab_size=vocab_size)
    model = build_classifier(cfg, 0)
    opt = adamw(model, torch.device("cpu"), lr=2e-3)
    order = bucketed_order(split.lengths, batch_size, np.random.default_rng(0))[:batches]
    shapes = [(len(b), int(split.lengths[b].max())) for b in order]
    data = [(torch.randint(2, vocab_size, s), torch.randint(0, 2, (s[0],))) for s in shapes]
    model.train()
    start = time.perf_counter()
    tokens = 0
    for ids, y in data:
        out, _ = model.rnn(model.embed_dropout(model.embedding(ids)))
        logits = model.head(model.out_dropout(out.mean(1)))
        loss = nn.functional.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        tokens += ids.numel()
    return tokens / (time.perf_counter() - start)


def naive_train(texts: list[str], labels: np.ndarray, kind: str, batches: int, batch_size: int, max_len: int) -> float:
    """A tutorial pipeline: str.split + a Python dict vocabulary, a Dataset returning one item at a time,
    a per-item collate padding every batch to the maximum length, no packing, the last time step."""
    n = batches * batch_size
    vocab: dict[str, int] = {"<pad>": 0, "<unk>": 1}
    for t in texts[:n]:
        for w in t.lower().split():
            vocab.setdefault(w, len(vocab))

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            cfg = ModelConfig(kind=kind)
            self.emb = nn.Embedding(len(vocab), cfg.embed_dim)
            cell = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[kind]
            self.rnn = cell(cfg.embed_dim, cfg.hidden_size, batch_first=True, bidirectional=cfg.bidirectional)
            self.fc = nn.Linear(cfg.hidden_size * 2, 2)

        def forward(self, x):
            out, _ = self.rnn(self.emb(x))
            return self.fc(out[:, -1])

    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    perm = np.random.default_rng(0).permutation(n)
    useful = 0
    start = time.perf_counter()
    for b in range(batches):
        items = []
        for i in perm[b * batch_size : (b + 1) * batch_size]:  # per-item __getitem__
            ids = [vocab.get(w, 1) for w in texts[i].lower().split()][:max_len]
            useful += len(ids)
            items.append(torch.tensor(ids + [0] * (max_len - len(ids))))
        x = torch.stack(items)
        y = torch.tensor(labels[perm[b * batch_size : (b + 1) * batch_size]])
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return useful / (time.perf_counter() - start)


def bench_training(quick: bool, results: dict, table: list) -> None:
    texts, labels, source = imdb_like_texts(4000)
    results["train_data"] = source
    batch_size = TrainConfig().batch_size
    # ours runs long enough that its one-off costs (tokenizer training, encoding, model set-up, which
    # belong to the real pipeline) weigh as in a short epoch; the other two are steady-state rates
    batches, side_batches = (12, 6) if quick else (60, 20)
    repeats = 1 if quick else 3
    n = batches * batch_size
    tok = TextTokenizer.train(texts[:n])  # the vocabulary ours_train builds: same embedding size on both sides
    split = EncodedSplit.from_ragged(tok.encode_batch(texts[:n], details=False).ids, labels[:n])
    max_len = TokenizerConfig().max_length
    for key in ("train_tokens_per_s", "ceiling_tokens_per_s", "naive_tokens_per_s", "train_vs_ceiling",
                "train_vs_naive"):
        results.setdefault(key, {})
    for kind in CELL_KINDS:
        ours, ceil, naive = [], [], []
        ours_train(texts, labels, kind, 2, batch_size)  # warm-up
        for _ in range(repeats):  # alternate the sides, so a noisy neighbour hits all of them alike
            ours.append(ours_train(texts, labels, kind, batches, batch_size))
            ceil.append(ceiling_train(split, kind, side_batches, batch_size, tok.vocab_size))
            naive.append(naive_train(texts, labels, kind, side_batches, batch_size, max_len))
        o, c, v = statistics.median(ours), statistics.median(ceil), statistics.median(naive)
        results["train_tokens_per_s"][kind] = round(o)
        results["ceiling_tokens_per_s"][kind] = round(c)
        results["naive_tokens_per_s"][kind] = round(v)
        results["train_vs_ceiling"][kind] = round(o / c, 3)
        results["train_vs_naive"][kind] = round(o / v, 2)
        table.append((f"train {kind}: ours / ceiling", f"{o:,.0f} / {c:,.0f} tok/s", f"{o / c:.2f}x",
                      f">= {TARGETS['train_vs_ceiling']}x"))
        table.append((f"train {kind}: ours / naive", f"{o:,.0f} / {v:,.0f} tok/s", f"{o / v:.2f}x",
                      f">= {TARGETS['train_vs_naive']}x"))


# --- 2. tokenization ------------------------------------------------------------------------------------
def bench_tokenize(quick: bool, results: dict, table: list) -> None:
    """Batch encoding (Rust, parallel) vs the naive tokenizer of item 1b (str.split + dict), and vs a
    naive tokenizer doing our job (NFKC, lowercase, words and punctuation apart, dict lookup)."""
    import re
    import unicodedata

    texts, _, _ = imdb_like_texts(2000 if quick else 12500)
    tok = TextTokenizer.train(texts, TokenizerConfig(max_length=100_000))  # no truncation: count every token
    split_vocab = {w: i for i, w in enumerate({w for t in texts for w in t.lower().split()})}
    words = re.compile(r"\w+|[^\w\s]+")  # the same split as our pre-tokenizer
    same_vocab = {w: i for i, w in enumerate({w for t in texts for w in words.findall(t.lower())})}

    def ours() -> float:
        t0 = time.perf_counter()
        n = int(tok.encode_batch(texts, details=False).lengths.sum())
        return n / (time.perf_counter() - t0)

    def naive() -> float:
        t0 = time.perf_counter()
        n = sum(len([split_vocab.get(w, 1) for w in t.lower().split()]) for t in texts)
        return n / (time.perf_counter() - t0)

    def same_job() -> float:
        t0 = time.perf_counter()
        n = sum(len([same_vocab.get(w, 1) for w in words.findall(unicodedata.normalize("NFKC", t).lower())])
                for t in texts)
        return n / (time.perf_counter() - t0)

    ours(), naive(), same_job()
    o, v, j = [], [], []
    for _ in range(3):
        o.append(ours())
        v.append(naive())
        j.append(same_job())
    o_m, v_m, j_m = statistics.median(o), statistics.median(v), statistics.median(j)
    results["tokenize_tokens_per_s"] = round(o_m)
    results["tokenize_naive_tokens_per_s"] = round(v_m)
    results["tokenize_vs_naive"] = round(o_m / v_m, 2)
    results["tokenize_vs_naive_same_job"] = round(o_m / j_m, 2)
    table.append(("tokenize: ours / naive (str.split)", f"{o_m:,.0f} / {v_m:,.0f} tok/s", f"{o_m / v_m:.2f}x",
                  f">= {TARGETS['tokenize_vs_naive']}x"))
    table.append(("tokenize: ours / naive doing our job", f"{o_m:,.0f} / {j_m:,.0f} tok/s", f"{o_m / j_m:.2f}x", ""))


# --- 3. interactive trace and evaluation ----------------------------------------------------------------
def bench_trace(quick: bool, results: dict, table: list) -> None:
    texts, _, _ = imdb_like_texts(2000)
    tok = TextTokenizer.train(texts)
    model = SentimentModel(build_classifier(ModelConfig(vocab_size=tok.vocab_size), 0).eval(), tok,
                           ["negative", "positive"])
    sentence = " ".join(texts[0].split()[:40])  # 40 words

    def timed(prefixes: bool) -> list[float]:
        for _ in range(20):
            model.trace(sentence, prefixes=prefixes)
        times = []
        for _ in range(100 if quick else 500):
            t0 = time.perf_counter()
            model.trace(sentence, prefixes=prefixes)  # tokenize, predict, every gate of both directions
            times.append((time.perf_counter() - t0) * 1000)
        return times

    gates, curve = timed(False), timed(True)
    p50, p95 = float(np.percentile(gates, 50)), float(np.percentile(gates, 95))
    c50, c95 = float(np.percentile(curve, 50)), float(np.percentile(curve, 95))
    results["trace_ms_p50"], results["trace_ms_p95"] = round(p50, 2), round(p95, 2)
    results["trace_with_prefix_curve_ms_p50"], results["trace_with_prefix_curve_ms_p95"] = round(c50, 2), round(c95, 2)
    table.append(("trace 40 words (tokenize+predict+gates)", f"p50 {p50:.2f} ms", f"p95 {p95:.2f} ms",
                  f"p95 <= {TARGETS['trace_ms_p95']} ms"))
    table.append(("  + prediction after every word (BiLSTM)", f"p50 {c50:.2f} ms", f"p95 {c95:.2f} ms", ""))
    sample = texts[: 500 if quick else 2000]
    model.predict_proba(sample[:50])
    t0 = time.perf_counter()
    model.predict_proba(sample)
    rate = len(sample) / (time.perf_counter() - t0)
    results["eval_sentences_per_s"] = round(rate, 1)
    table.append(("evaluation (IMDB-like reviews)", f"{rate:,.0f} texts/s", "", ""))


def bench_explain(quick: bool, results: dict, table: list) -> None:
    """Word attributions for a 40-word sentence with the default model (core.inspect.attribution), per kind:
    Integrated Gradients at the default steps (one batched forward and backward) and leave one word out."""
    from core.config import ExplainConfig
    from core.inspect.attribution import explain

    texts, _, _ = imdb_like_texts(2000)
    tok = TextTokenizer.train(texts)
    sentence = " ".join(texts[0].split()[:40])
    for kind in CELL_KINDS:
        model = SentimentModel(build_classifier(ModelConfig(kind=kind, vocab_size=tok.vocab_size), 0).eval(), tok,
                               ["negative", "positive"])
        for method in ("ig", "occlusion"):
            config = ExplainConfig(method=method)
            for _ in range(10):
                explain(model, sentence, config)
            times = []
            for _ in range(50 if quick else 200):
                t0 = time.perf_counter()
                explain(model, sentence, config)  # tokenize, predict, attribute, sum back to words
                times.append((time.perf_counter() - t0) * 1000)
            p50, p95 = float(np.percentile(times, 50)), float(np.percentile(times, 95))
            results[f"explain_{method}_{kind}_ms_p50"], results[f"explain_{method}_{kind}_ms_p95"] = (
                round(p50, 1), round(p95, 1))
            if method == "ig" and kind == "lstm":
                results["explain_ig_ms_p95"] = round(p95, 1)
            target = f"p95 <= {TARGETS['explain_ig_ms_p95']:.0f} ms" if method == "ig" else ""
            steps = f", {config.steps} steps" if method == "ig" else ""
            table.append((f"explain 40 words, {kind.upper()}, {method}{steps}", f"p50 {p50:.1f} ms",
                          f"p95 {p95:.1f} ms", target))


def bench_export(quick: bool, results: dict, table: list) -> None:
    """The export bundle under ONNX Runtime against the app's PyTorch path: same model, same texts.

    The ONNX side is the model card's code (core.store.model_card.EXAMPLE) with ONNX Runtime's worker threads
    told not to spin after each run (left spinning, they slow the next PyTorch call on 2 cores). The two
    sides alternate in blocks of 50 calls, so load on the machine falls on both alike, and the
    throughput runs alternate too, each sorting its texts by length inside the timer as the app does.
    """
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from core.store.export import bundle_config, onnx_graph

    texts, _, _ = imdb_like_texts(2000)
    tok = TextTokenizer.train(texts)
    model = SentimentModel(build_classifier(ModelConfig(vocab_size=tok.vocab_size), 0).eval(), tok,
                           ["negative", "positive"])
    graph = onnx_graph(model).SerializeToString()
    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(graph, options)
    bundle_tok = Tokenizer.from_str(tok.to_json())  # what the card loads from tokenizer.json
    config = bundle_config(model)

    def onnx_predict(batch: list[str]) -> np.ndarray:  # the model card's example, minus printing
        ids = [e.ids[: config["max_length"]] or [config["unk_id"]] for e in bundle_tok.encode_batch(batch)]
        lengths = np.array([len(seq) for seq in ids], dtype=np.int64)
        arr = np.array([seq + [config["pad_id"]] * (lengths.max() - len(seq)) for seq in ids], dtype=np.int64)
        return session.run(["probabilities"], {"ids": arr, "lengths": lengths})[0]

    def onnx_batches(sample: list[str]) -> None:
        ordered = sorted(sample, key=len)
        for k in range(0, len(ordered), 256):  # by length, 256 a batch, as the app batches
            onnx_predict(ordered[k : k + 256])

    sentences = [" ".join(t.split()[:30]) for t in texts[:200]]  # 30-word sentences, as typed in the app
    for s_ in sentences[:20]:
        onnx_predict([s_]), model.predict_proba([s_])
    times: dict[str, list[float]] = {"torch": [], "onnx": []}
    sides = {"torch": model.predict_proba, "onnx": onnx_predict}
    for block in range(4 if quick else 20):
        for side in ("torch", "onnx") if block % 2 == 0 else ("onnx", "torch"):
            for i in range(50):
                s_ = sentences[(block * 50 + i) % len(sentences)]
                t0 = time.perf_counter()
                sides[side]([s_])
                times[side].append((time.perf_counter() - t0) * 1000)
    t50, t95 = (float(np.percentile(times["torch"], q)) for q in (50, 95))
    o50, o95 = (float(np.percentile(times["onnx"], q)) for q in (50, 95))
    sample = texts[: 500 if quick else 2000]
    rates: dict[str, list[float]] = {"torch": [], "onnx": []}
    for side, fn in [("torch", model.predict_proba), ("onnx", onnx_batches)] * 2:
        t0 = time.perf_counter()
        fn(sample)
        rates[side].append(len(sample) / (time.perf_counter() - t0))
    torch_rate, onnx_rate = max(rates["torch"]), max(rates["onnx"])
    weights = sum(p.numel() * 4 for p in model.classifier.parameters())
    size_ratio = len(graph) / weights
    met = t50 / o50 >= TARGETS["onnx_vs_torch_sentence"] and t95 / o95 >= TARGETS["onnx_vs_torch_sentence"]
    results.update(torch_sentence_ms_p50=round(t50, 2), torch_sentence_ms_p95=round(t95, 2),
                   onnx_sentence_ms_p50=round(o50, 2), onnx_sentence_ms_p95=round(o95, 2),
                   onnx_sentence_target_met=met, torch_batch_texts_per_s=round(torch_rate, 1),
                   onnx_batch_texts_per_s=round(onnx_rate, 1), onnx_size_vs_weights=round(size_ratio, 3))
    table.append(("predict 1 sentence (30 words), PyTorch", f"p50 {t50:.2f} ms", f"p95 {t95:.2f} ms", ""))
    table.append(("predict 1 sentence (30 words), ONNX Runtime", f"p50 {o50:.2f} ms", f"p95 {o95:.2f} ms",
                  f"p50, p95 <= PyTorch's: {'met' if met else 'NOT met'} ({t50 / o50:.2f}x, {t95 / o95:.2f}x)"))
    table.append(("batch throughput (IMDB-like), PyTorch / ONNX", f"{torch_rate:,.0f} / {onnx_rate:,.0f} texts/s",
                  f"{onnx_rate / torch_rate:.2f}x", ""))
    table.append(("model.onnx size / weights", f"{len(graph) / 1e6:.1f} MB / {weights / 1e6:.1f} MB",
                  f"{size_ratio:.3f}x", f"< {TARGETS['onnx_size_vs_weights']}x"))


def bench_runs(quick: bool, results: dict, table: list) -> None:
    """The Runs screen over a store of 10,000 runs: opening (read + table) and filtering as one types."""
    import json as _json
    import tempfile

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from core.store.runs import RunStore
    from gui.runs_screen import RunsScreen
    from gui.session import Session

    app = QApplication.instance() or QApplication([])
    folder = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    store = RunStore(folder)
    settings = _json.dumps({"model": {"hidden_size": 128, "num_layers": 1}, "train": {"learning_rate": 0.002}})
    rows = [(f"run {i}", ("lstm", "gru", "rnn")[i % 3], "finished", 1.7e9 + i, 1.7e9 + i + 60, "bench", 1,
             f"dataset-{i % 7}", "{}", settings, "{}", 0.8, 0.8, 0.5 + (i % 100) / 250, 0.8, 60.0, None)
            for i in range(10_000)]
    store._db.execute("BEGIN")
    store._db.executemany(
        "INSERT INTO runs (name, kind, status, started, ended, host, pid, dataset, fingerprint, settings, versions, "
        "val_accuracy, val_macro_f1, test_accuracy, test_macro_f1, training_time_s, model_path) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    store._db.execute("COMMIT")
    store.close()
    screen = RunsScreen(Session())
    screen.store_folder = folder
    screen.resize(1280, 800)
    screen.show()
    t0 = time.perf_counter()
    screen.refresh()
    app.processEvents()
    open_s = time.perf_counter() - t0
    filter_ms = []
    for text in ("g", "gr", "gru", "gru dataset-3"[:7], ""):
        t0 = time.perf_counter()
        screen.filter.setText(text)
        app.processEvents()
        filter_ms.append((time.perf_counter() - t0) * 1000)
    screen.close()
    worst = max(filter_ms)
    results.update(runs_screen_open_s=round(open_s, 3), runs_filter_ms_max=round(worst, 1))
    table.append(("Runs screen: open with 10,000 runs", f"{open_s:.2f} s", "",
                  f"<= {TARGETS['runs_screen_open_s']} s"))
    table.append(("Runs screen: filter 10,000 runs (per keystroke, worst)", f"{worst:.0f} ms", "",
                  f"<= {TARGETS['runs_filter_ms']:.0f} ms"))


# --- 4-6. subprocess measurements -----------------------------------------------------------------------
def bench_gui(quick: bool, results: dict, table: list) -> None:
    data = "builtin:reviews?n=1500" if quick else str(ROOT.parent / "shared" / "datasets" / "sst2")
    if not quick and not Path(data).is_dir():
        data = "builtin:reviews"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    script = str(ROOT / "benchmarks" / "gui_responsiveness.py")
    cmd = [sys.executable, script, "--data", data, "--one", "warm"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    row = json.loads(r.stdout.strip().splitlines()[-1])
    results["gui_stall_ms_max"], results["gui_stall_ms_p99"] = row["stall_ms_max"], row["stall_ms_p99"]
    table.append(("GUI stall while LSTM+RNN train", f"max {row['stall_ms_max']} ms", f"p99 {row['stall_ms_p99']} ms",
                  "max <= 100, p99 <= 30 ms"))
    # the same with one competing busy process, Train pressed during the start-up warm-up ("cold")
    hog = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        rows = []
        for case in ("cold", "warm"):
            r = subprocess.run([*cmd[:-1], case], capture_output=True, text=True, env=env)
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    finally:
        hog.kill()
        hog.wait()
    worst, p99 = max(x["stall_ms_max"] for x in rows), max(x["stall_ms_p99"] for x in rows)
    results["gui_stall_ms_max_loaded"], results["gui_stall_ms_p99_loaded"] = worst, p99
    table.append(("GUI stall, one busy process (cold and warm)", f"max {worst} ms", f"p99 {p99} ms",
                  "max <= 100, p99 <= 30 ms"))


BUSY = "while True: pass"  # one competing program that keeps a core busy


THREAD_ENV = ("SENTIMENT_STUDIO_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY")  # what a measurement sets


def shipped_env(env_extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any thread settings (as shipped), plus ``env_extra``."""
    return {k: v for k, v in os.environ.items() if k not in THREAD_ENV} | (env_extra or {})


def run_train(data: str, args: list[str], env_extra: dict[str, str] | None = None) -> tuple[float, dict]:
    """``main.py train --data data *args`` with ``env_extra`` as the only thread settings: seconds from start
    to saved model, and its printed summary."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, str(ROOT / "main.py"), "train", "--data", data, *args, "--out",
                               f"{tmp}/m.safetensors", "--no-record", "--quiet"],
                              check=True, capture_output=True, text=True, env=shipped_env(env_extra))
        return time.perf_counter() - t0, json.loads(done.stdout)


def train_wall(data: str, epochs: int, env_extra: dict[str, str]) -> float:
    """Seconds for ``main.py train`` (start to saved model) with ``env_extra`` as the only thread settings
    (none: as shipped). benchmarks/wait_policy.py uses it too."""
    return run_train(data, ["--epochs", str(epochs), "--device", "cpu"], env_extra)[0]


def bench_load(quick: bool, results: dict, table: list) -> None:
    """Training time with 0, 1 and 2 competing busy processes: as shipped against each fixed thread count
    (1 to all cores), the sides alternated, the median of three runs each. Target: as shipped within 1.15x
    of the best fixed count."""
    sst2 = ROOT.parent / "shared" / "datasets" / "sst2"
    data = "builtin:reviews?n=3000" if quick or not sst2.is_dir() else str(sst2)
    epochs = 1 if quick else 2
    counts = [str(c) for c in sorted({1, max(1, (os.cpu_count() or 1) // 2), os.cpu_count() or 1})]
    repeats = 1 if quick else 3  # one run of ~10 s moves by 15% on its own here: the median of three
    for busy in (0, 1, 2):
        hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(busy)]
        try:
            sides = [None, *counts]
            runs: dict[str | None, list[float]] = {side: [] for side in sides}
            for r in range(repeats):
                for side in sides if (busy + r) % 2 == 0 else reversed(sides):  # alternate the order
                    env = {} if side is None else {"SENTIMENT_STUDIO_THREADS": side}
                    runs[side].append(train_wall(data, epochs, env))
            walls = {side: statistics.median(times) for side, times in runs.items()}
            results[f"train_load{busy}_runs"] = {str(side or "shipped"): times for side, times in runs.items()}
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
        best = min(walls[c] for c in counts)
        ratio = walls[None] / best
        results[f"train_load{busy}_s"] = round(walls[None], 1)
        results[f"train_load{busy}_vs_best_fixed"] = round(ratio, 2)
        fixed = ", ".join(f"{c} thr {walls[c]:.1f} s" for c in counts)
        table.append((f"train {epochs} epochs, {busy} busy process(es)", f"{walls[None]:.1f} s ({fixed})",
                      f"{ratio:.2f}x best fixed", "<= 1.15x"))


def bench_time_to_accuracy(quick: bool, results: dict, table: list) -> None:
    """``main.py train`` on SST-2 with every default (start to saved model, as a user runs it), seeds 0 and 1
    (and 2 in a full run): its wall time and the saved model's test accuracy, against the seed article's
    Keras recipe (80.9, after 52 s of training at batch 16 here; 80.4 after 18 s at batch 64)."""
    sst2 = ROOT.parent / "shared" / "datasets" / "sst2"
    if not (sst2 / "train.tsv").is_file():
        table.append(("time to a model over the Keras recipe (SST-2)", "skipped: no ../shared/datasets/sst2", "",
                      ""))
        return
    runs = []
    for seed in (0,) if quick else (0, 1, 2):
        wall, summary = run_train(str(sst2), ["--seed", str(seed), *(["--max-steps", "200"] if quick else [])])
        runs.append({"seed": seed, "wall_s": round(wall, 1), "test_accuracy": summary["test_accuracy"],
                     "epochs": summary["epochs_run"]})
    results["time_to_seed_runs"] = runs
    scores = [r["test_accuracy"] or 0.0 for r in runs]  # None: no test split was scored (it always is on SST-2)
    over = [r["wall_s"] for r, score in zip(runs, scores, strict=True) if score > SEED_ACCURACY]
    # the target: every seed's saved model over the recipe, the slowest's time; and none ending under 81
    results["time_to_seed_accuracy_s"] = max(over) if len(over) == len(runs) else None
    results["time_to_seed_end_accuracy_met"] = min(scores) >= END_ACCURACY
    each = ", ".join(f"seed {r['seed']}: {100 * score:.1f} in {r['wall_s']:.1f} s"
                     for r, score in zip(runs, scores, strict=True))
    worst = min(scores)
    table.append(("SST-2, defaults, `train` to saved model (each seed)", each,
                  f"slowest {max(r['wall_s'] for r in runs):.1f} s; lowest {100 * worst:.1f}",
                  f"<= {TARGETS['time_to_seed_accuracy_s']:.0f} s, each > {100 * SEED_ACCURACY:.1f}, "
                  f">= {100 * END_ACCURACY:.0f}"))
    # from pressing Train: the window, the LSTM alone with the form's defaults, warm-up done (seed 0)
    script = str(ROOT / "benchmarks" / "gui_responsiveness.py")
    epochs = "1" if quick else str(TrainConfig().epochs)
    env = shipped_env({"QT_QPA_PLATFORM": "offscreen"})
    r = subprocess.run([sys.executable, script, "--data", str(sst2), "--one", "warm", "--models", "lstm", "--epochs",
                        epochs], capture_output=True, text=True, check=True, env=env)
    gui = json.loads(r.stdout.strip().splitlines()[-1])
    accuracy = next(iter(gui["test_accuracy"].values()), 0.0)
    results["time_to_seed_gui"] = {"seconds": gui["seconds"], "test_accuracy": accuracy}
    table.append(("SST-2, defaults, pressing Train to the LSTM trained (seed 0)",
                  f"{100 * accuracy:.1f} in {gui['seconds']:.1f} s", "",
                  f"<= {TARGETS['time_to_seed_accuracy_s']:.0f} s"))


def bench_startup(quick: bool, results: dict, table: list) -> None:
    times = []
    for _ in range(2 if quick else 5):
        t0 = time.time()
        r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "startup_probe.py")], capture_output=True,
                           text=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
        shown = [line for line in r.stdout.splitlines() if line.startswith("shown")]
        times.append(float(shown[0].split()[1]) - t0)
    s = statistics.median(times)
    results["startup_s"] = round(s, 3)
    table.append(("start-up to main window shown", f"{s:.2f} s", "", f"<= {TARGETS['startup_s']} s"))


MEMORY_CHILD = r"""
import resource, sys, time
sys.path.insert(0, sys.argv[1])
from core.data import load_dataset, Split, TextDataset
from core.train.pipeline import train_model
from core.events import StepEvent
from core.config import TrainConfig
import numpy as np
steps = int(sys.argv[2])
imdb = sys.argv[3]
if imdb:
    ds = load_dataset(imdb)
    train = ds["train"]; test = ds["test"]
    texts = list(train.texts) + list(test.texts); labels = np.concatenate([train.labels, test.labels])
    ds = TextDataset("imdb 25k", {"train": Split(texts, labels), "validation": ds["validation"],
                     "test": Split(test.texts[:64], test.labels[:64])}, ds.label_names)
else:
    from benchmarks.run import imdb_like_texts
    texts, labels, _ = imdb_like_texts(25000)
    ds = TextDataset("gen", {"train": Split(texts, labels), "validation": Split(texts[:64], labels[:64]),
                     "test": Split(texts[:64], labels[:64])}, ["negative", "positive"])
n = 0
for e in train_model(ds, train_config=TrainConfig(epochs=1, device="cpu")):
    if isinstance(e, StepEvent):
        n += 1
        if n >= steps:
            break
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def bench_memory(quick: bool, results: dict, table: list) -> None:
    imdb = str(IMDB) if (IMDB / "train.tsv").is_file() else ""
    r = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(ROOT), "10" if quick else "60", imdb],
                       capture_output=True, text=True, cwd=ROOT)
    mb = float(r.stdout.strip().splitlines()[-1])
    results["train_peak_rss_mb"] = round(mb)
    table.append(("peak RSS training on 25,000 reviews", f"{mb:,.0f} MB", "",
                  f"<= {TARGETS['train_peak_rss_mb']:.0f} MB"))


def bench_large(quick: bool, results: dict, table: list) -> None:
    """Data larger than memory (``benchmarks/large_data.py``): peak RSS of the process tree and time to
    the first training step against the row count, on the Arrow path (new cache, then reusing it) and the
    in-memory one. Target: 2 M rows on the Arrow path under 1.5 GB."""
    from benchmarks import large_data

    rows = [100_000] if quick else [100_000, 500_000, 2_000_000]
    for row in large_data.run(rows, 50 if quick else 300, in_memory=True):
        n = row["rows"]
        for key in ("arrow_first", "arrow_cached", "in_memory"):
            results[f"large_{key}_{n}_peak_rss_mb"] = row[key]["peak_rss_mb"]
            results[f"large_{key}_{n}_first_step_s"] = row[key]["first_step_s"]
        first, cached, memory = row["arrow_first"], row["arrow_cached"], row["in_memory"]
        table.append((f"{n:,}-row CSV, peak RSS: Arrow (cached) / in memory",
                      f"{first['peak_rss_mb']:,} ({cached['peak_rss_mb']:,}) / {memory['peak_rss_mb']:,} MB", "",
                      f"< {large_data.LIMIT_MB:.0f} MB at 2 M" if n == 2_000_000 else ""))
        table.append((f"{n:,}-row CSV, to first step: Arrow (cached) / in memory",
                      f"{first['first_step_s']:.1f} ({cached['first_step_s']:.1f}) / {memory['first_step_s']:.1f} s",
                      "", ""))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"Python {platform.python_version()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="finish in under 60 seconds")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--only", help="comma-separated parts: train,tokenize,trace,explain,export,runs,gui,startup,"
                                       "memory,load,large,seed")
    args = parser.parse_args()
    parts = {"train": bench_training, "tokenize": bench_tokenize, "trace": bench_trace, "explain": bench_explain,
             "export": bench_export,
             "runs": bench_runs, "gui": bench_gui, "startup": bench_startup, "memory": bench_memory,
             "load": bench_load, "large": bench_large, "seed": bench_time_to_accuracy}
    chosen = args.only.split(",") if args.only else list(parts)
    results: dict = {"machine": machine(), "quick": args.quick}
    table: list[tuple[str, str, str, str]] = []
    start = time.perf_counter()
    for name in chosen:
        t0 = time.perf_counter()
        parts[name](args.quick, results, table)
        print(f"  [{name}: {time.perf_counter() - t0:.1f} s]", file=sys.stderr, flush=True)
    results["seconds"] = round(time.perf_counter() - start, 1)
    print(f"Sentiment Studio benchmarks{' (quick)' if args.quick else ''}: {results['machine']}")
    widths = [max(len(r[i]) for r in [("measure", "value", "ratio / p95", "target"), *table]) for i in range(4)]
    for row in [("measure", "value", "ratio / p95", "target"), *table]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    print(f"({results['seconds']} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
