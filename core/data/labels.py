"""Columns, labels and splits: find the text and label columns, name the classes, carve missing splits."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from core.data.dataset import SPLITS, Split, TextDataset
from core.data.sources import _check_cancel, _one_line
from core.errors import ColumnError, DataError
from core.events import TaskControl

_TEXT_NAMES = (
    "text", "sentence", "review", "content", "document", "tweet", "comment", "body",
    "review_text", "review_body", "sentence1",
)  # fmt: skip
_LABEL_NAMES = ("label", "labels", "sentiment", "polarity", "stars", "rating", "class", "target", "score")
_SENTIMENT_COLUMNS = ("label", "labels", "sentiment", "polarity")
# Ordered sentiment scales by class count: consecutive numbers (0/1, -1/1, 0/1/2, -1/0/1, 0..4, 1..5)
# in a sentiment-named column are these classes, lowest number first.
_SENTIMENT_SCALES = {
    2: ("negative", "positive"),
    3: ("negative", "neutral", "positive"),
    5: ("very negative", "negative", "neutral", "positive", "very positive"),
}

# Known label vocabularies, in class-id order (matched case-insensitively).
_KNOWN_ORDERS: tuple[tuple[str, ...], ...] = (
    ("neg", "pos"),
    ("negative", "positive"),
    ("negative", "neutral", "positive"),
    ("neg", "neu", "pos"),
    ("very negative", "negative", "neutral", "positive", "very positive"),
    ("bad", "good"),
    ("objective", "subjective"),
    ("obj", "subj"),
)

_SURROGATES = re.compile("[\ud800-\udfff]")
# The markers pandas reads as missing (its default ``na_values``): a label "NA" is no class. Exact
# spellings, so a class called "na" keeps its rows; and not "None", a real class in some sets (an
# emotion or an aspect that is absent), so it stays a class.
_NA_MARKERS = frozenset({
    "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA",
    "NULL", "NaN", "n/a", "nan", "null",
})
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")

def _find_column(columns: Sequence[str], wanted: str | None, candidates: Sequence[str]) -> str | None:
    if wanted is not None:
        if wanted in columns:
            return wanted
        folded = [c for c in columns if c.strip().lower() == wanted.strip().lower()]
        return folded[0] if folded else None
    by_lower = {c.strip().lower(): c for c in reversed(list(columns))}
    for name in candidates:
        if name in by_lower:
            return by_lower[name]
    return None


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return type(v).__name__ in ("NAType", "NaTType")


def _clean_texts(values: Sequence[Any], column: str, notes: list[str] | None = None) -> list[str | None]:
    """Cells of the text column -> stripped text, or None when missing or empty.

    Never ``str()`` of a container: a list of words (a Parquet list column, a JSON array) is joined
    with spaces, with a note; any other structure (an object, a list of numbers, bytes that are not
    UTF-8) is refused naming the row, because its Python spelling ("['a' 'b']") would be learned as
    words. A lone surrogate (a JSON ``\\ud83d`` escape) becomes U+FFFD, which every later step can encode.
    """
    out: list[str | None] = []
    joined = 0
    for row, v in enumerate(values, 1):
        if _is_missing(v):
            out.append(None)
            continue
        if isinstance(v, str):
            s = v
        elif isinstance(v, bytes):
            try:
                s = v.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(f'Row {row} of the text column "{column}" holds bytes that are not UTF-8.') from None
        elif isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating)):
            s = str(v)
        elif isinstance(v, (list, tuple, np.ndarray)) and all(isinstance(w, str) for w in v):
            s, joined = " ".join(w.strip() for w in v), joined + 1
        else:
            raise DataError(
                f'Row {row} of the text column "{column}" holds {_describe_cell(v)}, not text; '
                "give each row its text as a string (a list of words is joined with spaces)."
            )
        if not s.isascii():
            s = _SURROGATES.sub("\ufffd", s)
        out.append(s.strip() or None)
    if joined and notes is not None:
        notes.append(f'Joined the words of {joined:,} list cell(s) of the text column "{column}" with spaces.')
    return out


def _describe_cell(v: Any) -> str:
    if isinstance(v, dict):
        return f"an object ({_one_line(v, 40)})"
    if isinstance(v, (list, tuple, np.ndarray)):
        return f"a list of non-text values ({_one_line(list(v)[:5], 40)})"
    return f"a {type(v).__name__} value ({_one_line(v, 40)})"


def _norm_labels(values: Sequence[Any], column: str, markers: dict[str, int] | None = None) -> list[int | str | None]:
    """Labels -> int (also for whole floats and digit strings), stripped str, or None when missing.

    ``markers`` counts the missing-value markers met (NA, null...), for the note that says so.
    """
    out: list[int | str | None] = []
    for v in values:
        if _is_missing(v):
            out.append(None)
        elif isinstance(v, (bool, np.bool_, int, np.integer)):
            out.append(int(v))
        elif isinstance(v, (float, np.floating)):
            if not float(v).is_integer():
                raise DataError(
                    f'Label column "{column}" holds non-whole numbers (e.g. {v}); a classifier needs class '
                    "labels such as 0/1 or negative/positive."
                )
            out.append(int(v))
        elif isinstance(v, str):
            s = v.strip()
            if s in _NA_MARKERS and markers is not None:
                markers[s] = markers.get(s, 0) + 1
            if not s or s in _NA_MARKERS:
                out.append(None)
            elif _INT_RE.fullmatch(s):
                out.append(int(s))
            elif _FLOAT_RE.fullmatch(s):
                f = float(s)
                if not f.is_integer():
                    raise DataError(
                        f'Label column "{column}" holds non-whole numbers (e.g. {s}); '
                        "a classifier needs class labels such as 0/1 or negative/positive."
                    )
                out.append(int(f))
            else:
                out.append(s)
        else:
            raise DataError(
                f'Label column "{column}" holds {type(v).__name__} values (e.g. {_one_line(v, 40)}); '
                "labels must be numbers or words."
            )
    return out


def _class_names(
    values: set[int | str], column: str, classlabel_names: list[str] | None, notes: list[str] | None = None
) -> tuple[list[str], dict[int | str, int]]:
    """Decide class order and names from the union of label values of all splits.

    Whole numbers in a column named like a sentiment label (``_SENTIMENT_COLUMNS``) are named by the
    sentiment scale of their count, whatever the count (0/1, 0/1/2 and 0..4 alike), with a note
    saying so; other numbers keep their digits.
    """
    ints = {v for v in values if isinstance(v, int)}
    strs = {v for v in values if isinstance(v, str)}
    if ints and strs:
        raise DataError(
            f'Label column "{column}" mixes numbers and words (e.g. {min(ints)} and "{_one_line(min(strs), 40)}"); '
            "use one kind of label."
        )
    if classlabel_names is not None and not strs:
        bad = sorted(v for v in ints if not 0 <= v < len(classlabel_names))
        if bad:
            raise DataError(
                f'Label column "{column}" has id {bad[0]} outside its {len(classlabel_names)} classes.'
            )
        return list(classlabel_names), {i: i for i in range(len(classlabel_names))}
    if ints:
        order = sorted(ints)
        names = [str(v) for v in order]
        scale = _SENTIMENT_SCALES.get(len(order))
        steps = [b - a for a, b in itertools.pairwise(order)]
        consecutive = (len(order) == 2 and order[0] in (-1, 0) and order[1] == 1) or set(steps) == {1}
        if scale and consecutive and order[0] in (-2, -1, 0, 1) and column.strip().lower() in _SENTIMENT_COLUMNS:
            names = list(scale)
            if notes is not None:
                notes.append(f"Named the labels {', '.join(map(str, order))} as {', '.join(names)} (a sentiment "
                             f'scale, as the column is called "{column}"); name a different label column to keep '
                             "numbers.")
        return names, {v: i for i, v in enumerate(order)}

    # Words: merge spellings that differ only in case (the name is the first spelling in sorted order).
    spellings: dict[str, list[str]] = {}
    for s in sorted(strs):
        spellings.setdefault(s.casefold(), []).append(s)
    keys = set(spellings)
    order_keys: list[str] | None = None
    for known in _KNOWN_ORDERS:
        if set(known) == keys:
            order_keys = list(known)
            break
    if order_keys is None:
        for known in _KNOWN_ORDERS:
            if len(keys) >= 2 and keys <= set(known):
                order_keys = [k for k in known if k in keys]
                break
    if order_keys is None:
        order_keys = sorted(keys)
    names = [spellings[k][0] for k in order_keys]
    mapping: dict[int | str, int] = {}
    for i, k in enumerate(order_keys):
        for s in spellings[k]:
            mapping[s] = i
    return names, mapping


def _guess_columns(
    df: Any, text_col: str | None, label_col: str | None, notes: list[str]
) -> tuple[str | None, str | None]:
    """With exactly two columns, fill in the one not found by name if the data makes it obvious."""
    cols = list(df.columns)
    if len(cols) != 2 or (text_col is not None and label_col is not None):
        return text_col, label_col
    sample = df.head(2000)

    def mean_len(c: str) -> float:
        vals = [v for v in sample[c].tolist() if isinstance(v, str)]
        return sum(len(v) for v in vals) / len(vals) if vals and len(vals) == len(sample) else -1.0

    def low_card(c: str) -> bool:
        n_unique = sample[c].astype(str).str.strip().nunique()
        return n_unique <= 20 and n_unique < max(2, len(sample) / 2)

    if text_col is None and label_col is None:
        a, b = cols
        t, lab = (a, b) if mean_len(a) >= mean_len(b) else (b, a)
    elif text_col is None:
        lab, t = label_col, next(c for c in cols if c != label_col)
    else:
        t, lab = text_col, next(c for c in cols if c != text_col)
    if mean_len(t) <= 0 or not low_card(lab) or (mean_len(lab) > 0 and mean_len(lab) >= mean_len(t)):
        return text_col, label_col
    values = {str(v).strip() for v in sample[lab].tolist()}
    if str(lab).strip() in values:
        raise DataError(
            f'The first line ("{_one_line(t, 40)}", "{_one_line(lab, 20)}") looks like data, not a header; '
            "add a header line such as text,label (or text<TAB>label)."
        )
    notes.append(f'Guessed the columns: text="{t}", label="{lab}" (name them to override).')
    return t, lab


def _choose_columns(columns: list[str], sample: Callable[[], Any], text_column: str | None,
                    label_column: str | None, notes: list[str]) -> tuple[str, str]:
    """The text and label columns: the ones named, else found by name, else guessed from ``sample()`` (a
    pandas frame of the first rows); a ``ColumnError`` listing the columns when they can't be found."""
    listing = ", ".join(columns[:20]) + (", …" if len(columns) > 20 else "")
    t_col = _find_column(columns, text_column, _TEXT_NAMES)
    l_col = _find_column(columns, label_column, _LABEL_NAMES)
    if text_column is not None and t_col is None:
        raise ColumnError(f'There is no text column "{text_column}"; the columns are: {listing}.',
                          columns=columns, missing=("text",))
    if label_column is not None and l_col is None:
        raise ColumnError(f'There is no label column "{label_column}"; the columns are: {listing}.',
                          columns=columns, missing=("label",))
    if t_col is not None and t_col == l_col:
        raise DataError(f'The text and label columns must differ (both are "{t_col}").')
    if len(columns) == 2 and (t_col is None or l_col is None):
        t_col, l_col = _guess_columns(sample(), t_col, l_col, notes)
    if t_col is None or l_col is None:
        which = (
            "text and label columns"
            if t_col is None and l_col is None
            else ("text column" if t_col is None else "label column")
        )
        raise ColumnError(f"Can't find the {which} (columns: {listing}).", columns=columns,
                          missing=tuple(role for role, col in (("text", t_col), ("label", l_col)) if col is None))
    return t_col, l_col


