#!/usr/bin/env bash
# `make test`'s pytest. The real-engine tests (tests/engine/: mostly waiting on containers, image
# builds and restarts) run in a process of their own beside the rest of the suite, so the whole
# takes about the longer of the two instead of their sum (CI must stay under 30 minutes on 2 cores).
# Their output follows the suite's; either one failing fails `make test`.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.venv/bin}
mkdir -p var
RELAIS_TEST_PORT_PARITY=0 "$BIN/pytest" tests/engine -p no:cacheprovider --durations=10 >var/engine-tests.log 2>&1 &
engine=$!
RELAIS_TEST_PORT_PARITY=1 "$BIN/pytest" --ignore=tests/engine --durations=25
suite=$?
wait "$engine"
engine_status=$?
echo "---------------- tests/engine (the compose deployment on a real Docker engine) ----------------"
cat var/engine-tests.log
[ "$suite" = 0 ] && [ "$engine_status" = 0 ]
