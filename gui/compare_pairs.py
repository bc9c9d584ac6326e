"""The Compare screen's pairs of models, fed a ``core.inspect.scores.PairScores``.

``PairTable``: one row per pair of models scored on the same rows, the differences in accuracy and macro-F1
with their paired-bootstrap 95% intervals, the exact McNemar test with Holm's correction, and each pair said in
words. ``AgreementMatrix``: for one pair, the rows both get right, only one of them, neither; choosing a cell
asks for those rows (``rows_chosen``), and the "either is right" oracle is written under it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.inspect.scores import PairScores
from core.uncertainty import ALPHA, p_text

PAIR_COLUMNS = [
    "Pair (A - B)", "Δ accuracy\n[95% CI]", "Δ macro F1\n[95% CI]", "Only A\nright", "Only B\nright",
    "McNemar\np", "Holm\np", "Significant",
]  # fmt: skip
PAIR_TIPS = [
    "Model A against model B, on the same rows",
    "Accuracy of A minus accuracy of B, in points, with the paired-bootstrap 95% interval (both models scored on "
    "each resample of the rows)",
    "Macro-F1 of A minus macro-F1 of B, in points, with the paired-bootstrap 95% interval",
    "Rows only A gets right (B gets them wrong)",
    "Rows only B gets right (A gets them wrong)",
    "The exact two-sided McNemar test on the rows only one of the two gets right",
    "McNemar's p with Holm's correction over every pair compared here",
    f"Significant: Holm's p below {ALPHA:.2f}, a difference these rows can tell apart",
]
NO_PAIRS = "Pairs need two or more models scored on the same rows."


def _points(value: float, ci: tuple[float, float]) -> str:
    """"+1.2 [-0.4, +2.8]": a difference of shares and its interval, in points."""
    return f"{100 * value:+.1f} [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def _p(p: float) -> str:
    """"0.97", "0.0031", "< 0.0001": ``p_text`` without its "p = "."""
    return p_text(p).removeprefix("p = ").removeprefix("p ")


def cell(text: str, tip: str | None = None) -> QTableWidgetItem:
    """A centred, read-only result cell, with a tooltip when given."""
    item = QTableWidgetItem(text)
    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
    if tip:
        item.setToolTip(tip)
    return item


def result_table(columns: list[str], tips: list[str]) -> QTableWidget:
    """A read-only table of whole-row selection, its headers with tooltips, its columns fitted to their contents."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    for col, tip in enumerate(tips):
        table.horizontalHeaderItem(col).setToolTip(tip)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


class PairTable(QWidget):
    """Every pair's paired differences and McNemar test, and each pair in words below; choosing a row
    emits ``pair_chosen`` with its index into ``PairScores.comparison.pairs``."""

    pair_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pairs: PairScores | None = None
        self.caption = QLabel(NO_PAIRS)
        self.caption.setWordWrap(True)
        self.table = result_table(PAIR_COLUMNS, PAIR_TIPS)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.currentCellChanged.connect(lambda row, *_: row >= 0 and self.pair_chosen.emit(row))
        self.words = QLabel()
        self.words.setWordWrap(True)
        self.words.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.words)

    def show_pairs(self, pairs: PairScores | None, colors: dict[str, str]) -> None:
        self.pairs = pairs
        self.table.setRowCount(0)
        if pairs is None or not pairs.comparison.pairs:
            self.caption.setText(NO_PAIRS)
            self.words.clear()
            return
        c = pairs.comparison
        holm = f"; Holm's correction over the {len(c.pairs)} pairs" if len(c.pairs) > 1 else ""
        self.caption.setText(
            f"Paired bootstrap ({pairs.resamples:,} resamples, seed {pairs.seed}) and exact McNemar on the same "
            f"{c.count:,} rows{holm}.")
        self.table.setRowCount(len(c.pairs))
        for row, p in enumerate(c.pairs):
            a, b = pairs.names[p.a], pairs.names[p.b]
            name = cell(f"{a} - {b}", p.sentence(a, b))
            name.setForeground(QColor(colors.get(a if p.accuracy_diff >= 0 else b, "#000000")))
            cells = [name, cell(_points(p.accuracy_diff, p.accuracy_diff_ci)),
                     cell(_points(p.macro_f1_diff, p.macro_f1_diff_ci)), cell(f"{p.a_only:,}"),
                     cell(f"{p.b_only:,}"), cell(_p(p.p)), cell(_p(p.p_holm)),
                     cell("yes" if p.significant else "no")]
            for col, item in enumerate(cells):
                self.table.setItem(row, col, item)
        lines = pairs.sentences()
        if pairs.left_out:
            lines += [f"{n} is left out: {why}" for n, why in pairs.left_out.items()]
        self.words.setText("\n".join(lines))


