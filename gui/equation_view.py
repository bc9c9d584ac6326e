"""The cell's equations with the traced numbers filled in at one word.

Seeing f_t = σ(W_f·[h_{t−1}, x_t] + b_f) = 0.93 next to the heatmap ties the colours to the
textbook recurrence. In "mean" mode the numbers are averages over units; a product such as
f_t⊙C_{t−1} is averaged as a product (the mean of products is not the product of means), so the
terms shown still add up to the value shown.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from core.model.trace import Trace
from gui.token_axis import word_of

T, T1 = "<sub>t</sub>", "<sub>t−1</sub>"
HX = f"[h{T1}, x{T}]"  # the LSTM's concatenated input, as in Olah's "Understanding LSTM Networks"
LEGEND = {
    "lstm": "σ squashes to 0…1 (a gate: how much passes), tanh to −1…1; ⊙ multiplies unit by unit. "
    "f<sub>t</sub> keeps the old cell state, i<sub>t</sub> writes the candidate C̃<sub>t</sub>, "
    "o<sub>t</sub> decides how much of the cell shows in h<sub>t</sub>.",
    "gru": "σ squashes to 0…1 (a gate), tanh to −1…1; ⊙ multiplies unit by unit. "
    "r<sub>t</sub> decides how much of the old state shapes the candidate n<sub>t</sub>; "
    "z<sub>t</sub> keeps the old state, 1−z<sub>t</sub> takes the candidate.",
    "rnn": "The plain RNN has no gates: each word's input and the previous state pass through one tanh, "
    "so old information fades unless the weights keep it.",
}
EMPTY_MESSAGE = "The cell's equations, with the numbers at the word under the mouse, appear here."


def fmt(value: float) -> str:
    return f"{value:.3f}"


def factor(value: float) -> str:
    """A number inside a product: negatives in parentheses, so 0.3×(-0.2) reads unambiguously."""
    return f"({value:.3f})" if value < 0 else f"{value:.3f}"


class EquationView(QWidget):
    """``EquationView()``: rich text of one cell's equations at one token of a ``Trace``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setMargin(8)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self.index = -1
        self._args: tuple | None = None
        self.clear()

    def text(self) -> str:
        """The rich text shown (HTML)."""
        return self.label.text()

    def clear(self, message: str = EMPTY_MESSAGE) -> None:
        self.index, self._args, self._message = -1, None, message
        self.label.setText(f"<p style='color:{self._muted()}'>{html.escape(message)}</p>")

    def set_step(self, trace: Trace, index: int, layer: int = -1, direction: int = 0, unit: int | None = None) -> None:
        """Show the equations of ``trace``'s cell at token ``index``: for one ``unit``, or averaged when None."""
        self._args = (trace, index, layer, direction, unit)
        n = len(trace.tokens)
        if not 0 <= index < n:
            self.clear()
            return
        self.index = index
        cell = trace.cell(layer, direction)
        hidden = next(iter(cell.values.values())).shape[1]
        prev = index - 1 if direction == 0 else index + 1  # a backward cell came from the word after

        def at(name: str, t: int) -> np.ndarray:
            return cell.values[name][t] if 0 <= t < n else np.zeros(hidden, dtype=np.float32)

        pick = (lambda v: float(np.mean(v))) if unit is None else (lambda v: float(v[unit]))
        rows = {"lstm": self._lstm, "gru": self._gru, "rnn": self._rnn}[trace.kind](at, index, prev, pick, unit)
        layers = sorted({c.layer for c in trace.cells})
        where = [f"layer {layers[layer] + 1} of {len(layers)}"] if len(layers) > 1 else []
        if any(c.direction == 1 for c in trace.cells):
            where.append("backward (t−1 is the next word)" if direction else "forward")
        where.append(f"unit {unit} of {hidden}" if unit is not None else f"mean over {hidden} units")
        if not 0 <= prev < n:
            where.append("first step: previous state is 0")
        lines = "".join(f"<p style='margin:0 0 6px 0'>{f} = <b>{v}</b></p>" for f, v in rows)
        probs = trace.prefix_probabilities[index]
        names = trace.label_names or [str(k) for k in range(len(probs))]
        after = ", ".join(f"{html.escape(name)} {100 * p:.1f}%" for name, p in zip(names, probs, strict=True))
        self.label.setText(
            f"<p><b>{trace.kind.upper()} at word {index + 1} of {n}: {html.escape(word_of(trace, index))}</b><br>"
            f"<span style='color:{self._muted()}'>{html.escape(' · '.join(where))}</span></p>"
            f"{lines}<p>Prediction if the text ended here: <b>{after}</b></p>"
            f"<p style='color:{self._muted()}'>{LEGEND[trace.kind]}</p>"
        )

    # one table of (formula, value) per kind ----------------------------------------------------
    @staticmethod
    def _lstm(at, t: int, prev: int, pick, unit: int | None) -> list[tuple[str, str]]:
        f, i, g, o = at("forget", t), at("input", t), at("candidate", t), at("output", t)
        c, c_prev, h = at("cell", t), at("cell", prev), at("hidden", t)
        if unit is None:  # means of the products, so the two terms add up to mean(C_t)
            c_terms = f"{fmt(pick(f * c_prev))} + {fmt(pick(i * g))}"
            h_terms = ""
        else:
            c_terms = f"{fmt(pick(f))}×{factor(pick(c_prev))} + {fmt(pick(i))}×{factor(pick(g))}"
            h_terms = f"{fmt(pick(o))}×tanh({fmt(pick(c))}) = "
        return [
            (f"f{T} = σ(W<sub>f</sub>·{HX} + b<sub>f</sub>)", fmt(pick(f))),
            (f"i{T} = σ(W<sub>i</sub>·{HX} + b<sub>i</sub>)", fmt(pick(i))),
            (f"C̃{T} = tanh(W<sub>C</sub>·{HX} + b<sub>C</sub>)", fmt(pick(g))),
            (f"C{T} = f{T}⊙C{T1} + i{T}⊙C̃{T}", f"{c_terms} = {fmt(pick(c))}"),
            (f"o{T} = σ(W<sub>o</sub>·{HX} + b<sub>o</sub>)", fmt(pick(o))),
            (f"h{T} = o{T}⊙tanh(C{T})", f"{h_terms}{fmt(pick(h))}"),
        ]

    @staticmethod
    def _gru(at, t: int, prev: int, pick, unit: int | None) -> list[tuple[str, str]]:
        r, z, n, h, h_prev = at("reset", t), at("update", t), at("candidate", t), at("hidden", t), at("hidden", prev)
        if unit is None:
            h_terms = f"{fmt(pick((1 - z) * n))} + {fmt(pick(z * h_prev))}"
        else:
            h_terms = f"(1−{fmt(pick(z))})×{factor(pick(n))} + {fmt(pick(z))}×{factor(pick(h_prev))}"
        return [
            (f"r{T} = σ(W<sub>ir</sub>x{T} + b<sub>ir</sub> + W<sub>hr</sub>h{T1} + b<sub>hr</sub>)", fmt(pick(r))),
            (f"z{T} = σ(W<sub>iz</sub>x{T} + b<sub>iz</sub> + W<sub>hz</sub>h{T1} + b<sub>hz</sub>)", fmt(pick(z))),
            (
                f"n{T} = tanh(W<sub>in</sub>x{T} + b<sub>in</sub> + r{T}⊙(W<sub>hn</sub>h{T1} + b<sub>hn</sub>))",
                fmt(pick(n)),
            ),
            (f"h{T} = (1−z{T})⊙n{T} + z{T}⊙h{T1}", f"{h_terms} = {fmt(pick(h))}"),
        ]

    @staticmethod
    def _rnn(at, t: int, prev: int, pick, unit: int | None) -> list[tuple[str, str]]:
        return [
            (f"h{T1}", fmt(pick(at("hidden", prev)))),
            (
                f"h{T} = tanh(W<sub>ih</sub>x{T} + b<sub>ih</sub> + W<sub>hh</sub>h{T1} + b<sub>hh</sub>)",
                fmt(pick(at("hidden", t))),
            ),
        ]

    # look --------------------------------------------------------------------------------------
    def _muted(self) -> str:
        return self.palette().color(QPalette.ColorRole.PlaceholderText).name()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:  # re-render the muted colour for the new palette
            if self._args is not None:
                self.set_step(*self._args)
            else:
                self.clear(self._message)
        super().changeEvent(event)
