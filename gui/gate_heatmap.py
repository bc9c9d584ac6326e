"""A heatmap of one traced text: a column per token, a row per gate or state (or per unit).

One ``ImageItem`` and one colour bar are created once and fed new arrays, so re-tracing on every
pause in typing costs a ``setImage``, not a scene rebuild. Gates (0..1) and states (-1..1) share one
diverging scale, so a colour means the same number in every row: gates use only its warm half, and
a cell state beyond +-1 is clipped in colour (hovering shows the exact value).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QCursor, QPalette, QPen, QResizeEvent
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QToolTip, QVBoxLayout, QWidget

from core.model.trace import GATE_NAMES, Trace
from gui.theme import style_plot
from gui.token_axis import MIN_COLUMN_PX, TokenAxis, axis_ticks, token_labels, word_of

# Rows shown in "mean" and "unit" modes, top to bottom: gates, then states.
HEATMAP_ROWS: dict[str, tuple[str, ...]] = {
    "lstm": ("input", "forget", "output", "cell", "hidden"),
    "gru": ("reset", "update", "candidate", "hidden"),
    "rnn": ("hidden",),
}
STATES = frozenset({"cell", "hidden", "candidate"})  # range -1..1 (cell unbounded); the rest are gates in 0..1
ROW_TITLES = {
    "input": "input gate",
    "forget": "forget gate",
    "output": "output gate",
    "reset": "reset gate",
    "update": "update gate",
    "candidate": "candidate",
    "cell": "cell state",
    "hidden": "hidden state",
}
MODES = ("mean", "unit", "gate")
LEFT_AXIS_WIDTH = 96  # fixed, so the probability plot below can line its columns up with ours
SCALE_NOTE = (
    "Colour: one scale from −1 (blue) to +1 (red). Gates lie in 0…1, states in −1…1; "
    "a cell state beyond ±1 is clipped in colour."
)
DIVERGING = pg.colormap.get("CET-D1")  # blue - white - red: the sign of a state reads at a glance
SEQUENTIAL = pg.colormap.get("viridis")  # for one gate's 0..1 alone
ATTRIBUTION = pg.colormap.get("CET-D3")  # green - white - red, turned so that green is "for the class"
ATTRIBUTION.reverse()  # a different scale from the gates': an attribution is no gate value
ATTRIBUTION_ROW_PX = 30


def attribution_color(score: float, bound: float) -> QColor:
    """The colour of one attribution on the scale -bound (red, against) .. +bound (green, for)."""
    position = 0.5 if bound <= 0 else 0.5 + 0.5 * float(np.clip(score / bound, -1.0, 1.0))
    return ATTRIBUTION.map(position, mode="qcolor")


def min_width(tokens: int) -> int:
    """The narrowest the heatmap may be for ``tokens`` columns, each wide enough for an upright word."""
    return LEFT_AXIS_WIDTH + tokens * MIN_COLUMN_PX


class GateHeatmap(QWidget):
    """``GateHeatmap(trace)``: gates and states of one layer/direction of a ``Trace``, per token."""

    hovered = Signal(int)  # the token index under the mouse

    def __init__(self, trace: Trace | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = pg.GraphicsLayoutWidget()
        self.view.ci.setContentsMargins(0, 0, 0, 0)
        self.colorbar = pg.ColorBarItem(
            values=(-1.0, 1.0),
            colorMap=DIVERGING,
            orientation="horizontal",
            interactive=False,
            width=10,
            colorMapMenu=False,
        )
        self.view.addItem(self.colorbar, row=0, col=0)
        left = self.colorbar.getAxis("left")  # as wide as the heatmap's, so the bar spans the image only
        left.setWidth(LEFT_AXIS_WIDTH)
        left.setStyle(showValues=True, tickLength=0)
        left.setTicks([[(0.5, "value")]])
        self.colorbar.getAxis("right").setWidth(0)
        # the attribution row: its own image and scale above the gates, its columns tied to theirs
        self.attr_plot: pg.PlotItem = self.view.addPlot(row=1, col=0)
        self.attr_image = pg.ImageItem(axisOrder="row-major")
        self.attr_image.setColorMap(ATTRIBUTION)
        self.attr_plot.addItem(self.attr_image)
        self.attr_plot.invertY(True)
        self.attr_plot.setMouseEnabled(False, False)
        self.attr_plot.setMenuEnabled(False)
        self.attr_plot.hideButtons()
        self.attr_plot.hideAxis("bottom")
        self.attr_plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.attr_plot.setFixedHeight(ATTRIBUTION_ROW_PX)
        self.attr_plot.hide()
        self.word_axis = TokenAxis()
        self.plot: pg.PlotItem = self.view.addPlot(row=2, col=0, axisItems={"bottom": self.word_axis})
        self.attr_plot.setXLink(self.plot)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.colorbar.setImageItem(self.image)
        self.plot.invertY(True)  # first row at the top, like a table
        self.plot.setMouseEnabled(False, False)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.marker = QGraphicsRectItem()  # outlines the hovered cell
        self.marker.setZValue(10)
        self.marker.hide()
        self.plot.addItem(self.marker)
        self.readout = QLabel()
        self.readout.setWordWrap(True)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.readout)
        self.view.scene().sigMouseMoved.connect(self._on_mouse_moved)

        self.trace: Trace | None = None
        self.attribution: np.ndarray | None = None  # (tokens,) the attribution row's values, when shown
        self.attribution_title = ""  # e.g. "why positive"
        self.attribution_note = ""  # what the row's values are, for the readout
        self.data: np.ndarray | None = None  # (rows, tokens) exact values shown
        self.row_names: list[str] = []  # gate/state names, or "unit k" in gate mode
        self.mode, self.gate = "mean", "forget"
        self.unit = self.layer = self.direction = 0
        self.hovered_row = self.hovered_col = -1
        self._labels: list[str] = []
        self._row_labels: list[str] = []
        self._cmap = DIVERGING
        self.note = SCALE_NOTE
        self._apply_palette()
        self.set_trace(trace)

    # data --------------------------------------------------------------------------------------
    def set_trace(
        self,
        trace: Trace | None,
        mode: str = "mean",
        unit: int = 0,
        gate: str = "forget",
        layer: int = -1,
        direction: int = 0,
    ) -> None:
        """Show ``trace``: mean over units, one ``unit``, or every unit of one ``gate`` (units x tokens)."""
        if trace is None or not trace.tokens:
            self.clear()
            return
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        cell = trace.cell(layer, direction)
        hidden = next(iter(cell.values.values())).shape[1]
        self.trace, self.mode, self.layer, self.direction = trace, mode, layer, direction
        self.unit = int(np.clip(unit, 0, hidden - 1))
        self.gate = gate if gate in cell.values else GATE_NAMES[trace.kind][0]
        levels, cmap, note = (-1.0, 1.0), DIVERGING, SCALE_NOTE
        if mode == "gate":
            data = cell.values[self.gate].T  # (units, tokens)
            self.row_names = [f"unit {k}" for k in range(hidden)]
            row_labels = self.row_names
            if self.gate == "cell":  # unbounded: a symmetric range keeps 0 at the neutral colour
                bound = max(1.0, float(np.abs(data).max()))
                levels, note = (-bound, bound), f"Colour: cell state from −{bound:.3g} to +{bound:.3g}."
            elif self.gate not in STATES:  # one gate alone: its own 0..1 scale shows more contrast
                levels, cmap, note = (0.0, 1.0), SEQUENTIAL, "Colour: gate value from 0 (closed) to 1 (open)."
            else:
                note = f"Colour: {ROW_TITLES[self.gate]} from −1 to +1."
        else:
            names = HEATMAP_ROWS[trace.kind]
            pick = (lambda v: v.mean(axis=1)) if mode == "mean" else (lambda v: v[:, self.unit])
            data = np.stack([pick(cell.values[n]) for n in names])  # (rows, tokens)
            self.row_names = list(names)
            row_labels = [ROW_TITLES[n] for n in names]
        self.data = np.ascontiguousarray(data, dtype=np.float32)
        rows, cols = self.data.shape
        self.image.setImage(self.data, autoLevels=False, levels=levels)
        self.image.setRect(QRectF(0, 0, cols, rows))
        if cmap is not self._cmap:
            self.colorbar.setColorMap(cmap)
            self._cmap = cmap
        self.colorbar.setLevels(levels)
        bar_ticks = np.linspace(levels[0], levels[1], 5)
        self.colorbar.getAxis("bottom").setTicks([[(float(v), f"{v:.3g}") for v in bar_ticks]])
        self._labels, self._row_labels = token_labels(trace), row_labels
        self._fit_ticks()
        self.plot.setXRange(0, cols, padding=0)
        self.plot.setYRange(0, rows, padding=0)
        self.marker.hide()
        if self.attribution is not None and len(self.attribution) != cols:
            self.set_attribution(None)  # from an older text: the Try screen sends the new one when ready
        self.hovered_row = self.hovered_col = -1
        self.note = note + " Hover for exact values."
        self.readout.setText(self.note)

    def set_attribution(self, scores: np.ndarray | None, title: str = "", note: str = "") -> None:
        """Show one signed value per token in the row above the gates (None hides the row).

        The scale is symmetric around 0 and spans the largest magnitude, so white is "no effect" and
        the strongest word is full green (toward the class in ``title``) or red (against it)."""
        if scores is None or self.data is None or len(scores) != self.data.shape[1]:
            self.attribution = None
            self.attr_image.clear()
            self.attr_plot.hide()
            return
        self.attribution = np.asarray(scores, dtype=np.float32)
        self.attribution_title, self.attribution_note = title, note
        bound = float(np.abs(self.attribution).max()) or 1.0
        self.attr_image.setImage(self.attribution[None, :], autoLevels=False, levels=(-bound, bound))
        self.attr_image.setRect(QRectF(0, 0, len(self.attribution), 1))
        self.attr_plot.setYRange(0, 1, padding=0)
        self.attr_plot.getAxis("left").setTicks([[(0.5, title)]])
        self.attr_plot.show()
        self.readout.setText(f"{self.note} The “{title}” row has its own scale: green words push toward the class, "
                             f"red words away, the strongest at ±{bound:.3g}.")

    def clear(self, message: str = "Type a sentence above to see inside the model.") -> None:
        self.set_attribution(None)
        self.trace, self.data, self.row_names, self._labels, self._row_labels = None, None, [], [], []
        self.image.clear()
        self._fit_ticks()
        self.marker.hide()
        self.hovered_row = self.hovered_col = -1
        self.readout.setText(message)

    def image_shape(self) -> tuple[int, int]:
        """(rows, columns) of the image shown; (0, 0) when empty."""
        return (0, 0) if self.data is None else self.data.shape

    def row_labels(self) -> list[str]:
        """The gate/state names of the rows (or "unit k" in gate mode), top to bottom."""
        return list(self.row_names)

    def value_at(self, row: int, col: int) -> float:
        if self.data is None:
            raise IndexError("the heatmap is empty")
        return float(self.data[row, col])

    # hover -------------------------------------------------------------------------------------
    def cell_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        """The (row, column) under a scene position, or None outside the image."""
        if self.data is None or not self.plot.vb.sceneBoundingRect().contains(scene_pos):
            return None
        p = self.plot.vb.mapSceneToView(scene_pos)
        row, col = math.floor(p.y()), math.floor(p.x())
        rows, cols = self.data.shape
        return (row, col) if 0 <= row < rows and 0 <= col < cols else None

    def hover_cell(self, row: int, col: int) -> str:
        """Describe one cell in the readout, outline it and emit ``hovered(col)``; returns the text."""
        if self.trace is None or self.data is None:
            return ""
        value = self.value_at(row, col)
        if self.mode == "gate":
            what = f"{ROW_TITLES.get(self.gate, self.gate)}, unit {row}"
        elif self.mode == "unit":
            what = f"{ROW_TITLES[self.row_names[row]]}, unit {self.unit}"
        else:
            what = f"{ROW_TITLES[self.row_names[row]]} (mean over units)"
        text = f"{what}, word {word_of(self.trace, col)} ({col + 1} of {self.data.shape[1]}): {value:.3f}"
        self.readout.setText(text)
        self.marker.setRect(QRectF(col, row, 1, 1))
        self.marker.show()
        self.hovered_row, self.hovered_col = row, col
        self.hovered.emit(col)
        return text

    def attribution_at(self, scene_pos: QPointF) -> int | None:
        """The token column under a scene position in the attribution row, or None."""
        if self.attribution is None or not self.attr_plot.vb.sceneBoundingRect().contains(scene_pos):
            return None
        col = math.floor(self.attr_plot.vb.mapSceneToView(scene_pos).x())
        return col if 0 <= col < len(self.attribution) else None

    def hover_attribution(self, col: int) -> str:
        """Describe one token's attribution in the readout and emit ``hovered(col)``; returns the text."""
        if self.trace is None or self.attribution is None:
            return ""
        text = (f"{self.attribution_title}, word {word_of(self.trace, col)} ({col + 1} of {len(self.attribution)}): "
                f"{self.attribution[col]:+.3f}. {self.attribution_note}")
        self.readout.setText(text)
        self.marker.hide()
        self.hovered_row, self.hovered_col = -1, col
        self.hovered.emit(col)
        return text

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        col = self.attribution_at(scene_pos)
        if col is not None:
            if (self.hovered_row, self.hovered_col) != (-1, col):
                QToolTip.showText(QCursor.pos(), self.hover_attribution(col), self.view)
            return
        hit = self.cell_at(scene_pos)
        if hit is None or hit == (self.hovered_row, self.hovered_col):
            return
        text = self.hover_cell(*hit)
        QToolTip.showText(QCursor.pos(), text, self.view)

    # look --------------------------------------------------------------------------------------
    def _fit_ticks(self) -> None:
        """Every word under its column (upright when needed); as many row labels as fit."""
        metrics = self.fontMetrics()
        columns = max(len(self._labels), 1)
        self.word_axis.set_labels(self._labels, (self.view.width() - LEFT_AXIS_WIDTH) / columns, metrics)
        rows = self._row_labels
        row_space = self.view.height() - 40 - self.word_axis.height()  # less the colour bar and the words
        self.plot.getAxis("left").setTicks(axis_ticks(rows, row_space, metrics.height() + 2) if rows else [[]])

    def column_labels(self) -> list[str]:
        """The word shown under each column (every column has one)."""
        return self.word_axis.labels()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_ticks()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange and getattr(self, "marker", None) is not None:
            self._apply_palette()  # (Qt also calls this while the base class is being built)
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        palette = self.palette()
        style_plot(self.view, self.plot, palette)
        fg = palette.color(QPalette.ColorRole.Text)
        for name in ("left", "bottom", "right", "top"):
            axis = self.colorbar.getAxis(name)
            axis.setPen(fg)
            axis.setTextPen(fg)
        style_plot(self.view, self.attr_plot, palette)
        pen = QPen(QColor(fg))
        pen.setCosmetic(True)
        pen.setWidth(2)
        self.marker.setPen(pen)
