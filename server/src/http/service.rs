//! The service itself: health and metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::problem::ApiError;
use super::state::AppState;
use super::{json, text, CACHE_NEVER};

/// `GET /healthz`: 200 when all is well, 503 when appends are refused (`degraded`:
/// the disk is full) or stored data cannot be trusted (`unhealthy`: damage found by
/// the scrub, or the log's writer stopped after a failed write).
#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthAnswer {
    /// `ok`, `degraded` or `unhealthy`.
    pub status: &'static str,
    pub tree_size: u64,
    /// What is wrong, each with a stable reason; empty when `ok`.
    pub problems: Vec<HealthProblem>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthProblem {
    /// `storage_full`, `storage_damaged` or `writer_stopped`.
    pub reason: &'static str,
    pub detail: String,
}

#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, body = HealthAnswer), (status = 503, description = "degraded or unhealthy", body = HealthAnswer)))]
pub(crate) async fn healthz(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let mut problems = Vec::new();
    let mut unhealthy = false;
    if let Some(damage) = state.store.damage() {
        unhealthy = true;
        problems.push(HealthProblem {
            reason: "storage_damaged",
            detail: format!(
                "stored data is damaged from entry {} on ({}); reads of it are refused. \
                 Stop the server and run `campaign-ledger check`",
                damage.index, damage.what
            ),
        });
    }
    if !state.store.writer_running() {
        unhealthy = true;
        problems.push(HealthProblem {
            reason: "writer_stopped",
            detail: "a write to the log failed; appends are refused until the server is \
                     restarted"
                .into(),
        });
    }
    if state.disk.is_full() {
        problems.push(HealthProblem {
            reason: "storage_full",
            detail: "the data directory's disk is (nearly) full; appends are refused until \
                     there is room"
                .into(),
        });
    }
    let (status, code) = match (unhealthy, problems.is_empty()) {
        (true, _) => ("unhealthy", StatusCode::SERVICE_UNAVAILABLE),
        (false, false) => ("degraded", StatusCode::SERVICE_UNAVAILABLE),
        (false, true) => ("ok", StatusCode::OK),
    };
    json(
        code,
        &HealthAnswer {
            status,
            tree_size: state.store.size(),
            problems,
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
