-- Each segment's entries and exits per UTC day, for its size-over-time chart: the size at the
-- end of a day is today's size less what entered since, plus what left since. Reading
-- segment_history instead meant a million rows for a segment built over a million people.
CREATE TABLE segment_days (
    segment_id INTEGER NOT NULL,
    day INTEGER NOT NULL,
    entered INTEGER NOT NULL,
    exited INTEGER NOT NULL,
    PRIMARY KEY (segment_id, day)
) WITHOUT ROWID;

INSERT INTO segment_days (segment_id, day, entered, exited)
SELECT segment_id, at / 86400, SUM(entered != 0), SUM(entered = 0)
FROM segment_history
GROUP BY segment_id, at / 86400;
