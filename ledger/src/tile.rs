//! C2SP tlog-tiles (<https://c2sp.org/tlog-tiles>): tile paths, hash tiles, entry
//! bundles, and which tiles make up a tree.
//!
//! What it is: pure maths and encodings with no IO. A hash tile at level `L` and index
//! `N` holds up to 256 consecutive Merkle tree hashes of tree level `8 * L`; an entry
//! bundle holds up to 256 consecutive entries, each behind a big-endian u16 length.
//! Paths are `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`, relative to the
//! log's URL prefix, with `<N>` written in 3-digit groups (`x001/x234/067`).
//!
//! What it is not: it reads and writes no files and serves nothing, and it does not
//! compute tree hashes from entries (that is `merkle`); [`tile_root`] only combines
//! hashes already in a tile.
//!
//! Invariants:
//! - `TilePath::parse(&p.to_string()) == Ok(p)` for every valid path, and every string
//!   `parse` accepts is the `to_string` of its result: each tile has one spelling.
//! - Width 256 means a full tile (no `.p/` suffix); widths 1 to 255 are partial tiles.
//! - Decoders check lengths exactly and never panic.

use std::fmt;
use std::str::FromStr;

use crate::checkpoint::parse_decimal_u64;
use crate::{Error, Hash, HashAlg, Result};

/// Tree levels per tile: a tile spans a subtree of height 8.
pub const TILE_HEIGHT: u32 = 8;

/// Hashes in a full hash tile, and entries in a full entry bundle.
pub const FULL_TILE_WIDTH: u16 = 256;

/// The highest tile level the spec allows.
pub const MAX_TILE_LEVEL: u8 = 63;

/// Bytes per hash in a hash tile.
const HASH_LEN: usize = 32;

/// The most 3-digit groups a u64 index needs (u64::MAX has 20 digits).
const MAX_INDEX_GROUPS: usize = 7;

/// One tile resource, as named by its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TilePath {
    /// `tile/<level>/<index>[.p/<width>]`: up to 256 hashes of tree level `8 * level`.
    Hash { level: u8, index: u64, width: u16 },
    /// `tile/entries/<index>[.p/<width>]`: up to 256 entries.
    Entries { index: u64, width: u16 },
}

impl TilePath {
    /// A hash tile path; `level <= 63`, `1 <= width <= 256`.
    pub fn hash(level: u8, index: u64, width: u16) -> Result<TilePath> {
        let path = TilePath::Hash {
            level,
            index,
            width,
        };
        path.check()?;
        Ok(path)
    }

    /// An entry bundle path; `1 <= width <= 256`.
    pub fn entries(index: u64, width: u16) -> Result<TilePath> {
        let path = TilePath::Entries { index, width };
        path.check()?;
        Ok(path)
    }

    /// Whether the fields are in range (see [`TilePath::hash`], [`TilePath::entries`]).
    pub fn is_valid(&self) -> bool {
        self.check().is_ok()
    }

    fn check(&self) -> Result<()> {
        if let TilePath::Hash { level, .. } = self {
            if *level > MAX_TILE_LEVEL {
                return Err(Error::MalformedTile("tile level must be 0 to 63"));
            }
        }
        if !(1..=FULL_TILE_WIDTH).contains(&self.width()) {
            return Err(Error::MalformedTile("tile width must be 1 to 256"));
        }
        Ok(())
    }

    /// The tile level, or `None` for an entry bundle.
    pub fn level(&self) -> Option<u8> {
        match self {
            TilePath::Hash { level, .. } => Some(*level),
            TilePath::Entries { .. } => None,
        }
    }

    /// The tile's index within its level.
    pub fn index(&self) -> u64 {
        match self {
            TilePath::Hash { index, .. } | TilePath::Entries { index, .. } => *index,
        }
    }

    /// The number of hashes or entries in the tile.
    pub fn width(&self) -> u16 {
        match self {
            TilePath::Hash { width, .. } | TilePath::Entries { width, .. } => *width,
        }
    }

