"""The Qt binding must not leak or over-release references: the app makes millions of Qt calls."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication, QLabel


def test_calls_returning_nothing_keep_none_alive(qtbot):
    # PySide6 6.12.0 released one reference to None per such call; on Python 3.11 that aborts the
    # process ("deallocating None") after roughly 64k calls, i.e. minutes of live plotting.
    label = QLabel()
    qtbot.addWidget(label)
    before = sys.getrefcount(None)
    for _ in range(2000):
        label.setText("x")
        QApplication.processEvents()
    assert sys.getrefcount(None) - before > -100
