"""The map cannot go stale: docs/architecture.md names every module there is (and none that is gone), no file
is larger than the map allows, and no two modules import each other, even through others or only for types."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAP = ROOT / "docs" / "architecture.md"
PACKAGES = ("core", "gui", "cli")  # every module of these is on the map


def tracked_python_files() -> list[Path]:
    """The repository's Python files (outside hidden folders such as .venv, and build outputs)."""
    skip = {"__pycache__", "build", "dist"}
    return sorted(p for p in ROOT.rglob("*.py")
                  if not any(part.startswith(".") or part in skip for part in p.relative_to(ROOT).parts[:-1]))


def map_paths() -> set[str]:
    """The files the map's layout block names, as paths: its lines are ``name  what it is``, indented two
    spaces per folder level, folders ending in ``/`` (a folder's line names its ``__init__.py`` too)."""
    block = MAP.read_text(encoding="utf-8").split("```")[1]
    paths, folders = set(), []
    for line in block.splitlines():
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        folders = folders[:depth]
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
            paths.add("/".join([*folders, "__init__.py"]))  # a package's folder line describes it
        elif name.endswith(".py"):
            paths.add("/".join([*folders, name]))
    return paths


def test_every_module_is_on_the_map_and_every_module_on_it_exists():
    modules = {p.relative_to(ROOT).as_posix() for p in tracked_python_files()
               if p.relative_to(ROOT).parts[0] in PACKAGES}
    named = {path for path in map_paths() if path.split("/")[0] in PACKAGES}
    assert "core/config.py" in modules and "gui/main_window.py" in modules
    assert not modules - named, f"docs/architecture.md does not name {sorted(modules - named)}"
    assert not named - modules, f"docs/architecture.md names modules that do not exist: {sorted(named - modules)}"


def size_rules() -> tuple[int, int, dict[str, int]]:
    """The map's size rules: the largest file, the largest screen, and the files exempt with their own limit."""
    text = MAP.read_text(encoding="utf-8")
    largest = int(re.search(r"No file over (\d+) lines", text)[1])
    screen = int(re.search(r"screens? \(`gui/\*_screen\.py`\) under (\d+)", text)[1])
    exempt = {m[1]: int(m[2]) for m in re.finditer(r"^- `([^`]+)` may have up to (\d+) lines: \S", text, re.M)}
    return largest, screen, exempt


def test_no_file_is_larger_than_the_map_allows():
    largest, screen, exempt = size_rules()
    too_long = []
    for path in tracked_python_files():
        name = path.relative_to(ROOT).as_posix()
        limit = exempt.get(name, screen if re.fullmatch(r"gui/\w+_screen\.py", name) else largest)
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            too_long.append(f"{name}: {lines} lines, over {limit}")
    assert not too_long, "; ".join(too_long)


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports: at the top, inside functions and for type checking alike."""
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for p in tracked_python_files()}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = set()
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's package upwards
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                for alias in node.names:  # a name of a package may be a module of it
                    targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base)
        graph[module] = {t for t in targets if t in files and t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles_anywhere_in_the_tree():
    graph = import_graph()
    assert "core.train.pipeline" in graph["core.train.sweep"]  # an import inside a function counts
    assert "core.model.sentiment_model" in graph["gui.session"]  # and one for type checking only
    assert cycles(graph) == []


def test_the_circle_finder_finds_circles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
