#!/usr/bin/env bash
# The GPU path's check (issue 17): throughput CPU vs GPU (batch 32 to 512), and the trace on the GPU against
# the CPU's; under 5 minutes. Runs in the project's environment (./test.sh creates it). Exit 0 without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec "$PY" -m benchmarks.gpu_check "$@"
