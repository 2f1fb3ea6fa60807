//! Replay speed of the projector beside the rate of merely decoding the same entries,
//! plus offline audit of a real data directory and restart from a snapshot, all in one
//! run on the same bytes.
//!
//! The log is a realistic campaign generated from a fixed seed before any timing starts
//! (`test_support::campaign`: ≈97 % `signature.added` across 650 constituencies, with
//! withdrawals, invalidations, paper batches, motions, twin links and events), and
//! checked first: replaying it must reject nothing, or the bench stops.
//!
//! 1. decode vs replay: `Entry::decode` of every entry (one thread), then
//!    `Projection::new()` and `replay_many` (the product's bulk replay: decoding runs on
//!    a second core while the fold runs on the first), and for reference `replay_bytes`
//!    entry by entry on one thread; alternating for 3 rounds, medians compared. Both
//!    replays read `signature.added` entries in place (`Entry::decode_signature`,
//!    which accepts exactly what `Entry::decode` accepts, without allocating); the
//!    baseline stays the full `Entry::decode` of every entry.
//! 2. audit: the log appended to a real store (BLAKE3, batches of 1024 with
//!    `append_blocking`), a tally note signed for its final tree, the store closed; then
//!    `audit::audit_dir` with that tally: re-hash against the stored leaf hashes, every
//!    checkpoint signature, replay, tally compared. 3 rounds, median. The journal was
//!    just written, so it is read from the page cache.
//! 3. restart: the store opened and the projection loaded without a snapshot (a full
//!    replay from the store), a snapshot saved; then 3 restarts (`Store::open`,
//!    `Snapshots::open`, `persist::load` from the snapshot, first read of the petitions),
//!    median. Warm page cache: this is a process restart, not a cold boot.
//!
//! The bench runs on mimalloc, the allocator meant for the server binary: with glibc
//! malloc, freeing on the folding thread what the decoding thread allocated costs the
//! pipeline most of its gain.
//!
//! Run: `cargo bench -p projector --bench replay`. `BENCH_SCALE=0.05` (default 1.0)
//! multiplies the 1,000,000 entries for a quick smoke run. Figures go to stdout and end
//! with one `RESULT` line of `key=value` figures, the one line to keep when comparing
//! runs; progress goes to stderr only when it is a terminal.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use ledger::note::NoteSigner;
use ledger::store::{LogConfig, Store};
use ledger::{Entry, HashAlg, Record};
use projector::persist::{self, Snapshots};
use projector::{audit, tally, Projection};
use test_support::bench::{
    bench_scale, millis, scaled_count, temp_dir, temp_root, thousands, BenchResult, Context,
    Progress,
};
use test_support::campaign;

const ORIGIN: &str = "bench.ledger.example/replay";
const HASH: HashAlg = HashAlg::Blake3;
/// Fixed so that every run replays the same bytes.
const SEED: u64 = 0x0de7_1a2b_2022;
const RECORDS: f64 = 1_000_000.0;
/// Entries per append, as a bulk import would write them.
const BATCH: usize = 1024;
/// Rounds of each timed pass; medians are reported.
const ROUNDS: usize = 3;
/// Entries between progress updates in the timed loops: reading the clock per entry
/// would cost a noticeable share of a replay.
const PROGRESS_EVERY: usize = 1 << 16;
const SNAPSHOT_FILE: &str = "projector.snap";

const TARGET_REPLAY_PER_S: f64 = 2_000_000.0;
const TARGET_RATIO: f64 = 0.5;
const TARGET_AUDIT_PER_S: f64 = 1_000_000.0;
const TARGET_RESTART_MS: f64 = 2_000.0;

fn main() {
    if let Err(err) = run() {
        eprintln!("replay bench failed: {err}");
        std::process::exit(1);
    }
}

