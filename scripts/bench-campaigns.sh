#!/usr/bin/env bash
# The campaign delivery benchmark of docs/benchmarks.md (issue 4).
#
# Builds Herald and herald-bench in release mode, then for each run starts a fresh server on a
# temporary data dir (webhooks to loopback allowed), runs `herald-bench campaigns` against it
# (event → webhook latency at a steady rate, then deliveries/s after a burst, and with the
# `visibility` phase the time from a Track event to the App API listing the segment it put the
# person in), stops the server and finally prints a results table of all runs.
#
# Environment (all optional):
#   CARGO_TARGET_DIR      where cargo builds (default: target)
#   BENCH_RUNS            how many runs, each on a fresh server and data dir (default: 1)
#   BENCH_RATE            events/s of the latency phase (default: 1000)
#   BENCH_DURATION_SECS   measured seconds of the latency phase (default: 20)
#   BENCH_WARMUP_SECS     warm-up seconds of the latency phase (default: 2)
#   BENCH_BURST           events of the burst phase (default: 30000)
#   BENCH_PHASES          phases to run, comma-separated: latency, burst, visibility
#                         (default: latency,burst)
#   BENCH_VISIBILITY_RATE samples/s of the visibility phase (default: 2000)
#   BENCH_PORT            the port the server listens on (default: 18182)
#   BENCH_RESULTS         a file to keep the JSON lines in (default: a temporary file)
#   OLD_HERALD            an older `herald` binary: each run then measures both builds, each on
#                         a fresh server, the new one first in odd runs and the old one first in
#                         even runs, so that whatever the order favours falls on each in turn
#
# Every step is bounded: the server must answer within 15 s and each run is killed after its
# phases' own limits plus 60 s, so with the defaults a run takes well under two minutes.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=lib/server.sh
source scripts/lib/server.sh
target_dir="${CARGO_TARGET_DIR:-target}"
runs="${BENCH_RUNS:-1}"
rate="${BENCH_RATE:-1000}"
duration="${BENCH_DURATION_SECS:-20}"
warmup="${BENCH_WARMUP_SECS:-2}"
burst="${BENCH_BURST:-30000}"
phases="${BENCH_PHASES:-latency,burst}"
visibility_rate="${BENCH_VISIBILITY_RATE:-2000}"
port="${BENCH_PORT:-18182}"
url="http://127.0.0.1:${port}"
grace=10
burst_timeout=90

cargo build --release -p herald -p herald-bench
bench="${target_dir}/release/herald-bench"

work="$(mktemp -d)"
results="${BENCH_RESULTS:-${work}/results.jsonl}"
: > "${results}"
server_pid=""

trap stop_server_and_clean EXIT

plan=()
for run in $(seq "${runs}"); do
    if [[ -z "${OLD_HERALD:-}" ]]; then
        plan+=("${run}:new")
    elif (( run % 2 == 1 )); then
        plan+=("${run}:new" "${run}:old")
    else
        plan+=("${run}:old" "${run}:new")
    fi
done
for entry in "${plan[@]}"; do
    run="${entry%%:*}"
    build="${entry##*:}"
    herald="${target_dir}/release/herald"
    if [[ "${build}" == old ]]; then herald="${OLD_HERALD}"; fi
    # A fresh data dir per run: a campaign left from an earlier run would aim at a receiver
    # that is gone and keep the dispatcher busy with retries.
    data="${work}/data-${run}-${build}"
    log="${work}/server-${run}-${build}.log"
    "${herald}" workspace create bench --json --data-dir "${data}" > "${work}/credentials.json"
    site_id="$(json_field "${work}/credentials.json" site_id)"
    api_key="$(json_field "${work}/credentials.json" api_key)"
    app_key="$(json_field "${work}/credentials.json" app_api_key)"

    "${herald}" serve --data-dir "${data}" --listen "127.0.0.1:${port}" \
        --webhook-allow-networks=127.0.0.0/8 > "${log}" 2>&1 &
    server_pid=$!
    wait_for_server "${url}" "${log}"

    # Each JSON line gets the run's number, so the table can tell runs apart.
    # The visibility phase runs as long as the latency phase, and identifies its people first.
    timeout "$((2 * (warmup + duration) + grace + burst_timeout + 120))" "${bench}" campaigns \
        --url "${url}" --site-id "${site_id}" --api-key "${api_key}" --app-api-key "${app_key}" \
        --rate "${rate}" --duration "${duration}" --warmup "${warmup}" --grace "${grace}" \
        --burst "${burst}" --burst-timeout "${burst_timeout}" --phases "${phases}" \
        --visibility-rate "${visibility_rate}" \
        --server-pid "${server_pid}" |
        python3 -c 'import json, sys
