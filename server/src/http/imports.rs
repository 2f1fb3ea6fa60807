//! `POST /api/v1/imports/paper`: a paper batch from a CSV body, appended as one
//! all-or-nothing request (`crate::import` explains the design and reads the file).
//!
//! In order, each step refusing before the next costs anything: the token (and
//! whether its role and scope may enter a batch of this petition), the content type,
//! the batch's query parameters, the body's size (a Content-Length over
//! [`MAX_IMPORT_BYTES`] before reading a byte, otherwise as soon as that many have
//! come), the file, every row, then the sequencer's decision against the log, asked
//! for every refusal so that each bad row is named.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Extension;
use ledger::{DedupTag, Hash, SignerSecret};
use projector::Rejection;
use serde::Serialize;

use super::listen::BodyReadTimeout;
use super::problem::{parse_u64, problem_json, ApiError, ApiQuery, Problem};
use super::records::{
    authenticate, idempotency_key, petition_dedup_key, read_body, rejected, replayed,
    require_content_type,
};
use super::state::AppState;
use super::{blocking, json};
use crate::auth::{Role, Scope, TokenRecord};
use crate::idempotency::scoped_key;
use crate::import::{
    self, Column, FileError, Keys, Metadata, RowProblem, MAX_IMPORT_BYTES, MAX_REPORTED_ROWS,
};
use crate::sequencer::{Decision, IdempotencyKey, RecordRefusal, Refusal, Staged};

/// The `201` answer of an import, or the `200` of a dry run (which has no indexes and
/// no checkpoint).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ImportAnswer {
    pub dry_run: bool,
    pub batch_id: String,
    pub petition_id: String,
    /// Signatures entered: the file's rows.
    pub count: u64,
    /// The log index of the `paper_batch.recorded`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_index: Option<u64>,
    /// The log indexes of the first and last row's signature (consecutive, in row
    /// order, right after the batch record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_signature_index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_signature_index: Option<u64>,
    /// The size of the tree whose signed checkpoint covers them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<Hash>,
    /// The signed checkpoint note, durable before this answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// Each row's signer secret, in row order (the signature at
    /// `first_signature_index + i` commits to the `i`th): for the organisers to hand on
    /// to signers they can reach, so that those can withdraw or have their data erased
    /// themselves. Shown in this answer only (and a retry's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub signer_secrets: Vec<SignerSecret>,
}

/// The `422 invalid_rows` problem: a [`Problem`] with the bad rows.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ImportProblem {
    #[serde(flatten)]
    pub problem: Problem,
    /// The first [`MAX_REPORTED_ROWS`] bad rows, in row order.
    pub rows: Vec<RowProblem>,
    /// How many more bad rows there were.
    pub more_rows: usize,
}

/// The query parameters an import takes.
const PARAMETERS: &[&str] = &[
    "batch_id",
    "petition_id",
    "collector",
    "stall",
    "event_id",
    "sheet_scan_hash",
    "declared_count",
    "country",
    "dry_run",
];

#[utoipa::path(post, path = "/api/v1/imports/paper", tag = "records",
    request_body(content = String, description = "CSV: a header (name, postcode; optional email, address, constituency, ward, council, country, consent_to_share) and one row per signer", content_type = "text/csv"),
    params(
        ("batch_id" = String, Query, description = "the paper batch's id (new)"),
        ("petition_id" = String, Query, description = "the petition signed"),
        ("collector" = String, Query, description = "the collector's handle (never a name)"),
        ("stall" = Option<String>, Query, description = "where the sheets were filled in (or event_id)"),
        ("event_id" = Option<String>, Query, description = "the event they were filled in at (or stall)"),
        ("sheet_scan_hash" = Option<String>, Query, description = "H(scanned sheets), standard base64"),
        ("declared_count" = Option<u64>, Query, description = "the count written on the sheets: the file must have as many rows"),
        ("country" = Option<String>, Query, description = "the country of rows without one (default GB)"),
        ("dry_run" = Option<bool>, Query, description = "check everything, append nothing"),
        ("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key, parameters and body returns the first answer"),
    ),
    security(("bearer" = [])),
    responses((status = 201, body = ImportAnswer), (status = 200, body = ImportAnswer, description = "a dry run that would succeed"), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = ImportProblem)))]
