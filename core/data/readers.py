"""Local files and folders: bytes to text (encodings), CSV/TSV/JSON/Parquet to tables, split files."""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path
from typing import Any

from core.data.dataset import SPLITS
from core.data.sources import _SHARD_RE, _SPLIT_ALIASES, FILE_EXTENSIONS, _check_cancel, _one_line
from core.errors import DataError
from core.events import TaskControl
from core.files import GIB, read_bounded

MAX_FILE_BYTES = 2 * GIB  # read whole into memory (pandas needs several times that): bigger sets in shards


_BOMS = (  # longest first: the UTF-32 little-endian mark begins with the UTF-16 one
    (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"),
)


def _decode(raw: bytes, path: Path, notes: list[str]) -> str:
    """Bytes -> text: UTF-8 (BOM or not), UTF-16/32 with a BOM, else Windows-1252 with a note.

    cp1252 is the one fallback because it is what Excel and older corpora (e.g. MR) write on Windows.
    A file that is UTF-8 but for a few lines (one stray Latin-1 byte) is decoded line by line, so one
    bad byte does not turn every accented line of the rest into mojibake; the note names the lines.
    """
    for bom, codec in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(codec)
            except UnicodeDecodeError:
                raise DataError(
                    f"File {path.name} starts like {codec.upper()} text but is damaged; save it as UTF-8."
                ) from None
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise nul_bytes_error(path.name, nul)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    newline = b"\n" if b"\n" in raw else b"\r"  # old Mac files end lines with CR alone
    if not _UTF8_SEQUENCE.search(raw):  # not one UTF-8 character: the whole file is Windows-1252
        notes.append(f"{path.name} is not UTF-8; it was read as Windows-1252 (cp1252).")
        return _cp1252(raw, 0, raw, path, newline)
    # UTF-8 but for some lines: decode those lines alone, in one pass (no copy of the file per line)
    view, out, starts, pos = memoryview(raw), [], [], 0
    while True:
        try:
            out.append(str(view[pos:], "utf-8"))
            break
        except UnicodeDecodeError as err:
            bad = pos + err.start
            start = max(raw.rfind(b"\n", pos, bad), raw.rfind(b"\r", pos, bad), pos - 1) + 1
            ends = [i for i in (raw.find(b"\n", bad), raw.find(b"\r", bad)) if i >= 0]
            end = min(ends) if ends else len(raw)
            out.append(str(view[pos:start], "utf-8"))
            out.append(_cp1252(view[start:end], start, raw, path, newline))
            starts.append(start)
            pos = end
    numbers = [raw.count(newline, 0, start) + 1 for start in starts[:10]]
    shown = ", ".join(map(str, numbers)) + (", …" if len(starts) > 10 else "")
    notes.append(f"{path.name} is UTF-8 except {len(starts)} line(s) ({shown}), which were read as "
                 "Windows-1252 (cp1252); check them.")
    return "".join(out)


def nul_bytes_error(name: str, offset: int) -> DataError:
    """What both readers say of a text file holding a NUL byte (this one and ``core.data.arrow``)."""
    return DataError(f"File {name} contains NUL bytes (offset {offset}); it is binary or UTF-16 without a "
                     "byte-order mark. Save it as UTF-8 text.")


def header_separator(header: str) -> str:
    """The delimiter of a .csv file, from its header line: a comma if the header has one outside quotes, else
    the first of semicolon, TAB and | it has (a semicolon CSV from a European spreadsheet, whose texts hold
    commas; a TSV named .csv), else a comma. One rule for both readers (this one and ``core.data.arrow``)."""
    bare = _QUOTED.sub("", header)
    if "," in bare:
        return ","
    return next((sep for sep in (";", "\t", "|") if sep in bare), ",")


_QUOTED = re.compile(r'"[^"]*"')
_FIRST_LINE = re.compile(r"[^\r\n]*")
HEADER_CHARS = 1 << 20  # the most of a header line looked at for its separator


_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _cp1252(chunk: bytes | memoryview, offset: int, raw: bytes, path: Path, newline: bytes) -> str:
    """``chunk`` (at ``offset`` in ``raw``) as Windows-1252, or a ``DataError`` naming the line."""
    try:
        return str(chunk, "cp1252")
    except UnicodeDecodeError as err:
        at = offset + err.start
        raise DataError(
            f"Line {raw.count(newline, 0, at) + 1} of {path.name} is not UTF-8 or Windows-1252 text "
            f"(byte 0x{raw[at]:02x}); save the file as UTF-8."
        ) from None


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
    raw = read_bounded(path, MAX_FILE_BYTES, "data file", DataError)
    if not raw.strip():
        raise DataError(f"File {path.name} is empty.")

    if ext == ".parquet":
        if not (raw[:4] == b"PAR1" and raw[-4:] == b"PAR1"):
            raise DataError(f"File {path.name} is not a Parquet file (or it is damaged).")
        try:
            # numpy_nullable: an int64 column with a null stays whole numbers (Int64), not float64 that
            # would round labels above 2**53 into one class
            df = pd.read_parquet(io.BytesIO(raw), dtype_backend="numpy_nullable")
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
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            df = pd.read_csv(
                io.StringIO(text),
                sep=sep,
                quoting=quoting,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                index_col=False,
                engine="c",
            )
        if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
            _refuse_extra_fields(text, path, sep, quoting)  # pandas dropped fields past the header's
        return df

    kind = "TSV" if tsv else "CSV"
    try:
        if tsv:
            df = read("\t", csv.QUOTE_NONE)
        else:
            df = read(header_separator(_FIRST_LINE.match(text, 0, HEADER_CHARS).group()), csv.QUOTE_MINIMAL)
    except pd.errors.EmptyDataError:
        raise DataError(f"File {path.name} is empty.") from None
    except (pd.errors.ParserError, ValueError, csv.Error) as err:
        hint = " (a text may contain a TAB)" if tsv else ""
        raise DataError(f"Can't parse {path.name} as {kind}{hint}: {_one_line(err)}") from None
    return df


def _refuse_extra_fields(text: str, path: Path, sep: str, quoting: int) -> None:
    """pandas drops fields past the header's with only a warning ("a, b,1" under "text,label" gives the
    label "b"). Empty extra fields (trailing commas from a spreadsheet) are harmless; any other is refused
    with its line, never silently cut."""
    import csv

    reader = csv.reader(io.StringIO(text), delimiter=sep, quoting=quoting)
    header = next(reader, [])
    for row in reader:
        if len(row) > len(header) and any(field.strip() for field in row[len(header):]):
            raise DataError(
                f"Line {reader.line_num} of {path.name} has {len(row)} fields but the header has {len(header)}; "
                + ("quote a text that holds a comma." if sep == "," else "check the separators in that line.")
            )


def _parse_json(text: str, path: Path, *, lines_only: bool) -> Any:
    """A JSON array of objects, an object of equal-length columns, or JSON lines (one object a line)."""
    import json

    # A "\ud83d" escape decodes to a lone surrogate, which pandas' Arrow strings can't hold (and no
    # file can encode): such strings get U+FFFD, only when the text has such an escape at all.
    hook = _replace_surrogates if _SURROGATE_ESCAPE.search(text) else None
    whole_err: json.JSONDecodeError | None = None
    if not lines_only:
        try:
            data = json.loads(text, object_pairs_hook=hook)
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
            obj = json.loads(line, object_pairs_hook=hook)
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


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATES = re.compile("[\ud800-\udfff]")


def _replace_surrogates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    def fix(v: Any) -> Any:
        if isinstance(v, str):
            return _SURROGATES.sub("\ufffd", v)
        if isinstance(v, list):
            return [fix(x) for x in v]
        return v

    return {fix(k): fix(v) for k, v in pairs}


def _json_frame(data: Any, path: Path) -> Any:
    import pandas as pd

    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1 and lists[0] and all(isinstance(r, dict) for r in lists[0]):
            data = lists[0]  # {"data": [{...}, ...]}
        elif lists and len(lists) == len(data) and len({len(v) for v in lists}) == 1:
            return pd.DataFrame(data, dtype=object)  # {"text": [...], "label": [...]}
        else:
            data = [data]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise DataError(
            f'File {path.name} must hold a JSON array of objects such as {{"text": "...", "label": 1}}, '
            "or one such object per line."
        )
    # dtype=object keeps each cell as JSON gave it: pandas would otherwise make a column of ints and one
    # float or null into float64, rounding labels above 2**53 (two classes merged, silently).
    return pd.DataFrame(data, dtype=object)


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
            columns = [list(part.columns) for part in parts]
            if any(set(c) != set(columns[0]) for c in columns):  # the same columns in another order are fine
                odd = next(i for i, c in enumerate(columns) if set(c) != set(columns[0]))
                raise DataError(
                    f"The {split} files of {folder} have different columns: {files[0].name} has "
                    f"{', '.join(columns[0])}, {files[odd].name} has {', '.join(columns[odd])}; give them one header."
                )
            parts = [part[columns[0]] for part in parts]
            frames[split] = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    return frames


