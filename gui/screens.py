"""The window's six screens as tabs, each built the first time it is needed.

Building all six takes about half a second on 2 cores, most of it their plots (and importing
pyqtgraph for them), so the window is drawn with at most the Data screen, which has no plots until
data arrives (``BEFORE_PAINT``); another screen on show then says it is opening. The others are built
one per event-loop turn after the first paint (``build_rest``, the one on show first), or at once
when something asks for one sooner (``screen``). A screen built late shows the session as it is then:
each screen reads the session's dataset and models when it is made.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from core.heap import collector_paused, import_quietly

if TYPE_CHECKING:
    from gui.session import Session


def _data(session: Session) -> QWidget:
    from gui.data_screen import DataScreen

    return DataScreen(session)


def _train(session: Session) -> QWidget:
    from gui.train_screen import TrainScreen

    return TrainScreen(session)


def _compare(session: Session) -> QWidget:
    from gui.compare_screen import CompareScreen

    return CompareScreen(session)


def _try(session: Session) -> QWidget:
    from gui.try_screen import TryScreen

    return TryScreen(session)


def _models(session: Session) -> QWidget:
    from gui.models_screen import ModelsScreen

    return ModelsScreen(session)


def _runs(session: Session) -> QWidget:
    from gui.runs_screen import RunsScreen

    return RunsScreen(session)


BEFORE_PAINT = ("data",)  # screens light enough to be drawn with the window (no plots until data arrives)
# key: (tab title with its mnemonic, tooltip, how to build it), in tab order
SCREENS: dict[str, tuple[str, str, Callable[[Session], QWidget]]] = {
    "data": ("&Data", "Pick and inspect a dataset", _data),
    "train": ("&Train", "Train LSTM, RNN and GRU models and watch them learn", _train),
    "compare": ("&Compare", "Score the models side by side", _compare),
    "try": ("T&ry", "Type a sentence and look inside the models", _try),
    "models": ("&Models", "Save and open model files", _models),
    "runs": ("R&uns", "Every run kept across sessions: overlay curves, compare settings", _runs),
}


class ScreenTabs(QTabWidget):
    """The tabs; a tab's page holds its screen once built (``built`` tells who must wire it up)."""

    built = Signal(str, object)  # the screen's key and the screen, just made

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setDocumentMode(True)
        self._screens: dict[str, QWidget] = {}
        self._pages: list[QWidget] = []
        self._placeholders: dict[str, QLabel] = {}
        self.deferred = True  # until the first paint: a screen shown is not built (see MainWindow)
        for key, (title, tip, _) in SCREENS.items():
            page = QWidget()
            page.setObjectName(f"{key}-page")
            layout = QVBoxLayout(page)
            layout.setContentsMargins(0, 0, 0, 0)
            placeholder = self._placeholders[key] = QLabel(f"Opening the {title.replace('&', '')} screen…")
            placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
            placeholder.setEnabled(False)
            layout.addWidget(placeholder)
            self._pages.append(page)
            self.setTabToolTip(self.addTab(page, title.replace("&", "")), tip)
        self.currentChanged.connect(self._shown)  # whoever sets the index

    def _shown(self, index: int) -> None:
        if not self.deferred or self.key(index) in BEFORE_PAINT:
            self.screen(self.key(index))

    def key(self, index: int) -> str:
        return list(SCREENS)[index]

    def current_key(self) -> str:
        return self.key(self.currentIndex())

    def is_built(self, key: str) -> bool:
        return key in self._screens

    def screen(self, key: str) -> QWidget:
        """The screen ``key``, built now if it was not yet (with the garbage collector paused, as the start-up
        is: core/heap.py)."""
        if key not in self._screens:
            with collector_paused():
                screen = self._screens[key] = SCREENS[key][2](self.session)
            page = self._pages[list(SCREENS).index(key)]
            self._placeholders.pop(key).deleteLater()
            page.layout().addWidget(screen)
            self.built.emit(key, screen)
        return self._screens[key]

    def currentWidget(self) -> QWidget:
        """The screen on show (its page while it is not built yet)."""
        return self._screens.get(self.current_key()) or super().currentWidget()

    def setCurrentWidget(self, widget: QWidget) -> None:
        """Show ``widget``: a screen, or a tab's page."""
        key = next((k for k, screen in self._screens.items() if screen is widget), None)
        super().setCurrentWidget(self._pages[list(SCREENS).index(key)] if key is not None else widget)

    def show_screen(self, key: str) -> QWidget:
        """Bring the screen ``key`` to the front (built if needed)."""
        screen = self.screen(key)
        self.setCurrentIndex(list(SCREENS).index(key))
        return screen

    def build_rest(self, then: Callable[[], None] | None = None) -> None:
        """Build the screens not built yet, one per event-loop turn (the window stays responsive between
        them; pyqtgraph's import, which their plots need, is a turn of its own), then call ``then``."""
        self.deferred = False
        left = [key for key in sorted(SCREENS, key=lambda k: k != self.current_key()) if key not in self._screens]
        if not left:
            if then is not None:
                then()
            return
        if "pyqtgraph" not in sys.modules:
            import_quietly("pyqtgraph")
        else:
            self.screen(left[0])
        QTimer.singleShot(0, self, lambda: self.build_rest(then))
