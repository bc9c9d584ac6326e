"""Hugging Face Hub datasets, read from the local cache when the Hub can't be reached."""

from __future__ import annotations

import os
import sys
from typing import Any

from core.data.arrow import ARROW_HUB_ROWS
from core.data.sources import _SPLIT_ALIASES, HUB_SUGGESTIONS, _check_cancel, _one_line
from core.errors import DataError
from core.events import TaskControl


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
    name: str, config: str | None, control: TaskControl | None
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Load a Hub dataset (from the cache when offline) -> (tables per split, ClassLabel names per column):
    pandas frames, or for ``ARROW_HUB_ROWS`` rows or more the memory-mapped ``datasets.Dataset``s."""
    shown = f"{name}:{config}" if config else name
    online = _hub_online()
    _check_cancel(control)
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
    _check_cancel(control)

    if not hasattr(loaded, "items"):  # a single Dataset
        loaded = {"train": loaded}
    tables: dict[str, Any] = {}
    classlabels: dict[str, list[str]] = {}
    for split_name, ds in loaded.items():
        split = _SPLIT_ALIASES.get(str(split_name).lower())
        if split is None or split in tables:
            continue
        for col, feature in getattr(ds, "features", {}).items():
            if isinstance(feature, datasets.ClassLabel):
                classlabels.setdefault(str(col), list(feature.names))
        tables[split] = ds
    # Large sets stay in the Hub cache's memory-mapped Arrow files (``arrow``); small ones are read into
    # memory, the quicker path for them.
    large = sum(len(t) for t in tables.values()) >= ARROW_HUB_ROWS and all(
        getattr(t, "_indices", None) is None for t in tables.values())
    frames: dict[str, Any] = {}
    for split, ds in tables.items():
        frames[split] = ds if large else ds.to_pandas()
        _check_cancel(control)
    if "train" not in frames:
        raise DataError(
            f'Hub dataset "{shown}" has no train split '
            f"(splits: {', '.join(map(str, loaded.keys())) or 'none'})."
        )
    return frames, classlabels


