"""Results that hold up: the app's default LSTM, GRU and RNN on real benchmarks, and the LSTM-vs-RNN story.

    .venv/bin/python benchmarks/results.py          # docs/results.md, docs/results.json, docs/results/*.png
    .venv/bin/python benchmarks/results.py --quick  # minutes, small subsets, into /tmp: checks the script only

Needs ../shared/datasets (skips what is missing). Every model uses the app's defaults and seed 0; validation
splits are carved from train where a dataset has none; nothing is selected on a test split. Finished runs
are kept in docs/results.json, so an interrupted run resumes (``--fresh`` starts over).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402

from core.analysis import accuracy_by_value, gate_summary, gradient_through_time  # noqa: E402
from core.data import Split, TextDataset, load_dataset  # noqa: E402
from core.models import CELL_KINDS, ModelConfig  # noqa: E402
from core.pipeline import build_classifier, train_model  # noqa: E402
from core.sentiment_model import encode_split  # noqa: E402
from core.tokenizer import TextTokenizer  # noqa: E402
from core.trainer import StepEvent, TrainConfig, run_to_end  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
DOCS = ROOT / "docs"
DATASETS = ("sst2", "mr", "subj", "mpqa", "imdb")
# Published test accuracy (random-initialised models), from ../shared/datasets/SOURCES.md.
KIM_CNN_RAND = {"sst2": 82.7, "mr": 76.1, "subj": 89.6, "mpqa": 83.4}
HARVARD_RAND = {"sst2": 83.5, "mr": 75.9, "subj": 89.2, "mpqa": 84.6}
TARGETS = {"sst2": 83.5, "mr": 76.1, "subj": 89.6, "mpqa": 84.6, "imdb": 87.0}
STORY = ModelConfig(embed_dim=32, hidden_size=32, bidirectional=False, pooling="last", dropout=0.0, word_dropout=0.0)
GAP_EDGES = [5, 10, 20, 50, 100, 201]  # the last bucket holds gaps 100-200


def subset(ds: TextDataset, n: int) -> TextDataset:
    return TextDataset(ds.source, {k: Split(v.texts[:n], v.labels[:n], {e: a[:n] for e, a in v.extra.items()})
                                   for k, v in ds.splits.items()}, ds.label_names)


def accuracy_table(state: dict, quick: bool) -> None:
    for name in DATASETS:
        if not (SHARED / name / "train.tsv").is_file():
            print(f"skip {name}: not in ../shared/datasets", flush=True)
            continue
        ds = load_dataset(str(SHARED / name), seed=0)
        if quick:
            ds = subset(ds, 600)
        for kind in CELL_KINDS:
            key = f"{name}/{kind}"
            if key in state["runs"]:
                continue
            t0 = time.perf_counter()
            train = TrainConfig(seed=0, epochs=2 if quick else TrainConfig().epochs)
            model = run_to_end(train_model(ds, ModelConfig(kind=kind), train))
            test = model.metrics["test"]
            run = {"accuracy": test["accuracy"], "macro_f1": test["macro_f1"],
                   "seconds": round(time.perf_counter() - t0, 1),
                   "epochs": model.metrics["finished"]["epochs_run"],
                   "best_epoch": model.metrics["finished"]["best_epoch"],
                   "by_length": test["by_length"], "carved": list(ds.carved)}
            if name == "imdb" and kind == "lstm":
                texts = ds["test"].texts[: 50 if quick else 300]
                s = gate_summary(model, texts)
                run["forget_gate"] = {"histogram": s.histogram.tolist(), "edges": s.edges.tolist(),
                                      "below_0.1": s.left_saturated, "above_0.9": s.right_saturated, "count": s.count}
            state["runs"][key] = run
            print(f"{key}: {run['accuracy']:.4f} in {run['seconds']} s", flush=True)
            save(state)


def longrange_story(state: dict, quick: bool) -> None:
    if "longrange" in state:
        return
    n = 1500 if quick else 8000
    ds = load_dataset(f"builtin:longrange?n={n}&gap=5-200", seed=0)
    gaps = ds["test"].extra["gap"]
    out = {}
    for kind in CELL_KINDS:
        cfg = ModelConfig(**{**STORY.to_dict(), "kind": kind})
        model = run_to_end(train_model(ds, cfg, TrainConfig(seed=0, epochs=2 if quick else 10, learning_rate=5e-3,
                                                            patience=10)))
        correct = model.predict_proba(ds["test"].texts).argmax(1) == ds["test"].labels
        out[kind] = [b.__dict__ for b in accuracy_by_value(correct, gaps, GAP_EDGES)]
        print(f"longrange {kind}: {[round(b['accuracy'], 2) for b in out[kind]]}", flush=True)
    state["longrange"] = out
    save(state)


def gradient_story(state: dict, quick: bool) -> None:
    if "gradients" in state or not (SHARED / "imdb" / "train.tsv").is_file():
        return
    ds = load_dataset(str(SHARED / "imdb"), seed=0)
    train = subset(ds, 2000 if quick else 12500)["train"]
    tok = TextTokenizer.train(train.texts)
    enc = encode_split(tok, train)
    long = np.flatnonzero(enc.lengths >= 200)[:64]  # long reviews, cut to one length: no padding
    ids = np.stack([enc.flat_ids[enc.starts[i] : enc.starts[i] + 200] for i in long])
    labels = enc.labels[long]
    out = {}
    for kind in ("lstm", "rnn"):
        cfg = ModelConfig(**{**STORY.to_dict(), "kind": kind, "vocab_size": tok.vocab_size})
        classifier = build_classifier(cfg, 0)
        # "early in training": after 50 steps of the real trainer on the training split
        from core.trainer import Trainer

        trainer = Trainer(classifier, TrainConfig(device="cpu"))
        steps = 0
        for event in trainer.fit(enc, enc):
            if isinstance(event, StepEvent):
                steps += 1
                if steps >= (10 if quick else 50):
                    break
        out[kind] = gradient_through_time(classifier, ids, labels).tolist()
        print(f"gradient {kind}: first/last = {out[kind][0] / out[kind][-1]:.2e}", flush=True)
    state["gradients"] = out
    save(state)


def save(state: dict) -> None:
    (DOCS / "results.json").write_text(json.dumps(state, indent=1))


def plots(state: dict) -> list[str]:
    """PNG plots with pyqtgraph, offscreen; returns their paths relative to docs/."""
    import pyqtgraph as pg
    import pyqtgraph.exporters
    from PySide6.QtWidgets import QApplication

    from gui.theme import KIND_COLORS

    app = QApplication.instance() or QApplication([])  # noqa: F841 - pyqtgraph needs it
    pg.setConfigOptions(background="w", foreground="k", antialias=True)
    (DOCS / "results").mkdir(exist_ok=True)
    made = []
    keep = []  # the widgets must outlive their export

    def export(plot: pg.PlotItem, name: str) -> None:
        exporter = pg.exporters.ImageExporter(plot)
        exporter.parameters()["width"] = 900
        path = DOCS / "results" / f"{name}.png"
        exporter.export(str(path))
        made.append(f"results/{name}.png")

    def series_plot(title, xlabel, ylabel, series, log_y=False, ticks=None, symbols=True):
        widget = pg.GraphicsLayoutWidget()
        widget.resize(900, 500)
        keep.append(widget)
        plot = widget.addPlot(title=title)
        plot.addLegend()
        plot.setLabel("bottom", xlabel)
        plot.setLabel("left", ylabel)
        plot.showGrid(x=True, y=True, alpha=0.3)
        plot.setLogMode(y=log_y)
        plot.getAxis("left").enableAutoSIPrefix(False)
        for kind, (x, y) in series.items():
            marks = {"symbol": "o", "symbolBrush": KIND_COLORS[kind]} if symbols else {}
            plot.plot(np.asarray(x, float), np.asarray(y, float), pen=pg.mkPen(KIND_COLORS[kind], width=2),
                      name=kind.upper(), **marks)
        if ticks:
            plot.getAxis("bottom").setTicks([ticks])
        return plot

    imdb = {k: state["runs"].get(f"imdb/{k}") for k in CELL_KINDS}
    if all(imdb.values()):
        labels = [f"{b['low']}-{b['high'] - 1}" for b in imdb["lstm"]["by_length"]]
        series = {k: (range(len(v["by_length"])), [b["accuracy"] for b in v["by_length"]]) for k, v in imdb.items()}
        plot = series_plot("IMDB test accuracy by review length (tokens)", "length bucket", "accuracy", series,
                           ticks=list(enumerate(labels)))
        export(plot, "imdb_by_length")
    if "longrange" in state:
        lr = state["longrange"]
        labels = [f"{int(b['low'])}-{int(b['high']) - 1}" for b in lr["lstm"]]
        plot = series_plot("builtin:longrange: accuracy by gap (one-way, last state)", "gap (tokens)", "accuracy",
                           {k: (range(len(v)), [b["accuracy"] for b in v]) for k, v in lr.items()},
                           ticks=list(enumerate(labels)))
        export(plot, "longrange_by_gap")
    if "gradients" in state:
        g = state["gradients"]
        tiny = np.finfo(np.float32).tiny  # an underflow to 0 would vanish from a log plot
        series = {k: (range(len(v)), np.maximum(np.asarray(v), tiny)) for k, v in g.items()}
        plot = series_plot("||dLoss/dh_t|| over 200 steps of IMDB reviews, after 50 training steps", "time step t",
                           "gradient norm", series, log_y=True, symbols=False)
        export(plot, "gradient_through_time")
    forget = (state["runs"].get("imdb/lstm") or {}).get("forget_gate")
    if forget:
        widget = pg.GraphicsLayoutWidget()
        widget.resize(900, 500)
        keep.append(widget)
        plot = widget.addPlot(title="IMDB LSTM: forget gate values over 300 test reviews")
        edges = np.asarray(forget["edges"])
        plot.addItem(pg.BarGraphItem(x0=edges[:-1], x1=edges[1:], height=np.asarray(forget["histogram"]),
                                     brush=KIND_COLORS["lstm"]))
        plot.setLabel("bottom", "forget gate f_t")
        plot.setLabel("left", "count")
        export(plot, "forget_gate_histogram")
    return made


def write_markdown(state: dict, images: list[str]) -> None:
    lines = ["# Results", "", "Generated by `python benchmarks/results.py` (app defaults, seed 0, 2 CPU cores).", "",
             "| dataset | LSTM acc / F1 | GRU acc / F1 | RNN acc / F1 | LSTM target | Kim CNN-rand | harvardnlp rand |"
             " LSTM / GRU / RNN time |", "|---|---|---|---|---|---|---|---|"]
    for name in DATASETS:
        runs = {k: state["runs"].get(f"{name}/{k}") for k in CELL_KINDS}
        if not any(runs.values()):
            continue
        cells = [f"{100 * r['accuracy']:.1f} / {r['macro_f1']:.3f}" if r else "-" for r in runs.values()]
        times = " / ".join(f"{r['seconds']:.0f} s" if r else "-" for r in runs.values())
        lines.append(f"| {name} | {' | '.join(cells)} | {TARGETS.get(name, '-')} | {KIM_CNN_RAND.get(name, '-')} | "
                     f"{HARVARD_RAND.get(name, '-')} | {times} |")
    lines += ["", *[f"![{p}]({p})" for p in images], ""]
    forget = (state["runs"].get("imdb/lstm") or {}).get("forget_gate")
    if forget:
        lines.append(f"Forget gate, IMDB LSTM: {100 * forget['below_0.1']:.1f}% of values below 0.1, "
                     f"{100 * forget['above_0.9']:.1f}% above 0.9 ({forget['count']:,} values).")
    (DOCS / "results.md").write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small subsets, 2 epochs: checks the script")
    parser.add_argument("--fresh", action="store_true", help="ignore finished runs in docs/results.json")
    args = parser.parse_args()
    global DOCS
    if args.quick:
        DOCS = Path(os.environ.get("RESULTS_DIR", "/tmp/sentiment-studio-results"))
        DOCS.mkdir(parents=True, exist_ok=True)
    path = DOCS / "results.json"
    state = {"runs": {}} if args.fresh or not path.is_file() else json.loads(path.read_text())
    start = time.perf_counter()
    accuracy_table(state, args.quick)
    longrange_story(state, args.quick)
    gradient_story(state, args.quick)
    write_markdown(state, plots(state))
    print(f"wrote {DOCS / 'results.md'} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
