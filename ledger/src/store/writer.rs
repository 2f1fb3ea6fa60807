//! The writer: recovery at open, then committing batches of queued requests.
//!
//! Exactly one thread at a time holds it (see `queue.rs`): the writer thread for async
//! callers, or a blocking caller committing the queue itself, so blocking file and redb
//! calls never touch an async executor. A commit writes the batch's entries and one
//! signed checkpoint with a single `write`, `fdatasync`s, then answers every request of
//! the batch. On any IO error it answers the batch with the error and the writer is
//! dropped for good: after a failed fsync the page cache can no longer be trusted, and
//! reopening the store recovers from the journal.
//!
//! The journal is extended ahead of the writes in [`JOURNAL_CHUNK`]s of real zeros,
//! fsynced once, so that each batch's `fdatasync` overwrites allocated blocks and need
//! not also commit a new file size to the filesystem's own journal (measured here: about
//! 200 µs for an append-and-fdatasync against 140 µs for an overwrite).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use redb::Database;
use tokio::sync::oneshot;

use super::journal::{self, CheckpointRow, FrameRow, ReplayedBatch, Stop};
use super::meta::{write_meta_flag, write_synced, Synced, META_PUBLISHED};
use super::published::{PublishedFile, PublishedHead};
use super::{
    hashes_file, note_body_matches, sync_dir, Appended, Head, Shared, CHECKPOINTS, FRAMES, JOURNAL,
    MAX_ENTRY_LEN, SYNC_EVERY,
};
use crate::checkpoint::Checkpoint;
use crate::merkle::Frontier;
use crate::note::NoteSigner;
use crate::{Error, Hash, HashAlg, Result};

/// How far ahead of the writes the journal is extended with zeros.
const JOURNAL_CHUNK: u64 = 4 << 20;

/// Batches at least this large hash their leaves on two threads.
const PARALLEL_HASHING_MIN: usize = 512;

/// One caller's entries and where to send the answer.
pub(crate) struct Request {
    entries: Vec<Vec<u8>>,
    answer: oneshot::Sender<Result<Appended>>,
}

