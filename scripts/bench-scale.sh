#!/usr/bin/env bash
# The scale benchmark of docs/benchmarks.md (issue 12), in one run: a server holding the
# segmentation workload (1M people, 20M events, loaded through POST /api/v2/batch) is restarted,
# and `herald-bench scale` times how soon it takes writes and how soon every segment count is
# exact, how soon new segments are exact, previews over HTTP, and ingest latency while segments
# build. An older build runs on the same data first, so that both are measured side by side.
#
# Environment (all optional):
#   CARGO_TARGET_DIR   where cargo builds (default: target)
#   OLD_HERALD         an older `herald` binary to compare with, e.g. one built from a94feb6
#                      (`git worktree add /tmp/old a94feb6 && cd /tmp/old && cargo build --release`)
#   BENCH_DATA         where the data goes (default: $CARGO_TARGET_DIR/scale-bench); it is kept,
#                      and the load (about 20 minutes on 2 cores) runs only when it holds none
#   BENCH_PEOPLE, BENCH_EVENTS, BENCH_SEED   the workload (default: 1000000, 20000000, 7)
#   BENCH_PHASES       the new build's phases (default: restart,new-segment,preview,ui,build-ingest;
#                      `ui` times the web UI's pages, issue 13)
#   BENCH_OLD_PHASES   the old build's (default: restart,new-segment,preview)
#   BENCH_RESULTS      a file the JSON lines are appended to (default: $BENCH_DATA/results.jsonl)
#   BENCH_BASELINES    the SQL baselines to run last on the same workload, whose previews the
#                      server's are compared with (default: "postgres sqlite duckdb"; "" for none;
#                      see bench-segments.sh for what each needs)
#   BENCH_PYTHON       a Python with duckdb installed (default: target/py/bin/python)
#
# The new build runs twice: first from the history alone (its image removed), then from the image
# that run wrote at shutdown. Each phase prints one JSON line, tagged with the build.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=lib/scale_data.sh
source scripts/lib/scale_data.sh
target_dir="${CARGO_TARGET_DIR:-target}"
data="${BENCH_DATA:-${target_dir}/scale-bench}"
people="${BENCH_PEOPLE:-1000000}"
events="${BENCH_EVENTS:-20000000}"
seed="${BENCH_SEED:-7}"
phases="${BENCH_PHASES:-restart,new-segment,preview,ui,build-ingest}"
old_phases="${BENCH_OLD_PHASES:-restart,new-segment,preview}"
results="${BENCH_RESULTS:-${data}/results.jsonl}"

cargo build --release -p herald -p herald-bench
new="${target_dir}/release/herald"
bench="${target_dir}/release/herald-bench"

scale_workspace "${data}" "${new}"
scale_common "${data}" "${people}" "${events}" "${seed}"

# Tags each JSON line with the build and the time, and keeps it.
tag() {
    python3 -c 'import json, sys, time
for line in sys.stdin:
    row = json.loads(line)
    row["build"] = sys.argv[1]
    row["at"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    print(json.dumps(row), flush=True)' "$1" | tee -a "${results}"
}

{
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git rev-parse --short HEAD)"
    echo "# machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB"
} | tee -a "${results}"

if [[ ! -e "${data}/loaded" ]]; then
    "${bench}" scale --herald "${new}" "${common[@]}" --phases load,segments | tag load
    touch "${data}/loaded"
fi

if [[ -n "${OLD_HERALD:-}" ]]; then
    "${bench}" scale --herald "${OLD_HERALD}" "${common[@]}" --phases "${old_phases}" | tag old
fi
rm -f "${data}/herald/engine.image"
"${bench}" scale --herald "${new}" "${common[@]}" --phases "${phases}" | tag new-from-history
"${bench}" scale --herald "${new}" "${common[@]}" --phases "${phases}" | tag new-from-image

# The baselines answer the previews' question on the same workload, after the server's phases so
# that they do not share the machine with them.
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}"
csv="${data}/csv"
for baseline in ${BENCH_BASELINES-postgres sqlite duckdb}; do
    if [[ ! -s "${csv}/events.csv" ]]; then
        "${bench}" workload --people "${people}" --events "${events}" --seed "${seed}" --out "${csv}" >&2
    fi
    case "${baseline}" in
    postgres) /work/shared/bench/baseline_postgres.sh "${csv}" test ;;
    sqlite) /work/shared/bench/baseline_sqlite.sh "${csv}" "${csv}/baseline.sqlite" ;;
    duckdb) "${BENCH_PYTHON:-target/py/bin/python}" /work/shared/bench/baseline_duckdb.py "${csv}" ;;
    *) echo "unknown baseline ${baseline}" >&2 ;;
    esac | sed 's/^/# baseline /' | tee -a "${results}"
done
rm -rf "${csv}"
psql -q -d test -c 'DROP TABLE IF EXISTS events; DROP TABLE IF EXISTS people;' 2>/dev/null || true
echo "results appended to ${results}" >&2
