"""The Train screen's optional sweep: value lists for settings, and what they make (combinations x models).

The text is ``core.train.sweep``'s grammar (``hidden_size=64,128 learning_rate=0.001,0.003``); what it
asks for is counted from the value lists on each keystroke, so typing stays instant.
"""

from __future__ import annotations

import math
from html import escape

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from core.errors import StudioError
from core.settings import settings_of
from core.train.sweep import CONFIGS, check_app_grid, parse_grid, sweep_specs
from gui.worker import error_message


class SweepField(QGroupBox):
    """``edit`` takes the value lists; ``label`` says what they make (``describe``)."""

    changed = Signal()  # the text changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Sweep (optional)", parent)
        sweepable = ", ".join(f.name for cls in CONFIGS for f in settings_of(cls) if f.name != "kind")
        self.edit = QLineEdit()
        self.edit.setObjectName("sweep")
        self.edit.setPlaceholderText("e.g. hidden_size=64,128  learning_rate=0.001,0.003")
        self.edit.setClearButtonEnabled(True)
        self.edit.setToolTip(
            "Value lists for settings: every combination trains the ticked models, one run after another, "
            "each kept on the Runs screen (which plots accuracy against each swept setting).\n"
            f"Settings: {sweepable}.")
        self.edit.textChanged.connect(self.changed)
        self.label = QLabel()
        self.label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.edit)
        layout.addWidget(self.label)

    def grid(self) -> list[tuple[int, str, list]]:
        """The value lists as ``core.train.sweep.parse_grid`` gives them; raises ``StudioError``."""
        return parse_grid(sweep_specs(self.edit.text()))

    def describe(self, kinds: int) -> int:
        """Say what the text asks for with ``kinds`` models ticked; the number of combinations (0: a mistake)."""
        if not self.edit.text().strip():
            self.label.setText("No sweep: one run of each ticked model.")
            return 1
        try:
            grid = self.grid()
            check_app_grid(grid)
        except (StudioError, TypeError, ValueError) as exc:
            self.label.setText(f"<span style='color:#c0392b'>{escape(error_message(exc))}</span>")
            return 0
        count = math.prod(len(values) for _, _, values in grid)
        self.label.setText(f"{count} combination{'s' * (count > 1)} × {kinds} "
                           f"model{'s' * (kinds != 1)} = {count * kinds} runs, one after another.")
        return count
