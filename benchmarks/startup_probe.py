"""Child process for the start-up benchmark: open the main window the way ``./run.sh`` does
(``gui.app.open_window``), print the wall-clock time it was first shown (after the event loop
painted it), and exit. Settings and data go to a fresh temporary home. Run by benchmarks/run.py."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp())
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):  # Qt's settings and data paths
        os.environ[name] = str(home / name.lower())
    from gui.app import open_window

    app, window = open_window()
    from PySide6.QtCore import QTimer

    def shown() -> None:
        print(f"shown {time.time():.6f}", flush=True)
        window.close()
        app.quit()

    QTimer.singleShot(0, shown)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