    /// Whether the tile is full (256 wide).
    pub fn is_full(&self) -> bool {
        self.width() == FULL_TILE_WIDTH
    }

    /// Parses a path relative to the log prefix, e.g. `tile/0/x001/x234/067.p/8`.
    ///
    /// Strict: the level is decimal 0 to 63 without leading zeros, or `entries`; the
    /// index is 3-digit groups separated by `/`, all but the last prefixed with `x`,
    /// with no leading all-zero group and a value that fits u64; the optional `.p/<W>`
    /// has `W` decimal 1 to 255 without leading zeros. Anything else (a leading `/`, a
    /// trailing `/`, `.p/256`, upper-case `X`, ...) is [`Error::MalformedTile`].
    pub fn parse(path: &str) -> Result<TilePath> {
        let rest = path
            .strip_prefix("tile/")
            .ok_or(Error::MalformedTile("tile path must start with tile/"))?;
        let (kind, rest) = rest
            .split_once('/')
            .ok_or(Error::MalformedTile("tile path has no index"))?;
        let level = if kind == "entries" {
            None
        } else {
            let level = parse_small_decimal(kind)
                .filter(|l| *l <= u64::from(MAX_TILE_LEVEL))
                .ok_or(Error::MalformedTile(
                    "tile level must be decimal 0 to 63 without leading zeros, or entries",
                ))?;
            Some(level as u8)
        };

        let mut elements: Vec<&str> = rest.split('/').collect();
        let mut width = FULL_TILE_WIDTH;
        let partial_marker = elements.len() >= 2
            && elements
                .get(elements.len() - 2)
                .is_some_and(|e| e.ends_with(".p"));
        if partial_marker {
            let width_text = elements.pop().unwrap_or_default();
            width = parse_small_decimal(width_text)
                .filter(|w| (1..u64::from(FULL_TILE_WIDTH)).contains(w))
                .ok_or(Error::MalformedTile(
                    "partial tile width must be decimal 1 to 255 without leading zeros",
                ))? as u16;
            if let Some(last) = elements.last_mut() {
                *last = last.strip_suffix(".p").unwrap_or(last);
            }
        }
        let index = parse_index(&elements)?;
        Ok(match level {
            Some(level) => TilePath::Hash {
                level,
                index,
                width,
            },
            None => TilePath::Entries { index, width },
        })
    }
}

/// Decimal without sign or leading zeros, at most 3 digits (levels and widths).
fn parse_small_decimal(text: &str) -> Option<u64> {
    parse_decimal_u64(text).filter(|_| text.len() <= 3)
}

/// Parses the `<N>` elements: `x` + 3 digits each, the last one 3 digits only.
fn parse_index(elements: &[&str]) -> Result<u64> {
    const BAD: Error =
        Error::MalformedTile("tile index must be 3-digit groups, all but the last prefixed with x");
    if elements.is_empty() || elements.len() > MAX_INDEX_GROUPS {
        return Err(BAD);
    }
    if elements.len() > 1 && elements[0] == "x000" {
        return Err(Error::MalformedTile("tile index has a leading zero group"));
    }
    let last = elements.len() - 1;
    let mut index: u64 = 0;
    for (position, element) in elements.iter().enumerate() {
        let digits = if position < last {
            element.strip_prefix('x').ok_or(BAD)?
        } else {
            element
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BAD);
        }
        let group: u64 = digits.parse().map_err(|_| BAD)?;
        index = index
            .checked_mul(1000)
            .and_then(|i| i.checked_add(group))
            .ok_or(Error::MalformedTile("tile index does not fit 64 bits"))?;
    }
    Ok(index)
}

