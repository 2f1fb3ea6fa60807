//! The projection: every read model, folded entry by entry from the log.
//!
//! [`Projection::try_apply`] is both the decision rules and the fold: it checks a record
//! completely against the current state and, only if every rule passes, applies it as
//! the next entry. [`Projection::replay`] folds an entry that is already in the log: a
//! record the rules refuse is counted (`log/rejected`) and otherwise ignored, so the
//! state stays a pure function of the log prefix whatever the log holds.
//!
//! Hot-path state lives where it is cheapest to reach: dedup tags in a hash set,
//! signatures in a vector indexed by log index, names behind inline-keyed interners and
//! a memo from a signature's place to its four area slots ([`Places`]). Hash iteration
//! order never reaches any output: snapshots, views and tallies sort.
//!
//! Replays read `signature.added` entries in place ([`read_entry`]) and fold them with
//! the same `add_signature` as `try_apply`. The fold is written to avoid reading back,
//! in wider pieces, data it has just written (failed store forwarding): on the
//! development machine such a load waited for the dedup table's cache-missing write,
//! and that, not the arithmetic, was most of the cost of a signature.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use ledger::entry::SignatureEntry;
use ledger::record::{
    AreaCode, Channel, CountryCode, Date, EventKind, Id, InvalidationReason, LinkKind, LinkStatus,
    PartialDate, PetitionText, Signature, Timestamp, VoteResult,
};
use ledger::{Entry, Record};
use rustc_hash::{FxHashMap, FxHashSet, FxHasher};
use serde::{Deserialize, Serialize};

use crate::rules::Rejection;
use crate::{Error, Result};

/// Marks "none" in the interned slots of a [`SignatureRef`].
const NONE: u32 = u32::MAX;
/// The filler of [`Projection::signatures`] at entries that are not signatures.
const NOT_A_SIGNATURE: SignatureRef = SignatureRef {
    petition: NONE,
    country: NONE,
    constituency: NONE,
    ward: NONE,
    council: NONE,
    channel: NONE,
    live: false,
};
const MS_PER_HOUR: u64 = 3_600_000;
const MS_PER_DAY: u64 = 86_400_000;

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
    fn slot(&mut self, name: &str) -> u32 {
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

    fn find(&self, name: &str) -> Option<u32> {
        match InlineKey::new(name) {
            Some(key) => self.short.get(&key).copied(),
            None => self.long.get(name).copied(),
        }
    }

    fn from_names(names: Vec<String>) -> Interner {
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

/// What the rules and the fold read of a `signature.added` record: borrowed from a
/// decoded [`Signature`] (deciding a new record) or from the entry's bytes (replaying).
pub(crate) struct SignatureFacts<'a> {
    petition_id: &'a str,
    country: CountryCode,
    constituency: Option<AreaCode>,
    ward: Option<AreaCode>,
    council: Option<&'a str>,
    /// `None` online, else the paper batch's id.
    paper_batch: Option<&'a str>,
    dedup_tag: [u8; 16],
    /// [`Places::hash`] of the four codes, computed where the facts are read (in a
    /// bulk replay, on the decoding thread).
    place_hash: u64,
}

impl<'a> SignatureFacts<'a> {
    fn new(
        petition_id: &'a str,
        country: CountryCode,
        constituency: Option<AreaCode>,
        ward: Option<AreaCode>,
        council: Option<&'a str>,
        paper_batch: Option<&'a str>,
        dedup_tag: [u8; 16],
    ) -> SignatureFacts<'a> {
        SignatureFacts {
            petition_id,
            country,
            constituency,
            ward,
            council,
            paper_batch,
            dedup_tag,
            place_hash: Places::hash(&country, &constituency, &ward, council),
        }
    }
}

impl<'a> From<&'a Signature> for SignatureFacts<'a> {
    fn from(s: &'a Signature) -> SignatureFacts<'a> {
        let paper_batch = match &s.channel {
            Channel::Online => None,
            Channel::Paper { batch_id } => Some(batch_id.as_str()),
        };
        SignatureFacts::new(
            s.petition_id.as_str(),
            s.country,
            s.constituency,
            s.ward,
            s.council.as_deref(),
            paper_batch,
            s.dedup_tag,
        )
    }
}

impl<'a> From<&SignatureEntry<'a>> for SignatureFacts<'a> {
    fn from(s: &SignatureEntry<'a>) -> SignatureFacts<'a> {
        SignatureFacts::new(
            s.petition_id,
            s.country,
            s.constituency,
            s.ward,
            s.council,
            s.paper_batch,
            s.dedup_tag,
        )
    }
}

/// An entry as a replay reads it: `signature.added` (nearly every entry of a real log)
/// in place, without allocating, and only what the fold needs of it; anything else
/// fully decoded, boxed so that the common case stays small to hand between threads.
pub(crate) enum ReadEntry<'a> {
    Signature {
        time_ms: u64,
        facts: SignatureFacts<'a>,
    },
    Other(Box<Entry>),
}

