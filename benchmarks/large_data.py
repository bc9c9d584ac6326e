"""Data larger than memory: peak RSS and time to the first training step against the number of rows.

    .venv/bin/python -m benchmarks.large_data [--rows 100000,500000,2000000] [--steps 300] [--in-memory]
                                              [--json FILE]

For each row count a CSV of generated short reviews (about 97 bytes a row; 2 M rows are 194 MB) is
written once (kept in the system's temporary folder), then a fresh Python process loads it, learns the
vocabulary, tokenizes and trains the default LSTM for ``--steps`` optimizer steps, validates and tests,
as ``main.py train --max-steps`` does. Its peak memory is the largest sum of the resident set sizes of it
and its child processes (the tokenizing ``map`` may run in several), polled every 20 ms.

Each count runs twice on the Arrow path, the first with an empty ``datasets`` cache, the second reusing
it; ``--in-memory`` adds a run of the in-memory path (every text a Python string), which grows with the
rows, for comparison. The issue's check is the 2 M-row Arrow run: peak under 1.5 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import ROOT

LIMIT_MB = 1536.0

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from core.data import load_dataset
from core.events import PhaseEvent, StepEvent
from core.train.pipeline import train_model
from core.model.events import ModelDone
from core.config import TrainConfig
path, steps, arrow = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "arrow"
ds = load_dataset(path, memory_mapped=arrow)
out = {"rows": sum(len(ds[s]) for s in ds.splits), "loaded_s": time.perf_counter() - t0, "phases": {}}
for e in train_model(ds, train_config=TrainConfig(max_steps=steps, device="cpu")):
    now = time.perf_counter() - t0
    if isinstance(e, PhaseEvent):
        out["phases"][e.phase] = round(now, 2)
    elif isinstance(e, StepEvent) and "first_step_s" not in out:
        out["first_step_s"] = now
    elif isinstance(e, ModelDone):
        out["test_accuracy"] = e.model.record.test.accuracy
out["total_s"] = time.perf_counter() - t0
print(json.dumps(out))
"""


def write_csv(rows: int, path: Path, seed: int = 0) -> None:
    """Short generated reviews: 8-24 filler words, two of them sentiment words of the row's class."""
    rng = np.random.default_rng(seed)
    filler = np.array([f"w{i}" for i in range(5000)]
                      + "the a of and to in is it that this was film movie story".split(), dtype="<U12")
    cues = [np.array("bad awful terrible boring dull weak tedious mess".split()),
            np.array("good great excellent wonderful superb delightful moving charming".split())]
    tmp = path.with_suffix(".part")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("text,label\n")
        for start in range(0, rows, 50_000):
            m = min(50_000, rows - start)
            labels = rng.integers(0, 2, m)
            width = 24
            words = filler[rng.integers(0, len(filler), (m, width))]
            for _ in range(2):
                at = rng.integers(0, 8, m)
                pick = rng.integers(0, 8, m)
                words[np.arange(m), at] = np.where(labels == 1, cues[1][pick], cues[0][pick])
            lengths = rng.integers(8, width + 1, m)
            f.write("".join(" ".join(w[:n]) + f",{lab}\n" for w, n, lab in zip(words, lengths, labels, strict=True)))
    tmp.replace(path)


def tree_rss_mb(pid: int) -> float:
    """The resident memory of ``pid`` and all its descendants, in MB (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def measure(path: Path, steps: int, mode: str, cache: Path) -> dict:
    """One run of ``CHILD`` with ``datasets``' cache at ``cache``: its figures and peak tree RSS."""
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache), "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(steps), mode], cwd=ROOT,  # imports core
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, tree_rss_mb(proc.pid))
        time.sleep(0.02)
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"the {mode} run on {path.name} failed:\n{err[-3000:]}")
    figures = json.loads(out.strip().splitlines()[-1])
    return {"mode": mode, "peak_rss_mb": round(peak), **{k: round(v, 2) if isinstance(v, float) else v
                                                         for k, v in figures.items()}}


def run(rows: list[int], steps: int, in_memory: bool, folder: Path | None = None) -> list[dict]:
    folder = folder or Path(tempfile.gettempdir()) / "sentiment-studio-large-data"
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for n in rows:
        path = folder / f"reviews-{n}.csv"
        if not path.is_file():
            write_csv(n, path)
        with tempfile.TemporaryDirectory() as cache:
            first = measure(path, steps, "arrow", Path(cache))
            again = measure(path, steps, "arrow", Path(cache))
        row = {"rows": n, "file_mb": round(path.stat().st_size / 2**20), "arrow_first": first, "arrow_cached": again}
        if in_memory:
            with tempfile.TemporaryDirectory() as cache:
                row["in_memory"] = measure(path, steps, "memory", Path(cache))
        results.append(row)
        print(describe(row), flush=True)
    return results


def describe(row: dict) -> str:
    cells = [f"{row['rows']:>9,} rows ({row['file_mb']} MB)"]
    for key, name in (("arrow_first", "Arrow, new cache"), ("arrow_cached", "Arrow, cached"),
                      ("in_memory", "in memory")):
        r = row.get(key)
        if r:
            cells.append(f"{name}: peak {r['peak_rss_mb']:,} MB, first step {r['first_step_s']:.1f} s, "
                         f"all {r['total_s']:.1f} s")
    return " | ".join(cells)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.large_data", description=__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="100000,500000,2000000")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--in-memory", action="store_true", help="also run the in-memory path, for comparison")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    results = run([int(r) for r in args.rows.split(",")], args.steps, args.in_memory)
    largest = max(results, key=lambda r: r["rows"])
    ok = all(largest[k]["peak_rss_mb"] < LIMIT_MB for k in ("arrow_first", "arrow_cached"))
    print(f"{largest['rows']:,} rows on the Arrow path: peak {largest['arrow_first']['peak_rss_mb']:,} MB "
          f"(target < {LIMIT_MB:.0f}): {'met' if ok else 'MISSED'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
