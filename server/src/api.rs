//! The HTTP API of DESIGN §6: [`app`] builds the router over an [`AppState`].
//!
//! Handlers parse, call a library and map the result. Every error is an [`ApiError`],
//! answered as RFC 9457 problem+json with a stable `reason`; internal errors are
//! logged and answered with a generic 500 that reveals nothing.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, RwLock};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{middleware, Router};
use base64::Engine;
use ledger::note::NoteSigner;
use ledger::store::Store;
use ledger::tile::TilePath;
use ledger::Entry;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::{AuthFailure, TokenStore};
use crate::idempotency::{scoped_key, MAX_KEY_BYTES};
use crate::input::{parse_request, InputError};
use crate::sequencer::{Accepted, IdempotencyKey, Published, Refusal, Sequencer, Staged};
use crate::vault::Vault;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Most records in one request.
pub const MAX_RECORDS_PER_REQUEST: usize = 1000;

/// Everything the handlers share.
pub struct AppState {
    pub store: Store,
    pub published: Published,
    /// `None` once shutdown has begun: new appends are refused, queued ones finish.
    sequencer: Mutex<Option<Sequencer>>,
    pub tokens: Arc<TokenStore>,
    pub vault: Arc<Vault>,
    pub dedup_key: [u8; 32],
    pub log_key: NoteSigner,
    pub metrics: PrometheusHandle,
    cache: ViewCache,
}

impl AppState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        published: Published,
        sequencer: Sequencer,
        tokens: Arc<TokenStore>,
        vault: Arc<Vault>,
        dedup_key: [u8; 32],
        log_key: NoteSigner,
        metrics: PrometheusHandle,
    ) -> AppState {
        AppState {
            store,
            published,
            sequencer: Mutex::new(Some(sequencer)),
            tokens,
            vault,
            dedup_key,
            log_key,
            metrics,
            cache: ViewCache::default(),
        }
    }
}

type Shared = Arc<AppState>;

/// The router: every route of DESIGN §6 (bar exports, imports and erasure).
pub fn app(state: Shared) -> Router {
    Router::new()
        .route("/", get(crate::dashboard::page))
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/log", get(log_info))
        .route("/api/v1/entries/{index}", get(entry))
        .route("/api/v1/proofs/inclusion", get(inclusion_proof))
        .route("/api/v1/proofs/consistency", get(consistency_proof))
        .route("/api/v1/receipts/{index}", get(receipt))
        .route("/api/v1/tally", get(tally))
        .route("/api/v1/petitions", get(petitions))
        .route("/api/v1/petitions/{id}", get(petition))
        .route("/api/v1/motions", get(motions))
        .route("/api/v1/twin-links", get(twin_links))
        .route("/api/v1/events", get(events))
        .route("/api/v1/campaigns", get(campaigns))
        .route("/api/v1/records", post(post_records))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(crate::metrics::track))
        .with_state(state)
}

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

/// An RFC 9457 problem: status, stable reason, one-line detail.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: &'static str,
    pub detail: String,
    /// Index of the offending record in a batch.
    pub record: Option<usize>,
}

impl ApiError {
    pub fn new(status: StatusCode, reason: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            reason,
            detail: detail.into(),
            record: None,
        }
    }

    /// Logs `error` and answers a generic 500: internal details stay in the log.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %error, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the operator's log has the details",
        )
    }

    fn bad_request(reason: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, reason, detail)
    }

    fn not_found(reason: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, reason, detail)
    }
}

/// The problem+json body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable reason, e.g. `duplicate_signature`.
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<usize>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            reason: self.reason,
            record: self.record,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<InputError> for ApiError {
    fn from(e: InputError) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            reason: e.reason,
            detail: e.detail,
            record: e.record,
        }
    }
}

