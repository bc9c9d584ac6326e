"""The run store: every training run kept across sessions, in one SQLite file (no server).

A run is a row (name, kind, status, times, dataset and its fingerprint, every setting, versions, final
metrics, the path of its model file) with its per-epoch metrics and its per-step loss and gradient
norm (at most ``MAX_STEPS`` points a run, evenly spaced, so a long run stays small). The database is
in WAL mode with a busy timeout, so two app windows and a command line can write at once; each write
is one short transaction. A run left "running" by a process that is gone (killed, crashed) is marked
"interrupted" the next time the store opens. A database written by a newer version is opened read-only
with a message; a file that is not a database is moved aside with a message, never a crash.

Where it lives: ``$SENTIMENT_STUDIO_HOME`` when set (tests and CI), else the folder Qt calls
AppDataLocation for the app, computed here without Qt so the command line finds the same store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import socket
import sqlite3
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.config import DataConfig
from core.data.arrow import ArrowTexts
from core.errors import StudioError

SCHEMA_VERSION = 2
MAX_STEPS = 2000  # step points kept per run
STATUSES = ("running", "finished", "cancelled", "failed", "interrupted")
_APP = "Sentiment Studio"  # Qt's organization and application name (gui/app.py)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    dataset TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    settings TEXT NOT NULL,
    versions TEXT NOT NULL,
    val_accuracy REAL,
    val_macro_f1 REAL,
    test_accuracy REAL,
    test_macro_f1 REAL,
    training_time_s REAL,
    model_path TEXT,
    note TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    sweep TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS epochs (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    train_loss REAL, train_accuracy REAL, val_loss REAL, val_accuracy REAL, val_macro_f1 REAL,
    learning_rate REAL, elapsed_s REAL,
    PRIMARY KEY (run_id, epoch)
);
CREATE TABLE IF NOT EXISTS steps (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    loss REAL, grad_norm REAL,
    PRIMARY KEY (run_id, step)
);
CREATE INDEX IF NOT EXISTS runs_started ON runs(started);
"""
# What brings a store of schema N (the key) to N + 1; a new store is created at SCHEMA_VERSION directly.
_MIGRATIONS = {
    1: ["ALTER TABLE runs ADD COLUMN sweep TEXT NOT NULL DEFAULT ''"],  # 2: runs know the sweep they belong to
}


class StoreError(StudioError):
    """The run store can't be used as asked (for example it is read-only, written by a newer version)."""


class _Busy(StoreError):
    """Another process holds the database's lock while this one opens it: tried again, up to 10 s."""


def store_home() -> Path:
    """The store's folder: ``$SENTIMENT_STUDIO_HOME``, else Qt's AppDataLocation for the app."""
    override = os.environ.get("SENTIMENT_STUDIO_HOME")
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / _APP / _APP


def fingerprint(dataset) -> dict:
    """What identifies a dataset's content: split sizes and a SHA-256 over every text and label (for texts
    left on disk, over which rows of which cached table: reading millions of texts per run would cost more
    than the run's start)."""
    digest = hashlib.sha256()
    for split in dataset.splits:
        part = dataset[split]
        digest.update(split.encode())
        if isinstance(part.texts, ArrowTexts):
            digest.update(part.texts.content_key())
        else:
            for text in part.texts:
                digest.update(text.encode("utf-8", "surrogatepass"))
                digest.update(b"\0")
        digest.update(part.labels.tobytes())
    return {"sizes": {s: len(dataset[s]) for s in dataset.splits}, "sha256": digest.hexdigest(),
            "classes": list(dataset.label_names)}


@dataclass
class Run:
    """One row of the store, as the Runs screen and ``runs list`` show it."""

    id: int
    name: str
    kind: str
    status: str
    started: float
    ended: float | None
    dataset: str
    fingerprint: dict
    settings: dict
    versions: dict
    val_accuracy: float | None
    val_macro_f1: float | None
    test_accuracy: float | None
    test_macro_f1: float | None
    training_time_s: float | None
    model_path: str | None
    note: str = ""
    error: str = ""
    sweep: dict | None = None  # {"id": ..., "values": {setting: value}} for a run of a sweep
    epochs: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k not in ("epochs", "steps")}
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}


