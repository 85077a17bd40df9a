-- A workspace's keys sealed with the key file of the data dir (never stored here), so that the
-- web UI's Settings can show them; NULL for workspaces created before, which keep only hashes.
ALTER TABLE workspaces ADD COLUMN keys_sealed TEXT;
