//! The service itself: health and metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::problem::ApiError;
use super::state::AppState;
use super::{json, text, CACHE_NEVER};

/// `GET /healthz`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthAnswer {
    pub status: &'static str,
    pub tree_size: u64,
}

#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, body = HealthAnswer)))]
pub(crate) async fn healthz(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    json(
        StatusCode::OK,
        &HealthAnswer {
            status: "ok",
            tree_size: state.store.size(),
        },
    )
}

#[utoipa::path(get, path = "/metrics", tag = "service", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub(crate) async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    text(
        state.metrics.render(),
        "text/plain; version=0.0.4; charset=utf-8",
        CACHE_NEVER,
    )
}
