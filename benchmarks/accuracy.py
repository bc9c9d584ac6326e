"""Test accuracy of the app's default LSTM, GRU and RNN on every dataset, beside published references: random
init, and (with ``vectors``) again started from word vectors. A study of ``benchmarks.results``.

Also keeps, of the trained IMDB LSTM, its forget gate's histogram (the story's section 4) and every run's
accuracy by length (its section 1).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from benchmarks.report import GLOVE, SHARED, State, fragment
from core.config import CELL_KINDS, ModelConfig, TrainConfig
from core.data import Split, TextDataset, load_dataset
from core.events import PhaseEvent, run_to_end
from core.inspect.analysis import gate_summary
from core.train.pipeline import train_model

DATASETS = ("sst2", "mr", "subj", "mpqa", "imdb")
# Published test accuracy (random-initialised models), from ../shared/datasets/SOURCES.md.
KIM_CNN_RAND = {"sst2": 82.7, "mr": 76.1, "subj": 89.6, "mpqa": 83.4}
HARVARD_RAND = {"sst2": 83.5, "mr": 75.9, "subj": 89.2, "mpqa": 84.6}
KERAS_RECIPE = {"sst2": 80.9, "imdb": 84.4}  # the seed article's recipe, measured on the same files
TARGETS = {"sst2": 83.5, "mr": 76.1, "subj": 89.6, "mpqa": 84.6, "imdb": 87.0}


def subset(ds: TextDataset, n: int) -> TextDataset:
    """The first ``n`` texts of each split (a ``--quick`` check)."""
    return TextDataset(ds.source, {k: Split(v.texts[:n], v.labels[:n], {e: a[:n] for e, a in v.extra.items()})
                                   for k, v in ds.splits.items()}, ds.label_names)


def run(state: State, quick: bool, vectors: str | None = None) -> None:
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
            state.save()


def _noting(notes: list[str]):
    """An ``on_event`` that keeps the messages of the "vocabulary" phase (the vectors' words added)."""
    def on_event(event) -> None:
        if isinstance(event, PhaseEvent) and event.phase == "vocabulary":
            notes.append(event.message)
    return on_event


def acc(r: dict | None) -> str:
    """One run's cell: test accuracy / macro F1."""
    return f"{100 * r['accuracy']:.1f} / {r['macro_f1']:.3f}" if r else "-"


def accuracy_rows(runs: dict, suffix: str, targets: dict[str, float]) -> Iterator[tuple[str, dict, list[str]]]:
    """What the random-init and the word-vectors tables share, per dataset with a run: its name, its runs by
    cell kind (the keys ``dataset/kind`` + ``suffix``), and the cells LSTM (✓, or ✗ and how far, against
    ``targets``), GRU, RNN and the target."""
    for name in DATASETS:
        r = {k: runs.get(f"{name}/{k}{suffix}") for k in CELL_KINDS}
        if not any(r.values()):
            continue
        target = targets.get(name)
        lstm = acc(r["lstm"])
        if r["lstm"] and target:
            gap = 100 * r["lstm"]["accuracy"] - target
            lstm += " ✓" if gap >= 0 else f" ✗ ({gap:+.1f})"
        yield name, r, [lstm, acc(r["gru"]), acc(r["rnn"]), str(target or "-")]


def times(r: dict) -> str:
    """The runs' wall times, LSTM / GRU / RNN."""
    return " / ".join(f"{x['seconds']:.0f} s" if x else "-" for x in r.values())


def table_row(cells: list) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def markdown(state: dict) -> list[str]:
    """The random-init table, the notes on it, and what was tried for the defaults."""
    runs = state["runs"]
    lines = ["## Test accuracy / macro F1", "",
             "| dataset | LSTM | GRU | RNN | LSTM target | Kim CNN-rand | harvardnlp rand | time LSTM / GRU / RNN |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r, cells in accuracy_rows(runs, "", TARGETS):
        slow = [k.upper() for k, x in r.items() if x and x["seconds"] > 600]
        took = times(r) + (f" ({', '.join(slow)} over 10 min)" if slow else "")
        lines.append(table_row([name, *cells, KIM_CNN_RAND.get(name, "-"), HARVARD_RAND.get(name, "-"), took]))
    lines += [
        "", *fragment("accuracy_notes"), "",
        *[f"- Default LSTM against that Keras recipe on {name.upper().replace('SST2', 'SST-2')}: "
          f"{100 * r['accuracy'] - ref:+.1f} points"
          + (" (not a clear margin)." if 100 * r["accuracy"] - ref < 1.0 else ".")
          for name, ref in KERAS_RECIPE.items() if (r := runs.get(f"{name}/lstm"))], "",
        "Epochs run (best epoch): " + ", ".join(
            f"{key} {r['epochs']} ({r['best_epoch']})" for key, r in runs.items()) + ".", "",
        *fragment("tried_defaults"), "",
        "The RNN and GRU get exactly the same pipeline, defaults and budget as the LSTM.", "",
    ]
    return lines
