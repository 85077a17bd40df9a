-- Keys replaced by `herald workspace rotate-key`, as their SHA-256: one per workspace and kind of
-- key ('track', 'app', 'write'), accepted until `expires_at` by the checking server's clock and
-- kept after that (until the next rotation of the same kind) so that a server can say why it
-- refuses one.
CREATE TABLE retired_keys (
    workspace_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    retired_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, kind)
);
CREATE UNIQUE INDEX retired_keys_by_hash ON retired_keys(kind, key_hash);

-- Set by `herald workspace delete` before it removes the workspace's rows, a step at a time:
-- from then on no lookup finds the workspace or its keys.
ALTER TABLE workspaces ADD COLUMN deleted_at INTEGER;

-- A workspace's runs, for its deletion: runs of campaigns deleted earlier are found by no other
-- index.
CREATE INDEX runs_by_workspace ON runs(workspace_id, id);
