//! The dedup set: the tag of every identity that ever signed each petition.
//!
//! At the size of the largest petitions it is the biggest table of the read models
//! (6.1 million signatures with two identities each: 12 million keys), and the one that
//! costs a restart most: every key inserted at a random place. So it is split into
//! [`SHARDS`] tables by the tag's first byte (tags are keyed BLAKE3 outputs, so the
//! shards fill evenly):
//! - loading and cloning share the shards between two threads;
//! - a table that grows copies one shard, not the whole set, so growing never needs
//!   twice the memory of the set.
//!
//! Only a projection that decides records needs the set. The server's sequencer keeps
//! it; the projection readers see replays only what the sequencer decided, so it hands
//! its set over ([`DedupSet::hand_over`]) and folds without it: one set in memory, not
//! two.

use ledger::DedupTag;
use rustc_hash::FxHashSet;

/// A petition slot and a dedup tag.
pub(crate) type DedupKey = (u32, DedupTag);

const SHARDS: usize = 64;

#[derive(Debug)]
pub(crate) struct DedupSet {
    /// Empty once handed over.
    shards: Vec<FxHashSet<DedupKey>>,
    /// False once it may hold tags of records that were rolled back (see
    /// `Projection::rebuild_decider`): it still refuses every duplicate, but it is no
    /// longer the set a replay of the log gives, so it is never written whole.
    exact: bool,
}

impl Default for DedupSet {
    fn default() -> DedupSet {
        DedupSet {
            shards: (0..SHARDS).map(|_| FxHashSet::default()).collect(),
            exact: true,
        }
    }
}

impl Clone for DedupSet {
    /// Clones half of the shards on another thread (a handed-over set has none).
    fn clone(&self) -> DedupSet {
        let cloned = if self.len() < PARALLEL_FROM {
            None
        } else {
            let (low, high) = self.shards.split_at(SHARDS / 2);
            std::thread::scope(|scope| {
                let other = scope.spawn(|| high.to_vec());
                let mut shards = low.to_vec();
                other.join().ok().map(|high| {
                    shards.extend(high);
                    shards
                })
            })
        };
        DedupSet {
            shards: cloned.unwrap_or_else(|| self.shards.clone()),
            exact: self.exact,
        }
    }
}

/// Below this many keys one thread is quicker than two.
const PARALLEL_FROM: usize = 1 << 16;

fn shard_of(key: &DedupKey) -> usize {
    key.1 .0[0] as usize % SHARDS
}

impl DedupSet {
    /// Whether this projection keeps the set (and so decides duplicates).
    pub(crate) fn is_kept(&self) -> bool {
        !self.shards.is_empty()
    }

    /// Moves the set out, leaving this one handed over: it holds nothing and takes
    /// nothing from then on, and the fold no longer checks duplicates against it.
    pub(crate) fn hand_over(&mut self) -> DedupSet {
        DedupSet {
            shards: std::mem::take(&mut self.shards),
            exact: self.exact,
        }
    }

    /// Whether the set is exactly the tags of the records folded (see `exact`).
    pub(crate) fn is_exact(&self) -> bool {
        self.exact
    }

    pub(crate) fn mark_inexact(&mut self) {
        self.exact = false;
    }

    /// Takes `key` out again (a decision that was rolled back).
    pub(crate) fn remove(&mut self, key: &DedupKey) {
        if let Some(shard) = self.shards.get_mut(shard_of(key)) {
            shard.remove(key);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.len()).sum()
    }

    /// Whether `key` is in the set (never, once handed over).
    pub(crate) fn contains(&self, key: &DedupKey) -> bool {
        self.shards
            .get(shard_of(key))
            .is_some_and(|shard| shard.contains(key))
    }

    /// Adds `key`; false if it was there already. A handed-over set takes nothing.
    pub(crate) fn insert(&mut self, key: DedupKey) -> bool {
        match self.shards.get_mut(shard_of(&key)) {
            Some(shard) => shard.insert(key),
            None => true,
        }
    }

