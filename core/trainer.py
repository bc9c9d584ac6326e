"""The training loop: epochs over bucketed batches, reporting plain-data events.

``Trainer.fit`` is a generator. Each ``yield`` hands the caller a small dataclass of floats (never
a tensor or a widget), and each batch boundary is where pause and cancel take effect, so a caller
on another thread (the GUI's worker, the CLI's progress bar, a test) stays in control. The trainer
knows nothing about which model it trains beyond ``forward(ids, lengths) -> logits``.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Generator
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from core.batching import EncodedSplit, bucketed_order, collate
from core.device import choose_device
from core.errors import StudioError, TrainingError
from core.metrics import EvalResult, evaluate_predictions


@dataclass
class TrainConfig:
    # An upper bound: early stopping usually ends sooner. The longest runs (IMDB, SUBJ LSTM) gained
    # under 0.1 point of validation accuracy from epochs 13-15, for a fifth more time.
    epochs: int = 12
    batch_size: int = 32  # small batches generalise better on sentence data and are fast on CPU
    learning_rate: float = 2e-3  # AdamW
    weight_decay: float = 1e-4  # decoupled (AdamW), a mild regulariser beside dropout
    grad_clip: float = 5.0  # max global gradient norm; protects plain RNNs from exploding steps
    patience: int = 3  # epochs without validation improvement before stopping
    lr_decay: float = 0.5  # multiply the learning rate by this when validation stops improving
    seed: int = 0
    device: str = "auto"  # auto = CUDA, then MPS, then CPU
    eval_batch_size: int = 256

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise StudioError("epochs and batch size must be at least 1")
        if not self.learning_rate > 0:
            raise StudioError(f"learning rate must be positive, not {self.learning_rate}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


# --- events: what the trainer reports, as plain data ------------------------------------------------
@dataclass
class PhaseEvent:
    """A stage of work without steps of its own (loading, tokenizing, evaluating)."""

    phase: str
    message: str


@dataclass
class StepEvent:
    epoch: int  # 1-based
    step: int  # 1-based within the epoch
    steps_per_epoch: int
    global_step: int
    total_steps: int  # for the configured number of epochs
    loss: float
    grad_norm: float  # before clipping
    learning_rate: float
    tokens_per_s: float  # real tokens (no padding), smoothed
    elapsed_s: float


@dataclass
class EpochEvent:
    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    val_macro_f1: float
    best_epoch: int
    improved: bool
    learning_rate: float
    elapsed_s: float


@dataclass
class FinishedEvent:
    """The end of a run: also sent after a cancel (``cancelled``), with what was reached."""

    cancelled: bool
    stopped_early: bool
    epochs_run: int
    best_epoch: int
    training_time_s: float
    num_parameters: int
    tokens_per_s: float
    validation: EvalResult | None
    test: EvalResult | None


Event = PhaseEvent | StepEvent | EpochEvent | FinishedEvent


@dataclass
class History:
    """Everything a run reported, kept for plots and for the model file."""

    step_loss: list[float] = field(default_factory=list)
    step_grad_norm: list[float] = field(default_factory=list)
    epochs: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


class TrainControl:
    """Pause, resume and cancel a run from another thread; checked once per batch."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()  # wake a paused run so it can see the cancel

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_if_paused(self) -> bool:
        """Block while paused; return True when the run should stop."""
        while not self._running.wait(0.1):
            pass
        return self._cancel.is_set()


