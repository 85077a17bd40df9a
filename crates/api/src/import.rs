//! `POST /api/v2/import` and `GET /api/v2/import/{import_id}`: the server's side of `herald
//! import`. A step is a run of an import file's lines as Track API v2 operations; it is
//! applied like a v2 batch, except that it starts no campaign (imported history is backfill)
//! and that the store records, in the same commit, the line the import stands at, so that an
//! import stopped anywhere goes on from there without applying a line twice.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use herald_ingest::ValidationError;
use herald_ingest::import::{ImportOutcome, ImportStep, imported_line, valid_import_id};
use serde_json::{Value, json};

use crate::auth::TrackWorkspace;
use crate::body::decode;
use crate::error::Shape;
use crate::openapi::docs;
use crate::track_v2::validate_items;
use crate::{ApiError, AppState, MAX_BODY_BYTES};

fn check_id(import_id: &str) -> Result<(), ApiError> {
    if valid_import_id(import_id) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "import_id must be 1 to 128 letters, digits, '-', '_' or '.'",
        ))
    }
}

/// The step's import and first line in the query (`herald import` sends them there too), so
/// that the step is put in order before its body is decoded; optional, the body decides.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StepOrder {
    /// The import's id, as in the body.
    import_id: Option<String>,
    /// The step's first line, as in the body.
    first_line: Option<u64>,
}

fn line_field(body: &serde_json::Map<String, Value>, field: &str) -> Result<u64, ApiError> {
    body.get(field).and_then(Value::as_u64).ok_or_else(|| {
        ApiError::bad_request(format!("{field} is required: a line number, 0 or more"))
    })
}

/// Tells where an import stands
///
/// `herald import` asks this before it sends a file, and goes on after the line it answers:
/// `{"import_id", "line"}`, where `line` is how many of the file's lines were committed (0 when
/// the import never began).
#[utoipa::path(
    get,
    path = "/api/v2/import/{import_id}",
    tag = docs::TRACK_V2,
    params(("import_id" = String, Path, description = "The import's id: 1 to 128 letters, digits, `-`, `_` or `.`; `herald import` makes it from the file.")),
    responses(
        (status = 200, description = "Where the import stands.", body = Value, example = json!({"import_id": "events.ndjson-3f2a9c1b0d4e5f60", "line": 4000})),
        (status = 400, description = "The import id is not one.", body = docs::Error),
    ),
)]
pub async fn status(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Path(import_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_id(&import_id)?;
    let id = import_id.clone();
    let line = state
        .store()
        .read(move |reader| imported_line(reader, workspace_id, &id))
        .await?;
    Ok(Json(json!({"import_id": import_id, "line": line})))
}

/// Applies one step of an import
///
/// The server's side of `herald import`: the operations of lines `first_line` up to `end_line`
/// of an import file, each as `/api/v2/entity` takes it, applied like a v2 batch except that
/// they start no campaign (imported history is backfill, and the segment entries and exits it
/// causes start none either), together with the import's new line in one commit. Invalid
/// operations are all listed and skipped. A step already applied answers `applied: false` and
/// writes nothing, so a step sent again is harmless; one that does not start where the import
/// stands is a `409` that says where it stands.
#[utoipa::path(
    post,
    path = "/api/v2/import",
    tag = docs::TRACK_V2,
    params(StepOrder),
    request_body(
        description = "`import_id`, `first_line`, `end_line` and `batch`, the step's operations.",
        content = Value,
        example = json!({"import_id": "events.ndjson-3f2a9c1b0d4e5f60", "first_line": 0, "end_line": 2,
            "batch": [{"type": "person", "action": "event", "identifiers": {"id": "42"}, "name": "purchased", "timestamp": 1796000000, "attributes": {"total": 30}}]}),
    ),
    responses(
        (status = 200, description = "The step was applied (or had been): the import's `line`, and the invalid operations by `batch_index`.", body = Value,
         example = json!({"line": 2, "applied": true, "errors": []})),
        (status = 400, description = "The step itself is invalid (ids, lines, no batch); nothing was stored.", body = docs::Error),
        (status = 409, description = "The import stands at another line: code `import_out_of_order`; nothing was stored.", body = docs::Error),
    ),
)]
pub async fn step(
    State(state): State<AppState>,
    TrackWorkspace(workspace_id): TrackWorkspace,
    Query(order): Query<StepOrder>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    // Registered before the body is decoded, so that the steps sent before it are found
    // in flight whichever of them is decoded first.
    let turn = match (&order.import_id, order.first_line) {
        (Some(import_id), Some(first_line)) if valid_import_id(import_id) => Some(
            state
                .import_turns()
                .enter(workspace_id, import_id, first_line),
        ),
        _ => None,
    };
    let raw = body;
    let mut body = decode(&headers, &raw, MAX_BODY_BYTES, "/api/v2/import")
        .map_err(|error| ApiError::invalid(error).with_shape(Shape::V2))?;
    drop(raw);
    let import_id = match body.get("import_id") {
        Some(Value::String(id)) => id.clone(),
        _ => return Err(ApiError::bad_request("import_id is required: a string")),
    };
    check_id(&import_id)?;
    let first_line = line_field(&body, "first_line")?;
    let end_line = line_field(&body, "end_line")?;
    if end_line <= first_line {
        return Err(ApiError::bad_request(
            "end_line must be greater than first_line",
        ));
    }
    let Some(Value::Array(items)) = body.shift_remove("batch") else {
        return Err(ApiError::invalid(ValidationError::new(
            "required",
            Some("batch".to_owned()),
            "batch is required: send {\"batch\":[operation, …]}",
        )));
    };
    // Every invalid line is listed: the importer names each one by its line.
    let (operations, errors, _) = validate_items(items, state.clock().now(), usize::MAX);
    if let Some(turn) = &turn {
        turn.wait().await;
    }
    let step = ImportStep {
        import_id: import_id.clone(),
        first_line,
        end_line,
    };
    let outcome = state
        .ingest()
        .submit_import(workspace_id, operations, step, || {
            if let Some(turn) = &turn {
                turn.queued();
            }
        })
        .await?;
    drop(turn);
    match outcome {
        ImportOutcome::Applied => Ok(Json(
            json!({"line": end_line, "applied": true, "errors": errors}),
        )),
        ImportOutcome::AlreadyApplied { line } => {
            Ok(Json(json!({"line": line, "applied": false, "errors": []})))
        }
        ImportOutcome::OutOfOrder { line } => Err(ApiError::new(
            StatusCode::CONFLICT,
            "import_out_of_order",
            format!(
                "the import stands at line {line}, and this step starts at line {first_line}: send the lines from {line} on"
            ),
        )),
    }
}