impl Request {
    /// Checks what can be checked before queueing, so one caller's bad entry never
    /// fails another caller's commit.
    pub fn new(entries: Vec<Vec<u8>>) -> Result<(Request, oneshot::Receiver<Result<Appended>>)> {
        if entries.is_empty() {
            return Err(Error::EmptyBatch);
        }
        if let Some(entry) = entries.iter().find(|e| e.len() > MAX_ENTRY_LEN) {
            return Err(Error::EntryTooLarge(entry.len()));
        }
        let (answer, receiver) = oneshot::channel();
        Ok((Request { entries, answer }, receiver))
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Answers it with `error`.
    pub fn fail(self, error: Error) {
        let _ = self.answer.send(Err(error));
    }
}

/// The writer's handles and the tree as of the last commit.
pub(crate) struct Writer {
    shared: Arc<Shared>,
    db: Database,
    signer: NoteSigner,
    journal: File,
    /// End of the last commit record: where the next batch goes.
    journal_len: u64,
    /// Physical length of the journal; `[journal_len, journal_reserved)` is all zeros.
    journal_reserved: u64,
    levels: Vec<IndexFile>,
    frames: IndexFile,
    checkpoints: IndexFile,
    frontier: Frontier,
    synced: Synced,
    /// Where each commit records the tree it published (`published.rs`).
    published: PublishedFile,
    /// Reused for every batch's journal bytes.
    buf: Vec<u8>,
}

/// An append-only index file of fixed-size rows, written positionally.
struct IndexFile {
    file: File,
    path: PathBuf,
    row_len: u64,
    rows: u64,
    pending: Vec<u8>,
}

impl IndexFile {
    fn open(shared: &Shared, name: String, row_len: u64) -> Result<IndexFile> {
        let path = shared.dir.join(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(Error::io(&path))?;
        let len = file.metadata().map_err(Error::io(&path))?.len();
        Ok(IndexFile {
            file,
            path,
            row_len,
            rows: len / row_len,
            pending: Vec::new(),
        })
    }

    /// Cuts the file to `rows` rows, or reports that it holds fewer.
    fn truncate(&mut self, rows: u64) -> Result<bool> {
        if self.rows < rows {
            return Ok(false);
        }
        self.file
            .set_len(rows * self.row_len)
            .map_err(Error::io(&self.path))?;
        self.rows = rows;
        Ok(true)
    }

    /// Every row, decoded; an error if one is damaged.
    fn read_rows<T>(&self, decode: fn(&[u8]) -> Option<T>) -> Result<Vec<T>> {
        let mut buf = vec![0u8; (self.rows * self.row_len) as usize];
        self.file
            .read_exact_at(&mut buf, 0)
            .map_err(Error::io(&self.path))?;
        buf.chunks_exact(self.row_len as usize)
            .map(decode)
            .collect::<Option<_>>()
            .ok_or_else(|| Error::Corrupt("an index row is damaged (non-zero padding)".into()))
    }

    /// Writes the pending rows after the existing ones (no fsync).
    fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.file
            .write_all_at(&self.pending, self.rows * self.row_len)
            .map_err(Error::io(&self.path))?;
        self.rows += self.pending.len() as u64 / self.row_len;
        self.pending.clear();
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(Error::io(&self.path))
    }
}

impl Writer {
    /// Brings the indexes level with the journal and truncates a torn last batch.
    ///
    /// Trusts the index rows recorded durable in `synced` and replays the journal from
    /// there; if the indexes are shorter than recorded (they were damaged or deleted),
    /// rebuilds them all from the journal.
    ///
    /// Refuses (changing nothing but the derived index files) a journal that holds
    /// less than the log has published, or a different tree at the published size:
    /// recovery may cut only a batch that was never acknowledged.
    pub fn recover(
        shared: Arc<Shared>,
        db: Database,
        journal: File,
        synced: Synced,
        published_recorded: bool,
        signer: NoteSigner,
    ) -> Result<Writer> {
        // The floor: what the log is known to have published. The `published` file is
        // the precise record; the sync state in meta.redb is a second, coarser witness
        // (its tree size was published before it was recorded).
        let (published, published_head) = match PublishedFile::open(&shared.dir)? {
            Some(found) => found,
            None if published_recorded => return Err(Error::PublishedMissing),
            // A data directory from before the file existed: start it now.
            None => {
                PublishedFile::create(&shared.dir)?;
                PublishedFile::open(&shared.dir)?.ok_or(Error::PublishedMissing)?
            }
        };
        let floor = published_head
            .map_or(0, |head| head.size)
            .max(synced.tree_size);
        let physical_len = journal
            .metadata()
            .map_err(Error::io(shared.dir.join(JOURNAL)))?
            .len();
        let mut frames = IndexFile::open(&shared, FRAMES.into(), FrameRow::LEN as u64)?;
        let mut checkpoints =
            IndexFile::open(&shared, CHECKPOINTS.into(), CheckpointRow::LEN as u64)?;
        let mut levels = Vec::new();
        while shared.dir.join(hashes_file(levels.len())).exists()
            || levels.len() < synced.hash_rows.len()
        {
            levels.push(IndexFile::open(&shared, hashes_file(levels.len()), 32)?);
        }
        let mut synced = synced;
        let mut trusted = synced.journal_len >= journal::MAGIC.len() as u64
            && synced.journal_len <= physical_len
            && frames.truncate(synced.frame_rows)?
            && checkpoints.truncate(synced.checkpoint_rows)?;
        for (level, file) in levels.iter_mut().enumerate() {
            let rows = synced.hash_rows.get(level).copied().unwrap_or(0);
            trusted = trusted && file.truncate(rows)?;
        }
        if !trusted {
            synced = Synced {
                journal_len: journal::MAGIC.len() as u64,
                ..Synced::default()
            };
            frames.truncate(0)?;
            checkpoints.truncate(0)?;
            for file in &mut levels {
                file.truncate(0)?;
            }
        }
        *shared.frames.write().expect("frame index lock") = frames.read_rows(FrameRow::decode)?;
        *shared.checkpoints.write().expect("checkpoint index lock") =
            checkpoints.read_rows(CheckpointRow::decode)?;
        // The rows trusted so far must describe the journal up to where replay starts.
        check_layout(&shared, synced.journal_len)?;
        let mut writer = Writer {
            journal_len: synced.journal_len,
            journal_reserved: physical_len,
            levels: Vec::new(),
            frames,
            checkpoints,
            frontier: Frontier::new(),
            synced: synced.clone(),
            published,
            buf: Vec::new(),
            shared,
            db,
            signer,
            journal,
        };
        for file in levels {
            writer.add_level(file)?;
        }
        writer.frontier = Frontier::load(synced.tree_size, &*writer.shared)?;

        // Replay the tail; keep every batch that checks, except that the last one's
        // signature must also verify (only the last batch can be torn, see journal.rs).
        let shared = writer.shared.clone();
        let mut batches: Vec<(u64, ReplayedBatch)> = Vec::new();
        let mut batch_start = synced.journal_len;
        let end = journal::replay(
            &writer.journal,
            synced.journal_len,
            shared.alg,
            writer.frontier.clone(),
            &mut |note, size, root| note_body_matches(&shared.origin, note, size, root),
            &mut |batch| {
                let start = batch_start;
                batch_start = batch.checkpoint.note_offset + u64::from(batch.checkpoint.note_len);
                batches.push((start, batch));
                Ok(())
            },
        )?;
        let mut good_offset = end.good_offset;
        let mut torn = matches!(end.stop, Stop::Torn { .. });
        if let Some((start, last)) = batches.last() {
            if crate::checkpoint::open_checkpoint(&last.note, &shared.verifier).is_err() {
                good_offset = *start;
                torn = true;
                batches.pop();
            }
        }
        // Before anything is cut: what remains must reach what was published.
        let start_size = writer.frontier.size();
        let kept_size = batches
            .last()
            .map_or(start_size, |(_, batch)| batch.checkpoint.tree_size);
        if kept_size < floor {
            return Err(Error::RolledBack {
                journal: kept_size,
                published: floor,
            });
        }
        if let Some(head) = published_head {
            writer.check_published_root(head, start_size, &batches)?;
        }
        writer.journal_len = good_offset;
        if torn || !writer.tail_is_zero()? {
            writer.erase_tail()?;
        }
        let replayed = !batches.is_empty();
        for (_, batch) in batches {
            writer.index_batch(&batch.frames, &batch.tile_nodes, batch.checkpoint)?;
        }
        writer.flush_indexes(true)?;
        writer.frontier = Frontier::load(writer.frames_size(), &*shared)?;
        check_layout(&shared, writer.journal_len)?;
        writer.publish_latest()?;
        if writer.shared.checkpoint_rows().is_empty() {
            // A new log: sign the empty tree so there is always a checkpoint to serve.
            writer.commit_entries(&[])?;
        }
        let head = writer.shared.head.read().expect("head lock").clone();
        if published_head
            != Some(PublishedHead {
                size: head.size,
                root: head.root,
            })
        {
            writer
                .published
                .record(&writer.shared.dir, head.size, &head.root)?;
            writer.published.sync(&writer.shared.dir)?;
        }
        if !published_recorded {
            sync_dir(&writer.shared.dir).map_err(Error::io(&writer.shared.dir))?;
            write_meta_flag(&writer.db, META_PUBLISHED)?;
        }
        if replayed || torn || !trusted {
            writer.sync()?;
        }
        Ok(writer)
    }

