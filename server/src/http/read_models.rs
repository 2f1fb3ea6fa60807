//! The read models: the signed tally, petitions, motions, twin links, events and
//! campaigns, each stating the tree size it reflects.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::problem::{parse_u64, ApiError, ApiPath, ApiQuery, Problem};
use super::state::AppState;
use super::{blocking, json_response, to_json};

#[derive(Deserialize)]
pub(crate) struct TallyQuery {
    tree_size: Option<String>,
}

/// `GET /api/v1/tally`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TallyAnswer {
    pub tree_size: u64,
    /// The signed tally note (docs/FORMAT.md part C §5).
    pub note: String,
    /// The tally text whose hash the note signs.
    pub text: String,
}

#[utoipa::path(get, path = "/api/v1/tally", tag = "read models", params(("tree_size" = Option<u64>, Query, description = "a past size replays the prefix")), responses((status = 200, body = TallyAnswer), (status = 400, body = Problem)))]
pub(crate) async fn tally(
    State(state): State<Arc<AppState>>,
    ApiQuery(query): ApiQuery<TallyQuery>,
) -> Result<Response, ApiError> {
    let wanted = parse_u64("tree_size", query.tree_size.as_deref())?;
    let current = state.published_size();
    let size = wanted.unwrap_or(current);
    if size > current {
        return Err(ApiError::bad_request(
            "size_out_of_range",
            format!("tree size {size} is larger than the log ({current})"),
        ));
    }
    let state2 = state.clone();
    let bytes = blocking(move || {
        if size == state2.published_size() {
            // The published projection's tally, signed once per tree size.
            // If an append published a larger size in between, an asked-for size is
            // now a past one; without one, the latest is what was asked for.
            let answer = state2.view("tally", |projection| {
                let published = projection.tree_size();
                if wanted.is_some_and(|size| size != published) {
                    return Ok(None);
                }
                to_json(&signed_tally(&state2, published, projection.tally_text())?).map(Some)
            })?;
            if let Some(answer) = answer {
                return Ok(answer);
            }
        }
        // A past size: replay the prefix, one replay at a time (anyone may ask, and a
        // replay costs a second per few million entries), keeping the last answer:
        // a past tally never changes.
        let mut past = state2
            .cache
            .past_tally
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((cached_size, bytes)) = past.as_ref() {
            if *cached_size == size {
                return Ok(bytes.clone());
            }
        }
        let text = projector::persist::replay_prefix(&state2.store, size)
            .map(|p| p.tally_text())
            .map_err(|e| match e {
                projector::Error::Ledger(e) => ApiError::from(e),
                other => ApiError::internal(other),
            })?;
        let answer = signed_tally(&state2, size, text)?;
        let bytes = to_json(&answer)?;
        *past = Some((size, bytes.clone()));
        Ok(bytes)
    })
    .await?;
    Ok(json_response(StatusCode::OK, bytes))
}

fn signed_tally(state: &AppState, size: u64, text: String) -> Result<TallyAnswer, ApiError> {
    let root = state.store.root_at(size)?;
    let note =
        projector::tally::sign_tally(state.store.hash_alg(), &state.log_key, size, root, &text)
            .map_err(ApiError::internal)?;
    Ok(TallyAnswer {
        tree_size: size,
        note,
        text,
    })
}

#[utoipa::path(get, path = "/api/v1/petitions", tag = "read models", responses((status = 200, description = "Every petition with its counts, and the tree size they reflect", body = Object)))]
pub(crate) async fn petitions(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let bytes = state.view("petitions", |p| {
        to_json(&p.petitions().named("petitions")).map(Some)
    })?;
    Ok(json_response(StatusCode::OK, bytes.unwrap_or_default()))
}

#[utoipa::path(get, path = "/api/v1/petitions/{id}", tag = "read models", params(("id" = String, Path)), responses((status = 200, description = "One petition with its counts, and the tree size", body = Object), (status = 404, body = Problem)))]
pub(crate) async fn petition(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let bytes = state.view(&format!("petition/{id}"), |p| {
        p.petition(&id).map(|view| to_json(&view)).transpose()
    })?;
    match bytes {
        Some(bytes) => Ok(json_response(StatusCode::OK, bytes)),
        None => Err(ApiError::not_found(
            "unknown_petition",
            "no petition with this id has been opened",
        )),
    }
}

#[utoipa::path(get, path = "/api/v1/motions", tag = "read models", responses((status = 200, description = "Council motions and the tree size", body = Object)))]
pub(crate) async fn motions(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let bytes = state.view("motions", |p| {
        to_json(&p.motions().named("motions")).map(Some)
    })?;
    Ok(json_response(StatusCode::OK, bytes.unwrap_or_default()))
}

#[utoipa::path(get, path = "/api/v1/twin-links", tag = "read models", responses((status = 200, description = "Twin links with history, and the tree size", body = Object)))]
pub(crate) async fn twin_links(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let bytes = state.view("twin-links", |p| {
        to_json(&p.twin_links().named("twin_links")).map(Some)
    })?;
    Ok(json_response(StatusCode::OK, bytes.unwrap_or_default()))
}

#[utoipa::path(get, path = "/api/v1/events", tag = "read models", responses((status = 200, description = "Event timeline and the tree size", body = Object)))]
pub(crate) async fn events(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let bytes = state.view("events", |p| to_json(&p.events().named("events")).map(Some))?;
    Ok(json_response(StatusCode::OK, bytes.unwrap_or_default()))
}

#[utoipa::path(get, path = "/api/v1/campaigns", tag = "read models", responses((status = 200, description = "Campaigns, cities joined, links severed, and the tree size", body = Object)))]
pub(crate) async fn campaigns(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let bytes = state.view("campaigns", |p| to_json(&p.overview()).map(Some))?;
    Ok(json_response(StatusCode::OK, bytes.unwrap_or_default()))
}
