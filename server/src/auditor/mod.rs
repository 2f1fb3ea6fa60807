//! `campaign-ledger audit URL|DIR`: what lets anyone check a campaign's log without
//! trusting its operator.
//!
//! An audit mirrors the public log (the checkpoint, the tiles, the tally) into a local
//! directory, fetching only what is new since the last run; recomputes every leaf
//! hash from the entries and every hash tile from them, and the root of the signed
//! checkpoint; proves the new tree extends the one the mirror verified before (a
//! fork is saved as evidence); replays every entry with the projector, strictly; and
//! compares the result with the log's signed tally counter by counter.
//!
//! One job per file: `source.rs` fetches (HTTP with retries, or a directory),
//! `mirror.rs` keeps what was verified, this file decides.

pub mod mirror;
pub mod source;

use std::collections::BTreeMap;

use ledger::checkpoint::Checkpoint;
use ledger::merkle::Frontier;
use ledger::note::NoteVerifier;
use ledger::tile::{self, TilePath, FULL_TILE_WIDTH};
use ledger::{Hash, HashAlg};
use projector::Projection;
use serde::{Deserialize, Serialize};

use mirror::{Mirror, State};
pub use source::{DirSource, HttpSource, Source};

/// Tiles fetched at once before they are checked in order.
const TILES_PER_ROUND: usize = 256;
/// Times an audit reads the checkpoint again when a static copy's tally has moved on
/// between reading the two.
const CHASES: usize = 5;

/// Why an audit did not pass.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The log says something that is not true: exit status 1.
    #[error("{check}: {message}")]
    Finding {
        check: &'static str,
        message: String,
    },
    /// Two signed checkpoints that cannot both be true: exit status 2.
    #[error("fork: {message} (evidence: {})", evidence.display())]
    Fork {
        message: String,
        evidence: std::path::PathBuf,
    },
    /// The audit could not be made (network, disk, arguments): exit status 1.
    #[error("{0}")]
    Failed(String),
}

impl AuditError {
    /// The exit status `audit` ends with.
    pub fn exit_status(&self) -> u8 {
        match self {
            AuditError::Fork { .. } => 2,
            _ => 1,
        }
    }
}

fn finding(check: &'static str, message: impl Into<String>) -> AuditError {
    AuditError::Finding {
        check,
        message: message.into(),
    }
}

/// How to audit.
pub struct AuditOptions {
    /// The log key to insist on; without it the mirror's, or on a first run the
    /// source's own (and the report says so).
    pub vkey: Option<NoteVerifier>,
    /// Requests in flight at once.
    pub concurrency: usize,
}

/// What an audit verified.
#[derive(Debug, Serialize)]
pub struct AuditReport {
    pub source: String,
    pub origin: String,
    pub hash: String,
    pub vkey: String,
    /// The key was taken from the source on this first run, not given or pinned.
    pub key_first_seen: bool,
    pub previous_size: u64,
    pub tree_size: u64,
    pub root: String,
    pub entries_checked: u64,
    pub tiles_fetched: u64,
    pub bytes_fetched: u64,
    pub counters: usize,
    /// Entries the fold refused (an honest log has none); the tally counts them too.
    pub rejected_in_log: u64,
    /// The signed checkpoint and tally note that hold, for cosigning.
    #[serde(skip)]
    pub checkpoint_note: String,
    #[serde(skip)]
    pub tally_note: String,
}

/// `GET /api/v1/log`, as far as an audit reads it.
#[derive(Deserialize)]
struct LogInfo {
    origin: String,
    hash: String,
    vkey: String,
}

/// `GET /api/v1/tally`.
#[derive(Deserialize)]
struct TallyAnswer {
    tree_size: u64,
    note: String,
    text: String,
}