pub(crate) async fn post_paper_import(
    State(state): State<Arc<AppState>>,
    body_read_timeout: Option<Extension<BodyReadTimeout>>,
    ApiQuery(query): ApiQuery<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let token = authenticate(&state.tokens, &headers)?;
    let (meta, dry_run, canonical_query) = metadata(&query)?;
    may_import(&token, &meta.petition_id)?;
    require_content_type(&headers, "text/csv", "send the file as text/csv")?;
    let idempotency_key = idempotency_key(&headers)?;
    meta.check(state.store.hash_alg()).map_err(file_error)?;
    // Drawn (for a petition's first signatures) only for a batch that passed the
    // checks above, as `POST /api/v1/records` draws it only for a request it read.
    let dedup_key = petition_dedup_key(&state, &meta.petition_id, 0).map_err(ApiError::whole)?;
    let body = read_body(body, body_read_timeout, MAX_IMPORT_BYTES).await?;
    let idempotency = idempotency_key.map(|key| {
        let mut hasher = blake3::Hasher::new();
        hasher.update(canonical_query.as_bytes());
        hasher.update(&[0]);
        hasher.update(&body);
        IdempotencyKey {
            scoped_key: scoped_key(&token.id, &format!("import:{key}")),
            fingerprint: *hasher.finalize().as_bytes(),
        }
    });
    let prepared = {
        let state = state.clone();
        let meta = meta.clone();
        blocking(move || {
            let keys = Keys {
                alg: state.store.hash_alg(),
                dedup_key: &dedup_key,
                vault: &state.vault,
            };
            import::prepare(&body, &meta, keys).map_err(file_error)
        })
        .await?
    };
    let import::Prepared {
        batch,
        rows,
        row_count,
    } = prepared;
    let import::StagedRows {
        staged,
        rows: row_tags,
        problems: mut bad_rows,
    } = rows;
    let mut records: Vec<Staged> = Vec::with_capacity(1 + staged.len());
    records.push(batch);
    records.extend(staged);
    // With bad rows already found, the good ones are still decided against the log (a
    // dry run), so the answer names every bad row at once.
    let decision = Decision {
        every_refusal: true,
        dry_run: dry_run || !bad_rows.is_empty(),
    };
    let sequencer = state.running_sequencer()?;
    let outcome = sequencer
        .submit_decided(token, idempotency, records, decision)
        .await;
    match outcome {
        Err(Refusal::RejectedMany(refused)) => {
            // The batch record refused, or a row for a reason that is not the row's
            // own (the petition is closed, say): every row would be, so the import as
            // a whole is answered. A row's own reason is that its signer already signed.
            let whole = refused
                .iter()
                .find(|r| r.position == 0 || !matches!(r.rejection, Rejection::DuplicateSignature));
            if let Some(whole) = whole {
                return Err(rejected(0, &whole.rejection).whole());
            }
            bad_rows.extend(refused.iter().map(|r| row_refused(r, &row_tags)));
        }
        Err(refusal) => return Err(ApiError::from(refusal).whole()),
        Ok(accepted) if bad_rows.is_empty() => {
            let count = row_count as u64;
            let answer = ImportAnswer {
                dry_run,
                batch_id: meta.batch_id,
                petition_id: meta.petition_id,
                count,
                batch_index: (!dry_run).then_some(accepted.first_index),
                first_signature_index: (!dry_run).then_some(accepted.first_index + 1),
                last_signature_index: (!dry_run).then_some(accepted.first_index + count),
                tree_size: (!dry_run).then_some(accepted.tree_size),
                root: (!dry_run).then_some(accepted.root),
                checkpoint: (!dry_run).then(|| accepted.checkpoint.to_string()),
                signer_secrets: accepted.signer_secrets.iter().flatten().copied().collect(),
            };
            let status = if dry_run {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            return Ok(replayed(json(status, &answer)?, accepted.replayed));
        }
        Ok(_) => {}
    }
    Ok(invalid_rows(bad_rows, row_count))
}

/// The batch's metadata from the query, whether it is a dry run, and the query in one
/// canonical spelling (for idempotency fingerprints).
fn metadata(query: &[(String, String)]) -> Result<(Metadata, bool, String), ApiError> {
    let mut given: BTreeMap<&'static str, &str> = BTreeMap::new();
    for (name, value) in query {
        let Some(known) = PARAMETERS.iter().find(|p| **p == name) else {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!(
                    "unknown query parameter; the parameters are {}",
                    PARAMETERS.join(", ")
                ),
            ));
        };
        if given.insert(known, value).is_some() {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("{known} is given more than once"),
            ));
        }
    }
    let required = |name: &'static str| {
        given.get(name).map(|v| v.to_string()).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                format!("{name} is required (batch_id, petition_id and collector always are)"),
            )
        })
    };
    let optional = |name: &'static str| given.get(name).map(|v| v.to_string());
    let meta = Metadata {
        batch_id: required("batch_id")?,
        petition_id: required("petition_id")?,
        collector: required("collector")?,
        stall: optional("stall"),
        event_id: optional("event_id"),
        sheet_scan_hash: optional("sheet_scan_hash"),
        declared_count: parse_u64("declared_count", given.get("declared_count").copied())?,
        country: optional("country"),
    };
    if meta.stall.is_some() && meta.event_id.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "give the stall or the event_id, not both",
        ));
    }
    let dry_run = match given.get("dry_run").copied() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "dry_run must be true or false",
            ))
        }
    };
    let canonical = given
        .iter()
        .filter(|(name, _)| **name != "dry_run")
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("\n");
    Ok((meta, dry_run, canonical))
}

