"""Events that carry or name a model: a training event tagged with its model, a trained model, a model file
opened or saved.

``train_models`` (core.train.pipeline) trains models side by side and tags each event with the model
it is about (``ModelEvent``) until the model arrives (``ModelDone``); the model file tasks
(core.store.modelfile) report each file (``ModelOpened``, ``ModelSaved``). Whoever follows those
streams (the Train and Models screens, the run store's recorder) reads these types without loading
the modules that make them, or torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.events import Event
    from core.model.sentiment_model import SentimentModel


@dataclass
class ModelEvent:
    """A core event tagged with the model it is about (``name`` is "" for shared work, e.g. the tokenizer)."""

    name: str
    kind: str
    event: Event


@dataclass
class ModelDone:
    """A model finished training (also after a cancel: see ``model.record.finished.cancelled``)."""

    name: str
    model: SentimentModel


@dataclass
class ModelOpened:
    """A model file was read (the event ``open_models`` yields per file)."""

    path: str
    model: SentimentModel


@dataclass
class ModelSaved:
    """A model file was written (the event ``save_steps`` and ``save_all_steps`` yield per file)."""

    path: str
    name: str = ""
