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
mod published;
mod queue;
mod writer;

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use redb::{Database, TableDefinition};

use crate::checkpoint::Checkpoint;
use crate::merkle::{self, ConsistencyProof, Frontier, HashReader, InclusionProof, Node};
use crate::note::{NoteSigner, NoteVerifier, Signer};
use crate::tile::FULL_TILE_WIDTH;
use crate::{Error, Hash, HashAlg, Result};
use rustc_hash::FxHashMap;

use journal::{CheckpointRow, FrameRow, ReplayedBatch, Stop};

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

/// meta.redb holds a few small rows (identity, sync state, key pins): a cache of its own
/// size, not redb's default of 1 GiB.
fn meta_db_builder() -> redb::Builder {
    let mut builder = redb::Builder::new();
    builder.set_cache_size(1 << 20);
    builder
}

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const META_FORMAT: &str = "format";
const META_ORIGIN: &str = "origin";
const META_HASH: &str = "hash";
const META_VKEY: &str = "vkey";
const META_SYNCED: &str = "synced";
/// Present once the `published` file exists: from then on it must.
const META_PUBLISHED: &str = "published";
/// `pin/<name>`: the fingerprint of a key the owner keeps beside the log.
const META_PIN_PREFIX: &str = "pin/";
const FORMAT_VERSION: &[u8] = b"1";

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

/// Lengths (in rows) up to which the index files are known durable, and the journal
/// offset and tree size they reflect. Stored in `meta.redb`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Synced {
    journal_len: u64,
    tree_size: u64,
    /// Rows of each `hashes.<L>` file.
    hash_rows: Vec<u64>,
    frame_rows: u64,
    checkpoint_rows: u64,
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
    /// Complete nodes of level [`MEMO_MIN_LEVEL`] and up, remembered once computed.
    /// A complete node's hash never changes, so entries never go stale; the map is
    /// emptied when it reaches [`MEMO_MAX_NODES`].
    memo: RwLock<FxHashMap<Node, Hash>>,
    /// Hashes of leaf ranges of several nodes (the right edges of recent tree sizes),
    /// emptied when it reaches [`RANGES_MAX`]. Like complete nodes, they never change.
    ranges: RwLock<FxHashMap<(u64, u64), Hash>>,
}

