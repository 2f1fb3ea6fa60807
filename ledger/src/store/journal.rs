//! The journal: the one file that makes an append durable.
//!
//! Each batch is written with one `write` and made durable with one `fdatasync`: its
//! entries as *frames* of at most 256 entries that never cross a tlog-tiles bundle
//! boundary, then a *commit record* holding the signed checkpoint that covers them. A
//! batch is only written after the previous one is durable, so only the last batch can
//! be torn; recovery finds it by length and by recomputing the tree root, and erases
//! it. The file is extended ahead of the writes with zeros (see `writer.rs`), and a zero
//! byte where a record tag should be marks the end. Byte layout: `docs/STORAGE.md`.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use crate::hash::{Hash, HashAlg};
use crate::merkle::{Frontier, Node};
use crate::tile::FULL_TILE_WIDTH;

/// Entries per tlog-tiles bundle: frames never cross a multiple of this.
const TILE_WIDTH: u64 = FULL_TILE_WIDTH as u64;

/// The journal's first 16 bytes.
pub(crate) const MAGIC: &[u8; 16] = b"campaign-ledger1";
/// Where a record tag would be, this marks the end of the log (the zeroed space that
/// was reserved ahead of the writes).
const TAG_END: u8 = 0;
const TAG_ENTRIES: u8 = b'E';
const TAG_COMMIT: u8 = b'C';
/// Tag, first index (u64), entry count (u16), payload length (u32).
pub(crate) const ENTRIES_HEADER_LEN: usize = 1 + 8 + 2 + 4;
/// Tag, tree size (u64), root (32 bytes), note length (u16).
pub(crate) const COMMIT_HEADER_LEN: usize = 1 + 8 + 32 + 2;

/// Where one frame's entries sit in the journal: the row of `frames.idx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameRow {
    pub first_index: u64,
    /// Offset of the payload: `count` × (big-endian u16 length, entry bytes), which is
    /// exactly a slice of a tlog-tiles entry bundle.
    pub payload_offset: u64,
    pub payload_len: u32,
    pub count: u16,
}

impl FrameRow {
    pub const LEN: usize = 24;

    pub fn end_index(&self) -> u64 {
        self.first_index + u64::from(self.count)
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.first_index.to_le_bytes());
        out.extend_from_slice(&self.payload_offset.to_le_bytes());
        out.extend_from_slice(&self.payload_len.to_le_bytes());
        out.extend_from_slice(&self.count.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
    }

    /// The row in `row`, or `None` if its padding is not zero (a damaged file).
    pub fn decode(row: &[u8]) -> Option<FrameRow> {
        (row[22..24] == [0, 0]).then(|| FrameRow {
            first_index: u64::from_le_bytes(row[0..8].try_into().unwrap()),
            payload_offset: u64::from_le_bytes(row[8..16].try_into().unwrap()),
            payload_len: u32::from_le_bytes(row[16..20].try_into().unwrap()),
            count: u16::from_le_bytes(row[20..22].try_into().unwrap()),
        })
    }
}

/// Where one signed checkpoint sits in the journal: the row of `checkpoints.idx`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CheckpointRow {
    pub tree_size: u64,
    pub note_offset: u64,
    pub note_len: u16,
}

impl CheckpointRow {
    pub const LEN: usize = 24;

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.tree_size.to_le_bytes());
        out.extend_from_slice(&self.note_offset.to_le_bytes());
        out.extend_from_slice(&u64::from(self.note_len).to_le_bytes());
    }

    /// The row in `row`, or `None` if its note length does not fit a u16 (a damaged
    /// file).
    pub fn decode(row: &[u8]) -> Option<CheckpointRow> {
        let note_len = u64::from_le_bytes(row[16..24].try_into().unwrap());
        Some(CheckpointRow {
            tree_size: u64::from_le_bytes(row[0..8].try_into().unwrap()),
            note_offset: u64::from_le_bytes(row[8..16].try_into().unwrap()),
            note_len: u16::try_from(note_len).ok()?,
        })
    }
}

