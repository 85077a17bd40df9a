#!/usr/bin/env bash
# The import benchmark of docs/benchmarks.md (issue 17): the same history (the segmentation
# workload's people, then its events by time) loaded into a fresh server twice in one run,
# once through POST /api/v2/batch (herald-bench's loader, 1,000 operations a request over
# several connections) and once through `herald import` of an NDJSON file holding the same
# operations (the file is written first, not timed). After each load the benchmark segments
# are created and must reach their exact counts, so both loads are checked, not only timed.
#
# Environment (all optional):
#   CARGO_TARGET_DIR   where cargo builds (default: target)
#   BENCH_PEOPLE, BENCH_EVENTS, BENCH_SEED   the workload (default: 100000, 2000000, 7)
#   BENCH_CONNECTIONS  connections of the v2 batch loader (default: 4)
#   BENCH_ROUNDS       how many times each way runs, alternating (default: 2)
#   BENCH_RESULTS      a file the JSON lines are appended to (default: a temporary file)
set -euo pipefail

cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
people="${BENCH_PEOPLE:-100000}"
events="${BENCH_EVENTS:-2000000}"
seed="${BENCH_SEED:-7}"
connections="${BENCH_CONNECTIONS:-4}"
rounds="${BENCH_ROUNDS:-2}"

cargo build --release -p herald -p herald-bench
herald="${target_dir}/release/herald"
bench="${target_dir}/release/herald-bench"
work="$(mktemp -d)"
results="${BENCH_RESULTS:-${work}/results.jsonl}"
trap 'rm -rf "${work}"' EXIT

{
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git rev-parse --short HEAD)"
    echo "# machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB"
    echo "# workload: ${people} people, ${events} events, seed ${seed}; v2 loader on ${connections} connections"
} | tee -a "${results}"

for round in $(seq "${rounds}"); do
    for way in load import; do
        data="${work}/${way}-${round}"
        "${herald}" workspace create bench --json --data-dir "${data}/herald" > "${data}.json"
        field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "${data}.json" "$1"; }
        "${bench}" scale --herald "${herald}" --data-dir "${data}/herald" \
            --site-id "$(field site_id)" --api-key "$(field api_key)" --app-api-key "$(field app_api_key)" \
            --people "${people}" --events "${events}" --seed "${seed}" \
            --connections "${connections}" --phases "${way},segments" |
            python3 -c 'import json, sys
for line in sys.stdin:
    row = json.loads(line); row["round"] = int(sys.argv[1]); print(json.dumps(row), flush=True)' "${round}" |
            tee -a "${results}"
        rm -rf "${data}"
    done
done
echo "results appended to ${results}" >&2
