//! What the fold keeps: the records that created each read model, what later records
//! made of them, and the signature counts.
//!
//! A read model holds the record that created it ([`Logged`]: the record, its index and
//! time) rather than a copy of its fields, so a new field of a record kind reaches the
//! views without touching this crate. Views serialize this state as it is (see
//! `views.rs`); only what refers to interned slots is resolved there.

use std::collections::BTreeMap;

use ledger::named_enum;
use ledger::record::{
    CampaignCityJoined, CampaignLaunched, ErasureReason, EventCancelled, EventHeld, EventScheduled,
    InvalidationReason, LinkStatus, MotionTabled, MotionVoted, MotionWithdrawn, PaperBatchRecorded,
    PetitionClosed, PetitionOpened, TwinLinkRegistered, TwinLinkStatusChanged,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Marks "none" in the interned slots of a [`SignatureRef`].
pub(crate) const NONE: u32 = u32::MAX;
pub(crate) const MS_PER_HOUR: u64 = 3_600_000;
pub(crate) const MS_PER_DAY: u64 = 86_400_000;

/// A record where the log holds it: its index, the time it was appended, the record.
///
/// In JSON (the views) it reads as the record's own fields beside `index` and
/// `time_ms` (so it is only used for kinds without fields of those names); in binary
/// formats (snapshots) it is the tuple `(index, time_ms, record)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged<R> {
    pub index: u64,
    pub time_ms: u64,
    pub record: R,
}

/// [`Logged`] in JSON: the record's fields beside `index` and `time_ms`.
#[derive(Serialize, Deserialize)]
struct FlatLogged<R> {
    index: u64,
    time_ms: u64,
    #[serde(flatten)]
    record: R,
}

impl<R: Serialize> Serialize for Logged<R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            FlatLogged {
                index: self.index,
                time_ms: self.time_ms,
                record: &self.record,
            }
            .serialize(s)
        } else {
            (self.index, self.time_ms, &self.record).serialize(s)
        }
    }
}

impl<'de, R: Deserialize<'de>> Deserialize<'de> for Logged<R> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (index, time_ms, record) = if d.is_human_readable() {
            let flat = FlatLogged::deserialize(d)?;
            (flat.index, flat.time_ms, flat.record)
        } else {
            <(u64, u64, R)>::deserialize(d)?
        };
        Ok(Logged {
            index,
            time_ms,
            record,
        })
    }
}

/// What the fold remembers of one signature, to undo it on withdrawal or invalidation
/// and to tell which petition and council it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SignatureRef {
    pub petition: u32,
    pub country: u32,
    pub constituency: u32,
    pub ward: u32,
    pub council: u32,
    /// 0 for online, else 1 + the paper batch's slot.
    pub channel: u32,
    /// The first 16 bytes of the `signer_hash` of a `signature.committed`; zeros for
    /// the kinds without one (a real hash is never zeros in practice). Enough to check
    /// a signer's secret: finding another secret with the same 128 bits is as hard as
    /// forging a dedup tag, and the fold keeps 16 bytes instead of 32 per signature.
    pub signer: [u8; 16],
    pub live: bool,
    /// The vault no longer holds its personal data (`personal_data.erased`).
    pub erased: bool,
}

/// The filler of `Projection::signatures` at entries that are not signatures.
pub(crate) const NOT_A_SIGNATURE: SignatureRef = SignatureRef {
    petition: NONE,
    country: NONE,
    constituency: NONE,
    ward: NONE,
    council: NONE,
    channel: NONE,
    signer: [0; 16],
    live: false,
    erased: false,
};

/// Live signature counts by one dimension, indexed by that dimension's slot.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Counts(pub Vec<u64>);

impl Counts {
    pub fn add(&mut self, slot: u32, delta: i64) {
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

/// A petition: the record that opened it, how it closed, and its counts. The counts are
/// indexed by interned slots, which the view resolves to names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Petition {
    pub opened: Logged<PetitionOpened>,
    pub closed: Option<Logged<PetitionClosed>>,
    pub added: u64,
    /// Withdrawals of either kind: entered by an organiser, or proven by the signer.
    pub withdrawn: u64,
    /// Of those, `signature.withdrawn_by_signer`.
    pub withdrawn_by_signer: u64,
    /// Indexed like [`InvalidationReason::ALL`].
    pub invalidated: Vec<u64>,
    /// Signatures whose personal data was erased, indexed like [`ErasureReason::ALL`];
    /// [`Petition::erased_by_signer`] of them with the signer's secret.
    pub erased: Vec<u64>,
    pub erased_by_signer: u64,
    pub by_country: Counts,
    pub by_constituency: Counts,
    pub by_ward: Counts,
    pub by_council: Counts,
    /// Slot 0 online, slot `1 + b` paper batch `b`.
    pub by_channel: Counts,
    pub crossed: Vec<ThresholdCrossing>,
    /// Signatures added per hour (hours since the Unix epoch).
    pub hourly: BTreeMap<u64, u64>,
    /// For each signature of this petition that was withdrawn or invalidated: the log
    /// index of the entry that retired it, and the signature's, in log order. What an
    /// export lists to show why a signature of its area no longer counts, found
    /// without reading the log.
    pub retirements: Vec<(u64, u64)>,
    /// `export.issued` records of this petition, and the signers they revealed.
    pub exports: u64,
    pub revealed: u64,
}

impl Petition {
    pub fn new(opened: Logged<PetitionOpened>) -> Petition {
        Petition {
            opened,
            closed: None,
            added: 0,
            withdrawn: 0,
            withdrawn_by_signer: 0,
            invalidated: vec![0; InvalidationReason::ALL.len()],
            erased: vec![0; ErasureReason::ALL.len()],
            erased_by_signer: 0,
            by_country: Counts::default(),
            by_constituency: Counts::default(),
            by_ward: Counts::default(),
            by_council: Counts::default(),
            by_channel: Counts::default(),
            crossed: Vec::new(),
            hourly: BTreeMap::new(),
            retirements: Vec::new(),
            exports: 0,
            revealed: 0,
        }
    }

