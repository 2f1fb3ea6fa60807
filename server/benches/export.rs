//! Export bundles at the size of a big petition: the bundle of one constituency's
//! signatures, made and verified, beside the time to merely read the same entries
//! from the store, all in one run on the same data.
//!
//! The log is generated from a fixed seed before any timing starts: one petition
//! opened, then `EXPORT_BENCH_ENTRIES` (default 1,000,000) entries in all, of which
//! `EXPORT_BENCH_AREA_SIGS` (default 20,000) are `signature.recorded` in the
//! constituency [`AREA_CODE`], evenly spread (every `entries / area signatures`-th
//! entry); ≈1 % are withdrawals of a random live signature of the petition (so ≈1 % of
//! the area's signatures are retired, and the export reads every other withdrawal of
//! the petition to find them); the rest are signatures in 649 other constituencies.
//! Signatures are as the server writes them: ward and council, one or two dedup tags,
//! a random commitment, a third consenting to share. Each batch of [`BATCH`] entries
//! is replayed into a projection (which must reject nothing) and appended to a real
//! store (BLAKE3) with `append_blocking`, one signed checkpoint each.
//!
//! Then, for the one area, after one warm-up export and verify (the page cache is
//! warm: a bundle is made from a live server's store), [`ROUNDS`] rounds of:
//!
//! 1. read: `Store::entry` of every entry the bundle lists (the `petition.opened`, the
//!    area's signatures, the withdrawals that retired some of them), the bare cost of
//!    getting those bytes out of the store; and for reference the inclusion proofs of
//!    those entries at the final tree size (`Store::inclusion_proofs`), which the
//!    bundle holds too;
//! 2. export: `export::freeze` (from the projection), `export::gather` (what the
//!    bundle needs from the store; no vault, so no personal data) and
//!    `export::write_bundle` (the entries with their proofs, the zip), each timed;
//! 3. verify: `export::verify_bundle` with the log key given, which must pass; and for
//!    reference the time to unpack every file of the zip.
//!
//! Medians of the rounds are reported, with the bundle's size per listed signature,
//! its files' sizes and, for reference, the time to deflate those files again at
//! flate2's default level (the zip writer's) and at its fast level.
//!
//! Run: `cargo bench -p server --bench export`, or for a quick run
//! `EXPORT_BENCH_ENTRIES=100000 EXPORT_BENCH_AREA_SIGS=2000 cargo bench -p server
//! --bench export`. Figures go to stdout and end with one `RESULT` line; progress goes
//! to stderr only when it is a terminal.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use ledger::note::NoteSigner;
use ledger::record::{
    AreaCode, Channel, CountryCode, DedupTags, Id, Name, PetitionOpened, PetitionText,
    SignatureRecorded, SignatureWithdrawn, Thresholds, Title,
};
use ledger::store::{LogConfig, Store};
use ledger::{DedupTag, Entry, Hash, HashAlg, Record};
use projector::{Area, Projection};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use server::export::{self, Issuer, VerifyOptions};
use test_support::bench::{millis, temp_dir, temp_root, thousands, BenchResult, Context, Progress};

const ORIGIN: &str = "bench.campaign-ledger.example/export";
const HASH: HashAlg = HashAlg::Blake3;
/// Fixed so that every run writes the same log (but for the log key).
const SEED: u64 = 0x0e79_0127_2026;
const PETITION: &str = "uk-export-bench";
/// The constituency exported.
const AREA_CODE: &str = "E14000831";
/// Constituencies in all, [`AREA_CODE`] among them: `E14000200` to `E14000849`.
const CONSTITUENCIES: u32 = 650;
const FIRST_CONSTITUENCY: u32 = 200;
const WARDS_PER_CONSTITUENCY: u32 = 20;
const COUNCILS: &[&str] = &[
    "Newcastle upon Tyne",
    "Bath and North East Somerset",
    "Bristol",
    "Leeds",
    "Manchester",
    "Birmingham",
    "Sheffield",
    "Liverpool",
];
const AUTHORS: &[&str] = &["tok_web_7f3a2c91", "tok_web_b04e6d15", "tok_api_19c8e2f0"];
/// 2026-03-02T09:00:00Z, the time of the first entry.
const START_MS: u64 = 1_772_442_000_000;
/// Of the entries that are not the area's signatures.
const WITHDRAW_SHARE: f64 = 0.01;
const CONSENT_SHARE: f64 = 0.35;
const TWO_IDENTITIES_SHARE: f64 = 0.4;
const DEFAULT_ENTRIES: u64 = 1_000_000;
const DEFAULT_AREA_SIGS: u64 = 20_000;
/// Entries per `append_blocking` (one signed checkpoint each).
const BATCH: usize = 5_000;
/// Timed rounds of each measure; medians are reported.
const ROUNDS: usize = 5;
/// 2026-04-01T12:00:00Z, the bundle's export time (fixed: the bundle's bytes are the
/// same every round).
const EXPORTED_AT: i64 = 1_775_044_800;

