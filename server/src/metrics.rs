//! Prometheus metrics: appends, batch sizes, commit latency and request latency by
//! route. Every label comes from a closed set, never from request content: route
//! templates (or `unmatched`), the standard methods (or `other`) and status codes, so a
//! client inventing paths or methods cannot grow `/metrics`.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use metrics::Histogram;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Latency buckets in seconds: 100 µs to 10 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0, 8192.0,
];

/// Installs the process-wide recorder once and returns its handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("ledger_batch_entries".into()),
                        BATCH_BUCKETS,
                    )
                })
                .expect("bucket lists are non-empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (e.g. by an embedding program);
            // then this handle renders nothing, which is better than failing to start.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Middleware recording each request's latency and status under its route template.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    latency_histogram(route, method, status).record(started.elapsed().as_secs_f64());
    response
}

/// The `method` label: a standard method's name, or `other` for an extension method
/// (HTTP lets a client send any token as a method).
fn method_label(method: &Method) -> &'static str {
    const STANDARD: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    STANDARD
        .into_iter()
        .find(|name| *name == method.as_str())
        .unwrap_or("other")
}

/// The histogram of one (route, method, status): its `_count` is the request count.
/// Handles are kept, so a request costs a map lookup, not a new metric key.
fn latency_histogram(route: &str, method: &'static str, status: StatusCode) -> Histogram {
    type Handles = HashMap<String, HashMap<(&'static str, StatusCode), Histogram>>;
    static HANDLES: OnceLock<RwLock<Handles>> = OnceLock::new();
    let handles = HANDLES.get_or_init(Default::default);
    let key = (method, status);
    if let Some(histogram) = crate::locks::read(handles)
        .get(route)
        .and_then(|by_status| by_status.get(&key))
    {
        return histogram.clone();
    }
    let histogram = metrics::histogram!(
        "http_request_duration_seconds",
        "route" => route.to_owned(),
        "method" => method,
        "status" => status.as_u16().to_string()
    );
    crate::locks::write(handles)
        .entry(route.to_owned())
        .or_default()
        .insert(key, histogram.clone());
    histogram
}
