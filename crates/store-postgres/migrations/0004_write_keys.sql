-- The Data Pipelines API's write key of each workspace, as its SHA-256 (the key itself is shown
-- once, and kept sealed with the other keys); NULL for workspaces created before, until
-- `herald workspace write-key` gives them one. Unique as a constraint rather than a bare index:
-- `herald copy` sets bare indexes aside while it copies, which Citus refuses on a reference
-- table in the transaction that sets aside those of distributed tables.
ALTER TABLE workspaces ADD COLUMN write_key_hash TEXT;
ALTER TABLE workspaces ADD CONSTRAINT workspaces_write_key_hash_key UNIQUE (write_key_hash);