const TARGET_EXPORT_PER_S: f64 = 50_000.0;
const TARGET_VERIFY_PER_S: f64 = 100_000.0;
const TARGET_BYTES_PER_SIG: f64 = 1_200.0;
const TARGET_RATIO: f64 = 0.3;

fn main() {
    if let Err(err) = run() {
        eprintln!("export bench failed: {err}");
        std::process::exit(1);
    }
}

fn run() -> BenchResult<()> {
    let entries = env_count("EXPORT_BENCH_ENTRIES", DEFAULT_ENTRIES)?;
    let area_sigs = env_count("EXPORT_BENCH_AREA_SIGS", DEFAULT_AREA_SIGS)?;
    if area_sigs == 0 || entries < 2 * area_sigs + 1 {
        return Err(format!(
            "EXPORT_BENCH_ENTRIES ({entries}) must be at least twice EXPORT_BENCH_AREA_SIGS \
             ({area_sigs}) plus one, and the latter positive"
        )
        .into());
    }
    let tmp_root = temp_root()?;
    let dir = temp_dir(&tmp_root, "export-bench-")?;
    println!(
        "export bench: the bundle of {} signatures of one constituency in a log of {} entries",
        thousands(area_sigs),
        thousands(entries)
    );
    println!(
        "  {} cores; store in {}; load average (1 min) at the start: {} (other work on the \
         machine skews every figure)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        dir.path().display(),
        load_average()
    );

    // --- the log --------------------------------------------------------------------
    let log_key_text = NoteSigner::generate(ORIGIN)
        .context("generate the log key")?
        .to_private_key();
    let log_key = NoteSigner::from_private_key(&log_key_text).context("load the log key")?;
    let building = Instant::now();
    let (store, projection, census) = build_log(dir.path(), &log_key_text, entries, area_sigs)?;
    let built_in = building.elapsed();
    let size = store.size();
    println!(
        "  log built in {:.1} s ({} entries/s: generate, replay, append in batches of {}): \
         {} entries, {} signatures ({} in {AREA_CODE}), {} withdrawals ({} of them in \
         {AREA_CODE})",
        built_in.as_secs_f64(),
        thousands(per_s(size, built_in)),
        thousands(BATCH as u64),
        thousands(size),
        thousands(census.signatures),
        thousands(census.area_signatures),
        thousands(census.withdrawals),
        thousands(census.area_withdrawals)
    );
    println!(
        "  entries: {} bytes, {:.1} on average; store directory: {} bytes",
        thousands(census.bytes),
        census.bytes as f64 / size as f64,
        thousands(dir_bytes(dir.path()).context("measure the store directory")?)
    );

    let area = Area::parse(&format!("constituency:{AREA_CODE}")).context("the area")?;
    let options = VerifyOptions {
        vkey: Some(log_key.verifier()),
        auditors: vec![],
    };

    // --- warm-up: one export and verify, checked ---------------------------------------
    let warm = export_once(&store, &projection, &area, &log_key)?;
    let report = verify_once(&warm.zip, &options)?.1;
    let listed_indexes = warm.indexes.clone();
    if report.listed != area_sigs
        || report.live != area_sigs - census.area_withdrawals
        || report.retired != census.area_withdrawals
        || report.tree_size != size
    {
        return Err(format!(
            "the bundle lists {} signatures ({} live, {} retired) at tree size {}; the log \
             has {area_sigs} in the area, {} withdrawn, at size {size}",
            report.listed, report.live, report.retired, report.tree_size, census.area_withdrawals
        )
        .into());
    }
    println!(
        "  warm-up bundle: {} lines in entries.jsonl ({} signatures, {} live, {} retired); \
         gather read {} withdrawals of the petition to find the {} that concern the area",
        thousands(listed_indexes.len() as u64),
        thousands(report.listed),
        thousands(report.live),
        thousands(report.retired),
        thousands(warm.petition_retirements),
        thousands(report.retired)
    );

    // --- timed rounds, alternating ---------------------------------------------------
    section(&format!(
        "rounds: read, export, verify for {AREA_CODE}, {ROUNDS} rounds, alternating"
    ));
    println!(
        "  {:>5} {:>9} {:>9} | {:>9} {:>9} {:>9} {:>9} | {:>9} {:>9}",
        "round", "read ms", "proofs", "freeze", "gather", "write", "export", "verify", "unzip"
    );
    let mut reads = Vec::with_capacity(ROUNDS);
    let mut proofs = Vec::with_capacity(ROUNDS);
    let mut freezes = Vec::with_capacity(ROUNDS);
    let mut gathers = Vec::with_capacity(ROUNDS);
    let mut writes = Vec::with_capacity(ROUNDS);
    let mut exports = Vec::with_capacity(ROUNDS);
    let mut verifies = Vec::with_capacity(ROUNDS);
    let mut unzips = Vec::with_capacity(ROUNDS);
    let mut zip_bytes = warm.zip.len();
    for round in 1..=ROUNDS {
        let read = bare_read(&store, &listed_indexes)?;
        let proved = proofs_only(&store, &listed_indexes, size)?;
        let made = export_once(&store, &projection, &area, &log_key)?;
        if made.zip != warm.zip {
            return Err(format!("round {round}: the bundle differs from the warm-up's").into());
        }
        zip_bytes = made.zip.len();
        let (verified, _) = verify_once(&made.zip, &options)?;
        let unzipped = unzip_all(&made.zip)?;
        println!(
            "  {round:>5} {:>9.1} {:>9.1} | {:>9.1} {:>9.1} {:>9.1} {:>9.1} | {:>9.1} {:>9.1}",
            millis(read),
            millis(proved),
            millis(made.freeze),
            millis(made.gather),
            millis(made.write),
            millis(made.total),
            millis(verified),
            millis(unzipped)
        );
        reads.push(read);
        proofs.push(proved);
        freezes.push(made.freeze);
        gathers.push(made.gather);
        writes.push(made.write);
        exports.push(made.total);
        verifies.push(verified);
        unzips.push(unzipped);
    }
    let read = median(&mut reads);
    let proved = median(&mut proofs);
    let freeze = median(&mut freezes);
    let gather = median(&mut gathers);
    let write = median(&mut writes);
    let export_time = median(&mut exports);
    let verify = median(&mut verifies);
    let unzip = median(&mut unzips);
    println!(
        "  {:>5} {:>9.1} {:>9.1} | {:>9.1} {:>9.1} {:>9.1} {:>9.1} | {:>9.1} {:>9.1}",
        "med",
        millis(read),
        millis(proved),
        millis(freeze),
        millis(gather),
        millis(write),
        millis(export_time),
        millis(verify),
        millis(unzip)
    );

    section("figures (medians)");
    let lines = listed_indexes.len() as u64;
    let export_per_s = per_s(area_sigs, export_time);
    let verify_per_s = per_s(area_sigs, verify);
    let bytes_per_sig = zip_bytes as f64 / area_sigs as f64;
    let ratio = read.as_secs_f64() / export_time.as_secs_f64();
    println!(
        "  bare read: {} entries in {:.1} ms, {} entries/s, {:.2} µs each",
        thousands(lines),
        millis(read),
        thousands(per_s(lines, read)),
        read.as_secs_f64() * 1e6 / lines as f64
    );
    println!(
        "  inclusion proofs alone (part of the export): {:.1} ms, {:.2} µs each",
        millis(proved),
        proved.as_secs_f64() * 1e6 / lines as f64
    );
    println!(
        "  export: {:.1} ms = freeze {:.1} ({:.0} %) + gather {:.1} ({:.0} %) + write_bundle \
         {:.1} ({:.0} %); {} signatures/s",
        millis(export_time),
        millis(freeze),
        share(freeze, export_time),
        millis(gather),
        share(gather, export_time),
        millis(write),
        share(write, export_time),
        thousands(export_per_s)
    );
    println!(
        "  verify: {:.1} ms, {} signatures/s (unpacking the zip alone: {:.1} ms, {:.0} %)",
        millis(verify),
        thousands(verify_per_s),
        millis(unzip),
        share(unzip, verify)
    );
    println!(
        "  export/read: {ratio:.2} (the export runs at {:.0} % of the bare read's speed; it \
         takes {:.1}× as long)",
        ratio * 100.0,
        export_time.as_secs_f64() / read.as_secs_f64()
    );
    println!(
        "  bundle: {} bytes, {bytes_per_sig:.0} per listed signature, {:.0} per line of \
         entries.jsonl",
        thousands(zip_bytes as u64),
        zip_bytes as f64 / lines as f64
    );
    print_zip_files(&warm.zip)?;
    deflate_reference(&warm.zip, export_time)?;

    section("targets");
    let misses = [
        target(
            "export_sigs_per_s",
            export_per_s as f64,
            TARGET_EXPORT_PER_S,
            true,
        ),
        target(
            "verify_sigs_per_s",
            verify_per_s as f64,
            TARGET_VERIFY_PER_S,
            true,
        ),
        target(
            "bundle_bytes_per_sig",
            bytes_per_sig,
            TARGET_BYTES_PER_SIG,
            false,
        ),
        target("ratio_export_vs_read", ratio, TARGET_RATIO, true),
    ]
    .iter()
    .filter(|met| !**met)
    .count();
    println!("  {} of 4 met", 4 - misses);

    drop(projection);
    store.close().context("close the store")?;
    drop(dir);

    println!();
    println!(
        "RESULT export_sigs_per_s={export_per_s} verify_sigs_per_s={verify_per_s} \
         bundle_bytes_per_sig={} ratio_export_vs_read={ratio:.2}",
        bytes_per_sig.round() as u64
    );
    Ok(())
}

