"""The one way the app runs long work: a core event generator on a worker thread.

``Task`` wraps superqt's generator worker. Each value the generator yields (a core dataclass of
plain data) arrives on the GUI thread as ``event``; its return value as ``succeeded``; an
exception as ``failed`` (a ``StudioError`` carries a message meant for the user); ``ended``
always comes last. Cancel goes through the core's cooperative ``TrainControl`` (or a
``should_cancel`` callable), so work stops at its next batch boundary and cleans up; threads are
never terminated.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, Signal
from superqt.utils import create_worker

from core.trainer import TrainControl


class TaskRuntimeError(Exception):
    """A ``RuntimeError`` from a task (torch reports many failures so), carried past superqt intact."""

    @property
    def original(self) -> BaseException:
        return self.args[0]


class Task(QObject):
    event = Signal(object)  # a yielded core event
    succeeded = Signal(object)  # the generator's return value
    failed = Signal(object)  # the exception; str(exc) is the message for the user
    cancelled = Signal()  # the task stopped because cancel() was called
    ended = Signal()  # always emitted last

    def __init__(
        self,
        factory: Callable[[TrainControl], Generator[Any, None, Any]],
        name: str = "task",
        parent: QObject | None = None,
    ) -> None:
        """``factory(control)`` builds the generator; it must check ``control`` between steps."""
        super().__init__(parent)
        self.name = name
        self.control = TrainControl()
        self._factory = factory
        self._done = threading.Event()
        self._worker = None

    # control -----------------------------------------------------------------------------------
    def start(self) -> Task:
        def guarded():
            try:
                result = yield from self._factory(self.control)
                return result
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
    def _on_returned(self, value: Any) -> None:
        if self.control.cancelled:
            self.cancelled.emit()
        else:
            self.succeeded.emit(value)

    def _on_errored(self, exc: BaseException) -> None:
        from core.data import LoadCancelled

        if isinstance(exc, LoadCancelled) or self.control.cancelled:
            self.cancelled.emit()
        else:
            self.failed.emit(exc)


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
