"""The Train screen: defaults, settings, a real two-model run, cancel, pause/resume, and errors."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QAbstractSpinBox, QCheckBox, QComboBox, QMessageBox

import core.train.pipeline as pipeline_module
from core.config import ModelConfig, RepeatConfig, TokenizerConfig, TrainConfig
from core.data import load_dataset
from core.errors import StudioError
from gui.config_form import ScientificSpinBox
from gui.session import Session
from gui.train_screen import TrainScreen


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("builtin:longrange?n=600&gap=2-8")


@pytest.fixture
def panel(qtbot):
    panel = TrainScreen(Session())
    qtbot.addWidget(panel)
    yield panel
    if panel.is_training:  # never leave a worker running behind a deleted widget
        panel.cancel()
        qtbot.waitUntil(lambda: not panel.is_training, timeout=5000)


def small(panel: TrainScreen, epochs: int = 1, patience: int | None = None) -> None:
    """Tiny models on the CPU: the tests exercise the screen, not the learning."""
    values = {
        ("model", "embed_dim"): 16,
        ("model", "hidden_size"): 16,
        ("train", "epochs"): epochs,
        ("train", "patience"): patience or epochs,
    }
    for key, value in values.items():
        panel.inputs[key].setValue(value)
    panel.inputs[("train", "device")].setCurrentText("cpu")


def steps_drawn(panel: TrainScreen, name: str) -> int:
    panel.plots.refresh()
    return panel.plots.points(name)["train_loss"]


# --- form ------------------------------------------------------------------------------------------------
def test_defaults_come_from_the_core_configs_and_every_input_has_a_tooltip(panel):
    assert panel.kind_boxes["lstm"].isChecked() and panel.kind_boxes["rnn"].isChecked()
    assert not panel.kind_boxes["gru"].isChecked()
    settings = panel.settings_dict()
    assert settings["models"] == ["lstm", "rnn"]
    for section, config in (("model", ModelConfig()), ("tokenizer", TokenizerConfig()), ("train", TrainConfig())):
        for key, value in settings[section].items():
            assert value == pytest.approx(getattr(config, key)), (section, key)
    inputs = [*panel.findChildren(QAbstractSpinBox), *panel.findChildren(QComboBox), *panel.findChildren(QCheckBox)]
    assert len(inputs) >= 21
    for w in inputs:
        assert w.toolTip().strip(), w.objectName()
    for button in (panel.train_button, panel.pause_button, panel.cancel_button, panel.reset_button):
        assert button.toolTip().strip()


def test_settings_round_trip_tolerate_strings_and_reset(panel):
    # what QSettings (INI) hands back: strings, and a one-item list as a plain string
    panel.apply_settings({
        "models": "gru",
        "model": {"hidden_size": "64", "bidirectional": "false", "pooling": "last"},
        "train": {"learning_rate": "0.005", "epochs": "3", "device": "cpu", "no_such_field": 1},
        "tokenizer": {"vocab_size": "not a number"},
    })
    s = panel.settings_dict()
    assert s["models"] == ["gru"]
    assert (s["model"]["hidden_size"], s["model"]["bidirectional"], s["model"]["pooling"]) == (64, False, "last")
    assert (s["train"]["learning_rate"], s["train"]["epochs"], s["train"]["device"]) == (0.005, 3, "cpu")
    assert s["tokenizer"]["vocab_size"] == TokenizerConfig().vocab_size
    models, _, train = panel.configs()
    assert [m.kind for m in models] == ["gru"] and models[0].hidden_size == 64 and train.epochs == 3
    other = TrainScreen(Session())
    other.apply_settings(s)
    assert other.settings_dict() == s
    other.deleteLater()
    panel.reset_button.click()
    assert panel.settings_dict() == panel.default_settings()


def test_rate_spin_box_steps_one_two_five():
    box = ScientificSpinBox(0.0, 1.0, floor=1e-6)
    box.setValue(0.002)
    assert box.text() == "0.002"
    box.stepBy(1)
    assert box.value() == pytest.approx(0.005)
    box.stepBy(1)
    assert box.value() == pytest.approx(0.01)
    box.stepBy(-3)
    assert box.value() == pytest.approx(0.001)
    box.setValue(0.0)
    box.stepBy(1)
    assert box.value() == pytest.approx(1e-6)
    box.stepBy(-1)
    assert box.value() == 0.0


def test_train_is_disabled_without_a_dataset_or_a_model(panel, dataset):
    assert not panel.train_button.isEnabled()
    assert "dataset" in panel.hint.text().lower()
    assert panel.start_training() is False
    panel.session.set_dataset(dataset)
    assert panel.train_button.isEnabled()
    for box in panel.kind_boxes.values():
        box.setChecked(False)
    assert not panel.train_button.isEnabled()
    assert "model" in panel.hint.text().lower()


# --- training --------------------------------------------------------------------------------------------
def test_trains_lstm_and_rnn_side_by_side_and_fills_every_curve(panel, dataset, qtbot):
    panel.session.set_dataset(dataset)
    panel.inputs[("train", "epochs")].setValue(2)  # default model sizes: a few seconds of real load on the CPU
    panel.inputs[("train", "device")].setCurrentText("cpu")
    gaps: list[float] = []
    last = [time.perf_counter()]

    def beat() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    heartbeat = QTimer()
    heartbeat.setTimerType(Qt.TimerType.PreciseTimer)
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(beat)
    with qtbot.waitSignal(panel.training_finished, timeout=60000) as finished:
        last[0] = time.perf_counter()
        heartbeat.start()
        assert panel.start_training()
        assert panel.is_training and not panel.train_button.isEnabled() and panel.cancel_button.isEnabled()
    heartbeat.stop()

    assert finished.args[0] == ["LSTM", "RNN"]
    assert list(panel.session.models) == ["LSTM", "RNN"]
    assert not panel.is_training and panel.train_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert panel.progress_bar.value() == 1000
    assert panel.progress_label.text().startswith("Finished")
    steps = -(-len(dataset["train"]) // TrainConfig().batch_size)
    for name in ("LSTM", "RNN"):
        points = panel.plots.points(name)
        assert points == {"train_loss": 2 * steps, "train_loss_smooth": 2 * steps, "val_loss": 2, "val_accuracy": 2,
                          "grad_norm": 2 * steps}, name
        x, y = panel.plots.curve_data(name, "train_loss")
        assert isinstance(x, np.ndarray) and np.array_equal(x, np.arange(1, 2 * steps + 1)) and np.all(y > 0)
    for plot in (panel.plots.loss_plot, panel.plots.val_loss_plot, panel.plots.accuracy_plot, panel.plots.grad_plot):
        assert plot.scene() is not None and len(plot.listDataItems()) >= 2  # clear() at start kept the plots
    stall_ms = (np.array(gaps) - 0.010) * 1000
    print(f"\nGUI heartbeat while training LSTM+RNN: {len(gaps)} beats, max stall {stall_ms.max():.1f} ms, "
          f"p99 {np.percentile(stall_ms, 99):.1f} ms, median {np.median(stall_ms):.1f} ms")


def test_cancel_stops_within_a_second_keeps_the_curves_and_allows_a_new_run(panel, dataset, qtbot):
    panel.session.set_dataset(dataset)
    small(panel, epochs=50)
    with qtbot.waitSignal(panel.training_started, timeout=1000):
        assert panel.start_training()
    qtbot.waitUntil(lambda: "LSTM" in panel.plots.model_names and steps_drawn(panel, "LSTM") > 0, timeout=30000)
    qtbot.waitUntil(lambda: "left" in panel.progress_label.text(), timeout=2000)
    text = panel.progress_label.text()
    assert text.startswith("LSTM (1/2) · epoch ") and "/50 · step " in text and "tok/s" in text
    with qtbot.waitSignal(panel.training_cancelled, timeout=1000):
        panel.cancel()
    assert not panel.is_training and panel.train_button.isEnabled()
    assert panel.session.models == {}  # the interrupted LSTM was half-trained: dropped
    assert steps_drawn(panel, "LSTM") > 0  # its curves stay
    assert "Cancelled" in panel.progress_label.text()

    panel.inputs[("train", "epochs")].setValue(1)
    with qtbot.waitSignal(panel.training_finished, timeout=60000):
        assert panel.start_training()
    assert list(panel.session.models) == ["LSTM", "RNN"]


def test_pause_holds_the_trainer_and_resume_carries_on(panel, dataset, qtbot):
    panel.session.set_dataset(dataset)
    panel.kind_boxes["rnn"].setChecked(False)
    small(panel, epochs=50)
    assert panel.start_training()
    qtbot.waitUntil(lambda: "LSTM" in panel.plots.model_names and steps_drawn(panel, "LSTM") > 0, timeout=30000)
    panel.pause_button.click()
    assert panel.is_paused and panel.pause_button.text() == "Resume"
    assert panel.progress_label.text().startswith("Paused")
    qtbot.wait(300)  # the batch in flight when Pause was pressed may still report
    held = steps_drawn(panel, "LSTM")
    qtbot.wait(300)
    assert steps_drawn(panel, "LSTM") == held
    panel.pause_button.click()
    assert not panel.is_paused and panel.pause_button.text() == "Pause"
    qtbot.waitUntil(lambda: steps_drawn(panel, "LSTM") > held, timeout=10000)
    panel.pause()
    with qtbot.waitSignal(panel.training_cancelled, timeout=2000):  # cancel also wakes a paused run
        panel.cancel()
    assert not panel.is_paused and panel.pause_button.text() == "Pause"


def test_a_failure_shows_a_dialog_and_returns_to_idle(panel, dataset, qtbot, monkeypatch):
    def broken(*args, **kwargs):
        raise StudioError("the training data is haunted")

    shown: list[tuple] = []
    monkeypatch.setattr(pipeline_module, "train_model", broken)
    monkeypatch.setattr(QMessageBox, "critical", staticmethod(lambda *args: shown.append(args)))
    panel.session.set_dataset(dataset)
    assert panel.start_training()
    qtbot.waitUntil(lambda: bool(shown), timeout=10000)
    assert shown[0][1:] == ("Training failed", "the training data is haunted")
    assert not panel.is_training and panel.train_button.isEnabled()
    assert "failed" in panel.progress_label.text()


def test_a_setting_the_core_refuses_is_named_and_its_input_focused(panel, dataset, qtbot, monkeypatch):
    """The form's bounds come from the settings, but an editable choice (the device) takes any text: the
    core's check names the setting and the screen puts the cursor on it."""
    shown: list[tuple] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *args: shown.append(args)))
    panel.session.set_dataset(dataset)
    device = panel.inputs[("train", "device")]
    with qtbot.waitActive(panel):
        panel.show()
        panel.activateWindow()
    device.setCurrentText("meta")
    assert not panel.start_training() and not panel.is_training
    assert shown[0][1] == "Cannot train" and "Device (--device) must be auto, cpu, cuda, cuda:N or mps" in shown[0][2]
    qtbot.waitUntil(device.hasFocus, timeout=2000)


