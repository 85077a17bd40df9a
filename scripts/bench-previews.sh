#!/usr/bin/env bash
# Previews over HTTP against DuckDB on the same data, in alternating rounds (docs/benchmarks.md,
# Scale, fourth run): DuckDB, then each build's `herald-bench scale --phases restart,preview`,
# three times, then DuckDB once more, so that every ratio compares figures taken minutes apart.
# It needs the data that scripts/bench-scale.sh loads (it runs that script's load if missing).
#
# Environment (all optional): CARGO_TARGET_DIR, BENCH_DATA, BENCH_SEED as for bench-scale.sh;
#   OLD_HERALD     an older `herald` binary to alternate with
#   BENCH_ROUNDS   rounds (default 3); BENCH_RUNS previews per segment and round (default 101)
#   BENCH_PYTHON   a Python with duckdb installed (default: target/py/bin/python)
set -euo pipefail

cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
data="${BENCH_DATA:-${target_dir}/scale-bench}"
seed="${BENCH_SEED:-7}"
rounds="${BENCH_ROUNDS:-3}"
runs="${BENCH_RUNS:-101}"
python="${BENCH_PYTHON:-target/py/bin/python}"

if [[ ! -e "${data}/loaded" ]]; then
    BENCH_PHASES=restart BENCH_OLD_PHASES=restart BENCH_BASELINES="" ./scripts/bench-scale.sh
fi
cargo build --release -p herald -p herald-bench
bench="${target_dir}/release/herald-bench"
field() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "${data}/credentials.json" "$1"
}
csv="${data}/csv"
if [[ ! -s "${csv}/events.csv" ]]; then
    "${bench}" workload --seed "${seed}" --out "${csv}" >&2
fi

duckdb() {
    echo "duckdb: $("${python}" /work/shared/bench/baseline_duckdb.py "${csv}" | sed 's/^duckdb //' | tr '\n' ' ')"
}
previews() {
    "${bench}" scale --herald "$1" --data-dir "${data}/herald" --site-id "$(field site_id)" \
        --api-key "$(field api_key)" --app-api-key "$(field app_api_key)" --seed "${seed}" \
        --phases restart,preview --runs "${runs}" |
        python3 -c 'import json, sys
for line in sys.stdin:
    row = json.loads(line)
    if row.get("phase") == "preview":
        floor = row["floor"]
        print(" ".join("%s %.3f ms" % (name, s["median_ms"]) for name, s in row["segments"].items()),
              "(floor: healthz %.3f ms, empty preview %.3f ms)" % (floor["healthz_median_ms"], floor["empty_preview_median_ms"]))'
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD); $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
for _ in $(seq "${rounds}"); do
    duckdb
    if [[ -n "${OLD_HERALD:-}" ]]; then
        echo "old: $(previews "${OLD_HERALD}")"
    fi
    echo "new: $(previews "${target_dir}/release/herald")"
done
duckdb