    /// Live signatures: added, less withdrawn and invalidated.
    pub fn total(&self) -> u64 {
        self.added - self.withdrawn - self.invalidated.iter().sum::<u64>()
    }

    /// Closed by a record, or past its closing date at `time_ms`.
    pub fn is_closed_at(&self, time_ms: u64) -> bool {
        let past_date = self
            .opened
            .record
            .closes_on
            .is_some_and(|d| (time_ms / MS_PER_DAY) as i64 > d.days_since_unix_epoch());
        self.closed.is_some() || past_date
    }

    /// When it closed: the time of its `petition.closed` entry, or the end (UTC) of its
    /// `closes_on` date, whichever came first; `None` while neither has happened or
    /// been set.
    pub fn closed_at_ms(&self) -> Option<u64> {
        let by_record = self.closed.as_ref().map(|closed| closed.time_ms);
        let by_date = self.opened.record.closes_on.map(|date| {
            let next_day = date.days_since_unix_epoch().saturating_add(1).max(0) as u64;
            next_day.saturating_mul(MS_PER_DAY)
        });
        match (by_record, by_date) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Signatures whose personal data has not been erased, withdrawn and invalidated
    /// ones included.
    pub fn unerased(&self) -> u64 {
        self.added - self.erased.iter().sum::<u64>()
    }

    /// Notes that the entry at `index` retired the signature at `signature`.
    pub fn retired_by(&mut self, index: u64, signature: u64) {
        self.retirements.push((index, signature));
    }

    pub fn count(&mut self, sig: &SignatureRef, delta: i64) {
        self.by_country.add(sig.country, delta);
        self.by_constituency.add(sig.constituency, delta);
        self.by_ward.add(sig.ward, delta);
        self.by_council.add(sig.council, delta);
        self.by_channel.add(sig.channel, delta);
    }
}

/// A paper batch as recorded, the slot of its petition, and how many of the
/// signatures on its sheets have been entered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PaperBatch {
    pub recorded: Logged<PaperBatchRecorded>,
    pub petition: u32,
    /// Signatures ever added from this batch, withdrawn and invalidated ones included:
    /// never more than the batch's declared `count`.
    pub entered: u32,
}

impl PaperBatch {
    /// Whether every signature the batch declared has been entered.
    pub fn is_full(&self) -> bool {
        self.entered >= self.recorded.record.count.get()
    }
}

/// A campaign and the cities that joined it, in log order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub launched: Logged<CampaignLaunched>,
    pub cities: Vec<Logged<CampaignCityJoined>>,
}

/// A twin link: as registered, its current status and every change of status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwinLink {
    pub registered: Logged<TwinLinkRegistered>,
    pub status: LinkStatus,
    pub history: Vec<Logged<TwinLinkStatusChanged>>,
}

named_enum! {
    /// Where a motion stands.
    MotionStatus, "motion status" {
        Tabled = "tabled",
        Amended = "amended",
        Passed = "passed",
        Failed = "failed",
        Withdrawn = "withdrawn",
    }
}

/// A council motion: as tabled with every amendment applied (its title and text hash
/// are the current ones), where it stands, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Motion {
    pub tabled: Logged<MotionTabled>,
    pub status: MotionStatus,
    /// Log indexes of the `motion.amended` entries.
    pub amendments: Vec<u64>,
    pub vote: Option<Logged<MotionVoted>>,
    pub withdrawn: Option<Logged<MotionWithdrawn>>,
}

named_enum! {
    /// Where an event stands.
    EventStatus, "event status" {
        Scheduled = "scheduled",
        Changed = "changed",
        Cancelled = "cancelled",
        Held = "held",
    }
}

/// An event: as scheduled with every change applied (title, place and times are the
/// current ones), where it stands, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub scheduled: Logged<EventScheduled>,
    pub status: EventStatus,
    /// Log indexes of the `event.changed` entries.
    pub changes: Vec<u64>,
    pub held: Option<Logged<EventHeld>>,
    pub cancelled: Option<Logged<EventCancelled>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::record::{EventHeld, Id};

    #[test]
    fn logged_records_read_flat_in_json_and_as_tuples_in_binary() {
        let logged = Logged {
            index: 7,
            time_ms: 1_000,
            record: EventHeld {
                event_id: Id::parse("e").unwrap(),
                attendance: Some(40),
            },
        };
        let json = serde_json::to_value(&logged).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"index": 7, "time_ms": 1000, "event_id": "e", "attendance": 40})
        );
        assert_eq!(
            serde_json::from_value::<Logged<EventHeld>>(json).unwrap(),
            logged
        );
        let bytes = postcard::to_allocvec(&logged).unwrap();
        let tuple = (7u64, 1000u64, &logged.record);
        assert_eq!(bytes, postcard::to_allocvec(&tuple).unwrap());
        assert_eq!(
            postcard::from_bytes::<Logged<EventHeld>>(&bytes).unwrap(),
            logged
        );
    }
}
