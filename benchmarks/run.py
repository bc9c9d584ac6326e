"""Sentiment Studio's benchmark suite: measures side by side, in one run, and prints a table.

    .venv/bin/python -m benchmarks.run [--quick] [--only PART,...] [--json FILE]

1. training throughput (useful tokens/s, padding excluded) of the real pipeline for LSTM, GRU and RNN at
   the default sizes, against (a) the ceiling: the same fused modules' forward+backward+step on
   pre-built, padding-free batches of the same shapes, and (b) a naive pipeline as tutorials write it;
2. tokenization vs a naive Python tokenizer; 3. the interactive trace of a 40-word sentence and
   evaluation throughput; 4. GUI event-loop stalls while two models train; 5. start-up time;
   6. peak memory while training on 25,000 long reviews; 7. training beside busy programs; 8. data larger
   than memory; 9. time to a model that beats the seed article's Keras recipe on SST-2 (``--only seed``);
   10. intervals and paired tests of 3 models on SST-2's test rows (``--only intervals``).
Ratios alternate the two sides with warm-up and take the median of repeats (the machine is shared).
Texts: ../shared/datasets/imdb when present, else generated texts with IMDB's length distribution.
The parts live in throughput.py (1, 2), interactive.py (3: trace, explain, export, runs) and processes.py
(4-9); their targets in targets.py. This module is their registry, the table and ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from benchmarks.interactive import bench_explain, bench_export, bench_intervals, bench_runs, bench_trace
from benchmarks.processes import (
    bench_gui,
    bench_large,
    bench_load,
    bench_memory,
    bench_startup,
    bench_time_to_accuracy,
)
from benchmarks.throughput import bench_tokenize, bench_training

# every part, by its ``--only`` name, in the order a full run takes them; each is ``(quick, results, table)``,
# adding its figures to ``results`` and its rows (measure, value, ratio / p95, target) to ``table``
PARTS = {"train": bench_training, "tokenize": bench_tokenize, "trace": bench_trace, "explain": bench_explain,
         "export": bench_export, "runs": bench_runs, "gui": bench_gui, "startup": bench_startup,
         "memory": bench_memory, "load": bench_load, "large": bench_large, "seed": bench_time_to_accuracy,
         "intervals": bench_intervals}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"Python {platform.python_version()}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="finish in under 60 seconds")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--only", help=f"comma-separated parts: {','.join(PARTS)}")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(PARTS)
    unknown = [name for name in chosen if name not in PARTS]
    if unknown:
        parser.error(f"no part {', '.join(unknown)}; the parts: {','.join(PARTS)}")
    results: dict = {"machine": machine(), "quick": args.quick}
    table: list[tuple[str, str, str, str]] = []
    start = time.perf_counter()
    for name in chosen:
        t0 = time.perf_counter()
        PARTS[name](args.quick, results, table)
        print(f"  [{name}: {time.perf_counter() - t0:.1f} s]", file=sys.stderr, flush=True)
    results["seconds"] = round(time.perf_counter() - start, 1)
    print(f"Sentiment Studio benchmarks{' (quick)' if args.quick else ''}: {results['machine']}")
    widths = [max(len(r[i]) for r in [("measure", "value", "ratio / p95", "target"), *table]) for i in range(4)]
    for row in [("measure", "value", "ratio / p95", "target"), *table]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    print(f"({results['seconds']} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