def test_ctrl_enter_trains_and_escape_cancels(panel, dataset, qtbot):
    panel.session.set_dataset(dataset)
    small(panel, epochs=50)
    with qtbot.waitActive(panel):  # shortcuts only reach an active window
        panel.show()
        panel.activateWindow()
    panel.inputs[("train", "epochs")].setFocus()
    with qtbot.waitSignal(panel.training_started, timeout=1000):
        qtbot.keyClick(panel.inputs[("train", "epochs")], Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "LSTM" in panel.plots.model_names, timeout=30000)
    with qtbot.waitSignal(panel.training_cancelled, timeout=2000):
        qtbot.keyClick(panel.cancel_button, Qt.Key.Key_Escape)
    assert not panel.is_training


def test_the_form_offers_every_setting_the_command_line_does(panel):
    from core.settings import settings_of

    expected = {(section, f.name) for section, cls in (("model", ModelConfig), ("tokenizer", TokenizerConfig),
                                                      ("train", TrainConfig), ("repeat", RepeatConfig))
                for f in settings_of(cls)}
    assert set(panel.inputs) == expected - {("model", "kind")}  # the kind is the row of check boxes
    assert ("tokenizer", "min_frequency") in panel.inputs and ("tokenizer", "lowercase") in panel.inputs
    for (_section, name), w in panel.inputs.items():
        assert w.toolTip().startswith("<p>"), name


