"""Training under torchrun: two CPU processes (gloo) train one model; one file, one summary; a dead rank
stops the other."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import headless

from core.distributed import World, shard

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = Path(sys.executable).with_name("torchrun")
DATA = "builtin:longrange?n=600&gap=2-8"
SMALL = ["--embed-dim", "16", "--hidden-size", "16", "--device", "cpu", "--no-record"]

needs_torchrun = pytest.mark.skipif(not TORCHRUN.is_file() or sys.platform == "win32",
                                    reason="torchrun is not installed beside this Python")


def torchrun(*args: str, env_extra: dict[str, str] | None = None, **kwargs) -> subprocess.Popen:
    env = headless({**os.environ, "PYTHONUNBUFFERED": "1", **(env_extra or {})})
    return subprocess.Popen([str(TORCHRUN), "--standalone", "--nproc_per_node=2", str(ROOT / "main.py"), *args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **kwargs)


def test_each_rank_takes_every_other_batch_and_the_same_count():
    batches = [np.array([i]) for i in range(7)]
    one, two = World(2, 0, 0, "gloo"), World(2, 1, 0, "gloo")
    assert [int(b[0]) for b in shard(batches, one)] == [0, 2, 4]
    assert [int(b[0]) for b in shard(batches, two)] == [1, 3, 5]  # the 7th is left out: equal step counts
    assert shard(batches, World()) is batches


@pytest.mark.subprocess
@needs_torchrun
def test_two_processes_train_one_model_and_write_one_file(main_py, tmp_path):
    out = tmp_path / "m.safetensors"
    run = torchrun("train", "--data", DATA, "--model", "gru", "--out", str(out), "--epochs", "2", *SMALL)
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr.decode()[-3000:]
    (line,) = stdout.decode().splitlines()  # one summary: rank 0's
    summary = json.loads(line)
    assert summary["world_size"] == 2 and summary["out"] == str(out) and 0 <= summary["test_accuracy"] <= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # one file, no checkpoints left
    assert stderr.decode().count("saved ") == 1 and "process 1 of 2, gloo" in stderr.decode()
    info = main_py("info", str(out), text=True)
    meta = json.loads(info.stdout)
    assert meta["info"]["world_size"] == 2 and meta["info"]["backend"] == "gloo"
    # both ranks ended with the same weights: the trainer compares them and refuses the model otherwise.
    # The scores gathered from the two ranks' shares equal one process scoring the saved model:
    for split in ("validation", "test"):
        r = main_py("evaluate", str(out), "--data", DATA, "--split", split, text=True)
        alone = json.loads(r.stdout)
        assert alone["accuracy"] == pytest.approx(meta["metrics"][split]["accuracy"], abs=1e-9), split
        assert alone["loss"] == pytest.approx(meta["metrics"][split]["loss"], rel=1e-4), split


@pytest.mark.subprocess
@needs_torchrun
def test_two_processes_tokenize_a_large_file_once_and_share_it(main_py, tmp_path):
    """Data left on disk (the Arrow path, forced here for a small file) under torchrun: rank 0 converts the
    file, learns the vocabulary and writes the ids column first (``wait_for_preparation``), the other rank
    then uses them; training ends, and the gathered scores equal one process scoring the saved model (whose
    small test split is tokenized directly, not from the column: the same ids either way)."""
    data = tmp_path / "reviews.csv"
    words = ["good", "bad", "film", "plot", "great", "awful", "the", "a"]
    rng = np.random.default_rng(0)
    data.write_text("text,label\n" + "".join(f"{' '.join(rng.choice(words, 6))},{i % 2}\n" for i in range(800)))
    env = {"SENTIMENT_STUDIO_ARROW_MB": "0", "HF_DATASETS_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "m.safetensors"
    run = torchrun("train", "--data", str(data), "--out", str(out), "--max-steps", "12", *SMALL, env_extra=env)
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 0, stderr.decode()[-3000:]
    assert json.loads(stdout.decode().splitlines()[-1])["world_size"] == 2
    cache = tmp_path / "cache"
    assert len(list(cache.rglob("cache-*.arrow"))) == 1  # one ids column, one vocabulary: both ranks' keys agree
    assert len(list(cache.rglob("sentiment-studio-vocabulary-*.json"))) == 1
    meta = json.loads(main_py("info", str(out), text=True).stdout)
    r = main_py("evaluate", str(out), "--data", str(data), text=True, env={**os.environ, **env})
    assert json.loads(r.stdout)["accuracy"] == pytest.approx(meta["metrics"]["test"]["accuracy"], abs=1e-9)


def test_more_processes_than_batches_is_refused(tiny_dataset, monkeypatch):
    from core.config import ModelConfig, TrainConfig
    from core.errors import SettingError
    from core.events import run_to_end
    from core.train import trainer as trainer_module
    from core.train.pipeline import train_model

    monkeypatch.setattr(trainer_module.distributed, "current", lambda: World(4, 0, 0, "gloo"))
    config = TrainConfig(epochs=1, batch_size=128, device="cpu")  # 200 texts: 2 batches for 4 processes
    with pytest.raises(SettingError, match="fewer batches of 128 than the 4 processes"):
        run_to_end(train_model(tiny_dataset, ModelConfig(embed_dim=8, hidden_size=8), config))


@pytest.mark.subprocess
@needs_torchrun
def test_a_rank_that_dies_stops_the_other_soon(tmp_path):
    run = torchrun("train", "--data", "builtin:longrange?n=20000&gap=20-60", "--model", "lstm", "--epochs", "50",
                   "--out", str(tmp_path / "m.safetensors"), *SMALL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:  # torchrun's two workers
            time.sleep(0.5)
            found = subprocess.run(["pgrep", "-P", str(run.pid)], capture_output=True, text=True).stdout.split()
            workers = [int(p) for p in found]
        assert len(workers) == 2, "torchrun did not start two workers"
        time.sleep(8)  # into training
        os.kill(max(workers), signal.SIGKILL)
        killed = time.monotonic()
        _, stderr = run.communicate(timeout=120)
        assert time.monotonic() - killed < 60
        assert run.returncode != 0
        assert not (tmp_path / "m.safetensors").exists()
        assert "FAILED" in stderr.decode() or "stopped" in stderr.decode()
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()


def test_ranks_with_different_weights_are_told_apart_and_only_group_failures_are_blamed_on_peers(monkeypatch):
    from core import distributed

    world = World(2, 0, 0, "gloo")
    monkeypatch.setattr(distributed, "gather_rows", lambda rows, w: [rows, rows + 1.0])  # rank 1 holds another value
    assert not distributed.all_equal(3.0, world)
    monkeypatch.setattr(distributed, "gather_rows", lambda rows, w: [rows, rows.copy()])
    assert distributed.all_equal(3.0, world)
    assert distributed.all_sum(np.array([1.0, 2.0]), world).tolist() == [2.0, 4.0]
    assert distributed.is_transport_failure(RuntimeError("[gloo/transport/tcp/pair.cc:537] Connection reset by peer"))
    assert not distributed.is_transport_failure(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
