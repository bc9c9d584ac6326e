"""From a dataset to a trained ``SentimentModel``: tokenizer, encoding, model, training.

``train_model`` is the one entry point the CLI, the GUI's worker and the benchmarks share. Like the
trainer it is a generator of plain-data events; its return value is the trained model.

With a ``checkpoint_path``, every epoch that improves on the best validation score so far writes a
complete model file there (atomically, so a crash mid-write leaves the previous one), before its
``EpochEvent`` is yielded: a crash loses at most the epoch in progress. A run that ends normally,
finished or cancelled, removes the file; a run that raises, or a process that dies, leaves it for
the app to offer on its next start.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Generator
from pathlib import Path

import torch

import core
from core.data import TextDataset
from core.errors import StudioError
from core.modelfile import save_model
from core.models import ModelConfig, SentimentClassifier
from core.sentiment_model import SentimentModel, encode_split
from core.tokenizer import TextTokenizer, TokenizerConfig
from core.trainer import EpochEvent, Event, PhaseEvent, TrainConfig, TrainControl, Trainer


def build_classifier(config: ModelConfig, seed: int) -> SentimentClassifier:
    """A freshly initialised classifier; the same seed gives the same weights, without touching
    the caller's random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return SentimentClassifier(config)


def versions() -> dict[str, str]:
    import tokenizers

    return {
        "sentiment_studio": core.__version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "python": platform.python_version(),
    }


def train_model(
    dataset: TextDataset,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    tokenizer_config: TokenizerConfig | None = None,
    *,
    tokenizer: TextTokenizer | None = None,
    control: TrainControl | None = None,
    name: str | None = None,
    checkpoint_path: str | os.PathLike | None = None,
) -> Generator[Event, None, SentimentModel]:
    """Train one model on ``dataset``; yields events, returns the model (best weights restored).

    Pass ``tokenizer`` to share one vocabulary between models compared side by side.
    ``model_config.vocab_size`` and ``num_classes`` are filled in from the tokenizer and data.
    ``checkpoint_path`` (default: none) keeps the best epoch on disk while training; see the module
    docstring.
    """
    model_config = model_config or ModelConfig()
    train_config = train_config or TrainConfig()
    if tokenizer is None:
        yield PhaseEvent("tokenizer", f"learning a vocabulary from {len(dataset['train']):,} training texts")
        tokenizer = TextTokenizer.train(dataset["train"].texts, tokenizer_config or TokenizerConfig())
    yield PhaseEvent("encoding", "tokenizing the splits")
    encoded = {s: encode_split(tokenizer, dataset[s]) for s in ("train", "validation", "test")}
    model_config = ModelConfig.from_dict(
        {**model_config.to_dict(), "vocab_size": tokenizer.vocab_size, "num_classes": dataset.num_classes}
    )
    classifier = build_classifier(model_config, train_config.seed)
    trainer = Trainer(classifier, train_config, control)
    yield PhaseEvent("training", f"training {model_config.kind.upper()} on {trainer.device}")
    info = {
        "name": name or model_config.kind.upper(),
        "dataset": dataset.source,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": versions(),
    }
    fit = trainer.fit(encoded["train"], encoded["validation"], encoded["test"], label_names=dataset.label_names)
    try:
        while True:
            try:
                event = next(fit)
            except StopIteration as stop:
                finished = stop.value
                break
            if checkpoint_path is not None and isinstance(event, EpochEvent) and event.improved:
                # The trainer is suspended at this event with the improved weights in the model.
                problem = _write_checkpoint(
                    Path(checkpoint_path), event,
                    SentimentModel(classifier, tokenizer, list(dataset.label_names), train_config, {}, dict(info)),
                    trainer,
                )
                yield event
                if problem:
                    yield PhaseEvent("checkpoint", problem)
                continue
            yield event
    finally:
        fit.close()
    if checkpoint_path is not None:
        try:
            Path(checkpoint_path).unlink(missing_ok=True)  # ended normally: the caller has the model now
        except OSError:
            pass  # never written (its folder was not writable); nothing to remove
    classifier.eval()
    info["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")  # when training ended
    metrics = {
        "finished": {
            k: v for k, v in finished.__dict__.items() if k not in ("validation", "test")
        },
        "validation": finished.validation.to_dict() if finished.validation else None,
        "test": finished.test.to_dict() if finished.test else None,
        "history": trainer.history.to_dict(),
    }
    return SentimentModel(classifier, tokenizer, list(dataset.label_names), train_config, metrics, info)


def _write_checkpoint(path: Path, event: EpochEvent, model: SentimentModel, trainer: Trainer) -> str | None:
    """Save ``model`` (its weights as they are now) as the checkpoint of ``event``'s epoch.

    Returns None, or a message when the file could not be written: training goes on without it.
    """
    history = trainer.history.to_dict()
    model.metrics = {
        "finished": {
            "epochs_run": event.epoch,
            "best_epoch": event.epoch,
            "stopped_early": False,
            "cancelled": False,
            "training_time_s": event.elapsed_s,
            "num_parameters": model.classifier.num_parameters(),
        },
        "validation": {"accuracy": event.val_accuracy, "loss": event.val_loss, "macro_f1": event.val_macro_f1},
        "test": None,
        "history": history,
        "checkpoint": {"epoch": event.epoch, "val_accuracy": event.val_accuracy, "val_loss": event.val_loss},
    }
    model.info = {**model.info, "checkpoint": True, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_model(model, path)  # atomic: a crash mid-write leaves the previous checkpoint whole
    except (OSError, StudioError) as e:
        return f"could not write the checkpoint {path}: {e}"
    return None