/// Nodes below this level are rebuilt from at most 4 leaf hashes, read together with
/// the other low siblings of a proof; from it up they are remembered. An inclusion
/// proof then costs one 256-byte read, a few hashes and memory lookups.
const MEMO_MIN_LEVEL: u8 = 3;
/// About 100 MB of remembered nodes; a log of N entries has about N/4 nodes of level
/// 3 and up, so every node of an 8-million-entry log fits.
const MEMO_MAX_NODES: usize = 1 << 21;
/// Right-edge ranges kept: a tree size has about 2 × log2(size) of them (inclusion and
/// consistency proofs), so this holds several recent sizes.
const RANGES_MAX: usize = 512;

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
        let db = meta_db_builder()
            .create(dir.join(META_DB))
            .map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        {
            let mut meta = txn.open_table(META).map_err(db_err)?;
            meta.insert(META_FORMAT, FORMAT_VERSION).map_err(db_err)?;
            meta.insert(META_ORIGIN, config.origin.as_bytes())
                .map_err(db_err)?;
            meta.insert(META_HASH, config.hash.name().as_bytes())
                .map_err(db_err)?;
            meta.insert(META_VKEY, signer.verifier_key().as_bytes())
                .map_err(db_err)?;
            meta.insert(META_PUBLISHED, b"1".as_slice())
                .map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        sync_dir(dir).map_err(Error::io(dir))?;
        drop(db);
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
        let db_path = dir.join(META_DB);
        if !db_path.exists() {
            return Err(Error::NotALedger {
                path: dir.to_path_buf(),
                missing: META_DB,
            });
        }
        let db = meta_db_builder().create(&db_path).map_err(db_err)?;
        let meta = read_meta(&db)?;
        if signer.verifier_key() != meta.vkey {
            return Err(Error::MalformedKey(
                "this is not the key the log was created with",
            ));
        }
        let verifier = NoteVerifier::parse(&meta.vkey)?;
        let newly_pinned = check_pins(&db, pins)?;
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
        self.shared
            .damage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
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
        self.check_size(size)?;
        let head = self.shared.head.read().expect("head lock");
        if head.size == size {
            return Ok(head.root);
        }
        drop(head);
        merkle::tree_hash(self.shared.alg, size, &*self.shared)
    }

    /// The inclusion proof of entry `index` in the tree of size `size` (the current
    /// size if `None`), with the leaf hash and the root: one look at the head and one
    /// batched read of stored hashes (about 3 µs at 1.6 million entries).
    pub fn inclusion_proof(&self, index: u64, size: Option<u64>) -> Result<InclusionProof> {
        let head = self.head_size_and_root();
        let size = self.size_within(size, head.0)?;
        let known_root = (size == head.0).then_some(head.1);
        InclusionProof::build(self.shared.alg, index, size, known_root, &*self.shared)
    }

    /// Inclusion proofs of the entries at `indexes` in the tree of size `size` (at
    /// most the current size), its root found once for all of them. Cost: one
    /// batched read per proof, mostly from the memo when the indexes are close.
    pub fn inclusion_proofs(&self, indexes: &[u64], size: u64) -> Result<Vec<InclusionProof>> {
        let head = self.head_size_and_root();
        let size = self.size_within(Some(size), head.0)?;
        let root = if size == head.0 {
            head.1
        } else {
            self.root_at(size)?
        };
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
        let head = self.head_size_and_root();
        let to = self.size_within(to, head.0)?;
        let known_root = (to == head.0).then_some(head.1);
        ConsistencyProof::build(self.shared.alg, from, to, known_root, &*self.shared)
    }

    fn head_size_and_root(&self) -> (u64, Hash) {
        let head = self.shared.head.read().expect("head lock");
        (head.size, head.root)
    }

    /// `size`, or `current` if `None`; an error if beyond `current`.
    fn size_within(&self, size: Option<u64>, current: u64) -> Result<u64> {
        match size {
            Some(size) if size > current => Err(Error::SizeOutOfRange { size, current }),
            Some(size) => Ok(size),
            None => Ok(current),
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
            let rows = self
                .shared
                .checkpoints
                .read()
                .expect("checkpoint index lock");
            match rows.binary_search_by_key(&size, |r| r.tree_size) {
                Ok(i) => rows[i],
                Err(_) => return Ok(None),
            }
        };
        self.shared.read_note(&row).map(Some)
    }

    /// The sizes at which signed checkpoints exist, ascending.
    pub fn checkpoint_sizes(&self) -> Vec<u64> {
        let rows = self
            .shared
            .checkpoints
            .read()
            .expect("checkpoint index lock");
        rows.iter().map(|r| r.tree_size).collect()
    }

    /// The sizes above `from` at which signed checkpoints exist, ascending.
    pub fn checkpoint_sizes_after(&self, from: u64) -> Vec<u64> {
        let rows = self
            .shared
            .checkpoints
            .read()
            .expect("checkpoint index lock");
        let first = rows.partition_point(|r| r.tree_size <= from);
        rows[first..].iter().map(|r| r.tree_size).collect()
    }

    /// The tlog-tiles hash tile `tile/<level>/<index>[.p/<width>]`: `width` stored
    /// hashes of tree level `8 * level`, starting at `index * 256`. It must lie wholly
    /// inside the current tree.
    pub fn hash_tile(&self, level: u8, index: u64, width: u16) -> Result<Vec<u8>> {
        let (first, end) = tile_range(index, width)?;
        let level_size = self.size().checked_shr(8 * u32::from(level)).unwrap_or(0);
        if end > level_size {
            return Err(Error::IndexOutOfRange {
                index: end - 1,
                size: level_size,
            });
        }
        let hashes = self
            .shared
            .read_level(level as usize, first, width as usize)?;
        Ok(hashes.iter().flat_map(|h| h.0).collect())
    }

    /// The tlog-tiles entry bundle `tile/entries/<index>[.p/<width>]`: entries
    /// `[index * 256, index * 256 + width)`, each with its big-endian u16 length.
    pub fn entry_bundle(&self, index: u64, width: u16) -> Result<Vec<u8>> {
        let (first, end) = tile_range(index, width)?;
        let size = self.size();
        if end > size {
            return Err(Error::IndexOutOfRange {
                index: end - 1,
                size,
            });
        }
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
                let frame_rows = shared.frames.read().expect("frame index lock");
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
                let row = shared
                    .checkpoints
                    .read()
                    .expect("checkpoint index lock")
                    .get(checkpoints as usize)
                    .copied();
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

    fn check_size(&self, size: u64) -> Result<()> {
        let current = self.size();
        if size > current {
            return Err(Error::SizeOutOfRange { size, current });
        }
        Ok(())
    }
}

