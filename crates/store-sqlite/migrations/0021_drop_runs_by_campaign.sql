-- A campaign's runs by person served only a workspace purge's count of the enrollments it
-- leaves, which now reads the workspace's runs once; every other read of a campaign's runs
-- goes through `runs_by_campaign_time`. Each run's insert paid for this B-tree too.
DROP INDEX IF EXISTS runs_by_campaign;
