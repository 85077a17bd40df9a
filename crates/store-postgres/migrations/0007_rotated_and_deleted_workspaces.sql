-- Keys replaced by `herald workspace rotate-key`, as their SHA-256: one per workspace and kind of
-- key ('track', 'app', 'write'), accepted until `expires_at` by the checking server's clock and
-- kept after that (until the next rotation of the same kind) so that a server can say why it
-- refuses one. A reference table on Citus, read with requests like `workspaces`; it references
-- no other table, since a table added after the distribution is placed without the steps that
-- foreign keys need (citus.rs). The hash is unique as a constraint rather than a bare index:
-- `herald copy` sets bare indexes aside while it copies, which Citus refuses on a reference
-- table in the transaction that sets aside those of distributed tables.
CREATE TABLE retired_keys (
    workspace_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    retired_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, kind),
    UNIQUE (kind, key_hash)
);

-- Set by `herald workspace delete` before it removes the workspace's rows, a step at a time:
-- from then on no lookup finds the workspace or its keys.
ALTER TABLE workspaces ADD COLUMN deleted_at BIGINT;
