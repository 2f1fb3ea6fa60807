//! The read models: the signed tally, petitions, motions, twin links, events and
//! campaigns, each stating the tree size it reflects.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use projector::views::{AsOf, PetitionView};
use projector::Projection;
use serde::{Deserialize, Serialize};

use super::problem::{parse_u64, unknown_petition, ApiError, ApiPath, ApiQuery, Problem};
use super::state::AppState;
use super::{blocking, json_response, to_json};
use crate::locks;

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

#[utoipa::path(get, path = "/api/v1/tally", tag = "read models", params(("tree_size" = Option<u64>, Query, description = "a past size replays the prefix")), responses((status = 200, body = TallyAnswer), (status = 400, body = Problem), (status = 503, description = "another past size is being replayed (`replay_busy`); retry later", body = Problem)))]
pub(crate) async fn tally(
    State(state): State<Arc<AppState>>,
    ApiQuery(query): ApiQuery<TallyQuery>,
) -> Result<Response, ApiError> {
    let wanted = parse_u64("tree_size", query.tree_size.as_deref())?;
    // The published projection's tally, signed once per tree size, at whatever size the
    // read models have now. Without a size that is the answer, never a replay, even if
    // an append lands meanwhile; with one, only if it is that size.
    let (published, current) = state.view("tally", |projection| {
        let size = projection.tree_size();
        if wanted.is_some_and(|wanted| wanted != size) {
            return Ok(None);
        }
        to_json(&signed_tally(&state, size, projection.tally_text())?).map(Some)
    })?;
    let past = match (wanted, current) {
        (Some(wanted), _) if wanted != published => wanted,
        (_, Some(current)) => return Ok(json_response(StatusCode::OK, current)),
        (_, None) => return Err(ApiError::internal("the current tally was not made")),
    };
    if past > published {
        return Err(ApiError::bad_request(
            "size_out_of_range",
            format!("tree size {past} is larger than the log ({published})"),
        ));
    }
    let bytes = past_tally(state, past).await?;
    Ok(json_response(StatusCode::OK, bytes))
}

/// The tally of a past tree size: kept, or replayed from the log if no other replay is
/// running (otherwise refused, so waiting requests never pile up on the blocking pool).
async fn past_tally(state: Arc<AppState>, size: u64) -> Result<Bytes, ApiError> {
    let past = &state.cache.past_tallies;
    if let Some(answer) = locks::lock(&past.answers).get(size) {
        return Ok(answer);
    }
    let replay = state.replay_permit()?;
    blocking(move || {
        let _replay = replay;
        let text = state.replayed_tally_text(size)?;
        let answer = to_json(&signed_tally(&state, size, text)?)?;
        locks::lock(&state.cache.past_tallies.answers).insert(size, answer.clone());
        Ok(answer)
    })
    .await
}

impl TallyAnswer {
    /// The tally `text` of the tree of size `size` of `store`, signed with `log_key`.
    pub fn signed(
        store: &ledger::store::Store,
        log_key: &ledger::note::NoteSigner,
        size: u64,
        text: String,
    ) -> Result<TallyAnswer, ApiError> {
        let root = store.root_at(size)?;
        let note = projector::tally::sign_tally(store.hash_alg(), log_key, size, root, &text)
            .map_err(ApiError::internal)?;
        Ok(TallyAnswer {
            tree_size: size,
            note,
            text,
        })
    }
}

/// The signed tally of size `size`, with the auditors' cosignatures of it.
fn signed_tally(state: &AppState, size: u64, text: String) -> Result<TallyAnswer, ApiError> {
    let mut answer = TallyAnswer::signed(&state.store, &state.log_key, size, text)?;
    answer.note =
        state
            .cosignatures
            .append_to(&answer.note, crate::cosignatures::Cosigned::Tally, size);
    Ok(answer)
}

