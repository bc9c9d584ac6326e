"""Headless orchestration (no Qt): training several models side by side, run progress, scoring them."""

from __future__ import annotations

import pytest

from core.config import ModelConfig, TokenizerConfig, TrainConfig
from core.data import load_dataset
from core.events import StepEvent, TaskControl, run_to_end
from core.model.events import ModelDone, ModelEvent
from core.train.pipeline import train_models
from core.train.progress import TrainingProgress, estimate_left_s, format_duration


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("builtin:longrange?n=600&gap=2-8")


def test_time_left_and_durations():
    step = StepEvent(1, 50, 100, 50, 200, 0.5, 1.0, 1e-3, 1000.0, elapsed_s=10.0)
    assert estimate_left_s(step, models_after=0) == pytest.approx(30.0)
    assert estimate_left_s(step, models_after=1) == pytest.approx(70.0)
    assert estimate_left_s(step, models_after=0, paused_s=5.0) == pytest.approx(15.0)
    assert estimate_left_s(step, models_after=1, later_per_step=0.5) == pytest.approx(130.0)
    assert [format_duration(s) for s in (0, 42, 725, 3723)] == ["0:00", "0:42", "12:05", "1:02:03"]


def test_train_models_tags_events_and_shares_one_tokenizer(dataset):
    plan = [(kind.upper(), ModelConfig(kind=kind, embed_dim=8, hidden_size=8)) for kind in ("lstm", "rnn")]
    items = []
    last = run_to_end(
        train_models(dataset, plan, TrainConfig(epochs=1, device="cpu"), TokenizerConfig(), TaskControl()),
        items.append,
    )
    assert isinstance(last, ModelDone) and last.name == "RNN"
    done = [i for i in items if isinstance(i, ModelDone)]
    assert [d.name for d in done] == ["LSTM", "RNN"]
    assert done[0].model.tokenizer is done[1].model.tokenizer
    steps = [i for i in items if isinstance(i, ModelEvent) and isinstance(i.event, StepEvent)]
    assert {i.name for i in steps} == {"LSTM", "RNN"} and {i.kind for i in steps} == {"lstm", "rnn"}




def test_run_progress_follows_the_events_of_two_models(dataset):
    plan = [(kind.upper(), ModelConfig(kind=kind, embed_dim=8, hidden_size=8)) for kind in ("lstm", "rnn")]
    progress = TrainingProgress([(n, c.kind) for n, c in plan])
    assert progress.describe() == ("Preparing: starting…", 0)
    started, seen_second_half = [], False
    for item in train_models(dataset, plan, TrainConfig(epochs=2, device="cpu"), TokenizerConfig(), TaskControl()):
        if progress.update(item):
            started.append(item.name)
        text, value = progress.describe()
        if started == ["LSTM", "RNN"] and progress.last_step is not None:
            assert text.startswith("RNN (2/2) · epoch ") and "left" in text and 500 <= value <= 1000
            seen_second_half = True
    assert started == ["LSTM", "RNN"] and seen_second_half
    assert set(progress.results) == {"LSTM", "RNN"} and "validation accuracy" in progress.summary()
    progress.pause()
    assert progress.describe()[0].startswith("Paused")
    progress.cancel()
    assert progress.describe()[0].startswith("Cancelling")


def test_a_cancel_drops_the_half_trained_model_and_keeps_the_finished_one(dataset):
    plan = [(kind.upper(), ModelConfig(kind=kind, embed_dim=8, hidden_size=8)) for kind in ("lstm", "rnn")]
    control = TaskControl()
    done = []
    for item in train_models(dataset, plan, TrainConfig(epochs=50, device="cpu"), TokenizerConfig(), control):
        if isinstance(item, ModelDone):
            done.append(item.name)
        if isinstance(item, ModelEvent) and item.name == "RNN" and isinstance(item.event, StepEvent):
            control.cancel()
    assert done == ["LSTM"]


def test_score_models_headless_keeps_a_model_it_cannot_score_with_the_reason(tiny_model, tiny_dataset):
    import copy

    from core.inspect.compare import score_models
    from core.inspect.scores import ModelScore, ScoreSkipped

    three = copy.copy(tiny_model)
    three.label_names = ["a", "b", "c"]
    rows = [e for e in score_models({"LSTM": tiny_model, "3-class": three}, tiny_dataset, "test", TaskControl())
            if isinstance(e, ModelScore | ScoreSkipped)]
    assert [type(r).__name__ for r in rows] == ["ModelScore", "ScoreSkipped"]
    assert "don't match" in rows[1].reason
    score = rows[0]
    assert score.result.accuracy == pytest.approx(tiny_model.evaluate(tiny_dataset["test"]).accuracy)
    assert score.gates.gate == "forget" and score.gradient is not None and score.by_gap == []


def test_a_model_trained_on_another_carve_is_flagged(tmp_path):
    from core.events import run_to_end
    from core.inspect.compare import carve_warning
    from core.train.pipeline import train_model

    data = tmp_path / "d.csv"
    data.write_text("text,label\n" + "".join(f"w{i} {'good' if i % 2 else 'bad'},{i % 2}\n" for i in range(200)))
    trained_on = load_dataset(str(data), split_seed=1)
    model = run_to_end(train_model(trained_on, ModelConfig(embed_dim=8, hidden_size=8),
                                   TrainConfig(epochs=1, device="cpu"))).model
    assert model.info.splits.split_seed == 1 and model.info.splits.sizes["test"] == len(trained_on["test"])
    assert carve_warning(model, trained_on) is None
    warning = carve_warning(model, load_dataset(str(data)))  # the app's default carve, seed 0
    assert "split seed 1" in warning and "training rows" in warning
