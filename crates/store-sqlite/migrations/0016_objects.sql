-- Objects (a company, an account: anything people belong to) and people's relationships to
-- them, as Customer.io's Track API v2 object operations and Data Pipelines group calls make
-- them. An object is deleted outright, with its relationships; a person's relationships go when
-- the person does.
CREATE TABLE objects (
    seq INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    object_type_id TEXT NOT NULL,
    object_id TEXT NOT NULL,
    cio_object_id TEXT NOT NULL,
    attributes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX objects_by_id ON objects(workspace_id, object_type_id, object_id);
CREATE UNIQUE INDEX objects_by_cio_id ON objects(workspace_id, cio_object_id);
CREATE TABLE relationships (
    workspace_id INTEGER NOT NULL,
    person_seq INTEGER NOT NULL,
    object_seq INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, person_seq, object_seq)
);
CREATE INDEX relationships_by_object ON relationships(workspace_id, object_seq, person_seq);
