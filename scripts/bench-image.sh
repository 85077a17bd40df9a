#!/usr/bin/env bash
# How long writing the engine's image stops the engine's thread, this build against an older one,
# on the scale workload's data (docs/benchmarks.md, "Scale"). While that thread is stopped,
# segment reads and live memberships wait.
#
# Each run starts a build on the data, has `herald-bench scale --phases restart` write once and
# wait until every benchmark segment's count is exact, and stops the server with SIGTERM, which
# writes an image. The server's log then says how long its engine's thread was stopped (the
# older build wrote the whole image on it; this one only serializes the engines there) and how
# long the whole write took. The builds alternate, the first one changing from run to run.
#
# Environment:
#   OLD_HERALD      the older `herald` binary (required)
#   BENCH_DATA      the data (default: target/scale-bench, which bench-scale.sh also uses); the
#                   load runs only when it holds none
#   BENCH_PEOPLE, BENCH_EVENTS, BENCH_SEED   the workload (default: 1000000, 20000000, 7)
#   BENCH_RUNS      runs of each build (default: 3)
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=lib/scale_data.sh
source scripts/lib/scale_data.sh
: "${OLD_HERALD:?OLD_HERALD names the older herald binary}"
target_dir="${CARGO_TARGET_DIR:-target}"
data="${BENCH_DATA:-${target_dir}/scale-bench}"
people="${BENCH_PEOPLE:-1000000}"
events="${BENCH_EVENTS:-20000000}"
runs="${BENCH_RUNS:-3}"

cargo build --release -p herald -p herald-bench
new="${target_dir}/release/herald"
bench="${target_dir}/release/herald-bench"

scale_workspace "${data}" "${new}"
scale_common "${data}" "${people}" "${events}" "${BENCH_SEED:-7}"
if [[ ! -e "${data}/loaded" ]]; then
    "${bench}" scale --herald "${new}" "${common[@]}" --phases load,segments >&2
    touch "${data}/loaded"
fi
log="${data}/herald.log"
touch "${log}"

echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git rev-parse --short HEAD); ${people} people, ${events} events"
echo "# machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/^Mem:/ {print $2}') GiB"
echo "| run | build | engine's thread stopped, s | whole write, s | image, MB |"
echo "|---|---|---|---|---|"
# The value of FIELD on the last line of the log after byte OFFSET that holds MESSAGE.
logged() {
    tail -c "+$(($1 + 1))" "${log}" | grep -a "$2" | tail -1 |
        sed -E 's/\x1b\[[0-9;]*m//g' | grep -oE "$3=[0-9.]+" | cut -d= -f2
}
for run in $(seq 1 "${runs}"); do
    if ((run % 2)); then order="old new"; else order="new old"; fi
    for build in ${order}; do
        if [[ "${build}" == old ]]; then herald="${OLD_HERALD}"; else herald="${new}"; fi
        offset=$(stat -c %s "${log}")
        "${bench}" scale --herald "${herald}" "${common[@]}" --phases restart > /dev/null
        whole=$(logged "${offset}" "engine image written" secs)
        bytes=$(logged "${offset}" "engine image written" bytes)
        if [[ "${build}" == old ]]; then
            stopped="${whole}"
        else
            stopped=$(logged "${offset}" "engines serialized" secs)
        fi
        echo "| ${run} | ${build} | ${stopped} | ${whole} | $((bytes / 1000000)) |"
    done
done
