//! The readers' side of [`Shared`]: stored hashes, frames and checkpoint notes read by
//! position, refused past known damage, and the memo of complete nodes through which
//! proofs are answered ([`HashReader`]).

use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering;
use std::sync::{MutexGuard, RwLockReadGuard};

use super::journal::{self, CheckpointRow, FrameRow};
use super::{hashes_file, Damage, Shared, JOURNAL};
use crate::merkle::{HashReader, Node};
use crate::tile::FULL_TILE_WIDTH;
use crate::{Error, Hash, HashAlg, Result};

/// Nodes below this level are rebuilt from at most 4 leaf hashes, read together with
/// the other low siblings of a proof; from it up they are remembered. An inclusion
/// proof then costs one 256-byte read, a few hashes and memory lookups.
pub(super) const MEMO_MIN_LEVEL: u8 = 3;
/// About 100 MB of remembered nodes; a log of N entries has about N/4 nodes of level
/// 3 and up, so every node of an 8-million-entry log fits.
pub(super) const MEMO_MAX_NODES: usize = 1 << 21;
/// Right-edge ranges kept: a tree size has about 2 × log2(size) of them (inclusion and
/// consistency proofs), so this holds several recent sizes.
pub(super) const RANGES_MAX: usize = 512;

impl Shared {
    /// The frame index rows, read-locked.
    pub(super) fn frame_rows(&self) -> RwLockReadGuard<'_, Vec<FrameRow>> {
        self.frames.read().expect("frame index lock")
    }

    /// The checkpoint index rows, read-locked.
    pub(super) fn checkpoint_rows(&self) -> RwLockReadGuard<'_, Vec<CheckpointRow>> {
        self.checkpoints.read().expect("checkpoint index lock")
    }

    /// Refuses a read that needs entries `[.., end)` when stored data from
    /// `damaged_from` on is known to be damaged.
    fn refuse_damaged(&self, end: u64) -> Result<()> {
        let from = self.damaged_from.load(Ordering::Relaxed);
        if end > from {
            let what = self
                .damage()
                .as_ref()
                .map_or_else(String::new, |d| d.what.clone());
            return Err(Error::Damaged { index: from, what });
        }
        Ok(())
    }

    /// The damage found so far (a poisoned lock still holds it).
    pub(super) fn damage(&self) -> MutexGuard<'_, Option<Damage>> {
        self.damage.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn mark_damaged(&self, damage: Damage) {
        let mut found = self.damage();
        if found.as_ref().is_none_or(|d| damage.index < d.index) {
            self.damaged_from.store(damage.index, Ordering::Relaxed);
            *found = Some(damage);
        }
    }

    /// `count` stored hashes of tree level `8 * level`, from node `first`, refused if
    /// any of them covers damaged data.
    pub(super) fn read_level(&self, level: usize, first: u64, count: usize) -> Result<Vec<Hash>> {
        let end = (first + count as u64)
            .checked_shl(8 * level as u32)
            .filter(|end| end >> (8 * level as u32) == first + count as u64)
            .unwrap_or(u64::MAX);
        self.refuse_damaged(end)?;
        self.read_level_unchecked(level, first, count)
    }

    /// [`Shared::read_level`] without the damage check: for the checks themselves.
    pub(super) fn read_level_unchecked(
        &self,
        level: usize,
        first: u64,
        count: usize,
    ) -> Result<Vec<Hash>> {
        let levels = self.levels.read().expect("levels lock");
        let file = levels
            .get(level)
            .ok_or_else(|| Error::Corrupt(format!("hash level {level} is missing")))?;
        let mut buf = vec![0u8; count * 32];
        file.read_exact_at(&mut buf, first * 32)
            .map_err(Error::io(self.dir.join(hashes_file(level))))?;
        Ok(buf
            .chunks_exact(32)
            .map(|c| Hash::try_from(c).expect("32 bytes"))
            .collect())
    }

    /// The first entry in `[start, end)` whose bytes do not hash to its stored leaf
    /// hash, looking at most one bundle's worth of entries (what one batch can hold of
    /// a frame). `None` if they all match or cannot be read.
    pub(super) fn first_bad_leaf(&self, start: u64, end: u64) -> Option<u64> {
        let end = end.min(start + u64::from(FULL_TILE_WIDTH));
        let frames = self.frames_covering_unchecked(start, end).ok()?;
        let stored = self
            .read_level_unchecked(0, start, (end - start) as usize)
            .ok()?;
        let mut index = start;
        for (row, payload) in frames {
            let entries = journal::split_payload(&payload, row.count)?;
            for (at, entry) in entries.iter().enumerate() {
                let at_index = row.first_index + at as u64;
                if at_index < start || at_index >= end {
                    continue;
                }
                if self.alg.leaf_hash(entry) != stored[(at_index - start) as usize] {
                    return Some(at_index);
                }
                index = at_index + 1;
            }
        }
        (index < end).then_some(index)
    }

    /// The frames holding entries `[start, end)`, each with its payload.
    pub(super) fn frames_covering(&self, start: u64, end: u64) -> Result<Vec<(FrameRow, Vec<u8>)>> {
        self.refuse_damaged(end)?;
        self.frames_covering_unchecked(start, end)
    }

    /// [`Shared::frames_covering`] without the damage check: for the checks themselves.
    fn frames_covering_unchecked(&self, start: u64, end: u64) -> Result<Vec<(FrameRow, Vec<u8>)>> {
        let rows: Vec<FrameRow> = {
            let frames = self.frame_rows();
            let first = frames.partition_point(|r| r.end_index() <= start);
            frames[first..]
                .iter()
                .take_while(|r| r.first_index < end)
                .copied()
                .collect()
        };
        rows.into_iter()
            .map(|row| {
                let mut payload = vec![0u8; row.payload_len as usize];
                self.journal
                    .read_exact_at(&mut payload, row.payload_offset)
                    .map_err(Error::io(self.dir.join(JOURNAL)))?;
                Ok((row, payload))
            })
            .collect()
    }

    pub(super) fn read_note(&self, row: &CheckpointRow) -> Result<String> {
        let mut note = vec![0u8; row.note_len as usize];
        self.journal
            .read_exact_at(&mut note, row.note_offset)
            .map_err(Error::io(self.dir.join(JOURNAL)))?;
        String::from_utf8(note)
            .map_err(|_| Error::Corrupt("a stored checkpoint is not UTF-8".into()))
    }
}

