"""The one channel out of every long task: plain-data events, and the control that pauses or cancels it.

Every long job in the core (loading a dataset, training, scoring, opening model files) is a
generator. Each ``yield`` hands the caller a small dataclass of floats, strings and numpy arrays
(never a tensor or a widget), and is the point where pause and cancel take effect. A job's result
is its last event (``FinishedEvent`` for a fit, ``ModelDone`` for a trained model, ...): there
is no second channel, no return value, so every consumer is a plain ``for event in job``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from core.metrics import EvalResult


@dataclass
class PhaseEvent:
    """A stage of work without steps of its own (loading, tokenizing, evaluating)."""

    phase: str
    message: str


@dataclass
class StepEvent:
    """One optimizer step."""

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
    """An epoch ended and was scored on the validation split."""

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
    """The last event of a fit: also sent after a cancel (``cancelled``), with what was reached."""

    cancelled: bool
    stopped_early: bool
    epochs_run: int
    best_epoch: int
    training_time_s: float
    num_parameters: int
    tokens_per_s: float
    validation: EvalResult | None
    test: EvalResult | None


@dataclass
class CheckpointEvent:
    """The best epoch so far was written to ``path``: a crash from here on loses at most the epoch in progress."""

    path: str
    epoch: int


Event = PhaseEvent | StepEvent | EpochEvent | FinishedEvent | CheckpointEvent


class TaskCancelled(Exception):
    """Raised inside a task that noticed its ``TaskControl`` was cancelled between two steps."""


class TaskControl:
    """Pause, resume and cancel a task from another thread; the task checks it between steps.

    One control serves every kind of task: training checks it once per batch, dataset loading and
    scoring between their stages, opening files between files.
    """

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
        self._running.set()  # wake a paused task so it can see the cancel

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def wait_if_paused(self) -> bool:
        """Block while paused; return True when the task should stop."""
        while not self._running.wait(0.1):
            pass
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise ``TaskCancelled`` when cancelled (for tasks that stop by unwinding)."""
        if self._cancel.is_set():
            raise TaskCancelled("cancelled")


T = TypeVar("T")


def run_to_end(events: Iterable[T], on_event: Callable[[T], object] | None = None) -> T | None:
    """Drive a task to its end, passing each event to ``on_event``; return its last event (its result)."""
    last = None
    for event in events:
        if on_event is not None:
            on_event(event)
        last = event
    return last
