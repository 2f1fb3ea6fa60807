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

/// A router served in-process on a loopback port, until [`Served::stop`].
pub struct Served {
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// Serves `router` with the server's own accept loop on a free loopback port.
pub async fn serve(router: axum::Router) -> BenchResult<Served> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("listen on loopback")?;
    let addr = listener.local_addr().context("the listening address")?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::http::listen::serve(
        listener,
        router,
        server::http::listen::Limits::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    Ok(Served { addr, stop, task })
}

impl Served {
    /// Stops serving, waiting at most 10 s for open connections.
    pub async fn stop(self) -> BenchResult<()> {
        let _ = self.stop.send(());
        tokio::time::timeout(std::time::Duration::from_secs(10), self.task)
            .await
            .context("stop a server")?
            .context("stop a server")
    }
}
