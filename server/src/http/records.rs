//! `POST /api/v1/records`: authenticate, parse and prepare the records, hand them to
//! the sequencer, and answer once they are durable and covered by a signed checkpoint.

use std::sync::Arc;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Extension;
use http_body_util::LengthLimitError;
use ledger::{Hash, SignerSecret};
use serde::Serialize;

use super::json;
use super::listen::{BodyReadTimeout, DEFAULT_BODY_READ_TIMEOUT};
use super::problem::{ApiError, Problem};
use super::state::AppState;
use crate::auth::{AuthFailure, TokenRecord, TokenStore};
use crate::dedup_keys::KeyFor;
use crate::idempotency::{scoped_key, MAX_KEY_BYTES};
use crate::input::parse_request;
use crate::locks;
use crate::sequencer::{Accepted, IdempotencyKey, Refusal, Staged};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Most records in one request.
pub const MAX_RECORDS_PER_REQUEST: usize = 1000;

/// One appended entry in a `201` answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AppendedEntry {
    pub index: u64,
    pub leaf_hash: Hash,
    /// For a signature: the secret its entry commits to, for the signer to withdraw it
    /// or have their data erased without a token. Shown in this answer only (and in a
    /// retry's, for as long as its `Idempotency-Key` is remembered): hand it to the
    /// signer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub signer_secret: Option<SignerSecret>,
}

/// The `201` answer of `POST /api/v1/records`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AppendAnswer {
    /// Index of the first (or only) record.
    pub index: u64,
    pub leaf_hash: Hash,
    pub entries: Vec<AppendedEntry>,
    /// The size of the tree whose signed checkpoint covers the entries.
    pub tree_size: u64,
    pub root: Hash,
    /// The signed checkpoint note, durable before this answer.
    pub checkpoint: String,
}

impl From<&Accepted> for AppendAnswer {
    fn from(accepted: &Accepted) -> AppendAnswer {
        let entries: Vec<AppendedEntry> = accepted
            .leaf_hashes
            .iter()
            .enumerate()
            .map(|(i, leaf)| AppendedEntry {
                index: accepted.first_index + i as u64,
                leaf_hash: *leaf,
                signer_secret: accepted.signer_secrets.get(i).copied().flatten(),
            })
            .collect();
        AppendAnswer {
            index: accepted.first_index,
            leaf_hash: entries.first().map(|e| e.leaf_hash).unwrap_or_default(),
            entries,
            tree_size: accepted.tree_size,
            root: accepted.root,
            checkpoint: accepted.checkpoint.to_string(),
        }
    }
}

/// The answer to the decision rules' refusal of the record at `position`.
pub(super) fn rejected(position: usize, rejection: &projector::Rejection) -> ApiError {
    let status = match rejection {
        projector::Rejection::DuplicateSignature | projector::Rejection::AlreadyErased { .. } => {
            StatusCode::CONFLICT
        }
        projector::Rejection::NotASignature { .. } => StatusCode::NOT_FOUND,
        projector::Rejection::WrongSignerSecret { .. } => StatusCode::FORBIDDEN,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    };
    ApiError::new(status, rejection.reason(), rejection.to_string()).at(position)
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        match refusal {
            Refusal::Rejected {
                position,
                rejection,
            } => rejected(position, &rejection),
            // Only imports ask for every refusal, and they answer each themselves;
            // anything else names the first.
            Refusal::RejectedMany(refused) => match refused.first() {
                Some(first) => rejected(first.position, &first.rejection),
                None => ApiError::internal("a refusal that names no record"),
            },
            Refusal::OutOfScope { position } => ApiError::new(
                StatusCode::FORBIDDEN,
                "out_of_scope",
                "this token's scope does not cover this record",
            )
            .at(position),
            Refusal::TooLarge { position, bytes } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "entry_too_large",
                format!(
                    "this record encodes to {bytes} bytes, over the {} an entry may hold; \
                     split it into smaller records",
                    ledger::entry::MAX_ENTRY_BYTES
                ),
            )
            .at(position),
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
            Refusal::StorageFull => ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "storage_full",
                "the server's disk is full; nothing was written. Try again later: appends \
                 resume by themselves once there is room",
            ),
            Refusal::Internal(message) => ApiError::internal(message),
        }
    }
}

