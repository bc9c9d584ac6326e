"""Model files: one self-contained ``.safetensors`` file per trained model.

The file holds the weights as safetensors tensors and everything else (model and training
config, tokenizer, class names, metrics, versions) as JSON strings in the safetensors metadata.
Loading parses a JSON header and raw little-endian numbers: nothing in a file can run code (no
pickle). A SHA-256 over the weights, kept in the metadata, catches a file changed after saving.
Saving is atomic: the bytes go to a temporary file beside the target, which then replaces it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from core.classifier import ModelConfig, SentimentClassifier
from core.errors import ModelFileError
from core.events import PhaseEvent, TaskControl
from core.records import ModelInfo, TrainingRecord
from core.sentiment_model import SentimentModel
from core.tokenizer import TextTokenizer, TokenizerConfig
from core.trainer import TrainConfig

FORMAT_NAME = "sentiment-studio-model"
FORMAT_VERSION = 1  # bump when the layout changes; newer files are refused with a clear message
_REQUIRED = ("format", "format_version", "model_config", "tokenizer", "tokenizer_config", "label_names")


def _weights_digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def to_bytes(model: SentimentModel) -> bytes:
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.classifier.state_dict().items()}
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "model_config": json.dumps(model.config.to_dict()),
        "tokenizer_config": json.dumps(model.tokenizer.config.to_dict()),
        "tokenizer": model.tokenizer.to_json(),
        "label_names": json.dumps(list(model.label_names)),
        "train_config": json.dumps(model.train_config.to_dict()),
        "metrics": json.dumps(model.record.to_dict(), allow_nan=True),
        "info": json.dumps(model.info.to_dict()),
        "weights_sha256": _weights_digest(tensors),
    }
    return st_save(tensors, metadata=metadata)


def save_model(model: SentimentModel, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` atomically; an interrupted save leaves any old file untouched."""
    path = Path(path).expanduser()
    data = to_bytes(model)
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder; give a file name such as model.safetensors")
    if not path.parent.exists():
        raise ModelFileError(f"folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _header_metadata(data: bytes, name: str) -> dict[str, str]:
    """Read the safetensors JSON header without touching the tensors (cheap and safe)."""
    if len(data) < 8:
        raise ModelFileError(f"{name} is not a Sentiment Studio model file (too short)")
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or n > min(len(data) - 8, 100_000_000):
        raise ModelFileError(f"{name} is not a Sentiment Studio model file (no safetensors header)")
    try:
        header = json.loads(data[8 : 8 + n])
    # RecursionError: a header of deeply nested brackets ("[[[[...") exhausts the JSON parser's stack.
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ModelFileError(f"{name} is not a Sentiment Studio model file (unreadable header)") from e
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{name} is a safetensors file, but not a Sentiment Studio model")
    return meta


def from_bytes(data: bytes, name: str = "the model file") -> SentimentModel:
    meta = _header_metadata(data, name)
    try:
        version = int(meta["format_version"])
    except (KeyError, ValueError, TypeError) as e:  # TypeError: a list or object instead of a string
        raise ModelFileError(f"{name} has no valid format version") from e
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{name} was written by a newer Sentiment Studio (format {version}; this one reads up to "
            f"{FORMAT_VERSION}); update the app to open it"
        )
    missing = [k for k in _REQUIRED if k not in meta]
    if missing:
        raise ModelFileError(f"{name} is damaged: its metadata lacks {', '.join(missing)}")
    try:
        tensors = st_load(data)
    except Exception as e:  # safetensors raises its own error types for truncated or bad data
        raise ModelFileError(f"{name} is damaged or truncated ({e})") from e
    if meta.get("weights_sha256") and _weights_digest(tensors) != meta["weights_sha256"]:
        raise ModelFileError(f"{name} was changed after it was saved (weights checksum mismatch)")
    try:
        config = ModelConfig.from_dict(json.loads(meta["model_config"]))
        tok_config = TokenizerConfig.from_dict(json.loads(meta["tokenizer_config"]))
        tokenizer = TextTokenizer.from_json(meta["tokenizer"], tok_config)
        label_names = [str(x) for x in json.loads(meta["label_names"])]
        train_config = TrainConfig.from_dict(json.loads(meta.get("train_config", "{}")))
        record = TrainingRecord.from_dict(json.loads(meta.get("metrics", "{}")))
        info = ModelInfo.from_dict(json.loads(meta.get("info", "{}")))
    except ModelFileError:
        raise
    except Exception as e:
        raise ModelFileError(f"{name} has damaged metadata ({type(e).__name__}: {e})") from e
    if len(label_names) != config.num_classes:
        raise ModelFileError(f"{name} is inconsistent: {len(label_names)} class names for {config.num_classes} classes")
    if tokenizer.vocab_size != config.vocab_size:
        raise ModelFileError(f"{name} is inconsistent: tokenizer and model disagree on the vocabulary size")
    # Build the network on the "meta" device first (shapes only, no memory) and check the file's
    # tensors against it: otherwise a config edited to say hidden_size=10**9 would make us allocate
    # terabytes before load_state_dict could notice, and a value of the wrong type (a string size)
    # would escape as a TypeError from torch.
    # (On "meta" it also draws nothing from torch's global random generator, so opening a model never
    # disturbs a seeded training running in another thread.)
    try:
        with torch.device("meta"):
            classifier = SentimentClassifier(config)
        expected = {k: tuple(v.shape) for k, v in classifier.state_dict().items()}
    except Exception as e:
        raise ModelFileError(f"{name} has a damaged model config ({type(e).__name__}: {e})") from e
    got = {k: tuple(v.shape) for k, v in tensors.items()}
    if expected != got:
        diff = sorted(set(expected) ^ set(got)) or sorted(k for k in expected if expected[k] != got[k])
        raise ModelFileError(f"{name}: its weights do not fit its model config (e.g. {diff[0]})")
    try:
        classifier = classifier.to_empty(device="cpu")
        classifier.load_state_dict(tensors, strict=True)
    except Exception as e:
        raise ModelFileError(f"{name}: its weights do not fit its model config ({str(e).splitlines()[0]})") from e
    classifier.eval()
    return SentimentModel(classifier, tokenizer, label_names, train_config, record, info)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as e:
        raise ModelFileError(f"model file {path} does not exist") from e
    except IsADirectoryError as e:
        raise ModelFileError(f"{path} is a folder, not a model file") from e
    except OSError as e:
        raise ModelFileError(f"can't read model file {path}: {e.strerror or e}") from e


def load_model(path: str | os.PathLike) -> SentimentModel:
    """Load a model file; any problem raises ``ModelFileError`` with a message for the user."""
    path = Path(path).expanduser()
    model = from_bytes(_read(path), name=str(path))
    model.info.file = str(path)
    return model


def read_info(path: str | os.PathLike) -> dict:
    """The metadata of a model file (configs, metrics, versions) without building the model."""
    path = Path(path).expanduser()
    meta = _header_metadata(_read(path), str(path))
    out = {}
    for k, v in meta.items():
        if k == "tokenizer":
            continue
        try:
            out[k] = json.loads(v)
        except (json.JSONDecodeError, TypeError, RecursionError):  # not JSON, not a string, too deep
            out[k] = v
    return out


@dataclass
class ModelOpened:
    """A model file was read (the event ``open_models`` yields per file)."""

    path: str
    model: SentimentModel


@dataclass
class ModelSaved:
    """A model file was written (the event ``save_steps`` and ``save_all_steps`` yield per file)."""

    path: str
    name: str = ""


def open_models(paths: list[str], control: TaskControl) -> Iterator[PhaseEvent | ModelOpened]:
    """Open model files as a task: a slow disk or network share must not freeze a window."""
    for path in paths:
        if control.cancelled:
            return
        yield PhaseEvent("opening", f"opening {path}")
        yield ModelOpened(str(path), load_model(path))


def save_steps(model: SentimentModel, path: str | os.PathLike, name: str = "") -> Iterator[PhaseEvent | ModelSaved]:
    """``save_model`` as a task."""
    yield PhaseEvent("saving", f"saving {path}")
    yield ModelSaved(str(save_model(model, path)), name)


def safe_file_name(name: str) -> str:
    """``name`` made safe for any file system: ``LSTM (2)`` -> ``LSTM_2``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "model"


def save_all_steps(models: dict[str, SentimentModel], folder: str | os.PathLike) -> Iterator[PhaseEvent | ModelSaved]:
    """Save each model as ``<folder>/<name>.safetensors``, never overwriting a file already there."""
    folder = Path(folder).expanduser()
    for name, model in models.items():
        stem = safe_file_name(name)
        path, i = folder / f"{stem}.safetensors", 2
        while path.exists():
            path, i = folder / f"{stem}-{i}.safetensors", i + 1
        yield from save_steps(model, path, name)
