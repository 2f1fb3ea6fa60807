//! The personal-data vault: `vault.log` in the data directory, encrypted at rest,
//! keyed by entry index.
//!
//! Each value is `nonce (24 bytes) ‖ XChaCha20-Poly1305(postcard(PersonalData, salt))`,
//! with the signature's commitment as associated data, so a sealed value cannot be
//! moved to another signature unnoticed. Erasure overwrites the value where it lies:
//! the signature still counts and verifies, but the commitment can no longer be opened.
//!
//! Values are sealed by request handlers (off the sequencer) and stored by the
//! sequencer, one durable batch per log batch, before the batch is appended to the log;
//! [`Vault::forget_from`] removes values whose entries never reached the log. How the
//! file is laid out and why: `file.rs`.

mod file;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use redb::{Database, ReadableTable, TableDefinition};

use crate::input::PersonalData;
use crate::locks;
use crate::{Error, Result};
use file::VaultFile;
use ledger::Hash;

const NONCE_LEN: usize = 24;

/// Entries [`Vault::verify`] reads at once (about 700 KB of signatures).
const VERIFY_WINDOW: u64 = 4096;

/// What [`Vault::verify`] found.
#[derive(Debug, Default)]
pub struct VaultCheck {
    /// Values that opened with the key and their signature's commitment.
    pub opened: u64,
    /// Values at indexes beyond the log (of a batch that never committed; the server
    /// drops them at start).
    pub orphans: u64,
    /// What is wrong, one line per value.
    pub problems: Vec<String>,
}

/// Personal data sealed for the vault, with the commitment it was sealed under.
pub struct Sealed {
    pub commitment: Hash,
    pub bytes: Vec<u8>,
}

pub struct Vault {
    file: Mutex<VaultFile>,
    cipher: XChaCha20Poly1305,
}

impl Vault {
    /// Opens (creating if needed) the vault file at `path` with the 32-byte `key`. A
    /// vault of the earlier redb layout (`vault.redb` beside it) is moved into the file
    /// first, and removed once the file holds it durably.
    pub fn open(path: &Path, key: &[u8; 32]) -> Result<Vault> {
        let earlier = path.with_file_name(EARLIER_VAULT);
        if earlier.exists() {
            move_earlier_vault(&earlier, path)?;
        }
        Ok(Vault {
            file: Mutex::new(VaultFile::open(path)?),
            cipher: XChaCha20Poly1305::new(key.into()),
        })
    }

    fn file(&self) -> MutexGuard<'_, VaultFile> {
        locks::lock(&self.file)
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

    /// Stores sealed values at their entry indexes (ascending, above every index stored
    /// so far), durably, with one write and one `fdatasync`.
    pub fn put_many(&self, items: &[(u64, &Sealed)]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let values: Vec<(u64, &[u8])> = items
            .iter()
            .map(|(index, sealed)| (*index, sealed.bytes.as_slice()))
            .collect();
        self.file().append(&values)
    }

