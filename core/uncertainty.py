"""How sure a score is: bootstrap intervals, paired differences, exact McNemar, Holm, and groups of runs.

One seed moves SST-2 accuracy by a point and a small set's by three, so a score without its interval
means little and a ranking by differences inside the noise means nothing. What this module gives, in
numpy alone (scipy and scikit-learn are the tests' references, not dependencies):

- a score's 95% interval: the percentile bootstrap over the test rows. A single model's resampled
  scores depend only on its confusion matrix (resampling n rows with replacement draws the matrix from a
  multinomial), so ``confusion_interval`` needs no rows and gives the same interval wherever the same
  matrix is shown: ``evaluate``, ``info``, the Runs screen, Compare;
- two models on the same rows (``compare_rows``): the difference in accuracy and macro-F1 with a
  paired-bootstrap interval (both scored on each resample of the rows) and the exact McNemar test on the
  rows only one of them gets right (Dror et al. 2018), with Holm's correction over every pair;
- runs repeated over seeds or folds (``summarize``): mean, sd, min and max; two groups trained on the
  same seeds, an exact paired permutation test over the seeds (``paired_over_seeds``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

RESAMPLES = 10_000  # bootstrap resamples: the interval's ends move by ~0.1 points between seeds at 10,000
CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE  # a difference is significant when Holm's p is below it
CHUNK_CELLS = 4_000_000  # rows x resamples gathered at a time: ~16 MB of int32 per model, whatever the split


@dataclass(frozen=True)
class ScoreInterval:
    """A model's accuracy and macro-F1 on ``count`` rows, each with its bootstrap interval."""

    count: int
    accuracy: float
    accuracy_ci: tuple[float, float]
    macro_f1: float
    macro_f1_ci: tuple[float, float]

    def accuracy_text(self) -> str:
        """"accuracy 0.811 [0.793, 0.829] on 1,821 rows": the model card's and ``info``'s words."""
        lo, hi = self.accuracy_ci
        return f"accuracy {self.accuracy:.3f} [{lo:.3f}, {hi:.3f}] on {self.count:,} rows"


@dataclass(frozen=True)
class PairTest:
    """Model ``a`` against model ``b`` on the same rows (indices into the models compared)."""

    a: int
    b: int
    count: int
    accuracy_diff: float  # accuracy of a - accuracy of b
    accuracy_diff_ci: tuple[float, float]
    macro_f1_diff: float
    macro_f1_diff_ci: tuple[float, float]
    a_only: int  # rows only a gets right
    b_only: int  # rows only b gets right
    p: float  # exact two-sided McNemar
    p_holm: float  # Holm's correction over every pair compared together
    significant: bool  # p_holm < ALPHA

    def sentence(self, name_a: str, name_b: str) -> str:
        """"LSTM - RNN: +0.0 points [-1.6, +1.6], p = 0.97: no significant difference on these 1,821 rows"."""
        lo, hi = self.accuracy_diff_ci
        verdict = (f"{name_a if self.accuracy_diff > 0 else name_b} is better" if self.significant
                   else "no significant difference")
        held = "" if self.p_holm == self.p else f" (Holm: {p_text(self.p_holm)})"
        return (f"{name_a} - {name_b}: {100 * self.accuracy_diff:+.1f} points [{100 * lo:+.1f}, {100 * hi:+.1f}], "
                f"{p_text(self.p)}{held}: {verdict} on these {self.count:,} rows")


def p_text(p: float) -> str:
    """"p = 0.97", "p = 0.0031", "p < 0.0001"."""
    if p < 1e-4:
        return "p < 0.0001"
    return f"p = {p:.2g}" if p < 0.01 else f"p = {p:.2f}"


@dataclass(frozen=True)
class GroupSummary:
    """Runs of one setting repeated over seeds or folds: their scores' mean, sd (n - 1), min and max."""

    kind: str  # "seeds" or "folds"
    values: tuple[float, ...]
    mean: float
    sd: float  # NaN for one run
    low: float
    high: float

    @property
    def n(self) -> int:
        return len(self.values)

    def text(self, scale: float = 100, digits: int = 1) -> str:
        """"80.6 ± 0.7 (79.8-81.1, 3 seeds)"."""
        sd = "" if math.isnan(self.sd) else f" ± {scale * self.sd:.{digits}f}"
        return (f"{scale * self.mean:.{digits}f}{sd} ({scale * self.low:.{digits}f}-{scale * self.high:.{digits}f}, "
                f"{self.n} {self.kind if self.n != 1 else self.kind.rstrip('s')})")


