-- Workspaces hold only hashes of their keys: the keys are printed once, at creation.
CREATE TABLE workspaces (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    site_id TEXT NOT NULL UNIQUE,
    api_key_hash TEXT NOT NULL,
    app_api_key_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- People are soft-deleted so that activity history keeps pointing at them; the partial unique
-- indexes free a deleted person's id and email for a new profile.
CREATE TABLE people (
    seq INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    cio_id TEXT NOT NULL,
    id TEXT,
    email TEXT,
    email_lower TEXT,
    attributes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    deleted_at INTEGER
);
CREATE UNIQUE INDEX people_by_cio_id ON people(workspace_id, cio_id);
CREATE UNIQUE INDEX people_by_id ON people(workspace_id, id) WHERE deleted_at IS NULL AND id IS NOT NULL;
CREATE UNIQUE INDEX people_by_email ON people(workspace_id, email_lower) WHERE deleted_at IS NULL AND email_lower IS NOT NULL;

-- The activity log. Events (kinds event, page, screen) are activities, so one append stores both.
CREATE TABLE activities (
    seq INTEGER PRIMARY KEY,
    workspace_id INTEGER NOT NULL,
    person_seq INTEGER,
    anonymous_id TEXT,
    kind TEXT NOT NULL,
    name TEXT,
    data TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    event_id TEXT,
    may_trigger INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX activities_by_event_id ON activities(workspace_id, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX activities_by_person ON activities(workspace_id, person_seq, seq) WHERE person_seq IS NOT NULL;
CREATE INDEX activities_unattached ON activities(workspace_id, anonymous_id) WHERE person_seq IS NULL AND anonymous_id IS NOT NULL;
-- The periodic purge of expired anonymous events reads this instead of the whole log.
CREATE INDEX activities_unattached_by_age ON activities(received_at) WHERE person_seq IS NULL AND anonymous_id IS NOT NULL;
CREATE INDEX activities_by_workspace ON activities(workspace_id, seq);

CREATE TABLE devices (
    workspace_id INTEGER NOT NULL,
    token TEXT NOT NULL,
    person_seq INTEGER NOT NULL,
    platform TEXT NOT NULL,
    last_used INTEGER,
    attributes TEXT NOT NULL,
    PRIMARY KEY (workspace_id, token)
);
CREATE INDEX devices_by_person ON devices(workspace_id, person_seq);

CREATE TABLE suppressions (
    workspace_id INTEGER NOT NULL,
    id_type TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id_type, value)
);

CREATE TABLE anonymous_links (
    workspace_id INTEGER NOT NULL,
    anonymous_id TEXT NOT NULL,
    person_seq INTEGER NOT NULL,
    linked_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, anonymous_id)
);

CREATE TABLE event_index (
    workspace_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    attribute_keys TEXT NOT NULL,
    PRIMARY KEY (workspace_id, kind, name)
);

-- Metrics arrive without authentication, so they are not tied to a workspace until a later
-- issue attributes them to deliveries.
CREATE TABLE delivery_metrics (
    seq INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX delivery_metrics_by_delivery ON delivery_metrics(delivery_id);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
