-- Several nodes on one database: the segment engine's people are split into a fixed number of
-- partitions, each owned by one live node at a time through a lease it renews (leases.rs).

-- The nodes that renewed lately: a node counts as live until `expires_at`, and each live node
-- takes an equal share of the partitions. `log_kept` is the engine-log position of the node's
-- latest engine image: the log is trimmed up to the smallest of the live nodes'.
CREATE TABLE nodes (
    node TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    log_kept BIGINT NOT NULL DEFAULT 0
);

-- Each partition's owner (NULL: none) until `expires_at`. `epoch` grows at every change of
-- owner, so what an owner writes for a partition can be checked against the lease it holds.
CREATE TABLE partition_leases (
    partition INT PRIMARY KEY,
    node TEXT,
    epoch BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL DEFAULT 0
);
INSERT INTO partition_leases (partition) SELECT generate_series(0, 255);
