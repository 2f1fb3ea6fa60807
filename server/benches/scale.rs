//! The server at the size of the largest UK Parliament petition (6,100,000 signatures)
//! on one small box (README, Benchmarks). The real `campaign-ledger` binary runs as a
//! child process (`campaign-ledger serve` with its defaults, background scrub
//! included) on a data directory beside the build, and this program drives it over
//! loopback HTTP/1.1 (hyper client), as an organiser's forms and the public would:
//!
//! 1. load: one petition is opened, then `SCALE_SIGNATURES` (default 6,100,000)
//!    `signature.added` records are appended through `POST /api/v1/records`, 1,000 per
//!    request (`{"records":[...]}`), from 4 keep-alive connections so that the server
//!    is the bottleneck. Every signer has an email of its own and one of 650
//!    constituencies (`E14000001`..`E14000650`, country `GB`; no council: the
//!    Parliament's petitions count by constituency and country); a third consent to
//!    share. Every answer must be a 201.
//! 2. memory: the server's resident set (`VmRSS` of `/proc/PID/status`) is sampled
//!    every 100 ms while loading; `peak_rss_mb` is the largest sample or the kernel's
//!    high-water mark (`VmHWM`) at the end of loading, whichever is larger. After 10 s
//!    idle `VmRSS` again is `steady_rss_mb`. The idle 10 s are sampled too and shown
//!    apart (the server may still be working then, e.g. saving a read-model snapshot,
//!    which it does every 500,000 entries), but do not count towards `peak_rss_mb`.
//!    MB here are MiB (1,048,576 bytes).
//! 3. disk: every file of the data directory, with its apparent size and the space it
//!    takes on disk (`st_blocks` × 512); `bytes_per_signature` is the disk space over
//!    the signatures loaded.
//! 4. reads under appends: plain `GET /api/v1/tally` (no `tree_size`) from 8
//!    connections for 20 s while 10 other connections each append one signature every
//!    100 ms (100 per second); `tally_p99_ms` of the tally answers, every one a 200.
//! 5. restarts: SIGTERM, wait for the server to exit, start it again, and time from
//!    the spawn until `/healthz` answers 200 and `GET /api/v1/tally` reports the tree
//!    size it had before stopping: `restart_ms`. Then a few more batches, SIGKILL, and
//!    the same timing: `kill_restart_ms` (the read models load their last snapshot and
//!    replay what came after it).
//!
//! The server's output goes to `server.log` in the temp dir; its tail is printed if
//! anything fails. The server is killed on every way out of this program.
//!
//! Run: `cargo bench -p server --bench scale` (6.1M signatures: several minutes and a
//! few GB of disk), or `SCALE_SIGNATURES=200000 cargo bench -p server --bench scale`
//! for a quick run. Figures go to stdout and end with one `RESULT` line.

mod common;
use common::child::{
    exchange, fetch, free_port, last_opening, print_log_tail, tree_size, SizeAnswer,
};
use common::{connect, get_request, host, load_average, post_request, section};
use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::header::HeaderValue;
use hyper::StatusCode;

use test_support::bench::{temp_dir, temp_root, thousands, BenchResult, Context, Progress};

const BINARY: &str = env!("CARGO_BIN_EXE_campaign-ledger");
const ORIGIN: &str = "bench.campaign-ledger.example/scale";
const PETITION: &str = "uk-scale-bench";
/// The largest UK Parliament petition ("Revoke Article 50 and remain in the EU", 2019).
const DEFAULT_SIGNATURES: u64 = 6_100_000;
/// Records per `POST /api/v1/records` while loading (the server's limit).
const BATCH: u64 = 1000;
/// Connections loading at once.
const LOAD_CONNECTIONS: usize = 4;
const CONSTITUENCIES: u64 = 650;
const RSS_EVERY: Duration = Duration::from_millis(100);
const IDLE_BEFORE_STEADY: Duration = Duration::from_secs(10);
const TALLY_CONNECTIONS: usize = 8;
const TALLY_FOR: Duration = Duration::from_secs(20);
/// Connections appending during the tally phase, one signature every
/// [`APPEND_EVERY`] each: 100 per second.
const APPENDERS: usize = 10;
const APPEND_EVERY: Duration = Duration::from_millis(100);
/// Batches appended between the clean restart and the SIGKILL.
const BATCHES_BEFORE_KILL: u64 = 5;
/// How long a server may take to start (a replay after a kill included) or to stop.
const START_TIMEOUT: Duration = Duration::from_secs(300);
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
const MIB: f64 = 1_048_576.0;