/// Maps a ledger error from a read to 400/404 for bad queries, 500 otherwise.
fn read_error(e: ledger::Error) -> ApiError {
    match e {
        ledger::Error::IndexOutOfRange { index, size } => ApiError::bad_request(
            "index_out_of_range",
            format!("index {index} is not below the tree size {size}"),
        ),
        ledger::Error::SizeOutOfRange { size, current } => ApiError::bad_request(
            "size_out_of_range",
            format!("tree size {size} is larger than the log ({current})"),
        ),
        ledger::Error::BadRange { from, to } => ApiError::bad_request(
            "bad_range",
            format!("from {from} must be at least 1 and not above to {to}"),
        ),
        other => ApiError::internal(other),
    }
}

/// A list read model as `{"tree_size": N, "<name>": [...]}`.
fn listed<T: Serialize>(
    name: &'static str,
    list: projector::views::AsOf<Vec<T>>,
) -> serde_json::Value {
    json!({"tree_size": list.tree_size, name: list.view})
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take this method; see /api/v1/openapi.json",
    )
}

/// `Path`, with a problem+json answer when the path does not parse.
pub(crate) struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|_| {
                ApiError::bad_request(
                    "invalid_path",
                    "the path is not valid UTF-8 or not of the expected shape",
                )
            })
    }
}

/// `Query`, with a problem+json answer when the query string does not parse.
pub(crate) struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|_| ApiError::bad_request("invalid_query", "the query string does not parse"))
    }
}

async fn not_found() -> ApiError {
    ApiError::not_found("no_such_route", "no such route; see /api/v1/openapi.json")
}

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn b64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

fn json_response(status: StatusCode, body: Bytes) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn text_response(
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

/// Runs a short store read in place. Proofs, leaf hashes, single entries and receipts
/// are a few reads of page-cached files (remembered tree nodes make a proof a handful
/// of 32-byte reads); handing them to the blocking pool would cost more than the read.
/// Anything proportional to the log's size goes through [`blocking`].
fn quick_read<T>(read: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
    read()
}

/// Runs blocking store reads off the executor threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
}

fn parse_u64(name: &'static str, text: Option<&str>) -> Result<Option<u64>, ApiError> {
    match text {
        None => Ok(None),
        Some(text) => text.parse::<u64>().map(Some).map_err(|_| {
            ApiError::bad_request(
                "invalid_query",
                format!("{name} must be a non-negative integer below 2^64"),
            )
        }),
    }
}

fn path_index(text: &str) -> Result<u64, ApiError> {
    text.parse::<u64>().map_err(|_| {
        ApiError::bad_request("invalid_index", "the index must be a non-negative integer")
    })
}

/// Serialized read models, cached per tree size: reads between appends cost a lookup.
#[derive(Default)]
struct ViewCache {
    views: RwLock<HashMap<String, (u64, Bytes)>>,
    /// The last tally of a past tree size; its lock also serialises past replays.
    past_tally: Mutex<Option<(u64, Bytes)>>,
}

