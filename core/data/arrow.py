"""Data larger than memory: files and Hub datasets read through ``datasets``' memory-mapped Arrow cache.

The in-memory path (``readers`` + ``labels._assemble``) holds every text as a Python string, several
times over while pandas parses it: 200 k short rows cost about 1 GB, a few million would not fit. Here
``datasets`` converts a file once into an Arrow file in its cache (the next load maps that file again,
in about a second), the texts stay in the mapped file and are read a batch at a time (``ArrowTexts``),
and only numbers per row live in memory: which rows are kept and their class ids, about 16 bytes a row.

Columns, labels and carving follow the in-memory path's rules (the same functions decide them), applied
to the whole column a batch at a time; labels are dictionary-encoded per batch, so each distinct value
is judged once, not once per row.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from core.data.dataset import SPLITS, Split, TextDataset
from core.data.labels import _NA_MARKERS, _check_classes, _choose_columns, _dataset, _norm_labels
from core.data.sources import _check_cancel, _one_line
from core.errors import ColumnError, DataError
from core.events import TaskControl
from core.files import MIB

ARROW_FILE_BYTES = 64 * MIB  # a local file this large goes through the Arrow cache (smaller: today's speed)
ARROW_HUB_ROWS = 300_000  # likewise a Hub dataset with this many rows in all
SCAN_ROWS = 65_536  # rows read at a time when scanning or iterating a column
SAMPLE_ROWS = 2_000  # rows the column guess looks at, as the in-memory path does

_BUILDERS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}


class ArrowTexts(Sequence[str]):
    """Some rows of a text column of a memory-mapped Arrow table, read on demand (stripped, never None).

    A ``Split``'s ``texts`` for data larger than memory: indexing reads one text, slices and
    ``batches`` read a batch, and ``take`` (used to carve splits) copies only row numbers.
    """

    def __init__(self, table: Any, column: str, rows: np.ndarray):
        self.table = table  # a datasets.Dataset without an indices mapping (rows are the table's own)
        self.column = column
        self.rows = np.asarray(rows, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return self._read(self.rows[i])
        return self._read(self.rows[[i]])[0]

    def __iter__(self) -> Iterator[str]:
        for batch in self.batches():
            yield from batch

    def batches(self, size: int = SCAN_ROWS) -> Iterator[list[str]]:
        for start in range(0, len(self.rows), size):
            yield self._read(self.rows[start : start + size])

    def take(self, index: np.ndarray) -> ArrowTexts:
        return ArrowTexts(self.table, self.column, self.rows[np.asarray(index, dtype=np.int64)])

    def _read(self, rows: np.ndarray) -> list[str]:
        import pyarrow as pa

        values = self.table.data.table.column(self.column).take(pa.array(rows, type=pa.int64()))
        return [(v or "").strip() for v in values.to_pylist()]


def arrow_file_bytes() -> int:
    """From what size a local file takes the Arrow path: ``ARROW_FILE_BYTES``, or the environment's
    ``SENTIMENT_STUDIO_ARROW_MB`` (0: every file; for tests and for users who want the cache anyway)."""
    value = os.environ.get("SENTIMENT_STUDIO_ARROW_MB", "").strip()
    try:
        return int(float(value) * MIB) if value else ARROW_FILE_BYTES
    except ValueError:
        return ARROW_FILE_BYTES


def use_arrow(path: Path) -> bool:
    """Whether a local file is large enough for the Arrow path (never raises: a missing file is
    reported by the reader)."""
    try:
        return path.suffix.lower() in _BUILDERS and path.stat().st_size >= arrow_file_bytes()
    except OSError:
        return False


def read_arrow_file(path: Path, notes: list[str], control: TaskControl | None) -> dict[str, Any]:
    """Convert ``path`` into (or find it in) ``datasets``' Arrow cache: {"train": memory-mapped Dataset}."""
    if not path.is_file():
        raise DataError(f"No such file: {path}")
    ext = path.suffix.lower()
    builder = _BUILDERS[ext]
    _check_cancel(control)
    import datasets

    options: dict[str, Any] = {}
    if builder == "csv":  # as the in-memory reader: every cell text, nothing read as "missing" but empty
        sep, header = _header(path, ext)
        options = {"sep": sep, "keep_default_na": False, "na_filter": False,
                   "quoting": csv.QUOTE_NONE if ext == ".tsv" else csv.QUOTE_MINIMAL,
                   "features": datasets.Features({name: datasets.Value("string") for name in header})}
    datasets.disable_progress_bars()  # a GUI has no terminal; progress comes as events
    try:
        table = datasets.load_dataset(builder, data_files={"train": str(path)}, split="train", **options)
    except UnicodeDecodeError:
        raise DataError(f"File {path.name} is not UTF-8 text; files over {ARROW_FILE_BYTES // MIB} MB are read "
                        "as UTF-8 only: save it as UTF-8.") from None
    except Exception as err:  # datasets and pyarrow raise many types for malformed files
        raise DataError(f"Can't read {path.name}: {type(err).__name__}: {_one_line(err, 200)}") from None
    notes.append(f"{path.name} is read through the Arrow cache of `datasets` (memory-mapped, "
                 f"{len(table):,} rows): texts stay on disk until used.")
    return {"train": table}