// ---------------------------------------------------------------------------------
// The generated log
// ---------------------------------------------------------------------------------

#[derive(Default)]
struct Census {
    signatures: u64,
    area_signatures: u64,
    withdrawals: u64,
    area_withdrawals: u64,
    bytes: u64,
}

/// The log's records, drawn from a seeded generator.
struct Generator {
    rng: StdRng,
    time_ms: u64,
    next_tag: u64,
    petition: Id,
    gb: CountryCode,
    /// Every constituency but the area's, then the area's last.
    constituencies: Vec<AreaCode>,
    councils: Vec<Name>,
    /// Live signatures: (index, in the area).
    live: Vec<(u64, bool)>,
}

impl Generator {
    fn new() -> BenchResult<Generator> {
        let mut constituencies = Vec::with_capacity(CONSTITUENCIES as usize);
        let mut area = None;
        for n in FIRST_CONSTITUENCY..FIRST_CONSTITUENCY + CONSTITUENCIES {
            let code = AreaCode::parse(&format!("E14{n:06}")).context("a constituency code")?;
            if code.as_str() == AREA_CODE {
                area = Some(code);
            } else {
                constituencies.push(code);
            }
        }
        constituencies.push(area.ok_or("the area is not among the constituencies")?);
        Ok(Generator {
            rng: StdRng::seed_from_u64(SEED),
            time_ms: START_MS,
            next_tag: 0,
            petition: Id::parse(PETITION).context("the petition id")?,
            gb: CountryCode::parse("GB").context("GB")?,
            constituencies,
            councils: COUNCILS
                .iter()
                .map(|c| Name::parse(c).context("a council name"))
                .collect::<BenchResult<_>>()?,
            live: Vec::new(),
        })
    }

