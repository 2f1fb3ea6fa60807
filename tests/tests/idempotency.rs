//! Idempotency keys: a retry returns the first answer and appends nothing, also after
//! a graceful or a SIGKILL restart, and concurrent retries append once.

mod support;

use std::sync::{Arc, Barrier};

use reqwest::blocking::Response;
use support::*;

/// A 201 answer: its JSON and whether it was marked `idempotent-replayed: true`.
fn answer(response: Response) -> (Value, bool) {
    let status = response.status();
    let replayed = match response.headers().get("idempotent-replayed") {
        None => false,
        Some(value) => {
            assert_eq!(value, "true");
            true
        }
    };
    let text = response.text().unwrap();
    assert_eq!(status, 201, "{text}");
    (serde_json::from_str(&text).unwrap(), replayed)
}

fn started_with_petition(dir: &TestDir) -> Server {
    let server = Server::start(dir);
    server.append(&server.admin, &petition_opened("p", "Idempotent"));
    server
}

#[test]
fn a_retry_returns_the_first_answer_and_appends_once() {
    let dir = TestDir::new();
    let server = started_with_petition(&dir);
    let admin = server.admin.clone();
    let body = signature("p", "retry@example.org");
    let (first, replayed) = answer(server.post_idempotent(&admin, "retry-1", &body));
    assert!(!replayed, "a first request is not a replay");
    let size = server.tree_size();
    // Other appends in between: the retry still names the first answer's checkpoint.
    server.append(&admin, &signature("p", "between@example.org"));
    for _ in 0..3 {
        let (again, replayed) = answer(server.post_idempotent(&admin, "retry-1", &body));
        assert!(replayed, "a retry carries idempotent-replayed: true");
        assert_eq!(again, first, "a retry returns the first answer");
    }
    assert_eq!(server.tree_size(), size + 1, "retries appended");

    // Without the key the same body is a duplicate signature.
    expect_problem(server.post(&admin, &body), 409, "duplicate_signature");
    // The same key with another body is a conflict, and appends nothing.
    let other = signature("p", "other@example.org");
    expect_problem(
        server.post_idempotent(&admin, "retry-1", &other),
        409,
        "idempotency_conflict",
    );
    assert_eq!(server.tree_size(), size + 1);

    // Keys belong to a token: another token's same key is a new request.
    let organiser = create_token(&server.data, "organiser", Some("petition:p"));
    let (theirs, replayed) = answer(server.post_idempotent(&organiser, "retry-1", &other));
    assert!(!replayed);
    assert_eq!(theirs["index"], size + 1);

    // A batch is remembered as a whole.
    let batch =
        json!({"records": [signature("p", "b1@example.org"), signature("p", "b2@example.org")]});
    let (first_batch, _) = answer(server.post_idempotent(&admin, "batch-1", &batch));
    let (again, replayed) = answer(server.post_idempotent(&admin, "batch-1", &batch));
    assert!(replayed);
    assert_eq!(again, first_batch);
    assert_eq!(again["entries"].as_array().unwrap().len(), 2);

    // A refused request is not remembered: after fixing the cause, the key works.
    let unknown = signature("later", "l@example.org");
    expect_problem(
        server.post_idempotent(&admin, "refused-1", &unknown),
        422,
        "unknown_petition",
    );
    server.append(&admin, &petition_opened("later", "Later"));
    let (fixed, replayed) = answer(server.post_idempotent(&admin, "refused-1", &unknown));
    assert!(!replayed, "a refused request's key was remembered");
    assert_eq!(fixed["entries"].as_array().unwrap().len(), 1);
}

/// Appends with a key, stops the server with `stop`, restarts, and retries.
fn retried_across_restart(stop: impl FnOnce(&mut Server)) {
    let dir = TestDir::new();
    let mut server = started_with_petition(&dir);
    let admin = server.admin.clone();
    let body = signature("p", "restart@example.org");
    let (first, _) = answer(server.post_idempotent(&admin, "restart-1", &body));
    let size = server.tree_size();
    stop(&mut server);
    let server = Server::start(&dir);
    assert_eq!(server.tree_size(), size);
    let (again, replayed) = answer(server.post_idempotent(&admin, "restart-1", &body));
    assert!(replayed, "the key was forgotten across the restart");
    assert_eq!(
        again, first,
        "a retry after a restart returns the first answer"
    );
    assert_eq!(server.tree_size(), size, "the retry appended");
    // The remembered checkpoint still verifies.
    let log = server.log();
    let checkpoint = open_checkpoint_text(again["checkpoint"].as_str().unwrap(), &log.vkey);
    assert_eq!(checkpoint.size, again["tree_size"].as_u64().unwrap());
}

