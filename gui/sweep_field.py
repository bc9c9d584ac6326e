"""The Train screen's optional sweep: value lists for settings, and what they make (combinations x models x
seeds or folds).

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
        self.summary = ""  # what describe counted, in words
        layout = QVBoxLayout(self)
        layout.addWidget(self.edit)
        layout.addWidget(self.label)

    def grid(self) -> list[tuple[int, str, list]]:
        """The value lists as ``core.train.sweep.parse_grid`` gives them; raises ``StudioError``."""
        return parse_grid(sweep_specs(self.edit.text()))

    def describe(self, kinds: int, seeds: int = 1, folds: int = 0, problem: str = "") -> int:
        """Say what the text asks for with ``kinds`` models ticked, each trained on ``seeds`` seeds or ``folds``
        folds (``problem``: why it can't train, said by the screen); the number of runs (0: a mistake). ``summary``
        is then the product in words ("2 models × 3 seeds"), for the Train button."""
        self.summary = ""
        count = 1
        if problem:
            self.label.setText("")  # said once, above the Train button
            return 0
        if self.edit.text().strip():
            try:
                grid = self.grid()
                check_app_grid(grid)
            except (StudioError, TypeError, ValueError) as exc:
                self.label.setText(f"<span style='color:#c0392b'>{escape(error_message(exc))}</span>")
                return 0
            count = math.prod(len(values) for _, _, values in grid)
        factors = [(n, what) for n, what in ((count, "combination"), (kinds, "model"), (seeds, "seed"), (folds, "fold"))
                   if n > 1 or what == "model"]
        runs = math.prod(n for n, _ in factors)
        self.summary = " × ".join(f"{n} {what}{'s' * (n != 1)}" for n, what in factors)
        if len(factors) == 1:
            self.label.setText("No sweep: one run of each ticked model.")
            return runs
        text = f"{self.summary} = {runs} runs, one after another."
        if seeds > 1:
            text += f" Each model's {seeds} seeds are kept as one group: mean ± sd on the Runs screen."
        if folds:
            text += f" Each model is tested on each of the {folds} folds in turn (trained on the others): one group."
        self.label.setText(text)
        return runs