class RunStore:
    """The store at ``folder`` (default ``store_home()``); see the module docstring."""

    def __init__(self, folder: str | os.PathLike | None = None) -> None:
        self.folder = Path(folder) if folder is not None else store_home()
        self.path = self.folder / "runs.sqlite3"
        self.notes: list[str] = []  # what the user should know about opening it (moved aside, read-only)
        self.read_only = False
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"can't create the run store folder {self.folder}: {e.strerror or e}") from None
        for attempt in range(100):  # another process creating the store or switching it to WAL: wait for it
            try:
                self._db = self._open()
                break
            except _Busy:
                if attempt == 99:
                    raise
                time.sleep(0.1)
        if not self.read_only:
            self.mark_interrupted()

    # opening --------------------------------------------------------------------------------------
    def _connect(self, read_only: bool = False) -> sqlite3.Connection:
        uri = f"{self.path.as_uri()}?mode=ro" if read_only else str(self.path)
        db = sqlite3.connect(uri, uri=read_only, timeout=30, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout = 30000")
        db.execute("PRAGMA foreign_keys = ON")
        return db

    def _open(self) -> sqlite3.Connection:
        try:
            db = self._connect()
            version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.OperationalError as e:  # busy or unreadable now, not damaged: never moved aside
            raise _Busy(f"the run store {self.path} can't be opened now: {e}") from None
        except sqlite3.DatabaseError as e:  # "file is not a database", "malformed"
            return self._move_aside(str(e))
        if version > SCHEMA_VERSION:
            db.close()
            self.read_only = True
            self.notes.append(f"The run store {self.path} was written by a newer Sentiment Studio (schema {version}; "
                              f"this one knows {SCHEMA_VERSION}); it is shown read-only and new runs are not kept.")
            return self._connect(read_only=True)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("BEGIN IMMEDIATE")
            version = db.execute("PRAGMA user_version").fetchone()[0]  # again: another process may have migrated
            if version < SCHEMA_VERSION:
                for old in range(max(version, 1), SCHEMA_VERSION) if version else ():
                    for statement in _MIGRATIONS[old]:
                        db.execute(statement)
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                if version:
                    self.notes.append(f"The run store {self.path} was brought from schema {version} to "
                                      f"{SCHEMA_VERSION}; every run is kept.")
            db.execute("COMMIT")
        except sqlite3.OperationalError as e:  # another process holds the lock (switching to WAL does not wait)
            db.close()
            raise _Busy(f"the run store {self.path} can't be opened now: {e}") from None
        except sqlite3.DatabaseError as e:
            db.close()
            return self._move_aside(str(e))
        return db

    def _move_aside(self, why: str) -> sqlite3.Connection:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        moved = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                os.replace(source, Path(f"{moved}{suffix}"))
        self.notes.append(f"The run store {self.path} could not be read ({why}); it was moved to {moved.name} and "
                          "a new one started.")
        return self._open()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        if self.read_only:
            raise StoreError(f"the run store {self.path} is read-only here ({self.notes[-1] if self.notes else ''})")
        return self._db.execute(sql, args)

    # runs -----------------------------------------------------------------------------------------
    def mark_interrupted(self) -> int:
        """Mark "interrupted" the running runs of this machine whose process is gone; how many."""
        host = socket.gethostname()
        gone = [row["id"] for row in self._db.execute(
            "SELECT id, pid FROM runs WHERE status = 'running' AND host = ?", (host,)) if not _alive(row["pid"])]
        for run_id in gone:
            self._write("UPDATE runs SET status = 'interrupted', ended = COALESCE(ended, ?) WHERE id = ?",
                        (time.time(), run_id))
        return len(gone)

    def begin(self, *, name: str, kind: str, dataset: str, fingerprint: dict, settings: dict,
              versions: dict, sweep: dict | None = None) -> int:
        """A new run, "running"; its id. ``sweep``: the sweep it belongs to, ``{"id", "values"}``."""
        cur = self._write(
            "INSERT INTO runs (name, kind, status, started, host, pid, dataset, fingerprint, settings, versions, "
            "sweep) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, kind, time.time(), socket.gethostname(), os.getpid(), dataset, json.dumps(fingerprint),
             json.dumps(settings), json.dumps(versions), json.dumps(sweep) if sweep else ""))
        return int(cur.lastrowid)

    def set_model_path(self, run_id: int, path: str) -> None:
        """Where the run's model is now: its best epoch so far while it trains, so a killed run keeps it."""
        self._write("UPDATE runs SET model_path = ? WHERE id = ?", (path, run_id))

    def add_step(self, run_id: int, step: int, epoch: int, loss: float, grad_norm: float, total_steps: int) -> None:
        stride = max(1, math.ceil(total_steps / MAX_STEPS))
        if step % stride == 0 or step == 1:
            self._write("INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?, ?)",
                        (run_id, step, epoch, _num(loss), _num(grad_norm)))

    def add_epoch(self, run_id: int, epoch: int, **metrics: float) -> None:
        names = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_macro_f1", "learning_rate",
                 "elapsed_s")
        self._write(f"INSERT OR REPLACE INTO epochs VALUES (?, ?, {', '.join('?' * len(names))})",
                    (run_id, epoch, *(_num(metrics.get(n)) for n in names)))

    def finish(self, run_id: int, status: str, *, val_accuracy: float | None = None,
               val_macro_f1: float | None = None, test_accuracy: float | None = None,
               test_macro_f1: float | None = None, training_time_s: float | None = None,
               model_path: str | None = None, error: str = "") -> None:
        """Record how run ``run_id`` ended; without ``model_path`` it keeps the one it has (a stopped run's best
        epoch so far)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self._write("UPDATE runs SET status = ?, ended = ?, val_accuracy = ?, val_macro_f1 = ?, test_accuracy = ?, "
                    "test_macro_f1 = ?, training_time_s = ?, model_path = COALESCE(?, model_path), error = ? "
                    "WHERE id = ?",
                    (status, time.time(), _num(val_accuracy), _num(val_macro_f1), _num(test_accuracy),
                     _num(test_macro_f1), _num(training_time_s), model_path, error, run_id))

    def model_file(self, run_id: int) -> Path:
        """Where a run's model file is kept: in the store's folder (created when missing)."""
        folder = self.folder / "models"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"run-{run_id}.safetensors"

    def adopt(self, path: str | os.PathLike) -> Path | None:
        """Move a checkpoint that a run points at (an app run killed mid-training) into the store's models
        folder, so the run keeps it; the new path, or None when no run points at ``path``."""
        row = self._db.execute("SELECT id FROM runs WHERE model_path = ?", (str(path),)).fetchone()
        if row is None:
            return None
        kept = self.model_file(row["id"])
        os.replace(path, kept)
        self.set_model_path(row["id"], str(kept))
        return kept

    def rename(self, run_id: int, name: str) -> None:
        self._write("UPDATE runs SET name = ? WHERE id = ?", (name, run_id))

    def set_note(self, run_id: int, note: str) -> None:
        self._write("UPDATE runs SET note = ? WHERE id = ?", (note, run_id))

    def delete(self, run_id: int) -> None:
        """Delete a run, its curves and its model file kept in the store; a run still training is refused."""
        self.mark_interrupted()
        run = self.get(run_id, curves=False)
        if run.status == "running":
            raise StoreError(f"run {run_id} is still training; cancel it first (or delete it once it has stopped)")
        self._write("BEGIN IMMEDIATE")
        try:
            self._write("DELETE FROM steps WHERE run_id = ?", (run_id,))
            self._write("DELETE FROM epochs WHERE run_id = ?", (run_id,))
            self._write("DELETE FROM runs WHERE id = ?", (run_id,))
            self._write("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        if run.model_path and Path(run.model_path).parent == self.folder / "models":
            Path(run.model_path).unlink(missing_ok=True)

    # reading --------------------------------------------------------------------------------------
    def runs(self) -> list[Run]:
        """Every run, newest first, without curves."""
        return [_run(row) for row in self._db.execute("SELECT * FROM runs ORDER BY started DESC, id DESC")]

    def runs_changed(self, ids: list[int], after_id: int) -> list[Run]:
        """The runs ``ids`` (those seen running) and every run with an id above ``after_id`` (added since)."""
        marks = ", ".join("?" * len(ids))
        where = f"id > ? OR id IN ({marks})" if ids else "id > ?"
        return [_run(row) for row in self._db.execute(f"SELECT * FROM runs WHERE {where} ORDER BY id DESC",
                                                      (after_id, *ids))]

    def get(self, run_id: int, curves: bool = True) -> Run:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"there is no run {run_id} in {self.path}")
        run = _run(row)
        if curves:
            run.epochs = self.epochs(run_id)
            run.steps = self.steps(run_id)
        return run

    def steps(self, run_id: int) -> list[dict]:
        """A run's per-step loss and gradient norm (at most ``MAX_STEPS`` points), in order."""
        return [dict(r) for r in self._db.execute(
            "SELECT step, epoch, loss, grad_norm FROM steps WHERE run_id = ? ORDER BY step", (run_id,))]

    def epochs(self, run_id: int) -> list[dict]:
        """A run's per-epoch metrics, in order."""
        return [dict(r) for r in self._db.execute("SELECT * FROM epochs WHERE run_id = ? ORDER BY epoch", (run_id,))]

    def integrity(self) -> str:
        return self._db.execute("PRAGMA integrity_check").fetchone()[0]


