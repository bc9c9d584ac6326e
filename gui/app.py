"""Application start-up: check the platform, create the QApplication and the main window."""

from __future__ import annotations

import ctypes.util
import os
import sys
from typing import TYPE_CHECKING

from core.heap import collector_paused

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow

EXIT_WAIT_MS = 15_000  # at most this long for work still running when the window closed (a cold torch import: 3 s)
# Libraries Qt 6's X11 (xcb) platform plugin loads that minimal Debian/Ubuntu machines lack.
XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xcb-image": "libxcb-image0",
    "xcb-render-util": "libxcb-render-util0",
    "xkbcommon-x11": "libxkbcommon-x11-0",
}


def platform_problem() -> str | None:
    """One line saying why Qt can't open a window here, or None. Qt itself would abort with a cryptic message."""
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform in ("offscreen", "minimal", "vnc") or platform.startswith("wayland"):
        return None
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        return ("No display found (DISPLAY is not set). Run Sentiment Studio in a desktop session, "
                "or use the command line: python main.py --help")
    if os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("DISPLAY"):
        return None
    missing = [pkg for lib, pkg in XCB_LIBRARIES.items() if ctypes.util.find_library(lib) is None]
    if missing:
        return ("Qt needs system libraries that are missing for its X11 window: install them with "
                f"'sudo apt-get install {' '.join(missing)}' and start again.")
    return None


def open_window(argv: list[str] | None = None) -> tuple[QApplication, MainWindow]:
    """Create the application and show the main window: everything the start-up time covers. After its first
    paint the window offers what a crash left (``offer_checkpoints``), builds its other screens and loads
    PyTorch in the background (gui/main_window.py)."""
    with collector_paused():  # core/heap.py: 0.3 s less start-up, and later collections skip these objects
        from PySide6.QtWidgets import QApplication

        from gui.main_window import MainWindow
        from gui.theme import app_icon

        app = QApplication.instance() or QApplication([sys.argv[0], *(argv or [])])
        app.setApplicationName("Sentiment Studio")
        app.setOrganizationName("Sentiment Studio")
        app.setWindowIcon(app_icon())
        window = MainWindow()
        window.show()
    return app, window


def run(argv: list[str] | None = None) -> int:
    problem = platform_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    app, _window = open_window(argv)
    code = app.exec()
    from PySide6.QtCore import QThreadPool

    # The window cancelled its tasks on closing, but one inside an import (PyTorch's, loading in the background,
    # cannot stop half-way) must end before Python tears its modules down under it: it then failed in odd ways
    # and printed them (tens of launches under Xvfb, closed at random moments of the start-up).
    QThreadPool.globalInstance().waitForDone(EXIT_WAIT_MS)
    return code
