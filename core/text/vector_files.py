"""Vectors files opened and checked: the byte-level half of ``core.text.vectors``.

A path a user gives as word vectors may be a FIFO (opening one waits for a writer), a device, a small
archive that unpacks to gigabytes, a matrix whose header lies, or a value beyond float32. Here a file is
opened only when it is a regular file (as ``core.files.read_bounded`` does for files read whole), an
archive's unpacking is bounded by what it came from, a row becomes float32 only when every value fits,
a ``.npy`` matrix is memory-mapped from its header (never unpickled), and a word list is read bounded.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core import files
from core.errors import StudioError
from core.files import MIB, read_bounded

# A vectors file packs 2 to 4 times (float32 word2vec hardly at all); past its first UNPACKED_FREE bytes, a .gz or
# .zip that unpacks to more than MAX_RATIO times what was read of it is not one (and would take minutes to read)
MAX_RATIO, UNPACKED_FREE = 25, 8 * MIB
MAX_WORDS_FILE = 512 * MIB  # the words of a .npy matrix: 2 million words are about 30 MB
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_CONTROL = re.compile(rb"[\x00-\x1f]")  # no word holds these; float bits read as a word do


class VectorsError(StudioError):
    """A vectors file that can't be used, with the reason (and the line, where there is one)."""


def open_regular(path: Path, what: str = "vectors file") -> io.BufferedReader:
    """``path`` opened for reading when it is a regular file (``core.files.open_regular``: a FIFO, a folder or a
    device is refused at once)."""
    return os.fdopen(files.open_regular(path, what, VectorsError), "rb")


class Hashing(io.RawIOBase):
    """A read-only file that hashes what is read through it and counts the bytes (for progress)."""

    def __init__(self, raw, digest) -> None:
        self.raw, self.digest, self.read_bytes = raw, digest, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self.raw.readinto(b)
        if n:
            self.digest.update(memoryview(b)[:n])
            self.read_bytes += n
        return n or 0


class Unpacked(io.RawIOBase):
    """What a .gz or a zip member unpacks to, refused (``VectorsError``) once it is more than ``MAX_RATIO``
    times ``packed()``, the bytes it came from: 300 KB of gzip can hold 300 MB of one repeated line."""

    def __init__(self, inner, packed: Callable[[], int], name: str) -> None:
        self.inner, self.packed, self.name, self.unpacked = inner, packed, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self.inner.readinto(b) or 0
        self.unpacked += n
        if self.unpacked > UNPACKED_FREE and self.unpacked > MAX_RATIO * max(self.packed(), 1):
            raise VectorsError(f"{self.name} unpacks to over {MAX_RATIO} times its packed size (a vectors file packs "
                               "2 to 4 times): not a vectors file")
        return n


def float32_row(values: list[bytes] | np.ndarray, word: str, where: str) -> np.ndarray:
    """A row as float32, refused when a value is not a number, not finite, or beyond float32 (read as float64
    first: numpy would turn 1e39 into infinity with a warning of its own)."""
    try:
        with np.errstate(all="ignore"):  # a float128 beyond float64 becomes infinity, refused below
            vector = np.asarray(values, dtype=np.float64)
    except ValueError:
        raise VectorsError(f"{where}: the values of {word!r} are not all numbers") from None
    if not np.isfinite(vector).all():
        raise VectorsError(f"{where}: the vector of {word!r} holds NaN or infinite values")
    peak = float(np.abs(vector).max(initial=0.0))
    if peak > _FLOAT32_MAX:
        raise VectorsError(f"{where}: the vector of {word!r} holds {peak:.3g}, too large for a 32-bit float (the "
                           f"most is {_FLOAT32_MAX:.3g})")
    return vector.astype(np.float32)


def records_fit(buffer: bytes, width: int, count: int, whole: bool) -> str:
    """How the start of a word2vec file (``buffer``, after its header) reads as ``count`` records of a word, a
    space and ``width`` bytes: ``"bad"`` when a word holds a control character (float bits read as a word),
    ``"short"`` when the file ends before its ``count`` records (``whole``: ``buffer`` is all the rest of the
    file, which must then end with them), else ``"ok"``."""
    pos = n = 0
    while n < count:
        end = buffer.find(b" ", pos)
        if end < 0 or len(buffer) - end - 1 < width:
            return "short" if whole else "ok"  # the file ends early, or only the head read so far does
        word = buffer[pos:end].lstrip(b"\r\n")
        if not word or _CONTROL.search(word):
            return "bad"
        pos, n = end + 1 + width, n + 1
    return "bad" if whole and buffer[pos:].strip() else "ok"


def open_matrix(path: Path, file) -> np.ndarray:
    """The ``.npy`` matrix in ``file``, memory-mapped (never pickled, never read whole)."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(file)
        if version not in ((1, 0), (2, 0)):  # 3.0 is for structured types' non-Latin-1 names, never a matrix
            raise ValueError(f"format version {version[0]}.{version[1]}")
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read_header(file)
        if dtype.hasobject:
            raise ValueError("it holds Python objects (a pickle)")
        if len(shape) != 2 or dtype.kind != "f" or 0 in shape:
            raise VectorsError(f"{path.name} should be a 2-D matrix of floats (words x dimensions), not {dtype} of "
                               f"shape {shape}")
        return np.memmap(file, dtype=dtype, mode="r", offset=file.tell(), shape=shape, order="F" if fortran else "C")
    except (ValueError, OSError) as e:
        raise VectorsError(f"{path.name} is not a .npy matrix of numbers: {e}") from None


_COUNTED = re.compile(r"\S+ \d+")  # GloVe's vocab.txt: "word count"


def read_words(path: Path) -> tuple[list[str], bytes]:
    """The words of a ``.npy`` matrix, one a line (``word<TAB>count`` and GloVe's ``word count`` too) or a
    one-column Parquet file; and the file's bytes (for the hash)."""
    data = read_bounded(path, MAX_WORDS_FILE, "words file", VectorsError)
    if path.suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(pa.BufferReader(data))
        except Exception as e:  # pyarrow raises several types for a bad file
            raise VectorsError(f"can't read the words in {path.name}: {e}") from None
        columns = [c for c in table.column_names if not c.startswith("__")]
        if len(columns) != 1:
            raise VectorsError(f"{path.name} should have one column of words, not {len(columns)}")
        return [str(w) for w in table.column(columns[0]).to_pylist()], data
    try:
        text = data.decode("utf-8-sig")  # -sig: a byte order mark is not part of the first word
    except UnicodeDecodeError as e:
        raise VectorsError(f"can't read the words in {path.name}: {e}") from None
    words = [line.rstrip("\r\n").split("\t")[0].rstrip(" ") for line in io.StringIO(text, newline=None)]
    if words and words[-1] == "":
        words.pop()  # a blank last line
    if words and all(_COUNTED.fullmatch(w) for w in words):
        words = [w.rpartition(" ")[0] for w in words]
    return words, data


def file_hash(files: list, tail: bytes = b"") -> str:
    """The SHA-256 of the open ``files`` (from where each is), then of ``tail``."""
    digest = hashlib.sha256()
    for f in files:
        while chunk := f.read(MIB):
            digest.update(chunk)
    digest.update(tail)
    return digest.hexdigest()
