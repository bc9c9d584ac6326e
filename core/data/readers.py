"""Local files and folders: bytes to text (encodings), CSV/TSV/JSON/Parquet to tables, split files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from core.data.dataset import SPLITS
from core.data.sources import _SHARD_RE, _SPLIT_ALIASES, FILE_EXTENSIONS, _check_cancel, _one_line
from core.errors import DataError
from core.events import TaskControl


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


def _read_folder(folder: Path, notes: list[str], control: TaskControl | None) -> dict[str, Any]:
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
            _check_cancel(control)
            parts.append(_read_table(p, notes))
        if parts:
            frames[split] = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    return frames


