-- A campaign's runs by person served no read: every read of a campaign's runs goes through
-- `runs_by_campaign_time`, and each run's insert paid for this B-tree too.
DROP INDEX IF EXISTS runs_by_campaign;
