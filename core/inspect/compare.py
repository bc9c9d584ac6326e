"""Scoring models side by side on one split: metrics, speed, and what happens inside them.

``score_models`` is the Compare screen's task and what the results studies (``python -m benchmarks.results``)
measure with: a generator yielding a ``ModelScore`` per model (or a ``ScoreSkipped`` saying why a model could not
be scored on this data), with ``PhaseEvent``s between, and last a ``PairScores``: every pair of the
models scored, their paired differences with 95% intervals, McNemar's test and which rows each gets right
(``core.uncertainty``; each score and bucket carries its own interval too). Besides the metrics it measures the
LSTM-vs-RNN story for any model: accuracy by gap (datasets with a ``gap`` column, such as
builtin:longrange), how fast gradients fade back through time, and how saturated the memory gate
is (Karpathy et al. 2015). For the most confident mistakes it also names the words that drove each
wrong prediction (``core.inspect.attribution``).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from core.config import IntervalConfig
from core.data import Split, TextDataset
from core.errors import StudioError
from core.events import PhaseEvent, TaskControl
from core.inspect.analysis import accuracy_by_value, gate_summary, gradient_through_time, long_text_ids
from core.inspect.scores import (
    DRIVING_WORDS,
    FOLDS_CAVEAT,
    GATE_TEXTS,
    MISTAKES_EXPLAINED,
    Agreement,
    Bucket,
    GroupPair,
    ModelGroup,
    ModelScore,
    PairScores,
    ScoreSkipped,
    member_of,
    member_word,
)
from core.model.sentiment_model import SentimentModel
from core.model.trace import MEMORY_GATE
from core.uncertainty import (
    Comparison,
    accuracy_interval,
    compare_rows,
    confusion_interval,
    paired_over_seeds,
    summarize,
)

GAP_EDGES = [0, 5, 10, 20, 50, 100, 201, 501, 1001, 10**9]  # gap buckets: [edge, next edge)
TIMING_TEXTS = 30  # texts predicted one at a time to measure the latency a person typing sees
MISTAKES_BUDGET_S = 5.0  # seconds per model for explaining the MISTAKES_EXPLAINED (long reviews take ~0.3 s each)
_MEMBER = re.compile(r"\s*\b(seed[= ]\d+|fold \d+(/\d+)?)")  # what tells a group's models apart in their names


def accuracy_by_gap(correct: np.ndarray, split: Split, edges: list[float] = GAP_EDGES) -> list[Bucket]:
    """Accuracy per bucket of the split's ``gap`` column; empty when it has none."""
    gaps = split.extra.get("gap")
    return [] if gaps is None else accuracy_by_value(correct, gaps, edges)


def carve_warning(model: SentimentModel, dataset: TextDataset) -> str | None:
    """Why ``dataset``'s carved splits may hold rows ``model`` was trained on, or None.

    A model trained on the same source with another split seed or fractions had other rows held out:
    its "test" rows here would partly be its training rows.
    """
    rec = model.info.splits
    if not dataset.carved or rec is None or model.info.dataset != dataset.source:
        return None
    ours = (dataset.split_seed, dataset.validation_fraction, dataset.test_fraction, dataset.folds, dataset.fold)
    theirs = (rec.split_seed, rec.validation_fraction, rec.test_fraction, rec.folds, rec.fold)
    if ours == theirs:
        return None
    if rec.folds:
        return (f"trained on every fold but fold {rec.fold + 1} of {rec.folds} (split seed {rec.split_seed}) and "
                "tested on that fold; these splits were carved otherwise, so most scored rows were its training rows")
    return (f"trained with split seed {rec.split_seed} (fractions {rec.validation_fraction:g}/{rec.test_fraction:g}),"
            f" but these splits were carved with seed {dataset.split_seed}: some scored rows were its training rows")