CELLS = (("both_right", "a_only"), ("b_only", "both_wrong"))  # rows: A right, A wrong; columns: B right, B wrong


def cell_caption(kind: str, a: str, b: str) -> str:
    return {"both_right": f"Rows both {a} and {b} get right", "a_only": f"Rows only {a} gets right",
            "b_only": f"Rows only {b} gets right", "both_wrong": f"Rows both {a} and {b} get wrong"}[kind]


class AgreementMatrix(QWidget):
    """For one pair: how many rows both get right, only A, only B, neither. Clicking a cell (or Enter on it)
    emits ``rows_chosen(rows, caption, model)``: the rows, what they are, whose answers to show."""

    rows_chosen = Signal(object, str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pairs: PairScores | None = None
        self.pair = QComboBox()
        self.pair.setToolTip("Which pair of models to set side by side")
        self.pair.currentIndexChanged.connect(self._fill)
        self.grid = QTableWidget(2, 2)
        self.grid.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.grid.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.grid.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.grid.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.grid.setToolTip("Click a cell (or press Enter on it) to list its rows beside")
        self.grid.cellClicked.connect(self.choose)
        self.grid.cellActivated.connect(self.choose)
        self.oracle = QLabel()
        self.oracle.setWordWrap(True)
        head = QHBoxLayout()
        label = QLabel("&Pair:")
        label.setBuddy(self.pair)
        head.addWidget(label)
        head.addWidget(self.pair, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(head)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.oracle)
        self._fill(-1)

    def show_pairs(self, pairs: PairScores | None) -> None:
        self.pairs = pairs
        current = self.pair.currentIndex()
        self.pair.blockSignals(True)
        self.pair.clear()
        self.pair.addItems([f"{g.a} and {g.b}" for g in (pairs.agreements if pairs else [])])
        self.pair.blockSignals(False)
        if pairs and 0 <= current < len(pairs.agreements):
            self.pair.setCurrentIndex(current)
        self._fill(self.pair.currentIndex())

    def set_pair(self, index: int) -> None:
        if 0 <= index < self.pair.count():
            self.pair.setCurrentIndex(index)

    def _fill(self, index: int) -> None:
        pairs = self.pairs
        self.grid.clearContents()
        if pairs is None or not 0 <= index < len(pairs.agreements):
            self.grid.setHorizontalHeaderLabels(["B right", "B wrong"])
            self.grid.setVerticalHeaderLabels(["A right", "A wrong"])
            self.oracle.setText(NO_PAIRS)
            return
        g = pairs.agreements[index]
        self.grid.setHorizontalHeaderLabels([f"{g.b} right", f"{g.b} wrong"])
        self.grid.setVerticalHeaderLabels([f"{g.a} right", f"{g.a} wrong"])
        for r, row in enumerate(CELLS):
            for c, kind in enumerate(row):
                rows = getattr(g, kind)
                item = cell(f"{len(rows):,}\n{len(rows) / max(g.count, 1):.1%}",
                             f"{cell_caption(kind, g.a, g.b)}: click to list them")
                font = item.font()
                font.setPointSizeF(font.pointSizeF() * 1.3)
                item.setFont(font)
                self.grid.setItem(r, c, item)
        text = f"Either is right: {g.either_right:.1%} of the {g.count:,} rows (one of {g.a} and {g.b} gets it right)"
        if len(pairs.names) > 2:
            text += f"; any of the {len(pairs.names)} models: {pairs.oracle:.1%}"
        self.oracle.setText(text + ".")

    def choose(self, row: int, col: int) -> None:
        pairs, index = self.pairs, self.pair.currentIndex()
        if pairs is None or not 0 <= index < len(pairs.agreements):
            return
        g = pairs.agreements[index]
        kind = CELLS[row][col]
        rows = np.asarray(getattr(g, kind))
        model = g.a if kind in ("both_right", "both_wrong", "b_only") else g.b  # the one that is wrong, if one is
        self.rows_chosen.emit(rows, cell_caption(kind, g.a, g.b), model)
