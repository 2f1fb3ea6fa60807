//! The public site: server-rendered pages of the campaign for campaigners, journalists,
//! councillors and signers, from askama templates (`server/templates/site/`) the engine
//! escapes, with one stylesheet and one small script served from this origin.
//!
//! | page | route | module |
//! |---|---|---|
//! | overview | `/` | `overview.rs` |
//! | a petition (and its counts as CSV) | `/petitions/{id}`, `/petitions/{id}/counts.csv` | `petition.rs` |
//! | council votes and twin links | `/council-votes` | `council.rs` |
//! | events | `/events` | `council.rs` |
//! | why to trust the numbers | `/trust` | `trust.rs` |
//! | one entry and its proof | `/entries/{index}` (`/entries?index=` redirects) | `trust.rs` |
//! | signature check | `/verify` | `crate::http::verify_page` (in this layout) |
//!
//! Every page states the tree size it shows and is a pure function of the read models
//! at that size and the log's signed notes ([`SiteSource`]), so the server caches each
//! rendering until the next append, and `serve --publish` writes the same pages as
//! static files (`pages`). No page loads anything from another origin; the
//! Content-Security-Policy says so to the browser ([`CSP`]). The script only sorts
//! tables: every page is whole without it.

mod chart;
mod council;
mod overview;
mod petition;
mod trust;

use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use ledger::note::NoteSigner;
use ledger::store::Store;
use projector::Projection;
use serde::Deserialize;

use crate::cosignatures::{CosignatureStore, Cosigned};
use crate::http::{ApiError, AppState};

/// What every page may load: its own stylesheet, script and forms; nothing else, from
/// nowhere else.
pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
                       img-src 'self' data:; form-action 'self'; base-uri 'none'; \
                       frame-ancestors 'none'";

const STYLESHEET: &str = include_str!("../../site/site.css");
const SCRIPT: &str = include_str!("../../site/site.js");

/// The log-side facts a page shows beside the read models: the store and key that
/// sign the checkpoint and tally, and the auditors' cosignatures of them.
pub struct SiteSource<'a> {
    pub store: &'a Store,
    pub log_key: &'a NoteSigner,
    pub cosignatures: &'a CosignatureStore,
}

impl SiteSource<'_> {
    /// The signed checkpoint of tree size `size` with its cosignatures.
    fn checkpoint(&self, size: u64) -> Result<String, ApiError> {
        let checkpoint = self
            .store
            .checkpoint_at(size)?
            .ok_or_else(|| ApiError::internal(format!("no checkpoint of tree size {size}")))?;
        Ok(self.cosignatures.cosigned_checkpoint(&checkpoint))
    }

    /// The names of the auditors who cosigned the checkpoint or the tally of `size`.
    fn cosigners(&self, size: u64) -> Vec<(String, &'static str, String)> {
        let mut cosigners: Vec<(String, &'static str, String)> = Vec::new();
        for (what, cosigned) in [
            ("checkpoint", Cosigned::Checkpoint),
            ("tally", Cosigned::Tally),
        ] {
            for cosignature in self.cosignatures.of(cosigned, size) {
                cosigners.push((cosignature.name, what, cosignature.vkey));
            }
        }
        cosigners
    }
}

/// One entry of the site's navigation.
pub struct NavItem {
    pub(crate) href: &'static str,
    pub(crate) label: &'static str,
    pub(crate) current: bool,
}

/// What the layout (`base.html`) shows on every page.
pub struct Layout {
    pub(crate) origin: String,
    pub(crate) tree_size: u64,
    pub(crate) nav: Vec<NavItem>,
}

impl Layout {
    /// The layout of the page at `here` (a navigation href, or `""` for none).
    pub(crate) fn new(store: &Store, tree_size: u64, here: &str) -> Layout {
        let nav = [
            ("/", "Overview"),
            ("/council-votes", "Council votes and twin links"),
            ("/events", "Events"),
            ("/trust", "Check the numbers"),
            ("/verify", "Check a signature"),
        ]
        .into_iter()
        .map(|(href, label)| NavItem {
            href,
            label,
            current: href == here,
        })
        .collect();
        Layout {
            origin: store.origin().to_owned(),
            tree_size,
            nav,
        }
    }
}

