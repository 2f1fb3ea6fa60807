//! The durable store: a data directory holding one log.
//!
//! Layout (`docs/STORAGE.md` has the bytes): `journal` is the source of truth, written
//! once per batch and fdatasynced (and extended ahead with zeros); `hashes.<L>` (the stored hashes of tree level `8L`,
//! i.e. the rows of tlog-tiles level `L`), `frames.idx` and `checkpoints.idx` are
//! indexes derived from it, written after each batch but fsynced only every
//! [`SYNC_EVERY`] entries and on close; `meta.redb` holds the log's identity and the
//! lengths up to which the indexes are known durable. Recovery truncates the indexes to
//! those lengths and replays the journal tail, so a crash loses nothing that was
//! acknowledged and costs at most one sync interval of re-hashing.
//!
//! Concurrency: the writer state (`writer.rs`), which owns every write handle, is held by one
//! thread at a time (`queue.rs`: a blocking appender committing the queue, or the writer
//! thread for async appenders); readers use positional reads on their own handles and
//! only look below the published tree size, whose data is written before the size is
//! published. Every method except [`Store::append`] blocks on file IO: from async code
//! call them inside `tokio::task::spawn_blocking` (reads are short: a handful of
//! `pread`s from the page cache), never directly on an executor thread.

mod journal;
mod meta;
mod published;
mod queue;
mod reads;
mod writer;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

use crate::checkpoint::Checkpoint;
use crate::merkle::{self, ConsistencyProof, Frontier, InclusionProof, Node};
use crate::note::{NoteSigner, NoteVerifier, Signer};
use crate::tile::FULL_TILE_WIDTH;
use crate::{Error, Hash, HashAlg, Result};
use rustc_hash::FxHashMap;

use journal::{CheckpointRow, FrameRow, ReplayedBatch, Stop};
pub use meta::{describe, read_log, LogBatch, LogIdentity};

/// Indexes are fsynced (and their lengths recorded) at least this often, in entries;
/// it bounds the re-hashing recovery may have to do.
pub const SYNC_EVERY: u64 = 1 << 16;

/// The most entries one group commit takes in, across all waiting callers.
pub const MAX_BATCH_ENTRIES: usize = 1 << 14;

/// The largest entry the log stores: tlog-tiles bundles prefix entries with a u16.
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// Writes real zeros over `[start, end)` of `file`. An append-only file extended ahead
/// this way (not with `set_len`, which leaves a hole) lets each `fdatasync` of an append
/// write data only, never a new length or block allocation: the journal here and the
/// server's vault file both do.
pub fn write_zeros(file: &File, start: u64, end: u64) -> std::io::Result<()> {
    static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
    let mut at = start;
    while at < end {
        let len = (end - at).min(ZEROS.len() as u64) as usize;
        file.write_all_at(&ZEROS[..len], at)?;
        at += len as u64;
    }
    Ok(())
}

/// The error for an IO failure on `path`: [`Error::StorageFull`] when the device (or
/// the user's quota) is full, so callers can tell "try again when there is room" from
/// damage.
pub fn storage_error(path: &Path, error: std::io::Error) -> Error {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => Error::StorageFull {
            path: path.to_path_buf(),
        },
        _ => Error::Io {
            path: path.to_path_buf(),
            source: error,
        },
    }
}

/// Makes the directory `dir`'s entries (a file created, renamed or removed in it) durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir).and_then(|d| d.sync_all())
}

const JOURNAL: &str = "journal";
const FRAMES: &str = "frames.idx";
const CHECKPOINTS: &str = "checkpoints.idx";
const META_DB: &str = "meta.redb";

fn hashes_file(level: usize) -> String {
    format!("hashes.{level}")
}

/// What a data directory is created with. Fixed for the life of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// The checkpoint origin line (and note key name), e.g. `ledger.example.org/uk-detwin`.
    pub origin: String,
    pub hash: HashAlg,
}

