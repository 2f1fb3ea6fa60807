//! The HTTP API under load, beside what a typical web app would do, in one run
//! (README, Benchmarks): the ledger server, a SQLite-backed baseline app and a trivial handler
//! are served in-process on loopback, and a load generator in the same process drives
//! them over 64 keep-alive HTTP/1.1 connections (hyper client, one request in flight
//! per connection, each sent as soon as the previous answer arrived). For the appends
//! the load generator runs on a runtime of its own (two threads named `load-gen`, as a
//! client process would), so that the server's CPU can be told from its own; for the
//! reads it shares the servers' runtime.
//!
//! 1. appends: single-signature `POST /api/v1/records` (each with a new email, admin
//!    bearer token) to the ledger server for `HTTP_BENCH_SECS` (default 20): throughput
//!    of 201 answers and their latency. Every answer must be a 201.
//! 2. baseline: the same requests to a minimal axum app that parses the same JSON and
//!    inserts the signature as one row into SQLite (file database, WAL,
//!    `synchronous=FULL`, one transaction per request, one connection behind a mutex,
//!    used from `spawn_blocking`; `UNIQUE(petition_id, email)` stands in for the
//!    ledger's duplicate rule). The ledger and the SQLite app alternate for two rounds
//!    of `HTTP_BENCH_SECS` each, and each is judged on both rounds together.
//! 3. reads: `GET /api/v1/petitions/{id}` and `GET /api/v1/proofs/inclusion` for a
//!    random index at the full tree size, mixed 50/50, against the log the append phase
//!    grew, beside a trivial handler returning a constant JSON body of the same average
//!    size. Before them the append phase's dirty pages are written out (`sync`), so the
//!    kernel's write-back does not share the first rounds. Four rounds of 3/8 of the
//!    append duration, each running both servers back to back in ABBA order (ledger
//!    first, then trivial first, ...): the ratio is the median of the four rounds'
//!    ratios, so neither a trend (a machine warming up or calming down) nor a burst of
//!    noise on a shared machine can decide it.
//!
//! Only answers to requests sent after a short warm-up and received before the end of
//! the window count towards throughput and latency; every answer that is not the
//! expected status is counted, warm-up included.
//!
//! After the append phase the ledger's own Prometheus metrics (batch sizes, commit
//! time) and the CPU time of the process, of the load generator and of the sequencer
//! and log writer threads are printed, to show where an append's time goes. The
//! server's share (the process's CPU less the load generator's, per append) is the
//! `append_cpu_us` of the `RESULT` line: what the append path costs.
//!
//! Run: `cargo bench -p server --bench http`. `HTTP_BENCH_SECS=3` for a smoke run.
//! Figures go to stdout and end with one `RESULT` line.

mod common;
use common::child::fetch;
use common::{connect, get_request, host, load_average, post_request, section, serve};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use ledger::HashAlg;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use server::node::Node;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use test_support::bench::{temp_dir, temp_root, thousands, BenchResult, Context};

const ORIGIN: &str = "bench.campaign-ledger.example/http";
const PETITION: &str = "uk-detwin-http-bench";
const CONNECTIONS: usize = 64;
const DEFAULT_SECS: f64 = 20.0;
/// Alternating rounds of the ledger's appends and the SQLite app.
const APPEND_ROUNDS: usize = 2;
/// Rounds of the ledger's reads and the trivial handler, one of each per round in ABBA
/// order; the ratio is the median of the rounds' ratios.
const READ_ROUNDS: usize = 4;
/// Fixed so that every run sends the same read mix.
const SEED: u64 = 0x4e7_be4c;
/// The load generator's own runtime, on threads named [`LOAD_THREAD`], so that the
/// CPU it uses can be told from the server's.
static LOAD_RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
const LOAD_THREAD: &str = "load-gen";
/// Threads the runtime started (workers, then `spawn_blocking` threads as needed).
static THREADS_STARTED: AtomicU64 = AtomicU64::new(0);
/// Constituencies (2010–2024 boundaries) with their council and a postcode in them.
const AREAS: &[(&str, &str, &str)] = &[
    ("E14000831", "Newcastle upon Tyne", "NE1 7RU"),
    ("E14000832", "Newcastle upon Tyne", "NE6 1SE"),
    ("E14000833", "Newcastle upon Tyne", "NE3 2DN"),
    ("E14000560", "Birmingham", "B15 2TT"),
    ("E14000564", "Birmingham", "B1 2JB"),
    ("S14000022", "City of Edinburgh", "EH7 5QS"),
    ("S14000024", "City of Edinburgh", "EH9 1SB"),
    ("S14000030", "Glasgow City", "G31 2AA"),
    ("E14000777", "Leeds", "LS1 4AP"),
    ("E14000793", "Liverpool", "L1 8JQ"),
    ("E14000865", "Nottingham", "NG3 1AE"),
    ("E14000919", "Sheffield", "S1 2HH"),
    ("E14000889", "Reading", "RG1 1JX"),
    ("E14000984", "Sutton", "SM1 1EA"),
];

