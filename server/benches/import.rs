//! Paper import against the JSON API, in the same run on the same server: a
//! `IMPORT_BENCH_ROWS`-row (default 10,000) CSV entered with `campaign-ledger import`
//! (the real CLI as a child process: reading the file, the upload, the server's
//! parsing, preparation, decision and commit, the answer) beside the same rows POSTed
//! as JSON to `/api/v1/records` in batches of 1,000 (one connection, one request after
//! another, as a script would send them), after a POST of the batch record.
//!
//! The real `campaign-ledger serve` runs as a child process over a temp dir. Each
//! round enters the rows into a petition of its own (opened before the timing), so
//! that no round's signers are duplicates of another's; the two ways alternate in ABBA
//! order for [`ROUNDS`] rounds (batch ids are the log's, so each has its own too) and medians are compared, so a machine that warms up or
//! calms down cannot favour either. For reference, the same CSV is also POSTed to
//! `/api/v1/imports/paper` directly (no CLI process).
//!
//! Run: `cargo bench -p server --bench import` (about half a minute). Figures go to
//! stdout and end with one `RESULT` line.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use common::child::{exchange, fetch, free_port, print_log_tail, tree_size};
use common::{connect, get_request, host, load_average, post_request, section};
use http_body_util::Full;
use server::retention::ERASURES_PER_BATCH;
use test_support::bench::{millis, temp_dir, temp_root, thousands, BenchResult, Context};

const BINARY: &str = env!("CARGO_BIN_EXE_campaign-ledger");
const DEFAULT_ROWS: u64 = 10_000;
/// Records per JSON request (the API's limit).
const JSON_BATCH: usize = 1_000;
/// Rounds of each way; medians are compared.
const ROUNDS: usize = 4;
const START_TIMEOUT: Duration = Duration::from_secs(60);
const HEADER: &str =
    "name,postcode,email,address,constituency,ward,council,country,consent_to_share";

fn main() {
    common::run_main("import", run());
}

/// One paper signer, as a CSV row and as the JSON of a `signature.added`: what a
/// stall's sheets hold (a third without an email, an address, a ward).
struct Signer {
    name: String,
    postcode: String,
    email: Option<String>,
    address: String,
    constituency: String,
    ward: String,
    consent: bool,
}

fn signers(rows: u64) -> Vec<Signer> {
    (0..rows)
        .map(|i| Signer {
            name: format!("Paper Signer {i}"),
            postcode: format!("NE{} {}RU", 1 + i % 9, i % 10),
            email: (i % 3 != 0).then(|| format!("paper.signer.{i}@example.org")),
            address: format!("{} Grey Street, Flat {}", 1 + i % 200, i % 7),
            constituency: format!("E14000{}", 200 + i % 650),
            ward: format!("E05001{:03}", i % 1000),
            consent: i % 2 == 0,
        })
        .collect()
}

fn csv(signers: &[Signer]) -> Vec<u8> {
    let mut text = String::with_capacity(signers.len() * 130);
    text.push_str(HEADER);
    text.push('\n');
    for s in signers {
        text.push_str(&format!(
            "{},{},{},\"{}\",{},{},Newcastle upon Tyne,GB,{}\n",
            s.name,
            s.postcode,
            s.email.as_deref().unwrap_or(""),
            s.address,
            s.constituency,
            s.ward,
            if s.consent { "yes" } else { "no" }
        ));
    }
    text.into_bytes()
}

