//! Reading the embedded install: every table in key order, a chunk at a time, inside one read
//! transaction, so that a run copies one consistent snapshot of the file.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Statement, params_from_iter};
use serde_json::Value as Json;

use crate::copy_text;
use crate::error::CopyError;
use crate::tables::{Kind, SOURCE_ONLY, TABLES, Table, WORKSPACE_ID, quoted};

/// What tells one install from another: its workspaces' ids, site ids and key hashes, which
/// are random per workspace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct WorkspaceIdentity {
    pub(crate) id: i64,
    pub(crate) site_id: String,
    pub(crate) api_key_hash: String,
}

/// A chunk of rows in `COPY` text format, and where the next chunk starts.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) text: Vec<u8>,
    pub(crate) rows: u64,
    /// The key of the chunk's last row, as a JSON array; `None` for a chunk without rows.
    pub(crate) last_key: Option<Json>,
    /// Whether the table has no rows after this chunk.
    pub(crate) exhausted: bool,
}

/// A read-only connection with its read transaction open.
pub(crate) struct Source {
    connection: Connection,
}

fn failed(context: &str) -> impl FnOnce(rusqlite::Error) -> CopyError + '_ {
    move |error| CopyError::source(context, error)
}

impl Source {
    /// Opens the file read-only and starts the snapshot every later read of this `Source` sees.
    pub(crate) fn open(path: &Path) -> Result<Self, CopyError> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(failed("cannot open it"))?;
        connection
            .busy_timeout(Duration::from_secs(10))
            .map_err(failed("cannot set its busy timeout"))?;
        // A deferred transaction takes its snapshot at its first read, which is made at once.
        connection
            .execute_batch("PRAGMA query_only = ON; BEGIN")
            .map_err(failed("cannot start a read transaction"))?;
        connection
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| {
                row.get::<_, i64>(0)
            })
            .map_err(failed("cannot read its schema"))?;
        Ok(Self { connection })
    }

    /// Refuses a file whose tables or columns are not the ones this version copies: a table or
    /// column left out would be lost without a word.
    pub(crate) fn check_schema(&self) -> Result<(), CopyError> {
        let mut statement = self
            .connection
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")
            .map_err(failed("cannot list its tables"))?;
        let names = statement
            .query_map([], |row| row.get::<_, String>(0))
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(failed("cannot list its tables"))?;
        for name in &names {
            let known = TABLES.iter().any(|table| table.name == name)
                || SOURCE_ONLY.contains(&name.as_str());
            if !known {
                return Err(CopyError::Schema(format!(
                    "the source has a table {name} that this version does not copy"
                )));
            }
        }
        for table in TABLES {
            if !names.iter().any(|name| name == table.name) {
                return Err(CopyError::Schema(format!(
                    "the source has no table {}",
                    table.name
                )));
            }
            let mut statement = self
                .connection
                .prepare("SELECT name FROM pragma_table_info(?1)")
                .map_err(failed("cannot read a table's columns"))?;
            let mut columns = statement
                .query_map([table.name], |row| row.get::<_, String>(0))
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(failed("cannot read a table's columns"))?;
            // SQLite has no `workspace_id` in the tables that take it from a parent.
            let mut expected: Vec<String> = table
                .columns
                .iter()
                .map(|(name, _)| (*name).into())
                .collect();
            columns.sort();
            expected.sort();
            if columns != expected {
                return Err(CopyError::Schema(format!(
                    "the source's table {} has the columns {columns:?}, this version copies {expected:?}",
                    table.name
                )));
            }
        }
        Ok(())
    }

    /// Each table's row count, in `TABLES` order: of a table with a parent only the rows whose
    /// parent exists, which are the rows the copy writes.
    pub(crate) fn counts(&self) -> Result<Vec<u64>, CopyError> {
        TABLES
            .iter()
            .map(|table| {
                self.connection
                    .query_row(
                        &format!("SELECT count(*) FROM {}", read_from(table)),
                        [],
                        |row| row.get::<_, i64>(0),
                    )
                    .map(|count| u64::try_from(count).unwrap_or(0))
                    .map_err(failed("cannot count a table's rows"))
            })
            .collect()
    }

    /// The last value each `AUTOINCREMENT` table handed out, which may be past its largest row
    /// (rows deleted since, an engine log trimmed to nothing): ids are never reused. Workspaces
    /// are not such a table; the largest id of one removed is kept in a setting instead.
    pub(crate) fn sequences(&self) -> Result<HashMap<String, i64>, CopyError> {
        let mut statement = self
            .connection
            .prepare("SELECT name, seq FROM sqlite_sequence")
            .map_err(failed("cannot read sqlite_sequence"))?;
        let mut sequences: HashMap<String, i64> = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(failed("cannot read sqlite_sequence"))?;
        let removed: Option<i64> = self
            .connection
            .query_row(
                "SELECT CAST(value AS INTEGER) FROM settings WHERE key = ?1",
                [herald_store_sqlite::REMOVED_WORKSPACE_ID],
                |row| row.get(0),
            )
            .optional()
            .map_err(failed("cannot read the settings"))?;
        if let Some(removed) = removed {
            let handed_out = sequences.entry("workspaces".to_owned()).or_default();
            *handed_out = (*handed_out).max(removed);
        }
        Ok(sequences)
    }

    pub(crate) fn workspaces(&self) -> Result<Vec<WorkspaceIdentity>, CopyError> {
        let mut statement = self
            .connection
            .prepare("SELECT id, site_id, api_key_hash FROM workspaces ORDER BY id")
            .map_err(failed("cannot read the workspaces"))?;
        statement
            .query_map([], |row| {
                Ok(WorkspaceIdentity {
                    id: row.get(0)?,
                    site_id: row.get(1)?,
                    api_key_hash: row.get(2)?,
                })
            })
            .and_then(Iterator::collect)
            .map_err(failed("cannot read the workspaces"))
    }

    /// Reads `table` after the key `after` (from its start for `None`) in chunks of at most
    /// `chunk_rows` rows, taking each chunk's rows off `budget` when there is one, and hands
    /// each chunk to `each` until it answers `false`. Returns whether the table was read to its
    /// end (`false` when the budget ran out or `each` stopped it).
    pub(crate) fn read_table(
        &self,
        table: &Table,
        after: Option<Json>,
        chunk_rows: usize,
        budget: &mut Option<u64>,
        each: &mut dyn FnMut(Chunk) -> bool,
    ) -> Result<bool, CopyError> {
        let mut columns: Vec<String> = table
            .columns
            .iter()
            .map(|(column, _)| format!("c.{}", quoted(column)))
            .collect();
        if table.workspace_from.is_some() {
            columns.push(format!("p.{}", quoted(WORKSPACE_ID)));
        }
        let columns = columns.join(", ");
        let keys = table
            .key
            .iter()
            .map(|key| format!("c.{}", quoted(key)))
            .collect::<Vec<_>>()
            .join(", ");
        let placeholders = (1..=table.key.len())
            .map(|at| format!("?{at}"))
            .collect::<Vec<_>>()
            .join(", ");
        let from = read_from(table);
        // Row values compare column by column, so `(a, b) > (?1, ?2)` is the rows after a
        // composite key in the primary key's order, and SQLite seeks to it in the key's index.
        let mut first = self
            .connection
            .prepare(&format!(
                "SELECT {columns} FROM {from} ORDER BY {keys} LIMIT ?1"
            ))
            .map_err(failed("cannot prepare a read"))?;
        let mut next = self
            .connection
            .prepare(&format!(
                "SELECT {columns} FROM {from} WHERE ({keys}) > ({placeholders}) ORDER BY {keys} LIMIT ?{}",
                table.key.len() + 1
            ))
            .map_err(failed("cannot prepare a read"))?;
        let mut after = after;
        loop {
            let limit = match *budget {
                Some(0) => return Ok(false),
                Some(left) => usize::try_from(left).unwrap_or(usize::MAX).min(chunk_rows),
                None => chunk_rows,
            };
            let chunk = match &after {
                None => read_chunk(&mut first, table, &[], limit)?,
                Some(key) => read_chunk(&mut next, table, &key_values(table, key)?, limit)?,
            };
            if let Some(left) = budget.as_mut() {
                *left -= chunk.rows;
            }
            let exhausted = chunk.exhausted;
            if chunk.last_key.is_some() {
                after.clone_from(&chunk.last_key);
            }
            if !each(chunk) {
                return Ok(false);
            }
            if exhausted {
                return Ok(true);
            }
        }
    }
}