/// The summary `audit` prints.
pub fn describe(report: &AuditReport) -> String {
    let mut out = format!(
        "ok: the log {} ({}) at tree size {}, root {}, audited from {}\n",
        report.origin, report.hash, report.tree_size, report.root, report.source
    );
    out.push_str(&format!(
        "  - its checkpoint is signed by the log key {}",
        report.vkey
    ));
    if report.key_first_seen {
        out.push_str(
            " (first seen: this mirror now insists on it; compare it with the key the campaign \
             publishes, or pass --vkey)",
        );
    }
    out.push('\n');
    if report.previous_size > 0 {
        out.push_str(&format!(
            "  - it extends the tree of size {} this mirror verified before: no fork\n",
            report.previous_size
        ));
    }
    out.push_str(&format!(
        "  - {} new entries: every leaf hash, hash tile and entry bundle checked against the \
         signed root ({} tiles, {} bytes fetched)\n",
        report.entries_checked, report.tiles_fetched, report.bytes_fetched
    ));
    out.push_str(&format!(
        "  - all {} entries replayed strictly: each of the {} counters of the signed tally agrees",
        report.tree_size, report.counters
    ));
    if report.rejected_in_log > 0 {
        out.push_str(&format!(
            " ({} entries the rules refuse are in the log, and counted as such)",
            report.rejected_in_log
        ));
    }
    out.push('\n');
    out
}

/// An audit's cosignatures: the checkpoint and tally notes with the auditor's line.
#[derive(Debug, Serialize)]
pub struct Cosignatures {
    pub checkpoint: String,
    pub tally: String,
    /// Whether the server took them.
    pub submitted: bool,
    #[serde(skip)]
    pub summary: String,
}

/// Cosigns what `report` verified (C2SP tlog-cosignature/v1 with `signer`), keeps the
/// cosigned notes in the mirror (`cosigned-checkpoint`, `cosigned-tally`) and, with
/// `submit_to`, sends each to its `POST /api/v1/cosignatures`.
pub fn cosign(
    report: &AuditReport,
    signer: &ledger::note::CosignatureSigner,
    mirror: &Mirror,
    submit_to: Option<&dyn Source>,
) -> Result<Cosignatures, AuditError> {
    let sign = |note: &str| -> Result<String, AuditError> {
        let parsed = ledger::note::Note::parse(note)
            .map_err(|e| AuditError::Failed(format!("cosigning: {e}")))?;
        ledger::note::sign(parsed, &[signer])
            .map_err(|e| AuditError::Failed(format!("cosigning: {e}")))
    };
    let checkpoint = sign(&report.checkpoint_note)?;
    let tally = sign(&report.tally_note)?;
    mirror.put_file("cosigned-checkpoint", checkpoint.as_bytes())?;
    mirror.put_file("cosigned-tally", tally.as_bytes())?;
    let name = ledger::note::Signer::name(signer);
    let mut summary = format!(
        "cosigned as {name}: the checkpoint and the tally of tree size {} ({}/cosigned-*)",
        report.tree_size,
        mirror.dir().display()
    );
    if let Some(server) = submit_to {
        server.post("api/v1/cosignatures", checkpoint.clone())?;
        server.post("api/v1/cosignatures", tally.clone())?;
        summary.push_str(&format!("; the server at {} keeps them", server.describe()));
    }
    Ok(Cosignatures {
        checkpoint,
        tally,
        submitted: submit_to.is_some(),
        summary,
    })
}

