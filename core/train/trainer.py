"""The training loop: epochs over bucketed batches, reporting plain-data events.

``Trainer.fit`` is a generator of ``core.events`` (its last event is the ``FinishedEvent``), and each
batch boundary is where pause and cancel take effect, so a caller on another thread (the GUI's
worker, the CLI's progress bar, a test) stays in control. The trainer keeps nothing beside the
events: whoever wants a history builds it from them. It knows nothing about which model it trains
beyond ``forward(ids, lengths) -> logits``.
"""

from __future__ import annotations

import copy
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from core import distributed
from core.config import TrainConfig
from core.device import choose_device
from core.errors import SettingError, StudioError, TrainingError
from core.events import EpochEvent, Event, FinishedEvent, PhaseEvent, StepEvent, TaskControl
from core.heap import import_optimizer_machinery
from core.metrics import EvalResult, evaluate_predictions
from core.text.batching import EncodedSplit, bucketed_order, collate, predict_probabilities
from core.threads import ThreadTuner

_TORCH = tuple(int(x) for x in re.findall(r"\d+", torch.__version__)[:2])  # (major, minor)


class Trainer:
    """Trains any ``forward(ids, lengths) -> logits`` classifier; see the module docstring."""

    def __init__(self, model: nn.Module, config: TrainConfig | None = None, control: TaskControl | None = None):
        self.config = config or TrainConfig()
        self.control = control or TaskControl()
        self.device = choose_device(self.config.device)
        self.model = model.to(self.device)
        self.loss_fn = nn.CrossEntropyLoss()

    def evaluate(self, split: EncodedSplit, label_names: list[str] | None = None) -> EvalResult:
        """Metrics on ``split``; under torchrun each rank predicts its share and every rank gets the whole."""
        world = distributed.current()
        if world.distributed:
            probs, loss = _predict_shared(self.model, split, self.device, self.config.eval_batch_size, world)
        else:
            probs, loss = predict_probabilities(self.model, split, self.device, self.config.eval_batch_size)
        num_classes = probs.shape[1] if probs.size else len(label_names or []) or 2
        return evaluate_predictions(
            split.labels, probs.argmax(1), split.lengths, num_classes, loss=loss, label_names=label_names
        )

    def fit(
        self,
        train: EncodedSplit,
        validation: EncodedSplit,
        test: EncodedSplit | None = None,
        label_names: list[str] | None = None,
    ) -> Iterator[Event]:
        """Train, yielding events; the last one is the ``FinishedEvent``.

        The best weights by validation accuracy (ties: lower validation loss) are restored at the end.
        PyTorch's thread count is tuned while training (core/threads.py) and given back afterwards, however
        the training ends: other work on this thread, and threads started later, keep their own count.
        """
        tuner = ThreadTuner(enabled=self.device.type == "cpu")
        try:
            yield from self._fit(train, validation, test, label_names, tuner)
        finally:
            tuner.restore()

    def _fit(self, train: EncodedSplit, validation: EncodedSplit, test: EncodedSplit | None,
             label_names: list[str] | None, tuner: ThreadTuner) -> Iterator[Event]:
        cfg, model = self.config, self.model
        if len(train) == 0 or len(validation) == 0:
            raise StudioError("training needs a non-empty training and validation split")
        world = distributed.current()
        steps_per_epoch = math.ceil(len(train) / cfg.batch_size) // world.size
        if steps_per_epoch == 0:
            raise SettingError(f"{len(train):,} training texts make fewer batches of {cfg.batch_size} than the "
                               f"{world.size} processes training together: lower the batch size or the processes",
                               "batch_size")
        # dropout draws from torch's default generator: its own stream per rank (the weights are built before)
        torch.manual_seed(cfg.seed + world.rank)
        import_optimizer_machinery()  # without the collector's long pauses (core/heap.py)
        optimizer = adamw(model, self.device, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        stepping = model  # what the training steps run: under torchrun, DDP averaging gradients over the ranks
        if world.distributed:
            from torch.nn.parallel import DistributedDataParallel

            stepping = DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda"
                                               else None)
        total_steps = steps_per_epoch * cfg.epochs
        if cfg.max_steps:
            total_steps = min(total_steps, cfg.max_steps)
        order = np.random.default_rng(cfg.seed)  # the batch order: the same on every rank, which takes its share
        run = _FitState(world, optimizer, stepping, tuner, steps_per_epoch, total_steps, order)
        for epoch in range(1, cfg.epochs + 1):
            run.epoch = epoch
            yield from self._train_epoch(train, run)
            if run.cancelled:
                break
            yield from self._end_epoch(validation, label_names, run)
            if run.bad_epochs >= cfg.patience or (cfg.max_steps and run.global_step >= cfg.max_steps):
                run.stopped_early = epoch < cfg.epochs
                break
        yield from self._finish(test, label_names, run)

    def _train_epoch(self, train: EncodedSplit, run: _FitState) -> Iterator[StepEvent]:
        """One pass over this rank's share of the batches: a ``StepEvent`` per optimizer step; pause and cancel
        act between steps (``run.cancelled``). The epoch's loss and accuracy are summed into ``run``."""
        cfg, model, epoch = self.config, self.model, run.epoch
        model.train()
        run.loss_sum = torch.zeros((), device=self.device)
        run.correct = torch.zeros((), dtype=torch.int64, device=self.device)
        run.seen = 0
        batches = distributed.shard(bucketed_order(train.lengths, cfg.batch_size, run.rng), run.world)
        for step, index in enumerate(batches, start=1):
            if self.control.wait_if_paused():
                run.cancelled = True
                return
            run.tuner.before_step()
            t0 = time.perf_counter()
            batch = collate(train, index, self.device)
            with _out_of_memory_as_training_error(epoch, step), _peers_gone_as_error(run.world):
                logits = run.stepping(batch.ids, batch.lengths)
                loss = self.loss_fn(logits.float(), batch.labels)
                run.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = clip_gradients(model, cfg.grad_clip)
                run.optimizer.step()
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise TrainingError(
                    f"the loss became {loss_value} at epoch {epoch}, step {step}; "
                    "training stopped. Try a lower learning rate or gradient clipping."
                )
            run.global_step += 1
            if run.global_step == 1:
                run.start_loss = reference_loss(loss_value, logits.shape[-1])
            run.seen += len(index)
            run.loss_sum += loss.detach() * len(index)
            run.correct += (logits.detach().argmax(-1) == batch.labels).sum()
            dt = time.perf_counter() - t0
            run.tuner.after_step(batch.num_tokens, dt)
            run.train_time += dt
            run.tokens_seen += batch.num_tokens
            rate = batch.num_tokens / max(dt, 1e-9)
            run.tokens_per_s = rate if run.global_step == 1 else 0.9 * run.tokens_per_s + 0.1 * rate
            yield StepEvent(
                epoch=epoch, step=step, steps_per_epoch=run.steps_per_epoch, global_step=run.global_step,
                total_steps=run.total_steps, loss=loss_value, grad_norm=float(grad_norm),
                learning_rate=run.optimizer.param_groups[0]["lr"], tokens_per_s=run.tokens_per_s,
                elapsed_s=time.perf_counter() - run.start,
            )
            if cfg.max_steps and run.global_step >= cfg.max_steps:
                return

    def _end_epoch(self, validation: EncodedSplit, label_names: list[str] | None, run: _FitState) -> Iterator[Event]:
        """Judge the epoch on the whole training set (all ranks) and the validation split; keep the best
        weights, decay the learning rate on a plateau; the ``EpochEvent``."""
        cfg, epoch = self.config, run.epoch
        loss_sum, correct, seen = float(run.loss_sum), float(run.correct), run.seen
        if run.world.distributed:  # every rank judges and reports the whole epoch, not its share
            loss_sum, correct, seen = map(float, distributed.all_sum(np.array([loss_sum, correct, seen]), run.world))
            run.start_loss = distributed.all_max(run.start_loss, run.world)
        train_loss = loss_sum / max(seen, 1)
        _check_not_diverging(train_loss, run.start_loss, f"epoch {epoch}'s training loss", cfg)
        yield PhaseEvent("validating", f"epoch {epoch}: evaluating on the validation split")
        val = self.evaluate(validation, label_names)
        improved = run.best.offer(epoch, val, self.model)
        if improved:
            run.bad_epochs = 0
        else:
            run.bad_epochs += 1
            for group in run.optimizer.param_groups:
                group["lr"] *= cfg.lr_decay
        yield EpochEvent(
            epoch=epoch, epochs=cfg.epochs, train_loss=train_loss, train_accuracy=correct / max(seen, 1),
            val_loss=val.loss, val_accuracy=val.accuracy, val_macro_f1=val.macro_f1, best_epoch=run.best.epoch,
            improved=improved, learning_rate=run.optimizer.param_groups[0]["lr"],
            elapsed_s=time.perf_counter() - run.start,
        )

    def _finish(self, test: EncodedSplit | None, label_names: list[str] | None, run: _FitState) -> Iterator[Event]:
        """Restore the best weights, check them, score them on the test split; the ``FinishedEvent``."""
        model, best = self.model, run.best
        if best.state is not None:
            model.load_state_dict(best.state)
        if run.world.distributed and not distributed.all_equal(_checksum(model), run.world):
            raise TrainingError("the training processes ended with different weights; the model was not kept")
        if best.state is not None:
            _check_not_diverging(best.validation.loss, run.start_loss, "the best epoch's validation loss",
                                 self.config, factor=3)
        test_result = None
        if test is not None and len(test) and best.state is not None and not run.cancelled:
            yield PhaseEvent("testing", "evaluating the best weights on the test split")
            test_result = self.evaluate(test, label_names)
        yield FinishedEvent(
            cancelled=run.cancelled,
            stopped_early=run.stopped_early,
            epochs_run=run.epoch if not run.cancelled else max(run.epoch - 1, 0),
            best_epoch=best.epoch,
            training_time_s=time.perf_counter() - run.start,
            num_parameters=sum(p.numel() for p in model.parameters()),
            tokens_per_s=run.tokens_seen / max(run.train_time, 1e-9),
            validation=best.validation,
            test=test_result,
        )


