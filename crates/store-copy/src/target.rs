//! Writing to PostgreSQL: each chunk with `COPY … FROM STDIN` in a transaction of its own that
//! also records how far the table got (`copy_progress`), so a copy stopped at any point goes on
//! from the last chunk committed, never writing a row twice or leaving one out.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use postgres::{Client, NoTls};
use serde_json::Value as Json;

use crate::error::CopyError;
use crate::source::{Chunk, WorkspaceIdentity};
use crate::tables::{ENGINE_LOG_END, TABLES, Table, column_list, quoted};

/// How far one table got.
#[derive(Debug, Clone)]
pub(crate) struct TableProgress {
    /// Its rows in the source when the copy began; a source that no longer has as many was
    /// written to since.
    pub(crate) source_rows: u64,
    pub(crate) last_key: Option<Json>,
    pub(crate) copied: u64,
    pub(crate) done: bool,
}

/// A PostgreSQL error with what PostgreSQL said (the client's own message is only "db error"),
/// never the connection's parameters.
pub(crate) fn failed(context: &str) -> impl FnOnce(postgres::Error) -> CopyError + '_ {
    move |error| {
        let said = match error.as_db_error() {
            Some(db) => {
                let mut said = db.message().to_owned();
                if let Some(detail) = db.detail() {
                    said.push_str(&format!(" ({detail})"));
                }
                if let Some(place) = db.where_() {
                    said.push_str(&format!(", at {place}"));
                }
                said
            }
            None => match std::error::Error::source(&error) {
                Some(cause) => format!("{error}: {cause}"),
                None => error.to_string(),
            },
        };
        CopyError::target(context, said)
    }
}

pub(crate) struct Target {
    client: Client,
}

