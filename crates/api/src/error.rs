//! The one error type of the HTTP edge.
//!
//! Bodies keep the shapes Customer.io's clients parse (`{"meta":{"error":…}}`,
//! `{"meta":{"errors":[…]}}` for devices, `{"errors":[…]}` for v2) and add a stable `code`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_ingest::ValidationError;
use herald_store::StoreError;
use serde::Serialize;
use serde_json::json;

/// How an error body is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{"meta":{"error":"…"}}`: most Track v1 and App API errors.
    MetaError,
    /// `{"meta":{"errors":["…"]}}`: device endpoints.
    MetaErrors,
    /// `{"errors":[{reason, field, message}]}`: Track v2.
    V2,
    /// `{"meta":{"errors":["…"]}}` with every message, beside the v2 items that say where each
    /// problem is: the Data Pipelines API.
    Pipelines,
}

/// One item of a v2 error list.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct V2ErrorItem {
    /// What kind of problem it is: `required`, `invalid`, `too_large`, ….
    pub reason: String,
    /// Where the problem is, as a path into the body (`identifiers.id`, `data.recipient`).
    pub field: Option<String>,
    /// What is wrong, for people.
    pub message: String,
    /// In a batch: the index of the operation or call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_index: Option<usize>,
}

impl V2ErrorItem {
    /// Builds an item from a validation error.
    pub fn from_validation(error: &ValidationError, batch_index: Option<usize>) -> Self {
        Self {
            reason: error.reason.to_owned(),
            field: error.field.clone(),
            message: error.message.clone(),
            batch_index,
        }
    }
}

/// An error answered to an HTTP client.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    /// A stable snake_case code for programs.
    pub code: &'static str,
    pub message: String,
    pub shape: Shape,
    pub items: Vec<V2ErrorItem>,
    /// Seconds a client should wait before retrying, sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            shape: Shape::MetaError,
            items: Vec::new(),
            retry_after: None,
        }
    }

    /// A 429 that tells the client when a retry can succeed.
    pub fn rate_limited(message: impl Into<String>, retry_after_seconds: u64) -> Self {
        Self {
            retry_after: Some(retry_after_seconds),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        }
    }

    /// A 400 for input that failed validation.
    pub fn invalid(error: ValidationError) -> Self {
        let item = V2ErrorItem::from_validation(&error, None);
        Self {
            items: vec![item],
            ..Self::new(StatusCode::BAD_REQUEST, "invalid_request", error.message)
        }
    }

    /// A 400 for a request the handler itself refuses (query parameters, shapes).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// Lays the body out in another shape.
    pub fn with_shape(mut self, shape: Shape) -> Self {
        if matches!(shape, Shape::V2 | Shape::Pipelines) && self.items.is_empty() {
            self.items.push(V2ErrorItem {
                reason: self.code.to_owned(),
                field: None,
                message: self.message.clone(),
                batch_index: None,
            });
        }
        self.shape = shape;
        self
    }
}

impl ApiError {
    /// Asks the client to retry after `seconds` (the `Retry-After` header).
    #[must_use]
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> Self {
        Self::invalid(error)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Closed => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the server is shutting down or its storage is unavailable; retry shortly",
            ),
            StoreError::WorkspaceDeleted(_) => Self::unauthorized(
                "the workspace was deleted (`herald workspace delete`) while this request was on \
                 its way: its keys no longer work",
            ),
            StoreError::Corrupt(row) => {
                tracing::error!(row = %row, "a stored row this request needs cannot be read");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "corrupt_data",
                    "stored data this request needs cannot be read; the server's operator can list \
                     and remove such rows with `herald doctor`",
                )
            }
            other => {
                // The details stay in the log: they describe the server, not the request.
                tracing::error!(error = %other, "storage failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
        }
    }
}

impl From<herald_segments::EngineError> for ApiError {
    fn from(error: herald_segments::EngineError) -> Self {
        match error {
            herald_segments::EngineError::Loading => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "segments_loading",
                "the segment engine is still loading the stored history after a start; writes \
                 are taken meanwhile, and segments answer once it has caught up; retry shortly",
            )
            .retry_after(2),
            herald_segments::EngineError::Stopped => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the segment engine is stopping; retry shortly",
            ),
            herald_segments::EngineError::Unanswered => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the other servers' segment engines did not all answer in time (one may be \
                 taking partitions over); retry shortly",
            )
            .retry_after(1),
            herald_segments::EngineError::Store(error) => error.into(),
        }
    }
}

impl From<herald_segments::SegmentsError> for ApiError {
    fn from(error: herald_segments::SegmentsError) -> Self {
        use herald_segments::SegmentsError;
        match error {
            SegmentsError::NotFound => Self::not_found("Segment not found"),
            SegmentsError::PersonNotFound => {
                Self::not_found("the customer is gone (deleted or merged since)")
            }
            SegmentsError::InvalidDefinition(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_definition",
                error.to_string(),
            ),
            SegmentsError::Invalid(_) | SegmentsError::InUse { .. } => {
                Self::bad_request(error.to_string())
            }
            SegmentsError::Engine(error) => error.into(),
            SegmentsError::Store(error) => error.into(),
            SegmentsError::Thread(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the segment engine is not running; retry shortly",
            ),
        }
    }
}

impl From<herald_dispatch::CampaignsError> for ApiError {
    fn from(error: herald_dispatch::CampaignsError) -> Self {
        use herald_dispatch::CampaignsError;
        match error {
            CampaignsError::NotFound => Self::not_found("Campaign not found"),
            CampaignsError::PersonNotFound => Self::not_found("no such customer"),
            CampaignsError::Invalid(message) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_campaign", message)
            }
            CampaignsError::Engine(error) => error.into(),
            CampaignsError::Store(error) => error.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.shape {
            Shape::MetaError => json!({"meta": {"error": self.message}, "code": self.code}),
            Shape::MetaErrors => json!({"meta": {"errors": [self.message]}, "code": self.code}),
            // `meta.error` repeats the first message because the Node client builds its
            // exception message from it and would otherwise say "Unknown error".
            Shape::V2 => {
                json!({"errors": self.items, "meta": {"error": self.message}, "code": self.code})
            }
            Shape::Pipelines => {
                let messages: Vec<&str> = self
                    .items
                    .iter()
                    .map(|item| item.message.as_str())
                    .collect();
                json!({"errors": self.items,
                       "meta": {"error": self.message, "errors": messages},
                       "code": self.code})
            }
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from(seconds));
        } else if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}

/// Answers routes that do not exist, naming the feature when the path is one of Customer.io's
/// that Herald lacks.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    match crate::unsupported::feature(uri.path()) {
        Some(feature) => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_supported",
            format!(
                "Herald does not support {feature} yet ({}); README.md lists what Customer.io has that Herald does not",
                uri.path()
            ),
        ),
        None => ApiError::not_found(format!("no route for {}", uri.path())),
    }
}

/// Parses an `id_type` parameter; absent or empty means `id`.
pub fn parse_id_type(value: Option<&str>) -> Result<herald_domain::IdType, ApiError> {
    match value {
        None | Some("") => Ok(herald_domain::IdType::Id),
        Some(text) => herald_domain::IdType::parse(text).ok_or_else(|| {
            ApiError::bad_request(format!("id_type {text:?} is not one of id, email, cio_id"))
        }),
    }
}