/// Checks that the index rows describe the journal's layout exactly, with no IO: read
/// in offset order, every frame and commit record starts where the one before it ends
/// (the first right after the magic), frames number the entries contiguously from 0 and
/// never cross a bundle boundary, each commit's tree size is the entries framed so far,
/// and the last record ends at `journal_len`. One flipped bit in either index file
/// breaks one of these, so a damaged index is refused at open instead of serving the
/// wrong bytes. Cost: one pass over the rows in memory (about 1 ms per 100,000 rows).
pub(crate) fn verify_layout(
    frames: &[FrameRow],
    checkpoints: &[CheckpointRow],
    journal_len: u64,
) -> Result<(), String> {
    let mut cursor = MAGIC.len() as u64;
    let mut size = 0u64;
    let (mut f, mut c) = (0, 0);
    while f < frames.len() || c < checkpoints.len() {
        let frame_here = frames
            .get(f)
            .is_some_and(|row| row.payload_offset == cursor + ENTRIES_HEADER_LEN as u64);
        let commit_here = checkpoints
            .get(c)
            .is_some_and(|row| row.note_offset == cursor + COMMIT_HEADER_LEN as u64);
        if frame_here {
            let row = frames[f];
            let fits_bundle =
                row.count >= 1 && row.first_index % TILE_WIDTH + u64::from(row.count) <= TILE_WIDTH;
            if row.first_index != size || !fits_bundle {
                return Err(format!("frames.idx row {f} is out of sequence"));
            }
            size = row.end_index();
            cursor = row.payload_offset + u64::from(row.payload_len);
            f += 1;
        } else if commit_here {
            let row = checkpoints[c];
            if row.tree_size != size {
                return Err(format!(
                    "checkpoints.idx row {c} names tree size {} where the frames reach {size}",
                    row.tree_size
                ));
            }
            cursor = row.note_offset + u64::from(row.note_len);
            c += 1;
        } else {
            return Err(format!(
                "no index row starts at journal offset {cursor} (frames.idx row {f}, checkpoints.idx row {c})"
            ));
        }
    }
    if f > 0 && checkpoints.last().is_none_or(|row| row.tree_size != size) {
        return Err("the last frames are not covered by a checkpoint".into());
    }
    if cursor != journal_len {
        return Err(format!(
            "the index rows end at journal offset {cursor}, the journal at {journal_len}"
        ));
    }
    Ok(())
}

/// Appends the frames for `entries` (which start at index `first_index`) to `out`, whose
/// first byte will land at journal offset `base`. Returns the frame rows.
pub(crate) fn encode_frames(
    out: &mut Vec<u8>,
    base: u64,
    first_index: u64,
    entries: &[&[u8]],
) -> Vec<FrameRow> {
    let mut rows = Vec::new();
    let mut index = first_index;
    let mut rest = entries;
    while !rest.is_empty() {
        let room = (TILE_WIDTH - index % TILE_WIDTH) as usize;
        let (chunk, tail) = rest.split_at(room.min(rest.len()));
        let payload_len: usize = chunk.iter().map(|e| 2 + e.len()).sum();
        out.push(TAG_ENTRIES);
        out.extend_from_slice(&index.to_le_bytes());
        out.extend_from_slice(&(chunk.len() as u16).to_le_bytes());
        out.extend_from_slice(&(payload_len as u32).to_le_bytes());
        let payload_offset = base + out.len() as u64;
        for entry in chunk {
            out.extend_from_slice(&(entry.len() as u16).to_be_bytes());
            out.extend_from_slice(entry);
        }
        rows.push(FrameRow {
            first_index: index,
            payload_offset,
            payload_len: payload_len as u32,
            count: chunk.len() as u16,
        });
        index += chunk.len() as u64;
        rest = tail;
    }
    rows
}

/// Appends a commit record to `out` (landing at journal offset `base`).
pub(crate) fn encode_commit(
    out: &mut Vec<u8>,
    base: u64,
    tree_size: u64,
    root: &Hash,
    note: &str,
) -> CheckpointRow {
    out.push(TAG_COMMIT);
    out.extend_from_slice(&tree_size.to_le_bytes());
    out.extend_from_slice(root.as_bytes());
    out.extend_from_slice(&(note.len() as u16).to_le_bytes());
    let note_offset = base + out.len() as u64;
    out.extend_from_slice(note.as_bytes());
    CheckpointRow {
        tree_size,
        note_offset,
        note_len: note.len() as u16,
    }
}

/// Splits a frame payload into entries; `None` unless it holds exactly `count` entries
/// and nothing else.
pub(crate) fn split_payload(payload: &[u8], count: u16) -> Option<Vec<&[u8]>> {
    let mut entries = Vec::with_capacity(count as usize);
    let mut rest = payload;
    while !rest.is_empty() {
        let (len, tail) = rest.split_at_checked(2)?;
        let len = u16::from_be_bytes([len[0], len[1]]) as usize;
        let (entry, tail) = tail.split_at_checked(len)?;
        entries.push(entry);
        rest = tail;
    }
    (entries.len() == count as usize).then_some(entries)
}

