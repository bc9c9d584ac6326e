"""Are the word attributions faithful? Deleting the words they rank highest must hurt the prediction far
more than deleting random words.

    .venv/bin/python -m benchmarks.faithfulness           # into docs/results.json and docs/results.md
    .venv/bin/python -m benchmarks.faithfulness --quick   # 200 sentences, 2 epochs, into /tmp

The app's default LSTM and RNN (seed 0) are trained on SST-2's training sentences. For every test sentence
of at least 4 words, each method ranks the words by their attribution toward the predicted class:
Integrated Gradients (the default 32 steps), leaving one word out, and a random order (seeded). The k = 1,
2, 3 words ranked first are deleted (their tokens removed) and the sentence is predicted again: the drop
in the predicted class's probability and whether the prediction flips are averaged over the sentences.
The figure per method is the area between its curve and the random one (the mean of the k = 1..3 gaps).
A study of ``benchmarks.results``, which runs it too and writes the section into docs/results.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

from benchmarks import ROOT
from benchmarks.report import SHARED, State, docs_folder
from core.config import ExplainConfig, ModelConfig, TrainConfig
from core.data import load_dataset
from core.events import run_to_end
from core.inspect.attribution import explain
from core.model.sentiment_model import SentimentModel
from core.text.batching import EncodedSplit, predict_probabilities
from core.train.pipeline import train_model

KEY = "faithfulness/sst2"
KS = (1, 2, 3)
METHODS = ("ig", "occlusion", "random")
MIN_WORDS = 4
EXAMPLES = 4  # sentences the RNN gets wrong and the LSTM right, shown with both models' words
STEPS = (32, 64, 128)  # Integrated Gradients' completeness error against its number of steps...
STEPS_SENTENCES = 300  # ...on the first test sentences


def _train(ds, kind: str, quick: bool) -> SentimentModel:
    train = TrainConfig(seed=0, epochs=2 if quick else TrainConfig().epochs)
    return run_to_end(train_model(ds, ModelConfig(kind=kind), train)).model


def _deleted(ids: np.ndarray, token_words: list[int], words: set[int]) -> np.ndarray:
    return np.asarray([i for i, w in zip(ids, token_words, strict=True) if w not in words], dtype=np.int64)


def study_model(model: SentimentModel, texts: list[str], seed: int = 0) -> dict:
    """Deletion curves for one model, and Integrated Gradients' completeness error."""
    rng = np.random.default_rng(seed)
    variants: list[np.ndarray] = []  # every deleted text, predicted in one batch at the end
    index: list[tuple[int, str, int]] = []  # (sentence, method, k) of each variant
    kept, base, relative_delta, seconds = [], [], [], {"ig": 0.0, "occlusion": 0.0}
    for n, text in enumerate(texts):
        attributions = {}
        for method in ("ig", "occlusion"):
            t0 = time.perf_counter()
            attributions[method] = explain(model, text, ExplainConfig(method=method))
            seconds[method] += time.perf_counter() - t0
        a = attributions["ig"]
        if len(a.words) < MIN_WORDS:
            continue
        change = float(a.token_scores.sum()) - a.delta  # f(x) - f(padding) toward the predicted class
        relative_delta.append(abs(a.delta) / max(abs(change), 1e-6))
        ids = np.asarray(model.tokenizer.encode(text).ids[0], dtype=np.int64)
        orders = {m: [int(i) for i in np.argsort(-attributions[m].word_scores, kind="stable")] for m in attributions}
        orders["random"] = [int(i) for i in rng.permutation(len(a.words))]
        for method, order in orders.items():
            for k in KS:
                variants.append(_deleted(ids, a.token_words, set(order[:k])))
                index.append((len(kept), method, k))
        kept.append(n)
        base.append((int(a.target), float(a.probabilities[a.target])))
    split = EncodedSplit.from_ragged(variants, np.zeros(len(variants), dtype=np.int64))
    probs = predict_probabilities(model.classifier, split, model.device)[0]
    drops = {m: {k: [] for k in KS} for m in METHODS}
    flips = {m: {k: [] for k in KS} for m in METHODS}
    for (sentence, method, k), p in zip(index, probs, strict=True):
        target, p0 = base[sentence]
        drops[method][k].append(p0 - float(p[target]))
        flips[method][k].append(int(p.argmax()) != target)
    curves = {m: {"drop": [float(np.mean(drops[m][k])) for k in KS], "flip": [float(np.mean(flips[m][k])) for k in KS]}
              for m in METHODS}
    for m in ("ig", "occlusion"):
        curves[m]["area_drop"] = float(np.mean(np.subtract(curves[m]["drop"], curves["random"]["drop"])))
        curves[m]["area_flip"] = float(np.mean(np.subtract(curves[m]["flip"], curves["random"]["flip"])))
    by_steps = {}
    for steps in STEPS:  # how many steps the completeness error asks for on real sentences
        errors, t0 = [], time.perf_counter()
        for text in texts[:STEPS_SENTENCES]:
            errors.append(explain(model, text, ExplainConfig(steps=steps)).completeness_error)
        by_steps[str(steps)] = {**_spread(np.asarray(errors)),
                                "ms": 1000 * (time.perf_counter() - t0) / len(texts[:STEPS_SENTENCES])}
    return {"sentences": len(kept), "curves": curves,
            "ig_completeness": _spread(np.asarray(relative_delta)), "ig_completeness_by_steps": by_steps,
            "ms_per_sentence": {m: 1000 * s / max(len(texts), 1) for m, s in seconds.items()}}