fn json_batches(signers: &[Signer], petition: &str, batch: &str) -> Vec<String> {
    signers
        .chunks(JSON_BATCH)
        .map(|chunk| {
            let records: Vec<serde_json::Value> = chunk
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "type": "signature.added", "petition_id": petition, "name": s.name,
                        "postcode": s.postcode, "email": s.email, "address": s.address,
                        "constituency": s.constituency, "ward": s.ward,
                        "council": "Newcastle upon Tyne", "country": "GB",
                        "consent_to_share": s.consent, "channel": "paper", "batch_id": batch,
                    })
                })
                .collect();
            serde_json::json!({ "records": records }).to_string()
        })
        .collect()
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    async fn start(data: &Path, log: &Path, extra: &[&str]) -> BenchResult<Server> {
        let addr = free_port()?;
        let out = std::fs::File::create(log).context(&format!("create {}", log.display()))?;
        let err = out.try_clone().context("the server's log")?;
        let child = Command::new(BINARY)
            .arg("serve")
            .arg("--data")
            .arg(data)
            .arg("--listen")
            .arg(addr.to_string())
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .context(&format!("start {BINARY}"))?;
        let mut server = Server { child, addr };
        let started = Instant::now();
        loop {
            if let Some(status) = server.child.try_wait().context("watch the server")? {
                return Err(format!("the server exited while starting: {status}").into());
            }
            if let Ok((StatusCode::OK, _)) = fetch(addr, get_request(&host(addr), "/healthz")).await
            {
                return Ok(server);
            }
            if started.elapsed() > START_TIMEOUT {
                return Err("the server did not answer /healthz in time".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
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

/// What the rounds share.
struct Bench {
    addr: SocketAddr,
    bearer: HeaderValue,
    token_file: PathBuf,
    csv_file: PathBuf,
    csv: Vec<u8>,
    signers: Vec<Signer>,
    rows: u64,
}

async fn run() -> BenchResult<()> {
    let rows = match std::env::var("IMPORT_BENCH_ROWS") {
        Err(_) => DEFAULT_ROWS,
        Ok(text) => text
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=50_000).contains(n))
            .ok_or("IMPORT_BENCH_ROWS must be an integer from 1 to 50000")?,
    };
    let root = temp_root()?;
    let dir = temp_dir(&root, "import-bench-")?;
    let data = dir.path().join("data");
    let log = dir.path().join("server.log");
    println!(
        "import bench: {} paper rows through `campaign-ledger import` vs the same rows as \
         JSON to /api/v1/records in batches of {JSON_BATCH}",
        thousands(rows)
    );
    println!(
        "  {BINARY}; {} cores; load average (1 min) at the start: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    let server = Server::start(&data, &log, &[]).await?;
    let outcome = rounds(&server, &data, dir.path(), rows).await;
    if outcome.is_err() {
        print_log_tail(&log);
    }
    drop(server);
    let (import_per_s, ratio) = outcome?;

    let sweep_log = dir.path().join("sweep.log");
    let sweep = retention_sweep(&dir.path().join("sweep-data"), &sweep_log).await;
    if sweep.is_err() {
        print_log_tail(&sweep_log);
    }
    let sweep_p99 = sweep?;
    println!(
        "RESULT import_rows_per_s={import_per_s} ratio_import_vs_json={ratio:.2} \
         retention_sweep_append_p99_ms={sweep_p99:.1}"
    );
    Ok(())
}

/// The import rounds: `(import rows/s, import/JSON)`.
async fn rounds(server: &Server, data: &Path, dir: &Path, rows: u64) -> BenchResult<(u64, f64)> {
    let token = std::fs::read_to_string(data.join("admin.token"))
        .context("read the admin token")?
        .trim()
        .to_owned();
    let token_file = dir.join("admin.token");
    std::fs::write(&token_file, &token).context("write the token file")?;
    let signers = signers(rows);
    let csv = csv(&signers);
    let csv_file = dir.join("sheets.csv");
    std::fs::write(&csv_file, &csv).context("write the CSV")?;
    let bench = Bench {
        addr: server.addr,
        bearer: HeaderValue::from_str(&format!("Bearer {token}")).context("the token")?,
        token_file,
        csv_file,
        csv,
        signers,
        rows,
    };
    println!(
        "  the CSV: {} bytes ({} per row)",
        thousands(bench.csv.len() as u64),
        bench.csv.len() as u64 / rows
    );

    section("1. warm-up: one of each (not counted)");
    let warm_cli = bench.cli_import("warm-cli").await?;
    let warm_json = bench.json_import("warm-json").await?;
    println!(
        "  import {:.0} ms, JSON {:.0} ms",
        millis(warm_cli),
        millis(warm_json)
    );

    section(&format!(
        "2. {ROUNDS} rounds, ABBA order: `campaign-ledger import` (A) and JSON batches (B)"
    ));
    let mut cli_times = Vec::new();
    let mut json_times = Vec::new();
    for round in 0..ROUNDS {
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for cli_first in order {
            if cli_first {
                cli_times.push(bench.cli_import(&format!("r{round}-cli")).await?);
            } else {
                json_times.push(bench.json_import(&format!("r{round}-json")).await?);
            }
        }
        println!(
            "  round {}: import {:.0} ms ({} rows/s), JSON {:.0} ms ({} rows/s)",
            round + 1,
            millis(cli_times[round]),
            thousands(per_second(rows, cli_times[round])),
            millis(json_times[round]),
            thousands(per_second(rows, json_times[round]))
        );
    }

    section("3. for reference: the CSV POSTed to /api/v1/imports/paper (no CLI process)");
    let mut http_times = Vec::new();
    for round in 0..ROUNDS {
        http_times.push(bench.http_import(&format!("r{round}-http")).await?);
    }
    let http = median(&mut http_times);
    println!(
        "  median {:.0} ms ({} rows/s)",
        millis(http),
        thousands(per_second(rows, http))
    );

    let cli = median(&mut cli_times);
    let json = median(&mut json_times);
    let import_per_s = per_second(rows, cli);
    let json_per_s = per_second(rows, json);
    let ratio = import_per_s as f64 / json_per_s.max(1) as f64;
    section("medians");
    println!(
        "  import: {:.0} ms, {} rows/s; JSON batches: {:.0} ms, {} rows/s; import/JSON = \
         {ratio:.2} (targets: ≥ 20,000 rows/s and ≥ 0.80)",
        millis(cli),
        thousands(import_per_s),
        millis(json),
        thousands(json_per_s)
    );
    // Every import (warm-ups, rounds, reference runs) entered the rows and a batch
    // record into a petition of its own.
    let imports = 2 * (ROUNDS as u64 + 1) + ROUNDS as u64;
    let expected = imports * (rows + 1) + imports;
    let size = tree_size(server.addr).await?;
    println!(
        "  the log holds {} entries (every round's rows, batch records and petitions)",
        thousands(size)
    );
    if size != expected {
        return Err(format!("the log holds {size} entries, not the {expected} entered").into());
    }
    Ok((import_per_s, ratio))
}

/// Signatures the retention sweep erases (`RETENTION_BENCH_SIGNERS`, default 100,000).
const DEFAULT_SWEPT: u64 = 100_000;
/// Rows per import while filling the swept petition (the import's limit is 50,000).
const FILL_BATCH: usize = 50_000;

/// The retention sweep under appends, on a server of its own (`--retention-days 0`, a
/// sweep every second): a petition of `RETENTION_BENCH_SIGNERS` paper signatures is
/// closed, and while the sweep erases their personal data, online signatures are
/// appended to another petition one after another; their latency is set beside that
/// of the same appends just before (no sweep). Returns the p99 during the sweep, ms.
async fn retention_sweep(data: &Path, log: &Path) -> BenchResult<f64> {
    let swept = match std::env::var("RETENTION_BENCH_SIGNERS") {
        Err(_) => DEFAULT_SWEPT,
        Ok(text) => text
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=10_000_000).contains(n))
            .ok_or("RETENTION_BENCH_SIGNERS must be an integer from 1 to 10000000")?,
    };
    section(&format!(
        "4. retention: appends while the sweep erases {} signers' data",
        thousands(swept)
    ));
    let server = Server::start(
        data,
        log,
        &["--retention-days", "0", "--retention-sweep-secs", "1"],
    )
    .await?;
    let token = std::fs::read_to_string(data.join("admin.token"))
        .context("read the admin token")?
        .trim()
        .to_owned();
    let bench = Appender {
        addr: server.addr,
        bearer: HeaderValue::from_str(&format!("Bearer {token}")).context("the token")?,
        next: 0,
    };
    bench.record(petition_json("swept")).await?;
    bench.record(petition_json("live")).await?;
    let filled = Instant::now();
    for (batch, chunk) in signers(swept).chunks(FILL_BATCH).enumerate() {
        let path = format!(
            "/api/v1/imports/paper?batch_id=sweep-{batch}&petition_id=swept&collector=vol-1"
        );
        bench.send(&path, "text/csv", csv(chunk)).await?;
    }
    println!(
        "  filled: {} paper signatures in {:.1} s",
        thousands(swept),
        filled.elapsed().as_secs_f64()
    );
    // The fill's writes reach the disk first, so that they slow neither side.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut bench = bench;
    let mut before = Vec::new();
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        before.push(bench.append_signature().await?);
    }
    bench
        .record(r#"{"type":"petition.closed","petition_id":"swept"}"#.to_string())
        .await?;
    let closed = Instant::now();
    let mut during = Vec::new();
    loop {
        for _ in 0..20 {
            during.push(bench.append_signature().await?);
        }
        if bench.erased("swept").await? >= swept {
            break;
        }
        if closed.elapsed() > Duration::from_secs(600) {
            return Err("the sweep did not finish in 10 minutes".into());
        }
    }
    let took = closed.elapsed();
    let (p50_before, p99_before) = (percentile(&mut before, 50), percentile(&mut before, 99));
    let (p50_during, p99_during) = (percentile(&mut during, 50), percentile(&mut during, 99));
    println!(
        "  the sweep erased {} signers' data in {:.1} s ({} erasures/s, in batches of {ERASURES_PER_BATCH})",
        thousands(swept),
        took.as_secs_f64(),
        thousands(per_second(swept, took))
    );
    println!(
        "  appends before the sweep: {} (p50 {:.1} ms, p99 {:.1} ms); during it: {} \
         (p50 {:.1} ms, p99 {:.1} ms; target p99 ≤ 25 ms)",
        before.len(),
        millis(p50_before),
        millis(p99_before),
        during.len(),
        millis(p50_during),
        millis(p99_during)
    );
    Ok(millis(p99_during))
}

fn petition_json(petition: &str) -> String {
    serde_json::json!({
        "type": "petition.opened", "petition_id": petition, "title": "Retention bench",
        "text": "We ask for an independent advisory committee on city diplomacy.",
        "target": "UK Parliament",
    })
    .to_string()
}

/// `q`-th percentile of `times` (sorted in place).
fn percentile(times: &mut [Duration], q: usize) -> Duration {
    times.sort();
    times[(times.len() * q / 100).min(times.len().saturating_sub(1))]
}

/// One client appending to the retention bench's server, one request at a time.
struct Appender {
    addr: SocketAddr,
    bearer: HeaderValue,
    /// Online signers appended so far (each one new).
    next: u64,
}

impl Appender {
    async fn record(&self, body: String) -> BenchResult<()> {
        self.send("/api/v1/records", "application/json", body.into_bytes())
            .await
    }

    async fn send(&self, path: &str, content_type: &str, body: Vec<u8>) -> BenchResult<()> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::HOST, host(self.addr))
            .header(header::AUTHORIZATION, &self.bearer)
            .header(header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .context("a request")?;
        let (status, answer) = fetch(self.addr, request).await?;
        if status != StatusCode::CREATED {
            return Err(format!(
                "POST {path} answered {status}: {}",
                String::from_utf8_lossy(&answer)
            )
            .into());
        }
        Ok(())
    }

    /// One online signature of the open petition: how long its answer took.
    async fn append_signature(&mut self) -> BenchResult<Duration> {
        self.next += 1;
        let body = serde_json::json!({
            "type": "signature.added", "petition_id": "live",
            "name": format!("Online Signer {}", self.next),
            "email": format!("online.{}@example.org", self.next),
            "country": "GB", "consent_to_share": false, "channel": "online",
        })
        .to_string();
        let started = Instant::now();
        self.record(body).await?;
        Ok(started.elapsed())
    }

    /// How many of `petition`'s signatures had their data erased for retention.
    async fn erased(&self, petition: &str) -> BenchResult<u64> {
        let path = format!("/api/v1/petitions/{petition}");
        let (status, body) = fetch(self.addr, get_request(&host(self.addr), &path)).await?;
        if status != StatusCode::OK {
            return Err(format!("GET {path} answered {status}").into());
        }
        let view: serde_json::Value = serde_json::from_slice(&body).context("a petition")?;
        Ok(view["erased"]["retention"].as_u64().unwrap_or(0))
    }
}