# --- seeds and folds ---------------------------------------------------------------------------------------
def test_repeat_with_3_seeds_trains_3_runs_per_ticked_kind_kept_as_one_group(panel, qtbot, tmp_path):
    from core.store.runs import RunStore

    panel.session.set_dataset(load_dataset("builtin:reviews?n=200"))
    panel.run_store_folder = tmp_path / "store"
    small(panel)
    panel.inputs[("model", "embed_dim")].setValue(8)
    panel.inputs[("model", "hidden_size")].setValue(8)
    panel.inputs[("train", "seed")].setValue(5)
    panel.inputs[("repeat", "repeat")].setValue(3)
    assert panel.train_button.text() == "Train 6 runs: 2 models × 3 seeds"
    assert panel.sweep_label.text().startswith("2 models × 3 seeds = 6 runs")
    with qtbot.waitSignal(panel.training_finished, timeout=120_000) as finished:
        assert panel.start_training()
    assert sorted(finished.args[0]) == sorted(f"{k} seed={s}" for k in ("LSTM", "RNN") for s in (5, 6, 7))
    qtbot.waitUntil(lambda: not panel.session.tasks, timeout=10_000)
    runs = RunStore(tmp_path / "store").runs()
    assert len(runs) == 6 and all(r.status == "finished" and r.test_confusion for r in runs)
    for kind in ("lstm", "rnn"):
        mine = sorted((r for r in runs if r.kind == kind), key=lambda r: r.group["index"])
        assert len({r.group["id"] for r in mine}) == 1 and mine[0].group["id"].endswith(f":{kind}")
        assert [(r.group["kind"], r.group["n"], r.group["seed"]) for r in mine] == [("seeds", 3, s) for s in (5, 6, 7)]
        assert [r.settings["train"]["seed"] for r in mine] == [5, 6, 7]