fn write_index(f: &mut fmt::Formatter<'_>, index: u64) -> fmt::Result {
    let mut groups = [0u64; MAX_INDEX_GROUPS];
    let mut count = 0;
    let mut rest = index;
    loop {
        groups[count] = rest % 1000;
        count += 1;
        rest /= 1000;
        if rest == 0 {
            break;
        }
    }
    for position in (1..count).rev() {
        write!(f, "x{:03}/", groups[position])?;
    }
    write!(f, "{:03}", groups[0])
}

impl fmt::Display for TilePath {
    /// The path relative to the log prefix. An invalid path (level over 63, width 0 or
    /// over 256) is still written, and [`TilePath::parse`] rejects what comes out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TilePath::Hash { level, .. } => write!(f, "tile/{level}/")?,
            TilePath::Entries { .. } => f.write_str("tile/entries/")?,
        }
        write_index(f, self.index())?;
        if !self.is_full() {
            write!(f, ".p/{}", self.width())?;
        }
        Ok(())
    }
}

impl FromStr for TilePath {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        TilePath::parse(s)
    }
}

// ---------------------------------------------------------------------------------
// Which tiles a tree has
// ---------------------------------------------------------------------------------

/// The number of hashes at tile level `level` in a tree of `tree_size` leaves:
/// `floor(tree_size / 256^level)`.
fn hashes_at_level(tree_size: u64, level: u8) -> u64 {
    match u32::from(level).checked_mul(TILE_HEIGHT) {
        Some(shift) if shift < 64 => tree_size >> shift,
        _ => 0,
    }
}

/// Every tile of a tree of `tree_size` leaves: at each level, every full tile and the
/// partial right-edge tile if there is one; entry bundles likewise. Ordered by level
/// (hash tiles of level 0, then entry bundles, then level 1, ...), then by index.
///
/// About `2 * tree_size / 255` paths: for a large log iterate with [`tiles_added`]
/// over growing sizes instead.
pub fn tiles_for_size(tree_size: u64) -> Vec<TilePath> {
    tiles_added(0, tree_size)
}

/// The right-edge partial tiles of a tree of `tree_size` leaves (hash tiles at every
/// level, and the entry bundle), each once: what a client holding a checkpoint of that
/// size may ask for.
pub fn partial_tiles(tree_size: u64) -> Vec<TilePath> {
    let full = u64::from(FULL_TILE_WIDTH);
    let mut tiles = Vec::new();
    for level in 0..=MAX_TILE_LEVEL {
        let count = hashes_at_level(tree_size, level);
        if count == 0 {
            break;
        }
        let width = (count % full) as u16;
        if width == 0 {
            continue;
        }
        tiles.push(TilePath::Hash {
            level,
            index: count / full,
            width,
        });
        if level == 0 {
            tiles.push(TilePath::Entries {
                index: count / full,
                width,
            });
        }
    }
    tiles
}

/// Every tile a static copy of a log of size `tree_size` serves, for clients holding
/// a checkpoint of any of the `signed_sizes` (ascending): every tile of the tree (as
/// [`tiles_for_size`]), then the partial tiles of each earlier signed size whose tile
/// is still partial now (C2SP tlog-tiles: a client fetches the partial tile of its
/// own size until the full one exists), by size.
pub fn static_tiles(signed_sizes: &[u64], tree_size: u64) -> Vec<TilePath> {
    let mut tiles = tiles_for_size(tree_size);
    let place = |t: &TilePath| (t.level(), t.index());
    let still_partial: Vec<(Option<u8>, u64)> =
        partial_tiles(tree_size).iter().map(place).collect();
    for &size in signed_sizes.iter().filter(|&&size| size < tree_size) {
        for tile in partial_tiles(size) {
            if still_partial.contains(&place(&tile)) && !tiles.contains(&tile) {
                tiles.push(tile);
            }
        }
    }
    tiles
}

