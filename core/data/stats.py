"""Dataset statistics for the Data screen and the CLI: counts per class, token lengths.

Lengths are whitespace words (the Data screen shows a dataset before any tokenizer exists). For texts
left on disk (``arrow.ArrowTexts``) they come from an evenly spread sample, so describing millions of rows
reads thousands of them; counts per class are always exact (labels are in memory).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.data.arrow import ArrowTexts
from core.data.dataset import SPLITS, TextDataset

STATS_SAMPLE = 20_000  # texts whose lengths are counted, for texts left on disk


@dataclass
class SplitStats:
    """One split's size, examples per class and tokens per text."""

    count: int
    per_class: dict[str, int]  # class name -> examples
    lengths: np.ndarray  # (count,) int64 tokens per text, in the split's order; or of a sample, see ``sampled``
    sampled: int = 0  # lengths are of this many texts spread evenly over the split (0: of every text)

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
        lengths = {"mean": self.mean, "median": self.median, "p95": self.p95, "max": self.max, "min": self.min}
        if self.sampled:
            lengths["sample"] = self.sampled
        return {"count": self.count, "per_class": dict(self.per_class), "lengths": lengths}


def describe(dataset: TextDataset, tokenize: Callable[[str], list[str]] = str.split) -> dict[str, SplitStats]:
    """Per-split counts, per-class counts and token lengths (of a sample when the texts are on disk)."""
    out: dict[str, SplitStats] = {}
    for split in SPLITS:
        sp = dataset.splits.get(split)
        if sp is None:
            continue
        counts = np.bincount(sp.labels.astype(np.int64), minlength=dataset.num_classes) if len(sp) else None
        per_class = {name: int(counts[i]) if counts is not None else 0 for i, name in enumerate(dataset.label_names)}
        texts, sampled = sp.texts, 0
        if isinstance(texts, ArrowTexts) and len(texts) > STATS_SAMPLE:
            texts = texts.take(np.linspace(0, len(texts) - 1, STATS_SAMPLE).astype(np.int64))
            sampled = STATS_SAMPLE
        lengths = np.fromiter((len(tokenize(t)) for t in texts), np.int64, len(texts))
        out[split] = SplitStats(len(sp), per_class, lengths, sampled)
    return out
