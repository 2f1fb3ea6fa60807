//! `POST /api/v1/cosignatures` and `GET /api/v1/cosignatures`: auditors' cosignatures
//! of the log's checkpoints and tally notes (`crate::cosignatures`).
//!
//! A cosignature is accepted only from an auditor key the operator listed
//! (`campaign-ledger auditor add`), and only over a checkpoint this log signed or a
//! tally of this log's tree as its own replay has it. It is then served appended to
//! `/checkpoint`, tally notes, receipts and export bundles.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use ledger::checkpoint::Checkpoint;
use ledger::note::{Note, NoteSignature};
use projector::tally::{TallyBody, PROJECTOR_VERSION, TALLY_HEADER};
use serde::Serialize;

use super::problem::{ApiError, Problem};
use super::state::AppState;
use super::{blocking, json};
use crate::cosignatures::{Cosignature, Cosigned};

/// Largest note a cosignature may come in.
const MAX_NOTE_BYTES: usize = 64 << 10;

#[derive(Serialize, utoipa::ToSchema)]
pub struct CosignaturesAnswer {
    /// Cosignatures kept (new ones, and those sent before).
    pub accepted: Vec<CosignatureView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CosignatureList {
    pub cosignatures: Vec<CosignatureView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CosignatureView {
    /// `checkpoint` or `tally`.
    pub cosigned: &'static str,
    pub tree_size: u64,
    pub name: String,
    pub vkey: String,
    /// When the auditor cosigned (Unix seconds).
    pub time: u64,
    /// The signature line appended to the note.
    pub line: String,
}

impl From<&Cosignature> for CosignatureView {
    fn from(c: &Cosignature) -> CosignatureView {
        CosignatureView {
            cosigned: match c.cosigned {
                Cosigned::Checkpoint => "checkpoint",
                Cosigned::Tally => "tally",
            },
            tree_size: c.tree_size,
            name: c.name.clone(),
            vkey: c.vkey.clone(),
            time: c.time,
            line: c.line.clone(),
        }
    }
}

fn unprocessable(reason: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, reason, detail)
}

#[utoipa::path(post, path = "/api/v1/cosignatures", tag = "auditors", request_body(content = String, description = "The checkpoint or tally note with the auditor's tlog-cosignature/v1 line(s)", content_type = "text/plain"), responses((status = 201, body = CosignaturesAnswer), (status = 400, body = Problem), (status = 403, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn post_cosignatures(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_NOTE_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("a cosigned note is at most {MAX_NOTE_BYTES} bytes"),
            )
        })?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| ApiError::bad_request("malformed_note", "the note is not UTF-8"))?
        .to_string();
    let note = Note::parse(&text)
        .map_err(|e| ApiError::bad_request("malformed_note", format!("not a signed note: {e}")))?;
    let cosigned = if note.body().starts_with(&format!("{TALLY_HEADER}\n")) {
        Cosigned::Tally
    } else {
        Cosigned::Checkpoint
    };
    let tree_size = {
        let state = state.clone();
        let body = note.body().to_string();
        blocking(move || this_logs_note(&state, cosigned, &body)).await?
    };
    let auditors = state.auditors.verifiers().map_err(ApiError::internal)?;
    let verified = note.verify(&auditors).map_err(|e| match e {
        ledger::Error::UnverifiedNote => ApiError::new(
            StatusCode::FORBIDDEN,
            "unknown_auditor",
            "no signature on the note is by an auditor key this log lists \
             (the operator adds one with `campaign-ledger auditor add VKEY`)",
        ),
        other => unprocessable(
            "bad_cosignature",
            format!("a listed auditor's signature does not verify: {other}"),
        ),
    })?;
    let mut accepted = Vec::new();
    for signature in verified.verified() {
        let Some(auditor) = auditors
            .iter()
            .find(|a| a.name() == signature.name && a.key_id() == signature.key_id)
        else {
            continue;
        };
        let Some(line) = note
            .signatures()
            .iter()
            .find(|s| s.name() == signature.name && s.key_id() == signature.key_id)
            .map(NoteSignature::to_line)
        else {
            continue;
        };
        let Some(time) = verified.cosignature_time(auditor) else {
            return Err(unprocessable(
                "bad_cosignature",
                "an auditor's signature is not a tlog-cosignature/v1 (type 0x04)",
            ));
        };
        let cosignature = Cosignature {
            cosigned,
            tree_size,
            name: auditor.name().to_string(),
            vkey: auditor.vkey(),
            time,
            line,
        };
        let store = state.cosignatures.clone();
        let kept = cosignature.clone();
        blocking(move || store.add(kept).map_err(ApiError::internal)).await?;
        accepted.push(CosignatureView::from(&cosignature));
    }
    // Served tally answers now carry the new line.
    state.forget_views();
    json(StatusCode::CREATED, &CosignaturesAnswer { accepted })
}

/// Checks that `body` is a checkpoint this log signed, or a tally of this log's tree
/// as the projector counts it; returns its tree size.
fn this_logs_note(state: &AppState, cosigned: Cosigned, body: &str) -> Result<u64, ApiError> {
    let not_ours = |what: &str| {
        unprocessable(
            "not_this_log",
            format!("the note is not {what} of this log"),
        )
    };
    let (origin, size, root) = match cosigned {
        Cosigned::Checkpoint => {
            let checkpoint = Checkpoint::parse_body(body).map_err(|e| {
                ApiError::bad_request("malformed_note", format!("not a checkpoint: {e}"))
            })?;
            (checkpoint.origin, checkpoint.size, checkpoint.root)
        }
        Cosigned::Tally => {
            let tally = TallyBody::parse(body).map_err(|e| {
                ApiError::bad_request("malformed_note", format!("not a tally note: {e}"))
            })?;
            if tally.projector_version != PROJECTOR_VERSION {
                return Err(not_ours("a tally of this projector version"));
            }
            (tally.origin, tally.tree_size, tally.root)
        }
    };
    if origin != state.store.origin() {
        return Err(not_ours("a checkpoint or tally"));
    }
    if size > state.store.size() || state.store.root_at(size)? != root {
        return Err(not_ours("of a tree"));
    }
    if cosigned == Cosigned::Tally {
        let text = state.tally_text_at(size)?;
        let ours = TallyBody::new(state.store.hash_alg(), &origin, size, root, &text);
        if ours.to_text() != body {
            return Err(not_ours("the tally"));
        }
    }
    Ok(size)
}

#[utoipa::path(get, path = "/api/v1/cosignatures", tag = "auditors", responses((status = 200, body = CosignatureList)))]
pub(crate) async fn list_cosignatures(
    State(state): State<Arc<AppState>>,
) -> Result<Response, ApiError> {
    let cosignatures = state
        .cosignatures
        .all()
        .iter()
        .map(CosignatureView::from)
        .collect();
    json(StatusCode::OK, &CosignatureList { cosignatures })
}
