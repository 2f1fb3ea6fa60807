//! The log itself: checkpoint and tiles (C2SP tlog-tiles, so any static host could
//! serve them too), the log's identity, single entries, proofs and receipts.
//!
//! Proofs, leaf hashes, single entries and receipts are a few reads of page-cached
//! files (remembered tree nodes make a proof a handful of 32-byte reads), so they run
//! in place on the executor: handing them to the blocking pool costs more than the
//! read. Tiles, whose size grows with the request, run on the blocking pool.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ledger::merkle::{ConsistencyProof, InclusionProof};
use ledger::tile::TilePath;
use ledger::{Entry, Hash};
use serde::{Deserialize, Serialize};

use super::problem::{parse_u64, path_index, ApiError, ApiPath, ApiQuery, Problem};
use super::state::AppState;
use super::{json, json_response, text, CACHE_NEVER};

#[utoipa::path(get, path = "/checkpoint", tag = "tiles", responses((status = 200, description = "The latest signed checkpoint (C2SP tlog-checkpoint)", content_type = "text/plain")))]
pub(crate) async fn checkpoint(State(state): State<Arc<AppState>>) -> Response {
    let head = state.store.head();
    text(
        state.cosignatures.cosigned_checkpoint(&head.checkpoint),
        "text/plain; charset=utf-8",
        CACHE_NEVER,
    )
}

#[utoipa::path(get, path = "/tile/{path}", tag = "tiles", params(("path" = String, Path, description = "tlog-tiles path after tile/, e.g. 0/000 or entries/000.p/5")), responses((status = 200, description = "Hash tile or entry bundle", content_type = "application/octet-stream"), (status = 404, body = Problem)))]
pub(crate) async fn tile(
    State(state): State<Arc<AppState>>,
    ApiPath(path): ApiPath<String>,
) -> Result<Response, ApiError> {
    let full = format!("tile/{path}");
    let tile = TilePath::parse(&full)
        .map_err(|_| ApiError::not_found("invalid_tile_path", "not a tlog-tiles path"))?;
    // One read of at most one frame (an entry bundle) or 8 KiB (a hash tile) from
    // page-cached files: done in place, as proofs are (handing it to the blocking pool
    // cost more than the read; an audit fetches thousands of tiles).
    let read = match tile {
        TilePath::Hash {
            level,
            index,
            width,
        } => state.store.hash_tile(level, index, width),
        TilePath::Entries { index, width } => state.store.entry_bundle(index, width),
    };
    let bytes = read.map_err(|e| match e {
        // A tile whose entries lie past 2^64 is beyond any tree the log can have.
        ledger::Error::IndexOutOfRange { .. } | ledger::Error::MalformedTile(_) => {
            ApiError::not_found("tile_not_found", "this tile is beyond the current tree")
        }
        other => ApiError::from(other),
    })?;
    // A tile never changes, full or partial: a wider partial tile has another path.
    Ok(text(
        bytes,
        "application/octet-stream",
        "public, max-age=31536000, immutable",
    ))
}

/// `GET /api/v1/log`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LogInfo {
    pub origin: String,
    /// `blake3` or `sha256`.
    pub hash: &'static str,
    /// The log's signed-note verifier key.
    pub vkey: String,
    pub tree_size: u64,
    pub root: Hash,
}

