-- Segments: a definition (NULL for a manual segment) and the state of its build.
-- AUTOINCREMENT: an id is never reused, so late background writes for a deleted segment can
-- never be mistaken for a new segment's.
CREATE TABLE segments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    definition TEXT,
    state TEXT NOT NULL,
    progress INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX segments_by_workspace ON segments(workspace_id, id);

-- Who is in each segment now. The engine's memory is the source of truth while the server runs;
-- this copy lets a restart tell which memberships changed while the server was down.
CREATE TABLE segment_members (
    segment_id INTEGER NOT NULL,
    person_seq INTEGER NOT NULL,
    since INTEGER NOT NULL,
    PRIMARY KEY (segment_id, person_seq)
) WITHOUT ROWID;
CREATE INDEX segment_members_by_person ON segment_members(person_seq, segment_id);

-- Every entry and exit, with when and why.
CREATE TABLE segment_history (
    seq INTEGER PRIMARY KEY,
    segment_id INTEGER NOT NULL,
    person_seq INTEGER NOT NULL,
    entered INTEGER NOT NULL,
    at INTEGER NOT NULL,
    cause TEXT NOT NULL,
    origin TEXT NOT NULL
);
CREATE INDEX segment_history_by_person ON segment_history(segment_id, person_seq, seq);
