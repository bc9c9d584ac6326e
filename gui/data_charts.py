"""The Data screen's two charts: class balance per split and the train split's token lengths.

Both are built once and updated in place (``setOpts`` / ``setData``) when a dataset is shown, as
pyqtgraph's own examples do; they take plain numbers from ``core.data.describe`` and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QWidget

from gui.theme import style_plot

# Okabe-Ito colours not used for model kinds in gui.theme, so a split never looks like a model.
SPLIT_COLORS = {"train": "#56B4E9", "validation": "#E69F00", "test": "#CC79A7"}
HISTOGRAM_COLOR = "#56B4E9"
MEAN_COLOR = "#0072B2"
P95_COLOR = "#D55E00"
MAX_BAR_LABELS = 10  # classes beyond this get no percentage labels (they would overlap)


def _style(plot: pg.PlotWidget, left: str, bottom: str) -> None:
    """Follow the Qt palette (light or dark) instead of pyqtgraph's black default."""
    style_plot(plot, plot.getPlotItem())
    plot.setLabel("left", left)
    plot.setLabel("bottom", bottom)
    plot.setMenuEnabled(False)
    plot.setAcceptDrops(False)  # a dropped file belongs to the screen, not to the graphics view


class ClassBalanceChart(pg.PlotWidget):
    """Grouped bars: examples per class, one bar colour per split, the split's share written on top."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        _style(self, "examples", "class")
        # The legend lives in the title: inside the plot it would cover the tallest bars.
        keys = " &nbsp;".join(f'<span style="color:{c}">■</span> {s}' for s, c in SPLIT_COLORS.items())
        self.setTitle(f"Class balance per split &nbsp; {keys}", color=self.palette().color(QPalette.ColorRole.Text))
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.showGrid(y=True, alpha=0.2)
        text_color = self.palette().color(QPalette.ColorRole.Text)
        self.bars: dict[str, pg.BarGraphItem] = {}
        for split, color in SPLIT_COLORS.items():
            item = pg.BarGraphItem(
                x=np.zeros(0), height=np.zeros(0), width=0.25, brush=pg.mkBrush(color), pen=pg.mkPen(None), name=split
            )
            self.addItem(item)
            self.bars[split] = item
        self._labels: list[pg.TextItem] = []
        self._text_color = text_color

    def set_counts(self, label_names: Sequence[str], counts: Mapping[str, Sequence[int]]) -> None:
        """Show ``counts[split][class]``; splits absent from ``counts`` draw no bars."""
        n = len(label_names)
        width = 0.8 / len(self.bars)
        base = np.arange(n, dtype=np.float64)
        labels_needed = 0
        top = 0.0
        for j, (split, item) in enumerate(self.bars.items()):
            heights = np.asarray(counts.get(split, np.zeros(n)), dtype=np.float64)
            x = base + (j - (len(self.bars) - 1) / 2) * width
            item.setOpts(x=x, height=heights, width=width)
            item.setVisible(split in counts)
            total = heights.sum()
            if split in counts and total > 0 and n <= MAX_BAR_LABELS:
                for xi, h in zip(x, heights, strict=True):
                    label = self._label(labels_needed)
                    label.setText(f"{100 * h / total:.0f}%")
                    label.setPos(xi, h)
                    label.setVisible(True)
                    labels_needed += 1
            if len(heights):
                top = max(top, float(heights.max()))
        for label in self._labels[labels_needed:]:
            label.setVisible(False)
        self.getAxis("bottom").setTicks([[(i, name) for i, name in enumerate(label_names)]])
        self.setXRange(-0.6, max(n - 0.4, 0.6), padding=0)
        self.setYRange(0, max(top * 1.15, 1.0), padding=0)  # headroom for the labels

    def clear_counts(self) -> None:
        self.set_counts([], {})

    def _label(self, i: int) -> pg.TextItem:
        """A reusable percentage label, created only when more are needed than ever before."""
        while len(self._labels) <= i:
            label = pg.TextItem(color=self._text_color, anchor=(0.5, 1.0))
            self.addItem(label)
            self._labels.append(label)
        return self._labels[i]


def length_histogram(lengths: np.ndarray, max_bins: int = 50) -> tuple[np.ndarray, np.ndarray, int]:
    """Integer-aligned bins -> (counts, edges, texts right of the last bin).

    Bins cover whole token counts so no bin gets one more integer than its neighbour (which draws
    false spikes); a long tail (max beyond 1.5x the 99th percentile) is cut at that percentile.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64), 0
    lo, hi = int(lengths.min()), int(lengths.max())
    p99 = int(np.percentile(lengths, 99, method="inverted_cdf"))  # nearest rank, as SplitStats.p95
    if hi > 1.5 * max(p99, 1):
        hi = p99
    width = max(1, -(-(hi - lo + 1) // max_bins))  # ceil division
    edges = lo - 0.5 + width * np.arange(-(-(hi - lo + 1) // width) + 1, dtype=np.float64)
    counts, _ = np.histogram(lengths, bins=edges)
    return counts, edges, int((lengths > edges[-1]).sum())


class LengthHistogram(pg.PlotWidget):
    """Token-length histogram of one split with its mean and 95th percentile marked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        _style(self, "examples", "tokens per text (words)")
        self._title_color = self.palette().color(QPalette.ColorRole.Text)
        self.setTitle("Token lengths (train)", color=self._title_color)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.showGrid(y=True, alpha=0.2)
        self.curve = self.plot(
            np.zeros(1),
            np.zeros(0),
            stepMode="center",
            fillLevel=0,
            brush=pg.mkBrush(HISTOGRAM_COLOR + "B0"),
            pen=pg.mkPen(HISTOGRAM_COLOR),
        )
        label_opts = {
            "position": 0.92,
            "movable": False,
            "fill": pg.mkBrush(self.palette().color(QPalette.ColorRole.Base)),
        }
        self.mean_line = pg.InfiniteLine(
            angle=90,
            pen=pg.mkPen(MEAN_COLOR, width=2, style=pg.QtCore.Qt.PenStyle.DashLine),
            label="mean {value:.1f}",
            labelOpts={**label_opts, "color": MEAN_COLOR},
        )
        self.p95_line = pg.InfiniteLine(
            angle=90,
            pen=pg.mkPen(P95_COLOR, width=2, style=pg.QtCore.Qt.PenStyle.DashLine),
            label="95% ≤ {value:.0f}",
            labelOpts={**label_opts, "color": P95_COLOR, "position": 0.78},
        )
        for line in (self.mean_line, self.p95_line):
            line.setVisible(False)
            self.addItem(line, ignoreBounds=True)

    def set_lengths(self, lengths: np.ndarray, mean: float, p95: float, split: str = "train", sampled: int = 0) -> None:
        """Show the histogram of per-text token counts, with ``mean`` and ``p95`` (from ``describe``) marked;
        ``sampled``: the lengths are of a sample of that many texts."""
        counts, edges, hidden = length_histogram(lengths)
        if len(counts) == 0:
            self.clear_histogram()
            return
        title = f"Token lengths ({split}): median {np.median(lengths):.0f}, max {int(np.max(lengths)):,}"
        if sampled:
            title += f", in a sample of {sampled:,} texts"
        if hidden:
            title += f" ({hidden:,} longer texts not drawn)"
        self.setTitle(title, color=self._title_color)
        self.curve.setData(edges, counts)
        for line, value in ((self.mean_line, mean), (self.p95_line, p95)):
            line.setVisible(True)  # before setValue: an invisible line's label ignores value changes
            line.setValue(value)
            line.label.valueChanged()
        self.setXRange(float(edges[0]), float(max(edges[-1], p95)), padding=0.02)
        self.setYRange(0, float(counts.max()) * 1.1 or 1.0, padding=0)

    def clear_histogram(self) -> None:
        self.setTitle("Token lengths (train)", color=self._title_color)
        self.curve.setData(np.zeros(1), np.zeros(0))
        for line in (self.mean_line, self.p95_line):
            line.setVisible(False)
