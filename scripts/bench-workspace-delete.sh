#!/usr/bin/env bash
# Deleting one workspace of two whose activities are interleaved in the log (docs/benchmarks.md,
# "The log listed by workspace through its blocks").
#
# Builds Herald and herald-bench in release mode. With OLD_HERALD (a build from before
# migration 0022) it loads a store with the old build: two workspaces fed at once through
# `POST /api/v2/batch` for LOAD_SECS seconds (`a`: 12 connections over 1M people, `b`: 4
# connections over 100,000), so that most blocks of the log hold activities of both. It then
# copies the store twice, times the new build's `herald migrate` on one copy (the upgrade to
# this version), and `herald workspace delete b` with each build on its own copy, and checks
# that both left exactly workspace `a`'s activities. Without OLD_HERALD the new build loads
# the store and only the deletion is timed.
#
# Environment (all optional):
#   CARGO_TARGET_DIR   where cargo builds (default: target)
#   OLD_HERALD         an older `herald` binary
#   LOAD_SECS          seconds of loading (default: 40, about five million activities here)
#   BENCH_PORT         the port the loading server listens on (default: 18184)
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=lib/server.sh
source scripts/lib/server.sh
target_dir="${CARGO_TARGET_DIR:-target}"
load_secs="${LOAD_SECS:-40}"
port="${BENCH_PORT:-18184}"
url="http://127.0.0.1:${port}"

cargo build --release -p herald -p herald-bench
new="${target_dir}/release/herald"
bench="${target_dir}/release/herald-bench"
loader="${OLD_HERALD:-${new}}"

work="$(mktemp -d)"
server_pid=""
trap stop_server_and_clean EXIT

data="${work}/loaded"
"${loader}" workspace create a --json --data-dir "${data}" > "${work}/a.json"
"${loader}" workspace create b --json --data-dir "${data}" > "${work}/b.json"
"${loader}" serve --data-dir "${data}" --listen "127.0.0.1:${port}" > "${work}/server.log" 2>&1 &
server_pid=$!
wait_for_server "${url}" "${work}/server.log"
load() {
    local credentials="$1" connections="$2" people="$3"
    timeout "$((load_secs + 60))" "${bench}" --url "${url}" \
        --site-id "$(json_field "${credentials}" site_id)" \
        --api-key "$(json_field "${credentials}" api_key)" \
        --scenario batch --connections "${connections}" --duration-secs "${load_secs}" \
        --warmup-secs 0 --people "${people}" --names workload > /dev/null
}
load "${work}/a.json" 12 1000000 &
loading_a=$!
load "${work}/b.json" 4 100000
wait "${loading_a}"
kill -INT "${server_pid}"
wait "${server_pid}" 2>/dev/null || true
server_pid=""

counts() {
    sqlite3 "$1/herald.db" \
        "SELECT group_concat(workspace_id || ': ' || n, ', ') FROM
         (SELECT workspace_id, count(*) AS n FROM activities GROUP BY workspace_id)"
}
# timed LABEL COMMAND...: runs COMMAND and prints how long it took.
timed() {
    local label="$1" start end
    shift
    start="$(date +%s.%N)"
    "$@" > /dev/null 2> "${work}/step.log" || { cat "${work}/step.log" >&2; exit 1; }
    end="$(date +%s.%N)"
    python3 -c 'import sys; print(f"| {sys.argv[1]} | {float(sys.argv[3]) - float(sys.argv[2]):.2f} s |")' \
        "${label}" "${start}" "${end}"
}

echo
echo "activities per workspace before: $(counts "${data}")"
echo
echo "| step | time |"
echo "|---|---|"
builds=("new:${new}")
if [[ -n "${OLD_HERALD:-}" ]]; then
    builds+=("old:${OLD_HERALD}")
    cp -r "${data}" "${work}/new"
    timed "new: \`herald migrate\` (the upgrade)" "${new}" migrate --data-dir "${work}/new"
else
    cp -r "${data}" "${work}/new"
fi
for entry in "${builds[@]}"; do
    build="${entry%%:*}"
    herald="${entry#*:}"
    [[ -d "${work}/${build}" ]] || cp -r "${data}" "${work}/${build}"
    timed "${build}: \`herald workspace delete b\`" "${herald}" workspace delete b --yes \
        --data-dir "${work}/${build}"
    left="$(counts "${work}/${build}")"
    if [[ "${left}" != "$(counts "${data}" | sed 's/, 2: .*//')" ]]; then
        echo "${build} left ${left}" >&2
        exit 1
    fi
done
echo
echo "activities per workspace after: $(counts "${work}/new")"
