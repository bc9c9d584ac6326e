"""What many test files share: the repository's root, the real datasets, the command line run two ways, and
Hypothesis example counts that follow the profile (tests/conftest.py loads ``ci`` or ``dev``)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


def shared_dataset(name: str) -> Path:
    """The folder of one real benchmark dataset, or skip the test where ../shared is absent."""
    path = SHARED_DATASETS / name
    if not (path / "train.tsv").is_file():
        pytest.skip(f"../shared/datasets/{name} is not present on this machine")
    return path


class Ran(NamedTuple):
    """What the command line did: its exit code and what it wrote to stdout and stderr."""

    code: int
    out: str
    err: str


def run_cli(*args: str) -> Ran:
    """``main.py ARGS`` in this process (no interpreter to start, so no ``subprocess`` mark): ``cli.main``
    with stdout and stderr captured; argparse's ``SystemExit`` is an exit code like any other."""
    import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(args))
        except SystemExit as e:  # argparse refuses a flag's value by exiting
            code = e.code
    return Ran(code, out.getvalue(), err.getvalue())


def headless(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) for a new interpreter in which Qt can't be imported (.ci/no_qt): the
    command line and the core never need it, so every test that starts one proves it, in every run. (CI's
    second pass, with Qt blocked in the tests' own process too, then leaves these tests out: .ci/run.)"""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / ".ci" / "no_qt"), env.get("PYTHONPATH")]))
    return env


def run_main(*args: str | bytes, **kwargs) -> subprocess.CompletedProcess:
    """``python main.py ARGS`` as a user runs it, in a new interpreter (~2 s to import torch) where Qt can't be
    imported (``headless``): bytes in and out unless ``text=True``; other keywords (``input``, ``stdin``,
    ``env``, ``cwd``, ``timeout``) go to ``subprocess.run``. Tests reach it through the ``main_py`` fixture,
    which marks them ``subprocess``."""
    kwargs = {"cwd": ROOT, "capture_output": True, "timeout": 300, **kwargs}
    kwargs["env"] = headless(kwargs.get("env"))
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], **kwargs)


def examples(share: float) -> int:
    """``share`` of the Hypothesis profile's ``max_examples`` (at least one), for a test that needs more or
    fewer examples than the others: ``@settings(max_examples=examples(0.5))`` still follows ``dev`` and
    ``ci``, where a fixed number would override both."""
    from hypothesis import settings

    return max(1, round(settings.default.max_examples * share))


def leaning(model, shift: float):
    """A copy of a trained ``SentimentModel`` pushed toward class 1 (``shift`` > 0) or class 0 by its head's bias:
    the tiny LSTM of tests/conftest.py gets about half its positive test rows wrong at -4 and about a quarter of
    its negative ones at +3.5, so models that disagree on some rows cost no training."""
    import copy

    import torch

    other = copy.deepcopy(model)
    with torch.no_grad():
        other.classifier.head.bias[1] += shift
    return other