fn run() -> BenchResult<()> {
    let scale = bench_scale()?;
    let count = scaled_count(RECORDS, scale, BATCH);
    let tmp_root = temp_root()?;

    let generating = Instant::now();
    let mut progress = Progress::note(&format!(
        "generating {} campaign entries",
        thousands(count as u64)
    ));
    let entries = campaign::campaign_log(count, SEED);
    progress.finish();
    let generated_in = generating.elapsed();
    if entries.len() != count {
        return Err(format!("the generator made {} entries, not {count}", entries.len()).into());
    }
    let bytes: usize = entries.iter().map(Vec::len).sum();
    println!(
        "replay bench: projector replay vs entry decoding, offline audit, restart from a snapshot"
    );
    println!(
        "  scale {scale}, {} cores, temp dirs under {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        tmp_root.display()
    );
    println!(
        "  {} campaign entries generated in {:.1} s: {} bytes, {:.1} on average ({} to {})",
        thousands(count as u64),
        generated_in.as_secs_f64(),
        thousands(bytes as u64),
        bytes as f64 / count as f64,
        entries.iter().map(Vec::len).min().unwrap_or(0),
        entries.iter().map(Vec::len).max().unwrap_or(0)
    );
    let (census, live) = check_log(&entries)?;
    print_census(&census, count);
    println!("  live signatures: {live}");

    // 1. decode vs replay, alternating so that a burst of noise on this shared machine
    // cannot decide the ratio.
    section(&format!(
        "1. decode vs replay: {} entries, {ROUNDS} rounds each, alternating",
        thousands(count as u64)
    ));
    pass_header();
    let mut decode_times = Vec::with_capacity(ROUNDS);
    let mut replay_times = Vec::with_capacity(ROUNDS);
    let mut single_times = Vec::with_capacity(ROUNDS);
    let mut projection = None;
    for round in 1..=ROUNDS {
        let decoded = decode_all(&entries)?;
        print_pass("decode", round, count, decoded);
        decode_times.push(decoded);
        // The previous round's projection is dropped outside the timing.
        drop(projection.take());
        let (replayed, replayed_projection) = replay_all(&entries, true)?;
        print_pass("replay", round, count, replayed);
        replay_times.push(replayed);
        drop(replayed_projection);
        let (single, single_projection) = replay_all(&entries, false)?;
        print_pass("replay1t", round, count, single);
        single_times.push(single);
        projection = Some(single_projection);
    }
    let projection = projection.expect("at least one round");
    let decode_median = median(&mut decode_times);
    let replay_median = median(&mut replay_times);
    let decode_per_s = count as f64 / decode_median.as_secs_f64();
    let replay_per_s = count as f64 / replay_median.as_secs_f64();
    let ratio = replay_per_s / decode_per_s;
    println!("  medians of {ROUNDS} rounds:");
    print_pass("decode", 0, count, decode_median);
    print_pass("replay", 0, count, replay_median);
    let single_median = median(&mut single_times);
    print_pass("replay1t", 0, count, single_median);
    println!(
        "  replay/decode {ratio:.2}   (on one thread: {:.2}, {:+.0} ns/entry against decoding)",
        single_median.as_secs_f64().recip() * decode_median.as_secs_f64(),
        (single_median.as_secs_f64() - decode_median.as_secs_f64()) * 1e9 / count as f64
    );

    // 2. audit
    section(&format!(
        "2. audit: audit_dir over a data directory of {} entries, with a signed tally",
        thousands(count as u64)
    ));
    let data = temp_dir(&tmp_root, "replay-audit-")?;
    let dir = data.path();
    let log_key = NoteSigner::generate(ORIGIN)
        .context("generate the log key")?
        .to_private_key();
    let tally_text = projection.tally_text();
    let (head_size, head_root, note) = write_store(dir, &log_key, &entries, &tally_text)?;
    drop(projection);
    println!(
        "  tally: {} counters, {} bytes of text, note signed for size {}",
        thousands(tally_text.lines().count() as u64),
        thousands(tally_text.len() as u64),
        thousands(head_size)
    );
    audit_header();
    let mut audit_times = Vec::with_capacity(ROUNDS);
    for round in 1..=ROUNDS {
        let began = Instant::now();
        let report = audit::audit_dir(dir, Some((&note, &tally_text))).context("audit_dir")?;
        let elapsed = began.elapsed();
        if report.entries != count as u64
            || !report.tally_checked
            || report.rejected_in_log != 0
            || report.root != head_root
            || report.tally_text != tally_text
        {
            return Err(format!(
                "audit_dir reported {} entries, tally checked {}, {} rejected, root {}, tally text {}",
                report.entries,
                report.tally_checked,
                report.rejected_in_log,
                if report.root == head_root { "as signed" } else { "differs" },
                if report.tally_text == tally_text { "as signed" } else { "differs" }
            )
            .into());
        }
        println!(
            "  {round:>5} {:>10} {:>11} {:>9.2} {:>12} {:>9.0}",
            thousands(report.entries),
            thousands(report.checkpoints_checked),
            elapsed.as_secs_f64(),
            thousands(per_s(count, elapsed).round() as u64),
            nanos_per(elapsed, count)
        );
        audit_times.push(elapsed);
    }
    let audit_median = median(&mut audit_times);
    let audit_per_s = per_s(count, audit_median);
    println!(
        "  median of {ROUNDS}: {:.2} s, {} entries/s ({:.2} × the replay median's time)",
        audit_median.as_secs_f64(),
        thousands(audit_per_s.round() as u64),
        audit_median.as_secs_f64() / replay_median.as_secs_f64()
    );

    // 3. restart
    section("3. restart: Store::open + Snapshots::open + persist::load + first read");
    restart_header();
    let (full, store, snapshots, projection) = restart(dir, &log_key, &tally_text)?;
    full.print_row("no snapshot (full replay from the store)");
    let saving = Instant::now();
    snapshots
        .rewrite(&projection, &store.head().root)
        .context("save a snapshot")?;
    let saved_in = saving.elapsed();
    let snapshot_bytes = projection.to_snapshot().len();
    drop(snapshots);
    drop(projection);
    store.close().context("close the store")?;
    let snapshot_file = std::fs::metadata(dir.join(SNAPSHOT_FILE))
        .context("measure the snapshot file")?
        .len();
    let mut restart_times = Vec::with_capacity(ROUNDS);
    for round in 1..=ROUNDS {
        let (run, store, snapshots, projection) = restart(dir, &log_key, &tally_text)?;
        run.print_row(&format!("from the snapshot, round {round}"));
        restart_times.push(run.total);
        drop(snapshots);
        drop(projection);
        store.close().context("close the store")?;
    }
    let restart_median = median(&mut restart_times);
    let restart_ms = millis(restart_median);
    println!(
        "  median of {ROUNDS} restarts from the snapshot: {restart_ms:.0} ms; without one: {:.0} ms",
        millis(full.total)
    );
    println!(
        "  snapshot: saved in {:.0} ms, {} bytes ({:.1} per entry), {} bytes in {SNAPSHOT_FILE}",
        millis(saved_in),
        thousands(snapshot_bytes as u64),
        snapshot_bytes as f64 / count as f64,
        thousands(snapshot_file)
    );
    let disk = dir_bytes(dir).context("measure the data directory")?;
    println!(
        "  data directory: {} bytes of files ({:.1} per entry)",
        thousands(disk),
        disk as f64 / count as f64
    );
    drop(data);

    section("targets");
    let misses = [
        target("replay_per_s", replay_per_s, TARGET_REPLAY_PER_S, true),
        target("ratio_replay_vs_decode", ratio, TARGET_RATIO, true),
        target("audit_per_s", audit_per_s, TARGET_AUDIT_PER_S, true),
        target("restart_ms", restart_ms, TARGET_RESTART_MS, false),
    ]
    .iter()
    .filter(|met| !**met)
    .count();
    println!("  {} of 4 met", 4 - misses);

    println!();
    println!(
        "RESULT replay_per_s={} audit_per_s={} decode_per_s={} ratio_replay_vs_decode={ratio:.2} \
         restart_ms={}",
        replay_per_s.round(),
        audit_per_s.round(),
        decode_per_s.round(),
        restart_ms.round()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------

/// The log key, rebuilt from its private key text: a store takes its signer by value.
fn signer(log_key: &str) -> BenchResult<NoteSigner> {
    NoteSigner::from_private_key(log_key).context("load the log key")
}

// ---------------------------------------------------------------------------------
// The generated log
// ---------------------------------------------------------------------------------

/// How many entries of each kind the log holds and the petitions' live totals,
/// checking on the way that a replay rejects none of them (else the figures would time
/// the wrong work).
fn check_log(entries: &[Vec<u8>]) -> BenchResult<(Vec<u64>, String)> {
    let mut progress = Progress::new("checking the generated log", entries.len() as u64);
    let mut census = vec![0u64; Record::KINDS.len()];
    let mut projection = Projection::new();
    for (i, bytes) in entries.iter().enumerate() {
        let entry = Entry::decode(bytes).context(&format!("decode generated entry {i}"))?;
        census[entry.record().discriminant() as usize] += 1;
        projection.replay(&entry);
        if i % PROGRESS_EVERY == 0 {
            progress.update(i as u64);
        }
    }
    progress.finish();
    if let (rejected, Some((index, reason))) = projection.rejected_in_log() {
        let kind = Entry::decode(&entries[index as usize]).map_or("?", |e| e.kind());
        return Err(format!(
            "WARNING: the generated log is not valid: the rules refuse {rejected} of its \
             entries, the first at index {index} ({kind}: {reason})"
        )
        .into());
    }
    if projection.rejected_in_log() != (0, None) || projection.tree_size() != entries.len() as u64 {
        return Err("WARNING: the generated log did not replay cleanly".into());
    }
    let petitions = projection.petitions().view;
    let live: Vec<String> = petitions
        .iter()
        .map(|p| format!("{} {}", p.id(), thousands(p.total)))
        .collect();
    Ok((census, live.join(", ")))
}

fn print_census(census: &[u64], count: usize) {
    let mut kinds: Vec<(usize, u64)> = census
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, n)| *n > 0)
        .collect();
    kinds.sort_by_key(|(kind, n)| (std::cmp::Reverse(*n), *kind));
    let shown: Vec<String> = kinds
        .iter()
        .map(|(kind, n)| {
            format!(
                "{} {} ({:.2} %)",
                Record::KINDS[*kind],
                thousands(*n),
                100.0 * *n as f64 / count as f64
            )
        })
        .collect();
    println!("  kinds: {}", shown.join(", "));
    println!("  replay check: every entry accepted by the decision rules");
}

