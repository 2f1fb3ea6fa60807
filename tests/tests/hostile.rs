//! Hostile clients over raw sockets against the real binary: invented methods, slow and
//! idle connections, the connection limit, and requests whose framing, headers or
//! numbers are not what they should be.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use support::*;

/// A raw connection to the server.
fn connect(server: &Server) -> TcpStream {
    let address = server.base.trim_start_matches("http://");
    let stream = TcpStream::connect(address).expect("cannot connect to the server");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    stream
}

/// Sends `request` on a new connection, ends the sending side, and returns everything
/// the server answered until it closed the connection.
fn exchange(server: &Server, request: &[u8]) -> String {
    let mut stream = connect(server);
    stream.write_all(request).expect("send");
    stream.shutdown(Shutdown::Write).expect("half-close");
    read_to_close(&mut stream)
}

/// What the server sends until it closes the connection (or 20 s pass).
fn read_to_close(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status codes of the responses in `answer`, in order.
fn statuses(answer: &str) -> Vec<u16> {
    answer
        .match_indices("HTTP/1.1 ")
        .filter_map(|(at, _)| answer.get(at + 9..at + 12)?.parse().ok())
        .collect()
}

/// A `POST /api/v1/records` head with the admin token, without a framing header.
fn post_head(server: &Server, extra: &str) -> String {
    format!(
        "POST /api/v1/records HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\n{extra}",
        server.admin
    )
}

#[test]
fn invented_methods_do_not_grow_the_metrics() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.get_text("/healthz");
    let before = server.get_text("/metrics");
    for i in 0..300 {
        let answer = exchange(
            &server,
            format!("INVENTED{i} /api/v1/log HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes(),
        );
        assert_eq!(statuses(&answer), [405], "{answer}");
        let answer = exchange(
            &server,
            format!("INVENTED{i} /no/such/{i} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes(),
        );
        assert_eq!(statuses(&answer), [404], "{answer}");
    }
    let after = server.get_text("/metrics");
    assert!(!after.contains("INVENTED"), "a method became a label");
    assert!(after.contains(r#"method="other""#), "{after}");
    // Two new series (one per route and status), whatever the number of methods.
    assert!(
        after.len() < before.len() + 8 * 1024,
        "/metrics grew from {} to {} bytes",
        before.len(),
        after.len()
    );
}

#[test]
fn slow_and_idle_connections_are_closed() {
    let dir = TestDir::new();
    let server = Server::start_with(
        &dir,
        &[
            "--header-read-timeout",
            "1",
            "--body-read-timeout",
            "1",
            "--idle-timeout",
            "2",
        ],
    );
    // A slowloris trickling its headers is cut off by the header timeout.
    let mut slowloris = connect(&server);
    let started = Instant::now();
    slowloris
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        .unwrap();
    let mut closed = false;
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(200));
        if slowloris.write_all(b"X-Slow: 1\r\n").is_err() {
            closed = true;
            break;
        }
    }
    assert!(closed, "a slowloris kept its connection for 8 s");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A connection that never sends anything, and one kept alive after its answer.
    for request in [&b""[..], b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"] {
        let mut idle = connect(&server);
        let started = Instant::now();
        idle.write_all(request).unwrap();
        let answer = read_to_close(&mut idle);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "an idle connection stayed open {:?}",
            started.elapsed()
        );
        assert_eq!(statuses(&answer).len(), usize::from(!request.is_empty()));
    }

    // A body that does not arrive in time is 408.
    let mut slow_body = connect(&server);
    let started = Instant::now();
    slow_body
        .write_all(
            format!(
                "{}Content-Length: 100\r\n\r\n{{\"type\"",
                post_head(&server, "")
            )
            .as_bytes(),
        )
        .unwrap();
    let answer = read_to_close(&mut slow_body);
    assert_eq!(statuses(&answer), [408], "{answer}");
    assert!(answer.contains(r#""reason":"body_timeout""#), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(server.get_json("/healthz")["status"] == "ok");
}

#[test]
fn connections_beyond_the_limit_wait_until_one_closes() {
    let dir = TestDir::new();
    let server = Server::start_with(&dir, &["--max-connections", "2"]);
    let held: Vec<TcpStream> = (0..2).map(|_| connect(&server)).collect();
    // Let the server accept both before the third arrives.
    std::thread::sleep(Duration::from_millis(300));
    let mut third = connect(&server);
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .unwrap();
    third
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        third.read(&mut byte).is_err(),
        "a connection beyond the limit was served"
    );
    drop(held);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let answer = read_to_close(&mut third);
    assert_eq!(statuses(&answer), [200], "{answer}");
}

#[test]
fn framing_headers_and_numbers_are_strict() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    let head = |extra: &str| post_head(&server, extra);
    let problem = |answer: &str, status: u16, reason: &str| {
        assert_eq!(statuses(answer), [status], "{answer}");
        assert!(
            answer.contains(&format!(r#""reason":"{reason}""#)),
            "expected {reason}: {answer}"
        );
    };

    // Transfer-Encoding with Content-Length, in either order, even after a request
    // on the same connection.
    let chunked_hello = "5\r\nhello\r\n0\r\n\r\n";
    for framing in [
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    ] {
        let answer = exchange(
            &server,
            format!("{}\r\n{chunked_hello}", head(framing)).as_bytes(),
        );
        problem(&answer, 400, "conflicting_framing");
    }
    let answer = exchange(
        &server,
        format!(
            "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n{}Content-Length: 2\r\n\r\n{{}}{}\r\n{chunked_hello}",
            head(""),
            head("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")
        )
        .as_bytes(),
    );
    assert_eq!(statuses(&answer), [200, 400, 400], "{answer}");
    assert!(
        answer.ends_with(r#""reason":"conflicting_framing"}"#),
        "{answer}"
    );

    // Bodies that cannot be read are 400, not 413; too large ones are 413.
    let unreadable = [
        "Content-Length: 100\r\n\r\n{\"type\"".to_owned(),
        "Transfer-Encoding: chunked\r\n\r\n50\r\n{\"type\"".to_owned(),
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".to_owned(),
    ];
    for framing_and_body in &unreadable {
        let answer = exchange(&server, head(framing_and_body).as_bytes());
        problem(&answer, 400, "invalid_body");
    }
    let answer = exchange(
        &server,
        head("Content-Length: 2000000\r\n\r\n{}").as_bytes(),
    );
    problem(&answer, 413, "body_too_large");

    // Idempotency-Key: no spaces or tabs, at most once.
    for key_headers in [
        "Idempotency-Key: a b\r\n",
        "Idempotency-Key: a\tb\r\n",
        "Idempotency-Key: ab\r\nIdempotency-Key: ab\r\n",
    ] {
        let answer = exchange(
            &server,
            head(&format!("{key_headers}Content-Length: 2\r\n\r\n{{}}")).as_bytes(),
        );
        problem(&answer, 400, "invalid_idempotency_key");
    }

    // Numbers have one spelling, in paths and queries.
    server.append(
        &server.admin,
        &json!({"type": "petition.opened", "petition_id": "p1", "title": "T", "text": "Do it.", "target": "UK Parliament"}),
    );
    server.get_json("/api/v1/entries/0");
    for (path, reason) in [
        ("/api/v1/entries/+0", "invalid_index"),
        ("/api/v1/entries/00", "invalid_index"),
        ("/api/v1/receipts/+0", "invalid_index"),
        ("/api/v1/receipts/00", "invalid_index"),
        ("/api/v1/proofs/inclusion?index=+0", "invalid_query"),
        (
            "/api/v1/proofs/inclusion?index=0&tree_size=01",
            "invalid_query",
        ),
        ("/api/v1/proofs/consistency?from=01", "invalid_query"),
        ("/api/v1/proofs/consistency?from=1&to=+1", "invalid_query"),
        ("/api/v1/tally?tree_size=01", "invalid_query"),
    ] {
        let answer = exchange(
            &server,
            format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes(),
        );
        problem(&answer, 400, reason);
    }

    // A tile far beyond any tree is not found, and nothing is logged as an error.
    let answer = exchange(
        &server,
        b"GET /tile/0/x072/x057/x594/x037/x927/936 HTTP/1.1\r\nHost: test\r\n\r\n",
    );
    problem(&answer, 404, "tile_not_found");
    assert!(!server.stderr().contains("ERROR"), "{}", server.stderr());
}