/// The range of positions a tile covers in its level, checking the width.
fn tile_range(index: u64, width: u16) -> Result<(u64, u64)> {
    if width == 0 || width > FULL_TILE_WIDTH {
        return Err(Error::MalformedTile("width must be 1..=256"));
    }
    let first = index
        .checked_mul(u64::from(FULL_TILE_WIDTH))
        .ok_or(Error::MalformedTile("tile index too large"))?;
    let end = first
        .checked_add(u64::from(width))
        .ok_or(Error::MalformedTile("tile index too large"))?;
    Ok((first, end))
}

impl Shared {
    /// Refuses a read that needs entries `[.., end)` when stored data from
    /// `damaged_from` on is known to be damaged.
    fn refuse_damaged(&self, end: u64) -> Result<()> {
        let from = self.damaged_from.load(Ordering::Relaxed);
        if end > from {
            let what = self
                .damage
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map_or_else(String::new, |d| d.what.clone());
            return Err(Error::Damaged { index: from, what });
        }
        Ok(())
    }

    fn mark_damaged(&self, damage: Damage) {
        let mut found = self.damage.lock().unwrap_or_else(|e| e.into_inner());
        if found.as_ref().is_none_or(|d| damage.index < d.index) {
            self.damaged_from.store(damage.index, Ordering::Relaxed);
            *found = Some(damage);
        }
    }

    /// `count` stored hashes of tree level `8 * level`, from node `first`, refused if
    /// any of them covers damaged data.
    fn read_level(&self, level: usize, first: u64, count: usize) -> Result<Vec<Hash>> {
        let end = (first + count as u64)
            .checked_shl(8 * level as u32)
            .filter(|end| end >> (8 * level as u32) == first + count as u64)
            .unwrap_or(u64::MAX);
        self.refuse_damaged(end)?;
        self.read_level_unchecked(level, first, count)
    }

    /// [`Shared::read_level`] without the damage check: for the checks themselves.
    fn read_level_unchecked(&self, level: usize, first: u64, count: usize) -> Result<Vec<Hash>> {
        let levels = self.levels.read().expect("levels lock");
        let file = levels
            .get(level)
            .ok_or_else(|| Error::Corrupt(format!("hash level {level} is missing")))?;
        let mut buf = vec![0u8; count * 32];
        file.read_exact_at(&mut buf, first * 32)
            .map_err(Error::io(self.dir.join(hashes_file(level))))?;
        Ok(buf
            .chunks_exact(32)
            .map(|c| Hash::try_from(c).expect("32 bytes"))
            .collect())
    }