/// Audits the log at `source` into `mirror`, calling `progress(done, total)` as
/// entries are checked.
pub fn audit(
    source: &dyn Source,
    mirror: &Mirror,
    options: &AuditOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<AuditReport, AuditError> {
    let state = mirror.state()?;
    let info: LogInfo = fetch_json(source, "api/v1/log")?;
    let key_text = match (&options.vkey, &state) {
        (Some(given), _) => given.vkey(),
        (None, Some(state)) => state.vkey.clone(),
        (None, None) => info.vkey.clone(),
    };
    let key = NoteVerifier::parse(&key_text)
        .map_err(|e| AuditError::Failed(format!("the log key: {e}")))?;
    if let Some(state) = &state {
        if state.vkey != key.vkey() {
            return Err(AuditError::Failed(format!(
                "this mirror verified the log of key {}; use another --mirror for {}",
                state.vkey,
                key.vkey()
            )));
        }
    }
    if info.origin != key.name() {
        return Err(finding(
            "api/v1/log",
            format!(
                "the log names its origin {:?}, but the log key is {:?}'s",
                info.origin,
                key.name()
            ),
        ));
    }
    let alg: HashAlg = info.hash.parse().map_err(|_| {
        finding(
            "api/v1/log",
            format!("unknown hash function {:?}", info.hash),
        )
    })?;
    if state.as_ref().is_some_and(|s| s.hash != alg.name()) {
        return Err(finding(
            "api/v1/log",
            "the log now names another hash function than the one this mirror verified",
        ));
    }
    let previous_size = state.as_ref().map_or(0, |s| s.tree_size);
    let mut verified = match &state {
        Some(state) => Verified {
            frontier: state.frontier()?,
            root: state.root,
            checkpoint: mirror.checkpoint().unwrap_or_default(),
            right_tiles: state.right_tiles.clone(),
        },
        None => Verified {
            frontier: Frontier::new(),
            root: alg.empty_root(),
            checkpoint: String::new(),
            right_tiles: BTreeMap::new(),
        },
    };
    let mut projection = match &state {
        Some(state) => mirror.projection(state).ok_or_else(|| {
            AuditError::Failed(format!(
                "the read models and entries saved in {} are gone or damaged; move the \
                 mirror away to audit from the start",
                mirror.dir().display()
            ))
        })?,
        None => Projection::new(),
    };
    let run = Run {
        source,
        mirror,
        concurrency: options.concurrency,
        alg,
    };
    let mut stats = Stats::default();
    for chase in 0..CHASES {
        if chase > 0 {
            // A copy caught between writing its tally and its checkpoint: let it finish.
            std::thread::sleep(std::time::Duration::from_millis(20 << chase));
        }
        let checkpoint_text = text(source, "checkpoint")?;
        let (checkpoint, _) =
            ledger::checkpoint::open_checkpoint(&checkpoint_text, &key).map_err(|e| {
                finding(
                    "checkpoint",
                    format!("it does not verify with the log key: {e}"),
                )
            })?;
        let from = verified.frontier.size();
        if checkpoint.size < from {
            return Err(finding(
                "checkpoint",
                format!(
                    "the log was rolled back: its checkpoint is of tree size {}, smaller than the \
                     {from} this mirror verified",
                    checkpoint.size
                ),
            ));
        }
        // The tally right after the checkpoint, before the tiles: a static copy that
        // keeps publishing has little time to move on between the two reads.
        let answer: TallyAnswer = fetch_json(
            source,
            &format!("api/v1/tally?tree_size={}", checkpoint.size),
        )?;
        if answer.tree_size != checkpoint.size {
            // A static copy moved on between the two reads: read the checkpoint again.
            continue;
        }
        extend(
            &run,
            &mut verified,
            &checkpoint,
            &checkpoint_text,
            &mut projection,
            &mut stats,
            progress,
        )?;
        compare_tally(alg, &key, &answer, &checkpoint, &projection)?;
        save(mirror, &key, alg, &verified, &mut projection)?;
        let (rejected_in_log, _) = projection.rejected_in_log();
        return Ok(AuditReport {
            source: source.describe(),
            origin: key.name().to_string(),
            hash: alg.name().to_string(),
            vkey: key.vkey(),
            key_first_seen: options.vkey.is_none() && state.is_none(),
            previous_size,
            tree_size: checkpoint.size,
            root: checkpoint.root.to_string(),
            entries_checked: stats.entries,
            tiles_fetched: stats.tiles,
            bytes_fetched: stats.bytes,
            counters: answer.text.lines().count(),
            rejected_in_log,
            checkpoint_note: checkpoint_text,
            tally_note: answer.note,
        });
    }
    Err(AuditError::Failed(format!(
        "the log moved on {CHASES} times between reading its checkpoint and its tally; \
         try again when it is quieter"
    )))
}

/// The tree as far as it was verified.
struct Verified {
    frontier: Frontier,
    root: Hash,
    checkpoint: String,
    /// The hashes of each tile level's right-edge partial tile ([`State::right_tiles`]).
    right_tiles: BTreeMap<u8, Vec<Hash>>,
}

/// What every step of one audit reads from, writes to and works with.
struct Run<'a> {
    source: &'a dyn Source,
    mirror: &'a Mirror,
    /// Requests in flight at once.
    concurrency: usize,
    alg: HashAlg,
}

#[derive(Default)]
struct Stats {
    entries: u64,
    tiles: u64,
    bytes: u64,
}

