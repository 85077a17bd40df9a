//! `herald doctor`: finding the stored rows whose JSON cannot be read back, and removing them.
//!
//! Reads skip such rows ([`herald_store::codec::skip_corrupt`]); this lists them all and lets an
//! operator remove them. A row counts as corrupt when the decoder every read uses (serde_json,
//! with its nesting limit) refuses its JSON, or when a column that must hold an object holds
//! something else ([`herald_store::codec::unreadable`]).

use herald_store::codec::unreadable;
use herald_store::{CorruptRow, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::queries::backend;

/// What the reads decode: a table, its JSON column, and whether the column holds an object.
struct JsonColumn {
    table: &'static str,
    column: &'static str,
    object: bool,
}

const COLUMNS: [JsonColumn; 10] = [
    JsonColumn {
        table: "people",
        column: "attributes",
        object: true,
    },
    JsonColumn {
        table: "activities",
        column: "data",
        object: false,
    },
    JsonColumn {
        table: "devices",
        column: "attributes",
        object: true,
    },
    JsonColumn {
        table: "event_index",
        column: "attribute_keys",
        object: false,
    },
    JsonColumn {
        table: "delivery_metrics",
        column: "data",
        object: false,
    },
    JsonColumn {
        table: "segments",
        column: "definition",
        object: false,
    },
    JsonColumn {
        table: "segment_history",
        column: "cause",
        object: false,
    },
    JsonColumn {
        table: "campaigns",
        column: "definition",
        object: false,
    },
    JsonColumn {
        table: "runs",
        column: "trigger",
        object: false,
    },
    JsonColumn {
        table: "deliveries",
        column: "content",
        object: false,
    },
];

fn column_of(table: &str, column: &str) -> Result<&'static JsonColumn, StoreError> {
    COLUMNS
        .iter()
        .find(|known| known.table == table && known.column == column)
        .ok_or_else(|| StoreError::Backend(format!("{table}.{column} holds no JSON Herald reads")))
}

/// Lists the corrupt rows of every table, at most `limit`.
pub(crate) fn corrupt_rows(
    connection: &Connection,
    limit: usize,
) -> Result<Vec<CorruptRow>, StoreError> {
    let mut found = Vec::new();
    for known in &COLUMNS {
        // The names come from the constant list above, never from input.
        let sql = format!(
            "SELECT rowid, {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY rowid",
            column = known.column,
            table = known.table
        );
        let mut statement = connection.prepare(&sql).map_err(backend)?;
        let mut rows = statement.query([]).map_err(backend)?;
        while let Some(row) = rows.next().map_err(backend)? {
            if found.len() >= limit {
                return Ok(found);
            }
            let text: String = row.get(1).map_err(backend)?;
            if let Some(error) = unreadable(&text, known.object) {
                found.push(CorruptRow {
                    table: known.table.to_owned(),
                    row: row.get(0).map_err(backend)?,
                    column: known.column.to_owned(),
                    error,
                });
            }
        }
    }
    Ok(found)
}

/// Removes one listed row if it is still corrupt; see `StoreTx::remove_corrupt_row`.
pub(crate) fn remove_corrupt_row(
    connection: &Connection,
    row: &CorruptRow,
) -> Result<bool, StoreError> {
    let known = column_of(&row.table, &row.column)?;
    let sql = format!(
        "SELECT {column} FROM {table} WHERE rowid = ?1",
        column = known.column,
        table = known.table
    );
    let text: Option<Option<String>> = connection
        .query_row(&sql, [row.row], |found| found.get(0))
        .optional()
        .map_err(backend)?;
    // A row that is gone, or that reads fine now, is left alone.
    let Some(Some(text)) = text else {
        return Ok(false);
    };
    if unreadable(&text, known.object).is_none() {
        return Ok(false);
    }
    let execute = |sql: &str| connection.execute(sql, params![row.row]).map_err(backend);
    match known.table {
        // The person and their history stay; only the attributes nobody can read go.
        "people" => execute("UPDATE people SET attributes = '{}' WHERE rowid = ?1")?,
        "segments" => {
            execute("DELETE FROM segment_members WHERE segment_id = ?1")?;
            execute("DELETE FROM segment_history WHERE segment_id = ?1")?;
            execute("DELETE FROM segment_days WHERE segment_id = ?1")?;
            execute("DELETE FROM segments WHERE rowid = ?1")?
        }
        table => execute(&format!("DELETE FROM {table} WHERE rowid = ?1"))?,
    };
    Ok(true)
}