def inside_the_model(model: SentimentModel, split: Split, score: ModelScore) -> None:
    """Fill ``score``'s story views: accuracy by gap, gradient through time, memory-gate values."""
    score.by_gap = accuracy_by_gap(score.predicted == score.truth, split)
    try:
        ids, order = long_text_ids(model, split.texts)
        score.gradient = gradient_through_time(model.classifier, ids, score.truth[order])
    except StudioError as e:
        score.notes.append(f"gradient through time: {e}")
    gate = MEMORY_GATE.get(model.kind)
    if gate:
        score.gates = gate_summary(model, split.texts[:GATE_TEXTS], gate=gate)


def explain_mistakes(model: SentimentModel, split: Split, score: ModelScore, control: TaskControl | None = None,
                     limit: int = MISTAKES_EXPLAINED, budget_s: float = MISTAKES_BUDGET_S) -> None:
    """Fill ``score.mistake_words`` for the most confident mistakes first, until ``limit`` or ``budget_s``.

    Each is attributed toward the class the model wrongly chose, so the words listed are the ones that
    drove the mistake (only words with a positive share; a mistake may have fewer than three). A text
    that can't be explained is left out with a note; the scores stand.
    """
    from core.inspect.attribution import explain, load_captum

    wrong = np.flatnonzero(score.predicted != score.truth)
    chosen = wrong[np.argsort(-score.confidence[wrong], kind="stable")][:limit]
    load_captum()  # once per process, not out of the first model's budget
    start, failed = time.perf_counter(), ""
    for i in chosen:
        if (control is not None and control.cancelled) or time.perf_counter() - start > budget_s:
            break
        try:
            a = explain(model, split.texts[i], target=int(score.predicted[i]))
        except (StudioError, RuntimeError) as e:
            failed = failed or str(e)
            continue
        order = np.argsort(-a.word_scores, kind="stable")[:DRIVING_WORDS]
        score.mistake_words[int(i)] = [(a.words[j], float(a.word_scores[j])) for j in order if a.word_scores[j] > 0]
    if failed:
        score.notes.append(f"the words behind some mistakes could not be found: {failed}")
    elif len(score.mistake_words) < len(chosen):  # stopped by the budget (or a cancel), not by the limit
        score.notes.append(f"the words behind its mistakes were found for {len(score.mistake_words)} of them "
                           f"(the most confident) in the {budget_s:g} s allowed")


def score_model(name: str, model: SentimentModel, split: Split) -> ModelScore:
    """Metrics, confidence and latency of one model on ``split`` (labels in the model's class ids)."""
    result, probs = model.score(split)
    sample = split.texts[:TIMING_TEXTS]
    t0 = time.perf_counter()
    for text in sample:  # one at a time: the latency a person typing sees
        model.predict_proba([text])
    ms = (time.perf_counter() - t0) * 1000 / max(len(sample), 1)
    fin = model.record.finished
    return ModelScore(
        name=name, kind=model.kind, result=result, predicted=probs.argmax(1), confidence=probs.max(1),
        truth=np.asarray(split.labels), ms_per_sentence=ms, num_parameters=model.classifier.num_parameters(),
        training_time_s=fin.training_time_s if fin else None, tokens_per_s=fin.tokens_per_s if fin else None,
        grad_norms=np.asarray(model.record.history.step_grad_norm, dtype=np.float64),
        group=dict(model.info.group) if model.info.group else None,
    )


def with_interval(bucket: Bucket, intervals: IntervalConfig) -> Bucket:
    """``bucket`` with its accuracy's bootstrap interval (a length bucket of ``core.metrics`` or a gap bucket)."""
    correct = round(bucket.accuracy * bucket.count)
    low, high = accuracy_interval(correct, bucket.count, intervals.resamples, intervals.seed)
    return Bucket(float(bucket.low), float(bucket.high), bucket.count, bucket.accuracy, low, high)


