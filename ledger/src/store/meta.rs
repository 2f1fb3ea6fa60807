//! `meta.redb`: the log's identity, the sync state of the indexes and the key pins;
//! and reading a log without its key ([`describe`], [`read_log`]), as an auditor does.

use std::fs::File;
use std::path::{Path, PathBuf};

use redb::{Database, TableDefinition};

use super::{journal, KeyPin, LogConfig, JOURNAL, META_DB};
use crate::{Error, Hash, HashAlg, Result};

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
pub(super) const META_PUBLISHED: &str = "published";
/// `pin/<name>`: the fingerprint of a key the owner keeps beside the log.
const META_PIN_PREFIX: &str = "pin/";
const FORMAT_VERSION: &[u8] = b"1";

/// The path of `dir`'s meta.redb, or [`Error::NotALedger`] if it has none.
fn meta_db_path(dir: &Path) -> Result<PathBuf> {
    let path = dir.join(META_DB);
    if !path.exists() {
        return Err(Error::NotALedger {
            path: dir.to_path_buf(),
            missing: META_DB,
        });
    }
    Ok(path)
}

/// Creates the meta.redb of a new log in `dir`, whose log key's verifier key is `vkey`.
pub(super) fn create(dir: &Path, config: &LogConfig, vkey: &str) -> Result<()> {
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
        meta.insert(META_VKEY, vkey.as_bytes()).map_err(db_err)?;
        meta.insert(META_PUBLISHED, b"1".as_slice())
            .map_err(db_err)?;
    }
    txn.commit().map_err(db_err)
}

/// Opens the meta.redb of the log in `dir` for writing and reads it.
pub(super) fn open(dir: &Path) -> Result<(Database, Meta)> {
    let db = meta_db_builder()
        .create(meta_db_path(dir)?)
        .map_err(db_err)?;
    let meta = read_meta(&db)?;
    Ok((db, meta))
}

/// Lengths (in rows) up to which the index files are known durable, and the journal
/// offset and tree size they reflect. Stored in `meta.redb`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Synced {
    pub journal_len: u64,
    pub tree_size: u64,
    /// Rows of each `hashes.<L>` file.
    pub hash_rows: Vec<u64>,
    pub frame_rows: u64,
    pub checkpoint_rows: u64,
}

pub(super) struct Meta {
    pub origin: String,
    pub hash: HashAlg,
    pub vkey: String,
    pub synced: Synced,
    /// Whether the `published` file was made (so must exist).
    pub published_recorded: bool,
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
pub(super) fn check_pins(db: &Database, pins: &[KeyPin<'_>]) -> Result<Vec<String>> {
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
pub(super) fn write_meta_flag(db: &Database, key: &str) -> Result<()> {
    let txn = db.begin_write().map_err(db_err)?;
    {
        let mut meta = txn.open_table(META).map_err(db_err)?;
        meta.insert(key, b"1".as_slice()).map_err(db_err)?;
    }
    txn.commit().map_err(db_err)
}

pub(super) fn write_synced(db: &Database, synced: &Synced) -> Result<()> {
    let bytes = postcard::to_allocvec(synced).map_err(db_err)?;
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
    let db = meta_db_builder().open(meta_db_path(dir)?).map_err(db_err)?;
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
    meta_db_path(dir)?;
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
