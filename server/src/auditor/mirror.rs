//! An auditor's mirror: the log as far as it was verified, on the auditor's disk.
//!
//! ```text
//! state.json        what was verified: origin, key, hash function, tree size, root,
//!                   the right edge of the tree and of each tile level (to extend them
//!                   without reading a tile back), and how much of entries.pack holds
//! checkpoint        the signed checkpoint of that size
//! entries.pack      every verified entry bundle, appended in tree order:
//!                   path_len:u16le path len:u32le bytes
//! projection.snap   the read models at that size, as a chain of snapshot segments
//!                   (projector::persist): a run appends what it changed
//! fork-evidence-*   the two signed checkpoints of a fork, if one was ever seen
//! cosigned-*        the auditor's cosigned checkpoint and tally notes
//! ```
//!
//! `state.json` is written last (beside, then renamed): a run that stops anywhere
//! leaves the last verified state, and the bytes it appended to `entries.pack` beyond
//! what `state.json` names are cut off by the next run. One pack file rather than a
//! file per tile: creating thousands of small files cost more than everything else an
//! audit does on some filesystems.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use ledger::merkle::Frontier;
use ledger::tile::TilePath;
use ledger::Hash;
use projector::persist::{Roots, Snapshots};
use projector::Projection;
use serde::{Deserialize, Serialize};

use super::AuditError;

/// Snapshot segments in `projection.snap` above which a run writes it again as one.
const MAX_SEGMENTS: usize = 32;

/// What a mirror verified.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub origin: String,
    pub vkey: String,
    pub hash: String,
    pub tree_size: u64,
    pub root: Hash,
    /// [`Frontier::edge`] of the verified tree.
    pub edge: Vec<(u8, Hash)>,
    /// The hashes of the right-edge partial tile of each tile level (from the tile's
    /// start to the tree size), to extend that tile when the tree grows.
    pub right_tiles: BTreeMap<u8, Vec<Hash>>,
    /// Bytes of `entries.pack` that hold verified bundles.
    pub pack_len: u64,
}

impl State {
    pub fn frontier(&self) -> Result<Frontier, AuditError> {
        Frontier::from_edge(self.tree_size, self.edge.clone())
            .map_err(|e| AuditError::Failed(format!("the mirror's state.json: {e}")))
    }
}

pub struct Mirror {
    dir: PathBuf,
    pack: Mutex<BufWriter<File>>,
    snapshots: Snapshots,
}

fn failed(path: &Path) -> impl Fn(std::io::Error) -> AuditError + '_ {
    move |e| AuditError::Failed(format!("{}: {e}", path.display()))
}

