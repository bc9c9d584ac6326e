"""The window is drawn before torch is imported; torch and the other screens follow in the background, and a
Train pressed before torch is ready waits for it on its worker thread and trains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.subprocess  # a fresh interpreter: this one imported torch long ago

SCRIPT = r"""
import json, os, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
from PySide6.QtWidgets import QMessageBox
import gui.main_window as mw
from gui.app import open_window

tmp = Path(sys.argv[2])
mw.settings = lambda: QSettings(str(tmp / "studio.ini"), QSettings.Format.IniFormat)
mw.checkpoint_dir = lambda: tmp / "checkpoints"
def refuse(parent, title, text, *args):
    print(f"DIALOG {title}: {text}", file=sys.stderr, flush=True)
    os._exit(4)
QMessageBox.warning = QMessageBox.critical = refuse
report = {}

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.UpdateRequest and "painted" not in report:
            report["painted"] = True
            QTimer.singleShot(0, drawn)
        return False

def drawn():
    report["torch_at_paint"] = "torch" in sys.modules
    report["built_at_paint"] = [k for k in ("data", "train", "compare", "try", "models", "runs")
                                if window.tabs.is_built(k)]
    panel = window.train_screen  # asked for now: built at once, before the others' turn
    for key, value in {("model", "embed_dim"): 8, ("model", "hidden_size"): 8, ("train", "epochs"): 1}.items():
        panel.inputs[key].setValue(value)
    panel.inputs[("train", "device")].setCurrentText("cpu")
    panel.kind_boxes["rnn"].setChecked(False)
    window.data_screen.loaded.connect(train)
    window.data_screen.load("builtin:longrange?n=300&gap=2-4")

def train(_dataset):
    report["torch_at_train"] = "torch" in sys.modules
    window.train_screen.training_finished.connect(finished)
    report["started"] = window.train_screen.start_training()

def finished(names):
    report["trained"] = names
    wait_for_torch()

def wait_for_torch():
    if window._torch != "ready":
        QTimer.singleShot(50, wait_for_torch)
        return
    report["built_at_end"] = [k for k in ("data", "train", "compare", "try", "models", "runs")
                              if window.tabs.is_built(k)]
    print(json.dumps(report), flush=True)
    window.close()
    app.quit()

first = FirstPaint()
original = mw.MainWindow.__init__
def init(self, *a, **k):
    original(self, *a, **k)
    self.installEventFilter(first)
mw.MainWindow.__init__ = init
app, window = open_window()
QTimer.singleShot(120_000, lambda: os._exit(3))  # a hang fails the test instead of blocking it
app.exec()
"""


def test_the_window_is_drawn_before_torch_and_a_train_pressed_meanwhile_trains(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SENTIMENT_STUDIO_HOME": str(tmp_path / "home")}
    script = tmp_path / "startup.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(ROOT), str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["torch_at_paint"] is False and report["built_at_paint"] == ["data"]
    assert report["started"] is True and report["trained"] == ["LSTM"]
    assert report["built_at_end"] == ["data", "train", "compare", "try", "models", "runs"]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]


CLOSE_WHILE_LOADING = r"""
import faulthandler, os, sys, time
faulthandler.dump_traceback_later(90, exit=True)  # a hang prints every thread's stack and fails the test
sys.path.insert(0, sys.argv[1])
from PySide6.QtCore import QTimer
import core.train.warmup as warmup
import gui.app as app_module

real_import = warmup.import_torch
def slow_import():  # a cold disk or a busy machine: longer than the window waits for its tasks on closing
    time.sleep(4)
    real_import()
warmup.import_torch = slow_import

opened = app_module.open_window

def open_and_close(argv=None):
    app, window = opened(argv)
    def check():
        if window._torch == "loading":  # the worker is inside PyTorch's import now
            print("closing while PyTorch loads", flush=True)
            window.close()
            app.quit()
        elif window._torch in ("ready", "failed"):
            print("missed: PyTorch was ready", flush=True)
            window.close()
            app.quit()
        else:
            QTimer.singleShot(5, check)
    QTimer.singleShot(0, check)
    return app, window

app_module.open_window = open_and_close
sys.exit(app_module.run([]))
"""


def test_closing_while_torch_loads_ends_the_process_cleanly(tmp_path):
    """The app's run (as ./run.sh) waits at exit for the import a worker is in: torch's, outlasting the window's
    wait for its tasks (slowed here) and interrupted by Python's teardown, failed in odd ways and printed
    tracebacks (3 of 20 launches closed at random moments, before)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SENTIMENT_STUDIO_HOME": str(tmp_path / "home"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    script = tmp_path / "close.py"
    script.write_text(CLOSE_WHILE_LOADING)
    done = subprocess.run([sys.executable, str(script), str(ROOT)], capture_output=True, text=True, env=env,
                          timeout=180)
    assert "closing while PyTorch loads" in done.stdout, done.stdout + done.stderr[-2000:]
    assert done.returncode == 0 and "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr[-3000:]
