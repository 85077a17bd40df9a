//! Customer.io's documented Track API limits (customerio-compat.md §1.3), in one place.

/// Longest person id, in bytes.
pub const MAX_ID_BYTES: usize = 150;
/// Longest attribute name, in bytes.
pub const MAX_ATTRIBUTE_NAME_BYTES: usize = 150;
/// Longest attribute value, in bytes of its JSON text (strings count their own bytes).
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 1000;
/// Most attributes in one identify call.
pub const MAX_ATTRIBUTES_PER_CALL: usize = 300;
/// Longest event name, in bytes, after trimming.
pub const MAX_EVENT_NAME_BYTES: usize = 100;
/// Largest event data object, in bytes of its JSON text.
pub const MAX_EVENT_DATA_BYTES: usize = 100_000;
/// Largest `/api/v2/entity` body; the limit is exclusive.
pub const MAX_V2_ENTITY_BYTES: usize = 32 * 1024;
/// Largest `/api/v2/batch` body; the limit is exclusive.
pub const MAX_V2_BATCH_BYTES: usize = 500 * 1024;
/// Largest Data Pipelines call (`/v1/track` and the others, and each call of a `/v1/batch`).
pub const MAX_PIPELINES_CALL_BYTES: usize = 32 * 1024;
/// Largest Data Pipelines `/v1/batch` body.
pub const MAX_PIPELINES_BATCH_BYTES: usize = 500 * 1024;
/// Longest Data Pipelines `messageId`, in bytes: the clients send UUIDs and
/// `node-next-<ms>-<uuid>`, well under it.
pub const MAX_MESSAGE_ID_BYTES: usize = 200;
/// Largest v1 request body accepted before parsing.
pub const MAX_V1_BODY_BYTES: usize = 1024 * 1024;

/// How long after its timestamp an event may still trigger campaigns.
pub const TRIGGER_WINDOW_SECONDS: i64 = 72 * 3600;
/// How long the activity views and anonymous events look back.
pub const ACTIVITY_RETENTION_SECONDS: i64 = 30 * 24 * 3600;
/// How long after an identify anonymous events with its `anonymous_id` still attach to the person.
pub const ANONYMOUS_LINK_GRACE_SECONDS: i64 = 5 * 60;
/// Timestamps above this are taken for milliseconds: in seconds it would be after the year 5000.
pub const MILLISECOND_TIMESTAMP_THRESHOLD: i64 = 100_000_000_000;

/// Deepest nesting of objects and arrays in a request body (`{"a":{"b":1}}` nests 2 deep).
/// Every decoder (JSON, forms) refuses deeper input before anything is stored, so every stored
/// value can be read back: reading stored JSON allows 128 levels, and a stored row wraps a
/// request's values in a few levels of its own at most.
pub const MAX_NESTING_DEPTH: usize = 32;
