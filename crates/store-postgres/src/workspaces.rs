//! Workspaces, settings, and the web UI's users, grants and sessions (the tables `workspaces`,
//! `settings`, `users`, `user_workspaces` and `sessions`); and `herald doctor`'s scan of every
//! table that holds JSON, for the rows whose JSON cannot be read back.

use herald_domain::{UnixSeconds, WorkspaceId};
use herald_store::codec::unreadable;
use herald_store::{
    CorruptRow, NewUser, NewWorkspace, SessionRow, StoreError, User, Workspace,
    WorkspaceCredentials,
};
use postgres::Row;

use crate::pg::Pg;

fn workspace_from_row(row: &Row) -> Workspace {
    Workspace {
        id: row.get(0),
        name: row.get(1),
        site_id: row.get(2),
        created_at: row.get(3),
    }
}

fn user_from_row(row: &Row) -> User {
    User {
        id: row.get(0),
        email: row.get(1),
        admin: row.get(2),
        created_at: row.get(3),
    }
}

pub(crate) fn workspaces(pg: &mut Pg<'_>) -> Result<Vec<Workspace>, StoreError> {
    let rows = pg.query(
        "SELECT id, name, site_id, created_at FROM workspaces WHERE deleted_at IS NULL ORDER BY id",
        &[],
    )?;
    Ok(rows.iter().map(workspace_from_row).collect())
}

pub(crate) fn workspace_by_site_id(
    pg: &mut Pg<'_>,
    site_id: &str,
) -> Result<Option<WorkspaceCredentials>, StoreError> {
    let row = pg.query_opt(
        "SELECT id, name, site_id, created_at, api_key_hash FROM workspaces WHERE site_id = $1 AND deleted_at IS NULL",
        &[&site_id],
    )?;
    Ok(row.map(|row| WorkspaceCredentials {
        workspace: workspace_from_row(&row),
        api_key_hash: row.get(4),
    }))
}

pub(crate) fn workspace_by_app_key_hash(
    pg: &mut Pg<'_>,
    hash: &str,
) -> Result<Option<Workspace>, StoreError> {
    let row = pg.query_opt(
        "SELECT id, name, site_id, created_at FROM workspaces WHERE app_api_key_hash = $1 AND deleted_at IS NULL",
        &[&hash],
    )?;
    Ok(row.as_ref().map(workspace_from_row))
}

pub(crate) fn workspace_by_write_key_hash(
    pg: &mut Pg<'_>,
    hash: &str,
) -> Result<Option<Workspace>, StoreError> {
    let row = pg.query_opt(
        "SELECT id, name, site_id, created_at FROM workspaces WHERE write_key_hash = $1 AND deleted_at IS NULL",
        &[&hash],
    )?;
    Ok(row.as_ref().map(workspace_from_row))
}

pub(crate) fn setting(pg: &mut Pg<'_>, key: &str) -> Result<Option<String>, StoreError> {
    let row = pg.query_opt("SELECT value FROM settings WHERE key = $1", &[&key])?;
    Ok(row.map(|row| row.get(0)))
}

pub(crate) fn workspace_keys_sealed(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
) -> Result<Option<String>, StoreError> {
    let row = pg.query_opt(
        "SELECT keys_sealed FROM workspaces WHERE id = $1",
        &[&workspace_id],
    )?;
    Ok(row.and_then(|row| row.get(0)))
}

pub(crate) fn users_count(pg: &mut Pg<'_>) -> Result<i64, StoreError> {
    Ok(pg.query_one("SELECT count(*) FROM users", &[])?.get(0))
}

pub(crate) fn user_by_email(
    pg: &mut Pg<'_>,
    email: &str,
) -> Result<Option<(User, String)>, StoreError> {
    let row = pg.query_opt(
        "SELECT id, email, admin, created_at, password_hash FROM users WHERE email = $1",
        &[&email.to_lowercase()],
    )?;
    Ok(row.map(|row| (user_from_row(&row), row.get(4))))
}