/// Reads `bytes` for a replay, as strictly as [`Entry::decode`]: the in-place reader
/// accepts exactly the signature entries `decode` accepts (`ledger/tests/encoding.rs`),
/// and everything else, refused bytes included, goes to `decode`.
pub(crate) fn read_entry(bytes: &[u8]) -> ledger::Result<ReadEntry<'_>> {
    match Entry::decode_signature_added(bytes) {
        Some(signature) => Ok(ReadEntry::Signature {
            time_ms: signature.time_ms,
            facts: SignatureFacts::from(&signature),
        }),
        None => Entry::decode(bytes).map(|entry| ReadEntry::Other(Box::new(entry))),
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
pub(crate) struct Places(FxHashMap<u64, Place>);

#[derive(Clone, Debug)]
struct Place {
    country: CountryCode,
    constituency: Option<AreaCode>,
    ward: Option<AreaCode>,
    /// Country, constituency, ward and council slots; the council's name is in the
    /// council interner.
    slots: [u32; 4],
}

impl Places {
    fn hash(
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

/// What the fold remembers of one signature, to undo it on withdrawal or invalidation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SignatureRef {
    pub petition: u32,
    pub country: u32,
    pub constituency: u32,
    pub ward: u32,
    pub council: u32,
    /// 0 for online, else 1 + the paper batch's slot.
    pub channel: u32,
    pub live: bool,
}

/// Live signature counts by one dimension, indexed by that dimension's slot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counts(pub Vec<u64>);

impl Counts {
    fn add(&mut self, slot: u32, delta: i64) {
        if slot == NONE {
            return;
        }
        let slot = slot as usize;
        if self.0.len() <= slot {
            self.0.resize(slot + 1, 0);
        }
        self.0[slot] = self.0[slot].wrapping_add_signed(delta);
    }

    /// Non-zero counts with their slots.
    pub fn non_zero(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(s, &c)| (s as u32, c))
    }
}

/// When a petition's live total first reached one of its thresholds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThresholdCrossing {
    pub threshold: u64,
    pub index: u64,
    pub time_ms: u64,
}

/// How a petition was closed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closure {
    pub index: u64,
    pub time_ms: u64,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Petition {
    pub id: Id,
    pub title: String,
    pub target: String,
    pub text: PetitionText,
    pub opened_index: u64,
    pub opened_ms: u64,
    pub closes_on: Option<Date>,
    pub thresholds: Vec<u64>,
    pub closed: Option<Closure>,
    pub added: u64,
    pub withdrawn: u64,
    /// Indexed like [`InvalidationReason::ALL`].
    pub invalidated: Vec<u64>,
    pub by_country: Counts,
    pub by_constituency: Counts,
    pub by_ward: Counts,
    pub by_council: Counts,
    /// Slot 0 online, slot `1 + b` paper batch `b`.
    pub by_channel: Counts,
    pub crossed: Vec<ThresholdCrossing>,
    /// Signatures added per hour (hours since the Unix epoch).
    pub hourly: BTreeMap<u64, u64>,
}

impl Petition {
    pub fn total(&self) -> u64 {
        self.added - self.withdrawn - self.invalidated.iter().sum::<u64>()
    }

    fn is_closed_at(&self, time_ms: u64) -> bool {
        let past_date = self
            .closes_on
            .is_some_and(|d| (time_ms / MS_PER_DAY) as i64 > d.days_since_unix_epoch());
        self.closed.is_some() || past_date
    }

    fn count(&mut self, sig: &SignatureRef, delta: i64) {
        self.by_country.add(sig.country, delta);
        self.by_constituency.add(sig.constituency, delta);
        self.by_ward.add(sig.ward, delta);
        self.by_council.add(sig.council, delta);
        self.by_channel.add(sig.channel, delta);
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PaperBatch {
    pub id: Id,
    pub petition: u32,
    pub event_id: Option<Id>,
    pub stall: Option<String>,
    pub collector: Id,
    pub sheet_scan_hash: Option<[u8; 32]>,
    pub declared: u32,
    pub recorded_index: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CityJoined {
    pub city: String,
    pub country: CountryCode,
    pub joined_on: Option<Date>,
    pub index: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Campaign {
    pub id: Id,
    pub title: String,
    pub launched_on: Option<Date>,
    pub target_cities: Option<u32>,
    pub countries: Option<u32>,
    pub cities: Vec<CityJoined>,
}

/// One step in a twin link's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkChange {
    pub status: LinkStatus,
    pub effective_on: Option<Date>,
    pub motion_id: Option<Id>,
    pub index: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TwinLink {
    pub id: Id,
    pub city: String,
    pub country: CountryCode,
    pub partner_city: String,
    pub partner_country: CountryCode,
    pub kind: LinkKind,
    pub since: Option<PartialDate>,
    pub registered_index: u64,
    pub status: LinkStatus,
    pub history: Vec<LinkChange>,
}

/// Where a motion stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MotionStatus {
    Tabled,
    Amended,
    Passed,
    Failed,
    Withdrawn,
}

impl MotionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MotionStatus::Tabled => "tabled",
            MotionStatus::Amended => "amended",
            MotionStatus::Passed => "passed",
            MotionStatus::Failed => "failed",
            MotionStatus::Withdrawn => "withdrawn",
        }
    }