class Trainer:
    """Trains any ``forward(ids, lengths) -> logits`` classifier; see the module docstring."""

    def __init__(self, model: nn.Module, config: TrainConfig | None = None, control: TrainControl | None = None):
        self.config = config or TrainConfig()
        self.control = control or TrainControl()
        self.device = choose_device(self.config.device)
        self.model = model.to(self.device)
        self.history = History()
        self.loss_fn = nn.CrossEntropyLoss()

    # --- evaluation -----------------------------------------------------------------------------------
    @torch.inference_mode()
    def predict(self, split: EncodedSplit) -> tuple[np.ndarray, float]:
        """Class probabilities (n, classes) in the split's order, and the mean loss."""
        was_training = self.model.training
        self.model.eval()
        n = len(split)
        probs = None
        total_loss = 0.0
        try:
            for index in bucketed_order(split.lengths, self.config.eval_batch_size, rng=None):
                batch = collate(split, index, self.device)
                logits = self.model(batch.ids, batch.lengths).float()
                total_loss += float(nn.functional.cross_entropy(logits, batch.labels, reduction="sum"))
                p = torch.softmax(logits, -1).cpu().numpy()
                if probs is None:
                    probs = np.zeros((n, p.shape[1]), dtype=np.float32)
                probs[batch.index] = p
        finally:
            self.model.train(was_training)
        return (probs if probs is not None else np.zeros((0, 0), np.float32)), total_loss / max(n, 1)

    def evaluate(self, split: EncodedSplit, label_names: list[str] | None = None) -> EvalResult:
        probs, loss = self.predict(split)
        num_classes = probs.shape[1] if probs.size else len(label_names or []) or 2
        return evaluate_predictions(
            split.labels, probs.argmax(1), split.lengths, num_classes, loss=loss, label_names=label_names
        )

    # --- training -------------------------------------------------------------------------------------
    def fit(
        self,
        train: EncodedSplit,
        validation: EncodedSplit,
        test: EncodedSplit | None = None,
        label_names: list[str] | None = None,
    ) -> Generator[Event, None, FinishedEvent]:
        """Train, yielding events; returns (and yields last) the ``FinishedEvent``.

        The best weights by validation accuracy (ties: lower validation loss) are restored at the end.
        """
        cfg, model, control = self.config, self.model, self.control
        if len(train) == 0 or len(validation) == 0:
            raise StudioError("training needs a non-empty training and validation split")
        torch.manual_seed(cfg.seed)  # dropout draws from torch's default generator
        rng = np.random.default_rng(cfg.seed)
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
        total_steps = steps_per_epoch * cfg.epochs
        num_parameters = sum(p.numel() for p in model.parameters())
        best_key, best_state, best_epoch, best_val = None, None, 0, None
        bad_epochs, global_step, epoch = 0, 0, 0
        train_time, tokens_seen, tps = 0.0, 0, 0.0
        cancelled = stopped_early = False
        start = time.perf_counter()

        for epoch in range(1, cfg.epochs + 1):
            model.train()
            loss_sum = torch.zeros((), device=self.device)
            correct = torch.zeros((), dtype=torch.int64, device=self.device)
            seen = 0
            for step, index in enumerate(bucketed_order(train.lengths, cfg.batch_size, rng), start=1):
                if control.wait_if_paused():
                    cancelled = True
                    break
                t0 = time.perf_counter()
                batch = collate(train, index, self.device)
                try:
                    logits = model(batch.ids, batch.lengths)
                    loss = self.loss_fn(logits.float(), batch.labels)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    grad_norm = nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                    optimizer.step()
                except (torch.OutOfMemoryError, MemoryError, RuntimeError) as e:
                    # GPUs raise OutOfMemoryError; the CPU allocator a RuntimeError ("can't allocate memory")
                    if not isinstance(e, torch.OutOfMemoryError | MemoryError) and not _is_oom(e):
                        raise
                    raise TrainingError(
                        f"out of memory at epoch {epoch}, step {step}: lower the batch size, "
                        "the maximum length or the model size"
                    ) from e
                loss_value = float(loss.detach())
                if not math.isfinite(loss_value):
                    raise TrainingError(
                        f"the loss became {loss_value} at epoch {epoch}, step {step}; "
                        "training stopped. Try a lower learning rate or gradient clipping."
                    )
                global_step += 1
                n = len(index)
                seen += n
                loss_sum += loss.detach() * n
                correct += (logits.detach().argmax(-1) == batch.labels).sum()
                dt = time.perf_counter() - t0
                train_time += dt
                tokens_seen += batch.num_tokens
                rate = batch.num_tokens / max(dt, 1e-9)
                tps = rate if global_step == 1 else 0.9 * tps + 0.1 * rate
                gn = float(grad_norm)
                self.history.step_loss.append(loss_value)
                self.history.step_grad_norm.append(gn)
                yield StepEvent(
                    epoch, step, steps_per_epoch, global_step, total_steps, loss_value, gn,
                    optimizer.param_groups[0]["lr"], tps, time.perf_counter() - start,
                )
            if cancelled:
                break
            yield PhaseEvent("validating", f"epoch {epoch}: evaluating on the validation split")
            val = self.evaluate(validation, label_names)
            key = (val.accuracy, -val.loss)
            improved = best_key is None or key > best_key
            if improved:
                best_key, best_epoch, best_val, bad_epochs = key, epoch, val, 0
                best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
            else:
                bad_epochs += 1
                for group in optimizer.param_groups:
                    group["lr"] *= cfg.lr_decay
            lr = optimizer.param_groups[0]["lr"]
            record = EpochEvent(
                epoch, cfg.epochs, float(loss_sum) / max(seen, 1), float(correct) / max(seen, 1),
                val.loss, val.accuracy, val.macro_f1, best_epoch, improved, lr, time.perf_counter() - start,
            )
            self.history.epochs.append(asdict(record))
            yield record
            if bad_epochs >= cfg.patience:
                stopped_early = epoch < cfg.epochs
                break

        if best_state is not None:
            model.load_state_dict(best_state)
        test_result = None
        if test is not None and len(test) and best_state is not None and not cancelled:
            yield PhaseEvent("testing", "evaluating the best weights on the test split")
            test_result = self.evaluate(test, label_names)
        finished = FinishedEvent(
            cancelled=cancelled,
            stopped_early=stopped_early,
            epochs_run=epoch if not cancelled else max(epoch - 1, 0),
            best_epoch=best_epoch,
            training_time_s=time.perf_counter() - start,
            num_parameters=num_parameters,
            tokens_per_s=tokens_seen / max(train_time, 1e-9),
            validation=best_val,
            test=test_result,
        )
        yield finished
        return finished


def _is_oom(error: BaseException) -> bool:
    text = str(error).lower()
    return "out of memory" in text or "can't allocate memory" in text or "cannot allocate memory" in text


def run_to_end(gen: Generator, on_event=None):
    """Drive an event generator to its end, passing each event to ``on_event``; return its value."""
    while True:
        try:
            event = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event(event)


def warm_up() -> None:
    """One tiny training step per cell kind, so PyTorch's one-time set-up (lazy imports, kernel
    selection: 100+ ms, holding the GIL) happens before a person presses Train, not during it.

    It never draws from torch's global random generator (weights are built on the meta device and
    set to constants, no dropout), so a training running meanwhile in another thread keeps its
    seeded, reproducible stream.
    """
    from core.models import ModelConfig, SentimentClassifier

    for kind in ("lstm", "gru", "rnn"):
        config = ModelConfig(kind=kind, vocab_size=8, embed_dim=4, hidden_size=4, dropout=0.0, word_dropout=0.0)
        with torch.device("meta"):
            model = SentimentClassifier(config)
        model = model.to_empty(device="cpu")
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(0.1)
        optimizer = torch.optim.AdamW(model.parameters())
        logits = model(torch.tensor([[2, 3, 4], [5, 6, 0]]), torch.tensor([3, 2]))
        nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
