//! Idempotency keys: `server.redb`, table `idempotency`.
//!
//! A request with an `Idempotency-Key` header is remembered under (token id, key) with
//! a fingerprint of its body and where its records went. The sequencer writes the
//! record durably *before* appending the batch to the log, so a crash can never
//! acknowledge a request whose key is forgotten; at start-up [`IdempotencyStore::reconcile`]
//! drops records whose entries never reached the log (the request was never answered,
//! so its retry must append). Records older than [`RETENTION_SECS`] are dropped at
//! start-up too.
//!
//! A second table lists the keys of each committed batch by the tree size it produced.
//! Tree sizes grow with time, so both the keys of uncommitted batches (sizes above the
//! log's) and expired keys (the oldest batches) are found by a range scan that touches
//! only what it drops: start-up stays fast with millions of remembered keys.

use std::path::Path;

use ledger::SignerSecret;
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("idempotency");
/// Tree size after a batch → postcard of (created_unix, the batch's scoped keys).
const BATCHES: TableDefinition<u64, &[u8]> = TableDefinition::new("idempotency_batches");
/// How long a key is remembered: a week.
pub const RETENTION_SECS: u64 = 7 * 24 * 3600;
/// Longest accepted key, in bytes.
pub const MAX_KEY_BYTES: usize = 255;

/// What a key remembers: enough to answer a retry exactly as the first request was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    /// BLAKE3 of the request body.
    pub fingerprint: [u8; 32],
    pub first_index: u64,
    /// How many entries the request appended (their leaf hashes are read from the log,
    /// which keeps them anyway).
    pub count: u64,
    /// The size of the tree whose checkpoint answered the first request.
    pub tree_size: u64,
    pub created_unix: u64,
    /// The signer secrets the first answer handed out, one per entry (`None` for a
    /// record that is not a signature): a retry is made because the first answer was
    /// lost, and with it the only copy of each secret. Kept as long as the key.
    pub signer_secrets: Vec<Option<SignerSecret>>,
}

/// [`Remembered`] as written before signatures had signer secrets: still read, for
/// the keys remembered across an upgrade.
#[derive(Deserialize)]
struct EarlierRemembered {
    fingerprint: [u8; 32],
    first_index: u64,
    count: u64,
    tree_size: u64,
    created_unix: u64,
}

impl Remembered {
    fn decode(bytes: &[u8]) -> Option<Remembered> {
        if let Ok(remembered) = postcard::from_bytes::<Remembered>(bytes) {
            return Some(remembered);
        }
        let earlier: EarlierRemembered = postcard::from_bytes(bytes).ok()?;
        Some(Remembered {
            fingerprint: earlier.fingerprint,
            first_index: earlier.first_index,
            count: earlier.count,
            tree_size: earlier.tree_size,
            created_unix: earlier.created_unix,
            signer_secrets: Vec::new(),
        })
    }
}

pub struct IdempotencyStore {
    db: Database,
}

/// The table key of `key` sent with the token `token_id`: keys are per token.
pub fn scoped_key(token_id: &str, key: &str) -> String {
    format!("{token_id}\n{key}")
}

/// The error of a failed read or write of `server.redb`.
fn db_error(e: impl std::fmt::Display) -> Error {
    Error::db("server.redb")(e)
}

/// The page cache of `server.redb`.
const CACHE_BYTES: usize = 32 << 20;

impl IdempotencyStore {
    pub fn open(path: &Path) -> Result<IdempotencyStore> {
        // Lookups touch the few pages of one key: a bounded cache rather than redb's
        // default of 1 GiB, which a busy week of keys would fill.
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(db_error)?;
        let txn = db.begin_write().map_err(db_error)?;
        txn.open_table(KEYS).map_err(db_error)?;
        txn.open_table(BATCHES).map_err(db_error)?;
        txn.commit().map_err(db_error)?;
        Ok(IdempotencyStore { db })
    }

    pub fn get(&self, scoped_key: &str) -> Result<Option<Remembered>> {
        let txn = self.db.begin_read().map_err(db_error)?;
        let table = txn.open_table(KEYS).map_err(db_error)?;
        let Some(value) = table.get(scoped_key).map_err(db_error)? else {
            return Ok(None);
        };
        Remembered::decode(value.value())
            .map(Some)
            .ok_or_else(|| db_error("an idempotency record does not decode"))
    }

