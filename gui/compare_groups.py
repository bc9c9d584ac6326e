"""The Compare screen's groups: models of one group of runs repeated over seeds or folds, fed a
``core.inspect.scores.PairScores``.

``GroupTable``: a row per group (``PairScores.groups``), its accuracy and macro-F1 on this split as mean ± sd with
min-max over its models; under it, each two groups trained on the same seeds in words (``group_sentences``): the
exact paired permutation test over the seeds and, beside it, each seed's McNemar test.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QLabel,
    QVBoxLayout,
    QWidget,
)

from core.inspect.scores import PairScores, member_word, spread_text
from gui.compare_pairs import cell, result_table

GROUP_COLUMNS = ["Group", "Models", "Accuracy\nmean ± sd (min-max)", "Macro F1\nmean ± sd (min-max)", "Seeds or folds"]
GROUP_TIPS = [
    "Models of one group of runs: one setting trained again with other seeds (or on other folds)",
    "How many of the group's models are scored here",
    "The models' accuracy on this split, in %: mean ± standard deviation over them, and the lowest and highest",
    "The models' macro-F1 on this split, in %: mean ± standard deviation, lowest and highest",
    "Which model is which seed (or fold)",
]
MAX_TABLE_HEIGHT = 220  # pixels: about six groups, then it scrolls
NO_GROUPS = ("Groups need two or more models of one group of runs repeated over seeds or folds: train with "
             "\"Repeat with N seeds\" (or train --repeat N) and open them together.")


class GroupTable(QWidget):
    """Each group of models as a row (mean ± sd, min-max), then each pair of groups' test over seeds in words."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pairs: PairScores | None = None
        self.caption = QLabel(NO_GROUPS)
        self.caption.setWordWrap(True)
        self.table = result_table(GROUP_COLUMNS, GROUP_TIPS)
        self.words = QLabel()
        self.words.setWordWrap(True)
        self.words.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.table)
        layout.addWidget(self.words)
        layout.addStretch(1)

    def show_pairs(self, pairs: PairScores | None, colors: dict[str, str]) -> None:
        self.pairs = pairs
        groups = pairs.groups if pairs is not None else []
        self.table.setRowCount(len(groups))
        if not groups:
            self.caption.setText(NO_GROUPS)
            self.words.clear()
            return
        self.caption.setText(f"Each group's models scored on the same {pairs.comparison.count:,} rows: their spread "
                             "over seeds (or folds) on this split, in %.")
        for row, g in enumerate(groups):
            name = cell(g.label, g.line())
            name.setForeground(QColor(colors.get(next(iter(g.members.values())), "#000000")))
            font = name.font()
            font.setBold(True)
            name.setFont(font)
            members = "\n".join(f"{member_word(g.kind, m)}: {n}" for m, n in g.members.items())
            seeds = ", ".join(member_word(g.kind, m) for m in g.members)
            cells = [name, cell(g.count_text), cell(spread_text(g.accuracy), g.line()),
                     cell(spread_text(g.macro_f1)), cell(seeds, members)]
            for col, item in enumerate(cells):
                self.table.setItem(row, col, item)
        rows_height = sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        self.table.setMaximumHeight(min(MAX_TABLE_HEIGHT, self.table.horizontalHeader().sizeHint().height()
                                        + rows_height + 2 * self.table.frameWidth() + 2))  # the words just below
        lines = [g.line() for g in groups]
        sentences = pairs.group_sentences()
        if sentences:
            lines += ["", *sentences]
        elif len(groups) > 1:
            lines += ["", "No two groups share two or more seeds (or folds): no paired test over them."]
        said = {p.note for p in pairs.group_pairs}  # the folds' caveat: once, in its pair's words
        by_note: dict[str, list[str]] = {}
        for g in groups:
            for note in g.notes:
                by_note.setdefault(note, []).append(g.label)
        notes = [f"{', '.join(labels)}: {note}." for note, labels in by_note.items() if note not in said]
        self.words.setText("\n".join(lines + (["", *notes] if notes else [])))
