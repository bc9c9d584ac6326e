"""Crash safety: closing mid-training exits promptly, and a crashed run's best epoch can be reopened."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

import gui.main_window as main_window_module
from core.store.modelfile import save_model
from gui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[2]

# Opens the real window offscreen, trains on 2,000 texts for many epochs, and closes the window
# (then quits the app) as soon as the first step is drawn, printing the time of the close.
CLOSE_SCRIPT = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
import gui.main_window as mw

tmp = Path(sys.argv[1])
mw.settings = lambda: QSettings(str(tmp / "studio.ini"), QSettings.Format.IniFormat)
mw.checkpoint_dir = lambda: tmp / "checkpoints"
app = QApplication([])
QTimer.singleShot(60_000, lambda: os._exit(3))  # a hang fails the test instead of blocking it
win = mw.MainWindow()
win.show()
panel = win.train_screen

def start(_dataset):
    for key, value in {{("model", "embed_dim"): 16, ("model", "hidden_size"): 16, ("train", "epochs"): 500,
                        ("train", "patience"): 500}}.items():
        panel.inputs[key].setValue(value)
    panel.inputs[("train", "device")].setCurrentText("cpu")
    assert panel.start_training()
    poll.start()

def check():
    panel.plots.refresh()
    if panel.plots.points("LSTM")["train_loss"] > 0:
        poll.stop()
        print(f"CLOSING {{time.time()!r}}", flush=True)
        win.close()
        app.quit()

poll = QTimer()
poll.setInterval(10)
poll.timeout.connect(check)
win.data_screen.loaded.connect(start)
win.data_screen.load("builtin:longrange?n=2000")
code = app.exec()
print(f"EXEC RETURNED {{time.time()!r}} checkpoints left: {{len(list((tmp / 'checkpoints').glob('*')))}}", flush=True)
sys.exit(code)
"""


def test_closing_the_window_mid_training_exits_cleanly_within_3_s(tmp_path):
    script = tmp_path / "close_mid_training.py"
    script.write_text(CLOSE_SCRIPT.format(root=str(ROOT)))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE, stderr=err,
                                text=True, env=env, cwd=ROOT)
        lines = []
        try:
            for line in proc.stdout:
                lines.append(line)
                if line.startswith("CLOSING"):
                    break
            closed_at = float(lines[-1].split()[1]) if lines and lines[-1].startswith("CLOSING") else None
            assert closed_at is not None, f"never reached training: {lines} {(tmp_path / 'stderr.txt').read_text()}"
            code = proc.wait(timeout=30)
            exited_at = time.time()
            lines += proc.stdout.readlines()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stderr = (tmp_path / "stderr.txt").read_text()
    print(f"\nclose to exit: {exited_at - closed_at:.2f} s; {lines[-1].strip()}")
    assert code == 0, f"exit code {code}\n{stderr}"
    assert exited_at - closed_at < 3.0, f"took {exited_at - closed_at:.2f} s from close to exit\n{stderr}"
    assert "checkpoints left: 0" in lines[-1]  # a cancelled run removes its checkpoint
    assert "Traceback" not in stderr, stderr


# --- reopening checkpoints ----------------------------------------------------------------------------
@pytest.fixture
def folders(tmp_path, monkeypatch):
    ini = tmp_path / "studio.ini"
    checkpoints = tmp_path / "checkpoints"
    monkeypatch.setattr(main_window_module, "settings", lambda: QSettings(str(ini), QSettings.Format.IniFormat))
    monkeypatch.setattr(main_window_module, "checkpoint_dir", lambda: checkpoints)
    return checkpoints


def leave_checkpoint(folder: Path, model, name: str = "LSTM-20260101-120000") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    from core.model.records import CheckpointMark

    model.record.checkpoint = CheckpointMark(epoch=3)
    return save_model(model, folder / f"{name}.safetensors")


def ask_returns(monkeypatch, button) -> list[tuple]:
    asked: list[tuple] = []

    def question(*args):
        asked.append(args)
        return button

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