/// The answer to an append: where the entries went and the checkpoint covering them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    pub first_index: u64,
    pub leaf_hashes: Vec<Hash>,
    /// The size of the tree the checkpoint commits to (at least `first_index + count`).
    pub tree_size: u64,
    pub root: Hash,
    /// The signed checkpoint note, durable before this answer was given.
    pub checkpoint: Arc<str>,
}

/// The latest published state of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    pub root: Hash,
    pub checkpoint: Arc<str>,
}

/// The fingerprint of a secret key kept beside the log (the server's vault and dedup
/// keys), recorded the first time the log is opened with it, so that a swapped key is
/// refused instead of silently splitting what it protects.
#[derive(Clone, Copy, Debug)]
pub struct KeyPin<'a> {
    /// The key's name as the operator knows it (`vault.key`), used in messages.
    pub name: &'a str,
    /// A one-way fingerprint of the key, never the key itself.
    pub fingerprint: [u8; 32],
}

/// Damage found in the stored data by [`Store::check`] or [`Store::scrub`]: from
/// `index` on, what the store would serve cannot be trusted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// The first entry whose stored data (bytes, hashes or index rows) is damaged.
    pub index: u64,
    pub what: String,
}

/// What [`Store::check`] verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    pub entries: u64,
    pub checkpoints: u64,
    pub root: Hash,
}

/// A handle to an open log. Cheap to clone; the writer stops when the last handle is
/// dropped or [`Store::close`] is called.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
    queue: Arc<queue::CommitQueue>,
    /// Wakes the writer thread for async appends; it stops when every copy is gone.
    doorbell: std::sync::mpsc::SyncSender<()>,
    writer: Arc<std::thread::JoinHandle<()>>,
}

/// What readers and the writer share.
pub(crate) struct Shared {
    dir: PathBuf,
    alg: HashAlg,
    origin: String,
    verifier: NoteVerifier,
    journal: File,
    /// Read handles of `hashes.<L>`, one per level that exists so far.
    levels: RwLock<Vec<Arc<File>>>,
    frames: RwLock<Vec<FrameRow>>,
    checkpoints: RwLock<Vec<CheckpointRow>>,
    head: RwLock<Head>,
    /// The first entry of damaged stored data (`u64::MAX`: none found). Reads that need
    /// data from here on are refused; see [`Store::scrub`].
    damaged_from: AtomicU64,
    damage: Mutex<Option<Damage>>,
    /// Complete nodes of level [`reads::MEMO_MIN_LEVEL`] and up, remembered once
    /// computed. A complete node's hash never changes, so entries never go stale; the
    /// map is emptied when it reaches [`reads::MEMO_MAX_NODES`].
    memo: RwLock<FxHashMap<Node, Hash>>,
    /// Hashes of leaf ranges of several nodes (the right edges of recent tree sizes),
    /// emptied when it reaches [`reads::RANGES_MAX`]. Like complete nodes, they never
    /// change.
    ranges: RwLock<FxHashMap<(u64, u64), Hash>>,
}

impl Store {
    /// Creates a new log in `dir` (created if missing; it must not already hold a log),
    /// signing checkpoints with `signer`, whose key name must be `config.origin`.
    pub fn create(dir: &Path, config: &LogConfig, signer: NoteSigner) -> Result<Store> {
        Store::create_pinned(dir, config, signer, &[])
    }

