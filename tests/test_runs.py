"""The run store: runs kept across processes, interrupted runs marked, concurrent writers, bad databases."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import run_cli

import cli
from core.store.runs import SCHEMA_VERSION, RunStore, StoreError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_a_cli_training_is_kept_with_its_curves_and_model(home, tmp_path):
    code, out, err = run_cli("train", "--data", "builtin:reviews?n=200", "--out", str(tmp_path / "m.safetensors"),
                             "--epochs", "2", "--embed-dim", "8", "--hidden-size", "8", "--device", "cpu", "--quiet")
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    code, out, _ = run_cli("runs", "list", "--json")
    (row,) = json.loads(out)
    assert row["id"] == run_id and row["status"] == "finished" and row["kind"] == "lstm"
    assert row["dataset"] == "builtin:reviews?n=200" and 0 <= row["test_accuracy"] <= 1
    assert Path(row["model_path"]).is_file() and Path(row["model_path"]).parent == home / "models"
    assert row["fingerprint"]["sizes"] == {"train": 160, "validation": 20, "test": 20}
    assert row["settings"]["train"]["epochs"] == 2
    run = RunStore().get(run_id)
    assert [e["epoch"] for e in run.epochs] == [1, 2] and len(run.steps) == 10  # 5 steps an epoch
    assert run_cli("train", "--data", "builtin:reviews?n=200", "--out", str(tmp_path / "n.safetensors"), "--epochs",
                   "1", "--embed-dim", "8", "--hidden-size", "8", "--device", "cpu", "--quiet", "--no-record")[0] == 0
    assert len(RunStore().runs()) == 1
    code, out, err = run_cli("runs", "export", str(run_id), "--out", str(tmp_path / "run"))
    assert code == 0 and json.loads(out)["files"] == sorted(["epochs.csv", "run.json", Path(row["model_path"]).name,
                                                             "steps.csv"])
    epochs_csv = (tmp_path / "run" / "epochs.csv").read_text().splitlines()
    assert epochs_csv[0].startswith("epoch,train_loss") and len(epochs_csv) == 3
    assert run_cli("runs", "export", str(run_id), "--out", str(tmp_path / "run"))[0] == cli.EXIT_ERROR  # exists
    code, _, err = run_cli("runs", "delete", str(run_id))
    assert code == 0 and RunStore().runs() == [] and not Path(row["model_path"]).exists()
    code, _, err = run_cli("runs", "show", str(run_id))
    assert code == cli.EXIT_ERROR and f"there is no run {run_id}" in err


def test_a_killed_run_is_marked_interrupted_and_the_store_stays_intact(home, tmp_path):
    env = dict(os.environ, SENTIMENT_STUDIO_HOME=str(home))
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "train", "--data", "builtin:reviews?n=4000",
                             "--out", str(tmp_path / "m.safetensors"), "--epochs", "200", "--patience", "200",
                             "--device", "cpu", "--quiet"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        epochs = 0
        while time.monotonic() < deadline and epochs < 1:  # an epoch is done: its checkpoint is the run's model
            time.sleep(0.5)
            if (home / "runs.sqlite3").exists():
                with sqlite3.connect(home / "runs.sqlite3", timeout=30) as db:
                    epochs = db.execute("SELECT COUNT(*) FROM epochs").fetchone()[0]
        assert epochs >= 1
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    store = RunStore()
    (run,) = store.runs()
    assert run.status == "interrupted" and run.ended is not None and store.integrity() == "ok"
    from core.store.modelfile import load_model

    kept = load_model(run.model_path)  # the best epoch so far: at most the epoch in progress is lost
    assert kept.info.checkpoint and kept.record.checkpoint.epoch >= 1


@pytest.mark.parametrize("attempt", range(3))  # both open a store that does not exist yet: the race repeated
def test_two_processes_writing_at_once_never_corrupt_the_store(home, attempt):
    script = (
        "from core.store.runs import RunStore\n"
        "store = RunStore()\n"
        "for i in range(150):\n"
        "    rid = store.begin(name=f'w{i}', kind='lstm', dataset='d', fingerprint={}, settings={}, versions={})\n"
        "    for step in range(1, 11):\n"
        "        store.add_step(rid, step, 1, 0.5, 1.0, 10)\n"
        "    store.finish(rid, 'finished', test_accuracy=0.5)\n"
    )
    env = dict(os.environ, SENTIMENT_STUDIO_HOME=str(home), PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE) for _ in range(2)]
    for p in procs:
        assert p.wait(120) == 0, p.stderr.read().decode()
    store = RunStore()
    runs = store.runs()
    assert len(runs) == 300 and all(r.status == "finished" for r in runs) and store.integrity() == "ok"
    assert not list(home.glob("*.corrupt-*"))  # a busy store is never taken for a damaged one
    assert sum(len(store.get(r.id).steps) for r in runs[:10]) == 100


def test_a_running_run_cannot_be_deleted_and_a_stopped_one_keeps_its_best_epoch(home, tmp_path):
    store = RunStore()
    run_id = store.begin(name="x", kind="lstm", dataset="d", fingerprint={}, settings={}, versions={})
    best = store.model_file(run_id)
    best.write_bytes(b"best epoch")
    store.set_model_path(run_id, str(best))
    with pytest.raises(StoreError, match="still training"):
        store.delete(run_id)
    code, _, err = run_cli("runs", "delete", str(run_id))
    assert code == cli.EXIT_ERROR and "still training" in err
    store.finish(run_id, "cancelled")  # no model given: the best epoch stays the run's model
    assert store.get(run_id).model_path == str(best)
    store.delete(run_id)
    assert not best.exists()


def test_a_store_with_columns_from_a_newer_version_still_lists(home):
    store = RunStore()
    store.begin(name="x", kind="gru", dataset="d", fingerprint={}, settings={}, versions={})
    store.close()
    with sqlite3.connect(home / "runs.sqlite3") as db:
        db.execute("ALTER TABLE runs ADD COLUMN tags TEXT NOT NULL DEFAULT 'new'")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer = RunStore()
    assert newer.read_only and [r.name for r in newer.runs()] == ["x"]


def test_grid_mistakes_are_refused_before_anything_trains():
    from core.errors import StudioError
    from core.train.sweep import parse_grid

    for specs, needle in [(["hidden_size=8,16", "hidden_size=32"], "swept twice"),
                          (["lr=0.1", "learning_rate=0.2"], "swept twice"),
                          (["bidirectional=true,maybe"], "'maybe' is not a bool"),
                          (["hidden_size=" + ",".join(map(str, range(8, 48))), "embed_dim=" + ",".join(
                              map(str, range(8, 48)))], "1,600 combinations")]:
        with pytest.raises(StudioError, match=needle):
            parse_grid(specs)


def test_a_store_of_the_first_schema_is_migrated_with_its_runs(home):
    from core.store import run_db

    v1 = run_db._SCHEMA
    for column in ("sweep", "run_group", "test_confusion"):
        v1 = v1.replace(f",\n    {column} TEXT NOT NULL DEFAULT ''", "")
    assert "sweep" not in v1 and "run_group" not in v1
    home.mkdir(parents=True)
    with sqlite3.connect(home / "runs.sqlite3") as db:
        db.executescript(v1)
        db.execute("INSERT INTO runs (name, kind, status, started, host, pid, dataset, fingerprint, settings, "
                   "versions, test_accuracy) "
                   "VALUES ('old', 'lstm', 'finished', 1.0, 'h', 1, 'd', '{}', '{}', '{}', 0.8)")
        db.execute("PRAGMA user_version = 1")
    store = RunStore()
    (run,) = store.runs()
    assert (run.name, run.test_accuracy, run.sweep) == ("old", 0.8, None) and "from schema 1 to" in store.notes[0]
    run_id = store.begin(name="new", kind="rnn", dataset="d", fingerprint={}, settings={}, versions={},
                         sweep={"id": "s", "values": {"hidden_size": 8}})
    assert store.get(run_id).sweep == {"id": "s", "values": {"hidden_size": 8}}
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION and store.integrity() == "ok"
    store.close()
    assert RunStore().notes == []  # migrated once


def test_a_store_of_schema_2_gains_groups_and_keeps_its_runs(home):
    from core.store import run_db

    v2 = run_db._SCHEMA
    for column in ("run_group", "test_confusion"):
        v2 = v2.replace(f",\n    {column} TEXT NOT NULL DEFAULT ''", "")
    assert "sweep" in v2 and "run_group" not in v2
    home.mkdir(parents=True)
    with sqlite3.connect(home / "runs.sqlite3") as db:
        db.executescript(v2)
        db.execute("INSERT INTO runs (name, kind, status, started, host, pid, dataset, fingerprint, settings, "
                   "versions, test_accuracy, sweep) VALUES ('old', 'lstm', 'finished', 1.0, 'h', 1, 'd', '{}', '{}', "
                   "'{}', 0.8, '{\"id\": \"s\", \"values\": {}}')")
        db.execute("PRAGMA user_version = 2")
    store = RunStore()
    (run,) = store.runs()
    assert (run.name, run.sweep, run.group, run.test_confusion) == ("old", {"id": "s", "values": {}}, None, None)
    assert "from schema 2 to 3" in store.notes[0]
    group = {"id": "g", "kind": "seeds", "n": 2, "index": 1, "seed": 1}
    run_id = store.begin(name="new", kind="rnn", dataset="d", fingerprint={}, settings={}, versions={}, group=group)
    store.finish(run_id, "finished", test_accuracy=0.5, test_confusion=[[1, 1], [1, 1]])
    assert store.get(run_id).group == group and store.get(run_id).test_confusion == [[1, 1], [1, 1]]
    assert [r.id for r in store.group_runs("g")] == [run_id]
    store.close()


def test_a_newer_store_is_read_only_and_a_corrupt_one_is_moved_aside(home):
    store = RunStore()
    store.begin(name="x", kind="gru", dataset="d", fingerprint={}, settings={}, versions={})
    store.close()
    with sqlite3.connect(home / "runs.sqlite3") as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    newer = RunStore()
    assert newer.read_only and "newer Sentiment Studio" in newer.notes[0] and len(newer.runs()) == 1
    with pytest.raises(StoreError, match="read-only"):
        newer.begin(name="y", kind="gru", dataset="d", fingerprint={}, settings={}, versions={})
    newer.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{home / 'runs.sqlite3'}{suffix}").unlink(missing_ok=True)
    (home / "runs.sqlite3").write_bytes(b"this is not a database" * 100)
    fresh = RunStore()
    assert fresh.runs() == [] and "could not be read" in fresh.notes[0]
    assert len(list(home.glob("runs.sqlite3.corrupt-*"))) == 1


def test_the_apps_training_task_records_each_model_and_a_cancel(home):
    """``recorded_runs`` wraps ``train_models`` (the Train screen's task): each model is a run with its model
    file; a cancel marks the model it interrupted."""
    from core.config import ModelConfig, TokenizerConfig, TrainConfig
    from core.data import load_dataset
    from core.events import TaskControl
    from core.model.events import ModelDone
    from core.store.modelfile import load_model
    from core.store.runs import recorded_runs
    from core.train.pipeline import train_models

    dataset = load_dataset("builtin:reviews?n=200")
    plan = [("LSTM", ModelConfig(kind="lstm", embed_dim=8, hidden_size=8)),
            ("RNN", ModelConfig(kind="rnn", embed_dim=8, hidden_size=8))]
    train, tok = TrainConfig(epochs=1, device="cpu"), TokenizerConfig()
    store = RunStore()
    events = list(recorded_runs(train_models(dataset, plan, train, tok, TaskControl()), store, dataset, plan, tok,
                                train))
    done = [e for e in events if isinstance(e, ModelDone)]
    runs = sorted(store.runs(), key=lambda r: r.id)
    assert [(r.name, r.kind, r.status) for r in runs] == [("LSTM", "lstm", "finished"), ("RNN", "rnn", "finished")]
    assert [d.model.info.run_id for d in done] == [r.id for r in runs]
    assert load_model(runs[0].model_path).info.run_id == runs[0].id
    control = TaskControl()
    for event in recorded_runs(train_models(dataset, plan, TrainConfig(epochs=50, device="cpu"), tok, control),
                               store, dataset, plan, tok, train):
        if getattr(getattr(event, "event", None), "global_step", 0) == 3:
            control.cancel()
    newest = store.runs()[0]
    assert newest.name == "LSTM" and newest.status == "cancelled" and len(store.runs()) == 3


def test_a_sweep_trains_every_combination_and_keeps_each_run(home):
    code, out, err = run_cli("sweep", "--data", "builtin:reviews?n=200", "--grid", "kind=lstm,rnn", "--grid",
                             "hidden_size=4,8", "--grid", "tokenizer=word", "--epochs", "1", "--embed-dim", "8",
                             "--device", "cpu", "--quiet")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert sorted((r["kind"], r["hidden_size"]) for r in rows) == [("lstm", 4), ("lstm", 8), ("rnn", 4), ("rnn", 8)]
    runs = RunStore().runs()
    assert len(runs) == 4 and all(r.status == "finished" and Path(r.model_path).is_file() for r in runs)
    assert sorted((r.kind, r.settings["model"]["hidden_size"]) for r in runs) == sorted(
        (r["kind"], r["hidden_size"]) for r in rows)
    assert len({r.sweep["id"] for r in runs}) == 1  # one sweep, each run with its swept values
    assert all(r.sweep["values"]["tokenizer"] == "word" and r.sweep["values"]["kind"] == r.kind for r in runs)
    assert sorted((r.sweep["values"]["kind"], r.sweep["values"]["hidden_size"]) for r in runs) == sorted(
        (r["kind"], r["hidden_size"]) for r in rows)
    for bad, needle in [("width=3", "write SETTING=V1,V2"), ("hidden_size=4,x", "'x' is not a int"),
                        ("hidden_size=0", "Hidden size (--hidden-size) must be between")]:
        code, _, err = run_cli("sweep", "--data", "builtin:reviews?n=200", "--grid", bad, "--quiet")
        assert code == cli.EXIT_ERROR and needle in err, err
    assert len(RunStore().runs()) == 4  # a bad grid trains nothing
