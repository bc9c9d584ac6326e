"""The prediction after each token of a traced text: how the model's mind changes word by word.

Points sit at column centres (x = token + 0.5) like the heatmap's columns, and the left axis has the
heatmap's fixed width, so a word's probability lines up under its heatmap column. Curves are made
once per class count and updated with ``setData``.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, Qt, Signal
from PySide6.QtGui import QPalette, QResizeEvent
from PySide6.QtWidgets import QWidget

from core.model.trace import Trace
from gui.gate_heatmap import LEFT_AXIS_WIDTH
from gui.theme import EXTRA_COLORS, KIND_COLORS, style_plot
from gui.token_axis import fit_column_ticks, token_labels

CLASS_COLORS = [KIND_COLORS["lstm"], KIND_COLORS["rnn"], KIND_COLORS["gru"], *EXTRA_COLORS]


class ProbabilityPlot(pg.PlotWidget):
    """``ProbabilityPlot(trace)``: P(positive) after each token (every class when there are more than two)."""

    hovered = Signal(int)  # the token index under the mouse

    def __init__(self, trace: Trace | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot_item: pg.PlotItem = self.getPlotItem()
        self.plot_item.setMouseEnabled(False, False)
        self.plot_item.setMenuEnabled(False)
        self.plot_item.hideButtons()
        self.plot_item.showGrid(y=True, alpha=0.25)
        self.plot_item.setYRange(0.0, 1.0, padding=0.06)
        self.plot_item.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.plot_item.getAxis("left").setTicks([[(0.0, "0"), (0.5, "0.5"), (1.0, "1")]])
        # chance: 1/k for k classes (0.5 for the one curve of a binary model)
        self.threshold = pg.InfiniteLine(pos=0.5, angle=0, pen=pg.mkPen("#888888", width=1, style=Qt.PenStyle.DashLine),
                                         label="chance", labelOpts={"position": 0.98, "color": "#888888"})
        self.plot_item.addItem(self.threshold)
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#888888", width=1))
        self.marker.hide()
        self.plot_item.addItem(self.marker)
        self.legend = self.plot_item.addLegend(offset=(-8, 4))
        self.curves: list[pg.PlotDataItem] = []
        self.trace: Trace | None = None
        self._labels: list[str] = []
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self._apply_palette()
        if trace is not None:
            self.set_trace(trace)

    def set_trace(self, trace: Trace | None, color: str | None = None) -> None:
        """Plot the prefix probabilities of ``trace``; ``color`` is used for the one curve of a binary model."""
        if trace is None or not trace.tokens:
            self.clear_trace()
            return
        probs = np.asarray(trace.prefix_probabilities, dtype=np.float64)  # (tokens, classes)
        n, classes = probs.shape
        shown = [1] if classes == 2 else list(range(classes))
        self._ensure_curves(trace, shown)
        x = np.arange(n, dtype=np.float64) + 0.5
        for k, (curve, cls) in enumerate(zip(self.curves, shown, strict=True)):
            pen_color = color if (classes == 2 and color) else CLASS_COLORS[k % len(CLASS_COLORS)]
            curve.setPen(pg.mkPen(pen_color, width=2))
            curve.setSymbolBrush(pen_color)
            curve.setSymbolPen(pen_color)
            curve.setSymbolSize(6 if n <= 60 else 0)
            curve.setData(x, probs[:, cls])
        self.trace = trace
        self._labels = token_labels(trace)
        self._fit_ticks()
        names = trace.label_names or [str(c) for c in range(classes)]
        self.plot_item.setLabel("left", f"P({names[1]})" if classes == 2 else "P(class)")
        self.threshold.setValue(1.0 / classes)
        self.plot_item.setXRange(0, n, padding=0)
        self.plot_item.setYRange(0.0, 1.0, padding=0.06)
        self.marker.hide()

    def clear_trace(self) -> None:
        for curve in self.curves:
            curve.setData(np.zeros(0), np.zeros(0))
        self.trace, self._labels = None, []
        self._fit_ticks()
        self.marker.hide()

    def curve_data(self, index: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The (x, y) arrays of one curve (for tests and export)."""
        x, y = self.curves[index].getData()
        return (np.zeros(0) if x is None else x), (np.zeros(0) if y is None else y)

    def set_marker(self, index: int) -> None:
        """Draw a vertical line at token ``index`` (the word hovered in the heatmap)."""
        if self.trace is None or not 0 <= index < len(self.trace.tokens):
            self.marker.hide()
            return
        self.marker.setPos(index + 0.5)
        self.marker.show()

    def _ensure_curves(self, trace: Trace, shown: list[int]) -> None:
        """Make the curves when the number of classes (or their names) changes, never per update."""
        names = trace.label_names or [str(c) for c in range(trace.prefix_probabilities.shape[1])]
        wanted = [names[c] for c in shown]
        if [c.name() for c in self.curves] == wanted:
            return
        for curve in self.curves:
            self.plot_item.removeItem(curve)
        self.legend.clear()
        self.curves = [self.plot_item.plot(name=name, symbol="o") for name in wanted]
        self.legend.setVisible(len(wanted) > 1)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self.trace is None or not self.plot_item.vb.sceneBoundingRect().contains(scene_pos):
            return
        col = math.floor(self.plot_item.vb.mapSceneToView(scene_pos).x())
        if 0 <= col < len(self.trace.tokens):
            self.hovered.emit(col)

    def _fit_ticks(self) -> None:
        axis = self.plot_item.getAxis("bottom")
        fit_column_ticks(axis, self._labels, self.width() - LEFT_AXIS_WIDTH, self.fontMetrics())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if getattr(self, "legend", None) is not None:  # (resized while the base class is being built)
            self._fit_ticks()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange and getattr(self, "legend", None) is not None:
            self._apply_palette()  # (Qt also calls this while the base class is being built)
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        palette = self.palette()
        style_plot(self, self.plot_item, palette)
        self.legend.setLabelTextColor(palette.color(QPalette.ColorRole.Text))
