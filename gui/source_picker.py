"""Choosing a dataset source: a name or path (with suggestions and recent sources), Browse, and its options:
the columns, and how missing validation and test splits are carved (``core.config.DataConfig``).

``SourcePicker`` only collects what to load and asks for it with ``load_requested``; the Data
screen does the loading. After a column problem it offers the columns the data has
(``reveal_columns``, fed by the core's structured ``ColumnError``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.config import DataConfig
from core.data import BUILTIN_SETS, FILE_EXTENSIONS, HUB_SUGGESTIONS
from core.settings import settings_of
from gui.config_form import make_input, set_value, value_of

MAX_RECENT = 10
BUILTIN_EXAMPLES = ("builtin:longrange", "builtin:reviews", "builtin:longrange?gap=20-200&n=4000")


def source_tooltip(source: str) -> str:
    if source.startswith("builtin:"):
        name = source[len("builtin:") :].partition("?")[0]
        return BUILTIN_SETS.get(name, "")
    return f"Hugging Face Hub dataset {source} (downloaded once, then read from the local cache)."


class SourcePicker(QWidget):
    """The source field, Browse, Columns, Load and Cancel; see the module docstring."""

    load_requested = Signal(str, object, object)  # source, text column or None, label column or None
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = QComboBox(editable=True)
        self.source.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)  # only loaded sources are remembered
        self.source.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.source.setMinimumContentsLength(28)
        self.source.lineEdit().setPlaceholderText("Hub name, file or folder path, or builtin:…")
        self.source.lineEdit().setAcceptDrops(False)  # dropped files go to the screen, which loads them
        self.source.lineEdit().returnPressed.connect(self.request_load)
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

        self.options_button = QToolButton(text="Options", checkable=True)
        self.options_button.setToolTip("Name the text and label columns when they are not detected, and choose how "
                                       "missing validation and test splits are carved")
        self.load_button = QPushButton("Load")
        self.load_button.setDefault(True)
        self.load_button.clicked.connect(self.request_load)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        self.cancel_button.hide()

        source_row = QHBoxLayout()
        source_row.addWidget(QLabel("Dataset:"))
        source_row.addWidget(self.source, 1)
        source_row.addWidget(self.browse)
        source_row.addWidget(self.options_button)
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
        self.split_row, self.split_inputs = self._split_fields()
        self.split_row.setVisible(False)
        self.options_button.toggled.connect(self.column_row.setVisible)
        self.options_button.toggled.connect(self.split_row.setVisible)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(source_row)
        layout.addWidget(self.column_row)
        layout.addWidget(self.split_row)

    @staticmethod
    def _split_fields() -> tuple[QWidget, dict[str, QWidget]]:
        """A row with an input per ``DataConfig`` setting (split seed, shares), built from the settings."""
        row, inputs = QWidget(), {}
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        for f in settings_of(DataConfig):
            inputs[f.name] = w = make_input(f)
            w.setObjectName(f"DataConfig.{f.name}")
            label = QLabel(f"{f.setting.label}:")
            label.setToolTip(w.toolTip())
            layout.addWidget(label)
            layout.addWidget(w)
        hint = QLabel("Used only when the data has no validation or test split of its own.")
        hint.setEnabled(False)
        layout.addWidget(hint, 1)
        return row, inputs

    def _column_field(self, name: str) -> QComboBox:
        """Editable so any name can be typed; after a column error it also lists the data's columns."""
        field = QComboBox(editable=True)
        field.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        field.lineEdit().setPlaceholderText("auto")
        field.lineEdit().returnPressed.connect(self.request_load)
        field.setToolTip(f"{name} to use; leave empty to detect it")
        field.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        return field

    def _add_suggestion(self, source: str) -> None:
        self.source.addItem(source)
        self.source.setItemData(self.source.count() - 1, source_tooltip(source), Qt.ItemDataRole.ToolTipRole)

    # what to load --------------------------------------------------------------------------------
    def current_source(self) -> str:
        return self.source.currentText().strip()

    def columns(self) -> tuple[str | None, str | None]:
        return self.text_column.currentText().strip() or None, self.label_column.currentText().strip() or None

    def data_config(self) -> DataConfig:
        """How missing splits are carved, as the options say; raises ``SettingError`` for a refused value."""
        return DataConfig(**{name: value_of(w) for name, w in self.split_inputs.items()})

    def show_request(self, source: str, text_column: str | None, label_column: str | None) -> None:
        """Show what is being loaded (a load may start from a drop or a menu, not from these fields)."""
        self.source.setEditText(source)
        self.text_column.setEditText(text_column or "")
        self.label_column.setEditText(label_column or "")

    def request_load(self) -> None:
        source = self.current_source()
        if not source:
            self.source.setFocus()
            return
        self.load_requested.emit(source, *self.columns())

    def browse_file(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in FILE_EXTENSIONS)
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a dataset file", self._start_dir(), f"Data files ({patterns});;All files (*)"
        )
        if path:
            self.load_requested.emit(path, *self.columns())

    def browse_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a dataset folder", self._start_dir())
        if path:
            self.load_requested.emit(path, *self.columns())

    def _start_dir(self) -> str:
        current = Path(self.current_source()).expanduser()
        if current.exists():
            return str(current if current.is_dir() else current.parent)
        return str(Path.home())

    # state ---------------------------------------------------------------------------------------
    def set_busy(self, busy: bool) -> None:
        self.cancel_button.setVisible(busy)
        self.load_button.setVisible(not busy)

    def reveal_columns(self, columns: list[str], missing: tuple[str, ...]) -> QComboBox:
        """Show the column fields offering ``columns``; returns the field to fix first."""
        self.options_button.setChecked(True)
        for field in (self.text_column, self.label_column):
            typed = field.currentText()
            field.clear()
            field.addItems(columns)
            field.setCurrentIndex(-1)
            field.setEditText(typed)
        return self.label_column if missing == ("label",) else self.text_column

    def remember(self, source: str) -> None:
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

    def settings_dict(self) -> dict[str, Any]:
        """What is kept between runs: the last source, its columns and the recent sources."""
        recent = [self.source.itemText(i) for i in range(self.source.count()) if self.source.itemText(i)]
        suggestions = set(HUB_SUGGESTIONS) | set(BUILTIN_EXAMPLES)
        text_column, label_column = self.columns()
        return {
            "source": self.current_source(),
            "text_column": text_column or "",
            "label_column": label_column or "",
            "recent": [s for s in recent if s not in suggestions][:MAX_RECENT],
            "data": {name: value_of(w) for name, w in self.split_inputs.items()},
        }

    def apply_settings(self, settings: dict[str, Any]) -> None:
        """Restore ``settings_dict()`` output; tolerant of loose types (a one-item list as a string)."""
        recent = settings.get("recent") or []
        if isinstance(recent, str):
            recent = [recent]
        for source in reversed([str(s) for s in recent if str(s).strip()][:MAX_RECENT]):
            self.remember(source)
        self.source.setEditText(str(settings.get("source") or ""))
        text_column = str(settings.get("text_column") or "")
        label_column = str(settings.get("label_column") or "")
        self.text_column.setEditText(text_column)
        self.label_column.setEditText(label_column)
        changed = self.set_data_config(settings.get("data") if isinstance(settings.get("data"), dict) else {})
        if text_column or label_column or changed:
            self.options_button.setChecked(True)

    def set_data_config(self, values: dict[str, Any]) -> bool:
        """Fill the split options from ``values`` (``DataConfig`` fields; unknown or unreadable ones are left
        alone); True when they now differ from the defaults (the options are then shown)."""
        for name, w in self.split_inputs.items():
            if name in values:
                try:
                    set_value(w, values[name])
                except (TypeError, ValueError):
                    pass  # written by another version, or damaged: keep what is there
        defaults = {f.name: f.default for f in settings_of(DataConfig)}
        changed = {n: value_of(w) for n, w in self.split_inputs.items()} != defaults
        if changed:
            self.options_button.setChecked(True)
        return changed
