"""The Runs screen's table: the store's runs as rows, sorted and filtered by the model itself, so 10,000 runs
filter as you type; column 0 is the tick that overlays a run's curves."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal

if TYPE_CHECKING:
    from core.store.runs import Run

COLUMNS = ("", "id", "name", "status", "kind", "dataset", "hidden", "layers", "lr", "test acc", "test F1", "time",
           "started", "note")


def _key_settings(run: Run) -> tuple:
    model, train = run.settings.get("model", {}), run.settings.get("train", {})
    return model.get("hidden_size"), model.get("num_layers"), train.get("learning_rate")


class RunsTable(QAbstractTableModel):
    """The store's runs as table rows; column 0 is the tick that overlays a run."""

    ticked_changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.all_runs: list[Run] = []
        self._sorted: list[Run] = []  # all runs in the sort order: a keystroke only filters this list
        self.runs: list[Run] = []  # shown: filtered and sorted
        self.search: dict[int, str] = {}
        self.words: list[str] = []
        self.sort_column, self.sort_order = 1, Qt.SortOrder.DescendingOrder
        self.ticked: set[int] = set()

    def set_runs(self, runs: list[Run]) -> None:
        """Show ``runs`` (sorted and filtered as before). Filtering and sorting are list operations over
        a precomputed line of text and sort keys per run, so 10,000 runs stay instant."""
        self.all_runs = runs
        # what the filter searches, one lower-case line a run: a keystroke is then one pass of `in`
        self.search = {r.id: self._line(r) for r in runs}
        self.ticked &= {r.id for r in runs}
        self._resort()

    def update_runs(self, changed: list[Run]) -> None:
        """Replace the runs in ``changed`` (by id), adding new ones: a live tick re-reads only those."""
        by_id = {r.id: r for r in changed}
        known = {r.id for r in self.all_runs}
        self.all_runs = [*(r for r in changed if r.id not in known), *(by_id.get(r.id, r) for r in self.all_runs)]
        self.search.update({r.id: self._line(r) for r in changed})
        self._resort()

    def _line(self, run: Run) -> str:
        return " ".join(str(self._shown(run, c) or "") for c in range(1, len(COLUMNS))).lower()

    def set_filter(self, text: str) -> None:
        self.words = text.lower().split()
        self._update()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sort_column, self.sort_order = column, order
        self._resort()

    def _resort(self) -> None:
        """Sort every run once (on new runs or a new sort order), then show the filtered ones."""
        def key(run: Run):
            value = self._value(run, self.sort_column)
            return (value is None, value if isinstance(value, int | float) else str(value or "").lower())

        self._sorted = sorted(self.all_runs, key=key, reverse=self.sort_order == Qt.SortOrder.DescendingOrder)
        self._update()

    def _update(self) -> None:
        words, search = self.words, self.search
        runs = [r for r in self._sorted if all(w in search[r.id] for w in words)] if words else list(self._sorted)
        if [r.id for r in runs] == [r.id for r in self.runs]:  # same rows in the same order (a live tick)
            self.runs = runs
            if runs:
                self.dataChanged.emit(self.index(0, 0), self.index(len(runs) - 1, len(COLUMNS) - 1))
            return
        self.beginResetModel()  # RunsScreen keeps the selected runs selected and the scroll across it
        self.runs = runs
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.runs)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def _value(self, run: Run, column: int):
        hidden, layers, lr = _key_settings(run)
        return (None, run.id, run.name, run.status, run.kind, run.dataset, hidden, layers, lr,
                run.test_accuracy, run.test_macro_f1, run.training_time_s, run.started, run.note or None)[column]

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        run, column = self.runs[index.row()], index.column()
        if role == Qt.ItemDataRole.CheckStateRole and column == 0:
            return Qt.CheckState.Checked if run.id in self.ticked else Qt.CheckState.Unchecked
        return self._shown(run, column) if role == Qt.ItemDataRole.DisplayRole else None

    def _shown(self, run: Run, column: int) -> str | None:
        value = self._value(run, column)
        if value is None:
            return None
        if column in (9, 10):
            return f"{100 * value:.2f}%"
        if column == 11:
            return f"{value:.1f} s"
        if column == 12:
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(value))
        return f"{value:g}" if isinstance(value, float) else str(value)

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsUserCheckable if index.column() == 0 else base

    def setData(self, index: QModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or index.column() != 0:
            return False
        run_id = self.runs[index.row()].id
        if Qt.CheckState(value) == Qt.CheckState.Checked:
            self.ticked.add(run_id)
        else:
            self.ticked.discard(run_id)
        self.dataChanged.emit(index, index, [role])
        self.ticked_changed.emit()
        return True
