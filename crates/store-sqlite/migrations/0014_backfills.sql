-- The backfills table for stores that ran the first texts of migrations 10 and 12, which filled
-- their tables in place and did not create it (migration 10 now does).
CREATE TABLE IF NOT EXISTS backfills (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    boundary INTEGER NOT NULL
);