impl AppState {
    /// A handle to the sequencer, unless shutdown has begun.
    pub fn sequencer(&self) -> Option<Sequencer> {
        self.sequencer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Drops this state's sequencer handle: once in-flight requests finish, the
    /// sequencer thread drains its queue and stops.
    pub fn close_sequencer(&self) {
        self.sequencer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }

    /// The tree size readers currently see.
    pub fn published_size(&self) -> u64 {
        self.published
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .tree_size()
    }

    /// The JSON of a read model, computed under the read lock (so it matches the tree
    /// size it states) or taken from the cache when the log has not grown since.
    fn view<T: Serialize>(
        &self,
        key: &str,
        make: impl FnOnce(&projector::Projection) -> Result<Option<T>, ApiError>,
    ) -> Result<Option<Bytes>, ApiError> {
        let projection = self.published.read().unwrap_or_else(|e| e.into_inner());
        let size = projection.tree_size();
        {
            let views = self.cache.views.read().unwrap_or_else(|e| e.into_inner());
            if let Some((cached_size, bytes)) = views.get(key) {
                if *cached_size == size {
                    return Ok(Some(bytes.clone()));
                }
            }
        }
        let Some(view) = make(&projection)? else {
            return Ok(None);
        };
        drop(projection);
        let bytes = Bytes::from(serde_json::to_vec(&view).map_err(ApiError::internal)?);
        let mut views = self.cache.views.write().unwrap_or_else(|e| e.into_inner());
        if views.len() > 4096 {
            views.clear();
        }
        views.insert(key.to_owned(), (size, bytes.clone()));
        Ok(Some(bytes))
    }
}

// ---------------------------------------------------------------------------------
// Public reads
// ---------------------------------------------------------------------------------

#[utoipa::path(get, path = "/checkpoint", tag = "tiles", responses((status = 200, description = "The latest signed checkpoint (C2SP tlog-checkpoint)", content_type = "text/plain")))]
pub(crate) async fn checkpoint(State(state): State<Shared>) -> Response {
    let head = state.store.head();
    text_response(
        head.checkpoint.to_string(),
        "text/plain; charset=utf-8",
        "no-cache",
    )
}

#[utoipa::path(get, path = "/tile/{path}", tag = "tiles", params(("path" = String, Path, description = "tlog-tiles path after tile/, e.g. 0/000 or entries/000.p/5")), responses((status = 200, description = "Hash tile or entry bundle", content_type = "application/octet-stream"), (status = 404, body = Problem)))]
pub(crate) async fn tile(
    State(state): State<Shared>,
    ApiPath(path): ApiPath<String>,
) -> Result<Response, ApiError> {
    let full = format!("tile/{path}");
    let tile = TilePath::parse(&full)
        .map_err(|_| ApiError::not_found("invalid_tile_path", "not a tlog-tiles path"))?;
    let store = state.store.clone();
    let bytes = blocking(move || {
        let read = match tile {
            TilePath::Hash {
                level,
                index,
                width,
            } => store.hash_tile(level, index, width),
            TilePath::Entries { index, width } => store.entry_bundle(index, width),
        };
        read.map_err(|e| match e {
            ledger::Error::IndexOutOfRange { .. } => {
                ApiError::not_found("tile_not_found", "this tile is beyond the current tree")
            }
            other => ApiError::internal(other),
        })
    })
    .await?;
    // Full tiles never change; partial ones are replaced by wider ones as the log grows.
    let cache = if tile.is_full() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Ok(text_response(bytes, "application/octet-stream", cache))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthAnswer {
    pub status: &'static str,
    pub tree_size: u64,
}

#[utoipa::path(get, path = "/healthz", tag = "service", responses((status = 200, body = HealthAnswer)))]
pub(crate) async fn healthz(State(state): State<Shared>) -> Response {
    let health = HealthAnswer {
        status: "ok",
        tree_size: state.store.size(),
    };
    json_response(
        StatusCode::OK,
        Bytes::from(serde_json::to_vec(&health).unwrap_or_default()),
    )
}

#[utoipa::path(get, path = "/metrics", tag = "service", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub(crate) async fn metrics_text(State(state): State<Shared>) -> Response {
    text_response(
        state.metrics.render(),
        "text/plain; version=0.0.4; charset=utf-8",
        "no-cache",
    )
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "service", responses((status = 200, description = "This document")))]
pub(crate) async fn openapi() -> Response {
    json_response(StatusCode::OK, Bytes::from(crate::openapi::document()))
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
    /// Base64 root hash.
    pub root: String,
}

#[utoipa::path(get, path = "/api/v1/log", tag = "log", responses((status = 200, body = LogInfo)))]
pub(crate) async fn log_info(State(state): State<Shared>) -> Response {
    let head = state.store.head();
    let info = LogInfo {
        origin: state.store.origin().to_owned(),
        hash: state.store.hash_alg().name(),
        vkey: state.store.verifier().to_string(),
        tree_size: head.size,
        root: b64(&head.root),
    };
    json_response(
        StatusCode::OK,
        Bytes::from(serde_json::to_vec(&info).unwrap_or_default()),
    )
}

