//! Append throughput of the ledger store beside plain redb and SQLite, plus inclusion
//! proof latency, `check` speed and bytes on disk, all in one run on the same bytes.
//!
//! Every figure comes from realistic `signature.added` entries (~130 bytes encoded),
//! generated from a fixed seed before any timing starts. Every append is durable before
//! the next one is issued:
//!
//! 1. bulk: 1,000,000 entries in batches of 1024: the ledger (`append_blocking`), redb
//!    (one row per entry, one write transaction per batch, `Durability::Immediate`, no
//!    hashing) and SQLite (WAL, `synchronous=FULL`, one transaction per batch).
//! 2. batch64: 200,000 entries in batches of 64, the same three.
//! 3. concurrent: 64 tokio tasks each appending one entry at a time for 5 s, beside 64
//!    OS threads each committing single-row SQLite transactions on its own connection;
//!    only appends acknowledged within the 5 s count.
//! 4. proofs: 20,000 inclusion proofs for random indexes at the bulk ledger's full size.
//! 5. check: `Store::check` over the bulk ledger.
//! 6. bytes per entry: the bulk ledger's data directory after close, beside the bulk
//!    SQLite database (with any `-wal`/`-shm` left) after its connection closed.
//!
//! Run: `cargo bench -p ledger --bench append`. `BENCH_SCALE=0.02` (default 1.0)
//! multiplies every entry count and duration for a quick smoke run. Figures go to
//! stdout and end with one `RESULT` line (README, Benchmarks); progress goes to stderr only
//! when it is a terminal.

use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ledger::note::NoteSigner;
use ledger::record::{AreaCode, Channel, CountryCode, Id, Name, Signature};
use ledger::store::{LogConfig, Store};
use ledger::{DedupTag, Entry, Hash, HashAlg, Record};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ORIGIN: &str = "bench.ledger.example/append";
const HASH: HashAlg = HashAlg::Blake3;
/// Fixed so that every run appends the same bytes and proves the same indexes.
const SEED: u64 = 0x5eed_1ed9e2;

const BULK_ENTRIES: f64 = 1_000_000.0;
const BULK_BATCH: usize = 1024;
const BATCH64_ENTRIES: f64 = 200_000.0;
const BATCH64_BATCH: usize = 64;
const CONCURRENT_WRITERS: usize = 64;
/// Alternating rounds of the ledger and SQLite in the batch scenarios.
const ROUNDS: usize = 3;
const CONCURRENT_SECS: f64 = 5.0;
const PROOFS: f64 = 20_000.0;
/// Proofs also checked against the root and the entry bytes: a sanity check, not timed.
const PROOFS_VERIFIED: usize = 100;
/// How long a concurrent SQLite writer waits for the write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const REDB_ENTRIES: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("entries");
const SQLITE_SCHEMA: &str = "CREATE TABLE entries(id INTEGER PRIMARY KEY, data BLOB NOT NULL)";

use test_support::bench::{
    bench_scale, millis, scaled_count, temp_dir, temp_root, thousands, BenchResult, Context,
    Progress,
};

fn main() {
    if let Err(err) = run() {
        eprintln!("append bench failed: {err}");
        std::process::exit(1);
    }
}

