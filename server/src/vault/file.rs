//! `vault.log`: the sealed values, appended one batch at a time, with one write and one
//! `fdatasync` per batch — the log's own journal pattern, because a redb transaction per
//! batch cost three times the CPU of the log append it precedes (dirty pages scattered
//! over the file, each its own device write).
//!
//! Layout (little-endian), documented in docs/STORAGE.md:
//!
//! ```text
//! file   := "clvault1" batch* zeros
//! batch  := "VBAT" count:u32 data_len:u32 check:[u8;16] (index:u64 len:u32){count} data
//! ```
//!
//! `check` is the first 16 bytes of BLAKE3 over `count ‖ data_len ‖ table`; `data` is the
//! sealed values in table order. Indexes rise strictly within a batch; a later batch's
//! value for an index replaces an earlier one's (after [`VaultFile::forget_from`], the
//! indexes it forgot are used again). The file is extended ahead with real zeros, so a
//! batch's `fdatasync` never has to commit a new length.
//!
//! What must hold at open, and why it does:
//! - Only the last batch can be torn: a batch is written only after the one before it
//!   is durable. A torn batch was never followed by its log append, so it is an orphan;
//!   it is cleared.
//! - No whole batch lies behind one that is not: forgetting zeroes the headers of the
//!   batches it drops from the last one back, each durably, before anything else. So a
//!   whole batch after a broken one means damage, and the vault refuses to open rather
//!   than clear values that were acknowledged.
//! - After a failed write or `fdatasync` the file's state is unknown: the vault refuses
//!   every change until it is opened again, as the log's writer does.
//!
//! Erasing a value overwrites its bytes with zeros where they lie: no copy of it stays
//! in the file. A value whose 24-byte nonce is all zeros reads as absent (a real nonce is
//! random).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ledger::store::{sync_dir, write_zeros};

use crate::{Error, Result};

const FILE_MAGIC: &[u8; 8] = b"clvault1";
const BATCH_MAGIC: &[u8; 4] = b"VBAT";
/// Magic, count, data length, check.
const BATCH_HEADER: usize = 4 + 4 + 4 + 16;
const TABLE_ROW: usize = 8 + 4;
/// The file grows by this much at a time, in real zeros.
const CHUNK: u64 = 4 << 20;
/// Most values in one batch, and the largest value: bounds for reading a header.
const MAX_COUNT: u32 = 1 << 16;
const MAX_VALUE: u32 = 1 << 16;
/// Indexes are below this (2^40 entries is far beyond any log), so a damaged table can
/// neither overflow `index + 1` nor ask for an absurd slot table.
const MAX_INDEX: u64 = 1 << 40;
/// Bytes read at a time when scanning the file at open.
const SCAN_CHUNK: usize = 8 << 20;
/// A sealed value starts with its random nonce.
const NONCE_LEN: usize = 24;

/// Where a value lies: offset in the upper 44 bits, length in the lower 20; 0 = none.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Slot(u64);

impl Slot {
    fn new(offset: u64, len: u32) -> Slot {
        Slot(offset << 20 | u64::from(len))
    }

    fn get(self) -> Option<(u64, usize)> {
        (self.0 != 0).then_some((self.0 >> 20, (self.0 & 0xF_FFFF) as usize))
    }
}

#[derive(Clone, Copy, Debug)]
struct BatchAt {
    start: u64,
    first: u64,
    last: u64,
}

/// The open file and where its values are.
pub(super) struct VaultFile {
    path: PathBuf,
    file: File,
    /// Indexed by log index: where the value of that entry lies.
    slots: Vec<Slot>,
    /// Every batch: where it starts, and its first and last index.
    batches: Vec<BatchAt>,
    /// End of the last batch.
    end: u64,
    /// Length of the zero-filled file.
    reserved: u64,
    /// The least index a new batch may start with.
    floor: u64,
    /// A write or `fdatasync` failed: no change is made until the file is opened again.
    failed: bool,
}

