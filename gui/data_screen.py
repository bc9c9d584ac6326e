"""The Data screen: choose a source, load it off the GUI thread, and see what it holds.

Loading is a task (``core.data.load_steps``) like every long job in the app, because a Hub name
can take many seconds (or fail only after a network timeout); the window stays responsive and the
user can cancel at any moment. A cancelled load is detached at once, so the screen is usable again
immediately even when the library underneath needs a while to notice the cancel.

Before any dataset is loaded the screen welcomes a new user with one button that needs no reading:
"Start with the built-in demo" (the main window trains and compares on it).
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.data import SPLITS, Loaded, TextDataset, describe, load_steps, loading_message
from core.errors import ColumnError, StudioError
from core.events import PhaseEvent
from gui.preview_table import PreviewTable
from gui.session import Session
from gui.source_picker import SourcePicker
from gui.worker import TaskSlot, error_message

if TYPE_CHECKING:
    from gui.data_charts import ClassBalanceChart, LengthHistogram

ERROR_COLOR = "#C62828"
DEMO_SOURCE = "builtin:reviews"  # offline, binary, small: LSTM and RNN train on it in ~20 s on 2 cores
WELCOME = (
    "<h3>Start here</h3>"
    "<p>Pick a dataset above: a Hugging Face Hub name, a CSV, TSV, JSON or Parquet file (or a folder of "
    "split files), or drop one anywhere on this screen.</p>"
    "<p>New to the app? The built-in demo needs no download: it loads short movie reviews "
    f"(<code>{DEMO_SOURCE}</code>), trains an LSTM and a plain RNN on them side by side, and opens the "
    "comparison (about half a minute on a laptop).</p>"
)


def _short_source(source: str) -> str:
    """A local path shows as its last part (the full source is the tooltip); other sources as they are."""
    path = Path(source).expanduser()
    return path.name if not source.startswith("builtin:") and path.exists() and path.name else source


class DataScreen(QWidget):
    """Screen 1: pick a dataset (Hub, file, folder, drop or built-in), load it, inspect it."""

    loaded = Signal(object)  # the TextDataset, after session.set_dataset
    load_failed = Signal(str)  # the message shown to the user
    load_cancelled = Signal()
    demo_requested = Signal()  # the welcome page's button

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.slot = TaskSlot(session.tasks, self)
        self._loading_source = ""
        self._started = 0.0
        self._shown: TextDataset | None = None
        self._status_base = ""
        self._tick = QTimer(self, interval=1000)
        self._tick.timeout.connect(self._show_elapsed)
        self.setAcceptDrops(True)
        self._build()
        session.dataset_changed.connect(self._on_session_dataset)
        if session.dataset is not None:  # built after a dataset was loaded elsewhere (gui/screens.py)
            self._on_session_dataset(session.dataset)

    # layout ------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.picker = SourcePicker()
        self.picker.load_requested.connect(self.load)
        self.picker.cancel_requested.connect(self.cancel)

        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: loaders report no fraction done
        self.progress.setMaximumWidth(160)
        self.progress.setMaximumHeight(14)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.status_label = QLabel("Choose a dataset above, or drop a CSV/TSV/JSON/Parquet file or a folder here.")
        status_row = QHBoxLayout()
        status_row.addWidget(self.progress)
        status_row.addWidget(self.status_label, 1)

        self.error_label = QLabel(wordWrap=True)
        self.error_label.setStyleSheet(f"color: {ERROR_COLOR};")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self.splits_label = QLabel()
        self.splits_label.setTextFormat(Qt.TextFormat.RichText)
        self.classes_label = QLabel(wordWrap=True)
        self.notes_label = QLabel(wordWrap=True)
        self.notes_label.setStyleSheet("font-style: italic;")
        for label in (self.splits_label, self.classes_label, self.notes_label):
            label.hide()

        self.preview = PreviewTable()
        self.balance_chart: ClassBalanceChart | None = None  # made after the first paint (see charts)
        self.length_chart: LengthHistogram | None = None
        self._chart_box = QSplitter(Qt.Orientation.Vertical)
        self._chart_box.setChildrenCollapsible(False)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.preview)
        self.splitter.addWidget(self._chart_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)

        welcome = QLabel(WELCOME)
        welcome.setWordWrap(True)
        welcome.setFixedWidth(560)
        welcome.setMinimumHeight(welcome.heightForWidth(560))  # centred, it would get one line per paragraph
        self.demo_button = QPushButton("▶  Start with the built-in demo")
        self.demo_button.setToolTip(f"Load {DEMO_SOURCE}, train an LSTM and an RNN on it, then compare them")
        self.demo_button.setMinimumHeight(40)
        self.demo_button.clicked.connect(self.demo_requested.emit)
        page = QWidget()
        page_layout = QVBoxLayout(page)
        page_layout.addStretch(1)
        page_layout.addWidget(welcome, 0, Qt.AlignmentFlag.AlignHCenter)
        page_layout.addWidget(self.demo_button, 0, Qt.AlignmentFlag.AlignHCenter)
        page_layout.addStretch(2)
        self.body = QStackedWidget()  # empty axes say nothing; the welcome page says what to do
        self.body.addWidget(page)
        self.body.addWidget(self.splitter)

        layout = QVBoxLayout(self)
        layout.addWidget(self.picker)
        layout.addLayout(status_row)
        layout.addWidget(self.error_label)
        layout.addWidget(self.splits_label)
        layout.addWidget(self.classes_label)
        layout.addWidget(self.notes_label)
        layout.addWidget(self.body, 1)

    # public API ----------------------------------------------------------------------------------
    @property
    def is_loading(self) -> bool:
        return self.slot.busy

    def load(self, source: str, text_column: str | None = None, label_column: str | None = None) -> None:
        """Start loading ``source`` in the background; None columns mean "detect". A running load is cancelled."""
        source = source.strip()
        self.picker.show_request(source, text_column, label_column)
        self._loading_source = source
        self.error_label.hide()
        try:
            data_config = self.picker.data_config()
        except StudioError as e:  # a share the setting refuses (both too large together): show the options
            self.picker.options_button.setChecked(True)
            self._on_failed(e)
            return
        self.slot.start(
            lambda control: load_steps(source, control, text_column=text_column, label_column=label_column,
                                       data_config=data_config),
            f"load {source}", on_event=self._on_event, on_failed=self._on_failed, on_cancelled=self.cancel,
            on_ended=self._on_ended,
        )
        self._set_busy(True, loading_message(source))

    def cancel(self) -> None:
        """Stop the running load; the screen is idle at once, the worker stops at its next check."""
        if not self.slot.busy:
            return
        self.slot.detach()
        self._set_busy(False, f"Cancelled loading {self._loading_source}.")
        self.session.status.emit(f"Cancelled loading {self._loading_source}.")
        self.load_cancelled.emit()

    def settings_dict(self) -> dict:
        return self.picker.settings_dict()

    def apply_settings(self, settings: dict) -> None:
        self.picker.apply_settings(settings)

    # drag and drop ---------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_path(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_path(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.load(path, *self.picker.columns())

    @staticmethod
    def _dropped_path(event: QDragEnterEvent | QDropEvent) -> str | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile():
                return url.toLocalFile()
        return None

    # worker results --------------------------------------------------------------------------------
    def _on_event(self, event: object) -> None:
        if isinstance(event, PhaseEvent):
            self._status_base = event.message
            self._show_elapsed()
        elif isinstance(event, Loaded):
            self._on_loaded(event)

    def _on_loaded(self, result: Loaded) -> None:
        dataset, source = result.dataset, self._loading_source
        self.slot.detach()
        self._set_busy(False, f"Loaded {source}.")
        self.picker.remember(source)
        self._show(result)
        self.session.set_dataset(dataset)
        sizes = " / ".join(f"{len(dataset.splits[s]):,} {s}" for s in SPLITS if s in dataset.splits)
        self.session.status.emit(f"Loaded {source}: {sizes}, {dataset.num_classes} classes.")
        self.loaded.emit(dataset)

    def _on_failed(self, exc: BaseException) -> None:
        message = error_message(exc)
        field = None
        if isinstance(exc, ColumnError):
            field = self.picker.reveal_columns(exc.columns, exc.missing)
            message = f"{message} Choose them under Text column and Label column above."
        self.slot.detach()
        self._set_busy(False, f"Could not load {self._loading_source}.")
        self.error_label.setText(f"⚠ {message}")
        self.error_label.show()
        self.session.status.emit(f"Could not load the dataset: {message}")
        self.load_failed.emit(message)
        QMessageBox.warning(self, "Could not load the dataset", message)
        if field is not None:
            field.setFocus()
            field.lineEdit().selectAll()

    def _on_ended(self) -> None:
        """The current task's last signal; reaching here means it gave no result or error at all."""
        self._on_failed(RuntimeError("loading stopped without a result (details may be in the log)"))

    # helpers -------------------------------------------------------------------------------------------
    def _set_busy(self, busy: bool, message: str) -> None:
        self.progress.setVisible(busy)
        self.picker.set_busy(busy)
        self._status_base = message
        self.status_label.setText(message)
        if busy:
            self._started = time.monotonic()
            self._tick.start()
            self.session.status.emit(message)
        else:
            self._tick.stop()

    def _show_elapsed(self) -> None:
        if not self.slot.busy:
            return
        seconds = int(time.monotonic() - self._started)
        self.status_label.setText(self._status_base + (f" ({seconds} s)" if seconds >= 2 else ""))

    # showing a dataset -------------------------------------------------------------------------------
    def _on_session_dataset(self, dataset: TextDataset | None) -> None:
        """Another screen set the dataset (or cleared it): show that one too."""
        if dataset is self._shown:
            return
        if dataset is None:
            self._clear()
        else:
            self._show(Loaded(dataset, describe(dataset)))

    def _show(self, loaded: Loaded) -> None:
        dataset, stats = loaded.dataset, loaded.stats
        self._shown = dataset
        parts = []
        for split in SPLITS:
            n = len(dataset.splits[split]) if split in dataset.splits else 0
            text = f"<b>{split.capitalize()}</b> {n:,}"
            if split in dataset.carved:
                fraction = dataset.validation_fraction if split == "validation" else dataset.test_fraction
                text += f" <i>(carved from train, {fraction:.0%}, split seed {dataset.split_seed})</i>"
            parts.append(text)
        self.body.setCurrentIndex(1)
        for label in (self.splits_label, self.classes_label):
            label.show()
        self.splits_label.setText(
            f"<b>{html.escape(_short_source(dataset.source))}</b> &nbsp;—&nbsp; " + " &nbsp;·&nbsp; ".join(parts)
        )
        self.splits_label.setToolTip(dataset.source)
        self.classes_label.setText(
            f"{dataset.num_classes} classes: {', '.join(dataset.label_names)} — text column "
            f'"{dataset.text_column}", label column "{dataset.label_column}"'
        )
        self.notes_label.setText("\n".join(f"Note: {note}" for note in dataset.notes))
        self.notes_label.setVisible(bool(dataset.notes))
        self.preview.set_dataset(dataset)
        counts = {s: [stats[s].per_class[name] for name in dataset.label_names] for s in SPLITS if s in stats}
        balance, lengths = self.charts()
        balance.set_counts(dataset.label_names, counts)
        train = stats["train"]
        lengths.set_lengths(train.lengths, train.mean, train.p95, sampled=train.sampled)

    def charts(self) -> tuple[ClassBalanceChart, LengthHistogram]:
        """The two charts, made after the window's first paint (gui/main_window.py) or when the first dataset is
        shown: the welcome page needs no plots, so the window is drawn without importing pyqtgraph."""
        if self.balance_chart is None or self.length_chart is None:
            from gui import data_charts

            self.balance_chart, self.length_chart = data_charts.ClassBalanceChart(), data_charts.LengthHistogram()
            self._chart_box.addWidget(self.balance_chart)
            self._chart_box.addWidget(self.length_chart)
            self.splitter.setSizes([600, 400])  # the table and the charts 3:2 (the empty box had no width)
        return self.balance_chart, self.length_chart

    def _clear(self) -> None:
        self._shown = None
        self.body.setCurrentIndex(0)
        for label in (self.splits_label, self.classes_label, self.notes_label):
            label.hide()
        self.preview.set_dataset(None)
        if self.balance_chart is not None and self.length_chart is not None:
            self.balance_chart.clear_counts()
            self.length_chart.clear_histogram()
