"""The Compare screen: every model scored on the same split, side by side.

Besides the metrics it shows the LSTM-vs-RNN story for whatever models are loaded: accuracy by
gap (datasets with a ``gap`` column, such as builtin:longrange), how fast gradients fade back
through time, and how saturated the memory gates are (Karpathy et al. 2015).

Scoring runs in a ``Task`` (it predicts the whole split); the views are rebuilt once per
evaluation, never per batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

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
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.analysis import (
    SATURATION,
    Bucket,
    GateSummary,
    GradientCurve,
    accuracy_by_value,
    gate_summary,
    gradient_through_time,
    long_text_ids,
)
from core.data import Split
from core.errors import StudioError
from core.metrics import EvalResult
from core.trainer import PhaseEvent
from gui.session import Session
from gui.theme import model_color, style_plot
from gui.worker import Task, error_message

COLUMNS = [
    "Model", "Accuracy", "Macro F1", "Precision", "Recall", "Parameters", "Train time", "Tokens/s", "ms/sentence",
]  # fmt: skip


@dataclass
class ModelScore:
    """One model's results on one split: plain data for the views."""

    name: str
    kind: str
    result: EvalResult
    predicted: np.ndarray  # (n,) class ids in the model's label space
    confidence: np.ndarray  # (n,) probability of the predicted class
    truth: np.ndarray  # (n,) true class ids in the model's label space
    ms_per_sentence: float
    num_parameters: int
    training_time_s: float | None
    tokens_per_s: float | None
    grad_norms: np.ndarray  # per training step, empty when unknown
    by_gap: list[Bucket] = field(default_factory=list)  # empty unless the split has a "gap" column
    gradient: GradientCurve | None = None  # None when it could not be measured (see ``notes``)
    gates: GateSummary | None = None  # the memory gate (LSTM forget, GRU update); None for a plain RNN
    notes: list[str] = field(default_factory=list)


GAP_EDGES = [0, 5, 10, 20, 50, 100, 201, 501, 1001, 10**9]
MEMORY_GATE = {"lstm": "forget", "gru": "update"}  # the gate that decides how much of the state is kept
GATE_TEXTS = 100  # texts traced for the gate histogram: enough for a stable shape, ~1 s for long reviews


def inside_the_model(model, split: Split, truth: np.ndarray, predicted: np.ndarray, score: ModelScore) -> None:
    """Fill ``score``'s story views: accuracy by gap, gradient through time, memory-gate values."""
    gaps = split.extra.get("gap")
    if gaps is not None:
        score.by_gap = accuracy_by_value(predicted == truth, gaps, GAP_EDGES)
    try:
        ids, order = long_text_ids(model, split.texts)
        score.gradient = gradient_through_time(model.classifier, ids, truth[order])
    except StudioError as e:
        score.notes.append(f"gradient through time: {e}")
    gate = MEMORY_GATE.get(model.kind)
    if gate:
        score.gates = gate_summary(model, split.texts[:GATE_TEXTS], gate=gate)


def score_models(models: dict, split: Split, label_names: list[str], control, timing_sentences: int = 30):
    """Generator: score each model on ``split``; returns {name: ModelScore}."""
    scores: dict[str, ModelScore] = {}
    for name, model in models.items():
        if control.cancelled:
            return scores
        yield PhaseEvent("evaluating", f"evaluating {name} on {len(split):,} texts")
        try:
            truth = model.align_labels(label_names)[split.labels]
        except StudioError as e:
            yield PhaseEvent("skipped", f"{name}: {e}")
            continue
        result, probs = model.score(Split(split.texts, truth, split.extra))
        sample = split.texts[:timing_sentences]
        t0 = time.perf_counter()
        for text in sample:  # one at a time: the latency a person typing sees
            model.predict_proba([text])
        ms = (time.perf_counter() - t0) * 1000 / max(len(sample), 1)
        fin = model.metrics.get("finished") or {}
        history = model.metrics.get("history") or {}
        score = ModelScore(
            name, model.kind, result, probs.argmax(1), probs.max(1), truth, ms,
            model.classifier.num_parameters(), fin.get("training_time_s"), fin.get("tokens_per_s"),
            np.asarray(history.get("step_grad_norm", []), dtype=np.float64),
        )
        if control.cancelled:
            return scores
        yield PhaseEvent("inside", f"measuring gradients and gates of {name}")
        inside_the_model(model, split, truth, score.predicted, score)
        scores[name] = score
    return scores