impl Mirror {
    pub fn open(dir: &Path) -> Result<Mirror, AuditError> {
        std::fs::create_dir_all(dir).map_err(failed(dir))?;
        let pack_path = dir.join("entries.pack");
        let pack = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&pack_path)
            .map_err(failed(&pack_path))?;
        let snapshots = Snapshots::open(&dir.join("projection.snap"))
            .map_err(|e| AuditError::Failed(format!("{}: {e}", dir.display())))?;
        Ok(Mirror {
            dir: dir.to_path_buf(),
            pack: Mutex::new(BufWriter::with_capacity(1 << 20, pack)),
            snapshots,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn pack(&self) -> MutexGuard<'_, BufWriter<File>> {
        crate::locks::lock(&self.pack)
    }

    /// What the mirror verified last, if anything. Cuts `entries.pack` back to what
    /// that state names (a run that stopped may have appended more).
    pub fn state(&self) -> Result<Option<State>, AuditError> {
        let path = self.dir.join("state.json");
        let state: Option<State> = match std::fs::read(&path) {
            Ok(bytes) => Some(serde_json::from_slice(&bytes).map_err(|e| {
                AuditError::Failed(format!("{}: not a mirror's state: {e}", path.display()))
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(failed(&path)(e)),
        };
        let keep = state.as_ref().map_or(0, |s| s.pack_len);
        let pack_path = self.dir.join("entries.pack");
        let mut pack = self.pack();
        pack.flush().map_err(failed(&pack_path))?;
        pack.get_ref().set_len(keep).map_err(failed(&pack_path))?;
        Ok(state)
    }

    /// Records `state` and its signed checkpoint as verified, after the pack's bundles
    /// and the read models are durable. Returns the state as written.
    pub fn save_state(&self, mut state: State, checkpoint: &str) -> Result<State, AuditError> {
        let pack_path = self.dir.join("entries.pack");
        {
            let mut pack = self.pack();
            pack.flush().map_err(failed(&pack_path))?;
            pack.get_ref().sync_data().map_err(failed(&pack_path))?;
            state.pack_len = pack.get_ref().metadata().map_err(failed(&pack_path))?.len();
        }
        self.put_file("checkpoint", checkpoint.as_bytes())?;
        let json = serde_json::to_vec_pretty(&state)
            .map_err(|e| AuditError::Failed(format!("state.json: {e}")))?;
        self.put_file("state.json", &json)?;
        Ok(state)
    }

    /// The signed checkpoint last verified.
    pub fn checkpoint(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.join("checkpoint")).ok()
    }

    /// Appends a verified entry bundle to `entries.pack`.
    pub fn put_bundle(&self, tile: &TilePath, bytes: &[u8]) -> Result<(), AuditError> {
        let path = tile.to_string();
        let pack_path = self.dir.join("entries.pack");
        let mut pack = self.pack();
        let len = u32::try_from(bytes.len())
            .map_err(|_| AuditError::Failed(format!("{path} is too large")))?;
        pack.write_all(&(path.len() as u16).to_le_bytes())
            .and_then(|()| pack.write_all(path.as_bytes()))
            .and_then(|()| pack.write_all(&len.to_le_bytes()))
            .and_then(|()| pack.write_all(bytes))
            .map_err(failed(&pack_path))
    }

    /// Every bundle in the first `pack_len` bytes of `entries.pack`, in order.
    pub fn bundles(
        &self,
        pack_len: u64,
        each: &mut dyn FnMut(TilePath, Vec<u8>) -> Result<(), AuditError>,
    ) -> Result<(), AuditError> {
        let pack_path = self.dir.join("entries.pack");
        let file = File::open(&pack_path).map_err(failed(&pack_path))?;
        let mut reader = std::io::BufReader::with_capacity(1 << 20, file.take(pack_len));
        let damaged = || {
            AuditError::Failed(format!(
                "{} is damaged; remove the mirror to audit from the start",
                pack_path.display()
            ))
        };
        loop {
            let mut len = [0u8; 2];
            match reader.read_exact(&mut len) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(failed(&pack_path)(e)),
            }
            let mut path = vec![0u8; usize::from(u16::from_le_bytes(len))];
            let mut size = [0u8; 4];
            reader.read_exact(&mut path).map_err(|_| damaged())?;
            reader.read_exact(&mut size).map_err(|_| damaged())?;
            // No bundle is longer than 256 entries of at most 64 KiB and their lengths:
            // a damaged length is refused, never allocated.
            let size = u32::from_le_bytes(size) as usize;
            if size > 256 * (2 + 65_535) {
                return Err(damaged());
            }
            let mut bytes = vec![0u8; size];
            reader.read_exact(&mut bytes).map_err(|_| damaged())?;
            let tile = std::str::from_utf8(&path)
                .ok()
                .and_then(|p| TilePath::parse(p).ok())
                .ok_or_else(damaged)?;
            each(tile, bytes)?;
        }
    }

    /// The read models of the verified tree `state`: the saved snapshot, caught up
    /// from the pack if it stopped short; `None` if neither has them.
    pub fn projection(&self, state: &State) -> Option<Projection> {
        struct Verified<'a>(&'a State);
        impl Roots for Verified<'_> {
            fn size(&self) -> u64 {
                self.0.tree_size
            }
            // The mirror is the auditor's own disk; segments are checked against their
            // hashes, and the last against the verified root.
            fn has_root(&self, size: u64, root: &Hash) -> projector::Result<bool> {
                Ok(size < self.0.tree_size || *root == self.0.root)
            }
        }
        let (mut projection, _) = self.snapshots.load_from(&Verified(state)).ok()?;
        if projection.tree_size() < state.tree_size {
            let mut failed = false;
            let mut replay = |tile: TilePath, bytes: Vec<u8>| -> Result<(), AuditError> {
                let first = tile.index() * 256;
                let entries = ledger::tile::decode_entry_bundle_with_width(&bytes, tile.width())
                    .map_err(|e| AuditError::Failed(e.to_string()))?;
                for (offset, entry) in entries.iter().enumerate() {
                    let index = first + offset as u64;
                    if index == projection.tree_size() && index < state.tree_size {
                        failed |= projection.replay_bytes(entry).is_err();
                    }
                }
                Ok(())
            };
            self.bundles(state.pack_len, &mut replay).ok()?;
            if failed {
                return None;
            }
        }
        (projection.tree_size() == state.tree_size).then_some(projection)
    }

    /// Saves the read models at the tree whose root is `root`: what changed since the
    /// last save as one more segment, or the whole when there is no usable chain.
    pub fn save_projection(
        &self,
        projection: &mut Projection,
        root: &Hash,
    ) -> Result<(), AuditError> {
        let whole = self.snapshots.segments() == 0 || self.snapshots.segments() > MAX_SEGMENTS;
        let saved = if whole {
            self.snapshots.rewrite(projection, root).map(|()| {
                projection.track_changes();
            })
        } else {
            self.snapshots.save(projection, root)
        };
        saved.map_err(|e| AuditError::Failed(format!("{}: {e}", self.dir.display())))
    }

    /// Writes the evidence of a fork: the checkpoint this mirror verified and the one
    /// that contradicts it, both signed by the log key. Returns its path.
    pub fn save_evidence(
        &self,
        verified: &str,
        contradicting: &str,
    ) -> Result<PathBuf, AuditError> {
        let name = format!("fork-evidence-{}.txt", crate::unix_now());
        let text = format!(
            "Two checkpoints signed by the same log key that cannot both be true: the \
             tree of the second does not contain the tree of the first.\n\n\
             --- verified earlier by this mirror ---\n{verified}\n\
             --- served now ---\n{contradicting}"
        );
        self.put_file(&name, text.as_bytes())?;
        Ok(self.dir.join(name))
    }

    /// Writes `name` under the mirror atomically: what it verified, fork evidence, and
    /// the auditor's own files (a cosigned note).
    pub fn put_file(&self, name: &str, bytes: &[u8]) -> Result<(), AuditError> {
        let path = self.dir.join(name);
        let beside = self.dir.join(format!(".{name}.tmp"));
        std::fs::write(&beside, bytes).map_err(failed(&beside))?;
        std::fs::rename(&beside, &path).map_err(failed(&path))
    }
}