    /// The first entry in `[start, end)` whose bytes do not hash to its stored leaf
    /// hash, looking at most one bundle's worth of entries (what one batch can hold of
    /// a frame). `None` if they all match or cannot be read.
    fn first_bad_leaf(&self, start: u64, end: u64) -> Option<u64> {
        let end = end.min(start + u64::from(FULL_TILE_WIDTH));
        let frames = self.frames_covering_unchecked(start, end).ok()?;
        let stored = self
            .read_level_unchecked(0, start, (end - start) as usize)
            .ok()?;
        let mut index = start;
        for (row, payload) in frames {
            let entries = journal::split_payload(&payload, row.count)?;
            for (at, entry) in entries.iter().enumerate() {
                let at_index = row.first_index + at as u64;
                if at_index < start || at_index >= end {
                    continue;
                }
                if self.alg.leaf_hash(entry) != stored[(at_index - start) as usize] {
                    return Some(at_index);
                }
                index = at_index + 1;
            }
        }
        (index < end).then_some(index)
    }

    /// The frames holding entries `[start, end)`, each with its payload.
    fn frames_covering(&self, start: u64, end: u64) -> Result<Vec<(FrameRow, Vec<u8>)>> {
        self.refuse_damaged(end)?;
        self.frames_covering_unchecked(start, end)
    }

    /// [`Shared::frames_covering`] without the damage check: for the checks themselves.
    fn frames_covering_unchecked(&self, start: u64, end: u64) -> Result<Vec<(FrameRow, Vec<u8>)>> {
        let rows: Vec<FrameRow> = {
            let frames = self.frames.read().expect("frame index lock");
            let first = frames.partition_point(|r| r.end_index() <= start);
            frames[first..]
                .iter()
                .take_while(|r| r.first_index < end)
                .copied()
                .collect()
        };
        rows.into_iter()
            .map(|row| {
                let mut payload = vec![0u8; row.payload_len as usize];
                self.journal
                    .read_exact_at(&mut payload, row.payload_offset)
                    .map_err(Error::io(self.dir.join(JOURNAL)))?;
                Ok((row, payload))
            })
            .collect()
    }

    fn read_note(&self, row: &CheckpointRow) -> Result<String> {
        let mut note = vec![0u8; row.note_len as usize];
        self.journal
            .read_exact_at(&mut note, row.note_offset)
            .map_err(Error::io(self.dir.join(JOURNAL)))?;
        String::from_utf8(note)
            .map_err(|_| Error::Corrupt("a stored checkpoint is not UTF-8".into()))
    }
}

/// Stored hashes are complete nodes of levels that are multiples of 8; any other
/// complete node is rebuilt from the at most 128 stored hashes beneath it.
impl HashReader for Shared {
    fn read_hashes(&self, nodes: &[Node]) -> Result<Vec<Hash>> {
        // The low siblings of an inclusion proof share one aligned block of leaves:
        // read it once instead of once per node.
        let mut block: Option<(u64, Vec<Hash>)> = None;
        let remembered: Vec<Option<Hash>> = {
            let memo = self.memo.read().expect("memo lock");
            nodes.iter().map(|node| memo.get(node).copied()).collect()
        };
        nodes
            .iter()
            .zip(remembered)
            .map(|(node, remembered)| {
                if let Some(hash) = remembered {
                    return Ok(hash);
                }
                if node.level >= MEMO_MIN_LEVEL {
                    return self.node_hash(*node);
                }
                let first_leaf = node.index << node.level;
                let block_index = first_leaf >> MEMO_MIN_LEVEL;
                let block_len = 1u64 << MEMO_MIN_LEVEL;
                if (block_index + 1) * block_len > self.head.read().expect("head lock").size {
                    return self.rebuild_node(*node);
                }
                if block.as_ref().map(|(i, _)| *i) != Some(block_index) {
                    let leaves = self.read_level(0, block_index * block_len, block_len as usize)?;
                    block = Some((block_index, leaves));
                }
                let (_, leaves) = block.as_ref().expect("block just read");
                let offset = (first_leaf - block_index * block_len) as usize;
                Ok(subtree_root(
                    self.alg,
                    leaves[offset..offset + (1 << node.level)].to_vec(),
                ))
            })
            .collect()
    }

    fn remembered_range(&self, start: u64, end: u64) -> Option<Hash> {
        let ranges = self.ranges.read().expect("ranges lock");
        ranges.get(&(start, end)).copied()
    }

