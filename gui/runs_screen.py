"""The Runs screen: every run the store keeps (from the app and the command line), across sessions.

A sortable, filterable table (the model sorts and filters its own list of runs, so 10,000 runs filter
as you type); tick runs to overlay their curves (the Train screen's four plots, in the same colours),
plot their accuracy against a setting that differs among them (a sweep's settings; "Tick sweep" ticks a
sweep's runs) and see the settings that differ; open a run's model into the session (Try, Compare), or
delete a run with its kept model file. Each test accuracy has its 95% interval; runs repeated over seeds or
folds are also listed as groups (mean ± sd, min-max), a ticked group drawn as its mean curve in a min-max
band, and two ticked groups on the same seeds tested pairwise (``gui.runs_groups``).
While the Train screen trains, the running rows are read again every two seconds (``live``).
"""

from __future__ import annotations

import itertools
from html import escape
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.errors import StudioError
from core.model.events import ModelOpened
from core.store.runs import Run, RunStore
from core.train.warmup import import_torch
from gui.runs_groups import GroupsTable, paired_html
from gui.runs_table import RunsTable, keep_selection
from gui.session import Session
from gui.theme import EXTRA_COLORS, KIND_COLORS, style_plot
from gui.training_plots import TrainingPlots
from gui.worker import Task, TaskSlot, error_message