    fn is_open(self) -> bool {
        matches!(self, MotionStatus::Tabled | MotionStatus::Amended)
    }
}

/// The recorded vote on a motion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub votes_for: Option<u32>,
    pub votes_against: Option<u32>,
    pub abstentions: Option<u32>,
    pub result: VoteResult,
    pub voted_on: Option<Date>,
    pub majority: Option<String>,
    pub index: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Motion {
    pub id: Id,
    pub council: String,
    pub link_id: Option<Id>,
    pub proposer: Option<String>,
    pub title: String,
    pub text_hash: Option<[u8; 32]>,
    pub tabled_on: Option<Date>,
    pub source_url: Option<String>,
    pub tabled_index: u64,
    pub status: MotionStatus,
    pub amendments: Vec<u64>,
    pub vote: Option<Vote>,
    pub withdrawn_on: Option<Date>,
}

/// Where an event stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Scheduled,
    Changed,
    Cancelled,
    Held,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Scheduled => "scheduled",
            EventStatus::Changed => "changed",
            EventStatus::Cancelled => "cancelled",
            EventStatus::Held => "held",
        }
    }

    fn is_upcoming(self) -> bool {
        matches!(self, EventStatus::Scheduled | EventStatus::Changed)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Event {
    pub id: Id,
    pub kind: EventKind,
    pub title: String,
    pub city: String,
    pub country: Option<CountryCode>,
    pub place: Option<String>,
    pub starts_at: Timestamp,
    pub ends_at: Option<Timestamp>,
    pub group: Option<String>,
    pub joint_action: Option<Id>,
    pub scheduled_index: u64,
    pub status: EventStatus,
    pub attendance: Option<u32>,
    pub cancel_reason: Option<String>,
}

/// Every read model, as of [`Projection::tree_size`] entries of the log.
#[derive(Clone, Debug, Default)]
pub struct Projection {
    pub(crate) tree_size: u64,
    /// Entries in the log that the rules refuse (an honest log has none), and the first.
    pub(crate) rejected_in_log: u64,
    pub(crate) first_rejected: Option<(u64, String)>,
    pub(crate) countries: Interner,
    pub(crate) constituencies: Interner,
    pub(crate) wards: Interner,
    pub(crate) councils: Interner,
    pub(crate) batch_names: Interner,
    pub(crate) petition_ids: Interner,
    pub(crate) petitions: Vec<Petition>,
    pub(crate) batches: Vec<PaperBatch>,
    pub(crate) campaigns: BTreeMap<String, Campaign>,
    pub(crate) links: BTreeMap<String, TwinLink>,
    pub(crate) motions: BTreeMap<String, Motion>,
    pub(crate) events: BTreeMap<String, Event>,
    pub(crate) places: Places,
    /// (petition slot, dedup tag) of every signature ever added.
    pub(crate) dedup: FxHashSet<(u32, [u8; 16])>,
    /// Indexed by log index; entries that are not signatures hold [`NOT_A_SIGNATURE`].
    /// Dense, because most entries are signatures: appends are sequential writes.
    pub(crate) signatures: Vec<SignatureRef>,
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

    /// Decides `entry` as the next entry (index [`Projection::tree_size`]) and, if every
    /// rule passes, applies it. A refused entry changes nothing.
    pub fn try_apply(&mut self, entry: &Entry) -> Result<(), Rejection> {
        let index = self.tree_size;
        self.fold(index, entry.time_ms(), entry.record())?;
        self.tree_size += 1;
        Ok(())
    }

    /// Folds `entry`, already at index [`Projection::tree_size`] of the log. A record the
    /// rules refuse is counted as rejected and otherwise ignored.
    pub fn replay(&mut self, entry: &Entry) {
        let outcome = self.try_apply(entry);
        self.count_refusal(outcome);
    }

    /// The end of a replay step: a refused entry still takes its index.
    fn count_refusal(&mut self, outcome: Result<(), Rejection>) {
        if let Err(rejection) = outcome {
            self.rejected_in_log += 1;
            self.first_rejected
                .get_or_insert_with(|| (self.tree_size, rejection.reason().to_string()));
            self.tree_size += 1;
        }
    }

    /// [`Projection::replay`] of an entry as [`read_entry`] gives it: a signature read
    /// in place goes through the same rules and fold as a decoded one.
    pub(crate) fn replay_read(&mut self, entry: &ReadEntry<'_>) {
        match entry {
            ReadEntry::Signature { time_ms, facts } => {
                let index = self.tree_size;
                let outcome = self
                    .add_signature(index, *time_ms, facts)
                    .map(|()| self.tree_size += 1);
                self.count_refusal(outcome);
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

    fn petition_slot(&self, id: &Id) -> Result<u32, Rejection> {
        self.petition_ids
            .find(id.as_str())
            .ok_or(Rejection::UnknownPetition)
    }

    fn live_signature(&self, index: u64) -> Result<SignatureRef, Rejection> {
        match usize::try_from(index)
            .ok()
            .and_then(|i| self.signatures.get(i))
        {
            Some(sig) if sig.live => Ok(*sig),
            _ => Err(Rejection::NotALiveSignature { index }),
        }
    }

    /// The decision rules and the fold in one: every check happens before any change.
    fn fold(&mut self, index: u64, time_ms: u64, record: &Record) -> Result<(), Rejection> {
        match record {
            Record::CampaignLaunched {
                campaign_id,
                title,
                launched_on,
                target_cities,
                countries,
            } => {
                if self.campaigns.contains_key(campaign_id.as_str()) {
                    return Err(Rejection::CampaignExists);
                }
                self.campaigns.insert(
                    campaign_id.as_str().to_string(),
                    Campaign {
                        id: campaign_id.clone(),
                        title: title.clone(),
                        launched_on: *launched_on,
                        target_cities: *target_cities,
                        countries: *countries,
                        cities: Vec::new(),
                    },
                );
            }
            Record::CampaignCityJoined {
                campaign_id,
                city,
                country,
                joined_on,
            } => {
                let campaign = self
                    .campaigns
                    .get_mut(campaign_id.as_str())
                    .ok_or(Rejection::UnknownCampaign)?;
                if campaign
                    .cities
                    .iter()
                    .any(|c| c.city == *city && c.country == *country)
                {
                    return Err(Rejection::CityAlreadyJoined);
                }
                campaign.cities.push(CityJoined {
                    city: city.clone(),
                    country: *country,
                    joined_on: *joined_on,
                    index,
                });
            }
            Record::PetitionOpened {
                petition_id,
                title,
                text,
                target,
                closes_on,
                thresholds,
            } => {
                if self.petition_ids.find(petition_id.as_str()).is_some() {
                    return Err(Rejection::PetitionExists);
                }
                self.petition_ids.slot(petition_id.as_str());
                let mut thresholds = thresholds.clone();
                thresholds.sort_unstable();
                thresholds.dedup();
                self.petitions.push(Petition {
                    id: petition_id.clone(),
                    title: title.clone(),
                    target: target.clone(),
                    text: text.clone(),
                    opened_index: index,
                    opened_ms: time_ms,
                    closes_on: *closes_on,
                    thresholds,
                    closed: None,
                    added: 0,
                    withdrawn: 0,
                    invalidated: vec![0; InvalidationReason::ALL.len()],
                    by_country: Counts::default(),
                    by_constituency: Counts::default(),
                    by_ward: Counts::default(),
                    by_council: Counts::default(),
                    by_channel: Counts::default(),
                    crossed: Vec::new(),
                    hourly: BTreeMap::new(),
                });
            }
            Record::PetitionClosed {
                petition_id,
                reason,
            } => {
                let slot = self.petition_slot(petition_id)?;
                let petition = &mut self.petitions[slot as usize];
                if petition.closed.is_some() {
                    return Err(Rejection::PetitionClosed);
                }
                petition.closed = Some(Closure {
                    index,
                    time_ms,
                    reason: reason.clone(),
                });
            }
            Record::SignatureAdded(signature) => {
                self.add_signature(index, time_ms, &signature.into())?
            }
            Record::SignatureWithdrawn { index: signed } => {
                let sig = self.live_signature(*signed)?;
                self.retire(*signed, sig);
                self.petitions[sig.petition as usize].withdrawn += 1;
            }
            Record::SignaturesInvalidated {
                indexes, reason, ..
            } => {
                let mut seen = FxHashSet::default();
                for &signed in indexes {
                    self.live_signature(signed)?;
                    if !seen.insert(signed) {
                        return Err(Rejection::RepeatedIndex { index: signed });
                    }
                }
                let reason_slot = InvalidationReason::ALL
                    .iter()
                    .position(|r| r == reason)
                    .expect("every reason is in ALL");
                for &signed in indexes {
                    let sig = self.signatures[signed as usize];
                    self.retire(signed, sig);
                    self.petitions[sig.petition as usize].invalidated[reason_slot] += 1;
                }
            }
            Record::PaperBatchRecorded {
                batch_id,
                petition_id,
                event_id,
                stall,
                collector,
                sheet_scan_hash,
                count,
            } => {
                let petition = self.petition_slot(petition_id)?;
                if self.batch_names.find(batch_id.as_str()).is_some() {
                    return Err(Rejection::PaperBatchExists);
                }
                if let Some(event_id) = event_id {
                    if !self.events.contains_key(event_id.as_str()) {
                        return Err(Rejection::UnknownEvent);
                    }
                }
                self.batch_names.slot(batch_id.as_str());
                self.batches.push(PaperBatch {
                    id: batch_id.clone(),
                    petition,
                    event_id: event_id.clone(),
                    stall: stall.clone(),
                    collector: collector.clone(),
                    sheet_scan_hash: *sheet_scan_hash,
                    declared: *count,
                    recorded_index: index,
                });
            }
            Record::TwinLinkRegistered {
                link_id,
                city,
                country,
                partner_city,
                partner_country,
                kind,
                since,
            } => {
                if self.links.contains_key(link_id.as_str()) {
                    return Err(Rejection::LinkExists);
                }
                self.links.insert(
                    link_id.as_str().to_string(),
                    TwinLink {
                        id: link_id.clone(),
                        city: city.clone(),
                        country: *country,
                        partner_city: partner_city.clone(),
                        partner_country: *partner_country,
                        kind: *kind,
                        since: *since,
                        registered_index: index,
                        status: LinkStatus::Active,
                        history: Vec::new(),
                    },
                );
            }
            Record::TwinLinkStatusChanged {
                link_id,
                status,
                effective_on,
                motion_id,
            } => {
                if let Some(motion_id) = motion_id {
                    if !self.motions.contains_key(motion_id.as_str()) {
                        return Err(Rejection::UnknownMotion);
                    }
                }
                let link = self
                    .links
                    .get_mut(link_id.as_str())
                    .ok_or(Rejection::UnknownLink)?;
                // A severed link is over; anything else may move to any other status.
                if link.status == *status || link.status == LinkStatus::Severed {
                    return Err(Rejection::InvalidTransition {
                        what: "twin link",
                        from: link.status.as_str(),
                        to: status.as_str(),
                    });
                }
                link.status = *status;
                link.history.push(LinkChange {
                    status: *status,
                    effective_on: *effective_on,
                    motion_id: motion_id.clone(),
                    index,
                });
            }
            Record::MotionTabled {
                motion_id,
                council,
                link_id,
                proposer,
                title,
                text_hash,
                tabled_on,
                source_url,
            } => {
                if self.motions.contains_key(motion_id.as_str()) {
                    return Err(Rejection::MotionExists);
                }
                if let Some(link_id) = link_id {
                    if !self.links.contains_key(link_id.as_str()) {
                        return Err(Rejection::UnknownLink);
                    }
                }
                self.motions.insert(
                    motion_id.as_str().to_string(),
                    Motion {
                        id: motion_id.clone(),
                        council: council.clone(),
                        link_id: link_id.clone(),
                        proposer: proposer.clone(),
                        title: title.clone(),
                        text_hash: *text_hash,
                        tabled_on: *tabled_on,
                        source_url: source_url.clone(),
                        tabled_index: index,
                        status: MotionStatus::Tabled,
                        amendments: Vec::new(),
                        vote: None,
                        withdrawn_on: None,
                    },
                );
            }
            Record::MotionAmended {
                motion_id,
                title,
                text_hash,
                ..
            } => {
                let motion = self.open_motion(motion_id, MotionStatus::Amended)?;
                if let Some(title) = title {
                    motion.title = title.clone();
                }
                if text_hash.is_some() {
                    motion.text_hash = *text_hash;
                }
                motion.status = MotionStatus::Amended;
                motion.amendments.push(index);
            }
            Record::MotionVoted {
                motion_id,
                votes_for,
                votes_against,
                abstentions,
                result,
                voted_on,
                majority,
            } => {
                let to = match result {
                    VoteResult::Passed => MotionStatus::Passed,
                    VoteResult::Failed => MotionStatus::Failed,
                };
                let motion = self.open_motion(motion_id, to)?;
                motion.status = to;
                motion.vote = Some(Vote {
                    votes_for: *votes_for,
                    votes_against: *votes_against,
                    abstentions: *abstentions,
                    result: *result,
                    voted_on: *voted_on,
                    majority: majority.clone(),
                    index,
                });
            }
            Record::MotionWithdrawn {
                motion_id,
                withdrawn_on,
            } => {
                let motion = self.open_motion(motion_id, MotionStatus::Withdrawn)?;
                motion.status = MotionStatus::Withdrawn;
                motion.withdrawn_on = *withdrawn_on;
            }
            Record::EventScheduled {
                event_id,
                kind,
                title,
                city,
                country,
                place,
                starts_at,
                ends_at,
                group,
                joint_action,
            } => {
                if self.events.contains_key(event_id.as_str()) {
                    return Err(Rejection::EventExists);
                }
                self.events.insert(
                    event_id.as_str().to_string(),
                    Event {
                        id: event_id.clone(),
                        kind: *kind,
                        title: title.clone(),
                        city: city.clone(),
                        country: *country,
                        place: place.clone(),
                        starts_at: *starts_at,
                        ends_at: *ends_at,
                        group: group.clone(),
                        joint_action: joint_action.clone(),
                        scheduled_index: index,
                        status: EventStatus::Scheduled,
                        attendance: None,
                        cancel_reason: None,
                    },
                );
            }
            Record::EventChanged {
                event_id,
                title,
                place,
                starts_at,
                ends_at,
            } => {
                let event = self.upcoming_event(event_id, EventStatus::Changed)?;
                if let Some(title) = title {
                    event.title = title.clone();
                }
                if place.is_some() {
                    event.place = place.clone();
                }
                if let Some(starts_at) = starts_at {
                    event.starts_at = *starts_at;
                }
                if ends_at.is_some() {
                    event.ends_at = *ends_at;
                }
                event.status = EventStatus::Changed;
            }
            Record::EventCancelled { event_id, reason } => {
                let event = self.upcoming_event(event_id, EventStatus::Cancelled)?;
                event.status = EventStatus::Cancelled;
                event.cancel_reason = reason.clone();
            }
            Record::EventHeld {
                event_id,
                attendance,
            } => {
                let event = self.upcoming_event(event_id, EventStatus::Held)?;
                event.status = EventStatus::Held;
                event.attendance = *attendance;
            }
        }
        Ok(())
    }

    /// The rules and the fold of `signature.added`, however the entry was read.
    fn add_signature(
        &mut self,
        index: u64,
        time_ms: u64,
        signature: &SignatureFacts<'_>,
    ) -> Result<(), Rejection> {
        let petition = self
            .petition_ids
            .find(signature.petition_id)
            .ok_or(Rejection::UnknownPetition)?;
        if self.petitions[petition as usize].is_closed_at(time_ms) {
            return Err(Rejection::PetitionClosed);
        }
        let channel = match signature.paper_batch {
            None => 0,
            Some(batch_id) => {
                let batch = self
                    .batch_names
                    .find(batch_id)
                    .ok_or(Rejection::UnknownPaperBatch)?;
                if self.batches[batch as usize].petition != petition {
                    return Err(Rejection::PaperBatchOfOtherPetition);
                }
                batch + 1
            }
        };
        // The last rule; from here on nothing can refuse the record.
        if !self.dedup.insert((petition, signature.dedup_tag)) {
            return Err(Rejection::DuplicateSignature);
        }
        let [country, constituency, ward, council] = self.place_slots(signature);
        // Written field by field where it lives: a record assembled on the stack and
        // copied in was read back with wide loads right after its narrow stores, and
        // such a load waits for every earlier store to reach memory (the dedup insert
        // above usually misses the cache), which profiling showed to be costly.
        self.signatures.resize(index as usize + 1, NOT_A_SIGNATURE);
        let sig = &mut self.signatures[index as usize];
        sig.petition = petition;
        sig.country = country;
        sig.constituency = constituency;
        sig.ward = ward;
        sig.council = council;
        sig.channel = channel;
        sig.live = true;
        let p = &mut self.petitions[petition as usize];
        p.added += 1;
        p.count(&self.signatures[index as usize], 1);
        // Signatures mostly arrive in time order: bump the last hour without a search.
        let hour = time_ms / MS_PER_HOUR;
        match p.hourly.last_entry() {
            Some(mut last) if *last.key() == hour => *last.get_mut() += 1,
            _ => *p.hourly.entry(hour).or_insert(0) += 1,
        }
        let total = p.total();
        let crossed = p.crossed.len();
        if let Some(&threshold) = p.thresholds.get(crossed) {
            if total >= threshold {
                p.crossed.push(ThresholdCrossing {
                    threshold,
                    index,
                    time_ms,
                });
            }
        }
        Ok(())
    }

    /// The country, constituency, ward and council slots of a signature's place,
    /// interning names not seen before.
    fn place_slots(&mut self, signature: &SignatureFacts<'_>) -> [u32; 4] {
        let hash = signature.place_hash;
        let known = self.places.0.get(&hash);
        if let Some(place) = known {
            let council = match place.slots[3] {
                NONE => None,
                slot => Some(self.councils.name(slot)),
            };
            if place.country == signature.country
                && place.constituency == signature.constituency
                && place.ward == signature.ward
                && council == signature.council
            {
                return place.slots;
            }
        }
        let area = |interner: &mut Interner, code: &Option<AreaCode>| {
            code.as_ref().map_or(NONE, |c| interner.slot(c.as_str()))
        };
        let slots = [
            self.countries.slot(signature.country.as_str()),
            area(&mut self.constituencies, &signature.constituency),
            area(&mut self.wards, &signature.ward),
            signature.council.map_or(NONE, |c| self.councils.slot(c)),
        ];
        if known.is_none() {
            let place = Place {
                country: signature.country,
                constituency: signature.constituency,
                ward: signature.ward,
                slots,
            };
            self.places.0.insert(hash, place);
        }
        slots
    }

    /// Takes a live signature out of every count.
    fn retire(&mut self, index: u64, sig: SignatureRef) {
        self.signatures[index as usize].live = false;
        self.petitions[sig.petition as usize].count(&sig, -1);
    }

    fn open_motion(&mut self, id: &Id, to: MotionStatus) -> Result<&mut Motion, Rejection> {
        let motion = self
            .motions
            .get_mut(id.as_str())
            .ok_or(Rejection::UnknownMotion)?;
        if !motion.status.is_open() {
            return Err(Rejection::InvalidTransition {
                what: "motion",
                from: motion.status.as_str(),
                to: to.as_str(),
            });
        }
        Ok(motion)
    }

    fn upcoming_event(&mut self, id: &Id, to: EventStatus) -> Result<&mut Event, Rejection> {
        let event = self
            .events
            .get_mut(id.as_str())
            .ok_or(Rejection::UnknownEvent)?;
        if !event.status.is_upcoming() {
            return Err(Rejection::InvalidTransition {
                what: "event",
                from: event.status.as_str(),
                to: to.as_str(),
            });
        }
        Ok(event)
    }
}

/// The snapshot form: everything sorted, so equal projections give equal bytes.
#[derive(Serialize, Deserialize)]
struct SnapshotV1 {
    tree_size: u64,
    rejected_in_log: u64,
    first_rejected: Option<(u64, String)>,
    countries: Vec<String>,
    constituencies: Vec<String>,
    wards: Vec<String>,
    councils: Vec<String>,
    batch_names: Vec<String>,
    petition_ids: Vec<String>,
    petitions: Vec<Petition>,
    batches: Vec<PaperBatch>,
    campaigns: Vec<Campaign>,
    links: Vec<TwinLink>,
    motions: Vec<Motion>,
    events: Vec<Event>,
    dedup: Vec<(u32, [u8; 16])>,
    signatures: Vec<(u64, SignatureRef)>,
}

/// Every slot a snapshot refers to must exist, so that a damaged snapshot that still
/// decodes is refused (a cache miss) instead of panicking later on a bad index.
fn check_slots(s: &SnapshotV1) -> Result<()> {
    let within = |slot: u32, len: usize| slot == NONE || (slot as usize) < len;
    let petitions = s.petitions.len();
    let counts_fit = s.petitions.iter().all(|p| {
        p.by_country.0.len() <= s.countries.len()
            && p.by_constituency.0.len() <= s.constituencies.len()
            && p.by_ward.0.len() <= s.wards.len()
            && p.by_council.0.len() <= s.councils.len()
            && p.by_channel.0.len() <= s.batches.len() + 1
            && p.invalidated.len() == InvalidationReason::ALL.len()
    });
    let signatures_fit = s.signatures.iter().all(|(_, sig)| {
        (sig.petition as usize) < petitions
            && within(sig.country, s.countries.len())
            && within(sig.constituency, s.constituencies.len())
            && within(sig.ward, s.wards.len())
            && within(sig.council, s.councils.len())
            && (sig.channel as usize) <= s.batches.len()
    });
    let batches_fit = s.batches.len() == s.batch_names.len()
        && s.batches.iter().all(|b| (b.petition as usize) < petitions);
    if petitions != s.petition_ids.len() || !counts_fit || !signatures_fit || !batches_fit {
        return Err(Error::BadSnapshot("refers to slots that do not exist"));
    }
    Ok(())
}

/// First byte of a snapshot: its layout version.
const SNAPSHOT_V1: u8 = 1;

impl Projection {
    /// The projection's whole state as bytes. Two projections of the same log prefix
    /// give identical bytes, however each was built. Cost: sorts every signature.
    pub fn to_snapshot(&self) -> Vec<u8> {
        let mut dedup: Vec<(u32, [u8; 16])> = self.dedup.iter().copied().collect();
        dedup.sort_unstable();
        let signatures: Vec<(u64, SignatureRef)> = self
            .signatures
            .iter()
            .enumerate()
            .filter(|(_, s)| s.petition != NONE)
            .map(|(i, &s)| (i as u64, s))
            .collect();
        let snapshot = SnapshotV1 {
            tree_size: self.tree_size,
            rejected_in_log: self.rejected_in_log,
            first_rejected: self.first_rejected.clone(),
            countries: self.countries.names.clone(),
            constituencies: self.constituencies.names.clone(),
            wards: self.wards.names.clone(),
            councils: self.councils.names.clone(),
            batch_names: self.batch_names.names.clone(),
            petition_ids: self.petition_ids.names.clone(),
            petitions: self.petitions.clone(),
            batches: self.batches.clone(),
            campaigns: self.campaigns.values().cloned().collect(),
            links: self.links.values().cloned().collect(),
            motions: self.motions.values().cloned().collect(),
            events: self.events.values().cloned().collect(),
            dedup,
            signatures,
        };
        let mut bytes = vec![SNAPSHOT_V1];
        bytes.extend(postcard::to_allocvec(&snapshot).expect("in-memory state always encodes"));
        bytes
    }

    /// The projection a [`Projection::to_snapshot`] was taken of.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Projection> {
        let Some((&SNAPSHOT_V1, body)) = bytes.split_first() else {
            return Err(Error::BadSnapshot("unknown snapshot version"));
        };
        let s: SnapshotV1 =
            postcard::from_bytes(body).map_err(|_| Error::BadSnapshot("does not decode"))?;
        check_slots(&s)?;
        Ok(Projection {
            tree_size: s.tree_size,
            rejected_in_log: s.rejected_in_log,
            first_rejected: s.first_rejected,
            countries: Interner::from_names(s.countries),
            constituencies: Interner::from_names(s.constituencies),
            wards: Interner::from_names(s.wards),
            councils: Interner::from_names(s.councils),
            batch_names: Interner::from_names(s.batch_names),
            petition_ids: Interner::from_names(s.petition_ids),
            petitions: s.petitions,
            batches: s.batches,
            campaigns: s
                .campaigns
                .into_iter()
                .map(|c| (c.id.as_str().to_string(), c))
                .collect(),
            links: s
                .links
                .into_iter()
                .map(|l| (l.id.as_str().to_string(), l))
                .collect(),
            motions: s
                .motions
                .into_iter()
                .map(|m| (m.id.as_str().to_string(), m))
                .collect(),
            events: s
                .events
                .into_iter()
                .map(|e| (e.id.as_str().to_string(), e))
                .collect(),
            places: Places::default(),
            dedup: s.dedup.into_iter().collect(),
            signatures: {
                let mut dense = Vec::new();
                for (index, sig) in s.signatures {
                    let index = usize::try_from(index)
                        .map_err(|_| Error::BadSnapshot("index too large"))?;
                    if index < dense.len() || sig.petition == NONE {
                        return Err(Error::BadSnapshot("signatures out of order"));
                    }
                    dense.resize(index, NOT_A_SIGNATURE);
                    dense.push(sig);
                }
                dense
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::record::PetitionText;

    fn signature(tag: u8, constituency: &str, council: &str) -> Signature {
        Signature {
            petition_id: Id::parse("p").unwrap(),
            country: CountryCode::parse("GB").unwrap(),
            constituency: Some(AreaCode::parse(constituency).unwrap()),
            ward: None,
            council: Some(council.to_string()),
            channel: Channel::Online,
            consent_to_share: false,
            dedup_tag: [tag; 16],
            commitment: [0; 32],
        }
    }

    /// The place memo only saves lookups. A place whose hash is taken by another
    /// (forced here: 64-bit collisions do not happen by chance in a test) is interned
    /// the usual way, and neither place's slots are confused.
    #[test]
    fn place_memo_collisions_fall_back_to_the_interners() {
        let opened = Record::PetitionOpened {
            petition_id: Id::parse("p").unwrap(),
            title: "P".into(),
            text: PetitionText::Hash([0; 32]),
            target: "T".into(),
            closes_on: None,
            thresholds: vec![],
        };
        // Each later signature differs from the first only in its constituency or
        // only in its council, and its place hash is made to lead to the first's.
        let first = signature(1, "E14000001", "Leeds");
        let others = [
            signature(2, "E14000002", "Leeds"),
            signature(3, "E14000001", "Newcastle upon Tyne"),
        ];
        let at = |i: u64, record: Record| Entry::v1(1_700_000_000_000 + i, "tok", record);
        let mut plain = Projection::new();
        let mut colliding = Projection::new();
        for (i, record) in [opened, Record::SignatureAdded(first)]
            .into_iter()
            .enumerate()
        {
            plain.try_apply(&at(i as u64, record.clone())).unwrap();
            colliding.try_apply(&at(i as u64, record)).unwrap();
        }
        let first_place = colliding.places.0.values().next().unwrap().clone();
        for (i, other) in others.into_iter().enumerate() {
            let hash = SignatureFacts::from(&other).place_hash;
            colliding.places.0.insert(hash, first_place.clone());
            let entry = at(2 + i as u64, Record::SignatureAdded(other));
            plain.try_apply(&entry).unwrap();
            colliding.try_apply(&entry).unwrap();
        }
        assert_eq!(plain.to_snapshot(), colliding.to_snapshot());
        let slots = |i: usize| {
            let s = colliding.signatures[i];
            [s.country, s.constituency, s.ward, s.council]
        };
        assert_eq!(slots(1), [0, 0, NONE, 0]);
        assert_eq!(slots(2), [0, 1, NONE, 0]);
        assert_eq!(slots(3), [0, 0, NONE, 1]);
        // The memo kept the first place under every hash: nothing was overwritten.
        assert_eq!(colliding.places.0.len(), 3);
        assert!(colliding.places.0.values().all(|p| p.slots == slots(1)));
    }

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
