"""Headless orchestration (no Qt): training several models side by side, run progress, scoring them."""

from __future__ import annotations

import pytest

from core.classifier import ModelConfig
from core.data import load_dataset
from core.events import StepEvent, TaskControl, run_to_end
from core.pipeline import ModelDone, ModelEvent, train_models
from core.progress import estimate_left_s, format_duration
from core.tokenizer import TokenizerConfig
from core.trainer import TrainConfig


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


