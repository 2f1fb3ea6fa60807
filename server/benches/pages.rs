//! The public site's pages on a large log, beside a trivial handler, in one run
//! (README, Benchmarks).
//!
//! 1. setup: a data directory is created by a `Node`, then `PAGES_BENCH_ENTRIES`
//!    (default 1,000,000) entries of the generated campaign log
//!    (`test_support::campaign::campaign_log`: petitions, signatures on paper and
//!    online, withdrawals, invalidations, twin links, motions, events) are appended to
//!    its store in batches, and the node is opened again over them (a replay).
//! 2. render: each page (`/`, the largest petition's page, `/council-votes`,
//!    `/events`, `/trust`) rendered from the read models with no cache, five times;
//!    the slowest of each is shown (target ≤ 50 ms).
//! 3. load: the overview and the largest petition's page, alternating, from 64
//!    keep-alive HTTP/1.1 connections (hyper client, one request in flight per
//!    connection) for `PAGES_BENCH_SECS` (default 5) seconds, against the node's router
//!    served in-process on loopback; beside the same load on a trivial handler that
//!    answers a constant HTML body of the pages' average size. Four rounds in ABBA order;
//!    the ratio is the median of the rounds' ratios. Pages are cached per tree size (no
//!    append happens here), so this is what readers of a quiet log get.
//!
//! Run: `cargo bench -p server --bench pages`. `PAGES_BENCH_ENTRIES=100000` for a quick
//! run. Figures go to stdout and end with one `RESULT` line.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::child::exchange;
use common::{connect, get_request, host, load_average, section, serve};
use server::node::{Node, NodeOptions};
use server::site::SitePage;
use test_support::bench::{millis, temp_dir, temp_root, thousands, BenchResult, Context};

const DEFAULT_ENTRIES: u64 = 1_000_000;
const DEFAULT_SECS: u64 = 5;
const CONNECTIONS: usize = 64;
const ROUNDS: usize = 4;
/// Entries per `append_blocking` (one signed checkpoint each).
const APPEND_BATCH: usize = 10_000;
const RENDERS: usize = 5;

fn main() {
    common::run_main("pages", run());
}

fn env_u64(name: &str, default: u64, range: std::ops::RangeInclusive<u64>) -> BenchResult<u64> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(text) => text
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| format!("{name} must be an integer in {range:?}").into()),
    }
}

