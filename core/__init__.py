"""Sentiment Studio's headless core: data, tokenizer, models, training, inspection, model files and runs.

The public names are here, not file paths (napari's lazy ``__init__`` is the model)::

    from core import load_dataset, train_model, run_to_end, load_model, predict, explain, ModelConfig

Each name is imported from its module the first time it is asked for (PEP 562), so ``import core``
and the configs load no torch, and the command line and the window start quickly. Where each lives:

- ``core.config`` every setting, with its default and why; ``core.errors``, ``core.events`` (the one
  event channel), ``core.settings``, ``core.metrics``, ``core.uncertainty`` (intervals and paired tests),
  ``core.files``: the foundation
- ``core.data`` where texts come from; ``core.text`` how text becomes ids and vectors
- ``core.model`` what a model is; ``core.inspect`` what is inside it
- ``core.store`` what goes to disk; ``core.train`` how it learns

Nothing in this package imports Qt, pyqtgraph or ``gui`` (checked three ways: docs/architecture.md).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"  # 0.2: model files record their splits (SplitRecord)

_PUBLIC: dict[str, tuple[str, ...]] = {  # module: the names it gives the package
    "core.config": ("DataConfig", "ExplainConfig", "IntervalConfig", "ModelConfig", "TokenizerConfig",
                    "TrainConfig"),
    "core.errors": ("DataError", "ModelFileError", "SettingError", "StudioError", "TrainingError"),
    "core.events": ("EpochEvent", "FinishedEvent", "PhaseEvent", "StepEvent", "TaskCancelled", "TaskControl",
                    "run_to_end"),
    "core.data": ("Split", "TextDataset", "load_dataset"),
    "core.text.tokenizer": ("TextTokenizer",),
    "core.model.events": ("ModelDone", "ModelEvent"),
    "core.model.sentiment_model": ("Prediction", "SentimentModel", "predict"),
    "core.model.trace": ("Trace",),
    "core.inspect.attribution": ("Attribution", "explain"),
    "core.inspect.compare": ("score_models",),
    "core.uncertainty": ("compare_rows", "confusion_interval", "mcnemar_exact", "summarize"),
    "core.store.modelfile": ("load_model", "save_model"),
    "core.store.export": ("export_bundle",),
    "core.store.runs": ("RunStore",),
    "core.train.pipeline": ("train_model", "train_models"),
}
_MODULE_OF = {name: module for module, names in _PUBLIC.items() for name in names}
__all__ = ["__version__", *sorted(_MODULE_OF)]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # asked once: later lookups find it without coming here
    return value


def __dir__() -> list[str]:
    return list(__all__)
