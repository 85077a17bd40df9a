"""The measurements of scripts/bench-split.sh, one phase per call, each printing one JSON line.

split_probe.py PHASE MODE APP_KEY RUNS URL PID [URL2 PID2]

- alone: waits for the first server (URL, started just before) to be ready, and times it; then
  its memory, and previews and member counts of S1–S3 through it.
- shared: waits for the second server (URL2) to be ready and for the two to lease 128 partitions
  each, and times it, previewing S1 through the first server all along (every count checked,
  the refusals and the slowest counted); then both servers' memory and the same reads through
  the first.
- takeover: kills the second server (SIGKILL) and times how long until the first answers S1's
  preview with the exact count again, and until it leases and holds all 256 partitions.

A preview's count must equal its stored segment's count (the servers run on the workload's
fixed clock, so neither moves), or the phase fails.
"""

import http.client
import json
import os
import signal
import sys
import time
import urllib.parse

PATIENCE_SECS = 1800


class Server:
    def __init__(self, url, app_key):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.auth = {"authorization": f"Bearer {app_key}", "content-type": "application/json"}
        self.connection = None

    def call(self, method, path, body=None):
        """One request on a kept-alive connection: (status, parsed body or text)."""
        for attempt in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                data = json.dumps(body).encode() if body is not None else None
                self.connection.request(method, path, body=data, headers=self.auth)
                response = self.connection.getresponse()
                raw = response.read()
                try:
                    return response.status, json.loads(raw)
                except ValueError:
                    return response.status, raw.decode(errors="replace")
            except (ConnectionError, http.client.HTTPException, OSError):
                self.connection = None
                if attempt == 1:
                    return 0, "no connection"
        return 0, "no connection"

    def metrics(self):
        status, text = self.call("GET", "/metrics")
        values = {}
        if status == 200:
            for line in text.splitlines():
                if line and not line.startswith("#"):
                    name, _, value = line.rpartition(" ")
                    values[name] = float(value)
        return values


def wait(what, ready, patience=PATIENCE_SECS):
    begin = time.perf_counter()
    while not ready():
        if time.perf_counter() - begin > patience:
            sys.exit(f"{what}: not within {patience} s")
        time.sleep(0.05)
    return time.perf_counter() - begin


def benchmark_segments(server):
    status, answer = server.call("GET", "/v1/segments")
    assert status == 200, answer
    found = {s["name"]: s for s in answer["segments"] if s["name"] in ("S1", "S2", "S3")}
    assert len(found) == 3, f"S1–S3 among {[s['name'] for s in answer['segments']]}"
    segments = []
    for name in ("S1", "S2", "S3"):
        segment = found[name]
        status, count = server.call("GET", f"/v1/segments/{segment['id']}/customer_count")
        assert status == 200, count
        segments.append((name, segment["id"], segment["definition"], count["count"]))
    return segments


def median_ms(times):
    ordered = sorted(times)
    return round(ordered[len(ordered) // 2] * 1000, 3)


def reads(server, runs):
    """Medians of previews and member counts of S1–S3, every count checked."""
    result = {}
    for name, segment, definition, count in benchmark_segments(server):
        previews, counts = [], []
        for _ in range(runs):
            begin = time.perf_counter()
            status, answer = server.call("POST", "/v1/segments/preview", {"definition": definition})
            previews.append(time.perf_counter() - begin)
            assert status == 200 and answer["count"] == count, f"{name}: {status} {answer}"
            begin = time.perf_counter()
            status, answer = server.call("GET", f"/v1/segments/{segment}/customer_count")
            counts.append(time.perf_counter() - begin)
            assert status == 200 and answer["count"] == count, f"{name}: {status} {answer}"
        result[name] = {"count": count, "preview_ms": median_ms(previews), "count_ms": median_ms(counts)}
    return result


def memory_mib(server):
    return round(server.metrics().get("herald_process_resident_memory_bytes", 0) / 2**20)


def main():
    phase, mode, app_key, runs, url, pid = sys.argv[1:7]
    runs, pid = int(runs), int(pid)
    first = Server(url, app_key)
    row = {"phase": phase, "mode": mode}
    if phase == "alone":
        row["ready_secs"] = round(wait("ready", lambda: first.call("GET", "/readyz")[0] == 200), 2)
        row["rss_mib"] = memory_mib(first)
        row["reads"] = reads(first, runs)
    else:
        second, second_pid = Server(sys.argv[7], app_key), int(sys.argv[8])
        held = 128.0 if mode == "split" else 256.0

        def shares(server, leased, held):
            values = server.metrics()
            return (values.get("herald_cluster_partitions_leased") == leased
                    and values.get("herald_segment_engine_partitions_held") == held)

        if phase == "shared":
            # Meanwhile the first server answers S1's preview, every count checked: while
            # partitions move, some engine must answer for each of them.
            (name, _, definition, count) = benchmark_segments(first)[0]
            during = {"previews": 0, "refused": 0, "slowest_ms": 0.0}

            def preview_during():
                begin = time.perf_counter()
                status, answer = first.call("POST", "/v1/segments/preview", {"definition": definition})
                during["previews"] += 1
                if status != 200 or answer["count"] != count:
                    during["refused"] += 1
                during["slowest_ms"] = max(during["slowest_ms"], round((time.perf_counter() - begin) * 1000, 1))

            def ready_and_previewed():
                preview_during()
                return second.call("GET", "/readyz")[0] == 200

            def shared_and_previewed():
                preview_during()
                return shares(first, 128.0, held) and shares(second, 128.0, held)

            row["ready_secs"] = round(wait("ready", ready_and_previewed), 2)
            row["shared_secs"] = round(wait("shared", shared_and_previewed), 2)
            row["first_server_during"] = during
            row["rss_mib"] = [memory_mib(first), memory_mib(second)]
            row["reads"] = reads(first, runs)
        elif phase == "takeover":
            (name, _, definition, count) = benchmark_segments(first)[0]
            os.kill(second_pid, signal.SIGKILL)
            begin = time.perf_counter()
            failures = []

            def answered():
                status, answer = first.call("POST", "/v1/segments/preview", {"definition": definition})
                if status == 200 and answer["count"] == count:
                    return True
                failures.append(status)
                return False

            row["first_exact_preview_secs"] = round(wait("preview", answered), 2)
            row["refused_statuses"] = sorted(set(failures))
            wait("all partitions", lambda: shares(first, 256.0, 256.0))
            row["all_partitions_secs"] = round(time.perf_counter() - begin, 2)
            row["rss_mib"] = memory_mib(first)
        else:
            sys.exit(f"unknown phase {phase}")
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