class CompareView(QWidget):
    """Shows a dict of ``ModelScore``: metrics table, confusion matrices, accuracy by length, gradients."""

    example_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scores: dict[str, ModelScore] = {}
        self.texts: list[str] = []
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMaximumHeight(150)

        self.confusion = pg.GraphicsLayoutWidget()
        self.confusion.setBackground(self.palette().color(QPalette.ColorRole.Base))
        self.by_length = pg.PlotWidget(title="Accuracy by text length (tokens)")
        self.by_length.setLabel("left", "accuracy")
        self.by_length.setYRange(0, 1.02)
        self.by_length.addLegend(offset=(10, -10), colCount=4)  # one row along the bottom, below most curves
        self.by_length.showGrid(y=True, alpha=0.3)
        self.by_gap = pg.PlotWidget(title="Accuracy by gap between the deciding word and the end")
        self.by_gap.setLabel("left", "accuracy")
        self.by_gap.setLabel("bottom", "gap (words)")
        self.by_gap.setYRange(0, 1.02)
        self.by_gap.addLegend(offset=(10, -10), colCount=4)
        self.by_gap.showGrid(y=True, alpha=0.3)
        self.grads = pg.PlotWidget(title="Gradient norm during training (per step, before clipping)")
        self.grads.setLogMode(y=True)
        self.grads.addLegend(offset=(-10, 10))
        self.grads.setLabel("bottom", "step")
        self.through_time = pg.PlotWidget()
        self.through_time.setLabel("bottom", "steps back from the last token")
        self.through_time.setLabel("left", "log10 (norm / norm at the end)")
        self.through_time.addLegend(offset=(10, -10))  # curves fall to the right: bottom left stays free
        self.through_time.showGrid(x=True, y=True, alpha=0.3)
        self.gates = pg.PlotWidget()
        self.gates.setLabel("bottom", "gate value")
        self.gates.setLabel("left", "% of values")
        self.gates.addLegend(offset=(10, 10))
        self.gates.setXRange(0, 1, padding=0.02)
        for widget in (self.by_length, self.by_gap, self.grads, self.through_time, self.gates):
            style_plot(widget, widget.getPlotItem())
        self.accuracy_tabs = QTabWidget()
        self.accuracy_tabs.addTab(self.by_length, "By length")
        self.accuracy_tabs.addTab(self.by_gap, "By gap")
        self.inside_tabs = QTabWidget()
        self.inside_tabs.addTab(self.through_time, "Gradient through time")
        self.inside_tabs.addTab(self.gates, "Memory gates")
        self.inside_tabs.addTab(self.grads, "Training gradients")
        self.inside_tabs.setTabToolTip(
            0, "How much of the loss's gradient still reaches each earlier hidden state: "
            "a plain RNN's fades exponentially (vanishing gradients), an LSTM's far more slowly")
        self.inside_tabs.setTabToolTip(
            1, "Distribution of the LSTM forget gate / GRU update gate: near 1 keeps the memory, near 0 erases it")

        self.wrong_model = QComboBox()
        self.wrong_model.currentTextChanged.connect(self._fill_wrong)
        self.wrong = QTableWidget(0, 4)
        self.wrong.setHorizontalHeaderLabels(["Text", "True", "Predicted", "Confidence"])
        self.wrong.verticalHeader().hide()
        self.wrong.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.wrong.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.wrong.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.wrong.setToolTip("Double-click an example to open it in the Try screen")
        self.wrong.cellDoubleClicked.connect(lambda row, _col: self.example_chosen.emit(self.wrong.item(row, 0).text()))

        wrong_box = QWidget()
        wl = QVBoxLayout(wrong_box)
        wl.setContentsMargins(0, 0, 0, 0)
        head = QHBoxLayout()
        head.addWidget(QLabel("<b>Misclassified test examples</b> of"))
        head.addWidget(self.wrong_model, 1)
        wl.addLayout(head)
        wl.addWidget(self.wrong)

        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.accuracy_tabs)
        plots.addWidget(self.inside_tabs)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.confusion)
        lower.addWidget(wrong_box)
        lower.setSizes([560, 640])
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(plots)
        body.addWidget(lower)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addWidget(body, 1)

    def show_scores(self, scores: dict[str, ModelScore], texts: list[str]) -> None:
        self.scores, self.texts = scores, texts
        self._fill_table()
        self._draw_confusions()
        self._draw_by_length()
        self._draw_by_gap()
        self._draw_grads()
        self._draw_through_time()
        self._draw_gates()
        current = self.wrong_model.currentText()
        self.wrong_model.blockSignals(True)
        self.wrong_model.clear()
        self.wrong_model.addItems(list(scores))
        self.wrong_model.blockSignals(False)
        if current in scores:
            self.wrong_model.setCurrentText(current)
        self._fill_wrong(self.wrong_model.currentText())

    def _colors(self) -> dict[str, str]:
        seen: dict[str, int] = {}
        out = {}
        for name, s in self.scores.items():
            out[name] = model_color(s.kind, seen.get(s.kind, 0))
            seen[s.kind] = seen.get(s.kind, 0) + 1
        return out

    def _fill_table(self) -> None:
        self.table.setRowCount(len(self.scores))
        colors = self._colors()
        best = max((s.result.accuracy for s in self.scores.values()), default=None)
        for row, (name, s) in enumerate(self.scores.items()):
            r = s.result
            cells = [
                name, f"{r.accuracy:.2%}", f"{r.macro_f1:.3f}",
                f"{np.mean(r.precision):.3f}", f"{np.mean(r.recall):.3f}",
                f"{s.num_parameters:,}",
                "–" if s.training_time_s is None else f"{s.training_time_s:.1f} s",
                "–" if not s.tokens_per_s else f"{s.tokens_per_s:,.0f}",
                f"{s.ms_per_sentence:.2f}",
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if col == 0:
                    item.setForeground(QColor(colors[name]))
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                if col == 1 and r.accuracy == best and len(self.scores) > 1:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, col, item)

    def _draw_confusions(self) -> None:
        self.confusion.clear()
        for i, (name, s) in enumerate(self.scores.items()):
            cm = np.asarray(s.result.confusion, dtype=np.float64)
            plot = self.confusion.addPlot(row=0, col=i, title=name)
            style_plot(self.confusion, plot)
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
                label = pg.TextItem(f"{int(count)}", anchor=(0.5, 0.5),
                                    color="w" if frac[t, p] > 0.55 else "k")
                label.setPos(p + 0.5, t + 0.5)
                plot.addItem(label)

    def _draw_buckets(self, plot: pg.PlotWidget, buckets: dict[str, list]) -> int:
        """Accuracy per bucket (objects with low, high, accuracy), one curve per model; returns the bucket count."""
        plot.clear()
        colors = self._colors()
        edges = sorted({(b.low, b.high) for bs in buckets.values() for b in bs})
        index = {e: k for k, e in enumerate(edges)}
        for name, bs in buckets.items():
            if bs:
                xs = np.array([index[(b.low, b.high)] for b in bs], dtype=float)
                ys = np.array([b.accuracy for b in bs], dtype=float)
                plot.plot(xs, ys, pen=pg.mkPen(colors[name], width=2), symbol="o", symbolSize=7,
                          symbolBrush=colors[name], name=name)
        labels = [(k, f"{lo:.0f}–{hi - 1:.0f}" if hi < 10**8 else f"{lo:.0f}+") for k, (lo, hi) in enumerate(edges)]
        plot.getAxis("bottom").setTicks([labels])
        plot.setXRange(-0.5, len(edges) - 0.5, padding=0)  # room for the end ticks' labels
        return len(edges)

    def _draw_by_length(self) -> None:
        self._draw_buckets(self.by_length, {n: s.result.by_length for n, s in self.scores.items()})

    def _draw_by_gap(self) -> None:
        has_gap = self._draw_buckets(self.by_gap, {n: s.by_gap for n, s in self.scores.items()}) > 0
        self.accuracy_tabs.setTabEnabled(1, has_gap)
        self.accuracy_tabs.setTabToolTip(
            1, "Accuracy against how many words follow the deciding word" if has_gap
            else "Needs a dataset with a gap column, such as builtin:longrange")
        if not has_gap and self.accuracy_tabs.currentIndex() == 1:
            self.accuracy_tabs.setCurrentIndex(0)
        if has_gap:
            self.by_gap.addItem(pg.InfiniteLine(0.5, angle=0, pen=pg.mkPen("#888888", style=Qt.PenStyle.DashLine),
                                                label="chance", labelOpts={"position": 0.97}))

    def _draw_through_time(self) -> None:
        plot = self.through_time
        plot.clear()
        colors = self._colors()
        curves = {n: s.gradient for n, s in self.scores.items() if s.gradient is not None}
        for name, curve in curves.items():
            norms = np.maximum(curve.norms, 1e-300)  # float64 keeps ~300 decades; only exact 0 is clamped
            rel = np.log10(norms[::-1] / norms[-1])  # x = steps back from the end
            plot.plot(np.arange(rel.size, dtype=float), rel, pen=pg.mkPen(colors[name], width=2), name=name)
        exact = [c.exact_loss for c in curves.values()]
        if exact and all(exact):
            what = "‖∂loss/∂h_t‖"
        elif any(exact):
            what = "‖∂loss/∂h_t‖ (one-way) or ‖∂(u·h_T)/∂h_t‖ (others)"
        else:
            what = "‖∂(u·h_T)/∂h_t‖, layer 1 forward"
        steps = max((c.norms.size for c in curves.values()), default=0)
        plot.setTitle(f"{what}, longest texts, {steps} steps" if curves else
                      "Gradient through time: no model could be measured")
        plot.setToolTip(
            "How much gradient reaches each earlier hidden state h_t, relative to the last one, averaged over "
            "the split's 64 longest texts.\nModels that read one way and classify from their last state: the "
            "real loss. Others (pooling or a backward direction give every h_t a direct path to the loss): "
            "the recurrence alone, from u·h_T with u = 1/√H, through the first layer's forward direction.")

    def _draw_gates(self) -> None:
        plot = self.gates
        plot.clear()
        colors = self._colors()
        drawn = False
        for name, s in self.scores.items():
            g = s.gates
            if g is None or g.count == 0:
                continue
            share = 100 * g.histogram / g.count
            label = (f"{name} {g.gate} gate: {g.left_saturated:.0%} below {SATURATION[0]}, "
                     f"{g.right_saturated:.0%} above {SATURATION[1]}")  # rich text: no bare "<"
            plot.plot(g.edges, share, stepMode="center", pen=pg.mkPen(colors[name], width=2),
                      fillLevel=0, fillBrush=pg.mkColor(colors[name] + "40"), name=label)
            drawn = True
        if drawn:
            plot.setTitle(f"Memory gate values over {GATE_TEXTS} texts (saturated: below {SATURATION[0]} "
                          f"or above {SATURATION[1]})")
        else:
            plot.setTitle("Memory gates: only LSTM and GRU models have them")

    def _draw_grads(self) -> None:
        self.grads.clear()
        colors = self._colors()
        for name, s in self.scores.items():
            if s.grad_norms.size:
                g = np.maximum(s.grad_norms, 1e-12)
                steps = np.arange(1, g.size + 1, dtype=float)
                self.grads.plot(steps, g, pen=pg.mkPen(colors[name], width=1), name=name)

    def _fill_wrong(self, name: str) -> None:
        s = self.scores.get(name)
        self.wrong.setRowCount(0)
        if s is None:
            return
        idx = np.flatnonzero(s.predicted != s.truth)
        idx = idx[np.argsort(-s.confidence[idx])][:500]  # the most confident mistakes first
        names = s.result.label_names
        self.wrong.setRowCount(len(idx))
        for row, i in enumerate(idx):
            for col, text in enumerate(
                [self.texts[i], names[s.truth[i]], names[s.predicted[i]], f"{s.confidence[i]:.0%}"]
            ):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setToolTip(text)
                self.wrong.setItem(row, col, item)