def add_intervals(score: ModelScore, intervals: IntervalConfig) -> None:
    """Fill ``score``'s intervals: accuracy and macro-F1 (from its confusion matrix) and every bucket's."""
    score.interval = confusion_interval(score.result.confusion, intervals.resamples, intervals.seed)
    score.by_length = [with_interval(b, intervals) for b in score.result.by_length]
    score.by_gap = [with_interval(b, intervals) for b in score.by_gap]


def agreement(a: str, b: str, right_a: np.ndarray, right_b: np.ndarray) -> Agreement:
    return Agreement(a, b, np.flatnonzero(right_a & right_b), np.flatnonzero(right_a & ~right_b),
                     np.flatnonzero(~right_a & right_b), np.flatnonzero(~right_a & ~right_b))


def model_groups(scores: list[ModelScore]) -> list[ModelGroup]:
    """The groups of two or more of ``scores`` (one ``ModelScore.group`` id), in the order of their first model;
    a second model of a seed already there (the same model opened twice) is left out, with a note."""
    found: dict[str, list[ModelScore]] = {}
    for s in scores:
        if s.group and s.group.get("id"):
            found.setdefault(str(s.group["id"]), []).append(s)
    groups: list[ModelGroup] = []
    for gid, members in found.items():
        kind = "folds" if members[0].group.get("kind") == "folds" else "seeds"
        chosen: dict[int, ModelScore] = {}
        notes = []
        for s in members:
            m = member_of(s.group)
            if m in chosen:
                notes.append(f"{s.name} is {member_word(kind, m)} again (as {chosen[m].name}): left out of the group")
            else:
                chosen[m] = s
        if len(chosen) < 2:
            continue
        chosen = dict(sorted(chosen.items()))
        labels = {_MEMBER.sub("", s.name).strip() for s in chosen.values()}
        label = labels.pop() if len(labels) == 1 and "" not in labels else members[0].kind.upper()
        taken = sum(g.label == label or g.label.startswith(f"{label} (") for g in groups)
        if kind == "folds":
            notes.append(FOLDS_CAVEAT)
        groups.append(ModelGroup(
            gid, kind, f"{label} ({taken + 1})" if taken else label, {m: s.name for m, s in chosen.items()},
            summarize([s.result.accuracy for s in chosen.values()], kind),
            summarize([s.result.macro_f1 for s in chosen.values()], kind),
            max(int(members[0].group.get("n") or 0), len(chosen)), notes))
    return groups


def group_pairs(groups: list[ModelGroup], scores: dict[str, ModelScore], names: list[str],
                comparison: Comparison) -> list[GroupPair]:
    """Every two ``groups`` of the same kind sharing two or more seeds (or folds): the paired test over the
    seeds of their accuracies here, and each seed's McNemar p from ``comparison`` (over ``names``). Fold groups
    get no test: their folds' own test rows are not what is scored here (``FOLDS_CAVEAT``)."""
    tests = {(p.a, p.b): p for p in comparison.pairs}
    out = []
    for (i, ga), (j, gb) in itertools.combinations(enumerate(groups), 2):
        shared = tuple(sorted(set(ga.members) & set(gb.members)))
        if ga.kind != gb.kind or len(shared) < 2:
            continue
        if ga.kind == "folds":
            out.append(GroupPair(i, j, shared, None, note=FOLDS_CAVEAT))
            continue
        test = paired_over_seeds(shared, [scores[ga.members[m]].result.accuracy for m in shared],
                                 [scores[gb.members[m]].result.accuracy for m in shared])
        mcnemar = {}
        for m in shared:
            x, y = names.index(ga.members[m]), names.index(gb.members[m])
            mcnemar[m] = tests[(min(x, y), max(x, y))].p
        out.append(GroupPair(i, j, shared, test, mcnemar))
    return out


