"""The run store's SQLite file as ``core.store.runs`` uses it: opened whatever state it is in, every sqlite3
error turned into the ``StoreError`` it means (``store_error``, the one place), and each running run's lock.

Opening only reads: no write lock is taken unless the schema needs creating or a column adding, so a store
another program is writing to still lists. A store that can't be written (a read-only mount, a file
without write permission) is opened with ``mode=ro``, or ``immutable`` when it has no -wal to read.
Waiting for another program's lock is bounded by ``BUSY_S``, opening and each statement alike. A file that
is not a database or fails ``quick_check`` is moved aside, with its -wal and -shm, for a new one. What a store
lacks is read from its tables' columns (``table_info``), not from ``user_version`` alone: a store restored
from a dump has the old columns and ``user_version`` 0.

A running run holds a lock (``flock``; ``msvcrt.locking`` on Windows) on a file of its own in ``locks/``,
named by its start time. The system drops the lock when the process ends however it ends (SIGKILL
too), so a run whose lock can be taken is over, whatever process has its pid now (containers restart with
the same pids); this process knows its own runs without asking the lock. A run with no lock file (recorded
before the locks) or on a file system without locks falls back to whether its pid is alive.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from core.errors import StudioError

SCHEMA_VERSION = 3
BUSY_S = 10.0  # the longest wait for another process's lock: opening, and each statement after it

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
    sweep TEXT NOT NULL DEFAULT '',
    run_group TEXT NOT NULL DEFAULT '',
    test_confusion TEXT NOT NULL DEFAULT ''
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
# Columns added since the first schema (an older store gets them; a new one is created with them), and the
# schema version that added each: 2, runs know the sweep they belong to; 3, the group of runs repeated over seeds
# or folds they belong to, and their test confusion matrix (for a score's interval).
_ADDED = {("runs", "sweep"): "TEXT NOT NULL DEFAULT ''", ("runs", "run_group"): "TEXT NOT NULL DEFAULT ''",
          ("runs", "test_confusion"): "TEXT NOT NULL DEFAULT ''"}
_SQLITE_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_SQLITE_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_SQLITE_UNWRITABLE = {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM}


class StoreError(StudioError):
    """The run store can't be used as asked (for example it is read-only, written by a newer version)."""


class Busy(StoreError):
    """Another process held the database's lock for longer than ``BUSY_S``."""