    fn remember_range(&self, start: u64, end: u64, hash: Hash) {
        let mut ranges = self.ranges.write().expect("ranges lock");
        if ranges.len() >= RANGES_MAX {
            ranges.clear();
        }
        ranges.insert((start, end), hash);
    }
}

impl Shared {
    /// The hash of the complete node `node`: remembered, or read and rebuilt.
    fn node_hash(&self, node: Node) -> Result<Hash> {
        if node.level < MEMO_MIN_LEVEL {
            return self.rebuild_node(node);
        }
        if let Some(hash) = self.memo.read().expect("memo lock").get(&node) {
            return Ok(*hash);
        }
        // A chunk that cannot be read whole (it reaches damaged data, say) leaves the
        // node to be rebuilt from its own hashes, which may lie before the damage.
        match self.rebuild_chunk(node) {
            Ok(Some(hash)) => Ok(hash),
            Ok(None) | Err(_) => {
                let hash = self.rebuild_node(node)?;
                self.remember([(node, hash)]);
                Ok(hash)
            }
        }
    }

    /// Rebuilds the whole chunk of `node` — the 128 stored hashes under the node of
    /// level `8s + 7` above it, `s` being the stored level beneath it — remembering
    /// every node of level [`MEMO_MIN_LEVEL`] and up in it, and returns `node`'s hash.
    /// `None` when `node` is itself stored or its chunk is not complete yet (the right
    /// edge of the tree). One 4 KiB read and 127 hashes warm 31 to 127 nodes, so a
    /// freshly opened log answers random proofs from memory after a few thousand of
    /// them instead of after hundreds of thousands of one-node misses.
    fn rebuild_chunk(&self, node: Node) -> Result<Option<Hash>> {
        let depth = node.level % 8;
        if depth == 0 {
            return Ok(None);
        }
        let base = node.level - depth;
        let top = base + 7;
        let chunk = node.index >> (top - node.level);
        let stored_first = chunk << 7;
        let stored_complete = self.head.read().expect("head lock").size >> base;
        if stored_first + 128 > stored_complete {
            return Ok(None);
        }
        let mut hashes = self.read_level(usize::from(base / 8), stored_first, 128)?;
        let mut level = base;
        let mut first = stored_first;
        let mut found = None;
        let mut learned = Vec::with_capacity(127);
        while hashes.len() > 1 {
            hashes = parents(self.alg, &hashes);
            level += 1;
            first >>= 1;
            if level >= MEMO_MIN_LEVEL {
                learned.extend(
                    (first..)
                        .zip(&hashes)
                        .map(|(index, hash)| (Node::new(level, index), *hash)),
                );
            }
            if level == node.level {
                found = Some(hashes[(node.index - first) as usize]);
            }
        }
        self.remember(learned);
        Ok(found)
    }

    /// Adds complete nodes to the memo, emptying it first if they would overfill it.
    fn remember(&self, nodes: impl IntoIterator<Item = (Node, Hash)>) {
        let nodes = nodes.into_iter();
        let mut memo = self.memo.write().expect("memo lock");
        if memo.len() + nodes.size_hint().0 > MEMO_MAX_NODES {
            memo.clear();
        }
        memo.extend(nodes);
    }

    /// Reads the stored hashes beneath the complete node `node` (at most 128, one
    /// read from the stored level below it) and hashes them up to `node`.
    fn rebuild_node(&self, node: Node) -> Result<Hash> {
        let depth = node.level % 8;
        let stored_level = node.level / 8;
        let hashes = self.read_level(stored_level as usize, node.index << depth, 1 << depth)?;
        Ok(subtree_root(self.alg, hashes))
    }
}

/// The hashes one level up from `hashes` (an even number of sibling nodes).
fn parents(alg: HashAlg, hashes: &[Hash]) -> Vec<Hash> {
    hashes
        .chunks_exact(2)
        .map(|pair| alg.node_hash(&pair[0], &pair[1]))
        .collect()
}

