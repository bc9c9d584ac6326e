"""The app's look: the icon, model colours and plot styling shared by every screen.

A model's colour is *assigned* once, by the session (``Session.color``), from these palettes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QIcon, QPalette

if TYPE_CHECKING:
    import pyqtgraph as pg

RESOURCES = Path(__file__).resolve().parents[1] / "resources"


def app_icon() -> QIcon:
    return QIcon(str(RESOURCES / "icon.svg"))


# Colour-blind-safe (Okabe-Ito), readable on light and dark backgrounds.
KIND_COLORS = {"lstm": "#0072B2", "gru": "#009E73", "rnn": "#D55E00"}
EXTRA_COLORS = ["#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#999999"]


def model_color(kind: str) -> str:
    """The colour of a kind (the first model of it; ``Session.color`` assigns the rest)."""
    return KIND_COLORS.get(kind, EXTRA_COLORS[0])


def style_plot(view: pg.GraphicsView, plot: pg.PlotItem, palette: QPalette | None = None) -> None:
    """Plot colours from the Qt palette instead of pyqtgraph's black, so plots read in light and dark themes."""
    palette = palette or view.palette()
    view.setBackground(palette.color(QPalette.ColorRole.Base))
    fg = palette.color(QPalette.ColorRole.Text)
    for name in ("left", "bottom", "right", "top"):
        axis = plot.getAxis(name)
        axis.setPen(fg)
        axis.setTextPen(fg)
    plot.titleLabel.setAttr("color", fg.name())
    plot.titleLabel.setText(plot.titleLabel.text)
