//! Errors a store reports.

/// A failure of the storage backend.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Backend(String),
    /// A row would break a uniqueness rule, such as a second workspace with the same name.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Stored data could not be decoded.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The store is shutting down and takes no more jobs.
    #[error("the store is closed")]
    Closed,
    /// A job panicked; its changes were rolled back.
    #[error("a storage job panicked: {0}")]
    Panicked(String),
    /// The workspace was deleted (`herald workspace delete`) while the job was on its way: a
    /// server refuses its writes from the moment it learns of the deletion.
    #[error("workspace {0} was deleted")]
    WorkspaceDeleted(herald_domain::WorkspaceId),
}
