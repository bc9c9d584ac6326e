"""Application start-up: create the QApplication and the main window."""

from __future__ import annotations

import sys


def run(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0], *(argv or [])])
    app.setApplicationName("Sentiment Studio")
    app.setOrganizationName("Sentiment Studio")
    window = MainWindow()
    window.show()
    return app.exec()
