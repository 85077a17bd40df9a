-- People who sign in to the web UI. Passwords are argon2 hashes (PHC strings); an admin
-- reaches every workspace, anyone else only those granted in user_workspaces.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    admin INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE user_workspaces (
    user_id INTEGER NOT NULL REFERENCES users(id),
    workspace_id INTEGER NOT NULL REFERENCES workspaces(id),
    PRIMARY KEY (user_id, workspace_id)
) WITHOUT ROWID;

-- Signed-in sessions: only the SHA-256 of the cookie's token is kept, so a copy of the
-- database signs nobody in. Each has its own CSRF token for the forms it sends.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_expiry ON sessions(expires_at);