    /// Stores `records`, all from the batch that makes the tree `tree_size` long, in
    /// one durable transaction.
    pub fn put_many(&self, tree_size: u64, records: &[(String, Remembered)]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(db_error)?;
        {
            let mut table = txn.open_table(KEYS).map_err(db_error)?;
            for (key, record) in records {
                let bytes = postcard::to_stdvec(record).expect("records always encode");
                table
                    .insert(key.as_str(), bytes.as_slice())
                    .map_err(db_error)?;
            }
            let mut batches = txn.open_table(BATCHES).map_err(db_error)?;
            let keys: Vec<&str> = records.iter().map(|(key, _)| key.as_str()).collect();
            let created = records.first().map_or(0, |(_, r)| r.created_unix);
            let bytes = postcard::to_stdvec(&(created, keys)).expect("keys always encode");
            batches
                .insert(tree_size, bytes.as_slice())
                .map_err(db_error)?;
        }
        txn.commit().map_err(db_error)
    }

    /// Drops the keys of batches that never reached the log (their tree size is above
    /// the log's) and of batches older than the retention period. Returns how many keys
    /// were dropped. Cost: proportional to what is dropped.
    pub fn reconcile(&self, log_size: u64, now_unix: u64) -> Result<u64> {
        let txn = self.db.begin_write().map_err(db_error)?;
        let dropped = {
            let mut batches = txn.open_table(BATCHES).map_err(db_error)?;
            let mut stale: Vec<u64> = Vec::new();
            for item in batches.range(log_size + 1..).map_err(db_error)? {
                stale.push(item.map_err(db_error)?.0.value());
            }
            for item in batches.iter().map_err(db_error)? {
                let (size, value) = item.map_err(db_error)?;
                let created = postcard::from_bytes::<(u64, Vec<String>)>(value.value())
                    .map(|(created, _)| created)
                    .unwrap_or(0);
                if now_unix.saturating_sub(created) <= RETENTION_SECS {
                    break;
                }
                stale.push(size.value());
            }
            let mut table = txn.open_table(KEYS).map_err(db_error)?;
            let mut dropped = 0;
            for size in stale {
                let Some(value) = batches.remove(size).map_err(db_error)? else {
                    continue;
                };
                let keys = postcard::from_bytes::<(u64, Vec<String>)>(value.value())
                    .map(|(_, keys)| keys)
                    .unwrap_or_default();
                drop(value);
                for key in keys {
                    if table.remove(key.as_str()).map_err(db_error)?.is_some() {
                        dropped += 1;
                    }
                }
            }
            dropped
        };
        txn.commit().map_err(db_error)?;
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remembered(first_index: u64, created_unix: u64) -> Remembered {
        Remembered {
            fingerprint: [1; 32],
            first_index,
            count: 1,
            tree_size: first_index + 1,
            created_unix,
            signer_secrets: vec![Some(SignerSecret([7; 32]))],
        }
    }

    #[test]
    fn keys_remembered_before_signer_secrets_still_read() {
        let earlier = ([1u8; 32], 5u64, 1u64, 6u64, 1_700_000_000u64);
        let bytes = postcard::to_allocvec(&earlier).unwrap();
        let read = Remembered::decode(&bytes).unwrap();
        assert_eq!((read.first_index, read.count), (5, 1));
        assert!(read.signer_secrets.is_empty());
        let now = remembered(5, 1_700_000_000);
        let bytes = postcard::to_allocvec(&now).unwrap();
        assert_eq!(Remembered::decode(&bytes), Some(now));
    }

    #[test]
    fn reconcile_drops_uncommitted_and_expired_batches_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = IdempotencyStore::open(&dir.path().join("server.redb")).unwrap();
        let now = 10 * RETENTION_SECS;
        store
            .put_many(
                5,
                &[("t\\nold".into(), remembered(4, now - RETENTION_SECS - 1))],
            )
            .unwrap();
        store
            .put_many(
                10,
                &[
                    ("t\\na".into(), remembered(9, now)),
                    ("t\\nb".into(), remembered(9, now)),
                ],
            )
            .unwrap();
        store
            .put_many(20, &[("t\\nlost".into(), remembered(19, now))])
            .unwrap();
        // The log has 15 entries: the batch of size 20 never committed.
        assert_eq!(store.reconcile(15, now).unwrap(), 2);
        assert!(store.get("t\\nold").unwrap().is_none());
        assert!(store.get("t\\nlost").unwrap().is_none());
        assert_eq!(store.get("t\\na").unwrap(), Some(remembered(9, now)));
        assert!(store.get("t\\nb").unwrap().is_some());
        assert_eq!(store.reconcile(15, now).unwrap(), 0);
    }
}
