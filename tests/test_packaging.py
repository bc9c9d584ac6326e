"""``pip install .`` from a clean copy of the repository: the package holds everything the app needs, and the
``sentiment-studio`` command is ``main.py``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.subprocess  # pip installs the package for every test here


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The project installed (without its dependencies, which this environment has) into a folder of its own,
    from a copy of the tracked files: nothing is built inside the repository."""
    work = tmp_path_factory.mktemp("pkg")
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    files = [name for name in listing.stdout.split("\0") if name]  # what a clone has: committed or staged files
    for name in files:
        if (ROOT / name).is_file():
            (work / "src" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, work / "src" / name)
    # with build isolation, as a user's `pip install .` does: [build-system] is what builds it
    run = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                          str(work / "site"), str(work / "src")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return work / "site"


def test_the_installed_package_has_every_module_and_the_icon(installed):
    modules = {p.relative_to(installed).as_posix() for p in installed.rglob("*.py")}
    source = {p.relative_to(ROOT).as_posix() for d in ("core", "gui", "cli") for p in (ROOT / d).rglob("*.py")}
    assert source <= modules and "cli/__init__.py" in source and "main.py" in modules
    assert (installed / "resources" / "icon.svg").is_file()
    metadata = next(installed.glob("sentiment_studio-*.dist-info")) / "METADATA"
    text = metadata.read_text()
    from core import __version__

    requires = {line.removeprefix("Requires-Dist: ") for line in text.splitlines() if line.startswith("Requires-Dist:")}
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert f"Version: {__version__}" in text
    from packaging.requirements import Requirement

    def same(r: str) -> tuple:
        req = Requirement(r)
        return req.name.lower(), req.specifier, str(req.marker)

    assert {same(r) for r in project["dependencies"]} <= {same(r) for r in requires}  # each, exactly as declared


def test_the_sentiment_studio_command_is_main_py(installed, tmp_path):
    env = {"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    command = installed / "bin" / "sentiment-studio"
    run = subprocess.run([str(command), "train", "--data", "builtin:reviews?n=100", "--out", str(tmp_path / "m.st"),
                          "--epochs", "1", "--embed-dim", "8", "--hidden-size", "8", "--quiet", "--device", "cpu"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    info = subprocess.run([str(command), "info", str(tmp_path / "m.st")], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert json.loads(info.stdout)["format"] == "sentiment-studio-model"
    where = subprocess.run([sys.executable, "-c", "import core, gui.theme; print(core.__file__); "
                            "print(gui.theme.RESOURCES)"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=120)
    core_file, resources = where.stdout.split()
    assert core_file.startswith(str(installed)) and resources == str(installed / "resources")  # the installed copy
