//! Per-petition dedup keys: `dedup-keys.json` in the data directory.
//!
//! A signature's dedup tags are keyed per petition (docs/FORMAT.md part E.3):
//!
//! `petition_key = BLAKE3-keyed(dedup.key, "campaign-ledger petition dedup key\0" ‖ nonce ‖ petition_id)`
//!
//! where `nonce` is 32 random bytes drawn for the petition when its first signature is
//! staged, and kept in this file. When the petition's retention ends
//! (`crate::retention`) the nonce is destroyed: the file is rewritten without it, so
//! nothing, not even the operator's `dedup.key`, can compute the petition's tags again
//! and link a signature to a person. A petition whose signatures were tagged before
//! per-petition keys (with `dedup.key` itself) keeps that key: changing it would let
//! its signers sign twice.
//!
//! The file (mode 0600) is small (one line per petition) and replaced whole, atomically and
//! durably (write, fsync, rename, fsync the directory), before a key drawn from it is
//! used; a destroyed nonce's bytes stay in no file of the data directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::locks;
use crate::{Error, Result};

/// The file's name in the data directory.
pub const DEDUP_KEYS: &str = "dedup-keys.json";

/// Domain separation for [`petition_key`]: fixed forever, since tags in the log were
/// made with it.
const CONTEXT: &[u8] = b"campaign-ledger petition dedup key\0";

/// What the file says of one petition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PetitionKey {
    /// The nonce its key is derived with (base64).
    Nonce(String),
    /// Its retention ended at this Unix time and its nonce was destroyed.
    Destroyed(u64),
}

#[derive(Default, Serialize, Deserialize)]
struct KeyFile {
    petitions: BTreeMap<String, PetitionKey>,
}

/// The dedup key to tag a petition's signatures with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFor {
    Key([u8; 32]),
    /// The petition's key was destroyed (its retention ended): no signature of it can be
    /// tagged, nor accepted (it closed long ago).
    Destroyed,
}

pub struct DedupKeys {
    master: [u8; 32],
    path: PathBuf,
    file: Mutex<KeyFile>,
}

/// The key of petition `petition_id` derived from `master` (`dedup.key`) and `nonce`.
pub fn petition_key(master: &[u8; 32], nonce: &[u8; 32], petition_id: &str) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_keyed(master);
    hasher.update(CONTEXT);
    hasher.update(nonce);
    hasher.update(petition_id.as_bytes());
    *hasher.finalize().as_bytes()
}

