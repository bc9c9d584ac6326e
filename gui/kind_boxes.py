"""The Train screen's "Models to train": a check box per model kind, in the kind's colour."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QCheckBox, QGroupBox, QHBoxLayout, QWidget

from core.config import CELL_DESCRIPTIONS
from gui.theme import model_color

KIND_ORDER = ("lstm", "rnn", "gru")  # the order of the check boxes and of training
DEFAULT_KINDS = ("lstm", "rnn")  # the comparison the app is about; GRU is one tick away
WHY_TICKED = {  # why each box starts ticked or not; what the kind is comes from core.model.classifier
    "lstm": "Ticked by default.",
    "rnn": "Ticked by default, to compare against the LSTM.",
    "gru": "Optional: tick it for a three-way comparison (training takes longer).",
}


def swatch(color: str) -> QIcon:
    """A square of a model's colour, kept in colour while the form is disabled during training."""
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(color))
    icon = QIcon()
    for mode in (QIcon.Mode.Normal, QIcon.Mode.Disabled):
        icon.addPixmap(pixmap, mode)
    return icon


class KindBoxes(QGroupBox):
    """``boxes[kind]``: the check box of each kind; ``changed`` when one is ticked or unticked."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Models to train", parent)
        self.boxes: dict[str, QCheckBox] = {}
        row = QHBoxLayout(self)
        for kind in KIND_ORDER:
            box = QCheckBox(kind.upper())
            box.setIcon(swatch(model_color(kind)))  # the colour of the first model of the kind
            box.setChecked(kind in DEFAULT_KINDS)
            box.setToolTip(f"{CELL_DESCRIPTIONS[kind]} {WHY_TICKED[kind]}")
            box.setObjectName(f"kind.{kind}")
            box.toggled.connect(self.changed)
            self.boxes[kind] = box
            row.addWidget(box)
        row.addStretch(1)

    def selected(self) -> list[str]:
        """The ticked kinds, in training order."""
        return [kind for kind in KIND_ORDER if self.boxes[kind].isChecked()]

    def select(self, kinds: list[str] | tuple[str, ...]) -> None:
        wanted = {str(k).lower() for k in kinds}
        for kind, box in self.boxes.items():
            box.setChecked(kind in wanted)