fn run() -> BenchResult<()> {
    let scale = bench_scale()?;
    let bulk_count = scaled_count(BULK_ENTRIES, scale, BULK_BATCH);
    let batch64_count = scaled_count(BATCH64_ENTRIES, scale, BATCH64_BATCH);
    let concurrent_for = Duration::from_secs_f64((CONCURRENT_SECS * scale).max(0.1));
    let proof_count = scaled_count(PROOFS, scale, PROOFS_VERIFIED);
    let tmp_root = temp_root()?;

    let generating = Instant::now();
    let entries = Arc::new(generate_entries(bulk_count.max(batch64_count))?);
    println!("append bench: ledger store vs redb vs SQLite, every batch durable before the next");
    println!(
        "  scale {scale}, {} cores, temp dirs under {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        tmp_root.display()
    );
    println!(
        "  {} signature.added entries generated in {:.1} s: {:.1} bytes on average ({} to {})",
        thousands(entries.len() as u64),
        generating.elapsed().as_secs_f64(),
        entries.average_len(),
        entries.min_len(),
        entries.max_len()
    );

    // 1. bulk. The ledger stays open for the proof and check scenarios and is measured
    // on disk at the end; SQLite is measured as soon as its connection closes.
    section(&format!(
        "1. bulk: {} entries in batches of {BULK_BATCH}",
        thousands(bulk_count as u64)
    ));
    batch_header();
    // The ledger and SQLite alternate for ROUNDS rounds and the medians are compared, so
    // a burst of noise on this shared machine cannot decide the ratio.
    let bulk_dir = temp_dir(&tmp_root, "ledger-bulk-")?;
    let bulk_store = create_store(bulk_dir.path())?;
    let mut ledger_runs = vec![ledger_batches(
        &bulk_store,
        &entries,
        bulk_count,
        BULK_BATCH,
    )?];
    ledger_runs[0].print_row("ledger");
    let (first_sqlite, sqlite_bulk_disk) =
        sqlite_batches(&tmp_root, &entries, bulk_count, BULK_BATCH)?;
    first_sqlite.print_row("sqlite");
    let mut sqlite_runs = vec![first_sqlite];
    for _ in 1..ROUNDS {
        ledger_runs.push(fresh_ledger_batches(
            &tmp_root, &entries, bulk_count, BULK_BATCH,
        )?);
        ledger_runs.last().expect("just pushed").print_row("ledger");
        sqlite_runs.push(sqlite_batches(&tmp_root, &entries, bulk_count, BULK_BATCH)?.0);
        sqlite_runs.last().expect("just pushed").print_row("sqlite");
    }
    let redb_bulk = redb_batches(&tmp_root, &entries, bulk_count, BULK_BATCH)?;
    redb_bulk.print_row("redb");
    let ledger_bulk = median_run(ledger_runs);
    let sqlite_bulk = median_run(sqlite_runs);
    println!("  medians of {ROUNDS} rounds:");
    ledger_bulk.print_row("ledger");
    sqlite_bulk.print_row("sqlite");
    let ratio_bulk = ledger_bulk.per_s() / sqlite_bulk.per_s();
    print_ratios(&ledger_bulk, &redb_bulk, &sqlite_bulk);

    // 2. batch64
    section(&format!(
        "2. batch64: {} entries in batches of {BATCH64_BATCH}",
        thousands(batch64_count as u64)
    ));
    batch_header();
    let mut ledger_runs = Vec::new();
    let mut sqlite_runs = Vec::new();
    for _ in 0..ROUNDS {
        ledger_runs.push(fresh_ledger_batches(
            &tmp_root,
            &entries,
            batch64_count,
            BATCH64_BATCH,
        )?);
        ledger_runs.last().expect("just pushed").print_row("ledger");
        sqlite_runs.push(sqlite_batches(&tmp_root, &entries, batch64_count, BATCH64_BATCH)?.0);
        sqlite_runs.last().expect("just pushed").print_row("sqlite");
    }
    let redb_64 = redb_batches(&tmp_root, &entries, batch64_count, BATCH64_BATCH)?;
    redb_64.print_row("redb");
    let ledger_64 = median_run(ledger_runs);
    let sqlite_64 = median_run(sqlite_runs);
    println!("  medians of {ROUNDS} rounds:");
    ledger_64.print_row("ledger");
    sqlite_64.print_row("sqlite");
    let ratio_64 = ledger_64.per_s() / sqlite_64.per_s();
    print_ratios(&ledger_64, &redb_64, &sqlite_64);

    // 3. concurrent
    section(&format!(
        "3. concurrent: {CONCURRENT_WRITERS} writers appending one entry at a time for {:.1} s",
        concurrent_for.as_secs_f64()
    ));
    concurrent_header();
    let ledger_conc = ledger_concurrent(&tmp_root, &entries, concurrent_for)?;
    ledger_conc.print_row("ledger");
    let sqlite_conc = sqlite_concurrent(&tmp_root, &entries, concurrent_for)?;
    sqlite_conc.print_row("sqlite");
    let ratio_conc = ledger_conc.per_s() / sqlite_conc.per_s();
    println!("  ledger/sqlite {ratio_conc:.2}");

    // 4. proofs
    let size = bulk_store.size();
    section(&format!(
        "4. inclusion proofs: {} random indexes at tree size {}",
        thousands(proof_count as u64),
        thousands(size)
    ));
    let proof_times = inclusion_proofs(&bulk_store, &entries, proof_count)?;
    let proof_p99_us = micros(percentile(&proof_times, 0.99));
    println!(
        "  p50 {:.1} µs   p90 {:.1} µs   p99 {proof_p99_us:.1} µs   max {:.1} µs   ({} verified against root and entry bytes)",
        micros(percentile(&proof_times, 0.50)),
        micros(percentile(&proof_times, 0.90)),
        micros(percentile(&proof_times, 1.0)),
        PROOFS_VERIFIED.min(proof_times.len())
    );

    // 5. check
    section(&format!(
        "5. check: the bulk ledger ({} entries)",
        thousands(size)
    ));
    let check_per_s = time_check(&bulk_store)?;

    // 6. bytes per entry
    section("6. bytes per entry on disk (bulk logs, after close)");
    bulk_store.close().context("close the bulk ledger")?;
    let ledger_disk = disk_use(bulk_dir.path()).context("measure the bulk ledger's files")?;
    drop(bulk_dir);
    let bytes_per_entry = ledger_disk.bytes as f64 / bulk_count as f64;
    let sqlite_bytes_per_entry = sqlite_bulk_disk.bytes as f64 / bulk_count as f64;
    println!("  ledger data dir:");
    for file in &ledger_disk.files {
        println!(
            "    {:<18} {:>14} bytes  {:>8.2} per entry",
            file.name,
            thousands(file.bytes),
            file.bytes as f64 / bulk_count as f64
        );
    }
    for (engine, disk) in [
        ("ledger", &ledger_disk),
        ("redb", &redb_bulk.disk),
        ("sqlite", &sqlite_bulk_disk),
    ] {
        println!(
            "  {engine:<8} {:>14} bytes  {:>8.2} per entry  ({:.2} per entry allocated)",
            thousands(disk.bytes),
            disk.bytes as f64 / bulk_count as f64,
            disk.allocated as f64 / bulk_count as f64
        );
    }
    println!(
        "  ledger/sqlite {:.2}   (entries themselves: {:.2} bytes)",
        bytes_per_entry / sqlite_bytes_per_entry,
        entries.average_len()
    );

    println!();
    println!(
        "RESULT bulk_per_s={} ratio_vs_sqlite_bulk={ratio_bulk:.2} batch64_per_s={} \
         ratio_vs_sqlite_batch64={ratio_64:.2} concurrent_per_s={} \
         ratio_vs_sqlite_concurrent={ratio_conc:.2} bytes_per_entry={bytes_per_entry:.2} \
         sqlite_bytes_per_entry={sqlite_bytes_per_entry:.2} proof_p99_us={} check_per_s={}",
        ledger_bulk.per_s().round(),
        ledger_64.per_s().round(),
        ledger_conc.per_s().round(),
        proof_p99_us.round(),
        check_per_s.round()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------

/// The log key: a fresh Ed25519 signed-note key named after the origin.
fn log_signer() -> BenchResult<NoteSigner> {
    NoteSigner::generate(ORIGIN).context("generate the log key")
}

fn create_store(dir: &Path) -> BenchResult<Store> {
    let config = LogConfig {
        origin: ORIGIN.to_owned(),
        hash: HASH,
    };
    Store::create(dir, &config, log_signer()?)
        .context(&format!("create a ledger in {}", dir.display()))
}

// ---------------------------------------------------------------------------------
// Entries
// ---------------------------------------------------------------------------------

/// Pre-encoded entries in one buffer: generating them is never timed, and a million of
/// them cost two allocations rather than a million.
struct Entries {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Entries {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, index: usize) -> &[u8] {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.bytes[start..self.ends[index]]
    }

    /// The owned batch the ledger's API takes. Built inside the timed loop, as a server
    /// would hold owned entries anyway; it costs microseconds beside a millisecond fsync.
    fn owned(&self, range: Range<usize>) -> Vec<Vec<u8>> {
        range.map(|i| self.get(i).to_vec()).collect()
    }

    fn average_len(&self) -> f64 {
        self.bytes.len() as f64 / self.len() as f64
    }

    fn min_len(&self) -> usize {
        (0..self.len())
            .map(|i| self.get(i).len())
            .min()
            .unwrap_or(0)
    }

    fn max_len(&self) -> usize {
        (0..self.len())
            .map(|i| self.get(i).len())
            .max()
            .unwrap_or(0)
    }
}

const PETITIONS: &[&str] = &[
    "newcastle-taiyuan-detwin",
    "sheffield-chengdu-review",
    "edinburgh-xian-twinning-end",
    "uk-detwin-national-2024",
];
/// Councils for the constituencies, assigned round-robin: a constituency always lies
/// in the same council, as in reality.
const COUNCILS: &[&str] = &[
    "Newcastle upon Tyne",
    "Sheffield",
    "City of Edinburgh",
    "Leeds",
    "Manchester",
    "Birmingham",
    "Bristol",
    "Cardiff",
    "Glasgow City",
    "Belfast",
    "Tower Hamlets",
    "Brighton and Hove",
];
/// Public ids of the tokens that append online signatures.
const ONLINE_AUTHORS: &[&str] = &["tok_web_7f3a2c91", "tok_web_b04e6d15", "tok_api_19c8e2f0"];
const PAPER_AUTHOR: &str = "tok_desk_5d72a9e3";
const PAPER_BATCHES: &[&str] = &[
    "stall-2024-05-11-grey-st",
    "stall-2024-05-18-fargate",
    "stall-2024-06-01-princes-st",
];
/// Overseas signers: no UK areas.
const OVERSEAS: &[&str] = &["HK", "TW", "US", "CA", "AU", "FR", "DE", "NL"];
const OVERSEAS_SHARE: f64 = 0.04;
const PAPER_SHARE: f64 = 0.10;
const CONSENT_SHARE: f64 = 0.35;
const WARDS_PER_CONSTITUENCY: u32 = 20;
/// 2024-06-10 in Unix milliseconds; signatures then arrive every few hundred ms.
const START_MS: u64 = 1_718_000_000_000;

/// The 650 UK parliamentary constituencies of the 2024 boundaries: (GSS code, letter
/// of its nation for ward codes).
fn constituency_codes() -> BenchResult<Vec<(AreaCode, &'static str)>> {
    // (code prefix, first number, count, ward code prefix)
    let nations = [
        ("E14", 1_063u32, 543u32, "E05"),
        ("W07", 81, 32, "W05"),
        ("S14", 21, 57, "S13"),
        ("N05", 1, 18, "N08"),
    ];
    let mut codes = Vec::with_capacity(650);
    for (prefix, first, count, wards) in nations {
        for n in first..first + count {
            let code = AreaCode::parse(&format!("{prefix}{n:06}")).context("constituency code")?;
            codes.push((code, wards));
        }
    }
    Ok(codes)
}

fn generate_entries(count: usize) -> BenchResult<Entries> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let constituencies = constituency_codes()?;
    let petitions = parse_all(PETITIONS, Id::parse)?;
    let paper_batches = parse_all(PAPER_BATCHES, Id::parse)?;
    let overseas = parse_all(OVERSEAS, CountryCode::parse)?;
    let gb = CountryCode::parse("GB").context("country code")?;
    let councils = parse_all(COUNCILS, Name::parse)?;

    let mut entries = Entries {
        bytes: Vec::with_capacity(count * 140),
        ends: Vec::with_capacity(count),
    };
    let mut progress = Progress::new("generating entries", count as u64);
    let mut encoded = Vec::new();
    let mut time_ms = START_MS;
    for i in 0..count {
        time_ms += rng.gen_range(1..400);
        let (country, constituency, ward, council) = if rng.gen_bool(OVERSEAS_SHARE) {
            (overseas[rng.gen_range(0..overseas.len())], None, None, None)
        } else {
            let c = rng.gen_range(0..constituencies.len());
            let (constituency, ward_prefix) = constituencies[c];
            let ward_number =
                c as u32 * WARDS_PER_CONSTITUENCY + rng.gen_range(0..WARDS_PER_CONSTITUENCY);
            let ward =
                AreaCode::parse(&format!("{ward_prefix}{ward_number:06}")).context("ward code")?;
            let council = councils[c % councils.len()].clone();
            (gb, Some(constituency), Some(ward), Some(council))
        };
        let (channel, author) = if rng.gen_bool(PAPER_SHARE) {
            let batch_id = paper_batches[rng.gen_range(0..paper_batches.len())].clone();
            (Channel::Paper { batch_id }, PAPER_AUTHOR)
        } else {
            let author = ONLINE_AUTHORS[rng.gen_range(0..ONLINE_AUTHORS.len())];
            (Channel::Online, author)
        };
        let mut dedup_tag = DedupTag::default();
        rng.fill(&mut dedup_tag.0);
        let mut commitment = Hash::default();
        rng.fill(&mut commitment.0);
        let signature = Signature {
            petition_id: petitions[rng.gen_range(0..petitions.len())].clone(),
            country,
            constituency,
            ward,
            council,
            channel,
            consent_to_share: rng.gen_bool(CONSENT_SHARE),
            dedup_tag,
            commitment,
        };
        Entry::v1(time_ms, author, Record::SignatureAdded(signature))
            .encode_into(&mut encoded)
            .context("encode a generated signature entry")?;
        entries.bytes.extend_from_slice(&encoded);
        entries.ends.push(entries.bytes.len());
        progress.update(i as u64 + 1);
    }
    progress.finish();
    Ok(entries)
}

fn parse_all<T>(texts: &[&str], parse: fn(&str) -> ledger::Result<T>) -> BenchResult<Vec<T>> {
    texts
        .iter()
        .map(|text| parse(text).context(&format!("parse {text:?}")))
        .collect()
}

// ---------------------------------------------------------------------------------
// Scenarios 1 and 2: sequential batches
// ---------------------------------------------------------------------------------

/// One engine's run of sequential durable batches.
struct BatchRun {
    entries: usize,
    elapsed: Duration,
    /// Each batch's commit time, sorted.
    batch_times: Vec<Duration>,
    /// Its files after close (measured for redb and SQLite, whose dirs go at once).
    disk: DiskUse,
}

impl BatchRun {
    fn per_s(&self) -> f64 {
        self.entries as f64 / self.elapsed.as_secs_f64()
    }

    fn print_row(&self, engine: &str) {
        println!(
            "  {engine:<8} {:>10} {:>9.2} {:>12} {:>12.2} {:>12.2}",
            thousands(self.entries as u64),
            self.elapsed.as_secs_f64(),
            thousands(self.per_s().round() as u64),
            millis(percentile(&self.batch_times, 0.50)),
            millis(percentile(&self.batch_times, 0.99)),
        );
    }
}

fn batch_header() {
    println!(
        "  {:<8} {:>10} {:>9} {:>12} {:>12} {:>12}",
        "engine", "entries", "seconds", "entries/s", "batch p50 ms", "batch p99 ms"
    );
}

fn print_ratios(ledger: &BatchRun, redb: &BatchRun, sqlite: &BatchRun) {
    println!(
        "  ledger/sqlite {:.2}   ledger/redb {:.2}",
        ledger.per_s() / sqlite.per_s(),
        ledger.per_s() / redb.per_s()
    );
}

/// Commits entries `[0, count)` in batches of `batch`, each through `commit`, which
/// returns only once its batch is durable.
fn run_batches(
    label: &str,
    count: usize,
    batch: usize,
    mut commit: impl FnMut(Range<usize>) -> BenchResult<()>,
) -> BenchResult<BatchRun> {
    let mut progress = Progress::new(label, count as u64);
    let mut batch_times = Vec::with_capacity(count.div_ceil(batch));
    let start = Instant::now();
    for first in (0..count).step_by(batch) {
        let end = (first + batch).min(count);
        let began = Instant::now();
        commit(first..end)?;
        batch_times.push(began.elapsed());
        progress.update(end as u64);
    }
    let elapsed = start.elapsed();
    progress.finish();
    batch_times.sort_unstable();
    Ok(BatchRun {
        entries: count,
        elapsed,
        batch_times,
        disk: DiskUse::default(),
    })
}

fn ledger_batches(
    store: &Store,
    entries: &Entries,
    count: usize,
    batch: usize,
) -> BenchResult<BatchRun> {
    run_batches("ledger", count, batch, |range| {
        store
            .append_blocking(entries.owned(range))
            .context("ledger append")?;
        Ok(())
    })
}

/// [`ledger_batches`] on a new ledger in a fresh directory, closed afterwards.
fn fresh_ledger_batches(
    tmp_root: &Path,
    entries: &Entries,
    count: usize,
    batch: usize,
) -> BenchResult<BatchRun> {
    let dir = temp_dir(tmp_root, "ledger-round-")?;
    let store = create_store(dir.path())?;
    let run = ledger_batches(&store, entries, count, batch)?;
    store.close().context("close a ledger")?;
    Ok(run)
}

/// The run with the median rate.
fn median_run(mut runs: Vec<BatchRun>) -> BatchRun {
    runs.sort_by(|a, b| a.per_s().total_cmp(&b.per_s()));
    runs.swap_remove(runs.len() / 2)
}

fn redb_batches(
    tmp_root: &Path,
    entries: &Entries,
    count: usize,
    batch: usize,
) -> BenchResult<BatchRun> {
    let dir = temp_dir(tmp_root, "redb-")?;
    let db = redb::Database::create(dir.path().join("entries.redb")).context("create redb")?;
    let mut run = run_batches("redb", count, batch, |range| {
        // redb 2 write transactions default to Durability::Immediate: the commit
        // returns after fsync, like the ledger's.
        let txn = db.begin_write().context("redb begin_write")?;
        {
            let mut table = txn.open_table(REDB_ENTRIES).context("redb open_table")?;
            for i in range {
                table
                    .insert(i as u64, entries.get(i))
                    .context("redb insert")?;
            }
        }
        txn.commit().context("redb commit")?;
        Ok(())
    })?;
    drop(db);
    run.disk = disk_use(dir.path()).context("measure redb's files")?;
    Ok(run)
}

/// Opens a connection the way both SQLite baselines use it: WAL, fsync on every
/// commit, waiting up to [`SQLITE_BUSY_TIMEOUT`] for the write lock.
fn sqlite_open(path: &Path) -> BenchResult<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path).context("open SQLite")?;
    // First, so that the pragmas below wait for a busy database too.
    conn.busy_timeout(SQLITE_BUSY_TIMEOUT)
        .context("set busy_timeout")?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .context("set journal_mode")?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("SQLite refused WAL mode (journal_mode is {mode})").into());
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .context("set synchronous")?;
    Ok(conn)
}

