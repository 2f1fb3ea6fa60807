//! What the server's benchmark programs share: the HTTP/1.1 client side (one request
//! in flight per connection, as a form or a browser sends them) and report helpers.
//! Each bench uses a part of it.
#![allow(dead_code)]

pub mod child;

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::http::{header, HeaderValue, Method, Request};
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use test_support::bench::{BenchResult, Context};
use tokio::net::TcpStream;

pub fn host(addr: SocketAddr) -> HeaderValue {
    HeaderValue::from_str(&addr.to_string()).expect("a socket address is a valid header")
}

pub fn get_request(host: &HeaderValue, path: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(header::HOST, host)
        .body(Full::new(Bytes::new()))
        .expect("a valid request")
}

pub fn post_request(
    host: &HeaderValue,
    bearer: &HeaderValue,
    path: &str,
    body: String,
) -> Request<Full<Bytes>> {
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, host)
        .header(header::AUTHORIZATION, bearer)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid request")
}

pub async fn connect(addr: SocketAddr) -> BenchResult<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .context(&format!("connect to {addr}"))?;
    stream.set_nodelay(true).context("TCP_NODELAY")?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    tokio::spawn(connection);
    Ok(sender)
}

pub fn section(title: &str) {
    println!();
    println!("{title}");
}

/// The 1-minute load average, to judge how much else ran beside the benchmark.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// Runs a bench's `run` on a multi-threaded runtime; a failure is printed as
/// `<name> bench failed: ...` and exits 1. (`http` builds its runtimes its own way,
/// `export` needs none.)
#[allow(dead_code)]
pub fn run_main<F>(name: &str, run: F)
where
    F: std::future::Future<Output = BenchResult<()>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{name} bench failed: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(err) = runtime.block_on(run) {
        eprintln!("{name} bench failed: {err}");
        std::process::exit(1);
    }
}
