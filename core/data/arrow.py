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
import hashlib
import json
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np
from filelock import FileLock

from core.data.dataset import SPLITS, Split, TextDataset
from core.data.labels import _NA_MARKERS, _check_classes, _choose_columns, _dataset, _norm_labels
from core.data.readers import _BOMS, HEADER_CHARS, header_separator, nul_bytes_error
from core.data.sources import _check_cancel, _one_line
from core.errors import ColumnError, DataError, StudioError
from core.events import TaskControl
from core.files import MIB, write_atomic

ARROW_FILE_BYTES = 64 * MIB  # a local file this large goes through the Arrow cache (smaller: today's speed)
ARROW_HUB_ROWS = 300_000  # likewise a Hub dataset with this many rows in all
SCAN_ROWS = 65_536  # rows read at a time when scanning or iterating a column
SAMPLE_ROWS = 2_000  # rows the column guess looks at, as the in-memory path does
NUL_SCAN_BYTES = 16 * MIB  # read at a time when a file is scanned for NUL bytes before it is converted

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

    def content_key(self) -> bytes:
        """What identifies these texts without reading them: the table, the column and the rows."""
        return table_key(self.table).encode("utf-8", "surrogatepass") + b"\0" + self.column.encode() + b"\0" + \
            self.rows.tobytes()

    def _read(self, rows: np.ndarray) -> list[str]:
        import pyarrow as pa

        values = self.table.data.table.column(self.column).take(pa.array(rows, type=pa.int64()))
        return [(v or "").strip() for v in values.to_pylist()]


def table_key(table: Any) -> str:
    """The table's ``datasets`` fingerprint with its files' sizes and times: a table converted again (its
    source file changed) gets a new key even where ``datasets`` keeps the fingerprint."""
    files = []
    for entry in getattr(table, "cache_files", None) or []:
        try:
            info = Path(entry["filename"]).stat()
            files.append((entry["filename"], info.st_size, info.st_mtime_ns))
        except OSError:
            files.append((entry["filename"], None, None))
    return repr((table._fingerprint, files))


def arrow_file_bytes() -> int:
    """From what size a local file takes the Arrow path: ``ARROW_FILE_BYTES``, or the environment's
    ``SENTIMENT_STUDIO_ARROW_MB`` (0: every file; for tests and for users who want the cache anyway).
    Any other value than a number of megabytes, 0 or more, is a ``DataError`` (it used to be ignored, or
    to escape as an OverflowError for ``inf``)."""
    given = os.environ.get("SENTIMENT_STUDIO_ARROW_MB", "")
    if not given.strip():
        return ARROW_FILE_BYTES
    try:
        megabytes = float(given)
    except ValueError:
        megabytes = math.nan
    if not (math.isfinite(megabytes) and megabytes >= 0):
        raise DataError(f"SENTIMENT_STUDIO_ARROW_MB must be a number of megabytes, 0 or more (0: every file is "
                        f"read through the Arrow cache), not {given!r}")
    return int(min(megabytes, 1e12) * MIB)  # 1e12 MB: larger than any file, and the product stays finite


def use_arrow(path: Path) -> bool:
    """Whether a local file is large enough for the Arrow path. A missing file is left to the reader to
    report; a ``SENTIMENT_STUDIO_ARROW_MB`` that is not a size raises ``DataError``."""
    threshold = arrow_file_bytes()
    try:
        return path.suffix.lower() in _BUILDERS and path.stat().st_size >= threshold
    except OSError:
        return False