impl VaultFile {
    /// Opens (creating if needed) the file at `path` and finds every value in it.
    pub fn open(path: &Path) -> Result<VaultFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(Error::io(path))?;
        let mut vault = VaultFile {
            path: path.to_path_buf(),
            reserved: file.metadata().map_err(Error::io(path))?.len(),
            file,
            slots: Vec::new(),
            batches: Vec::new(),
            end: FILE_MAGIC.len() as u64,
            floor: 0,
            failed: false,
        };
        let mut magic = [0u8; 8];
        let short = vault.reserved < FILE_MAGIC.len() as u64;
        if !short {
            vault.read_at(&mut magic, 0)?;
        }
        // New, or created by a crash before its first bytes were durable.
        if short || (magic == [0; 8] && vault.is_zero_from(0)?) {
            vault.write_at(FILE_MAGIC, 0)?;
            vault.reserved = vault.reserved.max(FILE_MAGIC.len() as u64);
            vault.sync()?;
            if let Some(dir) = path.parent() {
                sync_dir(dir).map_err(Error::io(dir))?;
            }
            vault.reserve(CHUNK)?;
            return Ok(vault);
        }
        if &magic != FILE_MAGIC {
            return Err(Error::Vault("vault.log is not a vault file"));
        }
        vault.scan()?;
        Ok(vault)
    }

    /// Reads every batch from the start, up to the first that is not whole, then clears
    /// what follows it (a torn batch), or refuses to go on if a whole batch follows.
    fn scan(&mut self) -> Result<()> {
        let mut window = Window::default();
        while let Some(batch) = self.batch_at(&mut window, self.end)? {
            let mut offset = batch.data_at;
            for &(index, len) in &batch.rows {
                let nonce = self
                    .window(&mut window, offset, (len as usize).min(NONCE_LEN))?
                    .expect("a whole batch lies inside the file");
                if nonce.iter().any(|&b| b != 0) {
                    self.set_slot(index, Slot::new(offset, len));
                }
                offset += u64::from(len);
            }
            self.batches.push(batch.at);
            self.floor = self.floor.max(batch.at.last + 1);
            self.end = offset;
        }
        if self.is_zero_from(self.end)? {
            return Ok(());
        }
        if self.whole_batch_after(self.end)? {
            return Err(Error::Vault(
                "vault.log is damaged: a whole batch lies behind a broken one; \
                 restore the data directory from a backup",
            ));
        }
        write_zeros(&self.file, self.end, self.reserved).map_err(Error::io(&self.path))?;
        self.sync()
    }

    /// The whole batch at `at`, if there is one: its header, a table that passes the
    /// check and holds sane rows, and data inside the file.
    fn batch_at(&self, window: &mut Window, at: u64) -> Result<Option<Batch>> {
        let Some(header) = self.window(window, at, BATCH_HEADER)? else {
            return Ok(None);
        };
        let Some((count, data_len)) = parse_header(header) else {
            return Ok(None);
        };
        let check: [u8; 16] = header[12..28].try_into().expect("16 bytes");
        let table_len = count as usize * TABLE_ROW;
        let Some(table) = self.window(window, at + BATCH_HEADER as u64, table_len)? else {
            return Ok(None);
        };
        if check != batch_check(count, data_len, table) {
            return Ok(None);
        }
        let rows = parse_table(table);
        let ascending = rows.windows(2).all(|w| w[0].0 < w[1].0);
        let sane = rows
            .iter()
            .all(|&(index, len)| index < MAX_INDEX && (1..=MAX_VALUE).contains(&len));
        let lengths: u64 = rows.iter().map(|r| u64::from(r.1)).sum();
        let data_at = at + (BATCH_HEADER + table_len) as u64;
        if !ascending
            || !sane
            || lengths != u64::from(data_len)
            || data_at + lengths > self.reserved
        {
            return Ok(None);
        }
        Ok(Some(Batch {
            at: BatchAt {
                start: at,
                first: rows[0].0,
                last: rows[rows.len() - 1].0,
            },
            data_at,
            rows,
        }))
    }

    /// Whether a whole batch starts anywhere after `from`.
    fn whole_batch_after(&self, from: u64) -> Result<bool> {
        let mut scan = Window::default();
        let mut probe = Window::default();
        let mut at = from + 1;
        while at + BATCH_HEADER as u64 <= self.reserved {
            let len = (SCAN_CHUNK as u64).min(self.reserved - at) as usize;
            let bytes = self.window(&mut scan, at, len)?.expect("inside the file");
            for (i, _) in bytes
                .windows(BATCH_MAGIC.len())
                .enumerate()
                .filter(|(_, w)| w == BATCH_MAGIC)
            {
                if self.batch_at(&mut probe, at + i as u64)?.is_some() {
                    return Ok(true);
                }
            }
            // Overlap by less than a magic, so that none is missed or seen twice.
            at += (len - (BATCH_MAGIC.len() - 1)).max(1) as u64;
        }
        Ok(false)
    }

    /// Whether every byte from `at` to the end of the file is zero.
    fn is_zero_from(&self, at: u64) -> Result<bool> {
        let mut window = Window::default();
        let mut at = at;
        while at < self.reserved {
            let len = (SCAN_CHUNK as u64).min(self.reserved - at) as usize;
            let bytes = self.window(&mut window, at, len)?.expect("inside the file");
            if bytes.iter().any(|&b| b != 0) {
                return Ok(false);
            }
            at += len as u64;
        }
        Ok(true)
    }

    /// `len` bytes at `at`, from the window's buffer (refilled from the file as
    /// needed); `None` past the end of the file.
    fn window<'a>(&self, window: &'a mut Window, at: u64, len: usize) -> Result<Option<&'a [u8]>> {
        if at + len as u64 > self.reserved {
            return Ok(None);
        }
        let inside = at
            .checked_sub(window.at)
            .is_some_and(|start| start as usize + len <= window.bytes.len());
        if !inside {
            let want = SCAN_CHUNK.max(len).min((self.reserved - at) as usize);
            window.bytes.resize(want, 0);
            self.read_at(&mut window.bytes, at)?;
            window.at = at;
        }
        let start = (at - window.at) as usize;
        Ok(Some(&window.bytes[start..start + len]))
    }

    fn set_slot(&mut self, index: u64, slot: Slot) {
        let index = index as usize;
        if self.slots.len() <= index {
            self.slots.resize(index + 1, Slot::default());
        }
        self.slots[index] = slot;
    }

    /// Appends one batch of `(index, value)`, indexes strictly ascending and at or above
    /// every index that may not be reused, and makes it durable.
    pub fn append(&mut self, values: &[(u64, &[u8])]) -> Result<()> {
        let ascending = values.windows(2).all(|w| w[0].0 < w[1].0);
        let fresh = values.first().is_some_and(|v| v.0 >= self.floor)
            && values.last().is_some_and(|v| v.0 < MAX_INDEX);
        if values.is_empty() || !ascending || !fresh || values.len() > MAX_COUNT as usize {
            return Err(Error::Vault(
                "a vault batch must be 1 to 65536 new indexes in order",
            ));
        }
        if values
            .iter()
            .any(|v| v.1.is_empty() || v.1.len() > MAX_VALUE as usize)
        {
            return Err(Error::Vault("a sealed value must be 1 to 65536 bytes"));
        }
        let data_len = values.iter().map(|v| v.1.len() as u64).sum::<u64>();
        let Ok(data_len) = u32::try_from(data_len) else {
            return Err(Error::Vault("a vault batch must hold under 4 GiB"));
        };
        let count = values.len() as u32;
        let table_len = values.len() * TABLE_ROW;
        let mut batch = Vec::with_capacity(BATCH_HEADER + table_len + data_len as usize);
        batch.extend_from_slice(BATCH_MAGIC);
        batch.extend_from_slice(&count.to_le_bytes());
        batch.extend_from_slice(&data_len.to_le_bytes());
        batch.extend_from_slice(&[0; 16]);
        for (index, value) in values {
            batch.extend_from_slice(&index.to_le_bytes());
            batch.extend_from_slice(&(value.len() as u32).to_le_bytes());
        }
        let check = batch_check(count, data_len, &batch[BATCH_HEADER..]);
        batch[12..BATCH_HEADER].copy_from_slice(&check);
        for (_, value) in values {
            batch.extend_from_slice(value);
        }
        let at = self.end;
        // Growing the reserve touches nothing that holds a value, so a full disk here
        // is reported and leaves the vault usable; a failed write of the batch does not.
        self.reserve(at + batch.len() as u64)?;
        self.change(|vault| {
            vault.write_at(&batch, at)?;
            vault.sync()
        })?;
        self.batches.push(BatchAt {
            start: at,
            first: values[0].0,
            last: values[values.len() - 1].0,
        });
        self.floor = values[values.len() - 1].0 + 1;
        let mut offset = at + (BATCH_HEADER + table_len) as u64;
        for (index, value) in values {
            self.set_slot(*index, Slot::new(offset, value.len() as u32));
            offset += value.len() as u64;
        }
        self.end = offset;
        Ok(())
    }

    /// The stored value of entry `index`, if any.
    pub fn get(&self, index: u64) -> Result<Option<Vec<u8>>> {
        let slot = usize::try_from(index)
            .ok()
            .and_then(|i| self.slots.get(i).copied());
        let Some((offset, len)) = slot.and_then(Slot::get) else {
            return Ok(None);
        };
        let mut value = vec![0u8; len];
        self.read_at(&mut value, offset)?;
        Ok(Some(value))
    }

    /// Overwrites the values of entries `indexes` with zeros, durably, with one
    /// `fdatasync`. How many there were (an index without a value is skipped).
    pub fn erase(&mut self, indexes: &[u64]) -> Result<u64> {
        let found: Vec<(usize, u64, usize)> = indexes
            .iter()
            .filter_map(|&index| {
                let at = usize::try_from(index).ok()?;
                let (offset, len) = self.slots.get(at)?.get()?;
                Some((at, offset, len))
            })
            .collect();
        if found.is_empty() {
            return Ok(0);
        }
        self.change(|vault| {
            for &(_, offset, len) in &found {
                write_zeros(&vault.file, offset, offset + len as u64)
                    .map_err(Error::io(&vault.path))?;
            }
            vault.sync()
        })?;
        for &(at, _, _) in &found {
            self.slots[at] = Slot::default();
        }
        Ok(found.len() as u64)
    }

    /// Erases every value of an index `>= size` and gives back the space of the batches
    /// that held only such values, so that indexes from `size` on can be stored again.
    /// Returns how many values there were.
    pub fn forget_from(&mut self, size: u64) -> Result<u64> {
        let stale: Vec<(u64, u64)> = self
            .slots
            .iter()
            .skip(usize::try_from(size).unwrap_or(usize::MAX))
            .filter_map(|slot| slot.get())
            .map(|(offset, len)| (offset, len as u64))
            .collect();
        if stale.is_empty() && self.floor <= size {
            return Ok(0);
        }
        let kept = self.batches.partition_point(|b| b.first < size);
        let new_end = self.batches.get(kept).map_or(self.end, |b| b.start);
        let dropped: Vec<BatchAt> = self.batches[kept..].to_vec();
        self.change(|vault| {
            // Headers first, from the last batch back, each durably: whatever a crash
            // leaves, no whole batch lies behind one that is not.
            for batch in dropped.iter().rev() {
                write_zeros(
                    &vault.file,
                    batch.start,
                    batch.start + BATCH_MAGIC.len() as u64,
                )
                .map_err(Error::io(&vault.path))?;
                vault.sync()?;
            }
            for &(offset, len) in stale.iter().filter(|(offset, _)| *offset < new_end) {
                write_zeros(&vault.file, offset, offset + len).map_err(Error::io(&vault.path))?;
            }
            write_zeros(&vault.file, new_end, vault.end).map_err(Error::io(&vault.path))?;
            vault.sync()
        })?;
        self.batches.truncate(kept);
        self.slots
            .truncate(usize::try_from(size).unwrap_or(usize::MAX));
        self.end = new_end;
        self.floor = size;
        Ok(stale.len() as u64)
    }

    /// The indexes that have a value, ascending.
    pub fn indexes(&self) -> Vec<u64> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.get().is_some())
            .map(|(index, _)| index as u64)
            .collect()
    }

    /// How many values are stored.
    pub fn len(&self) -> u64 {
        self.slots.iter().filter(|s| **s != Slot::default()).count() as u64
    }

    /// Runs `write`, a change to the file; if it fails, the file's state is unknown and
    /// every later change is refused until the file is opened again.
    fn change(&mut self, write: impl FnOnce(&mut VaultFile) -> Result<()>) -> Result<()> {
        if self.failed {
            return Err(Error::Vault(
                "an earlier write to vault.log failed; restart the server to recover",
            ));
        }
        let result = write(self);
        self.failed = result.is_err();
        result
    }

    /// Makes sure `[end of data, end)` is zeros already on disk (see the module docs).
    /// A full disk is [`Error::StorageFull`] and changes nothing that matters: the
    /// zeros written so far lie past every value and are written again next time.
    fn reserve(&mut self, end: u64) -> Result<()> {
        if end <= self.reserved {
            return Ok(());
        }
        if self.failed {
            return self.change(|_| Ok(()));
        }
        let reserved = end.div_ceil(CHUNK) * CHUNK;
        write_zeros(&self.file, self.reserved, reserved)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::from(ledger::store::storage_error(&self.path, e)))?;
        self.reserved = reserved;
        Ok(())
    }

    fn read_at(&self, buf: &mut [u8], at: u64) -> Result<()> {
        self.file
            .read_exact_at(buf, at)
            .map_err(Error::io(&self.path))
    }

    fn write_at(&self, buf: &[u8], at: u64) -> Result<()> {
        self.file
            .write_all_at(buf, at)
            .map_err(Error::io(&self.path))
    }

    fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(Error::io(&self.path))
    }
}

