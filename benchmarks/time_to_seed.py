"""Time to beat the seed article's Keras recipe (test 80.9 on SST-2): ``main.py train`` with the defaults, from
start to the saved model as a user runs it, random init and from word vectors. A study of
``benchmarks.results``; its table closes the word-vectors section (benchmarks/word_vectors.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time

from benchmarks import ROOT
from benchmarks.report import GLOVE, SHARED, State


def run(state: State, quick: bool, vectors: str | None) -> None:
    """Wall time of ``main.py train`` on SST-2 and its test accuracy, with the defaults and with the vectors
    (skipped in a ``--quick`` check)."""
    if quick or not (SHARED / "sst2" / "train.tsv").is_file():
        return
    for label, extra in (("random", []), (GLOVE, ["--vectors", vectors] if vectors else None)):
        key = f"time_to_seed/{label}"
        if extra is None or key in state:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, str(ROOT / "main.py"), "train", "--data", str(SHARED / "sst2"),
                                   "--out", f"{tmp}/m.safetensors", "--no-record", "--quiet", *extra],
                                  capture_output=True, text=True, check=True)
            wall = time.perf_counter() - t0
        summary = json.loads(done.stdout)
        state[key] = {"wall_s": round(wall, 1), "accuracy": summary["test_accuracy"],
                      "training_s": summary["training_time_s"], "epochs": summary["epochs_run"]}
        print(f"{key}: {state[key]}", flush=True)
        state.save()


def markdown(state: dict) -> list[str]:
    """The table of both starts, when either ran."""
    tts = {k: state.get(f"time_to_seed/{k}") for k in ("random", GLOVE)}
    if not any(tts.values()):
        return []
    lines = ["### Time to beat the seed article's Keras recipe on SST-2 (test 80.9)", "",
             "Wall time of `python main.py train --data ../shared/datasets/sst2 --out m.safetensors` from start "
             "to the saved model (loading, tokenizing, reading vectors, training with early stopping, testing, "
             "saving), on 2 cores; the recipe itself trained for 52 s (batch 16) to reach 80.9.", "",
             "| start | wall time | training | epochs | test accuracy | beats 80.9 |", "|---|---|---|---|---|---|"]
    for k, r in tts.items():
        if r:
            lines.append(f"| {'GloVe 6B 50-d' if k == GLOVE else 'random init'} | {r['wall_s']:.0f} s | "
                         f"{r['training_s']:.0f} s | {r['epochs']} | {100 * r['accuracy']:.1f} | "
                         f"{'yes' if 100 * r['accuracy'] > 80.9 else 'no'} |")
    return [*lines, ""]
