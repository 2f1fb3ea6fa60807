//! Snapshots of the projection beside the log, so a restart replays only what came
//! after the last snapshot.
//!
//! `projector.snap` holds a chain of segments (`Segment`: the first is the whole state,
//! each later one what changed since the one before), so saving costs what changed,
//! not a copy of everything, and the file stays about the size of the state:
//!
//! ```text
//! file    := "clsnap03" segment*
//! segment := "SEG1" tree_size:u64le root[32] dedup_count:u64le body_len:u64le
//!            BLAKE3(body)[32] body
//! ```
//!
//! A segment is used only if the log still has that root at that size (so a snapshot
//! can never be applied to another log or to a log that was rebuilt), its bytes match
//! their hash (a flipped bit on disk is a cache miss, never wrong counts served) and it
//! follows the segment before; loading stops at the first that is not, cuts the file
//! there, and the entries after it are replayed from the store. Snapshots are a cache:
//! deleting `projector.snap` costs one full replay, nothing else.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use ledger::store::{sync_dir, Store};
use ledger::Hash;

use crate::{Error, Projection, Result, Segment, SegmentSource};

const FILE_MAGIC: &[u8; 8] = b"clsnap03";
const SEGMENT_MAGIC: &[u8; 4] = b"SEG1";
/// Magic, tree size, root, dedup tags added, body length, body hash.
const HEADER_LEN: usize = 4 + 8 + 32 + 8 + 8 + 32;
/// Entries read from the store per call while catching up.
const CATCH_UP_CHUNK: u64 = 1 << 16;
/// The earlier snapshot store (one redb value), removed when found: it is a cache.
const EARLIER_FILE: &str = "projector.redb";

/// The snapshot file, `projector.snap` in the data directory.
pub struct Snapshots {
    path: PathBuf,
    chain: Mutex<Chain>,
}

struct Chain {
    file: File,
    /// Where the next segment goes: the end of the last good one.
    end: u64,
    /// Good segments in the file.
    segments: usize,
    /// Set when a write failed: the file's tail is unknown, so nothing more is added
    /// until the next start finds where the good segments end.
    broken: bool,
}

/// The roots of the log a snapshot file belongs to: a segment is used only if its log
/// has its root at its size.
pub trait Roots {
    /// The log's size: no segment beyond it is used.
    fn size(&self) -> u64;
    /// Whether the log's tree of size `size` has the root `root`.
    fn has_root(&self, size: u64, root: &Hash) -> Result<bool>;
}

impl Roots for Store {
    fn size(&self) -> u64 {
        Store::size(self)
    }

    fn has_root(&self, size: u64, root: &Hash) -> Result<bool> {
        Ok(self.root_at(size)? == *root)
    }
}

/// What [`load`] found.
pub struct Loaded {
    /// The projection of the whole log. It tracks changes from the last segment on
    /// if the file had a usable chain (so [`Snapshots::save`] can append them).
    pub projection: Projection,
    /// The tree size the snapshot reflected, if one was used.
    pub snapshot_size: Option<u64>,
    /// Segments used.
    pub segments: usize,
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Db(format!("{}: {e}", path.display()))
}

/// One segment's header.
struct Header {
    tree_size: u64,
    root: Hash,
    /// How many dedup tags the segment adds: loading adds up the chain's and makes
    /// room for them all at once.
    dedup_count: u64,
    body_len: u64,
    body_hash: [u8; 32],
}

