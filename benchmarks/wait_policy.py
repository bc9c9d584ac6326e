"""OpenMP wait policy x thread count x busy programs: wall time of one `main.py train` epoch on SST-2.

    .venv/bin/python -m benchmarks.wait_policy [--epochs 1] [--busy 0,1,2]

The lever docs/benchmarks.md weighs against the thread tuner: each case runs twice, the second time
in reverse order, with PyTorch's thread count fixed by OMP_NUM_THREADS (the tuner then only sees one
choice) and OMP_WAIT_POLICY set or not. One JSON line per run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from benchmarks import ROOT
from benchmarks.processes import BUSY, train_wall

SST2 = ROOT.parent / "shared" / "datasets" / "sst2"
CASES = [{}, {"OMP_WAIT_POLICY": "PASSIVE"}, {"OMP_NUM_THREADS": "1"},
         {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}]


def wall(case: dict, epochs: int) -> float:
    """One run with PyTorch's count fixed (the tuner would otherwise choose): OMP_NUM_THREADS's, else all cores."""
    threads = case.get("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    return train_wall(str(SST2), epochs, case | {"SENTIMENT_STUDIO_THREADS": threads})


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.wait_policy", description=__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--busy", default="0,1,2", help="comma-separated numbers of busy programs")
    args = parser.parse_args()
    if not SST2.is_dir():
        print(f"needs {SST2}", file=sys.stderr)
        return 1
    for busy in (int(b) for b in args.busy.split(",")):
        hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(busy)]
        try:
            for repeat in range(2):
                for case in CASES if repeat == 0 else CASES[::-1]:
                    print(json.dumps({"busy": busy, "case": case, "s": round(wall(case, args.epochs), 1)}), flush=True)
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
