"""What the open window is working with: the dataset, the models, their colours, and its running tasks.

Screens take the session and listen to its signals instead of talking to each other, so each
screen can be built, tested and replaced alone. Facts more than one screen shows are owned here:
a model's colour is assigned once (``color``) and every view asks for it, and the session knows
which trained models are not saved yet (``unsaved``). Its running tasks are a ``TaskPool``
(gui/worker.py), which closing the window cancels and waits for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from gui.theme import EXTRA_COLORS, KIND_COLORS
from gui.worker import TaskPool

if TYPE_CHECKING:
    from core.data import TextDataset
    from core.model.sentiment_model import SentimentModel


class Session(QObject):
    dataset_changed = Signal(object)  # TextDataset | None
    models_changed = Signal()  # a model was added, saved or removed
    status = Signal(str)  # a short message for the status bar
    open_in_tester = Signal(str, str)  # a text to try (a misclassified example), the model to look inside ("": any)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.dataset: TextDataset | None = None
        self.models: dict[str, SentimentModel] = {}  # display name -> model, in insertion order
        self.unsaved: set[str] = set()  # names of trained models with no file yet
        self.tasks = TaskPool(self)
        self._colors: dict[str, tuple[str, str]] = {}  # name -> (kind, colour), assigned once

    # dataset -----------------------------------------------------------------------------------
    def set_dataset(self, dataset: TextDataset | None) -> None:
        self.dataset = dataset
        self.dataset_changed.emit(dataset)

    # models ------------------------------------------------------------------------------------
    def unique_name(self, base: str) -> str:
        name, i = base, 2
        while name in self.models:
            name, i = f"{base} ({i})", i + 1
        return name

    def color(self, name: str, kind: str | None = None) -> str:
        """The colour of the model called ``name``, the same on every screen for the whole session.

        Assigned on first ask: the first model of a kind gets the kind's colour, every later one the
        next extra colour (distinct until the extras run out). The Train screen asks (with ``kind``)
        before the model exists, so its curves and the finished model share the colour.
        """
        if name not in self._colors:
            kind = kind or (self.models[name].kind if name in self.models else "")
            first_of_kind = all(k != kind for k, _ in self._colors.values())
            if first_of_kind and kind in KIND_COLORS:
                color = KIND_COLORS[kind]
            else:
                extras = sum(1 for _, c in self._colors.values() if c in EXTRA_COLORS)
                color = EXTRA_COLORS[extras % len(EXTRA_COLORS)]
            self._colors[name] = (kind, color)
        return self._colors[name][1]

    def colors(self) -> dict[str, str]:
        """Every model's colour, in the session's order."""
        return {name: self.color(name) for name in self.models}

    def add_model(self, model: SentimentModel, name: str | None = None, *, saved: bool = False) -> str:
        """Add ``model`` under a unique name; ``saved`` says it has a file already (opened, not trained)."""
        name = self.unique_name(name or model.name)
        model.info.name = name
        self.models[name] = model
        self.color(name, model.kind)
        if not saved:
            self.unsaved.add(name)
        self.models_changed.emit()
        return name

    def mark_saved(self, name: str) -> None:
        if name in self.unsaved:
            self.unsaved.discard(name)
            self.models_changed.emit()

    def remove_model(self, name: str) -> None:
        if self.models.pop(name, None) is not None:
            self.unsaved.discard(name)
            self.models_changed.emit()