    /// Checks that the tree at the published size is the published one: the root the
    /// journal's own commit record holds there, or (for a size before the replay
    /// started) the root recomputed from the stored hashes.
    fn check_published_root(
        &self,
        published: PublishedHead,
        start_size: u64,
        batches: &[(u64, ReplayedBatch)],
    ) -> Result<()> {
        let root = if published.size == start_size {
            Some(self.frontier.root(self.shared.alg))
        } else if published.size < start_size {
            Some(crate::merkle::tree_hash(
                self.shared.alg,
                published.size,
                &*self.shared,
            )?)
        } else {
            batches
                .iter()
                .find(|(_, batch)| batch.checkpoint.tree_size == published.size)
                .map(|(_, batch)| batch.root)
        };
        if root != Some(published.root) {
            return Err(Error::PublishedRootMismatch {
                size: published.size,
            });
        }
        Ok(())
    }

    /// The tree size the frame index reaches.
    fn frames_size(&self) -> u64 {
        self.shared
            .frame_rows()
            .last()
            .map_or(0, FrameRow::end_index)
    }

    /// Publishes the latest indexed checkpoint as the head.
    fn publish_latest(&mut self) -> Result<()> {
        let last = self.shared.checkpoint_rows().last().copied();
        if let Some(row) = last {
            let note = self.shared.read_note(&row)?;
            if row.tree_size != self.frontier.size() {
                return Err(Error::Corrupt(
                    "the last checkpoint does not cover the last entry".into(),
                ));
            }
            // What will be served must verify: the note's signature, and its root
            // against the tree rebuilt from the stored hashes (the frontier).
            let root = self.frontier.root(self.shared.alg);
            if crate::checkpoint::open_checkpoint(&note, &self.shared.verifier).is_err() {
                return Err(Error::Corrupt(format!(
                    "the checkpoint at size {} does not verify with the log key",
                    row.tree_size
                )));
            }
            if !note_body_matches(&self.shared.origin, &note, row.tree_size, &root) {
                return Err(Error::Corrupt(format!(
                    "the stored hashes give a root at size {} other than the signed \
                     checkpoint's; delete the hashes.* files to rebuild them",
                    row.tree_size
                )));
            }
            *self.shared.head.write().expect("head lock") = Head {
                size: row.tree_size,
                root,
                checkpoint: Arc::from(note),
            };
        }
        Ok(())
    }