/// One committed batch found while replaying the journal.
#[derive(Debug, Default)]
pub(crate) struct ReplayedBatch {
    pub frames: Vec<FrameRow>,
    /// Every completed node at a level that is a multiple of 8 (what the hash files
    /// hold), in the order they completed.
    pub tile_nodes: Vec<(Node, Hash)>,
    pub checkpoint: CheckpointRow,
    pub root: Hash,
    pub note: String,
}

/// Why a replay stopped before the end of the file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Clean end: the file ends right after a commit record.
    End,
    /// Something after `good_offset` is torn or does not check; it was never
    /// acknowledged (the reason says what).
    Torn { reason: String },
}

/// The outcome of [`replay`].
pub(crate) struct ReplayEnd {
    /// Offset just past the last commit record that checked.
    pub good_offset: u64,
    /// The tree at that commit.
    pub frontier: Frontier,
    pub stop: Stop,
}

/// One record of the journal, as read, before any checking.
pub(crate) enum RawRecord {
    Frame {
        first_index: u64,
        count: u16,
        payload_offset: u64,
        payload: Vec<u8>,
    },
    Commit {
        tree_size: u64,
        root: Hash,
        note_offset: u64,
        note: Vec<u8>,
    },
}

/// Reads journal records one by one from a batch boundary, checking only their framing.
pub(crate) struct RecordReader<'f> {
    reader: BufReader<&'f File>,
    /// Offset of the next record.
    pub at: u64,
}

