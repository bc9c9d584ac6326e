"""Dataset sources: Hugging Face Hub names, local files and folders, and built-in generated sets.

A source is one string (see ``load_dataset``). Whatever it names, the result is a ``TextDataset``
of plain Python lists and numpy arrays with three splits (train, validation, test) and the class
names, so the tokenizer, trainer and views never care where the data came from.

Every problem the user can cause is raised as ``DataError`` with a one-line message. ``pandas``,
``pyarrow`` and ``datasets`` are imported inside the functions that need them, because importing
them at module level would slow down the start of the app and the CLI.
"""

from __future__ import annotations

import io
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import DataError

SPLITS = ("train", "validation", "test")


@dataclass
class Split:
    """One split: texts and integer class ids, plus optional per-example columns (e.g. ``gap``)."""

    texts: list[str]
    labels: np.ndarray  # (n,) int64 class ids into TextDataset.label_names
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (n,) array

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index: np.ndarray) -> Split:
        """The rows at ``index``, with ``extra`` kept aligned."""
        return Split(
            texts=[self.texts[i] for i in index],
            labels=self.labels[index],
            extra={k: v[index] for k, v in self.extra.items()},
        )


@dataclass
class TextDataset:
    """A ready-to-train sentiment dataset."""

    source: str  # the source string it was loaded from
    splits: dict[str, Split]  # keys: "train", "validation", "test"
    label_names: list[str]  # class id -> name, e.g. ["negative", "positive"]
    text_column: str = "text"
    label_column: str = "label"
    carved: tuple[str, ...] = ()  # splits that were carved from train, e.g. ("validation",)
    notes: list[str] = field(default_factory=list)  # things the user should know (guesses, drops, encoding)

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def __getitem__(self, split: str) -> Split:
        return self.splits[split]


class LoadCancelled(Exception):
    """Raised when ``should_cancel()`` returned True while a dataset was loading."""


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

_TEXT_NAMES = (
    "text", "sentence", "review", "content", "document", "tweet", "comment", "body",
    "review_text", "review_body", "sentence1",
)  # fmt: skip
_LABEL_NAMES = ("label", "labels", "sentiment", "polarity", "stars", "rating", "class", "target", "score")
_BINARY_NAMED_COLUMNS = ("label", "labels", "sentiment", "polarity")

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

_HUB_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?(:[A-Za-z0-9_.-]+)?")
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_SHARD_RE = re.compile(r"(?P<split>[a-z]+)-\d+-of-\d+")


# --------------------------------------------------------------------------------------------
# Source strings


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


def _check_cancel(should_cancel: Callable[[], bool] | None) -> None:
    if should_cancel is not None and should_cancel():
        raise LoadCancelled("dataset loading was cancelled")


# --------------------------------------------------------------------------------------------
# Public entry point


def load_dataset(
    source: str,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    seed: int = 0,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
    should_cancel: Callable[[], bool] | None = None,
) -> TextDataset:
    """Load any source into a three-split ``TextDataset``.

    Missing validation/test splits are carved from train (seeded and stratified per class) so every
    source gives the trainer the same shape. Raises ``DataError`` for anything the user can fix and
    ``LoadCancelled`` when ``should_cancel()`` turns True between steps.
    """
    for name, frac in (("validation", validation_fraction), ("test", test_fraction)):
        if not (isinstance(frac, (int, float)) and 0.0 <= frac < 1.0):
            raise DataError(f"The {name} fraction must be at least 0 and below 1 (got {frac}).")
    if validation_fraction + test_fraction >= 0.9:
        raise DataError("The validation and test fractions together must leave at least 10% for training.")

    kind, target, options = parse_source(source)
    _check_cancel(should_cancel)
    if kind == "builtin":
        return _load_builtin(source, target, options, seed, should_cancel)

    notes: list[str] = []
    classlabels: dict[str, list[str]] = {}
    lenient = False
    if kind == "file":
        frames = {"train": _read_table(Path(target), notes)}
    elif kind == "folder":
        frames = _read_folder(Path(target), notes, should_cancel)
    else:
        frames, classlabels = _load_hub(target, options.get("config"), should_cancel)
        lenient = True
    _check_cancel(should_cancel)
    return _assemble(
        source,
        frames,
        notes=notes,
        text_column=text_column,
        label_column=label_column,
        classlabels=classlabels,
        lenient_splits=lenient,
        seed=seed,
        fractions={"validation": validation_fraction, "test": test_fraction},
        should_cancel=should_cancel,
    )


