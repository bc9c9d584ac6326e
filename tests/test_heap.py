"""The optimizer's one-time import runs with the garbage collector paused, then freezes what is alive."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import headless

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.subprocess  # each test probes a fresh interpreter

PROBE = """
import gc, sys
import torch
from core.heap import import_optimizer_machinery
assert "torch._dynamo" not in sys.modules  # importing torch alone does not import it
starts = []
gc.callbacks.append(lambda phase, info: starts.append(info["generation"]) if phase == "start" else None)
if {paused}:
    gc.disable()
import_optimizer_machinery()
assert "torch._dynamo" in sys.modules
assert starts == [], starts  # no collection ran during the import
assert gc.isenabled() is (not {paused})  # the caller's choice is kept
assert gc.get_freeze_count() > 100_000  # torch's objects are out of the collector's walks
torch.optim.AdamW(torch.nn.Linear(2, 2).parameters())  # the optimizer finds it imported
"""


def probe(paused: bool) -> None:
    r = subprocess.run([sys.executable, "-c", PROBE.format(paused=paused)], cwd=ROOT, capture_output=True, text=True,
                       env=headless())
    assert r.returncode == 0, r.stderr


def test_the_import_runs_without_collections_and_the_collector_comes_back():
    probe(paused=False)


def test_a_collector_the_caller_paused_stays_paused():
    probe(paused=True)
