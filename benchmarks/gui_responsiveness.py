"""How smooth the window stays from its first paint and while two models train: event-loop stalls.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m benchmarks.gui_responsiveness [--data SOURCE] [--epochs N]

A 10 ms QTimer records the gap between its ticks on the GUI thread from the moment the window is shown:
while the screens not on show are built, while PyTorch loads in the background (gui/main_window.py,
core/train/warmup.py), and while the Train screen (plots visible, refreshing) trains an LSTM and an RNN in
its worker. A stall is the gap minus 10 ms. "warm": Train is pressed once PyTorch is set up; "cold": as
soon as the data is loaded, while PyTorch may still be loading (the Train task then waits for it on its
worker thread). Prints one table row per case; ``--json FILE`` also writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

import gui.main_window as main_window_module
from benchmarks import ROOT

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # read when the QApplication is made, not on import


class Heartbeat:
    def __init__(self, interval_ms: int = 10) -> None:
        self.interval = interval_ms
        self.clock = QElapsedTimer()
        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(lambda: self.ticks.append(self.clock.nsecsElapsed() / 1e6))

    def start(self) -> None:
        self.clock.start()
        self.ticks.clear()
        self.timer.start()

    def stop(self) -> np.ndarray:
        self.timer.stop()
        gaps = np.diff(np.asarray(self.ticks))
        return np.maximum(gaps - self.interval, 0.0)

    def worst(self, stalls: np.ndarray, n: int = 5) -> list[list[float]]:
        """The ``n`` longest stalls as [seconds after the start, stall ms], to tell when they happen."""
        order = np.argsort(stalls)[::-1][:n]
        return [[round(self.ticks[i] / 1000, 2), round(float(stalls[i]), 1)] for i in sorted(order)]


def wait_for(signal, timeout_s: float) -> None:
    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()


def phase_stalls(beat: Heartbeat, stalls: np.ndarray, start_ms: float, end_ms: float) -> dict:
    """The largest stall and its p99 among the ticks from ``start_ms`` to ``end_ms`` after the heartbeat began."""
    ticks = np.asarray(beat.ticks[1:])
    inside = stalls[(ticks >= start_ms) & (ticks <= end_ms)]
    if not inside.size:
        return {"ms": round(end_ms - start_ms), "stall_ms_max": None, "stall_ms_p99": None}
    return {"ms": round(end_ms - start_ms), "stall_ms_max": round(float(inside.max()), 1),
            "stall_ms_p99": round(float(np.percentile(inside, 99)), 1)}


def measure(data: str, epochs: int, warm: bool, kinds: list[str] | None = None) -> dict:
    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp()) / "settings.ini"
    main_window_module.settings = lambda: QSettings(str(tmp), QSettings.Format.IniFormat)
    beat = Heartbeat()
    marks: dict[str, float] = {}
    win = main_window_module.MainWindow()
    load_torch, loading = win.load_torch, win._torch_loading

    def mark_load_torch():  # the other screens are built: PyTorch starts loading
        marks["screens_built"] = beat.clock.nsecsElapsed() / 1e6
        return load_torch()

    def mark_loading(event):
        marks[event.phase] = beat.clock.nsecsElapsed() / 1e6  # "loaded", then "warm"
        loading(event)

    win.load_torch, win._torch_loading = mark_load_torch, mark_loading
    beat.start()
    win.show()
    if warm:
        while "warm" not in marks and beat.clock.elapsed() < 120_000:
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
    win.data_screen.load(data)
    wait_for(win.data_screen.loaded, 120)
    panel = win.train_screen
    panel.inputs[("train", "epochs")].setValue(epochs)
    if kinds:
        panel.apply_settings({"models": kinds})
    win.tabs.setCurrentWidget(panel)
    train_ms = beat.clock.nsecsElapsed() / 1e6
    t0 = time.perf_counter()
    panel.start_training()
    wait_for(panel.training_finished, 3600)
    seconds = time.perf_counter() - t0
    end_ms = beat.clock.nsecsElapsed() / 1e6
    stalls = beat.stop()
    accuracy = {name: m.record.test.accuracy for name, m in win.session.models.items() if m.record.test}
    win.session.unsaved.clear()  # closing must not ask about the models (nobody is there to answer)
    win.close()
    app.processEvents()
    built, ready = marks.get("screens_built", end_ms), marks.get("warm", end_ms)
    training = phase_stalls(beat, stalls, train_ms, end_ms)
    return {
        "warm_up": warm,
        "seconds": round(seconds, 1),
        "ticks": int(stalls.size),
        "stall_ms_max": training["stall_ms_max"],
        "stall_ms_p99": training["stall_ms_p99"],
        "stall_ms_p50": round(float(np.percentile(stalls, 50)), 1),
        "building_screens": phase_stalls(beat, stalls, 0.0, built),
        "loading_torch": phase_stalls(beat, stalls, built, ready),
        "worst": beat.worst(stalls),
        "test_accuracy": accuracy,
    }


def main() -> int:
    shared = ROOT.parent / "shared" / "datasets" / "sst2"
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gui_responsiveness")
    parser.add_argument("--data", default=str(shared) if shared.is_dir() else "builtin:reviews")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--models", default="lstm,rnn", help="the kinds to train, comma-separated")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--one", choices=("cold", "warm"), help=argparse.SUPPRESS)  # one case, in this process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.data, args.epochs, args.one == "warm", args.models.split(","))))
        return 0
    rows = []
    for case in ("cold", "warm"):  # each in a fresh process: PyTorch's one-time set-up happens once per process
        r = subprocess.run([sys.executable, "-m", "benchmarks.gui_responsiveness", "--data", args.data, "--epochs",
                            str(args.epochs), "--one", case, "--models", args.models],
                           capture_output=True, text=True, check=True, cwd=ROOT)
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    models = args.models.upper().replace(",", " + ")
    print(f"{models} training on {args.data}, {args.epochs} epoch(s), Train screen visible")
    print(f"{'warm-up':>8} {'seconds':>8} {'ticks':>6} {'max ms':>7} {'p99 ms':>7} {'p50 ms':>7}  "
          "screens built (max ms)  torch loaded (max ms, p99)")
    for r in rows:
        build, load = r["building_screens"], r["loading_torch"]
        print(f"{'yes' if r['warm_up'] else 'no':>8} {r['seconds']:>8} {r['ticks']:>6} {r['stall_ms_max']:>7} "
              f"{r['stall_ms_p99']:>7} {r['stall_ms_p50']:>7}  {build['ms']:>7} ms ({build['stall_ms_max']}) "
              f"{load['ms']:>7} ms ({load['stall_ms_max']}, {load['stall_ms_p99']})")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
