"""Classification metrics in numpy: accuracy, macro F1, per-class scores, confusion, by-length accuracy.

Plain arrays in, plain Python out, so results travel to the GUI, the CLI's JSON and model files
without conversion.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field

import numpy as np

# Token-length bucket edges for "accuracy by length": short sentences up to long reviews.
LENGTH_EDGES = (0, 10, 20, 40, 80, 160, 320, 640, 10**9)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(classes, classes) counts; rows are true classes, columns predictions."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return cm


def per_class_scores(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 per class; 0 where undefined (no predictions or no examples)."""
    tp = np.diag(cm).astype(np.float64)
    predicted, actual = cm.sum(0), cm.sum(1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:
    return float(per_class_scores(confusion_matrix(y_true, y_pred, num_classes))[2].mean())


@dataclass
class LengthBucket:
    low: int  # tokens, inclusive
    high: int  # tokens, exclusive
    count: int
    accuracy: float


@dataclass
class EvalResult:
    """Scores of one model on one split."""

    count: int
    loss: float
    accuracy: float
    macro_f1: float
    precision: list[float]  # per class
    recall: list[float]
    f1: list[float]
    confusion: list[list[int]]  # rows true, columns predicted
    by_length: list[LengthBucket] = field(default_factory=list)
    label_names: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EvalResult:
        """Lenient: a checkpoint's validation entry holds only accuracy, loss and macro F1."""
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        d["by_length"] = [LengthBucket(**b) for b in d.get("by_length", [])]
        defaults = {"count": 0, "loss": math.nan, "accuracy": math.nan, "macro_f1": math.nan,
                    "precision": [], "recall": [], "f1": [], "confusion": []}
        return cls(**{**defaults, **d})

    def summary(self) -> dict:
        """The CLI's ``evaluate`` JSON: accuracy, macro_f1, per_class, confusion_matrix, count."""
        names = self.label_names or [str(i) for i in range(len(self.f1))]
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "per_class": {
                n: {"precision": p, "recall": r, "f1": f}
                for n, p, r, f in zip(names, self.precision, self.recall, self.f1, strict=True)
            },
            "confusion_matrix": self.confusion,
            "count": self.count,
            "loss": self.loss,
            "by_length": [asdict(b) for b in self.by_length],
        }


def evaluate_predictions(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    lengths: np.ndarray,
    num_classes: int,
    loss: float = float("nan"),
    label_names: list[str] | None = None,
) -> EvalResult:
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    cm = confusion_matrix(y_true, y_pred, num_classes)
    precision, recall, f1 = per_class_scores(cm)
    correct = y_true == y_pred
    buckets = []
    lengths = np.asarray(lengths)
    for lo, hi in itertools.pairwise(LENGTH_EDGES):
        sel = (lengths >= lo) & (lengths < hi)
        if sel.any():
            buckets.append(LengthBucket(lo, hi, int(sel.sum()), float(correct[sel].mean())))
    return EvalResult(
        count=len(y_true),
        loss=float(loss),
        accuracy=float(correct.mean()) if len(y_true) else float("nan"),
        macro_f1=float(f1.mean()),
        precision=precision.tolist(),
        recall=recall.tolist(),
        f1=f1.tolist(),
        confusion=cm.tolist(),
        by_length=buckets,
        label_names=list(label_names or []),
    )