/// A stretch of the file read ahead, for scanning.
#[derive(Default)]
struct Window {
    at: u64,
    bytes: Vec<u8>,
}

/// A whole batch found by the scan.
struct Batch {
    at: BatchAt,
    data_at: u64,
    rows: Vec<(u64, u32)>,
}

/// `(count, data_len)` of a batch header, if it is one.
fn parse_header(header: &[u8]) -> Option<(u32, u32)> {
    if &header[..4] != BATCH_MAGIC {
        return None;
    }
    let count = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
    let data_len = u32::from_le_bytes(header[8..12].try_into().expect("4 bytes"));
    let fits = (1..=MAX_COUNT).contains(&count)
        && u64::from(data_len) <= u64::from(count) * u64::from(MAX_VALUE);
    fits.then_some((count, data_len))
}

fn parse_table(table: &[u8]) -> Vec<(u64, u32)> {
    table
        .chunks_exact(TABLE_ROW)
        .map(|row| {
            (
                u64::from_le_bytes(row[..8].try_into().expect("8 bytes")),
                u32::from_le_bytes(row[8..].try_into().expect("4 bytes")),
            )
        })
        .collect()
}

fn batch_check(count: u32, data_len: u32, table: &[u8]) -> [u8; 16] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&count.to_le_bytes());
    hasher.update(&data_len.to_le_bytes());
    hasher.update(table);
    hasher.finalize().as_bytes()[..16]
        .try_into()
        .expect("16 bytes")
}