impl Header {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..4].copy_from_slice(SEGMENT_MAGIC);
        out[4..12].copy_from_slice(&self.tree_size.to_le_bytes());
        out[12..44].copy_from_slice(self.root.as_bytes());
        out[44..52].copy_from_slice(&self.dedup_count.to_le_bytes());
        out[52..60].copy_from_slice(&self.body_len.to_le_bytes());
        out[60..].copy_from_slice(&self.body_hash);
        out
    }

    fn decode(bytes: &[u8; HEADER_LEN]) -> Option<Header> {
        if &bytes[..4] != SEGMENT_MAGIC {
            return None;
        }
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8"));
        Some(Header {
            tree_size: u64_at(4),
            root: Hash::try_from(&bytes[12..44]).ok()?,
            dedup_count: u64_at(44),
            body_len: u64_at(52),
            body_hash: bytes[60..].try_into().ok()?,
        })
    }
}

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    inner: W,
    hasher: blake3::Hasher,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.len += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Snapshots {
    /// Opens (creating if needed) the snapshot file at `path`. Nothing is read yet:
    /// [`load`] finds the good segments.
    pub fn open(path: &Path) -> Result<Snapshots> {
        if let Some(dir) = path.parent() {
            let earlier = dir.join(EARLIER_FILE);
            if earlier.exists() {
                std::fs::remove_file(&earlier).map_err(io_err(&earlier))?;
            }
        }
        // What a rewrite cut short by a crash left beside the file.
        let _ = std::fs::remove_file(path.with_extension("snap.tmp"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err(path))?;
        Ok(Snapshots {
            path: path.to_path_buf(),
            chain: Mutex::new(Chain {
                file,
                end: 0,
                segments: 0,
                broken: false,
            }),
        })
    }

    fn chain(&self) -> MutexGuard<'_, Chain> {
        self.chain.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many segments the file holds (after [`load`]).
    pub fn segments(&self) -> usize {
        self.chain().segments
    }

    /// Whether the file is one whole segment that later segments may follow: not a
    /// chain of several, and nothing lost since (a failed write, or a segment that was
    /// taken but never written, [`Snapshots::lost_a_segment`]).
    pub fn is_one_whole(&self) -> bool {
        let chain = self.chain();
        chain.segments == 1 && !chain.broken
    }

    /// Says that changes were taken out of a projection but will not be appended, so the
    /// next ones would not follow the file: nothing more is appended until the file is
    /// written whole again ([`Snapshots::rewrite`]) or the next start finds where the
    /// good segments end.
    pub fn lost_a_segment(&self) {
        self.chain().broken = true;
    }

    /// The projection of the good segments that `store` still has the roots of (empty if
    /// none), tracking its changes from them on if there were any, and how many there
    /// were; the file is cut after them.
    fn read_chain(&self, roots: &dyn Roots) -> Result<(Projection, Option<u64>, usize)> {
        let mut chain = self.chain();
        let (mut projection, size, segments, mut end) = read_segments(&chain.file, Some(roots))?;
        if segments > 0 {
            projection.track_changes();
        }
        let file_len = chain.file.metadata().map_err(io_err(&self.path))?.len();
        if end == 0 {
            // A new file, or one that is not a snapshot file: start it again.
            chain
                .file
                .write_all_at(FILE_MAGIC, 0)
                .map_err(io_err(&self.path))?;
            end = FILE_MAGIC.len() as u64;
        }
        if end != file_len {
            // Unusable segments (torn, damaged, of a log that is not this one) after
            // the good ones: cut them off.
            chain.file.set_len(end).map_err(io_err(&self.path))?;
            chain.file.sync_all().map_err(io_err(&self.path))?;
        }
        chain.end = end;
        chain.segments = segments;
        chain.broken = false;
        Ok((projection, size, segments))
    }

    /// Appends what `projection` changed since its last segment (it must track changes,
    /// see [`Projection::track_changes`]), at the tree whose root is `root`, durably.
    /// Nothing is written if nothing changed. Cost: proportional to what changed.
    pub fn save(&self, projection: &mut Projection, root: &Hash) -> Result<()> {
        let Some(segment) = projection.take_segment() else {
            return Err(Error::BadSnapshot(
                "the projection does not track its changes",
            ));
        };
        self.append(&segment, root)
    }

    /// Appends `segment`, taken at the tree whose root is `root`, durably.
    pub fn append(&self, segment: &Segment, root: &Hash) -> Result<()> {
        if segment.is_empty() {
            return Ok(());
        }
        let mut chain = self.chain();
        if chain.broken {
            return Err(Error::Db(format!(
                "{}: an earlier save failed; snapshots resume after a restart",
                self.path.display()
            )));
        }
        let head = (segment.tree_size(), *root, segment.dedup_count());
        let written = write_segment(&chain.file, chain.end, head, |out| segment.write(out))
            .and_then(|end| chain.file.sync_data().map(|()| end));
        chain.broken = written.is_err();
        chain.end = written.map_err(io_err(&self.path))?;
        chain.segments += 1;
        Ok(())
    }

    /// Replaces the file with one segment holding the whole of `projection`, at the tree
    /// whose root is `root` (written beside it, then renamed over it). Cost: one pass
    /// over the state, streamed.
    pub fn rewrite(&self, projection: &Projection, root: &Hash) -> Result<()> {
        let tmp = self.path.with_extension("snap.tmp");
        let err = io_err(&tmp);
        let file = File::create(&tmp).map_err(&err)?;
        file.write_all_at(FILE_MAGIC, 0).map_err(&err)?;
        let end = write_segment(
            &file,
            FILE_MAGIC.len() as u64,
            (projection.tree_size(), *root, projection.dedup_count()),
            |out| projection.write_whole(out),
        )
        .map_err(&err)?;
        file.sync_all().map_err(&err)?;
        std::fs::rename(&tmp, &self.path).map_err(io_err(&self.path))?;
        if let Some(dir) = self.path.parent() {
            sync_dir(dir).map_err(io_err(dir))?;
        }
        let mut chain = self.chain();
        chain.file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(io_err(&self.path))?;
        chain.end = end;
        chain.segments = 1;
        chain.broken = false;
        Ok(())
    }

    /// The projection of the good segments whose log is `roots` (a log kept elsewhere,
    /// such as an auditor's mirror), tracking its changes from them on if there were
    /// any, how many there were, and the tree size they reach; the file is cut after
    /// them.
    pub fn load_from(&self, roots: &dyn Roots) -> Result<(Projection, usize)> {
        let (projection, _, segments) = self.read_chain(roots)?;
        Ok((projection, segments))
    }

    /// Checks the file at `path` without a log at hand (for `check`): every segment's
    /// bytes against their hash, and the chain applied. Returns the segments and the
    /// tree size they reach; torn or unusable bytes after them are reported too.
    pub fn inspect(path: &Path) -> Result<Inspection> {
        let file = File::open(path).map_err(io_err(path))?;
        let len = file.metadata().map_err(io_err(path))?.len();
        let (_, size, segments, end) = read_segments(&file, None)?;
        Ok(Inspection {
            segments,
            tree_size: size.unwrap_or(0),
            unusable_bytes: len.saturating_sub(end.max(FILE_MAGIC.len() as u64)),
        })
    }
}

/// Writes one segment at `at` of `file`: the body streamed by `body` just after the
/// header's place (hashed and counted as it goes), then the header. Returns where the
/// segment ends. Nothing is synced: the caller does.
fn write_segment(
    file: &File,
    at: u64,
    (tree_size, root, dedup_count): (u64, Hash, u64),
    body: impl FnOnce(&mut Hashing<BufWriter<&File>>) -> std::io::Result<()>,
) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let body_at = at + HEADER_LEN as u64;
    let mut out = Hashing {
        inner: BufWriter::with_capacity(1 << 20, file),
        hasher: blake3::Hasher::new(),
        len: 0,
    };
    out.inner.seek(SeekFrom::Start(body_at))?;
    body(&mut out)?;
    out.flush()?;
    let header = Header {
        tree_size,
        root,
        dedup_count,
        body_len: out.len,
        body_hash: *out.hasher.finalize().as_bytes(),
    };
    file.write_all_at(&header.encode(), at)?;
    Ok(body_at + header.body_len)
}