#[utoipa::path(get, path = "/api/v1/entries/{index}", tag = "log", params(("index" = u64, Path)), responses((status = 200, description = "Decoded public view, base64 bytes and leaf hash", body = Object), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub(crate) async fn entry(
    State(state): State<Shared>,
    ApiPath(index): ApiPath<String>,
) -> Result<Response, ApiError> {
    let index = path_index(&index)?;
    let store = &state.store;
    let (bytes, leaf) = quick_read(|| {
        let size = store.size();
        if index >= size {
            return Err(ApiError::not_found(
                "unknown_entry",
                format!("there is no entry {index}; the tree size is {size}"),
            ));
        }
        let bytes = store.entry(index).map_err(read_error)?;
        let leaf = store.leaf_hash(index).map_err(read_error)?;
        Ok((bytes, leaf))
    })?;
    let decoded = Entry::decode(&bytes).map_err(ApiError::internal)?;
    let body = json!({
        "index": index,
        "time_ms": decoded.time_ms(),
        "author": decoded.author(),
        "record": crate::input::record_view(decoded.record()),
        "bytes": b64(&bytes),
        "leaf_hash": b64(&leaf),
    });
    Ok(json_response(StatusCode::OK, Bytes::from(body.to_string())))
}

#[derive(Deserialize)]
pub(crate) struct InclusionQuery {
    index: Option<String>,
    tree_size: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/proofs/inclusion", tag = "log", params(("index" = u64, Query), ("tree_size" = Option<u64>, Query, description = "defaults to the current size")), responses((status = 200, body = InclusionAnswer), (status = 400, body = Problem)))]
pub(crate) async fn inclusion_proof(
    State(state): State<Shared>,
    ApiQuery(query): ApiQuery<InclusionQuery>,
) -> Result<Response, ApiError> {
    let index = parse_u64("index", query.index.as_deref())?
        .ok_or_else(|| ApiError::bad_request("invalid_query", "index is required"))?;
    let size = parse_u64("tree_size", query.tree_size.as_deref())?;
    let store = &state.store;
    let body = quick_read(|| {
        let size = size.unwrap_or_else(|| store.size());
        let proof = store.prove_inclusion(index, size).map_err(read_error)?;
        let leaf = store.leaf_hash(index).map_err(read_error)?;
        let root = store.root_at(size).map_err(read_error)?;
        // Written by hand: this is the hottest read, and base64 never needs escaping.
        let mut json = String::with_capacity(128 + 48 * proof.len());
        let _ = write!(
            json,
            r#"{{"index":{index},"tree_size":{size},"leaf_hash":""#
        );
        BASE64.encode_string(leaf, &mut json);
        json.push_str(r#"","root":""#);
        BASE64.encode_string(root, &mut json);
        json.push_str(r#"","proof":["#);
        for (i, hash) in proof.iter().enumerate() {
            json.push_str(if i == 0 { "\"" } else { ",\"" });
            BASE64.encode_string(hash, &mut json);
            json.push('"');
        }
        json.push_str("]}");
        Ok(json)
    })?;
    Ok(json_response(StatusCode::OK, Bytes::from(body)))
}

/// `GET /api/v1/proofs/inclusion`: an RFC 9162 inclusion proof, hashes in base64.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InclusionAnswer {
    pub index: u64,
    pub tree_size: u64,
    pub leaf_hash: String,
    pub root: String,
    pub proof: Vec<String>,
}

#[derive(Deserialize)]
pub(crate) struct ConsistencyQuery {
    from: Option<String>,
    to: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/proofs/consistency", tag = "log", params(("from" = u64, Query), ("to" = Option<u64>, Query, description = "defaults to the current size")), responses((status = 200, description = "RFC 9162 consistency proof, base64 hashes", body = Object), (status = 400, body = Problem)))]
pub(crate) async fn consistency_proof(
    State(state): State<Shared>,
    ApiQuery(query): ApiQuery<ConsistencyQuery>,
) -> Result<Response, ApiError> {
    let from = parse_u64("from", query.from.as_deref())?
        .ok_or_else(|| ApiError::bad_request("invalid_query", "from is required"))?;
    let to = parse_u64("to", query.to.as_deref())?;
    let store = &state.store;
    let body = quick_read(|| {
        let to = to.unwrap_or_else(|| store.size());
        let proof = store.prove_consistency(from, to).map_err(read_error)?;
        let old_root = store.root_at(from).map_err(read_error)?;
        let new_root = store.root_at(to).map_err(read_error)?;
        Ok(json!({
            "from": from,
            "to": to,
            "from_root": b64(&old_root),
            "to_root": b64(&new_root),
            "proof": proof.iter().map(|h| b64(h)).collect::<Vec<_>>(),
        }))
    })?;
    Ok(json_response(StatusCode::OK, Bytes::from(body.to_string())))
}

#[utoipa::path(get, path = "/api/v1/receipts/{index}", tag = "log", params(("index" = u64, Path)), responses((status = 200, description = "C2SP tlog-proof@v1 text", content_type = "text/plain"), (status = 404, body = Problem)))]
pub(crate) async fn receipt(
    State(state): State<Shared>,
    ApiPath(index): ApiPath<String>,
) -> Result<Response, ApiError> {
    let index = path_index(&index)?;
    let store = &state.store;
    let text = quick_read(|| {
        let size = store.size();
        if index >= size {
            return Err(ApiError::not_found(
                "unknown_entry",
                format!("there is no entry {index}; the tree size is {size}"),
            ));
        }
        Ok(store.receipt(index).map_err(read_error)?.to_text())
    })?;
    Ok(text_response(text, "text/plain; charset=utf-8", "no-cache"))
}

#[derive(Deserialize)]
pub(crate) struct TallyQuery {
    tree_size: Option<String>,
}

/// `GET /api/v1/tally`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TallyAnswer {
    pub tree_size: u64,
    /// The signed tally note (DESIGN §3).
    pub note: String,
    /// The tally text whose hash the note signs.
    pub text: String,
}

#[utoipa::path(get, path = "/api/v1/tally", tag = "read models", params(("tree_size" = Option<u64>, Query, description = "a past size replays the prefix")), responses((status = 200, body = TallyAnswer), (status = 400, body = Problem)))]
pub(crate) async fn tally(
    State(state): State<Shared>,
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
            let answer = state2.view("tally", |projection| {
                let size = projection.tree_size();
                signed_tally(&state2, size, projection.tally_text()).map(Some)
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
                projector::Error::Ledger(e) => read_error(e),
                other => ApiError::internal(other),
            })?;
        let answer = signed_tally(&state2, size, text)?;
        let bytes = Bytes::from(serde_json::to_vec(&answer).map_err(ApiError::internal)?);
        *past = Some((size, bytes.clone()));
        Ok(bytes)
    })
    .await?;
    Ok(json_response(StatusCode::OK, bytes))
}

