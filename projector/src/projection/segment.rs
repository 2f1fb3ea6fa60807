//! Snapshot segments: the projection's state as a chain of deltas, so that keeping the
//! read models restartable costs what changed since the last save, not a copy of
//! everything (`persist.rs` keeps the chain in a file).
//!
//! A segment holds, for the log prefix it ends at:
//! - the small state whole (names, petitions with their counts, paper batches,
//!   campaigns, links, motions, events: kilobytes to a few megabytes);
//! - the dedup tags added since the segment before (never removed: a withdrawn
//!   signature's identity has still signed);
//! - the signatures recorded since (indexes only grow) and the indexes of earlier
//!   signatures retired since (withdrawn or invalidated) and of those whose personal
//!   data was erased since: the only changes an earlier signature can undergo.
//!
//! The first segment is the delta from the empty projection, so a whole snapshot is a
//! chain of one. Body layout (postcard):
//!
//! ```text
//! body   := head dedup signatures
//! head   := SegmentHead { base_size, signatures_from, retired, erased, rest }
//! dedup  := chunk* empty        chunk: a Vec<(u32, DedupTag)> of 1..=65,536 items
//! signatures := chunk* empty    chunk: a Vec<(u64, SignatureRef)> of 1..=65,536 items
//! ```
//!
//! Lists go in chunks so a whole projection is written straight from its tables with
//! one chunk of buffer, never a second copy of it.

use std::io::{self, Write};

use ledger::DedupTag;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::dedup::DedupKey;
use super::snapshot::{check_rest, push_signature, Snapshot};
use super::state::{SignatureRef, NONE};
use super::Projection;
use crate::{Error, Result};

/// Items per chunk of a list.
const CHUNK: usize = 1 << 16;

/// What changed since the last segment was taken, for a projection that tracks it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Changes {
    /// The tree size at the last segment.
    base_size: u64,
    /// `signatures.len()` at the last segment: signatures from here on are new.
    signatures_from: usize,
    dedup_added: Vec<DedupKey>,
    /// Signatures before `signatures_from` retired since.
    retired: Vec<u64>,
    /// Signatures before `signatures_from` whose personal data was erased since.
    erased: Vec<u64>,
}

impl Changes {
    pub(crate) fn dedup_added(&mut self, petition: u32, tag: DedupTag) {
        self.dedup_added.push((petition, tag));
    }

    /// Signature `index` was retired: worth recording only if it is in an earlier
    /// segment (a later one carries its current state).
    pub(crate) fn retired(&mut self, index: u64) {
        if index < self.signatures_from as u64 {
            self.retired.push(index);
        }
    }

    /// The personal data of signature `index` was erased: as [`Changes::retired`].
    pub(crate) fn erased(&mut self, index: u64) {
        if index < self.signatures_from as u64 {
            self.erased.push(index);
        }
    }
}

#[derive(Default, Serialize, Deserialize)]
struct SegmentHead {
    base_size: u64,
    signatures_from: u64,
    retired: Vec<u64>,
    erased: Vec<u64>,
    /// Everything but the dedup tags and the signatures.
    rest: Snapshot,
}

/// A dedup set handed over by [`Projection::hand_over_dedup`], for
/// [`Projection::decider_with`].
pub struct HandedOverDedup(super::dedup::DedupSet);

/// The changes of a projection since its last segment, taken out of it
/// ([`Projection::take_segment`]), ready to be written by another thread.
pub struct Segment {
    head: SegmentHead,
    dedup: Vec<DedupKey>,
    signatures: Vec<(u64, SignatureRef)>,
}

impl Segment {
    /// The tree size the projection had when the segment was taken.
    pub fn tree_size(&self) -> u64 {
        self.head.rest.tree_size
    }

    /// How many dedup tags it adds.
    pub fn dedup_count(&self) -> u64 {
        self.dedup.len() as u64
    }

