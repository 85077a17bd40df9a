#!/usr/bin/env bash
# The segment engine's memory per person and per event (issue 18, goal 1), in one run.
#
# Builds herald-bench in release mode and runs its segment benchmark's load twice: 1M people
# with no events, then 1M people with the workload's 20M events (S1–S3 live both times, every
# event indexed). The resident memory the first load adds, divided by the people, is the
# engine's memory per person; what the second adds beyond it, divided by the events, is its
# memory per event. The builds, previews and incremental events are run on the full load too,
# so that a memory saving that costs speed shows.
#
# Environment (all optional):
#   CARGO_TARGET_DIR   where cargo builds (default: target)
#   OLD_BENCH          an older herald-bench binary: every step then runs it too, right after the
#                      new build's, so that both are measured side by side
#   BENCH_PEOPLE       people (default: 1000000)
#   BENCH_EVENTS       events of the full load (default: 20000000)
#   BENCH_PHASES       phases of the full load (default: load,builds,incremental)
#
# A run takes about two minutes per binary after the build.
set -euo pipefail

cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
people="${BENCH_PEOPLE:-1000000}"
events="${BENCH_EVENTS:-20000000}"
phases="${BENCH_PHASES:-load,builds,incremental}"

cargo build --release --locked -p herald-bench >&2
new_bench="${target_dir}/release/herald-bench"
benches=("new:${new_bench}")
if [[ -n "${OLD_BENCH:-}" ]]; then
    benches+=("old:${OLD_BENCH}")
fi

# The growth in bytes that a `load` report line states, e.g. "| growth | 146.5 MiB: …".
growth_bytes() {
    sed -n 's/^| growth | \([0-9.]*\) MiB.*/\1/p' | awk '{ printf "%.0f", $1 * 1048576 }'
}

echo "# Engine memory, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD), $(nproc) cores"
echo
for entry in "${benches[@]}"; do
    name="${entry%%:*}"
    bench="${entry#*:}"
    people_only=$("${bench}" segments --people "${people}" --events 0 --phases load)
    full=$("${bench}" segments --people "${people}" --events "${events}" --phases "${phases}")
    bare=$(growth_bytes <<<"${people_only}")
    loaded=$(growth_bytes <<<"${full}")
    echo "## ${name} (${bench})"
    echo
    echo "| what | value |"
    echo "|---|---|"
    echo "| growth, ${people} people without events | $((bare / 1048576)) MiB: **$((bare / people)) bytes per person** |"
    echo "| growth, the same people with ${events} events | $((loaded / 1048576)) MiB: $((loaded / people)) bytes per person with their events |"
    echo "| beyond the people alone | **$(((loaded - bare) / events)) bytes per event** |"
    grep -E '^\| (load time|peak resident)' <<<"${full}" || true
    echo
    grep -E '^\| (S1|S2|S3) \| [0-9,]+ \| [0-9.]+ ms' <<<"${full}" || true
    grep -E '^\| (throughput|latency per event)' <<<"${full}" || true
    echo
done
