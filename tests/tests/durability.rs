//! Durability: what got a 201 survives SIGKILL mid-load and a graceful SIGTERM, with
//! the same index and leaf hash, and the log after restart is consistent with every
//! checkpoint a client was given.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::*;

const CLIENTS: usize = 32;
const PETITION: &str = "durable";

/// Runs `CLIENTS` appenders and a reader against `server` for `load`, then ends the
/// server with `end` while they are still sending. Returns what the appenders saw, and
/// the largest checkpoint the reader was served.
fn load_then(
    server: &mut Server,
    tag: &str,
    load: Duration,
    end: impl FnOnce(&mut Server),
) -> (ClientLog, Option<String>) {
    let stop = Arc::new(AtomicBool::new(false));
    let token = server.admin.clone();
    let handles = spawn_appenders(&server.base, &token, PETITION, CLIENTS, tag, &stop, false);
    let reader = spawn_reader(server, &stop);
    pause(load);
    end(server);
    stop.store(true, Ordering::SeqCst);
    let seen = reader
        .join()
        .expect("the reader saw an inconsistent answer");
    (join_appenders(handles), seen)
}

/// A client reading while others append. Every answer must be self-consistent: the
/// petition's count matches the tree size it states, the signed tally verifies and
/// counts every entry of its tree, checkpoints never go backwards. Returns the last
/// checkpoint it was served.
fn spawn_reader(server: &Server, stop: &Arc<AtomicBool>) -> JoinHandle<Option<String>> {
    let base = server.base.clone();
    let log = server.log();
    let stop = stop.clone();
    std::thread::spawn(move || {
        let client = client();
        let get = |path: &str| -> Option<String> {
            let response = client.get(format!("{base}{path}")).send().ok()?;
            if response.status() != 200 {
                return None;
            }
            response.text().ok()
        };
        let mut last: Option<(u64, String)> = None;
        let mut round = 0u64;
        while !stop.load(Ordering::SeqCst) {
            round += 1;
            if let Some(text) = get("/checkpoint") {
                let checkpoint = open_checkpoint_text(&text, &log.vkey);
                if let Some((size, _)) = &last {
                    assert!(checkpoint.size >= *size, "/checkpoint went backwards");
                }
                last = Some((checkpoint.size, text));
            }
            if let Some(text) = get(&format!("/api/v1/petitions/{PETITION}")) {
                let petition: Value = serde_json::from_str(&text).expect("JSON");
                assert_eq!(
                    petition["total"].as_u64().unwrap() + 1,
                    petition["tree_size"].as_u64().unwrap(),
                    "a petition count that does not match its stated tree size: {text}"
                );
            }
            if round.is_multiple_of(8) {
                if let Some(text) = get("/api/v1/tally") {
                    let tally: Value = serde_json::from_str(&text).expect("JSON");
                    let size = tally["tree_size"].as_u64().unwrap();
                    let tally_text = tally["text"].as_str().unwrap();
                    let body = projector::tally::open_tally(
                        log.alg,
                        tally["note"].as_str().unwrap(),
                        &log.vkey,
                        tally_text,
                    )
                    .expect("the tally verifies");
                    assert_eq!(body.tree_size, size);
                    assert!(
                        tally_text.contains(&format!("log/entries {size}\n"))
                            && tally_text
                                .contains(&format!("petition/{PETITION}/total {}\n", size - 1)),
                        "a tally that does not count its tree: {tally_text}"
                    );
                }
            }
            pause(Duration::from_millis(2));
        }
        last.map(|(_, text)| text)
    })
}

/// The larger of the checkpoint the reader saw and those the appenders were given must
/// be consistent with the restarted server's.
fn assert_reader_consistent(server: &Server, seen: Option<String>) {
    if let Some(text) = seen {
        let log = server.log();
        let old = open_checkpoint_text(&text, &log.vkey);
        let new = server.checkpoint(&log.vkey);
        server.assert_consistent(log.alg, &old, &new);
    }
}

