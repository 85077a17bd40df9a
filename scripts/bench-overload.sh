#!/usr/bin/env bash
# The overload benchmark of docs/benchmarks.md (issue 11): a server offered twice the load it
# can take, then left alone.
#
# For each server binary (this checkout's release build, and OLD_HERALD when given, e.g. a build
# of an earlier commit, measured side by side in the same run) it starts a fresh server with its
# default limits and runs herald-bench three times against it:
#   1. capacity: large /api/v2/batch requests (BATCH_SIZE events, about 450 KB) sent back to
#      back on 8 connections: the requests/s the server accepts;
#   2. overload: the same requests on an open-loop schedule at twice that rate over 256
#      connections: the share refused (503) or reset, the latency of the accepted ones, and the
#      server's resident memory;
#   3. recovery: half the capacity on 8 connections right after: whether every request is
#      accepted again and how fast.
# Then a flood of single events on 2,000 connections (closed loop), the case that used to slow
# down without ever shedding load. It checks after each server that it stored exactly the events
# it acknowledged, and prints a table.
#
# Environment (all optional):
#   CARGO_TARGET_DIR   where cargo builds (default: target)
#   OLD_HERALD         a second herald binary to measure side by side
#   BATCH_SIZE         events per batch (default: 3000, about 450 KB)
#   OVERLOAD_SECS      measured seconds of the overload phase (default: 30)
#   BENCH_PORT         the port the server listens on (default: 18191)
#   BENCH_RESULTS      a file to keep the JSON lines in (default: a temporary file)
#   SERVER_ARGS        extra flags for the new build's `herald serve` (e.g. --max-body-memory=16MiB)
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=lib/server.sh
source scripts/lib/server.sh
target_dir="${CARGO_TARGET_DIR:-target}"
batch_size="${BATCH_SIZE:-3000}"
overload_secs="${OVERLOAD_SECS:-30}"
port="${BENCH_PORT:-18191}"
url="http://127.0.0.1:${port}"

cargo build --release -p herald -p herald-bench
bench="${target_dir}/release/herald-bench"
binaries=("new:${target_dir}/release/herald")
if [[ -n "${OLD_HERALD:-}" ]]; then
    binaries+=("old:${OLD_HERALD}")
fi

work="$(mktemp -d)"
results="${BENCH_RESULTS:-${work}/results.jsonl}"
: > "${results}"
server_pid=""

trap stop_server_and_clean EXIT

stored_events() {
    curl -sf -H "Authorization: Bearer ${app_key}" "${url}/v1/data_index/events" |
        python3 -c 'import json, sys; print(sum(e["count"] for e in json.load(sys.stdin)["events"] if e["name"] == "purchased"))'
}

# Runs herald-bench with the given arguments and appends its line, tagged, to the results.
measure() {
    local build="$1" phase="$2"
    shift 2
    local line
    line="$(timeout 300 "${bench}" --url "${url}" --site-id "${site_id}" --api-key "${api_key}" \
        --server-pid "${server_pid}" "$@")"
    python3 -c 'import json, sys
line = json.loads(sys.argv[1]); line["build"] = sys.argv[2]; line["phase"] = sys.argv[3]
print(json.dumps(line))' "${line}" "${build}" "${phase}" | tee -a "${results}"
}

for spec in "${binaries[@]}"; do
    build="${spec%%:*}"
    herald="${spec#*:}"
    data="${work}/data-${build}"
    "${herald}" workspace create bench --json --data-dir "${data}" > "${work}/credentials.json"
    site_id="$(json_field "${work}/credentials.json" site_id)"
    api_key="$(json_field "${work}/credentials.json" api_key)"
    app_key="$(json_field "${work}/credentials.json" app_api_key)"
    extra=()
    if [[ "${build}" == new ]]; then
        read -r -a extra <<< "${SERVER_ARGS:-}"
    fi
    "${herald}" serve --data-dir "${data}" --listen "127.0.0.1:${port}" "${extra[@]}" \
        > "${work}/server-${build}.log" 2>&1 &
    server_pid=$!
    wait_for_server "${url}" "${work}/server-${build}.log"

    measure "${build}" capacity --scenario batch --batch-size "${batch_size}" --connections 8 \
        --duration-secs 15 --warmup-secs 3
    capacity="$(tail -1 "${results}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["requests_per_sec"])')"
    rate="$(python3 -c "print(2 * ${capacity})")"
    measure "${build}" overload --scenario batch --batch-size "${batch_size}" --connections 256 \
        --rate "${rate}" --duration-secs "${overload_secs}" --warmup-secs 2
    half="$(python3 -c "print(${capacity} / 2)")"
    measure "${build}" recovery --scenario batch --batch-size "${batch_size}" --connections 8 \
        --rate "${half}" --duration-secs 15 --warmup-secs 0
    measure "${build}" single-flood --scenario single --connections 2000 --duration-secs 15 \
        --warmup-secs 2
    # Every acknowledged event, warm-ups included, must be stored, and nothing refused.
    python3 - "${results}" "${build}" "$(stored_events)" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sent = sum(r["events_sent_total"] for r in rows if r["build"] == sys.argv[2])
stored = int(sys.argv[3])
print(f"{sys.argv[2]}: events acknowledged {sent}, stored {stored}: {'ok' if sent == stored else 'MISMATCH'}")
EOF
    kill "${server_pid}"
    wait "${server_pid}" 2>/dev/null || true
    server_pid=""
done

echo
python3 - "${results}" <<'EOF'
import json, sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
header = ("build", "phase", "conns", "offered/s", "accepted/s", "refused", "statuses", "resets",
          "ok p50 ms", "ok p99 ms", "RSS MB", "peak RSS MB")
table = [header]
for r in rows:
    ok = r["ok_latency_ms"]
    statuses = " ".join(f"{k}:{v}" for k, v in r["statuses"].items())
    offered = r["target_requests_per_sec"]
    table.append((
        r["build"], r["phase"], str(r["connections"]),
        "closed" if offered is None else f"{offered:,.1f}",
        f'{r["requests_per_sec"]:,.1f}', f'{100 * r["refused_share"]:.1f}%', statuses,
        str(r["resets"]),
        "-" if ok["p50"] is None else f'{ok["p50"]:.1f}',
        "-" if ok["p99"] is None else f'{ok["p99"]:.1f}',
        str(r["server_rss_mb"]), str(r["server_peak_rss_mb"]),
    ))
widths = [max(len(row[i]) for row in table) for i in range(len(header))]
for index, row in enumerate(table):
    print("| " + " | ".join(cell.rjust(width) for cell, width in zip(row, widths)) + " |")
    if index == 0:
        print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
EOF
