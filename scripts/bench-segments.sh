#!/usr/bin/env bash
# The segment engine benchmark of docs/benchmarks.md (issue 3), in one run.
#
# Builds herald-bench in release mode, writes the workload of /work/shared/bench/workload.md as
# CSV, runs the SQL baselines that are available on it (PostgreSQL, SQLite, DuckDB), then runs
# `herald-bench segments`, which loads the same workload into the segment engine in-process,
# measures it (builds and previews from the engine's index, re-evaluation, incremental events,
# the midnight case, memory, a build on a fresh engine), checks the member counts and prints the
# ratios to the baselines' figures.
#
# Environment (all optional):
#   CARGO_TARGET_DIR    where cargo builds (default: target)
#   BENCH_DATA          where the CSVs go (default: $CARGO_TARGET_DIR/segments-bench); it is
#                       deleted at the end, with the SQLite file and the PostgreSQL tables,
#                       unless BENCH_KEEP_DATA=1
#   BENCH_BASELINES     which baselines to try (default: "postgres sqlite duckdb")
#   BENCH_PG_DATABASE   the PostgreSQL database (default: test); PGHOST/PGPORT default to
#                       127.0.0.1:5432
#   BENCH_PYTHON        a Python with duckdb installed (default: target/py/bin/python; if it
#                       lacks duckdb: target/py/bin/pip install duckdb)
#   BENCH_ARGS          extra arguments for `herald-bench segments` (e.g. "--runs 3")
#   BENCH_RESULTS       a file to keep the report in (default: $CARGO_TARGET_DIR/segments-report.md)
#   BENCH_BUDGET_SECS   the time the run may take after the build (default: 840, 14 minutes)
#
# Every step is bounded with `timeout` by what is left of the budget, so the run never takes
# longer than BENCH_BUDGET_SECS after the build; on this project's 2-core machine it takes about
# 7 minutes. For iterating, run the binary on a fifth of the workload instead, e.g.
# `herald-bench segments --people 200000 --events 4000000 --phases load,builds --runs 9`.
set -euo pipefail

cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
data="${BENCH_DATA:-${target_dir}/segments-bench}"
wanted="${BENCH_BASELINES:-postgres sqlite duckdb}"
database="${BENCH_PG_DATABASE:-test}"
python="${BENCH_PYTHON:-target/py/bin/python}"
results="${BENCH_RESULTS:-${target_dir}/segments-report.md}"
shared=/work/shared/bench
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}"

cargo build --release -p herald-bench
bench="${target_dir}/release/herald-bench"
budget="${BENCH_BUDGET_SECS:-840}"
started=${SECONDS}

pg_loaded=""
cleanup() {
    if [[ "${BENCH_KEEP_DATA:-0}" != 1 ]]; then
        rm -rf "${data}"
        if [[ -n "${pg_loaded}" ]]; then
            psql -q -d "${database}" -c 'DROP TABLE IF EXISTS events; DROP TABLE IF EXISTS people;' \
                2>/dev/null || true
        fi
    fi
}
trap cleanup EXIT

# Runs a step under `timeout` with at most what is left of the budget, and prints how long it
# took, so the log shows where the run's time went.
step() {
    local name="$1"
    shift
    local left=$((budget - (SECONDS - started)))
    if ((left <= 0)); then
        echo "== ${name}: no time left in the budget of ${budget} s" >&2
        return 1
    fi
    local begin=${SECONDS}
    echo "== ${name} (at most ${left} s)" >&2
    timeout "${left}" "$@"
    echo "== ${name}: $((SECONDS - begin)) s" >&2
}

{
    echo "# Segment engine benchmark"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- commit: $(git rev-parse --short HEAD); crates/segment-engine $(git diff --quiet HEAD -- crates/segment-engine && echo 'as committed' || echo 'with uncommitted changes')"
    echo "- machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB memory"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
} | tee "${results}"

mkdir -p "${data}"
if [[ ! -s "${data}/events.csv" ]]; then
    step "workload CSVs" "${bench}" workload --out "${data}" >&2
fi

baselines="${data}/baselines.txt"
: > "${baselines}"
for baseline in ${wanted}; do
    case "${baseline}" in
    postgres)
        if ! pg_isready -q; then
            pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
            for _ in $(seq 30); do pg_isready -q && break; sleep 1; done
        fi
        if pg_isready -q; then
            pg_loaded=1
            step "postgres" "${shared}/baseline_postgres.sh" "${data}" "${database}" |
                tee -a "${baselines}"
        else
            echo "postgres: no server on ${PGHOST}:${PGPORT}, skipped" >&2
        fi
        ;;
    sqlite)
        if command -v sqlite3 > /dev/null; then
            step "sqlite" "${shared}/baseline_sqlite.sh" "${data}" "${data}/baseline.sqlite" |
                tee -a "${baselines}"
        else
            echo "sqlite: no sqlite3 command, skipped" >&2
        fi
        ;;
    duckdb)
        if "${python}" -c 'import duckdb' 2> /dev/null; then
            step "duckdb" "${python}" "${shared}/baseline_duckdb.py" "${data}" |
                tee -a "${baselines}"
        else
            echo "duckdb: ${python} cannot import duckdb, skipped" >&2
        fi
        ;;
    *) echo "unknown baseline ${baseline}" >&2 ;;
    esac
done

# shellcheck disable=SC2086 # BENCH_ARGS is a list of arguments.
step "engine" "${bench}" segments --baselines "${baselines}" ${BENCH_ARGS:-} |
    tee -a "${results}"
{
    echo
    echo "Baseline output:"
    echo
    sed 's/^/    /' "${baselines}"
} | tee -a "${results}"
echo "report written to ${results}" >&2
