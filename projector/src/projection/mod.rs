//! The projection: every read model, folded entry by entry from the log.
//!
//! [`Projection::try_apply`] is both the decision rules and the fold: it checks a record
//! completely against the current state and, only if every rule passes, applies it as
//! the next entry. [`Projection::replay`] folds an entry that is already in the log: a
//! record the rules refuse is counted (`log/rejected`) and otherwise ignored, so the
//! state stays a pure function of the log prefix whatever the log holds.
//!
//! One concern per file: `state.rs` (what is kept), `fold.rs` (the rules and the fold,
//! one arm per record kind), `scope.rs` (which petitions and cities a record concerns,
//! one arm per record kind), `interning.rs` (names as slots), `snapshot.rs` (the state
//! as bytes).
//!
//! Hot-path state lives where it is cheapest to reach: dedup tags in a hash set,
//! signatures in a vector indexed by log index, names behind inline-keyed interners and
//! a memo from a signature's place to its four area slots. Hash iteration order never
//! reaches any output: snapshots, views and tallies sort.

mod dedup;
mod fold;
mod interning;
mod scope;
mod segment;
mod snapshot;
pub(crate) mod state;

use std::collections::BTreeMap;

use ledger::record::Id;
use ledger::{DedupTag, Entry};

pub(crate) use fold::{read_entry, ReadEntry};
pub(crate) use interning::Interner;
use interning::Places;
pub use scope::{same_city, Concerns};
pub use segment::{HandedOverDedup, Segment, SegmentSource};
use state::{Campaign, Event, Motion, PaperBatch, Petition, SignatureRef, TwinLink};

use crate::rules::Rejection;
use crate::{Error, Result};

/// Every read model, as of [`Projection::tree_size`] entries of the log.
#[derive(Clone, Debug, Default)]
pub struct Projection {
    pub(crate) tree_size: u64,
    /// The latest `time_ms` of the entries so far (in a replay, refused ones included:
    /// they are in the log too). No entry may be earlier.
    pub(crate) latest_time_ms: u64,
    /// Entries in the log that the rules refuse (an honest log has none), and the first.
    pub(crate) rejected_in_log: u64,
    pub(crate) first_rejected: Option<(u64, String)>,
    pub(crate) countries: Interner,
    pub(crate) constituencies: Interner,
    pub(crate) wards: Interner,
    pub(crate) councils: Interner,
    pub(crate) batch_names: Interner,
    pub(crate) petition_ids: Interner,
    /// Indexed by petition slot (`petition_ids`).
    pub(crate) petitions: Vec<Petition>,
    /// Indexed by batch slot (`batch_names`).
    pub(crate) batches: Vec<PaperBatch>,
    pub(crate) campaigns: BTreeMap<Id, Campaign>,
    pub(crate) links: BTreeMap<Id, TwinLink>,
    pub(crate) motions: BTreeMap<Id, Motion>,
    pub(crate) events: BTreeMap<Id, Event>,
    pub(crate) places: Places,
    /// (petition slot, dedup tag) of every signature ever added.
    pub(crate) dedup: dedup::DedupSet,
    /// Indexed by log index; entries that are not signatures hold
    /// [`state::NOT_A_SIGNATURE`]. Dense, because most entries are signatures: appends
    /// are sequential writes.
    pub(crate) signatures: Vec<SignatureRef>,
    /// What changed since the last snapshot segment, when tracked (`segment.rs`).
    pub(crate) changes: Option<Box<segment::Changes>>,
}

impl Projection {
    /// The projection of the empty log.
    pub fn new() -> Projection {
        Projection::default()
    }

    /// How many log entries this projection reflects.
    pub fn tree_size(&self) -> u64 {
        self.tree_size
    }

    /// Entries of the log the rules refused while replaying, and the first of them
    /// (index and reason). An honest log has none.
    pub fn rejected_in_log(&self) -> (u64, Option<(u64, &str)>) {
        (
            self.rejected_in_log,
            self.first_rejected.as_ref().map(|(i, r)| (*i, r.as_str())),
        )
    }

    /// Whether any signature was ever added (whatever became of it since).
    pub fn has_signatures(&self) -> bool {
        self.petitions.iter().any(|p| p.added > 0)
    }

    /// Whether the signer identity with dedup tag `tag` has signed petition
    /// `petition_id` (whatever became of the signature since). Only the deciding
    /// projection knows (the one that kept the dedup set); any other answers `false`.
    pub fn has_signed(&self, petition_id: &str, tag: &DedupTag) -> bool {
        self.petition_ids
            .find(petition_id)
            .is_some_and(|petition| self.dedup.contains(&(petition, *tag)))
    }

