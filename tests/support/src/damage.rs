//! Damage done to a closed data directory, the way a failing disk or a clumsy operator
//! would: the integrity tests of the store and of the real binary share these.

use std::path::Path;

/// Flips the bits of `mask` in the byte at `offset` of the file at `path`.
pub fn flip_bits(path: &Path, offset: u64, mask: u8) {
    let mut bytes = std::fs::read(path).expect("the file to damage");
    bytes[offset as usize] ^= mask;
    std::fs::write(path, bytes).expect("the damaged file");
}

/// Where the bytes of entry `index` start in the data directory's journal, found
/// through `frames.idx` (rows of `first_index:u64 payload_offset:u64 ...`, 24 bytes
/// each; a payload is `len:u16be entry` items). Entry bytes alone are not unique
/// enough to search for.
pub fn entry_offset(data: &Path, index: u64) -> u64 {
    let rows = std::fs::read(data.join("frames.idx")).expect("frames.idx");
    let u64_at = |row: &[u8], at: usize| u64::from_le_bytes(row[at..at + 8].try_into().unwrap());
    let row = rows
        .chunks_exact(24)
        .rfind(|row| u64_at(row, 0) <= index)
        .expect("a frame holding the entry");
    let journal = std::fs::read(data.join("journal")).expect("journal");
    let mut at = u64_at(row, 8) as usize;
    for _ in u64_at(row, 0)..index {
        at += 2 + u16::from_be_bytes([journal[at], journal[at + 1]]) as usize;
    }
    at as u64 + 2
}
