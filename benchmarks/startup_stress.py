"""The app's start-up under a stress loop: launch it N times on a real X server, close it at a random moment of
its start-up (while the screens are built, while PyTorch loads) or once PyTorch is ready, and count the launches
that crashed (a signal, e.g. SIGABRT) or printed a traceback.

    python -m benchmarks.startup_stress [--launches 30] [--display :77]

Needs an X server: with no DISPLAY, Xvfb (Debian's package ``xvfb``) is started on ``--display`` for the loop.
Each launch runs ``gui.app.run`` (what ``./run.sh`` runs) in a fresh home.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from benchmarks import ROOT

LAUNCH = r"""
import os, sys, time
from PySide6.QtCore import QTimer
import gui.app as app_module

quit_after = float(sys.argv[1])
opened = app_module.open_window

def open_and_close(argv=None):
    app, window = opened(argv)
    start = time.monotonic()
    def check():
        t = time.monotonic() - start
        if (quit_after and t > quit_after) or (not quit_after and window._torch in ("ready", "failed")) or t > 30:
            print(f"closed at {t:.2f} s, PyTorch {window._torch or 'not started'}", flush=True)
            window.close()
            app.quit()
        else:
            QTimer.singleShot(10, check)
    QTimer.singleShot(0, check)
    return app, window

app_module.open_window = open_and_close
sys.exit(app_module.run([]))
"""


def launch(quit_after: float, env: dict[str, str]) -> tuple[int, str]:
    home = tempfile.mkdtemp(prefix="studio-stress-")
    env = {**env, "SENTIMENT_STUDIO_HOME": f"{home}/runs",
           **{name: f"{home}/{name.lower()}" for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME")}}
    try:
        done = subprocess.run([sys.executable, "-c", LAUNCH, str(quit_after)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        return done.returncode, done.stdout + done.stderr
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup_stress", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--launches", type=int, default=30)
    parser.add_argument("--display", default=":77", help="for the Xvfb started when DISPLAY is not set")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}  # a real X window, not offscreen
    xvfb = None
    if not env.get("DISPLAY"):
        if shutil.which("Xvfb") is None:
            print("no DISPLAY and no Xvfb: install Debian's xvfb or run under an X server", file=sys.stderr)
            return 2
        xvfb = subprocess.Popen(["Xvfb", args.display, "-screen", "0", "1440x900x24"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        env["DISPLAY"] = args.display
        time.sleep(1)
    crashed = traced = 0
    try:
        for i in range(1, args.launches + 1):
            quit_after = 0.0 if i % 2 == 0 else round(random.uniform(0.1, 3.0), 2)  # 0: once PyTorch is ready
            code, output = launch(quit_after, env)
            closed = next((line for line in output.splitlines() if line.startswith("closed at")), "never closed")
            if code < 0 or code > 128:
                crashed += 1
                name = signal.Signals(-code if code < 0 else code - 128).name
                print(f"launch {i}: died of {name} ({closed})")
            elif code != 0:
                crashed += 1
                print(f"launch {i}: exit {code} ({closed}): {output.strip().splitlines()[-1:]}")
            if "Traceback" in output:
                traced += 1
                print(f"launch {i}: a traceback ({closed})\n" + output[output.index("Traceback"):][:1500])
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait()
    print(f"{args.launches} launches: {crashed} crashed or failed, {traced} printed a traceback")
    return 1 if crashed or traced else 0


if __name__ == "__main__":
    sys.exit(main())
