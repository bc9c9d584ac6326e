"""The Runs screen's table: the store's runs as rows, sorted and filtered by the model itself, so 10,000 runs
filter as you type; column 0 is the tick that overlays a run's curves. A run's test accuracy comes with its
95% bootstrap interval from its test confusion matrix (``core.uncertainty.confusion_interval``, ~2 ms a run):
worked out when its row is first shown, and kept by run id."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractTableModel, QItemSelection, QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtWidgets import QTableView

from core.config import IntervalConfig
from core.uncertainty import ScoreInterval, checked_confusion, confusion_interval

if TYPE_CHECKING:
    from core.store.runs import Run

COLUMNS = ("", "id", "name", "status", "test acc", "95% CI", "group", "kind", "dataset", "hidden", "layers", "lr",
           "test F1", "time", "started", "note")
CI = COLUMNS.index("95% CI")  # worked out when shown: left out of the filter's text, sorted as the accuracy
PERCENT = {COLUMNS.index("test acc"), COLUMNS.index("test F1")}


def _key_settings(run: Run) -> tuple:
    model, train = run.settings.get("model", {}), run.settings.get("train", {})
    return model.get("hidden_size"), model.get("num_layers"), train.get("learning_rate")


def group_text(run: Run) -> str | None:
    """Where a run sits in its group: "seed 1 (2/3)", "fold 2/5"; None outside a group."""
    g = run.group
    if not g:
        return None
    if g.get("kind") == "folds":
        return f"fold {g.get('fold', g.get('index', 0)) + 1}/{g.get('n')}"
    return f"seed {g.get('seed')} ({g.get('index', 0) + 1}/{g.get('n')})"


def keep_selection(view: QTableView, keys: Callable[[], list[Hashable]]) -> None:
    """Keep ``view``'s selected rows selected and its scroll across its model's resets: ``keys()`` names the
    model's rows in order (run ids, group ids), read before a reset and after it."""
    kept: dict[str, object] = {"keys": set(), "scroll": 0}

    def remember() -> None:
        rows = keys()
        kept["keys"] = {rows[i.row()] for i in view.selectionModel().selectedRows() if i.row() < len(rows)}
        kept["scroll"] = view.verticalScrollBar().value()

    def restore() -> None:
        model, selection = view.model(), QItemSelection()
        for row, key in enumerate(keys()):
            if key in kept["keys"]:
                selection.select(model.index(row, 0), model.index(row, model.columnCount() - 1))
        view.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        view.verticalScrollBar().setValue(kept["scroll"])

    view.model().modelAboutToBeReset.connect(remember)
    view.model().modelReset.connect(restore)


class TickColumn:
    """Column 0 of a table model as tick boxes (a mixin before ``QAbstractTableModel``): ``ticked`` holds the
    ticked rows' keys (``tick_key(row)``: a run's id, a group's), so ticks survive sorting and refreshes; a
    tick emits the model's ``ticked_changed``."""

    ticked: set

    def tick_key(self, row: int) -> Hashable:
        raise NotImplementedError

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsUserCheckable if index.column() == 0 else base

    def setData(self, index: QModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.CheckStateRole or index.column() != 0:
            return False
        key = self.tick_key(index.row())
        if Qt.CheckState(value) == Qt.CheckState.Checked:
            self.ticked.add(key)
        else:
            self.ticked.discard(key)
        self.dataChanged.emit(index, index, [role])
        self.ticked_changed.emit()
        return True


class RunsTable(TickColumn, QAbstractTableModel):
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
        self.intervals = IntervalConfig()  # resamples and seed of the intervals
        self._ci: dict[int, tuple[list | None, ScoreInterval | None]] = {}  # run id -> (its confusion, interval)

    def interval(self, run: Run) -> ScoreInterval | None:
        """``run``'s test scores with their 95% intervals; None without a test confusion matrix (older runs)."""
        kept = self._ci.get(run.id)
        if kept is None or kept[0] != run.test_confusion:
            cm = checked_confusion(run.test_confusion)
            # on the GUI thread: a few ms for the usual 2-5 classes; a matrix of many classes gets fewer resamples
            # (the draws grow with its nonempty cells: 20 dense classes would take 0.25 s at 10,000)
            resamples = self.intervals.resamples if cm is None or (cm > 0).sum() <= 25 else 1000
            ci = confusion_interval(cm, resamples, self.intervals.seed) if cm is not None else None
            kept = self._ci[run.id] = (run.test_confusion, ci)
        return kept[1]

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
        return " ".join(str(self._shown(run, c) or "") for c in range(1, len(COLUMNS)) if c != CI).lower()

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
        return (None, run.id, run.name, run.status, run.test_accuracy, run.test_accuracy, group_text(run), run.kind,
                run.dataset, hidden, layers, lr, run.test_macro_f1, run.training_time_s, run.started,
                run.note or None)[column]

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        run, column = self.runs[index.row()], index.column()
        if role == Qt.ItemDataRole.CheckStateRole and column == 0:
            return Qt.CheckState.Checked if run.id in self.ticked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole and column == CI and self.interval(run) is not None:
            return (f"95% bootstrap interval of the test accuracy: {self.interval(run).accuracy_text()} "
                    f"({self.intervals.resamples:,} resamples of its confusion matrix)")
        return self._shown(run, column) if role == Qt.ItemDataRole.DisplayRole else None

    def _shown(self, run: Run, column: int) -> str | None:
        value = self._value(run, column)
        if value is None:
            return None
        if column == CI:
            ci = self.interval(run)
            return None if ci is None else f"{100 * ci.accuracy_ci[0]:.1f}–{100 * ci.accuracy_ci[1]:.1f}"
        if column in PERCENT:
            return f"{100 * value:.2f}%"
        if column == COLUMNS.index("time"):
            return f"{value:.1f} s"
        if column == COLUMNS.index("started"):
            return time.strftime("%Y-%m-%d %H:%M", time.localtime(value))
        return f"{value:g}" if isinstance(value, float) else str(value)

    def tick_key(self, row: int) -> int:
        return self.runs[row].id
