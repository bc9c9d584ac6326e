"""Parts ``gui``, ``startup``, ``memory``, ``load``, ``large`` and ``seed`` of ``benchmarks.run``: measurements
in other processes. The window's stalls while models train (benchmarks.gui_responsiveness), start-up
(benchmarks.startup_probe), peak memory, training beside busy programs, data larger than memory
(benchmarks.large_data) and the time to a model that beats the seed article's Keras recipe."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import ROOT
from benchmarks.targets import END_ACCURACY, SEED_ACCURACY, TARGETS
from benchmarks.texts import IMDB
from core.config import TrainConfig

BUSY = "while True: pass"  # one competing program that keeps a core busy
THREAD_ENV = ("SENTIMENT_STUDIO_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY")  # what a measurement sets


def shipped_env(env_extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any thread settings (as shipped), plus ``env_extra``."""
    return {k: v for k, v in os.environ.items() if k not in THREAD_ENV} | (env_extra or {})


def run_train(data: str, args: list[str], env_extra: dict[str, str] | None = None) -> tuple[float, dict]:
    """``main.py train --data data *args`` with ``env_extra`` as the only thread settings: seconds from start
    to saved model, and its printed summary."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, str(ROOT / "main.py"), "train", "--data", data, *args, "--out",
                               f"{tmp}/m.safetensors", "--no-record", "--quiet"],
                              check=True, capture_output=True, text=True, env=shipped_env(env_extra))
        return time.perf_counter() - t0, json.loads(done.stdout)


def train_wall(data: str, epochs: int, env_extra: dict[str, str]) -> float:
    """Seconds for ``main.py train`` (start to saved model) with ``env_extra`` as the only thread settings
    (none: as shipped). benchmarks.wait_policy uses it too."""
    return run_train(data, ["--epochs", str(epochs), "--device", "cpu"], env_extra)[0]


def bench_gui(quick: bool, results: dict, table: list) -> None:
    """The window's event-loop stalls (benchmarks/gui_responsiveness.py): while PyTorch loads after the first
    paint (Train pressed at once, "cold", and not, "warm"), while the other screens are built before that, and
    while an LSTM and an RNN train; then the same beside one busy program."""
    data = "builtin:reviews?n=1500" if quick else str(ROOT.parent / "shared" / "datasets" / "sst2")
    if not quick and not Path(data).is_dir():
        data = "builtin:reviews"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    cmd = [sys.executable, "-m", "benchmarks.gui_responsiveness", "--data", data, "--one"]

    def cases() -> list[dict]:
        out = []
        for case in ("cold", "warm"):
            r = subprocess.run([*cmd, case], capture_output=True, text=True, env=env, cwd=ROOT)
            out.append(json.loads(r.stdout.strip().splitlines()[-1]))
        return out

    for busy, rows in ((0, cases()), (1, None)):
        if rows is None:
            hog = subprocess.Popen([sys.executable, "-c", BUSY])
            try:
                rows = cases()
            finally:
                hog.kill()
                hog.wait()
        suffix, where = ("", "") if busy == 0 else ("_loaded", ", one busy program")
        load = max(r["loading_torch"]["stall_ms_max"] or 0.0 for r in rows)
        load_p99 = max(r["loading_torch"]["stall_ms_p99"] or 0.0 for r in rows)
        build = max(r["building_screens"]["stall_ms_max"] or 0.0 for r in rows)
        worst, p99 = max(r["stall_ms_max"] for r in rows), max(r["stall_ms_p99"] for r in rows)
        results[f"gui_load_stall_ms_max{suffix}"], results[f"gui_load_stall_ms_p99{suffix}"] = load, load_p99
        results[f"gui_build_stall_ms_max{suffix}"] = build
        results[f"gui_stall_ms_max{suffix}"], results[f"gui_stall_ms_p99{suffix}"] = worst, p99
        results[f"gui_runs{suffix}"] = rows
        table.append((f"GUI stall while PyTorch loads after the first paint (cold and warm{where})",
                      f"max {load} ms", f"p99 {load_p99} ms", f"max <= {TARGETS['gui_load_stall_ms_max']:.0f} ms"))
        table.append((f"GUI stall while the other screens are built after the first paint{where}",
                      f"max {build} ms", "", ""))
        table.append((f"GUI stall while LSTM+RNN train (cold and warm{where})", f"max {worst} ms", f"p99 {p99} ms",
                      "max <= 100, p99 <= 30 ms"))


def bench_load(quick: bool, results: dict, table: list) -> None:
    """Training time with 0, 1 and 2 competing busy processes: as shipped against each fixed thread count
    (1 to all cores), the sides alternated, the median of three runs each. Target: as shipped within 1.15x
    of the best fixed count."""
    sst2 = ROOT.parent / "shared" / "datasets" / "sst2"
    data = "builtin:reviews?n=3000" if quick or not sst2.is_dir() else str(sst2)
    epochs = 1 if quick else 2
    counts = [str(c) for c in sorted({1, max(1, (os.cpu_count() or 1) // 2), os.cpu_count() or 1})]
    repeats = 1 if quick else 3  # one run of ~10 s moves by 15% on its own here: the median of three
    for busy in (0, 1, 2):
        hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(busy)]
        try:
            sides = [None, *counts]
            runs: dict[str | None, list[float]] = {side: [] for side in sides}
            for r in range(repeats):
                for side in sides if (busy + r) % 2 == 0 else reversed(sides):  # alternate the order
                    env = {} if side is None else {"SENTIMENT_STUDIO_THREADS": side}
                    runs[side].append(train_wall(data, epochs, env))
            walls = {side: statistics.median(times) for side, times in runs.items()}
            results[f"train_load{busy}_runs"] = {str(side or "shipped"): times for side, times in runs.items()}
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
        best = min(walls[c] for c in counts)
        ratio = walls[None] / best
        results[f"train_load{busy}_s"] = round(walls[None], 1)
        results[f"train_load{busy}_vs_best_fixed"] = round(ratio, 2)
        fixed = ", ".join(f"{c} thr {walls[c]:.1f} s" for c in counts)
        table.append((f"train {epochs} epochs, {busy} busy process(es)", f"{walls[None]:.1f} s ({fixed})",
                      f"{ratio:.2f}x best fixed", "<= 1.15x"))


def bench_time_to_accuracy(quick: bool, results: dict, table: list) -> None:
    """``main.py train`` on SST-2 with every default (start to saved model, as a user runs it), seeds 0 and 1
    (and 2 in a full run): its wall time and the saved model's test accuracy, against the seed article's
    Keras recipe (80.9, after 52 s of training at batch 16 here; 80.4 after 18 s at batch 64)."""
    sst2 = ROOT.parent / "shared" / "datasets" / "sst2"
    if not (sst2 / "train.tsv").is_file():
        table.append(("time to a model over the Keras recipe (SST-2)", "skipped: no ../shared/datasets/sst2", "",
                      ""))
        return
    runs = []
    for seed in (0,) if quick else (0, 1, 2):
        wall, summary = run_train(str(sst2), ["--seed", str(seed), *(["--max-steps", "200"] if quick else [])])
        runs.append({"seed": seed, "wall_s": round(wall, 1), "test_accuracy": summary["test_accuracy"],
                     "epochs": summary["epochs_run"]})
    results["time_to_seed_runs"] = runs
    scores = [r["test_accuracy"] or 0.0 for r in runs]  # None: no test split was scored (it always is on SST-2)
    over = [r["wall_s"] for r, score in zip(runs, scores, strict=True) if score > SEED_ACCURACY]
    # the target: every seed's saved model over the recipe, the slowest's time; and none ending under 81
    results["time_to_seed_accuracy_s"] = max(over) if len(over) == len(runs) else None
    results["time_to_seed_end_accuracy_met"] = min(scores) >= END_ACCURACY
    each = ", ".join(f"seed {r['seed']}: {100 * score:.1f} in {r['wall_s']:.1f} s"
                     for r, score in zip(runs, scores, strict=True))
    worst = min(scores)
    table.append(("SST-2, defaults, `train` to saved model (each seed)", each,
                  f"slowest {max(r['wall_s'] for r in runs):.1f} s; lowest {100 * worst:.1f}",
                  f"<= {TARGETS['time_to_seed_accuracy_s']:.0f} s, each > {100 * SEED_ACCURACY:.1f}, "
                  f">= {100 * END_ACCURACY:.0f}"))
    # from pressing Train: the window, the LSTM alone with the form's defaults, warm-up done (seed 0)
    epochs = "1" if quick else str(TrainConfig().epochs)
    env = shipped_env({"QT_QPA_PLATFORM": "offscreen"})
    r = subprocess.run([sys.executable, "-m", "benchmarks.gui_responsiveness", "--data", str(sst2), "--one", "warm",
                        "--models", "lstm", "--epochs", epochs], capture_output=True, text=True, check=True, env=env,
                       cwd=ROOT)
    gui = json.loads(r.stdout.strip().splitlines()[-1])
    accuracy = next(iter(gui["test_accuracy"].values()), 0.0)
    results["time_to_seed_gui"] = {"seconds": gui["seconds"], "test_accuracy": accuracy}
    table.append(("SST-2, defaults, pressing Train to the LSTM trained (seed 0)",
                  f"{100 * accuracy:.1f} in {gui['seconds']:.1f} s", "",
                  f"<= {TARGETS['time_to_seed_accuracy_s']:.0f} s"))


def startup_once(cold: bool) -> tuple[float, bool] | None:
    """Seconds from starting ``python -m benchmarks.startup_probe`` to its window drawn, and whether torch was
    imported by then; ``cold`` drops the page cache first (root on Linux only: None where it can't)."""
    if cold:
        try:
            os.sync()
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
        except OSError:
            return None
    t0 = time.time()
    r = subprocess.run([sys.executable, "-m", "benchmarks.startup_probe"], capture_output=True, text=True,
                       env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, cwd=ROOT)
    shown = next(line.split() for line in r.stdout.splitlines() if line.startswith("shown"))
    return float(shown[1]) - t0, shown[2] == "torch=True"


def bench_startup(quick: bool, results: dict, table: list) -> None:
    """Start-up to a drawn window, warm (the median of several) and cold (the page cache dropped before each
    run, where the OS allows it), and whether torch was imported before the first paint (it must not be)."""
    startup_once(cold=False)  # the first run after others reads files the warm runs find in the cache
    for key, cold in (("startup_s", False), ("startup_cold_s", True)):
        runs = [startup_once(cold) for _ in range(2 if quick else 5)]
        if None in runs:
            table.append(("start-up to window drawn, cold", "skipped: the page cache can't be dropped here", "",
                          f"<= {TARGETS[key]} s"))
            continue
        s = statistics.median(seconds for seconds, _ in runs)
        results[key] = round(s, 3)
        results[f"{key}_runs"] = [round(seconds, 3) for seconds, _ in runs]
        results["torch_before_paint"] = results.get("torch_before_paint", False) or any(t for _, t in runs)
        table.append((f"start-up to window drawn, {'cold (page cache dropped)' if cold else 'warm'}",
                      f"{s:.2f} s", f"{min(sec for sec, _ in runs):.2f}-{max(sec for sec, _ in runs):.2f} s",
                      f"<= {TARGETS[key]} s"))
    table.append(("torch imported before the first paint", "yes" if results.get("torch_before_paint") else "no",
                  "", "no"))


MEMORY_CHILD = r"""
import resource, sys, time
from core.data import load_dataset, Split, TextDataset
from core.train.pipeline import train_model
from core.events import StepEvent
from core.config import TrainConfig
import numpy as np
steps = int(sys.argv[1])
imdb = sys.argv[2]
if imdb:
    ds = load_dataset(imdb)
    train = ds["train"]; test = ds["test"]
    texts = list(train.texts) + list(test.texts); labels = np.concatenate([train.labels, test.labels])
    ds = TextDataset("imdb 25k", {"train": Split(texts, labels), "validation": ds["validation"],
                     "test": Split(test.texts[:64], test.labels[:64])}, ds.label_names)
else:
    from benchmarks.texts import imdb_like_texts
    texts, labels, _ = imdb_like_texts(25000)
    ds = TextDataset("gen", {"train": Split(texts, labels), "validation": Split(texts[:64], labels[:64]),
                     "test": Split(texts[:64], labels[:64])}, ["negative", "positive"])
n = 0
for e in train_model(ds, train_config=TrainConfig(epochs=1, device="cpu")):
    if isinstance(e, StepEvent):
        n += 1
        if n >= steps:
            break
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def bench_memory(quick: bool, results: dict, table: list) -> None:
    imdb = str(IMDB) if (IMDB / "train.tsv").is_file() else ""
    r = subprocess.run([sys.executable, "-c", MEMORY_CHILD, "10" if quick else "60", imdb],
                       capture_output=True, text=True, cwd=ROOT)  # the child imports core from ROOT
    mb = float(r.stdout.strip().splitlines()[-1])
    results["train_peak_rss_mb"] = round(mb)
    table.append(("peak RSS training on 25,000 reviews", f"{mb:,.0f} MB", "",
                  f"<= {TARGETS['train_peak_rss_mb']:.0f} MB"))


def bench_large(quick: bool, results: dict, table: list) -> None:
    """Data larger than memory (``benchmarks.large_data``): peak RSS of the process tree and time to
    the first training step against the row count, on the Arrow path (new cache, then reusing it) and the
    in-memory one. Target: 2 M rows on the Arrow path under 1.5 GB."""
    from benchmarks import large_data

    rows = [100_000] if quick else [100_000, 500_000, 2_000_000]
    for row in large_data.run(rows, 50 if quick else 300, in_memory=True):
        n = row["rows"]
        for key in ("arrow_first", "arrow_cached", "in_memory"):
            results[f"large_{key}_{n}_peak_rss_mb"] = row[key]["peak_rss_mb"]
            results[f"large_{key}_{n}_first_step_s"] = row[key]["first_step_s"]
        first, cached, memory = row["arrow_first"], row["arrow_cached"], row["in_memory"]
        table.append((f"{n:,}-row CSV, peak RSS: Arrow (cached) / in memory",
                      f"{first['peak_rss_mb']:,} ({cached['peak_rss_mb']:,}) / {memory['peak_rss_mb']:,} MB", "",
                      f"< {large_data.LIMIT_MB:.0f} MB at 2 M" if n == 2_000_000 else ""))
        table.append((f"{n:,}-row CSV, to first step: Arrow (cached) / in memory",
                      f"{first['first_step_s']:.1f} ({cached['first_step_s']:.1f}) / {memory['first_step_s']:.1f} s",
                      "", ""))
