"""Shared fixtures: tiny seeded data and models, the command line in a new interpreter; the Hypothesis
profiles and the ``subprocess`` mark that ``./test.sh --fast`` leaves out. The windows' own fixtures are
in tests/gui/conftest.py; helpers a test imports are in tests/helpers.py."""

from __future__ import annotations

import copy
import os
import subprocess
import types
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as main.py does (see there); before numpy loads
# Runs the tests record (every `train`, in this process or a subprocess) go to a store of the test
# session's own, never the user's (core/store/runs.py); tests that look at the store set their own.
os.environ["SENTIMENT_STUDIO_HOME"] = __import__("tempfile").mkdtemp(prefix="studio-test-runs-")

import numpy as np
import pytest
from helpers import run_main
from hypothesis import settings

# Hypothesis examples per property test: `ci` (the default, so ./test.sh and CI keep their strength) or
# `dev` (./test.sh --fast). A test needing a different count asks for a share (helpers.examples).
settings.register_profile("ci", max_examples=400)
settings.register_profile("dev", max_examples=20)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# ---------------------------------------------------------------------------------------------
# Tests that start another process carry the `subprocess` mark


PROCESS_FIXTURES = {"main_py"}  # fixtures that start an interpreter: a test using one is marked for it


def _names_subprocess(function) -> bool:
    """Whether a function's own code (nested functions included) names the ``subprocess`` module."""
    codes = [function.__code__] if hasattr(function, "__code__") else []
    while codes:
        code = codes.pop()
        if "subprocess" in code.co_names:
            return True
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `subprocess` mark, given here to a test that uses ``main_py`` (even through another fixture) or
    calls ``subprocess`` itself; a file whose helpers start processes marks itself (``pytestmark``)."""
    for item in items:
        uses_one = PROCESS_FIXTURES & set(getattr(item, "fixturenames", ()))
        if uses_one or _names_subprocess(getattr(item, "function", None)):
            item.add_marker(pytest.mark.subprocess)


# Processes a library starts once per machine, not the tests: matplotlib (under captum) asks fontconfig for the
# fonts when it builds its font cache, on the first import in a fresh home (a fresh CI machine).
LIBRARY_PROCESSES = {"fc-list"}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    """A test without the `subprocess` mark that starts a process fails, naming the mark: unmarked, it
    would run in ``--fast`` (each interpreter costs ~2 s to import torch). Covers its fixtures' setup too."""
    if item.get_closest_marker("subprocess"):
        return (yield)

    popen = subprocess.Popen

    def refuse(*args, **kwargs):
        command = args[0] if args else kwargs.get("args")
        if isinstance(command, list | tuple) and command and command[0] in LIBRARY_PROCESSES:
            return popen(*args, **kwargs)
        pytest.fail(f"{item.nodeid} starts a process ({args[0] if args else kwargs.get('args')!r}): mark it "
                    "@pytest.mark.subprocess, or run main.py through the main_py fixture", pytrace=False)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(subprocess, "Popen", refuse)  # under subprocess.run, check_output, os.popen
        return (yield)


@pytest.fixture(scope="session")
def main_py():
    """``main_py("train", ...)``: main.py in a new interpreter, as a user runs it (helpers.run_main); a
    test using this fixture, even through another fixture, is marked ``subprocess``."""
    return run_main


# ---------------------------------------------------------------------------------------------
# A tiny dataset and a tiny LSTM trained on it


def _tiny_dataset():
    from core.data import Split, TextDataset

    rng = np.random.default_rng(0)
    good, bad = ["good", "great", "fine", "lovely"], ["bad", "awful", "poor", "dull"]
    filler = ["the", "film", "was", "a", "plot", "and", "it", "very"]

    def make(n: int) -> Split:
        texts, labels = [], []
        for i in range(n):
            y = i % 2
            words = list(rng.choice(filler, size=rng.integers(2, 8)))
            words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(good if y else bad)))
            texts.append(" ".join(words))
            labels.append(y)
        return Split(texts, np.array(labels, dtype=np.int64))

    return TextDataset("memory:tiny", {"train": make(200), "validation": make(40), "test": make(40)},
                       ["negative", "positive"])


@pytest.fixture
def tiny_dataset():
    """A small, learnable, in-memory binary dataset (made afresh for each test: a test may change it)."""
    return _tiny_dataset()


@pytest.fixture(scope="session")
def _tiny_lstm():
    """The tiny LSTM, trained once a session. Shared: tests get copies (tiny_model) or its file."""
    from core.config import ModelConfig, TrainConfig
    from core.events import run_to_end
    from core.train.pipeline import train_model

    gen = train_model(
        _tiny_dataset(),
        ModelConfig(kind="lstm", embed_dim=16, hidden_size=16, dropout=0.0),
        TrainConfig(epochs=8, batch_size=16, learning_rate=1e-2, device="cpu", seed=0),
    )
    return run_to_end(gen).model


@pytest.fixture
def tiny_model(_tiny_lstm):
    """A quickly trained small LSTM SentimentModel, as training left it (not opened from a file, so never
    counted as saved): a fresh copy for each test, which may change it."""
    return copy.deepcopy(_tiny_lstm)


@pytest.fixture(scope="session")
def tiny_model_file(_tiny_lstm, tmp_path_factory) -> Path:
    """The tiny LSTM saved once a session. Shared: copy it before changing it."""
    from core.store.modelfile import save_model

    return save_model(_tiny_lstm, tmp_path_factory.mktemp("tiny") / "tiny-lstm.safetensors")