    /// Whether nothing changed: no entry since the segment before.
    pub fn is_empty(&self) -> bool {
        self.head.base_size == self.head.rest.tree_size
    }

    /// Writes the segment's body. Cost: proportional to what changed.
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        write_body(
            out,
            &self.head,
            self.dedup.iter().copied(),
            self.signatures.iter().copied(),
        )
    }
}

fn write_body(
    out: &mut impl Write,
    head: &SegmentHead,
    dedup: impl Iterator<Item = DedupKey>,
    signatures: impl Iterator<Item = (u64, SignatureRef)>,
) -> io::Result<()> {
    write_postcard(out, head)?;
    write_chunks(out, dedup)?;
    write_chunks(out, signatures)
}

fn write_chunks<T: Serialize>(
    out: &mut impl Write,
    items: impl Iterator<Item = T>,
) -> io::Result<()> {
    let mut chunk = Vec::with_capacity(CHUNK);
    for item in items {
        chunk.push(item);
        if chunk.len() == CHUNK {
            write_postcard(out, &chunk)?;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        write_postcard(out, &chunk)?;
        chunk.clear();
    }
    write_postcard(out, &chunk)
}

fn write_postcard<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> io::Result<()> {
    let bytes = postcard::to_stdvec(value).map_err(io::Error::other)?;
    out.write_all(&bytes)
}

/// Where a segment's body is read from, one postcard value after another: a byte slice
/// ([`Projection::apply_segment`]) or a file read a piece at a time (`persist.rs`), so
/// that loading never holds a whole body in memory.
pub trait SegmentSource {
    /// The next value, or an error if the body ends or does not decode.
    fn take<T: DeserializeOwned>(&mut self) -> Result<T>;
    /// Checks that the body has nothing after the last value.
    fn finish(&mut self) -> Result<()>;
}

/// A body held whole in memory.
impl SegmentSource for &[u8] {
    fn take<T: DeserializeOwned>(&mut self) -> Result<T> {
        let (value, rest) = postcard::take_from_bytes(self)
            .map_err(|_| Error::BadSnapshot("a segment does not decode"))?;
        *self = rest;
        Ok(value)
    }

    fn finish(&mut self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::BadSnapshot("a segment has bytes after its lists"))
        }
    }
}

/// Reads the chunks of one list from `source`, handing each chunk to `each`.
fn read_chunks<T: DeserializeOwned>(
    source: &mut impl SegmentSource,
    mut each: impl FnMut(Vec<T>) -> Result<()>,
) -> Result<()> {
    loop {
        let chunk: Vec<T> = source.take()?;
        if chunk.is_empty() {
            return Ok(());
        }
        if chunk.len() > CHUNK {
            return Err(Error::BadSnapshot("a segment's chunk is too long"));
        }
        each(chunk)?;
    }
}

impl Projection {
    /// Starts (or restarts) keeping track of changes, from the current state, so that
    /// [`Projection::take_segment`] can hand them out. Clones keep tracking.
    pub fn track_changes(&mut self) {
        self.changes = Some(Box::new(Changes {
            base_size: self.tree_size,
            signatures_from: self.signatures.len(),
            ..Changes::default()
        }));
    }

    /// Whether changes are tracked.
    pub fn tracks_changes(&self) -> bool {
        self.changes.is_some()
    }

    /// The changes since tracking started or since the last segment was taken, as a
    /// segment, restarting the tracking from here. `None` if changes are not tracked.
    /// Cost: a copy of what changed and of the small state.
    pub fn take_segment(&mut self) -> Option<Segment> {
        let rest = self.changes.is_some().then(|| self.rest())?;
        let changes = self.changes.as_deref_mut()?;
        let from = changes.signatures_from;
        let head = SegmentHead {
            base_size: changes.base_size,
            signatures_from: from as u64,
            retired: std::mem::take(&mut changes.retired),
            erased: std::mem::take(&mut changes.erased),
            rest,
        };
        let dedup = std::mem::take(&mut changes.dedup_added);
        changes.base_size = self.tree_size;
        changes.signatures_from = self.signatures.len();
        let signatures = live_or_retired(&self.signatures, from).collect();
        Some(Segment {
            head,
            dedup,
            signatures,
        })
    }

