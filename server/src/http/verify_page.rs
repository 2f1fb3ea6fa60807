//! `GET /verify`: a page where a signer pastes their receipt (or their signature's log
//! index) and sees that it is in the log and counted, and how to check it offline.
//! Server-rendered from a template the engine escapes, in the public site's layout
//! (`crate::site`) and under its Content-Security-Policy.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use ledger::receipt::Receipt;
use serde::Deserialize;

use super::problem::ApiQuery;
use super::state::AppState;
use crate::locks;
use crate::site::{html, Layout};

/// Longest receipt the page reads (a receipt with its entry is a few kilobytes).
const MAX_RECEIPT_BYTES: usize = 96 << 10;

#[derive(Deserialize)]
pub(crate) struct VerifyQuery {
    receipt: Option<String>,
    index: Option<String>,
}

struct Outcome {
    ok: bool,
    headline: String,
    lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "site/verify.html")]
struct Page<'a> {
    layout: Layout,
    vkey: String,
    receipt: &'a str,
    index: &'a str,
    outcome: Option<Outcome>,
}

pub(crate) async fn page(
    State(state): State<Arc<AppState>>,
    ApiQuery(query): ApiQuery<VerifyQuery>,
) -> Response {
    let receipt = query.receipt.as_deref().unwrap_or("").trim();
    let index = query.index.as_deref().unwrap_or("").trim();
    let outcome = if !receipt.is_empty() {
        Some(check_receipt(&state, receipt))
    } else if !index.is_empty() {
        Some(match index.parse::<u64>() {
            Ok(index) => check_index(&state, index, None),
            Err(_) => bad(
                "That is not a log index",
                "A log index is a whole number, such as 2456.",
            ),
        })
    } else {
        None
    };
    let page = Page {
        layout: Layout::new(&state.store, state.store.size(), "/verify"),
        vkey: state.store.verifier().vkey(),
        receipt: if receipt.len() > MAX_RECEIPT_BYTES {
            ""
        } else {
            receipt
        },
        index,
        outcome,
    };
    // The site's headers, but never cached: the answer depends on what was pasted.
    let mut response = html(StatusCode::OK, &page);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn bad(headline: &str, line: &str) -> Outcome {
    Outcome {
        ok: false,
        headline: headline.to_string(),
        lines: vec![line.to_string()],
    }
}

fn check_receipt(state: &AppState, text: &str) -> Outcome {
    if text.len() > MAX_RECEIPT_BYTES {
        return bad(
            "That receipt is too long",
            "A receipt is a few kilobytes of text.",
        );
    }
    // Pasted text may have lost its last newline or gained carriage returns.
    let mut text = text.replace("\r\n", "\n");
    text.push('\n');
    let receipt = match Receipt::parse(&text) {
        Ok(receipt) => receipt,
        Err(_) => {
            return bad(
                "That is not a receipt",
                "A receipt starts with the line c2sp.org/tlog-proof@v1; paste all of it.",
            )
        }
    };
    let Some(entry) = receipt.extra.as_deref() else {
        return check_index(state, receipt.index, None);
    };
    match receipt.verify(state.store.hash_alg(), entry, state.store.verifier()) {
        Ok(checkpoint) => check_index(
            state,
            receipt.index,
            Some(format!(
                "Your receipt's proof holds: the entry is in the tree of size {} that this \
                 log's key signed.",
                checkpoint.size
            )),
        ),
        Err(_) => bad(
            "This receipt does not verify",
            "Its proof, its entry or its checkpoint's signature does not hold for this log.",
        ),
    }
}

fn check_index(state: &AppState, index: u64, proof: Option<String>) -> Outcome {
    let size = state.store.size();
    if index >= size {
        return bad(
            "No such entry",
            &format!("The log has {size} entries, numbered from 0."),
        );
    }
    let projection = locks::read(&state.published);
    let Some(signature) = projection.signature(index) else {
        return bad(
            "That entry is not a signature",
            &format!("Entry {index} of the log records something else."),
        );
    };
    let mut lines = Vec::new();
    lines.extend(proof);
    lines.push(format!(
        "Entry {index} is a signature of the petition {}.",
        signature.petition_id
    ));
    let (ok, headline) = if signature.live {
        lines.push(format!(
            "It is counted in the petition's total as of tree size {}.",
            projection.tree_size()
        ));
        (true, "Your signature is in the log and counted".to_string())
    } else {
        lines.push(
            "It was withdrawn or invalidated since: the log keeps it, but it no longer counts."
                .to_string(),
        );
        (
            false,
            "Your signature is in the log but no longer counted".to_string(),
        )
    };
    if signature.erased {
        lines.push(
            "Its signer's personal data has been erased: the signature can no longer be \
             linked to anyone."
                .to_string(),
        );
    } else if signature.has_signer_secret {
        lines.push(
            "Its signer can withdraw it, or have their personal data erased, with the \
             signer secret they were given when they signed."
                .to_string(),
        );
    }
    Outcome {
        ok,
        headline,
        lines,
    }
}
