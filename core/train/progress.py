"""What one press of Train has done so far (several models, a sweep's combinations), as words and a fraction.

``TrainingProgress`` follows ``train_models``' events (the screen feeds it; nothing here needs Qt) and
says where the run is and how long it has left: "LSTM (1/2) · epoch 2/12 · step 40/217 · 61,000
tok/s · 1:05 left".
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from core.events import FinishedEvent, PhaseEvent, StepEvent
from core.model.events import ModelDone, ModelEvent


def estimate_left_s(
    step: StepEvent, models_after: int, paused_s: float = 0.0, later_per_step: float | None = None
) -> float:
    """Seconds left: this model's rate so far (pauses excluded) for its remaining steps, plus a whole
    run for each model still to come at ``later_per_step`` (default: this rate). An upper bound when
    early stopping ends a model sooner."""
    per_step = seconds_per_step(step, paused_s)
    later = per_step if later_per_step is None else later_per_step
    return per_step * (step.total_steps - step.global_step) + later * step.total_steps * models_after


def seconds_per_step(step: StepEvent, paused_s: float = 0.0) -> float:
    return max(step.elapsed_s - paused_s, 0.0) / max(step.global_step, 1)


def format_duration(seconds: float) -> str:
    """``0:42``, ``12:05``, ``1:02:03``."""
    s = round(max(seconds, 0.0))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass
class TrainingProgress:
    """The state of one training of several models, updated from its events; see the module docstring."""

    plan: list[tuple[str, str]]  # (name, kind) in training order
    started: float = field(default_factory=time.perf_counter)
    current: int = -1  # index into plan of the model now training
    last_step: StepEvent | None = None
    phase: str = ""
    results: dict[str, float] = field(default_factory=dict)  # name -> best validation accuracy
    paused_since: float | None = None
    paused_s: float = 0.0  # paused time within the current model
    per_step_s: list[float] = field(default_factory=list)  # seconds per step of each model trained so far
    cancelling: bool = False

    def update(self, item: ModelEvent | ModelDone) -> bool:
        """Take one event; True when it is the first of a new model (its curves should start)."""
        if not isinstance(item, ModelEvent):
            return False
        started = bool(item.name) and (self.current < 0 or self.plan[self.current][0] != item.name)
        if started:
            if self.last_step is not None:
                self.per_step_s.append(seconds_per_step(self.last_step, self.paused_s))
            self.current = next(i for i, (n, _) in enumerate(self.plan) if n == item.name)
            self.last_step, self.paused_s = None, 0.0
        event = item.event
        if isinstance(event, StepEvent):
            self.last_step, self.phase = event, ""
        elif isinstance(event, PhaseEvent):
            self.phase = event.message
        elif isinstance(event, FinishedEvent) and event.validation is not None:
            self.results[item.name] = event.validation.accuracy
        else:
            self.phase = ""
        return started

    @property
    def paused(self) -> bool:
        return self.paused_since is not None

    def pause(self) -> None:
        if self.paused_since is None:
            self.paused_since = time.perf_counter()

    def resume(self) -> None:
        if self.paused_since is not None:
            self.paused_s += time.perf_counter() - self.paused_since
            self.paused_since = None

    def cancel(self) -> None:
        self.cancelling, self.paused_since = True, None

    def describe(self) -> tuple[str, int]:
        """The progress line and the fraction done in per mille of all planned steps."""
        n = len(self.plan)
        if self.current < 0:
            return "Preparing: " + (self.phase or "starting…"), 0
        name = self.plan[self.current][0]
        who = f"{name} ({self.current + 1}/{n})" if n > 1 else name
        step = self.last_step
        if step is None:
            return f"{who} · {self.phase or 'starting…'}", int(1000 * self.current / n)
        value = int(1000 * (self.current + step.global_step / max(step.total_steps, 1)) / n)
        epochs = math.ceil(step.total_steps / step.steps_per_epoch)
        where = f"{who} · epoch {step.epoch}/{epochs} · step {step.step}/{step.steps_per_epoch}"
        if self.cancelling:
            return f"Cancelling… {where}", value
        if self.paused:
            return f"Paused · {where}", value
        # Models still to come run at the slowest rate seen so far: an LSTM after an RNN takes
        # longer, and a time left that grows is worse than one that shrinks faster than shown.
        per_step = seconds_per_step(step, self.paused_s)
        left = estimate_left_s(step, n - self.current - 1, self.paused_s, max([per_step, *self.per_step_s]))
        text = f"{where} · {step.tokens_per_s:,.0f} tok/s · {format_duration(left)} left"
        if self.phase:
            text += f" · {self.phase}"
        return text, value

    def summary(self) -> str:
        """``LSTM 81.2% · RNN 79.9% validation accuracy · 1:05``, or "" before any model finished."""
        if not self.results:
            return ""
        parts = [f"{name} {acc:.1%}" for name, acc in self.results.items()]
        return " · ".join(parts) + f" validation accuracy · {format_duration(time.perf_counter() - self.started)}"
