"""How smooth the window stays while two models train: event-loop stalls measured by a heartbeat.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_responsiveness.py [--data SOURCE] [--epochs N]

A 10 ms QTimer records the gap between its ticks on the GUI thread while the Train screen (plots
visible, refreshing) trains an LSTM and an RNN in its worker. A stall is the gap minus 10 ms.
Prints one table row per phase; ``--json FILE`` also writes the figures.
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

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import gui.main_window as main_window_module  # noqa: E402


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


def measure(data: str, epochs: int, warm: bool, kinds: list[str] | None = None) -> dict:
    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp()) / "settings.ini"
    main_window_module.settings = lambda: QSettings(str(tmp), QSettings.Format.IniFormat)
    win = main_window_module.MainWindow()
    if not warm:
        win._warm_up = lambda: None  # measure the cold first step too
    win.show()
    win.data_screen.load(data)
    wait_for(win.data_screen.loaded, 120)
    settle = QEventLoop()
    QTimer.singleShot(3000 if warm else 0, settle.quit)  # let the background warm-up finish
    settle.exec()
    panel = win.train_screen
    panel.inputs[("train", "epochs")].setValue(epochs)
    if kinds:
        panel.apply_settings({"models": kinds})
    win.tabs.setCurrentWidget(panel)
    beat = Heartbeat()
    beat.start()
    t0 = time.perf_counter()
    panel.start_training()
    wait_for(panel.training_finished, 3600)
    seconds = time.perf_counter() - t0
    stalls = beat.stop()
    accuracy = {name: m.record.test.accuracy for name, m in win.session.models.items() if m.record.test}
    win.session.unsaved.clear()  # closing must not ask about the models (nobody is there to answer)
    win.close()
    app.processEvents()
    return {
        "warm_up": warm,
        "seconds": round(seconds, 1),
        "ticks": int(stalls.size),
        "stall_ms_max": round(float(stalls.max()), 1),
        "stall_ms_p99": round(float(np.percentile(stalls, 99)), 1),
        "stall_ms_p50": round(float(np.percentile(stalls, 50)), 1),
        "worst": beat.worst(stalls),
        "test_accuracy": accuracy,
    }


def main() -> int:
    shared = ROOT.parent / "shared" / "datasets" / "sst2"
    parser = argparse.ArgumentParser()
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
        r = subprocess.run([sys.executable, __file__, "--data", args.data, "--epochs", str(args.epochs), "--one", case,
                            "--models", args.models],
                           capture_output=True, text=True, check=True)
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    models = args.models.upper().replace(",", " + ")
    print(f"{models} training on {args.data}, {args.epochs} epoch(s), Train screen visible")
    print(f"{'warm-up':>8} {'seconds':>8} {'ticks':>6} {'max ms':>7} {'p99 ms':>7} {'p50 ms':>7}")
    for r in rows:
        print(f"{'yes' if r['warm_up'] else 'no':>8} {r['seconds']:>8} {r['ticks']:>6} {r['stall_ms_max']:>7} "
              f"{r['stall_ms_p99']:>7} {r['stall_ms_p50']:>7}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
