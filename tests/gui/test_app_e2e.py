"""End to end: drive the real main window as a user would, from a dataset to a saved and reopened model."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings

import gui.main_window as main_window_module
from gui.main_window import MainWindow

SOURCE = "builtin:longrange?n=600&gap=2-8"


@pytest.fixture
def settings_file(tmp_path, monkeypatch):
    path = tmp_path / "studio.ini"
    monkeypatch.setattr(main_window_module, "settings", lambda: QSettings(str(path), QSettings.Format.IniFormat))
    return path


@pytest.fixture
def window(qtbot, settings_file):
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def small_training(win: MainWindow, epochs: int = 1) -> None:
    panel = win.train_screen
    for key, value in {("model", "embed_dim"): 16, ("model", "hidden_size"): 16,
                       ("train", "epochs"): epochs, ("train", "patience"): epochs}.items():
        panel.inputs[key].setValue(value)
    panel.inputs[("train", "device")].setCurrentText("cpu")


def load(qtbot, win: MainWindow, source: str = SOURCE) -> None:
    with qtbot.waitSignal(win.data_screen.loaded, timeout=30_000):
        win.data_screen.load(source)


def test_title_icon_tabs_and_menus(window):
    assert window.windowTitle().startswith("Sentiment Studio")
    assert not window.windowIcon().isNull()
    tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert tabs == ["Data", "Train", "Compare", "Try", "Models", "Runs"]
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    file_actions = [a.text().replace("&", "") for a in menus["File"].actions() if a.text()]
    for wanted in ("Open dataset…", "Open model…", "Save model…", "Export plot as PNG…", "Quit"):
        assert wanted in file_actions
    shortcuts = {a.text().replace("&", ""): a.shortcut().toString() for a in menus["File"].actions()}
    assert shortcuts["Open dataset…"] == "Ctrl+O" and shortcuts["Quit"] == "Ctrl+Q"


def test_user_journey_from_dataset_to_reopened_model(qtbot, window, tmp_path):
    win = window
    # 1. data
    load(qtbot, win)
    assert win.session.dataset is not None and win.windowTitle().endswith(SOURCE)
    # 2. train LSTM and RNN (ticked by default) for one short epoch
    panel = win.train_screen
    assert panel.selected_kinds() == ["lstm", "rnn"]
    small_training(win)
    win.tabs.setCurrentWidget(panel)
    with qtbot.waitSignal(panel.training_finished, timeout=120_000) as done:
        assert panel.start_training()
    names = done.args[0]
    assert names == ["LSTM", "RNN"] and list(win.session.models) == names
    panel.plots.refresh()
    for name in names:
        points = panel.plots.points(name)
        assert points["train_loss"] > 0 and points["val_accuracy"] == 1, points
    # 3. compare
    win.tabs.setCurrentWidget(win.compare_screen)
    qtbot.waitUntil(lambda: win.compare_screen.view.table.rowCount() == 2, timeout=30_000)
    # 4. try a sentence: one heatmap column per word
    win.tabs.setCurrentWidget(win.try_screen)
    sentence = "the movie was great and fun"
    with qtbot.waitSignal(win.try_screen.updated, timeout=5000):
        win.try_screen.set_text(sentence)
    assert win.try_screen.heatmap.image_shape()[1] == len(sentence.split())
    assert win.try_screen.heatmap.column_labels() == sentence.split()
    # 5. save the LSTM and open it again: the same prediction
    path = tmp_path / "lstm.safetensors"
    with qtbot.waitSignal(win.models_screen.saved, timeout=10_000):
        win.models_screen.save("LSTM", str(path))
    with qtbot.waitSignal(win.models_screen.opened, timeout=10_000) as opened:
        win.models_screen.open_files([str(path)])
    (reopened,) = opened.args[0]
    before = win.session.models["LSTM"].predict_proba([sentence])
    after = win.session.models[reopened].predict_proba([sentence])
    np.testing.assert_array_equal(before, after)
    # 6. export the visible screen
    png = tmp_path / "screen.png"
    assert win.export_png(str(png)) == str(png) and png.stat().st_size > 1000


def test_cancel_mid_training_then_train_again(qtbot, window):
    win = window
    load(qtbot, win)
    small_training(win, epochs=50)
    panel = win.train_screen
    assert panel.start_training()
    qtbot.waitUntil(lambda: (panel.plots.refresh() or panel.plots.points("LSTM")["train_loss"]) > 0, timeout=30_000)
    with qtbot.waitSignal(panel.training_cancelled, timeout=1000):
        panel.cancel()
    assert not panel.is_training
    qtbot.waitUntil(lambda: not win.session.tasks, timeout=1000)
    small_training(win, epochs=1)
    with qtbot.waitSignal(panel.training_finished, timeout=120_000):
        assert panel.start_training()


def test_closing_mid_training_stops_the_worker(qtbot, settings_file):
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    load(qtbot, win)
    small_training(win, epochs=50)
    assert win.train_screen.start_training()
    qtbot.waitUntil(lambda: bool(win.session.tasks) and win.train_screen.plots.points("LSTM")["train_loss"] >= 0,
                    timeout=10_000)
    tasks = list(win.session.tasks)
    win.close()
    assert all(not t.running for t in tasks)


def test_settings_are_kept_between_runs(qtbot, settings_file):
    first = MainWindow()
    qtbot.addWidget(first)
    load(qtbot, first)
    first.train_screen.inputs[("train", "epochs")].setValue(7)
    first.train_screen.kind_boxes["gru"].setChecked(True)
    first.tabs.setCurrentIndex(2)
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.train_screen.inputs[("train", "epochs")].value() == 7
    assert second.train_screen.selected_kinds() == ["lstm", "rnn", "gru"]
    assert second.data_screen.picker.current_source() == SOURCE
    assert second.tabs.currentIndex() == 2
    second.close()


def test_a_first_launch_gets_to_a_comparison_with_one_click(qtbot, window, monkeypatch):
    """From an empty window to an LSTM-vs-RNN comparison without reading anything: the demo button."""
    import gui.data_screen as data_screen_module

    monkeypatch.setattr(data_screen_module, "DEMO_SOURCE", "builtin:reviews?n=400")  # the same set, smaller
    monkeypatch.setattr(main_window_module, "DEMO_SOURCE", "builtin:reviews?n=400")
    win = window
    assert win.tabs.current_key() == "data" and win.session.dataset is None
    assert win.data_screen.body.currentIndex() == 0 and win.data_screen.demo_button.isVisible()
    win.train_screen.inputs[("train", "epochs")].setValue(1)  # the demo uses the form as it is; keep it short
    with qtbot.waitSignal(win.compare_screen.evaluated, timeout=120_000):
        win.data_screen.demo_button.click()
    assert win.tabs.current_key() == "compare"
    assert list(win.session.models) == ["LSTM", "RNN"] and win.compare_screen.view.table.rowCount() == 2
    assert win.data_screen.body.currentIndex() == 1  # the welcome page gives way to the data


def _trained_window(qtbot, win: MainWindow) -> None:
    load(qtbot, win)
    small_training(win)
    with qtbot.waitSignal(win.train_screen.training_finished, timeout=120_000):
        assert win.train_screen.start_training()


@pytest.mark.parametrize("answer", ["cancel", "save"])
def test_closing_with_unsaved_models_asks_first(qtbot, settings_file, tmp_path, monkeypatch, answer):
    win = MainWindow()
    qtbot.addWidget(win)
    win.train_screen.run_store_folder = None  # no run store (it can't be opened): models live only in memory
    win.show()
    _trained_window(qtbot, win)
    assert win.session.unsaved == {"LSTM", "RNN"}
    assert "(not saved)" in win.models_screen.list.item(0).text()
    asked: list[list[str]] = []
    monkeypatch.setattr(main_window_module, "ask_unsaved", lambda parent, names: asked.append(names) or answer)
    folder = tmp_path / "kept"
    folder.mkdir()
    monkeypatch.setattr(main_window_module.QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    win.close()
    assert asked == [["LSTM", "RNN"]]
    if answer == "cancel":
        assert win.isVisible() and list(win.session.models) == ["LSTM", "RNN"]
        return
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=10_000)  # closes once both files are written
    assert sorted(p.name for p in folder.iterdir()) == ["LSTM.safetensors", "RNN.safetensors"]
    assert not win.session.unsaved and len(asked) == 1


def test_runs_trained_in_the_app_are_kept_and_listed_after_a_restart(qtbot, settings_file, tmp_path, monkeypatch):
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    _trained_window(qtbot, win)
    assert not win.session.unsaved  # kept in the run store: closing risks nothing
    asked: list = []
    monkeypatch.setattr(main_window_module, "ask_unsaved", lambda parent, names: asked.append(names) or "cancel")
    win.close()
    assert not asked and not win.isVisible()
    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    again.tabs.setCurrentWidget(again.runs_screen)
    runs = again.runs_screen.table_model.runs
    assert sorted((r.name, r.status) for r in runs) == [("LSTM", "finished"), ("RNN", "finished")]


def test_a_second_run_keeps_each_model_in_one_colour_on_every_screen(qtbot, window):
    win = window
    _trained_window(qtbot, win)
    with qtbot.waitSignal(win.train_screen.training_finished, timeout=120_000):
        assert win.train_screen.start_training()
    assert list(win.session.models) == ["LSTM", "RNN", "LSTM (2)", "RNN (2)"]
    plots = win.train_screen.plots
    for name in ("LSTM (2)", "RNN (2)"):
        pen = plots._models[name].curves["train_loss_smooth"].opts["pen"]
        assert pen.color().name() == win.session.color(name).lower()
    assert len({win.session.color(n) for n in win.session.models}) == 4


def test_a_cancelled_demo_leaves_later_loads_alone(qtbot, window):
    win = window
    win.start_demo()
    win.data_screen.cancel()
    load(qtbot, win)  # the user's own data: no training starts, no tab switches
    assert not win.train_screen.is_training and win.tabs.current_key() == "data"