/// The root of the complete subtree whose nodes at one level are `hashes` (a power of
/// two of them, at least one).
fn subtree_root(alg: HashAlg, mut hashes: Vec<Hash>) -> Hash {
    while hashes.len() > 1 {
        hashes = parents(alg, &hashes);
    }
    hashes[0]
}

/// The signed checkpoint body for (`origin`, `size`, `root`).
pub(crate) fn checkpoint_body(origin: &str, size: u64, root: &Hash) -> String {
    Checkpoint {
        origin: origin.to_string(),
        size,
        root: *root,
        extensions: Vec::new(),
    }
    .to_body()
}

/// Whether `note` is a note whose body is the checkpoint (`origin`, `size`, `root`).
/// Checks the text only; signatures are checked where it matters (see callers).
fn note_body_matches(origin: &str, note: &str, size: u64, root: &Hash) -> bool {
    let body = checkpoint_body(origin, size, root);
    note.len() > body.len() && note.starts_with(&body) && note.as_bytes()[body.len()] == b'\n'
}

struct Meta {
    origin: String,
    hash: HashAlg,
    vkey: String,
    synced: Synced,
    /// Whether the `published` file was made (so must exist).
    published_recorded: bool,
}

fn read_meta(db: &Database) -> Result<Meta> {
    let txn = db.begin_read().map_err(db_err)?;
    let table = txn.open_table(META).map_err(db_err)?;
    let get = |key: &str| -> Result<Vec<u8>> {
        Ok(table
            .get(key)
            .map_err(db_err)?
            .ok_or_else(|| Error::Corrupt(format!("meta.redb has no {key}")))?
            .value()
            .to_vec())
    };
    if get(META_FORMAT)? != FORMAT_VERSION {
        return Err(Error::Corrupt("unsupported data directory format".into()));
    }
    let text = |key: &str| -> Result<String> {
        String::from_utf8(get(key)?)
            .map_err(|_| Error::Corrupt(format!("meta.redb {key} is not UTF-8")))
    };
    let synced = match table.get(META_SYNCED).map_err(db_err)? {
        Some(value) => postcard::from_bytes(value.value())
            .map_err(|_| Error::Corrupt("meta.redb sync state does not decode".into()))?,
        None => Synced::default(),
    };
    Ok(Meta {
        origin: text(META_ORIGIN)?,
        hash: text(META_HASH)?.parse()?,
        vkey: text(META_VKEY)?,
        synced,
        published_recorded: table.get(META_PUBLISHED).map_err(db_err)?.is_some(),
    })
}

/// Checks `pins` against those recorded in `db`, recording the new ones (in one
/// durable transaction). Returns the names recorded.
fn check_pins(db: &Database, pins: &[KeyPin<'_>]) -> Result<Vec<String>> {
    let mut new = Vec::new();
    {
        let txn = db.begin_read().map_err(db_err)?;
        let table = txn.open_table(META).map_err(db_err)?;
        for pin in pins {
            let key = format!("{META_PIN_PREFIX}{}", pin.name);
            match table.get(key.as_str()).map_err(db_err)? {
                Some(recorded) if recorded.value() == pin.fingerprint.as_slice() => {}
                Some(_) => {
                    return Err(Error::KeyMismatch {
                        name: pin.name.to_owned(),
                    })
                }
                None => new.push((key, pin)),
            }
        }
    }
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let txn = db.begin_write().map_err(db_err)?;
    {
        let mut table = txn.open_table(META).map_err(db_err)?;
        for (key, pin) in &new {
            table
                .insert(key.as_str(), pin.fingerprint.as_slice())
                .map_err(db_err)?;
        }
    }
    txn.commit().map_err(db_err)?;
    Ok(new
        .into_iter()
        .map(|(_, pin)| pin.name.to_owned())
        .collect())
}

/// Records `key` as present in the meta table (durably).
fn write_meta_flag(db: &Database, key: &str) -> Result<()> {
    let txn = db.begin_write().map_err(db_err)?;
    {
        let mut meta = txn.open_table(META).map_err(db_err)?;
        meta.insert(key, b"1".as_slice()).map_err(db_err)?;
    }
    txn.commit().map_err(db_err)
}

fn write_synced(db: &Database, synced: &Synced) -> Result<()> {
    let bytes = postcard::to_allocvec(synced).map_err(|e| Error::Db(e.to_string()))?;
    let mut txn = db.begin_write().map_err(db_err)?;
    txn.set_durability(redb::Durability::Immediate);
    {
        let mut meta = txn.open_table(META).map_err(db_err)?;
        meta.insert(META_SYNCED, bytes.as_slice()).map_err(db_err)?;
    }
    txn.commit().map_err(db_err)
}

/// Who a log is: its configuration and the verifier key of its log key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogIdentity {
    pub config: LogConfig,
    pub vkey: String,
}