/// What [`Snapshots::inspect`] found.
pub struct Inspection {
    pub segments: usize,
    pub tree_size: u64,
    /// Bytes after the good segments (a torn or damaged segment): dropped at the next
    /// start, and the entries they covered replayed.
    pub unusable_bytes: u64,
}

/// Reads and applies the good segments of `file`: the projection, its tree size, how
/// many segments and where they end (0 if the file does not start with the magic).
/// With `roots`, a segment counts only if its log has its root at its size.
fn read_segments(
    file: &File,
    roots: Option<&dyn Roots>,
) -> Result<(Projection, Option<u64>, usize, u64)> {
    let len = file.metadata().map_err(|e| Error::Db(e.to_string()))?.len();
    let mut magic = [0u8; FILE_MAGIC.len()];
    if file.read_exact_at(&mut magic, 0).is_err() || &magic != FILE_MAGIC {
        return Ok((Projection::new(), None, 0, 0));
    }
    let headers = read_headers(file, len);
    let mut projection = Projection::new();
    // Room for the whole chain at once, bounded by what the file and the log can hold
    // (a damaged header cannot make loading reserve absurd amounts).
    let dedup_total = headers
        .iter()
        .fold(0u64, |total, (_, h)| total.saturating_add(h.dedup_count));
    let last_size = headers.last().map_or(0, |(_, h)| h.tree_size);
    projection.reserve_for_segments(
        dedup_total.min(len / 20),
        last_size.min(roots.map_or(len / 20, |r| r.size())),
    );
    let mut at = FILE_MAGIC.len() as u64;
    let mut size = None;
    let mut segments = 0;
    let mut buffer = Vec::new();
    for (header_at, header) in headers {
        debug_assert_eq!(header_at, at);
        let body_at = at + HEADER_LEN as u64;
        if let Some(roots) = roots {
            if header.tree_size > roots.size() || !roots.has_root(header.tree_size, &header.root)? {
                break;
            }
        }
        // The body is read twice, a piece at a time into one buffer: once to check its
        // hash (so a damaged segment leaves the ones before it usable), once to apply
        // it. At millions of signatures reading it again from the page cache costs a
        // fraction of what the fresh memory for a whole body would.
        let mut source = FileSource::new(file, body_at, header.body_len, &mut buffer);
        if source.hash().ok().as_ref() != Some(&header.body_hash) {
            break;
        }
        if projection.apply_segment_from(&mut source).is_err()
            || projection.tree_size() != header.tree_size
        {
            // Part of it may have been applied: nothing of the chain can be trusted.
            return Ok((Projection::new(), None, 0, FILE_MAGIC.len() as u64));
        }
        at = body_at + header.body_len;
        size = Some(header.tree_size);
        segments += 1;
    }
    Ok((projection, size, segments, at))
}