impl Target {
    /// Connects with `schema` (already checked by opening the store there) as the search path.
    pub(crate) fn connect(url: &str, schema: Option<&str>) -> Result<Self, CopyError> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|error| CopyError::target("the URL cannot be read", error))?;
        config.application_name("herald copy");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if let Some(schema) = schema {
            config.options(&format!("-c search_path={schema}"));
        }
        let mut client = config.connect(NoTls).map_err(failed("cannot connect"))?;
        // Each chunk commits with its progress record, so a chunk lost to a crash of the
        // server is lost together with its record and copied again: waiting for each commit
        // to reach the disk would buy nothing. The last transaction of a copy waits
        // (`finish_identities`), and with it everything before.
        client
            .batch_execute("SET synchronous_commit = off")
            .map_err(failed("cannot set synchronous_commit"))?;
        Ok(Self { client })
    }

    /// Refuses a schema whose tables or column types are not the ones this version copies.
    pub(crate) fn check_schema(&mut self) -> Result<(), CopyError> {
        let rows = self
            .client
            .query(
                "SELECT table_name::text, column_name::text, data_type::text
                 FROM information_schema.columns WHERE table_schema = current_schema()",
                &[],
            )
            .map_err(failed("cannot read the schema"))?;
        let mut found: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for row in rows {
            found
                .entry(row.get(0))
                .or_default()
                .push((row.get(1), row.get(2)));
        }
        for table in TABLES {
            let mut columns = found.remove(table.name).unwrap_or_default();
            let mut expected: Vec<(String, String)> = table
                .target_columns()
                .map(|(name, kind)| (name.to_owned(), kind.postgres_type().to_owned()))
                .collect();
            columns.sort();
            expected.sort();
            if columns != expected {
                return Err(CopyError::Schema(format!(
                    "the target's table {} has the columns {columns:?}, this version copies {expected:?}",
                    table.name
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn has_progress(&mut self) -> Result<bool, CopyError> {
        self.client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM information_schema.tables
                 WHERE table_schema = current_schema() AND table_name = 'copy_progress')",
                &[],
            )
            .map(|row| row.get(0))
            .map_err(failed("cannot look for copy_progress"))
    }

    /// The Herald tables that hold any row.
    pub(crate) fn tables_with_rows(&mut self) -> Result<Vec<&'static str>, CopyError> {
        let mut busy = Vec::new();
        for table in TABLES {
            let any: bool = self
                .client
                .query_one(
                    &format!("SELECT EXISTS (SELECT 1 FROM {})", quoted(table.name)),
                    &[],
                )
                .map_err(failed("cannot look at a table"))?
                .get(0);
            if any {
                busy.push(table.name);
            }
        }
        Ok(busy)
    }

    pub(crate) fn workspaces(&mut self) -> Result<Vec<WorkspaceIdentity>, CopyError> {
        let rows = self
            .client
            .query(
                "SELECT id, site_id, api_key_hash FROM workspaces ORDER BY id",
                &[],
            )
            .map_err(failed("cannot read the workspaces"))?;
        Ok(rows
            .iter()
            .map(|row| WorkspaceIdentity {
                id: row.get(0),
                site_id: row.get(1),
                api_key_hash: row.get(2),
            })
            .collect())
    }

    /// Creates `copy_progress` with a row per table, nothing copied yet, and sets the secondary
    /// indexes aside, in one transaction.
    pub(crate) fn start_progress(&mut self, source_rows: &[u64]) -> Result<(), CopyError> {
        let mut tx = self.client.transaction().map_err(failed("cannot begin"))?;
        set_indexes_aside(&mut tx)?;
        tx.batch_execute(
            "CREATE TABLE copy_progress (
                 table_name TEXT PRIMARY KEY,
                 source_rows BIGINT NOT NULL,
                 last_key TEXT,
                 copied BIGINT NOT NULL DEFAULT 0,
                 done BOOLEAN NOT NULL DEFAULT FALSE
             )",
        )
        .map_err(failed("cannot create copy_progress"))?;
        for (table, rows) in TABLES.iter().zip(source_rows) {
            tx.execute(
                "INSERT INTO copy_progress (table_name, source_rows) VALUES ($1, $2)",
                &[&table.name, &as_i64(*rows)],
            )
            .map_err(failed("cannot fill copy_progress"))?;
        }
        tx.commit().map_err(failed("cannot commit copy_progress"))
    }

    /// Each table's progress, in `TABLES` order.
    pub(crate) fn progress(&mut self) -> Result<Vec<TableProgress>, CopyError> {
        let rows = self
            .client
            .query(
                "SELECT table_name, source_rows, last_key, copied, done FROM copy_progress",
                &[],
            )
            .map_err(failed("cannot read copy_progress"))?;
        let mut by_name: HashMap<String, TableProgress> = HashMap::new();
        for row in rows {
            let last_key: Option<String> = row.get(2);
            let last_key = last_key
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(|error| CopyError::target("copy_progress holds a damaged key", error))?;
            by_name.insert(
                row.get(0),
                TableProgress {
                    source_rows: as_u64(row.get(1)),
                    last_key,
                    copied: as_u64(row.get(3)),
                    done: row.get(4),
                },
            );
        }
        TABLES
            .iter()
            .map(|table| {
                by_name.remove(table.name).ok_or_else(|| {
                    CopyError::Target(format!("copy_progress has no row for {}", table.name))
                })
            })
            .collect()
    }

    /// Writes a chunk and its progress in one transaction; a chunk that exhausted its table
    /// marks the table done.
    pub(crate) fn write_chunk(&mut self, table: &Table, chunk: &Chunk) -> Result<(), CopyError> {
        let mut tx = self.client.transaction().map_err(failed("cannot begin"))?;
        if chunk.rows > 0 {
            let statement = format!(
                "COPY {} ({}) FROM STDIN",
                quoted(table.name),
                column_list(table)
            );
            let mut writer = tx
                .copy_in(&statement)
                .map_err(failed("cannot start COPY"))?;
            let written = writer.write_all(&chunk.text);
            // The server's own message comes with `finish`, also when writing failed because
            // it had already refused the data.
            let finished = writer.finish().map_err(failed(table.name));
            if let Err(error) = written {
                finished?;
                return Err(CopyError::target(table.name, error));
            }
            finished?;
        }
        let last_key = chunk.last_key.as_ref().map(Json::to_string);
        tx.execute(
            "UPDATE copy_progress
             SET last_key = coalesce($2, last_key), copied = copied + $3, done = $4
             WHERE table_name = $1",
            &[
                &table.name,
                &last_key,
                &as_i64(chunk.rows),
                &chunk.exhausted,
            ],
        )
        .map_err(failed("cannot record the progress"))?;
        tx.commit().map_err(failed("cannot commit a chunk"))
    }

    /// Builds the indexes `start_progress` set aside, each in a transaction that also strikes it
    /// off `copy_indexes`, so a copy stopped meanwhile builds only the ones still missing.
    pub(crate) fn restore_indexes(&mut self) -> Result<(), CopyError> {
        let pending: Vec<(String, String)> = self
            .client
            .query(
                "SELECT name, definition FROM copy_indexes ORDER BY name",
                &[],
            )
            .map_err(failed("cannot read copy_indexes"))?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        // Each build sorts its table once; more memory than the default 64 MB keeps the sort
        // of a large table's index out of temporary files.
        self.client
            .batch_execute("SET maintenance_work_mem = '256MB'")
            .map_err(failed("cannot set maintenance_work_mem"))?;
        for (name, definition) in &pending {
            let mut tx = self.client.transaction().map_err(failed("cannot begin"))?;
            tx.batch_execute(definition)
                .map_err(failed("cannot build an index"))?;
            tx.execute("DELETE FROM copy_indexes WHERE name = $1", &[name])
                .map_err(failed("cannot record an index"))?;
            tx.commit().map_err(failed("cannot commit an index"))?;
        }
        Ok(())
    }

    /// Gathers the statistics the planner reads, which a bulk load leaves stale until
    /// autovacuum comes by: table by table, since `ANALYZE` alone would read every schema of
    /// the database.
    pub(crate) fn analyze(&mut self) -> Result<(), CopyError> {
        for table in TABLES {
            self.client
                .batch_execute(&format!("ANALYZE {}", quoted(table.name)))
                .map_err(failed("cannot analyze a table"))?;
        }
        Ok(())
    }

    /// Moves every identity past the largest value copied, or past the last value SQLite
    /// handed out when that is larger (`sequences`, from `sqlite_sequence`), so that no id is
    /// ever handed out twice; and keeps the engine log's end, from which the next positions are
    /// taken. Waits for the commit to reach the disk, with every chunk before it.
    pub(crate) fn finish_identities(
        &mut self,
        sequences: &HashMap<String, i64>,
    ) -> Result<(), CopyError> {
        let mut tx = self.client.transaction().map_err(failed("cannot begin"))?;
        tx.batch_execute("SET LOCAL synchronous_commit = on")
            .map_err(failed("cannot set synchronous_commit"))?;
        for table in TABLES {
            let Some(column) = table.identity else {
                continue;
            };
            let largest: Option<i64> = tx
                .query_one(
                    &format!("SELECT max({}) FROM {}", quoted(column), quoted(table.name)),
                    &[],
                )
                .map_err(failed("cannot read an identity's largest value"))?
                .get(0);
            let handed_out = sequences.get(table.name).copied().unwrap_or(0);
            let last = largest.unwrap_or(0).max(handed_out);
            // PostgreSQL's writers take the log's next positions from this setting, under its
            // row's lock (it keeps them in commit order across nodes).
            if table.name == "engine_log" && last >= 1 {
                tx.execute(
                    "INSERT INTO settings (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[&ENGINE_LOG_END, &last.to_string()],
                )
                .map_err(failed("cannot keep the engine log's end"))?;
            }
            // A sequence starts at 1 and cannot be set below it: an identity that never
            // handed out a value is left as it is.
            if last >= 1 {
                tx.query_one(
                    "SELECT setval(pg_get_serial_sequence($1, $2), $3, true)",
                    &[&table.name, &column, &last],
                )
                .map_err(failed("cannot move an identity"))?;
            }
        }
        tx.commit().map_err(failed("cannot commit the identities"))
    }

    /// Each table's row count, in `TABLES` order; `settings` without the key only PostgreSQL
    /// keeps.
    pub(crate) fn counts(&mut self) -> Result<Vec<u64>, CopyError> {
        TABLES
            .iter()
            .map(|table| {
                let filter = if table.name == "settings" {
                    format!(" WHERE key <> '{ENGINE_LOG_END}'")
                } else {
                    String::new()
                };
                self.client
                    .query_one(
                        &format!("SELECT count(*) FROM {}{filter}", quoted(table.name)),
                        &[],
                    )
                    .map(|row| as_u64(row.get(0)))
                    .map_err(failed("cannot count a table's rows"))
            })
            .collect()
    }

    pub(crate) fn drop_progress(&mut self) -> Result<(), CopyError> {
        self.client
            .batch_execute(
                "SET synchronous_commit = on; DROP TABLE IF EXISTS copy_progress, copy_indexes",
            )
            .map_err(failed("cannot drop copy_progress"))
    }
}

/// Drops the indexes of Herald's tables that back no constraint (primary keys and `UNIQUE`
/// columns stay), keeping their definitions in `copy_indexes` for `restore_indexes`. Updating
/// them row by row was 93% of the time `COPY` took into `activities` (0.8 s without its seven
/// indexes, 10.9 s with them, for 480,000 rows); built once at the end, each is one sort.
fn set_indexes_aside(tx: &mut postgres::Transaction<'_>) -> Result<(), CopyError> {
    tx.batch_execute("CREATE TABLE copy_indexes (name TEXT PRIMARY KEY, definition TEXT NOT NULL)")
        .map_err(failed("cannot create copy_indexes"))?;
    let tables: Vec<&str> = TABLES.iter().map(|table| table.name).collect();
    let names: Vec<String> = tx
        .query(
            "INSERT INTO copy_indexes (name, definition)
             SELECT i.indexname, i.indexdef FROM pg_indexes i
             WHERE i.schemaname = current_schema() AND i.tablename = ANY($1)
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                               WHERE c.conindid = format('%I.%I', i.schemaname, i.indexname)::regclass)
             RETURNING name",
            &[&tables],
        )
        .map_err(failed("cannot list the indexes"))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    for name in names {
        tx.batch_execute(&format!("DROP INDEX {}", quoted(&name)))
            .map_err(failed("cannot set an index aside"))?;
    }
    Ok(())
}

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn as_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
