//! Auditors' cosignatures: the auditor keys the operator trusts (`auditors.json`) and
//! the cosignatures those auditors sent (`cosignatures.jsonl`), kept durably and
//! appended to the log's checkpoints and tally notes wherever they are served.
//!
//! A cosignature is a C2SP tlog-cosignature/v1 line (Ed25519, type `0x04`, over
//! `cosignature/v1\ntime <t>\n` and the note body). Appending it to a signed note keeps
//! the note valid for every verifier: one that does not know the auditor's key
//! ignores the line.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use ledger::note::NoteVerifier;
use serde::{Deserialize, Serialize};

use crate::{locks, Error, Result};

/// An auditor the operator trusts to cosign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auditor {
    /// The key's name (the auditor's, as in its vkey).
    pub name: String,
    /// Its cosignature verifier key (type `0x04`).
    pub vkey: String,
    pub added_unix: u64,
}

/// `auditors.json`: the auditor keys whose cosignatures the server accepts.
pub struct Auditors {
    path: PathBuf,
}

impl Auditors {
    pub fn new(path: PathBuf) -> Auditors {
        Auditors { path }
    }

    pub fn list(&self) -> Result<Vec<Auditor>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| Error::Config(format!("{}: {e}", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io(&self.path)(e)),
        }
    }

    /// The verifiers of the listed keys.
    pub fn verifiers(&self) -> Result<Vec<NoteVerifier>> {
        self.list()?
            .iter()
            .map(|a| {
                NoteVerifier::parse(&a.vkey)
                    .map_err(|e| Error::Config(format!("{}: {e}", self.path.display())))
            })
            .collect()
    }

    /// Lists `vkey` (a cosignature key, type `0x04`). Listing it twice changes nothing.
    pub fn add(&self, vkey: &str) -> Result<Auditor> {
        let verifier = NoteVerifier::parse(vkey.trim())
            .map_err(|e| Error::Config(format!("not a verifier key: {e}")))?;
        if verifier.signature_type() != ledger::note::SignatureType::CosignatureV1 {
            return Err(Error::Config(
                "an auditor's key is a cosignature key (type 0x04): make one with \
                 `campaign-ledger auditor keygen --name NAME`"
                    .into(),
            ));
        }
        let mut auditors = self.list()?;
        if let Some(known) = auditors.iter().find(|a| a.vkey == verifier.vkey()) {
            return Ok(known.clone());
        }
        if auditors.iter().any(|a| a.name == verifier.name()) {
            return Err(Error::Config(format!(
                "an auditor named {:?} is listed with another key; remove it first",
                verifier.name()
            )));
        }
        let auditor = Auditor {
            name: verifier.name().to_string(),
            vkey: verifier.vkey(),
            added_unix: crate::unix_now(),
        };
        auditors.push(auditor.clone());
        self.save(&auditors)?;
        Ok(auditor)
    }

    /// Removes the auditor named `name_or_vkey` (or with that key); `false` if none was
    /// listed. Its cosignatures already given stay: they were true when made.
    pub fn remove(&self, name_or_vkey: &str) -> Result<bool> {
        let mut auditors = self.list()?;
        let before = auditors.len();
        auditors.retain(|a| a.name != name_or_vkey && a.vkey != name_or_vkey.trim());
        if auditors.len() == before {
            return Ok(false);
        }
        self.save(&auditors)?;
        Ok(true)
    }

    fn save(&self, auditors: &[Auditor]) -> Result<()> {
        let json = serde_json::to_vec_pretty(auditors)
            .map_err(|e| Error::Config(format!("auditors: {e}")))?;
        let beside = self.path.with_extension("json.tmp");
        let mut file = File::create(&beside).map_err(Error::io(&beside))?;
        file.write_all(&json).map_err(Error::io(&beside))?;
        file.sync_all().map_err(Error::io(&beside))?;
        std::fs::rename(&beside, &self.path).map_err(Error::io(&self.path))
    }
}

/// What a cosignature is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cosigned {
    Checkpoint,
    Tally,
}

