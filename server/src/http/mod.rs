//! The HTTP API: [`app`] builds the router over an [`AppState`].
//!
//! Handlers parse, call a library and map the result. Every error is an [`ApiError`],
//! answered as RFC 9457 problem+json with a stable `reason`; internal errors are
//! logged and answered with a generic 500 that reveals nothing. Routes, answers and
//! reasons: docs/API.md; the OpenAPI document is served at `/api/v1/openapi.json`.
//!
//! One file per part of the API: `log.rs` (checkpoint, tiles, entries, proofs,
//! receipts), `read_models.rs` (tally and read models), `records.rs` (appends),
//! `imports.rs` (paper batches from CSV), `signatures.rs` (erasure and the signer's
//! own withdrawal and erasure), `exports.rs`, `cosignatures.rs`, `verify_page.rs`,
//! `service.rs` (health, metrics); `state.rs` is what they share and `problem.rs` how
//! they fail. The public site (`crate::site`) and the OpenAPI document
//! (`crate::openapi`) are routes too; neither is imported by the handlers.

// The handlers' modules are visible to `crate::openapi`, which lists their paths.
pub(crate) mod cosignatures;
pub(crate) mod exports;
pub(crate) mod imports;
pub mod listen;
pub(crate) mod log;
mod problem;
pub(crate) mod read_models;
pub(crate) mod records;
pub(crate) mod service;
pub(crate) mod signatures;
mod state;
mod verify_page;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{middleware, Router};
use serde::Serialize;

pub use imports::{ImportAnswer, ImportProblem};
pub use log::{EntryAnswer, LogInfo};
pub use problem::{ApiError, Problem};
pub use read_models::{read_model_files, TallyAnswer};
pub use records::{
    authenticate, stage, AppendAnswer, AppendedEntry, MAX_BODY_BYTES, MAX_RECORDS_PER_REQUEST,
};
pub use service::{HealthAnswer, HealthProblem};
pub use signatures::SignerRequest;
pub use state::AppState;

/// The `Cache-Control` of answers that change as the log grows.
const CACHE_NEVER: &str = "no-cache";

/// The router: every route of the API, the public site and the OpenAPI document.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/verify", get(verify_page::page))
        .route("/checkpoint", get(log::checkpoint))
        .route("/tile/{*path}", get(log::tile))
        .route("/healthz", get(service::healthz))
        .route("/metrics", get(service::metrics_text))
        .route("/api/v1/openapi.json", get(crate::openapi::serve))
        .route("/api/v1/log", get(log::log_info))
        .route("/api/v1/entries/{index}", get(log::entry))
        .route("/api/v1/proofs/inclusion", get(log::inclusion_proof))
        .route("/api/v1/proofs/consistency", get(log::consistency_proof))
        .route("/api/v1/receipts/{index}", get(log::receipt))
        .route("/api/v1/tally", get(read_models::tally))
        .route("/api/v1/petitions", get(read_models::petitions))
        .route("/api/v1/petitions/{id}", get(read_models::petition))
        .route(
            "/api/v1/petitions/{id}/parliament.json",
            get(read_models::parliament_petition),
        )
        .route("/api/v1/motions", get(read_models::motions))
        .route("/api/v1/twin-links", get(read_models::twin_links))
        .route("/api/v1/events", get(read_models::events))
        .route("/api/v1/campaigns", get(read_models::campaigns))
        .route("/api/v1/records", post(records::post_records))
        .route("/api/v1/imports/paper", post(imports::post_paper_import))
        .route("/api/v1/exports/{petition_id}", get(exports::export_bundle))
        .route(
            "/api/v1/signatures/{index}/personal-data",
            delete(signatures::erase_personal_data),
        )
        .route(
            "/api/v1/signatures/{index}/withdraw",
            post(signatures::signer_withdraws),
        )
        .route(
            "/api/v1/signatures/{index}/erase",
            post(signatures::signer_erases),
        )
        .route(
            "/api/v1/cosignatures",
            get(cosignatures::list_cosignatures).post(cosignatures::post_cosignatures),
        )
        .merge(crate::site::routes())
        .fallback(problem::not_found)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(middleware::from_fn(crate::metrics::track))
        .with_state(state)
}

/// A JSON answer of bytes already serialized.
pub(crate) fn json_response(status: StatusCode, body: Bytes) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The JSON of `value`.
fn to_json<T: Serialize>(value: &T) -> Result<Bytes, ApiError> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(ApiError::internal)
}

/// A JSON answer.
fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Response, ApiError> {
    Ok(json_response(status, to_json(value)?))
}

/// A text or binary answer with its content type and cache policy.
pub(crate) fn text(
    body: impl Into<Body>,
    content_type: &'static str,
    cache: &'static str,
) -> Response {
    let mut response = (StatusCode::OK, body.into()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// Runs blocking store reads off the executor threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
}
