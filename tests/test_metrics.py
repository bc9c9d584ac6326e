"""Metrics against a 3-class case worked out by hand (and scikit-learn, where it is installed)."""

from __future__ import annotations

import numpy as np
import pytest

from core.metrics import confusion_matrix, evaluate_predictions, macro_f1, per_class_scores

# true 0 0 0 0 1 1 2 2 2 2
# pred 0 0 1 2 1 0 2 2 2 1
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 2, 1, 0, 2, 2, 2, 1])
# rows: true class, columns: predicted class
CONFUSION = [[2, 1, 1],
             [1, 1, 0],
             [0, 1, 3]]  # fmt: skip
PRECISION = [2 / 3, 1 / 3, 3 / 4]  # diagonal / column sums 3, 3, 4
RECALL = [2 / 4, 1 / 2, 3 / 4]  # diagonal / row sums 4, 2, 4
F1 = [4 / 7, 2 / 5, 3 / 4]  # 2PR / (P + R)
MACRO_F1 = 241 / 420  # (4/7 + 2/5 + 3/4) / 3


def test_a_hand_worked_three_class_case():
    cm = confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert cm.tolist() == CONFUSION
    precision, recall, f1 = per_class_scores(cm)
    np.testing.assert_allclose(precision, PRECISION)
    np.testing.assert_allclose(recall, RECALL)
    np.testing.assert_allclose(f1, F1)
    assert macro_f1(Y_TRUE, Y_PRED, 3) == pytest.approx(MACRO_F1)
    result = evaluate_predictions(Y_TRUE, Y_PRED, lengths=np.arange(10) * 5, num_classes=3,
                                  label_names=["negative", "neutral", "positive"])
    assert result.accuracy == pytest.approx(0.6) and result.count == 10
    assert result.macro_f1 == pytest.approx(MACRO_F1)
    summary = result.summary()
    assert summary["per_class"]["neutral"] == pytest.approx({"precision": 1 / 3, "recall": 0.5, "f1": 0.4})
    assert summary["confusion_matrix"] == CONFUSION
    # lengths 0, 5, ..., 45 in buckets [0, 10), [10, 20), [20, 40), [40, 80)
    assert [(b.low, b.count) for b in result.by_length] == [(0, 2), (10, 2), (20, 4), (40, 2)]
    right = Y_TRUE == Y_PRED
    assert [b.accuracy for b in result.by_length] == [right[:2].mean(), right[2:4].mean(), right[4:8].mean(),
                                                      right[8:].mean()]


def test_a_class_never_predicted_or_never_present_scores_zero_not_nan():
    cm = confusion_matrix(np.array([0, 0, 1]), np.array([0, 0, 0]), 3)  # class 1 never predicted, 2 absent
    precision, recall, f1 = per_class_scores(cm)
    assert precision.tolist() == [2 / 3, 0.0, 0.0] and recall.tolist() == [1.0, 0.0, 0.0]
    assert np.isfinite(f1).all() and f1[0] == pytest.approx(0.8)


def test_agrees_with_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 4, 500), rng.integers(0, 4, 500)
    cm = confusion_matrix(y_true, y_pred, 4)
    assert cm.tolist() == metrics.confusion_matrix(y_true, y_pred, labels=range(4)).tolist()
    precision, recall, f1 = per_class_scores(cm)
    p, r, f, _ = metrics.precision_recall_fscore_support(y_true, y_pred, labels=range(4), zero_division=0)
    np.testing.assert_allclose(precision, p)
    np.testing.assert_allclose(recall, r)
    np.testing.assert_allclose(f1, f)
    assert macro_f1(y_true, y_pred, 4) == pytest.approx(metrics.f1_score(y_true, y_pred, average="macro"))
