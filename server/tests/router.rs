//! The router in-process, through `tower::ServiceExt::oneshot`: no sockets, no binary.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use server::node::Node;
use tower::ServiceExt;

async fn call(node: &Node, request: Request<Body>) -> (StatusCode, String, serde_json::Value) {
    let response = node.router().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, content_type, json)
}

fn post(token: &str, body: &str) -> Request<Body> {
    Request::post("/api/v1/records")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_reads_and_refuses_through_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let (node, opening) = Node::open(dir.path(), Some("test.example/log"), None).unwrap();
    let token = opening.admin_token.unwrap();

    let opened = r#"{"type":"petition.opened","petition_id":"p1","title":"T","text":"Do it.","target":"UK Parliament"}"#;
    let (status, _, answer) = call(&node, post(&token, opened)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["index"], 0);
    assert_eq!(answer["tree_size"], 1);

    let signature = r#"{"type":"signature.added","petition_id":"p1","name":"Ada","email":"ada@example.org","country":"GB","constituency":"E14000831","consent_to_share":true,"channel":"online"}"#;
    let (status, _, _) = call(&node, post(&token, signature)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, content_type, problem) = call(&node, post(&token, signature)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["reason"], "duplicate_signature");
    assert!(!problem.to_string().contains("ada@example.org"));

    let (status, _, petition) = call(
        &node,
        Request::get("/api/v1/petitions/p1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(petition["total"], 1);
    assert_eq!(petition["tree_size"], 2);
    // The read model holds the record that opened the petition, with its index and time.
    let opened = &petition["opened"];
    assert_eq!(opened["index"], 0, "{petition}");
    assert!(opened["time_ms"].as_u64().is_some(), "{petition}");
    assert_eq!(opened["petition_id"], "p1");
    assert_eq!(opened["text"]["full"], "Do it.");
    assert_eq!(opened["closes_on"], serde_json::Value::Null);
    assert_eq!(petition["closed"], serde_json::Value::Null);

    // A typed inclusion proof of the signature that verifies.
    let (status, _, answer) = call(
        &node,
        Request::get("/api/v1/proofs/inclusion?index=1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let proof: ledger::merkle::InclusionProof = serde_json::from_value(answer).unwrap();
    assert_eq!((proof.index, proof.tree_size), (1, 2));
    proof.verify(ledger::HashAlg::Blake3).unwrap();

    let (status, _, problem) = call(
        &node,
        Request::delete("/api/v1/log").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(problem["reason"], "method_not_allowed");

    let (status, _, problem) = call(
        &node,
        Request::get("/api/v1/entries/%FF")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["reason"], "invalid_path");

    let (status, _, log) = call(
        &node,
        Request::get("/api/v1/log").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(log["tree_size"], 2);
    assert_eq!(log["origin"], "test.example/log");

    tokio::task::spawn_blocking(move || node.shutdown())
        .await
        .unwrap()
        .unwrap();
    // The snapshot saved at shutdown brings the read models back at once.
    let (node, opening) = Node::open(dir.path(), None, None).unwrap();
    assert_eq!(opening.tree_size, 2);
    tokio::task::spawn_blocking(move || node.shutdown())
        .await
        .unwrap()
        .unwrap();
}

/// Entry times never go backwards: when the log's last entry is later than the clock
/// (a clock stepped back, or entries written under a clock that ran ahead), the
/// sequencer stamps new entries with that entry's time instead of an earlier one, so
/// the fold (which refuses an entry earlier than the one before it) accepts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entry_times_never_go_backwards_when_the_clock_does() {
    let dir = tempfile::tempdir().unwrap();
    let in_a_year = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 365 * 86_400_000;
    let token = {
        let opened = server::datadir::open_or_create(dir.path(), None, None).unwrap();
        let ahead = ledger::Entry::v1(
            in_a_year,
            "token-ahead",
            test_support::records::petition("p1", &[], None),
        );
        opened
            .store
            .append_blocking(vec![ahead.encode().unwrap()])
            .unwrap();
        opened.store.close().unwrap();
        opened.admin_token.unwrap()
    };
    let (node, opening) = Node::open(dir.path(), None, None).unwrap();
    assert_eq!(opening.tree_size, 1);
    let opened = r#"{"type":"petition.opened","petition_id":"p2","title":"T","text":"Do it.","target":"UK Parliament"}"#;
    let (status, _, answer) = call(&node, post(&token, opened)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (status, _, entry) = call(
        &node,
        Request::get("/api/v1/entries/1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{entry}");
    assert_eq!(entry["time_ms"], in_a_year, "{entry}");
    // Replaying the log from zero (as an auditor would) refuses nothing.
    let mut replayed = projector::Projection::new();
    for index in 0..2 {
        replayed
            .replay_bytes(&node.state().store.entry(index).unwrap())
            .unwrap();
    }
    assert_eq!(replayed.rejected_in_log(), (0, None));
    tokio::task::spawn_blocking(move || node.shutdown())
        .await
        .unwrap()
        .unwrap();
}

/// Read-model snapshots grow by one segment per save (every `snapshot_every` entries),
/// each holding what changed, including the withdrawal of a signature saved in an
/// earlier segment; shutdown writes the chain again whole, and a restart loads it and
/// replays nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_saved_as_segments_and_restore_the_read_models() {
    use projector::persist::Snapshots;
    use server::node::NodeOptions;

    let dir = tempfile::tempdir().unwrap();
    let options = NodeOptions {
        scrub: None,
        snapshot_every: 3,
        ..NodeOptions::default()
    };
    let (node, opening) = Node::open_with(dir.path(), None, None, &options).unwrap();
    let token = opening.admin_token.unwrap();
    let opened = r#"{"type":"petition.opened","petition_id":"p1","title":"T","text":"Do it.","target":"UK Parliament"}"#;
    assert_eq!(
        call(&node, post(&token, opened)).await.0,
        StatusCode::CREATED
    );
    let snapshot = dir.path().join(server::datadir::SNAPSHOTS);
    for round in 0..4 {
        let records: Vec<String> = (0..3)
            .map(|n| {
                format!(
                    r#"{{"type":"signature.added","petition_id":"p1","name":"S","email":"s{round}-{n}@example.org","country":"GB","constituency":"E1400083{n}","consent_to_share":false,"channel":"online"}}"#
                )
            })
            .collect();
        let body = format!(r#"{{"records":[{}]}}"#, records.join(","));
        let (status, _, answer) = call(&node, post(&token, &body)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        // Saves run in the background, one at a time: wait for this one.
        let size = 1 + 3 * (round + 1);
        for _ in 0..200 {
            if Snapshots::inspect(&snapshot).unwrap().tree_size == size {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(Snapshots::inspect(&snapshot).unwrap().tree_size, size);
    }
    // A request refused part-way (its second record repeats its first signer) is
    // rolled back whole, dedup tags included: the first signer can sign on their own,
    // and only once.
    let signer = r#"{"type":"signature.added","petition_id":"p1","name":"R","email":"rolled-back@example.org","country":"GB","consent_to_share":false,"channel":"online"}"#;
    let refused = format!(r#"{{"records":[{signer},{signer}]}}"#);
    let (status, _, problem) = call(&node, post(&token, &refused)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(
        call(&node, post(&token, signer)).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        call(&node, post(&token, signer)).await.0,
        StatusCode::CONFLICT
    );
    // Withdraw the first signature, saved three segments ago.
    let withdrawn = r#"{"type":"signature.withdrawn","index":1}"#;
    let (status, _, answer) = call(&node, post(&token, withdrawn)).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let (_, _, before) = call(
        &node,
        Request::get("/api/v1/petitions/p1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(before["withdrawn"], 1, "{before}");
    let chain = Snapshots::inspect(&snapshot).unwrap();
    assert!(chain.segments >= 5, "{} segments", chain.segments);
    tokio::task::spawn_blocking(move || node.shutdown())
        .await
        .unwrap()
        .unwrap();
    // Shutdown writes the chain again as one whole segment, which loads faster.
    let found = Snapshots::inspect(&snapshot).unwrap();
    assert_eq!(
        (found.tree_size, found.unusable_bytes, found.segments),
        (15, 0, 1)
    );

    let (node, opening) = Node::open_with(dir.path(), None, None, &options).unwrap();
    assert_eq!(opening.tree_size, 15);
    let (_, _, after) = call(
        &node,
        Request::get("/api/v1/petitions/p1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(after, before);
    tokio::task::spawn_blocking(move || node.shutdown())
        .await
        .unwrap()
        .unwrap();
    // Nothing was replayed at that start, so nothing new was saved but the shutdown's
    // (empty) segment, which is not written at all.
    assert_eq!(
        Snapshots::inspect(&snapshot).unwrap().segments,
        found.segments
    );
}

/// A petition's counts in the shape of the UK Parliament's petition JSON, live
/// signatures only, with the tree size they reflect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn petitions_answer_in_the_parliament_shape() {
    let dir = tempfile::tempdir().unwrap();
    let (node, opening) = Node::open(dir.path(), None, None).unwrap();
    let token = opening.admin_token.unwrap();
    let opened = r#"{"type":"petition.opened","petition_id":"p1","title":"End the links","text":"We ask.","target":"UK Parliament"}"#;
    assert_eq!(
        call(&node, post(&token, opened)).await.0,
        StatusCode::CREATED
    );
    for (n, country, constituency) in [
        (1, "GB", Some("E14000831")),
        (2, "GB", Some("E14000831")),
        (3, "GB", Some("E14000832")),
        (4, "FR", None),
    ] {
        let constituency =
            constituency.map_or(String::new(), |c| format!(r#""constituency":"{c}","#));
        let body = format!(
            r#"{{"type":"signature.added","petition_id":"p1","name":"S","email":"s{n}@example.org","country":"{country}",{constituency}"consent_to_share":false,"channel":"online"}}"#
        );
        assert_eq!(
            call(&node, post(&token, &body)).await.0,
            StatusCode::CREATED
        );
    }
    let withdrawn = r#"{"type":"signature.withdrawn","index":2}"#;
    assert_eq!(
        call(&node, post(&token, withdrawn)).await.0,
        StatusCode::CREATED
    );
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    let (status, content_type, answer) =
        call(&node, get("/api/v1/petitions/p1/parliament.json")).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "application/json")
    );
    assert_eq!(
        answer,
        serde_json::json!({
            "tree_size": 6,
            "data": {"type": "petition", "id": "p1", "attributes": {
                "action": "End the links", "background": "We ask.", "state": "open",
                "signature_count": 3,
                "signatures_by_country": [
                    {"code": "FR", "signature_count": 1},
                    {"code": "GB", "signature_count": 2}
                ],
                "signatures_by_constituency": [
                    {"ons_code": "E14000831", "signature_count": 1},
                    {"ons_code": "E14000832", "signature_count": 1}
                ]
            }}
        })
    );
    let (status, _, problem) = call(&node, get("/api/v1/petitions/none/parliament.json")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(problem["reason"], "unknown_petition");
    tokio::task::spawn_blocking(move || node.shutdown())
        .await
        .unwrap()
        .unwrap();
}