/// Returns the run and the database's files after its connection closed.
fn sqlite_batches(
    tmp_root: &Path,
    entries: &Entries,
    count: usize,
    batch: usize,
) -> BenchResult<(BatchRun, DiskUse)> {
    let dir = temp_dir(tmp_root, "sqlite-")?;
    let mut conn = sqlite_open(&dir.path().join("entries.db"))?;
    conn.execute(SQLITE_SCHEMA, [])
        .context("create the SQLite table")?;
    let run = run_batches("sqlite", count, batch, |range| {
        let txn = conn.transaction().context("SQLite begin")?;
        {
            let mut insert = txn
                .prepare_cached("INSERT INTO entries(id, data) VALUES (?1, ?2)")
                .context("SQLite prepare")?;
            for i in range {
                insert
                    .execute(rusqlite::params![i as i64, entries.get(i)])
                    .context("SQLite insert")?;
            }
        }
        txn.commit().context("SQLite commit")?;
        Ok(())
    })?;
    conn.close().map_err(|(_, e)| e).context("close SQLite")?;
    let disk = disk_use(dir.path()).context("measure SQLite's files")?;
    Ok((run, disk))
}

// ---------------------------------------------------------------------------------
// Scenario 3: concurrent single-entry appends
// ---------------------------------------------------------------------------------