class ComparePanel(QWidget):
    """Scores the session's models on its dataset when asked (or when either changes)."""

    evaluated = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.task: Task | None = None
        self.split = QComboBox()
        self.split.addItems(["test", "validation"])
        self.split.setToolTip("Which split of the loaded dataset to score the models on")
        self.button = QPushButton("Evaluate")
        self.button.setToolTip("Score every model on the chosen split (F5)")
        self.button.setShortcut("F5")
        self.button.clicked.connect(self.evaluate)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.view = CompareView()
        self.view.example_chosen.connect(session.open_in_tester.emit)
        top = QHBoxLayout()
        top.addWidget(QLabel("Split:"))
        top.addWidget(self.split)
        top.addWidget(self.button)
        top.addWidget(self.message, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        self._stale = True
        session.models_changed.connect(self._mark_stale)
        session.dataset_changed.connect(self._mark_stale)
        self.split.currentTextChanged.connect(self._mark_stale)
        self._update_message()

    def _mark_stale(self, *_args) -> None:
        self._stale = True
        self._update_message()
        if self.isVisible():
            self.evaluate()

    def showEvent(self, event) -> None:  # evaluate lazily, when the screen is looked at
        super().showEvent(event)
        if self._stale:
            self.evaluate()

    def _update_message(self) -> None:
        if not self.session.models:
            self.message.setText("Train or open models to compare them.")
        elif self.session.dataset is None:
            self.message.setText("Load a dataset to score the models on it.")
        elif self._stale:
            self.message.setText("Press Evaluate to score the models.")

    def evaluate(self) -> None:
        ds = self.session.dataset
        if not self.session.models or ds is None:
            self._update_message()
            return
        if self.task is not None and self.task.running:
            self.task.cancel()
        split_name = self.split.currentText()
        split = ds[split_name]
        models = dict(self.session.models)
        self.button.setEnabled(False)
        self.message.setText(f"Evaluating {len(models)} model(s) on {len(split):,} {split_name} texts…")
        task = Task(lambda control: score_models(models, split, ds.label_names, control), name="compare")
        task.event.connect(lambda e: self.message.setText(e.message) if isinstance(e, PhaseEvent) else None)
        task.succeeded.connect(lambda scores: self._show(scores, split.texts, split_name))
        task.failed.connect(lambda exc: QMessageBox.warning(self, "Evaluation failed", error_message(exc)))
        task.ended.connect(lambda: self.button.setEnabled(True))
        self.task = self.session.track(task).start()

    def _show(self, scores: dict[str, ModelScore], texts: list[str], split_name: str) -> None:
        self._stale = False
        self.view.show_scores(scores, texts)
        n = len(texts)
        notes = [f"{name}: {note}" for name, s in scores.items() for note in s.notes]
        self.message.setText(f"Scored {len(scores)} model(s) on {n:,} {split_name} texts." + "".join(
            f" {note}." for note in notes))
        self.session.status.emit(f"Compared {len(scores)} models on the {split_name} split")
        self.evaluated.emit()