    /// Splits the decider off: returns a copy of this projection that keeps the dedup
    /// set, for the one thread that decides records, while this one hands the set over
    /// and folds without it (it must then replay only what the decider accepted).
    /// Both track changes from here. Cost: a copy of everything but the set.
    pub fn split_off_decider(&mut self) -> Projection {
        let dedup = self.hand_over_dedup();
        self.decider_with(dedup)
    }

    /// The first half of [`Projection::split_off_decider`], for a projection behind a
    /// lock: hands the set over (at once, under a write lock), so that the copy can be
    /// made under a read lock, with readers going on meanwhile.
    pub fn hand_over_dedup(&mut self) -> HandedOverDedup {
        if self.changes.is_none() {
            self.track_changes();
        }
        HandedOverDedup(self.dedup.hand_over())
    }

    /// The second half of [`Projection::split_off_decider`]: a copy of this projection
    /// with the set it handed over.
    pub fn decider_with(&self, dedup: HandedOverDedup) -> Projection {
        let mut decider = self.clone();
        decider.dedup = dedup.0;
        decider
    }

    /// A decider again after `decider` applied records that were then rolled back: a
    /// copy of this projection (which replayed only what was kept) with `decider`'s
    /// dedup set (taken from it), less the tags it added since the two last agreed.
    /// The flag says whether those tags could be told and taken out: not if the two do
    /// not come from [`Projection::split_off_decider`] with their changes tracked from
    /// one point. Then the set keeps them (the signers rolled back would be refused as
    /// duplicates; no duplicate is ever accepted).
    pub fn rebuild_decider(&self, decider: &mut Projection) -> (Projection, bool) {
        let rolled_back = match (self.changes.as_deref(), decider.changes.as_deref()) {
            (Some(kept), Some(added))
                if added.dedup_added.len() >= kept.dedup_added.len()
                    && added.dedup_added[..kept.dedup_added.len()] == kept.dedup_added[..] =>
            {
                Some(&added.dedup_added[kept.dedup_added.len()..])
            }
            _ => None,
        };
        let pruned = rolled_back.is_some() && !self.dedup.is_kept();
        let mut dedup = decider.dedup.hand_over();
        if pruned {
            for key in rolled_back.unwrap_or_default() {
                dedup.remove(key);
            }
        } else {
            // It may hold tags of records that are not in the log: never write it whole.
            dedup.mark_inexact();
        }
        let mut rebuilt = self.clone();
        rebuilt.dedup = dedup;
        (rebuilt, pruned)
    }

    /// Writes the whole projection as one segment (the first of a chain), straight from
    /// its tables. Cost: one pass over every signature and dedup tag, with one chunk of
    /// buffer. Refused for a projection that handed its dedup set over.
    pub fn write_whole(&self, out: &mut impl Write) -> io::Result<()> {
        if !self.dedup.is_kept() {
            return Err(io::Error::other(
                "this projection handed its dedup set over: write the decider's",
            ));
        }
        if !self.dedup.is_exact() {
            return Err(io::Error::other(
                "the dedup set may hold tags of records that were rolled back",
            ));
        }
        let head = SegmentHead {
            rest: self.rest(),
            ..SegmentHead::default()
        };
        write_body(
            out,
            &head,
            self.dedup.iter(),
            live_or_retired(&self.signatures, 0),
        )
    }

    /// How many dedup tags [`Projection::write_whole`] writes.
    pub fn dedup_count(&self) -> u64 {
        self.dedup.len() as u64
    }

    /// Makes room for `dedup` more dedup tags and signatures up to index `entries`, so
    /// that loading a chain of segments grows its tables once.
    pub fn reserve_for_segments(&mut self, dedup: u64, entries: u64) {
        let entries = usize::try_from(entries).unwrap_or(0);
        self.dedup.reserve(usize::try_from(dedup).unwrap_or(0));
        self.signatures
            .reserve(entries.saturating_sub(self.signatures.len()));
    }

