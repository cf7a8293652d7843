#!/usr/bin/env bash
# `make test`'s pytest, in three processes side by side so that the whole takes about the longest
# of them instead of their sum (CI must stay under 30 minutes on 2 cores). The tests mostly wait
# (systems starting, containers, restarts, timeouts): two processes used about half of the cores
# and took 30–32 min. One process runs, in order, the real-engine tests (tests/engine/: containers,
# image builds and restarts), the browser tests, the federation's multi-process tests and the
# schemathesis fuzz; beside it, two pytest-xdist workers share the rest of the suite a file at a
# time (`--dist loadfile`: a module's shared fixtures stay in one worker). Each process takes its own
# lane of ports (tests/harness.py). The first one's output follows the pool's; either failing fails
# `make test`.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.venv/bin}
mkdir -p var
# Where PYTHONDONTWRITEBYTECODE is set (this machine sets it), each process the tests start (there
# are thousands) compiled this project's modules again: about 0.3 s of CPU each. They are compiled
# once here instead; the interpreter still reads what is there.
"$BIN/python" -m compileall -q -j 0 services shared relais tests bench >/dev/null
BESIDE=(tests/engine tests/browser tests/federation tests/test_schemathesis.py)
export RELAIS_TEST_PORT_LANES=3
# Each side says when it ended, so that CI's log shows which one the run waited for.
{
    RELAIS_TEST_PORT_LANE=0 "$BIN/pytest" "${BESIDE[@]}" -p no:cacheprovider --durations=25
    status=$?
    echo "(ended at $(date -u +%T))"
    exit "$status"
} >var/engine-tests.log 2>&1 &
engine=$!
echo "(started at $(date -u +%T))"
RELAIS_TEST_PORT_LANE=1 "$BIN/pytest" "${BESIDE[@]/#/--ignore=}" -n 2 --dist loadfile --durations=40
suite=$?
echo "(the suite ended at $(date -u +%T))"
wait "$engine"
engine_status=$?
echo "---------------- ${BESIDE[*]} (beside the suite; tests/engine: the compose deployment on a real Docker engine) ----------------"
cat var/engine-tests.log
[ "$suite" = 0 ] && [ "$engine_status" = 0 ]
