-- The whole activity log of a workspace, newest first, is listed through the blocks of 1,024
-- activity numbers that hold any of its activities (see activity_blocks.rs), as the lists by
-- kind and by name are since migration 0020: `activities_by_workspace` cost every event and
-- every delivery's record an entry inside its B-tree, about 2.6% of their instructions
-- (docs/benchmarks.md). Every block a kind is listed in is one of its workspace's blocks; the
-- range the backfill of 0020 has not listed yet counts as holding everything until it has, and
-- that backfill lists this table's rows too.
CREATE TABLE activity_blocks (
    workspace_id INTEGER NOT NULL,
    block INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, block)
) WITHOUT ROWID;

INSERT INTO activity_blocks (workspace_id, block)
SELECT DISTINCT workspace_id, block FROM activity_blocks_by_kind;

DROP INDEX activities_by_workspace;
