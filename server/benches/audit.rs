//! Auditing a big log (issue 12): how fast `campaign-ledger audit` checks a
//! 1,000,000-entry log over loopback, from the server and from the static copy it
//! publishes, beside `check --data` on the same log; how long an incremental audit of
//! 1,000 more entries takes; and how far the published copy lags behind the appends.
//!
//! The real `campaign-ledger` binary runs as child processes, on data beside the
//! build (`<target>/tmp/audit-bench-*`):
//!
//! 1. build: `serve --data D --publish P` on a fresh data directory; one petition is
//!    opened, then `signature.added` records are appended through
//!    `POST /api/v1/records`, 1,000 per request from 4 connections, until the log holds
//!    `AUDIT_BENCH_ENTRIES` (default 1,000,000) entries. The server is stopped
//!    (SIGTERM).
//! 2. check: `check --data D`, [`CHECK_RUNS`] times; the fastest wall time gives the
//!    local check's entries per second.
//! 3. restart: `serve --data D --publish P` again, until `/healthz` answers 200; then
//!    until the server's first background scrub pass has finished (it re-hashes the
//!    whole log at start, 200,000 entries/s; the bench waits for its "scrub pass found
//!    no damage" debug line, so that it does not compete with the audits).
//! 4. full first audits, each into a fresh mirror: `audit http://SERVER --mirror M1
//!    --json` (the headline `audit_entries_per_s`); `audit http://STATIC --mirror M2`,
//!    where STATIC is a minimal static-file server in this program (axum, files read
//!    from P, the query string ignored as any web server would); and, for reference,
//!    `audit P --mirror M3` (the directory read directly, no HTTP).
//! 5. incremental: 1,000 more signatures (one request), then once P's checkpoint
//!    covers them, `audit http://SERVER --mirror M1` (`incremental_ms`); then, for
//!    reference, the same from STATIC with M2.
//! 6. publish lag: for `AUDIT_BENCH_LAG_SECS` (default 10) s, [`LAG_CONNECTIONS`]
//!    connections append [`LAG_BATCH`] signatures per request, staggered so that
//!    1,000 signatures per second go in, while a thread reads `P/checkpoint` every
//!    millisecond. Each acknowledged append's lag is the time from its answer until
//!    the published checkpoint's size first covers its last entry (0 if it already
//!    did); `publish_lag_ms_p99` is their 99th percentile.
//!
//! Every child's output goes to files in the temp dir (the server's to `server.log`,
//! whose tail is printed if anything fails); every child is killed on every way out.
//!
//! Run: `cargo bench -p server --bench audit` (a few minutes and ~1 GB of disk), or
//! `AUDIT_BENCH_ENTRIES=100000 AUDIT_BENCH_LAG_SECS=3 cargo bench -p server --bench
//! audit` for a quick run. With `AUDIT_BENCH_KEEP` set the temp dir (data, publish
//! dir, mirrors, every child's output) is kept, to profile an audit of it afterwards.
//! Figures go to stdout and end with one `RESULT` line.

mod common;
use common::child::{exchange, fetch, free_port, last_opening, print_log_tail, tree_size};
use common::{connect, get_request, host, load_average, post_request, section};
use std::ffi::OsStr;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use hyper::header::HeaderValue;
use hyper::StatusCode;
use serde::de::IgnoredAny;
use serde::Deserialize;

use test_support::bench::{millis, temp_dir, temp_root, thousands, BenchResult, Context, Progress};

const BINARY: &str = env!("CARGO_BIN_EXE_campaign-ledger");
const ORIGIN: &str = "bench.campaign-ledger.example/audit";
const PETITION: &str = "uk-audit-bench";
const DEFAULT_ENTRIES: u64 = 1_000_000;
const DEFAULT_LAG_SECS: u64 = 10;
/// Records per `POST /api/v1/records` while building the log (the server's limit).
const BATCH: u64 = 1000;
/// Connections building the log at once.
const LOAD_CONNECTIONS: usize = 4;
const CONSTITUENCIES: u64 = 650;
/// Times `check --data` runs; the fastest counts.
const CHECK_RUNS: usize = 2;
/// Signatures appended before the incremental audit.
const INCREMENT: u64 = 1000;
/// Signatures per second appended while the publish lag is measured.
const LAG_RATE: u64 = 1000;
/// Signatures per request then.
const LAG_BATCH: u64 = 10;
/// Connections appending then, each one request every
/// `LAG_CONNECTIONS × LAG_BATCH / LAG_RATE` s, staggered.
const LAG_CONNECTIONS: usize = 10;
/// How often the published checkpoint is read.
const LAG_POLL: Duration = Duration::from_millis(1);
/// Signer numbers of the incremental and the lag phases (apart from the log's).
const INCREMENT_SIGNERS: u64 = 100_000_000;
const LAG_SIGNERS: u64 = 200_000_000;
/// How long a server may take to start (or restart) and to stop.
const START_TIMEOUT: Duration = Duration::from_secs(300);
const STOP_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the server's first scrub pass is waited for.
const SCRUB_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a `check` or an `audit` may take.
const JOB_TIMEOUT: Duration = Duration::from_secs(1800);
/// How long the published copy may take to catch up before that is an error.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(60);
/// What the server's log says when a scrub pass has ended (a debug line).
const SCRUB_DONE: &str = "scrub pass found no damage";

