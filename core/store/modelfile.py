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
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from core.config import ModelConfig, TokenizerConfig, TrainConfig
from core.data import FILE_EXTENSIONS, input_files
from core.errors import ModelFileError, StudioError, one_line
from core.events import PhaseEvent, TaskControl
from core.files import GIB, check_destination, read_bounded, safe_file_name, write_atomic
from core.model.classifier import SentimentClassifier
from core.model.events import ModelOpened, ModelSaved
from core.model.records import ModelInfo, TrainingRecord
from core.model.sentiment_model import SentimentModel
from core.settings import from_stored
from core.text.tokenizer import PAD_ID, UNK_ID, TextTokenizer

FORMAT_NAME = "sentiment-studio-model"
FORMAT_VERSION = 1  # bump when the layout changes; newer files are refused with a clear message
MAX_FILE_BYTES = 3 * GIB  # the largest model allowed (core.config.MAX_PARAMETERS) is 2 GB of weights
_REQUIRED = ("format", "format_version", "model_config", "tokenizer", "tokenizer_config", "label_names")


def _weights_digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _tensors(model: SentimentModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in model.classifier.state_dict().items()}


def holds_weights_of(data: bytes, model: SentimentModel) -> bool:
    """Whether the model file ``data`` records the digest of ``model``'s present weights (it was saved from
    them and not replaced since)."""
    try:
        recorded = _header_metadata(data, "the model file").get("weights_sha256")
    except ModelFileError:
        return False
    return recorded is not None and recorded == _weights_digest(_tensors(model))


def to_bytes(model: SentimentModel) -> bytes:
    tensors = _tensors(model)
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


def check_model_destination(path: str | os.PathLike, data_source: str = "") -> Path:
    """Check before training or saving that ``path`` can take a model file and is none of the files
    of ``data_source`` (see ``core.files.check_destination``)."""
    checked = check_destination(path, input_files(data_source) if data_source else [], "model file", ModelFileError)
    suffix = checked.suffix.lower()
    if suffix in FILE_EXTENSIONS:  # in a data folder it would be read as a split file, and it isn't one
        raise ModelFileError(f"a model file named {checked.name} would be taken for a {suffix} data file; "
                             "name it .safetensors")
    return checked


def save_model(model: SentimentModel, path: str | os.PathLike) -> Path:
    """Write ``model`` to ``path`` atomically; an interrupted save leaves any old file untouched, an
    existing file keeps its permissions, and the model's own data files are never overwritten."""
    check_model_destination(path, model.info.dataset)
    return write_atomic(path, to_bytes(model), what="model file", error=ModelFileError)


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
    bad = sorted(k for k, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all()))
    if bad:
        raise ModelFileError(f"{name} holds weights that are not finite numbers (NaN or infinity, e.g. in {bad[0]}); "
                             "it can't make predictions")
    # The same checks as a freshly trained model: the configs validate their own settings, the
    # tokenizer is rebuilt around the file's vocabulary only, and the class names must be usable.
    try:
        config = from_stored(ModelConfig, _object(meta["model_config"]), ("dropout", "word_dropout"))
        tok_config = from_stored(TokenizerConfig, _object(meta["tokenizer_config"]), ("vocab_size", "min_frequency"))
        train_config = from_stored(TrainConfig, _object(meta.get("train_config", "{}")),
                                   tuple(TrainConfig.__dataclass_fields__))
        try:
            tokenizer = TextTokenizer.from_json(meta["tokenizer"], tok_config)
        except StudioError as e:
            raise ModelFileError(f"{name} has a damaged tokenizer: {e}") from e
        label_names = json.loads(meta["label_names"])
        if isinstance(label_names, list) and len(label_names) != config.num_classes:
            raise ModelFileError(f"{name} is inconsistent: {len(label_names)} class names for {config.num_classes} "
                                 "classes")
        label_names = _label_names(label_names, name)
        record = TrainingRecord.from_dict(_object(meta.get("metrics", "{}")))
        info = ModelInfo.from_dict(_object(meta.get("info", "{}")))
    except ModelFileError:
        raise
    except StudioError as e:
        raise ModelFileError(f"{name} holds settings training would refuse: {e}") from e
    except Exception as e:
        raise ModelFileError(f"{name} has damaged metadata ({type(e).__name__}: {one_line(e)})") from e
    if len(label_names) != config.num_classes:
        raise ModelFileError(f"{name} is inconsistent: {len(label_names)} class names for {config.num_classes} classes")
    if tokenizer.vocab_size != config.vocab_size:
        raise ModelFileError(f"{name} is inconsistent: tokenizer and model disagree on the vocabulary size")
    if (config.pad_id, config.unk_id) != (PAD_ID, UNK_ID):
        raise ModelFileError(f"{name} is inconsistent: its padding and unknown-word ids are not the tokenizer's")
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


def _object(text: str) -> dict:
    """A JSON object from the metadata (``ValueError`` for anything else, a 5,000-digit number included)."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, found {type(value).__name__}")
    return value


def _label_names(value: object, name: str) -> list[str]:
    """The class names as training would make them: distinct (ignoring case), non-empty text."""
    if not isinstance(value, list) or not all(isinstance(n, str) and n.strip() for n in value):
        raise ModelFileError(f"{name} is damaged: its class names are not a list of non-empty texts")
    counts = Counter(n.casefold() for n in value)
    repeated = next((n for n in value if counts[n.casefold()] > 1), None)
    if repeated is not None:
        raise ModelFileError(f'{name} is damaged: its class names repeat "{one_line(repeated, 40)}" (each class '
                             "needs its own)")
    return value


def read_model_bytes(path: Path) -> bytes:
    """A model file's bytes, read as every model file is (a regular file, bounded)."""
    return read_bounded(path, MAX_FILE_BYTES, "model file", ModelFileError)


def load_model(path: str | os.PathLike) -> SentimentModel:
    """Load a model file; any problem raises ``ModelFileError`` with a message for the user."""
    path = Path(path).expanduser()
    model = from_bytes(read_model_bytes(path), name=str(path))
    model.info.file = str(path)
    return model


def read_info(path: str | os.PathLike) -> dict:
    """The metadata of a model file (configs, metrics, versions) without building the model."""
    path = Path(path).expanduser()
    meta = _header_metadata(read_model_bytes(path), str(path))
    out = {}
    for k, v in meta.items():
        if k == "tokenizer":
            continue
        try:
            out[k] = json.loads(v)
        except (ValueError, TypeError, RecursionError):  # not JSON (or a 5,000-digit number), not a string, too deep
            out[k] = v
    return out


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


def save_all_steps(models: dict[str, SentimentModel], folder: str | os.PathLike) -> Iterator[PhaseEvent | ModelSaved]:
    """Save each model as ``<folder>/<name>.safetensors``, never overwriting a file already there."""
    folder = Path(folder).expanduser()
    for name, model in models.items():
        stem = safe_file_name(name)
        path, i = folder / f"{stem}.safetensors", 2
        while path.exists():
            path, i = folder / f"{stem}-{i}.safetensors", i + 1
        yield from save_steps(model, path, name)
