"""The Compare screen's views, each named after what it shows and fed ``core.inspect.compare`` results.

``MetricsTable`` (one row per model, or the reason it could not be scored), ``ConfusionGrid``,
``BucketPlot`` (accuracy by length or by gap), ``GradientPlot`` (gradient through time),
``GateHistogram`` (memory-gate values), ``GradNormPlot`` (training gradient norms) and
``MisclassifiedTable``. Colours come from the session, so a model looks the same on every screen.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette
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

from core.data import take_texts
from core.inspect.scores import GATE_TEXTS, MISTAKES_EXPLAINED, SATURATION, ModelScore, ScoreSkipped
from gui.theme import style_plot

COLUMNS = [
    "Model", "Accuracy", "Macro F1", "Precision", "Recall", "Parameters", "Train time", "Tokens/s", "ms/sentence",
]  # fmt: skip
Colors = dict[str, str]


def _bold(item: QTableWidgetItem) -> None:
    font = item.font()
    font.setBold(True)
    item.setFont(font)


class MetricsTable(QTableWidget):
    """One row per model: its scores, or (in italics, across the row) why it could not be scored."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.setMaximumHeight(150)

    def show_rows(self, rows: list[ModelScore | ScoreSkipped], colors: Colors) -> None:
        self.clearSpans()
        self.setRowCount(len(rows))
        scored = [r for r in rows if isinstance(r, ModelScore)]
        best = max((s.result.accuracy for s in scored), default=None)
        for row, entry in enumerate(rows):
            name = QTableWidgetItem(entry.name)
            name.setForeground(QColor(colors[entry.name]))
            _bold(name)
            name.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            self.setItem(row, 0, name)
            if isinstance(entry, ScoreSkipped):
                reason = QTableWidgetItem(f"not scored: {entry.reason}")
                reason.setToolTip(entry.reason)
                font = reason.font()
                font.setItalic(True)
                reason.setFont(font)
                self.setItem(row, 1, reason)
                self.setSpan(row, 1, 1, len(COLUMNS) - 1)
                continue
            r = entry.result
            cells = [
                f"{r.accuracy:.2%}", f"{r.macro_f1:.3f}", f"{np.mean(r.precision):.3f}", f"{np.mean(r.recall):.3f}",
                f"{entry.num_parameters:,}",
                "–" if entry.training_time_s is None else f"{entry.training_time_s:.1f} s",
                "–" if not entry.tokens_per_s else f"{entry.tokens_per_s:,.0f}",
                f"{entry.ms_per_sentence:.2f}",
            ]
            for col, text in enumerate(cells, start=1):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if col == 1 and r.accuracy == best and len(scored) > 1:
                    _bold(item)
                if entry.notes:
                    item.setToolTip("\n".join(entry.notes))
                self.setItem(row, col, item)


