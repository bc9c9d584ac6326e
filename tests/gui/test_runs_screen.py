"""The Runs screen: runs from the command line and the Train screen, filtering, overlay, diff, open, delete."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

import cli
from core.data import load_dataset
from core.store.runs import RunStore
from gui.runs_screen import RunsScreen
from gui.runs_table import COLUMNS
from gui.session import Session
from gui.train_screen import TrainScreen


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def cli_train(tmp_path, *extra: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = cli.main(["train", "--data", "builtin:reviews?n=200", "--out", str(tmp_path / "m.safetensors"),
                         "--epochs", "2", "--embed-dim", "8", "--device", "cpu", "--quiet", *extra])
    assert code == 0


def test_runs_from_the_cli_are_listed_overlaid_diffed_opened_and_deleted(qtbot, home, tmp_path, monkeypatch):
    cli_train(tmp_path, "--hidden-size", "8")
    cli_train(tmp_path, "--hidden-size", "16", "--model", "rnn")
    session = Session()
    screen = RunsScreen(session)
    qtbot.addWidget(screen)
    screen.store_folder = home
    screen.refresh()
    assert screen.table_model.rowCount() == 2 and "2 runs (2 finished)" in screen.summary.text()
    screen.filter.setText("rnn")
    assert screen.table_model.rowCount() == 1
    screen.filter.setText("")
    model = screen.table_model
    for row in range(2):
        model.setData(model.index(row, 0), Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    names = screen.curves.model_names  # the Train screen's four plots, one set of curves a run
    assert len(names) == 2 and all(list(screen.curves.curve_data(n, "val_accuracy")[0]) == [1, 2] for n in names)
    assert all(screen.curves.points(n)["train_loss"] > 2 and screen.curves.points(n)["grad_norm"] > 2 for n in names)
    diff = screen.diff.toPlainText()
    assert "model.hidden_size" in diff and "model.kind" in diff and "train.epochs" not in diff
    screen.table.selectRow(0)
    with qtbot.waitSignal(screen.opened, timeout=20_000) as opened:
        screen.open_selected()
    name = opened.args[0]
    assert name in session.models and session.models[name].info.run_id == screen.selected_run().id
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    kept = screen.selected_run().model_path
    screen.delete_selected()
    assert screen.table_model.rowCount() == 1 and len(RunStore(home).runs()) == 1
    assert not __import__("pathlib").Path(kept).exists()


def test_a_training_on_the_train_screen_is_kept_as_runs(qtbot, home):
    session = Session()
    train = TrainScreen(session)
    runs = RunsScreen(session)
    for w in (train, runs):
        qtbot.addWidget(w)
    train.run_store_folder = runs.store_folder = home
    session.set_dataset(load_dataset("builtin:longrange?n=600&gap=2-8"))
    for key, value in {("model", "embed_dim"): 8, ("model", "hidden_size"): 8, ("train", "epochs"): 1}.items():
        train.inputs[key].setValue(value)
    train.inputs[("train", "device")].setCurrentText("cpu")
    with qtbot.waitSignal(train.training_finished, timeout=60_000):
        assert train.start_training()
    qtbot.waitUntil(lambda: not session.tasks, timeout=10_000)
    runs.refresh()
    kinds = sorted(r.kind for r in runs.table_model.runs)
    assert kinds == sorted(train.selected_kinds()) and all(r.status == "finished" for r in runs.table_model.runs)
    assert all(r.model_path and r.test_accuracy is not None for r in runs.table_model.runs)


def test_rename_note_and_rerun(qtbot, home, tmp_path):
    cli_train(tmp_path, "--hidden-size", "24", "--model", "gru")
    screen = RunsScreen(Session())
    qtbot.addWidget(screen)
    screen.store_folder = home
    screen.refresh()
    screen.table.selectRow(0)
    run_id = screen.selected_run().id
    screen.edit(run_id, "name", "wide GRU")
    screen.edit(run_id, "note", "baseline for the sweep")
    (run,) = RunStore(home).runs()
    assert (run.name, run.note) == ("wide GRU", "baseline for the sweep")
    screen.filter.setText("baseline sweep")
    assert screen.table_model.rowCount() == 1
    screen.filter.setText("baseline nothing")
    assert screen.table_model.rowCount() == 0
    screen.filter.setText("")
    screen.table.selectRow(0)
    train = TrainScreen(Session())
    qtbot.addWidget(train)
    screen.rerun_requested.connect(train.apply_settings)
    screen.rerun_selected()
    assert train.selected_kinds() == ["gru"] and train.inputs[("model", "hidden_size")].value() == 24


def test_a_2x2_sweep_on_the_train_screen_is_kept_and_plotted_against_each_setting(qtbot, home):
    session = Session()
    train = TrainScreen(session)
    runs = RunsScreen(session)
    for w in (train, runs):
        qtbot.addWidget(w)
    train.run_store_folder = runs.store_folder = home
    session.set_dataset(load_dataset("builtin:reviews?n=200"))
    train.kind_boxes["rnn"].setChecked(False)  # LSTM only: 2 x 2 = 4 runs
    for key, value in {("model", "embed_dim"): 8, ("train", "epochs"): 1}.items():
        train.inputs[key].setValue(value)
    train.inputs[("train", "device")].setCurrentText("cpu")
    train.sweep_edit.setText("hidden_size=4, 8  nope=1")
    assert "nope" in train.sweep_label.text()  # a bad setting is named before anything trains
    train.sweep_edit.setText("hidden_size=4, 8  learning_rate=0.01,0.003")
    assert train.sweep_label.text().startswith("4 combinations × 1 model = 4 runs")
    with qtbot.waitSignal(train.training_finished, timeout=120_000) as finished:
        assert train.start_training()
    assert len(finished.args[0]) == 4 and "LSTM hidden_size=8 learning_rate=0.003" in session.models
    qtbot.waitUntil(lambda: not session.tasks, timeout=10_000)
    runs.refresh()
    kept = runs.table_model.all_runs
    assert len(kept) == 4 and all(r.status == "finished" for r in kept) and len({r.sweep["id"] for r in kept}) == 1
    runs.table.selectRow(0)
    assert runs.tick_sweep() == 4
    choices = [runs.axis_choice.itemText(i) for i in range(runs.axis_choice.count())]
    assert choices[:2] == ["model.hidden_size", "train.learning_rate"] or \
        choices[:2] == ["train.learning_rate", "model.hidden_size"]
    for choice in ("model.hidden_size", "train.learning_rate"):
        runs.axis_choice.setCurrentText(choice)
        points, line = runs._points["lstm"]
        xs, _ = points.getData()
        assert len(xs) == 4 and len(line.getData()[0]) == 2  # a mean per value of the chosen setting


def test_the_live_run_appears_and_updates_without_losing_the_selection(qtbot, home):
    store = RunStore(home)
    old = store.begin(name="old", kind="rnn", dataset="d", fingerprint={}, settings={}, versions={})
    store.finish(old, "finished", val_accuracy=0.7)
    screen = RunsScreen(Session())
    qtbot.addWidget(screen)
    screen.store_folder = home
    screen.show()
    screen.refresh()
    screen.table.selectRow(0)
    live = store.begin(name="live", kind="lstm", dataset="d", fingerprint={}, settings={}, versions={})
    store.add_epoch(live, 1, val_accuracy=0.6)
    screen.set_live(True)
    qtbot.waitUntil(lambda: screen.table_model.rowCount() == 2, timeout=5000)  # within a live tick (2 s)
    assert {r.name: r.status for r in screen.table_model.runs} == {"old": "finished", "live": "running"}
    assert screen.selected_run().name == "old"  # kept selected across the update
    model = screen.table_model
    row = next(i for i, r in enumerate(model.runs) if r.name == "live")
    model.setData(model.index(row, 0), Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    store.add_epoch(live, 2, val_accuracy=0.65)
    store.finish(live, "finished", val_accuracy=0.65)
    qtbot.waitUntil(lambda: all(r.status == "finished" for r in screen.table_model.runs), timeout=5000)
    (name,) = screen.curves.model_names
    assert list(screen.curves.curve_data(name, "val_accuracy")[1]) == [0.6, 0.65]  # a ticked live run's curve grows
    screen.set_live(False)


def test_sweep_text_mistakes_are_named_and_a_rename_reaches_the_legend(qtbot, home):
    from core.train.sweep import sweep_specs

    assert sweep_specs(" hidden_size = 8, 16  lr=0.1 ; dropout=0.1,0.2") == [
        "hidden_size=8,16", "lr=0.1", "dropout=0.1,0.2"]
    train = TrainScreen(Session())
    qtbot.addWidget(train)
    train.sweep_edit.setText("hidden_size=8 16")  # not 816
    assert "separate the values with commas" in train.sweep_label.text()
    train.sweep_edit.setText("hidden_size=8,16")
    assert train.train_button.text() == f"Train {2 * len(train.selected_kinds())} runs: 2 combinations × 2 models"
    store = RunStore(home)
    ids = [store.begin(name=f"r{i}", kind="lstm", dataset="d", fingerprint={}, versions={},
                       settings={"model": {"hidden_size": h}}) for i, h in enumerate((8, 16, None))]
    for run_id, accs in zip(ids, ([0.5, None, 0.6], [0.7], [0.8]), strict=True):
        for epoch, acc in enumerate(accs, 1):
            store.add_epoch(run_id, epoch, val_accuracy=acc)
        store.finish(run_id, "finished", val_accuracy=max(a for a in accs if a is not None))
    screen = RunsScreen(Session())
    qtbot.addWidget(screen)
    screen.store_folder = home
    screen.refresh()
    model = screen.table_model
    for row in range(3):
        model.setData(model.index(row, 0), Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    xs, ys = screen.curves.curve_data(f"{ids[0]}: r0", "val_accuracy")
    assert list(xs) == [1, 3] and list(ys) == [0.5, 0.6]  # a missing score is left out, not drawn as 0
    assert screen.axis_choice.currentText() == "model.hidden_size"
    xs, _ = screen._points["lstm"][0].getData()
    assert sorted(xs) == [8.0, 16.0]  # numbers stay numbers; the run without the setting is left out
    screen.edit(ids[0], "name", "renamed")
    assert f"{ids[0]}: renamed" in screen.curves.model_names and f"{ids[0]}: r0" not in screen.curves.model_names


def store_group(store: RunStore, kind: str, group_kind: str, accuracies: list[float], group_id: str,
                dataset: str = "d", split_seed: int = 0) -> list[int]:
    """A group of finished runs, one per seed (or fold), each with a test confusion matrix of 100 rows
    and curves over three epochs."""
    ids = []
    for i, acc in enumerate(accuracies):
        member = {"seed": i} if group_kind == "seeds" else {"fold": i}
        name = f"{kind.upper()} seed={i}" if group_kind == "seeds" else f"{kind.upper()} fold {i + 1}/3"
        run_id = store.begin(name=name, kind=kind, dataset=dataset, fingerprint={}, versions={},
                             settings={"data": {"split_seed": split_seed}, "model": {"hidden_size": 8}},
                             group={"id": group_id, "kind": group_kind, "n": len(accuracies), "index": i, **member})
        for step in range(1, 7):
            store.add_step(run_id, step, 1 + (step - 1) // 2, 0.7 - 0.05 * step + 0.01 * i, 1.0 + i, 6)
        for epoch in (1, 2, 3):
            store.add_epoch(run_id, epoch, val_accuracy=acc - 0.1 / epoch, val_loss=0.5 / epoch + 0.01 * i)
        right = round(100 * acc)
        confusion = [[right // 2, 50 - right // 2], [50 - (right - right // 2), right - right // 2]]
        store.finish(run_id, "finished", val_accuracy=acc, test_accuracy=acc, test_confusion=confusion)
        ids.append(run_id)
    return ids


def tick(model, row: int, on: bool = True) -> None:
    state = Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
    model.setData(model.index(row, 0), state.value, Qt.ItemDataRole.CheckStateRole)


def test_intervals_groups_their_band_and_the_paired_test_over_seeds(qtbot, home):
    from core.store.runs import RunStore
    from core.uncertainty import confusion_interval, p_text, paired_over_seeds, summarize
    from gui.runs_groups import GROUP_COLUMNS
    from gui.runs_screen import group_curve_name
    from gui.runs_table import CI

    store = RunStore(home)
    lstm = store_group(store, "lstm", "seeds", [0.82, 0.80, 0.86], "sweep:lstm")
    store_group(store, "rnn", "seeds", [0.74, 0.78, 0.76], "sweep:rnn")
    store_group(store, "gru", "folds", [0.70, 0.72, 0.71], "cv:gru")
    old = store.begin(name="old", kind="lstm", dataset="d", fingerprint={}, settings={}, versions={})
    store.finish(old, "finished", test_accuracy=0.5)  # before schema 3: no confusion matrix, no interval
    screen = RunsScreen(Session())
    qtbot.addWidget(screen)
    screen.store_folder = home
    screen.refresh()
    table = screen.table_model
    row = next(i for i, r in enumerate(table.runs) if r.id == lstm[0])
    ci = confusion_interval(table.runs[row].test_confusion)
    assert table.data(table.index(row, CI)) == f"{100 * ci.accuracy_ci[0]:.1f}–{100 * ci.accuracy_ci[1]:.1f}"
    assert ci.accuracy_ci[0] < 0.82 < ci.accuracy_ci[1] and "95% bootstrap interval" in table.data(
        table.index(row, CI), Qt.ItemDataRole.ToolTipRole)
    assert table.data(table.index(next(i for i, r in enumerate(table.runs) if r.id == old), CI)) is None
    assert table.data(table.index(row, COLUMNS.index("group"))) == "seed 0 (1/3)"

    groups = screen.groups_model
    assert [g.id for g in groups.groups] == ["cv:gru", "sweep:rnn", "sweep:lstm"] and screen.groups.isVisibleTo(screen)
    shown = {groups.data(groups.index(i, 1)): groups.data(groups.index(i, 4)) for i in range(3)}
    assert shown["LSTM"] == summarize([0.82, 0.80, 0.86]).text() == "82.7 ± 3.1 (80.0-86.0, 3 seeds)"
    assert shown["GRU"] == summarize([0.70, 0.72, 0.71], "folds").text()
    assert groups.data(groups.index(0, GROUP_COLUMNS.index("runs"))) == "3/3 folds"

    tick(groups, 2)  # the LSTM group alone: its mean curves in a band, no test yet
    name = group_curve_name(groups.groups[2])
    x, low, high = screen.curves.band(name, "val_accuracy")
    _, mean = screen.curves.curve_data(name, "val_accuracy")
    runs_acc = [[e["val_accuracy"] for e in store.epochs(i)] for i in lstm]
    assert list(x) == [1, 2, 3] and np.allclose(mean, np.mean(runs_acc, 0))
    assert np.allclose(low, np.min(runs_acc, 0)) and np.allclose(high, np.max(runs_acc, 0))
    assert screen.curves.band(name, "train_loss_smooth") is not None
    assert "82.7 ± 3.1" in screen.group_report.toPlainText() and "paired" not in screen.group_report.toPlainText()

    tick(groups, 1)  # and the RNN's, on the same seeds: the paired test over them
    test = paired_over_seeds([0, 1, 2], [0.82, 0.80, 0.86], [0.74, 0.78, 0.76])
    report = screen.group_report.toPlainText()
    said = f"LSTM − RNN over the same 3 seeds: {100 * test.mean_diff:+.1f} points on average, {p_text(test.p)}"
    assert said in report
    assert p_text(test.p) == "p = 0.25" and "Per-seed McNemar: in Compare" in report
    tick(groups, 0)  # folds against seeds: no paired test, said why
    assert "LSTM and GRU: no paired test, one is repeated over seeds, the other over folds" in (
        screen.group_report.toPlainText())
    for row in range(3):
        tick(groups, row, False)
    assert screen.curves.band(name, "val_accuracy") is None and screen.curves.model_names == []


def test_two_groups_of_one_label_draw_apart_and_groups_of_other_rows_are_not_paired(qtbot, home):
    from core.store.runs import RunStore
    from gui.runs_screen import group_curve_name

    store = RunStore(home)
    first = store_group(store, "lstm", "seeds", [0.82, 0.80, 0.86], "a:lstm")
    store_group(store, "lstm", "seeds", [0.72, 0.70, 0.76], "b:lstm")
    store_group(store, "rnn", "seeds", [0.74, 0.78, 0.76], "c:rnn", split_seed=5)  # tested on other rows
    screen = RunsScreen(Session())
    qtbot.addWidget(screen)
    screen.store_folder = home
    screen.refresh()
    groups = screen.groups_model
    assert [g.id for g in groups.groups] == ["c:rnn", "b:lstm", "a:lstm"]
    tick(groups, 1)
    tick(groups, 2)
    names = [group_curve_name(g) for g in groups.groups[1:]]
    assert len(set(names)) == 2 and f"from run {first[0]}" in names[1]
    for name in names:  # each its own mean and band
        assert screen.curves.band(name, "val_accuracy") is not None
    means = [screen.curves.curve_data(n, "val_accuracy")[1][-1] for n in names]
    assert np.allclose(sorted(means), [0.7267 - 0.1 / 3, 0.8267 - 0.1 / 3], atol=1e-3)
    report = screen.group_report.toPlainText()
    assert f"LSTM (from run {first[0]}) − LSTM (from run" in report
    tick(groups, 0)
    assert "RNN: no paired test, they were not tested on the same rows" in screen.group_report.toPlainText()
    groups_table = [groups.data(groups.index(i, 1)) for i in range(3)]  # the table tells them apart too
    assert groups_table[0] == "RNN" and groups_table[2] == f"LSTM (from run {first[0]})"


def test_groups_pair_only_seed_by_seed_on_the_same_rows(home):
    import dataclasses

    from gui.runs_groups import RunGroup, groups_of, pair_problem

    store = RunStore(home)
    store_group(store, "lstm", "seeds", [0.82, 0.80, 0.86], "a")
    store_group(store, "rnn", "seeds", [0.74, 0.78, 0.76], "b")
    store_group(store, "lstm", "folds", [0.8, 0.7, 0.9], "fa")
    store_group(store, "rnn", "folds", [0.7, 0.6, 0.8], "fb")
    found = {g.id: g for g in groups_of(store.runs())}

    def changed(group: RunGroup, runs=None, **values) -> RunGroup:
        runs = group.runs if runs is None else runs
        return RunGroup(group.id, group.kind, group.n, [dataclasses.replace(r, **values) for r in runs])

    a, b = found["a"], found["b"]
    assert pair_problem(a, b) == ""
    share = changed(b, settings={"data": {"split_seed": 0, "test_fraction": 0.2}, "model": {"hidden_size": 8}})
    for other in (share, changed(b, fingerprint={"sha256": "other"})):  # another test share, other rows of data
        assert pair_problem(a, other).startswith("they were not tested on the same rows")
    assert pair_problem(a, changed(b, dataset="e")) == "they were trained on different data"
    # folds: fold k against fold k, each its own rows (and fingerprint); a group without its fold 1 still pairs
    fa, fb = ([dataclasses.replace(r, fingerprint={"fold": g.member(r)}) for r in g.runs]
              for g in (found["fa"], found["fb"]))
    fa, fb = changed(found["fa"], fa), changed(found["fb"], fb[1:])
    assert pair_problem(fa, fb) == ""
    other_rows = changed(fb, [dataclasses.replace(fb.runs[-1], fingerprint={"fold": 0}), *fb.runs[:-1]])
    assert pair_problem(fa, other_rows).startswith("they were not tested on the same rows")  # its fold 3's rows


def test_a_bands_colour_follows_the_ticks_and_bands_leave_with_their_curves(qtbot):
    from PySide6.QtGui import QColor

    from gui.training_plots import TrainingPlots

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    items = {p: list(p.items) for p in (plots.loss_plot, plots.accuracy_plot)}
    runs = [([{"step": s, "loss": 1.0 / s + i, "grad_norm": 1.0} for s in (1, 2, 3)],
             [{"epoch": e, "val_loss": 0.5, "val_accuracy": 0.5 + 0.1 * i} for e in (1, 2)]) for i in range(3)]
    plots.load_group("LSTM (from run 1)", "#0072B2", runs, group="g1")
    shown = list(plots.accuracy_plot.items)
    plots.load_group("LSTM (from run 1)", "#CC79A7", runs[:2], group="g1")  # another colour, one run fewer
    assert plots.band_color("LSTM (from run 1)") == QColor("#CC79A7").name()
    assert list(plots.accuracy_plot.items) == shown  # the same items, new data and colour
    assert np.allclose(plots.band("LSTM (from run 1)", "val_accuracy")[2], [0.6, 0.6])
    plots.rename("LSTM (from run 1)", "LSTM (runs 1-3)")
    assert plots.band("LSTM (runs 1-3)", "val_accuracy") is not None and plots.model_names == ["LSTM (runs 1-3)"]
    plots.load_group("GRU", "#009E73", runs, group="g2")
    plots.remove("LSTM (runs 1-3)")
    assert plots.band("GRU", "val_accuracy") is not None and len(plots.accuracy_plot.items) == len(shown)
    plots.clear()  # nothing kept behind: ticking groups on and off adds no items
    assert {p: list(p.items) for p in (plots.loss_plot, plots.accuracy_plot)} == items


def test_a_live_group_redraws_only_what_changed_in_place_and_keeps_the_selection(qtbot, home, monkeypatch):
    from PySide6.QtGui import QColor

    from gui.runs_screen import group_curve_name
    from gui.theme import EXTRA_COLORS, KIND_COLORS

    store = RunStore(home)
    done = store_group(store, "rnn", "seeds", [0.74, 0.78, 0.76], "done:rnn")

    def begin(index: int, group: str = "live:lstm", kind: str = "lstm") -> int:
        return store.begin(name=f"{kind.upper()} seed={index}", kind=kind, dataset="d", fingerprint={}, versions={},
                           settings={"data": {"split_seed": 0}}, group={"id": group, "kind": "seeds", "n": 3,
                                                                         "index": index, "seed": index})

    live = [begin(0), begin(1)]
    store.add_epoch(live[0], 1, val_accuracy=0.6)
    store.add_epoch(live[1], 1, val_accuracy=0.5)
    screen = RunsScreen(Session())
    qtbot.addWidget(screen)
    screen.store_folder = home
    screen.show()
    screen.refresh()
    groups, table = screen.groups_model, screen.table_model
    assert [g.id for g in groups.groups] == ["live:lstm", "done:rnn"]
    tick(groups, 0)
    tick(groups, 1)
    name = group_curve_name(groups.groups[0])
    assert screen.curves.band_color(name) == QColor(KIND_COLORS["lstm"]).name()
    tick(table, next(i for i, r in enumerate(table.runs) if r.id == done[0]))  # an RNN run: the RNN group recolours
    rnn_name = group_curve_name(groups.groups[1])
    assert screen.curves.band_color(rnn_name) == QColor(EXTRA_COLORS[0]).name()
    screen.groups.selectRow(0)
    items = list(screen.curves.accuracy_plot.items)
    opened = screen._store()
    reads: list[int] = []
    steps = opened.steps
    monkeypatch.setattr(opened, "steps", lambda run_id: reads.append(run_id) or steps(run_id))

    store.add_epoch(live[0], 2, val_accuracy=0.7)
    store.add_epoch(live[1], 2, val_accuracy=0.6)
    screen.refresh_live()
    assert sorted(reads) == live  # the live group read again; the finished run and group not
    assert list(screen.curves.curve_data(name, "val_accuracy")[1]) == pytest.approx([0.55, 0.65])
    assert list(screen.curves.accuracy_plot.items) == items  # the same curve and band items, set new data
    selected = [groups.groups[i.row()].id for i in screen.groups.selectionModel().selectedRows()]
    assert selected == ["live:lstm"]

    reads.clear()
    live.append(begin(2))  # the third seed starts: the group grows under the same name
    begin(0, "new:gru", "gru")  # and a new group appears above it: the table is reset, the selection kept
    screen.refresh_live()
    assert [g.id for g in groups.groups] == ["new:gru", "live:lstm", "done:rnn"]
    assert [groups.groups[i.row()].id for i in screen.groups.selectionModel().selectedRows()] == ["live:lstm"]
    assert sorted(reads) == live and group_curve_name(groups.groups[1]) == name
    assert list(screen.curves.accuracy_plot.items) == items

    for run_id in live:
        store.finish(run_id, "finished", test_accuracy=0.8)
    screen.refresh_live()
    assert "LSTM: test accuracy 80.0 ± 0.0" in screen.group_report.toPlainText()
    reads.clear()
    reports: list[int] = []
    monkeypatch.setattr("gui.runs_screen.paired_html", lambda g: reports.append(1) or "")
    store.finish(store.begin(name="other", kind="gru", dataset="d", fingerprint={}, settings={}, versions={}),
                 "finished")
    screen.refresh_live()  # nothing ticked changed: nothing read again or redrawn, no report written
    assert reads == [] and reports == [] and table.rowCount() == 8
