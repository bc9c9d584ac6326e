"""The Runs screen: runs from the command line and the Train screen, filtering, overlay, diff, open, delete."""

from __future__ import annotations

import contextlib
import io

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

import cli
from core.data import load_dataset
from core.store.runs import RunStore
from gui.runs_screen import RunsScreen
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
    assert train.train_button.text() == f"Train {2 * len(train.selected_kinds())} runs"
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