fn main() {
    // As `campaign-ledger serve` builds it, counting the threads it starts.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(|| {
            THREADS_STARTED.fetch_add(1, Ordering::Relaxed);
        })
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("http bench failed: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let load_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(LOAD_THREAD)
        .enable_all()
        .build();
    match load_runtime {
        Ok(load_runtime) => {
            let _ = LOAD_RUNTIME.set(load_runtime);
        }
        Err(e) => {
            eprintln!("http bench failed: cannot start the load generator's runtime: {e}");
            std::process::exit(1);
        }
    }
    if let Err(err) = runtime.block_on(run()) {
        eprintln!("http bench failed: {err}");
        std::process::exit(1);
    }
}

async fn run() -> BenchResult<()> {
    let secs = bench_secs()?;
    let append_for = Duration::from_secs_f64(secs);
    let read_for = Duration::from_secs_f64(secs * 3.0 / 8.0);
    let warm = Duration::from_secs_f64((secs * 0.05).clamp(0.1, 1.0));
    let tmp_root = temp_root()?;

    println!("http bench: the ledger server vs a SQLite web app vs a trivial handler, in-process on loopback");
    println!(
        "  {CONNECTIONS} keep-alive HTTP/1.1 connections, one request in flight each; {} cores; \
         appends {:.1} s, reads {READ_ROUNDS} × {:.1} s per server, {:.1} s warm-up each; temp dirs under {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        append_for.as_secs_f64(),
        read_for.as_secs_f64(),
        warm.as_secs_f64(),
        tmp_root.display()
    );
    println!(
        "  per s and latency count answers to requests sent after the warm-up and answered within \
         the window; other: answers that were not the expected status (any time); threads: \
         runtime threads started during the run; others: CPU cores other processes kept busy \
         meanwhile (noise)"
    );
    println!(
        "  load average (1 min) at the start: {} (other work on the machine skews every figure)",
        load_average()
    );

    // The ledger server, as `campaign-ledger serve` runs it.
    let ledger_dir = temp_dir(&tmp_root, "http-bench-ledger-")?;
    let data = ledger_dir.path().join("data");
    let (node, opening) =
        tokio::task::spawn_blocking(move || Node::open(&data, Some(ORIGIN), Some(HashAlg::Blake3)))
            .await
            .context("open the ledger")?
            .context("open the ledger")?;
    let token = opening
        .admin_token
        .ok_or("a new data directory came without an admin token")?;
    let ledger = serve(node.router()).await?;
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).context("the admin token")?;
    open_petition(ledger.addr, &bearer).await?;

    // 1. and 2.: the ledger and the SQLite app alternate, so that a burst of other work
    // on the machine cannot decide the ratio alone.
    section(&format!(
        "1. appends: single-signature POST /api/v1/records, {APPEND_ROUNDS} rounds of {:.1} s each\n\
         2. baseline: the same POSTs to an axum + SQLite app, alternating with the ledger",
        append_for.as_secs_f64()
    ));
    header_row();
    let sqlite_dir = temp_dir(&tmp_root, "http-bench-sqlite-")?;
    let sqlite_app = SqliteApp::open(&sqlite_dir.path().join("app.db"), &token)?;
    let sqlite = serve(sqlite_app.router()).await?;
    let signers = Arc::new(AtomicU64::new(0));
    let metrics_before = Metrics::read(&node);
    let mut cpu_ledger = CpuUse::default();
    let mut cpu_sqlite = CpuUse::default();
    let mut ledger_runs = Vec::new();
    let mut sqlite_runs = Vec::new();
    for _ in 0..APPEND_ROUNDS {
        let before = CpuTimes::now();
        let run = load(
            Runtime::Own,
            "ledger",
            ledger.addr,
            StatusCode::CREATED,
            warm,
            append_for,
            append_requests(ledger.addr, bearer.clone(), signers.clone()),
        )
        .await?;
        cpu_ledger.add(&CpuTimes::now().since(&before));
        run.print_row();
        ledger_runs.push(run);

        let before = CpuTimes::now();
        let run = load(
            Runtime::Own,
            "sqlite",
            sqlite.addr,
            StatusCode::CREATED,
            warm,
            append_for,
            append_requests(sqlite.addr, bearer.clone(), signers.clone()),
        )
        .await?;
        cpu_sqlite.add(&CpuTimes::now().since(&before));
        run.print_row();
        sqlite_runs.push(run);
    }
    let metrics_after = Metrics::read(&node);
    let ledger_appends = Outcome::pooled("ledger", &ledger_runs);
    let sqlite_appends = Outcome::pooled("sqlite", &sqlite_runs);
    println!("  all rounds together:");
    ledger_appends.print_row();
    sqlite_appends.print_row();
    let tree_size = node.state().store.size();
    let sqlite_rows = sqlite_app.rows()?;

    let append_per_s = ledger_appends.per_s();
    let ratio_vs_sqlite = append_per_s / sqlite_appends.per_s();
    println!("  ledger/sqlite {ratio_vs_sqlite:.2}");
    println!(
        "  the log holds {} entries; the SQLite table {} rows",
        thousands(tree_size),
        thousands(sqlite_rows)
    );

    // Where an append's time goes.
    section("where an append's time goes (ledger rounds, warm-ups included)");
    let server_cpu_us = describe_appends(
        &metrics_before,
        &metrics_after,
        &cpu_ledger,
        ledger_appends.answered,
    );
    println!(
        "  sqlite app: {:.0} µs CPU per insert ({:.2} cores busy)",
        cpu_sqlite.process_us() / sqlite_appends.answered.max(1) as f64,
        cpu_sqlite.process_us() / 1e6 / cpu_sqlite.wall.as_secs_f64()
    );

    // 3. reads
    let (petition_bytes, proof_bytes) = probe_reads(ledger.addr, tree_size).await?;
    let constant = constant_body((petition_bytes + proof_bytes) / 2);
    let trivial = serve(trivial_router(constant.clone())).await?;
    section(&format!(
        "3. reads: petition counts and inclusion proofs at tree size {} (50/50) vs a constant body",
        thousands(tree_size)
    ));
    println!(
        "  answers: petition {petition_bytes} bytes, inclusion proof {proof_bytes} bytes; constant body {} bytes",
        constant.len()
    );
    // The append phase left dirty pages that the kernel writes back for a while: write
    // them now, so that the first read rounds do not share the machine with the flush.
    rustix::fs::sync();
    header_row();
    let mut read_runs = Vec::new();
    let mut trivial_runs = Vec::new();
    let mut pair_ratios = Vec::new();
    for round in 0..READ_ROUNDS {
        // ABBA order: neither server always runs in the earlier slot of its pair.
        let ledger_first = round % 2 == 0;
        let mut pair = [None, None];
        for ledger_turn in [ledger_first, !ledger_first] {
            let outcome = if ledger_turn {
                load(
                    Runtime::Shared,
                    "ledger",
                    ledger.addr,
                    StatusCode::OK,
                    warm,
                    read_for,
                    read_requests(ledger.addr, tree_size),
                )
                .await?
            } else {
                load(
                    Runtime::Shared,
                    "trivial",
                    trivial.addr,
                    StatusCode::OK,
                    warm,
                    read_for,
                    trivial_requests(trivial.addr),
                )
                .await?
            };
            outcome.print_row();
            pair[usize::from(!ledger_turn)] = Some(outcome.per_s());
            if ledger_turn {
                read_runs.push(outcome);
            } else {
                trivial_runs.push(outcome);
            }
        }
        if let [Some(reads), Some(constant)] = pair {
            pair_ratios.push(reads / constant);
        }
    }
    let reads_per_s = median(read_runs.iter().map(Outcome::per_s).collect());
    let trivial_per_s = median(trivial_runs.iter().map(Outcome::per_s).collect());
    let ratio_reads = median(pair_ratios.clone());
    println!(
        "  medians of {READ_ROUNDS} rounds: ledger {}/s, trivial {}/s; ledger/trivial by round {}, median {ratio_reads:.2}",
        thousands(reads_per_s.round() as u64),
        thousands(trivial_per_s.round() as u64),
        pair_ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    );

    // Every server stops cleanly; the ledger saves its snapshot.
    for served in [ledger, sqlite, trivial] {
        served.stop().await?;
    }
    tokio::task::spawn_blocking(move || node.shutdown())
        .await
        .context("stop the ledger")?
        .context("stop the ledger")?;
    drop(sqlite_app);
    drop(ledger_dir);
    drop(sqlite_dir);

    let refused: u64 = ledger_runs
        .iter()
        .chain(&sqlite_runs)
        .chain(&read_runs)
        .chain(&trivial_runs)
        .map(|o| o.failures())
        .sum();
    println!();
    if refused > 0 {
        println!(
            "WARNING: {refused} requests were not answered with the expected status (see above)"
        );
    }
    println!(
        "  targets: appends ≥ 10,000/s with p99 ≤ 25 ms, ledger/sqlite ≥ 3, reads ≥ 0.7 × trivial"
    );
    println!(
        "RESULT append_per_s={} append_p99_ms={:.1} ratio_vs_sqlite_app={ratio_vs_sqlite:.2} \
         append_cpu_us={server_cpu_us:.1} reads_per_s={} ratio_reads_vs_trivial={ratio_reads:.2}",
        append_per_s.round(),
        ledger_appends.percentile_ms(0.99),
        reads_per_s.round()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------

fn bench_secs() -> BenchResult<f64> {
    match std::env::var("HTTP_BENCH_SECS") {
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_SECS),
        Err(e) => Err(format!("HTTP_BENCH_SECS: {e}").into()),
        Ok(text) => match text.trim().parse::<f64>() {
            Ok(secs) if secs.is_finite() && secs > 0.0 => Ok(secs),
            _ => Err(format!("HTTP_BENCH_SECS must be a positive number, got {text:?}").into()),
        },
    }
}