for line in sys.stdin:
    row = json.loads(line)
    row["run"] = int(sys.argv[1])
    row["build"] = sys.argv[2]
    print(json.dumps(row), flush=True)' "${run}" "${build}" | tee -a "${results}"

    if grep -qiE 'error|panic' "${log}"; then
        echo "the server logged errors in run ${run}:" >&2
        grep -iE 'error|panic' "${log}" | head -5 >&2
    fi
    kill "${server_pid}"
    wait "${server_pid}" 2>/dev/null || true
    server_pid=""
done

echo
python3 - "${results}" <<'EOF_PY'
import json, sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]

def table(header, lines):
    widths = [max(len(row[i]) for row in [header] + lines) for i in range(len(header))]
    for index, row in enumerate([header] + lines):
        print("| " + " | ".join(cell.rjust(width) for cell, width in zip(row, widths)) + " |")
        if index == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    print()

def label(row):
    return f'{row["run"]} {row["build"]}' if any(r.get("build") == "old" for r in rows) else str(row["run"])

def cores(cpu, key):
    value = cpu.get(key)
    return "-" if value is None else f"{value:.2f}"

latency = [r for r in rows if r["phase"] == "latency"]
if latency:
    table(
        ("run", "target/s", "achieved/s", "events", "p50 ms", "p90 ms", "p99 ms", "max ms",
         "p99 from schedule", "missing", "dup", "server cores", "bench cores", "machine cores"),
        [(label(r), str(r["rate"]), f'{r["achieved_events_per_sec"]:,.0f}',
          f'{r["events_measured"]:,}', f'{r["latency_ms"]["p50"]:.1f}',
          f'{r["latency_ms"]["p90"]:.1f}', f'{r["latency_ms"]["p99"]:.1f}',
          f'{r["latency_ms"]["max"]:.1f}', f'{r["latency_from_schedule_ms"]["p99"]:.1f}',
          str(r["webhooks_missing"]), str(r["duplicates"]),
          cores(r["cpu"], "server_cores"), cores(r["cpu"], "bench_cores"),
          cores(r["cpu"], "machine_cores"))
         for r in latency])

burst = [r for r in rows if r["phase"] == "burst"]
if burst:
    # CPU is over the ingest window, which is nearly all of the burst: deliveries keep pace.
    table(
        ("run", "events", "ingest/s", "deliveries/s", "end-to-end/s", "delivery s",
         "during ingest", "p50 ms", "p99 ms", "missing", "dup", "server cores", "bench cores",
         "machine cores"),
        [(label(r), f'{r["events"]:,}', f'{r["ingest_events_per_sec"]:,.0f}',
          f'{r["deliveries_per_sec"]:,.0f}', f'{r["end_to_end_per_sec"]:,.0f}',
          f'{r["delivery_secs"]:.2f}', f'{r["webhooks_during_ingest"]:,}',
          f'{r["latency_ms"]["p50"]:.1f}', f'{r["latency_ms"]["p99"]:.1f}',
          str(r["webhooks_missing"]), str(r["duplicates"]),
          cores(r["cpu"]["ingest"], "server_cores"), cores(r["cpu"]["ingest"], "bench_cores"),
          cores(r["cpu"]["ingest"], "machine_cores"))
         for r in burst])

visibility = [r for r in rows if r["phase"] == "visibility"]
if visibility:
    table(
        ("run", "samples/s", "samples", "p50 ms", "p90 ms", "p99 ms", "max ms", "≤ 10 ms",
         "seen on first read", "missing", "Track p99 ms", "server cores", "bench cores",
         "machine cores"),
        [(label(r), str(r["rate"]), f'{r["samples_measured"]:,}',
          f'{r["visible_ms"]["p50"]:.2f}', f'{r["visible_ms"]["p90"]:.2f}',
          f'{r["visible_ms"]["p99"]:.2f}', f'{r["visible_ms"]["max"]:.2f}',
          f'{r["visible_ms_histogram"]["le_10"] / max(1, r["samples_measured"]):.2%}',
          f'{r["visible_on_first_read"]:,}', str(r["missing"]),
          f'{r["track_call_ms"]["p99"]:.2f}',
          cores(r["cpu"], "server_cores"), cores(r["cpu"], "bench_cores"),
          cores(r["cpu"], "machine_cores"))
         for r in visibility])
EOF_PY