/// Authenticates the bearer token of a request.
pub fn authenticate(tokens: &TokenStore, headers: &HeaderMap) -> Result<TokenRecord, ApiError> {
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

#[utoipa::path(post, path = "/api/v1/records", tag = "records", request_body(content = crate::input::RecordsBody, description = "One record (`type` + snake_case fields) or {\"records\": [...]}", content_type = "application/json"), params(("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key and body returns the first answer")), security(("bearer" = [])), responses((status = 201, body = AppendAnswer), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn post_records(
    State(state): State<Arc<AppState>>,
    body_read_timeout: Option<Extension<BodyReadTimeout>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let token = authenticate(&state.tokens, &headers)?;
    require_content_type(
        &headers,
        "application/json",
        "send the records as application/json",
    )?;
    let idempotency_key = idempotency_key(&headers)?;
    let body = read_body(body, body_read_timeout, MAX_BODY_BYTES).await?;
    let staged = stage(&state, &body)?;
    let batch = staged.len() > 1;
    let idempotency = idempotency_key.map(|key| IdempotencyKey {
        scoped_key: scoped_key(&token.id, &key),
        fingerprint: *blake3::hash(&body).as_bytes(),
    });
    let sequencer = state.running_sequencer()?;
    let accepted = sequencer
        .submit(token, idempotency, staged)
        .await
        .map_err(|refusal| match ApiError::from(refusal) {
            error if batch => error,
            error => error.whole(),
        })?;
    let answer = json(StatusCode::CREATED, &AppendAnswer::from(&accepted))?;
    Ok(replayed(answer, accepted.replayed))
}

/// `answer`, marked `Idempotent-Replayed` if it repeats a remembered one.
pub(super) fn replayed(mut answer: Response, replayed: bool) -> Response {
    if replayed {
        answer
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    answer
}

/// Refuses (415 `unsupported_media_type`, `detail`) a request whose content type is
/// not `essence` (parameters and case do not matter); no content type is taken as it.
pub(super) fn require_content_type(
    headers: &HeaderMap,
    essence: &str,
    detail: &'static str,
) -> Result<(), ApiError> {
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let given = content_type.to_str().unwrap_or("").split(';').next();
    if given.is_some_and(|given| given.trim().eq_ignore_ascii_case(essence)) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            detail,
        ))
    }
}

/// The `Idempotency-Key` header: at most one, of 1 to 255 visible ASCII characters
/// (no spaces or tabs, which proxies may trim or fold).
pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_idempotency_key",
            "send at most one Idempotency-Key, of 1 to 255 visible ASCII characters",
        )
    };
    let mut values = headers.get_all("idempotency-key").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(invalid());
    }
    let key = value.as_bytes();
    if key.is_empty() || key.len() > MAX_KEY_BYTES || !key.iter().all(u8::is_ascii_graphic) {
        return Err(invalid());
    }
    Ok(Some(String::from_utf8_lossy(key).into_owned()))
}

/// Reads the whole request body, at most `limit` bytes, within the body-read timeout
/// the listener set for this request (`timeout`; the default without one). Too long a
/// body is 413, refused before anything is read when its Content-Length says so and
/// otherwise as soon as `limit` bytes have come; a body that cannot be read
/// (truncated, malformed chunking, shorter than its Content-Length) is 400; one that
/// does not arrive in time is 408.
pub(super) async fn read_body(
    body: Body,
    timeout: Option<Extension<BodyReadTimeout>>,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let timeout = timeout.map_or(DEFAULT_BODY_READ_TIMEOUT, |Extension(read)| read.0);
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    };
    // A Content-Length over the limit is refused before anything is read.
    if body.size_hint().lower() > limit as u64 {
        return Err(too_large());
    }
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, limit));
    let Ok(read) = read.await else {
        return Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!(
                "the request body did not arrive within {} seconds",
                timeout.as_secs()
            ),
        ));
    };
    read.map_err(|error| {
        let over_limit =
            std::iter::successors(Some(&error as &(dyn std::error::Error + 'static)), |e| {
                e.source()
            })
            .any(|e| e.is::<LengthLimitError>());
        if over_limit {
            too_large()
        } else {
            ApiError::bad_request(
                "invalid_body",
                "the request body could not be read: it ended early or its chunked \
                 encoding is malformed",
            )
        }
    })
}

/// The key to tag signatures of `petition_id` with (`crate::dedup_keys`).
pub(super) fn petition_dedup_key(
    state: &AppState,
    petition_id: &str,
    position: usize,
) -> Result<[u8; 32], ApiError> {
    let tagged_before = || {
        let published = locks::read(&state.published);
        published.signatures_added(petition_id).unwrap_or(0) > 0
    };
    match state.dedup_keys.key_for(petition_id, tagged_before) {
        Ok(KeyFor::Key(key)) => Ok(key),
        Ok(KeyFor::Destroyed) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "petition_closed",
            "the petition closed, and its retention period has ended",
        )
        .at(position)),
        Err(e) => Err(ApiError::internal(e)),
    }
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
        let dedup_key = match input.signature_petition() {
            Some(petition_id) => petition_dedup_key(state, petition_id.as_str(), position)?,
            // Only signatures are tagged.
            None => [0; 32],
        };
        let prepared = input.prepare(alg, &dedup_key, &mut rng, batch.then_some(position))?;
        let sealed = match (&prepared.personal, prepared.record.signature()) {
            (Some((data, salt)), Some(signature)) => {
                Some(state.vault.seal(data, salt, signature.commitment))
            }
            _ => None,
        };
        staged.push(Staged {
            record: prepared.record,
            sealed,
            signer_secret: prepared.signer_secret,
        });
    }
    Ok(staged)
}
