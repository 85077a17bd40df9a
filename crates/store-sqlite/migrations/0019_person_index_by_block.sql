-- A person's activities are found through this index one block of 65,536 activity numbers at a
-- time (`seq >> 16`, see person_index.rs). Keyed by person first, as before, each event went
-- to a random leaf, since a batch's events belong to people in no order: every commit wrote
-- about one index page per event, which held batch ingest to half of what it reached without
-- the index (docs/benchmarks.md). Keyed by block first, new entries all go to the last block's
-- few hundred pages, which stay in the writer's cache and are written once per commit.
DROP INDEX activities_by_person;
CREATE INDEX activities_by_person ON activities(workspace_id, seq >> 16, person_seq)
    WHERE person_seq IS NOT NULL;