/// A router served on a free loopback port, as `campaign-ledger serve` serves: through
/// the same accept loop, with its timeouts, connection limit and request-head checks.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

// ---------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------

/// What each connection's worker owns: its random source and how many it sent.
struct Worker {
    rng: StdRng,
    sent: u64,
}

type MakeRequest = Arc<dyn Fn(&mut Worker) -> Request<Full<Bytes>> + Send + Sync>;

/// A `signature.added` body as docs/API.md shows it; signer `n` has its own email.
fn signature_body(n: u64) -> String {
    let (constituency, council, postcode) = AREAS[(n % AREAS.len() as u64) as usize];
    let consent = n.is_multiple_of(3);
    format!(
        r#"{{"type":"signature.added","petition_id":"{PETITION}","name":"Bench Signer {n}","email":"signer-{n}@bench.example.org","postcode":"{postcode}","country":"GB","constituency":"{constituency}","council":"{council}","consent_to_share":{consent},"channel":"online"}}"#
    )
}

fn append_requests(addr: SocketAddr, bearer: HeaderValue, signers: Arc<AtomicU64>) -> MakeRequest {
    let host = host(addr);
    Arc::new(move |_worker: &mut Worker| {
        let n = signers.fetch_add(1, Ordering::Relaxed);
        post_request(&host, &bearer, "/api/v1/records", signature_body(n))
    })
}

