"""The run store: every training run kept across sessions, in one SQLite file (no server).

A run is a row (name, kind, status, times, dataset and its fingerprint, every setting, versions, final
metrics, the path of its model file) with its per-epoch metrics and its per-step loss and gradient
norm (at most ``MAX_STEPS`` points a run, evenly spaced, so a long run stays small). The database is
in WAL mode with a busy timeout, so two app windows and a command line can write at once; each write
is one short transaction, and reading takes no write lock. A run left "running" by a process that is gone
(killed, crashed, its pid since reused) is marked "interrupted" the next time the store opens. A database
written by a newer version, or on a read-only mount, is opened read-only with a message; a file that is
not a database or fails its check is moved aside with a message, never a crash. Opening, the sqlite3
errors and the runs' locks are ``core.store.run_db``'s.

A run's model file is kept in ``models/`` under a name of the run's id and start time (a store started
again after a damaged one was moved aside counts ids from 1 again: the names still differ), and the run
records it relative to the store, so a moved store keeps its models. No file a run of this store does not
point at is ever written over.

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
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.config import DataConfig
from core.data.arrow import ArrowTexts
from core.errors import ModelFileError
from core.store import run_db
from core.store.run_db import SCHEMA_VERSION as SCHEMA_VERSION  # named here too, as before
from core.store.run_db import StoreError

MAX_STEPS = 2000  # step points kept per run
STATUSES = ("running", "finished", "cancelled", "failed", "interrupted")
_APP = "Sentiment Studio"  # Qt's organization and application name (gui/app.py)
_MAX_ID = 2**63 - 1  # SQLite's largest id


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
    # a run repeated over seeds or folds: {"id", "kind": "seeds" | "folds", "n", "index", "seed" or "fold"}
    group: dict | None = None
    test_confusion: list[list[int]] | None = None  # rows true, columns predicted: the test score's interval
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
        self._held: dict[int, Path] = {}  # lock files of the runs this store began and has not finished
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"can't create the run store folder {self.folder}: {e.strerror or e}") from None
        self._db = run_db.open_database(self.path, self.notes)
        self.read_only = self._db.read_only
        self.mark_interrupted()

    def close(self) -> None:
        for run_id in list(self._held):
            self.abandon(run_id)
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sql(self, sql: str, args: tuple = ()) -> list:
        return self._db.run(sql, args)

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"the run store {self.path} is read-only here: {self._db.why_read_only}")

    def _write(self, sql: str, args: tuple = ()) -> list:
        self._writable()
        return self._db.run(sql, args)

    # runs -----------------------------------------------------------------------------------------
    def mark_interrupted(self, wait: bool = False) -> int:
        """Mark "interrupted" the running runs of this machine whose process is gone; how many. Without
        ``wait`` a store another program is writing to is left as it is (marked at a later look), so reading
        it never waits on that program."""
        if self.read_only:
            return 0
        rows = self._sql("SELECT id, pid, started FROM runs WHERE status = 'running' AND host = ?",
                         (socket.gethostname(),))
        gone = [(r["id"], self._lock_file(r["started"])) for r in rows
                if run_db.is_over(self._lock_file(r["started"]), r["pid"])]
        if not gone:
            return 0
        try:
            with self._db.waiting(run_db.BUSY_S if wait else 0.1), self._db.transaction():
                for run_id, _ in gone:
                    self._db.run("UPDATE runs SET status = 'interrupted', ended = COALESCE(ended, ?) WHERE id = ? "
                                 "AND status = 'running'", (time.time(), run_id))
        except run_db.Busy:
            if wait:
                raise
            return 0
        for _, lock in gone:
            run_db.release(lock, remove=True)
        return len(gone)

    def _lock_file(self, started: float) -> Path:
        return run_db.lock_file(self.folder, started)

    def begin(self, *, name: str, kind: str, dataset: str, fingerprint: dict, settings: dict,
              versions: dict, sweep: dict | None = None, group: dict | None = None) -> int:
        """A new run, "running" (holding its lock until it finishes); its id. ``sweep``: the sweep it belongs
        to, ``{"id", "values"}``; ``group``: the runs repeated over seeds or folds it is one of (``Run.group``)."""
        self._writable()
        started, pid = time.time(), os.getpid()
        for _ in range(1000):  # a run began in the same microsecond: a microsecond later
            lock = self._lock_file(started)
            try:
                run_db.hold(lock)
                break
            except FileExistsError:
                started += 1e-6
            except OSError as e:
                raise StoreError(f"can't create the run's lock file {lock}: {e.strerror or e}") from None
        else:
            raise StoreError(f"can't create a lock file for the run in {lock.parent}: every name is taken")
        try:
            run_id = self._db.insert(
                "INSERT INTO runs (name, kind, status, started, host, pid, dataset, fingerprint, settings, versions, "
                "sweep, run_group) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, kind, started, socket.gethostname(), pid, dataset, json.dumps(fingerprint),
                 json.dumps(settings), json.dumps(versions), json.dumps(sweep) if sweep else "",
                 json.dumps(group) if group else ""))
        except BaseException:
            run_db.release(lock, remove=True)
            raise
        self._held[run_id] = lock
        return run_id

    def abandon(self, run_id: int) -> None:
        """Stop holding run ``run_id``'s lock without recording its end (the store failed it, or closes): it
        reads as interrupted from then on."""
        lock = self._held.pop(run_id, None)
        if lock is not None:
            run_db.release(lock, remove=False)

    def set_model_path(self, run_id: int, path: str | os.PathLike) -> None:
        """Where the run's model is now: its best epoch so far while it trains, so a killed run keeps it."""
        self._write("UPDATE runs SET model_path = ? WHERE id = ?", (self._stored(path), run_id))

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
               model_path: str | None = None, error: str = "", test_confusion: list | None = None) -> None:
        """Record how run ``run_id`` ended; without ``model_path`` it keeps the one it has (a stopped run's best
        epoch so far)."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self._write("UPDATE runs SET status = ?, ended = ?, val_accuracy = ?, val_macro_f1 = ?, test_accuracy = ?, "
                    "test_macro_f1 = ?, training_time_s = ?, model_path = COALESCE(?, model_path), error = ?, "
                    "test_confusion = ? WHERE id = ?",
                    (status, time.time(), _num(val_accuracy), _num(val_macro_f1), _num(test_accuracy),
                     _num(test_macro_f1), _num(training_time_s), model_path and self._stored(model_path), error,
                     json.dumps(test_confusion) if test_confusion else "", run_id))
        lock = self._held.pop(run_id, None)
        if lock is not None:
            run_db.release(lock, remove=True)

    def model_file(self, run_id: int) -> Path:
        """Where run ``run_id``'s model file is kept: the file in ``models/`` it points at, else a name of its
        id and start time there (the folder created when missing). Raises ``StoreError`` when a file no run
        of this store points at has that name: it is never written over."""
        rows = self._sql("SELECT started, model_path FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise StoreError(f"there is no run {run_id} in {self.path}")
        folder = self.folder / "models"
        current = self._resolved(rows[0]["model_path"])
        if current and os.path.abspath(Path(current).parent) == os.path.abspath(folder):
            return Path(current)
        started = rows[0]["started"]
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started)) + f"-{int(started * 1000) % 1000:03d}"
        path = folder / f"run-{run_id}-{stamp}.safetensors"
        if (path.exists() or path.is_symlink()) and not self._sql(
                "SELECT 1 FROM runs WHERE model_path IN (?, ?)", (self._stored(path), str(path))):
            raise StoreError(f"{path} is there already and no run of this store points at it: it is not written "
                             f"over (move it away for run {run_id} to keep its model)")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"can't create the run store's models folder {folder}: {e.strerror or e}") from None
        return path

    def _stored(self, path: str | os.PathLike) -> str:
        """``path`` as a run records it: relative to the store when inside it (a moved store keeps its models)."""
        full = Path(os.path.abspath(path))
        try:
            return full.relative_to(os.path.abspath(self.folder)).as_posix()
        except ValueError:
            return str(full)

    def _resolved(self, stored: str | None) -> str | None:
        """A recorded model path as a path to open: relative ones in this store; an earlier version's absolute
        one into a store since moved, in this store's ``models/`` when the file is there."""
        if not stored:
            return stored
        path = Path(stored)
        if not path.is_absolute():
            return str(self.folder / path)
        if path.parent.name == "models" and not path.exists() and (self.folder / "models" / path.name).exists():
            return str(self.folder / "models" / path.name)
        return stored

    def adopt(self, path: str | os.PathLike) -> Path | None:
        """Move a checkpoint that a run points at (an app run killed mid-training) into the store's models
        folder, so the run keeps it; the new path, or None when no run points at ``path``."""
        rows = self._sql("SELECT id FROM runs WHERE model_path IN (?, ?)", (str(path), self._stored(path)))
        if not rows:
            return None
        kept = self.model_file(rows[0]["id"])
        os.replace(path, kept)
        self.set_model_path(rows[0]["id"], kept)
        return kept

    def rename(self, run_id: int, name: str) -> None:
        self._write("UPDATE runs SET name = ? WHERE id = ?", (name, run_id))

    def set_note(self, run_id: int, note: str) -> None:
        self._write("UPDATE runs SET note = ? WHERE id = ?", (note, run_id))

    def delete(self, run_id: int) -> None:
        """Delete a run, its curves and its model file kept in the store; a run still training is refused."""
        self.mark_interrupted(wait=True)
        run = self.get(run_id, curves=False)
        if run.status == "running":
            raise StoreError(f"run {run_id} is still training; cancel it first (or delete it once it has stopped)")
        self._writable()
        with self._db.transaction():
            for table, column in (("steps", "run_id"), ("epochs", "run_id"), ("runs", "id")):
                self._db.run(f"DELETE FROM {table} WHERE {column} = ?", (run_id,))
        if run.model_path and os.path.abspath(Path(run.model_path).parent) == os.path.abspath(self.folder / "models"):
            Path(run.model_path).unlink(missing_ok=True)

    # reading --------------------------------------------------------------------------------------
    def runs(self) -> list[Run]:
        """Every run, newest first, without curves."""
        return [self._run(row) for row in self._sql("SELECT * FROM runs ORDER BY started DESC, id DESC")]

    def runs_changed(self, ids: list[int], after_id: int) -> list[Run]:
        """The runs ``ids`` (those seen running) and every run with an id above ``after_id`` (added since)."""
        marks = ", ".join("?" * len(ids))
        where = f"id > ? OR id IN ({marks})" if ids else "id > ?"
        return [self._run(row) for row in self._sql(f"SELECT * FROM runs WHERE {where} ORDER BY id DESC",
                                                    (after_id, *ids))]

    def get(self, run_id: int, curves: bool = True) -> Run:
        rows = self._sql("SELECT * FROM runs WHERE id = ?", (run_id,)) if 0 < run_id <= _MAX_ID else []
        if not rows:
            raise StoreError(f"there is no run {run_id} in {self.path}")
        run = self._run(rows[0])
        if curves:
            run.epochs = self.epochs(run_id)
            run.steps = self.steps(run_id)
        return run

    def steps(self, run_id: int) -> list[dict]:
        """A run's per-step loss and gradient norm (at most ``MAX_STEPS`` points), in order."""
        return [dict(r) for r in self._sql(
            "SELECT step, epoch, loss, grad_norm FROM steps WHERE run_id = ? ORDER BY step", (run_id,))]

    def epochs(self, run_id: int) -> list[dict]:
        """A run's per-epoch metrics, in order."""
        return [dict(r) for r in self._sql("SELECT * FROM epochs WHERE run_id = ? ORDER BY epoch", (run_id,))]

    def group_runs(self, group_id: str) -> list[Run]:
        """The runs of one group (``Run.group``'s id), in the group's order."""
        rows = self._sql("SELECT * FROM runs WHERE run_group LIKE ? ORDER BY id", (f'%{json.dumps(group_id)}%',))
        runs = [r for r in map(self._run, rows) if r.group and r.group.get("id") == group_id]
        return sorted(runs, key=lambda r: r.group.get("index", 0))

    def integrity(self) -> str:
        return self._db.value("PRAGMA integrity_check")

    def _run(self, row) -> Run:
        row = dict(row)
        row["group"] = row.pop("run_group", "")  # "group" is a word of SQL's
        d = {k: v for k, v in row.items() if k in _RUN_FIELDS}  # a newer schema's extra columns are left out
        for key in ("fingerprint", "settings", "versions", "sweep", "group", "test_confusion"):
            d[key] = json.loads(d[key]) if d.get(key) else None
        d["model_path"] = self._resolved(d.get("model_path"))
        return Run(**d)


