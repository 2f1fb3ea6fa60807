//! `GET /`: a plain HTML page listing the petitions with their counts, the twin links
//! and the current checkpoint. Server-rendered, no scripts; every value is escaped.

use std::fmt::Write;

use axum::extract::State;
use axum::response::Html;

use crate::http::AppState;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub async fn page(State(state): State<std::sync::Arc<AppState>>) -> Html<String> {
    let head = state.store.head();
    let origin = escape(state.store.origin());
    let mut html = String::new();
    let projection = state.published.read().unwrap_or_else(|e| e.into_inner());
    let size = projection.tree_size();
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{origin} — campaign-ledger</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
         table{{border-collapse:collapse;display:block;max-width:100%;overflow-x:auto}}\
         td,th{{border-bottom:1px solid #ddd;padding:.3rem .8rem;text-align:left}}\
         td.n{{text-align:right;font-variant-numeric:tabular-nums}}pre{{background:#f4f4f4;padding:1rem;overflow-x:auto}}\
         code{{overflow-wrap:anywhere}}</style>\
         </head><body>\n<h1>{origin}</h1>\n<p>A verifiable campaign log: every count below can be \
         re-derived from the log by anyone. Counts as of tree size {size}.</p>\n<h2>Petitions</h2>\n"
    );
    let petitions = projection.petitions().view;
    if petitions.is_empty() {
        html.push_str("<p>No petitions yet.</p>\n");
    } else {
        html.push_str(
            "<table><thead><tr><th>Petition</th><th>Target</th><th>Status</th>\
             <th>Signatures</th></tr></thead><tbody>\n",
        );
        for petition in &petitions {
            let opened = &petition.opened.record;
            let _ = writeln!(
                html,
                "<tr><td><a href=\"/api/v1/petitions/{id}\">{title}</a></td><td>{target}</td>\
                 <td>{status}</td><td class=\"n\">{total}</td></tr>",
                id = escape(&opened.petition_id),
                title = escape(&opened.title),
                target = escape(&opened.target),
                status = petition.status,
                total = petition.total,
            );
        }
        html.push_str("</tbody></table>\n");
    }
    let links = projection.twin_links().view;
    if !links.is_empty() {
        html.push_str(
            "<h2>Twin links</h2>\n<table><thead><tr><th>City</th><th>Partner</th>\
             <th>Kind</th><th>Status</th></tr></thead><tbody>\n",
        );
        for link in &links {
            let registered = &link.registered.record;
            let _ = writeln!(
                html,
                "<tr><td>{city}</td><td>{partner} ({country})</td><td>{kind}</td><td>{status}</td></tr>",
                city = escape(&registered.city),
                partner = escape(&registered.partner_city),
                country = escape(registered.partner_country.as_str()),
                kind = registered.kind.as_str(),
                status = link.status.as_str(),
            );
        }
        html.push_str("</tbody></table>\n");
    }
    drop(projection);
    let _ = write!(
        html,
        "<h2>Checkpoint</h2>\n<p>The log's latest signed checkpoint (tree size {head_size}). \
         Verify with the key <code>{vkey}</code>.</p>\n<pre>{checkpoint}</pre>\n\
         <p><a href=\"/api/v1/tally\">Signed tally</a> · <a href=\"/api/v1/log\">Log</a> · \
         <a href=\"/api/v1/events\">Events</a> · <a href=\"/api/v1/motions\">Motions</a> · \
         <a href=\"/api/v1/openapi.json\">API</a></p>\n</body></html>\n",
        head_size = head.size,
        vkey = escape(&state.store.verifier().to_string()),
        checkpoint = escape(&head.checkpoint),
    );
    Html(html)
}