    fn encode(&mut self, record: Record) -> BenchResult<Vec<u8>> {
        self.time_ms += self.rng.gen_range(0..40);
        let author = AUTHORS[self.rng.gen_range(0..AUTHORS.len())];
        Entry::v1(self.time_ms, author, record)
            .encode()
            .context("encode a generated entry")
    }

    fn opened(&mut self) -> BenchResult<Vec<u8>> {
        let record = PetitionOpened {
            petition_id: self.petition.clone(),
            title: Title::parse("End the sister-city links").context("title")?,
            text: PetitionText::Full(
                ledger::record::LongText::parse(
                    "We call on the House of Commons to end the sister-city links.",
                )
                .context("text")?,
            ),
            target: Name::parse("UK Parliament").context("target")?,
            closes_on: None,
            thresholds: Thresholds::new(vec![10_000, 100_000]).context("thresholds")?,
        };
        self.encode(record.into())
    }

    /// A signature at log index `index`, in the area or in another constituency.
    fn signature(&mut self, index: u64, in_area: bool) -> BenchResult<Vec<u8>> {
        let c = if in_area {
            self.constituencies.len() - 1
        } else {
            self.rng.gen_range(0..self.constituencies.len() - 1)
        };
        let constituency = self.constituencies[c];
        let ward_number =
            (c as u32) * WARDS_PER_CONSTITUENCY + self.rng.gen_range(0..WARDS_PER_CONSTITUENCY);
        let ward = AreaCode::parse(&format!("E05{:06}", 1000 + ward_number)).context("ward")?;
        let council = self.councils[c % self.councils.len()].clone();
        let identities = if self.rng.gen_bool(TWO_IDENTITIES_SHARE) {
            2
        } else {
            1
        };
        let tags: Vec<DedupTag> = (0..identities).map(|_| self.fresh_tag()).collect();
        let mut commitment = [0u8; 32];
        self.rng.fill(&mut commitment);
        let record = SignatureRecorded {
            petition_id: self.petition.clone(),
            country: self.gb,
            constituency: Some(constituency),
            ward: Some(ward),
            council: Some(council),
            channel: Channel::Online,
            consent_to_share: self.rng.gen_bool(CONSENT_SHARE),
            dedup_tags: DedupTags::from_unsorted(&tags).context("dedup tags")?,
            commitment: Hash(commitment),
        };
        self.live.push((index, in_area));
        self.encode(record.into())
    }