fn main() {
    // `run` returns only after every child was killed and the temp dir removed.
    common::run_main("audit", run());
}

/// The temp dir's layout.
struct Paths {
    data: PathBuf,
    publish: PathBuf,
    server_log: PathBuf,
    /// Where the `check` and `audit` children write their output.
    jobs: PathBuf,
    mirrors: PathBuf,
}

async fn run() -> BenchResult<()> {
    let entries = env_count("AUDIT_BENCH_ENTRIES", DEFAULT_ENTRIES, 2)?;
    let lag_secs = env_count("AUDIT_BENCH_LAG_SECS", DEFAULT_LAG_SECS, 1)?;
    let tmp_root = temp_root()?;
    let dir = temp_dir(&tmp_root, "audit-bench-")?;
    let paths = Paths {
        data: dir.path().join("data"),
        publish: dir.path().join("publish"),
        server_log: dir.path().join("server.log"),
        jobs: dir.path().join("jobs"),
        mirrors: dir.path().join("mirrors"),
    };
    for made in [&paths.jobs, &paths.mirrors] {
        std::fs::create_dir_all(made).context(&format!("create {}", made.display()))?;
    }
    println!(
        "audit bench: a {}-entry log served by the real server binary, audited over loopback",
        thousands(entries)
    );
    println!(
        "  {}; {} cores; temp dir {}",
        BINARY,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        dir.path().display()
    );
    println!(
        "  load average (1 min) at the start: {} (other work on the machine skews every figure)",
        load_average()
    );
    let mut server = None;
    let outcome = phases(entries, lag_secs, &paths, &mut server).await;
    if outcome.is_err() {
        print_log_tail(&paths.server_log);
    }
    // Killed (if still running) before the temp dir goes.
    drop(server);
    if std::env::var_os("AUDIT_BENCH_KEEP").is_some() {
        eprintln!("AUDIT_BENCH_KEEP: kept {}", dir.keep().display());
    } else {
        drop(dir);
    }
    outcome
}

