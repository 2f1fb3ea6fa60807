//! What the benchmarks that run the real `campaign-ledger` binary as a child process
//! share (`scale`, `audit`): requests on a connection of their own, the log's size, a
//! free port, and reading the child's log. Each bench uses a part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use serde::Deserialize;
use test_support::bench::{BenchResult, Context};

use super::{connect, get_request, host};

#[derive(Deserialize)]
pub struct SizeAnswer {
    pub tree_size: u64,
}

/// One request on a connection of its own.
pub async fn fetch(
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
) -> BenchResult<(StatusCode, Bytes)> {
    let mut sender = connect(addr).await?;
    exchange(&mut sender, request).await
}
pub async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> BenchResult<(StatusCode, Bytes)> {
    sender.ready().await.context("connection")?;
    let response = sender
        .send_request(request)
        .await
        .context("send a request")?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .context("read an answer")?
        .to_bytes();
    Ok((status, body))
}
/// The log's size, from `/healthz` (which must answer 200).
pub async fn tree_size(addr: SocketAddr) -> BenchResult<u64> {
    let (status, body) = fetch(addr, get_request(&host(addr), "/healthz")).await?;
    if status != StatusCode::OK {
        return Err(format!(
            "/healthz answered {status}: {}",
            String::from_utf8_lossy(&body)
        )
        .into());
    }
    let sized: SizeAnswer = serde_json::from_slice(&body).context("read /healthz")?;
    Ok(sized.tree_size)
}
/// A free loopback port: bound, read and let go (another process could take it
/// meanwhile, which the server's start would then report).
pub fn free_port() -> BenchResult<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("find a free port")?;
    listener.local_addr().context("the free port")
}
/// The server's last "opened the log" line, which says how long its read models took
/// to load.
pub fn last_opening(log: &Path) -> String {
    std::fs::read_to_string(log)
        .ok()
        .and_then(|text| {
            text.lines()
                .rev()
                .find(|line| line.starts_with("opened the log"))
                .and_then(|line| line.split_once('(').map(|(_, rest)| rest))
                .map(|rest| rest.trim_end_matches(')').to_owned())
        })
        .unwrap_or_else(|| "no opening line in the server's output".to_owned())
}
pub fn print_log_tail(log: &Path) {
    let Ok(text) = std::fs::read_to_string(log) else {
        return;
    };
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(30)..];
    eprintln!("last lines of the server's output ({}):", log.display());
    for line in tail {
        eprintln!("  | {line}");
    }
}
