//! The listening loop: accepts TCP connections and serves HTTP/1 on them with bounds a
//! hostile client cannot stretch.
//!
//! - At most [`Limits::max_connections`] connections are open; further ones wait in the
//!   kernel's accept queue until one closes. The limit is lowered, with a warning, to
//!   leave [`RESERVED_DESCRIPTORS`] of the process's descriptor limit to the data
//!   directory, so a flood of connections never makes the store fail to open a file.
//!   Each connection carries one request at a time, so the limit also bounds how many
//!   requests can wait on tokio's blocking pool (512 threads) at once.
//! - A request's headers must arrive within [`Limits::header_read_timeout`] of the
//!   connection waiting for them (hyper's timer, which also runs while a kept-alive
//!   connection waits for its next request), its body within
//!   [`Limits::body_read_timeout`] of the handler asking for it (see [`BodyReadTimeout`]),
//!   and a connection on which nothing moves while no request is being handled (an idle
//!   keep-alive, a client that stopped reading its answer) is closed after
//!   [`Limits::idle_timeout`].
//! - A request head with both `Transfer-Encoding` and `Content-Length` is refused with
//!   400 `conflicting_framing`. hyper reads such a request by its chunked encoding and
//!   drops the `Content-Length` before the router could see it, so each connection's
//!   bytes pass through a [`FramingWatch`] that follows the request framing and reads
//!   every head itself.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::problem::ApiError;
use crate::locks;

