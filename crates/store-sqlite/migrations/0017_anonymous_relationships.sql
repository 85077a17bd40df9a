-- Relationships of visitors not identified yet (Track API v2 `identify_anonymous` on an
-- object): kept by anonymous id until an identify with that anonymous id makes them the
-- person's relationships. An object's deletion removes them with its other relationships.
CREATE TABLE anonymous_relationships (
    workspace_id INTEGER NOT NULL,
    anonymous_id TEXT NOT NULL,
    object_seq INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, anonymous_id, object_seq)
);
CREATE INDEX anonymous_relationships_by_object ON anonymous_relationships(workspace_id, object_seq);
