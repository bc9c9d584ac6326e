"""Words on a plot axis: a token's label as typed, and an axis that labels every token column.

The Try screen's heatmap is read word by word, so ``TokenAxis`` shows every column's word: level
when they all fit side by side, else turned upright (read bottom to top) and cut to
``MAX_LABEL_CHARS`` with "…"; hovering a column shows the whole word. Columns are never narrower
than ``MIN_COLUMN_PX``: past that the Try screen scrolls sideways instead of dropping labels.
"""

from __future__ import annotations

import math
import unicodedata

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QFontMetrics, QPainter

from core.model.trace import Trace
from core.text.tokenizer import UNK

MAX_LABEL_CHARS = 12
MIN_COLUMN_PX = 13  # an upright label needs a line's height of width; 60 words fit in ~800 px


def clean_label(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    """A token made safe for an axis label: control and bidi-format characters shown as '·', long ones cut."""
    text = "".join("·" if unicodedata.category(ch).startswith("C") else ch for ch in text) or "·"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def token_labels(trace: Trace) -> list[str]:
    """One label per token, as typed for unknown words; a token continuing its word gets a '##' prefix."""
    labels = []
    for i, token in enumerate(trace.tokens):
        start, end = (int(x) for x in trace.offsets[i])
        typed = trace.text[start:end] if token == UNK and end > start else ""
        label = clean_label(typed or token)  # an unknown word shows as typed; hovering says it was [UNK]
        if i and trace.word_ids[i] == trace.word_ids[i - 1] and trace.word_ids[i] >= 0 and not label.startswith("##"):
            label = "##" + label
        labels.append(label)
    return labels


def word_of(trace: Trace, index: int) -> str:
    """What the person typed for token ``index`` (so an [UNK] can still be recognised)."""
    start, end = (int(v) for v in trace.offsets[index])
    typed = clean_label(trace.text[start:end], 24)
    token = trace.tokens[index]
    return f"{UNK} “{typed}”" if token == UNK and typed not in ("", "·") else f"“{typed or token}”"


def axis_ticks(labels: list[str], space_px: float, label_px: float) -> list[list[tuple[float, str]]]:
    """Ticks at column (or row) centres: every label when all fit in ``space_px``, else every k-th
    as major and the rest as minor (pyqtgraph draws minor labels only where they fit)."""
    fit = max(1, int(space_px // max(label_px, 1.0)))
    stride = max(1, math.ceil(len(labels) / fit))
    major = [(i + 0.5, s) for i, s in enumerate(labels) if i % stride == 0]
    minor = [(i + 0.5, s) for i, s in enumerate(labels) if i % stride] if stride > 1 else []
    return [major, minor]


def fit_column_ticks(axis: pg.AxisItem, labels: list[str], space_px: float, metrics: QFontMetrics) -> None:
    """Label as many token columns as fit side by side on a bottom axis (the rest on hover)."""
    widest = max((metrics.horizontalAdvance(s) for s in labels), default=0)
    axis.setTicks(axis_ticks(labels, space_px, widest + 10) if labels else [[]])


class TokenAxis(pg.AxisItem):
    """A bottom axis with a label under every token column, upright when they don't fit level."""

    PADDING = 6

    def __init__(self) -> None:
        super().__init__("bottom")
        self.upright = False
        self._labels: list[str] = []

    def set_labels(self, labels: list[str], column_px: float, metrics: QFontMetrics) -> None:
        """Label every column; turn the labels upright when the widest is wider than a column."""
        self._labels = list(labels)
        widest = max((metrics.horizontalAdvance(s) for s in labels), default=0)
        self.upright = bool(labels) and widest + self.PADDING > column_px
        self.setTicks([[(i + 0.5, s) for i, s in enumerate(labels)]] if labels else [[]])
        self.setHeight(widest + self.PADDING + 8 if self.upright else None)  # None: one line of text

    def labels(self) -> list[str]:
        """Every column's label, as drawn (for tests)."""
        return list(self._labels)

    def drawPicture(self, p: QPainter, axisSpec, tickSpecs, textSpecs) -> None:
        super().drawPicture(p, axisSpec, tickSpecs, [] if self.upright else textSpecs)
        view = self.linkedView()
        if not self.upright or view is None:
            return
        # Placed from the view, not from pyqtgraph's text boxes: those are level text boxes, and the
        # ones that stick out past either end (the first and last words) are dropped.
        top, length = 4.0, self.height() - 6.0
        metrics = p.fontMetrics()
        line = metrics.height()
        for i, label in enumerate(self._labels):
            x = self.mapFromScene(view.mapViewToScene(QPointF(i + 0.5, 0))).x()
            text = metrics.elidedText(label, Qt.TextElideMode.ElideRight, int(length))
            p.save()
            p.translate(x, top)
            p.rotate(-90)  # +x now points up: the word reads bottom to top and ends under its column
            p.drawText(QRectF(-length, -line / 2, length, line),
                       int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), text)
            p.restore()
