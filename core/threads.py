"""How many threads PyTorch trains with on the CPU: measured while training, not guessed.

A desktop is never idle. With every core's thread in use, one busy program (a browser tab, a build)
makes PyTorch's threads wait at each operation's barrier for the one that lost its core: on 2 cores,
2 epochs of SST-2 took 61.6 s with 2 threads against 26.4 s with 1, while idle 2 threads won (21.8 s
against 27.6 s). No fixed count is right for both, and the load changes while a model trains.

``ThreadTuner`` tries the candidate counts (all cores, half, one) interleaved step by step, each batch
going to the count with the fewest tokens measured so far, so that each does the same work. It keeps the
fastest by tokens per second, checks a close first choice again after 50 steps, and then tries again
every few hundred steps, or as soon as the speed drops well below what it measured (another program
started), unless it already runs the fewest threads: more load never makes more threads the better choice. A
trial is cheap under load, when trying the wrong count costs most: a count that runs at under a quarter
of the best rate after one step each is dropped from the trial, and a trial that confirms the choice
doubles the wait before the next one. The very first step is not measured: it carries PyTorch's one-off
set-up (allocations, kernel choices: 63 ms against 12 ms for the steps after it on SST-2), which billed
to one count made the first trial keep one thread for 300 steps on an idle machine, a third slower. It
runs on one thread, the count that is never slow under load. Fewer threads win a near tie: under load,
more threads measure fast only when lucky. Set ``SENTIMENT_STUDIO_THREADS`` to a number to fix the count
instead (benchmarks compare against that).
"""

from __future__ import annotations

import os

import torch

ENV = "SENTIMENT_STUDIO_THREADS"
TRIAL_STEPS = 5  # steps per candidate per trial, interleaved (a switch costs well under a step)
RETRY_EVERY = 300  # steps between trials, doubled (up to MAX_RETRY) each time a trial changes nothing
MAX_RETRY = 2400
FIRST_RETRY = 50  # steps after a close first trial before the second: the first runs while PyTorch is still
# setting up each new batch shape, and on an idle machine it kept one thread for 300 steps in 1 of 4 runs
CLOSE_CALL = 1.5  # a first trial is close when the runner-up was within this factor of the best. A clear one
# (two threads at 0.03-0.1x of one under two busy programs) is not tried again soon: each step at two
# threads there took 0.3-1.5 s
CLEAR_LOSS = 0.25  # a count this much slower than the best after one step each is not tried further. Not
# 0.5: one step's rate also follows its batch's length (SST-2: 12k tokens/s for 103 tokens, 33k for 1,012 on
# the same thread), which dropped two threads on an idle machine; under two busy programs they were 4-25x slower
FEWER_WITHIN = 1.1  # fewer threads are kept unless more are this much faster: under load their rate is noisy
SLOWDOWN = 0.6  # a window this much slower than the chosen count's trial speed starts a new trial
WINDOW = 20  # steps in that window
WARM_STEPS = 1  # first steps of a training, run on one thread and not measured (one-off set-up costs)