// ---------------------------------------------------------------------------------
// Scenario 1: decode vs replay
// ---------------------------------------------------------------------------------

fn decode_all(entries: &[Vec<u8>]) -> BenchResult<Duration> {
    let mut progress = Progress::new("decode", entries.len() as u64);
    let mut done = 0;
    let began = Instant::now();
    for chunk in entries.chunks(PROGRESS_EVERY) {
        for bytes in chunk {
            black_box(Entry::decode(black_box(bytes)).context("decode")?);
        }
        done += chunk.len();
        progress.update(done as u64);
    }
    let elapsed = began.elapsed();
    progress.finish();
    Ok(elapsed)
}

/// Replays every entry into a new projection, with `replay_many` (`pipelined`) or
/// `replay_bytes` one by one; the time excludes dropping it.
fn replay_all(entries: &[Vec<u8>], pipelined: bool) -> BenchResult<(Duration, Projection)> {
    let mut progress = Progress::new("replay", entries.len() as u64);
    let mut done = 0;
    let began = Instant::now();
    let mut projection = Projection::new();
    for chunk in entries.chunks(PROGRESS_EVERY) {
        if pipelined {
            projection.replay_many(black_box(chunk)).context("replay")?;
        } else {
            for bytes in chunk {
                projection
                    .replay_bytes(black_box(bytes))
                    .context("replay")?;
            }
        }
        done += chunk.len();
        progress.update(done as u64);
    }
    let elapsed = began.elapsed();
    progress.finish();
    if projection.rejected_in_log() != (0, None) || projection.tree_size() != entries.len() as u64 {
        return Err(format!(
            "WARNING: the timed replay rejected entries: {:?}",
            projection.rejected_in_log()
        )
        .into());
    }
    Ok((elapsed, projection))
}

