"""Colours and pens shared by every plot, so a model has one colour everywhere in the app."""

from __future__ import annotations

# Colour-blind-safe (Okabe-Ito), readable on light and dark backgrounds.
KIND_COLORS = {"lstm": "#0072B2", "gru": "#009E73", "rnn": "#D55E00"}
EXTRA_COLORS = ["#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#999999"]


def model_color(kind: str, index: int = 0) -> str:
    """The colour of a model: its kind's colour for the first of a kind, then a distinct extra one."""
    if index == 0 and kind in KIND_COLORS:
        return KIND_COLORS[kind]
    return EXTRA_COLORS[index % len(EXTRA_COLORS)]
