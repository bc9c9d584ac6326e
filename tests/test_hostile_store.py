"""Hostile input, the run store (issue 27): a store that is damaged, old, locked, read-only, moved, or left
by a killed run, and ids no run can have.

The contract: the store survives (a damaged one is moved aside, never a model file written over), a side
store never stops the main job (training goes on and says the run is not kept), reading never waits on
another program's write past the bound, and every failure is one line, never ``internal error``.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers import ROOT, headless, run_cli

import cli
from core.store import run_db
from core.store.runs import RunRecorder, RunStore, StoreError

TINY = ["--data", "builtin:reviews?n=200", "--epochs", "1", "--embed-dim", "8", "--hidden-size", "8", "--device",
        "cpu", "--quiet"]
FIELDS = {"kind": "lstm", "dataset": "d", "fingerprint": {}, "settings": {}, "versions": {}}


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def short_wait(monkeypatch, seconds: float = 0.5) -> None:
    """The store's bound on waiting for a lock, shortened where a test holds one."""
    monkeypatch.setattr(run_db, "BUSY_S", seconds)


def clean(ran) -> None:
    """Nothing escaped: no traceback, no ``internal error``."""
    assert "Traceback" not in ran.err and "internal error" not in ran.err, ran.err


def one_line_error(ran) -> str:
    assert ran.code not in (0, None), ran
    clean(ran)
    lines = [line for line in ran.err.splitlines() if not line.startswith("note:")]
    assert len(lines) == 1, ran.err
    return lines[0]


def store_with_a_kept_model(home: Path, model, runs: int = 1, steps: int = 0) -> tuple[int, Path, bytes]:
    """A store whose run 1 keeps ``model`` in the store (as ``train`` does), and ``runs - 1`` more runs of
    ``steps`` steps each (pages enough to damage one); run 1's id, its model file and the file's bytes."""
    store = RunStore()
    run_id = store.begin(name="old", **FIELDS)
    kept = Path(RunRecorder(store, run_id).keep(model))
    for i in range(runs - 1):
        other = store.begin(name=f"filler {i}", **FIELDS)
        for step in range(1, steps + 1):
            store.add_step(other, step, 1, 0.5, 1.0, steps)
        store.finish(other, "finished", test_accuracy=0.5)
    store.close()
    return run_id, kept, kept.read_bytes()


# ways a store's file can be damaged: each must be found when the store opens and the file moved aside
def not_a_database(path: Path) -> None:
    path.write_bytes(b"this is not a database" * 300)


