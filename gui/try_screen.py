"""The "Try" screen: type a sentence, see every model's prediction and look inside one of them.

Tracing a sentence takes milliseconds, so it runs on the GUI thread after a short pause in typing
(a single-shot timer restarted on every keystroke). A bidirectional model re-reads every prefix to
get the prediction after each word (O(T²)), so the live trace is capped to the first tokens.

Which words made the decision (``core.inspect.attribution``: Integrated Gradients or leaving each word out)
takes tens of milliseconds and a backward pass, so it runs in the screen's worker slot: a newer text
cancels and detaches the older task (which then skips its work if it has not started), and a result
is shown only if it still matches the text, model, method and class on screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.config import METHOD_NAMES, ExplainConfig
from core.errors import StudioError
from core.model.trace import GATE_NAMES, MEMORY_GATE, Trace
from gui.attribution_row import AttributionRow
from gui.equation_view import EquationView
from gui.gate_heatmap import ROW_TITLES, GateHeatmap, min_width
from gui.prediction_card import PredictionCard
from gui.probability_plot import ProbabilityPlot
from gui.session import Session
from gui.worker import TaskSlot, error_message

if TYPE_CHECKING:
    from core.inspect.attribution import Attribution
    from core.model.sentiment_model import SentimentModel

DEBOUNCE_MS = 150  # long enough to skip mid-word states, short enough to feel live
TRACE_TOKENS = 200  # tokens traced live by a left-to-right model (linear cost)
TRACE_TOKENS_BIDIRECTIONAL = 100  # a bidirectional one re-reads every prefix (quadratic): ~50 ms at 100
MODE_ITEMS = (("mean over units", "mean"), ("one unit", "unit"), ("all units of one gate", "gate"))


def trace_limit(model: SentimentModel) -> int:
    return TRACE_TOKENS_BIDIRECTIONAL if model.config.bidirectional else TRACE_TOKENS


class SidewaysScroll(QScrollArea):
    """Scrolls its widget sideways only: the widget is as tall as the view and at least as wide as asked.

    (A resizable ``QScrollArea`` would size a widget holding word-wrapped text by its preferred
    height and cut off the bottom, with no vertical scroll bar to reach it.)
    """

    def __init__(self, widget: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(False)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(widget)
        self._content_width = 0

    def set_content_width(self, width: int) -> None:
        self._content_width = width
        self._fit()

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self._fit()
        return super().viewportEvent(event)

    def _fit(self) -> None:
        view = self.viewport().size()
        self.widget().resize(max(view.width(), self._content_width), view.height())


class TryScreen(QWidget):
    """``TryScreen(session)``: live predictions of every model in the session and the insides of one."""

    updated = Signal()  # after every update (prediction, trace and plots)
    explained = Signal()  # a word attribution for the text on screen arrived and is shown

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.current_trace: Trace | None = None
        self.cards: dict[str, PredictionCard] = {}
        self._trace_key: tuple | None = None  # (model name, id(model), text) of current_trace
        self.attribution: Attribution | None = None  # for _attribution_key, once it has arrived
        self._attribution_key: tuple | None = None  # (trace key, method, target) asked for last
        self._attribution_error = ""  # why the last one asked for failed
        self.explaining = TaskSlot(session.tasks, self)
        slot = self.explaining
        self.destroyed.connect(lambda *_: slot.detach())  # an answer must not reach deleted views

        self.editor = QPlainTextEdit()
        self.editor.setPlaceholderText("Type a sentence, e.g. “the film was not bad at all”")
        self.editor.setFixedHeight(self.editor.fontMetrics().lineSpacing() * 3 + 14)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.update_now)
        self.editor.textChanged.connect(self._timer.start)

        self.note = QLabel()  # "showing the first N tokens" and similar
        self.note.setWordWrap(True)
        self.note.hide()

        # predictions: one card per model, side by side
        self._cards_box = QWidget()
        self._cards_layout = QHBoxLayout(self._cards_box)
        self._cards_layout.setContentsMargins(0, 0, 0, 0)
        self._cards_layout.addStretch(1)
        cards_scroll = QScrollArea()
        cards_scroll.setWidgetResizable(True)
        cards_scroll.setFrameShape(QFrame.Shape.NoFrame)
        cards_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        cards_scroll.setWidget(self._cards_box)
        self._cards_scroll = cards_scroll

        # what to show of the chosen model
        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.mode_combo = QComboBox()
        for text, mode in MODE_ITEMS:
            self.mode_combo.addItem(text, mode)
        self.unit_spin = QSpinBox()
        self.unit_spin.setPrefix("unit ")
        self.gate_combo = QComboBox()
        self.layer_label, self.layer_combo = QLabel("Layer"), QComboBox()
        self.direction_label, self.direction_combo = QLabel("Direction"), QComboBox()
        self.direction_combo.addItem("forward (left to right)", 0)
        self.direction_combo.addItem("backward (right to left)", 1)
        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        for widget in (
            QLabel("Look inside"),
            self.model_combo,
            QLabel("Show"),
            self.mode_combo,
            self.unit_spin,
            self.gate_combo,
            self.layer_label,
            self.layer_combo,
            self.direction_label,
            self.direction_combo,
        ):
            controls.addWidget(widget)
        controls.addStretch(1)

        self.why = AttributionRow()  # the words behind the chosen model's decision, highlighted in the text

        self.heatmap = GateHeatmap()
        self.prob_plot = ProbabilityPlot()
        self.prob_plot.setMinimumHeight(150)
        self.equations = EquationView()
        self.equations.setMinimumWidth(300)
        self.plots = QWidget()
        plots_layout = QVBoxLayout(self.plots)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.addWidget(self.heatmap, 3)
        plots_layout.addWidget(QLabel("Prediction after each word"))
        plots_layout.addWidget(self.prob_plot, 2)
        # The heatmap and the curve scroll sideways together once the words no longer fit (~60).
        self.plots_scroll = SidewaysScroll(self.plots)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.plots_scroll)
        splitter.addWidget(self.equations)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([900, 340])

        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.addWidget(cards_scroll)
        content_layout.addWidget(self.why)
        content_layout.addLayout(controls)
        content_layout.addWidget(splitter, 1)
        self.hint = QLabel("Train or open a model to try it.")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.hint)
        self.stack.addWidget(content)

        layout = QVBoxLayout(self)
        layout.addWidget(self.editor)
        layout.addWidget(self.note)
        layout.addWidget(self.stack, 1)

        self.model_combo.currentIndexChanged.connect(self._on_model_chosen)
        for signal in (
            self.mode_combo.currentIndexChanged,
            self.unit_spin.valueChanged,
            self.gate_combo.currentIndexChanged,
            self.layer_combo.currentIndexChanged,
            self.direction_combo.currentIndexChanged,
        ):
            signal.connect(self._render)
        self.why.changed.connect(self._explain)
        self.heatmap.hovered.connect(self._on_hovered)
        self.prob_plot.hovered.connect(self._on_hovered)
        session.models_changed.connect(self._refresh_models)
        session.open_in_tester.connect(self.set_text)
        self._refresh_models()

    # public ------------------------------------------------------------------------------------
    def set_text(self, text: str, model: str = "") -> None:
        """Put ``text`` in the editor and update at once (no debounce wait), inside ``model`` if it is open."""
        index = self.model_combo.findData(model) if model else -1
        if index >= 0:
            self.model_combo.setCurrentIndex(index)
        self.editor.setPlainText(text)
        self.update_now()

    def text(self) -> str:
        return self.editor.toPlainText()

    def chosen_model(self) -> SentimentModel | None:
        return self.session.models.get(self.model_combo.currentData())

    def update_now(self) -> None:
        """Predict with every model, trace the chosen one and redraw; emits ``updated``."""
        self._timer.stop()
        text = self.text()
        blank = not text.strip()
        try:
            for name, card in self.cards.items():
                model = self.session.models.get(name)
                card.set_probabilities(None if blank or model is None else model.predict_proba([text])[0])
            model = self.chosen_model()
            if model is None or blank:
                self.current_trace, self._trace_key = None, None
                self.note.hide()
            else:
                key = (self.model_combo.currentData(), id(model), text)
                if key != self._trace_key:
                    self.current_trace = self._trace(model, text)
                    self._trace_key = key
        except StudioError as exc:  # a model that can't predict (its weights overflow): say so, draw nothing
            self.current_trace, self._trace_key = None, None
            self.note.setText(f"Can't show this model: {exc}")
            self.note.show()
        self._render()
        self._explain()
        self.updated.emit()

    # internals ---------------------------------------------------------------------------------
    def _trace(self, model: SentimentModel, text: str) -> Trace:
        """Trace at most ``trace_limit(model)`` tokens, saying so when the text is longer."""
        enc = model.tokenizer.encode(text)
        n, limit = len(enc.tokens[0]), trace_limit(model)
        if n <= limit:
            self.note.hide()
            return model.trace(text)
        end = int(enc.offsets[0][limit - 1][1])
        total = f"{n:,}+" if n >= model.tokenizer.config.max_length else f"{n:,}"
        self.note.setText(
            f"Showing the first {limit} of {total} tokens inside the model, so typing stays responsive"
            f"{' (a bidirectional model re-reads every prefix)' if model.config.bidirectional else ''}. "
            "The predictions above use the whole text."
        )
        self.note.show()
        return model.trace(text[:end])

    def _view_options(self) -> dict:
        model = self.chosen_model()
        bidirectional = model is not None and model.config.bidirectional
        return {
            "mode": self.mode_combo.currentData(),
            "unit": self.unit_spin.value(),
            "gate": self.gate_combo.currentData() or "forget",
            "layer": self.layer_combo.currentData() if self.layer_combo.count() else -1,
            "direction": self.direction_combo.currentData() if bidirectional else 0,
        }

    def _render(self, *_) -> None:
        """Redraw the views from ``current_trace`` (no re-tracing: view controls only re-slice it)."""
        options = self._view_options()
        self.unit_spin.setVisible(options["mode"] == "unit")
        self.gate_combo.setVisible(options["mode"] == "gate")
        trace = self.current_trace
        if trace is None:
            message = (
                "Type a sentence above to see inside the model."
                if self.session.models
                else "Train or open a model to try it."
            )
            self.heatmap.clear(message)
            self.prob_plot.clear_trace()
            self.equations.clear()
            self.plots_scroll.set_content_width(0)
            return
        self.plots_scroll.set_content_width(min_width(len(trace.tokens)))
        self.heatmap.set_trace(trace, **options)
        self._show_attribution()
        self.prob_plot.set_trace(trace, self.session.color(self.model_combo.currentData()))
        self._on_hovered(len(trace.tokens) - 1)

    def _on_hovered(self, index: int) -> None:
        trace = self.current_trace
        if trace is None:
            return
        options = self._view_options()
        if options["mode"] == "unit":
            unit = options["unit"]
        elif options["mode"] == "gate" and self.heatmap.hovered_row >= 0:
            unit = self.heatmap.hovered_row
        else:
            unit = None
        self.equations.set_step(trace, index, options["layer"], options["direction"], unit)
        self.prob_plot.set_marker(index)

    def _explain(self, *_) -> None:
        """Ask the worker for the words behind the chosen model's decision on the whole text (if not asked).

        The whole text, as the cards predict it; the heatmap's row and the highlighted sentence show the
        part the heatmap traces (all of a sentence, the first tokens of a long review)."""
        trace, model, method = self.current_trace, self.chosen_model(), self.why.method()
        if trace is None or model is None or not method:
            self.explaining.detach()
            self.attribution, self._attribution_key, self._attribution_error = None, None, ""
            self._show_attribution()
            return
        target = self.why.target()
        key = (self._trace_key, method, target)
        if key == self._attribution_key:
            return
        self.attribution, self._attribution_key, self._attribution_error = None, key, ""
        self._show_attribution()
        config, text = ExplainConfig(method=method), self.text()

        def steps(control):
            from core.inspect.attribution import explain  # on the worker thread (see gui/worker.py)

            if not control.cancelled:  # a newer text may have replaced this one while it waited for a thread
                yield explain(model, text, config, target)

        self.explaining.start(steps, "explain", on_event=lambda result: self._explained(key, result),
                              on_failed=lambda exc: self._explain_failed(key, exc))

    def _explained(self, key: tuple, result: Attribution) -> None:
        if key != self._attribution_key:  # an answer for a text, model or choice no longer on screen
            return
        self.attribution = result
        self._show_attribution()
        self.explained.emit()

    def _explain_failed(self, key: tuple, exc: BaseException) -> None:
        if key == self._attribution_key:
            self._attribution_error = f"Can't explain this prediction: {error_message(exc)}"
            self._show_attribution()

    def _show_attribution(self) -> None:
        """The attribution row in the heatmap and the highlighted text, from ``attribution`` (or cleared)."""
        a, trace = self.attribution, self.current_trace
        if a is None or trace is None:
            self.heatmap.set_attribution(None)
            if self._attribution_error:
                self.why.show_message(self._attribution_error)
            elif self._attribution_key is not None:
                self.why.show_message("<span style='color:gray'>Working out which words decided…</span>")
            else:
                self.why.show_message("")
            return
        note = f"{METHOD_NAMES[a.method]}, toward {a.target_name}"
        if a.completeness_error is not None:
            note += f"; the scores add up to the output's change within {a.completeness_error:.1%}"
        if a.note:  # leaving each word out looked at part of a long text
            note += f"; {a.note}"
        shown = a.token_scores[: len(trace.tokens)]  # the heatmap traces the first tokens of a long text
        # no row for a part at the text's end (first_token): its tokens are not the ones traced here
        self.heatmap.set_attribution(None if a.first_token else shown, f"why {a.target_name}", note + ".")
        self.why.show_attribution(a, note, int(trace.offsets[-1][1]) if len(trace.tokens) else None)

    def _refresh_models(self) -> None:
        """Rebuild the cards and the model chooser after models were added, renamed or removed."""
        models = self.session.models
        for card in self.cards.values():
            self._cards_layout.removeWidget(card)
            card.deleteLater()
        self.cards = {name: PredictionCard(name, m, self.session.color(name)) for name, m in models.items()}
        for i, card in enumerate(self.cards.values()):
            self._cards_layout.insertWidget(i, card)
        self._cards_scroll.setFixedHeight(self._cards_box.sizeHint().height() + 4)
        previous = self.model_combo.currentData()
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for name, model in models.items():
            kind = model.kind.upper()
            self.model_combo.addItem(name if kind in name.upper() else f"{name} ({kind})", name)
        index = self.model_combo.findData(previous)
        self.model_combo.setCurrentIndex(max(index, 0) if models else -1)
        self.model_combo.blockSignals(False)
        self.stack.setCurrentIndex(1 if models else 0)
        self._sync_controls()
        self._trace_key = self._attribution_key = None  # a model replaced under its name is asked again
        self.update_now()

    def _on_model_chosen(self, *_) -> None:
        self._sync_controls()
        self.update_now()

    def _sync_controls(self) -> None:
        """Fit the gate, unit, layer and direction choosers to the chosen model (hide what it lacks)."""
        model = self.chosen_model()
        widgets = (self.unit_spin, self.gate_combo, self.layer_combo, self.direction_combo)
        for w in widgets:
            w.blockSignals(True)
        try:
            if model is None:
                self.layer_combo.clear()
                self.layer_label.hide()
                self.layer_combo.hide()
                self.direction_label.hide()
                self.direction_combo.hide()
                return
            cfg = model.config
            self.why.set_classes(model.label_names)
            self.unit_spin.setRange(0, cfg.hidden_size - 1)
            previous = self.gate_combo.currentData()
            self.gate_combo.clear()
            for name in GATE_NAMES[model.kind]:
                self.gate_combo.addItem(ROW_TITLES[name], name)
            index = self.gate_combo.findData(previous)
            default = MEMORY_GATE.get(model.kind, "hidden")  # the gate that decides what is kept
            self.gate_combo.setCurrentIndex(index if index >= 0 else self.gate_combo.findData(default))
            self.layer_combo.clear()
            for layer in range(cfg.num_layers):
                top = " (top)" if layer == cfg.num_layers - 1 else " (bottom)" if layer == 0 else ""
                self.layer_combo.addItem(f"{layer + 1}{top}", layer)
            self.layer_combo.setCurrentIndex(cfg.num_layers - 1)
            self.layer_label.setVisible(cfg.num_layers > 1)
            self.layer_combo.setVisible(cfg.num_layers > 1)
            self.direction_label.setVisible(cfg.bidirectional)
            self.direction_combo.setVisible(cfg.bidirectional)
            if not cfg.bidirectional:
                self.direction_combo.setCurrentIndex(0)
        finally:
            for w in widgets:
                w.blockSignals(False)
