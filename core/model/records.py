"""Typed records of how a model was made: its training run, its data splits and its provenance.

They travel inside model files as JSON (``to_dict`` / ``from_dict``), in the same layout the files
have always used, so files written by earlier versions still open. ``from_dict`` fills in what older
files and checkpoints lack (whole entries, partial validation scores, the split record) and ignores
keys it does not know (newer files); an entry missing a key every version writes is damage.
"""

from __future__ import annotations

import dataclasses
import math
import platform
from dataclasses import asdict, dataclass, field
from typing import Any

from core.config import MAX_REPEATS
from core.data.dataset import SPLIT_SEED, TEST_FRACTION, VALIDATION_FRACTION, TextDataset
from core.errors import ModelFileError
from core.events import EpochEvent, FinishedEvent, StepEvent
from core.metrics import EvalResult


def versions() -> dict[str, str]:
    """The versions a model is made with, for its record (torch is loaded whenever a model is trained)."""
    import tokenizers
    import torch

    from core import __version__

    return {
        "sentiment_studio": __version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "python": platform.python_version(),
    }


def _known(cls: type, d: dict) -> dict:
    """The entries of ``d`` that are fields of ``cls``."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in d.items() if k in names}


@dataclass
class History:
    """Everything a run reported, built from its events by whoever consumes them (``record``)."""

    step_loss: list[float] = field(default_factory=list)
    step_grad_norm: list[float] = field(default_factory=list)
    epochs: list[EpochEvent] = field(default_factory=list)

    def record(self, event: object) -> None:
        """Add a ``StepEvent`` or ``EpochEvent``; other events are ignored."""
        if isinstance(event, StepEvent):
            self.step_loss.append(event.loss)
            self.step_grad_norm.append(event.grad_norm)
        elif isinstance(event, EpochEvent):
            self.epochs.append(event)

    def to_dict(self) -> dict:
        return {"step_loss": list(self.step_loss), "step_grad_norm": list(self.step_grad_norm),
                "epochs": [asdict(e) for e in self.epochs]}

    @classmethod
    def from_dict(cls, d: dict | None) -> History:
        d = d or {}
        return cls([float(x) for x in d.get("step_loss", [])], [float(x) for x in d.get("step_grad_norm", [])],
                   [EpochEvent(**_known(EpochEvent, e)) for e in d.get("epochs", [])])


@dataclass
class RunSummary:
    """How a training run ended (the ``finished`` entry of a model file)."""

    epochs_run: int
    best_epoch: int
    stopped_early: bool = False
    cancelled: bool = False
    training_time_s: float = math.nan
    num_parameters: int = 0
    tokens_per_s: float | None = None  # unknown for a checkpoint written mid-run

    @classmethod
    def of(cls, finished: FinishedEvent) -> RunSummary:
        return cls(finished.epochs_run, finished.best_epoch, finished.stopped_early, finished.cancelled,
                   finished.training_time_s, finished.num_parameters, finished.tokens_per_s)


@dataclass
class CheckpointMark:
    """Set on a model file written mid-training: the epoch whose weights it holds."""

    epoch: int
    val_accuracy: float = math.nan
    val_loss: float = math.nan


@dataclass
class TrainingRecord:
    """A trained model's results: how the run ended, validation and test scores, the curves."""

    finished: RunSummary | None = None
    validation: EvalResult | None = None
    test: EvalResult | None = None
    history: History = field(default_factory=History)
    checkpoint: CheckpointMark | None = None

    def to_dict(self) -> dict:
        d: dict[str, Any] = {
            "finished": asdict(self.finished) if self.finished else None,
            "validation": self.validation.to_dict() if self.validation else None,
            "test": self.test.to_dict() if self.test else None,
            "history": self.history.to_dict(),
        }
        if self.checkpoint is not None:
            d["checkpoint"] = asdict(self.checkpoint)
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> TrainingRecord:
        d = d or {}
        fin, val, test, mark = (d.get(k) for k in ("finished", "validation", "test", "checkpoint"))
        return cls(
            finished=RunSummary(**_known(RunSummary, fin)) if fin else None,
            validation=EvalResult.from_dict(val) if val else None,
            test=EvalResult.from_dict(test) if test else None,
            history=History.from_dict(d.get("history")),
            checkpoint=CheckpointMark(**_known(CheckpointMark, mark)) if mark else None,
        )