def damaged_page(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page = 4096
    middle = (len(data) // page // 2) * page
    data[middle:middle + page] = bytes(range(256)) * (page // 256)
    path.write_bytes(bytes(data))


def truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: (len(data) // 4096 // 2) * 4096 + 100])


DAMAGE = [not_a_database, damaged_page, truncated]


# ---------------------------------------------------------------------------------------------
# 1. A damaged store moved aside: its models stay, and nothing of the new store is written over them


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_store_is_moved_aside_and_the_new_one_writes_over_none_of_its_models(home, tiny_model, damage):
    old_id, old_file, old_bytes = store_with_a_kept_model(home, tiny_model, runs=40, steps=300)
    before = {p: p.read_bytes() for p in (home / "models").iterdir()}
    damage(home / "runs.sqlite3")
    fresh = RunStore()
    assert any("moved to" in note for note in fresh.notes), fresh.notes
    assert fresh.runs() == [] and len(list(home.glob("runs.sqlite3.corrupt-*"))) == 1
    new_id = fresh.begin(name="new", **FIELDS)
    assert new_id == old_id  # ids start again in a new store: the file names must not
    RunRecorder(fresh, new_id).keep(tiny_model)
    assert {p: p.read_bytes() for p in before} == before and old_file.read_bytes() == old_bytes
    assert fresh.integrity() == "ok"


@pytest.mark.parametrize("stranger", ["empty", "another model"])
def test_a_model_file_no_run_points_at_is_never_written_over(home, tiny_model, stranger):
    """Whatever left a file where a run's model would go (a store moved aside by an older version, a copy),
    keeping the run's model refuses to replace it; the run says so and the file is unchanged."""
    store = RunStore()
    run_id = store.begin(name="x", **FIELDS)
    target = store.model_file(run_id)
    content = b"" if stranger == "empty" else b"someone else's model" * 50
    target.write_bytes(content)
    with pytest.raises(StoreError, match="no run"):
        RunRecorder(store, run_id).keep(tiny_model)
    assert target.read_bytes() == content


def test_training_after_a_store_was_moved_aside_keeps_the_old_runs_model(home, tmp_path):
    ran = run_cli("train", *TINY, "--out", str(tmp_path / "a.safetensors"))
    assert ran.code == 0, ran.err
    (first,) = RunStore().runs()
    first_bytes = Path(first.model_path).read_bytes()
    not_a_database(home / "runs.sqlite3")
    ran = run_cli("train", *TINY, "--seed", "7", "--out", str(tmp_path / "b.safetensors"))
    assert ran.code == 0 and "moved to" in ran.err, ran.err
    (second,) = RunStore().runs()
    assert second.id == first.id and Path(second.model_path) != Path(first.model_path)
    assert Path(first.model_path).read_bytes() == first_bytes


# ---------------------------------------------------------------------------------------------
# 3. A store that fails after opening never stops training: it goes on, and says the run is not kept


def schema_one_from_a_dump(home: Path) -> None:
    """A store of the first schema restored from ``.dump``: its columns, ``user_version`` 0, rollback journal."""
    v1 = run_db._SCHEMA.replace(",\n    sweep TEXT NOT NULL DEFAULT ''", "")
    home.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(home / "runs.sqlite3")) as db:
        db.executescript(v1)
        db.execute("INSERT INTO runs (name, kind, status, started, host, pid, dataset, fingerprint, settings, versions,"
                   " test_accuracy) VALUES ('old', 'lstm', 'finished', 1.0, 'h', 1, 'd', '{}', '{}', '{}', 0.8)")
        db.commit()


@pytest.mark.parametrize("damage", [damaged_page, truncated])
def test_train_on_a_damaged_store_trains_and_keeps_the_run_in_a_new_one(home, tmp_path, tiny_model, damage):
    store_with_a_kept_model(home, tiny_model, runs=40, steps=300)
    damage(home / "runs.sqlite3")
    ran = run_cli("train", *TINY, "--out", str(tmp_path / "m.safetensors"))
    assert ran.code == 0 and (tmp_path / "m.safetensors").is_file(), ran.err
    clean(ran)
    assert "moved to" in ran.err and json.loads(ran.out)["run_id"] is not None
    (run,) = RunStore().runs()
    assert run.status == "finished" and Path(run.model_path).is_file()


@pytest.mark.parametrize("changed", ["sweep", "sweep and the index"])
def test_a_store_of_an_older_schema_without_its_version_gets_its_columns(home, tmp_path, changed):
    """A dump restored into a new file has the old columns and ``user_version`` 0: the columns decide."""
    schema_one_from_a_dump(home)
    if changed == "sweep and the index":
        with contextlib.closing(sqlite3.connect(home / "runs.sqlite3")) as db:
            db.execute("DROP INDEX runs_started")
    ran = run_cli("train", *TINY, "--out", str(tmp_path / "m.safetensors"))
    assert ran.code == 0, ran.err
    clean(ran)
    runs = RunStore().runs()
    assert sorted(r.name for r in runs) == ["LSTM", "old"] and all(r.sweep is None for r in runs)
    assert RunStore().integrity() == "ok"


def test_a_store_that_fails_while_training_stops_keeping_the_run_not_the_training(home, tmp_path, monkeypatch):
    """Another program takes the store's write lock after the run began and holds it: the store's writes
    fail past the wait, training goes on to the end and says the run is not kept."""
    short_wait(monkeypatch)
    RunStore().close()  # the store exists, in WAL mode
    stop, held = threading.Event(), threading.Event()

    def hold_once_a_run_begins() -> None:
        with contextlib.closing(sqlite3.connect(home / "runs.sqlite3", timeout=30, isolation_level=None)) as db:
            while not stop.is_set() and not db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]:
                time.sleep(0.005)
            db.execute("BEGIN IMMEDIATE")
            held.set()
            stop.wait(120)
            db.execute("ROLLBACK")

    holder = threading.Thread(target=hold_once_a_run_begins)
    holder.start()
    try:
        ran = run_cli("train", "--data", "builtin:reviews?n=2000", "--epochs", "3", "--embed-dim", "8",
                      "--hidden-size", "8", "--device", "cpu", "--quiet", "--out", str(tmp_path / "m.safetensors"))
    finally:
        stop.set()
        holder.join(60)
    assert held.is_set()
    assert ran.code == 0 and (tmp_path / "m.safetensors").is_file(), ran.err
    clean(ran)
    assert "not kept" in ran.err and json.loads(ran.out)["run_id"] is None
    (run,) = RunStore().runs()  # the run it began: over, and not shown as still training
    assert run.status == "interrupted"


@pytest.mark.parametrize("breakage", ["locked", "a folder", "a file as its folder"])
def test_a_sweep_trains_every_combination_whatever_the_store(home, monkeypatch, breakage):
    short_wait(monkeypatch)
    holder = None
    if breakage == "locked":
        RunStore().close()
        holder = sqlite3.connect(home / "runs.sqlite3", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    elif breakage == "a folder":
        (home / "runs.sqlite3").mkdir(parents=True)
    else:
        home.parent.mkdir(parents=True, exist_ok=True)
        home.write_text("a file where the store's folder should be")
    try:
        ran = run_cli("sweep", "--grid", "hidden_size=4,8", "--data", "builtin:reviews?n=200", "--epochs", "1",
                      "--embed-dim", "8", "--device", "cpu", "--quiet")
    finally:
        if holder is not None:
            holder.close()
    assert ran.code == 0, ran.err
    clean(ran)
    rows = [json.loads(line) for line in ran.out.splitlines()]
    assert sorted(r["hidden_size"] for r in rows) == [4, 8] and "not kept" in ran.err


@pytest.mark.parametrize("breakage", ["locked", "schema one from a dump"])
def test_the_apps_training_goes_on_whatever_the_store(home, monkeypatch, breakage):
    """``train_grid`` (the Train screen's task) records into the store as it trains: a store that fails
    becomes a warning, and every model still arrives."""
    from core.config import ModelConfig, TokenizerConfig, TrainConfig
    from core.data import load_dataset
    from core.events import PhaseEvent, TaskControl
    from core.model.events import ModelDone
    from core.train.sweep import combinations, train_grid

    short_wait(monkeypatch)
    holder = None
    if breakage == "locked":
        RunStore().close()
        holder = sqlite3.connect(home / "runs.sqlite3", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    else:
        schema_one_from_a_dump(home)
    dataset = load_dataset("builtin:reviews?n=200")
    combos = combinations([ModelConfig(kind="lstm", embed_dim=8, hidden_size=8)], TokenizerConfig(),
                          TrainConfig(epochs=1, device="cpu"), [], lambda kind, values: kind.upper())
    try:
        events = list(train_grid(dataset, combos, TaskControl(), store_folder=home))
    finally:
        if holder is not None:
            holder.close()
    assert [type(e) for e in events if isinstance(e, ModelDone)] == [ModelDone]
    warnings = [e.event.message for e in events if isinstance(getattr(e, "event", None), PhaseEvent)
                and e.event.phase == "warning"]
    if breakage == "locked":
        assert any("not kept" in w for w in warnings), warnings
    else:
        assert not warnings and sorted(r.name for r in RunStore().runs()) == ["LSTM", "old"]


# ---------------------------------------------------------------------------------------------
# 4. Reading never takes the write lock: another program's write does not stop `runs list`, the wait is
# bounded, and a store on a read-only mount lists


def listing_in_time(seconds: float) -> tuple[object, float]:
    """``runs list --json`` in a thread: what it gave, and how long it took (None if still waiting)."""
    result: list = []
    start = time.monotonic()
    worker = threading.Thread(target=lambda: result.append(run_cli("runs", "list", "--json")), daemon=True)
    worker.start()
    worker.join(seconds)
    return (result[0] if result else None), time.monotonic() - start


@pytest.mark.parametrize("journal, lock", [("wal", "IMMEDIATE"), ("wal", "EXCLUSIVE"), ("delete", "IMMEDIATE")])
def test_runs_list_reads_while_another_program_writes(home, monkeypatch, journal, lock):
    store = RunStore()
    store.begin(name="x", **FIELDS)
    store.close()
    with contextlib.closing(sqlite3.connect(home / "runs.sqlite3", isolation_level=None)) as db:
        db.execute(f"PRAGMA journal_mode = {journal}")
        db.execute(f"BEGIN {lock}")
        db.execute("UPDATE runs SET note = 'being written'")
        ran, _ = listing_in_time(8)
        db.execute("ROLLBACK")
    assert ran is not None, "runs list waited on another program's write"
    assert ran.code == 0 and [r["name"] for r in json.loads(ran.out)] == ["x"], ran.err


def test_runs_list_waits_no_longer_than_the_bound_for_a_store_locked_against_reading(home, monkeypatch):
    short_wait(monkeypatch, 1.0)
    store = RunStore()
    store.begin(name="x", **FIELDS)
    store.close()
    with contextlib.closing(sqlite3.connect(home / "runs.sqlite3", isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode = delete")
        db.execute("BEGIN EXCLUSIVE")  # a rollback-journal writer committing: readers must wait
        db.execute("UPDATE runs SET note = 'being written'")
        ran, took = listing_in_time(15)
        db.execute("ROLLBACK")
    assert ran is not None and took < 6, f"runs list still waiting after {took:.0f} s"
    assert "busy" in one_line_error(ran)


def read_only_mount(folder: Path, request):
    """``main_py`` keywords that run it with ``folder`` read-only: a read-only bind mount in a mount namespace
    of its own where this runs as root (root writes through file modes), the folder's modes otherwise."""
    if os.geteuid() != 0:
        paths = [folder, *folder.rglob("*")]
        modes = {path: path.stat().st_mode for path in paths}
        for path in paths:
            path.chmod(modes[path] & ~0o222)
        request.addfinalizer(lambda: [path.chmod(mode) for path, mode in modes.items()])
        return {}
    if not sys.platform.startswith("linux"):
        pytest.skip("a read-only mount for root is made with Linux mount namespaces")

    def enter() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        rdonly, remount, bind, rec, private = 1, 32, 4096, 16384, 1 << 18
        target = os.fsencode(folder)
        if libc.unshare(0x20000):  # CLONE_NEWNS: this child's own mounts
            raise OSError(ctypes.get_errno(), "unshare")
        for source, where, flags in [(b"none", b"/", rec | private), (target, target, bind),
                                     (target, target, bind | remount | rdonly)]:
            if libc.mount(source, where, None, flags, None):
                raise OSError(ctypes.get_errno(), "mount")

    try:
        probe = subprocess.run(["sh", "-c", f"touch '{folder}/.probe'"], preexec_fn=enter, capture_output=True)
    except subprocess.SubprocessError:
        probe = None
    if probe is None or probe.returncode == 0 or b"Read-only" not in probe.stderr:
        pytest.skip("no read-only mount here (no mount namespaces)")
    return {"preexec_fn": enter}


@pytest.mark.parametrize("wal", ["with -wal and -shm left", "closed cleanly"])
def test_a_store_on_a_read_only_mount_lists_shows_and_refuses_changes(home, tmp_path, main_py, tiny_model, request,
                                                                     wal):
    source = tmp_path / "source"
    source.mkdir()
    store = RunStore(source)
    run_id = store.begin(name="kept", **FIELDS)
    RunRecorder(store, run_id).keep(tiny_model)
    home.mkdir()
    if wal.startswith("with"):  # copied while open: the last writes are in the -wal only
        store.begin(name="newest", **FIELDS)
        for suffix in ("", "-wal", "-shm"):
            (home / f"runs.sqlite3{suffix}").write_bytes((source / f"runs.sqlite3{suffix}").read_bytes())
        (home / "models").mkdir()
        for model in (source / "models").iterdir():
            (home / "models" / model.name).write_bytes(model.read_bytes())
        store.close()
    else:
        store.close()
        home.rmdir()
        source.rename(home)
    names = ["newest", "kept"] if wal.startswith("with") else ["kept"]
    env = dict(os.environ, SENTIMENT_STUDIO_HOME=str(home))
    ro = read_only_mount(home, request)
    listed = main_py("runs", "list", "--json", env=env, text=True, **ro)
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)] == names and "read-only" in listed.stderr
    exported = main_py("runs", "export", str(run_id), "--out", str(tmp_path / "run"), env=env, text=True, **ro)
    assert exported.returncode == 0 and any(f.endswith(".safetensors") for f in json.loads(exported.stdout)["files"])
    deleted = main_py("runs", "delete", str(run_id), env=env, text=True, **ro)
    assert deleted.returncode == cli.EXIT_ERROR and "Traceback" not in deleted.stderr
    assert [line for line in deleted.stderr.splitlines() if not line.startswith("note:")] == [
        line for line in deleted.stderr.splitlines() if "read-only" in line and line.startswith("error:")]
    trained = main_py("train", *TINY, "--out", str(tmp_path / "m.safetensors"), env=env, text=True, **ro)
    assert trained.returncode == 0 and (tmp_path / "m.safetensors").is_file(), trained.stderr
    assert "not kept" in trained.stderr and "Traceback" not in trained.stderr


# ---------------------------------------------------------------------------------------------
# 5. A run killed with SIGKILL is over even when its pid now belongs to another process


BEGIN_AND_WAIT = """
import os, signal, sys
from core.store.runs import RunStore
store = RunStore()
print(store.begin(name="killed", kind="lstm", dataset="d", fingerprint={}, settings={}, versions={}), flush=True)
sys.stdin.readline()
"""


@pytest.mark.parametrize("reuser", ["this process", "its parent", "a sleeping process"])
def test_a_killed_run_whose_pid_is_reused_is_marked_interrupted_and_can_be_deleted(home, reuser):
    env = headless(dict(os.environ, SENTIMENT_STUDIO_HOME=str(home), PYTHONPATH=str(ROOT)))
    proc = subprocess.Popen([sys.executable, "-c", BEGIN_AND_WAIT], env=env, cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    sleeper = None
    try:
        run_id = int(proc.stdout.readline())
        with RunStore() as store:  # while it lives, its run is training and can't be deleted
            assert store.get(run_id).status == "running"
            with pytest.raises(StoreError, match="still training"):
                store.delete(run_id)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        if reuser == "a sleeping process":
            sleeper = subprocess.Popen(["sleep", "60"])
        pid = {"this process": os.getpid(), "its parent": os.getppid()}.get(reuser) or sleeper.pid
        with contextlib.closing(sqlite3.connect(home / "runs.sqlite3")) as db:
            db.execute("UPDATE runs SET pid = ? WHERE id = ?", (pid, run_id))  # the pid now names a live process
            db.commit()
        store = RunStore()
        assert store.get(run_id).status == "interrupted"
        store.delete(run_id)
        assert store.runs() == []
    finally:
        for p in (proc, sleeper):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(30)


def test_a_run_of_this_process_stays_running_while_its_store_is_open(home):
    store = RunStore()
    run_id = store.begin(name="mine", **FIELDS)
    other = RunStore()  # another window of this app: the run is not over
    assert other.get(run_id).status == "running" and other.mark_interrupted() == 0
    store.finish(run_id, "finished")
    assert other.get(run_id).status == "finished"


# ---------------------------------------------------------------------------------------------
# 6. A moved store keeps its models; a missing model file is said


@pytest.mark.parametrize("rows", ["written now", "written with absolute paths by an earlier version"])
def test_a_moved_store_keeps_its_models(home, tmp_path, monkeypatch, tiny_model, rows):
    store = RunStore()
    run_id = store.begin(name="x", **FIELDS)
    kept = Path(RunRecorder(store, run_id).keep(tiny_model))
    store.close()
    if rows.startswith("written with"):
        with contextlib.closing(sqlite3.connect(home / "runs.sqlite3")) as db:
            db.execute("UPDATE runs SET model_path = ?", (str(kept),))
            db.commit()
    moved = tmp_path / "elsewhere"
    home.rename(moved)
    monkeypatch.setenv("SENTIMENT_STUDIO_HOME", str(moved))
    (run,) = RunStore().runs()
    assert Path(run.model_path) == moved / "models" / kept.name and Path(run.model_path).is_file()
    ran = run_cli("runs", "export", str(run_id), "--out", str(tmp_path / "run"))
    assert ran.code == 0 and kept.name in json.loads(ran.out)["files"], ran.err
    assert (tmp_path / "run" / kept.name).read_bytes() == (moved / "models" / kept.name).read_bytes()


@pytest.mark.parametrize("how", ["deleted", "its folder moved", "a folder in its place"])
def test_export_says_when_a_runs_model_file_is_missing(home, tmp_path, tiny_model, how):
    store = RunStore()
    run_id = store.begin(name="x", **FIELDS)
    kept = Path(RunRecorder(store, run_id).keep(tiny_model))
    if how == "deleted":
        kept.unlink()
    elif how == "its folder moved":
        (home / "models").rename(home / "models-old")
    else:
        kept.unlink()
        kept.mkdir()
    line = one_line_error(run_cli("runs", "export", str(run_id), "--out", str(tmp_path / "run")))
    assert "missing" in line and kept.name in line and not (tmp_path / "run").exists()
    ran = run_cli("runs", "export", str(run_id), "--out", str(tmp_path / "run"), "--without-model")
    assert ran.code == 0 and sorted(json.loads(ran.out)["files"]) == ["epochs.csv", "run.json", "steps.csv"], ran.err


# ---------------------------------------------------------------------------------------------
# 13. Ids no run can have; the store's path naming something that is not a file


@pytest.mark.parametrize("command", [["show"], ["delete"], ["export", "--out", "EXPORTED"]])
@pytest.mark.parametrize("run_id", [2**63, 2**64 + 5, 10**40, -(2**63) - 1])
def test_run_ids_no_store_can_hold_are_one_line(home, tmp_path, command, run_id):
    RunStore().close()
    args = [command[0], str(run_id), *[str(tmp_path / a) if a == "EXPORTED" else a for a in command[1:]]]
    line = one_line_error(run_cli("runs", *args))
    assert str(run_id) in line


@pytest.mark.parametrize("thing", ["a folder", "a symlink to a folder", "a fifo"])
def test_a_store_path_that_is_not_a_file_is_named_for_what_it_is(home, tmp_path, thing):
    home.mkdir()
    path = home / "runs.sqlite3"
    if thing == "a folder":
        path.mkdir()
    elif thing == "a symlink to a folder":
        (tmp_path / "elsewhere").mkdir()
        path.symlink_to(tmp_path / "elsewhere")
    else:
        os.mkfifo(path)
    ran, took = listing_in_time(8)
    assert ran is not None, "runs list hung on the store's path"
    line = one_line_error(ran)
    assert "not a file" in line and "can't be opened now" not in line and took < 5
    assert path.exists() or path.is_symlink()  # left where it is: not the store's to move