/// Stored hashes are complete nodes of levels that are multiples of 8; any other
/// complete node is rebuilt from the at most 128 stored hashes beneath it.
impl HashReader for Shared {
    fn read_hashes(&self, nodes: &[Node]) -> Result<Vec<Hash>> {
        // The low siblings of an inclusion proof share one aligned block of leaves:
        // read it once instead of once per node.
        let mut block: Option<(u64, Vec<Hash>)> = None;
        let remembered: Vec<Option<Hash>> = {
            let memo = self.memo.read().expect("memo lock");
            nodes.iter().map(|node| memo.get(node).copied()).collect()
        };
        nodes
            .iter()
            .zip(remembered)
            .map(|(node, remembered)| {
                if let Some(hash) = remembered {
                    return Ok(hash);
                }
                if node.level >= MEMO_MIN_LEVEL {
                    return self.node_hash(*node);
                }
                let first_leaf = node.index << node.level;
                let block_index = first_leaf >> MEMO_MIN_LEVEL;
                let block_len = 1u64 << MEMO_MIN_LEVEL;
                if (block_index + 1) * block_len > self.head.read().expect("head lock").size {
                    return self.rebuild_node(*node);
                }
                if block.as_ref().map(|(i, _)| *i) != Some(block_index) {
                    let leaves = self.read_level(0, block_index * block_len, block_len as usize)?;
                    block = Some((block_index, leaves));
                }
                let (_, leaves) = block.as_ref().expect("block just read");
                let offset = (first_leaf - block_index * block_len) as usize;
                Ok(subtree_root(
                    self.alg,
                    leaves[offset..offset + (1 << node.level)].to_vec(),
                ))
            })
            .collect()
    }

    fn remembered_range(&self, start: u64, end: u64) -> Option<Hash> {
        let ranges = self.ranges.read().expect("ranges lock");
        ranges.get(&(start, end)).copied()
    }