    /// A withdrawal of a random live signature; `None` when none is live.
    fn withdrawal(&mut self) -> BenchResult<Option<(Vec<u8>, bool)>> {
        if self.live.is_empty() {
            return Ok(None);
        }
        let at = self.rng.gen_range(0..self.live.len());
        let (index, in_area) = self.live.swap_remove(at);
        let bytes = self.encode(SignatureWithdrawn { index }.into())?;
        Ok(Some((bytes, in_area)))
    }

    /// A dedup tag never used before: a counter and random bytes.
    fn fresh_tag(&mut self) -> DedupTag {
        let mut tag = [0u8; 16];
        self.rng.fill(&mut tag[8..]);
        tag[..8].copy_from_slice(&self.next_tag.to_be_bytes());
        self.next_tag += 1;
        DedupTag(tag)
    }
}

/// Generates the log, replaying each batch into a projection and appending it to a new
/// store in `dir`.
fn build_log(
    dir: &Path,
    log_key: &str,
    entries: u64,
    area_sigs: u64,
) -> BenchResult<(Store, Projection, Census)> {
    let config = LogConfig {
        origin: ORIGIN.to_owned(),
        hash: HASH,
    };
    let signer = NoteSigner::from_private_key(log_key).context("load the log key")?;
    let store = Store::create(dir, &config, signer)
        .context(&format!("create a ledger in {}", dir.display()))?;
    let mut projection = Projection::new();
    let mut generator = Generator::new()?;
    let mut census = Census::default();
    // The area's signatures sit at 1, 1 + stride, 1 + 2 × stride, ...
    let stride = entries / area_sigs;
    let mut progress = Progress::new("building the log", entries);
    let mut batch = Vec::with_capacity(BATCH);
    for index in 0..entries {
        let bytes = if index == 0 {
            generator.opened()?
        } else if (index - 1).is_multiple_of(stride) && census.area_signatures < area_sigs {
            census.signatures += 1;
            census.area_signatures += 1;
            generator.signature(index, true)?
        } else {
            let withdrawn = if generator.rng.gen_bool(WITHDRAW_SHARE) {
                generator.withdrawal()?
            } else {
                None
            };
            match withdrawn {
                Some((bytes, in_area)) => {
                    census.withdrawals += 1;
                    census.area_withdrawals += u64::from(in_area);
                    bytes
                }
                None => {
                    census.signatures += 1;
                    generator.signature(index, false)?
                }
            }
        };
        census.bytes += bytes.len() as u64;
        batch.push(bytes);
        if batch.len() == BATCH || index + 1 == entries {
            projection.replay_many(&batch).context("replay a batch")?;
            store
                .append_blocking(std::mem::take(&mut batch))
                .context("append_blocking")?;
            progress.update(index + 1);
        }
    }
    progress.finish();
    if let (rejected, Some((index, reason))) = projection.rejected_in_log() {
        return Err(format!(
            "the generated log is not valid: the rules refuse {rejected} of its entries, the \
             first at index {index} ({reason})"
        )
        .into());
    }
    if census.area_signatures != area_sigs {
        return Err(format!(
            "the log holds {} signatures in the area, not {area_sigs}",
            census.area_signatures
        )
        .into());
    }
    if store.size() != entries || projection.tree_size() != entries {
        return Err(format!(
            "the store holds {} entries and the projection {}, not {entries}",
            store.size(),
            projection.tree_size()
        )
        .into());
    }
    if store
        .checkpoint_at(entries)
        .context("checkpoint_at")?
        .is_none()
    {
        return Err("no signed checkpoint at the final tree size".into());
    }
    Ok((store, projection, census))
}

