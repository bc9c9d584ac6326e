"""Live training curves: loss and gradient norm per step, validation loss and accuracy per epoch.

Every model gets its curves once (``start_model``), in its colour, overlaid with the other
models so LSTM against RNN reads at a glance. ``add_step``/``add_epoch`` only append to numpy
buffers; a 250 ms timer pushes changed buffers into the curves with ``setData``. So a fast trainer
sending hundreds of steps a second costs the GUI thread a few array appends, never a redraw each.
A group of runs (seeds or folds, ``load_group``) draws as the mean of its runs with a band from their
lowest to their highest value at each step or epoch (``pg.FillBetweenItem``, made once per group id and
removed with the group's curves). Shown again (``load``, ``load_group``), a model keeps its curve items:
new data, a new colour (``start_model``) or a new name (``rename``) are set on them; ``remove`` drops one.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

from core.events import EpochEvent, StepEvent

# Curve names, for points() and curve_data(); also the keys of settings a test may check.
CURVES = ("train_loss", "train_loss_smooth", "val_loss", "val_accuracy", "grad_norm")
BANDS = ("train_loss_smooth", "val_loss", "val_accuracy", "grad_norm")  # a group's curves drawn with a band
BAND_ALPHA = 50  # of 255: the band behind its mean, the other curves seen through it
SMOOTHING = 0.9  # EMA weight of the past (TensorBoard-style, bias-corrected): readable with ~15 steps an epoch
# Redraw at most four times a second. Each redraw repaints the four plots and their moving axes (9 ms of
# mostly Python on the GUI thread). At ten a second the GUI thread took 19% of a core on 2 cores while an
# SST-2 LSTM trained, its threads lost that core in bursts, and the run took 54 s against 40 s at four.
REFRESH_MS = 250


class _Buffer:
    """A growing (x, y) series: amortised O(1) appends, views for setData without copying."""

    def __init__(self, capacity: int = 256) -> None:
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self._x):
            self._x = np.concatenate([self._x, np.empty_like(self._x)])
            self._y = np.concatenate([self._y, np.empty_like(self._y)])
        self._x[self.n] = x
        self._y[self.n] = y
        self.n += 1

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]


class _EpochAxis(pg.AxisItem):
    """Ticks on whole epochs only: "epoch 1.5" means nothing."""

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, float]]:
        levels = [(spacing, offset) for spacing, offset in super().tickSpacing(minVal, maxVal, size) if spacing >= 1]
        return levels or [(1.0, 0.0)]


def mean_band(series: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    """The runs' ``(x, y)`` series on one x grid (the union of their x, each run interpolated inside its own
    range only): ``(x, mean, low, high)``, at the x where at least one run has a value."""
    series = [(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)) for x, y in series if len(x)]
    if not series:
        return (np.zeros(0),) * 4
    grid = np.unique(np.concatenate([x for x, _ in series]))
    ys = np.full((len(series), len(grid)), np.nan)
    for i, (x, y) in enumerate(series):
        inside = (grid >= x[0]) & (grid <= x[-1])
        ys[i, inside] = np.interp(grid[inside], x, y)
    with np.errstate(all="ignore"):
        return grid, np.nanmean(ys, 0), np.nanmin(ys, 0), np.nanmax(ys, 0)


class _ModelCurves:
    """One model's buffers and the curve items that show them."""

    def __init__(self, curves: dict[str, pg.PlotDataItem]) -> None:
        self.curves = curves
        self.dirty: set[str] = set()
        self.color = ""  # as QColor.name()
        self.band: str | None = None  # its group's id in TrainingPlots._bands (a group's mean curves)
        self.reset()

    def reset(self) -> None:
        """Empty buffers (a stored run read again replaces its points)."""
        self.buffers = {key: _Buffer() for key in self.curves}
        self.ema = 0.0
        self.ema_steps = 0


