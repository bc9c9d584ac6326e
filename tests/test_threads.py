"""The thread tuner: picks the faster count by measured tokens/s, tries again when the speed drops."""

from __future__ import annotations

import pytest
import torch

from core import threads
from core.threads import ThreadTuner

TRIAL = 2 * threads.TRIAL_STEPS  # steps of a trial of two counts
FIRST_TRIAL = threads.WARM_STEPS + TRIAL  # the first one comes after the unmeasured warm step


@pytest.fixture(autouse=True)
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def run(tuner: ThreadTuner, steps: int, seconds_per_count: dict[int, float]) -> list[int]:
    """Drive ``steps`` steps of 1,000 tokens whose time depends on the thread count in use."""
    used = []
    for _ in range(steps):
        tuner.before_step()
        count = torch.get_num_threads()
        used.append(count)
        tuner.after_step(1000, seconds_per_count[count])
    return used


def test_it_keeps_the_faster_count_and_switches_when_the_load_changes(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    tuner = ThreadTuner(choices=[2, 1])
    idle = {2: 0.010, 1: 0.016}
    used = run(tuner, FIRST_TRIAL, idle)
    assert sorted(set(used)) == [1, 2] and tuner.chosen == 2  # tried both, kept the faster
    assert run(tuner, 50, idle) == [2] * 50
    loaded = {2: 0.040, 1: 0.017}  # another program took a core: two threads now wait at every barrier
    used = run(tuner, threads.WINDOW + TRIAL + 10, loaded)
    assert tuner.chosen == 1 and used[-10:] == [1] * 10
    assert len(tuner.history) == 2 and tuner.history[-1][1][1] > tuner.history[-1][1][2]


def test_a_fixed_count_is_kept(monkeypatch):
    monkeypatch.setenv(threads.ENV, "1")
    tuner = ThreadTuner(choices=[2, 1])
    assert not tuner.enabled and torch.get_num_threads() == 1
    assert run(tuner, 5, {1: 0.01, 2: 0.001}) == [1] * 5


def test_it_retries_after_a_while_even_without_a_slowdown(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    tuner = ThreadTuner(choices=[2, 1])
    speeds = {2: 0.010, 1: 0.013}  # two threads 1.3x faster: a close call, checked again soon
    run(tuner, FIRST_TRIAL + threads.FIRST_RETRY + TRIAL, speeds)
    assert len(tuner.history) == 2  # the first is checked soon: it ran while PyTorch was still setting up
    run(tuner, threads.RETRY_EVERY - 1, speeds)
    assert len(tuner.history) == 2
    run(tuner, 1 + TRIAL, speeds)
    assert len(tuner.history) == 3 and tuner.chosen == 2


def test_a_clearly_slower_count_is_tried_once_per_trial(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    tuner = ThreadTuner(choices=[2, 1])
    used = run(tuner, FIRST_TRIAL, {2: 0.05, 1: 0.01})  # two threads 5x slower: a core is taken
    assert used.count(2) == 1 and tuner.chosen == 1 and len(tuner.history) == 1


def test_a_trial_that_changes_nothing_doubles_the_wait_before_the_next(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    tuner = ThreadTuner(choices=[2, 1])
    speeds = {2: 0.010, 1: 0.013}
    run(tuner, FIRST_TRIAL + threads.FIRST_RETRY + TRIAL + threads.RETRY_EVERY + TRIAL, speeds)
    assert len(tuner.history) == 3  # the early check and the periodic retrial came, and kept two threads
    run(tuner, 2 * threads.RETRY_EVERY - 1, speeds)
    assert len(tuner.history) == 3  # the next one waits twice as long
    run(tuner, 1 + TRIAL, speeds)
    assert len(tuner.history) == 4


def test_the_first_steps_set_up_costs_are_not_measured(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    tuner = ThreadTuner(choices=[2, 1])
    used = []
    for step in range(FIRST_TRIAL):
        tuner.before_step()
        count = torch.get_num_threads()
        used.append(count)
        seconds = 0.060 if step == 0 else {2: 0.010, 1: 0.016}[count]  # PyTorch's one-off set-up
        tuner.after_step(1000, seconds)
    assert used[0] == 1  # on the count that is never slow under load
    assert tuner.chosen == 2 and len(tuner.history) == 1
    assert [len(tuner._rates[c]) for c in (2, 1)] == [threads.TRIAL_STEPS] * 2  # the set-up step is in neither
    assert max(s for c in (2, 1) for _, s in tuner._rates[c]) < 0.06


def test_one_step_slowed_by_something_else_does_not_decide_a_trial(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    tuner = ThreadTuner(choices=[2, 1])
    seen = {2: 0}
    for _ in range(FIRST_TRIAL):
        tuner.before_step()
        count = torch.get_num_threads()
        seconds = {2: 0.010, 1: 0.015}[count]
        if count == 2 and tuner._trial:
            seen[2] += 1
            if seen[2] == 3:
                seconds = 0.040  # the GUI thread repainted during this step
        tuner.after_step(1000, seconds)
    assert tuner.chosen == 2  # without the trim: 5,000 tokens in 0.080 s, under one thread's 0.075 s


def test_a_trial_gives_each_count_the_same_work(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    per_token = {2: 0.00001, 1: 0.000015}  # two threads 1.5x faster on the work, the same fixed cost a step
    lengths = [250, 250, 1050, 650, 800, 800, 950, 100, 650, 250, 550]  # tokens of the first batches

    def trial() -> tuple[int, dict[int, int]]:
        tuner = ThreadTuner(choices=[2, 1])
        work = {1: 0, 2: 0}
        for step, tokens in enumerate(lengths):
            tuner.before_step()
            count = torch.get_num_threads()
            work[count] += tokens if step >= threads.WARM_STEPS else 0
            tuner.after_step(tokens, 0.006 + per_token[count] * tokens)
        return tuner.chosen, work

    assert len(lengths) == FIRST_TRIAL
    chosen, work = trial()  # the tuner evens the work out
    assert chosen == 2 and abs(work[1] - work[2]) <= max(lengths)
    monkeypatch.setattr(ThreadTuner, "_next_in_trial", lambda self: self._trial[0])
    chosen, work = trial()  # taken in turn: two threads drew 2,050 tokens, one thread 4,000, and lost
    assert chosen == 1 and work[1] > 1.5 * work[2]


def test_a_clear_first_choice_is_not_checked_soon_and_a_slowdown_on_one_thread_tries_nothing(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    tuner = ThreadTuner(choices=[2, 1])
    loaded = {2: 0.300, 1: 0.015}  # two busy programs: a step at two threads costs 20x
    used = run(tuner, threads.WARM_STEPS + 1 + threads.TRIAL_STEPS, loaded)  # two threads dropped after one step
    assert tuner.chosen == 1 and used.count(2) == 1 and len(tuner.history) == 1
    heavier = {2: 0.600, 1: 0.040}  # more load still: one thread slows to well under 0.6x of its rate
    used = run(tuner, threads.FIRST_RETRY + threads.WINDOW + 10, heavier)
    assert used.count(2) == 0 and len(tuner.history) == 1  # no early check, and nothing to try on one thread
    used = run(tuner, threads.RETRY_EVERY, heavier)
    assert used.count(2) == 1 and len(tuner.history) == 2  # the periodic trial still looks


def test_fewer_threads_win_a_near_tie(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    tuner = ThreadTuner(choices=[2, 1])
    run(tuner, FIRST_TRIAL, {2: 0.0100, 1: 0.0105})  # two threads 5% faster: not worth a core
    assert tuner.chosen == 1


def test_the_candidates_follow_pytorchs_own_count():
    torch.set_num_threads(1)  # as OMP_NUM_THREADS=1 or a one-CPU affinity mask leaves it
    assert threads.candidates() == [1] and not ThreadTuner().enabled
    assert threads.candidates(4) == [4, 2, 1]


def test_training_tunes_every_step_and_gives_the_count_back(monkeypatch):
    import core.train.trainer
    from core.config import ModelConfig, TrainConfig
    from core.data import load_dataset
    from core.events import StepEvent, run_to_end
    from core.train.pipeline import train_model

    monkeypatch.delenv(threads.ENV, raising=False)
    made = []

    class Recording(ThreadTuner):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, choices=[2, 1], **kwargs)
            self.steps = 0
            made.append(self)

        def after_step(self, tokens: int, seconds: float) -> None:
            self.steps += 1
            super().after_step(tokens, seconds)

    monkeypatch.setattr(core.train.trainer, "ThreadTuner", Recording)
    torch.set_num_threads(2)
    dataset = load_dataset("builtin:reviews?n=200")
    steps = []
    run_to_end(train_model(dataset, ModelConfig(hidden_size=8), TrainConfig(epochs=3, device="cpu")),
               lambda e: steps.append(e) if isinstance(e, StepEvent) else None)
    assert made[-1].steps == len(steps) > 0 and made[-1].history  # it measured, and chose
    assert torch.get_num_threads() == 2  # given back, whatever it chose
    events = train_model(dataset, ModelConfig(hidden_size=8), TrainConfig(epochs=2, device="cpu"))
    for event in events:  # stopped mid-training (a cancel that drops the generator)
        if isinstance(event, StepEvent):
            torch.set_num_threads(1)
            break
    events.close()
    assert torch.get_num_threads() == 2