# --------------------------------------------------------------------------------------------
# Files and folders


def _decode(raw: bytes, path: Path, notes: list[str]) -> str:
    """Bytes -> text: UTF-8 (BOM or not), UTF-16 with a BOM, else Windows-1252 with a note.

    cp1252 is the one fallback because it is what Excel and older corpora (e.g. MR) write on Windows;
    it is accepted only when every byte decodes under it, and the fallback is reported in ``notes``.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise DataError(
                f"File {path.name} starts like UTF-16 text but is damaged; save it as UTF-8."
            ) from None
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(
            f"File {path.name} contains NUL bytes (offset {nul}); it is binary or UTF-16 "
            "without a byte-order mark. Save it as UTF-8 text."
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        utf8_err = err
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        bad = raw[utf8_err.start]
        raise DataError(
            f"File {path.name} is not UTF-8 text (byte 0x{bad:02x} at offset {utf8_err.start}); "
            "save it as UTF-8."
        ) from None
    notes.append(f"{path.name} is not valid UTF-8; it was read as Windows-1252 (cp1252).")
    return text


def _one_line(msg: object, limit: int = 200) -> str:
    text = " ".join(str(msg).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _read_table(path: Path, notes: list[str]) -> Any:
    """Read one data file into a pandas DataFrame; every failure becomes a one-line ``DataError``."""
    import pandas as pd

    ext = path.suffix.lower()
    if not path.exists():
        raise DataError(f"No such file: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a file.")
    if ext not in FILE_EXTENSIONS:
        raise DataError(f'Unsupported file type "{ext or path.name}"; use CSV, TSV, JSON, JSONL or Parquet.')
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"Can't read {path}: {err.strerror or err}.") from None
    if not raw.strip():
        raise DataError(f"File {path.name} is empty.")

    if ext == ".parquet":
        if not (raw[:4] == b"PAR1" and raw[-4:] == b"PAR1"):
            raise DataError(f"File {path.name} is not a Parquet file (or it is damaged).")
        try:
            df = pd.read_parquet(io.BytesIO(raw))
        except Exception as err:  # pyarrow raises many types for damaged files
            raise DataError(f"Can't read Parquet file {path.name}: {_one_line(err)}") from None
    else:
        text = _decode(raw, path, notes)
        if ext in (".json", ".jsonl"):
            df = _parse_json(text, path, lines_only=ext == ".jsonl")
        else:
            df = _parse_delimited(text, path, tsv=ext == ".tsv")

    df.columns = [str(c) for c in df.columns]
    if len(df.columns) == 0:
        raise DataError(f"File {path.name} has no columns.")
    if len(df) == 0:
        raise DataError(f"File {path.name} has a header but no rows.")
    return df


def _parse_delimited(text: str, path: Path, *, tsv: bool) -> Any:
    """CSV with normal quoting (quoted newlines work); TSV with quoting off (texts may start with '"')."""
    import csv

    import pandas as pd

    def read(sep: str, quoting: int) -> Any:
        return pd.read_csv(
            io.StringIO(text),
            sep=sep,
            quoting=quoting,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            index_col=False,
            engine="c",
        )

    kind = "TSV" if tsv else "CSV"
    try:
        if tsv:
            df = read("\t", csv.QUOTE_NONE)
        else:
            df = read(",", csv.QUOTE_MINIMAL)
            if len(df.columns) == 1:  # e.g. a semicolon CSV from a European Excel, or a TSV named .csv
                header = str(df.columns[0])
                for sep in (";", "\t", "|"):
                    if sep in header:
                        df = read(sep, csv.QUOTE_MINIMAL)
                        break
    except pd.errors.EmptyDataError:
        raise DataError(f"File {path.name} is empty.") from None
    except (pd.errors.ParserError, ValueError, csv.Error) as err:
        hint = " (a text may contain a TAB)" if tsv else ""
        raise DataError(f"Can't parse {path.name} as {kind}{hint}: {_one_line(err)}") from None
    return df


def _parse_json(text: str, path: Path, *, lines_only: bool) -> Any:
    """A JSON array of objects, an object of equal-length columns, or JSON lines (one object a line)."""
    import json

    whole_err: json.JSONDecodeError | None = None
    if not lines_only:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            whole_err = err  # maybe JSON lines: try that next
        except RecursionError:  # e.g. "[[[[..." 100,000 deep: the parser runs out of stack
            raise DataError(f"File {path.name} is nested too deeply to be a JSON table.") from None
        else:
            return _json_frame(data, path)
    records = []
    first = True
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except RecursionError:
            raise DataError(f"Line {lineno} of {path.name} is nested too deeply to be a JSON object.") from None
        except json.JSONDecodeError as err:
            if whole_err is not None and first:
                e = whole_err
                raise DataError(
                    f"File {path.name} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})."
                ) from None
            raise DataError(
                f"File {path.name} is not valid JSON lines (line {lineno}, column {err.colno}: {err.msg})."
            ) from None
        first = False
        if not isinstance(obj, dict):
            raise DataError(
                f"Line {lineno} of {path.name} is not a JSON object; each line must look like "
                '{"text": "...", "label": 1}.'
            )
        records.append(obj)
    return _json_frame(records, path)


def _json_frame(data: Any, path: Path) -> Any:
    import pandas as pd

    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1 and lists[0] and all(isinstance(r, dict) for r in lists[0]):
            data = lists[0]  # {"data": [{...}, ...]}
        elif lists and len(lists) == len(data) and len({len(v) for v in lists}) == 1:
            return pd.DataFrame(data)  # {"text": [...], "label": [...]}
        else:
            data = [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(
            f'File {path.name} must hold a JSON array of objects such as {{"text": "...", "label": 1}}, '
            "or one such object per line."
        )
    return pd.DataFrame.from_records(data)


def _split_files(folder: Path) -> tuple[dict[str, list[Path]], list[str]]:
    found: dict[str, list[Path]] = {}
    seen: list[str] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError as err:
        raise DataError(f"Can't read folder {folder}: {err.strerror or err}.") from None
    for p in entries:
        if not p.is_file():
            continue
        seen.append(p.name)
        if p.suffix.lower() not in FILE_EXTENSIONS:
            continue
        stem = p.stem.lower()
        shard = _SHARD_RE.fullmatch(stem)
        split = _SPLIT_ALIASES.get(shard.group("split") if shard else stem)
        if split is not None:
            found.setdefault(split, []).append(p)
    return found, seen


def _read_folder(folder: Path, notes: list[str], should_cancel: Callable[[], bool] | None) -> dict[str, Any]:
    """A folder of split files (train required; validation/valid/val/dev and test optional)."""
    import pandas as pd

    found, seen = _split_files(folder)
    if not found and (folder / "data").is_dir():  # Hugging Face snapshot layout
        found, _ = _split_files(folder / "data")
    if "train" not in found:
        listing = ", ".join(seen[:8]) + (", …" if len(seen) > 8 else "") if seen else "nothing"
        raise DataError(
            f"Folder {folder} has no train file (expected train.csv/.tsv/.json/.jsonl/.parquet, "
            f"optionally dev and test files); found: {listing}."
        )
    frames: dict[str, Any] = {}
    for split in SPLITS:
        files = found.get(split, [])
        stems = {p.stem.lower() for p in files}
        if len(files) > len(stems) or (len(stems) > 1 and not all(_SHARD_RE.fullmatch(s) for s in stems)):
            raise DataError(
                f"Folder {folder} has several {split} files ({', '.join(p.name for p in files)}); "
                "keep only one."
            )
        parts = []
        for p in files:
            _check_cancel(should_cancel)
            parts.append(_read_table(p, notes))
        if parts:
            frames[split] = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    return frames


# --------------------------------------------------------------------------------------------
# Hugging Face Hub


def _env_true(value: str) -> bool:
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def _hub_online() -> bool:
    """Decide online/offline before ``datasets`` is used, so an unreachable Hub fails fast.

    An explicit HF_HUB_OFFLINE / HF_DATASETS_OFFLINE is trusted; otherwise a short TCP probe decides,
    and when it fails offline mode is switched on (env for a later import, module flags if imported).
    """
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if os.environ.get(var, "").strip():
            online = not _env_true(os.environ[var])
            break
    else:
        import socket
        from urllib.parse import urlparse

        endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
        host = endpoint.hostname or "huggingface.co"
        port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
        try:
            socket.create_connection((host, port), timeout=1.5).close()
            online = True
        except OSError:
            online = False
    if not online:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HF_DATASETS_OFFLINE"] = "1"
        # Both libraries read these module attributes at call time (checked for datasets 5.2 and
        # huggingface_hub 2.4), so setting them covers an import that already happened.
        if "huggingface_hub" in sys.modules:
            constants = getattr(sys.modules["huggingface_hub"], "constants", None)
            if constants is not None and hasattr(constants, "HF_HUB_OFFLINE"):
                constants.HF_HUB_OFFLINE = True
        if "datasets" in sys.modules:
            config = getattr(sys.modules["datasets"], "config", None)
            for attr in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
                if config is not None and hasattr(config, attr):
                    setattr(config, attr, True)
    return online


def _load_hub(
    name: str, config: str | None, should_cancel: Callable[[], bool] | None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Load a Hub dataset (from the cache when offline) -> (frames per split, ClassLabel names per column)."""
    shown = f"{name}:{config}" if config else name
    online = _hub_online()
    _check_cancel(should_cancel)
    import datasets

    not_cached = (
        f'Can\'t reach the Hugging Face Hub and "{shown}" is not in the local cache. Use a local file '
        "(CSV/TSV/JSON/Parquet) or a built-in set such as builtin:longrange."
    )
    not_found_types: tuple[type[BaseException], ...] = (FileNotFoundError,)
    exc_mod = getattr(datasets, "exceptions", None)
    if exc_mod is not None and hasattr(exc_mod, "DatasetNotFoundError"):
        not_found_types = (exc_mod.DatasetNotFoundError, FileNotFoundError)
    try:
        loaded = datasets.load_dataset(name, config) if config else datasets.load_dataset(name)
    except not_found_types as err:
        if not online:
            raise DataError(not_cached) from None
        raise DataError(
            f'There is no dataset "{shown}" on the Hugging Face Hub (or it is private or gated). '
            f"Try one of: {', '.join(HUB_SUGGESTIONS)}. ({_one_line(err, 120)})"
        ) from None
    except ConnectionError as err:
        if not online:
            raise DataError(not_cached) from None
        raise DataError(
            f'Couldn\'t download "{shown}" from the Hugging Face Hub: {_one_line(err, 150)}'
        ) from None
    except ValueError as err:
        msg = _one_line(err, 160)
        if "config" in msg.lower():
            raise DataError(
                f'Hub dataset "{name}" needs a valid configuration, written NAME:CONFIG (e.g. glue:sst2): '
                f"{msg}"
            ) from None
        raise DataError(f'Couldn\'t load "{shown}" from the Hugging Face Hub: {msg}') from None
    except Exception as err:  # third-party boundary: the user gets one line
        if not online:
            raise DataError(not_cached) from None
        raise DataError(
            f'Couldn\'t load "{shown}" from the Hugging Face Hub: {type(err).__name__}: {_one_line(err, 150)}'
        ) from None
    _check_cancel(should_cancel)

    if not hasattr(loaded, "items"):  # a single Dataset
        loaded = {"train": loaded}
    frames: dict[str, Any] = {}
    classlabels: dict[str, list[str]] = {}
    for split_name, ds in loaded.items():
        split = _SPLIT_ALIASES.get(str(split_name).lower())
        if split is None or split in frames:
            continue
        for col, feature in getattr(ds, "features", {}).items():
            if isinstance(feature, datasets.ClassLabel):
                classlabels.setdefault(str(col), list(feature.names))
        frames[split] = ds.to_pandas()
        _check_cancel(should_cancel)
    if "train" not in frames:
        raise DataError(
            f'Hub dataset "{shown}" has no train split '
            f"(splits: {', '.join(map(str, loaded.keys())) or 'none'})."
        )
    return frames, classlabels