def _assemble(
    source: str,
    frames: dict[str, Any],
    *,
    notes: list[str],
    text_column: str | None,
    label_column: str | None,
    classlabels: dict[str, list[str]],
    lenient_splits: bool,
    seed: int,
    fractions: dict[str, float],
    control: TaskControl | None,
    min_classes: int = 2,
) -> TextDataset:
    """Tables per split -> TextDataset: pick columns, clean rows, map labels, carve missing splits."""
    columns = [str(c) for c in frames["train"].columns]
    t_col, l_col = _choose_columns(columns, lambda: frames["train"], text_column, label_column, notes)

    raw: dict[str, tuple[list[str], list[int | str]]] = {}
    missing: list[str] = []
    for split in SPLITS:
        if split not in frames:
            missing.append(split)
            continue
        df = frames[split]
        if split != "train" and (t_col not in df.columns or l_col not in df.columns):
            absent = t_col if t_col not in df.columns else l_col
            if lenient_splits:
                notes.append(f'The {split} split has no "{absent}" column; it was carved from train instead.')
                missing.append(split)
                continue
            raise ColumnError(
                f'The {split} data has no "{absent}" column (its columns: {", ".join(map(str, df.columns))}).',
                columns=columns, missing=("text" if absent == t_col else "label",),
            )
        texts = _clean_texts(df[t_col].tolist(), t_col, notes)
        markers: dict[str, int] = {}
        labels = _norm_labels(df[l_col].tolist(), l_col, markers)
        if l_col in classlabels:  # datasets' ClassLabel uses -1 for "no label" (e.g. GLUE test splits)
            labels = [None if isinstance(v, int) and v < 0 else v for v in labels]
        keep_t: list[str] = []
        keep_l: list[int | str] = []
        for t, lab in zip(texts, labels, strict=True):
            if t is not None and lab is not None:
                keep_t.append(t)
                keep_l.append(lab)
        dropped = len(texts) - len(keep_t)
        if not keep_t:
            if split == "train":
                raise DataError(
                    f'No usable rows: all {len(texts)} training rows have an empty "{t_col}" or "{l_col}".'
                )
            notes.append(f"The {split} split has no labelled rows; it was carved from train instead.")
            missing.append(split)
            continue
        if dropped:
            said = ", ".join(f'"{m}" ({n:,})' for m, n in sorted(markers.items(), key=lambda kv: -kv[1])[:3])
            notes.append(f"Dropped {dropped} of {len(texts)} {split} rows with an empty text or label"
                         + (f", or a label that marks a missing value: {said}." if markers else "."))
        raw[split] = (keep_t, keep_l)
        _check_cancel(control)

    present = {split: set(labs) for split, (_, labs) in raw.items()}
    names, mapping = _check_classes(present, l_col, columns, classlabels.get(l_col), len(raw["train"][1]), notes,
                                    min_classes)
    splits: dict[str, Split] = {
        split: Split(texts=texts, labels=np.fromiter((mapping[v] for v in labs), np.int64, len(labs)))
        for split, (texts, labs) in raw.items()
    }
    return _dataset(source, splits, missing, names, mapping, (t_col, l_col), classlabels, notes=notes, seed=seed,
                    fractions=fractions, control=control)