/// Reads the identity of the log in `dir` without opening it for writing (no key
/// needed), e.g. to check a `--hash` flag against an existing log, or to audit it.
pub fn describe(dir: &Path) -> Result<LogIdentity> {
    let db_path = dir.join(META_DB);
    if !db_path.exists() {
        return Err(Error::NotALedger {
            path: dir.to_path_buf(),
            missing: META_DB,
        });
    }
    let db = meta_db_builder().open(&db_path).map_err(db_err)?;
    let meta = read_meta(&db)?;
    Ok(LogIdentity {
        config: LogConfig {
            origin: meta.origin,
            hash: meta.hash,
        },
        vkey: meta.vkey,
    })
}

/// One batch of a log as read straight from its journal: what an auditor re-hashes and
/// replays. Nothing in it has been checked beyond its framing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogBatch {
    pub first_index: u64,
    pub entries: Vec<Vec<u8>>,
    /// The tree size, root and signed checkpoint the commit record claims.
    pub tree_size: u64,
    pub root: Hash,
    pub checkpoint: String,
}

/// Reads the log in `dir` batch by batch without its key and without the indexes,
/// calling `visit` for each batch in order (its identity: [`describe`]). Checks framing
/// only: re-hashing, checking signatures and replaying are the caller's (auditor's)
/// job. Returns why reading stopped before the end of the file, if it did (a torn last
/// batch of a log not reopened since a crash, or damage).
pub fn read_log(
    dir: &Path,
    visit: &mut dyn FnMut(LogBatch) -> Result<()>,
) -> Result<Option<String>> {
    if !dir.join(META_DB).exists() {
        return Err(Error::NotALedger {
            path: dir.to_path_buf(),
            missing: META_DB,
        });
    }
    let journal_path = dir.join(JOURNAL);
    let journal = File::open(&journal_path).map_err(Error::io(&journal_path))?;
    let mut records = journal::RecordReader::new(&journal, journal::MAGIC.len() as u64)?;
    let mut batch_start = None;
    let mut entries = Vec::new();
    let stopped_early = loop {
        match records.next_record()? {
            Ok(None) if entries.is_empty() => break None,
            Ok(None) => break Some("entries without a commit record at the end".to_string()),
            Err(reason) => break Some(reason),
            Ok(Some(journal::RawRecord::Frame {
                first_index,
                count,
                payload,
                ..
            })) => {
                let split = journal::split_payload(&payload, count).ok_or_else(|| {
                    Error::Corrupt(format!("the frame of entry {first_index} is malformed"))
                })?;
                batch_start.get_or_insert(first_index);
                entries.extend(split.into_iter().map(<[u8]>::to_vec));
            }
            Ok(Some(journal::RawRecord::Commit {
                tree_size,
                root,
                note,
                ..
            })) => {
                let checkpoint = String::from_utf8(note).map_err(|_| {
                    Error::Corrupt(format!("the checkpoint at size {tree_size} is not UTF-8"))
                })?;
                let first_index = batch_start.take().unwrap_or(tree_size);
                visit(LogBatch {
                    first_index,
                    entries: std::mem::take(&mut entries),
                    tree_size,
                    root,
                    checkpoint,
                })?;
            }
        }
    };
    Ok(stopped_early)
}

fn db_err(e: impl std::fmt::Display) -> Error {
    Error::Db(e.to_string())
}