fn petition_path() -> String {
    format!("/api/v1/petitions/{PETITION}")
}

fn proof_path(index: u64, tree_size: u64) -> String {
    format!("/api/v1/proofs/inclusion?index={index}&tree_size={tree_size}")
}

/// Petition counts and inclusion proofs for random indexes, alternating.
fn read_requests(addr: SocketAddr, tree_size: u64) -> MakeRequest {
    let host = host(addr);
    let petition = petition_path();
    Arc::new(move |worker: &mut Worker| {
        if worker.sent.is_multiple_of(2) {
            get_request(&host, &petition)
        } else {
            let index = worker.rng.gen_range(0..tree_size);
            get_request(&host, &proof_path(index, tree_size))
        }
    })
}

fn trivial_requests(addr: SocketAddr) -> MakeRequest {
    let host = host(addr);
    Arc::new(move |_worker: &mut Worker| get_request(&host, "/api/v1/constant"))
}

async fn open_petition(addr: SocketAddr, bearer: &HeaderValue) -> BenchResult<()> {
    let body = format!(
        r#"{{"type":"petition.opened","petition_id":"{PETITION}","title":"End the sister city links with Chinese cities","text":"We ask for an independent advisory committee on city diplomacy and a national public consultation.","target":"UK Parliament","closes_on":"2099-12-31"}}"#
    );
    let (status, answer) = fetch(
        addr,
        post_request(&host(addr), bearer, "/api/v1/records", body),
    )
    .await?;
    if status != StatusCode::CREATED {
        return Err(format!(
            "opening the petition answered {status}: {}",
            String::from_utf8_lossy(&answer)
        )
        .into());
    }
    Ok(())
}

/// The sizes of a petition answer and of an inclusion proof answer, checking both work.
async fn probe_reads(addr: SocketAddr, tree_size: u64) -> BenchResult<(usize, usize)> {
    let host = host(addr);
    let mut sizes = Vec::new();
    for path in [petition_path(), proof_path(tree_size / 2, tree_size)] {
        let (status, body) = fetch(addr, get_request(&host, &path)).await?;
        if status != StatusCode::OK {
            return Err(format!(
                "GET {path} answered {status}: {}",
                String::from_utf8_lossy(&body)
            )
            .into());
        }
        sizes.push(body.len());
    }
    Ok((sizes[0], sizes[1]))
}

// ---------------------------------------------------------------------------------
// Load generator
// ---------------------------------------------------------------------------------

/// What one load run saw.
struct Outcome {
    label: &'static str,
    window: Duration,
    /// Expected answers to requests sent and answered within the window.
    counted: u64,
    /// Latencies of the counted answers, sorted.
    latencies_us: Vec<u32>,
    /// Expected answers over the whole run, warm-up and stragglers included.
    answered: u64,
    /// Answers with another status, by status, over the whole run.
    unexpected: BTreeMap<u16, u64>,
    /// The first unexpected answer's body, to say why.
    first_unexpected: Option<String>,
    transport_errors: u64,
    /// Runtime threads started meanwhile: `spawn_blocking` threads, which the server
    /// and the SQLite app use, come and go under load.
    threads_started: u64,
    /// CPU seconds other processes used meanwhile.
    others_cpu_s: f64,
}

#[derive(Default)]
struct WorkerOutcome {
    counted: u64,
    latencies_us: Vec<u32>,
    answered: u64,
    unexpected: BTreeMap<u16, u64>,
    first_unexpected: Option<String>,
    transport_errors: u64,
}