pub(crate) fn session(
    pg: &mut Pg<'_>,
    token_hash: &str,
    now: UnixSeconds,
) -> Result<Option<(SessionRow, User)>, StoreError> {
    let row = pg.query_opt(
        "SELECT u.id, u.email, u.admin, u.created_at,
                s.token_hash, s.user_id, s.csrf_token, s.created_at, s.expires_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.expires_at > $2",
        &[&token_hash, &now],
    )?;
    Ok(row.map(|row| {
        (
            SessionRow {
                token_hash: row.get(4),
                user_id: row.get(5),
                csrf_token: row.get(6),
                created_at: row.get(7),
                expires_at: row.get(8),
            },
            user_from_row(&row),
        )
    }))
}

pub(crate) fn user_workspaces(pg: &mut Pg<'_>, user_id: i64) -> Result<Vec<Workspace>, StoreError> {
    let rows = pg.query(
        "SELECT w.id, w.name, w.site_id, w.created_at FROM workspaces w
         WHERE w.deleted_at IS NULL
           AND (EXISTS (SELECT 1 FROM users u WHERE u.id = $1 AND u.admin)
                OR EXISTS (SELECT 1 FROM user_workspaces g
                           WHERE g.user_id = $1 AND g.workspace_id = w.id))
         ORDER BY w.id",
        &[&user_id],
    )?;
    Ok(rows.iter().map(workspace_from_row).collect())
}

pub(crate) fn create_workspace(
    pg: &mut Pg<'_>,
    new: &NewWorkspace,
) -> Result<Workspace, StoreError> {
    let row = pg
        .query_one(
            "INSERT INTO workspaces (name, site_id, api_key_hash, app_api_key_hash, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[
                &new.name,
                &new.site_id,
                &new.api_key_hash,
                &new.app_api_key_hash,
                &new.created_at,
            ],
        )
        .map_err(|error| match error {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("a workspace named {:?} already exists", new.name))
            }
            other => other,
        })?;
    Ok(Workspace {
        id: row.get(0),
        name: new.name.clone(),
        site_id: new.site_id.clone(),
        created_at: new.created_at,
    })
}

pub(crate) fn insert_user(pg: &mut Pg<'_>, new: &NewUser) -> Result<User, StoreError> {
    let email = new.email.to_lowercase();
    let row = pg
        .query_one(
            "INSERT INTO users (email, password_hash, admin, created_at)
             VALUES ($1, $2, $3, $4) RETURNING id",
            &[&email, &new.password_hash, &new.admin, &new.created_at],
        )
        .map_err(|error| match error {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("a user with the email {email:?} already exists"))
            }
            other => other,
        })?;
    Ok(User {
        id: row.get(0),
        email,
        admin: new.admin,
        created_at: new.created_at,
    })
}

pub(crate) fn grant_workspace(
    pg: &mut Pg<'_>,
    user_id: i64,
    workspace_id: WorkspaceId,
) -> Result<(), StoreError> {
    pg.execute(
        "INSERT INTO user_workspaces (user_id, workspace_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&user_id, &workspace_id],
    )?;
    Ok(())
}

pub(crate) fn insert_session(pg: &mut Pg<'_>, session: &SessionRow) -> Result<(), StoreError> {
    // Expired sessions go as new ones come, so the table never grows with old ones.
    pg.execute(
        "DELETE FROM sessions WHERE expires_at <= $1",
        &[&session.created_at],
    )?;
    pg.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &session.token_hash,
            &session.user_id,
            &session.csrf_token,
            &session.created_at,
            &session.expires_at,
        ],
    )?;
    Ok(())
}

pub(crate) fn delete_session(pg: &mut Pg<'_>, token_hash: &str) -> Result<bool, StoreError> {
    Ok(pg.execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])? > 0)
}

pub(crate) fn set_setting(pg: &mut Pg<'_>, key: &str, value: &str) -> Result<(), StoreError> {
    pg.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&key, &value],
    )?;
    Ok(())
}

pub(crate) fn set_workspace_keys(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    sealed: &str,
) -> Result<(), StoreError> {
    pg.execute(
        "UPDATE workspaces SET keys_sealed = $2 WHERE id = $1",
        &[&workspace_id, &sealed],
    )?;
    Ok(())
}