class ConfusionGrid(pg.GraphicsLayoutWidget):
    """A row-normalised confusion matrix per model, with the counts written in."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground(self.palette().color(QPalette.ColorRole.Base))

    def show_scores(self, scores: dict[str, ModelScore]) -> None:
        self.clear()
        for i, (name, s) in enumerate(scores.items()):
            cm = np.asarray(s.result.confusion, dtype=np.float64)
            plot = self.addPlot(row=0, col=i, title=name)
            style_plot(self, plot)
            rows = cm.sum(1, keepdims=True)
            frac = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
            img = pg.ImageItem(frac.T)  # ImageItem is (x, y): columns = predicted
            img.setLookupTable(pg.colormap.get("CET-L12").getLookupTable())
            img.setLevels((0, 1))
            plot.addItem(img)
            plot.invertY(True)
            plot.setAspectLocked(True)
            names = s.result.label_names or [str(k) for k in range(len(cm))]
            ticks = [(k + 0.5, n[:10]) for k, n in enumerate(names)]
            plot.getAxis("bottom").setTicks([ticks])
            plot.getAxis("left").setTicks([ticks] if i == 0 else [[]])  # one set of row labels for the row
            plot.setLabel("bottom", "predicted")
            if i == 0:
                plot.setLabel("left", "true")
            plot.setMouseEnabled(False, False)
            plot.hideButtons()
            for (t, p), count in np.ndenumerate(cm):
                label = pg.TextItem(f"{int(count)}", anchor=(0.5, 0.5), color="w" if frac[t, p] > 0.55 else "k")
                label.setPos(p + 0.5, t + 0.5)
                plot.addItem(label)


class BucketPlot(pg.PlotWidget):
    """Accuracy per bucket (of text length, or of gap), one curve per model."""

    def __init__(self, title: str, xlabel: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent, title=title)
        self.setLabel("left", "accuracy")
        if xlabel:
            self.setLabel("bottom", xlabel)
        self.setYRange(0, 1.02)
        self.addLegend(offset=(10, -10), colCount=4)  # one row along the bottom, below most curves
        self.showGrid(y=True, alpha=0.3)
        style_plot(self, self.getPlotItem())

    def show_buckets(self, buckets: dict[str, list], colors: Colors, chance: float | None = None) -> int:
        """Draw ``{model: [bucket with low, high, accuracy]}``; returns the number of buckets."""
        self.clear()
        edges = sorted({(b.low, b.high) for bs in buckets.values() for b in bs})
        index = {e: k for k, e in enumerate(edges)}
        for name, bs in buckets.items():
            if bs:
                xs = np.array([index[(b.low, b.high)] for b in bs], dtype=float)
                ys = np.array([b.accuracy for b in bs], dtype=float)
                self.plot(xs, ys, pen=pg.mkPen(colors[name], width=2), symbol="o", symbolSize=7,
                          symbolBrush=colors[name], name=name)
        labels = [(k, f"{lo:.0f}–{hi - 1:.0f}" if hi < 10**8 else f"{lo:.0f}+") for k, (lo, hi) in enumerate(edges)]
        self.getAxis("bottom").setTicks([labels])
        self.setXRange(-0.5, len(edges) - 0.5, padding=0)  # room for the end ticks' labels
        if edges and chance is not None:
            self.addItem(pg.InfiniteLine(chance, angle=0, pen=pg.mkPen("#888888", style=Qt.PenStyle.DashLine),
                                         label="chance", labelOpts={"position": 0.97}))
        return len(edges)


class GradientPlot(pg.PlotWidget):
    """How much gradient reaches each earlier hidden state, relative to the last one (log10)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setLabel("bottom", "steps back from the last token")
        self.setLabel("left", "log10 (norm / norm at the end)")
        self.addLegend(offset=(10, -10))  # curves fall to the right: bottom left stays free
        self.showGrid(x=True, y=True, alpha=0.3)
        style_plot(self, self.getPlotItem())
        self.setToolTip(
            "How much gradient reaches each earlier hidden state h_t, relative to the last one, averaged over "
            "the split's 64 longest texts.\nModels that read one way and classify from their last state: the "
            "real loss. Others (pooling or a backward direction give every h_t a direct path to the loss): "
            "the recurrence alone, from u·h_T with u = 1/√H, through the first layer's forward direction.")

    def show_scores(self, scores: dict[str, ModelScore], colors: Colors) -> None:
        self.clear()
        curves = {n: s.gradient for n, s in scores.items() if s.gradient is not None}
        for name, curve in curves.items():
            norms = np.maximum(curve.norms, 1e-300)  # float64 keeps ~300 decades; only exact 0 is clamped
            rel = np.log10(norms[::-1] / norms[-1])  # x = steps back from the end
            self.plot(np.arange(rel.size, dtype=float), rel, pen=pg.mkPen(colors[name], width=2), name=name)
        exact = [c.exact_loss for c in curves.values()]
        if exact and all(exact):
            what = "‖∂loss/∂h_t‖"
        elif any(exact):
            what = "‖∂loss/∂h_t‖ (one-way) or ‖∂(u·h_T)/∂h_t‖ (others)"
        else:
            what = "‖∂(u·h_T)/∂h_t‖, layer 1 forward"
        steps = max((c.norms.size for c in curves.values()), default=0)
        self.setTitle(f"{what}, longest texts, {steps} steps" if curves else
                      "Gradient through time: no model could be measured")


