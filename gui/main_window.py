"""The main window. The screens (data, train, compare, try, models) arrive with issue 3."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QMainWindow

import core

TITLE = "Sentiment Studio"


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle(f"{TITLE} {core.__version__}")
        label = QLabel(
            "Sentiment Studio's desktop screens are being built.\n"
            "Everything already works from the command line: python main.py --help"
        )
        label.setMargin(24)
        self.setCentralWidget(label)
        self.resize(1280, 800)