def test_a_leftover_checkpoint_is_offered_and_reopened(qtbot, folders, tiny_model, monkeypatch):
    path = leave_checkpoint(folders, tiny_model)
    asked = ask_returns(monkeypatch, QMessageBox.StandardButton.Yes)
    win = MainWindow()
    qtbot.addWidget(win)
    assert win.leftover_checkpoints() == [path]
    opened = win.offer_checkpoints()
    assert len(asked) == 1 and "did not finish" in asked[0][2]
    assert opened == ["LSTM (recovered, epoch 3)"] and list(win.session.models) == opened
    texts = ["good film", "awful plot"]
    assert (win.session.models[opened[0]].predict_proba(texts) == tiny_model.predict_proba(texts)).all()
    assert not path.exists()  # in the session now; not offered again
    assert win.offer_checkpoints() == [] and len(asked) == 1


@pytest.mark.parametrize(("button", "kept"), [("No", True), ("Discard", False)])
def test_declining_keeps_or_discards_the_checkpoint(qtbot, folders, tiny_model, monkeypatch, button, kept):
    path = leave_checkpoint(folders, tiny_model)
    ask_returns(monkeypatch, getattr(QMessageBox.StandardButton, button))
    win = MainWindow()
    qtbot.addWidget(win)
    assert win.offer_checkpoints() == [] and not win.session.models
    assert path.exists() == kept


def test_no_question_without_leftovers(qtbot, folders, monkeypatch):
    asked = ask_returns(monkeypatch, QMessageBox.StandardButton.Yes)
    win = MainWindow()
    qtbot.addWidget(win)
    assert win.offer_checkpoints() == [] and not asked


def test_training_in_the_window_keeps_a_checkpoint_until_it_ends(qtbot, folders, tiny_dataset):
    win = MainWindow()
    qtbot.addWidget(win)
    panel = win.train_screen
    assert panel.checkpoint_dir == folders
    win.session.set_dataset(tiny_dataset)
    panel.kind_boxes["rnn"].setChecked(False)
    for key, value in {("model", "embed_dim"): 8, ("model", "hidden_size"): 8, ("train", "epochs"): 200,
                       ("train", "patience"): 200}.items():
        panel.inputs[key].setValue(value)
    panel.inputs[("train", "device")].setCurrentText("cpu")
    assert panel.start_training()
    qtbot.waitUntil(lambda: bool(list(folders.glob("LSTM-*.safetensors"))), timeout=20_000)
    with qtbot.waitSignal(panel.training_cancelled, timeout=5000):
        panel.cancel()
    assert not list(folders.iterdir())  # the run ended normally: no leftover to offer


def test_a_checkpoint_its_interrupted_run_points_at_moves_into_the_run_store(qtbot, folders, tiny_model, monkeypatch):
    """The app's runs point at their checkpoint while they train: after a crash, Discard must not leave the
    interrupted run pointing at nothing; the store keeps the file."""
    from core.store.runs import RunStore

    path = leave_checkpoint(folders, tiny_model)
    store = RunStore()  # conftest: $SENTIMENT_STUDIO_HOME is a temporary folder
    run_id = store.begin(name="LSTM", kind="lstm", dataset="d", fingerprint={}, settings={}, versions={})
    store.set_model_path(run_id, str(path))
    ask_returns(monkeypatch, QMessageBox.StandardButton.Discard)
    win = MainWindow()
    qtbot.addWidget(win)
    assert win.offer_checkpoints() == []
    kept = RunStore().get(run_id, curves=False).model_path
    assert not path.exists() and kept == str(store.model_file(run_id)) and Path(kept).is_file()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value is Linux's")
def test_a_task_runs_behind_the_window(qtbot):
    """Long work yields a contended core to the GUI thread: the task's thread runs at a higher nice value."""
    import threading

    from gui.worker import BACKGROUND_NICE, Task

    here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())  # the GUI thread's
    seen = []

    def work(control):
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        yield "done"

    task = Task(work).start()
    with qtbot.waitSignal(task.ended, timeout=5000):
        pass
    assert seen == [max(BACKGROUND_NICE, here)] and BACKGROUND_NICE > 0
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == here  # the GUI thread's is untouched
