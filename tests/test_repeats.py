"""Cross-validation (core.train.repeats): K folds train K runs per model, tested on disjoint folds covering the
data, kept as one group per model; data with a test split of its own is refused; a cancel stops between folds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import core.train.pipeline as pipeline_module
from core.config import ModelConfig, TokenizerConfig, TrainConfig
from core.data import load_dataset
from core.errors import DataError
from core.events import PhaseEvent, TaskControl
from core.model.events import ModelDone
from core.store.runs import RunStore
from core.train.repeats import fold_name, has_own_test_split, load_pool, train_folds
from core.train.sweep import Combination

TINY = {"embed_dim": 8, "hidden_size": 8}


def no_test_split_csv(folder: Path, n: int = 61) -> Path:
    """A learnable CSV without a test split of its own (an odd count: the folds are not all the same size)."""
    words = {0: ["bad", "awful", "dull"], 1: ["good", "great", "fine"]}
    lines = ["text,label"] + [f"the film was {words[i % 2][i % 3]} number {i},{i % 2}" for i in range(n)]
    path = folder / "pool.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def one_combination(*kinds: str) -> list[Combination]:
    plan = [(kind.upper(), ModelConfig(kind=kind, **TINY)) for kind in kinds]
    return [Combination({}, plan, TokenizerConfig(), TrainConfig(epochs=1, batch_size=16, device="cpu"))]


def test_k_folds_train_k_runs_per_model_tested_on_disjoint_folds_covering_the_pool(tmp_path, monkeypatch):
    dataset = load_dataset(str(no_test_split_csv(tmp_path)))
    assert dataset.carved == ("validation", "test") and not has_own_test_split(dataset)
    seen: list = []  # (model names, the fold's dataset) per call of train_models

    def spy(data, plan, *args, **kwargs):
        seen.append(([name for name, _ in plan], data))
        return real(data, plan, *args, **kwargs)

    real = pipeline_module.train_models
    monkeypatch.setattr(pipeline_module, "train_models", spy)
    events = list(train_folds(dataset, one_combination("lstm", "rnn"), 3, TaskControl(),
                              store_folder=tmp_path / "store", fold_id="cv"))
    phases = [e.event.message for e in events
              if not isinstance(e, ModelDone) and isinstance(e.event, PhaseEvent) and e.event.phase == "fold"]
    assert [p.split(":")[0] for p in phases] == ["fold 1 of 3", "fold 2 of 3", "fold 3 of 3"]
    assert [names for names, _ in seen] == [[fold_name(k, f, 3) for k in ("LSTM", "RNN")] for f in range(3)]
    pool = load_pool(dataset)
    tests = [set(data["test"].texts) for _, data in seen]
    assert sum(map(len, tests)) == len(pool["train"]) == 61 and set().union(*tests) == set(pool["train"].texts)
    for (_, data), test in zip(seen, tests, strict=True):
        assert not test & set(data["train"].texts) and not test & set(data["validation"].texts)
        assert abs(int(np.sum(data["test"].labels)) - len(test) / 2) <= 1  # stratified by class
    runs = RunStore(tmp_path / "store").runs()
    assert len(runs) == 6 and all(r.status == "finished" for r in runs)
    for kind in ("lstm", "rnn"):
        mine = sorted((r for r in runs if r.kind == kind), key=lambda r: r.group["fold"])
        assert {r.group["id"] for r in mine} == {f"cv:{kind}"}
        assert [(r.group["kind"], r.group["n"], r.group["index"], r.group["fold"]) for r in mine] == [
            ("folds", 3, k, k) for k in range(3)]
        assert [int(np.sum(r.test_confusion)) for r in mine] == [len(t) for t in tests]  # each on its own fold


def test_data_with_a_test_split_of_its_own_is_refused_before_training(tmp_path):
    dataset = load_dataset("builtin:reviews?n=200")
    assert has_own_test_split(dataset)
    with pytest.raises(DataError, match="test split of its own"):
        list(train_folds(dataset, one_combination("lstm"), 3, TaskControl(), store_folder=tmp_path / "store"))
    assert RunStore(tmp_path / "store").runs() == []


def test_a_cancel_stops_between_folds_and_keeps_the_finished_runs(tmp_path):
    dataset = load_dataset(str(no_test_split_csv(tmp_path)))
    control = TaskControl()
    done = []
    for event in train_folds(dataset, one_combination("rnn"), 4, control, store_folder=tmp_path / "store"):
        if isinstance(event, ModelDone):
            done.append(event.name)
            control.cancel()
    assert done == [fold_name("RNN", 0, 4)]
    (run,) = RunStore(tmp_path / "store").runs()
    assert run.status == "finished" and run.group["fold"] == 0 and run.group["n"] == 4