#[test]
fn a_retry_after_a_graceful_restart_returns_the_first_answer() {
    retried_across_restart(|server| assert_eq!(server.sigterm().code(), Some(0)));
}

#[test]
fn a_retry_after_sigkill_returns_the_first_answer() {
    retried_across_restart(Server::sigkill);
}

#[test]
fn concurrent_retries_of_one_key_append_once() {
    const RETRIES: usize = 16;
    let dir = TestDir::new();
    let server = started_with_petition(&dir);
    let size = server.tree_size();
    for round in 0..3 {
        let key = format!("together-{round}");
        let body = signature("p", &format!("together-{round}@example.org"));
        let barrier = Arc::new(Barrier::new(RETRIES));
        let handles: Vec<_> = (0..RETRIES)
            .map(|_| {
                let url = server.url("/api/v1/records");
                let admin = server.admin.clone();
                let key = key.clone();
                let body = serde_json::to_vec(&body).unwrap();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let client = client();
                    barrier.wait();
                    answer(
                        client
                            .post(url)
                            .header("authorization", format!("Bearer {admin}"))
                            .header("content-type", "application/json")
                            .header("idempotency-key", key)
                            .body(body)
                            .send()
                            .unwrap(),
                    )
                })
            })
            .collect();
        let answers: Vec<(Value, bool)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let first = answers
            .iter()
            .find(|(_, replayed)| !replayed)
            .map(|(a, _)| a.clone());
        let originals = answers.iter().filter(|(_, replayed)| !replayed).count();
        assert_eq!(originals, 1, "exactly one answer is not a replay");
        let first = first.unwrap();
        for (answer, _) in &answers {
            assert_eq!(answer["index"], first["index"]);
            assert_eq!(answer["leaf_hash"], first["leaf_hash"]);
            assert_eq!(answer["checkpoint"], first["checkpoint"]);
        }
        assert_eq!(first["index"], size + round, "round {round}");
        assert_eq!(
            server.tree_size(),
            size + round + 1,
            "round {round} appended more than once"
        );
    }
}

/// What a careful client does after a crash: retry every request that got no answer,
/// with its key. Each is then appended exactly once: a request that reached the log
/// before the crash is replayed, one that did not is appended now, and none is
/// refused as a duplicate of itself.
#[test]
fn unanswered_requests_retried_after_sigkill_append_exactly_once() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let cycles = if slow_tests() { 6 } else { 2 };
    let dir = TestDir::new();
    let mut server = started_with_petition(&dir);
    let admin = server.admin.clone();
    let mut acked: Vec<Acked> = Vec::new();
    let mut sent = 0usize;
    for cycle in 0..cycles {
        let stop = Arc::new(AtomicBool::new(false));
        let handles = spawn_appenders(
            &server.base,
            &admin,
            "p",
            16,
            &format!("k{cycle}"),
            &stop,
            true,
        );
        pause(std::time::Duration::from_millis(700));
        server.sigkill();
        stop.store(true, Ordering::SeqCst);
        let log = join_appenders(handles);
        assert!(log.refused.is_empty(), "{:?}", log.refused.first());
        assert!(
            !log.unanswered.is_empty(),
            "the kill left no request unanswered"
        );
        sent += log.acked.len() + log.unanswered.len();
        acked.extend(log.acked);

        server = Server::start(&dir);
        let mut replayed = 0;
        for (key, body) in &log.unanswered {
            let response = server.post_raw(
                Some(&admin),
                Some("application/json"),
                Some(key),
                body.clone(),
            );
            let (answer, was_replayed) = answer(response);
            replayed += usize::from(was_replayed);
            acked.push(Acked::from_answer(&answer));
        }
        eprintln!(
            "cycle {cycle}: {} unanswered, {replayed} of them had reached the log",
            log.unanswered.len()
        );
        verify_acked(&server, &acked, Some(64));
        assert_eq!(
            server.tree_size(),
            1 + sent as u64,
            "a signature is missing or was appended twice"
        );
    }
}