class TrainingPlots(QWidget):
    """A 2x2 grid of live training plots; see the module docstring.

    It wraps a ``GraphicsLayoutWidget`` rather than being one: that class forwards ``clear`` and
    friends to its layout per instance, which would shadow our own ``clear`` and drop the plots.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        palette = self.palette()
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground(palette.color(QPalette.ColorRole.Base))  # follow the app's light or dark theme
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self._fg = palette.color(QPalette.ColorRole.Text)
        self._models: dict[str, _ModelCurves] = {}
        # a group's bands by group id, per curve: (low, high, fill), made once, removed with the group's curves
        self._bands: dict[str, dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem, pg.FillBetweenItem]]] = {}
        # One legend above all four plots: inside a plot it would hide the very points that matter
        # (a lagging RNN ends where a corner legend sits).
        self.legend = pg.LegendItem(colCount=8, labelTextColor=self._fg, labelTextSize="9pt", frame=False)
        self.view.addItem(self.legend, row=0, col=0, colspan=2)
        self.loss_plot = self._make_plot(1, 0, "Training loss (per step; faint: raw, bold: smoothed)", "step", "loss")
        self.val_loss_plot = self._make_plot(1, 1, "Validation loss (per epoch)", "epoch", "loss", epochs=True)
        self.accuracy_plot = self._make_plot(2, 0, "Validation accuracy (per epoch)", "epoch", "accuracy", epochs=True)
        self.grad_plot = self._make_plot(2, 1, "Gradient norm (per step, log scale)", "step", "norm")
        self.grad_plot.setLogMode(y=True)  # norms span orders of magnitude, and RNN spikes would flatten the rest
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

    def _make_plot(self, row: int, col: int, title: str, x: str, y: str, *, epochs: bool = False) -> pg.PlotItem:
        axes = {"bottom": _EpochAxis("bottom")} if epochs else None
        plot = self.view.addPlot(row=row, col=col, axisItems=axes)
        plot.setTitle(title, color=self._fg, size="10pt")
        for side, label in (("bottom", x), ("left", y)):
            axis = plot.getAxis(side)
            axis.setLabel(label, color=self._fg.name())
            axis.enableAutoSIPrefix(False)  # "loss (x0.001)" reads worse than 0.7
            axis.setStyle(maxTickLevel=1)  # no second minor grid: a third of the repaint time, little lost
            axis.setTextPen(self._fg)
            axis.setPen(pg.mkPen(QColor(self._fg.red(), self._fg.green(), self._fg.blue(), 140)))
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        plot.setMenuEnabled(False)
        return plot

    # --- feeding ------------------------------------------------------------------------------------
    @property
    def model_names(self) -> list[str]:
        return list(self._models)

    def start_model(self, name: str, color: str) -> None:
        """Create ``name``'s curves once, in its colour (which the session assigned); a shown model given
        another colour (the Runs screen's follow the ticks) is restyled in place."""
        m = self._models.get(name)
        if m is not None:
            if m.color != QColor(color).name():
                self._style(name, color)
            return
        plots = self._plots()
        curves = {key: plots[key].plot() for key in CURVES}
        curves["train_loss"].setZValue(-1)  # raw, behind, not in the legend
        for key in ("val_loss", "val_accuracy"):
            curves[key].setSymbol("o")
            curves[key].setSymbolSize(7)
        self.legend.addItem(curves["train_loss_smooth"], name)
        self._models[name] = _ModelCurves(curves)
        self._style(name, color)
        self._fit_legend()

    def _style(self, name: str, color: str) -> None:
        """Pens, symbols, legend entry (and band) of ``name``'s curves in ``color``."""
        m, color = self._models[name], QColor(color)
        m.color = color.name()
        faint = QColor(color)
        faint.setAlpha(55)
        bold = pg.mkPen(color, width=2)
        m.curves["train_loss"].setPen(pg.mkPen(faint, width=1))
        m.curves["train_loss_smooth"].setPen(bold)
        for key in ("val_loss", "val_accuracy"):
            m.curves[key].setPen(bold)
            m.curves[key].setSymbolBrush(pg.mkBrush(color))
            m.curves[key].setSymbolPen(pg.mkPen(color))
        m.curves["grad_norm"].setPen(pg.mkPen(color, width=1))
        self._label(name)
        brush = QColor(color)
        brush.setAlpha(BAND_ALPHA)
        for _low, _high, fill in self._bands.get(m.band, {}).values():
            fill.setBrush(brush)

    def _label(self, name: str) -> None:
        """``name``'s legend entry: its name in its colour."""
        m = self._models[name]
        for sample, label in self.legend.items:
            if sample.item is m.curves["train_loss_smooth"]:
                label.setText(f"<b style='color:{m.color}'>{name}</b>")

    def rename(self, old: str, new: str) -> None:
        """Show ``old``'s curves (and band) under ``new``: the same items, a new legend entry text."""
        if old not in self._models or old == new:
            return
        self.remove(new)
        self._models[new] = self._models.pop(old)
        self._label(new)
        self._fit_legend()

    def remove(self, name: str) -> None:
        """Remove ``name``'s curves, legend entry and band (nothing when it shows none)."""
        m = self._models.pop(name, None)
        if m is None:
            return
        plots = self._plots()
        for key, curve in m.curves.items():
            plots[key].removeItem(curve)
        self.legend.removeItem(m.curves["train_loss_smooth"])
        self._drop_band(m.band)
        self._fit_legend()

    def _drop_band(self, band: str | None) -> None:
        plots = self._plots()
        for key, items in self._bands.pop(band, {}).items():
            for item in items:
                plots[key].removeItem(item)

    def _plots(self) -> dict[str, pg.PlotItem]:
        """The plot each curve is drawn in."""
        return {"train_loss": self.loss_plot, "train_loss_smooth": self.loss_plot, "val_loss": self.val_loss_plot,
                "val_accuracy": self.accuracy_plot, "grad_norm": self.grad_plot}

    def _fit_legend(self) -> None:
        """As many legend entries a row as fit beside each other (a sweep's names are long): the legend is
        never wider than the plots (before the first layout, a typical width is assumed)."""
        if not self._models:
            return
        longest = max(len(n) for n in self._models)
        width = self.width() if self.width() >= 200 else 900
        columns = max(1, min(8, width // (8 * longest + 40)))
        if columns != self.legend.columnCount:
            self.legend.setColumnCount(columns)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_legend()

    def add_step(self, name: str, event: StepEvent) -> None:
        """Append one step; drawn at the next refresh."""
        m = self._models[name]
        x = float(event.global_step)
        m.ema_steps += 1
        m.ema = SMOOTHING * m.ema + (1.0 - SMOOTHING) * event.loss
        m.buffers["train_loss"].append(x, event.loss)
        m.buffers["train_loss_smooth"].append(x, m.ema / (1.0 - SMOOTHING**m.ema_steps))
        m.buffers["grad_norm"].append(x, max(event.grad_norm, 1e-12))  # log axis: keep it positive
        m.dirty.update(("train_loss", "train_loss_smooth", "grad_norm"))
        self._schedule()

    def add_epoch(self, name: str, event: EpochEvent) -> None:
        """Append one epoch's validation results; drawn at the next refresh."""
        m = self._models[name]
        m.buffers["val_loss"].append(float(event.epoch), event.val_loss)
        m.buffers["val_accuracy"].append(float(event.epoch), event.val_accuracy)
        m.dirty.update(("val_loss", "val_accuracy"))
        self._schedule()

    def load_group(self, name: str, color: str, runs: list[tuple[list[dict], list[dict]]],
                   group: str | None = None) -> None:
        """Show a group of stored runs (``(steps, epochs)`` each, as ``load`` takes them) as one: each curve the
        mean over the runs, in a band from their lowest to their highest value (not the raw training loss). The
        band is the group's (``group``: its id, else ``name``), made once and coloured anew at each call."""
        group = name if group is None else group
        self.start_model(name, color)
        m = self._models[name]
        for other in self._models.values():
            if other.band == group and other is not m:
                other.band = None  # the group shown under another name: the band is this one's now
        if m.band != group:
            self._drop_band(m.band)
            m.band = group
        per_run: dict[str, list] = {key: [] for key in BANDS}
        for steps, epochs in runs:
            one = _ModelCurves(dict.fromkeys(CURVES))  # buffers only
            self._fill(one, steps, epochs)
            for key in BANDS:
                per_run[key].append((one.buffers[key].x, one.buffers[key].y))
        brush = QColor(color)
        brush.setAlpha(BAND_ALPHA)
        if group not in self._bands:
            self._bands[group] = {}
            clear = pg.mkPen(QColor(0, 0, 0, 0))
            plots = self._plots()
            for key in BANDS:
                # edges drawn in a clear pen: a PlotDataItem without a pen has no path to fill between
                plot, low, high = plots[key], pg.PlotDataItem(pen=clear), pg.PlotDataItem(pen=clear)
                fill = pg.FillBetweenItem(low, high, brush=brush)
                for item in (low, high, fill):
                    item.setZValue(-2)
                    plot.addItem(item)
                self._bands[group][key] = (low, high, fill)
        for key in BANDS:
            x, mean, low, high = mean_band(per_run[key])
            m.curves[key].setData(x, mean)
            low_item, high_item, fill = self._bands[group][key]
            fill.setBrush(brush)  # the group's colour of this showing (it follows the ticks)
            low_item.setData(x, low)
            high_item.setData(x, high)

    def band(self, name: str, which: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """A shown group's band of one curve: ``(x, low, high)``; None when ``name`` shows no band (or an empty one)."""
        m = self._models.get(name)
        if m is None or m.band not in self._bands:
            return None
        low, high, fill = self._bands[m.band][which]
        if fill.path().isEmpty():
            return None
        return np.asarray(low.xData), np.asarray(low.yData), np.asarray(high.yData)

    def band_color(self, name: str) -> str | None:
        """The colour of ``name``'s band (its group's), as QColor.name(); None without one."""
        m = self._models.get(name)
        bands = self._bands.get(m.band) if m is not None else None
        return next(iter(bands.values()))[2].brush().color().name() if bands else None

    def load(self, name: str, color: str, steps: list[dict], epochs: list[dict]) -> None:
        """Show a finished or stored run at once: ``steps`` as the run store keeps them (``step``, ``loss``,
        ``grad_norm``; downsampled for long runs, so the smoothing runs over the points kept) and ``epochs``
        (``epoch``, ``val_loss``, ``val_accuracy``); a missing value is left out, not drawn as 0."""
        self.start_model(name, color)
        m = self._models[name]
        m.reset()
        self._fill(m, steps, epochs)
        m.dirty.update(CURVES)
        self.refresh()

    @staticmethod
    def _fill(m: _ModelCurves, steps: list[dict], epochs: list[dict]) -> None:
        """Append a stored run's steps and epochs to ``m``'s buffers (see ``load``)."""
        for s in steps:
            if s.get("loss") is not None:
                m.ema_steps += 1
                m.ema = SMOOTHING * m.ema + (1.0 - SMOOTHING) * s["loss"]
                m.buffers["train_loss"].append(s["step"], s["loss"])
                m.buffers["train_loss_smooth"].append(s["step"], m.ema / (1.0 - SMOOTHING**m.ema_steps))
            if s.get("grad_norm") is not None:
                m.buffers["grad_norm"].append(s["step"], max(s["grad_norm"], 1e-12))
        for e in epochs:
            for key in ("val_loss", "val_accuracy"):
                if e.get(key) is not None:
                    m.buffers[key].append(e["epoch"], e[key])

    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def refresh(self) -> None:
        """Push changed buffers into their curves; the timer stops itself once nothing changes."""
        changed = False
        for m in self._models.values():
            for key in m.dirty:
                buf = m.buffers[key]
                m.curves[key].setData(buf.x, buf.y)
                changed = True
            m.dirty.clear()
        if not changed:
            self._timer.stop()

    def clear(self) -> None:
        """Remove every model's curves, legend entries and bands."""
        self._timer.stop()
        for name in list(self._models):
            self.remove(name)
        for band in list(self._bands):
            self._drop_band(band)
        for plot in (self.loss_plot, self.val_loss_plot, self.accuracy_plot, self.grad_plot):
            plot.enableAutoRange()
        self.legend.clear()

    # --- reading back (tests, export) ---------------------------------------------------------------
    def points(self, name: str) -> dict[str, int]:
        """How many points each of ``name``'s curves shows (after the last refresh); zeros before it starts."""
        if name not in self._models:
            return dict.fromkeys(CURVES, 0)
        curves = self._models[name].curves
        return {key: 0 if curves[key].xData is None else len(curves[key].xData) for key in CURVES}

    def curve_data(self, name: str, which: str) -> tuple[np.ndarray, np.ndarray]:
        """The (x, y) arrays of one curve as last handed to ``setData``."""
        x, y = self._models[name].curves[which].getOriginalDataset()
        if x is None:
            return np.zeros(0), np.zeros(0)
        return np.asarray(x), np.asarray(y)
