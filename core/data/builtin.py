"""Built-in generated sets that need no network: the long-range memory test and template reviews."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

import numpy as np

from core.data.dataset import Split, TextDataset
from core.data.sources import _check_cancel, _check_options, _option_int
from core.errors import DataError
from core.events import TaskControl

_FILLER = (
    "the", "movie", "was", "then", "we", "a", "scene", "and", "after", "story", "of", "that", "it", "in",
    "on", "at", "to", "for", "with", "this", "there", "his", "her", "they", "when", "where", "which",
    "film", "plot", "actor", "camera", "screen", "time", "day", "night", "house", "street", "city", "car",
    "door", "window", "table", "room", "people", "man", "woman", "train", "morning", "later", "next",
)  # fmt: skip
_POSITIVE = (
    "great", "wonderful", "excellent", "superb", "brilliant", "fantastic", "delightful", "amazing",
    "outstanding", "lovely",
)  # fmt: skip
_NEGATIVE = (
    "awful", "terrible", "dreadful", "boring", "horrible", "dull", "bad", "mediocre", "disappointing",
    "pathetic",
)  # fmt: skip


MAX_WORDS = 50_000_000  # the most a built-in set generates (longrange: n x (gap + 11) words)


def _builtin_sizes(n: int) -> dict[str, int]:
    n_val = n // 10
    return {"train": n - 2 * n_val, "validation": n_val, "test": n_val}


def _balanced_labels(rng: np.random.Generator, m: int) -> np.ndarray:
    return rng.permutation(np.arange(m, dtype=np.int64) % 2)


def _load_builtin(
    source: str, name: str, options: dict[str, str], control: TaskControl | None
) -> TextDataset:
    where = f"builtin:{name}"
    if name == "longrange":
        _check_options(options, ("n", "gap", "spread", "seed"), where)
        n = _option_int(options, "n", 4000, 20, 2_000_000, where)
        gap_raw = options.get("gap", "5-50")
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", gap_raw)
        if not m:
            raise DataError(f'Option gap="{gap_raw}" for {where} must be a number or a range such as 5-50.')
        gmin, gmax = int(m.group(1)), int(m.group(2) or m.group(1))
        if gmin > gmax or gmax > 100_000:
            raise DataError(
                f"Option gap={gap_raw} for {where} must be MIN-MAX with 0 <= MIN <= MAX <= 100000."
            )
        spread = options.get("spread", "uniform").strip().lower()
        if spread not in ("uniform", "log"):
            raise DataError(f'Option spread="{spread}" for {where} must be uniform or log.')
        s = _option_int(options, "seed", 0, 0, 2**63 - 1, where)
        words = n * (gmax + 11)  # options are bounded one by one; their product bounds the memory
        if words > MAX_WORDS:
            raise DataError(
                f"{where} with n={n:,} and gap up to {gmax:,} would generate up to {words:,} words; the most is "
                f"{MAX_WORDS:,} (about 1 GB): lower n or the gap."
            )
        generate: Callable[[np.random.Generator, int], Split] = partial(
            _gen_longrange, gmin=gmin, gmax=gmax, log_spread=spread == "log"
        )
        notes = [f"builtin:longrange with n={n}, gap={gmin}-{gmax}, spread={spread}, seed={s}."]
    else:
        _check_options(options, ("n", "seed"), where)
        n = _option_int(options, "n", 3000, 20, 2_000_000, where)
        s = _option_int(options, "seed", 0, 0, 2**63 - 1, where)
        generate = _gen_reviews
        notes = [f"builtin:reviews with n={n}, seed={s}."]
    rng = np.random.default_rng(s)
    splits: dict[str, Split] = {}
    for split, m_ in _builtin_sizes(n).items():
        _check_cancel(control)
        splits[split] = generate(rng, m_)
    return TextDataset(source=source, splits=splits, label_names=["negative", "positive"], notes=notes)


def _gen_longrange(rng: np.random.Generator, m: int, gmin: int, gmax: int, log_spread: bool = False) -> Split:
    """Filler, one deciding word, then exactly ``gap`` filler words: the label must be remembered.

    ``log_spread`` draws gaps log-uniformly, so short gaps are as common as long ones per octave: a
    model that cannot bridge long gaps still sees enough short ones to learn the task at all.
    """
    labels = _balanced_labels(rng, m)
    prefix = rng.integers(0, 11, m)
    if log_spread:
        lo, hi = np.log(gmin + 1), np.log(gmax + 2)  # +1: gap 0 is allowed; gmax + 2 keeps gmax reachable
        gaps = np.minimum(np.floor(np.exp(rng.uniform(lo, hi, m))).astype(np.int64) - 1, gmax)
    else:
        gaps = rng.integers(gmin, gmax + 1, m)
    which = rng.integers(0, 10, m)
    fill_idx = rng.integers(0, len(_FILLER), int(prefix.sum() + gaps.sum()))
    filler = np.array(_FILLER, dtype=object)[fill_idx].tolist()
    texts: list[str] = []
    pos = 0
    for i in range(m):
        p, g = int(prefix[i]), int(gaps[i])
        word = (_POSITIVE if labels[i] else _NEGATIVE)[which[i]]
        texts.append(" ".join([*filler[pos : pos + p], word, *filler[pos + p : pos + p + g]]))
        pos += p + g
    return Split(
        texts=texts,
        labels=labels,
        extra={"gap": gaps.astype(np.int64), "position": prefix.astype(np.int64)},
    )


_REV_SUBJECTS = (
    "the movie", "this film", "the acting", "the plot", "the story", "the ending", "the cast", "the script",
    "the soundtrack", "the dialogue", "the direction", "the pacing", "the lead actor", "the humor",
)  # fmt: skip
_REV_VERBS = ("was", "is", "felt", "seemed")
_REV_INTENSIFIERS = ("", "", "", "really", "very", "quite", "truly", "pretty")
_REV_POSITIVE = (
    "good", "great", "wonderful", "enjoyable", "moving", "funny", "clever", "beautiful", "gripping",
    "charming", "excellent", "fun",
)  # fmt: skip
_REV_NEGATIVE = (
    "bad", "boring", "dull", "awful", "predictable", "clumsy", "tedious", "weak", "messy", "forgettable",
    "terrible", "slow",
)  # fmt: skip
_REV_OPENERS = ("", "", "", "honestly ,", "overall ,", "to be fair ,", "in the end ,", "i think")
_REV_CLOSERS = (
    ("", "", "", "i would not recommend it .", "i want my money back .", "skip this one ."),
    ("", "", "", "i would recommend it .", "i would watch it again .", "worth the ticket ."),
)


def _gen_reviews(rng: np.random.Generator, m: int) -> Split:
    """Template reviews: negation flips a clause ("not good" is negative); after "but" the last one wins."""
    import random

    r = random.Random(int(rng.integers(0, 2**63 - 1)))
    labels = _balanced_labels(rng, m)

    def clause(positive: bool) -> str:
        negate = r.random() < 0.3
        adjs = _REV_POSITIVE if positive != negate else _REV_NEGATIVE
        words = [
            r.choice(_REV_SUBJECTS),
            r.choice(_REV_VERBS),
            "not" if negate else "",
            r.choice(_REV_INTENSIFIERS),
        ]
        words.append(r.choice(adjs))
        return " ".join(w for w in words if w)

    texts = []
    for lab in labels.tolist():
        positive = bool(lab)
        kind = r.random()
        if kind < 0.6:
            body = clause(positive)
        elif kind < 0.85:
            body = f"{clause(not positive)} but {clause(positive)}"
        else:
            body = f"{clause(positive)} and {clause(positive)}"
        parts = [r.choice(_REV_OPENERS), body, ".", r.choice(_REV_CLOSERS[lab])]
        texts.append(" ".join(p for p in parts if p))
    return Split(texts=texts, labels=labels)


