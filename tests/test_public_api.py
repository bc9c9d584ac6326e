"""The public API: ``from core import ...`` names the engine's parts without file paths, loads nothing until a
name is used (``import core`` and the configs load no torch), and the README's example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import headless

import core

ROOT = Path(__file__).resolve().parents[1]


def test_every_public_name_resolves_to_what_its_module_defines():
    import importlib

    assert {"load_dataset", "train_model", "load_model", "predict", "explain", "export_bundle", "ModelConfig",
            "TrainConfig", "run_to_end"} <= set(core.__all__)
    for name in core.__all__:
        value = getattr(core, name)
        if name != "__version__":
            assert value is getattr(importlib.import_module(core._MODULE_OF[name]), name), name
    assert sorted(dir(core)) == sorted(core.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        core.nothing_here  # noqa: B018


@pytest.mark.subprocess
def test_import_core_and_the_configs_load_no_torch():
    code = ("import sys, core; core.ModelConfig; core.TrainConfig; core.DataConfig(); core.load_dataset; "
            "assert 'torch' not in sys.modules, 'torch'; core.train_model, core.load_model, core.explain; "
            "assert 'torch' in sys.modules; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=headless())
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_the_readme_example_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("## Python API", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    assert "from core import" in example and "core." not in example.replace("from core import", "")
    small = (example.replace('"reviews.csv"', '"builtin:reviews?n=200"')
             .replace("TrainConfig(epochs=5)", 'TrainConfig(epochs=1, device="cpu")')
             .replace('ModelConfig(kind="lstm")', 'ModelConfig(kind="lstm", embed_dim=8, hidden_size=8)'))
    assert small != example  # the example still has the lines this test makes small
    monkeypatch.chdir(tmp_path)
    exec(compile(small, "README.md", "exec"), {"print": lambda *_: None})
    assert (tmp_path / "m.safetensors").is_file() and (tmp_path / "m-bundle" / "model.onnx").is_file()
    assert re.search(r"from core import .*\bexplain\b", example)