    /// Makes room for `additional` more keys.
    pub(crate) fn reserve(&mut self, additional: usize) {
        // A little over an even share, as the shards are not exactly even.
        let each = additional / SHARDS + additional / SHARDS / 8 + 1;
        for shard in &mut self.shards {
            shard.reserve(each);
        }
    }

    /// Every key, shard by shard.
    pub(crate) fn iter(&self) -> impl Iterator<Item = DedupKey> + '_ {
        self.shards.iter().flat_map(|s| s.iter().copied())
    }

    /// Adds every key of `keys`, the shards shared between two threads for a large
    /// batch; false if any was there already (the others are added all the same).
    pub(crate) fn insert_all(&mut self, keys: &[DedupKey]) -> bool {
        if keys.len() < PARALLEL_FROM / 16 || !self.is_kept() {
            return insert_each(keys.iter().copied(), |key| self.insert(key));
        }
        let fill = |shards: &mut [FxHashSet<DedupKey>], first: usize| {
            let mine = first..first + shards.len();
            let keys = keys
                .iter()
                .copied()
                .filter(|key| mine.contains(&shard_of(key)));
            insert_each(keys, |key| shards[shard_of(&key) - first].insert(key))
        };
        let (low, high) = self.shards.split_at_mut(SHARDS / 2);
        std::thread::scope(|scope| {
            let other = scope.spawn(|| fill(high, SHARDS / 2));
            let here = fill(low, 0);
            // The other thread cannot panic (inserting into a table), but if it did
            // its keys would be missing: say so rather than claim they were fresh.
            other.join().unwrap_or(false) && here
        })
    }
}

/// Inserts every key (not stopping at the first that was there); whether all were new.
fn insert_each(
    keys: impl Iterator<Item = DedupKey>,
    mut insert: impl FnMut(DedupKey) -> bool,
) -> bool {
    keys.fold(true, |all_new, key| insert(key) & all_new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> DedupKey {
        let tag = *blake3::hash(&n.to_le_bytes()).as_bytes();
        (n % 3, DedupTag(tag[..16].try_into().unwrap()))
    }

    #[test]
    fn behaves_as_one_set_in_every_path() {
        let keys: Vec<DedupKey> = (0..100_000).map(key).collect();
        let mut one_by_one = DedupSet::default();
        assert!(keys.iter().all(|&k| one_by_one.insert(k)));
        let mut batched = DedupSet::default();
        batched.reserve(keys.len());
        assert!(batched.insert_all(&keys[..50]));
        assert!(batched.insert_all(&keys[50..]));
        // A batch with one key already there says so and still adds the others.
        let mut again = DedupSet::default();
        assert!(again.insert_all(&keys[..70_000]));
        assert!(!again.insert_all(&keys[69_999..]));
        for set in [&one_by_one, &batched, &again, &again.clone()] {
            assert_eq!(set.len(), keys.len());
            assert!(keys.iter().all(|k| set.contains(k)));
            assert!(!set.contains(&key(100_001)));
            let mut listed: Vec<_> = set.iter().collect();
            listed.sort_unstable();
            let mut want = keys.clone();
            want.sort_unstable();
            assert_eq!(listed, want);
        }
        assert!(!one_by_one.insert(keys[7]));
        assert!(DedupSet::default().len() == 0 && one_by_one.len() > 0);
        one_by_one.remove(&keys[7]);
        assert!(!one_by_one.contains(&keys[7]) && one_by_one.insert(keys[7]));
        // Handed over: the keys move, and the set left behind holds and takes nothing.
        let moved = one_by_one.hand_over();
        assert_eq!(moved.len(), keys.len());
        assert!(!one_by_one.is_kept() && moved.is_kept());
        assert!(one_by_one.insert(keys[0]) && one_by_one.insert(keys[0]));
        assert!(one_by_one.insert_all(&keys) && one_by_one.len() == 0);
        assert!(!one_by_one.contains(&keys[0]) && !one_by_one.clone().is_kept());
    }
}