/// What one concurrent writer (a tokio task or an OS thread) saw.
#[derive(Default)]
struct Tally {
    /// Latencies of the appends acknowledged within the window; one entry each.
    in_window: Vec<Duration>,
    /// Appends issued within the window but acknowledged after it: durable, not counted.
    late: u64,
    /// Appends refused (SQLite: still busy after the busy timeout).
    busy: u64,
}

impl Tally {
    fn record(&mut self, began: Instant, deadline: Instant) {
        let now = Instant::now();
        if now <= deadline {
            self.in_window.push(now - began);
        } else {
            self.late += 1;
        }
    }

    fn merge(&mut self, other: Tally) {
        self.in_window.extend(other.in_window);
        self.late += other.late;
        self.busy += other.busy;
    }
}

/// Writers start together and issue appends until the window closes; only appends
/// acknowledged within the window count, so neither engine's rate depends on how long
/// its stragglers take to drain afterwards (with SQLite's busy back-off, seconds).
struct ConcurrentRun {
    window: Duration,
    /// From the start until the last writer's final answer.
    wall: Duration,
    /// All writers' figures, `in_window` sorted.
    tally: Tally,
    notes: String,
}

impl ConcurrentRun {
    fn acked(&self) -> u64 {
        self.tally.in_window.len() as u64
    }