impl DedupKeys {
    /// Opens `dedup-keys.json` in `dir` (none yet is an empty file), with the master
    /// key `master` (`dedup.key`).
    pub fn open(dir: &Path, master: [u8; 32]) -> Result<DedupKeys> {
        let path = dir.join(DEDUP_KEYS);
        let file = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|_| {
                Error::Config(format!(
                    "{} does not parse: restore it from a backup (without it, new \
                     signatures of open petitions could not be checked against earlier ones)",
                    path.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => KeyFile::default(),
            Err(e) => return Err(Error::io(&path)(e)),
        };
        Ok(DedupKeys {
            master,
            path,
            file: Mutex::new(file),
        })
    }

    /// The key to tag signatures of `petition_id` with. A petition without a nonce gets
    /// one (durably, before the key is returned) unless `tagged_before` says it already
    /// has signatures, which were tagged with the master key it then keeps.
    pub fn key_for(
        &self,
        petition_id: &str,
        tagged_before: impl FnOnce() -> bool,
    ) -> Result<KeyFor> {
        let mut file = locks::lock(&self.file);
        match file.petitions.get(petition_id) {
            Some(PetitionKey::Nonce(nonce)) => {
                let nonce = decode_nonce(nonce).ok_or_else(|| {
                    Error::Config(format!("{}: a nonce does not decode", self.path.display()))
                })?;
                return Ok(KeyFor::Key(petition_key(&self.master, &nonce, petition_id)));
            }
            Some(PetitionKey::Destroyed(_)) => return Ok(KeyFor::Destroyed),
            None if tagged_before() => return Ok(KeyFor::Key(self.master)),
            None => {}
        }
        let mut nonce = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        file.petitions.insert(
            petition_id.to_owned(),
            PetitionKey::Nonce(BASE64.encode(nonce)),
        );
        if let Err(e) = self.write(&file) {
            file.petitions.remove(petition_id);
            return Err(e);
        }
        Ok(KeyFor::Key(petition_key(&self.master, &nonce, petition_id)))
    }

    /// Destroys the nonce of `petition_id` (durably), so its key can never be derived
    /// again. Whether there was one to destroy.
    pub fn destroy(&self, petition_id: &str, now_unix: u64) -> Result<bool> {
        let mut file = locks::lock(&self.file);
        let before = file.petitions.get(petition_id).cloned();
        if matches!(before, Some(PetitionKey::Destroyed(_))) {
            return Ok(false);
        }
        file.petitions
            .insert(petition_id.to_owned(), PetitionKey::Destroyed(now_unix));
        if let Err(e) = self.write(&file) {
            match before {
                Some(key) => file.petitions.insert(petition_id.to_owned(), key),
                None => file.petitions.remove(petition_id),
            };
            return Err(e);
        }
        Ok(matches!(before, Some(PetitionKey::Nonce(_))))
    }

    /// Whether `petition_id`'s key was destroyed.
    pub fn is_destroyed(&self, petition_id: &str) -> bool {
        let file = locks::lock(&self.file);
        matches!(
            file.petitions.get(petition_id),
            Some(PetitionKey::Destroyed(_))
        )
    }

    /// Replaces the file with `file` ([`crate::datadir::replace_file`]).
    fn write(&self, file: &KeyFile) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(file)
            .map_err(|e| Error::Config(format!("dedup keys do not encode: {e}")))?;
        // Whichever step fails, the error names the key file.
        crate::datadir::replace_file(&self.path, &bytes).map_err(|e| match e {
            Error::Io { source, .. } => Error::io(&self.path)(source),
            e => e,
        })
    }
}

fn decode_nonce(text: &str) -> Option<[u8; 32]> {
    let mut nonce = [0u8; 32];
    match BASE64.decode_slice(text, &mut nonce) {
        Ok(32) => Some(nonce),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_petition_kept_across_opening_and_gone_once_destroyed() {
        let dir = tempfile::tempdir().unwrap();
        let master = [3u8; 32];
        let keys = DedupKeys::open(dir.path(), master).unwrap();
        let KeyFor::Key(p) = keys.key_for("p", || false).unwrap() else {
            panic!("a key")
        };
        let KeyFor::Key(q) = keys.key_for("q", || false).unwrap() else {
            panic!("a key")
        };
        assert_ne!(p, q);
        assert_ne!(p, master);
        // A petition tagged before per-petition keys keeps the master key.
        // (Its signatures stay in the log, so it is asked again, and keeps it.)
        assert_eq!(keys.key_for("old", || true).unwrap(), KeyFor::Key(master));
        assert_eq!(keys.key_for("old", || true).unwrap(), KeyFor::Key(master));
        drop(keys);
        let keys = DedupKeys::open(dir.path(), master).unwrap();
        assert_eq!(keys.key_for("p", || true).unwrap(), KeyFor::Key(p));
        let before = std::fs::read_to_string(dir.path().join(DEDUP_KEYS)).unwrap();
        assert!(keys.destroy("p", 1_700_000_000).unwrap());
        assert!(!keys.destroy("p", 1_700_000_001).unwrap());
        assert!(keys.is_destroyed("p"));
        assert_eq!(keys.key_for("p", || false).unwrap(), KeyFor::Destroyed);
        // The nonce is in no file of the directory any more.
        let file: KeyFile = serde_json::from_str(&before).unwrap();
        let Some(PetitionKey::Nonce(nonce)) = file.petitions.get("p") else {
            panic!("a nonce")
        };
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let text = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(!text.windows(nonce.len()).any(|w| w == nonce.as_bytes()));
        }
        let keys = DedupKeys::open(dir.path(), master).unwrap();
        assert_eq!(keys.key_for("p", || false).unwrap(), KeyFor::Destroyed);
        assert_eq!(keys.key_for("q", || false).unwrap(), KeyFor::Key(q));
    }
}
