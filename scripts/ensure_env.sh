#!/usr/bin/env bash
# Creates .venv on first use and (re)installs the dependencies whenever pyproject.toml changes.
# Sourced by ./run.sh and ./test.sh; afterwards $PY is the environment's python.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${STUDIO_VENV:-$ROOT/.venv}"

pick_python() {
    for p in python3.13 python3.12 python3.11 python3; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            echo "$p"; return 0
        fi
    done
    echo "Sentiment Studio needs Python 3.11 or newer; install it and run this again." >&2
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    echo "Creating the Python environment in $VENV (first run only) ..." >&2
    "$(pick_python)" -m venv "$VENV"
fi
PY="$VENV/bin/python"
STAMP="$VENV/.studio-deps-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
    echo "Installing dependencies (first run, or pyproject.toml changed) ..." >&2
    "$PY" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    # torch first: the pinned CPU build installs from local disk where it is there; elsewhere pip
    # picks the right build for the machine. Without this, "torch>=2.2" could pull a CUDA build.
    if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
        "$PY" -m pip install --quiet "torch==2.13.0" || "$PY" -m pip install --quiet torch
    fi
    "$PY" - "$ROOT/pyproject.toml" > "$VENV/.requirements.txt" <<'PYEOF'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
for dep in project["dependencies"] + project["optional-dependencies"]["test"]:
    print(dep)
PYEOF
    "$PY" -m pip install --quiet -r "$VENV/.requirements.txt"
    rm -f "$VENV"/.studio-deps-*
    touch "$STAMP"
fi
export PY
