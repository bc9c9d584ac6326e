"""The one way the app runs long work: a core event generator on a worker thread.

``Task`` wraps superqt's generator worker. Each event the generator yields (a core dataclass of
plain data) arrives on the GUI thread as ``event``; the end as ``succeeded``; an exception as
``failed`` (a ``StudioError`` carries a message meant for the user); ``ended`` always comes last.
A task's result is its last event (``core.events``), so there is no return value to carry. Cancel
goes through the core's cooperative ``TaskControl``, so work stops at its next step and cleans
up; threads are never terminated.

``factory(control)``, which builds a task's generator, is called on the worker thread: a torch-side core
module it imports loads there, never on the GUI thread, so the window can be drawn before torch is
loaded and stays responsive while it loads (gui/main_window.py starts loading it after the first paint).

``TaskPool`` holds the window's running tasks, so closing it can cancel and wait for them.
``TaskSlot`` is a screen's one background task: starting a new one cancels and detaches the old,
so a superseded task's late signals never reach the screen (Orange3's ``ConcurrentWidgetMixin``).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from core.events import TaskCancelled, TaskControl

BACKGROUND_NICE = 2  # a worker thread's nice value: the GUI thread (0) wins a contended core (docs/benchmarks.md)


def behind_the_window() -> None:
    """Give the calling worker thread a lower scheduling priority than the GUI thread, so a busy machine
    delays training rather than the window. Linux only (a thread has its own nice value there; the
    threads PyTorch starts from it inherit it); elsewhere, or where it's refused, nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < BACKGROUND_NICE:
            os.setpriority(os.PRIO_PROCESS, tid, BACKGROUND_NICE)
    except OSError:
        pass


class TaskRuntimeError(Exception):
    """A ``RuntimeError`` from a task (torch reports many failures so), carried past superqt intact."""

    @property
    def original(self) -> BaseException:
        return self.args[0]


class Task(QObject):
    event = Signal(object)  # a yielded core event
    succeeded = Signal()  # the generator ran to its end
    failed = Signal(object)  # the exception; str(exc) is the message for the user
    cancelled = Signal()  # the task stopped because cancel() was called
    ended = Signal()  # always emitted last

    def __init__(
        self,
        factory: Callable[[TaskControl], Iterator[Any]],
        name: str = "task",
        parent: QObject | None = None,
    ) -> None:
        """``factory(control)`` builds the generator; it must check ``control`` between steps."""
        super().__init__(parent)
        self.name = name
        self.control = TaskControl()
        self._factory = factory
        self._done = threading.Event()
        self._worker = None

    # control -----------------------------------------------------------------------------------
    def start(self) -> Task:
        from superqt.utils import create_worker  # 0.1 s of imports, needed by the first task, not the first paint

        def guarded():
            behind_the_window()
            try:
                yield from self._factory(self.control)
            except RuntimeError as exc:  # superqt drops RuntimeErrors silently (and never emits finished)
                raise TaskRuntimeError(exc) from exc
            finally:
                self._done.set()

        self._worker = create_worker(
            guarded,
            _start_thread=False,
            _connect={
                "yielded": self.event.emit,
                "returned": self._on_returned,
                "errored": self._on_errored,  # also stops superqt from re-raising on the GUI thread
                "finished": self.ended.emit,
            },
        )
        self._worker.start()
        return self

    def cancel(self) -> None:
        self.control.cancel()

    def pause(self) -> None:
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._done.is_set()

    @property
    def paused(self) -> bool:
        return self.control.paused

    def wait(self, timeout_s: float) -> bool:
        """Block until the generator has finished (True) or ``timeout_s`` passed (False)."""
        return self._worker is None or self._done.wait(timeout_s)

    # results -----------------------------------------------------------------------------------
    def _on_returned(self, _value: Any) -> None:
        if self.control.cancelled:
            self.cancelled.emit()
        else:
            self.succeeded.emit()

    def _on_errored(self, exc: BaseException) -> None:
        if isinstance(exc, TaskCancelled) or self.control.cancelled:
            self.cancelled.emit()
        else:
            self.failed.emit(exc)


class TaskPool(QObject):
    """The running tasks of a window: each removed when it ends; ``shutdown`` cancels and waits for them."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: list[Task] = []

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(list(self._tasks))

    def track(self, task: Task) -> Task:
        """Remember a running task so closing the window can cancel and wait for it."""
        self._tasks.append(task)
        task.ended.connect(lambda: self._tasks.remove(task) if task in self._tasks else None)
        return task

    def shutdown(self, timeout_s: float = 2.5) -> bool:
        """Cancel every task and wait for them; True when all stopped in time.

        Waits for the thread pool too: a task's generator ends before its worker has emitted its
        last signals, and an emit on signals deleted with the window would print a traceback.
        """
        deadline = time.monotonic() + timeout_s
        for task in list(self._tasks):
            task.cancel()
        stopped = all(task.wait(max(0.0, deadline - time.monotonic())) for task in list(self._tasks))
        QThreadPool.globalInstance().waitForDone(max(1, int((deadline - time.monotonic()) * 1000)))
        return stopped


Handler = Callable[..., Any] | None


class TaskSlot(QObject):
    """A screen's one background task at a time; see the module docstring.

    Handlers are called only for the task in the slot: once ``start`` replaced it or ``detach``
    dropped it, its remaining signals are ignored (its pool still waits for it on shutdown).
    """

    def __init__(self, pool: TaskPool, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.task: Task | None = None

    @property
    def busy(self) -> bool:
        return self.task is not None

    def start(
        self,
        factory: Callable[[TaskControl], Iterator[Any]],
        name: str,
        *,
        on_event: Handler = None,
        on_done: Handler = None,
        on_failed: Handler = None,
        on_cancelled: Handler = None,
        on_ended: Handler = None,
    ) -> Task:
        """Cancel and detach the task in the slot, then start ``factory``'s.

        ``on_ended`` runs last for the current task whatever happened, after the slot is empty again
        (so it may start the next task).
        """
        self.detach()
        task = Task(factory, name=name)
        self.task = task

        def current(handler: Handler, *, last: bool = False) -> Callable[..., None]:
            def call(*args: Any) -> None:
                if self.task is not task:
                    return
                if last:
                    self.task = None
                if handler is not None:
                    handler(*args)
            return call

        task.event.connect(current(on_event))
        task.succeeded.connect(current(on_done))
        task.failed.connect(current(on_failed))
        task.cancelled.connect(current(on_cancelled))
        task.ended.connect(current(on_ended, last=True))
        self.pool.track(task)
        return task.start()

    def cancel(self) -> None:
        """Ask the task in the slot to stop; its cancelled/ended handlers still run."""
        if self.task is not None:
            self.task.cancel()

    def detach(self) -> None:
        """Cancel the task in the slot and stop listening to it: the slot is free at once."""
        task, self.task = self.task, None
        if task is not None:
            task.cancel()


def error_message(exc: BaseException) -> str:
    """What to tell the user: our own errors as they are, anything else with its type."""
    from core.errors import StudioError

    if isinstance(exc, TaskRuntimeError):
        exc = exc.original
    if isinstance(exc, StudioError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "Out of memory: try a smaller batch size, maximum length or model."
    return f"Unexpected error ({type(exc).__name__}): {exc}"