/// The read models of the whole log, by their route under `/api/v1/` (also the key
/// they are cached by), each as the JSON it answers.
type Whole = (&'static str, fn(&Projection) -> Result<Bytes, ApiError>);
const WHOLE: [Whole; 5] = [
    ("petitions", |p| to_json(&p.petitions().named("petitions"))),
    ("motions", |p| to_json(&p.motions().named("motions"))),
    ("twin-links", |p| {
        to_json(&p.twin_links().named("twin_links"))
    }),
    ("events", |p| to_json(&p.events().named("events"))),
    ("campaigns", |p| to_json(&p.overview())),
];

/// One petition's counts in the shape of the UK Parliament's petition JSON.
fn parliament(view: &AsOf<PetitionView>) -> Result<Bytes, ApiError> {
    to_json(&AsOf {
        tree_size: view.tree_size,
        view: view.view.parliament(),
    })
}

/// Every read model of `p` as the JSON its route answers, by the path of the file a
/// static copy keeps it in (`serve --publish`): the route with `.json` added (so
/// `petitions.json` and the folder `petitions/` can sit side by side).
pub fn read_model_files(p: &Projection) -> Result<Vec<(String, Bytes)>, ApiError> {
    let mut files = Vec::new();
    for (route, make) in WHOLE {
        files.push((format!("api/v1/{route}.json"), make(p)?));
    }
    for petition in p.petitions().view {
        let id = petition.id().as_str().to_string();
        if let Some(view) = p.petition(&id) {
            files.push((format!("api/v1/petitions/{id}.json"), to_json(&view)?));
            let parliament = parliament(&view)?;
            files.push((format!("api/v1/petitions/{id}/parliament.json"), parliament));
        }
    }
    Ok(files)
}

/// The answer of the read model of the whole log at `route` in [`WHOLE`].
fn whole(state: &AppState, route: &str) -> Result<Response, ApiError> {
    let (key, make) = WHOLE
        .into_iter()
        .find(|(key, _)| *key == route)
        .ok_or_else(|| ApiError::internal(format!("no read model {route}")))?;
    let (_, bytes) = state.view(key, |p| make(p).map(Some))?;
    Ok(json_response(StatusCode::OK, bytes.unwrap_or_default()))
}

/// The answer of one petition's read model, `make` of its view.
fn one_petition(
    state: &AppState,
    key: String,
    id: &str,
    make: impl FnOnce(&AsOf<PetitionView>) -> Result<Bytes, ApiError>,
) -> Result<Response, ApiError> {
    let (_, bytes) = state.view(&key, |p| p.petition(id).map(|view| make(&view)).transpose())?;
    let bytes = bytes.ok_or_else(unknown_petition)?;
    Ok(json_response(StatusCode::OK, bytes))
}

#[utoipa::path(get, path = "/api/v1/petitions", tag = "read models", responses((status = 200, description = "Every petition with its counts, and the tree size they reflect", body = Object)))]
pub(crate) async fn petitions(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    whole(&state, "petitions")
}

#[utoipa::path(get, path = "/api/v1/petitions/{id}", tag = "read models", params(("id" = String, Path)), responses((status = 200, description = "One petition with its counts, and the tree size", body = Object), (status = 404, body = Problem)))]
pub(crate) async fn petition(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    one_petition(&state, format!("petition/{id}"), &id, |view| to_json(view))
}

#[utoipa::path(get, path = "/api/v1/petitions/{id}/parliament.json", tag = "read models", params(("id" = String, Path)), responses((status = 200, description = "One petition's counts in the shape of the UK Parliament's petition JSON (data.attributes.signature_count, signatures_by_country, signatures_by_constituency), and the tree size", body = Object), (status = 404, body = Problem)))]
pub(crate) async fn parliament_petition(
    State(state): State<Arc<AppState>>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    one_petition(&state, format!("parliament/{id}"), &id, parliament)
}

#[utoipa::path(get, path = "/api/v1/motions", tag = "read models", responses((status = 200, description = "Council motions and the tree size", body = Object)))]
pub(crate) async fn motions(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    whole(&state, "motions")
}

#[utoipa::path(get, path = "/api/v1/twin-links", tag = "read models", responses((status = 200, description = "Twin links with history, and the tree size", body = Object)))]
pub(crate) async fn twin_links(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    whole(&state, "twin-links")
}

#[utoipa::path(get, path = "/api/v1/events", tag = "read models", responses((status = 200, description = "Event timeline and the tree size", body = Object)))]
pub(crate) async fn events(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    whole(&state, "events")
}

#[utoipa::path(get, path = "/api/v1/campaigns", tag = "read models", responses((status = 200, description = "Campaigns, cities joined, links severed, and the tree size", body = Object)))]
pub(crate) async fn campaigns(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    whole(&state, "campaigns")
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use crate::http::state::{PastAnswers, PAST_TALLY_CACHE_BYTES};
    use crate::node::Node;

    async fn get(node: &Node, path: &str) -> (StatusCode, Option<String>, serde_json::Value) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = node.router().oneshot(request).await.unwrap();
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, retry_after, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_sizes_beyond_the_running_replay_are_refused_and_the_current_never_replays() {
        let dir = tempfile::tempdir().unwrap();
        let (node, _) = Node::open(dir.path(), Some("test.example/log"), None).unwrap();
        let published = node.seed_demo().await.unwrap();
        let replays = node.state().cache.past_tallies.replays.clone();

        // While a replay runs, a request for another past size is refused, not queued.
        let running = replays.clone().try_acquire_owned().unwrap();
        let (status, retry_after, problem) = get(&node, "/api/v1/tally?tree_size=10").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
        assert_eq!(problem["reason"], "replay_busy");
        assert_eq!(retry_after.as_deref(), Some("1"));
        // The current tally, asked for with or without its size, is never a replay.
        for path in [
            "/api/v1/tally".to_owned(),
            format!("/api/v1/tally?tree_size={published}"),
        ] {
            let (status, _, answer) = get(&node, &path).await;
            assert_eq!(status, StatusCode::OK, "{path}: {answer}");
            assert_eq!(answer["tree_size"], published, "{path}");
        }
        drop(running);

        let (status, _, answer) = get(&node, "/api/v1/tally?tree_size=10").await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["tree_size"], 10);
        // A kept answer needs no replay.
        let running = replays.clone().try_acquire_owned().unwrap();
        let (status, _, kept) = get(&node, "/api/v1/tally?tree_size=10").await;
        assert_eq!(status, StatusCode::OK, "{kept}");
        assert_eq!(kept, answer);
        drop(running);

        // Requests at once for many past sizes: each is answered or refused as busy,
        // and the one replay permit is back when they are done.
        let node = std::sync::Arc::new(node);
        let asked: Vec<_> = (1..=16u64)
            .map(|size| {
                let node = node.clone();
                tokio::spawn(async move {
                    get(&node, &format!("/api/v1/tally?tree_size={}", size * 100)).await
                })
            })
            .collect();
        for request in asked {
            let (status, _, answer) = request.await.unwrap();
            match status {
                StatusCode::OK => assert!(answer["tree_size"].as_u64().is_some()),
                StatusCode::SERVICE_UNAVAILABLE => assert_eq!(answer["reason"], "replay_busy"),
                other => panic!("{other}: {answer}"),
            }
        }
        assert_eq!(replays.available_permits(), 1);
        let node = std::sync::Arc::into_inner(node).unwrap();
        tokio::task::spawn_blocking(move || node.shutdown())
            .await
            .unwrap()
            .unwrap();
    }

    #[test]
    fn past_answers_are_bounded_in_bytes() {
        let mut answers = PastAnswers::default();
        let answer = vec![b'x'; 100 * 1024];
        for size in 1..=200 {
            answers.insert(size, answer.clone().into());
            assert!(answers.bytes() <= PAST_TALLY_CACHE_BYTES);
        }
        assert!(answers.bytes() > PAST_TALLY_CACHE_BYTES - answer.len());
        assert!(answers.get(200).is_some(), "the newest is kept");
        assert!(answers.get(1).is_none(), "the oldest went first");
        // An answer larger than the whole bound is not kept, and evicts nothing.
        let before = answers.bytes();
        answers.insert(201, vec![b'x'; PAST_TALLY_CACHE_BYTES + 1].into());
        assert!(answers.get(201).is_none());
        assert_eq!(answers.bytes(), before);
    }
}