    /// The latest entry time so far: the earliest time the next entry may have, and
    /// what the sequencer stamps when the clock reads earlier.
    pub fn latest_time_ms(&self) -> u64 {
        self.latest_time_ms
    }

    /// Decides `entry` as the next entry (index [`Projection::tree_size`]) and, if every
    /// rule passes, applies it. A refused entry changes nothing.
    pub fn try_apply(&mut self, entry: &Entry) -> Result<(), Rejection> {
        let time_ms = entry.time_ms();
        self.apply_at(time_ms, |p, index| p.fold(index, time_ms, entry.record()))
    }

    /// The rule every entry meets whatever its record (its time is not earlier than any
    /// entry's before it), then `fold` of the record at the next index; if both pass,
    /// the entry takes that index.
    fn apply_at(
        &mut self,
        time_ms: u64,
        fold: impl FnOnce(&mut Projection, u64) -> Result<(), Rejection>,
    ) -> Result<(), Rejection> {
        if time_ms < self.latest_time_ms {
            return Err(Rejection::TimeGoesBackwards);
        }
        fold(self, self.tree_size)?;
        self.tree_size += 1;
        self.latest_time_ms = time_ms;
        Ok(())
    }

    /// Folds `entry`, already at index [`Projection::tree_size`] of the log. A record the
    /// rules refuse is counted as rejected and otherwise ignored.
    pub fn replay(&mut self, entry: &Entry) {
        let outcome = self.try_apply(entry);
        self.count_refusal(entry.time_ms(), outcome);
    }

    /// The end of a replay step: a refused entry still takes its index, and its time
    /// still bounds the times of the entries after it.
    fn count_refusal(&mut self, time_ms: u64, outcome: Result<(), Rejection>) {
        if let Err(rejection) = outcome {
            self.rejected_in_log += 1;
            self.first_rejected
                .get_or_insert_with(|| (self.tree_size, rejection.reason().to_string()));
            self.tree_size += 1;
            self.latest_time_ms = self.latest_time_ms.max(time_ms);
        }
    }

    /// [`Projection::replay`] of an entry as [`read_entry`] gives it: a signature read
    /// in place goes through the same rules and fold as a decoded one.
    pub(crate) fn replay_read(&mut self, entry: &ReadEntry<'_>) {
        match entry {
            ReadEntry::Signature { time_ms, facts } => {
                let time_ms = *time_ms;
                let outcome =
                    self.apply_at(time_ms, |p, index| p.add_signature(index, time_ms, facts));
                self.count_refusal(time_ms, outcome);
            }
            ReadEntry::Other(entry) => self.replay(entry),
        }
    }

    /// Decodes `bytes` strictly and [`Projection::replay`]s it. An entry that does not
    /// decode changes nothing and is an error naming its index.
    pub fn replay_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let entry = read_entry(bytes).map_err(|source| Error::BadEntry {
            index: self.tree_size,
            source,
        })?;
        self.replay_read(&entry);
        Ok(())
    }

    /// [`Projection::replay_bytes`] for many entries, decoding them on a second thread
    /// while this one folds. Stops at the first entry that does not decode (the error
    /// names it), having folded every entry before it. For bulk replays: restarts,
    /// audits, tallies of past sizes.
    pub fn replay_many<E: AsRef<[u8]> + Sync>(&mut self, entries: &[E]) -> Result<()> {
        self.reserve(entries.len());
        crate::pipeline::pipeline(entries, read_entry, |position, read| match read {
            Ok(entry) => {
                self.replay_read(entry);
                Ok(())
            }
            // The error stays in the shared chunk; decoding again gives it to us owned.
            Err(_) => Err(Error::BadEntry {
                index: self.tree_size,
                source: Entry::decode(entries[position].as_ref())
                    .expect_err("an entry that failed to decode fails again"),
            }),
        })
    }

    /// Makes room for `entries` more entries (most of them signatures), so a bulk
    /// replay grows its big tables once instead of doubling them again and again.
    pub(crate) fn reserve(&mut self, entries: usize) {
        let wanted = self.tree_size as usize + entries;
        self.signatures
            .reserve(wanted.saturating_sub(self.signatures.len()));
        self.dedup.reserve(wanted.saturating_sub(self.dedup.len()));
    }
}