/// Fetches and checks the tiles that take the verified tree to `checkpoint`'s, and
/// replays its new entries.
fn extend(
    run: &Run<'_>,
    verified: &mut Verified,
    checkpoint: &Checkpoint,
    checkpoint_text: &str,
    projection: &mut Projection,
    stats: &mut Stats,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), AuditError> {
    let (mirror, alg) = (run.mirror, run.alg);
    let from = verified.frontier.size();
    let to = checkpoint.size;
    if to == from {
        if checkpoint.root != verified.root {
            let evidence = mirror.save_evidence(&verified.checkpoint, checkpoint_text)?;
            return Err(AuditError::Fork {
                message: format!(
                    "two checkpoints of tree size {to} with different roots, both signed by the \
                     log key"
                ),
                evidence,
            });
        }
        verified.checkpoint = checkpoint_text.to_string();
        return Ok(());
    }
    let (bundles, hash_tiles): (Vec<TilePath>, Vec<TilePath>) = tile::tiles_added(from, to)
        .into_iter()
        .partition(|t| matches!(t, TilePath::Entries { .. }));

    // Each tile level's hashes from the start of its right-edge tile at `from`: the
    // verified ones, then those the new entries complete.
    let width = u64::from(FULL_TILE_WIDTH);
    let mut levels: BTreeMap<u8, (u64, Vec<Hash>)> = BTreeMap::new();
    for level in 0..=tile::MAX_TILE_LEVEL {
        let count = from >> (8 * u32::from(level));
        if (to >> (8 * u32::from(level))) == count {
            break;
        }
        let known = verified
            .right_tiles
            .get(&level)
            .cloned()
            .unwrap_or_default();
        if known.len() as u64 != count % width {
            return Err(AuditError::Failed(format!(
                "the mirror's state.json does not hold the right edge of tile level {level}"
            )));
        }
        levels.insert(level, (count / width * width, known));
    }

    // Entries in order: leaf hashes into the tree and the tile levels, the entries into
    // the read models and the mirror.
    let mut frontier = verified.frontier.clone();
    let mut entries_checked = 0;
    fetch_in_order(run, &bundles, stats, &mut |tile, bytes| {
        let entries = tile::decode_entry_bundle_with_width(&bytes, tile.width()).map_err(|e| {
            finding(
                "tiles",
                format!("{tile} is not an entry bundle of its width: {e}"),
            )
        })?;
        let first = tile.index() * width;
        for (offset, entry) in entries.iter().enumerate() {
            if first + offset as u64 >= from {
                frontier.push(alg, alg.leaf_hash(entry), |node, hash| {
                    if node.level % 8 == 0 {
                        if let Some((_, hashes)) = levels.get_mut(&(node.level / 8)) {
                            hashes.push(*hash);
                        }
                    }
                });
                projection.replay_bytes(entry).map_err(|e| {
                    finding("entries", format!("{e} (every entry must decode strictly)"))
                })?;
                entries_checked += 1;
            }
        }
        mirror.put_bundle(tile, &bytes)?;
        progress(frontier.size() - from, to - from);
        Ok(())
    })?;
    stats.entries += entries_checked;
    if frontier.root(alg) != checkpoint.root {
        return Err(mismatch(run, verified, checkpoint, checkpoint_text));
    }

    // Every hash tile as the entries make it.
    fetch_in_order(run, &hash_tiles, stats, &mut |tile, bytes| {
        let level = tile.level().expect("a hash tile");
        let (start, hashes) = &levels[&level];
        let first = (tile.index() * width - start) as usize;
        let expected = hashes
            .get(first..first + usize::from(tile.width()))
            .and_then(|hashes| tile::encode_hash_tile(hashes).ok());
        if expected.as_deref() != Some(&bytes[..]) {
            return Err(finding(
                "tiles",
                format!("{tile} does not hold the hashes the log's entries make"),
            ));
        }
        Ok(())
    })?;
    for (level, (start, hashes)) in levels {
        let count = to >> (8 * u32::from(level));
        let edge_start = count / width * width;
        let skip = (edge_start - start) as usize;
        verified.right_tiles.insert(level, hashes[skip..].to_vec());
    }
    verified.frontier = frontier;
    verified.root = checkpoint.root;
    verified.checkpoint = checkpoint_text.to_string();
    Ok(())
}

