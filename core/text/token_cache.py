"""Token ids of texts in a memory-mapped Arrow table (``core.data.arrow``), kept as an Arrow column.

The tokenizer runs as ``datasets``' batched ``map`` over the whole table into an ``int32`` list column,
which ``datasets`` writes to its cache beside the table, memory-mapped and reused: a second run with the
same data and vocabulary maps the file instead of tokenizing again. The vocabulary learned from a split is
kept there too (``learn_vocabulary``). Training then reads each batch's ids straight from the mapped
column (``batching.PiecedIds``); only two numbers per text (where its ids start, how many) live in memory.

The map runs in this process: each batch is one ``encode_batch``, which ``tokenizers`` spreads over every
core in Rust threads. ``map(num_proc=2)`` was measured on 2 M rows and 2 cores: 21 s against 24 s in one
process, but each forked worker holds a copy of the process (torch included), so the tree's resident
memory peaked at 2.8 GB against 0.86 GB.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from core.config import TokenizerConfig
from core.data.arrow import ArrowTexts, table_key
from core.errors import DataError, StudioError
from core.files import write_atomic
from core.text.batching import EncodedSplit, PiecedIds
from core.text.tokenizer import TextTokenizer

MAP_BATCH = 10_000  # texts tokenized per call (each call is one Rust encode_batch)
DIRECT_ROWS = 300_000  # a split this small and under half its table is tokenized on its own, in memory
# part of the cache key: change it when what the map writes changes (v2: texts longer than
# tokenizer.kept_chars are cut before the tokenizer, for the vocabulary and the ids)
_FORMAT = "ids-v2"

_layouts: dict[str, tuple[PiecedIds, np.ndarray, np.ndarray]] = {}  # fingerprint -> the column's layout
_LAYOUTS_KEPT = 4
_lock = threading.Lock()


def encode_arrow(tokenizer: TextTokenizer, texts: ArrowTexts, labels: np.ndarray) -> EncodedSplit:
    """``texts``' token ids as an ``EncodedSplit`` reading from the cached, memory-mapped ids column.

    The column holds the whole table, so a small share of it (scoring a carved test split with a model
    trained elsewhere) is tokenized on its own instead, in memory, unless the column is there already."""
    key = _fingerprint(tokenizer, texts.table, texts.column)
    labels = np.asarray(labels, dtype=np.int64)
    if len(texts) <= DIRECT_ROWS and 2 * len(texts) < len(texts.table) and not _have_layout(key, texts.table):
        return EncodedSplit.from_ragged(tokenizer.encode_batch(list(texts), details=False).ids, labels)
    pieces, starts, lengths = _layout(tokenizer, texts.table, texts.column, key)
    return EncodedSplit(pieces, starts[texts.rows], lengths[texts.rows], labels)


def _have_layout(key: str, table: Any) -> bool:
    folder = _cache_folder(table)
    return key in _layouts or (folder is not None and (folder / f"cache-{key}.arrow").is_file())


def _layout(tokenizer: TextTokenizer, table: Any, column: str, key: str) -> tuple[PiecedIds, np.ndarray, np.ndarray]:
    """The ids column of ``table`` (tokenized now, or found in the cache) and each row's start and length."""
    with _lock:  # one map per table at a time; the GUI's screens may encode from several threads
        if key in _layouts:
            return _layouts[key]
        try:
            # another process on this machine (a second rank, the command line beside the app) waits, then maps
            with _file_lock(table, key):
                layout = _read_layout(_ids_table(tokenizer, table, column, key))
        except OSError as e:  # e.g. a full disk or a cache folder made read-only after the conversion
            raise DataError(f"Can't write the token ids into the datasets cache ({_cache_folder(table)}): "
                            f"{e.strerror or e}") from None
        while len(_layouts) >= _LAYOUTS_KEPT:
            del _layouts[next(iter(_layouts))]
        _layouts[key] = layout
        return layout


