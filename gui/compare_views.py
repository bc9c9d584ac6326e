"""The Compare screen's views, each named after what it shows and fed ``core.inspect.compare`` results.

``MetricsTable`` (one row per model with its 95% intervals, or the reason it could not be scored),
``ConfusionGrid``, ``BucketPlot`` (accuracy by length or by gap, each bucket's interval as a bar),
``GradientPlot`` (gradient through time), ``GateHistogram`` (memory-gate values), ``GradNormPlot``
(training gradient norms) and ``MisclassifiedTable`` (a model's mistakes, or any rows asked for). The pairs
of models are in ``gui.compare_pairs``. Colours come from the session, so a model looks the same on every
screen.
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
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.data import take_texts
from core.inspect.scores import (
    GATE_TEXTS,
    MISTAKES_EXPLAINED,
    SATURATION,
    ModelScore,
    ScoreSkipped,
    member_of,
    member_word,
)
from gui.theme import style_plot

COLUMNS = [
    "Model", "Accuracy % [95% CI]", "Macro F1 % [95% CI]", "Precision %", "Recall %", "Parameters", "Train time",
    "Tokens/s", "ms/sentence",
]  # fmt: skip
INTERVAL_TIP = ("{what} on the scored rows, in percent, with its 95% interval: the percentile bootstrap over the rows "
                "(the Bootstrap resamples and seed above)")
Colors = dict[str, str]


def with_interval(value: float, interval: tuple[float, float] | None) -> str:
    """"81.1 [79.3, 82.9]": a share and its interval, in percent."""
    if interval is None or np.isnan(interval[0]):
        return f"{100 * value:.1f}"
    return f"{100 * value:.1f} [{100 * interval[0]:.1f}, {100 * interval[1]:.1f}]"


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
        self.horizontalHeaderItem(1).setToolTip(INTERVAL_TIP.format(what="Accuracy"))
        self.horizontalHeaderItem(2).setToolTip(INTERVAL_TIP.format(what="Macro-averaged F1"))
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
            group = getattr(entry, "group", None)
            if group:  # one of runs repeated over seeds or folds: the Groups tab has them together
                kind = "folds" if group.get("kind") == "folds" else "seeds"
                name.setToolTip(f"{member_word(kind, member_of(group))}, one of {group.get('n')} runs repeated "
                                f"over {kind}: see the Groups tab")
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
            r, ci = entry.result, entry.interval
            cells = [
                with_interval(r.accuracy, ci and ci.accuracy_ci), with_interval(r.macro_f1, ci and ci.macro_f1_ci),
                f"{100 * np.mean(r.precision):.1f}", f"{100 * np.mean(r.recall):.1f}",
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
        rows_height = sum(self.rowHeight(r) for r in range(self.rowCount()))
        self.setMaximumHeight(min(150, self.horizontalHeader().sizeHint().height() + rows_height
                                  + 2 * self.frameWidth() + 2))  # no blank below the rows


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
    """Accuracy per bucket (of text length, or of gap), one curve per model, each bucket's 95% interval a bar.

    Each model's curve and bars are made once and updated with ``setData``; a model that is gone loses them.
    """

    DODGE = 0.08  # buckets' x shift between models, so that their bars stand side by side

    def __init__(self, title: str, xlabel: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent, title=title)
        self.setLabel("left", "accuracy")
        if xlabel:
            self.setLabel("bottom", xlabel)
        self.setYRange(0, 1.02)
        self.legend = self.addLegend(offset=(10, -10), colCount=4)  # one row along the bottom, below most curves
        self.showGrid(y=True, alpha=0.3)
        style_plot(self, self.getPlotItem())
        self.setToolTip("Accuracy per bucket; each bar is the bucket's 95% bootstrap interval: few texts, long bars")
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.bars: dict[str, pg.ErrorBarItem] = {}
        self.chance = pg.InfiniteLine(0, angle=0, pen=pg.mkPen("#888888", style=Qt.PenStyle.DashLine),
                                      label="chance", labelOpts={"position": 0.97})
        self.chance.hide()
        self.addItem(self.chance)

    def _drop(self, name: str) -> None:
        self.removeItem(self.curves.pop(name))
        self.removeItem(self.bars.pop(name))
        self.legend.removeItem(name)

    def show_buckets(self, buckets: dict[str, list], colors: Colors, chance: float | None = None) -> int:
        """Draw ``{model: [bucket with low, high, accuracy (and ci_low, ci_high)]}``; returns the number of
        buckets."""
        drawn = {n: bs for n, bs in buckets.items() if bs}
        for name in [n for n in self.curves if n not in drawn]:
            self._drop(name)
        edges = sorted({(b.low, b.high) for bs in drawn.values() for b in bs})
        index = {e: k for k, e in enumerate(edges)}
        for k, (name, bs) in enumerate(drawn.items()):
            xs = np.array([index[(b.low, b.high)] for b in bs], dtype=float) + self.DODGE * (k - (len(drawn) - 1) / 2)
            ys = np.array([b.accuracy for b in bs], dtype=float)
            lo = np.array([getattr(b, "ci_low", np.nan) for b in bs], dtype=float)
            hi = np.array([getattr(b, "ci_high", np.nan) for b in bs], dtype=float)
            if name not in self.curves:
                self.curves[name] = self.plot(name=name, symbol="o", symbolSize=7)
                self.bars[name] = pg.ErrorBarItem(beam=0.06)
                self.addItem(self.bars[name])
            color = colors[name]
            self.curves[name].setData(xs, ys, pen=pg.mkPen(color, width=2), symbolBrush=color)
            self.bars[name].setData(x=xs, y=ys, top=np.nan_to_num(hi - ys), bottom=np.nan_to_num(ys - lo),
                                    pen=pg.mkPen(color, width=1.5))
        labels = [(k, f"{lo:.0f}–{hi - 1:.0f}" if hi < 10**8 else f"{lo:.0f}+") for k, (lo, hi) in enumerate(edges)]
        self.getAxis("bottom").setTicks([labels])
        self.setXRange(-0.5, len(edges) - 0.5, padding=0)  # room for the end ticks' labels
        self.chance.setVisible(bool(edges) and chance is not None)
        if chance is not None:
            self.chance.setValue(chance)
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
    """One model's wrong predictions on the scored split, most confident first; or any rows asked for
    (``show_row_set``, e.g. the rows only one model of a pair gets right), with a caption. Double-click to try
    one."""

    example_chosen = Signal(str, str)  # text, the model whose answers are listed
    MAX_ROWS = 500

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scores: dict[str, ModelScore] = {}
        self.texts: Sequence[str] = []
        self.split = "test"
        self.row_set: tuple[np.ndarray, str] | None = None  # (row indices, caption) shown instead of the mistakes
        self.shown = np.zeros(0, dtype=np.int64)  # the split's rows listed, top to bottom
        self.title = QLabel()
        self.model = QComboBox()
        self.model.setToolTip("Whose answers to list")
        self.model.currentTextChanged.connect(self._fill)
        self.back = QPushButton("Back to mistakes")
        self.back.setToolTip("List the chosen model's mistakes again")
        self.back.clicked.connect(self.show_mistakes)
        self.back.hide()
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
        self.table.cellDoubleClicked.connect(
            lambda row, _col: self.example_chosen.emit(self.table.item(row, 0).text(), self.model.currentText()))
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addWidget(self.model, 1)
        head.addWidget(self.back)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.table)
        self.set_split_name("test")

    def set_split_name(self, split: str) -> None:
        self.split = split
        self._set_title()

    def _set_title(self) -> None:
        if self.row_set is None:
            self.title.setText(f"<b>Misclassified {self.split} examples</b> of")
        else:
            rows, caption = self.row_set
            self.title.setText(f"<b>{caption}</b> ({len(rows):,} {self.split} rows); answers of")

    def show_scores(self, scores: dict[str, ModelScore], texts: Sequence[str], split: str) -> None:
        self.scores, self.texts = scores, texts
        self.row_set = None
        self.back.hide()
        self.set_split_name(split)
        current = self.model.currentText()
        self.model.blockSignals(True)
        self.model.clear()
        self.model.addItems(list(scores))
        self.model.blockSignals(False)
        if current in scores:
            self.model.setCurrentText(current)
        self._fill(self.model.currentText())

    def show_row_set(self, rows: np.ndarray, caption: str, model: str | None = None) -> None:
        """List exactly ``rows`` (indices into the scored split) under ``caption``, with ``model``'s answers."""
        self.row_set = (np.asarray(rows, dtype=np.int64), caption)
        self.back.show()
        self._set_title()
        if model in self.scores and model != self.model.currentText():
            self.model.setCurrentText(model)  # fills
        else:
            self._fill(self.model.currentText())

    def show_mistakes(self) -> None:
        self.row_set = None
        self.back.hide()
        self._set_title()
        self._fill(self.model.currentText())

    def _fill(self, name: str) -> None:
        s = self.scores.get(name)
        self.table.setRowCount(0)
        self.shown = np.zeros(0, dtype=np.int64)
        if s is None:
            return
        if self.row_set is None:
            idx = np.flatnonzero(s.predicted != s.truth)
            idx = idx[np.argsort(-s.confidence[idx], kind="stable")]  # the most confident mistakes first
        else:
            idx = self.row_set[0]
        idx = idx[: self.MAX_ROWS]
        self.shown = idx
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