fn pass_header() {
    println!(
        "  {:<8} {:>5} {:>10} {:>9} {:>12} {:>9}",
        "pass", "round", "entries", "seconds", "entries/s", "ns/entry"
    );
}

/// One row; round 0 is the median.
fn print_pass(pass: &str, round: usize, count: usize, elapsed: Duration) {
    let round = if round == 0 {
        "med".to_string()
    } else {
        round.to_string()
    };
    println!(
        "  {pass:<8} {round:>5} {:>10} {:>9.2} {:>12} {:>9.0}",
        thousands(count as u64),
        elapsed.as_secs_f64(),
        thousands(per_s(count, elapsed).round() as u64),
        nanos_per(elapsed, count)
    );
}

// ---------------------------------------------------------------------------------
// Scenario 2: audit
// ---------------------------------------------------------------------------------

/// Creates a store in `dir`, appends `entries` in batches of [`BATCH`], signs a tally
/// note for `tally_text` at the final tree and closes the store. Returns the final size,
/// root and the note.
fn write_store(
    dir: &Path,
    log_key: &str,
    entries: &[Vec<u8>],
    tally_text: &str,
) -> BenchResult<(u64, ledger::Hash, String)> {
    let config = LogConfig {
        origin: ORIGIN.to_owned(),
        hash: HASH,
    };
    let store = Store::create(dir, &config, signer(log_key)?)
        .context(&format!("create a ledger in {}", dir.display()))?;
    let mut progress = Progress::new("writing the store", entries.len() as u64);
    let began = Instant::now();
    let mut done = 0;
    for batch in entries.chunks(BATCH) {
        store
            .append_blocking(batch.to_vec())
            .context("append_blocking")?;
        done += batch.len();
        progress.update(done as u64);
    }
    let elapsed = began.elapsed();
    progress.finish();
    let head = store.head();
    if head.size != entries.len() as u64 {
        return Err(format!(
            "the store holds {} entries, not {}",
            head.size,
            entries.len()
        )
        .into());
    }
    let note = tally::sign_tally(HASH, &signer(log_key)?, head.size, head.root, tally_text)
        .context("sign the tally")?;
    store.close().context("close the store")?;
    println!(
        "  store written: {} entries in {} batches of {BATCH} in {:.2} s ({} entries/s), closed",
        thousands(head.size),
        thousands(entries.len().div_ceil(BATCH) as u64),
        elapsed.as_secs_f64(),
        thousands(per_s(entries.len(), elapsed).round() as u64)
    );
    Ok((head.size, head.root, note))
}

