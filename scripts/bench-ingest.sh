#!/usr/bin/env bash
# The ingest benchmark of docs/benchmarks.md.
#
# Builds Herald and herald-bench in release mode, then for each SQLite synchronous mode starts a
# fresh server on a temporary data dir, runs every scenario against it with herald-bench, checks
# that the server stored exactly the events it acknowledged, stops it and prints a results table.
#
# Environment (all optional):
#   CARGO_TARGET_DIR      where cargo builds (default: target)
#   BENCH_MODES           stores to run: SQLite's synchronous modes, and `postgres` for the
#                         data in PostgreSQL (default: "normal full")
#   BENCH_DATABASE_URL    the PostgreSQL of `postgres` (default: the machine's, database test);
#                         the run uses a schema of its own and drops it
#   BENCH_SCENARIOS       "scenario:connections" pairs (default: "batch:4 batch:16 single:16 single:64");
#                         `healthz:64` measures `GET /healthz`, which stores nothing: this
#                         machine's HTTP ceiling, to read the other figures against
#   BENCH_DURATION_SECS   measured seconds per scenario (default: 10)
#   BENCH_WARMUP_SECS     warm-up seconds per scenario (default: 2)
#   BENCH_PEOPLE          how many distinct people the events are spread over (default: the
#                         generator's, 100,000); 1000000 with a long duration shows ingest into
#                         a log and indexes that outgrow the writer's cache
#   BENCH_NAMES           the batches' event names: `purchased` (default, every event) or
#                         `workload` (the 40 names of /work/shared/bench/workload.md, skewed)
#   BENCH_OLD_SQL         SQL run on the old build's SQLite file before it serves, for
#                         experiments (e.g. "DROP INDEX activities_by_name" to see an index's cost)
#   BENCH_PORT            the port the server listens on (default: 18181)
#   BENCH_RESULTS         a file to keep the JSON lines in (default: a temporary file)
#   OLD_HERALD            an older `herald` binary: each store then runs it too, right after
#                         the new build, so that both are measured side by side
#   BENCH_OLD_FIRST       1 to run the old build before the new one (alternate between runs, so
#                         that whatever the order favours falls on each build in turn)
#
# Every step is bounded: the server must answer within 15 s, each scenario is killed after its
# duration plus 30 s, so with the defaults a run takes about two minutes after the build.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=lib/server.sh
source scripts/lib/server.sh
target_dir="${CARGO_TARGET_DIR:-target}"
modes="${BENCH_MODES:-normal full}"
scenarios="${BENCH_SCENARIOS:-batch:4 batch:16 single:16 single:64}"
duration="${BENCH_DURATION_SECS:-10}"
warmup="${BENCH_WARMUP_SECS:-2}"
load_args=()
if [[ -n "${BENCH_PEOPLE:-}" ]]; then load_args=(--people "${BENCH_PEOPLE}"); fi
if [[ -n "${BENCH_NAMES:-}" ]]; then load_args+=(--names "${BENCH_NAMES}"); fi
port="${BENCH_PORT:-18181}"
url="http://127.0.0.1:${port}"

cargo build --release -p herald -p herald-bench
herald="${target_dir}/release/herald"
bench="${target_dir}/release/herald-bench"

work="$(mktemp -d)"
results="${BENCH_RESULTS:-${work}/results.jsonl}"
: > "${results}"
server_pid=""

trap stop_server_and_clean EXIT

# How many events (of any name) the server's data index has counted so far.
stored_events() {
    curl -sf -H "Authorization: Bearer ${app_key}" "${url}/v1/data_index/events" |
        python3 -c 'import json, sys; print(sum(e["count"] for e in json.load(sys.stdin)["events"]))'
}

# What the server process has written to storage so far (its own writes, not PostgreSQL's).
written_bytes() {
    awk '/^write_bytes/ {print $2}' "/proc/${server_pid}/io"
}

pg_url="${BENCH_DATABASE_URL:-host=127.0.0.1 user=postgres dbname=test}"
pg_schema="herald_bench_$$"
runs=()
for mode in ${modes}; do
    if [[ -n "${OLD_HERALD:-}" && "${BENCH_OLD_FIRST:-}" == 1 ]]; then runs+=("${mode}:old"); fi
    runs+=("${mode}:new")
    if [[ -n "${OLD_HERALD:-}" && "${BENCH_OLD_FIRST:-}" != 1 ]]; then runs+=("${mode}:old"); fi