def _dataset(source: str, splits: dict[str, Split], missing: list[str], names: list[str],
             mapping: dict[int | str, int], columns: tuple[str, str], classlabels: dict[str, list[str]], *,
             notes: list[str], seed: int, fractions: dict[str, float], control: TaskControl | None) -> TextDataset:
    """The ``TextDataset`` of ``splits``, the ``missing`` ones carved from train."""
    t_col, l_col = columns
    carved: tuple[str, ...] = ()
    if missing:
        _check_cancel(control)
        splits, carved = _carve(splits, missing, fractions, seed)
        if carved:
            notes.append(f"Carved {' and '.join(carved)} from train (seed {seed}, stratified by class).")
    numbers = classlabels.get(l_col) is None and all(isinstance(v, int) for v in mapping)
    return TextDataset(
        source=source, splits=splits, label_names=names,
        label_values=sorted(mapping, key=mapping.__getitem__) if numbers else None,
        text_column=t_col, label_column=l_col, carved=carved, notes=notes, split_seed=seed,
        validation_fraction=fractions["validation"], test_fraction=fractions["test"],
    )


def _check_classes(
    present: dict[str, set[int | str]], l_col: str, columns: list[str], classlabel_names: list[str] | None,
    n_train: int, notes: list[str], min_classes: int,
) -> tuple[list[str], dict[int | str, int]]:
    """Name the classes from the label values each split holds (``_class_names``) and refuse what can't
    be trained: a column with too many values to be labels, too few classes, a class only outside train."""
    union: set[int | str] = set().union(*present.values())
    names, mapping = _class_names(union, l_col, classlabel_names, notes)
    train_values = present["train"]
    if len(names) > max(20, n_train // 2) and classlabel_names is None:
        raise ColumnError(
            f'Label column "{l_col}" has {len(names)} different values for {n_train} training rows; is it '
            "really the label?", columns=columns, missing=("label",),
        )
    # Count classes, not raw values: "Positive" and "positive" are one class (merged by case above).
    train_classes = {mapping[v] for v in train_values}
    if len(train_classes) < min_classes:
        only = names[mapping[next(iter(train_values))]]
        raise DataError(
            f'Only one class ("{_one_line(only, 40)}") found in the training data; a classifier needs at least two.'
        )
    for split, labs in present.items():
        unseen = {v for v in labs if mapping[v] not in train_classes}
        if unseen:
            example = names[mapping[min(unseen, key=str)]]
            raise DataError(
                f'The {split} data has label "{_one_line(example, 40)}", which never appears in the training data; '
                "every class needs training examples."
            )
    return names, mapping


def _carve(
    splits: dict[str, Split], missing: Sequence[str], fractions: dict[str, float], seed: int
) -> tuple[dict[str, Split], tuple[str, ...]]:
    """Take seeded, per-class-stratified fractions of train for the missing splits; train keeps the rest."""
    train = splits["train"]
    rng = np.random.default_rng(seed)
    picked: dict[str, list[np.ndarray]] = {s: [] for s in missing}
    keep: list[np.ndarray] = []
    for k in np.unique(train.labels):
        idx = rng.permutation(np.flatnonzero(train.labels == k))
        start = 0
        for s in SPLITS:  # fixed order so the result does not depend on the order of ``missing``
            if s not in picked:
                continue
            take = round(len(idx) * fractions[s])
            if take == 0 and fractions[s] > 0 and len(idx) - start >= 3:
                take = 1  # tiny classes still get one held-out example
            take = max(0, min(take, len(idx) - start - 1))  # every class keeps at least one training row
            picked[s].append(idx[start : start + take])
            start += take
        keep.append(idx[start:])
    out = dict(splits)
    out["train"] = train.subset(np.sort(np.concatenate(keep)))
    carved = []
    for s in SPLITS:
        if s in picked:
            out[s] = train.subset(np.sort(np.concatenate(picked[s])).astype(np.int64))
            if fractions[s] > 0:
                carved.append(s)
    return {s: out[s] for s in SPLITS}, tuple(carved)


