-- Campaign runs: one person going through one campaign's steps. This table is the durable
-- queue: the dispatcher takes active runs whose `due_at` has come, so a delay or a retry
-- survives any restart.
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id INTEGER NOT NULL,
    campaign_id INTEGER NOT NULL,
    person_seq INTEGER NOT NULL,
    run_key TEXT NOT NULL UNIQUE,
    trigger TEXT NOT NULL,
    step INTEGER NOT NULL,
    due_at INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX runs_due ON runs(due_at, id) WHERE state = 'active';
CREATE INDEX runs_by_campaign ON runs(campaign_id, person_seq);

-- People who went through a campaign whose frequency is `once`.
CREATE TABLE enrollments (
    campaign_id INTEGER NOT NULL,
    person_seq INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, person_seq)
);

-- One message of one run's step. A delivery is recorded (status `queued`, with its rendered
-- content) before it is sent, so a repeat after a crash carries the same id and idempotency key.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    workspace_id INTEGER NOT NULL,
    campaign_id INTEGER NOT NULL,
    run_id INTEGER NOT NULL,
    person_seq INTEGER NOT NULL,
    step INTEGER NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    content TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    sent_at INTEGER
);
CREATE UNIQUE INDEX deliveries_by_run_step ON deliveries(run_id, step);
CREATE INDEX deliveries_by_campaign ON deliveries(workspace_id, campaign_id, created_at);
CREATE INDEX deliveries_by_person ON deliveries(workspace_id, person_seq, created_at);
