//! The tables a copy moves, in the order it moves them, with their columns' PostgreSQL types,
//! the key each is read in, and where the tables PostgreSQL keys by workspace and SQLite does
//! not take their workspace from.
//!
//! The list is written out rather than read from either schema so that a column or table a
//! later migration adds cannot be skipped silently: the copy compares it with both schemas
//! before it starts (`source::Source::check_schema`, `target::Target::check_schema`) and
//! refuses when they disagree.

/// How a column's value is written to PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `BIGINT`, from an SQLite integer.
    Int,
    /// `TEXT`, from SQLite text.
    Text,
    /// `BOOLEAN`, from an SQLite integer (0 or not).
    Bool,
    /// `BYTEA`, from an SQLite blob.
    Blob,
}

impl Kind {
    /// The name `information_schema.columns.data_type` gives the type in PostgreSQL.
    pub(crate) fn postgres_type(self) -> &'static str {
        match self {
            Kind::Int => "bigint",
            Kind::Text => "text",
            Kind::Bool => "boolean",
            Kind::Blob => "bytea",
        }
    }
}

/// The row of another table a row takes its workspace from: the one whose `id` is the row's
/// column `key`.
#[derive(Debug)]
pub(crate) struct Parent {
    pub(crate) table: &'static str,
    pub(crate) key: &'static str,
}

/// The column PostgreSQL has and SQLite lacks in a table with a [`Parent`].
pub(crate) const WORKSPACE_ID: &str = "workspace_id";

/// One table as the copy sees it.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) name: &'static str,
    /// The columns both schemas have (SQLite's, all of them).
    pub(crate) columns: &'static [(&'static str, Kind)],
    /// The primary key: rows are read in its order, and a resumed copy starts after the last
    /// key it committed. Every key column is an integer or text column.
    pub(crate) key: &'static [&'static str],
    /// The column PostgreSQL fills from an identity sequence, which the copy moves past the
    /// largest copied value.
    pub(crate) identity: Option<&'static str>,
    /// Where the table's `workspace_id` comes from when only PostgreSQL has the column: its
    /// keys start with the workspace so that Citus can distribute the schema on it, while
    /// SQLite's rows find their workspace through their segment or campaign. The copy reads it
    /// from the parent row and writes it after `columns`; a row whose parent was deleted (its
    /// rows wait for the background purge) has no workspace and is left behind, as
    /// PostgreSQL's migration `0003_workspace_keys` removed such rows, and both sides' counts
    /// leave it out.
    pub(crate) workspace_from: Option<Parent>,
}

