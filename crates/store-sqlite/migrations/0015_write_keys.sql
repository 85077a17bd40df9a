-- The Data Pipelines API's write key of each workspace, as its SHA-256 (the key itself is shown
-- once, and kept sealed with the other keys); NULL for workspaces created before, until
-- `herald workspace write-key` gives them one.
ALTER TABLE workspaces ADD COLUMN write_key_hash TEXT;
CREATE UNIQUE INDEX workspaces_by_write_key ON workspaces(write_key_hash) WHERE write_key_hash IS NOT NULL;