def adamw(model: nn.Module, device: torch.device, **options: float) -> torch.optim.AdamW:
    """AdamW, with PyTorch's fused kernel where the device has one (CPU from torch 2.4, and CUDA).

    The same update, in one pass over each tensor instead of a dozen: on SST-2 (2 cores, default
    model) the optimizer's step went from 24% to 9% of an epoch, which ran 27% faster. The embedding
    dominates it: 14k-30k words x 128 against 0.26 M recurrent weights. Its rounding differs from the
    unfused step's in the last bits, so a run does not repeat one made before it bit for bit; the
    accuracies in docs/results.md came out the same to the digits shown.
    """
    fused = device.type == "cuda" or (device.type == "cpu" and _TORCH >= (2, 4))  # others (MPS): untried here
    return torch.optim.AdamW(model.parameters(), fused=fused or None, **options)


def clip_gradients(model: nn.Module, max_norm: float) -> torch.Tensor:
    """``nn.utils.clip_grad_norm_``, scaling on the CPU only when the norm is over ``max_norm``; returns the norm.

    PyTorch's version multiplies every gradient by a factor clamped to 1 on every step, clipped or
    not: on SST-2 that pass over the embedding's gradient was 12% of an epoch, and most steps are
    not clipped. Same result: PyTorch scales by ``max_norm / (norm + 1e-6)`` only where that is
    under 1. On a GPU the test would wait for the backward pass before queueing the optimizer's
    step, which PyTorch's way avoids, so there it is PyTorch's way.
    """
    params = [p for p in model.parameters() if p.grad is not None]
    if not params or params[0].device.type != "cpu" or not hasattr(nn.utils, "get_total_norm"):  # torch < 2.6
        return nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    norm = nn.utils.get_total_norm([p.grad for p in params])
    value = float(norm)
    if not max_norm >= value + 1e-6:  # over the limit, or not finite: as PyTorch does
        nn.utils.clip_grads_with_norm_(params, max_norm, norm)
    return norm


