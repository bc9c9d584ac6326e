"""Child process for the start-up benchmark: open the main window the way ``./run.sh`` does
(``gui.app.open_window``), print the wall-clock time it was first drawn and whether torch was imported by
then, and exit. Drawn means its first ``UpdateRequest`` (the event that paints a window) was handled.
Settings and data go to a fresh temporary home. Started by ``benchmarks.run --only startup``
(benchmarks/processes.py) as ``python -m benchmarks.startup_probe``, from the repository root."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp())
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):  # Qt's settings and data paths
        os.environ[name] = str(home / name.lower())
    os.environ["SENTIMENT_STUDIO_HOME"] = str(home / "runs")
    from PySide6.QtCore import QEvent, QObject, QTimer

    import gui.main_window as main_window
    from gui.app import open_window

    class FirstPaint(QObject):
        """Seen before the window handles its first UpdateRequest; the zero timer fires once it has."""

        def eventFilter(self, obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.UpdateRequest and not self.property("seen"):
                self.setProperty("seen", True)
                QTimer.singleShot(0, drawn)
            return False

    def drawn() -> None:
        print(f"shown {time.time():.6f} torch={'torch' in sys.modules}", flush=True)
        window.close()
        app.quit()

    first_paint = FirstPaint()
    build = main_window.MainWindow.__init__

    def watched(self, *args, **kwargs) -> None:
        build(self, *args, **kwargs)
        self.installEventFilter(first_paint)

    main_window.MainWindow.__init__ = watched
    app, window = open_window()
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
