"""PyTorch made ready in the background: imported, and its one-time set-up done before the first Train.

The window is drawn before torch is imported (it takes 1.3 s warm and 2.5 s cold on 2 cores, more
than the whole window), so the app runs ``warm_up_steps`` on a worker thread after its first paint:
torch (``import_torch``) and the core modules the screens run on a worker (training, scoring,
attributions, model files) are imported with the collector paused (core/heap.py), then one tiny
training step per cell kind does PyTorch's lazy set-up. A Train pressed meanwhile waits on its own
worker thread for the imports.

An import holds the GIL, and loading ``libtorch_cpu`` (relocations and the static constructors that
register every operator: 0.3 s on 2 cores) happens inside one C call of it, so the window, whose
thread needs the GIL to draw, froze for 0.3 s. ``import_torch`` first loads that library through libc's
``dlopen`` called by ctypes, which releases the GIL for the call; the import then finds it loaded.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator

from core.config import ModelConfig
from core.events import PhaseEvent, TaskControl
from core.heap import import_optimizer_machinery, import_quietly

# what the screens' worker tasks import, so the first Train, Compare or Try is quick. This module imports
# torch only inside its functions, after import_torch, so that even its own import is gentle.
TORCH_SIDE = ("core.train.pipeline", "core.store.modelfile", "core.inspect.compare", "core.inspect.attribution",
              "core.model.stepwise", "core.store.export")


def warm_up_steps(control: TaskControl | None = None) -> Iterator[PhaseEvent]:
    """Import torch and the core's torch-side modules, then warm PyTorch up; a ``PhaseEvent`` after each
    stage ("loaded" once everything is imported, "warm" at the end)."""
    control = control or TaskControl()
    import_torch()
    for module in TORCH_SIDE:  # each import is a few hundred ms at most: a cancel (closing) waits for one
        if control.cancelled:
            return
        import_quietly(module)
    import torch

    yield PhaseEvent("loaded", f"PyTorch {torch.__version__} is loaded")
    if control.cancelled:
        return
    warm_up()
    if control.cancelled:
        return
    from core.inspect.attribution import load_captum

    load_captum()  # the Try screen's word attributions
    yield PhaseEvent("warm", "PyTorch is set up")


def import_torch() -> None:
    """Import torch without freezing other threads for its largest library, with the collector paused (see
    the module docstring); safe from any thread, and quick once torch is imported."""
    if "torch" not in sys.modules:
        _load_quietly("libtorch_cpu")
    import_quietly("torch")


_dlopen_lock = threading.Lock()  # one such load at a time (see _load_quietly)
_loaded: set[str] = set()


def _load_quietly(name: str) -> None:
    """``dlopen`` torch's library ``name`` without holding the GIL (Linux and macOS); where that is not
    possible, nothing happens and the import loads it as usual.

    One thread at a time, behind a Python lock (waited for without the GIL): a second thread's ``dlopen``
    would wait for the loader's own lock while holding the GIL (ctypes holds it to open libc), freezing
    the window for the whole load (measured: 250-500 ms when Train was pressed while torch was loading)."""
    suffix = {"linux": ".so", "darwin": ".dylib"}.get(sys.platform)
    with _dlopen_lock:
        spec = importlib.util.find_spec("torch") if suffix is not None and name not in _loaded else None
        if spec is None or not spec.submodule_search_locations:
            return
        path = os.path.join(spec.submodule_search_locations[0], "lib", name + suffix)
        if not os.path.isfile(path):
            return
        try:
            libc = ctypes.CDLL(None)
            libc.dlopen.restype, libc.dlopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_int]
            libc.dlopen(os.fsencode(path), os.RTLD_NOW | os.RTLD_LOCAL)  # a foreign call: the GIL is released
        except (OSError, AttributeError):
            pass  # no dlopen to call: the import loads it
        _loaded.add(name)


def warm_up() -> None:
    """One tiny training step per cell kind, so PyTorch's one-time set-up (lazy imports, kernel
    selection: 100+ ms, holding the GIL) happens before a person presses Train, not during it.

    It never draws from torch's global random generator (weights are built on the meta device and
    set to constants, no dropout), so a training running meanwhile in another thread keeps its
    seeded, reproducible stream.
    """
    import torch
    from torch import nn

    from core.model.classifier import SentimentClassifier
    from core.train.trainer import adamw, clip_gradients

    import_optimizer_machinery()
    for kind in ("lstm", "gru", "rnn"):
        config = ModelConfig(kind=kind, vocab_size=8, embed_dim=4, hidden_size=4, dropout=0.0, word_dropout=0.0)
        with torch.device("meta"):
            model = SentimentClassifier(config)
        model = model.to_empty(device="cpu")
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(0.1)
        optimizer = adamw(model, torch.device("cpu"))
        logits = model(torch.tensor([[2, 3, 4], [5, 6, 0]]), torch.tensor([3, 2]))
        nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
        clip_gradients(model, 1e-3)  # small enough to scale, so that path is warm too
        optimizer.step()