/// Every phase; `server` holds the running server so that [`run`] can kill it and show
/// its log whichever way this ends.
async fn phases(
    entries: u64,
    lag_secs: u64,
    paths: &Paths,
    server: &mut Option<Server>,
) -> BenchResult<()> {
    // 1. build
    let signatures = entries - 1;
    section(&format!(
        "1. build: 1 petition and {} signatures, {BATCH} per POST /api/v1/records, \
         {LOAD_CONNECTIONS} connections, serve --publish",
        thousands(signatures)
    ));
    let started = Server::start(paths).await?;
    let addr = started.addr;
    *server = Some(started);
    let token = std::fs::read_to_string(paths.data.join("admin.token"))
        .context("read the admin token")?
        .trim()
        .to_owned();
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).context("the admin token")?;
    open_petition(addr, &bearer).await?;
    let load_time = load(addr, &bearer, 0, signatures, true).await?;
    let size = tree_size(addr).await?;
    if size != entries {
        return Err(format!("the log holds {size} entries after loading, not {entries}").into());
    }
    println!(
        "  loaded in {:.1} s ({} signatures/s); the log holds {} entries",
        load_time.as_secs_f64(),
        thousands((signatures as f64 / load_time.as_secs_f64()).round() as u64),
        thousands(size)
    );
    let running = server.as_mut().ok_or("the server is not running")?;
    let stop_ms = running.terminate().await?;
    *server = None;
    println!(
        "  SIGTERM: stopped in {} ms; data dir {} MB, publish dir {} MB ({} files)",
        thousands(stop_ms.round() as u64),
        mb(dir_usage(&paths.data).bytes),
        mb(dir_usage(&paths.publish).bytes),
        thousands(dir_usage(&paths.publish).files)
    );

    // 2. check
    section(&format!(
        "2. check --data on the stopped data dir, {CHECK_RUNS} runs"
    ));
    let mut check_best = Duration::MAX;
    for n in 1..=CHECK_RUNS {
        let args = [
            OsStr::new("check"),
            OsStr::new("--data"),
            paths.data.as_os_str(),
        ];
        let job = Job::run(&paths.jobs, &format!("check-{n}"), &args).await?;
        println!(
            "  run {n}: {:.2} s, {} entries/s",
            job.wall.as_secs_f64(),
            thousands(per_second(entries, job.wall))
        );
        if n == 1 {
            for line in job.stdout.lines() {
                println!("    | {line}");
            }
        }
        check_best = check_best.min(job.wall);
    }
    let check_per_s = per_second(entries, check_best);
    println!(
        "  fastest: {:.2} s, {} entries/s",
        check_best.as_secs_f64(),
        thousands(check_per_s)
    );

    // 3. restart
    section("3. restart: serve --publish again");
    let log_from = file_len(&paths.server_log);
    let spawned = Instant::now();
    let restarted = Server::start(paths).await?;
    let addr = restarted.addr;
    *server = Some(restarted);
    let healthy_ms = millis(spawned.elapsed());
    let scrubbed = wait_for_line(&paths.server_log, log_from, SCRUB_DONE, SCRUB_TIMEOUT).await;
    let scrub_ms = millis(spawned.elapsed());
    match scrubbed {
        Ok(()) => println!(
            "  /healthz 200 after {} ms ({}); the first scrub pass ended {} ms after the \
             spawn (waited for, so that it does not compete with the audits)",
            thousands(healthy_ms.round() as u64),
            last_opening(&paths.server_log),
            thousands(scrub_ms.round() as u64)
        ),
        Err(e) => println!(
            "  /healthz 200 after {} ms; NOT waiting any longer for the scrub: {e}",
            thousands(healthy_ms.round() as u64)
        ),
    }
    let published = published_size(&paths.publish);
    if published != Some(entries) {
        wait_published(&paths.publish, entries).await?;
    }
    println!(
        "  the published checkpoint is at tree size {}",
        thousands(entries)
    );

    // 4. full first audits
    section("4. full first audits, each into a fresh mirror (audit SOURCE --mirror M --json)");
    let statics = StaticServer::start(paths.publish.clone()).await?;
    let server_url = format!("http://{addr}");
    let static_url = format!("http://{}", statics.addr);
    let m1 = paths.mirrors.join("m1");
    let m2 = paths.mirrors.join("m2");
    let m3 = paths.mirrors.join("m3");
    let from_server = audit(paths, "audit-server", &server_url, &m1).await?;
    from_server.print("from the server", &server_url, &m1);
    let from_static = audit(paths, "audit-static", &static_url, &m2).await?;
    from_static.print(
        "from the published dir over HTTP (static server)",
        &static_url,
        &m2,
    );
    let publish_text = paths.publish.display().to_string();
    let from_dir = audit(paths, "audit-dir", &publish_text, &m3).await?;
    from_dir.print(
        "from the published dir as a local path (no HTTP)",
        &publish_text,
        &m3,
    );
    std::fs::remove_dir_all(&m3).context(&format!("remove {}", m3.display()))?;
    for run in [&from_server, &from_static, &from_dir] {
        if run.tree_size != entries || run.entries_checked != entries {
            return Err(format!(
                "an audit checked {} entries of a tree of size {}, not {entries}",
                run.entries_checked, run.tree_size
            )
            .into());
        }
    }
    let audit_per_s = per_second(entries, from_server.wall);
    let ratio = audit_per_s as f64 / check_per_s.max(1) as f64;
    println!(
        "  from the server {} entries/s = {ratio:.2} × the local check's {}",
        thousands(audit_per_s),
        thousands(check_per_s)
    );

    // 5. incremental
    section(&format!(
        "5. incremental: {} more signatures, then audit again with the same mirror",
        thousands(INCREMENT)
    ));
    load(addr, &bearer, INCREMENT_SIGNERS, INCREMENT, false).await?;
    let grown = entries + INCREMENT;
    let size = tree_size(addr).await?;
    if size != grown {
        return Err(format!("the log holds {size} entries, not {grown}").into());
    }
    let waited = Instant::now();
    wait_published(&paths.publish, grown).await?;
    println!(
        "  appended; the published checkpoint reached tree size {} {} ms later",
        thousands(grown),
        thousands(millis(waited.elapsed()).round() as u64)
    );
    let incremental = audit(paths, "incremental-server", &server_url, &m1).await?;
    incremental.print("from the server", &server_url, &m1);
    let incremental_static = audit(paths, "incremental-static", &static_url, &m2).await?;
    incremental_static.print("from the static server", &static_url, &m2);
    for run in [&incremental, &incremental_static] {
        if run.tree_size != grown || run.entries_checked != INCREMENT {
            return Err(format!(
                "an incremental audit checked {} entries up to tree size {}, not {INCREMENT} \
                 up to {grown}",
                run.entries_checked, run.tree_size
            )
            .into());
        }
    }
    let incremental_ms = millis(incremental.wall);
    drop(statics);

    // 6. publish lag
    section(&format!(
        "6. publish lag: {LAG_RATE} signatures/s for {lag_secs} s ({LAG_BATCH} per request, \
         {LAG_CONNECTIONS} connections), a thread reading {}/checkpoint every {} ms",
        paths.publish.display(),
        LAG_POLL.as_millis()
    ));
    let lag = publish_lag(
        addr,
        &bearer,
        &paths.publish,
        LAG_SIGNERS,
        Duration::from_secs(lag_secs),
    )
    .await?;
    let lag_p99 = lag.lag_ms(0.99);
    println!(
        "  {} appends answered 201 ({} signatures, {} per s): answer p50 {:.1} ms, \
         p99 {:.1} ms, max {:.1} ms",
        thousands(lag.acks.len() as u64),
        thousands(lag.signatures),
        thousands(lag.signatures / lag_secs.max(1)),
        lag.answer_ms(0.5),
        lag.answer_ms(0.99),
        lag.answer_ms(1.0)
    );
    println!(
        "  published checkpoint: {} sizes seen; lag after the answer p50 {:.1} ms, \
         p90 {:.1} ms, p99 {lag_p99:.1} ms, max {:.1} ms; already published at the answer: {}",
        thousands(lag.sizes_seen),
        lag.lag_ms(0.5),
        lag.lag_ms(0.9),
        lag.lag_ms(1.0),
        thousands(lag.already)
    );
    let running = server.as_mut().ok_or("the server is not running")?;
    running.terminate().await?;
    *server = None;

    let mark = |ok: bool| if ok { "ok" } else { "MISSED" };
    println!();
    println!(
        "  targets: ≥ 500,000 entries/s over loopback ({}: {}), ≥ 0.3 × the local check \
         ({ratio:.2}: {}), incremental ≤ 1,000 ms ({} ms: {}), publish lag p99 ≤ 1,000 ms \
         under 1,000 appends/s ({} ms: {})",
        thousands(audit_per_s),
        mark(audit_per_s >= 500_000),
        mark(ratio >= 0.3),
        incremental_ms.round(),
        mark(incremental_ms <= 1000.0),
        lag_p99.round(),
        mark(lag_p99 <= 1000.0)
    );
    println!(
        "RESULT audit_entries_per_s={audit_per_s} ratio_audit_vs_local_check={ratio:.2} \
         incremental_ms={} publish_lag_ms_p99={}",
        incremental_ms.round(),
        lag_p99.round()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------
// Setup and helpers
// ---------------------------------------------------------------------------------

/// A count from the environment (`_` allowed as a separator), or `default`.
fn env_count(name: &str, default: u64, at_least: u64) -> BenchResult<u64> {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => Ok(default),
        Err(e) => Err(format!("{name}: {e}").into()),
        Ok(text) => {
            let digits: String = text.trim().chars().filter(|c| *c != '_').collect();
            match digits.parse::<u64>() {
                Ok(n) if n >= at_least => Ok(n),
                _ => Err(format!("{name} must be an integer ≥ {at_least}, got {text:?}").into()),
            }
        }
    }
}

