"""The first rows of one split: text, label and any extra per-example columns (e.g. ``gap``).

``PreviewModel`` reads the split in place (no copy), for the first ``PREVIEW_ROWS`` rows only;
``PreviewTable`` adds the split chooser and caption.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from core.data import SPLITS, Split, TextDataset

PREVIEW_ROWS = 200  # the preview shows the first rows only; the model never copies the split


class PreviewModel(QAbstractTableModel):
    """The first rows of one split as a Qt table model."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._split: Split | None = None
        self._label_names: list[str] = []
        self._columns: list[str] = ["text", "label"]
        self._rows = 0
        self._texts: list[str] = []

    def set_split(self, split: Split | None, label_names: list[str]) -> None:
        self.beginResetModel()
        self._split = split
        self._label_names = list(label_names)
        self._columns = ["text", "label", *(split.extra if split is not None else {})]
        self._rows = min(len(split), PREVIEW_ROWS) if split is not None else 0
        # read once: a split's texts may be on disk (ArrowTexts), where a slice is one read, a row one each
        self._texts = list(split.texts[: self._rows]) if split is not None else []
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
            text = self._texts[row]
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


class PreviewTable(QWidget):
    """``PreviewTable()``: pick a split of the dataset shown and read its first rows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dataset: TextDataset | None = None
        self.model = PreviewModel(self)
        self.view = QTableView()
        self.view.setModel(self.model)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QTableView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.split = QComboBox()
        self.split.addItems(list(SPLITS))
        self.split.currentTextChanged.connect(self._show)
        self.caption = QLabel()
        top = QHBoxLayout()
        top.addWidget(QLabel("Examples from"))
        top.addWidget(self.split)
        top.addWidget(self.caption, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)

    def set_dataset(self, dataset: TextDataset | None) -> None:
        self.dataset = dataset
        self._show()

    def _show(self) -> None:
        dataset = self.dataset
        split = dataset.splits.get(self.split.currentText()) if dataset is not None else None
        self.model.set_split(split, dataset.label_names if dataset is not None else [])
        if split is None:
            self.caption.setText("")
            return
        shown = min(len(split), PREVIEW_ROWS)
        self.caption.setText(f"first {shown:,} of {len(split):,} (hover a text to read it all)")
        if self.model.columnCount() > 0:
            self.view.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