pub(crate) fn set_write_key_hash(
    pg: &mut Pg<'_>,
    workspace_id: WorkspaceId,
    hash: &str,
) -> Result<bool, StoreError> {
    let changed = pg.execute(
        "UPDATE workspaces SET write_key_hash = $2 WHERE id = $1 AND write_key_hash IS NULL",
        &[&workspace_id, &hash],
    )?;
    Ok(changed == 1)
}

/// How `herald doctor` names a row: SQLite's rowid has no equivalent on every table here.
#[derive(Clone, Copy)]
enum RowKey {
    /// The table's BIGINT identity key, which never changes.
    Column(&'static str),
    /// The row's physical place (`ctid`), packed as `block * 65536 + offset`, for the tables
    /// whose key is not one integer. An update moves a row, so a row updated between the scan
    /// and its removal is no longer found there; the removal checks again that what it finds is
    /// still unreadable before it changes anything.
    Place,
}

impl RowKey {
    /// The expression that selects the key as a BIGINT.
    fn select(self) -> &'static str {
        match self {
            Self::Column(column) => column,
            Self::Place => {
                "((ctid::text::point)[0]::bigint * 65536 + (ctid::text::point)[1]::bigint)"
            }
        }
    }

    fn order(self) -> &'static str {
        match self {
            Self::Column(column) => column,
            Self::Place => "ctid",
        }
    }

    /// The condition that finds the row whose key is `$1`.
    fn matches(self) -> String {
        match self {
            Self::Column(column) => format!("{column} = $1"),
            Self::Place => {
                "ctid = format('(%s,%s)', $1::bigint / 65536, $1::bigint % 65536)::tid".to_owned()
            }
        }
    }
}

/// What the reads decode: a table, its JSON column, whether the column holds an object, and
/// how its rows are named.
struct JsonColumn {
    table: &'static str,
    column: &'static str,
    object: bool,
    key: RowKey,
}

const COLUMNS: [JsonColumn; 10] = [
    JsonColumn {
        table: "people",
        column: "attributes",
        object: true,
        key: RowKey::Column("seq"),
    },
    JsonColumn {
        table: "activities",
        column: "data",
        object: false,
        key: RowKey::Column("seq"),
    },
    JsonColumn {
        table: "devices",
        column: "attributes",
        object: true,
        key: RowKey::Place,
    },
    JsonColumn {
        table: "event_index",
        column: "attribute_keys",
        object: false,
        key: RowKey::Place,
    },
    JsonColumn {
        table: "delivery_metrics",
        column: "data",
        object: false,
        key: RowKey::Column("seq"),
    },
    JsonColumn {
        table: "segments",
        column: "definition",
        object: false,
        key: RowKey::Column("id"),
    },
    JsonColumn {
        table: "segment_history",
        column: "cause",
        object: false,
        key: RowKey::Column("seq"),
    },
    JsonColumn {
        table: "campaigns",
        column: "definition",
        object: false,
        key: RowKey::Column("id"),
    },
    JsonColumn {
        table: "runs",
        column: "trigger",
        object: false,
        key: RowKey::Column("id"),
    },
    JsonColumn {
        table: "deliveries",
        column: "content",
        object: false,
        key: RowKey::Place,
    },
];

fn column_of(table: &str, column: &str) -> Result<&'static JsonColumn, StoreError> {
    COLUMNS
        .iter()
        .find(|known| known.table == table && known.column == column)
        .ok_or_else(|| StoreError::Backend(format!("{table}.{column} holds no JSON Herald reads")))
}

