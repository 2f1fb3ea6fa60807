//! Snapshots of the projection beside the log, so a restart replays only what came
//! after the last snapshot.
//!
//! A snapshot records the tree size and root it reflects. It is used only if the log
//! still has that root at that size (so a snapshot can never be applied to another log
//! or to a log that was rebuilt), and the entries after it are replayed from the store.
//! Snapshots are a cache: deleting `projector.redb` costs one full replay, nothing else.
//! A snapshot carries the BLAKE3 hash of its bytes, so a damaged one (a flipped bit on
//! disk) is a cache miss, never wrong counts served.
//!
//! Record: `tree_size:u64le ‖ root[32] ‖ BLAKE3(snapshot)[32] ‖ snapshot`.

use std::path::Path;

use ledger::store::Store;
use ledger::Hash;
use redb::{Database, TableDefinition};

use crate::{Error, Projection, Result};

const SNAPSHOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshots");
const LATEST: &str = "latest";
/// Tree size, root and the hash of the snapshot bytes, before them.
const HEADER_LEN: usize = 8 + 32 + 32;
/// Entries read from the store per call while catching up.
const CATCH_UP_CHUNK: u64 = 1 << 16;

/// The snapshot database, `projector.redb` in the data directory.
pub struct Snapshots {
    db: Database,
}

fn db_err(e: impl std::fmt::Display) -> Error {
    Error::Db(e.to_string())
}

impl Snapshots {
    /// Opens (creating if needed) the snapshot database at `path`.
    pub fn open(path: &Path) -> Result<Snapshots> {
        Ok(Snapshots {
            db: Database::create(path).map_err(db_err)?,
        })
    }

    /// Saves `projection`, which reflects the tree whose root is `root`, as the latest
    /// snapshot (durably). Cost: one sort of every signature and one redb commit.
    pub fn save(&self, projection: &Projection, root: &Hash) -> Result<()> {
        let snapshot = projection.to_snapshot();
        let mut value = Vec::with_capacity(HEADER_LEN + snapshot.len());
        value.extend_from_slice(&projection.tree_size().to_le_bytes());
        value.extend_from_slice(root.as_bytes());
        value.extend_from_slice(blake3::hash(&snapshot).as_bytes());
        value.extend(snapshot);
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = txn.open_table(SNAPSHOTS).map_err(db_err)?;
            table.insert(LATEST, value.as_slice()).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)
    }

    /// The tree size of the latest snapshot, without decoding it.
    pub fn latest_size(&self) -> Result<Option<u64>> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = match txn.open_table(SNAPSHOTS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_err(e)),
        };
        let Some(value) = table.get(LATEST).map_err(db_err)? else {
            return Ok(None);
        };
        let bytes = value.value();
        let size = bytes
            .get(..8)
            .ok_or(Error::BadSnapshot("record too short"))?
            .try_into()
            .map(u64::from_le_bytes)
            .map_err(|_| Error::BadSnapshot("record too short"))?;
        Ok(Some(size))
    }

    /// The latest snapshot: its tree size, root and projection.
    pub fn latest(&self) -> Result<Option<(u64, Hash, Projection)>> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = match txn.open_table(SNAPSHOTS) {
            Ok(table) => table,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(db_err(e)),
        };
        let Some(value) = table.get(LATEST).map_err(db_err)? else {
            return Ok(None);
        };
        let value = value.value();
        if value.len() < HEADER_LEN {
            return Err(Error::BadSnapshot("record too short"));
        }
        let size = u64::from_le_bytes(value[..8].try_into().expect("8 bytes"));
        let root = Hash::try_from(&value[8..40]).expect("32 bytes");
        let snapshot = &value[HEADER_LEN..];
        if blake3::hash(snapshot).as_bytes() != &value[40..HEADER_LEN] {
            return Err(Error::BadSnapshot("its bytes do not match their hash"));
        }
        let projection = Projection::from_snapshot(snapshot)?;
        if projection.tree_size() != size {
            return Err(Error::BadSnapshot("size does not match its projection"));
        }
        Ok(Some((size, root, projection)))
    }
}

/// The projection of everything in `store`: the latest snapshot that still matches the
/// log, caught up by replaying the entries after it (or a full replay if there is none).
pub fn load(snapshots: &Snapshots, store: &Store) -> Result<Projection> {
    let usable = match snapshots.latest() {
        Ok(Some((size, root, projection)))
            if size <= store.size() && store.root_at(size)? == root =>
        {
            Some(projection)
        }
        // A snapshot of another log, or one that no longer decodes, is only a cache miss.
        Ok(_) | Err(Error::BadSnapshot(_)) => None,
        Err(e) => return Err(e),
    };
    let mut projection = usable.unwrap_or_default();
    catch_up(&mut projection, store)?;
    Ok(projection)
}

/// Replays the entries of `store` after `projection.tree_size()`.
pub fn catch_up(projection: &mut Projection, store: &Store) -> Result<()> {
    catch_up_to(projection, store, store.size())
}

/// The projection of the log prefix `[0, size)`, e.g. for the tally of a past tree size.
/// Cost: a replay of `size` entries.
pub fn replay_prefix(store: &Store, size: u64) -> Result<Projection> {
    if size > store.size() {
        return Err(ledger::Error::SizeOutOfRange {
            size,
            current: store.size(),
        }
        .into());
    }
    let mut projection = Projection::new();
    catch_up_to(&mut projection, store, size)?;
    Ok(projection)
}

fn catch_up_to(projection: &mut Projection, store: &Store, size: u64) -> Result<()> {
    while projection.tree_size() < size {
        let start = projection.tree_size();
        let end = (start + CATCH_UP_CHUNK).min(size);
        projection.replay_many(&store.entries(start, end)?)?;
    }
    Ok(())
}
