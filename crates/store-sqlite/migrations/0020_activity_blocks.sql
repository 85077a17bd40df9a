-- The activity lists filtered by type or by name read the blocks of 1,024 activity numbers that
-- hold their kind or name (see activity_blocks.rs) rather than an index entry per activity: the
-- two indexes below cost every batch a B-tree insert each inside the tree, about 14% of batch
-- ingest (docs/benchmarks.md). Every write keeps these tables from here on; the activities
-- stored before are listed in the background, a chunk per writer job (`backfills`), and until
-- then the lists read every block of that range.
CREATE TABLE activity_blocks_by_kind (
    workspace_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    block INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, kind, block)
) WITHOUT ROWID;

CREATE TABLE activity_blocks_by_name (
    workspace_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    block INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, name, block)
) WITHOUT ROWID;

INSERT INTO backfills (name, position, boundary)
SELECT 'activity_blocks', 0, seq FROM activities ORDER BY seq DESC LIMIT 1;

DROP INDEX activities_by_kind;
DROP INDEX activities_by_name;