    fn add_level(&mut self, file: IndexFile) -> Result<()> {
        let reader = File::open(&file.path).map_err(Error::io(&file.path))?;
        self.shared
            .levels
            .write()
            .expect("levels lock")
            .push(Arc::new(reader));
        self.levels.push(file);
        Ok(())
    }

    /// Queues the index rows of one batch (written by [`Writer::flush_indexes`]) and
    /// records them in memory for readers.
    fn index_batch(
        &mut self,
        frames: &[FrameRow],
        tile_nodes: &[(crate::merkle::Node, Hash)],
        checkpoint: CheckpointRow,
    ) -> Result<()> {
        for (node, hash) in tile_nodes {
            let level = node.level as usize / 8;
            while self.levels.len() <= level {
                let file = IndexFile::open(&self.shared, hashes_file(self.levels.len()), 32)?;
                self.add_level(file)?;
            }
            self.levels[level]
                .pending
                .extend_from_slice(hash.as_bytes());
        }
        for row in frames {
            row.encode(&mut self.frames.pending);
        }
        checkpoint.encode(&mut self.checkpoints.pending);
        self.shared
            .frames
            .write()
            .expect("frame index lock")
            .extend_from_slice(frames);
        self.shared
            .checkpoints
            .write()
            .expect("checkpoint index lock")
            .push(checkpoint);
        Ok(())
    }

