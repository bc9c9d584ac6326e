"""Trainer: plain-data events, pause and cancel from another thread, early stopping, reproducibility."""

from __future__ import annotations

import dataclasses
import math
import threading
import time

import numpy as np
import pytest
import torch

from core.config import ModelConfig, TrainConfig
from core.device import choose_device
from core.errors import StudioError, TrainingError
from core.events import EpochEvent, FinishedEvent, PhaseEvent, StepEvent, TaskControl, run_to_end
from core.model.classifier import build_classifier
from core.model.events import ModelDone
from core.text.batching import EncodedSplit, bucketed_order, collate
from core.train.pipeline import train_model
from core.train.trainer import Trainer

SMALL = ModelConfig(kind="lstm", embed_dim=16, hidden_size=16, dropout=0.1)


def _events(gen):
    """(events up to the FinishedEvent, the trained model): a pipeline's last event is its ModelDone."""
    events = []
    done = run_to_end(gen, events.append)
    assert isinstance(done, ModelDone) and isinstance(events[-2], FinishedEvent)
    return events[:-1], done.model


def _plain(value) -> bool:
    """Only plain Python data and numpy: no tensors, no modules."""
    if isinstance(value, torch.Tensor | torch.nn.Module):
        return False
    if dataclasses.is_dataclass(value):
        return all(_plain(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, str | int | float | bool | np.ndarray | np.generic)


def test_events_are_plain_data_and_complete(tiny_dataset):
    events, model = _events(train_model(tiny_dataset, SMALL, TrainConfig(epochs=2, batch_size=16, device="cpu")))
    assert all(_plain(e) for e in events)
    steps = [e for e in events if isinstance(e, StepEvent)]
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert len(epochs) == 2 and len(steps) == 2 * math.ceil(200 / 16)
    assert all(math.isfinite(s.loss) and s.grad_norm >= 0 and s.tokens_per_s > 0 and s.learning_rate > 0 for s in steps)
    assert [s.global_step for s in steps] == list(range(1, len(steps) + 1))
    fin = events[-1]
    assert isinstance(fin, FinishedEvent) and not fin.cancelled
    assert fin.test is not None and fin.test.count == 40
    assert np.array(fin.test.confusion).sum() == 40
    assert sum(b.count for b in fin.test.by_length) == 40
    assert fin.num_parameters == model.classifier.num_parameters() > 0
    assert any(isinstance(e, PhaseEvent) for e in events)


@pytest.mark.parametrize("max_steps", [5, 13 + 4])  # inside the first epoch (13 steps), inside the second
def test_max_steps_stops_there_then_validates_and_tests(tiny_dataset, max_steps):
    config = TrainConfig(epochs=5, batch_size=16, device="cpu", max_steps=max_steps)
    events, _ = _events(train_model(tiny_dataset, SMALL, config))
    steps = [e for e in events if isinstance(e, StepEvent)]
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert [s.global_step for s in steps] == list(range(1, max_steps + 1))
    assert all(s.total_steps == max_steps for s in steps)  # progress bars end where training does
    assert len(epochs) == math.ceil(max_steps / 13)  # the epoch cut short is validated too
    fin = events[-1]
    assert fin.stopped_early and not fin.cancelled and fin.epochs_run == len(epochs) and fin.test.count == 40


def test_learns_the_tiny_task(tiny_model):
    assert tiny_model.record.test.accuracy >= 0.9
    preds = tiny_model.predict(["the film was great", "the film was awful"])
    assert [p.label for p in preds] == ["positive", "negative"]


def test_same_seed_same_loss_curve(tiny_dataset):
    cfg = TrainConfig(epochs=1, batch_size=16, device="cpu", seed=3)
    a = [e.loss for e in _events(train_model(tiny_dataset, SMALL, cfg))[0] if isinstance(e, StepEvent)]
    b = [e.loss for e in _events(train_model(tiny_dataset, SMALL, cfg))[0] if isinstance(e, StepEvent)]
    c = [e.loss for e in _events(train_model(tiny_dataset, SMALL, dataclasses.replace(cfg, seed=4)))[0]
         if isinstance(e, StepEvent)]
    assert a == b
    assert a != c


def test_cancel_from_another_thread_stops_within_one_batch(tiny_dataset):
    control = TaskControl()
    gen = train_model(tiny_dataset, SMALL, TrainConfig(epochs=50, batch_size=8, device="cpu"), control=control)
    steps_after_cancel = []
    events = []

    def consume():
        for e in gen:
            events.append(e)
            if control.cancelled and isinstance(e, StepEvent):
                steps_after_cancel.append(e)

    worker = threading.Thread(target=consume)
    worker.start()
    while not any(isinstance(e, StepEvent) for e in events):
        time.sleep(0.005)
    t0 = time.perf_counter()
    control.cancel()
    worker.join(5)
    assert not worker.is_alive()
    assert time.perf_counter() - t0 < 1.0
    assert len(steps_after_cancel) <= 1  # at most the batch that was already running
    fin = events[-2]
    assert isinstance(fin, FinishedEvent) and fin.cancelled and fin.test is None and isinstance(events[-1], ModelDone)


def test_pause_blocks_and_resume_continues(tiny_dataset):
    control = TaskControl()
    gen = train_model(tiny_dataset, SMALL, TrainConfig(epochs=2, batch_size=16, device="cpu"), control=control)
    steps = []
    done = threading.Event()

    def consume():
        for e in gen:
            if isinstance(e, StepEvent):
                steps.append(e)
                if len(steps) == 2:
                    control.pause()
        done.set()

    threading.Thread(target=consume, daemon=True).start()
    while len(steps) < 2:
        time.sleep(0.005)
    time.sleep(0.3)
    assert len(steps) == 2 and control.paused  # no batch ran while paused
    control.resume()
    assert done.wait(30)
    assert len(steps) == 2 * math.ceil(200 / 16)


def test_cancel_while_paused_ends_the_run(tiny_dataset):
    control = TaskControl()
    control.pause()
    events = []
    t = threading.Thread(target=lambda: events.extend(train_model(
        tiny_dataset, SMALL, TrainConfig(epochs=2, device="cpu"), control=control)))
    t.start()
    time.sleep(0.3)
    control.cancel()
    t.join(5)
    assert not t.is_alive() and events[-2].cancelled and events[-1].model.record.finished.cancelled


def test_early_stopping_restores_the_best_weights(tiny_dataset):
    # a huge learning rate makes validation get worse after the first epoch
    cfg = TrainConfig(epochs=8, batch_size=16, device="cpu", patience=2, learning_rate=0.5, grad_clip=1e6)
    events, model = _events(train_model(tiny_dataset, SMALL, cfg))
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    fin = events[-1]
    best = max(epochs, key=lambda e: (e.val_accuracy, -e.val_loss))
    assert fin.best_epoch == best.epoch
    if fin.stopped_early:
        assert len(epochs) < 8
    # the restored model scores exactly the best epoch's validation accuracy
    assert model.evaluate(tiny_dataset["validation"]).accuracy == pytest.approx(best.val_accuracy)


def test_gradient_clipping_bounds_the_update(tiny_dataset):
    from core.model.sentiment_model import encode_split
    from core.text.tokenizer import TextTokenizer

    tok = TextTokenizer.train(tiny_dataset["train"].texts)
    split = encode_split(tok, tiny_dataset["train"])
    model = build_classifier(ModelConfig(kind="rnn", vocab_size=tok.vocab_size, embed_dim=8, hidden_size=8), 0)
    trainer = Trainer(model, TrainConfig(grad_clip=0.01, device="cpu", learning_rate=1e-3))
    gen = trainer.fit(split, split)
    step = next(e for e in gen if isinstance(e, StepEvent))
    assert step.grad_norm > 0.01  # reported before clipping
    total = torch.sqrt(sum((p.grad.detach() ** 2).sum() for p in model.parameters() if p.grad is not None))
    assert float(total) <= 0.01 * 1.01


def test_nan_loss_is_reported_with_its_step(tiny_dataset):
    cfg = TrainConfig(epochs=1, batch_size=16, device="cpu")
    gen = train_model(tiny_dataset, SMALL, cfg)
    with pytest.raises(TrainingError, match=r"loss became nan at epoch 1, step 1"):
        for e in gen:
            if isinstance(e, PhaseEvent) and e.phase == "training":
                # poison the weights once the model exists
                frame = gen.gi_frame.f_locals
                with torch.no_grad():
                    frame["classifier"].head.weight.fill_(float("nan"))


def test_batches_are_bucketed_and_cover_every_text():
    lengths = np.random.default_rng(0).integers(1, 200, size=1000)
    batches = bucketed_order(lengths, 32, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    padded = sum(len(b) * lengths[b].max() for b in batches)
    assert padded / lengths.sum() < 1.1  # under 10% padding
    split = EncodedSplit.from_ragged([np.arange(1, n + 1) for n in lengths], np.zeros(1000, np.int64))
    batch = collate(split, batches[0], torch.device("cpu"))
    assert (batch.lengths[:-1] >= batch.lengths[1:]).all()
    row = batch.index[0]
    assert batch.ids[0, : lengths[row]].tolist() == list(range(1, lengths[row] + 1))


def test_device_choice():
    assert choose_device("cpu").type == "cpu"
    auto = choose_device("auto")
    assert auto.type == ("cuda" if torch.cuda.is_available() else auto.type)
    if not torch.cuda.is_available():
        with pytest.raises(StudioError, match="CUDA"):
            choose_device("cuda")
    with pytest.raises(StudioError, match="unknown device"):
        choose_device("tpu9")


def test_warm_up_leaves_the_global_random_stream_alone():
    """The app warms PyTorch up in the background; a training running meanwhile must stay reproducible."""
    from core.train.warmup import warm_up

    before = torch.random.get_rng_state().clone()
    warm_up()
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize(
    "error",
    [torch.OutOfMemoryError("CUDA out of memory"), RuntimeError("DefaultCPUAllocator: can't allocate memory"),
     MemoryError()],
)
def test_out_of_memory_suggests_a_smaller_setting(tiny_dataset, monkeypatch, error):
    from core.model.classifier import SentimentClassifier

    def explode(self, ids, lengths):
        raise error

    monkeypatch.setattr(SentimentClassifier, "forward", explode)
    with pytest.raises(TrainingError, match=r"out of memory at epoch 1, step 1: lower the batch size"):
        run_to_end(train_model(tiny_dataset, SMALL, TrainConfig(epochs=1, device="cpu")))


def test_other_runtime_errors_are_not_called_out_of_memory(tiny_dataset, monkeypatch):
    from core.model.classifier import SentimentClassifier

    def broken(self, ids, lengths):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(SentimentClassifier, "forward", broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        run_to_end(train_model(tiny_dataset, SMALL, TrainConfig(epochs=1, device="cpu")))


@pytest.mark.parametrize("max_norm", [1e-3, 1e6, "nan"])  # clipped; not clipped; a gradient gone bad
def test_clipping_scales_only_when_over_the_norm_and_matches_pytorch(max_norm, monkeypatch):
    from core.train.trainer import clip_gradients

    def gradients(clip, limit):
        model = build_classifier(dataclasses.replace(SMALL, vocab_size=50, num_classes=2), 0)
        model.eval()  # no dropout: both sides get the same gradients
        logits = model(torch.tensor([[2, 3, 4, 5], [6, 7, 0, 0]]), torch.tensor([4, 2]))
        torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
        if bad:
            model.head.bias.grad[0] = math.nan
        norm = clip(model.parameters() if clip is torch.nn.utils.clip_grad_norm_ else model, limit)
        return float(norm), [p.grad.clone() for p in model.parameters()]

    bad = max_norm == "nan"
    limit = 5.0 if bad else max_norm
    theirs = gradients(torch.nn.utils.clip_grad_norm_, limit)
    scaled = []
    real = torch.nn.utils.clip_grads_with_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grads_with_norm_", lambda *a, **k: scaled.append(1) or real(*a, **k))
    ours = gradients(clip_gradients, limit)
    assert len(scaled) == (0 if limit == 1e6 else 1)  # a pass over the gradients only where it changes them
    assert ours[0] == pytest.approx(theirs[0], rel=1e-6, nan_ok=True)
    for a, b in zip(ours[1], theirs[1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-9, equal_nan=True)
    if limit < 1:  # clipped: the gradients now have the norm asked for
        assert float(torch.nn.utils.get_total_norm(ours[1])) == pytest.approx(limit, rel=1e-4)


def test_the_trainer_uses_the_fused_optimizer(monkeypatch, tiny_dataset):
    import core.train.trainer

    made = []
    real = torch.optim.AdamW
    monkeypatch.setattr(core.train.trainer.torch.optim, "AdamW", lambda *a, **k: made.append(k) or real(*a, **k))
    run_to_end(train_model(tiny_dataset, SMALL, TrainConfig(epochs=1, max_steps=2, device="cpu")))
    assert made and made[-1]["fused"] is True
    model = build_classifier(dataclasses.replace(SMALL, vocab_size=50, num_classes=2), 0)
    assert not core.train.trainer.adamw(model, torch.device("mps"), lr=1e-3).defaults["fused"]  # untried: the default
