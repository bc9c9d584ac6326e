"""Dataset statistics for the Data screen and the CLI: counts per class, token lengths.

Lengths are whitespace words (the Data screen shows a dataset before any tokenizer exists).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.data.dataset import SPLITS, TextDataset


@dataclass
class SplitStats:
    """One split's size, examples per class and tokens per text."""

    count: int
    per_class: dict[str, int]  # class name -> examples
    lengths: np.ndarray  # (count,) int64 tokens per text, in the split's order

    def _pick(self, fn: Callable[[np.ndarray], float], empty: float = 0) -> float:
        return fn(self.lengths) if len(self.lengths) else empty

    @property
    def mean(self) -> float:
        return float(self._pick(np.mean))

    @property
    def median(self) -> float:
        return float(self._pick(np.median))

    @property
    def p95(self) -> int:
        """The nearest-rank 95th percentile: 95% of the texts are at most this long."""
        return int(self._pick(lambda a: np.percentile(a, 95, method="inverted_cdf")))

    @property
    def max(self) -> int:
        return int(self._pick(np.max))

    @property
    def min(self) -> int:
        return int(self._pick(np.min))

    def to_dict(self) -> dict:
        """Plain JSON: counts and the length summary (not every length)."""
        return {
            "count": self.count,
            "per_class": dict(self.per_class),
            "lengths": {"mean": self.mean, "median": self.median, "p95": self.p95, "max": self.max, "min": self.min},
        }


def describe(dataset: TextDataset, tokenize: Callable[[str], list[str]] = str.split) -> dict[str, SplitStats]:
    """Per-split counts, per-class counts and token lengths."""
    out: dict[str, SplitStats] = {}
    for split in SPLITS:
        sp = dataset.splits.get(split)
        if sp is None:
            continue
        counts = np.bincount(sp.labels.astype(np.int64), minlength=dataset.num_classes) if len(sp) else None
        per_class = {name: int(counts[i]) if counts is not None else 0 for i, name in enumerate(dataset.label_names)}
        lengths = np.fromiter((len(tokenize(t)) for t in sp.texts), np.int64, len(sp.texts))
        out[split] = SplitStats(len(sp), per_class, lengths)
    return out