    fn per_s(&self) -> f64 {
        self.acked() as f64 / self.window.as_secs_f64()
    }

    fn print_row(&self, engine: &str) {
        println!(
            "  {engine:<8} {:>10} {:>12} {:>10.2} {:>10.2} {:>8} {:>8} {:>8.2}  {}",
            thousands(self.acked()),
            thousands(self.per_s().round() as u64),
            millis(percentile(&self.tally.in_window, 0.50)),
            millis(percentile(&self.tally.in_window, 0.99)),
            self.tally.late,
            self.tally.busy,
            self.wall.as_secs_f64(),
            self.notes
        );
    }
}

fn concurrent_header() {
    println!(
        "  {:<8} {:>10} {:>12} {:>10} {:>10} {:>8} {:>8} {:>8}  notes",
        "engine", "acked", "entries/s", "p50 ms", "p99 ms", "late", "busy", "wall s"
    );
}

fn ledger_concurrent(
    tmp_root: &Path,
    entries: &Arc<Entries>,
    window: Duration,
) -> BenchResult<ConcurrentRun> {
    let dir = temp_dir(tmp_root, "ledger-concurrent-")?;
    let store = create_store(dir.path())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the tokio runtime")?;
    let mut progress = Progress::note(&format!(
        "ledger: {CONCURRENT_WRITERS} tasks for {:.1} s",
        window.as_secs_f64()
    ));
    let start = Instant::now();
    let deadline = start + window;
    let tallies: BenchResult<Vec<Tally>> = runtime.block_on(async {
        let tasks: Vec<_> = (0..CONCURRENT_WRITERS)
            .map(|task| {
                let store = store.clone();
                let entries = Arc::clone(entries);
                tokio::spawn(async move {
                    let mut tally = Tally::default();
                    // Each task appends its own slice of the pool, cycling if needed.
                    let mut next = task;
                    while Instant::now() < deadline {
                        let entry = entries.get(next % entries.len()).to_vec();
                        next += CONCURRENT_WRITERS;
                        let began = Instant::now();
                        store.append(vec![entry]).await?;
                        tally.record(began, deadline);
                    }
                    Ok::<_, ledger::Error>(tally)
                })
            })
            .collect();
        let mut tallies = Vec::with_capacity(tasks.len());
        for task in tasks {
            let tally = task.await.context("join an append task")?;
            tallies.push(tally.context("ledger append")?);
        }
        Ok(tallies)
    });
    let wall = start.elapsed();
    progress.finish();
    drop(runtime);
    let mut tally = Tally::default();
    for one in tallies? {
        tally.merge(one);
    }
    tally.in_window.sort_unstable();
    // Every commit signs one checkpoint, so their count is the number of fsyncs.
    let commits = store.checkpoint_sizes().len().max(1);
    let size = store.size();
    store.close().context("close the concurrent ledger")?;
    let answered = tally.in_window.len() as u64 + tally.late;
    if size != answered {
        return Err(format!(
            "the concurrent ledger holds {size} entries but {answered} were acknowledged"
        )
        .into());
    }
    Ok(ConcurrentRun {
        window,
        wall,
        tally,
        notes: format!(
            "{} commits, {:.1} entries each",
            thousands(commits as u64),
            size as f64 / commits as f64
        ),
    })
}