def begin_run(store: RunStore, dataset, name: str, model_config, tokenizer_config, train_config,
              sweep: dict | None = None) -> int:
    """Record the start of a training run of ``model_config`` on ``dataset``; the run's id. The settings'
    "data" are the ``DataConfig`` fields as ``dataset`` was carved with them (older runs have none)."""
    from core.model.records import versions

    settings = {"data": {f.name: getattr(dataset, f.name) for f in dataclasses.fields(DataConfig)},
                "model": model_config.to_dict(), "tokenizer": tokenizer_config.to_dict(),
                "train": train_config.to_dict()}
    return store.begin(name=name, kind=model_config.kind, dataset=dataset.source, fingerprint=fingerprint(dataset),
                       settings=settings, versions=versions(), sweep=sweep)


class RunRecorder:
    """Feeds one run's training events into the store: pass it as ``run_to_end``'s ``on_event``."""

    def __init__(self, store: RunStore, run_id: int) -> None:
        self.store, self.run_id = store, run_id

    def __call__(self, event: object) -> None:
        from core.events import CheckpointEvent, EpochEvent, StepEvent

        event = getattr(event, "event", event)  # a ModelEvent wraps one model's event
        if isinstance(event, CheckpointEvent):
            self.store.set_model_path(self.run_id, event.path)
        elif isinstance(event, StepEvent):
            self.store.add_step(self.run_id, event.global_step, event.epoch, event.loss, event.grad_norm,
                                event.total_steps)
        elif isinstance(event, EpochEvent):
            self.store.add_epoch(self.run_id, event.epoch, train_loss=event.train_loss,
                                 train_accuracy=event.train_accuracy, val_loss=event.val_loss,
                                 val_accuracy=event.val_accuracy, val_macro_f1=event.val_macro_f1,
                                 learning_rate=event.learning_rate, elapsed_s=event.elapsed_s)

    def keep(self, model) -> str:
        """Keep the trained ``model`` in the store's folder (naming its run) and record how the run ended;
        the kept file's path. The model then counts as saved (``info.file``)."""
        from core.store.modelfile import save_model

        model.info.run_id = self.run_id
        model.info.file = kept = str(save_model(model, self.store.model_file(self.run_id)))
        self.finished(model, kept)
        return kept

    def ended(self, error: BaseException) -> None:
        """Record that the run stopped before its model was kept: cancelled, or failed with ``error``."""
        from core.events import TaskCancelled

        cancelled = isinstance(error, TaskCancelled | GeneratorExit | KeyboardInterrupt)
        self.store.finish(self.run_id, "cancelled" if cancelled else "failed", error="" if cancelled else str(error))

    def finished(self, model, model_path: str | None) -> None:
        """Record how the run ended from the trained model's record."""
        record = model.record
        fin, val, test = record.finished, record.validation, record.test
        self.store.finish(
            self.run_id, "cancelled" if fin is not None and fin.cancelled else "finished",
            val_accuracy=val.accuracy if val else None, val_macro_f1=val.macro_f1 if val else None,
            test_accuracy=test.accuracy if test else None, test_macro_f1=test.macro_f1 if test else None,
            training_time_s=fin.training_time_s if fin else None, model_path=model_path)


