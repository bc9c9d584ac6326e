"""Child process for the start-up benchmark: open the main window, print the wall-clock time it was
first shown (after the event loop painted it), and exit. Run by benchmarks/run.py."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    import gui.main_window as main_window_module

    settings_file = Path(tempfile.mkdtemp()) / "startup.ini"
    main_window_module.settings = lambda: QSettings(str(settings_file), QSettings.Format.IniFormat)
    app = QApplication([])
    window = main_window_module.MainWindow()
    window.show()

    def shown() -> None:
        print(f"shown {time.time():.6f}", flush=True)
        window.close()
        app.quit()

    QTimer.singleShot(0, shown)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