/// Bytes read at a time from a segment's body.
const READ_PIECE: usize = 4 << 20;

/// A segment's body in the file, read a piece at a time into one buffer.
struct FileSource<'a> {
    file: &'a File,
    at: u64,
    end: u64,
    /// Read and not yet decoded: `buf[start..]`.
    buf: &'a mut Vec<u8>,
    start: usize,
    /// Bytes read at a time: [`READ_PIECE`] (tests use tiny pieces).
    piece: usize,
}

impl<'a> FileSource<'a> {
    fn new(file: &'a File, at: u64, len: u64, buf: &'a mut Vec<u8>) -> FileSource<'a> {
        buf.clear();
        FileSource {
            file,
            at,
            end: at + len,
            buf,
            start: 0,
            piece: READ_PIECE,
        }
    }

    /// The BLAKE3 hash of the whole body, read without keeping it.
    fn hash(&mut self) -> std::io::Result<[u8; 32]> {
        let mut hasher = blake3::Hasher::new();
        let mut at = self.at;
        self.buf.resize(self.piece, 0);
        while at < self.end {
            let n = self.piece.min((self.end - at) as usize);
            self.file.read_exact_at(&mut self.buf[..n], at)?;
            hasher.update(&self.buf[..n]);
            at += n as u64;
        }
        self.buf.clear();
        Ok(*hasher.finalize().as_bytes())
    }

    /// Reads more of the body behind what is not decoded yet (at least as much as is
    /// there, so a value larger than a piece still fits); false at the end.
    fn refill(&mut self) -> Result<bool> {
        if self.at >= self.end {
            return Ok(false);
        }
        self.buf.drain(..self.start);
        self.start = 0;
        let want = self
            .piece
            .max(self.buf.len())
            .min((self.end - self.at) as usize);
        let old = self.buf.len();
        self.buf.resize(old + want, 0);
        self.file
            .read_exact_at(&mut self.buf[old..], self.at)
            .map_err(|e| Error::Db(e.to_string()))?;
        self.at += want as u64;
        Ok(true)
    }
}

