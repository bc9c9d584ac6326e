"""What every source becomes: a ``TextDataset`` of three ``Split``s and the class names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.config import DataConfig

SPLITS = ("train", "validation", "test")
_CARVE = DataConfig()  # how missing splits are carved by default: the data settings' defaults (core.config)
SPLIT_SEED = _CARVE.split_seed  # seeds the carve
VALIDATION_FRACTION = _CARVE.validation_fraction  # carved from train when a source has no validation split
TEST_FRACTION = _CARVE.test_fraction  # likewise for test


def take_texts(texts: Sequence[str], index: np.ndarray) -> Sequence[str]:
    """The texts at ``index``: a list's as a list; texts on disk (``arrow.ArrowTexts``) with one read."""
    take = getattr(texts, "take", None)
    return take(index) if take is not None else [texts[i] for i in index]


@dataclass
class Split:
    """One split: texts and integer class ids, plus optional per-example columns (e.g. ``gap``)."""

    texts: Sequence[str]  # a list, or ``arrow.ArrowTexts`` for data read from a memory-mapped Arrow table
    labels: np.ndarray  # (n,) int64 class ids into TextDataset.label_names
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (n,) array

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index: np.ndarray) -> Split:
        """The rows at ``index``, with ``extra`` kept aligned."""
        return Split(
            texts=take_texts(self.texts, index),
            labels=self.labels[index],
            extra={k: v[index] for k, v in self.extra.items()},
        )


@dataclass
class TextDataset:
    """A ready-to-train sentiment dataset."""

    source: str  # the source string it was loaded from
    splits: dict[str, Split]  # keys: "train", "validation", "test"
    label_names: list[str]  # class id -> name, e.g. ["negative", "positive"]
    text_column: str = "text"
    label_column: str = "label"
    carved: tuple[str, ...] = ()  # splits that were carved from train, e.g. ("validation",)
    split_seed: int = SPLIT_SEED  # the seed any carving used (see ``load_dataset``)
    validation_fraction: float = VALIDATION_FRACTION  # of train, carved when the source has no validation split
    test_fraction: float = TEST_FRACTION  # likewise for test
    notes: list[str] = field(default_factory=list)  # things the user should know (guesses, drops, encoding)
    # The whole number each class was written as, when the labels were numbers (a 1-5 star column named
    # by a sentiment scale): a model records them, so a file holding only some of the numbers maps right.
    label_values: list[int] | None = None
    folds: int = 0  # cross-validation: the test split is fold ``fold`` (0-based) of ``folds`` (core.data.folds)
    fold: int = 0

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def __getitem__(self, split: str) -> Split:
        return self.splits[split]