def _predict_shared(model: nn.Module, split: EncodedSplit, device: torch.device, batch_size: int,
                    world: distributed.World) -> tuple[np.ndarray, float]:
    """``predict_probabilities`` over ranks: rank r predicts texts r, r + N, ...; all get every row back."""
    mine = np.arange(world.rank, len(split), world.size)
    part, mean_loss = predict_probabilities(model, split.take(mine), device, batch_size)
    classes = part.shape[1] if part.size else int(model.config.num_classes)
    parts = distributed.gather_rows(part.reshape(len(mine), classes), world)
    probs = np.zeros((len(split), classes), dtype=np.float32)
    for rank, rows in enumerate(parts):
        probs[np.arange(rank, len(split), world.size)] = rows
    loss_sum = distributed.all_sum(np.array([mean_loss * len(mine)]), world)[0]  # each rank's sum of losses
    return probs, float(loss_sum) / max(len(split), 1)


def _checksum(model: nn.Module) -> float:
    """A number that differs when the weights do (to check that every rank ended with the same model)."""
    with torch.no_grad():  # on the CPU in float64 (MPS has no float64)
        return float(sum((p.detach().cpu().double() * (i + 1)).sum().item() for i, p in enumerate(model.parameters())))


@contextmanager
def _peers_gone_as_error(world: distributed.World) -> Iterator[None]:
    """Under torchrun, a failure of the gradient exchange (another rank died) as one clear error."""
    if not world.distributed:
        yield
        return
    try:
        yield
    except RuntimeError as e:
        if not distributed.is_transport_failure(e):
            raise
        raise distributed.DistributedError(
            f"another training process stopped, so this one stops too: {str(e).splitlines()[0][:200]}") from e