fn sqlite_concurrent(
    tmp_root: &Path,
    entries: &Entries,
    window: Duration,
) -> BenchResult<ConcurrentRun> {
    let dir = temp_dir(tmp_root, "sqlite-concurrent-")?;
    let path = dir.path().join("entries.db");
    sqlite_open(&path)?
        .execute(SQLITE_SCHEMA, [])
        .context("create the SQLite table")?;
    let mut progress = Progress::note(&format!(
        "sqlite: {CONCURRENT_WRITERS} threads for {:.1} s",
        window.as_secs_f64()
    ));
    // Every thread opens its connection first; the clock starts when all are ready.
    let ready = Barrier::new(CONCURRENT_WRITERS + 1);
    let (tallies, wall) = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..CONCURRENT_WRITERS)
            .map(|thread| {
                let (ready, path) = (&ready, &path);
                scope.spawn(move || -> BenchResult<Tally> {
                    let conn = sqlite_open(path);
                    // Wait even after a failed open, so the others are not stuck.
                    ready.wait();
                    sqlite_writer(&conn?, entries, thread, Instant::now() + window)
                })
            })
            .collect();
        ready.wait();
        let start = Instant::now();
        let tallies: Vec<_> = threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err("a SQLite writer panicked".into()))
            })
            .collect();
        (tallies, start.elapsed())
    });
    progress.finish();
    let mut tally = Tally::default();
    for one in tallies {
        tally.merge(one?);
    }
    tally.in_window.sort_unstable();
    Ok(ConcurrentRun {
        window,
        wall,
        tally,
        notes: format!(
            "one fsync per commit; busy = gave up after {} s",
            SQLITE_BUSY_TIMEOUT.as_secs()
        ),
    })
}