/// The entries served do not make the signed root. Either the tree was rewritten (a
/// fork: the whole log as served now makes the signed root, but not the tree this
/// mirror verified) or the source serves entries that are not the log's.
fn mismatch(
    run: &Run<'_>,
    verified: &Verified,
    checkpoint: &Checkpoint,
    checkpoint_text: &str,
) -> AuditError {
    let alg = run.alg;
    let from = verified.frontier.size();
    let not_the_log = finding(
        "tiles",
        format!(
            "the entries served for tree size {} do not hash to its signed root",
            checkpoint.size
        ),
    );
    if from == 0 {
        return not_the_log;
    }
    let mut whole = Frontier::new();
    let mut stats = Stats::default();
    let bundles: Vec<TilePath> = tile::tiles_for_size(checkpoint.size)
        .into_iter()
        .filter(|t| matches!(t, TilePath::Entries { .. }))
        .collect();
    let rebuilt = fetch_in_order(run, &bundles, &mut stats, &mut |tile, bytes| {
        let entries = tile::decode_entry_bundle_with_width(&bytes, tile.width())
            .map_err(|e| finding("tiles", e.to_string()))?;
        for entry in entries {
            whole.push(alg, alg.leaf_hash(entry), |_, _| {});
        }
        Ok(())
    });
    if rebuilt.is_err() {
        return not_the_log;
    }
    if whole.root(alg) != checkpoint.root {
        return not_the_log;
    }
    match run
        .mirror
        .save_evidence(&verified.checkpoint, checkpoint_text)
    {
        Ok(evidence) => AuditError::Fork {
            message: format!(
                "the log's tree of size {} does not contain the tree of size {from} this \
                 mirror verified: its history was rewritten",
                checkpoint.size
            ),
            evidence,
        },
        Err(e) => e,
    }
}

/// What is done with each fetched tile, in order.
type TileCheck<'a> = dyn FnMut(&TilePath, Vec<u8>) -> Result<(), AuditError> + 'a;

/// Fetches `tiles` from the source, `concurrency` at a time, and hands each to `each` in
/// order: [`TILES_PER_ROUND`] at a time, the next round fetched while this one is
/// handled. A tile the source does not have is a finding: a log serves every tile of
/// its signed tree.
fn fetch_in_order(
    run: &Run<'_>,
    tiles: &[TilePath],
    stats: &mut Stats,
    each: &mut TileCheck<'_>,
) -> Result<(), AuditError> {
    let (source, concurrency) = (run.source, run.concurrency);
    std::thread::scope(|scope| {
        let mut rounds = tiles.chunks(TILES_PER_ROUND);
        let fetch = |round: &'_ [TilePath]| {
            let round = round.to_vec();
            scope.spawn(move || fetch_round(source, &round, concurrency))
        };
        let mut next = rounds.next().map(|round| (round, fetch(round)));
        while let Some((round, fetching)) = next.take() {
            let fetched = fetching
                .join()
                .unwrap_or_else(|_| Err(AuditError::Failed("a fetching thread failed".into())))?;
            next = rounds.next().map(|round| (round, fetch(round)));
            for (tile, bytes) in round.iter().zip(fetched) {
                stats.tiles += 1;
                stats.bytes += bytes.len() as u64;
                each(tile, bytes)?;
            }
        }
        Ok(())
    })
}

/// Fetches one round of tiles, `concurrency` at a time.
fn fetch_round(
    source: &dyn Source,
    tiles: &[TilePath],
    concurrency: usize,
) -> Result<Vec<Vec<u8>>, AuditError> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    // Each tile's answer, in the tile's place, filled by whichever thread fetched it.
    type Slot = std::sync::Mutex<Option<Result<Vec<u8>, AuditError>>>;
    let results: Vec<Slot> = tiles.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..concurrency.clamp(1, tiles.len().max(1)) {
            scope.spawn(|| loop {
                let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(tile) = tiles.get(at) else {
                    return;
                };
                let got = fetch_tile(source, tile);
                *crate::locks::lock(&results[at]) = Some(got);
            });
        }
    });
    results
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every tile was fetched")
        })
        .collect()
}

