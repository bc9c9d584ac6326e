"""Parts ``trace``, ``explain``, ``export`` and ``runs`` of ``benchmarks.run``: what a person waits for in the app.
The gate trace of a 40-word sentence and evaluation throughput, its word attributions, the ONNX export
bundle against PyTorch, and the Runs screen over 10,000 runs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from benchmarks.targets import TARGETS
from benchmarks.texts import imdb_like_texts
from core.config import CELL_KINDS, ModelConfig
from core.model.classifier import build_classifier
from core.model.sentiment_model import SentimentModel
from core.text.tokenizer import TextTokenizer


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


def bench_intervals(quick: bool, results: dict, table: list) -> None:
    """Issue 28's speed: 3 models x 10,000 resamples over SST-2's 1,821 test rows (intervals of each, paired
    differences of every pair, exact McNemar, Holm), on simulated predictions of SST-2's accuracy."""
    from core.uncertainty import compare_rows

    rng = np.random.default_rng(0)
    rows = 1821
    truth = rng.integers(0, 2, rows)
    predictions = [np.where(rng.random(rows) < 0.81, truth, 1 - truth) for _ in range(3)]
    compare_rows([truth] * 3, predictions, 2, resamples=1000)  # warm-up
    times = []
    for _ in range(3 if quick else 7):
        t0 = time.perf_counter()
        compare_rows([truth] * 3, predictions, 2, resamples=10_000)
        times.append(time.perf_counter() - t0)
    median = float(np.median(times))
    results["intervals_3x10000_s"] = round(median, 3)
    table.append(("intervals: 3 models x 10,000 resamples, 1,821 rows", f"{median:.2f} s (median)",
                  f"max {max(times):.2f} s", f"<= {TARGETS['intervals_3x10000_s']} s"))