    /// Applies the segment whose body is `body`: it must start where this projection
    /// ends (the first segment of a chain, on an empty projection). On an error the
    /// projection is unusable: the caller starts again from scratch.
    pub fn apply_segment(&mut self, mut body: &[u8]) -> Result<()> {
        self.apply_segment_from(&mut body)
    }

    /// [`Projection::apply_segment`], reading the body from `source`.
    pub fn apply_segment_from(&mut self, source: &mut impl SegmentSource) -> Result<()> {
        let head: SegmentHead = source.take()?;
        if head.base_size != self.tree_size
            || head.signatures_from != self.signatures.len() as u64
            || head.rest.tree_size < head.base_size
        {
            return Err(Error::BadSnapshot(
                "a segment does not follow the one before",
            ));
        }
        check_rest(&head.rest)?;
        fn earlier(signatures: &mut [SignatureRef], index: u64) -> Result<&mut SignatureRef> {
            usize::try_from(index)
                .ok()
                .and_then(|i| signatures.get_mut(i))
                .filter(|sig| sig.petition != NONE)
                .ok_or(Error::BadSnapshot(
                    "changes a signature that does not exist",
                ))
        }
        for &index in &head.retired {
            earlier(&mut self.signatures, index)?.live = false;
        }
        for &index in &head.erased {
            earlier(&mut self.signatures, index)?.erased = true;
        }
        let dedup = &mut self.dedup;
        let petitions = head.rest.petitions.len();
        read_chunks(source, |tags: Vec<DedupKey>| {
            if tags.iter().all(|tag| (tag.0 as usize) < petitions) && dedup.insert_all(&tags) {
                Ok(())
            } else {
                Err(Error::BadSnapshot(
                    "a dedup tag is repeated or of no petition",
                ))
            }
        })?;
        let signatures = &mut self.signatures;
        read_chunks(source, |chunk: Vec<(u64, SignatureRef)>| {
            chunk
                .into_iter()
                .try_for_each(|(index, sig)| push_signature(signatures, &head.rest, index, sig))
        })?;
        source.finish()?;
        self.set_rest(head.rest);
        Ok(())
    }
}

/// The signatures from index `from` on (live or not; entries that are not signatures
/// left out), with their indexes.
fn live_or_retired(
    signatures: &[SignatureRef],
    from: usize,
) -> impl Iterator<Item = (u64, SignatureRef)> + '_ {
    signatures
        .get(from..)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter(|(_, sig)| sig.petition != NONE)
        .map(move |(at, sig)| ((from + at) as u64, *sig))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::state::NOT_A_SIGNATURE;

    /// A segment naming a signature beyond its tree size (a damaged or hostile file
    /// whose hash was made to match) is refused, not followed into a huge allocation.
    #[test]
    fn signatures_beyond_the_tree_size_are_refused() {
        let mut opened = Projection::new();
        for entry in test_support::records::small_log() {
            opened.replay_bytes(&entry).unwrap();
        }
        // Slots that exist, so only the index can be wrong.
        let rest = opened.rest();
        let size = rest.tree_size;
        assert!(!rest.petitions.is_empty());
        let head = SegmentHead {
            rest,
            ..SegmentHead::default()
        };
        let sig = SignatureRef {
            petition: 0,
            channel: 0,
            live: true,
            ..NOT_A_SIGNATURE
        };
        for index in [size, 1 << 40, u64::MAX] {
            let mut body = Vec::new();
            write_body(
                &mut body,
                &head,
                std::iter::empty(),
                [(index, sig)].into_iter(),
            )
            .unwrap();
            let outcome = Projection::new().apply_segment(&body);
            assert!(outcome.is_err(), "{index}: {outcome:?}");
        }
    }
}