    /// The personal data and salt of the signature at `index`, which commits to
    /// `commitment`; `None` if there is none (erased, or never stored).
    pub fn get(&self, index: u64, commitment: &Hash) -> Result<Option<(PersonalData, [u8; 32])>> {
        let Some(bytes) = self.file().get(index)? else {
            return Ok(None);
        };
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

    /// Overwrites the personal data of the signatures at `indexes` with zeros, durably,
    /// with one `fdatasync`. Returns how many had any.
    pub fn erase_many(&self, indexes: &[u64]) -> Result<u64> {
        self.file().erase(indexes)
    }

    /// Erases every value at an index ≥ `size`: sealed for a batch that never reached
    /// the log (a crash between the vault's write and the log's). Returns how many.
    pub fn forget_from(&self, size: u64) -> Result<u64> {
        self.file().forget_from(size)
    }

    /// Opens every stored value with this vault's key and the commitment of the
    /// signature it belongs to in `store`, as `campaign-ledger check` does. Returns how
    /// many opened, and what is wrong with the others (by index, never by content).
    /// Cost: one entry read and one decryption per value.
    pub fn verify(&self, store: &ledger::store::Store) -> Result<VaultCheck> {
        let mut check = VaultCheck::default();
        let size = store.size();
        let indexes = self.file().indexes();
        let (logged, orphans) = indexes.split_at(indexes.partition_point(|&i| i < size));
        check.orphans = orphans.len() as u64;
        // The entries are read a window at a time: reading each alone would read its
        // whole frame (up to 256 entries) once per value.
        let mut window: (u64, Vec<Vec<u8>>) = (0, Vec::new());
        for &index in logged {
            let (start, entries) = &window;
            if index < *start || index >= start + entries.len() as u64 {
                let end = (index + VERIFY_WINDOW).min(size);
                window = (index, store.entries(index, end)?);
            }
            let bytes = &window.1[(index - window.0) as usize];
            let entry = ledger::Entry::decode(bytes)?;
            self.verify_value(index, entry.record(), &mut check);
        }
        Ok(check)
    }

    /// [`Vault::verify`] of the value at `index`, whose entry holds `record`.
    fn verify_value(&self, index: u64, record: &ledger::Record, check: &mut VaultCheck) {
        let commitment = match record.signature() {
            Some(signature) => signature.commitment,
            None => {
                check.problems.push(format!(
                    "entry {index} is not a signature but has a vault value"
                ));
                return;
            }
        };
        match self.get(index, &commitment) {
            Ok(_) => check.opened += 1,
            Err(_) => check.problems.push(format!(
                "the vault value of entry {index} does not open with vault.key and the \
                 entry's commitment"
            )),
        }
    }

    /// How many signatures have personal data stored.
    pub fn len(&self) -> u64 {
        self.file().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The vault of the earlier layout: a redb database with one table, index → value.
use crate::datadir::EARLIER_VAULT;
const EARLIER_TABLE: TableDefinition<u64, &[u8]> = TableDefinition::new("personal_data");

/// Moves every value of the redb vault at `earlier` into a new vault file at `path`,
/// then removes `earlier`. Safe to repeat after a crash: the file is rebuilt from the
/// start while `earlier` exists.
fn move_earlier_vault(earlier: &Path, path: &Path) -> Result<()> {
    let db = Database::create(earlier).map_err(Error::db(EARLIER_VAULT))?;
    if path.exists() {
        std::fs::remove_file(path).map_err(Error::io(path))?;
    }
    let mut file = VaultFile::open(path)?;
    let txn = db.begin_read().map_err(Error::db(EARLIER_VAULT))?;
    match txn.open_table(EARLIER_TABLE) {
        Ok(table) => {
            let mut batch: Vec<(u64, Vec<u8>)> = Vec::new();
            for item in table.iter().map_err(Error::db(EARLIER_VAULT))? {
                let (index, value) = item.map_err(Error::db(EARLIER_VAULT))?;
                batch.push((index.value(), value.value().to_vec()));
                if batch.len() == 4096 {
                    append_owned(&mut file, &mut batch)?;
                }
            }
            append_owned(&mut file, &mut batch)?;
        }
        Err(redb::TableError::TableDoesNotExist(_)) => {}
        Err(e) => return Err(Error::db(EARLIER_VAULT)(e)),
    }
    drop(txn);
    drop(db);
    std::fs::remove_file(earlier).map_err(Error::io(earlier))?;
    if let Some(dir) = path.parent() {
        ledger::store::sync_dir(dir).map_err(Error::io(dir))?;
    }
    tracing::info!("moved the personal-data vault from vault.redb to vault.log");
    Ok(())
}

fn append_owned(file: &mut VaultFile, batch: &mut Vec<(u64, Vec<u8>)>) -> Result<()> {
    if !batch.is_empty() {
        let values: Vec<(u64, &[u8])> = batch.iter().map(|(i, v)| (*i, v.as_slice())).collect();
        file.append(&values)?;
        batch.clear();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> PersonalData {
        PersonalData {
            name: name.into(),
            email: Some("ada@example.org".into()),
            postcode: Some("NE1 7RU".into()),
            address: None,
        }
    }

    const KEY: [u8; 32] = [7; 32];

    fn commitment(index: u64) -> Hash {
        Hash([index as u8; 32])
    }

    /// The personal data of signer `index`, sealed for its entry.
    fn sealed(vault: &Vault, index: u64) -> Sealed {
        let data = data(&format!("Signer {index:05}"));
        vault.seal(&data, &[index as u8; 32], commitment(index))
    }

    /// Puts the values of `indexes` as one batch.
    fn put(vault: &Vault, indexes: &[u64]) {
        let sealed: Vec<Sealed> = indexes.iter().map(|&i| sealed(vault, i)).collect();
        let items: Vec<(u64, &Sealed)> = indexes.iter().copied().zip(sealed.iter()).collect();
        vault.put_many(&items).unwrap();
    }

    fn name_at(vault: &Vault, index: u64) -> Option<String> {
        vault
            .get(index, &commitment(index))
            .unwrap()
            .map(|(data, _)| data.name)
    }

    fn raw_contains(path: &Path, needle: &[u8]) -> bool {
        std::fs::read(path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
    }

    #[test]
    fn seal_store_open_erase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.log");
        let vault = Vault::open(&path, &KEY).unwrap();
        let sealed = vault.seal(&data("Ada Example"), &[1; 32], Hash([9; 32]));
        vault.put_many(&[(5, &sealed), (8, &sealed)]).unwrap();
        assert_eq!(
            vault.get(5, &Hash([9; 32])).unwrap(),
            Some((data("Ada Example"), [1; 32]))
        );
        // Bound to the commitment and the key.
        assert!(vault.get(5, &Hash([8; 32])).is_err());
        assert!(!raw_contains(&path, b"Ada Example"));
        assert!(raw_contains(&path, &sealed.bytes));
        drop(vault);
        let other = Vault::open(&path, &[6; 32]).unwrap();
        assert!(other.get(5, &Hash([9; 32])).is_err());
        drop(other);

        let vault = Vault::open(&path, &KEY).unwrap();
        assert_eq!(vault.len(), 2);
        assert_eq!(vault.erase_many(&[5]).unwrap(), 1);
        assert_eq!(vault.erase_many(&[5]).unwrap(), 0);
        assert_eq!(vault.get(5, &Hash([9; 32])).unwrap(), None);
        assert_eq!(vault.forget_from(6).unwrap(), 1);
        assert!(vault.is_empty());
        // Nothing of either value is left in the file, and both stay gone.
        assert!(!raw_contains(&path, &sealed.bytes[..40]));
        drop(vault);
        let vault = Vault::open(&path, &KEY).unwrap();
        assert!(vault.is_empty());
        assert_eq!(vault.get(8, &Hash([9; 32])).unwrap(), None);
    }

    #[test]
    fn batches_survive_reopening_and_erasure_is_for_good() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.log");
        let vault = Vault::open(&path, &KEY).unwrap();
        // Enough batches to cross the file's first chunk and the scan's first window.
        let mut next = 0;
        for batch in 0..2_000u64 {
            let indexes: Vec<u64> = (next..next + 1 + batch % 40)
                .filter(|i| i % 7 != 3)
                .collect();
            next += 1 + batch % 40;
            if !indexes.is_empty() {
                put(&vault, &indexes);
            }
        }
        assert!(std::fs::metadata(&path).unwrap().len() > file_chunk());
        let stored = vault.len();
        assert_eq!(vault.erase_many(&[100]).unwrap(), 1);
        let erased = vault
            .file()
            .get(102)
            .unwrap()
            .expect("entry 102 has a value");
        assert_eq!(vault.erase_many(&[102]).unwrap(), 1);
        drop(vault);

        let vault = Vault::open(&path, &KEY).unwrap();
        assert_eq!(vault.len(), stored - 2);
        for index in [0, 99, 103, next - 1] {
            assert_eq!(name_at(&vault, index), Some(format!("Signer {index:05}")));
        }
        assert_eq!(name_at(&vault, 3), None);
        assert_eq!(name_at(&vault, 100), None);
        assert_eq!(name_at(&vault, 102), None);
        assert_eq!(name_at(&vault, next), None);
        assert!(!raw_contains(&path, &erased));
        // Appends go on after the last batch.
        put(&vault, &[next + 5]);
        drop(vault);
        let vault = Vault::open(&path, &KEY).unwrap();
        assert_eq!(
            name_at(&vault, next + 5),
            Some(format!("Signer {:05}", next + 5))
        );
        // Indexes only rise.
        assert!(vault
            .put_many(&[(next, &vault.seal(&data("Late"), &[0; 32], commitment(next)))])
            .is_err());
    }

    fn file_chunk() -> u64 {
        4 << 20
    }

    #[test]
    fn a_torn_or_forgotten_tail_is_cleared_and_its_indexes_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.log");
        let vault = Vault::open(&path, &KEY).unwrap();
        put(&vault, &[0, 1, 2]);
        put(&vault, &[3, 4]);
        let end_of_two = {
            use std::os::unix::fs::FileExt;
            let file = std::fs::File::open(&path).unwrap();
            let mut bytes = vec![0u8; 1 << 16];
            file.read_at(&mut bytes, 0).unwrap();
            bytes.iter().rposition(|&b| b != 0).unwrap() as u64 + 1
        };
        put(&vault, &[5, 6]);
        drop(vault);
        // A batch torn by a crash: its header survived, its table did not.
        {
            use std::os::unix::fs::FileExt;
            let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            file.write_all_at(&[0xEE; 20], end_of_two + 30).unwrap();
        }
        let vault = Vault::open(&path, &KEY).unwrap();
        assert_eq!(
            vault.len(),
            5,
            "the torn batch and everything after it are gone"
        );
        assert_eq!(name_at(&vault, 4), Some("Signer 00004".into()));
        assert_eq!(name_at(&vault, 5), None);
        put(&vault, &[5]);
        // The log was cut back to 3 entries: later values are forgotten, for good.
        assert_eq!(vault.forget_from(3).unwrap(), 3);
        put(&vault, &[3, 4]);
        drop(vault);
        let vault = Vault::open(&path, &KEY).unwrap();
        assert_eq!(vault.len(), 5);
        assert_eq!(name_at(&vault, 5), None);
        assert_eq!(name_at(&vault, 4), Some("Signer 00004".into()));
    }

    /// Where each batch starts in the file (its magic; sealed bytes are random, so a
    /// chance "VBAT" in them is as likely as a guessed key).
    fn batch_starts(path: &Path) -> Vec<u64> {
        let bytes = std::fs::read(path).unwrap();
        (0..bytes.len() - 4)
            .filter(|&i| &bytes[i..i + 4] == b"VBAT")
            .map(|i| i as u64)
            .collect()
    }

    fn overwrite(path: &Path, at: u64, bytes: &[u8]) {
        use std::os::unix::fs::FileExt;
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        file.write_all_at(bytes, at).unwrap();
    }

    #[test]
    fn a_batch_that_straddles_the_log_size_is_cut_and_its_indexes_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.log");
        let vault = Vault::open(&path, &KEY).unwrap();
        put(&vault, &(0..10).collect::<Vec<u64>>());
        assert_eq!(vault.forget_from(5).unwrap(), 5);
        put(&vault, &[5, 6]);
        drop(vault);
        let vault = Vault::open(&path, &KEY).unwrap();
        // At start the node forgets from the log's size again; that frees index 7 on.
        assert_eq!(vault.forget_from(7).unwrap(), 0);
        put(&vault, &[7]);
        drop(vault);
        let vault = Vault::open(&path, &KEY).unwrap();
        for index in 0..8 {
            assert_eq!(name_at(&vault, index), Some(format!("Signer {index:05}")));
        }
        assert_eq!(name_at(&vault, 8), None);
        assert_eq!(vault.len(), 8);
    }

    /// A closed vault file of three batches: 0 and 1, 2 and 3, 4 and 5.
    fn three_batches() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.log");
        let vault = Vault::open(&path, &KEY).unwrap();
        put(&vault, &[0, 1]);
        put(&vault, &[2, 3]);
        put(&vault, &[4, 5]);
        (dir, path)
    }

