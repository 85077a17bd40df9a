#!/usr/bin/env bash
# The several-servers benchmark of docs/benchmarks.md (issue 15): batch ingest and event →
# segment membership visible, with 1, 2 and 3 `herald serve --cluster` on one PostgreSQL
# database, beside one server on SQLite and one (not in cluster mode) on PostgreSQL; and the same
# on Citus (`citus`, `citus-cluster:N`: a coordinator and two workers, `scripts/citus start`).
#
# For each setup it starts the servers on fresh data (a schema of its own), creates a segment
# ("did `probe` at least once"), then at the same time
#   - runs one herald-bench `batch` load per server (BENCH_CONNECTIONS connections each), and
#   - probes visibility: a Track call for a new person through one server, then that person's
#     segments through the App API of the next server, again until the segment is there;
# and prints a table: events/s summed over the servers, the probes' p50/p99, and whether every
# acknowledged event was stored.
#
# Environment (all optional):
#   CARGO_TARGET_DIR      where cargo builds (default: target)
#   BENCH_SETUPS          setups to run (default: "sqlite postgres cluster:1 cluster:2 cluster:3";
#                         also "citus" and "citus-cluster:N")
#   BENCH_DATABASE_URL    the PostgreSQL (default: the machine's, database test)
#   BENCH_CITUS_URL       the Citus coordinator (default: postgres://postgres@127.0.0.1:9700/citus,
#                         where `scripts/citus start DIR 9700` puts it)
#   BENCH_CONNECTIONS     connections per server of the batch load (default: 4)
#   BENCH_DURATION_SECS   measured seconds per setup (default: 10)
#   BENCH_PROBES          visibility probes per setup (default: 200)
#   BENCH_PORT            the first server's port; the others follow (default: 18281)
#   BENCH_LOGS            a folder to keep the servers' logs in (default: none kept)
#
# On a 2-core machine the load generator, PostgreSQL and every server share the same two cores:
# the figures show the shape of scaling, not its ceiling.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=lib/server.sh
source scripts/lib/server.sh
target_dir="${CARGO_TARGET_DIR:-target}"
setups="${BENCH_SETUPS:-sqlite postgres cluster:1 cluster:2 cluster:3}"
connections="${BENCH_CONNECTIONS:-4}"
duration="${BENCH_DURATION_SECS:-10}"
probes="${BENCH_PROBES:-200}"
port="${BENCH_PORT:-18281}"
pg_url="${BENCH_DATABASE_URL:-host=127.0.0.1 user=postgres dbname=test}"
citus_url="${BENCH_CITUS_URL:-postgres://postgres@127.0.0.1:9700/citus}"
db_url="${pg_url}"

cargo build --release -p herald -p herald-bench
herald="${target_dir}/release/herald"
bench="${target_dir}/release/herald-bench"

work="$(mktemp -d)"
results="${work}/results.jsonl"
: > "${results}"
pids=()
schema=""

stop_servers() {
    for pid in "${pids[@]}"; do
        kill "${pid}" 2>/dev/null || true
        wait "${pid}" 2>/dev/null || true
    done
    pids=()
    if [[ -n "${schema}" ]]; then
        psql "${db_url}" -X -q -c "DROP SCHEMA IF EXISTS ${schema} CASCADE" || true
        schema=""
    fi
}
cleanup() {
    stop_servers
    rm -rf "${work}"
}
trap cleanup EXIT

for setup in ${setups}; do
    kind="${setup%%:*}"
    nodes=1
    store=()
    extra=()
    case "${kind}" in
        sqlite) ;;
        postgres | cluster | citus | citus-cluster)
            db_url="${pg_url}"
            if [[ "${kind}" == citus* ]]; then db_url="${citus_url}"; fi
            schema="herald_bench_cluster_$$"
            psql "${db_url}" -X -q -c "DROP SCHEMA IF EXISTS ${schema} CASCADE"
            store=(--database-url "${db_url}" --database-schema "${schema}")
            if [[ "${kind}" == *cluster ]]; then
                nodes="${setup##*:}"
                extra=(--cluster)
            fi
            ;;
        *) echo "unknown setup ${setup}" >&2; exit 1 ;;
    esac
    first_dir="${work}/${kind}-${nodes}-0"
    "${herald}" workspace create bench --json --data-dir "${first_dir}" "${store[@]}" \
        > "${work}/credentials.json"
    site_id="$(json_field "${work}/credentials.json" site_id)"
    api_key="$(json_field "${work}/credentials.json" api_key)"
    app_key="$(json_field "${work}/credentials.json" app_api_key)"
    urls=()
    for index in $(seq 0 $((nodes - 1))); do
        node_port=$((port + index))
        "${herald}" serve --data-dir "${work}/${kind}-${nodes}-${index}" "${store[@]}" "${extra[@]}" \
            --listen "127.0.0.1:${node_port}" > "${work}/server-${setup}-${index}.log" 2>&1 &
        pids+=($!)
        urls+=("http://127.0.0.1:${node_port}")
        wait_for_server "${urls[-1]}" "${work}/server-${setup}-${index}.log" "server ${index} of ${setup}"
    done
    # The servers share the partitions out before the load (leases are renewed every 5 s).
    if [[ "${kind}" == *cluster && "${nodes}" -gt 1 ]]; then sleep 11; fi
    segment="$(curl -sf -H "Authorization: Bearer ${app_key}" -H 'content-type: application/json' \
        -d '{"segment":{"name":"probed","definition":{"event":{"name":"probe"}}}}' \
        "${urls[0]}/v1/segments" | python3 -c 'import json, sys; print(json.load(sys.stdin)["segment"]["id"])')"
    sleep 1

    # One load per server, and the probes, at once.
    loads=()
    for index in "${!urls[@]}"; do
        "${bench}" --url "${urls[${index}]}" --site-id "${site_id}" --api-key "${api_key}" \
            --scenario batch --connections "${connections}" --duration-secs "${duration}" \
            --warmup-secs 2 > "${work}/load-${setup}-${index}.json" &
        loads+=($!)
    done
    sleep 2
    python3 - "${site_id}" "${api_key}" "${app_key}" "${segment}" "${probes}" "${duration}" \
        "${urls[@]}" > "${work}/probes-${setup}.json" <<'EOF'
