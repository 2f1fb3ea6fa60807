//! Idempotency keys: `server.redb`, table `idempotency`.
//!
//! A request with an `Idempotency-Key` header is remembered under (token id, key) with
//! a fingerprint of its body and where its records went. The sequencer writes the
//! record durably *before* appending the batch to the log, so a crash can never
//! acknowledge a request whose key is forgotten; at start-up [`IdempotencyStore::reconcile`]
//! drops records whose entries never reached the log (the request was never answered,
//! so its retry must append). Records older than [`RETENTION_SECS`] are dropped at
//! start-up too.

use std::path::Path;

use ledger::store::Store;
use ledger::Hash;
use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("idempotency");
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
    pub leaf_hashes: Vec<Hash>,
    /// The size of the tree whose checkpoint answered the first request.
    pub tree_size: u64,
    pub created_unix: u64,
}

pub struct IdempotencyStore {
    db: Database,
}

/// The table key of `key` sent with the token `token_id`: keys are per token.
pub fn scoped_key(token_id: &str, key: &str) -> String {
    format!("{token_id}\n{key}")
}

impl IdempotencyStore {
    pub fn open(path: &Path) -> Result<IdempotencyStore> {
        let db = Database::create(path).map_err(Error::db("server.redb"))?;
        let txn = db.begin_write().map_err(Error::db("server.redb"))?;
        txn.open_table(KEYS).map_err(Error::db("server.redb"))?;
        txn.commit().map_err(Error::db("server.redb"))?;
        Ok(IdempotencyStore { db })
    }

    pub fn get(&self, scoped_key: &str) -> Result<Option<Remembered>> {
        let txn = self.db.begin_read().map_err(Error::db("server.redb"))?;
        let table = txn.open_table(KEYS).map_err(Error::db("server.redb"))?;
        let Some(value) = table.get(scoped_key).map_err(Error::db("server.redb"))? else {
            return Ok(None);
        };
        postcard::from_bytes(value.value())
            .map(Some)
            .map_err(|_| Error::Db {
                file: "server.redb",
                message: "an idempotency record does not decode".into(),
            })
    }

    /// Stores `records` in one durable transaction.
    pub fn put_many(&self, records: &[(String, Remembered)]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(Error::db("server.redb"))?;
        {
            let mut table = txn.open_table(KEYS).map_err(Error::db("server.redb"))?;
            for (key, record) in records {
                let bytes = postcard::to_stdvec(record).expect("records always encode");
                table
                    .insert(key.as_str(), bytes.as_slice())
                    .map_err(Error::db("server.redb"))?;
            }
        }
        txn.commit().map_err(Error::db("server.redb"))
    }

    /// Drops records whose entries are not in `store` exactly as remembered, and
    /// records older than the retention period. Returns how many were dropped.
    pub fn reconcile(&self, store: &Store, now_unix: u64) -> Result<u64> {
        let txn = self.db.begin_write().map_err(Error::db("server.redb"))?;
        let dropped = {
            let mut table = txn.open_table(KEYS).map_err(Error::db("server.redb"))?;
            let mut stale = Vec::new();
            for item in table.iter().map_err(Error::db("server.redb"))? {
                let (key, value) = item.map_err(Error::db("server.redb"))?;
                let keep = match postcard::from_bytes::<Remembered>(value.value()) {
                    Ok(record) => {
                        now_unix.saturating_sub(record.created_unix) <= RETENTION_SECS
                            && in_log(store, &record)?
                    }
                    Err(_) => false,
                };
                if !keep {
                    stale.push(key.value().to_owned());
                }
            }
            for key in &stale {
                table
                    .remove(key.as_str())
                    .map_err(Error::db("server.redb"))?;
            }
            stale.len() as u64
        };
        txn.commit().map_err(Error::db("server.redb"))?;
        Ok(dropped)
    }
}

fn in_log(store: &Store, record: &Remembered) -> Result<bool> {
    if record.tree_size > store.size() {
        return Ok(false);
    }
    for (offset, hash) in record.leaf_hashes.iter().enumerate() {
        if store.leaf_hash(record.first_index + offset as u64)? != *hash {
            return Ok(false);
        }
    }
    Ok(true)
}
