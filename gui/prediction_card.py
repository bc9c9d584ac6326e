"""One model's prediction on the Try screen: its name in its colour, the label, a bar per class."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QWidget

if TYPE_CHECKING:
    from core.model.sentiment_model import SentimentModel


class ProbabilityBar(QWidget):
    """A horizontal bar for one probability, painted in the model's colour, with the % beside it."""

    TEXT_WIDTH = 48

    def __init__(self, color: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.color = QColor(color)
        self._value: float | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def value(self) -> float | None:
        return self._value

    def set_value(self, value: float | None) -> None:
        self._value = None if value is None else float(value)
        self.setToolTip("" if value is None else f"{value:.4f}")
        self.update()

    def text(self) -> str:
        return "—" if self._value is None else f"{100 * self._value:.1f}%"

    def sizeHint(self) -> QSize:
        return QSize(160, self.fontMetrics().height() + 4)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        pal = self.palette()
        track = QRectF(0, 2, max(0, self.width() - self.TEXT_WIDTH - 4), self.height() - 4)
        painter.setPen(pal.color(QPalette.ColorRole.Mid))
        painter.setBrush(pal.color(QPalette.ColorRole.Base))
        painter.drawRect(track)
        if self._value is not None:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.color)
            filled = track.width() * min(max(self._value, 0.0), 1.0)
            painter.drawRect(QRectF(track.x(), track.y(), filled, track.height()))
        painter.setPen(pal.color(QPalette.ColorRole.WindowText))
        text_rect = QRectF(self.width() - self.TEXT_WIDTH, 0, self.TEXT_WIDTH, self.height())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, self.text())


class PredictionCard(QFrame):
    """One model's prediction: its name in its colour, the predicted label, a bar per class."""

    def __init__(self, name: str, model: SentimentModel, color: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.name = name
        self.title = QLabel(f"<b style='color:{color}'>{html.escape(name)}</b>")
        self.title.setToolTip(
            f"{model.kind.upper()}, {model.config.hidden_size} units, "
            f"{model.config.num_layers} layer(s), "
            f"{'bidirectional' if model.config.bidirectional else 'left to right'}"
        )
        self.label = QLabel("—")
        font = QFont(self.label.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.label.setFont(font)
        self.class_names = list(model.label_names)
        self.bars = [ProbabilityBar(color) for _ in self.class_names]
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 6, 8, 6)
        grid.setVerticalSpacing(2)
        grid.addWidget(self.title, 0, 0)
        grid.addWidget(self.label, 0, 1, Qt.AlignmentFlag.AlignRight)
        for row, (cls, bar) in enumerate(zip(self.class_names, self.bars, strict=True), start=1):
            grid.addWidget(QLabel(cls), row, 0)
            grid.addWidget(bar, row, 1)
        grid.setColumnStretch(1, 1)
        self.setMinimumWidth(260)

    def set_probabilities(self, probs: np.ndarray | None) -> None:
        """Show one prediction, or dashes when there is nothing to predict."""
        for k, bar in enumerate(self.bars):
            bar.set_value(None if probs is None else float(probs[k]))
        self.label.setText("—" if probs is None else self.class_names[int(np.argmax(probs))])

    def predicted(self) -> str:
        return self.label.text()