// ---------------------------------------------------------------------------------
// The measures
// ---------------------------------------------------------------------------------

/// One export: its bundle, the indexes it lists and the time of each step.
struct Made {
    zip: Vec<u8>,
    indexes: Vec<u64>,
    petition_retirements: u64,
    freeze: Duration,
    gather: Duration,
    write: Duration,
    total: Duration,
}

fn export_once(
    store: &Store,
    projection: &Projection,
    area: &Area,
    log_key: &NoteSigner,
) -> BenchResult<Made> {
    let began = Instant::now();
    let frozen = export::freeze(projection, PETITION, area).context("export::freeze")?;
    let frozen_at = Instant::now();
    let petition_retirements = frozen.found.retirements.len() as u64;
    let gathered = export::gather(store, frozen, None).context("export::gather")?;
    let gathered_at = Instant::now();
    let zip = export::write_bundle(
        store,
        &gathered,
        log_key,
        Issuer {
            exported_by: "operator",
            exported_at_unix: EXPORTED_AT,
        },
    )
    .context("export::write_bundle")?;
    let written_at = Instant::now();
    let indexes = gathered.indexes.clone();
    // Dropped outside the timing, as a handler would after sending the zip.
    drop(gathered);
    Ok(Made {
        zip,
        indexes,
        petition_retirements,
        freeze: frozen_at - began,
        gather: gathered_at - frozen_at,
        write: written_at - gathered_at,
        total: written_at - began,
    })
}

/// Verifies `zip`, panicking with the finding if it does not pass.
fn verify_once(zip: &[u8], options: &VerifyOptions) -> BenchResult<(Duration, export::Report)> {
    let began = Instant::now();
    let outcome = export::verify_bundle(black_box(zip), options, &mut |_, _| {});
    let elapsed = began.elapsed();
    match outcome {
        Ok(report) => Ok((elapsed, report)),
        Err(finding) => panic!("the bundle does not verify: {finding}"),
    }
}

/// `Store::entry` of each of `indexes`.
fn bare_read(store: &Store, indexes: &[u64]) -> BenchResult<Duration> {
    let began = Instant::now();
    let mut bytes = 0usize;
    for &index in indexes {
        bytes += black_box(store.entry(index).context("Store::entry")?).len();
    }
    let elapsed = began.elapsed();
    black_box(bytes);
    Ok(elapsed)
}

/// `Store::inclusion_proofs` of `indexes` at `size`.
fn proofs_only(store: &Store, indexes: &[u64], size: u64) -> BenchResult<Duration> {
    let began = Instant::now();
    let proofs = store
        .inclusion_proofs(indexes, size)
        .context("Store::inclusion_proofs")?;
    let elapsed = began.elapsed();
    if proofs.len() != indexes.len() {
        return Err(format!("{} proofs for {} indexes", proofs.len(), indexes.len()).into());
    }
    drop(black_box(proofs));
    Ok(elapsed)
}