    /// [`Store::create`], recording the fingerprints of the keys kept beside the log
    /// (see [`Store::open_pinned`]).
    pub fn create_pinned(
        dir: &Path,
        config: &LogConfig,
        signer: NoteSigner,
        pins: &[KeyPin<'_>],
    ) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        if dir.join(META_DB).exists() || dir.join(JOURNAL).exists() {
            return Err(Error::AlreadyExists(dir.to_path_buf()));
        }
        if signer.name() != config.origin {
            return Err(Error::MalformedKey(
                "the log key's name must equal the origin",
            ));
        }
        let journal_path = dir.join(JOURNAL);
        let journal = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&journal_path)
            .map_err(Error::io(&journal_path))?;
        journal
            .write_all_at(journal::MAGIC, 0)
            .map_err(Error::io(&journal_path))?;
        journal.sync_all().map_err(Error::io(&journal_path))?;
        published::PublishedFile::create(dir)?;
        meta::create(dir, config, &signer.verifier_key())?;
        sync_dir(dir).map_err(Error::io(dir))?;
        Store::open_pinned(dir, signer, pins).map(|(store, _)| store)
    }

    /// Opens the log in `dir`, recovering from any crash: a torn last batch (never
    /// acknowledged) is truncated and the indexes are brought level with the journal.
    /// `signer` must be the key the log was created with.
    pub fn open(dir: &Path, signer: NoteSigner) -> Result<Store> {
        Store::open_pinned(dir, signer, &[]).map(|(store, _)| store)
    }

    /// [`Store::open`], also checking the fingerprints of keys kept beside the log:
    /// a pin recorded earlier that differs is [`Error::KeyMismatch`] (nothing is
    /// opened); a pin not recorded yet is recorded (first use) and its name returned.
    ///
    /// Opening also refuses a rolled-back journal ([`Error::RolledBack`],
    /// [`Error::PublishedRootMismatch`]) and index rows or stored hashes that do not
    /// agree with the journal's last signed checkpoint ([`Error::Corrupt`]). Cost
    /// beyond replaying the journal tail: one pass over the index rows in memory, one
    /// signature check and `log2(size)` stored hashes.
    pub fn open_pinned(
        dir: &Path,
        signer: NoteSigner,
        pins: &[KeyPin<'_>],
    ) -> Result<(Store, Vec<String>)> {
        let (db, meta) = meta::open(dir)?;
        if signer.verifier_key() != meta.vkey {
            return Err(Error::MalformedKey(
                "this is not the key the log was created with",
            ));
        }
        let verifier = NoteVerifier::parse(&meta.vkey)?;
        let newly_pinned = meta::check_pins(&db, pins)?;
        let journal_path = dir.join(JOURNAL);
        let journal_write = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&journal_path)
            .map_err(|_| Error::NotALedger {
                path: dir.to_path_buf(),
                missing: JOURNAL,
            })?;
        let mut magic = [0u8; 16];
        journal_write
            .read_exact_at(&mut magic, 0)
            .ok()
            .filter(|_| &magic == journal::MAGIC)
            .ok_or_else(|| {
                Error::Corrupt("the journal does not start with the journal magic".into())
            })?;
        let journal_read = File::open(&journal_path).map_err(Error::io(&journal_path))?;
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            alg: meta.hash,
            origin: meta.origin.clone(),
            verifier,
            journal: journal_read,
            levels: RwLock::new(Vec::new()),
            memo: RwLock::new(FxHashMap::default()),
            ranges: RwLock::new(FxHashMap::default()),
            frames: RwLock::new(Vec::new()),
            checkpoints: RwLock::new(Vec::new()),
            head: RwLock::new(Head {
                size: 0,
                root: meta.hash.empty_root(),
                checkpoint: Arc::from(""),
            }),
            damaged_from: AtomicU64::new(u64::MAX),
            damage: Mutex::new(None),
        });
        let state = writer::Writer::recover(
            shared.clone(),
            db,
            journal_write,
            meta.synced,
            meta.published_recorded,
            signer,
        )?;
        let queue = Arc::new(queue::CommitQueue::new(state));
        let (doorbell, rings) = std::sync::mpsc::sync_channel(1);
        let served = queue.clone();
        let handle = std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || served.serve(rings))
            .map_err(Error::io(dir))?;
        Ok((
            Store {
                shared,
                queue,
                doorbell,
                writer: Arc::new(handle),
            },
            newly_pinned,
        ))
    }

    /// Appends `entries` (in order, contiguous) and resolves once they are fsynced and a
    /// signed checkpoint covering them is durable. Concurrent callers share one commit.
    ///
    /// Safe to await on any executor: the work happens on the writer thread (or on a
    /// thread in [`Store::append_blocking`] that commits the queue meanwhile). Fails with
    /// [`Error::EmptyBatch`] or [`Error::EntryTooLarge`] before anything is written; a
    /// failed commit appends nothing that is acknowledged.
    pub async fn append(&self, entries: Vec<Vec<u8>>) -> Result<Appended> {
        let (request, answer) = writer::Request::new(entries)?;
        self.queue.push(request);
        queue::ring(&self.doorbell)?;
        answer.await.map_err(|_| Error::WriterStopped)?
    }

    /// [`Store::append`] for threads outside any async runtime: the calling thread
    /// commits (its request and any others waiting) itself, so a lone appender pays no
    /// thread handoff. It blocks on file IO and locks: never call it on an executor
    /// thread.
    pub fn append_blocking(&self, entries: Vec<Vec<u8>>) -> Result<Appended> {
        let (request, answer) = writer::Request::new(entries)?;
        self.queue.push(request);
        self.queue.lead_until_answered(answer)
    }

    /// Stops the writer after it has answered everything already queued, and syncs the
    /// indexes so the next open replays nothing.
    pub fn close(self) -> Result<()> {
        let Store {
            doorbell, writer, ..
        } = self;
        drop(doorbell);
        // Only the last handle can wait: other clones still hold senders.
        if let Some(handle) = Arc::into_inner(writer) {
            handle.join().map_err(|_| Error::WriterStopped)?;
        }
        Ok(())
    }

    pub fn hash_alg(&self) -> HashAlg {
        self.shared.alg
    }

    pub fn origin(&self) -> &str {
        &self.shared.origin
    }

    pub fn verifier(&self) -> &NoteVerifier {
        &self.shared.verifier
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The latest published size, root and signed checkpoint.
    pub fn head(&self) -> Head {
        self.shared.head.read().expect("head lock").clone()
    }

    pub fn size(&self) -> u64 {
        self.shared.head.read().expect("head lock").size
    }

    /// Whether the writer still takes appends (it stops for good after a failed write
    /// or fsync, until the store is reopened; a full disk does not stop it).
    pub fn writer_running(&self) -> bool {
        self.queue.writer_running()
    }

    /// The damage found so far by [`Store::scrub`] (or a check), if any.
    pub fn damage(&self) -> Option<Damage> {
        self.shared.damage().clone()
    }

    /// Re-verifies everything the store serves, as [`Store::check`] does, calling
    /// `pace(entries_checked)` after each batch (to sleep, so a scrub stays in the
    /// background). Damage it finds is remembered ([`Store::damage`]): from then on,
    /// reads that need the damaged range are refused with [`Error::Damaged`] rather
    /// than served, until the store is reopened (which refuses what it can detect at
    /// open) or the data directory is restored.
    ///
    /// `pace` may stop the scrub early by returning an error (such as
    /// [`Error::Interrupted`]), which the scrub returns.
    pub fn scrub(&self, pace: &mut dyn FnMut(u64) -> Result<()>) -> Result<CheckReport> {
        let result = self.verify(pace);
        if let Err(Error::Damaged { index, what }) = &result {
            self.shared.mark_damaged(Damage {
                index: *index,
                what: what.clone(),
            });
        }
        result
    }

    /// The bytes of entry `index`. Cost: one `pread` of its frame (≤ 256 entries).
    pub fn entry(&self, index: u64) -> Result<Vec<u8>> {
        let size = self.size();
        if index >= size {
            return Err(Error::IndexOutOfRange { index, size });
        }
        Ok(self.entries(index, index + 1)?.pop().expect("one entry"))
    }

    /// The bytes of entries `[start, end)`, which must lie below the current size.
    pub fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>> {
        let size = self.size();
        if start >= end || end > size {
            return Err(Error::IndexOutOfRange {
                index: end.saturating_sub(1).max(start),
                size,
            });
        }
        let mut out = Vec::with_capacity((end - start) as usize);
        for (row, payload) in self.shared.frames_covering(start, end)? {
            let entries = journal::split_payload(&payload, row.count).ok_or_else(|| {
                Error::Corrupt(format!("frame of entry {} is malformed", row.first_index))
            })?;
            for (i, entry) in entries.into_iter().enumerate() {
                let index = row.first_index + i as u64;
                if (start..end).contains(&index) {
                    out.push(entry.to_vec());
                }
            }
        }
        Ok(out)
    }

    /// The leaf hash of entry `index`.
    pub fn leaf_hash(&self, index: u64) -> Result<Hash> {
        let size = self.size();
        if index >= size {
            return Err(Error::IndexOutOfRange { index, size });
        }
        Ok(self.shared.read_level(0, index, 1)?[0])
    }

    /// The root of the tree of size `size <= current`.
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        match self.size_and_known_root(Some(size))? {
            (_, Some(root)) => Ok(root),
            (size, None) => merkle::tree_hash(self.shared.alg, size, &*self.shared),
        }
    }

    /// The inclusion proof of entry `index` in the tree of size `size` (the current
    /// size if `None`), with the leaf hash and the root: one look at the head and one
    /// batched read of stored hashes (about 3 µs at 1.6 million entries).
    pub fn inclusion_proof(&self, index: u64, size: Option<u64>) -> Result<InclusionProof> {
        let (size, known_root) = self.size_and_known_root(size)?;
        InclusionProof::build(self.shared.alg, index, size, known_root, &*self.shared)
    }

    /// Inclusion proofs of the entries at `indexes` in the tree of size `size` (at
    /// most the current size), its root found once for all of them. Cost: one
    /// batched read per proof, mostly from the memo when the indexes are close.
    pub fn inclusion_proofs(&self, indexes: &[u64], size: u64) -> Result<Vec<InclusionProof>> {
        let root = self.root_at(size)?;
        indexes
            .iter()
            .map(|&index| {
                InclusionProof::build(self.shared.alg, index, size, Some(root), &*self.shared)
            })
            .collect()
    }

    /// The consistency proof between the trees of sizes `from` and `to` (the current
    /// size if `None`), with both roots: one look at the head and one batched read.
    pub fn consistency_proof(&self, from: u64, to: Option<u64>) -> Result<ConsistencyProof> {
        let (to, known_root) = self.size_and_known_root(to)?;
        ConsistencyProof::build(self.shared.alg, from, to, known_root, &*self.shared)
    }

    /// `size`, or the current size if `None` (an error if beyond it), with the root when
    /// it is the current size: one look at the head.
    fn size_and_known_root(&self, size: Option<u64>) -> Result<(u64, Option<Hash>)> {
        let head = self.shared.head.read().expect("head lock");
        match size {
            Some(size) if size > head.size => Err(Error::SizeOutOfRange {
                size,
                current: head.size,
            }),
            Some(size) if size < head.size => Ok((size, None)),
            _ => Ok((head.size, Some(head.root))),
        }
    }

    /// A tlog-proof@v1 receipt for entry `index` against the latest checkpoint: the
    /// inclusion proof and the signed note, checkable offline with only the log's vkey.
    pub fn receipt(&self, index: u64) -> Result<crate::receipt::Receipt> {
        let head = self.head();
        let proof = InclusionProof::build(
            self.shared.alg,
            index,
            head.size,
            Some(head.root),
            &*self.shared,
        )?
        .proof;
        Ok(crate::receipt::Receipt::new(
            index,
            proof,
            head.checkpoint.to_string(),
        ))
    }

    /// The signed checkpoint committed at exactly tree size `size`, if the log signed
    /// one there (every batch boundary has one).
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<String>> {
        let row = {
            let rows = self.shared.checkpoint_rows();
            match rows.binary_search_by_key(&size, |r| r.tree_size) {
                Ok(i) => rows[i],
                Err(_) => return Ok(None),
            }
        };
        self.shared.read_note(&row).map(Some)
    }

    /// The sizes at which signed checkpoints exist, ascending.
    pub fn checkpoint_sizes(&self) -> Vec<u64> {
        let rows = self.shared.checkpoint_rows();
        rows.iter().map(|r| r.tree_size).collect()
    }

    /// The sizes above `from` at which signed checkpoints exist, ascending.
    pub fn checkpoint_sizes_after(&self, from: u64) -> Vec<u64> {
        let rows = self.shared.checkpoint_rows();
        let first = rows.partition_point(|r| r.tree_size <= from);
        rows[first..].iter().map(|r| r.tree_size).collect()
    }

    /// The tlog-tiles hash tile `tile/<level>/<index>[.p/<width>]`: `width` stored
    /// hashes of tree level `8 * level`, starting at `index * 256`. It must lie wholly
    /// inside the current tree.
    pub fn hash_tile(&self, level: u8, index: u64, width: u16) -> Result<Vec<u8>> {
        let level_size = self.size().checked_shr(8 * u32::from(level)).unwrap_or(0);
        let (first, _) = tile_range(index, width, level_size)?;
        let hashes = self
            .shared
            .read_level(level as usize, first, width as usize)?;
        Ok(hashes.iter().flat_map(|h| h.0).collect())
    }

    /// The tlog-tiles entry bundle `tile/entries/<index>[.p/<width>]`: entries
    /// `[index * 256, index * 256 + width)`, each with its big-endian u16 length.
    pub fn entry_bundle(&self, index: u64, width: u16) -> Result<Vec<u8>> {
        let (first, end) = tile_range(index, width, self.size())?;
        let mut out = Vec::new();
        for (row, payload) in self.shared.frames_covering(first, end)? {
            let entries = journal::split_payload(&payload, row.count).ok_or_else(|| {
                Error::Corrupt(format!("frame of entry {} is malformed", row.first_index))
            })?;
            // Frames never cross a bundle boundary, so only the last may run past `end`.
            let keep = (end.min(row.end_index()) - row.first_index) as usize;
            let kept: usize = entries.iter().take(keep).map(|e| 2 + e.len()).sum();
            out.extend_from_slice(&payload[..kept]);
        }
        Ok(out)
    }

    /// Re-hashes every entry of the journal and checks it against the stored hashes, and
    /// every commit record's root and signed checkpoint against the recomputed tree and
    /// the log key. Cost: one sequential read of the journal, one leaf hash per entry,
    /// one signature check per commit; runs beside the writer, checking the tree as of
    /// its start.
    pub fn check(&self) -> Result<CheckReport> {
        self.check_with_progress(&mut |_| {})
    }

    /// [`Store::check`], calling `progress(entries_checked)` after each batch.
    /// Damage is reported as [`Error::Damaged`], naming the first entry it affects.
    pub fn check_with_progress(&self, progress: &mut dyn FnMut(u64)) -> Result<CheckReport> {
        self.verify(&mut |checked| {
            progress(checked);
            Ok(())
        })
    }

    /// What [`Store::check`] and [`Store::scrub`] do.
    fn verify(&self, progress: &mut dyn FnMut(u64) -> Result<()>) -> Result<CheckReport> {
        let head = self.head();
        let shared = &self.shared;
        let mut checkpoints = 0u64;
        let mut last_note = String::new();
        // Rows are looked up batch by batch under their read locks (never copied: a log
        // of small batches has tens of millions of them); rows below the head's size
        // never change.
        let mut next_frame = 0usize;
        let damaged = |index: u64, what: String| Error::Damaged { index, what };
        // Its own handle: replay reads sequentially, moving the file offset.
        let journal_path = shared.dir.join(JOURNAL);
        let journal = File::open(&journal_path).map_err(Error::io(&journal_path))?;
        let end = journal::replay(
            &journal,
            journal::MAGIC.len() as u64,
            shared.alg,
            Frontier::new(),
            &mut |note, size, root| note_body_matches(&shared.origin, note, size, root),
            &mut |batch: ReplayedBatch| {
                if batch.checkpoint.tree_size > head.size {
                    return Ok(());
                }
                let first = batch
                    .frames
                    .first()
                    .map_or(batch.checkpoint.tree_size, |f| f.first_index);
                // The index rows readers use must say where this batch really is.
                let frame_rows = shared.frame_rows();
                for frame in &batch.frames {
                    if frame_rows.get(next_frame) != Some(frame) {
                        return Err(damaged(
                            frame.first_index,
                            format!("frames.idx row {next_frame} does not match the journal"),
                        ));
                    }
                    next_frame += 1;
                }
                drop(frame_rows);
                let row = shared.checkpoint_rows().get(checkpoints as usize).copied();
                if row != Some(batch.checkpoint) {
                    return Err(damaged(
                        first,
                        format!("checkpoints.idx row {checkpoints} does not match the journal"),
                    ));
                }
                // Per level, a batch completes a run of consecutive nodes: one read each.
                for level in (0..64u8).step_by(8) {
                    let recomputed: Vec<&(Node, Hash)> = batch
                        .tile_nodes
                        .iter()
                        .filter(|(node, _)| node.level == level)
                        .collect();
                    let Some((first_node, _)) = recomputed.first() else {
                        continue;
                    };
                    let stored = shared.read_level_unchecked(
                        level as usize / 8,
                        first_node.index,
                        recomputed.len(),
                    )?;
                    if let Some(((node, _), _)) =
                        recomputed.iter().zip(&stored).find(|((_, h), s)| h != *s)
                    {
                        return Err(damaged(
                            node.index << node.level,
                            format!(
                                "hashes.{} row {} differs from the re-hashed journal",
                                node.level / 8,
                                node.index
                            ),
                        ));
                    }
                }
                crate::checkpoint::open_checkpoint(&batch.note, &shared.verifier).map_err(
                    |_| {
                        damaged(
                            first,
                            format!(
                                "the checkpoint at size {} does not verify with the log key",
                                batch.checkpoint.tree_size
                            ),
                        )
                    },
                )?;
                checkpoints += 1;
                last_note = batch.note;
                progress(batch.checkpoint.tree_size)
            },
        )?;
        let checked = end.frontier.size().min(head.size);
        if checked != head.size {
            let reason = match end.stop {
                Stop::Torn { reason } => reason,
                Stop::End => "journal ends early".into(),
            };
            // The batch that stopped the replay: name its first entry that no longer
            // hashes to its stored leaf hash, if one does not.
            let first_bad = shared.first_bad_leaf(checked, head.size).unwrap_or(checked);
            return Err(damaged(
                first_bad,
                format!(
                    "the journal re-hashes to {checked} entries but the log has {}: {reason}",
                    head.size
                ),
            ));
        }
        // Each note's body was matched against the re-hashed root at its size.
        if last_note != *head.checkpoint {
            return Err(damaged(
                head.size,
                "the latest checkpoint is not the last one in the journal".into(),
            ));
        }
        Ok(CheckReport {
            entries: head.size,
            checkpoints,
            root: head.root,
        })
    }
}

/// The range of positions a tile covers in its level, checking the width and that it
/// lies below `level_size`, the positions the level has.
fn tile_range(index: u64, width: u16, level_size: u64) -> Result<(u64, u64)> {
    if width == 0 || width > FULL_TILE_WIDTH {
        return Err(Error::MalformedTile("width must be 1..=256"));
    }
    let first = index
        .checked_mul(u64::from(FULL_TILE_WIDTH))
        .ok_or(Error::MalformedTile("tile index too large"))?;
    let end = first
        .checked_add(u64::from(width))
        .ok_or(Error::MalformedTile("tile index too large"))?;
    if end > level_size {
        return Err(Error::IndexOutOfRange {
            index: end - 1,
            size: level_size,
        });
    }
    Ok((first, end))
}

/// Whether `note` is a note whose body is the checkpoint (`origin`, `size`, `root`).
/// Checks the text only; signatures are checked where it matters (see callers).
fn note_body_matches(origin: &str, note: &str, size: u64, root: &Hash) -> bool {
    let body = Checkpoint::new(origin, size, *root).to_body();
    note.len() > body.len() && note.starts_with(&body) && note.as_bytes()[body.len()] == b'\n'
}