@dataclass
class SplitRecord:
    """How a dataset's splits were made, so a later evaluation can make the very same ones.

    ``split_seed`` and the fractions decide which training rows were carved out as validation and
    test rows when the source had no such split: evaluating with another carve would score the
    model on rows it was trained on.
    """

    split_seed: int = SPLIT_SEED
    validation_fraction: float = VALIDATION_FRACTION
    test_fraction: float = TEST_FRACTION
    carved: list[str] = field(default_factory=list)  # splits carved from train, e.g. ["validation", "test"]
    sizes: dict[str, int] = field(default_factory=dict)  # split -> rows
    text_column: str = ""
    label_column: str = ""
    folds: int = 0  # cross-validation: tested on fold ``fold`` (0-based) of ``folds`` (core.data.folds); 0: none
    fold: int = 0

    @classmethod
    def of(cls, dataset: TextDataset) -> SplitRecord:
        """How ``dataset``'s splits were made, to store with a model trained on it."""
        return cls(
            split_seed=dataset.split_seed,
            validation_fraction=dataset.validation_fraction,
            test_fraction=dataset.test_fraction,
            carved=list(dataset.carved),
            sizes={name: len(split) for name, split in dataset.splits.items()},
            text_column=dataset.text_column,
            label_column=dataset.label_column,
            folds=dataset.folds,
            fold=dataset.fold,
        )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SplitRecord:
        rec = cls(**_known(cls, d))
        folds, fold = rec.folds, rec.fold
        if not (type(folds) is int and type(fold) is int and folds != 1 and 0 <= folds <= MAX_REPEATS
                and 0 <= fold < max(folds, 1)):
            raise ModelFileError(f"the model file says it was tested on fold {fold!r} of {folds!r}, which no data has")
        return rec


@dataclass
class ModelInfo:
    """Where a model came from: its name, dataset, splits, time and library versions."""

    name: str = ""
    dataset: str = ""  # the source string it was trained on
    splits: SplitRecord | None = None  # None in files written before version 0.2
    created: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    checkpoint: bool = False  # written mid-training (see ``TrainingRecord.checkpoint``)
    label_values: list[int] | None = None  # the whole number each class was written as (None: words)
    run_id: int | None = None  # its run in the run store (core/store/runs.py), when one was recorded
    vectors: dict | None = None  # the pretrained word vectors it started from (core.text.vectors.Coverage), if any
    world_size: int = 1  # processes that trained it together (torchrun; core/distributed.py)
    backend: str = ""  # their process group's backend: gloo or nccl ("" for one process)
    # one of a group of runs repeated over seeds or folds: {"id", "kind": "seeds" | "folds", "n", "index", "seed" or
    # "fold"} (the run store's ``Run.group``; the store has the other runs' scores)
    group: dict | None = None
    file: str = ""  # the file it was opened from or last saved to; not stored in the file

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("file")
        d["splits"] = self.splits.to_dict() if self.splits else None
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> ModelInfo:
        d = dict(d or {})
        splits = d.pop("splits", None)
        info = cls(**_known(cls, d))
        info.splits = SplitRecord.from_dict(splits) if isinstance(splits, dict) else None
        info.dataset = str(info.dataset or "")
        values = info.label_values
        valid = isinstance(values, list) and all(type(v) is int for v in values) and len(set(values)) == len(values)
        info.label_values = values if valid else None  # only a clean record is used to map labels
        info.vectors = info.vectors if isinstance(info.vectors, dict) else None
        info.world_size = info.world_size if type(info.world_size) is int and info.world_size >= 1 else 1
        info.backend = info.backend if isinstance(info.backend, str) else ""
        info.group = info.group if _is_group(info.group) else None  # only shown: a bad one is left out
        return info


def _is_group(group: object) -> bool:
    """A group record as the app writes it (``ModelInfo.group``)."""
    if not (isinstance(group, dict) and isinstance(group.get("id"), str) and group.get("kind") in ("seeds", "folds")
            and all(type(group.get(k)) is int for k in ("n", "index")) and 0 <= group["index"] < group["n"]):
        return False
    if group["kind"] == "seeds":
        return type(group.get("seed")) is int and 0 <= group["seed"] <= 2**31 - 1
    return type(group.get("fold")) is int and 0 <= group["fold"] < group["n"]