def fixed_threads() -> int | None:
    """The thread count ``SENTIMENT_STUDIO_THREADS`` fixes, or None (tune)."""
    value = os.environ.get(ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def candidates(most: int | None = None) -> list[int]:
    """The counts worth trying: PyTorch's own count (which follows OMP_NUM_THREADS and the CPUs this process
    may use), half of it, one."""
    most = most or torch.get_num_threads()
    return sorted({most, max(1, most // 2), 1}, reverse=True)


class ThreadTuner:
    """Call ``before_step()`` before each training step and ``after_step(tokens, seconds)`` after it."""

    def __init__(self, choices: list[int] | None = None, enabled: bool = True) -> None:
        fixed = fixed_threads()
        self.initial = torch.get_num_threads()  # given back by ``restore``
        self.choices = [fixed] if fixed else (choices or candidates())
        self.enabled = enabled and len(self.choices) > 1
        self.chosen = torch.get_num_threads() if not fixed else fixed
        self._trial: list[int] = []  # the counts still to run in this trial, in order
        self._rates: dict[int, list[tuple[int, float]]] = {}  # (tokens, seconds) of each trial step
        self._since_trial = 0
        self._retry = RETRY_EVERY
        self._chosen_rate = 0.0
        self._window: list[tuple[int, float]] = []  # (tokens, seconds) of the last steps
        self.history: list[tuple[int, dict[int, float]]] = []  # (steps so far, rate per count) per trial
        self._steps = 0
        self._warming = WARM_STEPS if self.enabled else 0
        if fixed:
            torch.set_num_threads(fixed)
        if self.enabled:
            self._start_trial()

    def _start_trial(self) -> None:
        self._trial = [c for _ in range(TRIAL_STEPS) for c in self.choices]
        self._rates = {c: [] for c in self.choices}  # (tokens, seconds) of each trial step
        self._window.clear()

    def restore(self) -> None:
        """Give PyTorch back the thread count it had before this tuner (call when training ends)."""
        if torch.get_num_threads() != self.initial:
            torch.set_num_threads(self.initial)

    def before_step(self) -> None:
        if not self.enabled:
            return
        count = min(self.choices) if self._warming else self._next_in_trial() if self._trial else self.chosen
        if torch.get_num_threads() != count:
            torch.set_num_threads(count)

    def _next_in_trial(self) -> int:
        """The count to try next: the one with the fewest tokens measured so far, among those with steps left.

        So every count runs about the same tokens in as many steps. Taken in turn instead, the counts got
        batches of different lengths, and a step's rate follows its length (a fixed cost per step): on
        SST-2, two threads drew 103-688 tokens a step where one thread drew 352-1,128, measured no faster,
        and one thread was kept for 300 steps (2 of 3 runs of `train`) where two were 1.5x faster.
        """
        left = dict.fromkeys(self._trial)  # in trial order, which breaks ties
        return min(left, key=lambda c: sum(t for t, _ in self._rates[c]))

    def after_step(self, tokens: int, seconds: float) -> None:
        if not self.enabled:
            return
        self._steps += 1
        if self._warming:
            self._warming -= 1
            return
        count = torch.get_num_threads()
        if self._trial:
            if count not in self._trial:  # set behind the tuner's back since before_step: not measured, but the
                self._trial.pop(0)  # trial moves on all the same, so it always ends
                return
            self._trial.remove(count)
            self._rates[count].append((tokens, seconds))
            if all(self._rates.values()):
                measured = {c: _rate(steps) for c, steps in self._rates.items()}
                best = max(measured.values())
                slow = {c for c, rate in measured.items() if rate < CLEAR_LOSS * best}
                self._trial = [c for c in self._trial if c not in slow]
            if not self._trial:
                rates = {c: _trimmed_rate(steps) for c, steps in self._rates.items()}
                best = max(rates.values())
                previous, self.chosen = self.chosen, min(c for c, rate in rates.items() if rate * FEWER_WITHIN >= best)
                runner_up = sorted(rates.values())[-2] if len(rates) > 1 else 0.0
                if not self.history and runner_up * CLOSE_CALL >= best:
                    self._retry = FIRST_RETRY
                elif self.chosen == previous and len(self.history) > 1:
                    self._retry = min(2 * self._retry, MAX_RETRY)
                else:
                    self._retry = RETRY_EVERY
                self._chosen_rate = rates[self.chosen]
                self._since_trial = 0
                self.history.append((self._steps, rates))
            return
        self._since_trial += 1
        self._window.append((tokens, seconds))
        if len(self._window) > WINDOW:
            self._window.pop(0)
        rate = _rate(self._window)
        # slower: more load, which never favours more threads, so on the fewest already there is nothing to try
        slowed = len(self._window) == WINDOW and rate < SLOWDOWN * self._chosen_rate and self.chosen > min(self.choices)
        if self._since_trial >= self._retry or slowed:
            self._start_trial()


def _rate(steps: list[tuple[int, float]]) -> float:
    """Tokens per second over ``steps`` of (tokens, seconds)."""
    return sum(t for t, _ in steps) / max(sum(s for _, s in steps), 1e-9)


def _trimmed_rate(steps: list[tuple[int, float]]) -> float:
    """``_rate`` without the slowest step (by its own rate) when there are three or more.

    One step can be slowed by something that has nothing to do with its thread count: in the app, the
    GUI thread repainting the plots (9 ms) during a 15 ms step. Ten trial steps are 0.15 s on SST-2, so
    one such step can decide a trial. Training an SST-2 LSTM from the window, trials that kept one thread
    for 300 steps or more, where two were 1.2-1.6x faster, came in 5 of 8 runs without the trim and in
    none of 2 with it (a small sample). The step left out is usually the shortest batch, whose rate is
    lowest for its fixed cost; in a simulation (a fixed cost per step, two threads 1.26x faster on the
    work, batches of 50-1,300 tokens) the faster count won 350 of 400 trials with it and 330 without,
    and 321 against 320 with one step in ten slowed by 9 ms; dropping the step furthest above a line
    fitted through the count's steps did no better (328 in both). A load that slows a count for real
    slows every one of its steps.
    """
    if len(steps) < 3:
        return _rate(steps)
    worst = min(range(len(steps)), key=lambda i: steps[i][0] / max(steps[i][1], 1e-9))
    return _rate(steps[:worst] + steps[worst + 1:])
