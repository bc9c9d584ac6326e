"""The LSTM-vs-RNN story, measured: accuracy by review length (IMDB), remembering one word across a gap
(builtin:longrange, three ways), the gradient reaching early time steps, and the trained LSTM's forget
gate. A study of ``benchmarks.results``: sections 1-4 of docs/results.md, and their figures.

The story models read left to right and classify from their last state, small and without dropout, so
they must carry the word through the gap. Accuracy by length and the forget gate come from the accuracy
study's IMDB runs (benchmarks/accuracy.py).
"""

from __future__ import annotations

import numpy as np

from benchmarks.accuracy import subset
from benchmarks.figures import Figures
from benchmarks.report import GLOVE, SHARED, State
from core.config import CELL_KINDS, ModelConfig, TrainConfig
from core.data import load_dataset
from core.events import StepEvent, run_to_end
from core.inspect.analysis import gradient_through_time, long_text_ids
from core.inspect.compare import accuracy_by_gap, score_model
from core.model.classifier import build_classifier
from core.model.sentiment_model import SentimentModel, encode_split
from core.text.embedding import read_vectors_for, start_from_vectors
from core.text.tokenizer import TextTokenizer
from core.train.pipeline import train_model
from core.train.trainer import Trainer
from core.uncertainty import compare_rows, p_text

STORY = ModelConfig(embed_dim=32, hidden_size=32, bidirectional=False, pooling="last", dropout=0.0, word_dropout=0.0)
GAP_EDGES = [5, 10, 20, 50, 100, 201]  # the last bucket holds gaps 100-200
FIXED_GAPS = [5, 10, 20, 50, 100, 200]  # one model per gap, trained and tested at that gap only
STORY_TRAIN = {"epochs": 10, "learning_rate": 5e-3, "patience": 10}
LOG_TRAIN = {"epochs": 20, "learning_rate": 2e-3, "patience": 20}


def run(state: State, quick: bool, vectors: str | None = None) -> None:
    """The three longrange experiments and the gradients; with ``vectors``, the gradients and the mixed-gap
    experiment again, every model started from them."""
    if vectors:
        _gradients(state, quick, vectors)
        _longrange_with_vectors(state, quick, vectors)
    else:
        _longrange(state, quick)
        _gradients(state, quick)


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
    return ds["test"], score


def _by_gap(source: str, edges: list[int], quick: bool, vectors: str | None = None,
            **train_overrides) -> tuple[dict[str, list[dict]], dict]:
    """One model per kind on ``source``; its test accuracy per gap bucket, and the kinds compared on the same
    test rows (``paired``)."""
    out, scores = {}, {}
    for kind in CELL_KINDS:
        test, scores[kind] = _story_model(source, kind, quick, vectors, **train_overrides)
        correct = scores[kind].predicted == scores[kind].truth
        out[kind] = [{"low": b.low, "high": b.high, "count": b.count, "accuracy": b.accuracy}  # no intervals here
                     for b in accuracy_by_gap(correct, test, edges)]
        print(f"{source} {kind}: {[round(b['accuracy'], 2) for b in out[kind]]}", flush=True)
    return out, paired(scores)


def paired(scores: dict) -> dict:
    """LSTM - RNN and LSTM - GRU on the same test rows: the difference in accuracy with its paired-bootstrap 95%
    interval and the exact McNemar test (``core.uncertainty.compare_rows``)."""
    out = {}
    for a, b in (("lstm", "rnn"), ("lstm", "gru")):
        sa, sb = scores[a], scores[b]
        pair = compare_rows([sa.truth, sb.truth], [sa.predicted, sb.predicted], 2).pairs[0]
        out[f"{a}-{b}"] = {"diff": pair.accuracy_diff, "ci": list(pair.accuracy_diff_ci), "p": pair.p,
                           "a_only": pair.a_only, "b_only": pair.b_only, "rows": pair.count}
    return out


def paired_text(pair: dict | None, a: str = "LSTM", b: str = "RNN") -> str:
    """"LSTM - RNN +48.0 points [+46.1, +49.9], p < 0.0001 (McNemar, 1,600 rows)", or "" without the pair."""
    if not pair:
        return ""
    lo, hi = pair["ci"]
    return (f"{a} - {b} {100 * pair['diff']:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}], {p_text(pair['p'])} "
            f"(exact McNemar, {pair['rows']:,} test rows)")