/// The tiles of the tree of size `new_size` that the tree of size `old_size` does not
/// have: tiles that became full, and new partial tiles. What a static mirror must
/// write after growing from `old_size` to `new_size`. Empty if `new_size <= old_size`.
/// Same order as [`tiles_for_size`].
pub fn tiles_added(old_size: u64, new_size: u64) -> Vec<TilePath> {
    let mut tiles = Vec::new();
    if new_size <= old_size {
        return tiles;
    }
    let full = u64::from(FULL_TILE_WIDTH);
    for level in 0..=MAX_TILE_LEVEL {
        let old_count = hashes_at_level(old_size, level);
        let new_count = hashes_at_level(new_size, level);
        if new_count == old_count {
            // Then every higher level is unchanged too.
            break;
        }
        let push_level = |tiles: &mut Vec<TilePath>, make: &dyn Fn(u64, u16) -> TilePath| {
            for index in old_count / full..new_count / full {
                tiles.push(make(index, FULL_TILE_WIDTH));
            }
            if !new_count.is_multiple_of(full) {
                tiles.push(make(new_count / full, (new_count % full) as u16));
            }
        };
        push_level(&mut tiles, &|index, width| TilePath::Hash {
            level,
            index,
            width,
        });
        if level == 0 {
            push_level(&mut tiles, &|index, width| TilePath::Entries {
                index,
                width,
            });
        }
    }
    tiles
}

// ---------------------------------------------------------------------------------
// Encodings
// ---------------------------------------------------------------------------------

/// The bytes of a hash tile: the hashes concatenated. 1 to 256 hashes.
pub fn encode_hash_tile(hashes: &[Hash]) -> Result<Vec<u8>> {
    if hashes.is_empty() || hashes.len() > usize::from(FULL_TILE_WIDTH) {
        return Err(Error::MalformedTile("a hash tile holds 1 to 256 hashes"));
    }
    Ok(hashes.iter().flat_map(|h| h.0).collect())
}

/// Splits hash tile bytes into its `width` hashes; the length must be `32 * width`.
pub fn decode_hash_tile(bytes: &[u8], width: u16) -> Result<Vec<Hash>> {
    if !(1..=FULL_TILE_WIDTH).contains(&width) {
        return Err(Error::MalformedTile("tile width must be 1 to 256"));
    }
    if bytes.len() != HASH_LEN * usize::from(width) {
        return Err(Error::MalformedTile("tile length is not 32 bytes per hash"));
    }
    Ok(bytes
        .chunks_exact(HASH_LEN)
        .map(|chunk| Hash::try_from(chunk).expect("HASH_LEN bytes"))
        .collect())
}

/// The RFC 6962 Merkle tree hash of `hashes` taken as the leaves' hashes of a subtree
/// (one hash is returned as is). For a full tile this is the hash the level above
/// stores for it. Fails on an empty slice.
pub fn tile_root(alg: HashAlg, hashes: &[Hash]) -> Result<Hash> {
    fn subtree(alg: HashAlg, hashes: &[Hash]) -> Hash {
        match hashes {
            [only] => *only,
            _ => {
                // Largest power of two smaller than the length (length >= 2 here).
                let split = 1usize << (usize::BITS - 1 - (hashes.len() - 1).leading_zeros());
                let (left, right) = hashes.split_at(split);
                alg.node_hash(&subtree(alg, left), &subtree(alg, right))
            }
        }
    }
    if hashes.is_empty() {
        return Err(Error::MalformedTile("cannot hash an empty tile"));
    }
    Ok(subtree(alg, hashes))
}

/// The bytes of an entry bundle: each entry behind its big-endian u16 length.
/// 1 to 256 entries, each at most 65535 bytes.
pub fn encode_entry_bundle(entries: &[&[u8]]) -> Result<Vec<u8>> {
    if entries.is_empty() || entries.len() > usize::from(FULL_TILE_WIDTH) {
        return Err(Error::MalformedTile(
            "an entry bundle holds 1 to 256 entries",
        ));
    }
    let total: usize = entries.iter().map(|e| 2 + e.len()).sum();
    let mut bundle = Vec::with_capacity(total);
    for entry in entries {
        let len = u16::try_from(entry.len())
            .map_err(|_| Error::MalformedTile("an entry in a bundle is longer than 65535 bytes"))?;
        bundle.extend_from_slice(&len.to_be_bytes());
        bundle.extend_from_slice(entry);
    }
    Ok(bundle)
}

