"""One process against two under torchrun (gloo, CPU), with the same global batch: accuracy and wall time.

    .venv/bin/python -m benchmarks.distributed [--data SOURCE] [--batch-size 32] [--json FILE]

The single process trains with ``--batch-size B``; the two processes with B/2 each, so every optimizer
step sees B texts either way. Same seed, the app's defaults otherwise, start to saved model. The issue's
check: test accuracy within 1 point. (On a 2-core machine two processes share the cores the one process
had, so the wall time says what the coordination costs, not what a second machine would gain.)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import ROOT

SST2 = ROOT.parent / "shared" / "datasets" / "sst2"


def train(data: str, batch: int, processes: int, out: Path) -> dict:
    launcher = [str(Path(sys.executable).with_name("torchrun")), "--standalone", f"--nproc_per_node={processes}"] \
        if processes > 1 else [sys.executable]
    t0 = time.perf_counter()
    r = subprocess.run([*launcher, str(ROOT / "main.py"), "train", "--data", data, "--out", str(out),
                        "--batch-size", str(batch), "--device", "cpu", "--no-record", "--quiet"],
                       capture_output=True, text=True, check=True)
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    return {"processes": processes, "batch_per_process": batch, "seconds": round(time.perf_counter() - t0, 1),
            "test_accuracy": summary["test_accuracy"], "epochs_run": summary["epochs_run"],
            "best_epoch": summary["best_epoch"]}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed", description=__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SST2) if (SST2 / "train.tsv").is_file() else "builtin:reviews")
    parser.add_argument("--batch-size", type=int, default=32, help="the global batch (default 32, the app's)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [train(args.data, args.batch_size, 1, Path(tmp) / "one.safetensors"),
                train(args.data, args.batch_size // 2, 2, Path(tmp) / "two.safetensors")]
    print(f"{args.data}, global batch {args.batch_size}")
    print(f"{'processes':>9} {'batch each':>10} {'seconds':>8} {'epochs (best)':>13} {'test acc':>8}")
    for r in rows:
        print(f"{r['processes']:>9} {r['batch_per_process']:>10} {r['seconds']:>8} "
              f"{r['epochs_run']:>6} ({r['best_epoch']:>2})   {100 * r['test_accuracy']:>7.1f}")
    gap = 100 * abs(rows[0]["test_accuracy"] - rows[1]["test_accuracy"])
    print(f"accuracy gap {gap:.1f} points (target <= 1.0)")
    if args.json:
        Path(args.json).write_text(json.dumps({"data": args.data, "rows": rows, "gap_points": gap}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