def _longrange(state: State, quick: bool) -> None:
    """Accuracy by gap, three ways: one model per kind trained on gaps 5-200 mixed; one per kind and fixed
    gap; one per kind on gaps 0-200 drawn log-uniformly (short gaps common), trained longer and gentler."""
    n = 1500 if quick else 8000
    if "longrange_pairs" not in state:  # the paired tests came later: the models again, seed 0 as before
        state["longrange"], state["longrange_pairs"] = _by_gap(f"builtin:longrange?n={n}&gap=5-200", GAP_EDGES, quick)
        state.save()
    if "longrange_fixed" not in state:
        out = {}
        for kind in CELL_KINDS:
            out[kind] = []
            for gap in FIXED_GAPS[:2] if quick else FIXED_GAPS:
                _, score = _story_model(f"builtin:longrange?n={800 if quick else 4000}&gap={gap}", kind, quick)
                out[kind].append(float((score.predicted == score.truth).mean()))
            print(f"longrange fixed gaps {kind}: {[round(a, 2) for a in out[kind]]}", flush=True)
        state["longrange_fixed"] = out
        state.save()
    if "longrange_log_pairs" not in state:  # short gaps as common as long ones, and a longer, gentler training
        state["longrange_log"], state["longrange_log_pairs"] = _by_gap(
            f"builtin:longrange?n={n}&gap=0-200&spread=log", [0, *GAP_EDGES], quick, **LOG_TRAIN)
        state.save()


def _longrange_with_vectors(state: State, quick: bool, vectors: str) -> None:
    """The mixed-gap longrange experiment again, every model started from the word vectors."""
    if f"longrange_{GLOVE}" not in state:
        n = 1500 if quick else 8000
        state[f"longrange_{GLOVE}"], _ = _by_gap(f"builtin:longrange?n={n}&gap=5-200", GAP_EDGES, quick, vectors)
        state.save()


def _gradients(state: State, quick: bool, vectors: str | None = None) -> None:
    """The gradient norm at each of the first 200 steps of long IMDB reviews, per kind, early in training."""
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
    state.save()


def decades(gradients: dict) -> dict[str, float]:
    """Per kind, log10 of the gradient norm at the last step over the first (how many decades it falls)."""
    return {k: np.log10(max(v[-1], 1e-300) / max(v[0], 1e-300)) for k, v in gradients.items()}


def _gap_rows(by_gap: dict[str, list[dict]]) -> list[str]:
    """Table rows: per gap bucket, its texts and each kind's accuracy."""
    return [f"| {int(b['low'])}-{int(b['high']) - 1} | {b['count']} | "
            + " | ".join(f"{by_gap[k][i]['accuracy']:.2f}" for k in CELL_KINDS) + " |"
            for i, b in enumerate(by_gap["lstm"])]