def compare_scores(scores: list[ModelScore], intervals: IntervalConfig) -> PairScores | None:
    """Every pair of ``scores`` (all on the same rows): paired intervals, McNemar, Holm, agreement, and the
    groups of runs repeated over seeds among them with their paired tests (``model_groups``). None for
    fewer than two. Models with another number of classes than most are left out, with why: a macro-F1
    over other classes is not comparable."""
    classes = [len(s.result.confusion) for s in scores]
    common = max(classes, key=classes.count, default=0)  # the most common; on a tie, the first model's
    kept = [s for s, k in zip(scores, classes, strict=True) if k == common]
    left_out = {s.name: f"scored in {k} classes, the others in {common}"
                for s, k in zip(scores, classes, strict=True) if k != common}
    if len(kept) < 2:
        return None
    comparison = compare_rows([s.truth for s in kept], [s.predicted for s in kept], common,
                              intervals.resamples, intervals.seed)
    right = [s.predicted == s.truth for s in kept]
    agreements = [agreement(kept[p.a].name, kept[p.b].name, right[p.a], right[p.b]) for p in comparison.pairs]
    names = [s.name for s in kept]
    groups = model_groups(kept)
    pairs = group_pairs(groups, {s.name: s for s in kept}, names, comparison)
    return PairScores(names, comparison, agreements, int(np.logical_or.reduce(right).sum()),
                      intervals.resamples, intervals.seed, left_out, groups, pairs)


def measure_intervals(scores: Sequence[ModelScore], intervals: IntervalConfig, control: TaskControl
                      ) -> Iterator[PhaseEvent | ModelScore | PairScores]:
    """The intervals of models already scored, measured again (other resamples or seed), as ``score_models``
    gives them: a copy of each ``ModelScore`` with its new intervals, then (two or more) a ``PairScores``."""
    yield PhaseEvent("comparing", f"measuring the intervals again ({intervals.resamples:,} bootstrap resamples)")
    fresh = []
    for score in scores:
        if control.cancelled:
            return
        score = dataclasses.replace(score)  # the views may still show the one given
        add_intervals(score, intervals)
        fresh.append(score)
        yield score
    pairs = compare_scores(fresh, intervals) if len(fresh) > 1 and not control.cancelled else None
    if pairs is not None:
        yield pairs


def score_models(
    models: Mapping[str, SentimentModel], dataset: TextDataset, split_name: str, control: TaskControl,
    intervals: IntervalConfig | None = None,
) -> Iterator[PhaseEvent | ModelScore | ScoreSkipped | PairScores]:
    """Score each model on ``dataset[split_name]``; yields a ``ModelScore`` or ``ScoreSkipped`` per model, then
    (two or more scored) a ``PairScores``. ``intervals``: the bootstrap's resamples and seed."""
    intervals = intervals or IntervalConfig()
    split = dataset[split_name]
    scored: list[ModelScore] = []
    for name, model in models.items():
        if control.cancelled:
            return
        yield PhaseEvent("evaluating", f"evaluating {name} on {len(split):,} {split_name} texts")
        try:
            truth = model.align_labels(dataset.label_names, dataset.label_values)[split.labels]
        except StudioError as e:
            yield ScoreSkipped(name, model.kind, str(e))
            continue
        aligned = Split(split.texts, truth, split.extra)
        score = score_model(name, model, aligned)
        warning = carve_warning(model, dataset)
        if warning:
            score.notes.append(warning)
        if control.cancelled:
            return
        yield PhaseEvent("inside", f"measuring gradients and gates of {name}")
        inside_the_model(model, aligned, score)
        if control.cancelled:
            return
        yield PhaseEvent("mistakes", f"finding the words behind {name}'s mistakes")
        explain_mistakes(model, aligned, score, control)
        add_intervals(score, intervals)
        scored.append(score)
        yield score
    if len(scored) < 2 or control.cancelled:
        return
    yield PhaseEvent("comparing", f"comparing {len(scored)} models pair by pair "
                                  f"({intervals.resamples:,} bootstrap resamples of {len(split):,} rows)")
    pairs = compare_scores(scored, intervals)
    if pairs is not None:
        yield pairs
