"""Cross-validation: each model trained K times, tested each time on its own fold of the data.

For data without a test split of its own (MR, SUBJ, MPQA, CR) the papers report the mean over 10
folds. ``train_folds`` reads the data again with nothing carved (the pool the folds are cut from,
``core.data.folds``), refuses data the folds can't use (``check_folds``: a test split of its own, a
class smaller than the folds), then for fold k of K trains every model of every combination on the
other folds and tests it on fold k. Each model is one run in the store, and a model's K runs are one
group (``Run.group``: kind "folds", ``index`` and ``fold`` k), shown as mean ± sd by the Runs screen.
Folds come first, combinations inside: fold k is cut once, and a cancel leaves whole folds compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from core.data import TextDataset, load_dataset
from core.data.folds import check_folds, fold_dataset
from core.events import PhaseEvent, TaskControl
from core.model.events import ModelEvent
from core.settings import shown
from core.train.sweep import Combination, check_runs, new_sweep_id, open_store


def fold_name(name: str, fold: int, folds: int) -> str:
    """A model's name in fold ``fold`` (0-based): "LSTM fold 2/5"."""
    return f"{name} fold {fold + 1}/{folds}"


def has_own_test_split(dataset: TextDataset) -> bool:
    """Whether ``dataset``'s test rows came with the source (not carved from train): folds are refused."""
    return bool(len(dataset["test"])) and "test" not in dataset.carved and not dataset.folds


def folds_refusal(dataset: TextDataset | None, folds: int) -> str:
    """Why ``dataset`` can't be cut into ``folds`` folds, as far as its splits tell without reading it again
    ("" when it can; ``check_folds`` checks the pool when ``train_folds`` reads it)."""
    if not folds or dataset is None or not has_own_test_split(dataset):
        return ""
    return (f"{dataset.source} has a test split of its own ({len(dataset['test']):,} rows): folds are for data "
            "without one. Set Folds to 0 to test on its own split.")


def load_pool(dataset: TextDataset, control: TaskControl | None = None) -> TextDataset:
    """The rows of ``dataset``'s source with nothing carved, read again with the same columns and split seed:
    what the folds are cut from (as ``train --folds`` reads it, so the app's fold 3 is the command line's)."""
    return load_dataset(dataset.source, text_column=dataset.text_column, label_column=dataset.label_column,
                        split_seed=dataset.split_seed, validation_fraction=0.0, test_fraction=0.0, control=control)


def fold_group(fold_id: str, values: dict, kind: str, folds: int, fold: int) -> dict:
    """``Run.group`` of a model of fold ``fold``: one id for a model kind's K runs (and a sweep's values)."""
    others = ", ".join(f"{k}={shown(v)}" for k, v in values.items())
    return {"id": ":".join([fold_id, *([others] if others else []), kind]), "kind": "folds", "n": folds,
            "index": fold, "fold": fold}


def train_folds(dataset: TextDataset, combinations: list[Combination], folds: int, control: TaskControl,
                checkpoint_dir: Path | None = None, store_folder: Path | None = None, fold_id: str | None = None,
                pool: TextDataset | None = None) -> Iterator:
    """Train every model of ``combinations`` on each of ``folds`` folds (``train_models``' events, one stream;
    a model of fold k is named ``fold_name``), each recorded as a run of its group in the store at
    ``store_folder`` when given. ``pool``: the data already read with nothing carved (default: ``dataset``'s
    source read again, ``load_pool``). Raises ``DataError`` before training when the folds can't be cut;
    pause and cancel act through ``control`` between folds and within them."""
    from core.store.runs import recorded_runs
    from core.train.pipeline import train_models

    check_runs([(one.values, [config for _, config in one.plan], one.train) for one in combinations])
    if pool is None:
        yield ModelEvent("", "", PhaseEvent("loading", f"reading {dataset.source} again, nothing carved, for "
                                                       f"{folds} folds"))
        pool = load_pool(dataset, control)
    check_folds(pool, folds)
    store = yield from open_store(store_folder)
    fold_id = fold_id or new_sweep_id()
    vectors: dict = {}
    try:
        for k in range(folds):
            if control.wait_if_paused():
                break
            part = fold_dataset(pool, folds, k, dataset.validation_fraction)
            yield ModelEvent("", "", PhaseEvent("fold", f"fold {k + 1} of {folds}: training on {len(part['train']):,} "
                                                        f"rows, testing on {len(part['test']):,}"))
            for one in combinations:
                if control.cancelled:
                    break
                plan = [(fold_name(name, k, folds), config) for name, config in one.plan]
                events = train_models(part, plan, one.train, one.tokenizer, control, checkpoint_dir, vectors)
                if store is not None:
                    groups = {name: fold_group(fold_id, one.values, config.kind, folds, k) for name, config in plan}
                    sweep = {"id": fold_id, "values": one.values} if one.values else None
                    events = recorded_runs(events, store, part, plan, one.tokenizer, one.train, sweep, groups)
                yield from events
    finally:
        if store is not None:
            store.close()
