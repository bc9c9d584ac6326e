"""The Compare screen: every model scored on the same split, side by side.

Scoring is ``core.inspect.compare.score_models``, run as the screen's one task; the views
(``gui.compare_views``, ``gui.compare_pairs``,
``gui.compare_groups``) are redrawn once per evaluation, never per batch. A model that
cannot be scored on the data (its classes differ) keeps its row, with the reason. Every score has its 95%
interval, and every pair of models its paired test (``core.uncertainty``), measured on the worker thread too;
a change of the Intervals setting measures them again without scoring again.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.config import IntervalConfig
from core.events import PhaseEvent
from core.inspect.scores import ModelScore, PairScores, ScoreSkipped
from gui.compare_groups import GroupTable
from gui.compare_pairs import AgreementMatrix, PairTable
from gui.compare_views import (
    BucketPlot,
    ConfusionGrid,
    GateHistogram,
    GradientPlot,
    GradNormPlot,
    MetricsTable,
    MisclassifiedTable,
)
from gui.config_form import ConfigRow
from gui.session import Session
from gui.worker import TaskSlot, error_message

GROUPS_TIP = ("Models repeated over seeds (or folds) as groups: mean ± sd and min-max; two groups on the same seeds, "
              "the paired test over the seeds beside each seed's McNemar test")
NO_GROUPS_TIP = ("No group of runs repeated over seeds or folds has two or more models here: train with "
                 "\"Repeat with N seeds\" and compare its models")


class CompareView(QWidget):
    """All the Compare views over one evaluation: metrics, pairs, agreement, groups over seeds, confusion,
    accuracy by length and gap, insides."""

    example_chosen = Signal(str, str)  # text, the model whose answer it was

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[ModelScore | ScoreSkipped] = []
        self.pairs: PairScores | None = None
        self.table = MetricsTable()
        self.pair_table = PairTable()
        self.agreement = AgreementMatrix()
        self.groups = GroupTable()
        self.confusion = ConfusionGrid()
        self.by_length = BucketPlot("Accuracy by text length (tokens)")
        self.by_gap = BucketPlot("Accuracy by gap between the deciding word and the end", "gap (words)")
        self.through_time = GradientPlot()
        self.gates = GateHistogram()
        self.grads = GradNormPlot()
        self.wrong = MisclassifiedTable()
        self.wrong.example_chosen.connect(self.example_chosen.emit)
        self.pair_table.pair_chosen.connect(self.agreement.set_pair)
        self.agreement.rows_chosen.connect(self.wrong.show_row_set)

        self.lower_tabs = QTabWidget()
        self.lower_tabs.addTab(self.pair_table, "Pairs")
        self.lower_tabs.addTab(self.agreement, "Agreement")
        self.lower_tabs.addTab(self.groups, "Groups")
        self.lower_tabs.addTab(self.confusion, "Confusion")
        self.lower_tabs.setTabToolTip(0, "Each pair of models: their differences with 95% intervals, McNemar's test")
        self.lower_tabs.setTabToolTip(1, "Which rows each model of a pair gets right; click a cell to list its rows")

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

        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.accuracy_tabs)
        plots.addWidget(self.inside_tabs)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.lower_tabs)
        lower.addWidget(self.wrong)
        lower.setSizes([680, 600])  # the pair table's eight columns
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(plots)
        body.addWidget(lower)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addWidget(body, 1)

    @property
    def scores(self) -> dict[str, ModelScore]:
        return {r.name: r for r in self.rows if isinstance(r, ModelScore)}

    def show_rows(self, rows: list[ModelScore | ScoreSkipped], texts: list[str], split: str,
                  colors: dict[str, str], pairs: PairScores | None = None) -> None:
        self.rows, self.pairs = list(rows), pairs
        scores = self.scores
        self.table.show_rows(self.rows, colors)
        self.pair_table.show_pairs(pairs, colors)
        self.agreement.show_pairs(pairs)
        self.groups.show_pairs(pairs, colors)
        has_pairs = pairs is not None and bool(pairs.agreements)
        for tab in (self.pair_table, self.agreement):
            self.lower_tabs.setTabEnabled(self.lower_tabs.indexOf(tab), has_pairs)
        groups = self.lower_tabs.indexOf(self.groups)
        self.lower_tabs.setTabEnabled(groups, bool(pairs and pairs.groups))
        self.lower_tabs.setTabToolTip(groups, GROUPS_TIP if pairs and pairs.groups else NO_GROUPS_TIP)
        if not self.lower_tabs.isTabEnabled(self.lower_tabs.currentIndex()):
            self.lower_tabs.setCurrentWidget(self.confusion)
        self.confusion.show_scores(scores)
        self.by_length.show_buckets({n: s.by_length or s.result.by_length for n, s in scores.items()}, colors)
        classes = max((len(s.result.label_names) for s in scores.values()), default=2) or 2
        has_gap = self.by_gap.show_buckets({n: s.by_gap for n, s in scores.items()}, colors, chance=1 / classes) > 0
        self.accuracy_tabs.setTabEnabled(1, has_gap)
        self.accuracy_tabs.setTabToolTip(
            1, "Accuracy against how many words follow the deciding word" if has_gap
            else "Needs a dataset with a gap column, such as builtin:longrange")
        if not has_gap and self.accuracy_tabs.currentIndex() == 1:
            self.accuracy_tabs.setCurrentIndex(0)
        self.through_time.show_scores(scores, colors)
        self.gates.show_scores(scores, colors)
        self.grads.show_scores(scores, colors)
        self.wrong.show_scores(scores, texts, split)


class CompareScreen(QWidget):
    """Scores the session's models on its dataset when asked (or when either changes)."""

    evaluated = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.slot = TaskSlot(session.tasks, self)
        self.split = QComboBox()
        self.split.addItems(["test", "validation"])
        self.split.setToolTip("Which split of the loaded dataset to score the models on")
        self.button = QPushButton("Evaluate")
        self.button.setToolTip("Score every model on the chosen split (F5)")
        self.button.setShortcut("F5")
        self.button.clicked.connect(self.evaluate)
        self.intervals = ConfigRow(IntervalConfig)  # the bootstrap's resamples and seed, from the setting
        self.intervals.changed.connect(self._intervals_changed)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.view = CompareView()
        self.view.example_chosen.connect(session.open_in_tester.emit)
        top = QHBoxLayout()
        split_label = QLabel("&Split:")
        split_label.setBuddy(self.split)
        top.addWidget(split_label)
        top.addWidget(self.split)
        top.addWidget(self.intervals)
        top.addWidget(self.button)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.message)  # a line of its own: the models' notes can be long
        layout.addWidget(self.view, 1)
        self._stale = True
        self._rows: list[ModelScore | ScoreSkipped] = []
        self._pairs: PairScores | None = None
        self._measured: IntervalConfig | None = None  # the intervals the task in the slot measures
        self._shown: tuple[list[str], str] | None = None  # the texts and split name the views show
        session.models_changed.connect(self._mark_stale)
        session.dataset_changed.connect(self._mark_stale)
        self.split.currentTextChanged.connect(self._mark_stale)
        self._update_message()

    def _mark_stale(self, *_args) -> None:
        """The models, the data or the split changed: drop a run in progress (its results would be
        about the old set) and score again now if the screen is shown, else when it is next shown."""
        self.slot.detach()
        self.button.setEnabled(True)
        self._stale = True
        self._shown = None  # the intervals setting must not bring the old set's scores back
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
        dataset = self.session.dataset
        if not self.session.models or dataset is None:
            self._update_message()
            return
        split_name = self.split.currentText()
        models = dict(self.session.models)
        intervals = self._measured = self.intervals.config()
        self._rows, self._pairs, self._shown = [], None, None
        self.button.setEnabled(False)
        self.message.setText(f"Evaluating {len(models)} model(s) on {len(dataset[split_name]):,} {split_name} texts…")

        def scoring(control):
            from core.inspect.compare import score_models  # on the worker thread (see gui/worker.py)

            return score_models(models, dataset, split_name, control, intervals)

        self.slot.start(
            scoring, "compare",
            on_event=self._on_event,
            on_done=lambda: self._show(dataset[split_name].texts, split_name),
            on_failed=self._on_failed,
            on_ended=self._ended,
        )

    def _on_event(self, event: object) -> None:
        if isinstance(event, PhaseEvent):
            self.message.setText(event.message)
        elif isinstance(event, ModelScore | ScoreSkipped):
            self._rows.append(event)
        elif isinstance(event, PairScores):
            self._pairs = event

    def _intervals_changed(self) -> None:
        """Measure the shown scores' intervals again (no scoring again); during an evaluation, after it."""
        if self.slot.busy or self._shown is None:
            return
        intervals = self._measured = self.intervals.config()
        scores = list(self.view.scores.values())
        texts, split_name = self._shown
        self._rows, self._pairs = [r for r in self.view.rows if isinstance(r, ScoreSkipped)], None

        def measuring(control):
            from core.inspect.compare import measure_intervals  # on the worker thread

            return measure_intervals(scores, intervals, control)

        self.slot.start(measuring, "intervals", on_event=self._on_event, on_done=lambda: self._show(texts, split_name),
                        on_failed=self._on_failed, on_ended=self._ended)

    def _ended(self) -> None:
        self.button.setEnabled(True)
        if self._shown is not None and self._measured != self.intervals.config():  # changed while the task ran
            self._intervals_changed()

    def _on_failed(self, exc: BaseException) -> None:
        message = error_message(exc)
        self.message.setText(f"Evaluation failed: {message}")
        QMessageBox.warning(self, "Evaluation failed", message)

    def _show(self, texts: list[str], split_name: str) -> None:
        self._stale = False
        order = {r.name: k for k, r in enumerate(self.view.rows)} if self._shown else {}
        rows = sorted(self._rows, key=lambda r: order.get(r.name, len(order)))  # re-measured: the same order
        self._shown = (texts, split_name)
        self.view.show_rows(rows, texts, split_name, {r.name: self.session.color(r.name) for r in rows}, self._pairs)
        scored = [r for r in rows if isinstance(r, ModelScore)]
        skipped = len(rows) - len(scored)
        text = f"Scored {len(scored)} model(s) on {len(texts):,} {split_name} texts."
        if skipped:
            text += f" {skipped} could not be scored on this data: the reason is in its row."
        notes = [f"{s.name}: {note}." for s in scored for note in s.notes]
        self.message.setText(" ".join([text, *notes]))
        self.session.status.emit(f"Compared {len(scored)} models on the {split_name} split")
        self.evaluated.emit()