    #[test]
    fn a_whole_batch_behind_a_broken_one_is_damage_and_nothing_is_cleared() {
        let (_dir, path) = three_batches();
        let starts = batch_starts(&path);
        assert_eq!(starts.len(), 3);
        // One flipped byte in the second batch's table.
        overwrite(&path, starts[1] + 30, &[0xEE]);
        let before = std::fs::read(&path).unwrap();
        let error = Vault::open(&path, &KEY).err().expect("a damaged vault");
        assert!(error.to_string().contains("damaged"), "{error}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "nothing was cleared");
    }

    #[test]
    fn a_forget_cut_short_by_a_crash_leaves_a_vault_that_opens() {
        let (_dir, path) = three_batches();
        // forget_from(2) zeroes the last dropped header first; a crash right after it
        // leaves the second batch whole and the third broken behind it.
        let starts = batch_starts(&path);
        overwrite(&path, starts[2], &[0; 4]);
        let vault = Vault::open(&path, &KEY).unwrap();
        assert_eq!(vault.len(), 4);
        assert_eq!(vault.forget_from(2).unwrap(), 2);
        put(&vault, &[2]);
        drop(vault);
        let vault = Vault::open(&path, &KEY).unwrap();
        assert_eq!(vault.len(), 3);
        assert_eq!(name_at(&vault, 2), Some("Signer 00002".into()));
        assert_eq!(name_at(&vault, 3), None);
    }

    #[test]
    fn a_file_whose_first_bytes_never_reached_the_disk_is_a_new_vault() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.log");
        for leftover in [vec![], b"clv".to_vec(), vec![0; 4 << 20]] {
            std::fs::write(&path, &leftover).unwrap();
            let vault = Vault::open(&path, &KEY).unwrap();
            put(&vault, &[0]);
            drop(vault);
            let vault = Vault::open(&path, &KEY).unwrap();
            assert_eq!(name_at(&vault, 0), Some("Signer 00000".into()));
        }
        std::fs::write(&path, b"not a vault, but something").unwrap();
        assert!(Vault::open(&path, &KEY).is_err());
    }

    #[test]
    fn a_vault_of_the_earlier_layout_moves_into_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let earlier = dir.path().join(EARLIER_VAULT);
        let path = dir.path().join("vault.log");
        let vault = Vault::open(&path, &KEY).unwrap();
        let sealed: Vec<(u64, Sealed)> = [2u64, 9, 10]
            .iter()
            .map(|&i| (i, sealed(&vault, i)))
            .collect();
        drop(vault);
        std::fs::remove_file(&path).unwrap();
        {
            let db = Database::create(&earlier).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut table = txn.open_table(EARLIER_TABLE).unwrap();
                for (index, sealed) in &sealed {
                    table.insert(*index, sealed.bytes.as_slice()).unwrap();
                }
            }
            txn.commit().unwrap();
        }
        let vault = Vault::open(&path, &KEY).unwrap();
        assert!(!earlier.exists());
        assert_eq!(vault.len(), 3);
        for index in [2, 9, 10] {
            assert_eq!(name_at(&vault, index), Some(format!("Signer {index:05}")));
        }
    }
}