/// One writer: single-row autocommit inserts (each its own transaction) until the
/// deadline. Busy timeouts are counted, not fatal: they are SQLite's answer to this
/// much contention.
fn sqlite_writer(
    conn: &rusqlite::Connection,
    entries: &Entries,
    thread: usize,
    deadline: Instant,
) -> BenchResult<Tally> {
    let mut insert = conn
        .prepare("INSERT INTO entries(data) VALUES (?1)")
        .context("SQLite prepare")?;
    let mut tally = Tally::default();
    let mut next = thread;
    while Instant::now() < deadline {
        let entry = entries.get(next % entries.len());
        next += CONCURRENT_WRITERS;
        let began = Instant::now();
        match insert.execute([entry]) {
            Ok(_) => tally.record(began, deadline),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy =>
            {
                tally.busy += 1
            }
            Err(e) => return Err(format!("SQLite insert: {e}").into()),
        }
    }
    Ok(tally)
}

// ---------------------------------------------------------------------------------
// Scenarios 4 and 5: proofs and check on the bulk ledger
// ---------------------------------------------------------------------------------

/// Times `count` inclusion proofs for random indexes at the store's full size,
/// verifying the first few against the root and the bytes that were appended.
/// Returns the times, sorted.
fn inclusion_proofs(store: &Store, entries: &Entries, count: usize) -> BenchResult<Vec<Duration>> {
    let size = store.size();
    let root = store.root_at(size).context("root_at")?;
    if root != store.head().root {
        return Err("root_at(size) differs from the signed head's root".into());
    }
    let mut rng = StdRng::seed_from_u64(SEED ^ 0x9e37_79b9);
    let mut progress = Progress::new("proofs", count as u64);
    let mut times = Vec::with_capacity(count);
    for done in 0..count {
        let index = rng.gen_range(0..size);
        let began = Instant::now();
        let proof = store
            .inclusion_proof(index, Some(size))
            .map(|p| p.proof)
            .context("inclusion_proof")?;
        times.push(began.elapsed());
        if done < PROOFS_VERIFIED {
            let leaf = store.leaf_hash(index).context("leaf_hash")?;
            if leaf != HASH.leaf_hash(entries.get(index as usize)) {
                return Err(format!("leaf hash {index} is not the hash of its entry").into());
            }
            ledger::merkle::verify_inclusion(HASH, index, size, &leaf, &proof, &root)
                .context(&format!("verify the inclusion proof of {index}"))?;
        }
        progress.update(done as u64 + 1);
    }
    progress.finish();
    times.sort_unstable();
    Ok(times)
}