def markdown(state: dict) -> list[str]:
    """Sections 1-4: accuracy by length, across a gap, vanishing gradients, gate behaviour."""
    runs = state["runs"]
    lines = []
    imdb = {k: runs.get(f"imdb/{k}") for k in CELL_KINDS}
    if all(imdb.values()):
        lines += ["## 1. Accuracy by review length (IMDB test)", "",
                  "| tokens | reviews | LSTM | GRU | RNN |", "|---|---|---|---|---|"]
        for i, b in enumerate(imdb["lstm"]["by_length"]):
            accs = " | ".join(f"{100 * imdb[k]['by_length'][i]['accuracy']:.1f}" for k in CELL_KINDS)
            lines.append(f"| {b['low']}-{b['high'] - 1} | {b['count']:,} | {accs} |")
        lines += ["", "![IMDB accuracy by length](results/imdb_by_length.png)", ""]
    if "longrange" in state:
        lines += [
            "## 2. Remembering across a gap (builtin:longrange)", "",
            "Filler words, one deciding sentiment word, then `gap` more filler words. The models read left to",
            f"right only and classify from their last state ({STORY.embed_dim}-d embeddings, {STORY.hidden_size} "
            f"hidden units, no dropout, lr {STORY_TRAIN['learning_rate']}, {STORY_TRAIN['epochs']} epochs), so "
            "they must carry the word through the gap.", "",
            "**One model per kind, trained on gaps 5-200 mixed (8,000 texts), test accuracy by gap:**", "",
            "| gap | texts | LSTM | GRU | RNN |", "|---|---|---|---|---|",
            *_gap_rows(state["longrange"]),
            "", "![accuracy by gap](results/longrange_by_gap.png)", "",
        ]
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
        lines += [
            "**Gaps 0-200 drawn log-uniformly (short gaps as common as long ones), 8,000 texts, lr "
            f"{LOG_TRAIN['learning_rate']}, {LOG_TRAIN['epochs']} epochs:**", "",
            "| gap | texts | LSTM | GRU | RNN |", "|---|---|---|---|---|",
            *_gap_rows(state["longrange_log"]), "",
        ]
    lines += _reading(state)
    if "gradients" in state:
        lines += [
            "## 3. Vanishing gradients", "",
            "The norm of the loss gradient with respect to each hidden state h_t, averaged over the 64 longest",
            "IMDB training reviews cut to their first 200 tokens, for one-way models reading their last state,",
            "after 50 training steps. Computed in float64 so tiny values do not underflow to zero.", "",
            "| model | ‖∂L/∂h_1‖ / ‖∂L/∂h_200‖ |", "|---|---|",
            *[f"| {k.upper()} | 10^{-d:.1f} |" for k, d in decades(state["gradients"]).items()],
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
    return lines


def _reading(state: dict) -> list[str]:
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

    def tested(key: str) -> str:
        pair = state.get(key, {}).get("lstm-rnn")
        return (f" Over all the test rows: {paired_text(pair)}." if pair else
                " (One seed, before the paired tests: no interval.)")

    out = ["**Reading the three together (this run's numbers):**", "",
           f"- Mixed gaps 5-200: LSTM {span(mixed['lstm'])}, GRU {span(mixed['gru'])}, RNN {span(mixed['rnn'])} "
           "across the gap buckets." + tested("longrange_pairs")]
    if max(mixed["rnn"]) < 0.6 and min(mixed["lstm"]) >= 0.9:
        out.append("  The RNN is at chance even at the shortest gaps: it never picked up the deciding word, "
                   "while the LSTM did at every gap. It does not degrade gradually with the gap; it fails to learn.")
    out.append(f"- One fixed gap: the longest gap learnt is {learnt('lstm')} for the LSTM, {learnt('gru')} for the "
               f"GRU and {learnt('rnn')} for the RNN (of {', '.join(map(str, FIXED_GAPS))}; one seed, 400 test texts "
               "a gap, no paired test: a threshold read from the table above, not a tested difference).")
    if learnt("lstm") == learnt("rnn") != "none" and int(learnt("lstm")) < FIXED_GAPS[-1]:
        beyond = FIXED_GAPS[FIXED_GAPS.index(int(learnt("lstm"))) + 1]
        out.append(f"  With every example equally long, the LSTM has no edge here: no cell learns a gap of {beyond} "
                   f"or more from scratch in {STORY_TRAIN['epochs']} epochs.")
    out.append(f"- Short gaps common (log-uniform 0-200): LSTM {span(log['lstm'])}, GRU {span(log['gru'])}, "
               f"RNN {span(log['rnn'])}." + tested("longrange_log_pairs"))
    if min(log["rnn"]) >= 0.9:
        out.append("  Once short examples teach the RNN the task, it carries the word across 200 filler words too: "
                   "a tanh RNN can hold one bit that long. What it lacks is the gradient to learn it from long "
                   "examples alone (section 3).")
    return [*out, ""]


def plots(state: dict, figures: Figures) -> None:
    """The sections' figures: accuracy by length and by gap, one model per gap, gradients, the forget gate."""
    imdb = {k: state["runs"].get(f"imdb/{k}") for k in CELL_KINDS}
    if all(imdb.values()):
        labels = [f"{b['low']}-{b['high'] - 1}" for b in imdb["lstm"]["by_length"]]
        series = {k: (range(len(v["by_length"])), [b["accuracy"] for b in v["by_length"]]) for k, v in imdb.items()}
        figures.series("imdb_by_length", "IMDB test accuracy by review length (tokens)", "length bucket", "accuracy",
                       series, ticks=list(enumerate(labels)))
    if "longrange" in state:
        lr = state["longrange"]
        labels = [f"{int(b['low'])}-{int(b['high']) - 1}" for b in lr["lstm"]]
        figures.series("longrange_by_gap", "builtin:longrange: accuracy by gap (one-way, last state)", "gap (tokens)",
                       "accuracy", {k: (range(len(v)), [b["accuracy"] for b in v]) for k, v in lr.items()},
                       ticks=list(enumerate(labels)))
    if "longrange_fixed" in state:
        fixed = state["longrange_fixed"]
        gaps = FIXED_GAPS[: len(fixed["lstm"])]
        figures.series("longrange_fixed_gap", "builtin:longrange: one model per gap, trained and tested at that gap",
                       "gap (tokens)", "test accuracy", {k: (range(len(v)), v) for k, v in fixed.items()},
                       ticks=[(i, str(g)) for i, g in enumerate(gaps)])
    if "gradients" in state:
        g = state["gradients"]
        series = {k: (range(len(v)), np.log10(np.maximum(np.asarray(v), 1e-300))) for k, v in g.items()}
        figures.series("gradient_through_time",
                       "||dLoss/dh_t|| over the first 200 steps of long IMDB reviews, after 50 training steps",
                       "time step t", "log10 gradient norm", series, symbols=False)
    forget = (state["runs"].get("imdb/lstm") or {}).get("forget_gate")
    if forget:
        figures.bars("forget_gate_histogram", "IMDB LSTM: forget gate values over 300 test reviews",
                     forget["edges"], forget["histogram"], "forget gate f_t", "count")
