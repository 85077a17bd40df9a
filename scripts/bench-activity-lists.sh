#!/usr/bin/env bash
# The activity lists of docs/benchmarks.md: the App API's `GET /v1/activities`, whole and filtered
# by type and by name, timed over HTTP on a log of many events.
#
# Builds Herald and herald-bench in release mode. For each build (this one, and `OLD_HERALD`
# when given) it starts a fresh server on a temporary data dir, loads it with `batch:16` for
# LOAD_SECS seconds (the 40 names of /work/shared/bench/workload.md over 1M people) while a
# loop sends one `rare_event` every half second, then times the first page (50 activities) of
# each list, the median and the slowest of 7, and prints a table. Both builds must find the same
# number of activities on each page.
#
# Environment (all optional):
#   CARGO_TARGET_DIR   where cargo builds (default: target)
#   OLD_HERALD         an older `herald` binary, measured right after this build
#   BENCH_OLD_FIRST    1 to run the old build first (alternate between runs)
#   LOAD_SECS          seconds of batch ingest before the lists are timed (default: 100, about
#                      15–20 million events on a 2-core machine)
#   BENCH_PORT         the port the server listens on (default: 18183)
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=lib/server.sh
source scripts/lib/server.sh
target_dir="${CARGO_TARGET_DIR:-target}"
load_secs="${LOAD_SECS:-100}"
port="${BENCH_PORT:-18183}"
url="http://127.0.0.1:${port}"
# `all` is the whole log, unfiltered.
lists=("all" "type=event" "name=login" "name=n39" "name=rare_event" "type=page")

cargo build --release -p herald -p herald-bench
bench="${target_dir}/release/herald-bench"

work="$(mktemp -d)"
server_pid=""
rare_pid=""
cleanup() {
    for pid in "${rare_pid}" "${server_pid}"; do
        if [[ -n "${pid}" ]]; then
            kill "${pid}" 2>/dev/null || true
            wait "${pid}" 2>/dev/null || true
        fi
    done
    rm -rf "${work}"
}
trap cleanup EXIT

runs=(new)
if [[ -n "${OLD_HERALD:-}" ]]; then
    if [[ "${BENCH_OLD_FIRST:-}" == 1 ]]; then runs=(old new); else runs=(new old); fi
fi
results="${work}/results.txt"
: > "${results}"
for build in "${runs[@]}"; do
    herald="${target_dir}/release/herald"
    if [[ "${build}" == old ]]; then herald="${OLD_HERALD}"; fi
    data="${work}/data-${build}"
    "${herald}" workspace create bench --json --data-dir "${data}" > "${work}/credentials.json"
    site_id="$(json_field "${work}/credentials.json" site_id)"
    api_key="$(json_field "${work}/credentials.json" api_key)"
    app_key="$(json_field "${work}/credentials.json" app_api_key)"
    "${herald}" serve --data-dir "${data}" --listen "127.0.0.1:${port}" \
        > "${work}/server-${build}.log" 2>&1 &
    server_pid=$!
    wait_for_server "${url}" "${work}/server-${build}.log"

    while sleep 0.5; do
        curl -sf -u "${site_id}:${api_key}" -H 'content-type: application/json' \
            -d '{"name":"rare_event"}' "${url}/api/v1/customers/rare/events" > /dev/null || true
    done &
    rare_pid=$!
    timeout "$((load_secs + 60))" "${bench}" --url "${url}" --site-id "${site_id}" \
        --api-key "${api_key}" --scenario batch --connections 16 --duration-secs "${load_secs}" \
        --warmup-secs 0 --people 1000000 --names workload > /dev/null
    kill "${rare_pid}"
    wait "${rare_pid}" 2>/dev/null || true
    rare_pid=""
    events="$(curl -sf -H "Authorization: Bearer ${app_key}" "${url}/v1/data_index/events" |
        python3 -c 'import json, sys; print(sum(e["count"] for e in json.load(sys.stdin)["events"]))')"

    for list in "${lists[@]}"; do
        query="${list}"
        if [[ "${list}" == all ]]; then query=""; fi
        times=()
        for _ in $(seq 7); do
            times+=("$(curl -sf -o "${work}/page.json" -w '%{time_total}' \
                -H "Authorization: Bearer ${app_key}" "${url}/v1/activities?${query}&limit=50")")
        done
        found="$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["activities"]))' \
            "${work}/page.json")"
        echo "${build} ${events} ${list} ${found} ${times[*]}" >> "${results}"
    done

    kill "${server_pid}"
    wait "${server_pid}" 2>/dev/null || true
    server_pid=""
done

python3 - "${results}" <<'EOF'
import statistics, sys

print("| build | events stored | list | on the page | median ms | slowest ms |")
print("|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    build, events, query, found, *times = line.split()
    ms = [float(t) * 1000 for t in times]
    print(f"| {build} | {int(events):,} | `{query}` | {found} | {statistics.median(ms):.1f} | {max(ms):.1f} |")
EOF