impl Table {
    /// The columns written to PostgreSQL, in the order each row is read and written: `columns`,
    /// then `workspace_id` when it comes from a parent.
    pub(crate) fn target_columns(&self) -> impl Iterator<Item = (&'static str, Kind)> + '_ {
        let workspace = self
            .workspace_from
            .as_ref()
            .map(|_| (WORKSPACE_ID, Kind::Int));
        self.columns.iter().copied().chain(workspace)
    }

    /// Where each key column is in `columns`, and so in each row read (which has
    /// `workspace_id` after `columns`, if at all).
    pub(crate) fn key_positions(&self) -> Vec<usize> {
        self.key
            .iter()
            .map(|key| {
                self.columns
                    .iter()
                    .position(|(column, _)| column == key)
                    .expect("every key column is a column")
            })
            .collect()
    }
}

use Kind::{Blob, Bool, Int, Text};

/// The settings key PostgreSQL keeps the engine log's end in (SQLite keeps it in
/// `sqlite_sequence`); the copy writes it, so the count check leaves it out.
pub(crate) const ENGINE_LOG_END: &str = "engine_log_end";

/// Every table, parents before the tables whose foreign keys point at them (PostgreSQL checks
/// them at each chunk: `people`, `segments` and `campaigns` point at `workspaces`,
/// `user_workspaces` and `sessions` at `users`).
pub(crate) const TABLES: &[Table] = &[
    Table {
        name: "workspaces",
        columns: &[
            ("id", Int),
            ("name", Text),
            ("site_id", Text),
            ("api_key_hash", Text),
            ("app_api_key_hash", Text),
            ("created_at", Int),
            ("keys_sealed", Text),
            ("write_key_hash", Text),
            ("deleted_at", Int),
        ],
        key: &["id"],
        identity: Some("id"),
        workspace_from: None,
    },
    Table {
        name: "retired_keys",
        columns: &[
            ("workspace_id", Int),
            ("kind", Text),
            ("key_hash", Text),
            ("retired_at", Int),
            ("expires_at", Int),
        ],
        key: &["workspace_id", "kind"],
        identity: None,
        workspace_from: None,
    },
    Table {
        name: "people",
        columns: &[
            ("seq", Int),
            ("workspace_id", Int),
            ("cio_id", Text),
            ("id", Text),
            ("email", Text),
            ("email_lower", Text),
            ("attributes", Text),
            ("created_at", Int),
            ("updated_at", Int),
            ("deleted_at", Int),
        ],
        key: &["seq"],
        identity: Some("seq"),
        workspace_from: None,
    },
    Table {
        name: "activities",
        columns: &[
            ("seq", Int),
            ("workspace_id", Int),
            ("person_seq", Int),
            ("anonymous_id", Text),
            ("kind", Text),
            ("name", Text),
            ("data", Text),
            ("timestamp", Int),
            ("received_at", Int),
            ("event_id", Text),
            ("may_trigger", Bool),
        ],
        key: &["seq"],
        identity: Some("seq"),
        workspace_from: None,
    },
    Table {
        name: "devices",
        columns: &[
            ("workspace_id", Int),
            ("token", Text),
            ("person_seq", Int),
            ("platform", Text),
            ("last_used", Int),
            ("attributes", Text),
        ],
        key: &["workspace_id", "token"],
        identity: None,
        workspace_from: None,
    },
    Table {
        name: "objects",
        columns: &[
            ("seq", Int),
            ("workspace_id", Int),
            ("object_type_id", Text),
            ("object_id", Text),
            ("cio_object_id", Text),
            ("attributes", Text),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        key: &["seq"],
        identity: Some("seq"),
        workspace_from: None,
    },
    Table {
        name: "relationships",
        columns: &[
            ("workspace_id", Int),
            ("person_seq", Int),
            ("object_seq", Int),
            ("attributes", Text),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        key: &["workspace_id", "person_seq", "object_seq"],
        identity: None,
        workspace_from: None,
    },
    Table {
        name: "anonymous_relationships",
        columns: &[
            ("workspace_id", Int),
            ("anonymous_id", Text),
            ("object_seq", Int),
            ("attributes", Text),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        key: &["workspace_id", "anonymous_id", "object_seq"],
        identity: None,
        workspace_from: None,
    },
    Table {
        name: "suppressions",
        columns: &[
            ("workspace_id", Int),
            ("id_type", Text),
            ("value", Text),
            ("created_at", Int),
        ],
        key: &["workspace_id", "id_type", "value"],
        identity: None,
        workspace_from: None,
    },
    Table {
        name: "anonymous_links",
        columns: &[
            ("workspace_id", Int),
            ("anonymous_id", Text),
            ("person_seq", Int),
            ("linked_at", Int),
        ],
        key: &["workspace_id", "anonymous_id"],
        identity: None,
        workspace_from: None,
    },
    Table {
        name: "event_index",
        columns: &[
            ("workspace_id", Int),
            ("kind", Text),
            ("name", Text),
            ("count", Int),
            ("first_seen", Int),
            ("last_seen", Int),
            ("attribute_keys", Text),
        ],
        key: &["workspace_id", "kind", "name"],
        identity: None,
        workspace_from: None,
    },
    Table {
        name: "event_days",
        columns: &[
            ("workspace_id", Int),
            ("kind", Text),
            ("name", Text),
            ("day", Int),
            ("count", Int),
        ],
        key: &["workspace_id", "day", "kind", "name"],
        identity: None,
        workspace_from: None,
    },
    Table {
        name: "delivery_metrics",
        columns: &[
            ("seq", Int),
            ("source", Text),
            ("delivery_id", Text),
            ("metric", Text),
            ("timestamp", Int),
            ("received_at", Int),
            ("data", Text),
        ],
        key: &["seq"],
        identity: Some("seq"),
        workspace_from: None,
    },
    Table {
        name: "settings",
        columns: &[("key", Text), ("value", Text)],
        key: &["key"],
        identity: None,
        workspace_from: None,
    },
    Table {
        name: "segments",
        columns: &[
            ("id", Int),
            ("workspace_id", Int),
            ("name", Text),
            ("description", Text),
            ("definition", Text),
            ("state", Text),
            ("progress", Int),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        key: &["id"],
        identity: Some("id"),
        workspace_from: None,
    },
    Table {
        name: "segment_members",
        columns: &[("segment_id", Int), ("person_seq", Int), ("since", Int)],
        key: &["segment_id", "person_seq"],
        identity: None,
        workspace_from: Some(Parent {
            table: "segments",
            key: "segment_id",
        }),
    },
    Table {
        name: "segment_history",
        columns: &[
            ("seq", Int),
            ("segment_id", Int),
            ("person_seq", Int),
            ("entered", Bool),
            ("at", Int),
            ("cause", Text),
            ("origin", Text),
        ],
        key: &["seq"],
        identity: Some("seq"),
        workspace_from: Some(Parent {
            table: "segments",
            key: "segment_id",
        }),
    },
    Table {
        name: "segment_days",
        columns: &[
            ("segment_id", Int),
            ("day", Int),
            ("entered", Int),
            ("exited", Int),
        ],
        key: &["segment_id", "day"],
        identity: None,
        workspace_from: Some(Parent {
            table: "segments",
            key: "segment_id",
        }),
    },
    Table {
        name: "segment_purges",
        columns: &[("segment_id", Int)],
        key: &["segment_id"],
        identity: None,
        workspace_from: Some(Parent {
            table: "segments",
            key: "segment_id",
        }),
    },
    Table {
        name: "campaigns",
        columns: &[
            ("id", Int),
            ("workspace_id", Int),
            ("name", Text),
            ("definition", Text),
            ("state", Text),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        key: &["id"],
        identity: Some("id"),
        workspace_from: None,
    },
    Table {
        name: "runs",
        columns: &[
            ("id", Int),
            ("workspace_id", Int),
            ("campaign_id", Int),
            ("person_seq", Int),
            ("run_key", Text),
            ("trigger", Text),
            ("step", Int),
            ("due_at", Int),
            ("state", Text),
            ("attempts", Int),
            ("created_at", Int),
            ("updated_at", Int),
        ],
        key: &["id"],
        identity: Some("id"),
        workspace_from: None,
    },
    Table {
        name: "enrollments",
        columns: &[
            ("campaign_id", Int),
            ("person_seq", Int),
            ("created_at", Int),
        ],
        key: &["campaign_id", "person_seq"],
        identity: None,
        workspace_from: Some(Parent {
            table: "campaigns",
            key: "campaign_id",
        }),
    },
    Table {
        name: "deliveries",
        columns: &[
            ("id", Text),
            ("workspace_id", Int),
            ("campaign_id", Int),
            ("run_id", Int),
            ("person_seq", Int),
            ("step", Int),
            ("channel", Text),
            ("status", Text),
            ("content", Text),
            ("idempotency_key", Text),
            ("attempts", Int),
            ("error", Text),
            ("created_at", Int),
            ("updated_at", Int),
            ("sent_at", Int),
        ],
        key: &["id"],
        identity: None,
        workspace_from: None,
    },
    Table {
        name: "engine_log",
        columns: &[("seq", Int), ("workspace_id", Int), ("inputs", Blob)],
        key: &["seq"],
        identity: Some("seq"),
        workspace_from: None,
    },
    Table {
        name: "users",
        columns: &[
            ("id", Int),
            ("email", Text),
            ("password_hash", Text),
            ("admin", Bool),
            ("created_at", Int),
        ],
        key: &["id"],
        identity: Some("id"),
        workspace_from: None,
    },
    Table {
        name: "user_workspaces",
        columns: &[("user_id", Int), ("workspace_id", Int)],
        key: &["user_id", "workspace_id"],
        identity: None,
        workspace_from: None,
    },
    Table {
        name: "sessions",
        columns: &[
            ("token_hash", Text),
            ("user_id", Int),
            ("csrf_token", Text),
            ("created_at", Int),
            ("expires_at", Int),
        ],
        key: &["token_hash"],
        identity: None,
        workspace_from: None,
    },
];

/// SQLite tables the copy leaves behind on purpose: its own bookkeeping (`sqlite_sequence`,
/// read for the identities' next values), the migrations record (PostgreSQL keeps its own),
/// `backfills`, which the copy empties before it starts, and the activity log's blocks by
/// workspace, kind and name, which stand in for indexes that PostgreSQL has.
pub(crate) const SOURCE_ONLY: &[&str] = &[
    "schema_migrations",
    "backfills",
    "activity_blocks",
    "activity_blocks_by_kind",
    "activity_blocks_by_name",
];

/// Quotes an identifier for either database (every name here is plain lowercase, but `key`,
/// `trigger` and `timestamp` are keywords in one or the other).
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

/// The quoted list of the columns written to PostgreSQL, in `Table::target_columns` order.
pub(crate) fn column_list(table: &Table) -> String {
    table
        .target_columns()
        .map(|(column, _)| quoted(column))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_column_is_an_integer_or_text_column() {
        for table in TABLES {
            for position in table.key_positions() {
                let kind = table.columns[position].1;
                assert!(
                    matches!(kind, Kind::Int | Kind::Text),
                    "{}: key column {} is {kind:?}",
                    table.name,
                    table.columns[position].0
                );
            }
            if let Some(identity) = table.identity {
                assert_eq!(table.key, [identity], "{}", table.name);
            }
        }
    }

    #[test]
    fn a_workspace_from_a_parent_is_a_column_only_postgresql_has() {
        for table in TABLES {
            let in_sqlite = table
                .columns
                .iter()
                .any(|(column, _)| *column == WORKSPACE_ID);
            let Some(parent) = &table.workspace_from else {
                continue;
            };
            assert!(!in_sqlite, "{}", table.name);
            assert!(
                table.columns.contains(&(parent.key, Kind::Int)),
                "{}: {} is an integer column",
                table.name,
                parent.key
            );
            let parent = TABLES.iter().find(|t| t.name == parent.table).unwrap();
            assert!(parent.columns.contains(&(WORKSPACE_ID, Kind::Int)));
            assert_eq!(parent.key, ["id"]);
            let written: Vec<_> = table.target_columns().map(|(column, _)| column).collect();
            assert_eq!(written.last(), Some(&WORKSPACE_ID), "{}", table.name);
            assert_eq!(written.len(), table.columns.len() + 1);
        }
    }

    #[test]
    fn parents_come_before_the_tables_that_point_at_them() {
        let at = |name: &str| TABLES.iter().position(|t| t.name == name).unwrap();
        for (child, parent) in [
            ("people", "workspaces"),
            ("segments", "workspaces"),
            ("campaigns", "workspaces"),
            ("user_workspaces", "users"),
            ("user_workspaces", "workspaces"),
            ("sessions", "users"),
        ] {
            assert!(at(parent) < at(child), "{parent} before {child}");
        }
    }
}