async fn run() -> BenchResult<()> {
    let entries = env_u64("PAGES_BENCH_ENTRIES", DEFAULT_ENTRIES, 1_000..=10_000_000)?;
    let secs = env_u64("PAGES_BENCH_SECS", DEFAULT_SECS, 1..=600)?;
    let root = temp_root()?;
    let dir = temp_dir(&root, "pages-bench-")?;
    let data = dir.path().join("data");
    println!(
        "pages bench: the public site on a log of {} entries, {CONNECTIONS} connections, \
         against a trivial handler",
        thousands(entries)
    );
    println!(
        "  {} cores; load average (1 min) at the start: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );

    section("1. setup");
    let options = NodeOptions {
        scrub: None,
        retention: None,
        ..NodeOptions::default()
    };
    let (node, _) = Node::open_with(&data, Some("pages-bench"), None, &options)
        .context("create the data directory")?;
    node.shutdown().context("close the new node")?;
    let made = Instant::now();
    let log = tokio::task::spawn_blocking(move || {
        test_support::campaign::campaign_log(entries as usize, 7)
    })
    .await
    .context("generate the log")?;
    println!(
        "  generated {} entries in {:.1} s",
        thousands(log.len() as u64),
        made.elapsed().as_secs_f64()
    );
    let appended = Instant::now();
    {
        let keys = server::datadir::read_keys(&data).context("the keys")?;
        let store = ledger::store::Store::open(&data, keys.log).context("open the store")?;
        for batch in log.chunks(APPEND_BATCH) {
            store
                .append_blocking(batch.to_vec())
                .context("append_blocking")?;
        }
        store.close().context("close the store")?;
    }
    drop(log);
    println!(
        "  appended them in {:.1} s",
        appended.elapsed().as_secs_f64()
    );
    let opened = Instant::now();
    let (node, opening) =
        Node::open_with(&data, None, None, &options).context("open the node over the log")?;
    println!(
        "  opened the node at tree size {} in {:.1} s",
        thousands(opening.tree_size),
        opened.elapsed().as_secs_f64()
    );

    section("2. render, uncached (target ≤ 50 ms)");
    let (largest, worst_render) = render_each(&node)?;
    let petition_path = SitePage::Petition(largest.clone()).path();

    section(&format!(
        "3. load: / and {petition_path} alternating, {CONNECTIONS} connections, {ROUNDS} \
         rounds of {secs} s each way, ABBA"
    ));
    let site = serve(node.router()).await?;
    let paths = vec!["/".to_string(), petition_path.clone()];
    let mut sizes = Vec::new();
    for path in &paths {
        let mut sender = connect(site.addr).await?;
        let (status, body) = exchange(&mut sender, get_request(&host(site.addr), path)).await?;
        if status != StatusCode::OK {
            return Err(format!("GET {path} answered {status}").into());
        }
        sizes.push(body.len());
    }
    let average = sizes.iter().sum::<usize>() / sizes.len();
    println!(
        "  page sizes: {} bytes (/), {} bytes (petition); the trivial handler answers {average} bytes",
        thousands(sizes[0] as u64),
        thousands(sizes[1] as u64)
    );
    let trivial = serve(trivial_router(Bytes::from(vec![b'x'; average]))).await?;
    let window = Duration::from_secs(secs);
    let mut ratios = Vec::new();
    let mut page_runs = Vec::new();
    let mut trivial_runs = Vec::new();
    for round in 0..ROUNDS {
        let pages_first = round % 2 == 0;
        for pages in [pages_first, !pages_first] {
            if pages {
                page_runs.push(drive(site.addr, &paths, window).await?);
            } else {
                trivial_runs.push(drive(trivial.addr, &["/".to_string()], window).await?);
            }
        }
        let (p, t) = (&page_runs[round], &trivial_runs[round]);
        ratios.push(p.per_s() / t.per_s().max(1e-9));
        println!(
            "  round {}: pages {}/s (p99 {:.1} ms), trivial {}/s (p99 {:.1} ms), ratio {:.2}",
            round + 1,
            thousands(p.per_s() as u64),
            p.percentile_ms(99.0),
            thousands(t.per_s() as u64),
            t.percentile_ms(99.0),
            ratios[round]
        );
    }
    site.stop().await?;
    trivial.stop().await?;
    node.shutdown().context("shut the node down")?;

    let mut all = Outcome::default();
    for run in &page_runs {
        all.answers += run.answers;
        all.elapsed += run.elapsed;
        all.latencies_us.extend_from_slice(&run.latencies_us);
    }
    ratios.sort_by(f64::total_cmp);
    let ratio = (ratios[ROUNDS / 2 - 1] + ratios[ROUNDS / 2]) / 2.0;
    let pages_per_s = all.answers as f64 / all.elapsed.as_secs_f64().max(1e-9) * 1.0;
    let p99 = all.percentile_ms(99.0);
    section("summary");
    println!(
        "  pages {}/s over every round, p99 {p99:.1} ms; median ratio to the trivial \
         handler {ratio:.2}; slowest uncached render {:.1} ms (targets: ≥ 0.3 × trivial, \
         p99 ≤ 50 ms, render ≤ 50 ms)",
        thousands(pages_per_s as u64),
        millis(worst_render)
    );
    println!(
        "RESULT pages_per_s={} ratio_pages_vs_trivial={ratio:.2} page_p99_ms={p99:.1}",
        pages_per_s.round() as u64
    );
    Ok(())
}

/// Renders every page of the node's read models [`RENDERS`] times without a cache and
/// prints the slowest of each. Returns the largest petition's id and the slowest
/// render of all.
fn render_each(node: &Node) -> BenchResult<(String, Duration)> {
    let state = node.state();
    let projection = state.published.read().unwrap_or_else(|e| e.into_inner());
    let largest = projection
        .petitions()
        .view
        .iter()
        .max_by_key(|p| p.total)
        .map(|p| p.opened.record.petition_id.to_string())
        .ok_or("the log has no petition")?;
    let source = server::site::SiteSource {
        store: &state.store,
        log_key: &state.log_key,
        cosignatures: &state.cosignatures,
    };
    let mut worst = Duration::ZERO;
    for page in [
        SitePage::Overview,
        SitePage::Petition(largest.clone()),
        SitePage::PetitionCounts(largest.clone()),
        SitePage::CouncilVotes,
        SitePage::Events,
        SitePage::Trust,
    ] {
        let mut slowest = Duration::ZERO;
        let mut bytes = 0;
        for _ in 0..RENDERS {
            let started = Instant::now();
            let body = page
                .render(&projection, &source)
                .map_err(|e| format!("render {}: {}", page.path(), e.detail))?
                .ok_or("a page of a known petition is missing")?;
            slowest = slowest.max(started.elapsed());
            bytes = body.len();
        }
        worst = worst.max(slowest);
        println!(
            "  {:<40} {:>7.1} ms  {:>9} bytes",
            page.path(),
            millis(slowest),
            thousands(bytes as u64)
        );
    }
    Ok((largest, worst))
}

fn trivial_router(body: Bytes) -> Router {
    Router::new().route(
        "/",
        get(move || {
            let body = body.clone();
            async move { constant(body) }
        }),
    )
}

fn constant(body: Bytes) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

#[derive(Default)]
struct Outcome {
    answers: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

impl Outcome {
    fn per_s(&self) -> f64 {
        self.answers as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentile_ms(&self, q: f64) -> f64 {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return 0.0;
        }
        let at = ((sorted.len() as f64 * q / 100.0) as usize).min(sorted.len() - 1);
        f64::from(sorted[at]) / 1000.0
    }
}

/// [`CONNECTIONS`] connections, each asking for `paths` in turn for `window`; every
/// answer must be a 200.
async fn drive(addr: SocketAddr, paths: &[String], window: Duration) -> BenchResult<Outcome> {
    let paths: Arc<Vec<String>> = Arc::new(paths.to_vec());
    let started = Instant::now();
    let until = started + window;
    let mut tasks = Vec::new();
    for connection in 0..CONNECTIONS {
        let paths = paths.clone();
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr).await?;
            let host = host(addr);
            let mut latencies = Vec::new();
            let mut n = connection;
            while Instant::now() < until {
                let path = &paths[n % paths.len()];
                n += 1;
                let sent = Instant::now();
                let (status, _) = exchange(&mut sender, get_request(&host, path)).await?;
                if status != StatusCode::OK {
                    return Err(format!("GET {path} answered {status}").into());
                }
                latencies.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
            }
            BenchResult::Ok(latencies)
        }));
    }
    let mut outcome = Outcome::default();
    for task in tasks {
        let latencies = task.await.context("a connection")??;
        outcome.answers += latencies.len() as u64;
        outcome.latencies_us.extend(latencies);
    }
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}