/// The condition a row must meet to be worth decoding: every text serde_json refuses meets
/// it, so the server sends only those rather than every stored JSON text. PostgreSQL's own
/// parser (`herald_json_valid`) finds the broken syntax; it accepts a few texts serde_json
/// refuses, which the text-level tests after it catch (too loosely, on purpose): nesting
/// deeper than serde_json's limit of 128 needs as many opening brackets, a float out of range
/// needs a three-digit exponent or a long run of digits, and a lone surrogate needs a `\uD8…`
/// to `\uDF…` escape.
fn suspect(known: &JsonColumn) -> String {
    let column = known.column;
    let mut condition = format!(
        "NOT herald_json_valid({column})
         OR length({column}) - length(translate({column}, '[{{', '')) >= 100
         OR {column} ~ '[eE][+-]?[0-9]{{3}}|[0-9]{{200}}|\\\\u[dD][89abAB]'"
    );
    if known.object {
        condition.push_str(&format!(
            " OR ltrim({column}, E' \\t\\n\\r') NOT LIKE '{{%'"
        ));
    }
    condition
}

pub(crate) fn corrupt_rows(pg: &mut Pg<'_>, limit: usize) -> Result<Vec<CorruptRow>, StoreError> {
    let mut found = Vec::new();
    for known in &COLUMNS {
        if found.len() >= limit {
            break;
        }
        // The names come from the constant list above, never from input.
        let sql = format!(
            "SELECT {key}, {column} FROM {table}
             WHERE {column} IS NOT NULL AND ({suspect})
             ORDER BY {order}",
            key = known.key.select(),
            column = known.column,
            table = known.table,
            suspect = suspect(known),
            order = known.key.order(),
        );
        pg.for_each_row(&sql, &[], &mut |row| {
            let text: String = row.get(1);
            if let Some(error) = unreadable(&text, known.object) {
                found.push(CorruptRow {
                    table: known.table.to_owned(),
                    row: row.get(0),
                    column: known.column.to_owned(),
                    error,
                });
            }
            Ok(found.len() < limit)
        })?;
    }
    Ok(found)
}

pub(crate) fn remove_corrupt_row(pg: &mut Pg<'_>, row: &CorruptRow) -> Result<bool, StoreError> {
    // Cached people may be the rows about to change.
    if let Some(cache) = pg.cache() {
        cache.clear();
    }
    let known = column_of(&row.table, &row.column)?;
    let matches = known.key.matches();
    let sql = format!(
        "SELECT {column} FROM {table} WHERE {matches}",
        column = known.column,
        table = known.table
    );
    let text: Option<String> = pg
        .query_opt(&sql, &[&row.row])?
        .and_then(|found| found.get(0));
    // A row that is gone, or that reads fine now, is left alone.
    let Some(text) = text else {
        return Ok(false);
    };
    if unreadable(&text, known.object).is_none() {
        return Ok(false);
    }
    match known.table {
        // The person and their history stay; only the attributes nobody can read go.
        "people" => pg.execute(
            &format!("UPDATE people SET attributes = '{{}}' WHERE {matches}"),
            &[&row.row],
        )?,
        "segments" => {
            for owned in ["segment_members", "segment_history", "segment_days"] {
                pg.execute(
                    &format!("DELETE FROM {owned} WHERE segment_id = $1"),
                    &[&row.row],
                )?;
            }
            pg.execute(
                &format!("DELETE FROM segments WHERE {matches}"),
                &[&row.row],
            )?
        }
        table => pg.execute(&format!("DELETE FROM {table} WHERE {matches}"), &[&row.row])?,
    };
    Ok(true)
}

#[cfg(test)]
mod tests {
    use herald_store::StoreHandle;

    use super::*;
    use crate::test_database::TestSchema;

    /// Opens the store on a fresh schema, and a plain connection to it that writes behind the
    /// store's back, as damage on disk or an older version would.
    fn store_and_client() -> (StoreHandle, postgres::Client, TestSchema) {
        let schema = TestSchema::new();
        let store = crate::PostgresStore::open_handle(&schema.options()).expect("the store opens");
        let client = crate::connection::connect(&schema.options()).expect("a connection");
        (store, client, schema)
    }

    fn corrupt_rows_of(store: &StoreHandle, limit: usize) -> Vec<CorruptRow> {
        store
            .read_blocking(move |reader| reader.corrupt_rows(limit))
            .expect("the scan runs")
    }

    fn remove(store: &StoreHandle, row: &CorruptRow) -> bool {
        let row = row.clone();
        store
            .write_blocking(move |tx| tx.remove_corrupt_row(&row))
            .expect("the store works")
            .expect("the removal runs")
    }