impl Bench {
    /// Opens `petition` (untimed).
    async fn open(&self, petition: &str) -> BenchResult<()> {
        let body = serde_json::json!({
            "type": "petition.opened", "petition_id": petition, "title": "Import bench",
            "text": "We ask for an independent advisory committee on city diplomacy.",
            "target": "UK Parliament",
        })
        .to_string();
        self.post("/api/v1/records", body).await
    }

    async fn post(&self, path: &str, body: String) -> BenchResult<()> {
        let request = post_request(&host(self.addr), &self.bearer, path, body);
        let (status, answer) = fetch(self.addr, request).await?;
        if status != StatusCode::CREATED {
            return Err(format!(
                "POST {path} answered {status}: {}",
                String::from_utf8_lossy(&answer)
            )
            .into());
        }
        Ok(())
    }

    /// The rows through `campaign-ledger import`, timed from the spawn to the exit.
    async fn cli_import(&self, petition: &str) -> BenchResult<Duration> {
        self.open(petition).await?;
        let server = format!("http://{}", self.addr);
        let started = Instant::now();
        let mut command = Command::new(BINARY);
        command
            .arg("import")
            .arg(&self.csv_file)
            .args(["--server", &server, "--token-file"])
            .arg(&self.token_file)
            .args(["--batch", &format!("{petition}-stall")])
            .args(["--petition", petition, "--collector", "vol-1"])
            .args(["--stall", "Grey Street"])
            .stdin(Stdio::null());
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .context("wait for campaign-ledger import")?
            .context("run campaign-ledger import")?;
        let took = started.elapsed();
        if !output.status.success() {
            return Err(format!(
                "campaign-ledger import failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        Ok(took)
    }

    /// The batch record, then the rows as JSON in batches of [`JSON_BATCH`], one
    /// request after another on one connection; the bodies are made before the timing.
    async fn json_import(&self, petition: &str) -> BenchResult<Duration> {
        self.open(petition).await?;
        let batch = serde_json::json!({
            "type": "paper_batch.recorded", "batch_id": format!("{petition}-stall"),
            "petition_id": petition,
            "collector": "vol-1", "stall": "Grey Street", "count": self.rows,
        })
        .to_string();
        let bodies = json_batches(&self.signers, petition, &format!("{petition}-stall"));
        let host = host(self.addr);
        let mut sender = connect(self.addr).await?;
        let started = Instant::now();
        for body in std::iter::once(batch).chain(bodies) {
            let request = post_request(&host, &self.bearer, "/api/v1/records", body);
            let (status, answer) = exchange(&mut sender, request).await?;
            if status != StatusCode::CREATED {
                return Err(format!(
                    "POST /api/v1/records answered {status}: {}",
                    String::from_utf8_lossy(&answer)
                )
                .into());
            }
        }
        Ok(started.elapsed())
    }

    /// The CSV POSTed to the import route by this process.
    async fn http_import(&self, petition: &str) -> BenchResult<Duration> {
        self.open(petition).await?;
        let path =
            format!("/api/v1/imports/paper?batch_id={petition}-stall&petition_id={petition}&collector=vol-1");
        let request = Request::builder()
            .method(Method::POST)
            .uri(&path)
            .header(header::HOST, host(self.addr))
            .header(header::AUTHORIZATION, &self.bearer)
            .header(header::CONTENT_TYPE, "text/csv")
            .body(Full::new(Bytes::from(self.csv.clone())))
            .context("an import request")?;
        let started = Instant::now();
        let (status, answer) = fetch(self.addr, request).await?;
        let took = started.elapsed();
        if status != StatusCode::CREATED {
            return Err(format!(
                "POST {path} answered {status}: {}",
                String::from_utf8_lossy(&answer)
            )
            .into());
        }
        Ok(took)
    }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    let n = times.len();
    if n % 2 == 1 {
        times[n / 2]
    } else {
        (times[n / 2 - 1] + times[n / 2]) / 2
    }
}

fn per_second(count: u64, took: Duration) -> u64 {
    (count as f64 / took.as_secs_f64().max(1e-9)).round() as u64
}