def _spread(errors: np.ndarray) -> dict:
    return {"median": float(np.median(errors)), "p95": float(np.percentile(errors, 95)),
            "under_1pct": float(np.mean(errors < 0.01))}


def _examples(models: dict[str, SentimentModel], texts: list[str], labels: np.ndarray) -> list[dict]:
    """Sentences the RNN gets wrong and the LSTM right: each model's words, and the LSTM's input gate there."""
    lstm, rnn = models["lstm"], models["rnn"]
    p_lstm, p_rnn = lstm.predict_proba(texts), rnn.predict_proba(texts)
    picked = [i for i in range(len(texts)) if p_lstm[i].argmax() == labels[i] != p_rnn[i].argmax()
              and 8 <= len(texts[i].split()) <= 18][:EXAMPLES]
    out = []
    for i in picked:
        row = {"text": texts[i], "label": lstm.label_names[int(labels[i])]}
        explained = {kind: explain(model, texts[i]) for kind, model in models.items()}  # each toward its own class
        for kind, a in explained.items():
            order = np.argsort(-a.word_scores)
            row[kind] = {"predicted": a.target_name, "p": float(a.probabilities[a.target]),
                         "for": [a.words[j] for j in order[:3]], "against": [a.words[j] for j in order[::-1][:2]]}
        trace = lstm.trace(texts[i], prefixes=False)
        gate = trace.cell(-1, 0).values["input"].mean(axis=1)  # forward direction, mean over units
        forget = trace.cell(-1, 0).values["forget"].mean(axis=1)
        a = explained["lstm"]
        top = int(np.argmax(a.token_scores))
        row["lstm_gates"] = {"token": a.tokens[top], "input_at_top": float(gate[top]),
                             "input_mean": float(gate.mean()), "forget_after_top": float(forget[top + 1:].mean())
                             if top + 1 < len(forget) else None, "forget_mean": float(forget.mean())}
        out.append(row)
    return out


def run(state: State, quick: bool) -> None:
    """Add the study to ``state`` (once; a finished study is kept)."""
    source = SHARED / "sst2"
    if KEY in state or not (source / "train.tsv").is_file():
        return
    t0 = time.perf_counter()
    ds = load_dataset(str(source))
    texts, labels = ds["test"].texts, ds["test"].labels
    if quick:
        texts, labels = texts[:200], labels[:200]
    models = {kind: _train(ds, kind, quick) for kind in ("lstm", "rnn")}
    result = {kind: study_model(model, texts) for kind, model in models.items()}
    for kind, model in models.items():
        result[kind]["test_accuracy"] = model.record.test.accuracy
    result["examples"] = _examples(models, texts, labels)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    state[KEY] = result
    print(f"{KEY}: {json.dumps({k: result[k]['curves'] for k in models})}", flush=True)


