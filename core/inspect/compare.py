"""Scoring models side by side on one split: metrics, speed, and what happens inside them.

``score_models`` is the Compare screen's task and what the results studies (``python -m benchmarks.results``)
measure with: a generator yielding a ``ModelScore`` per model (or a ``ScoreSkipped`` saying why a model could not
be scored on this data), with ``PhaseEvent``s between. Besides the metrics it measures the
LSTM-vs-RNN story for any model: accuracy by gap (datasets with a ``gap`` column, such as
builtin:longrange), how fast gradients fade back through time, and how saturated the memory gate
is (Karpathy et al. 2015). For the most confident mistakes it also names the words that drove each
wrong prediction (``core.inspect.attribution``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

import numpy as np

from core.data import Split, TextDataset
from core.errors import StudioError
from core.events import PhaseEvent, TaskControl
from core.inspect.analysis import accuracy_by_value, gate_summary, gradient_through_time, long_text_ids
from core.inspect.scores import DRIVING_WORDS, GATE_TEXTS, MISTAKES_EXPLAINED, Bucket, ModelScore, ScoreSkipped
from core.model.sentiment_model import SentimentModel
from core.model.trace import MEMORY_GATE

GAP_EDGES = [0, 5, 10, 20, 50, 100, 201, 501, 1001, 10**9]  # gap buckets: [edge, next edge)
TIMING_TEXTS = 30  # texts predicted one at a time to measure the latency a person typing sees
MISTAKES_BUDGET_S = 5.0  # seconds per model for explaining the MISTAKES_EXPLAINED (long reviews take ~0.3 s each)


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
    ours = (dataset.split_seed, dataset.validation_fraction, dataset.test_fraction)
    theirs = (rec.split_seed, rec.validation_fraction, rec.test_fraction)
    if ours == theirs:
        return None
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
    )


def score_models(
    models: Mapping[str, SentimentModel], dataset: TextDataset, split_name: str, control: TaskControl
) -> Iterator[PhaseEvent | ModelScore | ScoreSkipped]:
    """Score each model on ``dataset[split_name]``; yields a ``ModelScore`` or ``ScoreSkipped`` per model."""
    split = dataset[split_name]
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
        yield score