/// The pages that depend on the read models, by what a route names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SitePage {
    Overview,
    Petition(String),
    PetitionCounts(String),
    CouncilVotes,
    Events,
    Trust,
}

impl SitePage {
    /// The page's path on the site.
    pub fn path(&self) -> String {
        match self {
            SitePage::Overview => "/".into(),
            SitePage::Petition(id) => format!("/petitions/{id}"),
            SitePage::PetitionCounts(id) => format!("/petitions/{id}/counts.csv"),
            SitePage::CouncilVotes => "/council-votes".into(),
            SitePage::Events => "/events".into(),
            SitePage::Trust => "/trust".into(),
        }
    }

    /// Renders the page from `p` and `source`; `None` for a petition never opened.
    pub fn render(&self, p: &Projection, source: &SiteSource) -> Result<Option<String>, ApiError> {
        let html = match self {
            SitePage::Overview => render(&overview::page(p, source)?)?,
            SitePage::Petition(id) => match petition::page(p, source, id) {
                Some(page) => render(&page)?,
                None => return Ok(None),
            },
            SitePage::PetitionCounts(id) => match petition::counts_csv(p, id) {
                Some(csv) => csv,
                None => return Ok(None),
            },
            SitePage::CouncilVotes => render(&council::votes_page(p, source))?,
            SitePage::Events => render(&council::events_page(p, source))?,
            SitePage::Trust => render(&trust::page(p, source)?)?,
        };
        Ok(Some(html))
    }

    fn content_type(&self) -> &'static str {
        match self {
            SitePage::PetitionCounts(_) => "text/csv; charset=utf-8",
            _ => "text/html; charset=utf-8",
        }
    }

    /// Every page of the read models `p`: what a static copy holds.
    pub fn all(p: &Projection) -> Vec<SitePage> {
        let mut pages = vec![
            SitePage::Overview,
            SitePage::CouncilVotes,
            SitePage::Events,
            SitePage::Trust,
        ];
        for petition in p.petitions().view {
            let id = petition.opened.record.petition_id.to_string();
            pages.push(SitePage::Petition(id.clone()));
            pages.push(SitePage::PetitionCounts(id));
        }
        pages
    }
}

fn render(template: &impl Template) -> Result<String, ApiError> {
    template.render().map_err(ApiError::internal)
}

/// Every page of `p` as static files, by path relative to the site's root
/// (`index.html` for a directory's page): what `serve --publish` writes beside the
/// API's files, plus the stylesheet and the script.
pub fn static_pages(
    p: &Projection,
    source: &SiteSource,
) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
    let mut files = vec![
        (
            "static/site.css".to_string(),
            STYLESHEET.as_bytes().to_vec(),
        ),
        ("static/site.js".to_string(), SCRIPT.as_bytes().to_vec()),
    ];
    for page in SitePage::all(p) {
        if let Some(body) = page.render(p, source)? {
            let path = page.path();
            let path = path.trim_start_matches('/');
            let file = match page {
                SitePage::PetitionCounts(_) => path.to_string(),
                _ if path.is_empty() => "index.html".to_string(),
                _ => format!("{path}/index.html"),
            };
            files.push((file, body.into_bytes()));
        }
    }
    Ok(files)
}

/// The site's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", fixed(SitePage::Overview))
        .route("/petitions/{id}", by_id(SitePage::Petition))
        .route(
            "/petitions/{id}/counts.csv",
            by_id(SitePage::PetitionCounts),
        )
        .route("/council-votes", fixed(SitePage::CouncilVotes))
        .route("/events", fixed(SitePage::Events))
        .route("/trust", fixed(SitePage::Trust))
        .route("/entries", get(entry_search))
        .route("/entries/{index}", get(trust::entry_page))
        .route("/static/site.css", get(stylesheet))
        .route("/static/site.js", get(script))
}