class RunsScreen(QWidget):
    """See the module docstring."""

    opened = Signal(str)  # the session name of a run's model opened
    rerun_requested = Signal(dict)  # a run's settings, as TrainScreen.apply_settings takes them

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.opening = TaskSlot(session.tasks, self)
        self.store_folder: Path | None = None
        self._open: RunStore | None = None  # see _store
        self.table_model = RunsTable()
        self.table = QTableView()
        self.table.setModel(self.table_model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setResizeContentsPrecision(50)  # fit columns to 50 rows, not 10,000
        self.table.verticalHeader().hide()
        self.filter = QLineEdit(placeholderText="Filter runs: words found in any column (lstm sst2 finished…)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.table_model.set_filter)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.open_button = QPushButton("Open model")
        self.open_button.setToolTip("Add the selected run's model to this session (Try, Compare)")
        self.open_button.clicked.connect(self.open_selected)
        self.rerun_button = QPushButton("Re-run settings")
        self.rerun_button.setToolTip("Put the selected run's settings in the Train screen's form")
        self.rerun_button.clicked.connect(self.rerun_selected)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.clicked.connect(lambda: self._edit_selected("name"))
        self.note_button = QPushButton("Note…")
        self.note_button.setToolTip("Add a note to the selected run (shown in the table and searched by the filter)")
        self.note_button.clicked.connect(lambda: self._edit_selected("note"))
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the selected run and the model file the store kept for it")
        self.delete_button.clicked.connect(self.delete_selected)
        self.sweep_button = QPushButton("Tick sweep")
        self.sweep_button.setToolTip("Tick every run of the selected run's sweep (and only those)")
        self.sweep_button.clicked.connect(self.tick_sweep)
        self.summary = QLabel()
        self.groups_model = GroupsTable()
        self.groups = QTableView()
        self.groups.setModel(self.groups_model)
        self.groups.verticalHeader().hide()
        self.groups.setToolTip("Runs repeated over seeds or folds. Tick a group to draw its mean curves in a band "
                               "from its lowest to its highest run; tick two on the same seeds for a paired test.")
        self.groups_model.ticked_changed.connect(self._show_ticked)
        self.group_report = QTextBrowser()
        self.curves = TrainingPlots()  # the Train screen's four plots, for the ticked runs
        self.axis_choice = QComboBox()
        self.axis_choice.setToolTip("The setting on the x axis: those that differ among the ticked runs")
        self.axis_choice.currentIndexChanged.connect(lambda _i: self._show_against())
        self.against = pg.PlotWidget(title="Best validation accuracy against a setting (ticked runs)")
        self.against.showGrid(y=True, alpha=0.3)
        self.against.addLegend(offset=(-10, -10))
        style_plot(self.against, self.against.getPlotItem())
        self._points: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}  # per kind: runs, mean line
        self._ticked: list[Run] | None = None  # the ticked runs, as last read (None: not yet shown)
        # what the overlay shows, by ("run", id) or ("group", id): (legend name, colour, its runs as last drawn)
        self._drawn: dict[tuple[str, object], tuple[str, str, tuple[Run, ...]]] = {}
        self._reported: list | None = None  # the ticked groups' runs the group report was written from
        self.diff = QTextBrowser()
        self.table_model.ticked_changed.connect(self._show_ticked)
        keep_selection(self.table, lambda: [r.id for r in self.table_model.runs])
        keep_selection(self.groups, lambda: [g.id for g in self.groups_model.groups])
        self._live = QTimer(self)
        self._live.setInterval(2000)
        self._live.timeout.connect(self.refresh_live)

        buttons = QHBoxLayout()
        buttons.addWidget(self.filter, 1)
        for b in (self.refresh_button, self.sweep_button, self.open_button, self.rerun_button, self.rename_button,
                  self.note_button, self.delete_button):
            buttons.addWidget(b)
        against = QWidget()
        against_layout = QVBoxLayout(against)
        against_layout.setContentsMargins(0, 0, 0, 0)
        axis_row = QHBoxLayout()
        axis_row.addWidget(QLabel("x axis:"))
        axis_row.addWidget(self.axis_choice, 1)
        against_layout.addLayout(axis_row)
        against_layout.addWidget(self.against, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.curves)
        right.addWidget(against)
        right.addWidget(self.diff)
        right.setSizes([420, 220, 120])
        self.left = QSplitter(Qt.Orientation.Vertical)
        for w in (self.table, self.groups, self.group_report):
            self.left.addWidget(w)
        self.left.setSizes([330, 130, 260])  # a group's report: its spread, the paired test, the per-seed table
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.left)
        split.addWidget(right)
        split.setSizes([560, 720])
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)

    # data -----------------------------------------------------------------------------------------
    def _store(self) -> RunStore | None:
        """The screen's one connection to the store (GUI thread only), opened once per folder."""
        if self._open is not None and self._open.folder == self.store_folder:
            return self._open
        if self._open is not None:
            self._open.close()
            self._open = None
        if self.store_folder is None:
            return None
        try:
            self._open = RunStore(self.store_folder)
        except StudioError as e:
            self.summary.setText(f"The run store can't be opened: {e}")
        return self._open

    def refresh(self) -> None:
        """Read the store again (after a run, or another process's)."""
        store = self._store()
        if store is None:
            self.summary.setText(self.summary.text() or "Runs are not kept (no run store).")
            return
        if not store.read_only:
            store.mark_interrupted()  # a command-line run killed since the last look
        runs, notes = store.runs(), store.notes
        self.table_model.set_runs(runs)
        self.table.resizeColumnsToContents()
        self._show_groups()
        finished = sum(r.status == "finished" for r in runs)
        self.summary.setText(" ".join([f"{len(runs):,} runs ({finished:,} finished) in {self.store_folder}.",
                                       "Tick runs to overlay their curves and compare their settings.", *notes]))
        self._show_ticked({r.id for r in runs if r.status == "running"})  # their curves may have grown

    def set_live(self, live: bool) -> None:
        """While the Train screen trains: re-read the running and new runs every two seconds."""
        if live:
            self._live.start()
        else:
            self._live.stop()

    def refresh_live(self) -> None:
        """Re-read only the runs still running and those added since (not all 10,000), when shown."""
        store = self._store() if self.isVisible() else None
        if store is None:
            return
        runs = self.table_model.all_runs
        running = [r.id for r in runs if r.status == "running"]
        changed = store.runs_changed(running, max((r.id for r in runs), default=0))
        if changed:
            self.table_model.update_runs(changed)
            if any(r.group for r in changed):
                self._show_groups()
            # redrawn only when what is ticked changed (a run, or a run of a ticked group), and only that
            fresh = {r.id for r in changed}
            shown = {r.id for g in self.groups_model.ticked_groups() for r in g.runs} | self.table_model.ticked
            if shown & fresh:
                self._show_ticked(fresh)

    def _show_groups(self) -> None:
        """The groups among the runs; their panes shown only when there is one."""
        self.groups_model.set_runs(self.table_model.all_runs)
        self.groups.resizeColumnsToContents()
        for w in (self.groups, self.group_report):
            w.setVisible(bool(self.groups_model.groups))

    def tick_sweep(self) -> int:
        """Tick the runs of the selected run's sweep (untick the others); how many."""
        run = self.selected_run()
        if run is None or not run.sweep:
            QMessageBox.information(self, "No sweep", "Select a run that was part of a sweep first.")
            return 0
        model = self.table_model
        model.ticked = {r.id for r in model.all_runs if r.sweep and r.sweep.get("id") == run.sweep.get("id")}
        model.dataChanged.emit(model.index(0, 0), model.index(max(model.rowCount() - 1, 0), 0))
        self._show_ticked()
        return len(model.ticked)

    def selected_run(self) -> Run | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.table_model.runs[rows[0].row()]

    # actions --------------------------------------------------------------------------------------
    def open_selected(self) -> Task | None:
        """Open the selected run's model in the background (``opened`` names it in the session)."""
        run = self.selected_run()
        if run is None or not run.model_path:
            QMessageBox.information(self, "No model", "Select a finished run first.")
            return None

        def opening(control):
            import_torch()  # on the worker thread (see gui/worker.py): gently, if not yet loaded
            from core.store.modelfile import open_models

            return open_models([run.model_path], control)

        def on_event(event: object) -> None:
            if isinstance(event, ModelOpened):
                name = self.session.add_model(event.model, f"{run.name} (run {run.id})", saved=True)
                self.session.status.emit(f"Opened run {run.id} as {name}")
                self.opened.emit(name)

        self.session.status.emit(f"Opening run {run.id}'s model…")
        return self.opening.start(opening, "open run", on_event=on_event, on_failed=lambda exc: QMessageBox.warning(
            self, "Could not open the run's model", error_message(exc)))

    def rerun_selected(self) -> dict | None:
        run = self.selected_run()
        if run is None:
            return None
        settings = {"models": [run.kind], **run.settings}
        self.rerun_requested.emit(settings)
        self.session.status.emit(f"Settings of run {run.id} are in the Train screen's form")
        return settings

    def _edit_selected(self, what: str) -> None:
        run = self.selected_run()
        if run is None:
            return
        current = run.name if what == "name" else run.note
        text, ok = QInputDialog.getText(self, f"Run {run.id}", "Name:" if what == "name" else "Note:", text=current)
        if ok:
            self.edit(run.id, what, text.strip())

    def edit(self, run_id: int, what: str, text: str) -> None:
        """Rename a run (``what`` "name") or set its note."""
        self._change(lambda store: (store.rename if what == "name" else store.set_note)(run_id, text),
                     "Could not change the run")

    def _change(self, action, failure: str) -> None:
        """Apply ``action(store)``, say why when it fails, then show the store."""
        store = self._store()
        if store is not None:
            try:
                action(store)
            except StudioError as e:
                QMessageBox.warning(self, failure, str(e))
        self.refresh()

    def delete_selected(self) -> None:
        run = self.selected_run()
        if run is None:
            return
        answer = QMessageBox.question(self, "Delete the run?",
                                      f"Delete run {run.id} ({run.name}, {run.status}) and its kept model file?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._change(lambda store: store.delete(run.id), "Could not delete the run")

    # the overlay and the settings diff ------------------------------------------------------------
    def _show_ticked(self, fresh: set[int] | frozenset[int] = frozenset()) -> None:
        """Overlay the ticked runs and groups: the curves of those new, changed, recoloured or holding a run of
        ``fresh`` (re-read while training) are read again into their plot items; the others are left as drawn."""
        ticked = [r for r in self.table_model.all_runs if r.id in self.table_model.ticked]
        groups = self.groups_model.ticked_groups()
        store = self._store() if ticked or groups else None
        seen: set[str] = set()  # a kind's first run (or group) in its Train-screen colour, the others in extra ones
        extra = itertools.cycle(EXTRA_COLORS)

        def color(kind: str) -> str:
            first = kind in KIND_COLORS and kind not in seen
            seen.add(kind)
            return KIND_COLORS[kind] if first else next(extra)

        wanted = {("run", r.id): (curve_name(r), color(r.kind), (r,)) for r in ticked if store is not None}
        wanted |= {("group", g.id): (group_curve_name(g), color(g.runs[0].kind), tuple(g.runs)) for g in groups
                   if store is not None}
        for key in self._drawn.keys() - wanted.keys():
            self.curves.remove(self._drawn.pop(key)[0])
        for key, (name, colour, runs) in wanted.items():
            old = self._drawn.get(key)
            if old is not None and old[0] != name:  # a renamed run: the same curves under its new name
                self.curves.rename(old[0], name)
            if old is None or old[1:] != (colour, runs) or fresh & {r.id for r in runs}:
                curves = [(store.steps(r.id), store.epochs(r.id)) for r in runs]
                if key[0] == "run":
                    self.curves.load(name, colour, *curves[0])
                else:
                    self.curves.load_group(name, colour, curves, group=key[1])
            self._drawn[key] = (name, colour, runs)
        reported = [(g.id, g.runs) for g in groups]
        if reported != self._reported:
            self._reported = reported
            self.group_report.setHtml(paired_html(groups) or "<p>Tick a group to see its runs' spread; tick two "
                                      "on the same seeds (or folds) to test their difference.</p>")
        if ticked == self._ticked:  # the diff and the accuracy against a setting are as they were
            return
        self.diff.setHtml(settings_diff_html(ticked))
        self._ticked = ticked
        settings = differing_settings(ticked)
        current = self.axis_choice.currentText()
        self.axis_choice.blockSignals(True)
        self.axis_choice.clear()
        self.axis_choice.addItems([f"{section}.{name}" for section, name in settings])
        if current in [self.axis_choice.itemText(i) for i in range(self.axis_choice.count())]:
            self.axis_choice.setCurrentText(current)
        self.axis_choice.blockSignals(False)
        self._show_against()

    def _show_against(self) -> None:
        """Each ticked run's best validation accuracy against the chosen setting, a colour per kind, with a
        line through each kind's mean at each value (a sweep's effect of one setting, the others averaged)."""
        ticked = [r for r in self._ticked or () if r.val_accuracy is not None]
        chosen = self.axis_choice.currentText()
        section, _, name = chosen.partition(".")
        # runs without the setting (older ones) are left out; none chosen: fewer than two runs, or no difference
        ticked = [r for r in ticked if chosen and r.settings.get(section, {}).get(name) is not None]
        values = [r.settings[section][name] for r in ticked]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        categories = [] if numeric else sorted({str(v) for v in values})
        xs = [float(v) if numeric else float(categories.index(str(v))) for v in values]
        axis = self.against.getPlotItem().getAxis("bottom")
        axis.setTicks(None if numeric else [list(enumerate(categories))])
        self.against.setLabel("bottom", chosen or "tick runs whose settings differ")
        log_x = numeric and len(values) > 1 and min(values) > 0 and max(values) / min(values) >= 10
        self.against.getPlotItem().setLogMode(x=log_x)
        for points, line in self._points.values():
            points.setData([], [])
            line.setData([], [])
            _show(self.against, points, False)
        for kind in sorted({r.kind for r in ticked}):
            pairs = [(x, r.val_accuracy) for x, r in zip(xs, ticked, strict=True) if r.kind == kind]
            if kind not in self._points:
                color = KIND_COLORS.get(kind, EXTRA_COLORS[len(self._points) % len(EXTRA_COLORS)])
                points = self.against.plot(pen=None, symbol="o", symbolSize=8, symbolBrush=color)
                line = self.against.plot(pen=pg.mkPen(color, width=2))
                self._points[kind] = (points, line)
            points, line = self._points[kind]
            points.setData([x for x, _ in pairs], [y for _, y in pairs])
            _show(self.against, points, True, kind.upper())
            means = sorted({x for x, _ in pairs})
            line.setData(means, [sum(y for x2, y in pairs if x2 == x) / sum(1 for x2, _ in pairs if x2 == x)
                                 for x in means])


def curve_name(run: Run) -> str:
    """A run's name in the overlay's legend."""
    return f"{run.id}: {run.name}"


def group_curve_name(group) -> str:
    """A group's name in the overlay's legend: its mean, in a band from its lowest to its highest run. Its first
    run tells two groups of one label apart, and stays as runs join it (the band is kept under this name)."""
    return f"{group.label} (from run {min(r.id for r in group.runs)}): mean over its {group.kind}, min-max band"


def _show(plot: pg.PlotWidget, item: pg.PlotDataItem, visible: bool, name: str = "") -> None:
    """Show (under ``name`` in the legend) or hide a plot item created once; a hidden item leaves the legend,
    and a renamed run's entry follows its new name."""
    legend = plot.getPlotItem().legend
    listed = next((label.text for sample, label in legend.items if sample.item is item), None)
    if listed is not None and (not visible or listed != name):
        legend.removeItem(item)
        listed = None
    if visible and listed is None:
        legend.addItem(item, name)
    item.setVisible(visible)


def differing_settings(runs: list[Run]) -> list[tuple[str, str]]:
    """The (section, name) of each setting whose value differs among ``runs`` (a sweep's first)."""
    if len(runs) < 2:
        return []
    keys = sorted({(section, name) for r in runs for section, values in r.settings.items() for name in values})
    differ = [(section, name) for section, name in keys
              if len({repr(r.settings.get(section, {}).get(name)) for r in runs}) > 1]
    swept = {name for r in runs if r.sweep for name in r.sweep.get("values", {})}
    return sorted(differ, key=lambda key: key[1] not in swept)


def settings_diff_html(runs: list[Run]) -> str:
    """The settings that differ among ``runs``, one row each (all equal: said so)."""
    if len(runs) < 2:
        return "<p>Tick two or more runs to see the settings that differ.</p>"
    rows = []
    for section, name in differing_settings(runs):
        values = [r.settings.get(section, {}).get(name) for r in runs]
        rows.append(f"<tr><td>{section}.{name}</td>" + "".join(f"<td>{escape(str(v))}</td>" for v in values)
                    + "</tr>")
    if {r.dataset for r in runs} != {runs[0].dataset}:
        rows.insert(0, "<tr><td>dataset</td>" + "".join(f"<td>{escape(r.dataset)}</td>" for r in runs) + "</tr>")
    if not rows:
        return "<p>The ticked runs have the same settings and data.</p>"
    head = "<tr><th>setting</th>" + "".join(f"<th>run {r.id}</th>" for r in runs) + "</tr>"
    return f"<table cellspacing='6'>{head}{''.join(rows)}</table>"