def recorded_runs(events: Iterator, store: RunStore, dataset, plan: list, tokenizer_config,
                  train_config, sweep: dict | None = None) -> Iterator:
    """``train_models``' events, passed through unchanged, with each model recorded as a run.

    A run begins with its model's first event and ends with its ``ModelDone`` (its model file then kept
    in the store); a model the run never finished (a cancel, a failure) is marked so.
    """
    from core.events import TaskCancelled
    from core.model.events import ModelDone, ModelEvent

    configs = dict(plan)
    recorders: dict[str, RunRecorder] = {}
    done: set[str] = set()

    def end_open_runs(error: BaseException) -> None:
        for name, rec in recorders.items():
            if name not in done:
                rec.ended(error)
                done.add(name)

    try:
        for event in events:
            if isinstance(event, ModelEvent) and event.name in configs:
                rec = recorders.get(event.name)
                if rec is None:
                    run_id = begin_run(store, dataset, event.name, configs[event.name], tokenizer_config, train_config,
                                       sweep)
                    rec = recorders[event.name] = RunRecorder(store, run_id)
                rec(event)
            elif isinstance(event, ModelDone) and event.name in recorders:
                recorders[event.name].keep(event.model)  # saved: the app has nothing to lose on closing
                done.add(event.name)
            yield event
    except BaseException as e:
        end_open_runs(e)
        raise
    end_open_runs(TaskCancelled("cancelled"))  # train_models drops a model a cancel interrupted