/// After a restart: the read models were rebuilt from the log (every entry but the
/// first is a live signature of the petition).
fn assert_counts_match_the_log(server: &Server) {
    let size = server.tree_size();
    let petition = server.get_json(&format!("/api/v1/petitions/{PETITION}"));
    assert_eq!(petition["tree_size"], size);
    assert_eq!(petition["total"], size - 1, "{}", petition["total"]);
    let tally = server.get_json("/api/v1/tally");
    let text = tally["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("petition/{PETITION}/total {}\n", size - 1)),
        "{text}"
    );
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    let slow = slow_tests();
    let cycles = if slow { 10 } else { 3 };
    let load = Duration::from_millis(if slow { 2000 } else { 1200 });
    let dir = TestDir::new();
    let mut server = Server::start(&dir);
    server.append(&server.admin, &petition_opened(PETITION, "Durable"));
    let mut acked: Vec<Acked> = Vec::new();
    for cycle in 0..cycles {
        let started = Instant::now();
        let (log, seen) = load_then(&mut server, &format!("kill{cycle}"), load, Server::sigkill);
        assert!(
            !log.acked.is_empty(),
            "no append was acknowledged in {load:?}"
        );
        assert!(
            log.refused.is_empty(),
            "refused while appending unique signatures: {:?}",
            &log.refused[..log.refused.len().min(3)]
        );
        let new = log.acked.len();
        acked.extend(log.acked);
        server = Server::start(&dir);
        // Every record of this cycle through the entries API; all of them via tiles.
        verify_acked(&server, &acked[acked.len() - new..], None);
        verify_acked(&server, &acked, Some(64));
        assert_reader_consistent(&server, seen);
        assert_counts_match_the_log(&server);
        eprintln!(
            "cycle {cycle}: {new} acknowledged, {} failed, tree size {}, {:?}",
            log.failed,
            server.tree_size(),
            started.elapsed()
        );
    }
    let commitments: Vec<(u64, ledger::Hash)> = acked
        .iter()
        .map(|ack| {
            let entry = server.get_json(&format!("/api/v1/entries/{}", ack.index));
            let commitment = entry["record"]["commitment"].as_str().expect("a signature");
            (ack.index, ledger::Hash::parse(commitment).expect("base64"))
        })
        .collect();
    // The directory passes the offline integrity check right after a crash, and
    // again after a graceful stop.
    let size = server.tree_size();
    server.sigkill();
    let report = cli_ok(&["check", "--data", dir.data().to_str().unwrap()]);
    assert!(
        report.contains(&format!("ok: {size} entries re-hashed")),
        "{report}"
    );
    let mut server = Server::start(&dir);
    assert_eq!(server.tree_size(), size);
    assert_eq!(server.sigterm().code(), Some(0));
    let report = cli_ok(&["check", "--data", dir.data().to_str().unwrap()]);
    assert!(
        report.contains(&format!("ok: {size} entries re-hashed")),
        "{report}"
    );
    // Every acknowledged signer's personal data survived the crashes: it opens with the
    // commitment of its entry. And every signature in the log (the acknowledged ones and
    // those whose answer a crash cut off) has its data, and nothing else does.
    let keys = server::datadir::read_keys(&dir.data()).expect("the keys");
    let vault = server::vault::Vault::open(&dir.data().join(server::datadir::VAULT), &keys.vault)
        .expect("the vault opens");
    let mut emails = std::collections::BTreeSet::new();
    for (index, commitment) in &commitments {
        let (data, _) = vault
            .get(*index, commitment)
            .expect("the vault reads")
            .unwrap_or_else(|| panic!("no personal data for acknowledged entry {index}"));
        assert!(
            emails.insert(data.email.expect("an email")),
            "entry {index}"
        );
    }
    assert_eq!(vault.len(), size - 1, "one value per signature in the log");
}

#[test]
fn sigterm_under_load_loses_nothing_and_exits_zero() {
    let dir = TestDir::new();
    let mut server = Server::start(&dir);
    server.append(&server.admin, &petition_opened(PETITION, "Durable"));
    let mut status = None;
    let (log, seen) = load_then(&mut server, "term", Duration::from_millis(1000), |server| {
        status = Some(server.sigterm());
    });
    let status = status.unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status}"
    );
    assert!(!log.acked.is_empty());
    // While shutting down, a request is answered 201 or refused with 503; never a 500.
    for (code, text) in &log.refused {
        assert_eq!(*code, 503, "{text}");
        assert!(text.contains("shutting_down"), "{text}");
    }
    let stderr = server.stderr();
    assert!(stderr.contains("shut down cleanly"), "{stderr}");

    let mut server = Server::start(&dir);
    verify_acked(&server, &log.acked, None);
    assert_reader_consistent(&server, seen);
    assert_counts_match_the_log(&server);
    // Nothing was appended that no client saw acknowledged... except what was in
    // flight and answered 201: every entry after the petition is an acknowledged one.
    assert_eq!(
        server.tree_size(),
        1 + log.acked.len() as u64,
        "entries appended without a 201 answer"
    );
    // A second graceful stop of an idle server is quick and clean too.
    let started = Instant::now();
    assert_eq!(server.sigterm().code(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// A client that opened a connection and stalled halfway through a request must not
/// keep a SIGTERM'd server alive: it stops accepting, finishes what is in flight and
/// exits within a bounded time, with the queued appends acknowledged and saved.
#[test]
fn sigterm_is_not_held_up_by_a_stalled_client() {
    use std::io::Write;
    let dir = TestDir::new();
    let mut server = Server::start(&dir);
    server.append(&server.admin, &petition_opened(PETITION, "Durable"));
    let address = server.base.strip_prefix("http://").unwrap().to_owned();
    // One connection stalls inside the request head, another inside a body.
    let mut in_head = std::net::TcpStream::connect(&address).unwrap();
    in_head
        .write_all(b"POST /api/v1/records HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut in_body = std::net::TcpStream::connect(&address).unwrap();
    let head = format!(
        "POST /api/v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"type\"",
        server.admin
    );
    in_body.write_all(head.as_bytes()).unwrap();
    pause(Duration::from_millis(200));
    // A well-behaved client is served meanwhile.
    server.append(&server.admin, &signature(PETITION, "meanwhile@example.org"));

    let started = Instant::now();
    let pid = server.pid() as libc::pid_t;
    // SAFETY: our own, unreaped child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = server.wait_exit(Duration::from_secs(15));
    let took = started.elapsed();
    drop((in_head, in_body));
    assert_eq!(status.code(), Some(0), "exit status {status}");
    eprintln!("stopped in {took:?}");
    let server = Server::start(&dir);
    assert_eq!(server.tree_size(), 2);
}