/// Unpacks every file of `zip` to nowhere.
fn unzip_all(zip: &[u8]) -> BenchResult<Duration> {
    let began = Instant::now();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).context("open the bundle")?;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).context("a file of the bundle")?;
        std::io::copy(&mut file, &mut std::io::sink()).context("unpack a file")?;
    }
    Ok(began.elapsed())
}

/// For reference, the cost of compressing the bundle's files (what most of
/// `write_bundle` does): every file unpacked from `zip`, deflated again at flate2's
/// default level (the zip writer's) and at its fast level, best of 3.
fn deflate_reference(zip: &[u8], export_time: Duration) -> BenchResult<()> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).context("open the bundle")?;
    let mut files = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).context("a file of the bundle")?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).context("unpack a file")?;
        files.push(bytes);
    }
    let unpacked: usize = files.iter().map(Vec::len).sum();
    for (what, level) in [
        ("default", flate2::Compression::default()),
        ("fast", flate2::Compression::fast()),
    ] {
        let mut best = Duration::MAX;
        let mut packed = 0;
        for _ in 0..3 {
            let began = Instant::now();
            packed = 0;
            for bytes in &files {
                let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), level);
                encoder.write_all(bytes).context("deflate")?;
                packed += encoder.finish().context("deflate")?.len();
            }
            best = best.min(began.elapsed());
        }
        println!(
            "  deflate of the {} unpacked bytes at level {} ({what}): {:.1} ms ({:.0} % of the \
             export's median, {:.0} MB/s), {} bytes",
            thousands(unpacked as u64),
            level.level(),
            millis(best),
            share(best, export_time),
            unpacked as f64 / best.as_secs_f64() / 1e6,
            thousands(packed as u64)
        );
    }
    Ok(())
}

fn print_zip_files(zip: &[u8]) -> BenchResult<()> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).context("open the bundle")?;
    println!(
        "  {:<16} {:>14} {:>14} {:>7}",
        "file", "bytes", "in the zip", "ratio"
    );
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).context("a file of the bundle")?;
        let name = file.name().context("a file name")?.into_owned();
        let (size, compressed) = (file.size(), file.compressed_size());
        // Read through so that a broken entry shows here too.
        let mut sink = Vec::new();
        file.read_to_end(&mut sink).context("unpack a file")?;
        println!(
            "  {name:<16} {:>14} {:>14} {:>7.2}",
            thousands(size),
            thousands(compressed),
            compressed as f64 / size.max(1) as f64
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

/// A count from the environment (`_` and `,` allowed as separators), or `default`.
fn env_count(var: &str, default: u64) -> BenchResult<u64> {
    match std::env::var(var) {
        Err(std::env::VarError::NotPresent) => Ok(default),
        Err(e) => Err(format!("{var}: {e}").into()),
        Ok(text) => text
            .trim()
            .replace(['_', ','], "")
            .parse::<u64>()
            .map_err(|_| format!("{var} must be a whole number, got {text:?}").into()),
    }
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn per_s(count: u64, elapsed: Duration) -> u64 {
    (count as f64 / elapsed.as_secs_f64()).round() as u64
}

fn share(part: Duration, whole: Duration) -> f64 {
    100.0 * part.as_secs_f64() / whole.as_secs_f64()
}

/// Prints whether `value` meets `goal` (at least it when `higher_is_better`, else at
/// most it).
fn target(name: &str, value: f64, goal: f64, higher_is_better: bool) -> bool {
    let met = if higher_is_better {
        value >= goal
    } else {
        value <= goal
    };
    let (sign, goal_text) = if higher_is_better {
        ("≥", goal)
    } else {
        ("≤", goal)
    };
    println!(
        "  {name:<22} {:>12} (target {sign} {}): {}",
        thousands_f(value),
        thousands_f(goal_text),
        if met { "met" } else { "MISSED" }
    );
    met
}

/// A figure for the targets: whole numbers with separators, ratios with 2 decimals.
fn thousands_f(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2}")
    } else {
        thousands(value.round() as u64)
    }
}

fn section(title: &str) {
    println!();
    println!("{title}");
}

/// The 1-minute load average, to judge how much else ran beside the benchmark.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// Bytes of the files under `dir`.
fn dir_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_bytes(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}