def export_run(store: RunStore, run_id: int, out: str | os.PathLike) -> list[str]:
    """Write run ``run_id`` into the new folder ``out``: ``epochs.csv``, ``steps.csv``, ``run.json`` and
    its model file. Built in a temporary folder beside ``out`` and renamed into place."""
    import csv
    import io
    import shutil
    import tempfile

    run = store.get(run_id)
    out = Path(os.path.abspath(Path(out).expanduser()))
    if out.exists():
        raise StoreError(f"{out} exists; give a new folder for the run")
    if not out.parent.is_dir():
        raise StoreError(f"folder {out.parent} does not exist")
    files: dict[str, bytes] = {}
    for name, rows in (("epochs.csv", run.epochs), ("steps.csv", run.steps)):
        buffer = io.StringIO()
        columns = list(rows[0]) if rows else ["epoch"]
        writer = csv.DictWriter(buffer, fieldnames=[c for c in columns if c != "run_id"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        files[name] = buffer.getvalue().encode()
    files["run.json"] = (json.dumps(run.to_dict(), indent=2) + "\n").encode()
    if run.model_path and Path(run.model_path).is_file():
        from core.store.modelfile import read_model_bytes

        files[Path(run.model_path).name] = read_model_bytes(Path(run.model_path))
    try:
        tmp = Path(tempfile.mkdtemp(prefix=".sentiment-studio-run-", dir=out.parent))
        try:
            for name, data in files.items():
                (tmp / name).write_bytes(data)
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    except OSError as e:
        raise StoreError(f"can't write {out}: {e.strerror or e}") from None
    return sorted(files)


_RUN_FIELDS = frozenset(Run.__dataclass_fields__)


def _run(row: sqlite3.Row) -> Run:
    d = {k: v for k, v in dict(row).items() if k in _RUN_FIELDS}  # a newer schema's extra columns are left out
    for key in ("fingerprint", "settings", "versions", "sweep"):
        d[key] = json.loads(d[key]) if d.get(key) else None
    return Run(**d)


def _num(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's live process
    return True
