//! An auditor's mirror: the log as far as it was verified, on the auditor's disk.
//!
//! ```text
//! state.json        what was verified: origin, key, hash function, tree size, root,
//!                   the right edge of the tree and of each tile level (to extend them
//!                   without reading a tile back)
//! checkpoint        the signed checkpoint of that size
//! tile/...          every verified tile (a static copy of the log, servable as is)
//! projection.snap   the read models at that size: tree size (u64le), root, snapshot
//! fork-evidence-*   the two signed checkpoints of a fork, if one was ever seen
//! ```
//!
//! Every file is replaced atomically (written beside, then renamed), and `state.json`
//! last: a run that stops anywhere leaves the last verified state, and the tiles it
//! fetched are read again from here by the next run rather than fetched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ledger::merkle::Frontier;
use ledger::tile::TilePath;
use ledger::Hash;
use serde::{Deserialize, Serialize};

use super::AuditError;

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
}

impl State {
    pub fn frontier(&self) -> Result<Frontier, AuditError> {
        Frontier::from_edge(self.tree_size, self.edge.clone())
            .map_err(|e| AuditError::Failed(format!("the mirror's state.json: {e}")))
    }
}

pub struct Mirror {
    dir: PathBuf,
}

impl Mirror {
    pub fn open(dir: &Path) -> Result<Mirror, AuditError> {
        std::fs::create_dir_all(dir.join("tile"))
            .map_err(|e| AuditError::Failed(format!("{}: {e}", dir.display())))?;
        Ok(Mirror {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the mirror verified last, if anything.
    pub fn state(&self) -> Result<Option<State>, AuditError> {
        let path = self.dir.join("state.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                AuditError::Failed(format!("{}: not a mirror's state: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AuditError::Failed(format!("{}: {e}", path.display()))),
        }
    }

    /// Records `state` and its signed checkpoint as verified.
    pub fn save_state(&self, state: &State, checkpoint: &str) -> Result<(), AuditError> {
        self.write("checkpoint", checkpoint.as_bytes())?;
        let json = serde_json::to_vec_pretty(state)
            .map_err(|e| AuditError::Failed(format!("state.json: {e}")))?;
        self.write("state.json", &json)
    }

    /// The signed checkpoint last verified.
    pub fn checkpoint(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.join("checkpoint")).ok()
    }

    /// A verified tile, if the mirror has it.
    pub fn tile(&self, tile: &TilePath) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(tile.to_string())).ok()
    }

    /// Keeps a verified tile; a full one replaces the partial ones of its place.
    pub fn put_tile(&self, tile: &TilePath, bytes: &[u8]) -> Result<(), AuditError> {
        let name = tile.to_string();
        self.write(&name, bytes)?;
        if tile.is_full() {
            let partials = self.dir.join(format!("{name}.p"));
            if partials.exists() {
                std::fs::remove_dir_all(&partials)
                    .map_err(|e| AuditError::Failed(format!("{}: {e}", partials.display())))?;
            }
        }
        Ok(())
    }

    /// The read models saved at (`tree_size`, `root`), if that is what the file holds.
    pub fn projection(&self, tree_size: u64, root: &Hash) -> Option<projector::Projection> {
        let bytes = std::fs::read(self.dir.join("projection.snap")).ok()?;
        let (head, snapshot) = bytes.split_at_checked(40)?;
        let size = u64::from_le_bytes(head[..8].try_into().ok()?);
        if size != tree_size || head[8..40] != root.0 {
            return None;
        }
        projector::Projection::from_snapshot(snapshot).ok()
    }

    pub fn save_projection(
        &self,
        projection: &projector::Projection,
        root: &Hash,
    ) -> Result<(), AuditError> {
        let mut bytes = projection.tree_size().to_le_bytes().to_vec();
        bytes.extend_from_slice(&root.0);
        bytes.extend(projection.to_snapshot());
        self.write("projection.snap", &bytes)
    }

    /// Writes the evidence of a fork: the checkpoint this mirror verified and the one
    /// that contradicts it, both signed by the log key. Returns its path.
    pub fn save_evidence(
        &self,
        verified: &str,
        contradicting: &str,
    ) -> Result<PathBuf, AuditError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let name = format!("fork-evidence-{now}.txt");
        let text = format!(
            "Two checkpoints signed by the same log key that cannot both be true: the \
             tree of the second does not contain the tree of the first.\n\n\
             --- verified earlier by this mirror ---\n{verified}\n\
             --- served now ---\n{contradicting}"
        );
        self.write(&name, text.as_bytes())?;
        Ok(self.dir.join(name))
    }

    /// Keeps a file of the auditor's own (a cosigned note) in the mirror.
    pub fn put_file(&self, name: &str, bytes: &[u8]) -> Result<(), AuditError> {
        self.write(name, bytes)
    }

    /// Writes `name` under the mirror atomically.
    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), AuditError> {
        let path = self.dir.join(name);
        let failed = |e: std::io::Error| AuditError::Failed(format!("{}: {e}", path.display()));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        let beside = path.with_extension("tmp-write");
        std::fs::write(&beside, bytes).map_err(failed)?;
        std::fs::rename(&beside, &path).map_err(failed)
    }
}