/// Default of [`Limits::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of [`Limits::body_read_timeout`].
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Default of [`Limits::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default of [`Limits::max_connections`]: well under tokio's 512 blocking threads.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Descriptors kept for the data directory, the runtime and the logs: the connection
/// limit is at most the process's descriptor limit less these.
pub const RESERVED_DESCRIPTORS: usize = 32;
/// The longest request head hyper accepts, and so the framing watch reads.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most headers hyper accepts in a request (its default).
const MAX_HEADERS: usize = 100;

/// How long connections may take and how many there may be.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// From waiting for a request (a new connection, or a kept-alive one after its
    /// last answer) to having all its headers.
    pub header_read_timeout: Duration,
    /// From the handler asking for the body to having all of it.
    pub body_read_timeout: Duration,
    /// No byte moving either way while no request is being handled.
    pub idle_timeout: Duration,
    /// Open connections at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The body-read timeout, as a request extension for the handlers that read a body
/// (a router driven without this loop, as in tests, uses the default).
#[derive(Clone, Copy, Debug)]
pub struct BodyReadTimeout(pub Duration);

/// `limit`, lowered to leave [`RESERVED_DESCRIPTORS`] of the soft descriptor limit.
pub fn connections_within_descriptors(limit: usize) -> usize {
    let mut rlimit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rlimit) } != 0 {
        return limit;
    }
    let descriptors = usize::try_from(rlimit.rlim_cur).unwrap_or(usize::MAX);
    let allowed = descriptors.saturating_sub(RESERVED_DESCRIPTORS).max(1);
    if allowed < limit {
        tracing::warn!(
            requested = limit,
            allowed,
            descriptors,
            "the descriptor limit (ulimit -n) leaves room for fewer connections"
        );
    }
    limit.min(allowed)
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then stops
/// accepting and waits for open connections to finish their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    // Half-closes are kept open so that a client that ends its side after a request
    // (the only way to send a body shorter than its Content-Length) gets an answer.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(MAX_HEAD_BYTES)
        .half_close(true);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // The permit comes first: at the limit, connections wait in the accept queue
        // instead of taking a descriptor.
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => permit,
            () = &mut shutdown => break,
        };
        let Ok(permit) = permit else { break };
        let stream = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match stream {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of descriptors or similar: back off instead of spinning.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection::new(limits);
        let io = TokioIo::new(Watched {
            stream,
            connection: connection.clone(),
        });
        let service = hyper::service::service_fn({
            let router = router.clone();
            let connection = connection.clone();
            move |request| connection.clone().handle(router.clone(), request)
        });
        let serving = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            tokio::select! {
                served = serving => {
                    if let Err(error) = served {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                }
                () = connection.idle() => tracing::debug!("closed an idle connection"),
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// What one connection's IO and its requests share.
#[derive(Clone)]
struct Connection {
    limits: Limits,
    opened: Instant,
    /// Milliseconds from `opened` to the last byte read or written.
    last_progress_ms: Arc<AtomicU64>,
    /// Requests whose handler is running.
    handling: Arc<AtomicUsize>,
    framing: Arc<Mutex<FramingWatch>>,
}

impl Connection {
    fn new(limits: Limits) -> Connection {
        Connection {
            limits,
            opened: Instant::now(),
            last_progress_ms: Arc::default(),
            handling: Arc::default(),
            framing: Arc::default(),
        }
    }

    fn progressed(&self) {
        let now = self.opened.elapsed().as_millis() as u64;
        self.last_progress_ms.store(now, Ordering::Relaxed);
    }

    /// Completes once the connection has been idle for the idle timeout.
    async fn idle(&self) {
        let timeout = self.limits.idle_timeout;
        loop {
            let last = Duration::from_millis(self.last_progress_ms.load(Ordering::Relaxed));
            let quiet = self.opened.elapsed().saturating_sub(last);
            if quiet >= timeout && self.handling.load(Ordering::Relaxed) == 0 {
                return;
            }
            tokio::time::sleep(
                timeout
                    .saturating_sub(quiet)
                    .max(Duration::from_millis(100)),
            )
            .await;
        }
    }

    /// One request: refused if its head had conflicting framing, otherwise routed.
    async fn handle(
        self,
        router: Router,
        mut request: Request<Incoming>,
    ) -> Result<Response, Infallible> {
        self.handling.fetch_add(1, Ordering::Relaxed);
        let head = locks::lock(&self.framing).heads.pop_front();
        let mut response = if head.is_some_and(|head| head.conflicting) {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "conflicting_framing",
                "a request may not carry both Transfer-Encoding and Content-Length",
            )
            .into_response()
        } else {
            request
                .extensions_mut()
                .insert(BodyReadTimeout(self.limits.body_read_timeout));
            router
                .oneshot(request.map(Body::new))
                .await
                .unwrap_or_else(|never| match never {})
        };
        // Once the watch no longer follows this connection's framing it cannot check the
        // heads that follow, so no request may follow.
        if !head.is_some_and(|head| head.followed) {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        self.handling.fetch_sub(1, Ordering::Relaxed);
        self.progressed();
        Ok(response)
    }
}

/// A connection's stream, noting progress and showing the framing watch what is read.
struct Watched {
    stream: TcpStream,
    connection: Connection,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        let read = &buf.filled()[before..];
        if !read.is_empty() {
            self.connection.progressed();
            locks::lock(&self.connection.framing).feed(read);
        }
        polled
    }
}

impl Watched {
    /// `polled`, a write, noted as progress if it wrote anything.
    fn wrote(&self, polled: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.connection.progressed();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.wrote(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.wrote(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Follows the request framing of the bytes read from one connection, reading each
/// request head. It follows heads and `Content-Length` bodies; after anything else (a
/// chunked body, a head it cannot read) it is lost, and the connection is closed after
/// the request in hand.
#[derive(Default)]
struct FramingWatch {
    state: Framing,
    /// The head being read.
    head: Vec<u8>,
    /// What each head read so far says, in order; the service takes one per request.
    heads: VecDeque<HeadFraming>,
}

#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    #[default]
    Head,
    /// Body bytes still to come.
    Body(u64),
    Lost,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HeadFraming {
    /// Both `Transfer-Encoding` and `Content-Length`.
    conflicting: bool,
    /// The watch knows where this request ends, so it can read the next head.
    followed: bool,
}

impl FramingWatch {
    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.state {
                Framing::Lost => return,
                Framing::Body(left) => {
                    let taken = left.min(bytes.len() as u64);
                    bytes = &bytes[taken as usize..];
                    self.state = match left - taken {
                        0 => Framing::Head,
                        left => Framing::Body(left),
                    };
                }
                Framing::Head => {
                    let seen = self.head.len();
                    self.head.extend_from_slice(bytes);
                    bytes = &[];
                    // Parse only when the new bytes may have ended the head (a blank
                    // line), so a head sent a byte at a time costs linear work.
                    let tail = &self.head[seen.saturating_sub(3)..];
                    let may_end = tail.windows(2).any(|w| w == b"\n\n")
                        || tail.windows(3).any(|w| w == b"\n\r\n");
                    if may_end {
                        if let Some(rest) = self.read_head() {
                            // The bytes after the head are fed again, in the new state.
                            return self.feed(&rest);
                        }
                    }
                    if self.head.len() > MAX_HEAD_BYTES {
                        self.state = Framing::Lost;
                    }
                }
            }
        }
    }

    /// Reads the head in `self.head` if it is complete, and returns the bytes after it.
    fn read_head(&mut self) -> Option<Vec<u8>> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        let length = match request.parse(&self.head) {
            Ok(httparse::Status::Complete(length)) => length,
            Ok(httparse::Status::Partial) => return None,
            Err(_) => {
                self.state = Framing::Lost;
                return None;
            }
        };
        let named = |name: &'static str| {
            request
                .headers
                .iter()
                .filter(move |h| h.name.eq_ignore_ascii_case(name))
        };
        let chunked = named("transfer-encoding").next().is_some();
        let lengths: Vec<&[u8]> = named("content-length").map(|h| h.value).collect();
        self.state = match lengths.first() {
            _ if chunked => Framing::Lost,
            None => Framing::Head,
            Some(first) if lengths.iter().all(|l| l == first) => std::str::from_utf8(first)
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
                .map_or(Framing::Lost, |length| match length {
                    0 => Framing::Head,
                    length => Framing::Body(length),
                }),
            Some(_) => Framing::Lost,
        };
        self.heads.push_back(HeadFraming {
            conflicting: chunked && !lengths.is_empty(),
            followed: self.state != Framing::Lost,
        });
        let rest = self.head.split_off(length);
        self.head.clear();
        Some(rest)
    }
}