/// Drives `addr` from [`CONNECTIONS`] connections: every connection sends a request
/// made by `make`, waits for the whole answer and sends the next, until the window of
/// `measure` after `warm` has passed.
/// Where the load generator runs.
#[derive(Clone, Copy)]
enum Runtime {
    /// On its own threads ([`LOAD_THREAD`]), as a client process would, so that the
    /// server's CPU can be told from its own: the appends.
    Own,
    /// On the servers' runtime, sharing its two worker threads: the reads, whose target
    /// (0.7 of a handler that does nothing) was set against this arrangement.
    Shared,
}

async fn load(
    runtime: Runtime,
    label: &'static str,
    addr: SocketAddr,
    expected: StatusCode,
    warm: Duration,
    measure: Duration,
    make: MakeRequest,
) -> BenchResult<Outcome> {
    let run = drive_all(label, addr, expected, warm, measure, make);
    match runtime {
        Runtime::Shared => run.await,
        Runtime::Own => {
            let own = LOAD_RUNTIME
                .get()
                .ok_or("the load generator's runtime is not running")?;
            own.spawn(run).await.context("the load generator")?
        }
    }
}

/// [`load`] on the runtime it is called on: its connections and tasks live there.
async fn drive_all(
    label: &'static str,
    addr: SocketAddr,
    expected: StatusCode,
    warm: Duration,
    measure: Duration,
    make: MakeRequest,
) -> BenchResult<Outcome> {
    let threads_before = THREADS_STARTED.load(Ordering::Relaxed);
    let others_before = others_cpu_s();
    let mut senders = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        senders.push(connect(addr).await?);
    }
    let window_start = Instant::now() + warm;
    let deadline = window_start + measure;
    let mut workers = Vec::with_capacity(CONNECTIONS);
    for (i, sender) in senders.into_iter().enumerate() {
        let worker = Worker {
            rng: StdRng::seed_from_u64(SEED ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            sent: i as u64,
        };
        workers.push(tokio::spawn(drive(
            addr,
            sender,
            worker,
            make.clone(),
            expected,
            window_start,
            deadline,
        )));
    }
    let mut outcome = Outcome {
        label,
        window: measure,
        counted: 0,
        latencies_us: Vec::new(),
        answered: 0,
        unexpected: BTreeMap::new(),
        first_unexpected: None,
        transport_errors: 0,
        threads_started: 0,
        others_cpu_s: 0.0,
    };
    for worker in workers {
        let part = worker.await.context("a load worker")?;
        outcome.counted += part.counted;
        outcome.latencies_us.extend(part.latencies_us);
        outcome.answered += part.answered;
        for (status, n) in part.unexpected {
            *outcome.unexpected.entry(status).or_default() += n;
        }
        if outcome.first_unexpected.is_none() {
            outcome.first_unexpected = part.first_unexpected;
        }
        outcome.transport_errors += part.transport_errors;
    }
    outcome.latencies_us.sort_unstable();
    outcome.threads_started = THREADS_STARTED.load(Ordering::Relaxed) - threads_before;
    outcome.others_cpu_s = others_cpu_s() - others_before;
    Ok(outcome)
}

