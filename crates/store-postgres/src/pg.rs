//! One connection's view for the queries: statements prepared once per connection, and
//! PostgreSQL's errors turned into the store's.

use herald_domain::WorkspaceId;
use std::collections::HashMap;

use herald_store::codec::skip_corrupt;
use herald_store::data_index::DataIndexBuffer;
use herald_store::writer_cache::WriterCache;
use herald_store::{LogPosition, StoreError};
use postgres::types::ToSql;
use postgres::{Client, Row, Statement};

/// The parameters of a statement.
pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// The statements a connection has prepared, by their text: preparing one costs a round trip
/// to the server, as much as running it.
#[derive(Default)]
pub(crate) struct Statements {
    prepared: HashMap<String, Statement>,
}

/// What a write job leaves for its transaction's commit: its data-index updates, and its
/// engine-log entries, which get their positions only then (`activities::flush_log`).
#[derive(Default)]
pub(crate) struct AtCommit {
    pub(crate) index: DataIndexBuffer,
    pub(crate) log: Vec<PendingLogEntry>,
}

/// An engine-log entry waiting for its position.
pub(crate) struct PendingLogEntry {
    pub(crate) workspace_id: WorkspaceId,
    pub(crate) inputs: Vec<u8>,
    pub(crate) position: LogPosition,
}

impl AtCommit {
    /// Takes over what a job that was kept left.
    pub(crate) fn absorb(&mut self, job: AtCommit) {
        self.index.absorb(job.index);
        self.log.extend(job.log);
    }
}

/// A connection and its statements; the queries of `StoreRead` and `StoreTx` run on it, in
/// whatever transaction the connection is in (the writer's, a pinned read's, or none).
pub(crate) struct Pg<'c> {
    client: &'c mut Client,
    statements: &'c mut Statements,
    /// What the write job leaves for the commit (the writer's view only).
    at_commit: Option<&'c mut AtCommit>,
    /// The writer's people and suppressions (the writer's view only).
    cache: Option<&'c mut WriterCache>,
}

impl<'c> Pg<'c> {
    pub(crate) fn new(client: &'c mut Client, statements: &'c mut Statements) -> Self {
        Self {
            client,
            statements,
            at_commit: None,
            cache: None,
        }
    }

    /// The view of a write job, which leaves what waits for the commit in `at_commit` and
    /// keeps the people it sees in the writer's `cache`.
    pub(crate) fn for_job(
        client: &'c mut Client,
        statements: &'c mut Statements,
        at_commit: &'c mut AtCommit,
        cache: Option<&'c mut WriterCache>,
    ) -> Self {
        Self {
            client,
            statements,
            at_commit: Some(at_commit),
            cache,
        }
    }

    /// The writer's cache, in a write job.
    pub(crate) fn cache(&mut self) -> Option<&mut WriterCache> {
        self.cache.as_deref_mut()
    }

    /// What a write job leaves for the commit.
    pub(crate) fn at_commit(&mut self) -> Result<&mut AtCommit, StoreError> {
        self.at_commit
            .as_deref_mut()
            .ok_or_else(|| StoreError::Backend("a write outside the writer's transaction".into()))
    }

    /// Where a write job's data-index updates wait for the commit.
    pub(crate) fn index(&mut self) -> Result<&mut DataIndexBuffer, StoreError> {
        Ok(&mut self.at_commit()?.index)
    }

    /// The statement for `sql`, prepared on first use.
    pub(crate) fn prepare(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.statements.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).map_err(backend)?;
        self.statements
            .prepared
            .insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Every row `sql` returns.
    pub(crate) fn query(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, StoreError> {
        let statement = self.prepare(sql)?;
        self.client.query(&statement, params).map_err(backend)
    }

    /// The row `sql` returns, if any (more than one is an error).
    pub(crate) fn query_opt(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Option<Row>, StoreError> {
        let statement = self.prepare(sql)?;
        self.client.query_opt(&statement, params).map_err(backend)
    }

    /// The one row `sql` returns.
    pub(crate) fn query_one(&mut self, sql: &str, params: &Params<'_>) -> Result<Row, StoreError> {
        let statement = self.prepare(sql)?;
        self.client.query_one(&statement, params).map_err(backend)
    }

    /// Runs `sql`; returns how many rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &Params<'_>) -> Result<u64, StoreError> {
        let statement = self.prepare(sql)?;
        self.client.execute(&statement, params).map_err(backend)
    }

    /// Every row `sql` returns, decoded; a row that cannot be decoded is skipped and reported
    /// (`herald_store::codec::skip_corrupt`).
    pub(crate) fn all<T>(
        &mut self,
        sql: &str,
        params: &Params<'_>,
        decode: impl Fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut found = Vec::new();
        for row in self.query(sql, params)? {
            if let Some(value) = skip_corrupt(decode(&row))? {
                found.push(value);
            }
        }
        Ok(found)
    }

    /// The row `sql` returns, if any, decoded; one that cannot be decoded is an error naming it.
    pub(crate) fn one<T>(
        &mut self,
        sql: &str,
        params: &Params<'_>,
        decode: impl FnOnce(&Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.query_opt(sql, params)?
            .as_ref()
            .map(decode)
            .transpose()
    }

    /// Calls `each` with every row `sql` returns, as they arrive, until it answers false: for
    /// reads too large to hold (a workspace's whole history).
    pub(crate) fn for_each_row(
        &mut self,
        sql: &str,
        params: &Params<'_>,
        each: &mut dyn FnMut(Row) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        use postgres::fallible_iterator::FallibleIterator;
        let statement = self.prepare(sql)?;
        let mut rows = self
            .client
            .query_raw(&statement, params.iter().copied())
            .map_err(backend)?;
        while let Some(row) = rows.next().map_err(backend)? {
            if !each(row)? {
                break;
            }
        }
        Ok(())
    }
}

/// Converts a PostgreSQL error into the store's: a broken uniqueness rule is a conflict. The
/// server's own message and code are kept (the client's `Display` says only "db error").
pub(crate) fn backend(error: postgres::Error) -> StoreError {
    let message = match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => error.to_string(),
    };
    match error.code() {
        Some(code) if *code == postgres::error::SqlState::UNIQUE_VIOLATION => {
            StoreError::Conflict(message)
        }
        _ => StoreError::Backend(message),
    }
}