def begin_run(store: RunStore, dataset, name: str, model_config, tokenizer_config, train_config,
              sweep: dict | None = None, group: dict | None = None) -> int:
    """Record the start of a training run of ``model_config`` on ``dataset``; the run's id. The settings'
    "data" are the ``DataConfig`` fields as ``dataset`` was carved with them (older runs have none)."""
    from core.model.records import versions

    settings = {"data": {f.name: getattr(dataset, f.name) for f in dataclasses.fields(DataConfig)},
                "model": model_config.to_dict(), "tokenizer": tokenizer_config.to_dict(),
                "train": train_config.to_dict()}
    return store.begin(name=name, kind=model_config.kind, dataset=dataset.source, fingerprint=fingerprint(dataset),
                       settings=settings, versions=versions(), sweep=sweep, group=group)


class RunRecorder:
    """Feeds one run's training events into the store: pass it as ``run_to_end``'s ``on_event``.

    The store failing (busy past its wait, damaged, read-only, the disk full) never stops the training: the
    recorder says so once through ``on_lost(message)``, lets the run go (it reads as interrupted) and records
    nothing more (``lost`` is the error). Only ``keep`` and ``model_file`` raise, for their caller to say.
    """

    def __init__(self, store: RunStore, run_id: int, on_lost=None) -> None:
        self.store, self.run_id = store, run_id
        self.on_lost = on_lost or (lambda message: None)
        self.lost: StoreError | None = None
        self.kept_file: Path | None = None  # the run's model file in the store, once asked for

    def _lose(self, error: StoreError) -> None:
        if self.lost is None:
            self.lost = error
            self.store.abandon(self.run_id)
            self.on_lost(f"run {self.run_id} is not kept in the run store from here on: {error}")

    def model_file(self) -> Path:
        """Where the run's model file goes in the store (its best epoch while it trains, then the model);
        raises ``StoreError`` when the store can't give one (see ``RunStore.model_file``)."""
        if self.kept_file is None:
            self.kept_file = self.store.model_file(self.run_id)
        return self.kept_file

    def __call__(self, event: object) -> None:
        from core.events import CheckpointEvent, EpochEvent, StepEvent

        event = getattr(event, "event", event)  # a ModelEvent wraps one model's event
        if self.lost is not None:
            return
        try:
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
        except StoreError as e:
            self._lose(e)

    def keep(self, model) -> str:
        """Keep the trained ``model`` in the store's folder (naming its run) and record how the run ended;
        the kept file's path. The model then counts as saved (``info.file``). Raises ``StoreError`` (the
        store lost the run, or has no file for it) or the model file's own errors (``ModelFileError``,
        ``OSError``) when the copy can't be written."""
        from core.store.modelfile import save_model

        if self.lost is not None:
            raise self.lost
        path = self.model_file()
        model.info.run_id = self.run_id
        model.info.file = kept = str(save_model(model, path))
        self.finished(model, kept)
        return kept

    def ended(self, error: BaseException) -> None:
        """Record that the run stopped before its model was kept: cancelled, or failed with ``error``."""
        from core.events import TaskCancelled

        cancelled = isinstance(error, TaskCancelled | GeneratorExit | KeyboardInterrupt)
        if self.lost is None:
            try:
                self.store.finish(self.run_id, "cancelled" if cancelled else "failed",
                                  error="" if cancelled else str(error))
            except StoreError as e:
                self._lose(e)

    def finished(self, model, model_path: str | None) -> None:
        """Record how the run ended from the trained model's record."""
        record = model.record
        fin, val, test = record.finished, record.validation, record.test
        if self.lost is None:
            try:
                self.store.finish(
                    self.run_id, "cancelled" if fin is not None and fin.cancelled else "finished",
                    val_accuracy=val.accuracy if val else None, val_macro_f1=val.macro_f1 if val else None,
                    test_accuracy=test.accuracy if test else None, test_macro_f1=test.macro_f1 if test else None,
                    training_time_s=fin.training_time_s if fin else None, model_path=model_path,
                    test_confusion=test.confusion if test else None)
            except StoreError as e:
                self._lose(e)


