"""Intervals, paired tests and groups (core.uncertainty) against scipy and scikit-learn as references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest
from sklearn.metrics import f1_score

from core.uncertainty import (
    accuracy_interval,
    compare_rows,
    confusion_interval,
    holm,
    mcnemar_exact,
    paired_over_seeds,
    resample_rows,
    summarize,
)

TABLES = [(0, 0), (0, 1), (1, 0), (3, 3), (5, 17), (17, 5), (0, 40), (120, 95), (1000, 1100), (4000, 4321),
          (12_345, 12_000), (60_000, 59_000), (1, 250_000 - 1), (150_500, 150_600), (499_000, 501_234)]


@pytest.mark.parametrize(("b", "c"), TABLES)
def test_exact_mcnemar_is_scipys_two_sided_binomial_test(b, c):
    expected = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, abs=1e-12, rel=0)


def test_holm_matches_its_definition():
    p = [0.01, 0.04, 0.03, 0.5]
    # sorted 0.01, 0.03, 0.04, 0.5 -> 4*0.01, 3*0.03, max(.09, 2*.04), max(.09, 1*.5)
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([0.9, 0.8]) == [1.0, 1.0]  # 2 x 0.8 capped at 1; 0.9 never below an earlier one
    assert holm([0.2, 0.01]) == [0.2, 0.02]
    assert holm([]) == []


def _reference_paired_bootstrap(truth, pred_a, pred_b, resamples, seed, classes):
    """A loop with scikit-learn's metrics, over the same resamples of the rows."""
    acc, f1 = [], []
    for block in resample_rows(len(truth), resamples, seed):
        for idx in block:
            t, a, b = truth[idx], pred_a[idx], pred_b[idx]
            acc.append((a == t).mean() - (b == t).mean())
            f1.append(f1_score(t, a, average="macro", labels=range(classes), zero_division=0)
                      - f1_score(t, b, average="macro", labels=range(classes), zero_division=0))
    return np.percentile(acc, [2.5, 97.5]), np.percentile(f1, [2.5, 97.5])


@pytest.mark.parametrize("classes", [2, 3])
def test_paired_differences_match_a_reference_bootstrap(classes):
    rng = np.random.default_rng(1)
    truth = rng.integers(0, classes, 300)
    pred_a = np.where(rng.random(300) < 0.8, truth, rng.integers(0, classes, 300))
    pred_b = np.where(rng.random(300) < 0.7, truth, rng.integers(0, classes, 300))
    result = compare_rows([truth, truth], [pred_a, pred_b], classes, resamples=400, seed=3)
    (pair,) = result.pairs
    acc_ci, f1_ci = _reference_paired_bootstrap(truth, pred_a, pred_b, 400, 3, classes)
    assert pair.accuracy_diff_ci == pytest.approx(tuple(acc_ci), abs=1e-12)
    assert pair.macro_f1_diff_ci == pytest.approx(tuple(f1_ci), abs=1e-12)
    expected_f1 = (f1_score(truth, pred_a, average="macro", labels=range(classes), zero_division=0)
                   - f1_score(truth, pred_b, average="macro", labels=range(classes), zero_division=0))
    assert pair.macro_f1_diff == pytest.approx(expected_f1, abs=1e-12)
    a_right, b_right = pred_a == truth, pred_b == truth
    assert (pair.a_only, pair.b_only) == ((a_right & ~b_right).sum(), (b_right & ~a_right).sum())
    assert pair.p == pytest.approx(binomtest(pair.a_only, pair.a_only + pair.b_only).pvalue, abs=1e-12)
    assert pair.p_holm == pair.p  # one pair: nothing to correct


def test_the_label_order_of_each_model_is_its_own():
    """Right is right in either label order: a model whose classes are swapped scores the same."""
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 2, 200)
    pred = np.where(rng.random(200) < 0.75, truth, 1 - truth)
    result = compare_rows([truth, 1 - truth], [pred, 1 - pred], 2, resamples=200)
    (pair,) = result.pairs
    assert pair.accuracy_diff == 0 and pair.accuracy_diff_ci == (0.0, 0.0)
    assert pair.macro_f1_diff == pytest.approx(0, abs=1e-12) and pair.p == 1.0


