"""From a dataset to trained ``SentimentModel``s: tokenizer, encoding, model, training.

``train_model`` trains one model and ``train_models`` several side by side on one vocabulary; the
CLI, the GUI's Train screen, the benchmarks and the tests all use them. Both are generators of
plain-data events (``core.events``); a trained model arrives as a ``ModelDone`` event.

With a ``checkpoint_path``, every epoch that improves on the best validation score so far writes a
complete model file there (atomically, so a crash mid-write leaves the previous one), before its
``EpochEvent`` is yielded: a crash loses at most the epoch in progress. A run that ends normally,
finished or cancelled, removes the file; a run that raises, or a process that dies, leaves it for
the app to offer on its next start.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path

from core import distributed
from core.config import ModelConfig, TokenizerConfig, TrainConfig
from core.data import ArrowTexts, TextDataset
from core.errors import StudioError
from core.events import CheckpointEvent, EpochEvent, Event, FinishedEvent, PhaseEvent, TaskCancelled, TaskControl
from core.files import safe_file_name
from core.metrics import EvalResult
from core.model.classifier import build_classifier
from core.model.events import ModelDone, ModelEvent
from core.model.records import (
    CheckpointMark,
    History,
    ModelInfo,
    RunSummary,
    SplitRecord,
    TrainingRecord,
    versions,
)
from core.model.sentiment_model import SentimentModel, encode_split
from core.store.modelfile import save_model
from core.text.embedding import expand_vocabulary, more_words, sized_for_vectors, start_from_vectors, vectors_for
from core.text.token_cache import learn_vocabulary
from core.text.tokenizer import TextTokenizer
from core.text.vectors import Coverage, WordVectors
from core.train.trainer import Trainer


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def train_model(
    dataset: TextDataset,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    tokenizer_config: TokenizerConfig | None = None,
    *,
    tokenizer: TextTokenizer | None = None,
    control: TaskControl | None = None,
    name: str | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    vectors: WordVectors | None = None,
    remove_checkpoint: bool = True,
    vectors_cache: dict | None = None,
) -> Iterator[Event | ModelDone]:
    """Train one model on ``dataset``; yields events, the last a ``ModelDone`` (best weights restored).

    Pass ``tokenizer`` to share one vocabulary between models compared side by side.
    ``model_config.vocab_size`` and ``num_classes`` are filled in from the tokenizer and data.
    ``checkpoint_path`` (default: none) keeps the best epoch on disk while training; see the module
    docstring (``remove_checkpoint=False`` leaves it for the caller, who keeps the trained model in its
    place). With ``train_config.vectors``, the embedding starts from those word vectors (pass
    ``vectors``, read once for the tokenizer, to share them between models, or a ``vectors_cache`` dict
    kept across calls, as a sweep does, to read them once per vocabulary).
    """
    model_config = model_config or ModelConfig()
    train_config = train_config or TrainConfig()
    world = distributed.current()
    on_disk = isinstance(dataset["train"].texts, ArrowTexts)  # under torchrun, rank 0 fills the caches first
    if tokenizer is None:
        yield PhaseEvent("tokenizer", f"learning a vocabulary from {len(dataset['train']):,} training texts")
        tokenizer = distributed.first_on_rank0(
            world, lambda: learn_vocabulary(dataset["train"].texts, tokenizer_config or TokenizerConfig()), on_disk)
    if vectors is None and train_config.vectors:
        for item in vectors_for(tokenizer, train_config, vectors_cache, [model_config]):
            if isinstance(item, WordVectors):
                vectors = item
            else:
                yield item
    yield PhaseEvent("encoding", "tokenizing the splits")
    encoded = distributed.first_on_rank0(  # texts on disk: rank 0 tokenizes into the cache, the others read it
        world, lambda: {s: encode_split(tokenizer, dataset[s]) for s in ("train", "validation", "test")}, on_disk)
    model_config = ModelConfig.from_dict(
        {**model_config.to_dict(), "vocab_size": tokenizer.vocab_size, "num_classes": dataset.num_classes}
    )
    model_config = sized_for_vectors(model_config, vectors.dim if vectors is not None else None)  # its size settled
    classifier = build_classifier(model_config, train_config.seed)
    coverage = None
    if vectors is not None:
        coverage = start_from_vectors(classifier.embedding, tokenizer, vectors, encoded["train"],
                                      train_config.freeze_vectors)
        yield PhaseEvent("coverage", coverage.describe())
        if coverage.words_found == 0:
            yield PhaseEvent("warning", f"none of the {coverage.words:,} vocabulary words has a vector in "
                                        f"{vectors.name}: the embedding is random (is it the right file, or a "
                                        "tokenizer that splits words into pieces?)")
    trainer = Trainer(classifier, train_config, control)
    yield PhaseEvent("training", f"training {model_config.kind.upper()} on {trainer.device}")
    info = ModelInfo(name=name or model_config.kind.upper(), dataset=dataset.source, splits=SplitRecord.of(dataset),
                     label_values=list(dataset.label_values) if dataset.label_values is not None else None,
                     created=_now(), versions=versions(),
                     vectors=coverage.to_dict() if coverage is not None else None,
                     world_size=world.size, backend=world.backend)
    if not world.main:
        checkpoint_path = None  # rank 0 keeps the best epoch on disk; the others hold the same weights
    # the model file names the vectors' file, never the user's folders (the run store keeps the whole path)
    kept_config = dataclasses.replace(train_config, vectors=Path(train_config.vectors).name) \
        if train_config.vectors else train_config
    model = SentimentModel(classifier, tokenizer, list(dataset.label_names), kept_config, TrainingRecord(), info)
    history = History()
    finished = None
    for event in trainer.fit(encoded["train"], encoded["validation"], encoded["test"], dataset.label_names):
        if isinstance(event, FinishedEvent):
            if vectors is not None and coverage is not None and train_config.vectors_words:
                for item in _with_vectors_words(model, trainer, vectors, dataset, event, coverage):
                    if isinstance(item, FinishedEvent):
                        event = item  # the scores of the model kept
                    else:
                        yield item
            finished = event
        history.record(event)
        if checkpoint_path is not None and isinstance(event, EpochEvent) and event.improved:
            # The trainer is suspended at this event with the improved weights in the model.
            problem = _write_checkpoint(Path(checkpoint_path), event, model, history)
            yield event
            event = PhaseEvent("checkpoint", problem) if problem else CheckpointEvent(str(checkpoint_path), event.epoch)
        yield event
    if checkpoint_path is not None and remove_checkpoint:
        try:
            Path(checkpoint_path).unlink(missing_ok=True)  # ended normally: the caller has the model now
        except OSError:
            pass  # never written (its folder was not writable); nothing to remove
    classifier.eval()
    model.info.created = _now()  # when training ended
    model.info.checkpoint = False
    model.record = TrainingRecord(RunSummary.of(finished), finished.validation, finished.test, history)
    yield ModelDone(model.name, model)


def _write_checkpoint(path: Path, event: EpochEvent, model: SentimentModel, history: History) -> str | None:
    """Save ``model`` (its weights as they are now) as the checkpoint of ``event``'s epoch.

    Returns None, or a message when the file could not be written: training goes on without it.
    """
    model.record = TrainingRecord(
        finished=RunSummary(epochs_run=event.epoch, best_epoch=event.epoch, training_time_s=event.elapsed_s,
                            num_parameters=model.classifier.num_parameters()),
        validation=EvalResult.from_dict(
            {"accuracy": event.val_accuracy, "loss": event.val_loss, "macro_f1": event.val_macro_f1}),
        history=history,
        checkpoint=CheckpointMark(event.epoch, event.val_accuracy, event.val_loss),
    )
    model.info.checkpoint, model.info.created = True, _now()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_model(model, path)  # atomic: a crash mid-write leaves the previous checkpoint whole
    except (OSError, StudioError) as e:
        return f"could not write the checkpoint {path}: {e}"
    return None


def _with_vectors_words(model: SentimentModel, trainer: Trainer, vectors: WordVectors, dataset: TextDataset,
                        finished: FinishedEvent, coverage: Coverage) -> Iterator[PhaseEvent | FinishedEvent]:
    """Try ``expand_vocabulary`` on the trained ``model`` and keep it when validation accuracy does not drop;
    the last event is the ``FinishedEvent`` with the scores of the model kept (``core.events``: no return)."""
    if finished.cancelled or trainer.control.cancelled or finished.validation is None or not vectors.leading:
        yield finished
        return
    yield PhaseEvent("expanding", f"adding the most frequent words of {vectors.name} to the vocabulary")
    grown = expand_vocabulary(model.classifier.embedding, model.config, model.tokenizer, vectors)
    if isinstance(grown, str):
        yield PhaseEvent("vocabulary", f"no words from {vectors.name} added: {grown}")
        yield finished
        return
    classifier, old = model.classifier, (model.tokenizer, model.classifier.embedding)
    model.tokenizer, classifier.embedding = grown.tokenizer, grown.embedding
    names = dataset.label_names
    before = finished.validation.accuracy
    validation = trainer.evaluate(encode_split(grown.tokenizer, dataset["validation"]), names)
    if validation.accuracy < before:
        model.tokenizer, classifier.embedding = old
        yield PhaseEvent("vocabulary", f"{more_words(grown.added)} from {vectors.name} not kept: validation accuracy "
                                       f"{validation.accuracy:.2%} with them, {before:.2%} without")
        yield finished
        return
    test = (trainer.evaluate(encode_split(grown.tokenizer, dataset["test"]), names)
            if finished.test is not None else None)
    classifier.config = ModelConfig.from_dict({**classifier.config.to_dict(), "vocab_size": grown.tokenizer.vocab_size})
    coverage.added_words = grown.added
    model.info.vectors = coverage.to_dict()
    yield PhaseEvent("vocabulary", f"{more_words(grown.added)} from {vectors.name} joined the vocabulary: validation "
                                   f"accuracy {validation.accuracy:.2%} with them, {before:.2%} without")
    yield dataclasses.replace(finished, validation=validation, test=test,
                               num_parameters=sum(p.numel() for p in classifier.parameters()))


def checkpoint_file(folder: Path, name: str, stamp: str) -> Path:
    """``<folder>/<name>-<stamp>.safetensors`` with the name made safe for any file system."""
    return folder / f"{safe_file_name(name)}-{stamp}.safetensors"


def train_models(
    dataset: TextDataset,
    plan: list[tuple[str, ModelConfig]],
    train_config: TrainConfig,
    tokenizer_config: TokenizerConfig,
    control: TaskControl,
    checkpoint_dir: Path | None = None,
    vectors_cache: dict | None = None,
) -> Iterator[ModelEvent | ModelDone]:
    """Train each ``(name, config)`` in turn on one shared tokenizer, yielding a ``ModelDone`` per model.

    One vocabulary for all models means any difference between them is the cell's. A model that a
    cancel interrupted is dropped (it is half-trained); the ones finished before it are kept.
    With ``checkpoint_dir``, each model keeps its best epoch there while it trains; a crash leaves
    the file for the app to offer on its next start. A ``vectors_cache`` (a dict the caller keeps, as a
    sweep does) reuses word vectors read for the same file, vocabulary and number of extra words.
    """
    yield ModelEvent("", "", PhaseEvent("tokenizer", f"learning a vocabulary from {len(dataset['train']):,} texts"))
    tokenizer = learn_vocabulary(dataset["train"].texts, tokenizer_config)
    vectors = None
    if train_config.vectors:  # read once, for every model of the run
        for item in vectors_for(tokenizer, train_config, vectors_cache, [config for _, config in plan]):
            if isinstance(item, WordVectors):
                vectors = item
            else:
                yield ModelEvent("", "", item)
                if control.wait_if_paused():  # pause and cancel act while a large file is read, too
                    raise TaskCancelled("cancelled")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name, config in plan:
        if control.cancelled:
            break
        checkpoint = checkpoint_file(checkpoint_dir, name, stamp) if checkpoint_dir is not None else None
        for event in train_model(dataset, config, train_config, tokenizer=tokenizer, control=control, name=name,
                                 checkpoint_path=checkpoint, vectors=vectors):
            if isinstance(event, ModelDone):
                if not control.cancelled:
                    yield event
            else:
                yield ModelEvent(name, config.kind, event)
        if control.cancelled:
            break
