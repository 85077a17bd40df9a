//! The storage boundary of Herald.
//!
//! A backend implements [`Store`]: it runs read jobs against a consistent snapshot and write jobs
//! inside a transaction, committing many jobs together (group commit). A write job's caller
//! hears back only after its transaction committed, so an acknowledgement always means durable.
//! The queries a job may run are the methods of [`StoreRead`] and [`StoreTx`]; only backend
//! crates know SQL. [`conformance`] holds the behaviour every backend must show.

pub mod after_hooks;
mod changes;
mod claims;
pub mod codec;
pub mod conformance;
pub mod data_index;
mod error;
pub mod group_commit;
mod handle;
mod leases;
mod log_position;
mod objects;
mod partition_set;
mod rows;
pub mod savepoints;
mod states;
mod traits;
mod workspace_keys;
pub mod writer_cache;

pub use changes::StoreChange;
pub use claims::{ClaimReply, LocalClaims, RunClaims};
pub use error::StoreError;
pub use handle::{QueuedWrite, StoreHandle};
pub use leases::{
    LEASE_SECONDS, Lease, LeaseReply, LocalLeases, Ownership, PARTITIONS, PartitionLeases,
    partition_of,
};
pub use log_position::LogPosition;
pub use objects::{
    NewObject, ObjectRelationship, ObjectRow, ObjectTypeCount, PersonRelationship,
    all_relationships, relationships_value,
};
pub use partition_set::PartitionSet;
pub use rows::*;
pub use states::{CampaignState, DeliveryStatus, RunState, SegmentState, StoredState};
pub use traits::{
    JobOutcome, OnceJob, ReadJob, RepeatableJob, Store, StoreRead, StoreTx, WriteJob,
};
pub use workspace_keys::{
    CREDENTIALS_VERSION, RetiredKey, WorkspaceKey, WorkspacePurge, import_setting_key,
    import_settings_prefix,
};
