//! What the handlers' `#[utoipa::path]` annotations share: the tags that group the operations
//! (each with the credentials its operations take), the names of the security schemes, the
//! descriptions of parameters that many paths have, and the error body.

use utoipa::ToSchema;

use crate::error::V2ErrorItem;

/// The security scheme of the Track API: HTTP Basic with the site id and the Track API key.
pub const TRACK_AUTH: &str = "track_basic";
/// The security scheme of the App API: a Bearer App API key.
pub const APP_AUTH: &str = "app_bearer";
/// The security scheme of the Data Pipelines API: HTTP Basic with the write key as the user.
pub const PIPELINES_AUTH: &str = "pipelines_basic";

pub const TRACK_V1: &str = "Track API v1";
pub const TRACK_V2: &str = "Track API v2";
pub const PIPELINES: &str = "Data Pipelines API";
pub const APP_PEOPLE: &str = "App API: people";
pub const APP_OBJECTS: &str = "App API: objects";
pub const APP_ACTIVITIES: &str = "App API: activities";
pub const APP_SEGMENTS: &str = "App API: segments";
pub const APP_CAMPAIGNS: &str = "App API: campaigns";
pub const APP_DELIVERIES: &str = "App API: deliveries";
pub const APP_TRANSACTIONAL: &str = "App API: transactional";
pub const APP_WORKSPACE: &str = "App API: workspace";
pub const BROWSER: &str = "Browser";
pub const EMAIL_LINKS: &str = "Email links";
pub const OPERATIONS: &str = "Operations";

/// One tag: its name, the security scheme every operation under it takes (`None`: no
/// credentials), and its description.
pub struct Tag {
    pub name: &'static str,
    pub security: Option<&'static str>,
    pub description: &'static str,
}

/// Every tag, in the order the document lists them. The coverage test holds each operation to
/// its tag's security scheme, so an operation cannot be documented under the wrong credentials.
pub const TAGS: &[Tag] = &[
    Tag {
        name: TRACK_V1,
        security: Some(TRACK_AUTH),
        description: "Customer.io's Track API v1: people, events, devices, merges and metrics. \
                      Bodies are JSON, or form-encoded where Customer.io takes forms.",
    },
    Tag {
        name: TRACK_V2,
        security: Some(TRACK_AUTH),
        description: "Customer.io's Track API v2: one entity operation, or a batch of them.",
    },
    Tag {
        name: PIPELINES,
        security: Some(PIPELINES_AUTH),
        description: "Customer.io's Data Pipelines API (Segment's spec). A call Herald cannot take \
                      is answered 200 and listed in `dropped`, unless `X-Strict-Mode: 1` asks \
                      for a 400.",
    },
    Tag {
        name: APP_PEOPLE,
        security: Some(APP_AUTH),
        description: "People: lookups, profiles, searches, messages and segments of a person.",
    },
    Tag {
        name: APP_OBJECTS,
        security: Some(APP_AUTH),
        description: "Objects (companies, accounts, …) and their relationships to people.",
    },
    Tag {
        name: APP_ACTIVITIES,
        security: Some(APP_AUTH),
        description: "The activity log (the last 30 days) and the index of event names.",
    },
    Tag {
        name: APP_SEGMENTS,
        security: Some(APP_AUTH),
        description: "Segments, exact at every instant, and why a person is in or out.",
    },
    Tag {
        name: APP_CAMPAIGNS,
        security: Some(APP_AUTH),
        description: "Campaigns: a trigger, a filter and steps of webhooks, emails and pushes.",
    },
    Tag {
        name: APP_DELIVERIES,
        security: Some(APP_AUTH),
        description: "Deliveries: every message a campaign sent, and its metrics.",
    },
    Tag {
        name: APP_TRANSACTIONAL,
        security: Some(APP_AUTH),
        description: "Transactional messages: campaigns started by a send request.",
    },
    Tag {
        name: APP_WORKSPACE,
        security: Some(APP_AUTH),
        description: "What belongs to the key's workspace itself: the track.js snippet.",
    },
    Tag {
        name: BROWSER,
        security: None,
        description: "What track.js loads and calls from a web page: the script, and the write-only \
                      endpoints named by the workspace's public site id, open to the allowed \
                      origins (CORS) and rate limited per address and per site.",
    },
    Tag {
        name: EMAIL_LINKS,
        security: None,
        description: "The links inside sent email, followed by recipients: the open pixel, click \
                      redirects and unsubscribing. Signed links stand in for credentials.",
    },
    Tag {
        name: OPERATIONS,
        security: None,
        description: "For whoever runs Herald: health, readiness, metrics and this document.",
    },
];

/// The Track API's path identifier.
pub const IDENTIFIER: &str = "The person: their id, their email (when the workspace identifies \
                              by email), or `cio_` followed by their cio_id.";
/// The App API's customer path parameter, read as `id_type` says.
pub const CUSTOMER_ID: &str = "The person, as `id_type` says: an id (the default), an email or a \
                               cio_id.";
pub const ID_TYPE: &str = "How `id` names the person: `id` (the default), `email` or `cio_id`.";
pub const SEGMENT_ID: &str = "The segment's id.";
pub const CAMPAIGN_ID: &str = "The campaign's id.";
pub const TRANSACTIONAL_ID: &str = "The transactional message: its campaign's id.";
pub const DELIVERY_ID: &str = "The delivery's id.";
pub const OBJECT_TYPE_ID: &str = "The object type's id (`1` for the first type).";
pub const OBJECT_ID: &str = "The object's id within its type.";
pub const SITE_ID: &str = "The workspace's public site id (it authenticates nothing else).";
pub const START: &str = "The cursor of the page to read: the `next` of the previous page.";
pub const LIMIT: &str = "How many items a page holds.";

/// An error answer. Every error has `code`, a stable snake_case name for programs, and a
/// message for people in the shape Customer.io's clients read: `meta.error` for most paths,
/// `meta.errors` for devices and forms, and with Track v2 and the Data Pipelines API also
/// `errors`, one item per problem (with `batch_index` in a batch).
#[derive(ToSchema)]
#[schema(example = json!({"meta": {"error": "no customer with the identifier \"42\""}, "code": "not_found"}))]
pub struct Error {
    pub meta: ErrorMeta,
    /// A stable machine code: `invalid_request`, `unauthorized`, `not_found`,
    /// `not_supported`, `rate_limited`, `too_large`, `unavailable`, `segments_loading`, …
    pub code: String,
    /// Track v2 and the Data Pipelines API: one item per problem.
    pub errors: Option<Vec<V2ErrorItem>>,
}

/// The messages of an error.
#[derive(ToSchema)]
pub struct ErrorMeta {
    /// The message (the first one when there are several).
    pub error: Option<String>,
    /// Devices, forms and the Data Pipelines API: every message.
    pub errors: Option<Vec<String>>,
}

/// Answers that many operations share.
pub const STORED: &str = "Stored: `{}`. The write is committed when the answer leaves.";
pub const INVALID: &str = "The request is invalid (the message names the field, and `code` is \
                           `invalid_request` or `too_large`); nothing of it was stored.";
pub const BAD_QUERY: &str = "A parameter is invalid; the message says which and why.";
pub const NO_CUSTOMER: &str = "No live person has this identifier.";
pub const NO_SEGMENT: &str = "No segment has this id in the key's workspace.";
pub const NO_CAMPAIGN: &str = "No campaign has this id in the key's workspace.";
pub const LOADING: &str = "The segment engine is still loading the stored history after a start \
                           (`segments_loading`, with `Retry-After`).";