/// Fetches `tile`. A partial tile the source no longer has is cut from the full tile
/// of its place, as C2SP tlog-tiles has clients do: a static copy removes partial tiles
/// once the full one exists, and a copy that moved on between the checkpoint and the
/// tile has done just that. A tile the source does not have is a finding: a log serves
/// every tile of its signed tree.
fn fetch_tile(source: &dyn Source, tile: &TilePath) -> Result<Vec<u8>, AuditError> {
    let path = tile.to_string();
    let missing = || finding("tiles", format!("{} has no {path}", source.describe()));
    if let Some(bytes) = source.get(&path)? {
        return Ok(bytes);
    }
    if tile.is_full() {
        return Err(missing());
    }
    let width = usize::from(tile.width());
    let full = match *tile {
        TilePath::Hash { level, index, .. } => TilePath::Hash {
            level,
            index,
            width: FULL_TILE_WIDTH,
        },
        TilePath::Entries { index, .. } => TilePath::Entries {
            index,
            width: FULL_TILE_WIDTH,
        },
    };
    let bytes = source.get(&full.to_string())?.ok_or_else(missing)?;
    let cut = match tile {
        TilePath::Hash { .. } => bytes
            .get(..width * std::mem::size_of::<Hash>())
            .map(<[u8]>::to_vec),
        TilePath::Entries { .. } => tile::decode_entry_bundle(&bytes)
            .ok()
            .filter(|entries| entries.len() >= width)
            .and_then(|entries| tile::encode_entry_bundle(&entries[..width]).ok()),
    };
    cut.ok_or_else(|| finding("tiles", format!("{full} is not a full tile")))
}

/// Checks the log's signed tally of `checkpoint`'s tree against the replay's, counter
/// by counter.
fn compare_tally(
    alg: HashAlg,
    key: &NoteVerifier,
    answer: &TallyAnswer,
    checkpoint: &Checkpoint,
    projection: &Projection,
) -> Result<(), AuditError> {
    let body = projector::tally::open_tally(alg, &answer.note, key, &answer.text)
        .map_err(|e| finding("tally", format!("the tally note does not hold: {e}")))?;
    if body.tree_size != checkpoint.size || body.root != checkpoint.root {
        return Err(finding(
            "tally",
            "the signed tally is not of the checkpoint's tree",
        ));
    }
    let ours = projection.tally_text();
    if ours == answer.text {
        return Ok(());
    }
    let counters = |text: &str| -> BTreeMap<String, String> {
        text.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let (ours, theirs) = (counters(&ours), counters(&answer.text));
    let keys: std::collections::BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    for key in keys {
        let (mine, signed) = (ours.get(key), theirs.get(key));
        if mine != signed {
            return Err(finding(
                "tally",
                format!(
                    "{key}: the replay counts {}, the log's signed tally says {}",
                    mine.map_or("nothing", String::as_str),
                    signed.map_or("nothing", String::as_str)
                ),
            ));
        }
    }
    Err(finding(
        "tally",
        "the signed tally text differs from the replay's in its layout",
    ))
}

/// Records the verified state in the mirror: entries and read models first,
/// `state.json` last.
fn save(
    mirror: &Mirror,
    key: &NoteVerifier,
    alg: HashAlg,
    verified: &Verified,
    projection: &mut Projection,
) -> Result<(), AuditError> {
    mirror.save_projection(projection, &verified.root)?;
    let state = State {
        origin: key.name().to_string(),
        vkey: key.vkey(),
        hash: alg.name().to_string(),
        tree_size: verified.frontier.size(),
        root: verified.root,
        edge: verified.frontier.edge().to_vec(),
        right_tiles: verified.right_tiles.clone(),
        pack_len: 0,
    };
    mirror.save_state(state, &verified.checkpoint).map(|_| ())
}

/// The file at `path`, which every log serves.
fn fetch(source: &dyn Source, path: &str) -> Result<Vec<u8>, AuditError> {
    source
        .get(path)?
        .ok_or_else(|| AuditError::Failed(format!("{} has no {path}", source.describe())))
}

fn text(source: &dyn Source, path: &str) -> Result<String, AuditError> {
    String::from_utf8(fetch(source, path)?)
        .map_err(|_| finding("checkpoint", format!("{path} is not UTF-8")))
}

fn fetch_json<T: serde::de::DeserializeOwned>(
    source: &dyn Source,
    path: &str,
) -> Result<T, AuditError> {
    serde_json::from_slice(&fetch(source, path)?).map_err(|e| {
        AuditError::Failed(format!(
            "{}/{path}: not the expected JSON: {e}",
            source.describe()
        ))
    })
}
