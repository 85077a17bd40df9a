#!/usr/bin/env bash
# The crash soak of docs/benchmarks.md (issue 17).
#
# Builds the server and the integration tests in release mode and runs the soak test
# (crates/herald/tests/it/soak.rs) with 20 cycles: each cycle sends mixed Track traffic from
# three writers, moves the dev clock, and kills the server with `kill -9` at a random moment,
# then restarts it on the same data. After the last cycle the test checks that every
# acknowledged event is stored once, that every segment's membership equals the reference
# evaluator's, and that every due webhook reached the local receiver, none twice except a
# repeat with the same idempotency key, and prints the figures. CI runs the same test with 3
# cycles in debug mode, on every backend.
#
# Usage: scripts/soak.sh [--cycles N] [--seed N] [--postgres] [--debug]
#   --cycles N    kill -9 cycles (default 20)
#   --seed N      replays a run: the test prints its seed first (default: a new one)
#   --postgres    the data in PostgreSQL (HERALD_TEST_DATABASE_URL, the machine's by default)
#   --debug       the debug build, which the test suite already has (no release build)
#
# Every step is bounded: a cycle lasts about a second, every wait in the test gives up after
# 60 s, and the whole run is killed after 30 minutes. Nothing leaves the machine: the server
# listens on 127.0.0.1 and the webhooks go to a receiver on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

cycles=20
seed=""
profile=(--release)
while [ $# -gt 0 ]; do
  case "$1" in
    --cycles) cycles="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --postgres) export HERALD_TEST_BACKEND=postgres; shift ;;
    --debug) profile=(); shift ;;
    *) echo "usage: scripts/soak.sh [--cycles N] [--seed N] [--postgres] [--debug]" >&2; exit 2 ;;
  esac
done

export HERALD_SOAK_CYCLES="${cycles}"
if [ -n "${seed}" ]; then
  export HERALD_SOAK_SEED="${seed}"
fi
cargo test "${profile[@]}" -p herald --locked --test it --no-run
echo "commit $(git rev-parse --short HEAD), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), backend ${HERALD_TEST_BACKEND:-sqlite}"
timeout 1800 cargo test "${profile[@]}" -p herald --locked --test it -- soak:: --nocapture
