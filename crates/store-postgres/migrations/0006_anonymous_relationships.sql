-- Relationships of visitors not identified yet (Track API v2 `identify_anonymous` on an
-- object): kept by anonymous id until an identify with that anonymous id makes them the
-- person's relationships. An object's deletion removes them with its other relationships.
-- Keyed by the workspace first, with no references, so that Citus distributes it beside
-- `people` (see 0005_objects.sql).
CREATE TABLE anonymous_relationships (
    workspace_id BIGINT NOT NULL,
    anonymous_id TEXT NOT NULL,
    object_seq BIGINT NOT NULL,
    attributes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, anonymous_id, object_seq)
);
CREATE INDEX anonymous_relationships_by_object ON anonymous_relationships(workspace_id, object_seq);
