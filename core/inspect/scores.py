"""What scoring and looking inside models finds, as plain data: the Compare screen's rows and story views.

``core.inspect.compare`` and ``core.inspect.analysis`` compute these (with torch); the views only read
them, so they load without torch. The sizes the views quote (how many texts, which thresholds) are here
for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.metrics import EvalResult

SATURATION = (0.1, 0.9)  # a gate below/above these is "saturated" (Karpathy, Johnson & Fei-Fei 2015)


@dataclass
class Bucket:
    low: float  # inclusive
    high: float  # exclusive
    count: int
    accuracy: float


@dataclass
class GradientCurve:
    norms: np.ndarray  # (time,) mean over the batch of ||d objective / d h_t||, float64
    exact_loss: bool  # True: the real loss through the model's read-out; False: the recurrence alone (u . h_T)


@dataclass
class GateSummary:
    gate: str
    count: int  # values seen (tokens x units)
    histogram: np.ndarray  # (bins,) counts over [0, 1]
    edges: np.ndarray  # (bins + 1,)
    left_saturated: float  # share below SATURATION[0]
    right_saturated: float  # share above SATURATION[1]


GATE_TEXTS = 100  # texts traced for the gate histogram: enough for a stable shape, ~1 s for long reviews
MISTAKES_EXPLAINED = 50  # the most confident mistakes whose words are found (Integrated Gradients)
DRIVING_WORDS = 3  # words kept per mistake: those that pushed hardest toward the wrong class


@dataclass
class ModelScore:
    """One model's results on one split: plain data for the views."""

    name: str
    kind: str
    result: EvalResult
    predicted: np.ndarray  # (n,) class ids in the model's label space
    confidence: np.ndarray  # (n,) probability of the predicted class
    truth: np.ndarray  # (n,) true class ids in the model's label space
    ms_per_sentence: float
    num_parameters: int
    training_time_s: float | None
    tokens_per_s: float | None
    grad_norms: np.ndarray  # per training step, empty when unknown
    by_gap: list[Bucket] = field(default_factory=list)  # empty unless the split has a "gap" column
    gradient: GradientCurve | None = None  # None when it could not be measured (see ``notes``)
    gates: GateSummary | None = None  # the memory gate (LSTM forget, GRU update); None for a plain RNN
    notes: list[str] = field(default_factory=list)  # caveats to show beside the scores
    # text index -> up to DRIVING_WORDS (word, attribution) that pushed toward the wrong prediction
    mistake_words: dict[int, list[tuple[str, float]]] = field(default_factory=dict)


@dataclass
class ScoreSkipped:
    """A model that could not be scored on this data, and why (shown in its place, not dropped)."""

    name: str
    kind: str
    reason: str