impl SegmentSource for FileSource<'_> {
    fn take<T: serde::de::DeserializeOwned>(&mut self) -> Result<T> {
        loop {
            match postcard::take_from_bytes(&self.buf[self.start..]) {
                Ok((value, rest)) => {
                    self.start = self.buf.len() - rest.len();
                    return Ok(value);
                }
                Err(postcard::Error::DeserializeUnexpectedEnd) => {
                    if !self.refill()? {
                        return Err(Error::BadSnapshot("a segment ends inside a value"));
                    }
                }
                Err(_) => return Err(Error::BadSnapshot("a segment does not decode")),
            }
        }
    }

    fn finish(&mut self) -> Result<()> {
        if self.start == self.buf.len() && self.at == self.end {
            Ok(())
        } else {
            Err(Error::BadSnapshot("a segment has bytes after its lists"))
        }
    }
}

/// The headers of the whole segments of the file (of `len` bytes) from the start on,
/// each with where it is: torn or damaged ones are found later, by their hash.
fn read_headers(file: &File, len: u64) -> Vec<(u64, Header)> {
    let mut headers = Vec::new();
    let mut at = FILE_MAGIC.len() as u64;
    loop {
        let mut bytes = [0u8; HEADER_LEN];
        if at + HEADER_LEN as u64 > len || file.read_exact_at(&mut bytes, at).is_err() {
            return headers;
        }
        let Some(header) = Header::decode(&bytes) else {
            return headers;
        };
        let body_at = at + HEADER_LEN as u64;
        if header.body_len > len - body_at {
            return headers;
        }
        let next = body_at + header.body_len;
        headers.push((at, header));
        at = next;
    }
}

/// The projection of everything in `store`: the snapshot's segments that still match
/// the log, caught up by replaying the entries after them (or a full replay if there
/// are none). With a usable snapshot the projection tracks changes from it on, so the
/// caught-up part can be saved as one more segment.
pub fn load(snapshots: &Snapshots, store: &Store) -> Result<Loaded> {
    let (mut projection, snapshot_size, segments) = snapshots.read_chain(store)?;
    catch_up_to(&mut projection, store, store.size())?;
    Ok(Loaded {
        projection,
        snapshot_size,
        segments,
    })
}

/// The projection of the log prefix `[0, size)`, e.g. for the tally of a past tree size.
/// Cost: a replay of `size` entries.
pub fn replay_prefix(store: &Store, size: u64) -> Result<Projection> {
    if size > store.size() {
        return Err(ledger::Error::SizeOutOfRange {
            size,
            current: store.size(),
        }
        .into());
    }
    let mut projection = Projection::new();
    catch_up_to(&mut projection, store, size)?;
    Ok(projection)
}

/// Replays the entries of `store` after `projection.tree_size()`, up to `size`.
fn catch_up_to(projection: &mut Projection, store: &Store, size: u64) -> Result<()> {
    while projection.tree_size() < size {
        let start = projection.tree_size();
        let end = (start + CATCH_UP_CHUNK).min(size);
        projection.replay_many(&store.entries(start, end)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read in pieces far smaller than its values, a body applies exactly as it does
    /// from memory, and its hash is that of its bytes; a body cut short or with bytes
    /// after it is refused.
    #[test]
    fn bodies_read_in_small_pieces_apply_as_from_memory() {
        let log = test_support::campaign::campaign_log(3_000, 5);
        let mut projection = Projection::new();
        projection.replay_many(&log).unwrap();
        let mut body = Vec::new();
        projection.write_whole(&mut body).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("body");
        let mut padded = vec![0xAA; 5];
        padded.extend(&body);
        padded.push(0xAA);
        std::fs::write(&path, &padded).unwrap();
        let file = File::open(&path).unwrap();
        let mut buffer = Vec::new();
        for piece in [1, 7, 4096, READ_PIECE] {
            let mut source = FileSource::new(&file, 5, body.len() as u64, &mut buffer);
            source.piece = piece;
            assert_eq!(source.hash().unwrap(), *blake3::hash(&body).as_bytes());
            let mut applied = Projection::new();
            applied.apply_segment_from(&mut source).unwrap();
            assert_eq!(
                applied.to_snapshot(),
                projection.to_snapshot(),
                "piece {piece}"
            );
        }
        for (len, what) in [
            (body.len() - 1, "cut short"),
            (body.len() + 1, "a byte after"),
        ] {
            let mut source = FileSource::new(&file, 5, len as u64, &mut buffer);
            source.piece = 7;
            assert!(
                Projection::new().apply_segment_from(&mut source).is_err(),
                "{what}"
            );
        }
    }
}
