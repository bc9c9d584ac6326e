"""The Data screen: choose a source, load it off the GUI thread, and see what it holds.

Loading goes through ``gui.worker.Task`` like every long job in the app, because a Hub name can
take many seconds (or fail only after a network timeout); the window stays responsive and the
user can cancel at any moment. A cancelled load is detached at once, so the panel is usable again
immediately even when the library underneath needs a while to notice the cancel.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.data import (
    BUILTIN_SETS,
    FILE_EXTENSIONS,
    HUB_SUGGESTIONS,
    SPLITS,
    DataError,
    Split,
    TextDataset,
    describe,
    load_dataset,
    parse_source,
)
from core.trainer import PhaseEvent, TrainControl
from gui.data_charts import ClassBalanceChart, LengthHistogram
from gui.session import Session
from gui.worker import Task, error_message

VALIDATION_FRACTION = 0.1  # carved from train when a source has no validation split
TEST_FRACTION = 0.1  # likewise for test
PREVIEW_ROWS = 200  # the preview shows the first rows only; the model never copies the split
MAX_RECENT = 10
BUILTIN_EXAMPLES = ("builtin:longrange", "builtin:reviews", "builtin:longrange?gap=20-200&n=4000")
ERROR_COLOR = "#C62828"


def _source_tooltip(source: str) -> str:
    if source.startswith("builtin:"):
        name = source[len("builtin:") :].partition("?")[0]
        return BUILTIN_SETS.get(name, "")
    return f"Hugging Face Hub dataset {source} (downloaded once, then read from the local cache)."


def _loading_message(source: str) -> str:
    """What the status line says while a source loads; never raises (the worker reports real errors)."""
    try:
        kind, target, _ = parse_source(source)
    except DataError:
        return f"Loading {source}…"
    if kind == "hub":
        return f"Loading {source} from the Hugging Face Hub…"
    if kind == "builtin":
        return f"Generating {source}…"
    if kind == "folder":
        return f"Reading the folder {Path(target).name or target}…"
    return f"Reading {Path(target).name}…"


def _short_source(source: str) -> str:
    """A local path shows as its last part (the full source is the tooltip); other sources as they are."""
    path = Path(source).expanduser()
    return path.name if not source.startswith("builtin:") and path.exists() and path.name else source


def _for_gui(message: str) -> str:
    """Core's column messages name CLI flags; point at this screen's fields instead."""
    message = message.replace(
        "name them with --text-column and --label-column", "choose them under Text column and Label column below"
    )
    message = message.replace("--text-column", "the Text column field").replace(
        "--label-column", "the Label column field"
    )
    return message


_COLUMN_LIST_RE = re.compile(r"columns(?: are)?: (?P<list>[^()]*?)(?:\)|\.$|;)")


def _columns_in(message: str) -> list[str]:
    """The column names a core column error lists, to offer them in the column fields."""
    match = _COLUMN_LIST_RE.search(message)
    if not match:
        return []
    return [c.strip() for c in match.group("list").split(",") if c.strip() and c.strip() != "…"]


@dataclass
class Loaded:
    """What the worker hands back: the dataset and everything the screen draws from it."""

    dataset: TextDataset
    stats: dict  # core.data.describe(dataset)
    train_lengths: np.ndarray  # (n_train,) tokens per text, for the histogram


def _summarize(dataset: TextDataset) -> Loaded:
    """Counts and lengths for the views; tokenized like ``describe`` (whitespace words)."""
    train = dataset.splits["train"].texts
    lengths = np.fromiter((len(t.split()) for t in train), np.int64, len(train))
    return Loaded(dataset, describe(dataset), lengths)


def _load_steps(
    source: str, text_column: str | None, label_column: str | None, control: TrainControl
) -> Generator[PhaseEvent, None, Loaded | None]:
    """Worker body: load and summarize; both are slow for big sets, so neither runs on the GUI thread."""
    yield PhaseEvent("load", _loading_message(source))
    dataset = load_dataset(
        source,
        text_column=text_column,
        label_column=label_column,
        validation_fraction=VALIDATION_FRACTION,
        test_fraction=TEST_FRACTION,
        should_cancel=lambda: control.cancelled,
    )
    if control.cancelled:
        return None
    yield PhaseEvent("describe", "Counting classes and token lengths…")
    return _summarize(dataset)


class PreviewModel(QAbstractTableModel):
    """The first rows of one split: text, label name and any extra per-example columns (e.g. ``gap``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._split: Split | None = None
        self._label_names: list[str] = []
        self._columns: list[str] = ["text", "label"]
        self._rows = 0

    def set_split(self, split: Split | None, label_names: list[str]) -> None:
        self.beginResetModel()
        self._split = split
        self._label_names = list(label_names)
        self._columns = ["text", "label", *(split.extra if split is not None else {})]
        self._rows = min(len(split), PREVIEW_ROWS) if split is not None else 0
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._columns[section] if 0 <= section < len(self._columns) else None
        return str(section + 1)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        split = self._split
        if split is None or not index.isValid() or index.row() >= self._rows:
            return None
        row, column = index.row(), self._columns[index.column()]
        if column == "text":
            text = split.texts[row]
            if role == Qt.ItemDataRole.DisplayRole:
                return " ".join(text[:1000].split())  # one line; the view elides the rest
            if role == Qt.ItemDataRole.ToolTipRole:  # rich text so Qt wraps long reviews
                shown = text if len(text) <= 3000 else text[:3000] + " …"
                return f"<p>{html.escape(shown)}</p>"
            return None
        if column == "label":
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                k = int(split.labels[row])
                return self._label_names[k] if 0 <= k < len(self._label_names) else str(k)
            return None
        value = split.extra[column][row]
        if role == Qt.ItemDataRole.DisplayRole:
            return str(value.item() if hasattr(value, "item") else value)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class DataPanel(QWidget):
    """Screen 1: pick a dataset (Hub, file, folder, drop or built-in), load it, inspect it."""

    loaded = Signal(object)  # the TextDataset, after session.set_dataset
    load_failed = Signal(str)  # the message shown to the user

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._task: Task | None = None
        self._loading_source = ""
        self._started = 0.0
        self._shown: TextDataset | None = None
        self._status_base = ""
        self._tick = QTimer(self, interval=1000)
        self._tick.timeout.connect(self._show_elapsed)
        self.setAcceptDrops(True)
        self._build()
        session.dataset_changed.connect(self._on_session_dataset)

    # layout ------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.source = QComboBox(editable=True)
        self.source.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)  # only loaded sources are remembered
        self.source.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.source.setMinimumContentsLength(28)
        self.source.lineEdit().setPlaceholderText("Hub name, file or folder path, or builtin:…")
        self.source.lineEdit().setAcceptDrops(False)  # dropped files go to the panel, which loads them
        self.source.lineEdit().returnPressed.connect(self._load_from_fields)
        self.source.setToolTip(
            "A Hugging Face Hub dataset (NAME or NAME:CONFIG), a CSV/TSV/JSON/JSONL/Parquet file, a folder "
            "with train/validation/test files, or a built-in set. You can also drop a file or folder here."
        )
        for name in HUB_SUGGESTIONS:
            self._add_suggestion(name)
        self.source.insertSeparator(self.source.count())
        for name in BUILTIN_EXAMPLES:
            self._add_suggestion(name)
        self.source.setCurrentIndex(-1)
        self.source.setEditText("")

        self.browse = QToolButton(text="Browse…")
        self.browse.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.browse.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        menu = QMenu(self.browse)
        self.open_file_action = QAction("Open file…", self, triggered=self.browse_file)
        self.open_folder_action = QAction("Open folder…", self, triggered=self.browse_folder)
        menu.addActions([self.open_file_action, self.open_folder_action])
        self.browse.setMenu(menu)
        self.browse.clicked.connect(self.browse_file)

        self.columns_button = QToolButton(text="Columns", checkable=True)
        self.columns_button.setToolTip("Name the text and label columns when they are not detected")
        self.load_button = QPushButton("Load")
        self.load_button.setDefault(True)
        self.load_button.clicked.connect(self._load_from_fields)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()

        source_row = QHBoxLayout()
        source_row.addWidget(QLabel("Dataset:"))
        source_row.addWidget(self.source, 1)
        source_row.addWidget(self.browse)
        source_row.addWidget(self.columns_button)
        source_row.addWidget(self.load_button)
        source_row.addWidget(self.cancel_button)

        self.text_column = self._column_field("Text column")
        self.label_column = self._column_field("Label column")
        self.column_row = QWidget()
        column_layout = QHBoxLayout(self.column_row)
        column_layout.setContentsMargins(0, 0, 0, 0)
        column_layout.addWidget(QLabel("Text column:"))
        column_layout.addWidget(self.text_column, 1)
        column_layout.addWidget(QLabel("Label column:"))
        column_layout.addWidget(self.label_column, 1)
        hint = QLabel("Leave empty to detect them.")
        hint.setEnabled(False)
        column_layout.addWidget(hint)
        self.column_row.setVisible(False)
        self.columns_button.toggled.connect(self.column_row.setVisible)

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
        self.splits_label.hide()
        self.classes_label.hide()
        self.notes_label = QLabel(wordWrap=True)
        self.notes_label.setStyleSheet("font-style: italic;")
        self.notes_label.hide()

        self.preview_model = PreviewModel(self)
        self.preview = QTableView()
        self.preview.setModel(self.preview_model)
        self.preview.setWordWrap(False)
        self.preview.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.preview.setAlternatingRowColors(True)
        self.preview.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.preview.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.preview.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.preview.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.preview.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.preview_split = QComboBox()
        self.preview_split.addItems(list(SPLITS))
        self.preview_split.currentTextChanged.connect(self._show_preview)
        self.preview_caption = QLabel()
        preview_top = QHBoxLayout()
        preview_top.addWidget(QLabel("Examples from"))
        preview_top.addWidget(self.preview_split)
        preview_top.addWidget(self.preview_caption, 1)
        preview_box = QWidget()
        preview_layout = QVBoxLayout(preview_box)
        preview_layout.setContentsMargins(0, 0, 0, 0)
        preview_layout.addLayout(preview_top)
        preview_layout.addWidget(self.preview, 1)

        self.balance_chart = ClassBalanceChart()
        self.length_chart = LengthHistogram()
        charts = QSplitter(Qt.Orientation.Vertical)
        charts.addWidget(self.balance_chart)
        charts.addWidget(self.length_chart)
        charts.setChildrenCollapsible(False)
        empty = QLabel(
            "Load a dataset to see its class balance and token lengths.\n\n"
            "Pick a suggestion above, type a Hugging Face dataset name or a path,\n"
            "or drop a CSV, TSV, JSON, JSONL or Parquet file (or a folder) anywhere here."
        )
        empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        empty.setEnabled(False)
        self.chart_stack = QStackedWidget()  # empty axes from 0 to 1 say nothing; a hint says what to do
        self.chart_stack.addWidget(empty)
        self.chart_stack.addWidget(charts)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(preview_box)
        self.splitter.addWidget(self.chart_stack)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(source_row)
        layout.addWidget(self.column_row)
        layout.addLayout(status_row)
        layout.addWidget(self.error_label)
        layout.addWidget(self.splits_label)
        layout.addWidget(self.classes_label)
        layout.addWidget(self.notes_label)
        layout.addWidget(self.splitter, 1)

    def _column_field(self, name: str) -> QComboBox:
        """Editable so any name can be typed; after a column error it also lists the file's columns."""
        field = QComboBox(editable=True)
        field.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        field.lineEdit().setPlaceholderText("auto")
        field.lineEdit().returnPressed.connect(self._load_from_fields)
        field.setToolTip(f"{name} to use; leave empty to detect it")
        field.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        return field

    def _add_suggestion(self, source: str) -> None:
        self.source.addItem(source)
        self.source.setItemData(self.source.count() - 1, _source_tooltip(source), Qt.ItemDataRole.ToolTipRole)

    # public API ----------------------------------------------------------------------------------
    @property
    def is_loading(self) -> bool:
        return self._task is not None

    def current_source(self) -> str:
        return self.source.currentText().strip()

    def load(self, source: str, text_column: str | None = None, label_column: str | None = None) -> None:
        """Start loading ``source`` in the background; None columns mean "detect". A running load is cancelled."""
        source = source.strip()
        if self._task is not None:
            self._abandon(self._task)
        self.source.setEditText(source)
        self.text_column.setEditText(text_column or "")
        self.label_column.setEditText(label_column or "")
        self._loading_source = source
        self.error_label.hide()
        task = Task(lambda control: _load_steps(source, text_column, label_column, control), name=f"load {source}")
        task.event.connect(self._on_event)
        task.succeeded.connect(self._on_succeeded)
        task.failed.connect(self._on_failed)
        task.cancelled.connect(self._on_cancelled)
        task.ended.connect(self._on_ended)
        self._task = task
        self._set_busy(True, _loading_message(source))
        self.session.track(task)
        task.start()

    def cancel(self) -> None:
        """Stop the running load; the panel is idle at once, the worker stops at its next check."""
        if self._task is None:
            return
        self._abandon(self._task)
        self._set_busy(False, f"Cancelled loading {self._loading_source}.")
        self.session.status.emit(f"Cancelled loading {self._loading_source}.")

    def settings_dict(self) -> dict[str, Any]:
        """What QSettings keeps between runs: the last source, its columns and the recent sources."""
        recent = [self.source.itemText(i) for i in range(self.source.count()) if self.source.itemText(i)]
        suggestions = set(HUB_SUGGESTIONS) | set(BUILTIN_EXAMPLES)
        return {
            "source": self.current_source(),
            "text_column": self.text_column.currentText().strip(),
            "label_column": self.label_column.currentText().strip(),
            "recent": [s for s in recent if s not in suggestions][:MAX_RECENT],
        }

    def apply_settings(self, settings: dict[str, Any]) -> None:
        """Restore ``settings_dict()`` output; tolerant of QSettings' loose types (a one-item list as str)."""
        recent = settings.get("recent") or []
        if isinstance(recent, str):
            recent = [recent]
        for source in reversed([str(s) for s in recent if str(s).strip()][:MAX_RECENT]):
            self._remember(source)
        self.source.setEditText(str(settings.get("source") or ""))
        text_column = str(settings.get("text_column") or "")
        label_column = str(settings.get("label_column") or "")
        self.text_column.setEditText(text_column)
        self.label_column.setEditText(label_column)
        if text_column or label_column:
            self.columns_button.setChecked(True)

    def browse_file(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in FILE_EXTENSIONS)
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a dataset file", self._start_dir(), f"Data files ({patterns});;All files (*)"
        )
        if path:
            self.load(path, *self._columns())

    def browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a dataset folder", self._start_dir())
        if path:
            self.load(path, *self._columns())

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
        self.load(path, *self._columns())

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

    def _on_succeeded(self, result: Loaded | None) -> None:
        if result is None:  # the worker saw a cancel right after loading
            self._on_cancelled()
            return
        dataset = result.dataset
        source = self._loading_source
        self._finish()
        self._remember(source)
        self._show(result)
        self.status_label.setText(f"Loaded {source}.")
        self.session.set_dataset(dataset)
        sizes = " / ".join(f"{len(dataset.splits[s]):,} {s}" for s in SPLITS if s in dataset.splits)
        self.session.status.emit(f"Loaded {source}: {sizes}, {dataset.num_classes} classes.")
        self.loaded.emit(dataset)

    def _on_failed(self, exc: BaseException) -> None:
        raw = error_message(exc)
        message = _for_gui(raw)
        source = self._loading_source
        self._finish()
        self.status_label.setText(f"Could not load {source}.")
        self.error_label.setText(f"⚠ {message}")
        self.error_label.show()
        column_field = self._reveal_columns(raw) if isinstance(exc, DataError) else None
        self.session.status.emit(f"Could not load the dataset: {message}")
        self.load_failed.emit(message)
        QMessageBox.warning(self, "Could not load the dataset", message)
        if column_field is not None:
            column_field.setFocus()
            column_field.lineEdit().selectAll()

    def _on_cancelled(self) -> None:
        self.cancel()

    def _on_ended(self) -> None:
        """The current task's last signal; reaching here means it gave no result or error at all."""
        if self._task is not None:
            self._on_failed(RuntimeError("loading stopped without a result (details may be in the log)"))

    # helpers -------------------------------------------------------------------------------------------
    def _load_from_fields(self) -> None:
        source = self.current_source()
        if not source:
            self.source.setFocus()
            return
        self.load(source, *self._columns())

    def _columns(self) -> tuple[str | None, str | None]:
        return self.text_column.currentText().strip() or None, self.label_column.currentText().strip() or None

    def _abandon(self, task: Task) -> None:
        """Cancel ``task`` and stop listening to it; the session still tracks it until its thread ends."""
        task.cancel()
        for signal, slot in (
            (task.event, self._on_event),
            (task.succeeded, self._on_succeeded),
            (task.failed, self._on_failed),
            (task.cancelled, self._on_cancelled),
            (task.ended, self._on_ended),
        ):
            signal.disconnect(slot)
        self._task = None

    def _finish(self) -> None:
        if self._task is not None:
            self._abandon(self._task)
        self._set_busy(False, self.status_label.text())

    def _set_busy(self, busy: bool, message: str) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.load_button.setVisible(not busy)
        self._status_base = message
        self.status_label.setText(message)
        if busy:
            self._started = time.monotonic()
            self._tick.start()
            self.session.status.emit(message)
        else:
            self._tick.stop()

    def _show_elapsed(self) -> None:
        if self._task is None:
            return
        seconds = int(time.monotonic() - self._started)
        self.status_label.setText(self._status_base + (f" ({seconds} s)" if seconds >= 2 else ""))

    def _reveal_columns(self, message: str) -> QComboBox | None:
        """After a column problem (core's own message): show the fields, offer the columns core listed."""
        lowered = message.lower()
        if "column" not in lowered:
            return None
        self.columns_button.setChecked(True)
        columns = _columns_in(message)
        for field in (self.text_column, self.label_column):
            typed = field.currentText()
            field.clear()
            field.addItems(columns)
            field.setCurrentIndex(-1)
            field.setEditText(typed)
        if "label column" in lowered and not re.search(r"\btext (and label )?columns?\b", lowered):
            return self.label_column
        return self.text_column

    def _remember(self, source: str) -> None:
        """Put a loaded source at the top of the suggestions (once)."""
        if not source:
            return
        index = self.source.findText(source, Qt.MatchFlag.MatchExactly)
        if index >= 0:
            if source in HUB_SUGGESTIONS or source in BUILTIN_EXAMPLES:
                return
            self.source.removeItem(index)
        text = self.source.currentText()
        self.source.insertItem(0, source)
        self.source.setEditText(text)

    def _start_dir(self) -> str:
        current = Path(self.current_source()).expanduser()
        if current.exists():
            return str(current if current.is_dir() else current.parent)
        return str(Path.home())

    # showing a dataset -------------------------------------------------------------------------------
    def _on_session_dataset(self, dataset: TextDataset | None) -> None:
        """Another screen set the dataset (or cleared it): show that one too."""
        if dataset is self._shown:
            return
        if dataset is None:
            self._clear()
        else:
            self._show(_summarize(dataset))

    def _show(self, loaded: Loaded) -> None:
        dataset, stats = loaded.dataset, loaded.stats
        self._shown = dataset
        parts = []
        for split in SPLITS:
            n = len(dataset.splits[split]) if split in dataset.splits else 0
            text = f"<b>{split.capitalize()}</b> {n:,}"
            if split in dataset.carved:
                fraction = VALIDATION_FRACTION if split == "validation" else TEST_FRACTION
                text += f" <i>(carved from train, {fraction:.0%})</i>"
            parts.append(text)
        self.chart_stack.setCurrentIndex(1)
        self.splits_label.show()
        self.classes_label.show()
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
        self._show_preview()
        counts = {s: [stats[s]["per_class"][name] for name in dataset.label_names] for s in SPLITS if s in stats}
        self.balance_chart.set_counts(dataset.label_names, counts)
        lengths = stats["train"]["lengths"]
        self.length_chart.set_lengths(loaded.train_lengths, lengths["mean"], lengths["p95"])

    def _show_preview(self) -> None:
        dataset = self._shown
        split_name = self.preview_split.currentText()
        split = dataset.splits.get(split_name) if dataset is not None else None
        self.preview_model.set_split(split, dataset.label_names if dataset is not None else [])
        if split is None:
            self.preview_caption.setText("")
            return
        shown = min(len(split), PREVIEW_ROWS)
        self.preview_caption.setText(f"first {shown:,} of {len(split):,} (hover a text to read it all)")
        header = self.preview.horizontalHeader()
        if self.preview_model.columnCount() > 0:
            header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    def _clear(self) -> None:
        self._shown = None
        self.chart_stack.setCurrentIndex(0)
        self.splits_label.hide()
        self.classes_label.hide()
        self.notes_label.hide()
        self.preview_model.set_split(None, [])
        self.preview_caption.setText("")
        self.balance_chart.clear_counts()
        self.length_chart.clear_histogram()
