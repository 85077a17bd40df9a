#!/usr/bin/env bash
# The deadline-storm benchmark at the server level (issue 3): HTTP ingest latency while the
# segment engine applies many deadlines due at the same second, against the same ingest with
# nothing due, in one run.
#
# It starts a release server on the dev clock, defines "performed ping within 1 minute", loads
# STORM_PEOPLE people who all pinged at the same second, measures `single` ingest for a while
# (baseline), then measures it again while the clock moves past the window so that every one of
# them leaves the segment at once. Both measurements last 3 s, and the storm starts half a second
# into the second, so that it covers a large part of it. Loopback only; every step is bounded.
#
# Ingest runs on a fixed schedule of STORM_RATE requests/s (open loop, latency counted from when
# each request was due), the load a latency goal is about: a closed loop at saturation would turn
# any CPU the storm takes into latency, whatever the server does. STORM_RATE=0 runs the closed
# loop instead (16 connections, each sending as soon as its last answer came).
#
#   CARGO_TARGET_DIR  where the release build goes (default: target)
#   STORM_PEOPLE      people due at the same second (default: 200000)
#   STORM_PORT        the server's port (default: 18191)
#   STORM_RATE        ingest requests/s, open loop (default: 2000; 0 = closed loop)
#   STORM_SETTLE_SECS seconds to wait after loading before measuring (default: 5)
#   STORM_SLOW_MS     print every request slower than this many ms to stderr with the time of
#                     its answer, and the storm's start time, to line them up (default: none)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/server.sh
source scripts/lib/server.sh

target_dir="${CARGO_TARGET_DIR:-target}"
people="${STORM_PEOPLE:-200000}"
port="${STORM_PORT:-18191}"
rate="${STORM_RATE:-2000}"
start=1800000000
base="http://127.0.0.1:${port}"

cargo build --release -p herald -p herald-bench >&2
herald="${target_dir}/release/herald"
bench="${target_dir}/release/herald-bench"

work="$(mktemp -d)"
server_pid=""
trap stop_server_and_clean EXIT

"${herald}" workspace create storm --json --data-dir "${work}/data" > "${work}/credentials.json"
field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "${work}/credentials.json" "$1"; }
site="$(field site_id)"; key="$(field api_key)"; app="$(field app_api_key)"
HERALD_LOG=warn "${herald}" serve --data-dir "${work}/data" --listen "127.0.0.1:${port}" --dev-clock="${start}" > "${work}/server.log" 2>&1 &
server_pid=$!
wait_for_server "${base}" "${work}/server.log"

curl -sf -H "Authorization: Bearer ${app}" \
    -d '{"segment":{"name":"pinged","definition":{"event":{"name":"ping","within":{"minutes":1}}}}}' \
    "${base}/v1/segments" > /dev/null

# Everyone pings at the same second, in v2 batches of 500 over one kept-alive connection.
python3 - "${port}" "${site}" "${key}" "${people}" "${start}" <<'PY' >&2
import base64, http.client, json, sys, time
port, site, key, people, start = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
auth = "Basic " + base64.b64encode(f"{site}:{key}".encode()).decode()
connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
began = time.time()
for first in range(0, people, 500):
    batch = [{"type": "person", "identifiers": {"id": f"p{n}"}, "action": "event", "name": "ping",
              "timestamp": start} for n in range(first, min(first + 500, people))]
    connection.request("POST", "/api/v2/batch", json.dumps({"batch": batch}),
                       {"Authorization": auth, "Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    assert response.status == 200, response.status
print(f"loaded {people} people in {time.time() - began:.1f} s", file=sys.stderr)
PY

count() { curl -sf -H "Authorization: Bearer ${app}" "${base}/v1/segments/1/customer_count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])'; }
# The engine is fed after each commit; wait until it has seen every ping.
for _ in $(seq 1 600); do
    [[ "$(count)" == "${people}" ]] && break
    sleep 0.1
done
echo "members before the storm: $(count)" >&2

pace=()
if [[ "${rate}" != 0 ]]; then
    pace=(--rate "${rate}")
fi
if [[ -n "${STORM_SLOW_MS:-}" ]]; then
    pace+=(--slow-ms "${STORM_SLOW_MS}")
fi
run_single() {
    timeout 60 "${bench}" --url "${base}" --site-id "${site}" --api-key "${key}" --scenario single \
        --connections 16 --duration-secs "$1" --warmup-secs 1 --server-pid "${server_pid}" "${pace[@]}"
}

# Loading leaves hundreds of megabytes of WAL behind; its checkpoints settle before anything is
# measured. (Waiting 30 s instead of 5 did not make the baseline steadier: its p99 still varied
# from 8 to 17 ms between runs.)
sleep "${STORM_SETTLE_SECS:-5}"
baseline="$(run_single 3)"
# The storm: the clock passes the window of every ping at once while ingest runs.
run_single 3 > "${work}/storm.json" &
bench_pid=$!
sleep 1.5
storm_began=$(date +%s.%N)
curl -sf -H "Authorization: Bearer ${app}" -d "{\"now\": $((start + 61))}" "${base}/v1/_dev/clock" > /dev/null
storm_ended=$(date +%s.%N)
wait "${bench_pid}"
if [[ -n "${STORM_SLOW_MS:-}" ]]; then
    echo "storm began ${storm_began}, ended ${storm_ended}" >&2
fi
# Computed only now: a Python start-up inside the measured window took the CPU ingest needed
# and showed up as a cluster of slow requests right when the storm ended.
storm_seconds=$(python3 -c "print(f'{${storm_ended} - ${storm_began}:.2f}')")
during="$(cat "${work}/storm.json")"
echo "members after the storm: $(count)" >&2

python3 - "${baseline}" "${during}" "${storm_seconds}" "${people}" "${rate}" <<'PY'
import json, sys
before, during = json.loads(sys.argv[1]), json.loads(sys.argv[2])
seconds, people, rate = sys.argv[3], sys.argv[4], sys.argv[5]
load = f"{int(rate):,} requests/s on a schedule" if rate != "0" else "closed loop"
print(f"| ingest (`single`, 16 connections, {load}) | requests/s | p50 ms | p90 ms | p99 ms | max ms | server cores | machine cores |")
print("|---|---|---|---|---|---|---|---|")
for label, run in (("nothing due", before), (f"{int(people):,} deadlines due at once", during)):
    latency = run["latency_ms"]
    print(f"| {label} | {run['requests_per_sec']:,.0f} | {latency['p50']:.2f} | {latency['p90']:.2f} | {latency['p99']:.2f} | {latency['max']:.2f} | {run['server_cpu_cores']} | {run['machine_cpu_cores']} |")
print(f"\nThe storm ({people} exits) was applied in {seconds} s (the dev-clock request returns once every due deadline is applied).")
print(f"p99 during ÷ p99 before: {during['latency_ms']['p99'] / before['latency_ms']['p99']:.2f}")
PY