/// The route of `page`.
fn fixed(page: SitePage) -> MethodRouter<Arc<AppState>> {
    get(
        move |State(state): State<Arc<AppState>>, headers: HeaderMap| {
            let page = page.clone();
            async move { serve(&state, &headers, page) }
        },
    )
}

/// The route of the page `page` makes of the path's `{id}`.
fn by_id(page: fn(String) -> SitePage) -> MethodRouter<Arc<AppState>> {
    get(
        move |State(state): State<Arc<AppState>>, headers: HeaderMap, Path(id): Path<String>| async move {
            serve(&state, &headers, page(id))
        },
    )
}

#[derive(Deserialize)]
struct EntrySearch {
    index: Option<String>,
}

/// `/entries?index=N`, the trust page's form: to `/entries/N`.
async fn entry_search(query: axum::extract::Query<EntrySearch>) -> Response {
    match query.index.as_deref().map(str::trim) {
        Some(index) if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) => {
            let index = index.trim_start_matches('0');
            let index = if index.is_empty() { "0" } else { index };
            Redirect::to(&format!("/entries/{index}")).into_response()
        }
        _ => Redirect::to("/trust#browse").into_response(),
    }
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// A static asset: the same bytes for the life of the binary, so caches may keep it
/// an hour.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = crate::http::text(body, content_type, "public, max-age=3600");
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A page from the cache of the current tree size, rendered on a miss; `304` when the
/// client holds this tree size's already (`ETag` names the page and the size).
fn serve(state: &AppState, headers: &HeaderMap, page: SitePage) -> Response {
    let source = state.site_source();
    let key = format!("site{}", page.path());
    let rendered = state.view(&key, |p| Ok(page.render(p, &source)?.map(Bytes::from)));
    let (size, body) = match rendered {
        Ok((size, Some(body))) => (size, body),
        Ok((_, None)) => return not_found(state),
        Err(e) => return e.into_response(),
    };
    let etag = format!("\"{size}-{}\"", path_tag(&page.path()));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, body).into_response()
    };
    let out = response.headers_mut();
    page_headers(out, page.content_type());
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, etag);
    }
    response
}

/// The headers of every page: its type, the CSP, and `no-cache` (a page changes with
/// every append; the `ETag` makes a revalidation cheap).
pub(crate) fn page_headers(headers: &mut HeaderMap, content_type: &'static str) {
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// A short tag of a page's path for its `ETag` (a path may hold any character; the tag
/// is hex).
fn path_tag(path: &str) -> String {
    blake3::hash(path.as_bytes()).to_hex()[..16].to_string()
}

#[derive(Template)]
#[template(path = "site/not_found.html")]
struct NotFound {
    layout: Layout,
}

/// `404` as a page of the site.
pub(crate) fn not_found(state: &AppState) -> Response {
    let layout = Layout::new(&state.store, state.published_size(), "");
    html(StatusCode::NOT_FOUND, &NotFound { layout })
}

/// `page` rendered, as an answer of `status` with the headers of every page.
pub(crate) fn html(status: StatusCode, page: &impl Template) -> Response {
    let mut response = match page.render() {
        Ok(html) => (status, html).into_response(),
        Err(e) => return ApiError::internal(e).into_response(),
    };
    page_headers(response.headers_mut(), "text/html; charset=utf-8");
    response
}

/// `time_ms` as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn utc(time_ms: u64) -> String {
    let seconds = (time_ms / 1000) as i64;
    match ledger::record::Timestamp::from_unix_seconds(seconds) {
        Ok(t) => {
            let text = t.to_string();
            // `YYYY-MM-DDTHH:MM:SSZ`
            format!("{} {} UTC", &text[..10], &text[11..16])
        }
        Err(_) => format!("{time_ms} ms"),
    }
}

/// `value` as text; empty when there is none.
fn or_blank(value: Option<&impl std::fmt::Display>) -> String {
    value.map(ToString::to_string).unwrap_or_default()
}

/// `count` with thousands separated by commas.
pub(crate) fn thousands(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_times_read_as_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(utc(1_667_347_200_000), "2022-11-02 00:00 UTC");
    }
}