/// Splits an entry bundle into its entries (borrowed from `bytes`).
///
/// Strict: 1 to 256 entries, every length prefix complete, every entry as long as its
/// prefix says, nothing left over. Check the count against the path's width with
/// [`decode_entry_bundle_with_width`].
pub fn decode_entry_bundle(bytes: &[u8]) -> Result<Vec<&[u8]>> {
    let mut entries = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if entries.len() == usize::from(FULL_TILE_WIDTH) {
            return Err(Error::MalformedTile(
                "entry bundle holds more than 256 entries",
            ));
        }
        let (prefix, after) = rest.split_first_chunk::<2>().ok_or(Error::MalformedTile(
            "entry bundle ends inside a length prefix",
        ))?;
        let len = usize::from(u16::from_be_bytes(*prefix));
        if after.len() < len {
            return Err(Error::MalformedTile("entry bundle ends inside an entry"));
        }
        let (entry, after) = after.split_at(len);
        entries.push(entry);
        rest = after;
    }
    if entries.is_empty() {
        return Err(Error::MalformedTile("entry bundle is empty"));
    }
    Ok(entries)
}

/// [`decode_entry_bundle`], also requiring exactly `width` entries.
pub fn decode_entry_bundle_with_width(bytes: &[u8], width: u16) -> Result<Vec<&[u8]>> {
    let entries = decode_entry_bundle(bytes)?;
    if entries.len() != usize::from(width) {
        return Err(Error::MalformedTile(
            "entry bundle does not hold as many entries as its width",
        ));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hash_path(level: u8, index: u64, width: u16) -> TilePath {
        TilePath::Hash {
            level,
            index,
            width,
        }
    }

    #[test]
    fn paths_are_written_as_the_spec_says() {
        let table = [
            (hash_path(0, 0, 256), "tile/0/000"),
            (hash_path(0, 1_234_067, 8), "tile/0/x001/x234/067.p/8"),
            (hash_path(0, 1_234_067, 256), "tile/0/x001/x234/067"),
            (hash_path(3, 999, 255), "tile/3/999.p/255"),
            (hash_path(1, 1000, 1), "tile/1/x001/000.p/1"),
            (hash_path(63, 0, 1), "tile/63/000.p/1"),
            (
                hash_path(0, u64::MAX, 256),
                "tile/0/x018/x446/x744/x073/x709/x551/615",
            ),
            (
                TilePath::Entries {
                    index: 5,
                    width: 256,
                },
                "tile/entries/005",
            ),
            (
                TilePath::Entries {
                    index: 1_000_000,
                    width: 17,
                },
                "tile/entries/x001/x000/000.p/17",
            ),
        ];
        for (path, text) in table {
            assert_eq!(path.to_string(), text);
            assert_eq!(TilePath::parse(text).unwrap(), path, "{text}");
        }
    }

    #[test]
    fn invalid_paths_are_rejected() {
        let bad = [
            "",
            "tile",
            "tile/",
            "tile/0",
            "tile/0/",
            "/tile/0/000",
            "tile/0/000/",
            "tiles/0/000",
            "Tile/0/000",
            "tile/00/000",
            "tile/01/000",
            "tile/64/000",
            "tile/-1/000",
            "tile/+1/000",
            "tile/a/000",
            "tile/entry/000",
            "tile/ENTRIES/000",
            "tile/0/0",
            "tile/0/00",
            "tile/0/0000",
            "tile/0/x000",
            "tile/0/x001",
            "tile/0/X001/000",
            "tile/0/001/000",
            "tile/0/x01/000",
            "tile/0/x0001/000",
            "tile/0/x000/001",
            "tile/0/x000/x001/000",
            "tile/0/x001//000",
            "tile/0/x001/x002",
            "tile/0/12a",
            "tile/0/+12",
            "tile/0/000.p",
            "tile/0/000.p/",
            "tile/0/000.p/0",
            "tile/0/000.p/00",
            "tile/0/000.p/08",
            "tile/0/000.p/256",
            "tile/0/000.p/1000",
            "tile/0/000.p/8/",
            "tile/0/000.p/8.p/8",
            "tile/0/000.P/8",
            "tile/0/000.q/8",
            "tile/0/000p/8",
            "tile/0/.p/8",
            "tile/0/x001.p/8",
            "tile/0/x001.p/234/067",
            "tile/0/000/8",
            "tile/entries/000.p/256",
            "tile/entries/x000/000",
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "tile/0/x999/x999/x999/x999/x999/x999/999",
            "tile/0/x001/x001/x001/x001/x001/x001/x001/001",
            "tile/0/ 000",
            "tile/0/000 ",
            "tile/0/000\n",
            "tile/0/０００",
        ];
        for text in bad {
            assert!(
                matches!(TilePath::parse(text), Err(Error::MalformedTile(_))),
                "accepted {text:?}"
            );
        }
    }

    #[test]
    fn constructors_check_ranges() {
        assert!(TilePath::hash(63, 1, 256).is_ok());
        assert!(TilePath::hash(64, 1, 256).is_err());
        assert!(TilePath::hash(0, 1, 0).is_err());
        assert!(TilePath::hash(0, 1, 257).is_err());
        assert!(TilePath::entries(0, 1).is_ok());
        assert!(TilePath::entries(0, 0).is_err());
        let invalid = TilePath::Entries { index: 0, width: 0 };
        assert!(!invalid.is_valid());
        assert!(TilePath::parse(&invalid.to_string()).is_err());
    }

    fn any_valid_path() -> impl Strategy<Value = TilePath> {
        prop_oneof![
            (0..=MAX_TILE_LEVEL, any::<u64>(), 1..=FULL_TILE_WIDTH)
                .prop_map(|(level, index, width)| hash_path(level, index, width)),
            (0..=MAX_TILE_LEVEL, 0u64..2_000_000, 1..=FULL_TILE_WIDTH)
                .prop_map(|(level, index, width)| hash_path(level, index, width)),
            (any::<u64>(), 1..=FULL_TILE_WIDTH)
                .prop_map(|(index, width)| TilePath::Entries { index, width }),
            (0u64..2_000, 1..=FULL_TILE_WIDTH)
                .prop_map(|(index, width)| TilePath::Entries { index, width }),
        ]
    }

    proptest! {
        #[test]
        fn valid_paths_round_trip(path in any_valid_path()) {
            let text = path.to_string();
            prop_assert_eq!(TilePath::parse(&text).unwrap(), path);
            prop_assert_eq!(text.parse::<TilePath>().unwrap().to_string(), text);
        }

        #[test]
        fn parsed_strings_are_canonical(text in "tile/(entries|[0-9x.p]{1,3})(/[0-9x.p]{1,5}){1,4}") {
            if let Ok(path) = TilePath::parse(&text) {
                prop_assert_eq!(path.to_string(), text);
            }
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,40}") {
            let _ = TilePath::parse(&text);
        }

        #[test]
        fn tiles_added_partitions_growth(old in 0u64..200_000, grow in 0u64..200_000) {
            let new = old + grow;
            let before: std::collections::BTreeSet<_> = tiles_for_size(old).into_iter().collect();
            let after: std::collections::BTreeSet<_> = tiles_for_size(new).into_iter().collect();
            let added = tiles_added(old, new);
            let added_set: std::collections::BTreeSet<_> = added.iter().copied().collect();
            prop_assert_eq!(added.len(), added_set.len());
            prop_assert!(added_set.is_disjoint(&before));
            let expected: std::collections::BTreeSet<_> = after.difference(&before).copied().collect();
            prop_assert_eq!(added_set, expected);
        }

        #[test]
        fn static_copies_serve_every_signed_size(sizes in proptest::collection::btree_set(1u64..300_000, 1..12)) {
            let sizes: Vec<u64> = sizes.into_iter().collect();
            let current = *sizes.last().unwrap();
            let served: std::collections::BTreeSet<_> =
                static_tiles(&sizes, current).into_iter().collect();
            for &size in &sizes {
                // What a client holding the checkpoint of `size` asks for: each tile of
                // its tree, or the full tile at that place once the copy has one.
                for tile in tiles_for_size(size) {
                    let full = match tile {
                        TilePath::Hash { level, index, .. } => TilePath::Hash { level, index, width: FULL_TILE_WIDTH },
                        TilePath::Entries { index, .. } => TilePath::Entries { index, width: FULL_TILE_WIDTH },
                    };
                    prop_assert!(served.contains(&tile) || served.contains(&full), "{tile} for size {size}");
                }
            }
            // Nothing the current tree supersedes: no partial tile where a full one is.
            for tile in &served {
                if !tile.is_full() {
                    let place_full = served.iter().any(|t| t.is_full() && t.level() == tile.level() && t.index() == tile.index());
                    prop_assert!(!place_full, "{tile} beside its full tile");
                }
            }
        }

        #[test]
        fn entry_bundles_round_trip(entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..=256)) {
            let borrowed: Vec<&[u8]> = entries.iter().map(|e| e.as_slice()).collect();
            let bundle = encode_entry_bundle(&borrowed).unwrap();
            prop_assert_eq!(decode_entry_bundle(&bundle).unwrap(), borrowed.clone());
            prop_assert!(decode_entry_bundle_with_width(&bundle, borrowed.len() as u16).is_ok());
            // Every strict prefix is malformed (a shorter bundle can still be well formed
            // only if the cut falls between entries; then the width check catches it).
            for cut in [1usize, 2, bundle.len() / 2] {
                if cut < bundle.len() {
                    let prefix = &bundle[..bundle.len() - cut];
                    prop_assert!(decode_entry_bundle_with_width(prefix, borrowed.len() as u16).is_err());
                }
            }
        }

        #[test]
        fn bundle_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode_entry_bundle(&bytes);
        }
    }

    #[test]
    fn the_spec_examples_of_tree_shapes_hold() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one
        // partial level 0 tile of width 112, one full level 1 tile, one partial level 1
        // tile of width 17, and one partial level 2 tile of width 1."
        let tiles = tiles_for_size(70_000);
        let level = |l: u8| -> Vec<TilePath> {
            tiles
                .iter()
                .copied()
                .filter(|t| t.level() == Some(l))
                .collect()
        };
        let level0 = level(0);
        assert_eq!(level0.len(), 274);
        assert!(level0[..273].iter().all(|t| t.is_full()));
        assert_eq!(level0[273], hash_path(0, 273, 112));
        assert_eq!(level(1), vec![hash_path(1, 0, 256), hash_path(1, 1, 17)]);
        assert_eq!(level(2), vec![hash_path(2, 0, 1)]);
        assert!(level(3).is_empty());
        let bundles: Vec<TilePath> = tiles
            .iter()
            .copied()
            .filter(|t| t.level().is_none())
            .collect();
        assert_eq!(bundles.len(), 274);
        assert_eq!(
            bundles[273],
            TilePath::Entries {
                index: 273,
                width: 112
            }
        );
        // "a tree of size 256 will be represented by a full level 0 tile and a partial
        // level 1 tile of width 1."
        assert_eq!(
            tiles_for_size(256),
            vec![
                hash_path(0, 0, 256),
                TilePath::Entries {
                    index: 0,
                    width: 256
                },
                hash_path(1, 0, 1)
            ]
        );
        assert!(tiles_for_size(0).is_empty());
        assert_eq!(
            tiles_for_size(1),
            vec![hash_path(0, 0, 1), TilePath::Entries { index: 0, width: 1 }]
        );
    }

    #[test]
    fn levels_past_the_tree_hold_nothing() {
        assert_eq!(hashes_at_level(70_000, 1), 273);
        assert_eq!(hashes_at_level(u64::MAX, 8), 0);
        assert_eq!(hashes_at_level(u64::MAX, 63), 0);
    }

    #[test]
    fn hash_tiles_encode_and_decode() {
        let hashes: Vec<Hash> = (0u8..=255).map(|i| Hash([i; 32])).collect();
        let bytes = encode_hash_tile(&hashes).unwrap();
        assert_eq!(bytes.len(), 8192);
        assert_eq!(decode_hash_tile(&bytes, 256).unwrap(), hashes);
        assert_eq!(
            decode_hash_tile(&bytes[..64], 2).unwrap(),
            hashes[..2].to_vec()
        );
        assert!(decode_hash_tile(&bytes, 255).is_err());
        assert!(decode_hash_tile(&bytes[..63], 2).is_err());
        assert!(decode_hash_tile(&[], 0).is_err());
        assert!(decode_hash_tile(&[0; 8224], 257).is_err());
        assert!(encode_hash_tile(&[]).is_err());
        assert!(encode_hash_tile(&vec![Hash([0; 32]); 257]).is_err());
    }

    #[test]
    fn tile_roots_are_merkle_subtree_hashes() {
        let alg = HashAlg::Sha256;
        let leaves: Vec<Hash> = (0u8..5).map(|i| alg.leaf_hash(&[i])).collect();
        let left = alg.node_hash(
            &alg.node_hash(&leaves[0], &leaves[1]),
            &alg.node_hash(&leaves[2], &leaves[3]),
        );
        assert_eq!(
            tile_root(alg, &leaves).unwrap(),
            alg.node_hash(&left, &leaves[4])
        );
        assert_eq!(tile_root(alg, &leaves[..1]).unwrap(), leaves[0]);
        assert!(tile_root(alg, &[]).is_err());
    }

    #[test]
    fn entry_bundles_are_length_prefixed() {
        let bundle = encode_entry_bundle(&[b"a", b"", b"xyz"]).unwrap();
        assert_eq!(bundle, b"\x00\x01a\x00\x00\x00\x03xyz");
        let long = vec![7u8; 65_535];
        let bundle = encode_entry_bundle(&[&long]).unwrap();
        assert_eq!(&bundle[..2], &[0xff, 0xff]);
        assert_eq!(decode_entry_bundle(&bundle).unwrap(), vec![&long[..]]);
        assert!(encode_entry_bundle(&[&vec![0u8; 65_536]]).is_err());
        assert!(encode_entry_bundle(&[]).is_err());
        let many: Vec<&[u8]> = vec![b"" as &[u8]; 257];
        assert!(encode_entry_bundle(&many).is_err());
    }

    #[test]
    fn malformed_bundles_are_rejected() {
        let bad: [&[u8]; 6] = [
            b"",
            b"\x00",
            b"\x00\x02a",
            b"\x00\x01a\x00",
            b"\x00\x01ab",
            b"\xff\xff",
        ];
        for bytes in bad {
            assert!(
                matches!(decode_entry_bundle(bytes), Err(Error::MalformedTile(_))),
                "accepted {bytes:?}"
            );
        }
        let too_many = vec![0u8; 2 * 257];
        assert!(decode_entry_bundle(&too_many).is_err());
        assert_eq!(decode_entry_bundle(&too_many[..512]).unwrap().len(), 256);
        assert!(decode_entry_bundle_with_width(b"\x00\x01a", 2).is_err());
    }
}