fn main() {
    // `run` returns only after the server was killed and the temp dir removed.
    common::run_main("scale", run());
}

async fn run() -> BenchResult<()> {
    let signatures = scale_signatures()?;
    let tmp_root = temp_root()?;
    let dir = temp_dir(&tmp_root, "scale-bench-")?;
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    println!(
        "scale bench: {} signatures through the HTTP API of the real server binary",
        thousands(signatures)
    );
    println!(
        "  {}; {} cores; data in {}",
        BINARY,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        data.display()
    );
    println!(
        "  load average (1 min) at the start: {} (other work on the machine skews every figure)",
        load_average()
    );
    let mut server = None;
    let outcome = phases(signatures, &data, &log, &mut server).await;
    if outcome.is_err() {
        print_log_tail(&log);
    }
    // Killed (if still running) before the temp dir goes.
    drop(server);
    drop(dir);
    outcome
}

/// Every phase; `server` holds the running server so that [`run`] can kill it and show
/// its log whichever way this ends.
async fn phases(
    signatures: u64,
    data: &Path,
    log: &Path,
    server: &mut Option<Server>,
) -> BenchResult<()> {
    // The first start creates the data directory and its admin token.
    let started = Server::start(data, log).await?;
    let addr = started.addr;
    let pid = started.pid();
    *server = Some(started);
    let token = std::fs::read_to_string(data.join("admin.token"))
        .context("read the admin token")?
        .trim()
        .to_owned();
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).context("the admin token")?;
    open_petition(addr, &bearer).await?;

    // 1. and 2.: load, sampling the resident set.
    section(&format!(
        "1. load: {} signatures, {BATCH} per POST /api/v1/records, {LOAD_CONNECTIONS} connections",
        thousands(signatures)
    ));
    let sampler = RssSampler::start(pid);
    let loaded = load(addr, &bearer, 0, signatures, Some(&sampler)).await;
    let sampled = sampler.stop();
    let sampled_peak_kb = sampled.peak_kb;
    let load_time = loaded?;
    let status = read_status(pid)?;
    let size = tree_size(addr).await?;
    if size != signatures + 1 {
        return Err(format!(
            "the log holds {size} entries after loading, not {}",
            signatures + 1
        )
        .into());
    }
    println!(
        "  loaded in {:.1} s: {} signatures/s; the log holds {} entries",
        load_time.as_secs_f64(),
        thousands((signatures as f64 / load_time.as_secs_f64()).round() as u64),
        thousands(size)
    );
    let peak_kb = sampled_peak_kb.max(status.hwm_kb);
    println!(
        "  server RSS while loading: largest sample {} MB, VmHWM {} MB; now {} MB ({} anonymous, {} file)",
        mb(sampled_peak_kb),
        mb(status.hwm_kb),
        mb(status.rss_kb),
        mb(status.anon_kb),
        mb(status.file_kb)
    );
    println!("  while loading, {}", sampled.describe_snapshots());
    section(&format!(
        "2. memory: {} s idle",
        IDLE_BEFORE_STEADY.as_secs()
    ));
    // Still sampled: the server may be busy after the last answer (a read-model
    // snapshot is saved on a thread of its own every 500,000 entries).
    let idle_sampler = RssSampler::start(pid);
    let mut each_second = Vec::new();
    for _ in 0..IDLE_BEFORE_STEADY.as_secs() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        each_second.push(mb(read_status(pid)?.rss_kb).to_string());
    }
    let idle = idle_sampler.stop();
    let steady = read_status(pid)?;
    println!(
        "  RSS each second: {} MB; while idle largest sample {} MB, VmHWM now {} MB",
        each_second.join(" "),
        mb(idle.peak_kb),
        mb(steady.hwm_kb)
    );
    println!("  while idle, {}", idle.describe_snapshots());
    println!(
        "  steady RSS {} MB ({} anonymous, {} file); peak {} MB, peak/steady {:.2}; {} bytes of RSS per signature",
        mb(steady.rss_kb),
        mb(steady.anon_kb),
        mb(steady.file_kb),
        mb(peak_kb),
        peak_kb as f64 / steady.rss_kb.max(1) as f64,
        thousands(steady.rss_kb * 1024 / signatures.max(1))
    );

    // 3. disk
    section("3. disk: the data directory");
    let disk_bytes = describe_disk(data, signatures)?;
    let bytes_per_signature = disk_bytes / signatures.max(1);

    // 4. tally under appends
    section(&format!(
        "4. reads: GET /api/v1/tally from {TALLY_CONNECTIONS} connections for {} s, \
         while {} signatures/s are appended one per request",
        TALLY_FOR.as_secs(),
        APPENDERS as u64 * 1000 / APPEND_EVERY.as_millis() as u64
    ));
    let tally = tally_under_appends(addr, &bearer, signatures + 1_000_000).await?;
    let tally_p99_ms = tally.percentile_ms(0.99);
    println!(
        "  {} tally answers ({}/s, {} bytes each), tree size {} to {}: \
         p50 {:.2} ms, p90 {:.2} ms, p99 {tally_p99_ms:.2} ms, max {:.2} ms",
        thousands(tally.latencies_us.len() as u64),
        thousands((tally.latencies_us.len() as f64 / TALLY_FOR.as_secs_f64()).round() as u64),
        thousands(tally.body_bytes),
        thousands(tally.first_size),
        thousands(tally.last_size),
        tally.percentile_ms(0.5),
        tally.percentile_ms(0.9),
        tally.percentile_ms(1.0)
    );
    println!(
        "  {} appends answered 201 meanwhile: p50 {:.2} ms, p99 {:.2} ms",
        thousands(tally.appended),
        tally.append_percentile_ms(0.5),
        tally.append_percentile_ms(0.99)
    );

    // 5. restarts
    section("5. restarts");
    let size = tree_size(addr).await?;
    let running = server.as_mut().ok_or("the server is not running")?;
    let stop_ms = running.terminate().await?;
    println!(
        "  SIGTERM: the server stopped (snapshot saved) in {} ms, at tree size {}",
        thousands(stop_ms.round() as u64),
        thousands(size)
    );
    let (restarted, restart_ms) = Server::restart(data, log, size).await?;
    let addr = restarted.addr;
    let restarted_pid = restarted.pid();
    *server = Some(restarted);
    println!(
        "  restart after SIGTERM: {} ms until /healthz and the tally at tree size {} ({}); \
         server RSS then {} MB",
        thousands(restart_ms.round() as u64),
        thousands(size),
        last_opening(log),
        mb(read_status(restarted_pid)?.rss_kb)
    );

    load(
        addr,
        &bearer,
        signatures + 2_000_000,
        BATCHES_BEFORE_KILL * BATCH,
        None,
    )
    .await?;
    let size = tree_size(addr).await?;
    let running = server.as_mut().ok_or("the server is not running")?;
    running.kill().await?;
    println!(
        "  SIGKILL after {} more signatures, at tree size {}",
        thousands(BATCHES_BEFORE_KILL * BATCH),
        thousands(size)
    );
    let (restarted, kill_restart_ms) = Server::restart(data, log, size).await?;
    let restarted_pid = restarted.pid();
    *server = Some(restarted);
    println!(
        "  restart after SIGKILL: {} ms until /healthz and the tally at tree size {} ({}); \
         server RSS then {} MB",
        thousands(kill_restart_ms.round() as u64),
        thousands(size),
        last_opening(log),
        mb(read_status(restarted_pid)?.rss_kb)
    );
    let running = server.as_mut().ok_or("the server is not running")?;
    running.terminate().await?;

    let peak_mb = mb(peak_kb);
    let steady_mb = mb(steady.rss_kb);
    let ratio = peak_kb as f64 / steady.rss_kb.max(1) as f64;
    let mark = |ok: bool| if ok { "ok" } else { "MISSED" };
    println!();
    println!(
        "  targets: peak ≤ 1.3 × steady (peak/steady {ratio:.2}: {}), steady ≤ 1,500 MB ({}), \
         ≤ 500 bytes per signature ({}), tally p99 ≤ 5 ms ({}), restart ≤ 2,000 ms ({}), \
         kill restart ≤ 3,000 ms ({})",
        mark(ratio <= 1.3),
        mark(steady_mb <= 1500),
        mark(bytes_per_signature <= 500),
        mark(tally_p99_ms <= 5.0),
        mark(restart_ms <= 2000.0),
        mark(kill_restart_ms <= 3000.0)
    );
    println!(
        "RESULT signatures={signatures} peak_rss_mb={peak_mb} steady_rss_mb={steady_mb} \
         bytes_per_signature={bytes_per_signature} tally_p99_ms={tally_p99_ms:.2} \
         restart_ms={} kill_restart_ms={}",
        restart_ms.round(),
        kill_restart_ms.round()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------

fn scale_signatures() -> BenchResult<u64> {
    match std::env::var("SCALE_SIGNATURES") {
        Err(std::env::VarError::NotPresent) => Ok(DEFAULT_SIGNATURES),
        Err(e) => Err(format!("SCALE_SIGNATURES: {e}").into()),
        Ok(text) => {
            let digits: String = text.trim().chars().filter(|c| *c != '_').collect();
            match digits.parse::<u64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => {
                    Err(format!("SCALE_SIGNATURES must be a positive integer, got {text:?}").into())
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------

/// A running `campaign-ledger serve`; dropping it kills it.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn spawn(data: &Path, log: &Path) -> BenchResult<Server> {
        let addr = free_port()?;
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .context(&format!("open {}", log.display()))?;
        let err = out.try_clone().context("the server's log")?;
        let child = Command::new(BINARY)
            .arg("serve")
            .arg("--data")
            .arg(data)
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--origin")
            .arg(ORIGIN)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context(&format!("start {BINARY}"))?;
        Ok(Server { child, addr })
    }

    /// Starts the server and waits until `/healthz` answers 200.
    async fn start(data: &Path, log: &Path) -> BenchResult<Server> {
        let mut server = Server::spawn(data, log)?;
        server.wait_healthy().await?;
        Ok(server)
    }

    /// Starts the server again on `data` and times it until `/healthz` answers 200 and
    /// the tally is at `size`.
    async fn restart(data: &Path, log: &Path, size: u64) -> BenchResult<(Server, f64)> {
        let spawned = Instant::now();
        let mut server = Server::spawn(data, log)?;
        server.wait_healthy().await?;
        loop {
            let tally = tally_size(server.addr).await?;
            if tally == size {
                break;
            }
            if tally > size || spawned.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "after the restart the tally is at tree size {tally}, not {size}"
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let ms = spawned.elapsed().as_secs_f64() * 1e3;
        Ok((server, ms))
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
        let status = self.wait_exit().await?;
        let ms = sent.elapsed().as_secs_f64() * 1e3;
        if !status.success() {
            return Err(format!("after SIGTERM the server exited with {status}").into());
        }
        Ok(ms)
    }

    /// SIGKILL, and wait until it is gone.
    async fn kill(&mut self) -> BenchResult<()> {
        self.child.kill().context("SIGKILL the server")?;
        self.wait_exit().await?;
        Ok(())
    }

    async fn wait_exit(&mut self) -> BenchResult<std::process::ExitStatus> {
        let since = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().context("wait for the server")? {
                return Ok(status);
            }
            if since.elapsed() > STOP_TIMEOUT {
                return Err(format!(
                    "the server did not exit within {} s",
                    STOP_TIMEOUT.as_secs()
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
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

// ---------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------

/// From `/proc/PID/status`, in kB (KiB).
#[derive(Clone, Copy, Default)]
struct ProcStatus {
    rss_kb: u64,
    hwm_kb: u64,
    anon_kb: u64,
    file_kb: u64,
}

fn read_status(pid: u32) -> BenchResult<ProcStatus> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).context(&format!("read {path}"))?;
    let mut status = ProcStatus::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let kb = || {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap_or(0)
        };
        match key {
            "VmRSS" => status.rss_kb = kb(),
            "VmHWM" => status.hwm_kb = kb(),
            "RssAnon" => status.anon_kb = kb(),
            "RssFile" => status.file_kb = kb(),
            _ => {}
        }
    }
    if status.rss_kb == 0 {
        return Err(format!("{path} has no VmRSS").into());
    }
    Ok(status)
}

fn mb(kb: u64) -> u64 {
    (kb as f64 * 1024.0 / MIB).round() as u64
}

/// Samples a process's `VmRSS` every [`RSS_EVERY`] on a thread of its own, and whether
/// its read-model snapshot thread (named `snapshot`) is running.
struct RssSampler {
    stop: Arc<AtomicBool>,
    latest_kb: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<Sampled>,
}

/// What an [`RssSampler`] saw.
#[derive(Default)]
struct Sampled {
    /// The largest `VmRSS`, in kB.
    peak_kb: u64,
    samples: u64,
    /// Samples taken while a snapshot was being saved.
    snapshot_samples: u64,
    /// Snapshot saves seen starting (or already running at the first sample).
    snapshots: u64,
}

impl Sampled {
    fn describe_snapshots(&self) -> String {
        format!(
            "read-model snapshot saves seen: {} (running in {} of {} samples, {:.1} s)",
            self.snapshots,
            self.snapshot_samples,
            self.samples,
            self.snapshot_samples as f64 * RSS_EVERY.as_secs_f64()
        )
    }
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let latest_kb = Arc::new(AtomicU64::new(0));
        let (stopped, latest) = (stop.clone(), latest_kb.clone());
        let thread = std::thread::spawn(move || {
            let mut sampled = Sampled::default();
            let mut saving = false;
            while !stopped.load(Ordering::Relaxed) {
                if let Ok(status) = read_status(pid) {
                    sampled.peak_kb = sampled.peak_kb.max(status.rss_kb);
                    sampled.samples += 1;
                    latest.store(status.rss_kb, Ordering::Relaxed);
                    let now_saving = has_thread(pid, "snapshot");
                    if now_saving {
                        sampled.snapshot_samples += 1;
                        if !saving {
                            sampled.snapshots += 1;
                        }
                    }
                    saving = now_saving;
                }
                std::thread::sleep(RSS_EVERY);
            }
            sampled
        });
        RssSampler {
            stop,
            latest_kb,
            thread,
        }
    }

    fn latest_kb(&self) -> u64 {
        self.latest_kb.load(Ordering::Relaxed)
    }

    fn stop(self) -> Sampled {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

/// Whether process `pid` has a thread named `name`.
fn has_thread(pid: u32, name: &str) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        std::fs::read_to_string(task.path().join("comm")).is_ok_and(|comm| comm.trim() == name)
    })
}

// ---------------------------------------------------------------------------------
// Disk
// ---------------------------------------------------------------------------------

/// Prints every file of `dir` with its apparent size and disk usage; returns the total
/// disk usage in bytes.
fn describe_disk(dir: &Path, signatures: u64) -> BenchResult<u64> {
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort_by(|a, b| b.disk.cmp(&a.disk).then_with(|| a.name.cmp(&b.name)));
    let apparent: u64 = files.iter().map(|f| f.apparent).sum();
    let disk: u64 = files.iter().map(|f| f.disk).sum();
    let per = |bytes: u64| bytes as f64 / signatures.max(1) as f64;
    println!(
        "  {:<24} {:>16} {:>16} {:>10} {:>10}",
        "file", "apparent bytes", "disk bytes", "app./sig", "disk/sig"
    );
    for file in &files {
        println!(
            "  {:<24} {:>16} {:>16} {:>10.1} {:>10.1}",
            file.name,
            thousands(file.apparent),
            thousands(file.disk),
            per(file.apparent),
            per(file.disk)
        );
    }
    println!(
        "  {:<24} {:>16} {:>16} {:>10.1} {:>10.1}",
        "total",
        thousands(apparent),
        thousands(disk),
        per(apparent),
        per(disk)
    );
    Ok(disk)
}

struct FileUse {
    name: String,
    apparent: u64,
    disk: u64,
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<FileUse>) -> BenchResult<()> {
    let entries = std::fs::read_dir(dir).context(&format!("list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.context(&format!("list {}", dir.display()))?;
        let path: PathBuf = entry.path();
        let meta = std::fs::symlink_metadata(&path).context(&format!("stat {}", path.display()))?;
        if meta.is_dir() {
            walk(root, &path, files)?;
            continue;
        }
        files.push(FileUse {
            name: path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string(),
            apparent: meta.len(),
            disk: meta.blocks() * 512,
        });
    }
    Ok(())
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
        r#"{{"type":"signature.added","petition_id":"{PETITION}","name":"Scale Signer {n}","email":"signer-{n}@scale.example.org","postcode":"SW{} {}AA","country":"GB","constituency":"E14{constituency:06}","consent_to_share":{consent},"channel":"online"}}"#,
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

fn signature_body(n: u64) -> String {
    let mut body = String::with_capacity(260);
    push_signature(&mut body, n);
    body
}

async fn open_petition(addr: SocketAddr, bearer: &HeaderValue) -> BenchResult<()> {
    let body = format!(
        r#"{{"type":"petition.opened","petition_id":"{PETITION}","title":"Revoke Article 50 and remain in the EU","text":"The government repeatedly claims exiting the EU is the will of the people. We need to put a stop to this claim by proving the strength of public support now for remaining in the EU.","target":"UK Parliament","closes_on":"2099-12-31"}}"#
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

/// The tree size of the current tally (which must answer 200).
async fn tally_size(addr: SocketAddr) -> BenchResult<u64> {
    let (status, body) = fetch(addr, get_request(&host(addr), "/api/v1/tally")).await?;
    if status != StatusCode::OK {
        return Err(format!(
            "GET /api/v1/tally answered {status}: {}",
            String::from_utf8_lossy(&body)
        )
        .into());
    }
    let sized: SizeAnswer = serde_json::from_slice(&body).context("read the tally")?;
    Ok(sized.tree_size)
}

// ---------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------

/// Appends signers `first..first + count` in batches of [`BATCH`] from
/// [`LOAD_CONNECTIONS`] connections; every answer must be a 201. With a sampler, shows
/// progress (and prints a line every tenth). Returns how long it took.
async fn load(
    addr: SocketAddr,
    bearer: &HeaderValue,
    first: u64,
    count: u64,
    sampler: Option<&RssSampler>,
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
            let outcome =
                load_worker(addr, bearer, first, count, batches, &next, &done, &abort).await;
            if outcome.is_err() {
                abort.store(true, Ordering::Relaxed);
            }
            outcome
        }));
    }
    let mut progress = sampler.map(|_| Progress::new("signatures", count));
    let mut tenths_shown = 0;
    while !workers.iter().all(|w| w.is_finished()) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (Some(progress), Some(sampler)) = (progress.as_mut(), sampler) else {
            continue;
        };
        let done = done.load(Ordering::Relaxed);
        progress.update(done);
        let tenths = done * 10 / count.max(1);
        if tenths > tenths_shown && tenths < 10 {
            tenths_shown = tenths;
            progress.finish();
            println!(
                "  {:>11} signatures after {:>6.1} s ({} per s so far), server RSS {} MB",
                thousands(done),
                started.elapsed().as_secs_f64(),
                thousands((done as f64 / started.elapsed().as_secs_f64()).round() as u64),
                mb(sampler.latest_kb())
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

#[allow(clippy::too_many_arguments)]
async fn load_worker(
    addr: SocketAddr,
    bearer: HeaderValue,
    first: u64,
    count: u64,
    batches: u64,
    next: &AtomicU64,
    done: &AtomicU64,
    abort: &AtomicBool,
) -> BenchResult<()> {
    let host = host(addr);
    let mut sender = connect(addr).await?;
    while !abort.load(Ordering::Relaxed) {
        let batch = next.fetch_add(1, Ordering::Relaxed);
        if batch >= batches {
            break;
        }
        let start = first + batch * BATCH;
        let end = (start + BATCH).min(first + count);
        let body = batch_body(start, end);
        let request = post_request(&host, &bearer, "/api/v1/records", body);
        let (status, answer) = exchange(&mut sender, request)
            .await
            .map_err(|e| format!("appending signers {start}..{end}: {e}"))?;
        if status != StatusCode::CREATED {
            return Err(format!(
                "appending signers {start}..{end} answered {status}: {}",
                String::from_utf8_lossy(&answer)
            )
            .into());
        }
        done.fetch_add(end - start, Ordering::Relaxed);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Tally under appends
// ---------------------------------------------------------------------------------

#[derive(Default)]
struct TallyOutcome {
    /// Latencies of every tally answer, sorted.
    latencies_us: Vec<u32>,
    body_bytes: u64,
    first_size: u64,
    last_size: u64,
    appended: u64,
    /// Latencies of the appends, sorted.
    append_latencies_us: Vec<u32>,
}

fn percentile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted_us.len() - 1) as f64 * q).round() as usize;
    f64::from(sorted_us[rank]) / 1e3
}

impl TallyOutcome {
    fn percentile_ms(&self, q: f64) -> f64 {
        percentile_ms(&self.latencies_us, q)
    }

    fn append_percentile_ms(&self, q: f64) -> f64 {
        percentile_ms(&self.append_latencies_us, q)
    }
}

fn micros(since: Instant) -> u32 {
    since.elapsed().as_micros().min(u128::from(u32::MAX)) as u32
}

/// Tally readers and appenders together for [`TALLY_FOR`]; signers from `first_signer`.
async fn tally_under_appends(
    addr: SocketAddr,
    bearer: &HeaderValue,
    first_signer: u64,
) -> BenchResult<TallyOutcome> {
    let deadline = Instant::now() + TALLY_FOR;
    let signer = Arc::new(AtomicU64::new(first_signer));
    let abort = Arc::new(AtomicBool::new(false));
    let mut appenders = Vec::with_capacity(APPENDERS);
    for i in 0..APPENDERS {
        let mut sender = connect(addr).await?;
        let (signer, abort, bearer) = (signer.clone(), abort.clone(), bearer.clone());
        appenders.push(tokio::spawn(async move {
            let host = host(addr);
            let mut latencies = Vec::new();
            // Spread over the interval rather than all ten at once.
            let offset = APPEND_EVERY * i as u32 / APPENDERS as u32;
            let mut ticks =
                tokio::time::interval_at(tokio::time::Instant::now() + offset, APPEND_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if Instant::now() >= deadline || abort.load(Ordering::Relaxed) {
                    break;
                }
                let n = signer.fetch_add(1, Ordering::Relaxed);
                let request = post_request(&host, &bearer, "/api/v1/records", signature_body(n));
                let sent = Instant::now();
                let outcome = exchange(&mut sender, request).await;
                let failure = match outcome {
                    Ok((StatusCode::CREATED, _)) => None,
                    Ok((status, body)) => Some(format!(
                        "appending signer {n} answered {status}: {}",
                        String::from_utf8_lossy(&body)
                    )),
                    Err(e) => Some(format!("appending signer {n}: {e}")),
                };
                if let Some(failure) = failure {
                    abort.store(true, Ordering::Relaxed);
                    return Err(failure);
                }
                latencies.push(micros(sent));
            }
            Ok(latencies)
        }));
    }
    let mut readers = Vec::with_capacity(TALLY_CONNECTIONS);
    for _ in 0..TALLY_CONNECTIONS {
        let mut sender = connect(addr).await?;
        let abort = abort.clone();
        readers.push(tokio::spawn(async move {
            let host = host(addr);
            let mut latencies = Vec::new();
            let mut sizes = (u64::MAX, 0u64);
            let mut body_bytes = 0;
            while Instant::now() < deadline && !abort.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let outcome = exchange(&mut sender, get_request(&host, "/api/v1/tally")).await;
                let body = match outcome {
                    Ok((StatusCode::OK, body)) => body,
                    Ok((status, body)) => {
                        abort.store(true, Ordering::Relaxed);
                        return Err(format!(
                            "GET /api/v1/tally answered {status}: {}",
                            String::from_utf8_lossy(&body)
                        ));
                    }
                    Err(e) => {
                        abort.store(true, Ordering::Relaxed);
                        return Err(format!("GET /api/v1/tally: {e}"));
                    }
                };
                latencies.push(micros(sent));
                body_bytes = body.len() as u64;
                let sized: SizeAnswer =
                    serde_json::from_slice(&body).map_err(|e| format!("read the tally: {e}"))?;
                sizes = (sizes.0.min(sized.tree_size), sizes.1.max(sized.tree_size));
            }
            Ok((latencies, sizes, body_bytes))
        }));
    }
    let mut outcome = TallyOutcome {
        first_size: u64::MAX,
        ..TallyOutcome::default()
    };
    let mut failure = None;
    for reader in readers {
        match reader.await.context("a tally reader")? {
            Ok((latencies, (low, high), body_bytes)) => {
                outcome.latencies_us.extend(latencies);
                outcome.first_size = outcome.first_size.min(low);
                outcome.last_size = outcome.last_size.max(high);
                outcome.body_bytes = outcome.body_bytes.max(body_bytes);
            }
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    for appender in appenders {
        match appender.await.context("an appender")? {
            Ok(latencies) => {
                outcome.appended += latencies.len() as u64;
                outcome.append_latencies_us.extend(latencies);
            }
            Err(e) => failure = failure.or(Some(e)),
        }
    }
    if let Some(failure) = failure {
        return Err(failure.into());
    }
    outcome.latencies_us.sort_unstable();
    outcome.append_latencies_us.sort_unstable();
    Ok(outcome)
}