/// Whether the token may enter a paper batch of `petition_id`: an admin, an organiser
/// without a scope or scoped to that petition. Checked here so that a token that may
/// not is refused before its upload is read; the sequencer checks again.
fn may_import(token: &TokenRecord, petition_id: &str) -> Result<(), ApiError> {
    if token.role == Role::Exporter {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_role",
            "this token's role may not append records",
        ));
    }
    match &token.scope {
        None => Ok(()),
        Some(Scope::Petition(scoped)) if scoped == petition_id => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "out_of_scope",
            "this token's scope does not cover this petition's paper batches",
        )),
    }
}

fn file_error(e: FileError) -> ApiError {
    ApiError::new(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        e.reason,
        e.detail,
    )
}

/// A row's signature refused by the log's rules. `row_tags[i]` is the row of the
/// record at position `i + 1` (after the batch record).
fn row_refused(refused: &RecordRefusal, row_tags: &[(u64, Vec<(Column, DedupTag)>)]) -> RowProblem {
    let tagged = refused
        .position
        .checked_sub(1)
        .and_then(|i| row_tags.get(i));
    match (tagged, &refused.rejection) {
        (Some((row, identities)), Rejection::DuplicateSignature) => {
            let column = identities
                .iter()
                .find(|(_, tag)| refused.signed.contains(tag))
                .map(|(column, _)| *column);
            RowProblem {
                row: *row,
                column,
                reason: "already_signed",
                detail: format!(
                    "this signer (by {}) has already signed this petition",
                    column.map_or("one of their identities", import::identity_words)
                ),
            }
        }
        (tagged, rejection) => RowProblem {
            row: tagged.map_or(0, |(row, _)| *row),
            column: None,
            reason: rejection.reason(),
            detail: rejection.to_string(),
        },
    }
}

/// `422 invalid_rows`, naming the first [`MAX_REPORTED_ROWS`] bad rows.
fn invalid_rows(mut bad_rows: Vec<RowProblem>, row_count: usize) -> Response {
    bad_rows.sort_by_key(|p| p.row);
    let total = bad_rows.len();
    let more_rows = total.saturating_sub(MAX_REPORTED_ROWS);
    bad_rows.truncate(MAX_REPORTED_ROWS);
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    let detail = format!(
        "{total} of the file's {row_count} signer rows are refused, so nothing was \
         appended: correct them and send the whole file again"
    );
    let answer = ImportProblem {
        problem: ApiError::new(status, "invalid_rows", detail).into(),
        rows: bad_rows,
        more_rows,
    };
    problem_json(status, &answer)
}
