//! Names seen in the log, numbered in order of first appearance, and the memo that
//! maps a signature's place to its four slots in one lookup.
//!
//! The numbering is itself a function of the log, so snapshots that store slots are
//! too. Hash iteration order never reaches any output: snapshots, views and tallies sort.

use std::hash::{Hash, Hasher};

use ledger::record::{AreaCode, CountryCode};
use rustc_hash::{FxHashMap, FxHasher};

/// Strings seen in the log, numbered in order of first appearance (so the numbering is
/// itself a function of the log).
///
/// Names of up to 15 bytes (area and country codes, most ids) are looked up by a packed
/// `u128` key, so a lookup hashes two words and compares in place instead of chasing a
/// heap pointer; the ward table holds thousands of codes, so this matters.
#[derive(Clone, Debug, Default)]
pub(crate) struct Interner {
    pub names: Vec<String>,
    short: FxHashMap<InlineKey, u32>,
    long: FxHashMap<String, u32>,
}

/// A name of at most 15 bytes, packed with its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct InlineKey(u128);

impl InlineKey {
    /// Byte `i` of the name in bits `8 i ..`, the length in the top byte.
    ///
    /// Built from (overlapping) little-endian word loads rather than by copying into a
    /// zeroed buffer: a buffer written byte-wise and then read as whole words stalls on
    /// store forwarding, which profiling showed to be most of the cost of a lookup.
    /// Overlapping loads put the same byte in the same place twice, so `|` is exact.
    fn new(name: &str) -> Option<InlineKey> {
        let b = name.as_bytes();
        let len = b.len();
        let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        let half = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"));
        let packed: u128 = match len {
            0 => 0,
            1..=3 => {
                let byte = |i: usize| u128::from(b[i]) << (8 * i);
                byte(0) | byte(len / 2) | byte(len - 1)
            }
            4..=7 => u128::from(half(0)) | u128::from(half(len - 4)) << (8 * (len - 4)),
            8..=15 => u128::from(word(0)) | u128::from(word(len - 8)) << (8 * (len - 8)),
            _ => return None,
        };
        Some(InlineKey(packed | (len as u128) << 120))
    }
}

impl Interner {
    pub fn slot(&mut self, name: &str) -> u32 {
        if let Some(slot) = self.find(name) {
            return slot;
        }
        let slot = self.names.len() as u32;
        self.insert(name.to_string(), slot);
        slot
    }

    fn insert(&mut self, name: String, slot: u32) {
        match InlineKey::new(&name) {
            Some(key) => self.short.insert(key, slot),
            None => self.long.insert(name.clone(), slot),
        };
        self.names.push(name);
    }

    pub fn find(&self, name: &str) -> Option<u32> {
        match InlineKey::new(name) {
            Some(key) => self.short.get(&key).copied(),
            None => self.long.get(name).copied(),
        }
    }

    pub fn from_names(names: Vec<String>) -> Interner {
        let mut interner = Interner::default();
        for (slot, name) in names.into_iter().enumerate() {
            interner.insert(name, slot as u32);
        }
        interner
    }

    pub fn name(&self, slot: u32) -> &str {
        &self.names[slot as usize]
    }
}

/// The country, constituency, ward and council slots of the places signatures came
/// from: one lookup per signature instead of four interner lookups (which were most
/// of the cost of folding one).
///
/// A memo of the interners and nothing more: a miss interns the four names in the
/// usual order, so slots are numbered exactly as without it, and it is not part of a
/// snapshot (a restored projection refills it as signatures arrive). Keyed by a hash
/// of the four codes, computed from them where they lie rather than from a key built
/// for the purpose (writing a buffer byte-wise and reading it back in words stalls on
/// store forwarding, as profiling showed). Every hit is checked against the place
/// itself, and a place whose hash is taken by another is simply not memoised.
#[derive(Clone, Debug, Default)]
pub(crate) struct Places(pub FxHashMap<u64, Place>);

#[derive(Clone, Debug)]
pub(crate) struct Place {
    pub country: CountryCode,
    pub constituency: Option<AreaCode>,
    pub ward: Option<AreaCode>,
    /// Country, constituency, ward and council slots; the council's name is in the
    /// council interner.
    pub slots: [u32; 4],
}

impl Places {
    pub fn hash(
        country: &CountryCode,
        constituency: &Option<AreaCode>,
        ward: &Option<AreaCode>,
        council: Option<&str>,
    ) -> u64 {
        let mut hasher = FxHasher::default();
        (country, constituency, ward, council).hash(&mut hasher);
        hasher.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_keys_pack_each_byte_in_place_with_the_length() {
        let text = "E14000831-ward-x";
        for len in 0..=16 {
            let name = &text[..len];
            let expected = (len < 16).then(|| {
                let mut key = [0u8; 16];
                key[..len].copy_from_slice(name.as_bytes());
                key[15] = len as u8;
                InlineKey(u128::from_le_bytes(key))
            });
            assert_eq!(InlineKey::new(name), expected, "{name:?}");
        }
        // Names that differ in one byte or only in length get different keys.
        assert_ne!(InlineKey::new("ab"), InlineKey::new("ab\0"));
        assert_ne!(InlineKey::new("E14000831"), InlineKey::new("E14000832"));
    }
}