fn per_second(count: u64, took: Duration) -> u64 {
    (count as f64 / took.as_secs_f64().max(1e-9)).round() as u64
}

fn mb(bytes: u64) -> u64 {
    (bytes as f64 / 1_048_576.0).round() as u64
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

#[derive(Default)]
struct Usage {
    bytes: u64,
    files: u64,
}

/// The apparent size and number of the files under `dir`.
fn dir_usage(dir: &Path) -> Usage {
    let mut usage = Usage::default();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                usage.bytes += meta.len();
                usage.files += 1;
            }
        }
    }
    usage
}

/// The tree size of a checkpoint note (its second line), if it is one.
fn checkpoint_size(text: &str) -> Option<u64> {
    text.lines().nth(1)?.trim().parse().ok()
}

/// The size of the published checkpoint, if there is one.
fn published_size(publish: &Path) -> Option<u64> {
    std::fs::read_to_string(publish.join("checkpoint"))
        .ok()
        .as_deref()
        .and_then(checkpoint_size)
}

/// Waits until the published checkpoint covers `size`.
async fn wait_published(publish: &Path, size: u64) -> BenchResult<()> {
    let since = Instant::now();
    loop {
        let now = published_size(publish);
        if now.is_some_and(|now| now >= size) {
            return Ok(());
        }
        if since.elapsed() > PUBLISH_TIMEOUT {
            return Err(format!(
                "the published checkpoint is at tree size {now:?} after {} s, not {size}",
                PUBLISH_TIMEOUT.as_secs()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits until `log` holds a line containing `text` after its first `from` bytes.
async fn wait_for_line(log: &Path, from: u64, text: &str, timeout: Duration) -> BenchResult<()> {
    let since = Instant::now();
    loop {
        if let Ok(bytes) = std::fs::read(log) {
            let after = bytes.get(from as usize..).unwrap_or_default();
            if String::from_utf8_lossy(after).contains(text) {
                return Ok(());
            }
        }
        if since.elapsed() > timeout {
            return Err(format!(
                "no {text:?} in the server's output within {} s",
                timeout.as_secs()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ---------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------

/// A running `campaign-ledger serve --publish`; dropping it kills it.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    /// Starts the server (its scrub's debug lines included) and waits until `/healthz`
    /// answers 200.
    async fn start(paths: &Paths) -> BenchResult<Server> {
        let addr = free_port()?;
        let out = File::options()
            .create(true)
            .append(true)
            .open(&paths.server_log)
            .context(&format!("open {}", paths.server_log.display()))?;
        let err = out.try_clone().context("the server's log")?;
        let child = Command::new(BINARY)
            .arg("serve")
            .arg("--data")
            .arg(&paths.data)
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--origin")
            .arg(ORIGIN)
            .arg("--publish")
            .arg(&paths.publish)
            .env("RUST_LOG", "info,server::health=debug")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context(&format!("start {BINARY}"))?;
        let mut server = Server { child, addr };
        server.wait_healthy().await?;
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_healthy(&mut self) -> BenchResult<()> {
        let started = Instant::now();
        let host = host(self.addr);
        loop {
            if let Some(status) = self.child.try_wait().context("watch the server")? {
                return Err(format!("the server exited while starting: {status}").into());
            }
            // Refused until the server listens; once it listens, answered when its
            // router runs (the listener is bound before the data directory is opened).
            if let Ok((status, body)) = fetch(self.addr, get_request(&host, "/healthz")).await {
                if status == StatusCode::OK {
                    return Ok(());
                }
                return Err(format!(
                    "/healthz answered {status}: {}",
                    String::from_utf8_lossy(&body)
                )
                .into());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "the server did not answer /healthz within {} s",
                    START_TIMEOUT.as_secs()
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// SIGTERM, and the milliseconds until the server exited (successfully).
    async fn terminate(&mut self) -> BenchResult<f64> {
        let pid = libc::pid_t::try_from(self.pid()).context("the server's pid")?;
        let sent = Instant::now();
        // SAFETY: `kill` only sends a signal; `pid` is our own child, not yet reaped
        // (so its id cannot have been reused).
        if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
            return Err(format!("SIGTERM: {}", std::io::Error::last_os_error()).into());
        }
        let status = wait_child(&mut self.child, STOP_TIMEOUT).await?;
        let ms = millis(sent.elapsed());
        if !status.success() {
            return Err(format!("after SIGTERM the server exited with {status}").into());
        }
        Ok(ms)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for `child` to exit, polling every millisecond (so a wall time measured
/// around it is at most that much long).
async fn wait_child(child: &mut Child, timeout: Duration) -> BenchResult<ExitStatus> {
    let since = Instant::now();
    loop {
        if let Some(status) = child.try_wait().context("wait for a child")? {
            return Ok(status);
        }
        if since.elapsed() > timeout {
            return Err(format!("a child did not exit within {} s", timeout.as_secs()).into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

// ---------------------------------------------------------------------------------
// `check` and `audit` children
// ---------------------------------------------------------------------------------

/// A finished `campaign-ledger` child that exited 0.
struct Job {
    wall: Duration,
    stdout: String,
}

/// A running child; dropping it kills it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Job {
    /// Runs `campaign-ledger ARGS` with its output in `jobs/NAME.out` and `.err`, timed
    /// from the spawn to its exit; it must exit 0.
    async fn run(jobs: &Path, name: &str, args: &[&OsStr]) -> BenchResult<Job> {
        let out_path = jobs.join(format!("{name}.out"));
        let err_path = jobs.join(format!("{name}.err"));
        let out = File::create(&out_path).context(&format!("create {}", out_path.display()))?;
        let err = File::create(&err_path).context(&format!("create {}", err_path.display()))?;
        let started = Instant::now();
        let child = Command::new(BINARY)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context(&format!("start {BINARY} {name}"))?;
        let mut running = Running(child);
        let status = wait_child(&mut running.0, JOB_TIMEOUT).await?;
        let wall = started.elapsed();
        let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
        if !status.success() {
            let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
            return Err(format!(
                "{name} exited with {status}\nstdout:\n{stdout}\nstderr:\n{stderr}"
            )
            .into());
        }
        Ok(Job { wall, stdout })
    }
}

/// One `audit --json` run that passed.
struct AuditRun {
    wall: Duration,
    previous_size: u64,
    tree_size: u64,
    entries_checked: u64,
    tiles_fetched: u64,
    bytes_fetched: u64,
}

/// The report of `audit --json`, as far as this reads it.
#[derive(Deserialize)]
struct AuditJson {
    ok: bool,
    report: AuditReport,
}

#[derive(Deserialize)]
struct AuditReport {
    previous_size: u64,
    tree_size: u64,
    entries_checked: u64,
    tiles_fetched: u64,
    bytes_fetched: u64,
}

impl AuditRun {
    fn print(&self, what: &str, source: &str, mirror: &Path) {
        let kind = if self.previous_size == 0 {
            "full".to_owned()
        } else {
            format!("from tree size {}", thousands(self.previous_size))
        };
        println!(
            "  {what} ({source}): {:.2} s ({} ms), {} entries/s ({kind}, {} entries to tree size \
             {}; {} tiles, {} MB fetched); mirror {} MB",
            self.wall.as_secs_f64(),
            thousands(millis(self.wall).round() as u64),
            thousands(per_second(self.entries_checked, self.wall)),
            thousands(self.entries_checked),
            thousands(self.tree_size),
            thousands(self.tiles_fetched),
            mb(self.bytes_fetched),
            mb(dir_usage(mirror).bytes)
        );
    }
}

/// `audit SOURCE --mirror MIRROR --json`, which must pass.
async fn audit(paths: &Paths, name: &str, source: &str, mirror: &Path) -> BenchResult<AuditRun> {
    let args = [
        OsStr::new("audit"),
        OsStr::new(source),
        OsStr::new("--mirror"),
        mirror.as_os_str(),
        OsStr::new("--json"),
    ];
    let job = Job::run(&paths.jobs, name, &args).await?;
    let answer: AuditJson = serde_json::from_str(job.stdout.trim())
        .context(&format!("{name}: read the JSON report {:?}", job.stdout))?;
    if !answer.ok {
        return Err(format!("{name}: the audit did not pass: {}", job.stdout).into());
    }
    let report = answer.report;
    Ok(AuditRun {
        wall: job.wall,
        previous_size: report.previous_size,
        tree_size: report.tree_size,
        entries_checked: report.entries_checked,
        tiles_fetched: report.tiles_fetched,
        bytes_fetched: report.bytes_fetched,
    })
}

// ---------------------------------------------------------------------------------
// A static file server for the published directory
// ---------------------------------------------------------------------------------

/// Serves the files of a directory over HTTP/1.1 as any plain web server would: `GET
/// /a/b` is the file `a/b`, the query string is ignored, a missing file is a 404.
/// Stopped when dropped.
struct StaticServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl StaticServer {
    async fn start(dir: PathBuf) -> BenchResult<StaticServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind the static server")?;
        let addr = listener
            .local_addr()
            .context("the static server's address")?;
        let app = axum::Router::new()
            .fallback(static_file)
            .with_state(Arc::new(dir));
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("the static server stopped: {e}");
            }
        });
        Ok(StaticServer { addr, task })
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn static_file(State(dir): State<Arc<PathBuf>>, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/').to_owned();
    if path.is_empty() || path.split('/').any(|part| part == ".." || part == ".") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let file = dir.join(path);
    match tokio::task::spawn_blocking(move || std::fs::read(file)).await {
        Ok(Ok(bytes)) => (StatusCode::OK, bytes).into_response(),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            StatusCode::NOT_FOUND.into_response()
        }
        // A directory, or anything else that cannot be read.
        Ok(Err(_)) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

// ---------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------

/// Signer `n`'s `signature.added`, as docs/API.md shows it, appended to `out`.
fn push_signature(out: &mut String, n: u64) {
    use std::fmt::Write;
    let constituency = 1 + n % CONSTITUENCIES;
    let consent = n.is_multiple_of(3);
    let _ = write!(
        out,
        r#"{{"type":"signature.added","petition_id":"{PETITION}","name":"Audit Signer {n}","email":"signer-{n}@audit.example.org","postcode":"SW{} {}AA","country":"GB","constituency":"E14{constituency:06}","consent_to_share":{consent},"channel":"online"}}"#,
        1 + n % 20,
        n % 10
    );
}

/// `{"records":[...]}` of signers `first..end`.
fn batch_body(first: u64, end: u64) -> String {
    let mut body = String::with_capacity(((end - first) * 260 + 16) as usize);
    body.push_str(r#"{"records":["#);
    for n in first..end {
        if n > first {
            body.push(',');
        }
        push_signature(&mut body, n);
    }
    body.push_str("]}");
    body
}

async fn open_petition(addr: SocketAddr, bearer: &HeaderValue) -> BenchResult<()> {
    let body = format!(
        r#"{{"type":"petition.opened","petition_id":"{PETITION}","title":"Audit the log","text":"A petition whose signatures make a big log for the audit benchmark.","target":"UK Parliament","closes_on":"2099-12-31"}}"#
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

/// Appends signers `first..first + count` in batches of [`BATCH`] from
/// [`LOAD_CONNECTIONS`] connections; every answer must be a 201. With `report`, shows
/// progress and prints a line every tenth. Returns how long it took.
async fn load(
    addr: SocketAddr,
    bearer: &HeaderValue,
    first: u64,
    count: u64,
    report: bool,
) -> BenchResult<Duration> {
    let batches = count.div_ceil(BATCH);
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let abort = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(LOAD_CONNECTIONS);
    for _ in 0..LOAD_CONNECTIONS {
        let (next, done, abort) = (next.clone(), done.clone(), abort.clone());
        let bearer = bearer.clone();
        workers.push(tokio::spawn(async move {
            let host = host(addr);
            let mut sender = connect(addr).await?;
            while !abort.load(Ordering::Relaxed) {
                let batch = next.fetch_add(1, Ordering::Relaxed);
                if batch >= batches {
                    break;
                }
                let start = first + batch * BATCH;
                let end = (start + BATCH).min(first + count);
                let request =
                    post_request(&host, &bearer, "/api/v1/records", batch_body(start, end));
                let outcome = exchange(&mut sender, request).await;
                let failure = match outcome {
                    Ok((StatusCode::CREATED, _)) => None,
                    Ok((status, answer)) => Some(format!(
                        "appending signers {start}..{end} answered {status}: {}",
                        String::from_utf8_lossy(&answer)
                    )),
                    Err(e) => Some(format!("appending signers {start}..{end}: {e}")),
                };
                if let Some(failure) = failure {
                    abort.store(true, Ordering::Relaxed);
                    return Err(failure.into());
                }
                done.fetch_add(end - start, Ordering::Relaxed);
            }
            BenchResult::Ok(())
        }));
    }
    let mut progress = report.then(|| Progress::new("signatures", count));
    let mut tenths_shown = 0;
    while !workers.iter().all(|w| w.is_finished()) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let Some(progress) = progress.as_mut() else {
            continue;
        };
        let done = done.load(Ordering::Relaxed);
        progress.update(done);
        let tenths = done * 10 / count.max(1);
        if tenths > tenths_shown && tenths < 10 {
            tenths_shown = tenths;
            progress.finish();
            println!(
                "  {:>11} signatures after {:>6.1} s ({} per s so far)",
                thousands(done),
                started.elapsed().as_secs_f64(),
                thousands(per_second(done, started.elapsed()))
            );
        }
    }
    if let Some(progress) = progress.as_mut() {
        progress.finish();
    }
    let elapsed = started.elapsed();
    for worker in workers {
        worker.await.context("a load worker")??;
    }
    Ok(elapsed)
}

// ---------------------------------------------------------------------------------
// Publish lag
// ---------------------------------------------------------------------------------

/// The part of a `201` answer of `POST /api/v1/records` the lag needs.
#[derive(Deserialize)]
struct Appended {
    index: u64,
    entries: Vec<IgnoredAny>,
}

/// One acknowledged append: when its answer came, the tree size that covers its last
/// entry, and how long it took.
struct Ack {
    at: Instant,
    covers: u64,
    answer_us: u64,
}

struct LagOutcome {
    acks: Vec<Ack>,
    signatures: u64,
    /// Lags in µs, sorted.
    lags_us: Vec<u64>,
    /// Answer latencies in µs, sorted.
    answers_us: Vec<u64>,
    sizes_seen: u64,
    /// Appends whose entries were published before their answer came.
    already: u64,
}

fn percentile_ms(sorted_us: &[u64], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted_us.len() - 1) as f64 * q).round() as usize;
    sorted_us[rank] as f64 / 1e3
}

impl LagOutcome {
    fn lag_ms(&self, q: f64) -> f64 {
        percentile_ms(&self.lags_us, q)
    }

    fn answer_ms(&self, q: f64) -> f64 {
        percentile_ms(&self.answers_us, q)
    }
}

/// Appends [`LAG_RATE`] signatures per second for `duration` while a thread watches
/// the published checkpoint; then waits until it covers every append.
async fn publish_lag(
    addr: SocketAddr,
    bearer: &HeaderValue,
    publish: &Path,
    first_signer: u64,
    duration: Duration,
) -> BenchResult<LagOutcome> {
    // Every size the published checkpoint was seen at, with when it was first seen.
    let seen: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (seen, stop, publish) = (seen.clone(), stop.clone(), publish.to_path_buf());
        std::thread::spawn(move || {
            let mut last = 0;
            while !stop.load(Ordering::Relaxed) {
                if let Some(size) = published_size(&publish) {
                    if size > last {
                        last = size;
                        seen.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((Instant::now(), size));
                    }
                }
                std::thread::sleep(LAG_POLL);
            }
        })
    };
    let outcome = lag_appends(addr, bearer, first_signer, duration).await;
    let acks = match outcome {
        Ok(acks) => acks,
        Err(e) => {
            stop.store(true, Ordering::Relaxed);
            let _ = poller.join();
            return Err(e);
        }
    };
    let last = acks.iter().map(|a| a.covers).max().unwrap_or(0);
    let caught_up = wait_published(publish, last).await;
    // A few more polls, so that the last size is seen by the poller too.
    tokio::time::sleep(LAG_POLL * 20).await;
    stop.store(true, Ordering::Relaxed);
    poller
        .join()
        .map_err(|_| "the checkpoint poller panicked")?;
    caught_up?;
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner()));
    let mut lags_us = Vec::with_capacity(acks.len());
    let mut already = 0;
    for ack in &acks {
        let first = seen.partition_point(|(_, size)| *size < ack.covers);
        let Some((at, _)) = seen.get(first) else {
            return Err(format!(
                "the published checkpoint was never seen at tree size {} or more",
                ack.covers
            )
            .into());
        };
        if *at <= ack.at {
            already += 1;
        }
        lags_us.push(at.saturating_duration_since(ack.at).as_micros() as u64);
    }
    lags_us.sort_unstable();
    let mut answers_us: Vec<u64> = acks.iter().map(|a| a.answer_us).collect();
    answers_us.sort_unstable();
    let signatures = acks.len() as u64 * LAG_BATCH;
    Ok(LagOutcome {
        acks,
        signatures,
        lags_us,
        answers_us,
        sizes_seen: seen.len() as u64,
        already,
    })
}

/// [`LAG_CONNECTIONS`] connections, each appending [`LAG_BATCH`] signatures every
/// `LAG_CONNECTIONS × LAG_BATCH / LAG_RATE` s, staggered, for `duration`.
async fn lag_appends(
    addr: SocketAddr,
    bearer: &HeaderValue,
    first_signer: u64,
    duration: Duration,
) -> BenchResult<Vec<Ack>> {
    let every =
        Duration::from_secs_f64((LAG_CONNECTIONS as u64 * LAG_BATCH) as f64 / LAG_RATE as f64);
    let deadline = Instant::now() + duration;
    let signer = Arc::new(AtomicU64::new(first_signer));
    let abort = Arc::new(AtomicBool::new(false));
    let mut appenders = Vec::with_capacity(LAG_CONNECTIONS);
    for i in 0..LAG_CONNECTIONS {
        let mut sender = connect(addr).await?;
        let (signer, abort, bearer) = (signer.clone(), abort.clone(), bearer.clone());
        appenders.push(tokio::spawn(async move {
            let host = host(addr);
            let mut acks = Vec::new();
            let offset = every * i as u32 / LAG_CONNECTIONS as u32;
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if Instant::now() >= deadline || abort.load(Ordering::Relaxed) {
                    break;
                }
                let first = signer.fetch_add(LAG_BATCH, Ordering::Relaxed);
                let body = batch_body(first, first + LAG_BATCH);
                let request = post_request(&host, &bearer, "/api/v1/records", body);
                let sent = Instant::now();
                let outcome = exchange(&mut sender, request).await;
                let at = Instant::now();
                let appended = match outcome {
                    Ok((StatusCode::CREATED, body)) => serde_json::from_slice::<Appended>(&body)
                        .map_err(|e| format!("read an append's answer: {e}")),
                    Ok((status, body)) => Err(format!(
                        "appending signers {first}.. answered {status}: {}",
                        String::from_utf8_lossy(&body)
                    )),
                    Err(e) => Err(format!("appending signers {first}..: {e}")),
                };
                match appended {
                    Ok(appended) => acks.push(Ack {
                        at,
                        covers: appended.index + appended.entries.len() as u64,
                        answer_us: at.duration_since(sent).as_micros() as u64,
                    }),
                    Err(failure) => {
                        abort.store(true, Ordering::Relaxed);
                        return Err(failure);
                    }
                }
            }
            Ok(acks)
        }));
    }
    let mut acks = Vec::new();
    let mut failure = None;
    for appender in appenders {
        match appender.await.context("an appender")? {
            Ok(some) => acks.extend(some),
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    if let Some(failure) = failure {
        return Err(failure.into());
    }
    Ok(acks)
}