fn signed_tally(state: &AppState, size: u64, text: String) -> Result<TallyAnswer, ApiError> {
    let root = state.store.root_at(size).map_err(read_error)?;
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
pub(crate) async fn petitions(State(state): State<Shared>) -> Result<Response, ApiError> {
    let bytes = state.view("petitions", |p| {
        Ok(Some(listed("petitions", p.petitions())))
    })?;
    Ok(json_response(StatusCode::OK, bytes.unwrap_or_default()))
}

#[utoipa::path(get, path = "/api/v1/petitions/{id}", tag = "read models", params(("id" = String, Path)), responses((status = 200, description = "One petition with its counts, and the tree size", body = Object), (status = 404, body = Problem)))]
pub(crate) async fn petition(
    State(state): State<Shared>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    let bytes = state.view(&format!("petition/{id}"), |p| Ok(p.petition(&id)))?;
    match bytes {
        Some(bytes) => Ok(json_response(StatusCode::OK, bytes)),
        None => Err(ApiError::not_found(
            "unknown_petition",
            "no petition with this id has been opened",
        )),
    }
}

#[utoipa::path(get, path = "/api/v1/motions", tag = "read models", responses((status = 200, description = "Council motions and the tree size", body = Object)))]
pub(crate) async fn motions(State(state): State<Shared>) -> Result<Response, ApiError> {
    let bytes = state.view("motions", |p| Ok(Some(listed("motions", p.motions()))))?;
    Ok(json_response(StatusCode::OK, bytes.unwrap_or_default()))
}

#[utoipa::path(get, path = "/api/v1/twin-links", tag = "read models", responses((status = 200, description = "Twin links with history, and the tree size", body = Object)))]
pub(crate) async fn twin_links(State(state): State<Shared>) -> Result<Response, ApiError> {
    let bytes = state.view("twin-links", |p| {
        Ok(Some(listed("twin_links", p.twin_links())))
    })?;
    Ok(json_response(StatusCode::OK, bytes.unwrap_or_default()))
}

#[utoipa::path(get, path = "/api/v1/events", tag = "read models", responses((status = 200, description = "Event timeline and the tree size", body = Object)))]
pub(crate) async fn events(State(state): State<Shared>) -> Result<Response, ApiError> {
    let bytes = state.view("events", |p| Ok(Some(listed("events", p.events()))))?;
    Ok(json_response(StatusCode::OK, bytes.unwrap_or_default()))
}

#[utoipa::path(get, path = "/api/v1/campaigns", tag = "read models", responses((status = 200, description = "Campaigns, cities joined, links severed, and the tree size", body = Object)))]
pub(crate) async fn campaigns(State(state): State<Shared>) -> Result<Response, ApiError> {
    let bytes = state.view("campaigns", |p| Ok(Some(p.overview())))?;
    Ok(json_response(StatusCode::OK, bytes.unwrap_or_default()))
}

// ---------------------------------------------------------------------------------
// Appends
// ---------------------------------------------------------------------------------

/// One appended entry in a `201` answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AppendedEntry {
    pub index: u64,
    /// Base64 leaf hash.
    pub leaf_hash: String,
}