def read_arrow_file(path: Path, notes: list[str], control: TaskControl | None) -> dict[str, Any]:
    """Convert ``path`` into (or find it in) ``datasets``' Arrow cache: {"train": memory-mapped Dataset}."""
    if not path.is_file():
        raise DataError(f"No such file: {path}")
    ext = path.suffix.lower()
    if ext not in _BUILDERS:
        raise DataError(f'Unsupported file type "{ext or path.name}"; use CSV, TSV, JSON lines or Parquet.')
    builder = _BUILDERS[ext]
    _check_cancel(control)
    import datasets

    options: dict[str, Any] = {}
    if builder == "csv":  # as the in-memory reader: every cell text, nothing read as "missing" but empty
        sep = _separator(path, ext)
        quoting = csv.QUOTE_NONE if ext == ".tsv" else csv.QUOTE_MINIMAL
        options = {"sep": sep, "keep_default_na": False, "na_filter": False, "quoting": quoting, "index_col": False,
                   "features": datasets.Features({name: datasets.Value("string")
                                                  for name in _columns(path, sep, quoting)})}
    datasets.disable_progress_bars()  # a GUI has no terminal; progress comes as events
    verbosity = datasets.logging.get_verbosity()
    datasets.logging.set_verbosity_error()
    try:
        maker = datasets.load_dataset_builder(builder, data_files={"train": str(path)}, **options)
        # datasets knows a local file by its path and modification time: a file rewritten with its old time
        # (cp -p, rsync -t, tar) would get the old table. A stamp of its size and ends says which file it was.
        # Checked, converted and stamped under one lock: two loads at once (two screens, the app and the
        # command line) must not both rebuild, the second deleting the table the first has mapped.
        cache = Path(maker.cache_dir)
        cache.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(cache) + ".sentiment-studio.lock"):
            stamp, mark = _stamp(path), cache / "sentiment-studio-source.json"
            try:
                same = mark.read_text(encoding="utf-8") == stamp
            except OSError:
                same = False
            if not same and builder != "parquet":
                _refuse_nul_bytes(path, control)
            maker.download_and_prepare(download_mode=None if same else "force_redownload")
            if not same:
                write_atomic(mark, stamp.encode("utf-8"), what="cache note")
            table = maker.as_dataset(split="train")
    except DataError:  # ours, already the message for the user (NUL bytes)
        raise
    except Exception as err:  # datasets wraps what pandas and pyarrow raise for malformed files
        root = _root_cause(err)
        if isinstance(root, UnicodeDecodeError):
            raise DataError(f"File {path.name} is not UTF-8 text; files of {_threshold()} or more are read as "
                            "UTF-8 only: save it as UTF-8.") from None
        if isinstance(err, (StudioError, OSError)):  # the cache: a full disk, a folder not writable
            raise DataError(f"Can't convert {path.name} into the datasets cache "
                            f"({datasets.config.HF_DATASETS_CACHE}): {_one_line(err, 200)}") from None
        raise DataError(f"Can't read {path.name}: {type(root).__name__}: {_one_line(root, 200)}") from None
    finally:
        datasets.logging.set_verbosity(verbosity)
    notes.append(f"{path.name} is read through the Arrow cache of `datasets` (memory-mapped, "
                 f"{len(table):,} rows): texts stay on disk until used.")
    return {"train": table}


def _separator(path: Path, ext: str) -> str:
    """The delimiter, from the header line by the in-memory reader's rule (``readers.header_separator``)."""
    if ext == ".tsv":
        return "\t"
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        return header_separator(f.readline(HEADER_CHARS))


def _refuse_nul_bytes(path: Path, control: TaskControl | None) -> None:
    """A text file holding a NUL byte is refused as the in-memory reader refuses it (``readers._decode``):
    the Arrow readers would take the byte into a text, and learn it as a word. A file that starts with a
    UTF-16 or UTF-32 byte-order mark is left to them (not UTF-8: refused as such, then read into memory)."""
    with open(path, "rb") as f:
        head = f.read(4)
        if any(head.startswith(bom) for bom, _ in _BOMS):
            return
        f.seek(0)
        offset = 0
        while chunk := f.read(NUL_SCAN_BYTES):
            at = chunk.find(b"\x00")
            if at >= 0:
                raise nul_bytes_error(path.name, offset + at)
            offset += len(chunk)
            _check_cancel(control)


