#!/usr/bin/env bash
# Launches Sentiment Studio (the desktop app), creating its environment on first run.
# Any arguments go to main.py: ./run.sh train --data builtin:longrange --out m.safetensors
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure_env.sh
exec "$PY" main.py "$@"