class Damaged(StoreError):
    """The file is not a database, or not one this version can use: the store moves it aside."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"the run store {path} is damaged ({reason})")
        self.reason = reason


class Unwritable(StoreError):
    """The file or its folder can't be written (or, for a WAL store's -shm, even opened) here."""


def store_error(path: Path, error: sqlite3.Error) -> StoreError:
    """The ``StoreError`` an sqlite3 error means: the one place they are mapped."""
    code = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF  # the primary code of an extended one
    if code in _SQLITE_BUSY:
        return Busy(f"the run store {path} is busy: another program has held its lock for {BUSY_S:g} s ({error})")
    if code in _SQLITE_DAMAGED:
        return Damaged(path, str(error))
    if code in _SQLITE_UNWRITABLE:
        return Unwritable(f"the run store {path} can't be written here ({error})")
    return StoreError(f"the run store {path} failed: {error}")


class Database:
    """One connection to the store's file. Every statement goes through ``run``, which fetches its rows and
    turns any sqlite3 error into a ``StoreError``. ``mode``: None (read and write), "ro" or "immutable"."""

    def __init__(self, path: Path, mode: str | None, timeout: float) -> None:
        self.path, self.mode = path, mode
        self.read_only = mode is not None
        self.why_read_only = "its folder or file can't be written" if self.read_only else ""
        target = f"{path.absolute().as_uri()}?{'immutable=1' if mode == 'immutable' else 'mode=ro'}" if mode else str(
            path)
        with self.mapped():
            self.conn = sqlite3.connect(target, uri=mode is not None, timeout=max(timeout, 0.0), isolation_level=None,
                                        check_same_thread=False)
            self.conn.row_factory = sqlite3.Row

    @contextlib.contextmanager
    def mapped(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise store_error(self.path, e) from None

    def run(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self.mapped():
            return self.conn.execute(sql, args).fetchall()

    def value(self, sql: str, args: tuple = ()) -> object:
        rows = self.run(sql, args)
        return rows[0][0] if rows else None

    def insert(self, sql: str, args: tuple = ()) -> int:
        with self.mapped():
            return int(self.conn.execute(sql, args).lastrowid)

    def execute(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        """sqlite3's own, for a script that fills a store in bulk (benchmarks/interactive.py)."""
        with self.mapped():
            return self.conn.execute(sql, args)

    def executemany(self, sql: str, rows) -> sqlite3.Cursor:
        with self.mapped():
            return self.conn.executemany(sql, rows)

    @contextlib.contextmanager
    def waiting(self, seconds: float) -> Iterator[None]:
        """Wait at most ``seconds`` for another process's lock in this block (``BUSY_S`` outside it)."""
        self.run(f"PRAGMA busy_timeout = {round(seconds * 1000)}")
        try:
            yield
        finally:
            self.run(f"PRAGMA busy_timeout = {round(BUSY_S * 1000)}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` (the write lock, waited for up to the busy timeout) ... ``COMMIT``."""
        self.run("BEGIN IMMEDIATE")
        try:
            yield
            self.run("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                with contextlib.suppress(StoreError):
                    self.run("ROLLBACK")
            raise

    def close(self) -> None:
        with self.mapped():
            self.conn.close()


def check_regular(path: Path) -> None:
    """The store's path must be a database file or nothing yet: a folder, a FIFO or a device there is the
    user's, named for what it is, never opened, waited on or moved."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise StoreError(f"the run store {path} is a link to nothing; remove it and runs are kept again") from None
        return
    except OSError as e:
        raise StoreError(f"the run store {path} can't be read: {e.strerror or e}") from None
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "a special file"
        raise StoreError(f"the run store {path} is {what}, not a file: move it away and runs are kept again")


def open_database(path: Path, notes: list[str]) -> Database:
    """The store's database at ``path``, created, checked and brought up to date, a damaged one moved aside
    first (see the module docstring); what the user should know is added to ``notes``. Raises ``Busy`` when
    another process held a lock past ``BUSY_S``, ``StoreError`` for the other reasons it can't be used."""
    check_regular(path)
    deadline, moved = time.monotonic() + BUSY_S, False
    while True:
        try:
            return _open(path, notes, deadline)
        except Busy:  # creating the store or switching it to WAL, which don't wait on their own
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)
        except Damaged as e:
            if moved:  # the new one too: something else is wrong
                raise
            _move_aside(path, e, notes)
            deadline, moved = time.monotonic() + BUSY_S, True


def _move_aside(path: Path, why: Damaged, notes: list[str]) -> None:
    """Move a damaged database (and its -wal and -shm) aside for a new one; its runs' model files stay in
    ``models/``, where the new store's names never meet theirs (``RunStore.model_file``)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    moved = next(m for i in range(1000) if not (m := path.with_name(
        f"{path.name}.corrupt-{stamp}" + (f"-{i}" if i else ""))).exists())
    try:
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                os.replace(f"{path}{suffix}", f"{moved}{suffix}")
    except OSError as e:
        raise StoreError(f"{why}, and it can't be moved aside: {e.strerror or e}") from None
    notes.append(f"The run store {path} could not be read ({why.reason}); it was moved to {moved.name} and a new "
                 "one started (its runs' model files stay in models/).")


def _open(path: Path, notes: list[str], deadline: float) -> Database:
    exists = path.exists()
    writable = os.access(path.parent, os.W_OK) and (not exists or os.access(path, os.W_OK))
    if not writable and not exists:
        raise StoreError(f"can't create the run store {path}: its folder is read-only")
    # read-only: ro, else immutable where no -wal holds writes the file lacks (ro needs a -shm it may not make)
    modes = [None] if writable else ["ro"] + ([] if Path(f"{path}-wal").exists() else ["immutable"])
    for mode in modes:
        db = Database(path, mode, deadline - time.monotonic())
        try:
            version = db.value("PRAGMA user_version")
            _quick_check(db)
            break
        except Unwritable:
            db.close()
            if mode == modes[-1]:
                raise
        except StoreError:
            db.close()
            raise
    if db.read_only:
        notes.append(f"The run store {path} is read-only here: its runs are shown, new runs are not kept.")
    if version > SCHEMA_VERSION:
        if not db.read_only:
            db.close()
            db = Database(path, "ro", deadline - time.monotonic())
        db.why_read_only = f"it was written by a newer Sentiment Studio (schema {version})"
        notes.append(f"The run store {path} was written by a newer Sentiment Studio (schema {version}; this one "
                     f"knows {SCHEMA_VERSION}); it is shown read-only and new runs are not kept.")
        return db
    try:
        if not db.read_only:
            _bring_up_to_date(db, notes)
        db.run(f"PRAGMA busy_timeout = {round(BUSY_S * 1000)}")
        db.run("PRAGMA foreign_keys = ON")
    except StoreError:
        db.close()
        raise
    return db


_CHECKED: set[tuple] = set()  # store files this process found sound, as they were then


def _quick_check(db: Database) -> None:
    """``PRAGMA quick_check`` once per state of the file (it reads every page: ~0.5 s for 80 MB)."""
    try:
        st = os.stat(db.path)
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        key = None
    if key is not None and key in _CHECKED:
        return
    found = db.value("PRAGMA quick_check(1)")
    if found != "ok":
        raise Damaged(db.path, str(found))
    if key is not None:
        _CHECKED.add(key)


@functools.cache
def _columns_wanted() -> dict[str, list[str]]:
    """Each table of ``_SCHEMA`` and its columns."""
    with contextlib.closing(sqlite3.connect(":memory:")) as mem:
        mem.executescript(_SCHEMA)
        tables = [r[0] for r in mem.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                            "'sqlite_%'")]
        return {t: [r[1] for r in mem.execute(f"PRAGMA table_info({t})")] for t in tables}


def _lacking(db: Database) -> tuple[list[str], list[tuple[str, str]], bool]:
    """What the store lacks: tables, columns of its tables, and whether its index is missing."""
    tables, columns = [], []
    for table, wanted in _columns_wanted().items():
        have = {r[1] for r in db.run(f"PRAGMA table_info({table})")}
        if not have:
            tables.append(table)
        columns += [(table, c) for c in wanted if have and c not in have]
    index = not db.run("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'runs_started'")
    return tables, columns, index


def _bring_up_to_date(db: Database, notes: list[str]) -> None:
    """Create what the store lacks, WAL mode first. Takes the write lock only when something is lacking."""
    if db.value("PRAGMA journal_mode") != "wal":
        with contextlib.suppress(Busy):  # another program is using it: it stays as it is until the next opening
            db.run("PRAGMA journal_mode = WAL")
    version = db.value("PRAGMA user_version")
    if version == SCHEMA_VERSION and _lacking(db) == ([], [], False):
        return
    with db.transaction():  # again inside: another process may have done it meanwhile
        version = db.value("PRAGMA user_version")
        tables, columns, _ = _lacking(db)
        unknown = [f"{t}.{c}" for t, c in columns if (t, c) not in _ADDED]
        if unknown:
            raise Damaged(db.path, f"no column {', '.join(unknown)}: not a store this version can use")
        for table, column in columns:
            db.run(f"ALTER TABLE {table} ADD COLUMN {column} {_ADDED[table, column]}")
        for statement in filter(str.strip, _SCHEMA.split(";")):
            db.run(statement)
        db.run(f"PRAGMA user_version = {SCHEMA_VERSION}")
    if version and version < SCHEMA_VERSION:
        notes.append(f"The run store {db.path} was brought from schema {version} to {SCHEMA_VERSION}; every run is "
                     "kept.")
    elif columns or (tables and len(tables) < len(_columns_wanted())):
        added = ", ".join([*(f"{t}.{c}" for t, c in columns), *tables])
        notes.append(f"The run store {db.path} had no schema version (restored from a dump?) and lacked {added}; "
                     "they were added and every run is kept.")


# the runs' locks ----------------------------------------------------------------------------------------
_HELD: dict[str, int] = {}  # lock files of the runs this process is recording (path -> open descriptor)


def lock_file(folder: Path, started: float) -> Path:
    """The lock file of the run begun at ``started`` (to the microsecond: one run a microsecond, see ``hold``)
    in the store at ``folder``."""
    return Path(os.path.abspath(folder)) / "locks" / f"{round(started * 1e6)}.lock"  # one name however spelt


def hold(path: Path) -> None:
    """Create ``path`` and hold its lock while this process records the run (``FileExistsError`` when a run
    begun at the same microsecond has it: start a microsecond later)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    _lock(fd)  # None, on a file system without locks: the pid decides
    _HELD[str(path)] = fd


def release(path: Path, remove: bool) -> None:
    """Stop holding ``path``: ``remove`` for a run recorded to its end, else left for others to find over."""
    fd = _HELD.pop(str(path), None)
    if remove:
        with contextlib.suppress(OSError):
            path.unlink()
    if fd is not None:
        os.close(fd)


def is_over(path: Path, pid: int) -> bool:
    """Whether the run holding lock file ``path`` (begun by process ``pid`` of this machine) has ended."""
    if pid == os.getpid():
        return str(path) not in _HELD  # a run of this process, or of one that had its pid before it
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:  # begun before the locks
        return not _pid_alive(pid)
    except OSError:
        return False  # someone else's file: a live process's, for all we know
    try:
        taken = _lock(fd)
    finally:
        os.close(fd)
    return not _pid_alive(pid) if taken is None else taken


def _lock(fd: int) -> bool | None:
    """Take ``fd``'s lock without waiting: True taken, False held by another, None on a file system without
    locks."""
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (BlockingIOError, PermissionError):
        return False
    except OSError:  # ENOLCK, EINVAL: locks not supported here
        return None
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # someone else's live process
    return True
