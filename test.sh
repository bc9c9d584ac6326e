#!/usr/bin/env bash
# Runs the whole test suite (and the lint and layering checks inside it), creating the environment on first run.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure_env.sh
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
exec "$PY" -m pytest "$@"
