"""Events about one model among several: a core event tagged with its model, and a trained model's arrival.

``train_models`` (core.train.pipeline) trains models side by side and tags each event with the model
it is about; whoever follows such a stream (the Train screen's progress, the run store's recorder)
reads these two types without needing the pipeline, or torch, to be loaded.
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
