"""Real benchmark data from ../shared/datasets (skipped where it is absent): the defaults must hold up."""

from __future__ import annotations

import json

import pytest
from helpers import shared_dataset


@pytest.mark.slow
@pytest.mark.shared_data
def test_default_lstm_on_sst2_reaches_80_percent(main_py, tmp_path):
    """Issue 2's promise: a plain `train` call on SST-2 gives a model of at least 80% test accuracy."""
    data = shared_dataset("sst2")
    out = tmp_path / "sst2.safetensors"
    r = main_py("train", "--data", str(data), "--out", str(out), "--quiet", text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["test_accuracy"] >= 0.80, summary
    r = main_py("evaluate", str(out), "--data", str(data), text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["accuracy"] == pytest.approx(summary["test_accuracy"])
