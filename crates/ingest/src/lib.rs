//! The ingest stage: everything between an HTTP body and a committed write.
//!
//! [`decode`] turns JSON or form-encoded bodies into JSON values, [`validate`] turns those into
//! typed [`Operation`]s with Customer.io's documented error messages, and [`apply`] carries an
//! operation out against a store transaction (identity resolution, anonymous attachment, merges,
//! suppression). [`Ingest`] ties them to a store and a clock. [`snippet`] is the browser snippet
//! that sends a site's visitors' events here. Nothing here knows HTTP or SQL.

pub mod apply;
pub mod decode;
pub mod import;
pub mod metrics;
pub mod operation;
pub mod sealed_keys;
pub mod service;
pub mod snippet;
pub mod triggers;
pub mod validate;
pub mod validate_objects;
pub mod validate_pipelines;
pub mod validate_v2;
pub mod workspaces;

pub use operation::{
    EventInput, ObjectRef, Operation, PathIdentifier, Related, RelationshipChange,
};
pub use service::{Committed, Feed, Ingest};
pub use triggers::{EventTriggers, NoTrigger, OBJECT_CHANGE, TriggerEvent};
pub use validate::ValidationError;
