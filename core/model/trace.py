"""What the app shows about one text: its tokens, every gate and state per token, the prediction per prefix.

Plain numpy records, made by the step-by-step re-run (``core.model.stepwise``) and read by the Try
screen's views and ``predict --gates``. Nothing here imports torch, so the views load without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Names of the values traced per kind, in display order (gates first, then states).
GATE_NAMES: dict[str, tuple[str, ...]] = {
    "lstm": ("input", "forget", "candidate", "cell", "output", "hidden"),
    "gru": ("reset", "update", "candidate", "hidden"),
    "rnn": ("hidden",),
}
# The gate that decides how much of the state is kept from one step to the next (none in a plain RNN).
MEMORY_GATE: dict[str, str] = {"lstm": "forget", "gru": "update"}


@dataclass
class CellTrace:
    """One layer and direction: each value as (time, hidden) in token order (also for backward)."""

    layer: int
    direction: int  # 0 reads left to right, 1 right to left
    values: dict[str, np.ndarray]  # name in GATE_NAMES[kind] -> (time, hidden) float32


@dataclass
class Trace:
    """Everything the app shows about one text: tokens, gates per step, prediction per prefix."""

    text: str
    kind: str
    tokens: list[str]
    offsets: np.ndarray  # (time, 2) char offsets of each token into ``text``
    word_ids: list[int]
    cells: list[CellTrace]  # ordered by (layer, direction)
    prefix_probabilities: np.ndarray | None  # (time, classes): the prediction if the text ended at token t
    probabilities: np.ndarray  # (classes,) the prediction for the whole text
    label_names: list[str] = field(default_factory=list)

    def cell(self, layer: int = -1, direction: int = 0) -> CellTrace:
        """The trace of one layer (default: the top one) and direction."""
        layers = sorted({c.layer for c in self.cells})
        want = layers[layer]
        for c in self.cells:
            if c.layer == want and c.direction == direction:
                return c
        raise KeyError(f"no layer {layer} direction {direction}")
