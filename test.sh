#!/usr/bin/env bash
# Runs the whole test suite (and the lint and layering checks inside it), creating the environment on first run.
# ./test.sh --fast: the quick loop (under a minute on 2 cores): every core module, but no slow test, no test that
# starts a process (the `subprocess` mark), not tests/gui, and 20 Hypothesis examples a property (the dev profile).
# Other arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
args=()
fast=0
for arg in "$@"; do
    if [ "$arg" = "--fast" ]; then fast=1; else args+=("$arg"); fi
done
if [ "$fast" = 1 ]; then
    export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-dev}"
    args=(-m "not slow and not subprocess" --ignore=tests/gui ${args[@]+"${args[@]}"})
fi
source scripts/ensure_env.sh
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
exec "$PY" -m pytest ${args[@]+"${args[@]}"}