def _header(path: Path, ext: str) -> tuple[str, list[str]]:
    """The delimiter, guessed from the header line as the in-memory reader does (a semicolon CSV from a
    European Excel, a TSV named .csv), and the column names."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        line = f.readline(1 << 20)
    sep = "\t" if ext == ".tsv" else ","
    if ext != ".tsv" and "," not in line:
        sep = next((s for s in (";", "\t", "|") if s in line), ",")
    names = next(csv.reader([line], delimiter=sep, quoting=csv.QUOTE_NONE if ext == ".tsv" else csv.QUOTE_MINIMAL),
                 [])
    if not names:
        raise DataError(f"File {path.name} is empty.")
    return sep, names


def assemble_arrow(
    source: str,
    tables: dict[str, Any],
    *,
    notes: list[str],
    text_column: str | None,
    label_column: str | None,
    classlabels: dict[str, list[str]],
    seed: int,
    fractions: dict[str, float],
    control: TaskControl | None,
    min_classes: int = 2,
) -> TextDataset:
    """Arrow tables per split -> a ``TextDataset`` whose texts stay in the tables (``labels._assemble``'s
    rules: the same columns found, rows dropped, classes named and splits carved)."""
    train = tables["train"]
    columns = [str(c) for c in train.column_names]
    t_col, l_col = _choose_columns(columns, lambda: train.data.table.slice(0, SAMPLE_ROWS).to_pandas(), text_column,
                                   label_column, notes)

    codes: dict[int | str, int] = {}  # each distinct normalized label -> a provisional code
    scanned: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # split -> (kept rows, provisional codes)
    missing: list[str] = []
    for split in SPLITS:
        table = tables.get(split)
        if table is None or (split != "train" and (t_col not in table.column_names or l_col not in table.column_names)):
            if table is not None:
                notes.append(f'The {split} split has no "{t_col}" or "{l_col}" column; it was carved from train '
                             "instead.")
            missing.append(split)
            continue
        rows, row_codes, markers = _scan(table, t_col, l_col, codes, classlabels.get(l_col) is not None, control)
        dropped = len(table) - len(rows)
        if not len(rows):
            if split == "train":
                raise DataError(f'No usable rows: all {len(table):,} training rows have an empty "{t_col}" or '
                                f'"{l_col}".')
            notes.append(f"The {split} split has no labelled rows; it was carved from train instead.")
            missing.append(split)
            continue
        if dropped:
            said = ", ".join(f'"{m}" ({n:,})' for m, n in sorted(markers.items(), key=lambda kv: -kv[1])[:3])
            notes.append(f"Dropped {dropped:,} of {len(table):,} {split} rows with an empty text or label"
                         + (f", or a label that marks a missing value: {said}." if markers else "."))
        scanned[split] = (rows, row_codes)

    values = sorted(codes, key=codes.__getitem__)  # provisional code -> normalized value
    present = {s: {values[c] for c in np.unique(row_codes)} for s, (_, row_codes) in scanned.items()}
    names, mapping = _check_classes(present, l_col, columns, classlabels.get(l_col), len(scanned["train"][0]),
                                    notes, min_classes)
    lookup = np.array([mapping[v] for v in values], dtype=np.int64)
    splits = {s: Split(ArrowTexts(tables[s], t_col, rows), lookup[row_codes])
              for s, (rows, row_codes) in scanned.items()}
    return _dataset(source, splits, missing, names, mapping, (t_col, l_col), classlabels, notes=notes, seed=seed,
                    fractions=fractions, control=control)


def _scan(table: Any, t_col: str, l_col: str, codes: dict[int | str, int], classlabel: bool,
          control: TaskControl | None) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """One pass over ``table``: the rows with a text and a label, and their labels' provisional codes
    (new distinct labels join ``codes``); also the missing-value markers met, with their counts."""
    import pyarrow as pa
    import pyarrow.compute as pc

    data = table.data.table
    text_type = data.schema.field(t_col).type
    if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type)):
        raise DataError(f'The text column "{t_col}" holds {text_type} values, not text; in files over '
                        f"{ARROW_FILE_BYTES // MIB} MB give each row its text as a string.")
    kept: list[np.ndarray] = []
    kept_codes: list[np.ndarray] = []
    markers: dict[str, int] = {}
    for start in range(0, len(data), SCAN_ROWS):
        part = data.slice(start, SCAN_ROWS)
        texts = part.column(t_col)
        has_text = pc.fill_null(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(texts)), 0), False)
        labels = pc.dictionary_encode(part.column(l_col).combine_chunks())
        distinct = labels.dictionary.to_pylist()
        counts = np.bincount(labels.indices.fill_null(len(distinct)).to_numpy(zero_copy_only=False),
                             minlength=len(distinct) + 1)
        for i, v in enumerate(distinct):  # count the missing-value markers by the rows holding them
            if isinstance(v, str) and v.strip() in _NA_MARKERS:
                markers[v.strip()] = markers.get(v.strip(), 0) + int(counts[i])
        normal = _norm_labels(distinct, l_col)
        if classlabel:  # datasets' ClassLabel uses -1 for "no label" (e.g. GLUE test splits)
            normal = [None if isinstance(v, int) and v < 0 else v for v in normal]
        lut = np.array([codes.setdefault(v, len(codes)) if v is not None else -1 for v in normal] + [-1],
                       dtype=np.int64)
        row_codes = lut[labels.indices.fill_null(len(distinct)).to_numpy(zero_copy_only=False)]
        keep = has_text.to_numpy(zero_copy_only=False) & (row_codes >= 0)
        kept.append(np.flatnonzero(keep) + start)
        kept_codes.append(row_codes[keep])
        if len(codes) > 100_000:
            raise ColumnError(f'Label column "{l_col}" has over 100,000 different values; is it really the label?',
                              columns=list(table.column_names), missing=("label",))
        _check_cancel(control)
    return np.concatenate(kept), np.concatenate(kept_codes), markers
