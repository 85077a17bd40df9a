#!/usr/bin/env python3
"""What the person index's layout costs a read of one person's activities (issue 18, goal 2).

Builds an SQLite file holding an activity log of BENCH_EVENTS events (default 20,000,000) of
BENCH_PEOPLE people (default 1,000,000) in random order, as batch ingest stores them, then
builds both layouts of the person index side by side and times each:
  - by person:  (workspace_id, person_seq, seq), the layout before migration 0019;
  - by block:   (workspace_id, seq >> 16, person_seq), the layout since (person_index.rs).
It prints how long each index took to build (an upgrade builds the new one once) and, for
BENCH_READS random people (default 2,000), the mean and p99 time to read the person's newest
50 activities and all of their events, with the same SQL shapes the store runs. Uses Python's
own sqlite3 module, so absolute times differ from the server's bundled SQLite; the ratio is the
figure. The file goes to BENCH_DIR (default: a temporary folder, removed afterwards).
"""

import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time

EVENTS = int(os.environ.get("BENCH_EVENTS", "20000000"))
PEOPLE = int(os.environ.get("BENCH_PEOPLE", "1000000"))
READS = int(os.environ.get("BENCH_READS", "2000"))

BLOCKS = """(WITH RECURSIVE blocks(b) AS (
        SELECT (SELECT min(seq) FROM activities) >> 16
        UNION ALL SELECT b + 1 FROM blocks WHERE b < (SELECT max(seq) FROM activities) >> 16
    ) SELECT b FROM blocks)"""

READS_BY = {
    "by person": (
        "activities_by_person_old",
        "",
    ),
    "by block": (
        "activities_by_person",
        f" AND (seq >> 16) IN {BLOCKS}",
    ),
}


def build(path):
    db = sqlite3.connect(path)
    db.executescript(
        """
        PRAGMA journal_mode = WAL;
        PRAGMA synchronous = NORMAL;
        CREATE TABLE activities (
            seq INTEGER PRIMARY KEY,
            workspace_id INTEGER NOT NULL,
            person_seq INTEGER,
            kind TEXT NOT NULL,
            name TEXT,
            data TEXT NOT NULL,
            timestamp INTEGER NOT NULL
        );
        """
    )
    start = time.time()
    # A multiplicative hash spreads people over the log the way random traffic does.
    db.execute(
        f"""
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {EVENTS})
        INSERT INTO activities (seq, workspace_id, person_seq, kind, name, data, timestamp)
        SELECT i, 1, (i * 2654435761) % {PEOPLE} + 1, 'event',
               CASE i % 3 WHEN 0 THEN 'purchased' WHEN 1 THEN 'login' ELSE 'viewed' END,
               '{{"price":' || (i % 10000) || ',"sku":"a1"}}', 1700000000 + i / 10
        FROM n
        """
    )
    db.commit()
    print(f"log of {EVENTS:,} events written in {time.time() - start:.1f} s", flush=True)
    timings = {}
    for label, sql in [
        (
            "by person",
            "CREATE INDEX activities_by_person_old ON activities(workspace_id, person_seq, seq) WHERE person_seq IS NOT NULL",
        ),
        (
            "by block",
            "CREATE INDEX activities_by_person ON activities(workspace_id, seq >> 16, person_seq) WHERE person_seq IS NOT NULL",
        ),
    ]:
        start = time.time()
        db.execute(sql)
        db.commit()
        timings[label] = time.time() - start
    return db, timings


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main():
    folder = os.environ.get("BENCH_DIR") or tempfile.mkdtemp(prefix="herald-person-index-")
    path = os.path.join(folder, "activities.db")
    if os.path.exists(path):
        os.remove(path)
    try:
        db, built = build(path)
        rng = random.Random(7)
        people = [rng.randrange(1, PEOPLE + 1) for _ in range(READS)]
        print(f"sqlite {sqlite3.sqlite_version}, {READS:,} random people, each read both ways")
        print("| index | built in s | newest 50: mean ms | p99 ms | all events: mean ms | p99 ms | rows per person |")
        print("|---|---|---|---|---|---|---|")
        for label, (index, blocks) in READS_BY.items():
            newest = (
                f"SELECT seq, kind, name, data, timestamp FROM activities INDEXED BY {index}"
                f" WHERE workspace_id = 1 AND person_seq = ?{blocks} ORDER BY seq DESC LIMIT 50"
            )
            every = (
                f"SELECT person_seq, kind, name, timestamp, data, seq FROM activities INDEXED BY {index}"
                f" WHERE workspace_id = 1{blocks} AND person_seq = ?"
                " AND kind IN ('event', 'page', 'screen') ORDER BY timestamp, seq"
            )
            # One pass to warm the cache alike for both, then the measured pass.
            for person in people[:200]:
                db.execute(newest, (person,)).fetchall()
            times = {"newest": [], "every": []}
            rows = 0
            for person in people:
                for name, sql in (("newest", newest), ("every", every)):
                    start = time.perf_counter()
                    found = db.execute(sql, (person,)).fetchall()
                    times[name].append((time.perf_counter() - start) * 1000)
                    if name == "every":
                        rows += len(found)
            print(
                f"| {label} | {built[label]:.1f} | {statistics.mean(times['newest']):.3f} | "
                f"{percentile(times['newest'], 0.99):.3f} | {statistics.mean(times['every']):.3f} | "
                f"{percentile(times['every'], 0.99):.3f} | {rows / len(people):.1f} |",
                flush=True,
            )
        db.close()
    finally:
        if not os.environ.get("BENCH_DIR"):
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
