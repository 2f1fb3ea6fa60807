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
//! sealed values in table order. Indexes rise strictly within and across batches. The
//! file is extended ahead with real zeros, so a batch's `fdatasync` never has to commit a
//! new length; the first header that is zero, malformed or fails its check ends the
//! file (a torn batch was never followed by its log append, so it is an orphan anyway).
//!
//! Erasing a value overwrites its bytes with zeros where they lie: no copy of it stays
//! in the file. A value that is all zeros reads as absent (a real one starts with a
//! random 24-byte nonce).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use ledger::store::write_zeros;

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
/// Bytes read at a time when scanning the file at open.
const SCAN_CHUNK: usize = 8 << 20;

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

#[derive(Clone, Copy)]
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
}

impl VaultFile {
    /// Opens (creating if needed) the file at `path` and finds every value in it.
    pub fn open(path: &Path) -> Result<VaultFile> {
        let io = Error::io(path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let mut vault = VaultFile {
            path: path.to_path_buf(),
            reserved: file.metadata().map_err(Error::io(path))?.len(),
            file,
            slots: Vec::new(),
            batches: Vec::new(),
            end: FILE_MAGIC.len() as u64,
        };
        if vault.reserved < FILE_MAGIC.len() as u64 {
            vault.reserve(CHUNK)?;
            vault.write_at(FILE_MAGIC, 0)?;
            vault.sync()?;
            if let Some(dir) = path.parent() {
                File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(Error::io(dir))?;
            }
            return Ok(vault);
        }
        let mut magic = [0u8; 8];
        vault.read_at(&mut magic, 0)?;
        if &magic != FILE_MAGIC {
            return Err(Error::Vault("vault.log is not a vault file"));
        }
        vault.scan()?;
        Ok(vault)
    }

    /// Reads every batch from the start, stopping at the first that is not whole.
    fn scan(&mut self) -> Result<()> {
        let mut chunk: Vec<u8> = Vec::new();
        let mut chunk_at = self.end;
        loop {
            let at = self.end;
            // The header and table of the batch at `at`, read through a window of the file.
            let header = match self.window(&mut chunk, &mut chunk_at, at, BATCH_HEADER)? {
                Some(header) => header,
                None => break,
            };
            let Some((count, data_len)) = parse_header(header) else {
                break;
            };
            let check: [u8; 16] = header[12..28].try_into().expect("16 bytes");
            let table_len = count as usize * TABLE_ROW;
            let Some(table) = self.window(
                &mut chunk,
                &mut chunk_at,
                at + BATCH_HEADER as u64,
                table_len,
            )?
            else {
                break;
            };
            let table = table.to_vec();
            if check != batch_check(count, data_len, &table) {
                break;
            }
            let rows = parse_table(&table);
            let ascending = rows.windows(2).all(|w| w[0].0 < w[1].0)
                && rows.first().is_some_and(|r| r.0 >= self.next_index());
            let lengths: u64 = rows.iter().map(|r| u64::from(r.1)).sum();
            let data_at = at + (BATCH_HEADER + table_len) as u64;
            if !ascending || lengths != u64::from(data_len) || data_at + lengths > self.reserved {
                break;
            }
            self.batches.push(BatchAt {
                start: at,
                first: rows[0].0,
                last: rows[rows.len() - 1].0,
            });
            let mut offset = data_at;
            for (index, len) in rows {
                // An erased value is all zeros; its nonce alone tells.
                let nonce_len = len.min(24) as usize;
                let nonce = self
                    .window(&mut chunk, &mut chunk_at, offset, nonce_len)?
                    .expect("the batch lies inside the file");
                if nonce.iter().any(|&b| b != 0) {
                    self.set_slot(index, Slot::new(offset, len));
                }
                offset += u64::from(len);
            }
            self.end = offset;
        }
        // Whatever lies after the last whole batch was never acknowledged: clear it, so
        // that nothing of it is read as a batch once new ones are written before it.
        self.clear_from(self.end)
    }

    /// `len` bytes at `at`, from `chunk` (refilled from the file as needed); `None` past
    /// the reserved length.
    fn window<'a>(
        &self,
        chunk: &'a mut Vec<u8>,
        chunk_at: &mut u64,
        at: u64,
        len: usize,
    ) -> Result<Option<&'a [u8]>> {
        if at + len as u64 > self.reserved {
            return Ok(None);
        }
        let start = at.checked_sub(*chunk_at).map(|s| s as usize);
        let inside = start.is_some_and(|s| s + len <= chunk.len());
        if !inside {
            let want = SCAN_CHUNK.max(len).min((self.reserved - at) as usize);
            chunk.resize(want, 0);
            self.read_at(chunk, at)?;
            *chunk_at = at;
        }
        let start = (at - *chunk_at) as usize;
        Ok(Some(&chunk[start..start + len]))
    }

    /// The least index a new batch may start with.
    fn next_index(&self) -> u64 {
        self.batches.last().map_or(0, |b| b.last + 1)
    }

    fn set_slot(&mut self, index: u64, slot: Slot) {
        let index = index as usize;
        if self.slots.len() <= index {
            self.slots.resize(index + 1, Slot::default());
        }
        self.slots[index] = slot;
    }

    /// Appends one batch of `(index, value)`, indexes strictly ascending and above every
    /// index already stored, and makes it durable.
    pub fn append(&mut self, values: &[(u64, &[u8])]) -> Result<()> {
        let ascending = values.windows(2).all(|w| w[0].0 < w[1].0);
        let above = values.first().is_some_and(|v| v.0 >= self.next_index());
        if values.is_empty() || !ascending || !above || values.len() > MAX_COUNT as usize {
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
        let count = values.len() as u32;
        let data_len: u32 = values.iter().map(|v| v.1.len() as u32).sum();
        let mut table = Vec::with_capacity(values.len() * TABLE_ROW);
        for (index, value) in values {
            table.extend_from_slice(&index.to_le_bytes());
            table.extend_from_slice(&(value.len() as u32).to_le_bytes());
        }
        let mut batch = Vec::with_capacity(BATCH_HEADER + table.len() + data_len as usize);
        batch.extend_from_slice(BATCH_MAGIC);
        batch.extend_from_slice(&count.to_le_bytes());
        batch.extend_from_slice(&data_len.to_le_bytes());
        batch.extend_from_slice(&batch_check(count, data_len, &table));
        batch.extend_from_slice(&table);
        for (_, value) in values {
            batch.extend_from_slice(value);
        }
        let at = self.end;
        self.reserve(at + batch.len() as u64)?;
        self.write_at(&batch, at)?;
        self.sync()?;
        self.batches.push(BatchAt {
            start: at,
            first: values[0].0,
            last: values[values.len() - 1].0,
        });
        let mut offset = at + (BATCH_HEADER + table.len()) as u64;
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

    /// Overwrites the value of entry `index` with zeros, durably. Whether there was one.
    pub fn erase(&mut self, index: u64) -> Result<bool> {
        let Some((offset, len)) = self.slots.get(index as usize).copied().and_then(Slot::get)
        else {
            return Ok(false);
        };
        self.write_at(&vec![0u8; len], offset)?;
        self.sync()?;
        self.slots[index as usize] = Slot::default();
        Ok(true)
    }

    /// Erases every value of an index `>= size`, and gives back the space of the batches
    /// that held only such values. Returns how many values there were.
    pub fn forget_from(&mut self, size: u64) -> Result<u64> {
        let stale: Vec<u64> = (size..self.slots.len() as u64)
            .filter(|&i| self.slots[i as usize] != Slot::default())
            .collect();
        if stale.is_empty() && self.next_index() <= size {
            return Ok(0);
        }
        for &index in &stale {
            let (offset, len) = self.slots[index as usize].get().expect("a stored value");
            self.write_at(&vec![0u8; len], offset)?;
        }
        self.slots.truncate(size as usize);
        while let Some(&batch) = self.batches.last() {
            if batch.first < size {
                break;
            }
            self.batches.pop();
            self.end = batch.start;
        }
        self.clear_from(self.end)?;
        self.sync()?;
        Ok(stale.len() as u64)
    }

    /// How many values are stored.
    pub fn len(&self) -> u64 {
        self.slots.iter().filter(|s| **s != Slot::default()).count() as u64
    }

    /// Zeros everything from `at` to the next zero header, if anything is there.
    fn clear_from(&mut self, at: u64) -> Result<()> {
        let mut probe = [0u8; BATCH_HEADER];
        if at + BATCH_HEADER as u64 > self.reserved {
            return Ok(());
        }
        self.read_at(&mut probe, at)?;
        if probe == [0u8; BATCH_HEADER] {
            return Ok(());
        }
        // A torn or forgotten batch: at most MAX_COUNT values of MAX_VALUE bytes.
        let most =
            BATCH_HEADER as u64 + u64::from(MAX_COUNT) * (TABLE_ROW as u64 + u64::from(MAX_VALUE));
        let end = (at + most).min(self.reserved);
        write_zeros(&self.file, at, end).map_err(Error::io(&self.path))?;
        self.sync()
    }

    fn reserve(&mut self, end: u64) -> Result<()> {
        if end <= self.reserved {
            return Ok(());
        }
        let reserved = end.div_ceil(CHUNK) * CHUNK;
        write_zeros(&self.file, self.reserved, reserved).map_err(Error::io(&self.path))?;
        self.sync()?;
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
