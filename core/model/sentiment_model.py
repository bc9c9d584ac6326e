"""A trained model ready to use: the classifier, its tokenizer, class names and how it was made.

This is what the tester, the comparison, the CLI and model files deal in. ``predict`` and
``trace`` take raw text; tokenization and batching stay inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from core.config import ModelConfig, TrainConfig
from core.data import ArrowTexts, Split
from core.errors import StudioError
from core.metrics import EvalResult, evaluate_predictions
from core.model.classifier import SentimentClassifier
from core.model.records import ModelInfo, TrainingRecord
from core.model.stepwise import trace_ids
from core.model.trace import Trace
from core.text.batching import EncodedSplit, predict_probabilities
from core.text.tokenizer import TextTokenizer


def encode_split(tokenizer: TextTokenizer, split: Split) -> EncodedSplit:
    """Token ids of a whole split, stored flat for batching (texts left on disk stay there: ``token_cache``)."""
    if isinstance(split.texts, ArrowTexts):
        from core.text.token_cache import encode_arrow

        return encode_arrow(tokenizer, split.texts, split.labels)
    return EncodedSplit.from_ragged(tokenizer.encode_batch(split.texts, details=False).ids, split.labels)


def _finite(probabilities: np.ndarray) -> np.ndarray:
    """Refuse to answer from probabilities that are not numbers (weights so large the network overflows):
    a label picked from NaN would be a silent wrong result."""
    if not np.isfinite(probabilities).all():
        raise StudioError("the model's outputs are not finite numbers (its weights overflow); it can't predict")
    return probabilities


@dataclass
class Prediction:
    text: str
    label: str
    probabilities: dict[str, float]

    def to_dict(self) -> dict:
        return {"text": self.text, "label": self.label, "probabilities": self.probabilities}


def predict(model: SentimentModel, texts: str | Sequence[str]) -> list[Prediction]:
    """``model``'s prediction for each of ``texts`` (one string is one text), for a script:
    ``predict(load_model("m.safetensors"), "a wonderful film")[0].label``."""
    return model.predict([texts] if isinstance(texts, str) else list(texts))


@dataclass
class SentimentModel:
    classifier: SentimentClassifier
    tokenizer: TextTokenizer
    label_names: list[str]
    train_config: TrainConfig = field(default_factory=TrainConfig)
    record: TrainingRecord = field(default_factory=TrainingRecord)  # scores, history, how the run ended
    info: ModelInfo = field(default_factory=ModelInfo)  # name, dataset and splits, created, versions

    @property
    def config(self) -> ModelConfig:
        return self.classifier.config

    @property
    def kind(self) -> str:
        return self.classifier.config.kind

    @property
    def name(self) -> str:
        return self.info.name or self.kind.upper()

    def predict_proba(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        """(n, classes) probabilities, batched by length."""
        if not texts:
            return np.zeros((0, len(self.label_names)), dtype=np.float32)
        split = EncodedSplit.from_ragged(
            self.tokenizer.encode_batch(texts, details=False).ids, np.zeros(len(texts), dtype=np.int64)
        )
        return _finite(predict_probabilities(self.classifier, split, self.device, batch_size)[0])

    def predict(self, texts: list[str]) -> list[Prediction]:
        probs = self.predict_proba(list(texts))
        names = self.label_names
        return [
            Prediction(t, names[int(p.argmax())], {n: float(v) for n, v in zip(names, p, strict=True)})
            for t, p in zip(texts, probs, strict=True)
        ]

    def evaluate(self, split: Split) -> EvalResult:
        return self.score(split)[0]

    def score(self, split: Split) -> tuple[EvalResult, np.ndarray]:
        """Metrics on ``split`` (labels already in this model's class ids) and the (n, classes) probabilities."""
        encoded = encode_split(self.tokenizer, split)
        probs, loss = predict_probabilities(self.classifier, encoded, self.device)
        probs = _finite(probs)
        result = evaluate_predictions(
            encoded.labels, probs.argmax(1), encoded.lengths, len(self.label_names), loss, self.label_names
        )
        return result, probs

    def align_labels(self, data_label_names: list[str], data_label_values: list[int] | None = None) -> np.ndarray:
        """Map a dataset's class ids to this model's.

        When both were written as numbers (the model file records them), by number: a test file of
        star ratings 1 and 2 maps to this model's 1 and 2 whatever either side named them. Otherwise by
        name, or by position when the names on either side are plain numbers and the counts match (a
        0/1/2 file named by one version and not another). Raises ``StudioError`` when the classes
        don't correspond, rather than guess.
        """
        mine = self.info.label_values
        if mine is not None and data_label_values is not None and len(mine) == len(self.label_names):
            lookup = {v: i for i, v in enumerate(mine)}
            unknown = [v for v in data_label_values if v not in lookup]
            if unknown:
                raise StudioError(f"the dataset has label {unknown[0]}, which the model never learned (it knows "
                                  f"{', '.join(map(str, mine))})")
            return np.array([lookup[v] for v in data_label_values], dtype=np.int64)
        lookup = {n.lower(): i for i, n in enumerate(self.label_names)}
        if all(n.lower() in lookup for n in data_label_names):
            return np.array([lookup[n.lower()] for n in data_label_names], dtype=np.int64)
        numbered = all(n.isdigit() for n in data_label_names) or all(n.isdigit() for n in self.label_names)
        if len(data_label_names) == len(self.label_names) and numbered:
            return np.arange(len(data_label_names), dtype=np.int64)
        raise StudioError(
            f"the dataset's classes ({', '.join(data_label_names)}) don't match "
            f"the model's ({', '.join(self.label_names)})"
        )

    def trace(self, text: str, prefixes: bool = True) -> Trace:
        """Every gate and state per token of ``text``, the prediction, and (``prefixes``) the
        prediction after each token."""
        enc = self.tokenizer.encode(text)
        cells, prefix, probs = trace_ids(self.classifier, enc.ids[0], prefixes=prefixes)
        _finite(probs)
        return Trace(
            text=text,
            kind=self.kind,
            tokens=enc.tokens[0],
            offsets=enc.offsets[0],
            word_ids=enc.word_ids[0],
            cells=cells,
            prefix_probabilities=prefix,
            probabilities=probs,
            label_names=list(self.label_names),
        )

    @property
    def device(self) -> torch.device:
        return next(self.classifier.parameters()).device