/// The rows a table's copy reads, as a `FROM` clause naming the table `c`: with a parent, only
/// the rows whose parent exists, joined to it as `p` for its workspace.
fn read_from(table: &Table) -> String {
    let name = quoted(table.name);
    match &table.workspace_from {
        None => format!("{name} AS c"),
        // SQLite keeps the left table of a `CROSS JOIN` as the outer loop: the rows are
        // scanned in their key's order, which the read's `ORDER BY` and `LIMIT` follow without
        // a sort, and each row finds its parent by the parent's primary key. It is otherwise
        // an inner join, so a row without a parent is left out.
        Some(parent) => format!(
            "{name} AS c CROSS JOIN {} AS p ON p.\"id\" = c.{}",
            quoted(parent.table),
            quoted(parent.key)
        ),
    }
}

/// The SQLite values of a key kept as a JSON array.
fn key_values(table: &Table, key: &Json) -> Result<Vec<SqlValue>, CopyError> {
    let unreadable = || {
        CopyError::Target(format!(
            "copy_progress holds the key {key} for {}, which is not one of its keys",
            table.name
        ))
    };
    let parts = key.as_array().ok_or_else(unreadable)?;
    if parts.len() != table.key.len() {
        return Err(unreadable());
    }
    parts
        .iter()
        .map(|part| match part {
            Json::Number(number) => number.as_i64().map(SqlValue::Integer),
            Json::String(text) => Some(SqlValue::Text(text.clone())),
            _ => None,
        })
        .collect::<Option<_>>()
        .ok_or_else(unreadable)
}

