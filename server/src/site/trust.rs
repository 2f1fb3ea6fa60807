//! `/trust`: why the numbers can be trusted and how to check them without trusting the
//! operator (the checkpoint, the signed tally, the log key, the auditors who cosigned,
//! the commands to audit and to check a receipt), with the entry browser; and
//! `/entries/{index}`: one entry's public view and its inclusion proof.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use ledger::Entry;
use projector::Projection;

use super::{html, utc, Layout, SiteSource};
use crate::cosignatures::Cosigned;
use crate::http::{ApiError, AppState};
use crate::locks;

/// Counters of the tally text the page shows; a large log's has tens of thousands
/// (one per area), which `/api/v1/tally` serves whole.
const MAX_TALLY_LINES: usize = 300;

#[derive(Template)]
#[template(path = "site/trust.html")]
pub(super) struct Trust {
    layout: Layout,
    hash: &'static str,
    vkey: String,
    checkpoint: String,
    tally_note: String,
    tally_text: String,
    tally_lines: usize,
    tally_shown: usize,
    tally_cut: bool,
    cosigners: Vec<Cosigner>,
    site_url: &'static str,
    last_index: u64,
}

struct Cosigner {
    name: String,
    what: &'static str,
    vkey: String,
}

pub(super) fn page(p: &Projection, source: &SiteSource) -> Result<Trust, ApiError> {
    let size = p.tree_size();
    let store = source.store;
    let text = p.tally_text();
    let (checkpoint, tally_note) = if size == 0 {
        let empty = "The log is empty: nothing is signed yet.".to_string();
        (empty.clone(), empty)
    } else {
        let root = store.root_at(size)?;
        let note =
            projector::tally::sign_tally(store.hash_alg(), source.log_key, size, root, &text)
                .map_err(ApiError::internal)?;
        (
            source.checkpoint(size)?,
            source.cosignatures.append_to(&note, Cosigned::Tally, size),
        )
    };
    Ok(Trust {
        layout: Layout::new(store, size, "/trust"),
        hash: store.hash_alg().name(),
        vkey: store.verifier().to_string(),
        checkpoint,
        tally_note,
        tally_lines: text.lines().count(),
        tally_shown: text.lines().count().min(MAX_TALLY_LINES),
        tally_cut: text.lines().count() > MAX_TALLY_LINES,
        tally_text: text
            .lines()
            .take(MAX_TALLY_LINES)
            .map(|line| format!("{line}\n"))
            .collect(),
        cosigners: source
            .cosigners(size)
            .into_iter()
            .map(|(name, what, vkey)| Cosigner { name, what, vkey })
            .collect(),
        site_url: "<this site's address>",
        last_index: size.saturating_sub(1),
    })
}

#[derive(Template)]
#[template(path = "site/entry.html")]
struct EntryPage {
    layout: Layout,
    index: u64,
    kind: &'static str,
    time: String,
    author: String,
    previous: Option<u64>,
    next: Option<u64>,
    fields: Vec<(String, String)>,
    signature: Option<String>,
    leaf_hash: String,
    bytes: String,
    proof_size: u64,
    proof: Vec<String>,
}

/// `/entries/{index}`: rendered per request (reading one entry and its proof); the
/// site's 404 page for an index that is not an entry.
pub(super) async fn entry_page(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(index): axum::extract::Path<String>,
) -> Response {
    let size = state.store.size();
    let Some(index) = ledger::checkpoint::parse_decimal_u64(&index).filter(|&i| i < size) else {
        return super::not_found(&state);
    };
    match entry(&state, index, size) {
        Ok(page) => html(StatusCode::OK, &page),
        Err(e) => e.into_response(),
    }
}

fn entry(state: &AppState, index: u64, size: u64) -> Result<EntryPage, ApiError> {
    let store = &state.store;
    let bytes = store.entry(index)?;
    let decoded = Entry::decode(&bytes).map_err(ApiError::internal)?;
    let proof = store.inclusion_proof(index, Some(size))?;
    let view = crate::input::record_view(decoded.record());
    let fields = view
        .as_object()
        .map(|fields| {
            fields
                .iter()
                .filter(|(name, _)| name.as_str() != "type")
                .map(|(name, value)| {
                    let value = match value {
                        serde_json::Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    (name.replace('_', " "), value)
                })
                .collect()
        })
        .unwrap_or_default();
    let signature = {
        let projection = locks::read(&state.published);
        projection.signature(index).map(|s| {
            let counted = if s.live {
                "It is counted"
            } else {
                "It no longer counts (withdrawn or invalidated)"
            };
            let erased = if s.erased {
                "; its signer's personal data has been erased"
            } else {
                ""
            };
            format!(
                "A signature of petition {}. {counted} as of tree size {}{erased}.",
                s.petition_id,
                projection.tree_size()
            )
        })
    };
    Ok(EntryPage {
        layout: Layout::new(store, size, ""),
        index,
        kind: decoded.record().kind(),
        time: utc(decoded.time_ms()),
        author: decoded.author().to_owned(),
        previous: index.checked_sub(1),
        next: (index + 1 < size).then_some(index + 1),
        fields,
        signature,
        leaf_hash: proof.leaf_hash.to_string(),
        bytes: base64::engine::general_purpose::STANDARD.encode(&bytes),
        proof_size: proof.tree_size,
        proof: proof.proof.iter().map(|h| h.to_string()).collect(),
    })
}