/// The `201` answer of `POST /api/v1/records`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AppendAnswer {
    /// Index of the first (or only) record.
    pub index: u64,
    pub leaf_hash: String,
    pub entries: Vec<AppendedEntry>,
    /// The size of the tree whose signed checkpoint covers the entries.
    pub tree_size: u64,
    pub root: String,
    /// The signed checkpoint note, durable before this answer.
    pub checkpoint: String,
}

fn append_answer(accepted: &Accepted) -> AppendAnswer {
    let entries: Vec<AppendedEntry> = accepted
        .leaf_hashes
        .iter()
        .enumerate()
        .map(|(i, leaf)| AppendedEntry {
            index: accepted.first_index + i as u64,
            leaf_hash: b64(leaf),
        })
        .collect();
    AppendAnswer {
        index: accepted.first_index,
        leaf_hash: entries
            .first()
            .map(|e| e.leaf_hash.clone())
            .unwrap_or_default(),
        entries,
        tree_size: accepted.tree_size,
        root: b64(&accepted.root),
        checkpoint: accepted.checkpoint.to_string(),
    }
}

fn refusal_error(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Rejected {
            position,
            rejection,
        } => {
            let status = match rejection {
                projector::Rejection::DuplicateSignature => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            ApiError {
                status,
                reason: rejection.reason(),
                detail: rejection.to_string(),
                record: Some(position),
            }
        }
        Refusal::OutOfScope { position } => ApiError {
            record: Some(position),
            ..ApiError::new(
                StatusCode::FORBIDDEN,
                "out_of_scope",
                "this token's scope does not cover this record",
            )
        },
        Refusal::Forbidden => ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_role",
            "this token's role may not append records",
        ),
        Refusal::IdempotencyConflict => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_conflict",
            "this Idempotency-Key was used with a different request body",
        ),
        Refusal::Internal(message) => ApiError::internal(message),
    }
}

