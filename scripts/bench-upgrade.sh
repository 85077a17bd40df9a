#!/usr/bin/env bash
# A start that upgrades a large store across migrations 10–14 (docs/benchmarks.md, Scale, fourth
# run): the store of scripts/bench-scale.sh is put back to before migration 10 (the day-count
# tables dropped and those migrations unrecorded; nothing else changes), then each build is
# timed from process start to listening, to its first acknowledged write and to every segment
# count exact (`herald-bench scale --phases restart`); for the new build the store is put back
# again and the script waits until the background backfill has finished, checking its sums.
#
# Environment (all optional): CARGO_TARGET_DIR, BENCH_DATA, BENCH_SEED as for bench-scale.sh;
#   OLD_HERALD     an older `herald` binary to time first (one built before this change counts
#                  the day counts before it listens)
set -euo pipefail

cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
data="${BENCH_DATA:-${target_dir}/scale-bench}"
seed="${BENCH_SEED:-7}"
database="${data}/herald/herald.db"
[[ -e "${data}/loaded" ]] || { echo "load the data with scripts/bench-scale.sh first" >&2; exit 1; }
cargo build --release -p herald -p herald-bench
bench="${target_dir}/release/herald-bench"
new="${target_dir}/release/herald"
field() {
    python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "${data}/credentials.json" "$1"
}

before_migration_10() {
    python3 - "${database}" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executescript("""
DROP TABLE IF EXISTS event_days; DROP TABLE IF EXISTS segment_days; DROP TABLE IF EXISTS backfills;
DROP INDEX IF EXISTS runs_by_campaign_time;
DELETE FROM schema_migrations WHERE version >= 10 AND version != 11;
""")
c.commit()
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
PY
}
start() {
    before_migration_10
    "${bench}" scale --herald "$1" --data-dir "${data}/herald" --site-id "$(field site_id)" \
        --api-key "$(field api_key)" --app-api-key "$(field app_api_key)" --seed "${seed}" \
        --phases restart |
        python3 -c 'import json, sys
for line in sys.stdin:
    row = json.loads(line)
    if row.get("phase") == "restart":
        print("listening %.2f s, first write %.3f s, counts exact %.2f s" % (row["listening_secs"], row["first_write_secs"], row["counts_exact_secs"]))'
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse --short HEAD); $(nproc) cores"
if [[ -n "${OLD_HERALD:-}" ]]; then
    echo "old: $(start "${OLD_HERALD}")"
fi
echo "new: $(start "${new}")"

# The backfill behind a running server, and its sums against the sources.
before_migration_10
"${new}" serve --data-dir "${data}/herald" --listen 127.0.0.1:7799 --dev-clock=1795910400 >/dev/null 2>&1 &
server=$!
trap 'kill ${server} 2>/dev/null || true' EXIT
python3 - "${database}" "$(field site_id)" "$(field api_key)" <<'PY'
import base64, http.client, json, sqlite3, sys, time
began = time.time()
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
def pending():
    try:
        return c.execute("SELECT count(*) FROM backfills").fetchone()[0]
    except sqlite3.OperationalError:
        return -1
# Single Track writes on one connection, about 300 a second, for 8 s from the start (while the
# backfill runs) and for 8 s after it finished: their latency shows what the backfill costs.
auth = "Basic " + base64.b64encode(f"{sys.argv[2]}:{sys.argv[3]}".encode()).decode()
headers = {"Authorization": auth, "Content-Type": "application/json"}
while True:
    try:
        http_connection = http.client.HTTPConnection("127.0.0.1", 7799)
        http_connection.connect()
        break
    except OSError:
        time.sleep(0.01)
def writes(label):
    times, end, i = [], time.time() + 8, 0
    while time.time() < end:
        begin = time.perf_counter()
        http_connection.request("POST", f"/api/v1/customers/u{i % 1000}/events", body=json.dumps({"name": "upgrade_probe"}), headers=headers)
        answer = http_connection.getresponse()
        answer.read()
        assert answer.status == 200, answer.status
        times.append((time.perf_counter() - begin) * 1000)
        i += 1
        time.sleep(0.002)
    times.sort()
    print(f"{label}: {len(times)} writes, p50 {times[len(times) // 2]:.2f} ms, p99 {times[int(len(times) * 0.99)]:.2f} ms, max {times[-1]:.2f} ms")
writes("writes in the first 8 s")
while pending() != 0:
    time.sleep(0.2)
print("backfill finished %.1f s after the start" % (time.time() - began))
writes("writes after it")
days = c.execute("SELECT sum(count) FROM event_days").fetchone()[0]
events = c.execute("SELECT count(*) FROM activities WHERE kind IN ('event', 'page', 'screen') AND name IS NOT NULL").fetchone()[0]
print(f"event_days sum {days}, events {events}: {'equal' if days == events else 'DIFFERENT'}")
PY
