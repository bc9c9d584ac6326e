"""score_models' intervals and pairs (issue 28): each score and bucket with its 95% interval, then a PairScores
with every pair's paired test and which rows each model gets right, measured on the worker's side."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from helpers import leaning

from core.config import IntervalConfig
from core.events import PhaseEvent, TaskControl

INTERVALS = IntervalConfig(resamples=2000, seed=7)


def events(models, dataset, intervals=INTERVALS, control=None):
    from core.inspect.compare import score_models

    return list(score_models(models, dataset, "test", control or TaskControl(), intervals))


def test_score_models_ends_with_every_pair_compared_on_the_same_rows(tiny_model, tiny_dataset):
    from core.inspect.scores import ModelScore, PairScores, ScoreSkipped
    from core.uncertainty import accuracy_interval, compare_rows

    three = copy.copy(tiny_model)
    three.label_names = ["a", "b", "c"]  # can't be scored here: kept out of the pairs
    models = {"LSTM": tiny_model, "Shy": leaning(tiny_model, -4.0), "3-class": three, "Eager": leaning(tiny_model, 3.5)}
    out = events(models, tiny_dataset)
    assert [type(e).__name__ for e in out if not isinstance(e, PhaseEvent)] == [
        "ModelScore", "ModelScore", "ScoreSkipped", "ModelScore", "PairScores"]
    assert isinstance(out[-2], PhaseEvent) and out[-2].phase == "comparing"
    scores = [e for e in out if isinstance(e, ModelScore)]
    assert not any(isinstance(e, ScoreSkipped) and e.name in out[-1].names for e in out)
    pairs: PairScores = out[-1]
    assert pairs.names == ["LSTM", "Shy", "Eager"] and (pairs.resamples, pairs.seed) == (2000, 7)

    expected = compare_rows([s.truth for s in scores], [s.predicted for s in scores], 2, resamples=2000, seed=7)
    assert pairs.comparison == expected
    assert [(p.a, p.b) for p in expected.pairs] == [(0, 1), (0, 2), (1, 2)]
    assert [s.interval for s in scores] == expected.models  # the table's intervals are the pairs' models'
    assert pairs.sentences()[2] == expected.pairs[2].sentence("Shy", "Eager")
    assert pairs.sentences()[2].startswith("Shy - Eager: ") and "on these 40 rows" in pairs.sentences()[2]

    # agreement: the four cells partition the rows, as each model's right answers say
    right = [s.predicted == s.truth for s in scores]
    for pair, g in zip(expected.pairs, pairs.agreements, strict=True):
        ra, rb = right[pair.a], right[pair.b]
        assert (g.a, g.b) == (pairs.names[pair.a], pairs.names[pair.b])
        np.testing.assert_array_equal(g.both_right, np.flatnonzero(ra & rb))
        np.testing.assert_array_equal(g.a_only, np.flatnonzero(ra & ~rb))
        np.testing.assert_array_equal(g.b_only, np.flatnonzero(~ra & rb))
        np.testing.assert_array_equal(g.both_wrong, np.flatnonzero(~ra & ~rb))
        assert (len(g.a_only), len(g.b_only)) == (pair.a_only, pair.b_only) and g.count == 40
        assert g.either_right == pytest.approx((ra | rb).mean())
    shy_eager = pairs.agreements[2]
    assert len(shy_eager.a_only) > 0 and len(shy_eager.b_only) > 0  # the two lean different ways
    assert pairs.oracle == pytest.approx(np.logical_or.reduce(right).mean())

    # buckets by length: the result's, each with accuracy_interval's interval
    shy = scores[1]
    assert [(b.low, b.high, b.count, b.accuracy) for b in shy.by_length] == [
        (b.low, b.high, b.count, b.accuracy) for b in shy.result.by_length]
    for b in shy.by_length:
        assert (b.ci_low, b.ci_high) == accuracy_interval(round(b.accuracy * b.count), b.count, 2000, 7)


def test_one_model_or_a_cancel_gives_no_pairs(tiny_model, tiny_dataset):
    from core.inspect.scores import ModelScore, PairScores

    out = events({"LSTM": tiny_model}, tiny_dataset, IntervalConfig())
    (score,) = [e for e in out if isinstance(e, ModelScore)]
    assert score.interval is not None and score.interval.count == 40 and not any(
        isinstance(e, PairScores) for e in out)
    control = TaskControl()
    out = []
    from core.inspect.compare import score_models

    for e in score_models({"A": tiny_model, "B": tiny_model}, tiny_dataset, "test", control, INTERVALS):
        out.append(e)
        if isinstance(e, ModelScore) and e.name == "B":
            control.cancel()
    assert not any(isinstance(e, PairScores) for e in out)


def test_gap_buckets_carry_intervals_and_can_be_measured_again(tiny_model, tiny_dataset):
    """A split with a gap column: its buckets get intervals; measure_intervals gives fresh copies at another
    seed and leaves the scores it was given alone."""
    from core.data import Split, TextDataset
    from core.inspect.compare import measure_intervals
    from core.inspect.scores import ModelScore, PairScores
    from core.uncertainty import accuracy_interval, compare_rows

    test = tiny_dataset["test"]
    gaps = np.arange(len(test)) % 30
    data = TextDataset("memory:gaps", {**tiny_dataset.splits, "test": Split(test.texts, test.labels, {"gap": gaps})},
                       tiny_dataset.label_names)
    out = events({"LSTM": tiny_model, "Shy": leaning(tiny_model, -4.0)}, data)
    scores = [e for e in out if isinstance(e, ModelScore)]
    shy = scores[1]
    assert [(b.low, b.high) for b in shy.by_gap] == [(0, 5), (5, 10), (10, 20), (20, 50)]
    right = shy.predicted == shy.truth
    for b in shy.by_gap:
        inside = (gaps >= b.low) & (gaps < b.high)
        assert b.count == inside.sum() and b.accuracy == pytest.approx(right[inside].mean())
        assert (b.ci_low, b.ci_high) == accuracy_interval(int(right[inside].sum()), b.count, 2000, 7)
        assert b.ci_low <= b.accuracy <= b.ci_high

    before = copy.deepcopy(shy.by_gap), shy.interval
    again = list(measure_intervals(scores, IntervalConfig(resamples=500, seed=1), TaskControl()))
    fresh = [e for e in again if isinstance(e, ModelScore)]
    assert [f.name for f in fresh] == ["LSTM", "Shy"] and isinstance(again[-1], PairScores)
    assert (shy.by_gap, shy.interval) == before and fresh[1] is not shy and fresh[1].predicted is shy.predicted
    expected = compare_rows([s.truth for s in scores], [s.predicted for s in scores], 2, resamples=500, seed=1)
    assert [f.interval for f in fresh] == expected.models and again[-1].comparison == expected
    assert [(b.ci_low, b.ci_high) for b in fresh[1].by_gap] == [
        accuracy_interval(round(b.accuracy * b.count), b.count, 500, 1) for b in shy.by_gap]


def test_models_with_other_classes_are_left_out_of_the_pairs():
    from core.inspect.compare import compare_scores
    from core.inspect.scores import ModelScore
    from core.metrics import evaluate_predictions

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 50)

    def score(name, predicted, classes=2):
        result = evaluate_predictions(truth, predicted, np.full(50, 5), classes)
        return ModelScore(name, "lstm", result, predicted, np.ones(50), truth, 1.0, 10, None, None, np.zeros(0))

    flip = truth.copy()
    flip[:10] = 1 - flip[:10]
    pairs = compare_scores([score("A", truth), score("B", flip), score("C", truth, classes=3)], INTERVALS)
    assert pairs.names == ["A", "B"] and list(pairs.left_out) == ["C"] and "3 classes" in pairs.left_out["C"]
    (pair,) = pairs.comparison.pairs
    assert (pair.a_only, pair.b_only, pair.accuracy_diff) == (10, 0, pytest.approx(0.2))
    assert compare_scores([score("A", truth)], INTERVALS) is None
