"""OpenMP wait policy x thread count x busy programs: wall time of one `main.py train` epoch on SST-2.

    .venv/bin/python benchmarks/wait_policy.py [--epochs 1] [--busy 0,1,2]

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
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SST2 = ROOT.parent / "shared" / "datasets" / "sst2"
CASES = [{}, {"OMP_WAIT_POLICY": "PASSIVE"}, {"OMP_NUM_THREADS": "1"},
         {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}]
BUSY = "while True: pass"


def wall(case: dict, epochs: int) -> float:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "SENTIMENT_STUDIO_THREADS")} | case
    if "OMP_NUM_THREADS" in case:
        env["SENTIMENT_STUDIO_THREADS"] = case["OMP_NUM_THREADS"]
    else:
        env["SENTIMENT_STUDIO_THREADS"] = str(os.cpu_count() or 1)  # PyTorch's default count, not the tuner's
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "main.py"), "train", "--data", str(SST2), "--epochs", str(epochs),
                        "--out", f"{tmp}/m.safetensors", "--no-record", "--quiet", "--device", "cpu"],
                       check=True, capture_output=True, env=env)
        return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
