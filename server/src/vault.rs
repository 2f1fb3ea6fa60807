//! The personal-data vault: `vault.redb`, encrypted at rest, keyed by entry index.
//!
//! Each value is `nonce (24 bytes) ‖ XChaCha20-Poly1305(postcard(PersonalData, salt))`,
//! with the signature's commitment as associated data, so a sealed value cannot be
//! moved to another signature unnoticed. Erasure deletes the value: the signature
//! still counts and verifies, but the commitment can no longer be opened.
//!
//! Values are sealed by request handlers (off the sequencer) and stored by the
//! sequencer in one transaction per batch, before the batch is appended to the log;
//! [`Vault::forget_from`] removes values whose entries never reached the log.

use std::path::Path;

use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::input::PersonalData;
use crate::{Error, Result};
use ledger::Hash;

const SEALED: TableDefinition<u64, &[u8]> = TableDefinition::new("personal_data");
const NONCE_LEN: usize = 24;

/// Personal data sealed for the vault, with the commitment it was sealed under.
pub struct Sealed {
    pub commitment: Hash,
    pub bytes: Vec<u8>,
}

pub struct Vault {
    db: Database,
    cipher: XChaCha20Poly1305,
}

impl Vault {
    /// Opens (creating if needed) the vault at `path` with the 32-byte `key`.
    pub fn open(path: &Path, key: &[u8; 32]) -> Result<Vault> {
        let db = Database::create(path).map_err(Error::db("vault.redb"))?;
        let txn = db.begin_write().map_err(Error::db("vault.redb"))?;
        txn.open_table(SEALED).map_err(Error::db("vault.redb"))?;
        txn.commit().map_err(Error::db("vault.redb"))?;
        Ok(Vault {
            db,
            cipher: XChaCha20Poly1305::new(key.into()),
        })
    }

    /// Encrypts `data` and its `salt` for the signature committing to `commitment`.
    pub fn seal(&self, data: &PersonalData, salt: &[u8; 32], commitment: Hash) -> Sealed {
        // A 192-bit random nonce from the thread's CSPRNG (ChaCha, seeded and reseeded
        // from the OS): never repeats in practice, without a system call per seal.
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let mut bytes = nonce.to_vec();
        let plain_at = bytes.len();
        bytes = postcard::to_extend(&(data, salt), bytes).expect("personal data always encodes");
        let tag = self
            .cipher
            .encrypt_in_place_detached(
                XNonce::from_slice(&nonce),
                commitment.as_bytes(),
                &mut bytes[plain_at..],
            )
            .expect("XChaCha20-Poly1305 encryption does not fail for short messages");
        bytes.extend_from_slice(&tag);
        Sealed { commitment, bytes }
    }

    /// Stores sealed values at their entry indexes in one durable transaction.
    pub fn put_many(&self, items: &[(u64, &Sealed)]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(Error::db("vault.redb"))?;
        {
            let mut table = txn.open_table(SEALED).map_err(Error::db("vault.redb"))?;
            for (index, sealed) in items {
                table
                    .insert(*index, sealed.bytes.as_slice())
                    .map_err(Error::db("vault.redb"))?;
            }
        }
        txn.commit().map_err(Error::db("vault.redb"))
    }

    /// The personal data and salt of the signature at `index`, which commits to
    /// `commitment`; `None` if there is none (erased, or never stored).
    pub fn get(&self, index: u64, commitment: &Hash) -> Result<Option<(PersonalData, [u8; 32])>> {
        let txn = self.db.begin_read().map_err(Error::db("vault.redb"))?;
        let table = txn.open_table(SEALED).map_err(Error::db("vault.redb"))?;
        let Some(value) = table.get(index).map_err(Error::db("vault.redb"))? else {
            return Ok(None);
        };
        let bytes = value.value();
        if bytes.len() < NONCE_LEN {
            return Err(Error::Vault("a sealed value is too short"));
        }
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(&bytes[..NONCE_LEN]),
                Payload {
                    msg: &bytes[NONCE_LEN..],
                    aad: commitment.as_bytes(),
                },
            )
            .map_err(|_| {
                Error::Vault("a sealed value does not open with this key and commitment")
            })?;
        let (data, salt): (PersonalData, [u8; 32]) = postcard::from_bytes(&plain)
            .map_err(|_| Error::Vault("a sealed value does not decode"))?;
        Ok(Some((data, salt)))
    }

    /// Deletes the personal data of the signature at `index`. Returns whether there was any.
    pub fn erase(&self, index: u64) -> Result<bool> {
        let txn = self.db.begin_write().map_err(Error::db("vault.redb"))?;
        let existed = {
            let mut table = txn.open_table(SEALED).map_err(Error::db("vault.redb"))?;
            let removed = table.remove(index).map_err(Error::db("vault.redb"))?;
            removed.is_some()
        };
        txn.commit().map_err(Error::db("vault.redb"))?;
        Ok(existed)
    }

    /// Deletes every value at an index ≥ `size`: sealed for a batch that never reached
    /// the log (a crash between the vault commit and the log commit). Returns how many.
    pub fn forget_from(&self, size: u64) -> Result<u64> {
        let txn = self.db.begin_write().map_err(Error::db("vault.redb"))?;
        let removed = {
            let mut table = txn.open_table(SEALED).map_err(Error::db("vault.redb"))?;
            let stale: Vec<u64> = table
                .range(size..)
                .map_err(Error::db("vault.redb"))?
                .map(|item| item.map(|(k, _)| k.value()))
                .collect::<Result<_, _>>()
                .map_err(Error::db("vault.redb"))?;
            for index in &stale {
                table.remove(index).map_err(Error::db("vault.redb"))?;
            }
            stale.len() as u64
        };
        txn.commit().map_err(Error::db("vault.redb"))?;
        Ok(removed)
    }

    /// How many signatures have personal data stored.
    pub fn len(&self) -> Result<u64> {
        let txn = self.db.begin_read().map_err(Error::db("vault.redb"))?;
        let table = txn.open_table(SEALED).map_err(Error::db("vault.redb"))?;
        table.len().map_err(Error::db("vault.redb"))
    }

    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> PersonalData {
        PersonalData {
            name: "Ada Example".into(),
            email: Some("ada@example.org".into()),
            postcode: Some("NE1 7RU".into()),
            address: None,
        }
    }

    #[test]
    fn seal_store_open_erase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.redb");
        let vault = Vault::open(&path, &[7; 32]).unwrap();
        let sealed = vault.seal(&data(), &[1; 32], Hash([9; 32]));
        vault.put_many(&[(5, &sealed), (8, &sealed)]).unwrap();
        assert_eq!(
            vault.get(5, &Hash([9; 32])).unwrap(),
            Some((data(), [1; 32]))
        );
        // Bound to the commitment and the key.
        assert!(vault.get(5, &Hash([8; 32])).is_err());
        let raw = std::fs::read(&path).unwrap();
        assert!(!raw.windows(11).any(|w| w == b"Ada Example"));
        drop(vault);
        let other = Vault::open(&path, &[6; 32]).unwrap();
        assert!(other.get(5, &Hash([9; 32])).is_err());
        drop(other);

        let vault = Vault::open(&path, &[7; 32]).unwrap();
        assert!(vault.erase(5).unwrap());
        assert!(!vault.erase(5).unwrap());
        assert_eq!(vault.get(5, &Hash([9; 32])).unwrap(), None);
        assert_eq!(vault.forget_from(6).unwrap(), 1);
        assert!(vault.is_empty().unwrap());
    }
}
