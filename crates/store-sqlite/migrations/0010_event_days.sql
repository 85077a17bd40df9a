-- Each event name's count per UTC day (by the event's own time), for the data index's 30-day
-- volume chart: counting the activity log at read time took a scan per name. Kept by every
-- write beside the data index from here on; the events stored before are counted in the
-- background, a chunk per writer job (`backfills`, see backfills.rs), since counting twenty
-- million of them here kept an upgraded server from listening for a minute.
CREATE TABLE event_days (
    workspace_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    day INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, day, kind, name)
) WITHOUT ROWID;

-- Derived rows still to be filled from data stored before their migration: the rows with a
-- key in (position, boundary] of the source table are still to be counted. The largest key is
-- read from the end of the table (an aggregate with a condition would scan all of it).
CREATE TABLE IF NOT EXISTS backfills (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    boundary INTEGER NOT NULL
);

INSERT INTO backfills (name, position, boundary)
SELECT 'event_days', 0, seq FROM activities ORDER BY seq DESC LIMIT 1;