import base64, json, sys, time, urllib.request

site_id, api_key, app_key, segment, probes, duration = sys.argv[1:7]
urls = sys.argv[7:]
basic = "Basic " + base64.b64encode(f"{site_id}:{api_key}".encode()).decode()
spacing = int(duration) / int(probes)

def call(method, url, auth, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"authorization": auth, "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")

times = []
for n in range(int(probes)):
    writer, reader = urls[n % len(urls)], urls[(n + 1) % len(urls)]
    person = f"probe-{n}-{time.time_ns()}"
    began = time.perf_counter()
    call("POST", f"{writer}/api/v1/customers/{person}/events", basic, {"name": "probe"})
    while True:
        found = call("GET", f"{reader}/v1/customers/{person}/segments", f"Bearer {app_key}")
        if any(s["id"] == int(segment) for s in found.get("segments", [])):
            break
        time.sleep(0.001)
    times.append((time.perf_counter() - began) * 1000)
    time.sleep(max(0.0, spacing - (time.perf_counter() - began)))
times.sort()
print(json.dumps({"p50": times[len(times) // 2], "p99": times[int(len(times) * 0.99) - 1],
                  "max": times[-1], "probes": len(times)}))
EOF
    for load in "${loads[@]}"; do wait "${load}"; done
    sleep 2
    stored="$(curl -sf -H "Authorization: Bearer ${app_key}" "${urls[0]}/v1/data_index/events" |
        python3 -c 'import json, sys; print(sum(e["count"] for e in json.load(sys.stdin)["events"] if e["name"] == "purchased"))')"
    python3 - "${setup}" "${nodes}" "${stored}" "${work}/probes-${setup}.json" \
        "${work}"/load-"${setup}"-*.json >> "${results}" <<'EOF'
import json, sys
setup, nodes, stored, probes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
loads = [json.load(open(path)) for path in sys.argv[5:]]
print(json.dumps({
    "setup": setup, "servers": nodes,
    "events_per_sec": sum(load["events_per_sec"] for load in loads),
    "batch_p99_ms": max(load["latency_ms"]["p99"] for load in loads),
    "sent": sum(load["events_sent_total"] for load in loads), "stored": stored,
    "failed": sum(load["failed"] for load in loads),
    "statuses": [load["statuses"] for load in loads],
    "first_failure": next((load["first_failure"] for load in loads if load["first_failure"]), None),
    "visible": json.load(open(probes)),
}))
EOF
    tail -1 "${results}"
    stop_servers
    if [[ -n "${BENCH_LOGS:-}" ]]; then
        mkdir -p "${BENCH_LOGS}"
        cp "${work}"/server-"${setup}"-*.log "${BENCH_LOGS}/"
    fi
done

echo
python3 - "${results}" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
header = ("setup", "servers", "events/s", "batch p99 ms", "visible p50 ms", "visible p99 ms",
          "failed", "stored=sent")
table = [header]
for r in rows:
    table.append((r["setup"], str(r["servers"]), f'{r["events_per_sec"]:,.0f}',
                  f'{r["batch_p99_ms"]:.1f}', f'{r["visible"]["p50"]:.1f}',
                  f'{r["visible"]["p99"]:.1f}', str(r["failed"]),
                  "yes" if r["stored"] == r["sent"] else f'no ({r["stored"]} of {r["sent"]})'))
widths = [max(len(row[i]) for row in table) for i in range(len(header))]
for index, row in enumerate(table):
    print("| " + " | ".join(cell.rjust(width) for cell, width in zip(row, widths)) + " |")
    if index == 0:
        print("|" + "|".join("-" * (width + 2) for width in widths) + "|")
EOF
