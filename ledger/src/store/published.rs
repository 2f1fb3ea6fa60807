//! The published head: the latest checkpoint this log has handed out, remembered
//! outside the journal.
//!
//! The journal is the source of truth for entries, but it cannot vouch for its own
//! length: a journal cut short (by `truncate`, a bad restore, a disk that lost writes)
//! still reads as a clean, shorter log, and a store that trusted it would sign new
//! checkpoints inconsistent with ones it already published. So every commit also
//! records its tree size and root here, and opening refuses a journal that holds less
//! than that, or a different tree at that size (see `writer.rs`).
//!
//! ```text
//! published = slot slot                 (two 64-byte slots, written alternately)
//! slot      = "clhead1\0" size:u64le root[32] check[16]
//! check     = BLAKE3(magic ‖ size ‖ root)[..16]
//! ```
//!
//! A commit overwrites the older slot with one positional write after the journal's
//! `fdatasync` (so the journal is always at least as far as any slot); the file is
//! fsynced with the indexes (every `SYNC_EVERY` entries and on close). A process crash
//! loses nothing of it (the page cache survives); a power cut may lose the last
//! records, which only makes the floor lower, never wrong. A torn slot fails its check
//! and the other one is used. Cost per commit: one 64-byte `pwrite` (about 2 µs).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::{Error, Hash, Result};

/// The file's name in the data directory.
pub(crate) const PUBLISHED: &str = "published";

const MAGIC: &[u8; 8] = b"clhead1\0";
const SLOT_LEN: usize = 64;

/// A tree size and root the log has published a signed checkpoint for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PublishedHead {
    pub size: u64,
    pub root: Hash,
}

/// The open `published` file.
pub(crate) struct PublishedFile {
    file: File,
    /// The slot the next record overwrites (the one not holding the latest).
    next_slot: u64,
}

impl PublishedFile {
    /// Creates an empty file (no slot holds a record: nothing published yet).
    pub fn create(dir: &Path) -> Result<()> {
        let path = dir.join(PUBLISHED);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(Error::io(&path))?;
        file.set_len(2 * SLOT_LEN as u64)
            .and_then(|()| file.sync_all())
            .map_err(Error::io(&path))
    }

    /// Opens the file and reads the latest record it holds (`None`: nothing published
    /// yet). `Ok(None)` for the file itself means it does not exist.
    pub fn open(dir: &Path) -> Result<Option<(PublishedFile, Option<PublishedHead>)>> {
        let path = dir.join(PUBLISHED);
        let file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path)(e)),
        };
        let mut bytes = [0u8; 2 * SLOT_LEN];
        let len = file.metadata().map_err(Error::io(&path))?.len();
        let readable = (len as usize).min(bytes.len());
        file.read_exact_at(&mut bytes[..readable], 0)
            .map_err(Error::io(&path))?;
        let slots = [
            decode_slot(&bytes[..SLOT_LEN]),
            decode_slot(&bytes[SLOT_LEN..]),
        ];
        let latest = match slots {
            [Some(a), Some(b)] if b.size > a.size => Some((1, b)),
            [Some(a), _] => Some((0, a)),
            [None, Some(b)] => Some((1, b)),
            [None, None] => None,
        };
        let next_slot = latest.map_or(0, |(slot, _)| 1 - slot);
        Ok(Some((
            PublishedFile { file, next_slot },
            latest.map(|(_, head)| head),
        )))
    }

    /// Records that the log published (`size`, `root`). No fsync: see the module docs.
    pub fn record(&mut self, dir: &Path, size: u64, root: &Hash) -> Result<()> {
        let slot = encode_slot(size, root);
        self.file
            .write_all_at(&slot, self.next_slot * SLOT_LEN as u64)
            .map_err(Error::io(dir.join(PUBLISHED)))?;
        self.next_slot = 1 - self.next_slot;
        Ok(())
    }

    pub fn sync(&self, dir: &Path) -> Result<()> {
        self.file
            .sync_data()
            .map_err(Error::io(dir.join(PUBLISHED)))
    }
}

fn check(magic_size_root: &[u8]) -> [u8; 16] {
    let digest = blake3::hash(magic_size_root);
    digest.as_bytes()[..16].try_into().expect("16 bytes")
}

fn encode_slot(size: u64, root: &Hash) -> [u8; SLOT_LEN] {
    let mut slot = [0u8; SLOT_LEN];
    slot[..8].copy_from_slice(MAGIC);
    slot[8..16].copy_from_slice(&size.to_le_bytes());
    slot[16..48].copy_from_slice(root.as_bytes());
    let check = check(&slot[..48]);
    slot[48..].copy_from_slice(&check);
    slot
}

fn decode_slot(slot: &[u8]) -> Option<PublishedHead> {
    (slot[..8] == *MAGIC && slot[48..] == check(&slot[..48])).then(|| PublishedHead {
        size: u64::from_le_bytes(slot[8..16].try_into().expect("8 bytes")),
        root: Hash::try_from(&slot[16..48]).expect("32 bytes"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_whole_slot_wins_and_a_torn_one_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        PublishedFile::create(dir.path()).unwrap();
        let (mut file, head) = PublishedFile::open(dir.path()).unwrap().unwrap();
        assert_eq!(head, None);
        let root = |b: u8| Hash::from([b; 32]);
        for size in 1..=5 {
            file.record(dir.path(), size, &root(size as u8)).unwrap();
        }
        let (_, head) = PublishedFile::open(dir.path()).unwrap().unwrap();
        assert_eq!(
            head,
            Some(PublishedHead {
                size: 5,
                root: root(5)
            })
        );
        // Size 5 went to slot 0; tear it: slot 1 (size 4) is the latest whole one.
        let raw = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join(PUBLISHED))
            .unwrap();
        raw.write_all_at(&[0xff; 4], 20).unwrap();
        let (mut file, head) = PublishedFile::open(dir.path()).unwrap().unwrap();
        assert_eq!(
            head,
            Some(PublishedHead {
                size: 4,
                root: root(4)
            })
        );
        // The next record replaces the torn slot, not the good one.
        file.record(dir.path(), 6, &root(6)).unwrap();
        let (_, head) = PublishedFile::open(dir.path()).unwrap().unwrap();
        assert_eq!(
            head,
            Some(PublishedHead {
                size: 6,
                root: root(6)
            })
        );
        assert!(PublishedFile::open(&dir.path().join("nowhere"))
            .unwrap()
            .is_none());
    }
}