/// One auditor's cosignature of one checkpoint or tally note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cosignature {
    pub cosigned: Cosigned,
    pub tree_size: u64,
    /// The auditor's key name and verifier key.
    pub name: String,
    pub vkey: String,
    /// When the auditor says it cosigned (Unix seconds).
    pub time: u64,
    /// The signature line as it is appended to the note (`— name base64\n`).
    pub line: String,
}

/// `cosignatures.jsonl`: every cosignature accepted, one JSON line each, appended and
/// fsynced before it is acknowledged; all of it held in memory (a few hundred bytes
/// each, a handful per tree size an auditor checked).
pub struct CosignatureStore {
    file: Mutex<File>,
    path: PathBuf,
    by_note: RwLock<BTreeMap<(Cosigned, u64), Vec<Cosignature>>>,
}

impl CosignatureStore {
    pub fn open(path: &Path) -> Result<CosignatureStore> {
        let mut by_note: BTreeMap<(Cosigned, u64), Vec<Cosignature>> = BTreeMap::new();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                for line in text.lines() {
                    // A torn last line (a crash mid-append) was never acknowledged.
                    let Ok(cosignature) = serde_json::from_str::<Cosignature>(line) else {
                        continue;
                    };
                    by_note
                        .entry((cosignature.cosigned, cosignature.tree_size))
                        .or_default()
                        .push(cosignature);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(path)(e)),
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(Error::io(path))?;
        Ok(CosignatureStore {
            file: Mutex::new(file),
            path: path.to_path_buf(),
            by_note: RwLock::new(by_note),
        })
    }

    /// Keeps `cosignature` durably; `false` if that auditor's cosignature of that note
    /// was kept before (the first stays).
    pub fn add(&self, cosignature: Cosignature) -> Result<bool> {
        let mut file = locks::lock(&self.file);
        let key = (cosignature.cosigned, cosignature.tree_size);
        {
            let by_note = locks::read(&self.by_note);
            if by_note
                .get(&key)
                .is_some_and(|all| all.iter().any(|c| c.vkey == cosignature.vkey))
            {
                return Ok(false);
            }
        }
        let mut line = serde_json::to_vec(&cosignature)
            .map_err(|e| Error::Config(format!("cosignature: {e}")))?;
        line.push(b'\n');
        file.write_all(&line).map_err(Error::io(&self.path))?;
        file.sync_data().map_err(Error::io(&self.path))?;
        locks::write(&self.by_note)
            .entry(key)
            .or_default()
            .push(cosignature);
        Ok(true)
    }

    /// How many cosignatures are kept (it only grows).
    pub fn count(&self) -> usize {
        let by_note = locks::read(&self.by_note);
        by_note.values().map(Vec::len).sum()
    }

    /// Every cosignature, by note.
    pub fn all(&self) -> Vec<Cosignature> {
        let by_note = locks::read(&self.by_note);
        by_note.values().flatten().cloned().collect()
    }

    /// The cosignatures of one note.
    pub fn of(&self, cosigned: Cosigned, tree_size: u64) -> Vec<Cosignature> {
        let by_note = locks::read(&self.by_note);
        by_note
            .get(&(cosigned, tree_size))
            .cloned()
            .unwrap_or_default()
    }

    /// `note` (signed by the log key, of `cosigned` at `tree_size`) with the
    /// cosignatures kept for it appended.
    pub fn append_to(&self, note: &str, cosigned: Cosigned, tree_size: u64) -> String {
        let mut out = note.to_string();
        for cosignature in self.of(cosigned, tree_size) {
            if !out.contains(&cosignature.line) {
                out.push_str(&cosignature.line);
            }
        }
        out
    }

    /// A signed checkpoint of this log with the cosignatures kept for its tree size.
    pub fn cosigned_checkpoint(&self, checkpoint: &str) -> String {
        let size = checkpoint
            .lines()
            .nth(1)
            .and_then(ledger::checkpoint::parse_decimal_u64);
        match size {
            Some(size) => self.append_to(checkpoint, Cosigned::Checkpoint, size),
            None => checkpoint.to_string(),
        }
    }
}
