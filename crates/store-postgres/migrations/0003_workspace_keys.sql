-- Every table of people's data carries its workspace and has it first in each unique key, so
-- that Citus can distribute the schema on `workspace_id` with all of one workspace's rows on one
-- shard group (docs/scaling.md). On plain PostgreSQL only the keys' shape changes.

-- Rows of segments and campaigns deleted before this migration have no workspace left to
-- carry. They were waiting for the background purge; they are removed here instead.
DELETE FROM segment_members m WHERE NOT EXISTS (SELECT 1 FROM segments s WHERE s.id = m.segment_id);
DELETE FROM segment_history h WHERE NOT EXISTS (SELECT 1 FROM segments s WHERE s.id = h.segment_id);
DELETE FROM segment_days d WHERE NOT EXISTS (SELECT 1 FROM segments s WHERE s.id = d.segment_id);
DELETE FROM segment_purges;
DELETE FROM enrollments e WHERE NOT EXISTS (SELECT 1 FROM campaigns c WHERE c.id = e.campaign_id);

ALTER TABLE segment_members ADD COLUMN workspace_id BIGINT;
UPDATE segment_members m SET workspace_id = s.workspace_id FROM segments s WHERE s.id = m.segment_id;
ALTER TABLE segment_members ALTER COLUMN workspace_id SET NOT NULL,
    DROP CONSTRAINT segment_members_pkey,
    ADD PRIMARY KEY (workspace_id, segment_id, person_seq);

ALTER TABLE segment_history ADD COLUMN workspace_id BIGINT;
UPDATE segment_history h SET workspace_id = s.workspace_id FROM segments s WHERE s.id = h.segment_id;
ALTER TABLE segment_history ALTER COLUMN workspace_id SET NOT NULL,
    DROP CONSTRAINT segment_history_pkey,
    ADD PRIMARY KEY (workspace_id, seq);

ALTER TABLE segment_days ADD COLUMN workspace_id BIGINT;
UPDATE segment_days d SET workspace_id = s.workspace_id FROM segments s WHERE s.id = d.segment_id;
ALTER TABLE segment_days ALTER COLUMN workspace_id SET NOT NULL,
    DROP CONSTRAINT segment_days_pkey,
    ADD PRIMARY KEY (workspace_id, segment_id, day);

-- A deleted segment's rows are purged by workspace, so each shard's chunk is found by its key.
ALTER TABLE segment_purges ADD COLUMN workspace_id BIGINT NOT NULL;

ALTER TABLE enrollments ADD COLUMN workspace_id BIGINT;
UPDATE enrollments e SET workspace_id = c.workspace_id FROM campaigns c WHERE c.id = e.campaign_id;
ALTER TABLE enrollments ALTER COLUMN workspace_id SET NOT NULL,
    DROP CONSTRAINT enrollments_pkey,
    ADD PRIMARY KEY (workspace_id, campaign_id, person_seq);

ALTER TABLE people DROP CONSTRAINT people_pkey, ADD PRIMARY KEY (workspace_id, seq);

-- The activity log's key replaces its index by workspace, which had the same columns.
DROP INDEX activities_by_workspace;
ALTER TABLE activities DROP CONSTRAINT activities_pkey, ADD PRIMARY KEY (workspace_id, seq);

-- Runs and deliveries are also looked up by their id alone (the dispatcher holds only the id).
ALTER TABLE runs DROP CONSTRAINT runs_pkey, ADD PRIMARY KEY (workspace_id, id),
    DROP CONSTRAINT runs_run_key_key, ADD UNIQUE (workspace_id, run_key);
CREATE INDEX runs_by_id ON runs(id);

DROP INDEX deliveries_by_run_step;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_pkey, ADD PRIMARY KEY (workspace_id, id);
CREATE UNIQUE INDEX deliveries_by_run_step ON deliveries(workspace_id, run_id, step);
CREATE INDEX deliveries_by_id ON deliveries(id);
CREATE INDEX deliveries_by_run ON deliveries(run_id, step);