def _columns(path: Path, sep: str, quoting: int) -> list[str]:
    """The column names as pandas reads them (an unnamed index column is "Unnamed: 0")."""
    import pandas as pd

    try:
        names = [str(c) for c in pd.read_csv(path, nrows=0, sep=sep, quoting=quoting, index_col=False).columns]
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
        if isinstance(err, pd.errors.EmptyDataError):
            raise DataError(f"File {path.name} is empty.") from None
        raise DataError(f"Can't read the header of {path.name}: {_one_line(err, 200)}") from None
    if not names:
        raise DataError(f"File {path.name} is empty.")
    return names


def _stamp(path: Path) -> str:
    """Size, modification time and a hash of the first and last MiB of ``path``, and the checks made on
    converting it (a table converted before a check was added is converted, and checked, again)."""
    info = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(MIB))
        f.seek(max(0, info.st_size - MIB))
        digest.update(f.read(MIB))
    return json.dumps({"size": info.st_size, "mtime_ns": info.st_mtime_ns, "ends": digest.hexdigest(),
                       "checked": "no NUL bytes"})


def _root_cause(err: BaseException) -> BaseException:
    seen = {id(err)}
    while (inner := err.__cause__ or err.__context__) is not None and id(inner) not in seen:
        seen.add(id(inner))
        err = inner
    return err


def _threshold() -> str:
    return f"{arrow_file_bytes() / MIB:g} MB"


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
            notes.append(f"Dropped {dropped} of {len(table)} {split} rows with an empty text or label"
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
        raise DataError(f'The text column "{t_col}" holds {text_type} values, not text; in files of {_threshold()} '
                        "or more give each row its text as a string.")
    label_type = data.schema.field(l_col).type
    if not any(test(label_type) for test in (pa.types.is_integer, pa.types.is_floating, pa.types.is_string,
                                             pa.types.is_large_string, pa.types.is_boolean, pa.types.is_null)):
        raise DataError(f'Label column "{l_col}" holds values of mixed or nested kinds ({label_type}); in files of '
                        f"{_threshold()} or more give each row one number or word, the same kind in every row.")
    kept: list[np.ndarray] = [np.zeros(0, np.int64)]
    kept_codes: list[np.ndarray] = [np.zeros(0, np.int64)]
    markers: dict[str, int] = {}
    for start in range(0, len(data), SCAN_ROWS):
        part = data.slice(start, SCAN_ROWS)
        has_text = pc.fill_null(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(part.column(t_col))), 0), False)
        labels = pc.dictionary_encode(part.column(l_col).combine_chunks())
        distinct = labels.dictionary.to_pylist()
        index = labels.indices.fill_null(len(distinct)).to_numpy(zero_copy_only=False)  # a missing label: the end
        counts = np.bincount(index, minlength=len(distinct) + 1)
        for i, v in enumerate(distinct):  # count the missing-value markers by the rows holding them
            if isinstance(v, str) and v.strip() in _NA_MARKERS:
                markers[v.strip()] = markers.get(v.strip(), 0) + int(counts[i])
        normal = _norm_labels(distinct, l_col)
        if classlabel:  # datasets' ClassLabel uses -1 for "no label" (e.g. GLUE test splits)
            normal = [None if isinstance(v, int) and v < 0 else v for v in normal]
        labelled = np.array([v is not None for v in normal] + [False])
        keep = has_text.to_numpy(zero_copy_only=False) & labelled[index]
        lut = np.full(len(distinct) + 1, -1, dtype=np.int64)
        for i in np.unique(index[keep]):  # only labels of kept rows become classes, as in memory
            lut[i] = codes.setdefault(normal[i], len(codes))
        kept.append(np.flatnonzero(keep) + start)
        kept_codes.append(lut[index[keep]])
        if len(codes) > 100_000:
            raise ColumnError(f'Label column "{l_col}" has over 100,000 different values; is it really the label?',
                              columns=list(table.column_names), missing=("label",))
        _check_cancel(control)
    return np.concatenate(kept), np.concatenate(kept_codes), markers