@dataclass(frozen=True)
class SeedPairTest:
    """Two groups run on the same seeds (or folds): the mean of the per-seed differences a - b and the exact
    paired permutation test over them (every sign of every difference; 3 seeds can say no less than 0.25)."""

    seeds: tuple[int, ...]
    diffs: tuple[float, ...]
    mean_diff: float
    p: float


@dataclass
class Comparison:
    """``compare_rows``'s result: each model's interval and every pair's test, in the order given."""

    count: int
    models: list[ScoreInterval]
    pairs: list[PairTest] = field(default_factory=list)


def resample_rows(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Row indices of ``resamples`` bootstrap resamples of ``n`` rows, a (chunk, n) int32 block at a time
    (``CHUNK_CELLS`` bounds the memory); the same seed gives the same resamples."""
    rng = np.random.default_rng(seed)
    per_chunk = max(1, CHUNK_CELLS // max(n, 1))
    for start in range(0, resamples, per_chunk):
        yield rng.integers(0, n, size=(min(per_chunk, resamples - start), n), dtype=np.int32)


def scores_of_confusions(cms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and macro-F1 of a stack of (..., classes, classes) confusion matrices (rows true). F1 of a
    class is 2 tp / (predicted + actual), 0 where it has neither (as ``core.metrics``)."""
    cms = np.asarray(cms, dtype=np.float64)
    tp = np.diagonal(cms, axis1=-2, axis2=-1)
    n = cms.sum(axis=(-2, -1))
    denom = cms.sum(-2) + cms.sum(-1)
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    accuracy = np.divide(tp.sum(-1), n, out=np.full_like(n, np.nan), where=n > 0)
    return accuracy, f1.mean(-1)


def percentile_ci(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
    tail = 50 * (1 - confidence)
    lo, hi = np.percentile(values, [tail, 100 - tail], axis=-1)
    return float(lo), float(hi)


def checked_confusion(confusion) -> np.ndarray | None:
    """``confusion`` as a square matrix of counts, or None when it is not one (a model file's record is
    read as it is: ragged, negative, text or empty matrices have no interval)."""
    try:
        cm = np.asarray(confusion, dtype=np.int64)
    except (ValueError, TypeError, OverflowError):
        return None
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.size == 0 or (cm < 0).any() or cm.sum() <= 0:
        return None
    return cm


def scores_of_counts(tp: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and macro-F1 from per-class counts (..., classes): true positives, predictions, examples.
    F1 of a class is 2 tp / (predicted + actual), 0 where it has neither; every class counts in the mean."""
    tp, predicted, actual = (np.asarray(x, dtype=np.float64) for x in (tp, predicted, actual))
    denom = predicted + actual
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    n = actual.sum(-1)
    accuracy = np.divide(tp.sum(-1), n, out=np.full_like(n, np.nan), where=n > 0)
    return accuracy, f1.mean(-1)


def confusion_interval(confusion, resamples: int = RESAMPLES, seed: int = 0,
                       confidence: float = CONFIDENCE) -> ScoreInterval:
    """A model's accuracy and macro-F1 with bootstrap intervals, from its confusion matrix alone: resampling
    its rows draws the matrix from Multinomial(n, cells / n). Only the cells that hold rows are drawn, and only
    the per-class counts macro-F1 needs are kept, so 100 classes cost what their nonempty cells cost."""
    cm = np.asarray(confusion, dtype=np.int64)
    n = int(cm.sum())
    accuracy, f1 = scores_of_confusions(cm)
    if n == 0:
        return ScoreInterval(0, math.nan, (math.nan, math.nan), math.nan, (math.nan, math.nan))
    classes = cm.shape[0]
    true, pred = np.nonzero(cm)
    rng = np.random.default_rng(seed)
    accs, f1s = np.empty(resamples), np.empty(resamples)
    per_chunk = max(1, CHUNK_CELLS // len(true))
    for start in range(0, resamples, per_chunk):
        k = min(per_chunk, resamples - start)
        drawn = rng.multinomial(n, cm[true, pred] / n, size=k).astype(np.float64)  # (k, nonempty cells)
        tp = np.zeros((k, classes))
        tp[:, true[true == pred]] = drawn[:, true == pred]  # a class has one diagonal cell at most
        accs[start:start + k], f1s[start:start + k] = scores_of_counts(
            tp, _sum_by(drawn, pred, classes), _sum_by(drawn, true, classes))
    return ScoreInterval(n, float(accuracy), percentile_ci(accs, confidence), float(f1), percentile_ci(f1s, confidence))


def _sum_by(drawn: np.ndarray, groups: np.ndarray, classes: int) -> np.ndarray:
    """(k, cells) counts summed over the cells of each class in ``groups``: (k, classes)."""
    order = np.argsort(groups, kind="stable")
    present, starts = np.unique(groups[order], return_index=True)
    out = np.zeros((drawn.shape[0], classes))
    out[:, present] = np.add.reduceat(drawn[:, order], starts, axis=1)
    return out


def accuracy_interval(correct: int, count: int, resamples: int = RESAMPLES, seed: int = 0,
                      confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The bootstrap interval of ``correct`` right out of ``count`` (a bucket's accuracy): the resampled count
    right is Binomial(count, correct / count)."""
    if count <= 0:
        return math.nan, math.nan
    drawn = np.random.default_rng(seed).binomial(count, correct / count, size=resamples) / count
    return percentile_ci(drawn, confidence)


def compare_rows(truths: Sequence[np.ndarray], predictions: Sequence[np.ndarray], num_classes: int,
                 resamples: int = RESAMPLES, seed: int = 0, confidence: float = CONFIDENCE) -> Comparison:
    """Each model's interval and, for every pair, the paired-bootstrap difference and exact McNemar test.

    ``truths[i]`` and ``predictions[i]`` are model i's true and predicted class ids of the same rows, in
    its own label order (two models may order the classes differently: right is right either way).
    """
    truths = [np.asarray(t, dtype=np.int64) for t in truths]
    predictions = [np.asarray(p, dtype=np.int64) for p in predictions]
    n, m, cells = len(truths[0]) if truths else 0, len(truths), num_classes * num_classes
    if any(len(t) != n for t in [*truths, *predictions]):
        raise ValueError("every model must be scored on the same rows")
    codes = np.stack([t * num_classes + p for t, p in zip(truths, predictions, strict=True)]).astype(np.int64)
    confusions = [np.bincount(c, minlength=cells).reshape(num_classes, num_classes) for c in codes]
    models = [confusion_interval(cm, resamples, seed, confidence) for cm in confusions]
    if m < 2 or n == 0:
        return Comparison(n, models)
    # each resample as how often it drew each row (k, n), times each model's row indicators (n, m x 3 x classes:
    # right in its true class, predicted as, truly of): every model's per-class counts in one product, the rows
    # drawn once for all models
    c = num_classes
    indicators = np.zeros((n, m, 3, c))
    rows = np.arange(n)
    for i, (t, p) in enumerate(zip(truths, predictions, strict=True)):
        indicators[rows, i, 0, t] = (t == p)
        indicators[rows, i, 1, p] = 1.0
        indicators[rows, i, 2, t] = 1.0
    indicators = indicators.reshape(n, m * 3 * c)
    accs, f1s = np.empty((m, resamples)), np.empty((m, resamples))
    done = 0
    for idx in resample_rows(n, resamples, seed):
        k = len(idx)
        offsets = (np.arange(k, dtype=np.int64) * n)[:, None]
        drawn = np.bincount((idx + offsets).ravel(), minlength=k * n).reshape(k, n).astype(np.float64)
        counts = (drawn @ indicators).reshape(k, m, 3, c).transpose(2, 1, 0, 3)  # (3, m, k, classes)
        accs[:, done:done + k], f1s[:, done:done + k] = scores_of_counts(*counts)
        done += k
    correct = np.stack([t == p for t, p in zip(truths, predictions, strict=True)])
    pairs = []
    for a, b in itertools.combinations(range(m), 2):
        a_only = int((correct[a] & ~correct[b]).sum())
        b_only = int((correct[b] & ~correct[a]).sum())
        pairs.append(PairTest(
            a, b, n, models[a].accuracy - models[b].accuracy, percentile_ci(accs[a] - accs[b], confidence),
            models[a].macro_f1 - models[b].macro_f1, percentile_ci(f1s[a] - f1s[b], confidence),
            a_only, b_only, mcnemar_exact(a_only, b_only), math.nan, False))
    adjusted = holm([p.p for p in pairs])
    pairs = [PairTest(**{**p.__dict__, "p_holm": q, "significant": q < 1 - confidence})
             for p, q in zip(pairs, adjusted, strict=True)]
    return Comparison(n, models, pairs)


def mcnemar_exact(b: int, c: int) -> float:
    """The exact two-sided McNemar p-value: 2 P(X <= min(b, c)) for X ~ Binomial(b + c, 1/2), at most 1
    (``scipy.stats.binomtest(b, b + c).pvalue``); 1 when no row is discordant.

    The largest term, C(n, k) / 2^n, is exact integers divided once (Python rounds that division
    correctly) up to ``EXACT_TOP_ROWS`` discordant rows, beyond by Loader's saddle-point formula (R's and
    Boost's binomial density, ~1e-15 relative); the smaller terms follow from it by their ratios, summed
    until they no longer count.
    """
    if b < 0 or c < 0:
        raise ValueError("counts of rows cannot be negative")
    n, k = b + c, min(b, c)
    if n == 0 or b == c:
        return 1.0
    # 0.0 only where the whole sum is below the smallest float
    head = math.comb(n, k) / (1 << n) if n <= EXACT_TOP_ROWS else _binomial_half(k, n)
    terms = [head]
    t = head
    for i in range(k, 0, -1):  # C(n, i - 1) = C(n, i) * i / (n - i + 1)
        t *= i / (n - i + 1)
        terms.append(t)
        if t < head * 1e-18:
            break
    return min(1.0, 2 * math.fsum(terms))


EXACT_TOP_ROWS = 50_000  # math.comb takes 0.05 s here, 6 s at a million


def _stirling_error(n: float) -> float:
    """log(n!) - log(sqrt(2 pi n) (n / e)^n) (Loader 2000)."""
    if n <= 15:
        return math.lgamma(n + 1) - (n + 0.5) * math.log(n) + n - 0.5 * math.log(2 * math.pi)
    nn = n * n
    return (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - 1 / 1188 / nn) / nn) / nn) / nn) / n