def markdown(state: dict) -> list[str]:
    r = state.get(KEY)
    if r is None:
        return []
    lines = [
        "## Word attributions: are they faithful?", "",
        f"`python -m benchmarks.faithfulness` ({r['seconds']:.0f} s). The default LSTM and RNN (seed 0, test accuracy "
        f"{100 * r['lstm']['test_accuracy']:.1f} and {100 * r['rnn']['test_accuracy']:.1f}) explain each SST-2 test "
        f"sentence of {MIN_WORDS}+ words ({r['lstm']['sentences']:,}) toward the class they predict. Each method's k "
        "words ranked first are deleted and the sentence predicted again. Drop: the mean fall in the predicted "
        "class's probability (points); flips: the share of predictions that change. Area: the mean gap to random "
        "over k = 1..3.", "",
        "| model | method | drop k=1 | k=2 | k=3 | flips k=1 | k=2 | k=3 | area (drop) | area (flips) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    names = {"ig": "Integrated Gradients (32 steps)", "occlusion": "leave one word out", "random": "random words"}
    for kind in ("lstm", "rnn"):
        for method in METHODS:
            c = r[kind]["curves"][method]
            area = (f"{100 * c['area_drop']:+.1f} | {100 * c['area_flip']:+.1f}" if method != "random" else "- | -")
            lines.append(f"| {kind.upper()} | {names[method]} | " + " | ".join(f"{100 * v:.1f}" for v in c["drop"])
                         + " | " + " | ".join(f"{100 * v:.1f}%" for v in c["flip"]) + f" | {area} |")
    lines += ["", "Integrated Gradients' completeness error: how far its scores' sum is from the change it splits up, "
              "f(x) - f(padding), as a share of that change (Captum's convergence delta over the change), on the "
              f"first {STEPS_SENTENCES} test sentences; the last column is the time per sentence:", "",
              "| model | steps | median | p95 | under 1% | ms per sentence |", "|---|---|---|---|---|---|"]
    for kind in ("lstm", "rnn"):
        for steps, c in r[kind].get("ig_completeness_by_steps", {}).items():
            lines.append(f"| {kind.upper()} | {steps} | {100 * c['median']:.2f}% | {100 * c['p95']:.1f}% | "
                         f"{100 * c['under_1pct']:.0f}% of sentences | {c['ms']:.0f} |")
    lines += ["", "The path from an all-padding text to the sentence crosses saturating gates and tanh units, and a "
              "model's output can change by little overall while its parts change a lot, so some sentences need "
              "many more steps than 32. The app shows the error with every explanation (the Try screen's readout, "
              "`delta` in `predict --explain`); `--steps` buys accuracy with time. Leaving a word out has no such "
              "error: it is the change itself.", ""]
    for kind in ("lstm", "rnn"):
        c, ms = r[kind]["ig_completeness"], r[kind]["ms_per_sentence"]
        lines.append(f"- {kind.upper()}, all {r[kind]['sentences']:,} sentences at 32 steps: completeness error median "
                     f"{100 * c['median']:.2f}%, p95 {100 * c['p95']:.1f}%. Time per sentence: IG {ms['ig']:.0f} ms, "
                     f"leave one word out {ms['occlusion']:.0f} ms.")
    if r.get("examples"):
        lines += ["", "Sentences the RNN gets wrong and the LSTM right (IG toward each model's own prediction; "
                  "the LSTM's forward input gate, mean over units, at its top word against its mean over the "
                  "sentence):", "",
                  "| sentence (label) | LSTM: words for / against | RNN: words for / against | LSTM input gate at "
                  "top word / mean |", "|---|---|---|---|"]
        for e in r["examples"]:
            cells = []
            for kind in ("lstm", "rnn"):
                m = e[kind]
                cells.append(f"{m['predicted']} {100 * m['p']:.0f}%: {', '.join(m['for'])} / {', '.join(m['against'])}")
            g = e["lstm_gates"]
            lines.append(f"| {e['text']} ({e['label']}) | {cells[0]} | {cells[1]} | “{g['token']}” "
                         f"{g['input_at_top']:.2f} / {g['input_mean']:.2f} |")
        opened = sum(e["lstm_gates"]["input_at_top"] > e["lstm_gates"]["input_mean"] for e in r["examples"])
        lines += ["", f"In {opened} of these {len(r['examples'])} the LSTM's input gate (how much of the word it "
                  "writes into its cell) is wider open at the word its attributions rank first than on average over "
                  "the sentence."]
    return [*lines, ""]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.faithfulness", description=__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 sentences, 2 epochs, into /tmp")
    parser.add_argument("--fresh", action="store_true", help="compute again even if docs/results.json has it")
    args = parser.parse_args()
    docs = docs_folder(args.quick)
    state = State.load(docs)
    if args.fresh:
        state.pop(KEY, None)
    run(state, args.quick)
    state.save()
    # results.md is the whole page, which benchmarks.results assembles from every study's section (this one's
    # too): it re-renders the page from the saved state, in its own process (importing it would be a circle)
    quick = ["--quick"] if args.quick else []
    subprocess.run([sys.executable, "-m", "benchmarks.results", "--markdown-only", *quick], cwd=ROOT, check=True)
    print("\n".join(markdown(state)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
