"""The results page's PNG figures, drawn with pyqtgraph offscreen in the app's colours per cell kind."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class Figures:
    """Writes one 900-pixel-wide PNG per call into ``folder`` (pyqtgraph and Qt are imported here, on first use)."""

    def __init__(self, folder: Path) -> None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        import pyqtgraph as pg
        from PySide6.QtWidgets import QApplication

        from gui.theme import KIND_COLORS

        self.app = QApplication.instance() or QApplication([])  # pyqtgraph needs it
        pg.setConfigOptions(background="w", foreground="k", antialias=True)
        self.pg, self.colors, self.folder = pg, KIND_COLORS, folder
        folder.mkdir(exist_ok=True)
        self.keep: list = []  # the widgets must outlive their export

    def _plot(self, title: str):
        widget = self.pg.GraphicsLayoutWidget()
        widget.resize(900, 500)
        self.keep.append(widget)
        return widget.addPlot(title=title)

    def _export(self, plot, name: str) -> None:
        import pyqtgraph.exporters

        exporter = pyqtgraph.exporters.ImageExporter(plot)
        exporter.parameters()["width"] = 900
        exporter.export(str(self.folder / f"{name}.png"))

    def series(self, name: str, title: str, xlabel: str, ylabel: str, series: dict, ticks=None,
               symbols: bool = True) -> None:
        """One line per cell kind: ``series`` maps a kind to its (x, y)."""
        pg = self.pg
        plot = self._plot(title)
        plot.addLegend()
        plot.setLabel("bottom", xlabel)
        plot.setLabel("left", ylabel)
        plot.showGrid(x=True, y=True, alpha=0.3)
        plot.getAxis("left").enableAutoSIPrefix(False)
        for kind, (x, y) in series.items():
            marks = {"symbol": "o", "symbolBrush": self.colors[kind]} if symbols else {}
            plot.plot(np.asarray(x, float), np.asarray(y, float), pen=pg.mkPen(self.colors[kind], width=2),
                      name=kind.upper(), **marks)
        if ticks:
            plot.getAxis("bottom").setTicks([ticks])
            plot.setXRange(-0.5, len(ticks) - 0.5, padding=0)  # room for the end ticks' labels
        self._export(plot, name)

    def bars(self, name: str, title: str, edges: list[float], heights: list[float], xlabel: str,
             ylabel: str) -> None:
        """A histogram of the LSTM: bars between ``edges``."""
        plot = self._plot(title)
        edges = np.asarray(edges)
        plot.addItem(self.pg.BarGraphItem(x0=edges[:-1], x1=edges[1:], height=np.asarray(heights),
                                          brush=self.colors["lstm"]))
        plot.setLabel("bottom", xlabel)
        plot.setLabel("left", ylabel)
        self._export(plot, name)
