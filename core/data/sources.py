"""Source strings: which kind of source a string names (built-in, file, folder, Hub) and its options."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from core.errors import DataError, one_line
from core.events import TaskCancelled, TaskControl

BUILTIN_SETS: dict[str, str] = {
    "longrange": (
        "Synthetic long-range memory test: neutral filler words with one deciding sentiment word "
        "followed by `gap` more words (options: n, gap=MIN-MAX, spread=uniform|log, seed)."
    ),
    "reviews": (
        "Small offline demo: short template movie reviews with negation and 'but' clauses (options: n, seed)."
    ),
}

HUB_SUGGESTIONS: list[str] = [
    "rotten_tomatoes",
    "imdb",
    "stanfordnlp/sst2",
    "glue:sst2",
    "yelp_polarity",
    "tweet_eval:sentiment",
]

FILE_EXTENSIONS = (".csv", ".tsv", ".json", ".jsonl", ".parquet")

_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
    "test": "test",
    "testing": "test",
}

_HUB_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?(:[A-Za-z0-9_.-]+)?")
_SHARD_RE = re.compile(r"(?P<split>[a-z]+)-\d+-of-\d+")



def parse_source(source: str) -> tuple[str, str, dict[str, str]]:
    """Classify a source string -> (kind, target, options); kind in {"builtin", "file", "folder", "hub"}.

    Local paths win over Hub names, so a folder called ``imdb`` next to the app is read from disk.
    """
    if not isinstance(source, str) or not source.strip():
        raise DataError(
            "No dataset given: name a file, a folder, a Hugging Face dataset or builtin:longrange."
        )
    src = source.strip()
    if src.lower().startswith("builtin:"):
        name, _, query = src[len("builtin:") :].partition("?")
        name = name.strip().lower()
        if name not in BUILTIN_SETS:
            raise DataError(
                f'Unknown built-in set "{name}"; the built-in sets are: '
                + ", ".join(f"builtin:{k}" for k in BUILTIN_SETS)
                + "."
            )
        options: dict[str, str] = {}
        for part in filter(None, query.split("&")):
            key, eq, value = part.partition("=")
            if not eq or not key.strip():
                raise DataError(
                    f'Bad option "{part}" in {src}; write options as builtin:{name}?key=value&key=value.'
                )
            options[key.strip().lower()] = value.strip()
        return "builtin", name, options

    path = Path(os.path.expanduser(src))
    if path.is_dir():
        return "folder", str(path), {}
    if path.exists():
        return "file", str(path), {}
    looks_like_path = (
        path.suffix.lower() in FILE_EXTENSIONS
        or src.startswith((".", "~", "/", "\\"))
        or "\\" in src
        or src.count("/") > 1
    )
    if not looks_like_path and _HUB_NAME_RE.fullmatch(src):
        name, _, config = src.partition(":")
        return "hub", name, ({"config": config} if config else {})
    raise DataError(f"No such file or folder: {path}")


def _option_int(options: dict[str, str], key: str, default: int, lo: int, hi: int, where: str) -> int:
    raw = options.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise DataError(f'Option {key}="{raw}" for {where} must be a whole number.') from None
    if not lo <= value <= hi:
        raise DataError(f"Option {key}={value} for {where} must be between {lo} and {hi}.")
    return value


def _check_options(options: dict[str, str], allowed: Sequence[str], where: str) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise DataError(
            f'Unknown option "{unknown[0]}" for {where}; valid options are: {", ".join(allowed)}.'
        )


def _check_cancel(control: TaskControl | None) -> None:
    """Between the steps of a load: raise ``TaskCancelled`` once ``control`` is cancelled."""
    if control is not None and control.cancelled:
        raise TaskCancelled("dataset loading was cancelled")


_one_line = one_line  # the data modules' name for it

