"""Dataset sources: Hugging Face Hub names, local files and folders, and built-in generated sets.

A source is one string (see ``load_dataset``). Whatever it names, the result is a ``TextDataset``
of plain Python lists and numpy arrays with three splits (train, validation, test) and the class
names, so the tokenizer, trainer and views never care where the data came from.

Every problem the user can cause is raised as ``DataError`` with a one-line message. ``pandas``,
``pyarrow`` and ``datasets`` are imported inside the functions that need them, because importing
them at module level would slow down the start of the app and the CLI.

The package, one module a job: ``dataset`` (the result types), ``sources`` (source strings),
``readers`` (files and folders), ``hub``, ``labels`` (columns, class names, carving), ``builtin``
and ``stats``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.config import DataConfig, check_carve
from core.data.arrow import ARROW_FILE_BYTES, ArrowTexts, assemble_arrow, read_arrow_file, use_arrow
from core.data.builtin import _load_builtin
from core.data.dataset import SPLIT_SEED, SPLITS, TEST_FRACTION, VALIDATION_FRACTION, Split, TextDataset, take_texts
from core.data.hub import _load_hub
from core.data.labels import _assemble
from core.data.readers import MAX_FILE_BYTES, _read_folder, _read_table, _split_files
from core.data.sources import BUILTIN_SETS, FILE_EXTENSIONS, HUB_SUGGESTIONS, _check_cancel, parse_source
from core.data.stats import SplitStats, describe
from core.errors import ColumnError, DataError, SettingError
from core.events import PhaseEvent, TaskControl

__all__ = [
    "ARROW_FILE_BYTES", "BUILTIN_SETS", "FILE_EXTENSIONS", "HUB_SUGGESTIONS", "SPLITS", "TEST_FRACTION",
    "VALIDATION_FRACTION", "ArrowTexts", "ColumnError", "DataError", "Loaded", "Split", "SplitStats", "TextDataset",
    "arrow_file", "describe", "input_files", "load_dataset", "load_steps", "loading_message", "parse_source",
    "take_texts",
]  # fmt: skip


def load_dataset(
    source: str,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    split_seed: int = SPLIT_SEED,
    validation_fraction: float = VALIDATION_FRACTION,
    test_fraction: float = TEST_FRACTION,
    control: TaskControl | None = None,
    min_classes: int = 2,
    memory_mapped: bool | None = None,
) -> TextDataset:
    """Load any source into a three-split ``TextDataset``.

    ``min_classes`` is what training needs (2); scoring a model on rows of one class is legitimate,
    so ``evaluate`` asks for 1.

    Missing validation/test splits are carved from train (stratified per class, seeded by
    ``split_seed``; the defaults are ``core.config.DataConfig``'s) so every source gives the trainer the
    same shape. The split seed is the data's own, not the training seed: models trained with different
    seeds are scored on the same test rows, and a model file records the carve so ``evaluate`` can redo
    it. Raises ``DataError`` for anything the user can fix and ``TaskCancelled`` when ``control`` is
    cancelled between steps.

    ``memory_mapped`` reads a local file through ``datasets``' Arrow cache, its texts left on disk
    (``arrow``); by default files of ``ARROW_FILE_BYTES`` or more are, smaller ones are read into memory.
    """
    for name, frac in (("validation", validation_fraction), ("test", test_fraction)):
        if not (isinstance(frac, (int, float)) and 0.0 <= frac < 1.0):
            raise DataError(f"The {name} fraction must be at least 0 and below 1 (got {frac}).")
    try:
        check_carve(validation_fraction, test_fraction)
    except SettingError as e:  # the loader's errors are DataErrors, whoever called it
        raise DataError(str(e)) from None

    kind, target, options = parse_source(source)
    _check_cancel(control)
    if kind == "builtin":  # generated with all three splits; its own seed option decides the content
        return _load_builtin(source, target, options, control)

    notes: list[str] = []
    classlabels: dict[str, list[str]] = {}
    lenient = False
    if kind == "file" and (memory_mapped or (memory_mapped is None and use_arrow(Path(target)))):
        try:
            tables = read_arrow_file(Path(target), notes, control)
            return assemble_arrow(source, tables, notes=notes, text_column=text_column, label_column=label_column,
                                  classlabels={}, seed=split_seed, control=control, min_classes=min_classes,
                                  fractions={"validation": validation_fraction, "test": test_fraction})
        except DataError as err:
            # Chosen by size alone: a shape only the in-memory reader knows (a JSON object of rows or of
            # columns, a Windows-1252 or UTF-16 file, list cells) still loads, as before, if it fits.
            if memory_mapped or not _fits_in_memory(Path(target)):
                raise
            notes = [f"{Path(target).name} was read into memory: the Arrow cache could not take it ({err})"]
    if kind == "file":
        frames = {"train": _read_table(Path(target), notes)}
    elif kind == "folder":
        frames = _read_folder(Path(target), notes, control)
    else:
        frames, classlabels = _load_hub(target, options.get("config"), control)
        if hasattr(frames["train"], "column_names"):  # a large set, left in the Hub cache's Arrow files
            return assemble_arrow(source, frames, notes=notes, text_column=text_column, label_column=label_column,
                                  classlabels=classlabels, seed=split_seed, control=control, min_classes=min_classes,
                                  fractions={"validation": validation_fraction, "test": test_fraction})
        lenient = True
    _check_cancel(control)
    return _assemble(
        source,
        frames,
        notes=notes,
        text_column=text_column,
        label_column=label_column,
        classlabels=classlabels,
        lenient_splits=lenient,
        seed=split_seed,
        fractions={"validation": validation_fraction, "test": test_fraction},
        control=control,
        min_classes=min_classes,
    )


def _fits_in_memory(path: Path) -> bool:
    try:
        return path.stat().st_size <= MAX_FILE_BYTES
    except OSError:
        return False


def arrow_file(source: str) -> bool:
    """Whether ``source`` is a local file that loads through the Arrow cache (``arrow``). A source that is not
    one is False; a bad ``SENTIMENT_STUDIO_ARROW_MB`` raises its one-line ``DataError``."""
    try:
        kind, target, _ = parse_source(source)
    except DataError:
        return False
    return kind == "file" and use_arrow(Path(target))


def input_files(source: str) -> list[Path]:
    """The local files ``source`` reads (none for the Hub and built-in sets), which nothing the app
    writes may overwrite; never raises."""
    try:
        kind, target, _ = parse_source(source)
        if kind == "file":
            return [Path(target)]
        if kind == "folder":
            found, _ = _split_files(Path(target))
            if not found and (Path(target) / "data").is_dir():
                found, _ = _split_files(Path(target) / "data")
            return [p for files in found.values() for p in files]
    except (DataError, OSError):
        pass
    return []


@dataclass
class Loaded:
    """A loaded dataset and its statistics: the last event of ``load_steps``."""

    dataset: TextDataset
    stats: dict[str, SplitStats]


def load_steps(
    source: str, control: TaskControl, *, text_column: str | None = None, label_column: str | None = None,
    data_config: DataConfig | None = None,
) -> Iterator[PhaseEvent | Loaded]:
    """Load and describe ``source`` as a task (both are slow for big sets); the last event is ``Loaded``.
    ``data_config`` says how to carve missing splits (default: ``DataConfig()``)."""
    yield PhaseEvent("load", loading_message(source))
    dataset = load_dataset(source, text_column=text_column, label_column=label_column, control=control,
                           **(data_config or DataConfig()).to_dict())
    control.check()
    yield PhaseEvent("describe", "Counting classes and token lengths…")
    yield Loaded(dataset, describe(dataset))


def loading_message(source: str) -> str:
    """What a status line says while ``source`` loads; never raises (loading reports real errors)."""
    try:
        kind, target, _ = parse_source(source)
    except DataError:
        return f"Loading {source}…"
    if kind == "hub":
        return f"Loading {source} from the Hugging Face Hub…"
    if kind == "builtin":
        return f"Generating {source}…"
    if kind == "folder":
        return f"Reading the folder {Path(target).name or target}…"
    return f"Reading {Path(target).name}…"