def no_test_split_csv(folder, n: int = 61):
    words = {0: ["bad", "awful", "dull"], 1: ["good", "great", "fine"]}
    path = folder / "pool.csv"
    path.write_text("text,label\n" + "".join(f"the film was {words[i % 2][i % 3]} number {i},{i % 2}\n"
                                             for i in range(n)), encoding="utf-8")
    return path


def test_folds_train_one_run_per_fold_as_a_group_and_the_session_keeps_the_last_folds_model(panel, qtbot, tmp_path):
    from core.store.runs import RunStore

    panel.session.set_dataset(load_dataset(str(no_test_split_csv(tmp_path))))
    panel.run_store_folder = tmp_path / "store"
    panel.kind_boxes["rnn"].setChecked(False)
    small(panel)
    panel.inputs[("repeat", "folds")].setValue(3)
    assert panel.train_button.text() == "Train 3 runs: 1 model × 3 folds"
    said: list[str] = []
    panel.session.status.connect(said.append)
    with qtbot.waitSignal(panel.training_finished, timeout=120_000) as finished:
        assert panel.start_training()
    assert finished.args[0] == ["LSTM fold 3/3"] and list(panel.session.models) == ["LSTM fold 3/3"]
    assert "LSTM fold 1/3 trained and kept as a run" in said and "LSTM fold 2/3 trained and kept as a run" in said
    qtbot.waitUntil(lambda: not panel.session.tasks, timeout=10_000)
    runs = sorted(RunStore(tmp_path / "store").runs(), key=lambda r: r.group["fold"])
    assert [(r.name, r.group["kind"], r.group["n"], r.group["fold"]) for r in runs] == [
        (f"LSTM fold {k + 1}/3", "folds", 3, k) for k in range(3)]
    assert len({r.group["id"] for r in runs}) == 1
    assert sum(int(np.sum(r.test_confusion)) for r in runs) == 61  # each row tested once, by one fold's model


def test_folds_on_data_with_its_own_test_split_are_refused_in_one_message(panel, dataset, monkeypatch):
    panel.session.set_dataset(dataset)  # builtin:longrange has its own test split
    panel.inputs[("repeat", "folds")].setValue(5)
    assert "has a test split of its own (60 rows): folds are for data without one" in panel.hint.text()
    assert panel.sweep_label.text() == ""  # one message, above Train, however the form is scrolled
    assert panel.train_button.text() == "Train"
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warned.append(text))
    assert panel.start_training() is False and not panel.is_training
    assert len(warned) == 1 and warned[0].startswith(f"{dataset.source} has a test split of its own")
    panel.inputs[("repeat", "repeat")].setValue(3)  # seeds and folds together: the setting's own refusal
    assert "repeat with seeds or folds, not both" in panel.hint.text()
