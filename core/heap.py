"""Start-up and PyTorch's one-time imports without the garbage collector's long pauses.

The first ``torch.optim`` optimizer imports ``torch._dynamo`` (``Optimizer.add_param_group`` is wrapped
in ``torch._compile._disable_dynamo``): about 850 modules, sympy among them. While they load, Python's
full (generation 2) collections walk every object torch has made, 75-150 ms each with the GIL held,
which is what froze the window when Train was pressed before the app's warm-up had run
(benchmarks/gui_responsiveness.py). Here the import runs with the collector paused, and afterwards
everything alive is moved out of its reach (``gc.freeze``), so later full collections walk only what
training makes. The app's start-up (gui/app.py) runs the same way. Objects frozen stay until exit;
module-level objects would anyway.
"""

from __future__ import annotations

import gc
import importlib
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_locks: dict[str, threading.Lock] = {}  # one per module: a second caller of the same import waits for the first
_locks_lock = threading.Lock()

@contextmanager
def collector_paused() -> Iterator[None]:
    """Start-up: import and build with the collector paused (it finds no garbage among fresh modules,
    and its runs cost the app's start 0.3 s of 2.2), then move what was built out of its later walks."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def import_quietly(module: str) -> None:
    """Import ``module`` once per process with the collector paused meanwhile, then freeze what it loaded.

    Safe from any thread; a second caller of the same module waits for the first (one of another module
    does not: the window's thread must not wait out a worker's 2-second torch import for pyqtgraph). A
    caller that had paused the collector itself keeps it paused.
    """
    if module in sys.modules:
        return
    with _locks_lock:
        lock = _locks.setdefault(module, threading.Lock())
    with lock:
        if module in sys.modules:
            return
        with collector_paused():
            importlib.import_module(module)


def import_optimizer_machinery() -> None:
    """Import what the first optimizer imports (``torch._dynamo``, see the module docstring)."""
    import_quietly("torch._dynamo")
