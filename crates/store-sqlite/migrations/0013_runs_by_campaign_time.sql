-- A campaign's runs by when they started, for the Overview's runs per day
-- (`campaign_days`): without it, charting 30 days reads every run the campaign ever had.
CREATE INDEX runs_by_campaign_time ON runs(campaign_id, created_at);