impl<'f> RecordReader<'f> {
    pub fn new(file: &'f File, offset: u64) -> crate::Result<RecordReader<'f>> {
        let mut handle = file;
        handle
            .seek(SeekFrom::Start(offset))
            .map_err(|e| crate::Error::Corrupt(format!("journal seek: {e}")))?;
        Ok(RecordReader {
            reader: BufReader::with_capacity(1 << 20, handle),
            at: offset,
        })
    }

    /// The next record; `Ok(None)` at the end (end of file or the zeroed reserve);
    /// `Err(reason)` if what follows is cut short or is not a record.
    pub fn next_record(&mut self) -> crate::Result<Result<Option<RawRecord>, String>> {
        let at = self.at;
        let mut tag = [0u8; 1];
        match self.reader.read(&mut tag) {
            Ok(0) => return Ok(Ok(None)),
            Ok(_) => {}
            Err(e) => return Err(crate::Error::Corrupt(format!("journal read: {e}"))),
        }
        if tag[0] == TAG_END {
            return Ok(Ok(None));
        }
        Ok(self.record_after(tag[0], at).map(Some))
    }

    /// The rest of the record at `at`, whose tag `tag` was just read.
    fn record_after(&mut self, tag: u8, at: u64) -> Result<RawRecord, String> {
        match tag {
            TAG_ENTRIES => {
                let header = self.take(ENTRIES_HEADER_LEN - 1, "frame header")?;
                let first_index = u64::from_le_bytes(header[0..8].try_into().unwrap());
                let count = u16::from_le_bytes(header[8..10].try_into().unwrap());
                let payload_len = u32::from_le_bytes(header[10..14].try_into().unwrap());
                let payload = self.take(payload_len as usize, "frame payload")?;
                let payload_offset = at + ENTRIES_HEADER_LEN as u64;
                self.at = payload_offset + u64::from(payload_len);
                Ok(RawRecord::Frame {
                    first_index,
                    count,
                    payload_offset,
                    payload,
                })
            }
            TAG_COMMIT => {
                let header = self.take(COMMIT_HEADER_LEN - 1, "commit header")?;
                let tree_size = u64::from_le_bytes(header[0..8].try_into().unwrap());
                let root = Hash::try_from(&header[8..40]).expect("32 bytes");
                let note_len = u16::from_le_bytes(header[40..42].try_into().unwrap());
                let note = self.take(note_len as usize, "checkpoint")?;
                let note_offset = at + COMMIT_HEADER_LEN as u64;
                self.at = note_offset + u64::from(note_len);
                Ok(RawRecord::Commit {
                    tree_size,
                    root,
                    note_offset,
                    note,
                })
            }
            other => Err(format!("unknown record tag {other:#04x} at offset {at}")),
        }
    }

    /// The next `len` bytes, or why they are not there.
    fn take(&mut self, len: usize, what: &str) -> Result<Vec<u8>, String> {
        let mut buf = vec![0u8; len];
        self.reader
            .read_exact(&mut buf)
            .map_err(|_| format!("{what} cut short"))?;
        Ok(buf)
    }
}

/// Reads the journal from `offset` (a batch boundary), re-hashing every entry on top of
/// `frontier`, and calls `on_batch` for each batch whose commit record checks: its tree
/// size and root match the recomputed tree and `note_matches(note, size, root)` holds.
///
/// Stops at the first record that is torn or does not check, without error: it is the
/// caller who decides whether a torn tail is expected (recovery) or a fault (check).
/// Cost: one sequential read of the rest of the file; one leaf hash per entry.
pub(crate) fn replay(
    file: &File,
    offset: u64,
    alg: HashAlg,
    mut frontier: Frontier,
    note_matches: &mut dyn FnMut(&str, u64, &Hash) -> bool,
    on_batch: &mut dyn FnMut(ReplayedBatch) -> crate::Result<()>,
) -> crate::Result<ReplayEnd> {
    let mut records = RecordReader::new(file, offset)?;
    let mut good_offset = offset;
    let mut good_frontier = frontier.clone();
    let mut batch = ReplayedBatch::default();
    let torn = |reason| Stop::Torn { reason };
    let stop = loop {
        let at = records.at;
        let record = match records.next_record()? {
            Ok(Some(record)) => record,
            Ok(None) if at == good_offset => break Stop::End,
            Ok(None) => break torn("entries without a commit record".into()),
            Err(reason) => break torn(reason),
        };
        match record {
            RawRecord::Frame {
                first_index,
                count,
                payload_offset,
                payload,
            } => {
                let fits_bundle =
                    count >= 1 && first_index % TILE_WIDTH + u64::from(count) <= TILE_WIDTH;
                if first_index != frontier.size() || !fits_bundle {
                    break torn(format!("frame at offset {at} is out of sequence"));
                }
                let Some(entries) = split_payload(&payload, count) else {
                    break torn(format!("frame at offset {at} is malformed"));
                };
                for entry in entries {
                    let leaf = alg.leaf_hash(entry);
                    frontier.push(alg, leaf, |node, hash| {
                        if node.level % 8 == 0 {
                            batch.tile_nodes.push((node, *hash));
                        }
                    });
                }
                batch.frames.push(FrameRow {
                    first_index,
                    payload_offset,
                    payload_len: payload.len() as u32,
                    count,
                });
            }
            RawRecord::Commit {
                tree_size,
                root,
                note_offset,
                note,
            } => {
                let checks = tree_size == frontier.size() && root == frontier.root(alg);
                let note_len = note.len() as u16;
                let note = String::from_utf8(note)
                    .ok()
                    .filter(|note| checks && note_matches(note, tree_size, &root));
                let Some(note) = note else {
                    break torn(format!(
                        "commit at offset {at} does not match the entries before it"
                    ));
                };
                batch.checkpoint = CheckpointRow {
                    tree_size,
                    note_offset,
                    note_len,
                };
                batch.root = root;
                batch.note = note;
                on_batch(std::mem::take(&mut batch))?;
                good_offset = records.at;
                good_frontier = frontier.clone();
            }
        }
    };
    Ok(ReplayEnd {
        good_offset,
        frontier: good_frontier,
        stop,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_never_cross_a_bundle_boundary() {
        let entries: Vec<Vec<u8>> = (0..600u32).map(|i| i.to_le_bytes().to_vec()).collect();
        let refs: Vec<&[u8]> = entries.iter().map(|e| e.as_slice()).collect();
        let mut out = Vec::new();
        let rows = encode_frames(&mut out, 16, 250, &refs);
        let counts: Vec<u16> = rows.iter().map(|r| r.count).collect();
        assert_eq!(counts, vec![6, 256, 256, 82]);
        for row in &rows {
            let start = (row.payload_offset - 16) as usize;
            let payload = &out[start..start + row.payload_len as usize];
            let split = split_payload(payload, row.count).unwrap();
            assert_eq!(split.len(), row.count as usize);
            let mut encoded = Vec::new();
            row.encode(&mut encoded);
            assert_eq!(FrameRow::decode(&encoded), Some(*row));
        }
    }

    #[test]
    fn payload_split_is_strict() {
        assert_eq!(split_payload(&[0, 1, 7], 1), Some(vec![&[7u8][..]]));
        assert_eq!(split_payload(&[0, 1, 7], 2), None);
        assert_eq!(split_payload(&[0, 2, 7], 1), None);
        assert_eq!(split_payload(&[0], 1), None);
    }
}
