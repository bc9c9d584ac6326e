"""From a dataset to a trained ``SentimentModel``: tokenizer, encoding, model, training.

``train_model`` is the one entry point the CLI, the GUI's worker and the benchmarks share. Like the
trainer it is a generator of plain-data events; its return value is the trained model.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Generator

import torch

import core
from core.data import TextDataset
from core.models import ModelConfig, SentimentClassifier
from core.sentiment_model import SentimentModel, encode_split
from core.tokenizer import TextTokenizer, TokenizerConfig
from core.trainer import Event, PhaseEvent, TrainConfig, TrainControl, Trainer


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
) -> Generator[Event, None, SentimentModel]:
    """Train one model on ``dataset``; yields events, returns the model (best weights restored).

    Pass ``tokenizer`` to share one vocabulary between models compared side by side.
    ``model_config.vocab_size`` and ``num_classes`` are filled in from the tokenizer and data.
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
    finished = yield from trainer.fit(
        encoded["train"], encoded["validation"], encoded["test"], label_names=dataset.label_names
    )
    classifier.eval()
    metrics = {
        "finished": {
            k: v for k, v in finished.__dict__.items() if k not in ("validation", "test")
        },
        "validation": finished.validation.to_dict() if finished.validation else None,
        "test": finished.test.to_dict() if finished.test else None,
        "history": trainer.history.to_dict(),
    }
    info = {
        "name": name or model_config.kind.upper(),
        "dataset": dataset.source,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": versions(),
    }
    return SentimentModel(classifier, tokenizer, list(dataset.label_names), train_config, metrics, info)
