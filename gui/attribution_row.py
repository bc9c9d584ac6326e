"""The Try screen's "why" row: the typed text with each word coloured by its share of the decision, and the
choice of method and class (the attributions themselves come from ``core.inspect.attribution``, on a worker)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from core.config import METHOD_NAMES
from gui.gate_heatmap import attribution_color

if TYPE_CHECKING:
    from core.inspect.attribution import Attribution


class AttributionRow(QWidget):
    """``method_combo`` (a method, or off) and ``target_combo`` (the predicted class, or one named) choose what
    is asked for (``changed``); ``show_attribution`` draws an answer into ``text``."""

    changed = Signal()  # the method or the class chosen changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.method_combo = QComboBox()
        for method, name in METHOD_NAMES.items():
            self.method_combo.addItem(name, method)
        self.method_combo.addItem("off", "")
        self.method_combo.setToolTip("How each word's share of the decision is measured (core/inspect/attribution.py):"
                                     " Integrated Gradients on the embeddings, or the change when the word is left out")
        self.target_combo = QComboBox()
        self.target_combo.setToolTip("The class the words are scored for: green words push toward it, red away")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text, 1)
        layout.addWidget(QLabel("Why, by"))
        layout.addWidget(self.method_combo)
        layout.addWidget(QLabel("for"))
        layout.addWidget(self.target_combo)
        self.method_combo.currentIndexChanged.connect(self.changed)
        self.target_combo.currentIndexChanged.connect(self.changed)

    def method(self) -> str:
        """The method chosen; "" when off."""
        return self.method_combo.currentData()

    def target(self) -> int | None:
        """The class chosen; None for the predicted one."""
        return self.target_combo.currentData()

    def set_classes(self, label_names: list[str]) -> None:
        """Offer ``label_names`` (a model's classes), keeping the class chosen when the new model has it."""
        previous = self.target_combo.currentText()
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        self.target_combo.addItem("the predicted class", None)
        for i, name in enumerate(label_names):
            self.target_combo.addItem(name, i)
        self.target_combo.setCurrentIndex(max(self.target_combo.findText(previous), 0))
        self.target_combo.blockSignals(False)

    def show_message(self, message: str) -> None:
        self.text.setText(message)
        self.text.setToolTip("")

    def show_attribution(self, a: Attribution, note: str, end: int | None) -> None:
        """``a``'s words coloured in its text, cut after character ``end`` (the traced part of a long text)."""
        bound = f" <span style='color:gray'>({escape(a.note)}.)</span>" if a.note else ""  # part of a long text
        self.text.setText(highlighted(a, end) + bound)
        self.text.setToolTip(f"Green words push toward {a.target_name}, red words away ({note}).")


def highlighted(a: Attribution, end: int | None = None) -> str:
    """The explained text as rich text, each word's background coloured by its attribution; cut after
    character ``end`` (the traced part of a long text) with an ellipsis."""
    end = len(a.text) if end is None else min(end, len(a.text))
    bound = float(abs(a.word_scores).max()) if len(a.word_scores) else 0.0
    parts, done = [f"<b>Why {escape(a.target_name)}:</b> "], 0
    for (start, stop), score in zip(a.word_offsets, a.word_scores, strict=True):
        if stop > end:
            break
        color = attribution_color(float(score), bound).name()
        parts.append(escape(a.text[done:start]))
        parts.append(f"<span style='background-color:{color}; color:black'>{escape(a.text[start:stop])}</span>")
        done = int(stop)
    parts.append(escape(a.text[done:end]) + (" …" if end < len(a.text) else ""))
    return "".join(parts).replace("\n", " ")