    fn count(client: &mut postgres::Client, sql: &str) -> i64 {
        client.query_one(sql, &[]).expect("the count runs").get(0)
    }

    #[test]
    fn the_doctor_lists_and_removes_an_unreadable_row_of_each_table() {
        let (store, mut client, _schema) = store_and_client();
        let deep_array = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let deep_object = format!("{}1{}", "{\"a\":".repeat(130), "}".repeat(130));
        // Each table gets an unreadable row of a different kind (the comments say which), and
        // rows that read fine although they look suspicious at first sight.
        client
            .batch_execute(
                r#"INSERT INTO workspaces (id, name, site_id, api_key_hash, app_api_key_hash, created_at)
                   VALUES (1, 'w', 's', 'k', 'a', 1);
                   -- Attributes that are not an object.
                   INSERT INTO people (seq, workspace_id, cio_id, id, attributes, created_at, updated_at)
                   VALUES (1, 1, 'c1', 'ann', '{"plan":"pro"}', 1, 1),
                          (2, 1, 'c2', 'bob', '[1]', 1, 1);
                   INSERT INTO activities (seq, workspace_id, kind, data, timestamp, received_at)
                   VALUES (1, 1, 'event', '{"n":"1e999","emoji":"\ud83d\ude00"}', 1, 1),
                          (3, 1, 'event', '{"shallow":[[],[],[],[],[],[],[],[],[],[],[],[]]}', 1, 1);
                   -- Text cut short.
                   INSERT INTO devices (workspace_id, token, person_seq, platform, attributes)
                   VALUES (1, 'good', 1, 'ios', '{}'), (1, 'bad', 1, 'ios', '{"a":');
                   -- A lone surrogate, which PostgreSQL's own parser accepts.
                   INSERT INTO event_index (workspace_id, kind, name, count, first_seen, last_seen, attribute_keys)
                   VALUES (1, 'event', 'good', 1, 1, 1, '["a"]'),
                          (1, 'event', 'bad', 1, 1, 1, '["\ud800"]');
                   -- A number out of range, which PostgreSQL's own parser accepts.
                   INSERT INTO delivery_metrics (seq, source, delivery_id, metric, timestamp, received_at, data)
                   VALUES (1, 'x', 'd', 'opened', 1, 1, '1e400');
                   -- Not JSON at all; a manual segment has no definition and is never listed.
                   INSERT INTO segments (id, workspace_id, name, definition, state, created_at, updated_at)
                   VALUES (1, 1, 'manual', NULL, 'ready', 1, 1), (2, 1, 'bad', 'not json', 'ready', 1, 1);
                   INSERT INTO segment_members (workspace_id, segment_id, person_seq, since) VALUES (1, 1, 1, 1), (1, 2, 1, 1);
                   INSERT INTO segment_days (workspace_id, segment_id, day, entered, exited) VALUES (1, 1, 0, 1, 0), (1, 2, 0, 1, 0);
                   -- An unclosed object.
                   INSERT INTO segment_history (workspace_id, seq, segment_id, person_seq, entered, at, cause, origin)
                   VALUES (1, 1, 1, 1, TRUE, 1, '"manual"', 'x'), (1, 2, 1, 1, FALSE, 1, '{', 'x');
                   -- Empty.
                   INSERT INTO campaigns (id, workspace_id, name, definition, state, created_at, updated_at)
                   VALUES (1, 1, 'bad', '', 'draft', 1, 1);
                   -- Something after the value.
                   INSERT INTO runs (id, workspace_id, campaign_id, person_seq, run_key, trigger, step, due_at, state, attempts, created_at, updated_at)
                   VALUES (1, 1, 1, 1, 'r', '{"a":1}x', 0, 1, 'active', 0, 1, 1);"#,
            )
            .expect("the rows are planted");
        // Nesting deeper than the reads allow, which PostgreSQL's own parser accepts.
        client
            .execute(
                "INSERT INTO activities (seq, workspace_id, kind, data, timestamp, received_at)
                 VALUES (2, 1, 'event', $1, 1, 1)",
                &[&deep_array],
            )
            .expect("the activity is planted");
        client
            .execute(
                "INSERT INTO deliveries (id, workspace_id, campaign_id, run_id, person_seq, step, channel,
                   status, content, idempotency_key, attempts, created_at, updated_at)
                 VALUES ('d', 1, 1, 1, 1, 0, 'email', 'queued', $1, 'k', 0, 1, 1)",
                &[&deep_object],
            )
            .expect("the delivery is planted");