impl LogInfo {
    /// The log of `store` at its current head.
    pub fn of(store: &ledger::store::Store) -> LogInfo {
        let head = store.head();
        LogInfo {
            origin: store.origin().to_owned(),
            hash: store.hash_alg().name(),
            vkey: store.verifier().to_string(),
            tree_size: head.size,
            root: head.root,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/log", tag = "log", responses((status = 200, body = LogInfo)))]
pub(crate) async fn log_info(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    json(StatusCode::OK, &LogInfo::of(&state.store))
}

/// `GET /api/v1/entries/{index}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EntryAnswer {
    pub index: u64,
    /// When the sequencer accepted it, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The public id of the token that appended it.
    pub author: String,
    /// The record's public view: `type` and the fields of its kind (see the record
    /// schemas), without personal data.
    #[schema(value_type = Object)]
    pub record: serde_json::Value,
    /// The entry's bytes, standard base64.
    pub bytes: String,
    pub leaf_hash: Hash,
}

#[utoipa::path(get, path = "/api/v1/entries/{index}", tag = "log", params(("index" = u64, Path)), responses((status = 200, body = EntryAnswer), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub(crate) async fn entry(
    State(state): State<Arc<AppState>>,
    ApiPath(index): ApiPath<String>,
) -> Result<Response, ApiError> {
    use base64::Engine as _;
    let index = logged_index(&state, &index)?;
    let store = &state.store;
    let bytes = store.entry(index)?;
    let leaf_hash = store.leaf_hash(index)?;
    let decoded = Entry::decode(&bytes).map_err(ApiError::internal)?;
    json(
        StatusCode::OK,
        &EntryAnswer {
            index,
            time_ms: decoded.time_ms(),
            author: decoded.author().to_owned(),
            record: crate::input::record_view(decoded.record()),
            bytes: base64::engine::general_purpose::STANDARD.encode(&bytes),
            leaf_hash,
        },
    )
}

/// The log index of a path, which must be below the tree size.
fn logged_index(state: &AppState, text: &str) -> Result<u64, ApiError> {
    let (index, size) = (path_index(text)?, state.store.size());
    if index >= size {
        return Err(ApiError::not_found(
            "unknown_entry",
            format!("there is no entry {index}; the tree size is {size}"),
        ));
    }
    Ok(index)
}

#[derive(Deserialize)]
pub(crate) struct InclusionQuery {
    index: Option<String>,
    tree_size: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/proofs/inclusion", tag = "log", params(("index" = u64, Query), ("tree_size" = Option<u64>, Query, description = "defaults to the current size")), responses((status = 200, description = "RFC 9162 inclusion proof with the leaf hash and root it connects", body = InclusionProof), (status = 400, body = Problem)))]
pub(crate) async fn inclusion_proof(
    State(state): State<Arc<AppState>>,
    ApiQuery(query): ApiQuery<InclusionQuery>,
) -> Result<Response, ApiError> {
    let index = parse_u64("index", query.index.as_deref())?
        .ok_or_else(|| ApiError::bad_request("invalid_query", "index is required"))?;
    let size = parse_u64("tree_size", query.tree_size.as_deref())?;
    let proof = state.store.inclusion_proof(index, size)?;
    Ok(json_response(StatusCode::OK, proof.to_json().into()))
}

#[derive(Deserialize)]
pub(crate) struct ConsistencyQuery {
    from: Option<String>,
    to: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/proofs/consistency", tag = "log", params(("from" = u64, Query), ("to" = Option<u64>, Query, description = "defaults to the current size")), responses((status = 200, description = "RFC 9162 consistency proof with the two roots it connects", body = ConsistencyProof), (status = 400, body = Problem)))]
pub(crate) async fn consistency_proof(
    State(state): State<Arc<AppState>>,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    let from = parse_u64("from", query.from.as_deref())?
        .ok_or_else(|| ApiError::bad_request("invalid_query", "from is required"))?;
    let to = parse_u64("to", query.to.as_deref())?;
    json(StatusCode::OK, &state.store.consistency_proof(from, to)?)
}

#[utoipa::path(get, path = "/api/v1/receipts/{index}", tag = "log", params(("index" = u64, Path)), responses((status = 200, description = "C2SP tlog-proof@v1 text", content_type = "text/plain"), (status = 404, body = Problem)))]
pub(crate) async fn receipt(
    State(state): State<Arc<AppState>>,
    ApiPath(index): ApiPath<String>,
) -> Result<Response, ApiError> {
    let index = logged_index(&state, &index)?;
    let mut receipt = state.store.receipt(index)?;
    receipt.checkpoint_note = state
        .cosignatures
        .cosigned_checkpoint(&receipt.checkpoint_note);
    // The entry itself rides in the `extra` line, so `campaign-ledger verify` can check
    // the receipt with nothing else (it is trusted only once the proof holds for it).
    receipt.extra = Some(state.store.entry(index)?);
    let receipt = receipt.to_text();
    Ok(text(receipt, "text/plain; charset=utf-8", CACHE_NEVER))
}
