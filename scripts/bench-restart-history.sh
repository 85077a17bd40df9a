#!/usr/bin/env bash
# How long a restart takes when the engine must load the whole history (no usable image: a
# first start after an image-format change, or a damaged image), per million events, for the
# current build and, side by side, an older one (issue 18: the person index keyed by block
# changed how the history is read).
#
# For each build, alternating: a fresh server on a temporary data dir takes `herald-bench
# --scenario batch` for BENCH_LOAD_SECS (default 30) over BENCH_PEOPLE people (default
# 300,000), stops, its engine image is removed, and it starts again: the time from the start
# until `/readyz` answers 200 is the restart.
#
# Environment (all optional):
#   OLD_HERALD    an older `herald` binary, run after the new build in odd rounds and before
#                 it in even ones
#   BENCH_ROUNDS  rounds (default 2)
#   BENCH_PORT    the port (default 18194)
set -euo pipefail

cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
port="${BENCH_PORT:-18194}"
url="http://127.0.0.1:${port}"
cargo build --release -p herald -p herald-bench
bench="${target_dir}/release/herald-bench"
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [[ -n "${server_pid}" ]]; then kill "${server_pid}" 2>/dev/null || true; fi
    rm -rf "${work}"
}
trap cleanup EXIT

field() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

wait_for() {
    for _ in $(seq 3000); do
        curl -sf "${url}$1" > /dev/null && return 0
        sleep 0.05
    done
    echo "the server did not answer ${1}" >&2
    exit 1
}

run() {
    local build="$1" herald="$2" data="${work}/data-$1"
    rm -rf "${data}"
    "${herald}" workspace create bench --json --data-dir "${data}" > "${work}/credentials.json"
    "${herald}" serve --data-dir "${data}" --listen "127.0.0.1:${port}" > "${work}/server.log" 2>&1 &
    server_pid=$!
    wait_for /healthz
    "${bench}" --url "${url}" --site-id "$(field "${work}/credentials.json" site_id)" \
        --api-key "$(field "${work}/credentials.json" api_key)" --scenario batch --connections 16 \
        --people "${BENCH_PEOPLE:-300000}" --duration-secs "${BENCH_LOAD_SECS:-30}" --warmup-secs 0 \
        > "${work}/load.json"
    kill "${server_pid}"
    wait "${server_pid}" 2>/dev/null || true
    rm -f "${data}/engine.image"
    local start end
    start=$(date +%s.%N)
    "${herald}" serve --data-dir "${data}" --listen "127.0.0.1:${port}" > "${work}/server.log" 2>&1 &
    server_pid=$!
    wait_for /readyz
    end=$(date +%s.%N)
    kill "${server_pid}"
    wait "${server_pid}" 2>/dev/null || true
    server_pid=""
    python3 -c 'import sys
events, start, end = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
print(f"| {sys.argv[1]} | {events:,} | {end - start:.2f} | {(end - start) / events * 1e6:.2f} |")' \
        "${build}" "$(field "${work}/load.json" events_sent_total)" "${start}" "${end}"
}

echo "| build | events | restart from history s | s per million events |"
echo "|---|---|---|---|"
# The order alternates between rounds, so that whatever running first or second does falls on
# each build in turn.
for round in $(seq "${BENCH_ROUNDS:-2}"); do
    if [[ -n "${OLD_HERALD:-}" && $((round % 2)) == 0 ]]; then run old "${OLD_HERALD}"; fi
    run new "${target_dir}/release/herald"
    if [[ -n "${OLD_HERALD:-}" && $((round % 2)) == 1 ]]; then run old "${OLD_HERALD}"; fi
done