        let listed = corrupt_rows_of(&store, 100);
        let found: Vec<(&str, &str)> = listed
            .iter()
            .map(|row| (row.table.as_str(), row.column.as_str()))
            .collect();
        let expected: Vec<(&str, &str)> = COLUMNS
            .iter()
            .map(|known| (known.table, known.column))
            .collect();
        assert_eq!(found, expected, "{listed:#?}");
        let error_of = |table: &str| {
            listed
                .iter()
                .find(|row| row.table == table)
                .map(|row| row.error.clone())
                .unwrap()
        };
        assert_eq!(error_of("people"), "expected a JSON object");
        assert!(error_of("activities").contains("recursion limit"));
        assert!(error_of("deliveries").contains("recursion limit"));
        assert!(error_of("event_index").contains("hex escape"));
        assert!(error_of("delivery_metrics").contains("out of range"));
        let key_of = |table: &str| listed.iter().find(|row| row.table == table).unwrap().row;
        assert_eq!(key_of("people"), 2);
        assert_eq!(key_of("activities"), 2);
        assert_eq!(key_of("segments"), 2);
        assert_eq!(key_of("segment_history"), 2);
        // The limit stops the scan, keeping the order.
        assert_eq!(corrupt_rows_of(&store, 3), listed[..3]);
        assert!(corrupt_rows_of(&store, 0).is_empty());

        // A row repaired since the scan is left alone.
        client
            .execute("UPDATE runs SET trigger = '{}' WHERE id = 1", &[])
            .expect("the run is repaired");
        let run = listed.iter().find(|row| row.table == "runs").unwrap();
        assert!(!remove(&store, run));
        for row in listed.iter().filter(|row| row.table != "runs") {
            assert!(remove(&store, row), "{row:?}");
            assert!(!remove(&store, row), "removed twice: {row:?}");
        }
        assert!(corrupt_rows_of(&store, 100).is_empty());

        // The person stays with empty attributes; the segment goes with its members and days;
        // every readable row is still there.
        let attributes: String = client
            .query_one("SELECT attributes FROM people WHERE seq = 2", &[])
            .unwrap()
            .get(0);
        assert_eq!(attributes, "{}");
        assert_eq!(count(&mut client, "SELECT count(*) FROM people"), 2);
        assert_eq!(count(&mut client, "SELECT count(*) FROM runs"), 1);
        for (sql, left) in [
            ("SELECT count(*) FROM activities", 2),
            ("SELECT count(*) FROM devices WHERE token = 'good'", 1),
            ("SELECT count(*) FROM devices", 1),
            ("SELECT count(*) FROM event_index", 1),
            ("SELECT count(*) FROM delivery_metrics", 0),
            ("SELECT count(*) FROM segments WHERE id = 1", 1),
            ("SELECT count(*) FROM segments", 1),
            ("SELECT count(*) FROM segment_members", 1),
            ("SELECT count(*) FROM segment_days", 1),
            ("SELECT count(*) FROM segment_history", 1),
            ("SELECT count(*) FROM campaigns", 0),
            ("SELECT count(*) FROM deliveries", 0),
        ] {
            assert_eq!(count(&mut client, sql), left, "{sql}");
        }
        let unknown = CorruptRow {
            table: "settings".into(),
            row: 1,
            column: "value".into(),
            error: String::new(),
        };
        let refused = store
            .write_blocking(move |tx| tx.remove_corrupt_row(&unknown))
            .expect("the store works");
        assert!(
            matches!(refused, Err(StoreError::Backend(_))),
            "{refused:?}"
        );
    }
}
