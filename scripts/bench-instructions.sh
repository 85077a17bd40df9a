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
#   BENCH_TRAFFIC      `burst` (default): the campaign burst above; `batch`: batch ingest alone,
#                      `POST /api/v2/batch` from `herald-bench --scenario batch` (4 connections,
#                      the workload's 40 names over 100,000 people), for BENCH_SMALL and then
#                      BENCH_LARGE seconds; the figure is then per event, over the events each
#                      run sent (goal 2 of issue 18)
#   BENCH_SMALL        events of the small burst (default: 500), or seconds of the short batch run
#                      (default: 3)
#   BENCH_LARGE        events of the large burst (default: 4500), or seconds of the long batch
#                      run (default: 12)
#   BENCH_PORT         the port the server listens on (default: 18183)
#   BENCH_KEEP         a folder to keep the callgrind files in, for callgrind_annotate
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=lib/server.sh
source scripts/lib/server.sh
target_dir="${CARGO_TARGET_DIR:-target}"
traffic="${BENCH_TRAFFIC:-burst}"
case "${traffic}" in
    burst) small="${BENCH_SMALL:-500}" large="${BENCH_LARGE:-4500}" ;;
    batch) small="${BENCH_SMALL:-3}" large="${BENCH_LARGE:-12}" ;;
    *) echo "BENCH_TRAFFIC is burst or batch, not ${traffic}" >&2; exit 1 ;;
esac
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

# count HERALD BUILD SIZE: prints the instructions of one server's life and the events it was
# sent: a burst of SIZE events, after checking that every event was taken and every webhook
# arrived once, or SIZE seconds of batches, after checking that none failed.
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
    if [[ "${traffic}" == burst ]]; then
        timeout 1800 "${bench}" campaigns --url "${url}" \
            --site-id "$(json_field "${work}/credentials.json" site_id)" \
            --api-key "$(json_field "${work}/credentials.json" api_key)" \
            --app-api-key "$(json_field "${work}/credentials.json" app_api_key)" \
            --phases burst --burst "${events}" --burst-connections 8 --burst-timeout 1500 \
            > "${lines}"
    else
        timeout 600 "${bench}" --url "${url}" \
            --site-id "$(json_field "${work}/credentials.json" site_id)" \
            --api-key "$(json_field "${work}/credentials.json" api_key)" \
            --scenario batch --connections 4 --duration-secs "${events}" --warmup-secs 0 \
            --people 100000 --names workload > "${lines}"
    fi
    kill -INT "${server_pid}"
    wait "${server_pid}" 2>/dev/null || true
    server_pid=""
    local sent
    sent="$(python3 - "${lines}" "${events}" "${traffic}" <<'EOF_PY'
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
events, traffic = int(sys.argv[2]), sys.argv[3]
if traffic == "burst":
    burst = [line for line in lines if line.get("phase") == "burst"][0]
    if (burst["events_accepted"], burst["webhooks_received"], burst["duplicates"]) != (events, events, 0):
        sys.exit(f"the burst was not whole: {burst}")
    print(events)
else:
    summary = lines[-1]
    if summary["failed"] != 0:
        sys.exit(f"batches failed: {summary}")
    print(summary["events_sent_total"])
EOF_PY
)"
    echo "$(grep -m1 '^totals:' "${out}" | awk '{print $2}') ${sent}"
}

builds=("new:${target_dir}/release/herald")
if [[ -n "${OLD_HERALD:-}" ]]; then builds+=("old:${OLD_HERALD}"); fi
unit="events"
per="per event and delivery"
if [[ "${traffic}" == batch ]]; then unit="s of batches"; per="per event"; fi
echo
echo "| build | instructions (events), ${small} ${unit} | instructions (events), ${large} ${unit} | ${per} |"
echo "|---|---|---|---|"
for entry in "${builds[@]}"; do
    build="${entry%%:*}"
    herald="${entry#*:}"
    read -r low low_events <<< "$(count "${herald}" "${build}" "${small}")"
    read -r high high_events <<< "$(count "${herald}" "${build}" "${large}")"
    python3 -c 'import sys
build, low, low_events, high, high_events = sys.argv[1], *map(int, sys.argv[2:])
print(f"| {build} | {low:,} ({low_events:,}) | {high:,} ({high_events:,}) | **{(high - low) / (high_events - low_events):,.0f}** |")' \
        "${build}" "${low}" "${low_events}" "${high}" "${high_events}"
done
if [[ -n "${BENCH_KEEP:-}" ]]; then
    echo
    echo "callgrind files in ${keep}: callgrind_annotate --inclusive=yes ${keep}/callgrind-new-${large}.out"
fi