    /// Writes the queued index rows. Readers need the stored hashes on file at once;
    /// frame and checkpoint rows they read from memory, so those files can wait for the
    /// next sync (`all`), and a crash before it is repaired by replaying the journal.
    fn flush_indexes(&mut self, all: bool) -> Result<()> {
        for file in &mut self.levels {
            file.flush()?;
        }
        if all {
            self.frames.flush()?;
            self.checkpoints.flush()?;
        }
        Ok(())
    }

    /// Overwrites everything after the last good commit with zeros: a torn batch, or
    /// anything else that is not a record, so it can never be mistaken for one later.
    fn erase_tail(&mut self) -> Result<()> {
        let path = self.shared.dir.join(JOURNAL);
        super::write_zeros(&self.journal, self.journal_len, self.journal_reserved)
            .map_err(Error::io(&path))?;
        self.journal.sync_data().map_err(Error::io(&path))
    }

    /// Whether everything after the last good commit is zeros, as reserved space is.
    fn tail_is_zero(&self) -> Result<bool> {
        let mut buf = vec![0u8; 64 << 10];
        let mut at = self.journal_len;
        while at < self.journal_reserved {
            let len = (self.journal_reserved - at).min(buf.len() as u64) as usize;
            self.journal
                .read_exact_at(&mut buf[..len], at)
                .map_err(Error::io(self.shared.dir.join(JOURNAL)))?;
            if buf[..len].iter().any(|&b| b != 0) {
                return Ok(false);
            }
            at += len as u64;
        }
        Ok(true)
    }

    /// Makes sure `[journal_len, end)` is reserved: zeroed, with the file's new length
    /// durable.
    fn reserve(&mut self, end: u64) -> Result<()> {
        if end <= self.journal_reserved {
            return Ok(());
        }
        let new_reserved = end.div_ceil(JOURNAL_CHUNK) * JOURNAL_CHUNK;
        let path = self.shared.dir.join(JOURNAL);
        // Nothing past `journal_reserved` is part of the log yet, so a failure here
        // changes nothing that matters: a full disk is reported as such, and the next
        // batch tries again (zeros written so far are written again).
        super::write_zeros(&self.journal, self.journal_reserved, new_reserved)
            .and_then(|()| self.journal.sync_data())
            .map_err(|e| super::storage_error(&path, e))?;
        self.journal_reserved = new_reserved;
        Ok(())
    }

    /// Makes the indexes durable and records how far they reach.
    pub fn sync(&mut self) -> Result<()> {
        self.flush_indexes(true)?;
        for file in &self.levels {
            file.sync()?;
        }
        self.frames.sync()?;
        self.checkpoints.sync()?;
        self.published.sync(&self.shared.dir)?;
        sync_dir(&self.shared.dir).map_err(Error::io(&self.shared.dir))?;
        self.synced = Synced {
            journal_len: self.journal_len,
            tree_size: self.frontier.size(),
            hash_rows: self.levels.iter().map(|f| f.rows).collect(),
            frame_rows: self.frames.rows,
            checkpoint_rows: self.checkpoints.rows,
        };
        write_synced(&self.db, &self.synced)
    }

    /// Commits one group of requests and answers each. An error has already been sent
    /// to every caller of the group when it is returned.
    pub fn commit(&mut self, requests: Vec<Request>) -> Result<()> {
        let entries: Vec<&[u8]> = requests
            .iter()
            .flat_map(|r| r.entries.iter().map(|e| e.as_slice()))
            .collect();
        let first_index = self.frontier.size();
        match self.commit_entries(&entries) {
            Ok((leaf_hashes, head)) => {
                let mut at = 0;
                for request in requests {
                    let count = request.entries.len();
                    let _ = request.answer.send(Ok(Appended {
                        first_index: first_index + at as u64,
                        leaf_hashes: leaf_hashes[at..at + count].to_vec(),
                        tree_size: head.size,
                        root: head.root,
                        checkpoint: head.checkpoint.clone(),
                    }));
                    at += count;
                }
                if self.frontier.size() - self.synced.tree_size >= SYNC_EVERY {
                    self.sync()?;
                }
                Ok(())
            }
            // Nothing was written: the writer carries on, and so can the next batch
            // once there is room.
            Err(Error::StorageFull { path }) => {
                for request in requests {
                    request.fail(Error::StorageFull { path: path.clone() });
                }
                Ok(())
            }
            Err(error) => {
                let message = error.to_string();
                for request in requests {
                    let _ = request
                        .answer
                        .send(Err(Error::Corrupt(format!("commit failed: {message}"))));
                }
                Err(error)
            }
        }
    }