# --------------------------------------------------------------------------------------------
# Columns, labels, splits


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


def _clean_texts(values: Sequence[Any]) -> list[str | None]:
    out: list[str | None] = []
    for v in values:
        if _is_missing(v):
            out.append(None)
        else:
            s = (v if isinstance(v, str) else str(v)).strip()
            out.append(s or None)
    return out


def _norm_labels(values: Sequence[Any], column: str) -> list[int | str | None]:
    """Labels -> int (also for whole floats and digit strings), stripped str, or None when missing."""
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
            if not s:
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
    values: set[int | str], column: str, classlabel_names: list[str] | None
) -> tuple[list[str], dict[int | str, int]]:
    """Decide class order and names from the union of label values of all splits."""
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
        lname = column.strip().lower()
        if order in ([0, 1], [-1, 1]) and lname in _BINARY_NAMED_COLUMNS:
            names = ["negative", "positive"]
        elif order == [-1, 0, 1] and lname in _BINARY_NAMED_COLUMNS:
            names = ["negative", "neutral", "positive"]
        else:
            names = [str(v) for v in order]
        return names, {v: i for i, v in enumerate(order)}

    # Words: merge spellings that differ only in case (keep the most common spelling as the name).
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
    should_cancel: Callable[[], bool] | None,
) -> TextDataset:
    """Tables per split -> TextDataset: pick columns, clean rows, map labels, carve missing splits."""
    train_df = frames["train"]
    columns = [str(c) for c in train_df.columns]
    listing = ", ".join(columns[:20]) + (", …" if len(columns) > 20 else "")
    t_col = _find_column(columns, text_column, _TEXT_NAMES)
    l_col = _find_column(columns, label_column, _LABEL_NAMES)
    if text_column is not None and t_col is None:
        raise DataError(f'There is no text column "{text_column}"; the columns are: {listing}.')
    if label_column is not None and l_col is None:
        raise DataError(f'There is no label column "{label_column}"; the columns are: {listing}.')
    if t_col is not None and t_col == l_col:
        raise DataError(f'The text and label columns must differ (both are "{t_col}").')
    t_col, l_col = _guess_columns(train_df, t_col, l_col, notes)
    if t_col is None or l_col is None:
        which = (
            "text and label columns"
            if t_col is None and l_col is None
            else ("text column" if t_col is None else "label column")
        )
        raise DataError(
            f"Can't find the {which} (columns: {listing}); name them with --text-column and "
            "--label-column."
        )

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
            raise DataError(
                f'The {split} data has no "{absent}" column (its columns: {", ".join(map(str, df.columns))}).'
            )
        texts = _clean_texts(df[t_col].tolist())
        labels = _norm_labels(df[l_col].tolist(), l_col)
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
            notes.append(f"Dropped {dropped} of {len(texts)} {split} rows with an empty text or label.")
        raw[split] = (keep_t, keep_l)
        _check_cancel(should_cancel)

    union: set[int | str] = set()
    for _, labs in raw.values():
        union.update(labs)
    names, mapping = _class_names(union, l_col, classlabels.get(l_col))
    train_values = set(raw["train"][1])
    n_train = len(raw["train"][1])
    if len(names) > max(20, n_train // 2) and classlabels.get(l_col) is None:
        raise DataError(
            f'Label column "{l_col}" has {len(names)} different values for {n_train} training rows; is it '
            "really the label? Name the right one with --label-column."
        )
    # Count classes, not raw values: "Positive" and "positive" are one class (merged by case above).
    train_classes = {mapping[v] for v in train_values}
    if len(train_classes) < 2:
        only = names[mapping[next(iter(train_values))]]
        raise DataError(
            f'Only one class ("{_one_line(only, 40)}") found in the training data; a classifier needs at least two.'
        )
    for split, (_, labs) in raw.items():
        unseen = {v for v in labs if mapping[v] not in train_classes}
        if unseen:
            example = names[mapping[min(unseen, key=str)]]
            raise DataError(
                f'The {split} data has label "{_one_line(example, 40)}", which never appears in the training data; '
                "every class needs training examples."
            )

    splits: dict[str, Split] = {
        split: Split(texts=texts, labels=np.fromiter((mapping[v] for v in labs), np.int64, len(labs)))
        for split, (texts, labs) in raw.items()
    }
    carved: tuple[str, ...] = ()
    if missing:
        _check_cancel(should_cancel)
        splits, carved = _carve(splits, missing, fractions, seed)
        if carved:
            notes.append(f"Carved {' and '.join(carved)} from train (seed {seed}, stratified by class).")
    return TextDataset(
        source=source,
        splits=splits,
        label_names=names,
        text_column=t_col,
        label_column=l_col,
        carved=carved,
        notes=notes,
    )


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


# --------------------------------------------------------------------------------------------
# Built-in sets

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


def _builtin_sizes(n: int) -> dict[str, int]:
    n_val = n // 10
    return {"train": n - 2 * n_val, "validation": n_val, "test": n_val}


def _balanced_labels(rng: np.random.Generator, m: int) -> np.ndarray:
    return rng.permutation(np.arange(m, dtype=np.int64) % 2)


def _load_builtin(
    source: str, name: str, options: dict[str, str], seed: int, should_cancel: Callable[[], bool] | None
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
        s = _option_int(options, "seed", seed, 0, 2**63 - 1, where)
        generate: Callable[[np.random.Generator, int], Split] = partial(
            _gen_longrange, gmin=gmin, gmax=gmax, log_spread=spread == "log"
        )
        notes = [f"builtin:longrange with n={n}, gap={gmin}-{gmax}, spread={spread}, seed={s}."]
    else:
        _check_options(options, ("n", "seed"), where)
        n = _option_int(options, "n", 3000, 20, 2_000_000, where)
        s = _option_int(options, "seed", seed, 0, 2**63 - 1, where)
        generate = _gen_reviews
        notes = [f"builtin:reviews with n={n}, seed={s}."]
    rng = np.random.default_rng(s)
    splits: dict[str, Split] = {}
    for split, m_ in _builtin_sizes(n).items():
        _check_cancel(should_cancel)
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


# --------------------------------------------------------------------------------------------
# Statistics


def describe(dataset: TextDataset, tokenize: Callable[[str], list[str]] = str.split) -> dict:
    """Per-split counts, per-class counts and token-length stats, for the data view and the CLI summary.

    p95 is the nearest-rank 95th percentile. Histograms are numpy arrays (call ``.tolist()`` for JSON).
    """
    out: dict[str, dict] = {}
    for split in SPLITS:
        sp = dataset.splits.get(split)
        if sp is None:
            continue
        counts = np.bincount(sp.labels.astype(np.int64), minlength=dataset.num_classes) if len(sp) else None
        per_class = {
            name: int(counts[i]) if counts is not None else 0 for i, name in enumerate(dataset.label_names)
        }
        lengths = np.fromiter((len(tokenize(t)) for t in sp.texts), np.int64, len(sp.texts))
        if len(lengths):
            ordered = np.sort(lengths)
            p95 = int(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)])
            stats = {
                "mean": float(lengths.mean()),
                "median": float(np.median(lengths)),
                "p95": p95,
                "max": int(ordered[-1]),
                "min": int(ordered[0]),
            }
            bins = int(min(40, max(1, ordered[-1] - ordered[0] + 1)))
            hist = np.histogram(lengths, bins=bins)
        else:
            stats = {"mean": 0.0, "median": 0.0, "p95": 0, "max": 0, "min": 0}
            hist = (np.zeros(0, np.int64), np.zeros(0, np.float64))
        out[split] = {
            "count": len(sp),
            "per_class": per_class,
            "lengths": stats,
            "length_histogram": hist,
        }
    return out
