"""What scoring and looking inside models finds, as plain data: the Compare screen's rows and story views.

``core.inspect.compare`` and ``core.inspect.analysis`` compute these (with torch); the views only read
them, so they load without torch. The sizes the views quote (how many texts, which thresholds) are here
for the same reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from core.metrics import EvalResult
from core.uncertainty import MAX_EXACT_SIGNS, Comparison, GroupSummary, ScoreInterval, SeedPairTest, p_text

SATURATION = (0.1, 0.9)  # a gate below/above these is "saturated" (Karpathy, Johnson & Fei-Fei 2015)


@dataclass
class Bucket:
    low: float  # inclusive
    high: float  # exclusive
    count: int
    accuracy: float
    ci_low: float = math.nan  # the accuracy's 95% bootstrap interval (core.uncertainty.accuracy_interval);
    ci_high: float = math.nan  # NaN where it was not measured


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
    interval: ScoreInterval | None = None  # accuracy and macro-F1 with their 95% intervals (score_models)
    by_length: list[Bucket] = field(default_factory=list)  # result.by_length with each bucket's interval
    by_gap: list[Bucket] = field(default_factory=list)  # empty unless the split has a "gap" column
    gradient: GradientCurve | None = None  # None when it could not be measured (see ``notes``)
    gates: GateSummary | None = None  # the memory gate (LSTM forget, GRU update); None for a plain RNN
    notes: list[str] = field(default_factory=list)  # caveats to show beside the scores
    # text index -> up to DRIVING_WORDS (word, attribution) that pushed toward the wrong prediction
    mistake_words: dict[int, list[tuple[str, float]]] = field(default_factory=dict)
    # a copy of its model's ModelInfo.group: one of runs repeated over seeds or folds ({"id", "kind", "n", "index",
    # "seed" or "fold"}), None for a model trained once
    group: dict | None = None


@dataclass
class ScoreSkipped:
    """A model that could not be scored on this data, and why (shown in its place, not dropped)."""

    name: str
    kind: str
    reason: str


@dataclass
class Agreement:
    """Two models on the same rows: which rows each gets right, as row indices into the scored split."""

    a: str
    b: str
    both_right: np.ndarray  # (k,) int64, ascending
    a_only: np.ndarray  # rows only a gets right
    b_only: np.ndarray  # rows only b gets right
    both_wrong: np.ndarray

    @property
    def count(self) -> int:
        return len(self.both_right) + len(self.a_only) + len(self.b_only) + len(self.both_wrong)

    @property
    def either_right(self) -> float:
        """The "either is right" oracle: the share of rows at least one of the two gets right."""
        return 1 - len(self.both_wrong) / self.count if self.count else math.nan


def member_of(group: dict) -> int:
    """A group's model's seed, or its fold (0-based), from ``ModelScore.group``."""
    key = "fold" if group.get("kind") == "folds" else "seed"
    return int(group.get(key, group.get("index", 0)))


def member_word(kind: str, member: int) -> str:
    """"seed 3", "fold 2" (a fold is kept 0-based and shown 1-based, as ``core.train.repeats.fold_name``)."""
    return f"fold {member + 1}" if kind == "folds" else f"seed {member}"


def spread_text(summary: GroupSummary, scale: float = 100) -> str:
    """"80.6 ± 0.7 (79.8-81.1)": ``GroupSummary.text`` without its count."""
    sd = "" if math.isnan(summary.sd) else f" ± {scale * summary.sd:.1f}"
    return f"{scale * summary.mean:.1f}{sd} ({scale * summary.low:.1f}-{scale * summary.high:.1f})"


FOLDS_CAVEAT = ("each fold's models were tested on their own fold's rows; here all are scored on this split "
                "instead, and where it was cut from the rows the folds were, most of it was in their training "
                "folds: a check of the models, not the folds' test scores")


@dataclass
class ModelGroup:
    """The scored models of one group of runs repeated over seeds or folds (``ModelScore.group``'s id), with
    their accuracy and macro-F1 on this split together (``core.uncertainty.summarize``: mean, sd, min-max)."""

    id: str
    kind: str  # "seeds" or "folds"
    label: str  # what its models' names share, less their seed or fold: "LSTM"
    members: dict[int, str]  # seed (folds: fold, 0-based) -> the model's name, ascending
    accuracy: GroupSummary  # over the members, in the order of ``members``
    macro_f1: GroupSummary
    planned: int  # the runs the group was trained with; more than len(members) when some are not here
    notes: list[str] = field(default_factory=list)

    @property
    def count_text(self) -> str:
        """"3 seeds", "3 of 5 folds"."""
        n = len(self.members)
        return f"{n}{f' of {self.planned}' if self.planned > n else ''} {self.kind if n > 1 else self.kind[:-1]}"

    def line(self) -> str:
        """"LSTM, 3 seeds: 80.6 ± 0.7 (79.8-81.1)": its accuracy (in %) on this split."""
        return f"{self.label}, {self.count_text}: {spread_text(self.accuracy)}"


@dataclass
class GroupPair:
    """Two groups trained on the same seeds (or folds), model by model on the same rows: the exact paired
    permutation test over the seeds of this split's accuracies (a - b), and beside it the McNemar test of
    each seed's two models (from ``PairScores.comparison.pairs``)."""

    a: int  # index into PairScores.groups
    b: int
    members: tuple[int, ...]  # the seeds (or folds) both groups have here, ascending
    test: SeedPairTest | None  # None for folds: see ``note``
    mcnemar: dict[int, float] = field(default_factory=dict)  # seed -> McNemar p of that seed's two models
    note: str = ""  # why there is no test, where there is none

    def sentence(self, label_a: str, label_b: str, kind: str) -> str:
        """"LSTM - RNN over seeds 0, 1, 2: mean +1.2 points, p = 0.25 (exact paired permutation test; 3 seeds
        can say no less than 0.25); per seed McNemar: seed 0 p = 0.03, seed 1 p = 0.40, seed 2 p = 0.21"."""
        shown = ", ".join(member_word(kind, m).split()[1] for m in self.members)
        head = f"{label_a} - {label_b} over {kind} {shown}"
        if self.test is None:
            return f"{head}: no paired test here ({self.note})"
        n = len(self.members)
        how = (f"exact paired permutation test; {n} {kind} can say no less than {2.0 ** (1 - n):g}"
               if n <= MAX_EXACT_SIGNS else f"paired permutation test, {1 << MAX_EXACT_SIGNS:,} random sign flips")
        per = ", ".join(f"{member_word(kind, m)} {p_text(p)}" for m, p in self.mcnemar.items())
        return (f"{head}: mean {100 * self.test.mean_diff:+.1f} points, {p_text(self.test.p)} ({how}); "
                f"per {kind[:-1]} McNemar: {per}")


@dataclass
class PairScores:
    """Every pair of models scored on the same rows: ``score_models``' last event, after the ``ModelScore``s.

    ``comparison`` is ``core.uncertainty.compare_rows`` over the models in ``names`` (its pairs' ``a`` and
    ``b`` index ``names``); ``agreements`` follows ``comparison.pairs``, one per pair.
    """

    names: list[str]
    comparison: Comparison
    agreements: list[Agreement]
    any_right: int  # rows at least one of the models gets right
    resamples: int
    seed: int
    left_out: dict[str, str] = field(default_factory=dict)  # scored models kept out of the pairs, and why
    groups: list[ModelGroup] = field(default_factory=list)  # groups of two or more of ``names``' models
    group_pairs: list[GroupPair] = field(default_factory=list)  # groups sharing two or more seeds (or folds)

    @property
    def oracle(self) -> float:
        """The share of rows at least one of the models gets right."""
        return self.any_right / self.comparison.count if self.comparison.count else math.nan

    def sentences(self) -> list[str]:
        """Each pair in words, in the order of ``comparison.pairs``."""
        return [p.sentence(self.names[p.a], self.names[p.b]) for p in self.comparison.pairs]

    def group_sentences(self) -> list[str]:
        """Each pair of groups in words, in the order of ``group_pairs``."""
        g = self.groups
        return [p.sentence(g[p.a].label, g[p.b].label, g[p.a].kind) for p in self.group_pairs]