/// Runs `Store::check`, prints its figures and returns entries checked per second.
fn time_check(store: &Store) -> BenchResult<f64> {
    let size = store.size();
    let mut progress = Progress::new("check", size);
    let began = Instant::now();
    let report = store
        .check_with_progress(&mut |checked| progress.update(checked))
        .context("check")?;
    let elapsed = began.elapsed();
    progress.finish();
    if report.entries != size {
        return Err(format!("check saw {} entries of {size}", report.entries).into());
    }
    let per_s = report.entries as f64 / elapsed.as_secs_f64();
    println!(
        "  {} entries and {} checkpoints in {:.2} s: {} entries/s",
        thousands(report.entries),
        thousands(report.checkpoints),
        elapsed.as_secs_f64(),
        thousands(per_s.round() as u64)
    );
    Ok(per_s)
}

// ---------------------------------------------------------------------------------
// Scenario 6: disk use
// ---------------------------------------------------------------------------------

#[derive(Default)]
struct DiskUse {
    /// Sum of the files' lengths.
    bytes: u64,
    /// Sum of the blocks the files occupy, which preallocation and sparse files make
    /// differ from their lengths.
    allocated: u64,
    files: Vec<FileUse>,
}

struct FileUse {
    name: String,
    bytes: u64,
}

/// Every file under `dir`, recursively.
fn disk_use(dir: &Path) -> std::io::Result<DiskUse> {
    let mut disk = DiskUse::default();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for item in std::fs::read_dir(&current)? {
            let item = item?;
            let meta = item.metadata()?;
            if meta.is_dir() {
                pending.push(item.path());
                continue;
            }
            disk.bytes += meta.len();
            disk.allocated += meta.blocks() * 512;
            let path = item.path();
            let name = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            disk.files.push(FileUse {
                name,
                bytes: meta.len(),
            });
        }
    }
    disk.files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(disk)
}

// ---------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------

fn section(title: &str) {
    println!();
    println!("{title}");
}

/// The value at quantile `q` of `sorted`, by nearest rank.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