def _read_layout(mapped: Any) -> tuple[PiecedIds, np.ndarray, np.ndarray]:
    chunks = mapped.data.table.column("ids").chunks
    pieces, starts, lengths, base = [], [], [], 0
    for chunk in chunks:
        offsets = chunk.offsets.to_numpy().astype(np.int64)
        values = chunk.values.to_numpy(zero_copy_only=True)  # a view into the mapped file: no copy
        pieces.append(values)
        starts.append(base + offsets[:-1])
        lengths.append(np.diff(offsets))
        base += len(values)
    return (PiecedIds(pieces), np.concatenate(starts) if starts else np.zeros(0, np.int64),
            np.concatenate(lengths) if lengths else np.zeros(0, np.int64))


def _fingerprint(tokenizer: TextTokenizer, table: Any, column: str) -> str:
    """What the ids depend on: the table's content (its ``datasets`` fingerprint), the column and the
    whole tokenizer (vocabulary and settings)."""
    return _digest(_FORMAT, table_key(table), column, tokenizer.to_json(), _settings(tokenizer.config))


def _settings(config: TokenizerConfig) -> str:
    return repr(sorted(config.to_dict().items()))


def _digest(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part if isinstance(part, bytes) else str(part).encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def learn_vocabulary(texts: Sequence[str], config: TokenizerConfig) -> TextTokenizer:
    """``TextTokenizer.train`` on ``texts``; for texts in a cached Arrow table, the vocabulary learned from
    the same rows with the same settings before, kept in the table's cache folder (learning it from
    1.6 M texts takes about 10 s)."""
    folder = _cache_folder(texts.table) if isinstance(texts, ArrowTexts) else None
    if folder is None:
        return TextTokenizer.train(texts, config)
    key = _digest(_FORMAT, table_key(texts.table), texts.column, texts.rows.tobytes(), _settings(config))
    path = folder / f"sentiment-studio-vocabulary-{key}.json"
    with _file_lock(texts.table, key):  # learned once when several processes ask at the same time
        try:
            return TextTokenizer.from_json(path.read_text(encoding="utf-8"), config)
        except (OSError, UnicodeDecodeError, StudioError):
            pass  # not there yet, or damaged: learn it again
        tokenizer = TextTokenizer.train(texts, config)
        try:
            write_atomic(path, tokenizer.to_json().encode("utf-8"), what="vocabulary cache")
        except StudioError:
            pass  # not written (a full disk, say): the next run learns it again
        return tokenizer


def _file_lock(table: Any, key: str) -> AbstractContextManager:
    """A lock beside the table's cache file for the work named by ``key`` (none for a table in memory)."""
    folder = _cache_folder(table)
    return FileLock(str(folder / f"sentiment-studio-{key}.lock")) if folder is not None else nullcontext()


def _cache_folder(table: Any) -> Path | None:
    """The folder of the table's cache file (None for a table held in memory)."""
    files = getattr(table, "cache_files", None) or []
    return Path(files[0]["filename"]).parent if files else None


def _ids_table(tokenizer: TextTokenizer, table: Any, column: str, key: str) -> Any:
    import datasets

    features = datasets.Features({"ids": datasets.Sequence(datasets.Value("int32"))})
    return table.select_columns([column]).with_format("arrow").map(
        _encode_rows, batched=True, batch_size=MAP_BATCH, remove_columns=[column], features=features,
        fn_kwargs={"tokenizer_json": tokenizer.to_json(), "config": tokenizer.config.to_dict(), "column": column},
        new_fingerprint=key, desc="tokenizing",
    ).with_format(None)


_worker_tokenizers: dict[str, TextTokenizer] = {}


def _encode_rows(batch: Any, tokenizer_json: str, config: dict, column: str) -> Any:
    """One batch of texts (an Arrow table) -> its token ids as an Arrow list column (runs in map workers)."""
    import pyarrow as pa

    tokenizer = _worker_tokenizers.get(tokenizer_json)
    if tokenizer is None:
        _worker_tokenizers.clear()
        tokenizer = _worker_tokenizers[tokenizer_json] = TextTokenizer.from_json(tokenizer_json,
                                                                               TokenizerConfig.from_dict(config))
    texts = [(t or "").strip() for t in batch.column(column).to_pylist()]
    ids = tokenizer.encode_batch(texts, details=False).ids
    offsets = np.zeros(len(ids) + 1, dtype=np.int32)
    np.cumsum([len(a) for a in ids], out=offsets[1:])
    values = np.concatenate(ids).astype(np.int32) if ids else np.zeros(0, np.int32)
    return pa.table({"ids": pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))})