def recorded_runs(events: Iterator, store: RunStore, dataset, plan: list, tokenizer_config,
                  train_config, sweep: dict | None = None, groups: dict[str, dict] | None = None) -> Iterator:
    """``train_models``' events, passed through unchanged, with each model recorded as a run.

    A run begins with its model's first event and ends with its ``ModelDone`` (its model file then kept
    in the store); a model the run never finished (a cancel, a failure) is marked so. The store failing
    stops the recording, never the training: a warning says which model is not kept and why. ``groups``:
    a model's name -> the group of repeated runs it is one of (``Run.group``).
    """
    from core.events import PhaseEvent, TaskCancelled
    from core.model.events import ModelDone, ModelEvent

    configs = dict(plan)
    recorders: dict[str, RunRecorder] = {}
    done: set[str] = set()
    warnings: list[str] = []

    def end_open_runs(error: BaseException) -> None:
        for name, rec in recorders.items():
            if name not in done:
                rec.ended(error)
                done.add(name)

    try:
        for event in events:
            if isinstance(event, ModelDone) and groups and event.name in groups:
                event.model.info.group = groups[event.name]  # recorded or not: the model says its group
            if isinstance(event, ModelEvent) and event.name in configs and event.name not in done:
                rec = recorders.get(event.name)
                if rec is None:
                    try:
                        run_id = begin_run(store, dataset, event.name, configs[event.name], tokenizer_config,
                                           train_config, sweep, (groups or {}).get(event.name))
                    except StoreError as e:
                        warnings.append(f"{event.name} is not kept in the run store: {e}")
                        done.add(event.name)
                    else:
                        rec = recorders[event.name] = RunRecorder(
                            store, run_id, on_lost=lambda text, name=event.name: warnings.append(f"{name}: {text}"))
                if rec is not None:
                    rec(event)
            elif isinstance(event, ModelDone) and event.name in recorders and event.name not in done:
                rec = recorders[event.name]
                if rec.lost is None:  # else said when it was lost
                    try:
                        rec.keep(event.model)  # saved: the app has nothing to lose on closing
                    except (StoreError, ModelFileError) as e:  # no file for it in the store, or it can't be written
                        warnings.append(f"{event.name} is not kept in the run store (the model stays unsaved): {e}")
                        rec.ended(e)
                done.add(event.name)
            yield event
            while warnings:
                yield ModelEvent("", "", PhaseEvent("warning", warnings.pop(0)))
    except BaseException as e:
        end_open_runs(e)
        raise
    end_open_runs(TaskCancelled("cancelled"))  # train_models drops a model a cancel interrupted


def export_run(store: RunStore, run_id: int, out: str | os.PathLike, without_model: bool = False) -> list[str]:
    """Write run ``run_id`` into the new folder ``out``: ``epochs.csv``, ``steps.csv``, ``run.json`` and
    its model file (refused, writing nothing, when the run points at a model file that is gone, unless
    ``without_model``). Built in a temporary folder beside ``out`` and renamed into place."""
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
    model = Path(run.model_path) if run.model_path and not without_model else None
    if model is not None and not model.is_file():
        raise StoreError(f"run {run_id}'s model file {model} is missing (moved, deleted or not a file); nothing was "
                         "written (its record and curves can be exported without the model)")
    files: dict[str, bytes] = {}
    for name, rows in (("epochs.csv", run.epochs), ("steps.csv", run.steps)):
        buffer = io.StringIO()
        columns = list(rows[0]) if rows else ["epoch"]
        writer = csv.DictWriter(buffer, fieldnames=[c for c in columns if c != "run_id"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        files[name] = buffer.getvalue().encode()
    files["run.json"] = (json.dumps(run.to_dict(), indent=2) + "\n").encode()
    if model is not None:
        from core.store.modelfile import read_model_bytes

        files[model.name] = read_model_bytes(model)
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


def _num(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None