    /// Appends `entries` to the journal with a signed checkpoint, fdatasyncs, updates
    /// the indexes and publishes the new head. Returns the entries' leaf hashes.
    fn commit_entries(&mut self, entries: &[&[u8]]) -> Result<(Vec<Hash>, Head)> {
        // Room first, before the tree changes: a full disk must leave the writer as it
        // was. An upper bound: a frame header per entry, the commit header and the
        // largest note.
        let most = entries
            .iter()
            .map(|e| (e.len() + 2 + journal::ENTRIES_HEADER_LEN) as u64)
            .sum::<u64>()
            + (journal::COMMIT_HEADER_LEN + usize::from(u16::MAX)) as u64;
        self.reserve(self.journal_len + most)?;
        let alg = self.shared.alg;
        let first_index = self.frontier.size();
        let leaf_hashes = leaf_hashes(alg, entries);
        let mut tile_nodes = Vec::new();
        for leaf in &leaf_hashes {
            self.frontier.push(alg, *leaf, |node, hash| {
                if node.level % 8 == 0 {
                    tile_nodes.push((node, *hash));
                }
            });
        }
        let size = self.frontier.size();
        let root = self.frontier.root(alg);
        let body = Checkpoint::new(self.shared.origin.as_str(), size, root).to_body();
        let note = crate::note::sign(crate::note::Note::new(&body)?, &[&self.signer])?;
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let frames = journal::encode_frames(&mut buf, self.journal_len, first_index, entries);
        let checkpoint = journal::encode_commit(&mut buf, self.journal_len, size, &root, &note);
        self.reserve(self.journal_len + buf.len() as u64)?;
        let journal_path = || self.shared.dir.join(JOURNAL);
        self.journal
            .write_all_at(&buf, self.journal_len)
            .map_err(Error::io(journal_path()))?;
        self.journal
            .sync_data()
            .map_err(Error::io(journal_path()))?;
        self.journal_len += buf.len() as u64;
        self.buf = buf;
        self.published.record(&self.shared.dir, size, &root)?;

        self.index_batch(&frames, &tile_nodes, checkpoint)?;
        self.flush_indexes(false)?;
        let head = Head {
            size,
            root,
            checkpoint: Arc::from(note),
        };
        *self.shared.head.write().expect("head lock") = head.clone();
        Ok((leaf_hashes, head))
    }
}

/// [`journal::verify_layout`] of the index rows in memory, up to `journal_len`.
fn check_layout(shared: &Shared, journal_len: u64) -> Result<()> {
    journal::verify_layout(&shared.frame_rows(), &shared.checkpoint_rows(), journal_len)
        .map_err(|why| Error::Corrupt(format!("{why}; delete the *.idx files to rebuild them")))
}

/// The leaf hashes of `entries`, on two threads for large batches.
fn leaf_hashes(alg: HashAlg, entries: &[&[u8]]) -> Vec<Hash> {
    let hash_all = |part: &[&[u8]]| part.iter().map(|e| alg.leaf_hash(e)).collect::<Vec<_>>();
    if entries.len() < PARALLEL_HASHING_MIN {
        return hash_all(entries);
    }
    let (left, right) = entries.split_at(entries.len() / 2);
    std::thread::scope(|scope| {
        let right = scope.spawn(|| hash_all(right));
        let mut hashes = hash_all(left);
        hashes.extend(right.join().expect("leaf hashing does not panic"));
        hashes
    })
}
