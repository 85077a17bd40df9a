-- What each commit told the segment engine, in commit order, so that an engine restored from an
-- image written at some position catches up from the entries after it instead of reading the
-- whole history again. AUTOINCREMENT: a position is never reused, even after the log was
-- trimmed down to nothing.
CREATE TABLE engine_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL,
    inputs BLOB NOT NULL
);