def _deviance(x: float, mean: float) -> float:
    """x log(x / mean) + mean - x, without cancellation near x = mean (Loader 2000's bd0)."""
    if abs(x - mean) < 0.1 * (x + mean):
        v = (x - mean) / (x + mean)
        total, term, j = (x - mean) * v, 2 * x * v, 1
        while True:
            term *= v * v
            following = total + term / (2 * j + 1)
            if following == total:
                return total
            total, j = following, j + 1
    return x * math.log(x / mean) + mean - x


def _binomial_half(k: int, n: int) -> float:
    """P(X = k) for X ~ Binomial(n, 1/2), 0 < k < n, by Loader's saddle-point formula."""
    half = n / 2
    log_density = (_stirling_error(n) - _stirling_error(k) - _stirling_error(n - k) - _deviance(k, half)
                   - _deviance(n - k, half))
    return math.exp(log_density) * math.sqrt(n / (2 * math.pi * k * (n - k)))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given (each at most 1, never below an earlier
    smaller p's)."""
    m = len(pvalues)
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda j: pvalues[j])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def summarize(values: Sequence[float], kind: str = "seeds") -> GroupSummary:
    """Mean, sd (n - 1; NaN for one value), min and max of a group's scores."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("a group has at least one run")
    sd = float(v.std(ddof=1)) if v.size > 1 else math.nan
    return GroupSummary(kind, tuple(float(x) for x in v), float(v.mean()), sd, float(v.min()), float(v.max()))


MAX_EXACT_SIGNS = 16  # seeds up to which every sign pattern is tried; beyond, 65,536 drawn at random


def paired_over_seeds(seeds: Sequence[int], a: Sequence[float], b: Sequence[float], seed: int = 0) -> SeedPairTest:
    """The per-seed differences a - b and the two-sided paired permutation test of their mean: the share of
    sign flips whose mean is at least as far from 0 as the one observed."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if d.size == 0 or d.size != len(seeds):
        raise ValueError("one difference per seed")
    if d.size <= MAX_EXACT_SIGNS:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
    else:
        signs = np.random.default_rng(seed).choice((1.0, -1.0), size=(1 << MAX_EXACT_SIGNS, d.size))
    observed = abs(d.mean())
    flipped = np.abs((signs * d).mean(1))
    hits = int((flipped >= observed - 1e-12).sum())
    # every sign pattern: the exact share; drawn ones: (hits + 1) / (draws + 1), never 0 (the observed counts)
    p = hits / len(signs) if d.size <= MAX_EXACT_SIGNS else (hits + 1) / (len(signs) + 1)
    return SeedPairTest(tuple(int(s) for s in seeds), tuple(float(x) for x in d), float(d.mean()), p)