class GateHistogram(pg.PlotWidget):
    """The distribution of each model's memory gate (LSTM forget, GRU update), with the saturated shares."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setLabel("bottom", "gate value")
        self.setLabel("left", "% of values")
        self.addLegend(offset=(10, 10))
        self.setXRange(0, 1, padding=0.02)
        style_plot(self, self.getPlotItem())

    def show_scores(self, scores: dict[str, ModelScore], colors: Colors) -> None:
        self.clear()
        drawn = False
        for name, s in scores.items():
            g = s.gates
            if g is None or g.count == 0:
                continue
            share = 100 * g.histogram / g.count
            label = (f"{name} {g.gate} gate: {g.left_saturated:.0%} below {SATURATION[0]}, "
                     f"{g.right_saturated:.0%} above {SATURATION[1]}")  # rich text: no bare "<"
            self.plot(g.edges, share, stepMode="center", pen=pg.mkPen(colors[name], width=2),
                      fillLevel=0, fillBrush=pg.mkColor(colors[name] + "40"), name=label)
            drawn = True
        if drawn:
            self.setTitle(f"Memory gate values over {GATE_TEXTS} texts (saturated: below {SATURATION[0]} "
                          f"or above {SATURATION[1]})")
        else:
            self.setTitle("Memory gates: only LSTM and GRU models have them")


class GradNormPlot(pg.PlotWidget):
    """Each model's gradient norm per training step, before clipping (log scale)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, title="Gradient norm during training (per step, before clipping)")
        self.setLogMode(y=True)
        self.addLegend(offset=(-10, 10))
        self.setLabel("bottom", "step")
        style_plot(self, self.getPlotItem())

    def show_scores(self, scores: dict[str, ModelScore], colors: Colors) -> None:
        self.clear()
        for name, s in scores.items():
            if s.grad_norms.size:
                g = np.maximum(s.grad_norms, 1e-12)
                steps = np.arange(1, g.size + 1, dtype=float)
                self.plot(steps, g, pen=pg.mkPen(colors[name], width=1), name=name)


class MisclassifiedTable(QWidget):
    """One model's wrong predictions on the scored split, most confident first; double-click to try one."""

    example_chosen = Signal(str)
    MAX_ROWS = 500

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scores: dict[str, ModelScore] = {}
        self.texts: Sequence[str] = []
        self.title = QLabel()
        self.model = QComboBox()
        self.model.currentTextChanged.connect(self._fill)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Text", "True", "Predicted", "Confidence", "Words behind it"])
        self.table.horizontalHeaderItem(4).setToolTip(
            "The words that pushed the model toward its wrong answer (Integrated Gradients toward the predicted "
            f"class), for its {MISTAKES_EXPLAINED} most confident mistakes")
        self.table.horizontalHeader().setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("Double-click an example to open it in the Try screen")
        self.table.cellDoubleClicked.connect(lambda row, _col: self.example_chosen.emit(self.table.item(row, 0).text()))
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addWidget(self.model, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.table)
        self.set_split_name("test")

    def set_split_name(self, split: str) -> None:
        self.title.setText(f"<b>Misclassified {split} examples</b> of")

    def show_scores(self, scores: dict[str, ModelScore], texts: Sequence[str], split: str) -> None:
        self.scores, self.texts = scores, texts
        self.set_split_name(split)
        current = self.model.currentText()
        self.model.blockSignals(True)
        self.model.clear()
        self.model.addItems(list(scores))
        self.model.blockSignals(False)
        if current in scores:
            self.model.setCurrentText(current)
        self._fill(self.model.currentText())

    def _fill(self, name: str) -> None:
        s = self.scores.get(name)
        self.table.setRowCount(0)
        if s is None:
            return
        idx = np.flatnonzero(s.predicted != s.truth)
        idx = idx[np.argsort(-s.confidence[idx])][: self.MAX_ROWS]  # the most confident mistakes first
        names = s.result.label_names
        self.table.setRowCount(len(idx))
        # one read for all rows: a split's texts may be on disk (ArrowTexts), where each single row is a read
        shown = list(take_texts(self.texts, idx))
        for row, (i, sentence) in enumerate(zip(idx, shown, strict=True)):
            words = s.mistake_words.get(int(i))
            behind = "" if words is None else ", ".join(f"{w} ({v:+.2f})" for w, v in words) or "(none)"
            for col, text in enumerate(
                [sentence, names[s.truth[i]], names[s.predicted[i]], f"{s.confidence[i]:.0%}", behind]
            ):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setToolTip(text)
                self.table.setItem(row, col, item)