    fn remember_range(&self, start: u64, end: u64, hash: Hash) {
        let mut ranges = self.ranges.write().expect("ranges lock");
        if ranges.len() >= RANGES_MAX {
            ranges.clear();
        }
        ranges.insert((start, end), hash);
    }
}

impl Shared {
    /// The hash of the complete node `node`: remembered, or read and rebuilt.
    fn node_hash(&self, node: Node) -> Result<Hash> {
        if node.level < MEMO_MIN_LEVEL {
            return self.rebuild_node(node);
        }
        if let Some(hash) = self.memo.read().expect("memo lock").get(&node) {
            return Ok(*hash);
        }
        // A chunk that cannot be read whole (it reaches damaged data, say) leaves the
        // node to be rebuilt from its own hashes, which may lie before the damage.
        match self.rebuild_chunk(node) {
            Ok(Some(hash)) => Ok(hash),
            Ok(None) | Err(_) => {
                let hash = self.rebuild_node(node)?;
                self.remember([(node, hash)]);
                Ok(hash)
            }
        }
    }

    /// Rebuilds the whole chunk of `node` — the 128 stored hashes under the node of
    /// level `8s + 7` above it, `s` being the stored level beneath it — remembering
    /// every node of level [`MEMO_MIN_LEVEL`] and up in it, and returns `node`'s hash.
    /// `None` when `node` is itself stored or its chunk is not complete yet (the right
    /// edge of the tree). One 4 KiB read and 127 hashes warm 31 to 127 nodes, so a
    /// freshly opened log answers random proofs from memory after a few thousand of
    /// them instead of after hundreds of thousands of one-node misses.
    fn rebuild_chunk(&self, node: Node) -> Result<Option<Hash>> {
        let depth = node.level % 8;
        if depth == 0 {
            return Ok(None);
        }
        let base = node.level - depth;
        let top = base + 7;
        let chunk = node.index >> (top - node.level);
        let stored_first = chunk << 7;
        let stored_complete = self.head.read().expect("head lock").size >> base;
        if stored_first + 128 > stored_complete {
            return Ok(None);
        }
        let mut hashes = self.read_level(usize::from(base / 8), stored_first, 128)?;
        let mut level = base;
        let mut first = stored_first;
        let mut found = None;
        let mut learned = Vec::with_capacity(127);
        while hashes.len() > 1 {
            hashes = parents(self.alg, &hashes);
            level += 1;
            first >>= 1;
            if level >= MEMO_MIN_LEVEL {
                learned.extend(
                    (first..)
                        .zip(&hashes)
                        .map(|(index, hash)| (Node::new(level, index), *hash)),
                );
            }
            if level == node.level {
                found = Some(hashes[(node.index - first) as usize]);
            }
        }
        self.remember(learned);
        Ok(found)
    }

    /// Adds complete nodes to the memo, emptying it first if they would overfill it.
    fn remember(&self, nodes: impl IntoIterator<Item = (Node, Hash)>) {
        let nodes = nodes.into_iter();
        let mut memo = self.memo.write().expect("memo lock");
        if memo.len() + nodes.size_hint().0 > MEMO_MAX_NODES {
            memo.clear();
        }
        memo.extend(nodes);
    }

    /// Reads the stored hashes beneath the complete node `node` (at most 128, one
    /// read from the stored level below it) and hashes them up to `node`.
    fn rebuild_node(&self, node: Node) -> Result<Hash> {
        let depth = node.level % 8;
        let stored_level = node.level / 8;
        let hashes = self.read_level(stored_level as usize, node.index << depth, 1 << depth)?;
        Ok(subtree_root(self.alg, hashes))
    }
}

/// The hashes one level up from `hashes` (an even number of sibling nodes).
fn parents(alg: HashAlg, hashes: &[Hash]) -> Vec<Hash> {
    hashes
        .chunks_exact(2)
        .map(|pair| alg.node_hash(&pair[0], &pair[1]))
        .collect()
}

/// The root of the complete subtree whose nodes at one level are `hashes` (a power of
/// two of them, at least one).
fn subtree_root(alg: HashAlg, mut hashes: Vec<Hash>) -> Hash {
    while hashes.len() > 1 {
        hashes = parents(alg, &hashes);
    }
    hashes[0]
}