/// Authenticates the bearer token of a request.
pub fn authenticate(
    tokens: &TokenStore,
    headers: &HeaderMap,
) -> Result<crate::auth::TokenRecord, ApiError> {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    tokens.authenticate(header).map_err(|failure| {
        let (reason, detail) = match failure {
            AuthFailure::Missing => ("missing_token", "send Authorization: Bearer <token>"),
            AuthFailure::Invalid => ("invalid_token", "this token is not valid here"),
            AuthFailure::Revoked => ("revoked_token", "this token has been revoked"),
        };
        ApiError::new(StatusCode::UNAUTHORIZED, reason, detail)
    })
}

#[utoipa::path(post, path = "/api/v1/records", tag = "records", request_body(content = Object, description = "One record (`type` + snake_case fields) or {\"records\": [...]}", content_type = "application/json"), params(("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key and body returns the first answer")), security(("bearer" = [])), responses((status = 201, body = AppendAnswer), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn post_records(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let token = authenticate(&state.tokens, &headers)?;
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let is_json = content_type
            .to_str()
            .map(|v| {
                let essence = v.split(';').next().unwrap_or("").trim();
                essence.eq_ignore_ascii_case("application/json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the records as application/json",
            ));
        }
    }
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => {
            let key = value
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_BYTES)
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_idempotency_key",
                        "Idempotency-Key must be 1 to 255 visible ASCII characters",
                    )
                })?;
            Some(key.to_owned())
        }
    };
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
            )
        })?;
    let staged = stage(&state, &body)?;
    let batch = staged.len() > 1;
    let idempotency = idempotency_key.map(|key| IdempotencyKey {
        scoped_key: scoped_key(&token.id, &key),
        fingerprint: *blake3::hash(&body).as_bytes(),
    });
    let sequencer = state.sequencer().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down; retry shortly",
        )
    })?;
    let accepted = sequencer
        .submit(token, idempotency, staged)
        .await
        .map_err(|refusal| {
            let mut error = refusal_error(refusal);
            if !batch {
                error.record = None;
            }
            error
        })?;
    let answer = append_answer(&accepted);
    let mut response = json_response(
        StatusCode::CREATED,
        Bytes::from(serde_json::to_vec(&answer).map_err(ApiError::internal)?),
    );
    if accepted.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Parses, validates and prepares the records of a request body: signatures get their
/// dedup tag and commitment, and their personal data is sealed for the vault.
pub fn stage(state: &AppState, body: &[u8]) -> Result<Vec<Staged>, ApiError> {
    let inputs = parse_request(body)?;
    if inputs.len() > MAX_RECORDS_PER_REQUEST {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("at most {MAX_RECORDS_PER_REQUEST} records per request"),
        ));
    }
    let batch = inputs.len() > 1;
    let alg = state.store.hash_alg();
    let mut rng = rand::thread_rng();
    let mut staged = Vec::with_capacity(inputs.len());
    for (position, input) in inputs.into_iter().enumerate() {
        let prepared = input.prepare(alg, &state.dedup_key, &mut rng, batch.then_some(position))?;
        let sealed = match (&prepared.personal, &prepared.record) {
            (Some((data, salt)), ledger::Record::SignatureAdded(signature)) => {
                Some(state.vault.seal(data, salt, signature.commitment))
            }
            _ => None,
        };
        staged.push(Staged {
            record: prepared.record,
            sealed,
        });
    }
    Ok(staged)
}
