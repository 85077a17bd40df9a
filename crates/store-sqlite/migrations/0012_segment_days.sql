-- Each segment's entries and exits per UTC day, for its size-over-time chart: the size at the
-- end of a day is today's size less what entered since, plus what left since. Reading
-- segment_history instead meant a million rows for a segment built over a million people.
-- Kept by every membership write from here on; the history stored before is counted in the
-- background (`backfills`, created by migration 10).
CREATE TABLE segment_days (
    segment_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    entered INTEGER NOT NULL,
    exited INTEGER NOT NULL,
    PRIMARY KEY (segment_id, day)
) WITHOUT ROWID;

INSERT INTO backfills (name, position, boundary)
SELECT 'segment_days', 0, seq FROM segment_history ORDER BY seq DESC LIMIT 1;