def test_more_than_two_models_are_corrected_by_holm():
    rng = np.random.default_rng(4)
    truth = rng.integers(0, 2, 500)
    preds = [np.where(rng.random(500) < q, truth, 1 - truth) for q in (0.9, 0.7, 0.69)]
    result = compare_rows([truth] * 3, preds, 2, resamples=300)
    assert [(p.a, p.b) for p in result.pairs] == [(0, 1), (0, 2), (1, 2)]
    assert [p.p_holm for p in result.pairs] == pytest.approx(holm([p.p for p in result.pairs]))
    assert result.pairs[0].significant and not result.pairs[2].significant
    assert "is better" in result.pairs[0].sentence("A", "B")
    assert "no significant difference on these 500 rows" in result.pairs[2].sentence("B", "C")


def test_the_sentence_says_the_difference_its_interval_and_p():
    truth = np.zeros(1821, dtype=int)
    pred = np.r_[np.zeros(1500, dtype=int), np.ones(321, dtype=int)]
    (pair,) = compare_rows([truth, truth], [pred, pred], 2, resamples=100).pairs
    assert pair.sentence("LSTM", "RNN") == ("LSTM - RNN: +0.0 points [+0.0, +0.0], p = 1.00: no significant "
                                            "difference on these 1,821 rows")


def test_a_models_interval_is_its_confusion_matrixs_wherever_it_is_shown():
    truth = np.r_[np.zeros(60, int), np.ones(40, int)]
    pred = np.r_[np.zeros(50, int), np.ones(10, int), np.zeros(5, int), np.ones(35, int)]
    from_rows = compare_rows([truth, truth], [pred, 1 - pred], 2, resamples=500, seed=7).models[0]
    from_matrix = confusion_interval([[50, 10], [5, 35]], resamples=500, seed=7)
    assert from_rows == from_matrix
    assert from_matrix.accuracy == 0.85 and from_matrix.accuracy_ci[0] < 0.85 < from_matrix.accuracy_ci[1]
    assert from_matrix.accuracy_text() == (f"accuracy 0.850 [{from_matrix.accuracy_ci[0]:.3f}, "
                                           f"{from_matrix.accuracy_ci[1]:.3f}] on 100 rows")


def test_the_interval_covers_the_true_accuracy_about_95_times_in_100():
    """1,000 simulated test sets of a known accuracy: the 95% interval covers it 93-97% of the time."""
    rng = np.random.default_rng(0)
    true_accuracy, rows, covered = 0.8, 400, 0
    for i in range(1000):
        right = int(rng.binomial(rows, true_accuracy))
        cm = [[right, 0], [rows - right, 0]]  # all of class 0: right ones on the diagonal
        lo, hi = confusion_interval(cm, resamples=1000, seed=i).accuracy_ci
        covered += lo <= true_accuracy <= hi
    assert 930 <= covered <= 970, covered


def test_a_buckets_interval_and_empty_cases():
    lo, hi = accuracy_interval(45, 50, resamples=2000)
    assert lo < 0.9 < hi and hi <= 1.0
    assert all(math.isnan(x) for x in accuracy_interval(0, 0))
    empty = confusion_interval([[0, 0], [0, 0]])
    assert empty.count == 0 and math.isnan(empty.accuracy)
    one = compare_rows([np.zeros(5, int)], [np.zeros(5, int)], 2, resamples=10)
    assert one.pairs == [] and one.models[0].accuracy == 1.0


def test_groups_and_the_paired_test_over_seeds():
    g = summarize([0.811, 0.798, 0.808])
    assert g.mean == pytest.approx(0.80567, abs=1e-5) and g.sd == pytest.approx(np.std([.811, .798, .808], ddof=1))
    assert (g.low, g.high, g.n) == (0.798, 0.811, 3)
    assert g.text() == "80.6 ± 0.7 (79.8-81.1, 3 seeds)"
    assert math.isnan(summarize([0.5], "folds").sd) and summarize([0.5], "folds").text() == "50.0 (50.0-50.0, 1 fold)"
    t = paired_over_seeds([0, 1, 2], [0.81, 0.80, 0.82], [0.79, 0.78, 0.80])
    assert t.mean_diff == pytest.approx(0.02) and t.p == 0.25  # 2 of 8 sign patterns are as far: the least 3 can say
    same = paired_over_seeds([0, 1], [0.8, 0.7], [0.8, 0.7])
    assert same.p == 1.0
    with pytest.raises(ValueError):
        paired_over_seeds([0], [0.1, 0.2], [0.1, 0.2])