done
for run in "${runs[@]}"; do
    mode="${run%%:*}"
    build="${run##*:}"
    herald="${target_dir}/release/herald"
    if [[ "${build}" == old ]]; then herald="${OLD_HERALD}"; fi
    data="${work}/data-${mode}-${build}"
    store=(--data-dir "${data}")
    sqlite=()
    if [[ "${mode}" == postgres ]]; then
        store+=(--database-url "${pg_url}" --database-schema "${pg_schema}")
        psql "${pg_url}" -X -q -c "DROP SCHEMA IF EXISTS ${pg_schema} CASCADE"
    else
        sqlite=(--sqlite-synchronous "${mode}")
    fi
    "${herald}" workspace create bench --json "${store[@]}" > "${work}/credentials.json"
    site_id="$(json_field "${work}/credentials.json" site_id)"
    api_key="$(json_field "${work}/credentials.json" api_key)"
    app_key="$(json_field "${work}/credentials.json" app_api_key)"
    if [[ "${build}" == old && -n "${BENCH_OLD_SQL:-}" && "${mode}" != postgres ]]; then
        python3 -c 'import sqlite3, sys
connection = sqlite3.connect(sys.argv[1])
connection.executescript(sys.argv[2])
connection.close()' "${data}/herald.db" "${BENCH_OLD_SQL}"
    fi

    "${herald}" serve "${store[@]}" "${sqlite[@]}" --listen "127.0.0.1:${port}" \
        > "${work}/server-${mode}.log" 2>&1 &
    server_pid=$!
    wait_for_server "${url}" "${work}/server-${mode}.log"

    for spec in ${scenarios}; do
        scenario="${spec%%:*}"
        connections="${spec##*:}"
        before="$(stored_events)"
        written_before="$(written_bytes)"
        line="$(timeout "$((duration + warmup + 30))" "${bench}" --url "${url}" \
            --site-id "${site_id}" --api-key "${api_key}" --scenario "${scenario}" \
            --connections "${connections}" --duration-secs "${duration}" --warmup-secs "${warmup}" \
            "${load_args[@]}" --server-pid "${server_pid}")"
        after="$(stored_events)"
        written_after="$(written_bytes)"
        # The mode and what the server stored are added to the generator's line, so the table
        # can show whether every acknowledged event was kept.
        python3 -c 'import json, sys
line = json.loads(sys.argv[1])
line["synchronous"] = sys.argv[2]
line["build"] = sys.argv[5]
line["events_stored"] = int(sys.argv[4]) - int(sys.argv[3])
line["server_bytes_written"] = int(sys.argv[7]) - int(sys.argv[6])
print(json.dumps(line))' "${line}" "${mode}" "${before}" "${after}" "${build}" \
            "${written_before}" "${written_after}" | tee -a "${results}"
    done

    kill "${server_pid}"
    wait "${server_pid}" 2>/dev/null || true
    server_pid=""
    if [[ "${mode}" == postgres ]]; then
        psql "${pg_url}" -X -q -c "DROP SCHEMA ${pg_schema} CASCADE"
    fi
    # A run's data is not needed past it: kept, long runs (tens of GB at 40M events) filled the
    # disk, and its writes, still being flushed, slowed the next run by up to a quarter.
    rm -rf "${data}"
    sync
done

echo
python3 - "${results}" <<'EOF'
import json, sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
header = ("store", "build", "scenario", "conns", "events/s", "requests/s", "p50 ms", "p99 ms", "max ms",
          "server cores", "bench cores", "machine cores", "written B/event", "failed", "stored=sent")
table = [header]
for r in rows:
    lat = r["latency_ms"]
    table.append((
        r["synchronous"], r.get("build", "new"), r["scenario"], str(r["connections"]),
        f'{r["events_per_sec"]:,.0f}', f'{r["requests_per_sec"]:,.0f}',
        f'{lat["p50"]:.2f}', f'{lat["p99"]:.2f}', f'{lat["max"]:.2f}',
        f'{r["server_cpu_cores"]:.2f}', f'{r["generator_cpu_cores"]:.2f}',
        f'{r["machine_cpu_cores"]:.2f}',
        f'{r["server_bytes_written"] / max(r["events_sent_total"], 1):,.0f}',
        str(r["failed"]), "yes" if r["events_stored"] == r["events_sent_total"] else
        f'no ({r["events_stored"]} of {r["events_sent_total"]})',
    ))
widths = [max(len(row[i]) for row in table) for i in range(len(header))]
for index, row in enumerate(table):
    print("| " + " | ".join(cell.rjust(width) for cell, width in zip(row, widths)) + " |")
    if index == 0:
        print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
EOF
