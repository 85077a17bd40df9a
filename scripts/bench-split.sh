#!/usr/bin/env bash
# The split-engine benchmark of docs/benchmarks.md (issue 15): two `herald serve --cluster` on one
# PostgreSQL holding the scale workload (1M people, 20M events by default), once with every
# server's engine holding every person (`whole`) and once with each holding only the people of
# the partitions it leases (`split`, `--own-partitions-only`). For each mode it times:
#   - the first server's start alone, to ready (`/readyz`), from the history in PostgreSQL (no
#     engine image), and its memory;
#   - previews (S1–S3) and member counts of the three benchmark segments through it, alone;
#   - the second server's start, until the two have shared the partitions out (each leasing 128,
#     read from their `/metrics`), the engines' memory, and the same reads through the first
#     server (which, split, asks the second for its half through PostgreSQL);
#   - the second server killed with SIGKILL: how long until the first answers S1's preview
#     again with the exact count, and until it leases (and holds) all 256 partitions.
#
# The workload is loaded once into an embedded data dir (as scripts/bench-scale.sh does, about
# 20 minutes on 2 cores) and copied into a PostgreSQL schema with `herald copy` once; both are kept.
#
# Environment (all optional):
#   CARGO_TARGET_DIR     where cargo builds (default: target)
#   BENCH_DATA           the embedded data (default: $CARGO_TARGET_DIR/scale-bench, shared with
#                        bench-scale.sh)
#   BENCH_PEOPLE, BENCH_EVENTS, BENCH_SEED   the workload (default: 1000000, 20000000, 7)
#   BENCH_DATABASE_URL   the PostgreSQL (default: the machine's, database test)
#   BENCH_SCHEMA         the schema the workload is copied into (default: herald_bench_split)
#   BENCH_MODES          (default: "whole split")
#   BENCH_RUNS           previews and counts per segment and measurement (default: 51)
#   BENCH_PORT           the first server's port; the second's is the next (default: 18291)
#   BENCH_LOGS           a folder the servers' logs are copied to at the end (default: none kept)
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=lib/scale_data.sh
source scripts/lib/scale_data.sh
target_dir="${CARGO_TARGET_DIR:-target}"
data="${BENCH_DATA:-${target_dir}/scale-bench}"
people="${BENCH_PEOPLE:-1000000}"
events="${BENCH_EVENTS:-20000000}"
seed="${BENCH_SEED:-7}"
db_url="${BENCH_DATABASE_URL:-host=127.0.0.1 user=postgres dbname=test}"
schema="${BENCH_SCHEMA:-herald_bench_split}"
modes="${BENCH_MODES:-whole split}"
runs="${BENCH_RUNS:-51}"
port="${BENCH_PORT:-18291}"

cargo build --release -p herald -p herald-bench
herald="${target_dir}/release/herald"
bench="${target_dir}/release/herald-bench"

# The workload, once, in an embedded data dir, with the benchmark's segments.
scale_workspace "${data}" "${herald}"
field() { scale_key "${data}" "$1"; }
if [[ ! -e "${data}/loaded" ]]; then
    "${bench}" scale --herald "${herald}" --data-dir "${data}/herald" --site-id "$(field site_id)" \
        --api-key "$(field api_key)" --app-api-key "$(field app_api_key)" --people "${people}" \
        --events "${events}" --seed "${seed}" --phases load,segments
    touch "${data}/loaded"
fi
# And once in PostgreSQL.
if [[ ! -e "${data}/copied-${schema}" ]]; then
    psql "${db_url}" -X -q -c "DROP SCHEMA IF EXISTS ${schema} CASCADE"
    "${herald}" copy --from-data-dir "${data}/herald" --to "${db_url}" --to-schema "${schema}" --json
    touch "${data}/copied-${schema}"
fi

work="$(mktemp -d)"
pids=()
stop_servers() {
    for pid in "${pids[@]}"; do
        kill "${pid}" 2>/dev/null || true
        wait "${pid}" 2>/dev/null || true
    done
    pids=()
}
cleanup() {
    stop_servers
    if [[ -n "${BENCH_LOGS:-}" ]]; then
        mkdir -p "${BENCH_LOGS}"
        cp "${work}"/server-*.log "${BENCH_LOGS}/" 2>/dev/null || true
    fi
    rm -rf "${work}"
}
trap cleanup EXIT

# The workload's fixed "now" (crates/bench/src/workload.rs), the servers' clock: no window moves.
ref_now="$(sed -n 's/^pub const REF_NOW: i64 = \([0-9_]*\);/\1/p' crates/bench/src/workload.rs | tr -d _)"
{
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git rev-parse --short HEAD)"
    echo "# machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB"
    echo "# workload: ${people} people, ${events} events, seed ${seed}; PostgreSQL schema ${schema}"
}

# Starts server $1 (0 or 1) of mode $2 on a fresh data dir holding the workload's key file.
start_server() {
    local index="$1" mode="$2" dir="${work}/${2}-${1}"
    mkdir -p "${dir}"
    cp "${data}/herald/keys.secret" "${dir}/"
    local extra=(--cluster)
    if [[ "${mode}" == split ]]; then extra+=(--own-partitions-only); fi
    HERALD_LOG=info "${herald}" serve --data-dir "${dir}" --database-url "${db_url}" \
        --database-schema "${schema}" "${extra[@]}" --listen "127.0.0.1:$((port + index))" \
        "--dev-clock=${ref_now}" > "${work}/server-${mode}-${index}.log" 2>&1 &
    pids+=($!)
}

for mode in ${modes}; do
    probe=(python3 scripts/lib/split_probe.py)
    app_key="$(field app_api_key)"
    start_server 0 "${mode}"
    "${probe[@]}" alone "${mode}" "${app_key}" "${runs}" "http://127.0.0.1:${port}" "${pids[0]}"
    start_server 1 "${mode}"
    for phase in shared takeover; do
        "${probe[@]}" "${phase}" "${mode}" "${app_key}" "${runs}" "http://127.0.0.1:${port}" \
            "${pids[0]}" "http://127.0.0.1:$((port + 1))" "${pids[1]}"
    done
    grep -h 'partitions loaded\|segment engine loaded\|partitions taken over' "${work}"/server-"${mode}"-*.log |
        sed -e "s/\x1b\[[0-9;]*m//g" -e "s/^/# ${mode}: /" | cut -c1-400 || true
    stop_servers
done