async fn drive(
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
    mut worker: Worker,
    make: MakeRequest,
    expected: StatusCode,
    window_start: Instant,
    deadline: Instant,
) -> WorkerOutcome {
    let mut out = WorkerOutcome::default();
    let mut sender = Some(sender);
    loop {
        let sent = Instant::now();
        if sent >= deadline {
            break;
        }
        let connection = match sender.as_mut() {
            Some(connection) => connection,
            None => match connect(addr).await {
                Ok(connection) => sender.insert(connection),
                Err(_) => {
                    out.transport_errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let request = make(&mut worker);
        worker.sent += 1;
        match exchange(connection, request).await {
            Ok((status, body)) => {
                let answered = Instant::now();
                if status == expected {
                    out.answered += 1;
                    if sent >= window_start && answered <= deadline {
                        out.counted += 1;
                        let micros = answered.duration_since(sent).as_micros();
                        out.latencies_us.push(micros.min(u32::MAX as u128) as u32);
                    }
                } else {
                    *out.unexpected.entry(status.as_u16()).or_default() += 1;
                    if out.first_unexpected.is_none() {
                        out.first_unexpected = Some(String::from_utf8_lossy(&body).into_owned());
                    }
                }
            }
            Err(_) => {
                out.transport_errors += 1;
                sender = None;
            }
        }
    }
    out
}

async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), hyper::Error> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

fn header_row() {
    println!(
        "  {:<8} {:>10} {:>9} {:>9} {:>9} {:>9} {:>12} {:>7} {:>8} {:>7}",
        "server",
        "per s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "counted",
        "other",
        "threads",
        "others"
    );
}

impl Outcome {
    /// Several runs as one: their windows, answers and latencies together.
    fn pooled(label: &'static str, runs: &[Outcome]) -> Outcome {
        let mut all = Outcome {
            label,
            window: Duration::ZERO,
            counted: 0,
            latencies_us: Vec::new(),
            answered: 0,
            unexpected: BTreeMap::new(),
            first_unexpected: None,
            transport_errors: 0,
            threads_started: 0,
            others_cpu_s: 0.0,
        };
        for run in runs {
            all.window += run.window;
            all.counted += run.counted;
            all.latencies_us.extend(&run.latencies_us);
            all.answered += run.answered;
            for (status, n) in &run.unexpected {
                *all.unexpected.entry(*status).or_default() += n;
            }
            if all.first_unexpected.is_none() {
                all.first_unexpected.clone_from(&run.first_unexpected);
            }
            all.transport_errors += run.transport_errors;
            all.threads_started += run.threads_started;
            all.others_cpu_s += run.others_cpu_s;
        }
        all.latencies_us.sort_unstable();
        all
    }

    fn per_s(&self) -> f64 {
        self.counted as f64 / self.window.as_secs_f64()
    }

    fn percentile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = ((self.latencies_us.len() - 1) as f64 * q).round() as usize;
        f64::from(self.latencies_us[rank]) / 1e3
    }

    /// CPU cores other processes kept busy during the run (warm-up included).
    fn others_cores(&self) -> f64 {
        self.others_cpu_s / self.window.as_secs_f64().max(1e-9)
    }

    /// Answers that were not the expected status, and requests that got no answer.
    fn failures(&self) -> u64 {
        self.unexpected.values().sum::<u64>() + self.transport_errors
    }

    fn print_row(&self) {
        println!(
            "  {:<8} {:>10} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>12} {:>7} {:>8} {:>7.2}",
            self.label,
            thousands(self.per_s().round() as u64),
            self.percentile_ms(0.50),
            self.percentile_ms(0.90),
            self.percentile_ms(0.99),
            self.percentile_ms(1.0),
            thousands(self.counted),
            self.failures(),
            thousands(self.threads_started),
            self.others_cores().max(0.0)
        );
        if !self.unexpected.is_empty() || self.transport_errors > 0 {
            let statuses: Vec<String> = self
                .unexpected
                .iter()
                .map(|(status, n)| format!("{status} × {n}"))
                .collect();
            println!(
                "           unexpected answers: {}; connection errors: {}",
                if statuses.is_empty() {
                    "none".to_owned()
                } else {
                    statuses.join(", ")
                },
                self.transport_errors
            );
            if let Some(body) = &self.first_unexpected {
                println!(
                    "           first: {}",
                    body.chars().take(300).collect::<String>()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// The baselines
// ---------------------------------------------------------------------------------

const SQLITE_SCHEMA: &str = "CREATE TABLE signatures(
    id INTEGER PRIMARY KEY,
    petition_id TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    postcode TEXT,
    country TEXT NOT NULL,
    constituency TEXT,
    council TEXT,
    consent_to_share INTEGER NOT NULL,
    channel TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE(petition_id, email)
)";
const SQLITE_INSERT: &str = "INSERT INTO signatures(petition_id, name, email, postcode, country,
    constituency, council, consent_to_share, channel, created_ms)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

/// A typical web app's signature endpoint: parse, check the token, insert one row in
/// its own transaction, answer with the row id.
struct SqliteApp {
    db: Mutex<rusqlite::Connection>,
    bearer: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureIn {
    #[serde(rename = "type")]
    kind: String,
    petition_id: String,
    name: String,
    email: Option<String>,
    postcode: Option<String>,
    country: String,
    constituency: Option<String>,
    council: Option<String>,
    consent_to_share: bool,
    channel: String,
}

impl SqliteApp {
    fn open(path: &Path, token: &str) -> BenchResult<Arc<SqliteApp>> {
        let db = rusqlite::Connection::open(path).context("open the SQLite database")?;
        db.pragma_update(None, "journal_mode", "WAL")
            .context("SQLite WAL")?;
        db.pragma_update(None, "synchronous", "FULL")
            .context("SQLite synchronous=FULL")?;
        db.execute_batch(SQLITE_SCHEMA)
            .context("create the SQLite table")?;
        Ok(Arc::new(SqliteApp {
            db: Mutex::new(db),
            bearer: format!("Bearer {token}"),
        }))
    }

    fn router(self: &Arc<SqliteApp>) -> Router {
        Router::new()
            .route("/api/v1/records", post(sqlite_signature))
            .with_state(self.clone())
    }

    fn insert(&self, s: &SignatureIn) -> rusqlite::Result<i64> {
        let created_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let db = self.db.lock().unwrap_or_else(|e| e.into_inner());
        let mut insert = db.prepare_cached(SQLITE_INSERT)?;
        insert.insert(rusqlite::params![
            s.petition_id,
            s.name,
            s.email,
            s.postcode,
            s.country,
            s.constituency,
            s.council,
            s.consent_to_share,
            s.channel,
            created_ms
        ])
    }

    fn rows(&self) -> BenchResult<u64> {
        let db = self.db.lock().unwrap_or_else(|e| e.into_inner());
        db.query_row("SELECT count(*) FROM signatures", [], |row| row.get(0))
            .context("count the SQLite rows")
    }
}

async fn sqlite_signature(
    State(app): State<Arc<SqliteApp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorised = headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == app.bearer.as_bytes());
    if !authorised {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let signature: SignatureIn = match serde_json::from_slice(&body) {
        Ok(signature) => signature,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    if signature.kind != "signature.added" {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    }
    let inserted = tokio::task::spawn_blocking(move || app.insert(&signature)).await;
    match inserted {
        Ok(Ok(id)) => (
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "application/json")],
            format!(r#"{{"id":{id}}}"#),
        )
            .into_response(),
        Ok(Err(rusqlite::Error::SqliteFailure(e, _)))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StatusCode::CONFLICT.into_response()
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A JSON body of about `len` bytes.
fn constant_body(len: usize) -> Bytes {
    let frame = r#"{"status":"ok","data":""}"#;
    let padding = "x".repeat(len.saturating_sub(frame.len()));
    Bytes::from(format!(r#"{{"status":"ok","data":"{padding}"}}"#))
}

fn trivial_router(body: Bytes) -> Router {
    Router::new()
        .route("/api/v1/constant", get(constant))
        .with_state(body)
}

async fn constant(State(body): State<Bytes>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

// ---------------------------------------------------------------------------------
// Where the time goes
// ---------------------------------------------------------------------------------

/// The ledger's Prometheus metrics, as `/metrics` renders them.
struct Metrics(BTreeMap<String, f64>);

impl Metrics {
    fn read(node: &Node) -> Metrics {
        let text = node.state().metrics.render();
        let mut values = BTreeMap::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            if let Some((name, value)) = line.rsplit_once(' ') {
                if let Ok(value) = value.parse::<f64>() {
                    values.insert(name.to_owned(), value);
                }
            }
        }
        Metrics(values)
    }

    fn get(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or(0.0)
    }

    /// The first series whose name starts with `prefix` and that contains `part`.
    fn find(&self, prefix: &str, part: &str) -> f64 {
        self.0
            .iter()
            .find(|(name, _)| name.starts_with(prefix) && name.contains(part))
            .map_or(0.0, |(_, v)| *v)
    }

    /// `(le, cumulative count)` of a histogram's buckets.
    fn buckets(&self, name: &str) -> Vec<(String, f64)> {
        let prefix = format!("{name}_bucket{{le=\"");
        let mut buckets: Vec<(f64, String, f64)> = self
            .0
            .iter()
            .filter_map(|(series, v)| {
                let le = series.strip_prefix(&prefix)?.strip_suffix("\"}")?;
                let bound = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((bound, le.to_owned(), *v))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        buckets.into_iter().map(|(_, le, v)| (le, v)).collect()
    }
}

/// CPU time of the process and of the ledger's own threads.
struct CpuTimes {
    at: Instant,
    process_us: f64,
    threads: BTreeMap<String, ThreadTime>,
}

/// From `/proc/self/task/*/schedstat`: time on a CPU, and time runnable but waiting
/// for one (on a loaded machine, the second shows threads starved of CPU).
#[derive(Clone, Copy, Default)]
struct ThreadTime {
    running_ns: u64,
    waiting_ns: u64,
}

#[derive(Default)]
struct CpuUse {
    wall: Duration,
    process_us: f64,
    threads: BTreeMap<String, ThreadTime>,
}

impl CpuTimes {
    fn now() -> CpuTimes {
        CpuTimes {
            at: Instant::now(),
            process_us: process_cpu_us(),
            threads: named_thread_times(),
        }
    }

    fn since(&self, earlier: &CpuTimes) -> CpuUse {
        CpuUse {
            wall: self.at.duration_since(earlier.at),
            process_us: self.process_us - earlier.process_us,
            threads: self
                .threads
                .iter()
                .map(|(name, now)| {
                    let before = earlier.threads.get(name).copied().unwrap_or_default();
                    let spent = ThreadTime {
                        running_ns: now.running_ns.saturating_sub(before.running_ns),
                        waiting_ns: now.waiting_ns.saturating_sub(before.waiting_ns),
                    };
                    (name.clone(), spent)
                })
                .collect(),
        }
    }
}

impl CpuUse {
    fn add(&mut self, more: &CpuUse) {
        self.wall += more.wall;
        self.process_us += more.process_us;
        for (name, time) in &more.threads {
            let sum = self.threads.entry(name.clone()).or_default();
            sum.running_ns += time.running_ns;
            sum.waiting_ns += time.waiting_ns;
        }
    }

    fn process_us(&self) -> f64 {
        self.process_us
    }

    /// Shares of the wall time `name` spent running and waiting for a CPU.
    fn thread_shares(&self, name: &str) -> (f64, f64) {
        let time = self.threads.get(name).copied().unwrap_or_default();
        let wall_ns = self.wall.as_secs_f64() * 1e9;
        (
            time.running_ns as f64 / wall_ns,
            time.waiting_ns as f64 / wall_ns,
        )
    }
}

/// User plus system CPU time of the whole process, in microseconds.
fn process_cpu_us() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` fills the struct it is given; a zeroed rusage is valid.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return 0.0;
        }
        usage.assume_init()
    };
    let micros = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
    micros(usage.ru_utime) + micros(usage.ru_stime)
}

/// Scheduler times of the long-lived named threads (`sequencer`, `ledger-writer`).
fn named_thread_times() -> BTreeMap<String, ThreadTime> {
    let mut times = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return times;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let Ok(name) = std::fs::read_to_string(path.join("comm")) else {
            continue;
        };
        let name = name.trim();
        if name != "sequencer" && name != "ledger-writer" && name != LOAD_THREAD {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(path.join("schedstat")) else {
            continue;
        };
        let mut fields = stat
            .split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0));
        let time: &mut ThreadTime = times.entry(name.to_owned()).or_default();
        time.running_ns += fields.next().unwrap_or(0);
        time.waiting_ns += fields.next().unwrap_or(0);
    }
    times
}

/// CPU seconds every process but this one has used since boot: busy time from
/// `/proc/stat` less this process's own.
fn others_cpu_s() -> f64 {
    let ticks_per_s = 100.0; // USER_HZ, 100 on Linux
    let busy_s = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|stat| {
            let line = stat.lines().next()?.strip_prefix("cpu ")?.to_owned();
            let ticks: Vec<f64> = line
                .split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq steal (guest time is in user)
            let busy: f64 = ticks.iter().take(8).sum::<f64>()
                - ticks.get(3).copied().unwrap_or(0.0)
                - ticks.get(4).copied().unwrap_or(0.0);
            Some(busy / ticks_per_s)
        })
        .unwrap_or(0.0);
    busy_s - process_cpu_us() / 1e6
}

/// Prints where an append's time went; returns the server's CPU per append in µs (the
/// whole process's less the load generator's).
fn describe_appends(before: &Metrics, after: &Metrics, cpu: &CpuUse, answered: u64) -> f64 {
    let wall = cpu.wall;
    let delta = |name: &str| after.get(name) - before.get(name);
    let batches = delta("ledger_batch_entries_count");
    let entries = delta("ledger_batch_entries_sum");
    let commits = delta("ledger_commit_seconds_count");
    let commit_s = delta("ledger_commit_seconds_sum");
    let route = "route=\"/api/v1/records\"";
    let served = after.find("http_request_duration_seconds_count", route)
        - before.find("http_request_duration_seconds_count", route);
    let served_s = after.find("http_request_duration_seconds_sum", route)
        - before.find("http_request_duration_seconds_sum", route);
    println!(
        "  {} batches committed by the sequencer, {:.1} entries per batch on average, {:.0} batches/s",
        thousands(batches as u64),
        entries / batches.max(1.0),
        batches / wall.as_secs_f64()
    );
    println!(
        "  commit (vault write + log append and fdatasync + publishing the read models): \
         {:.2} ms per batch on average, {:.0}% of the wall time",
        commit_s / commits.max(1.0) * 1e3,
        commit_s / wall.as_secs_f64() * 100.0
    );
    println!(
        "  server-side time per request (router middleware to answer): {:.2} ms on average",
        served_s / served.max(1.0) * 1e3
    );
    let cumulative_before = before.buckets("ledger_batch_entries");
    let cumulative_after = after.buckets("ledger_batch_entries");
    let mut shown = Vec::new();
    let mut below = 0.0;
    for (le, total) in &cumulative_after {
        let earlier = cumulative_before
            .iter()
            .find(|(l, _)| l == le)
            .map_or(0.0, |(_, v)| *v);
        let cumulative = total - earlier;
        let here = cumulative - below;
        below = cumulative;
        if here > 0.0 {
            shown.push(format!("≤{le}: {}", thousands(here as u64)));
        }
    }
    if !shown.is_empty() {
        println!("  batch sizes: {}", shown.join("  "));
    }
    let per_append = |us: f64| us / answered.max(1) as f64;
    let load_us = cpu.threads.get(LOAD_THREAD).map_or(0, |t| t.running_ns) as f64 / 1e3;
    let server_us = per_append(cpu.process_us() - load_us);
    println!(
        "  CPU: {:.0} µs per append for the whole process, {:.1} µs of them the server's \
         ({:.1} the load generator's); {:.2} cores busy",
        per_append(cpu.process_us()),
        server_us,
        per_append(load_us),
        cpu.process_us() / 1e6 / cpu.wall.as_secs_f64(),
    );
    for thread in ["sequencer", "ledger-writer"] {
        let (running, waiting) = cpu.thread_shares(thread);
        println!(
            "  {thread} thread: running {:.0}% of the wall time, runnable but waiting for a CPU {:.0}%",
            running * 100.0,
            waiting * 100.0
        );
    }
    server_us
}
