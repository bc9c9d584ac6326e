"""K-fold cross-validation: fold k of K as a ``TextDataset`` whose test split is that fold.

For data without a test split of its own (MR, SUBJ, MPQA, CR), the papers report the mean over 10
folds: each row is tested once, by a model that never trained on it. The folds are stratified by
class and seeded by the data's split seed (not the training seed), so fold 3 is the same rows for an
LSTM and an RNN, and two models of the same fold are compared on the same rows. The validation rows
are carved from the fold's training rows (or the source's own validation split is kept).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from core.data.dataset import Split, TextDataset
from core.data.labels import _carve
from core.errors import DataError


def fold_rows(labels: np.ndarray, folds: int, fold: int, seed: int) -> np.ndarray:
    """The sorted row indices of fold ``fold`` (0-based) of ``folds``: each class's rows shuffled by ``seed``
    and cut into ``folds`` nearly equal parts, so every fold holds every class in its share."""
    rng = np.random.default_rng(seed)
    parts = [np.array_split(rng.permutation(np.flatnonzero(labels == k)), folds)[fold] for k in np.unique(labels)]
    return np.sort(np.concatenate(parts)).astype(np.int64)


def check_folds(dataset: TextDataset, folds: int) -> None:
    """Refuse folds the data can't give: a test split of its own, or a class with fewer rows than folds."""
    if not 2 <= folds <= len(dataset["train"]):
        raise DataError(f"{folds} folds need at least 2 and no more than the {len(dataset['train']):,} training rows")
    if len(dataset["test"]):
        raise DataError(f"{dataset.source} has a test split of its own ({len(dataset['test']):,} rows): folds are for "
                        "data without one; train without folds to test on it")
    labels = dataset["train"].labels
    counts = np.bincount(labels, minlength=dataset.num_classes)
    small = [(dataset.label_names[k], int(c)) for k, c in enumerate(counts) if 0 < c < folds]
    if small:
        name, count = small[0]
        raise DataError(f'class "{name}" has {count} rows, fewer than the {folds} folds: every fold must train on it; '
                        "use fewer folds")


def fold_dataset(pool: TextDataset, folds: int, fold: int, validation_fraction: float) -> TextDataset:
    """Fold ``fold`` (0-based) of ``folds`` of ``pool``: its test split is the fold, its training split the other
    folds less the validation rows carved from them (the source's own validation split is kept when it has
    one). ``pool`` is the data loaded with nothing carved (test and validation shares 0)."""
    check_folds(pool, folds)
    if not 0 <= fold < folds:
        raise DataError(f"fold {fold + 1} of {folds} does not exist")
    train = pool["train"]
    test = fold_rows(train.labels, folds, fold, pool.split_seed)
    rest = np.setdiff1d(np.arange(len(train)), test, assume_unique=True)
    splits = {"train": train.subset(rest), "validation": pool["validation"], "test": train.subset(test)}
    carved: tuple[str, ...] = ("test",)
    if not len(pool["validation"]) and validation_fraction > 0:
        empty = Split([], np.zeros(0, dtype=np.int64), {k: v[:0] for k, v in train.extra.items()})
        splits["validation"] = empty
        splits, got = _carve(splits, ["validation"], {"validation": validation_fraction}, pool.split_seed)
        carved = (*got, "test")
    note = (f"Fold {fold + 1} of {folds}: tested on {len(test):,} rows, trained on the other folds "
            f"(seed {pool.split_seed}, stratified by class).")
    return dataclasses.replace(pool, splits=splits, carved=carved, validation_fraction=validation_fraction,
                               test_fraction=0.0, folds=folds, fold=fold, notes=[*pool.notes, note])