fn audit_header() {
    println!(
        "  {:>5} {:>10} {:>11} {:>9} {:>12} {:>9}",
        "round", "entries", "checkpoints", "seconds", "entries/s", "ns/entry"
    );
}

// ---------------------------------------------------------------------------------
// Scenario 3: restart
// ---------------------------------------------------------------------------------

/// The phases of one restart.
struct RestartRun {
    open_store: Duration,
    open_snapshots: Duration,
    load: Duration,
    first_read: Duration,
    total: Duration,
}

impl RestartRun {
    fn print_row(&self, what: &str) {
        println!(
            "  {what:<42} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            millis(self.open_store),
            millis(self.open_snapshots),
            millis(self.load),
            millis(self.first_read),
            millis(self.total)
        );
    }
}

fn restart_header() {
    println!(
        "  {:<42} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "ms", "store", "snapshots", "load", "read", "total"
    );
}

/// Opens the store and the snapshots in `dir` and loads the projection (from the
/// latest usable snapshot, caught up; or by a full replay), then reads the petitions:
/// the timed part. Checks afterwards that the projection is the one the tally was
/// signed for.
fn restart(
    dir: &Path,
    log_key: &str,
    tally_text: &str,
) -> BenchResult<(RestartRun, Store, Snapshots, Projection)> {
    let signer = signer(log_key)?;
    let mut progress = Progress::note("restarting");
    let began = Instant::now();
    let store = Store::open(dir, signer).context("open the store")?;
    let opened = Instant::now();
    let snapshots = Snapshots::open(&dir.join(SNAPSHOT_FILE)).context("open the snapshots")?;
    let snapshots_opened = Instant::now();
    let projection = persist::load(&snapshots, &store)
        .context("load the projection")?
        .projection;
    let loaded = Instant::now();
    let petitions = black_box(projection.petitions());
    drop(petitions);
    let read = Instant::now();
    progress.finish();
    let run = RestartRun {
        open_store: opened - began,
        open_snapshots: snapshots_opened - opened,
        load: loaded - snapshots_opened,
        first_read: read - loaded,
        total: read - began,
    };
    if projection.tree_size() != store.size() || projection.tally_text() != tally_text {
        return Err("the restarted projection differs from the replayed one".into());
    }
    Ok((run, store, snapshots, projection))
}

/// Sum of the lengths of the files in `dir` (not recursive: a data dir is flat).
fn dir_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut bytes = 0;
    for item in std::fs::read_dir(dir)? {
        let meta = item?.metadata()?;
        if meta.is_file() {
            bytes += meta.len();
        }
    }
    Ok(bytes)
}

// ---------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------

fn section(title: &str) {
    println!();
    println!("{title}");
}

/// Prints one target line and returns whether it is met.
fn target(key: &str, value: f64, goal: f64, at_least: bool) -> bool {
    let met = if at_least {
        value >= goal
    } else {
        value <= goal
    };
    let show = |v: f64| {
        if v.abs() < 100.0 {
            format!("{v:.2}")
        } else {
            thousands(v.round() as u64)
        }
    };
    println!(
        "  {key:<24} {:>12} {} {:>12}  {}",
        show(value),
        if at_least { ">=" } else { "<=" },
        show(goal),
        if met { "met" } else { "MISSED" }
    );
    met
}

/// The middle of `times` (sorting them).
fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn per_s(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn nanos_per(elapsed: Duration, count: usize) -> f64 {
    elapsed.as_secs_f64() * 1e9 / count as f64
}
