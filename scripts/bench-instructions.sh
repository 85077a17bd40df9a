#!/usr/bin/env bash
# Instructions per event and delivery: the CPU work of the campaign benchmark's burst
# (docs/benchmarks.md, issue 18 goal 4), counted rather than timed.
#
# The delivery figures of scripts/bench-campaigns.sh move by a third from one run to the next on
# a shared 2-core VM, so a step worth 5% cannot be seen in them. This script runs the server
# under valgrind's callgrind, which counts the instructions every thread of the process ran:
# the same binary on the same inputs gives the same count to within a few tenths of a percent,
# whatever else the machine is doing. Each build runs two bursts on fresh servers, a small one
# and a large one, and the difference of their totals divided by the difference of their sizes
# is what one more event costs: its Track call, its trigger, its run, its webhook and their
# records. Start-up and the benchmark's set-up fall out of the difference.
#
# What it does not count: the kernel's work (system calls, loopback TCP), waiting, and cache
# misses. And callgrind runs one thread at a time, slowly, so what the server gathers while it
# waits (the writer's group commit, the dispatcher's looks at the queue) gathers less than at
# full speed: the count weighs per-batch work more than a real run does.
#
# Environment (all optional):
#   CARGO_TARGET_DIR   where cargo builds (default: target)
#   OLD_HERALD         an older `herald` binary, measured the same way after the new one
#   BENCH_SMALL        events of the small burst (default: 500)
#   BENCH_LARGE        events of the large burst (default: 4500)
#   BENCH_PORT         the port the server listens on (default: 18183)
#   BENCH_KEEP         a folder to keep the callgrind files in, for callgrind_annotate
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=lib/server.sh
source scripts/lib/server.sh
target_dir="${CARGO_TARGET_DIR:-target}"
small="${BENCH_SMALL:-500}"
large="${BENCH_LARGE:-4500}"
port="${BENCH_PORT:-18183}"
url="http://127.0.0.1:${port}"

if ! command -v valgrind > /dev/null; then
    echo "valgrind is needed (apt-get install -y valgrind)" >&2
    exit 1
fi
if (( large <= small )); then
    echo "BENCH_LARGE must be larger than BENCH_SMALL" >&2
    exit 1
fi

cargo build --release -p herald -p herald-bench
bench="${target_dir}/release/herald-bench"

work="$(mktemp -d)"
keep="${BENCH_KEEP:-${work}}"
mkdir -p "${keep}"
server_pid=""
trap stop_server_and_clean EXIT

# count HERALD BUILD EVENTS: prints the instructions of one server's life with a burst of
# EVENTS, after checking that every event was taken and every webhook arrived once.
count() {
    local herald="$1" build="$2" events="$3"
    local data="${work}/data-${build}-${events}" out="${keep}/callgrind-${build}-${events}.out"
    local log="${work}/server-${build}-${events}.log" lines="${work}/bench-${build}-${events}.jsonl"
    "${herald}" workspace create bench --json --data-dir "${data}" > "${work}/credentials.json"
    # Transparent huge pages off, as the binary itself does: valgrind's loader starts it.
    MIMALLOC_ALLOW_THP=0 valgrind --tool=callgrind --callgrind-out-file="${out}" \
        "${herald}" serve --data-dir "${data}" --listen "127.0.0.1:${port}" \
        --webhook-allow-networks=127.0.0.0/8 > "${log}" 2>&1 &
    server_pid=$!
    # Under valgrind a start takes some seconds, more than wait_for_server's 15.
    for _ in $(seq 120); do
        curl -sf "${url}/healthz" > /dev/null && break
        sleep 1
    done
    wait_for_server "${url}" "${log}" "the server under valgrind"
    # Eight connections: under valgrind the server runs one thread at a time, and more
    # connections only queue longer.
    timeout 1800 "${bench}" campaigns --url "${url}" \
        --site-id "$(json_field "${work}/credentials.json" site_id)" \
        --api-key "$(json_field "${work}/credentials.json" api_key)" \
        --app-api-key "$(json_field "${work}/credentials.json" app_api_key)" \
        --phases burst --burst "${events}" --burst-connections 8 --burst-timeout 1500 \
        > "${lines}"
    kill -INT "${server_pid}"
    wait "${server_pid}" 2>/dev/null || true
    server_pid=""
    python3 - "${lines}" "${events}" <<'EOF_PY' >&2
import json, sys
burst = [json.loads(line) for line in open(sys.argv[1]) if '"burst"' in line][0]
events = int(sys.argv[2])
if (burst["events_accepted"], burst["webhooks_received"], burst["duplicates"]) != (events, events, 0):
    sys.exit(f"the burst was not whole: {burst}")
EOF_PY
    grep -m1 '^totals:' "${out}" | awk '{print $2}'
}

builds=("new:${target_dir}/release/herald")
if [[ -n "${OLD_HERALD:-}" ]]; then builds+=("old:${OLD_HERALD}"); fi
echo
echo "| build | instructions, ${small} events | instructions, ${large} events | per event and delivery |"
echo "|---|---|---|---|"
for entry in "${builds[@]}"; do
    build="${entry%%:*}"
    herald="${entry#*:}"
    low="$(count "${herald}" "${build}" "${small}")"
    high="$(count "${herald}" "${build}" "${large}")"
    python3 -c 'import sys
build, small, large, low, high = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"| {build} | {low:,} | {high:,} | **{(high - low) / (large - small):,.0f}** |")' \
        "${build}" "${small}" "${large}" "${low}" "${high}"
done
if [[ -n "${BENCH_KEEP:-}" ]]; then
    echo
    echo "callgrind files in ${keep}: callgrind_annotate --inclusive=yes ${keep}/callgrind-new-${large}.out"
fi
