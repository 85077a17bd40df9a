-- Each event name's count per UTC day (by the event's own time), for the data index's 30-day
-- volume chart: counting the activity log at read time took a scan per name. Filled from the
-- log as it stands, then kept by every write beside the data index.
CREATE TABLE event_days (
    workspace_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    day INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, day, kind, name)
) WITHOUT ROWID;

INSERT INTO event_days (workspace_id, kind, name, day, count)
SELECT workspace_id, kind, name, timestamp / 86400, count(*)
FROM activities
WHERE kind IN ('event', 'page', 'screen') AND name IS NOT NULL
GROUP BY workspace_id, kind, name, timestamp / 86400;