/// Runs a chunk's read with the key values (if any) and the limit as its parameters.
fn read_chunk(
    statement: &mut Statement<'_>,
    table: &Table,
    after: &[SqlValue],
    limit: usize,
) -> Result<Chunk, CopyError> {
    let limit_value = SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX));
    let mut rows = statement
        .query(params_from_iter(after.iter().chain([&limit_value])))
        .map_err(failed("cannot read a chunk"))?;
    let key_positions = table.key_positions();
    let mut text = Vec::with_capacity(limit.min(1 << 16) * 128);
    let mut count = 0u64;
    let mut last_key = None;
    while let Some(row) = rows.next().map_err(failed("cannot read a row"))? {
        let key = key_positions
            .iter()
            .map(|&at| match row.get_ref(at) {
                Ok(ValueRef::Integer(value)) => Ok(Json::from(value)),
                Ok(ValueRef::Text(bytes)) => Ok(Json::from(String::from_utf8_lossy(bytes))),
                Ok(other) => Err(CopyError::Source(format!(
                    "{}: a key column holds {:?}",
                    table.name,
                    other.data_type()
                ))),
                Err(error) => Err(CopyError::source("cannot read a key", error)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let key = Json::Array(key);
        for (at, (column, kind)) in table.target_columns().enumerate() {
            copy_text::push_separator(&mut text, at);
            let value = row.get_ref(at).map_err(failed("cannot read a value"))?;
            push_value(&mut text, kind, value).map_err(|problem| {
                CopyError::Source(format!(
                    "{} row {key}, column {column}: {problem}",
                    table.name
                ))
            })?;
        }
        copy_text::end_row(&mut text);
        count += 1;
        last_key = Some(key);
    }
    Ok(Chunk {
        text,
        rows: count,
        last_key,
        exhausted: count < limit as u64,
    })
}

/// Appends one SQLite value as the PostgreSQL type of its column.
fn push_value(out: &mut Vec<u8>, kind: Kind, value: ValueRef<'_>) -> Result<(), String> {
    match (kind, value) {
        (_, ValueRef::Null) => copy_text::push_null(out),
        (Kind::Int, ValueRef::Integer(value)) => copy_text::push_int(out, value),
        (Kind::Bool, ValueRef::Integer(value)) => copy_text::push_bool(out, value != 0),
        // TEXT affinity stores what it is given as text; an integer here would have been bound
        // as one on purpose and reads back as its decimal text, as SQLite would cast it.
        (Kind::Text, ValueRef::Integer(value)) => copy_text::push_int(out, value),
        (Kind::Text, ValueRef::Text(bytes)) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|error| format!("the text is not UTF-8 ({error})"))?;
            copy_text::push_text(out, text).map_err(|_| {
                "the text holds a NUL character, which PostgreSQL cannot store".to_owned()
            })?;
        }
        (Kind::Blob, ValueRef::Blob(bytes) | ValueRef::Text(bytes)) => {
            copy_text::push_bytes(out, bytes);
        }
        (kind, other) => {
            return Err(format!(
                "a {:?} value where the column is {}",
                other.data_type(),
                kind.postgres_type()
            ));
        }
    }
    Ok(())
}