def reference_loss(first_loss: float, num_classes: int) -> float:
    """Where a run's loss starts, for telling divergence: the first batch's loss, but never below chance
    level, ln(classes), since one small batch can start far lower by luck."""
    return max(first_loss, math.log(num_classes))


def _check_not_diverging(loss: float, start: float, what: str, cfg: TrainConfig, factor: float = 10) -> None:
    """Refuse a run whose loss ended far above where it started (a learning rate too high): it would
    be saved as a success while predicting worse than the untrained model (``start``: ``reference_loss``).
    """
    if math.isfinite(start) and start > 0 and not loss <= factor * start:
        raise TrainingError(
            f"training diverged: {what} is {loss:.3g}, far above the {start:.3g} it started at; the model was "
            f"not kept. Lower the learning rate (it was {cfg.learning_rate:g}) or the gradient clip"
        )


@dataclass
class _FitState:
    """What one ``fit`` keeps between its epochs and steps (its state lives here, not in the locals of one long
    loop)."""

    world: distributed.World
    optimizer: torch.optim.Optimizer
    stepping: nn.Module  # the model, or DDP around it under torchrun
    tuner: ThreadTuner
    steps_per_epoch: int
    total_steps: int
    rng: np.random.Generator
    start: float = field(default_factory=time.perf_counter)
    epoch: int = 0
    global_step: int = 0
    start_loss: float = math.nan  # see reference_loss
    best: _Best = field(default_factory=lambda: _Best())
    bad_epochs: int = 0
    cancelled: bool = False
    stopped_early: bool = False
    train_time: float = 0.0  # seconds inside steps
    tokens_seen: int = 0
    tokens_per_s: float = 0.0  # smoothed, for the step events
    loss_sum: torch.Tensor | None = None  # the epoch so far, on this rank: summed loss, right predictions, texts
    correct: torch.Tensor | None = None
    seen: int = 0


@dataclass
class _Best:
    """The best epoch so far by validation accuracy (ties: lower loss), with a CPU copy of its weights."""

    epoch: int = 0
    validation: EvalResult | None = None
    state: dict | None = None

    def offer(self, epoch: int, validation: EvalResult, model: nn.Module) -> bool:
        """Keep ``model``'s weights if ``validation`` beats the best so far; True when it did."""
        if self.validation is not None and (validation.accuracy, -validation.loss) <= (
            self.validation.accuracy,
            -self.validation.loss,
        ):
            return False
        self.epoch, self.validation = epoch, validation
        self.state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        return True


@contextmanager
def _out_of_memory_as_training_error(epoch: int, step: int) -> Iterator[None]:
    """Turn an out-of-memory failure inside a step into a ``TrainingError`` that says what to lower.

    GPUs raise ``OutOfMemoryError``; the CPU allocator a ``RuntimeError`` ("can't allocate memory").
    """
    try:
        yield
    except (torch.OutOfMemoryError, MemoryError, RuntimeError) as e:
        if not isinstance(e, torch.OutOfMemoryError | MemoryError) and not _is_oom(e):
            raise
        raise TrainingError(
            f"out of memory at epoch {epoch}, step {step}: lower the batch size, the maximum length or the model size"
        ) from e


def _is_oom(error: BaseException) -> bool:
    text = str(error).lower()
    return "out of memory" in text or "can't allocate memory" in text or "cannot allocate memory" in text
