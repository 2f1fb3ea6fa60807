//! The decision rules and the fold: one arm per record kind, every check before any
//! change, so a refused record leaves no trace.
//!
//! Both signature kinds, `signature.added` (one dedup tag) and `signature.recorded`
//! (a tag per identity of the signer), become one [`SignatureFacts`] and are folded by
//! the one [`Projection::add_signature`]; from there on a signature is a
//! [`SignatureRef`] whatever its kind. Replays read signature entries in place
//! ([`read_entry`]) and fold them with the same [`Projection::add_signature`] as
//! [`Projection::try_apply`]. The fold is
//! written to avoid reading back, in wider pieces, data it has just written (failed
//! store forwarding): on the development machine such a load waited for the dedup
//! table's cache-missing write, and that, not the arithmetic, was most of the cost of a
//! signature.

use std::collections::btree_map::{self, VacantEntry};
use std::collections::BTreeMap;

use ledger::entry::SignatureEntry;
use ledger::record::{
    AreaCode, CountryCode, DedupTags, ErasureReason, Id, InvalidationReason, LinkStatus, Record,
    Signature, SignatureCommitted, SignatureRecorded, VoteResult,
};
use ledger::{Entry, Hash, SignerSecret};

use super::interning::{Interner, Place, Places};
use super::state::{
    Campaign, Event, EventStatus, Logged, Motion, MotionStatus, PaperBatch, Petition, SignatureRef,
    ThresholdCrossing, TwinLink, MS_PER_HOUR, NONE, NOT_A_SIGNATURE,
};
use super::Projection;
use crate::rules::Rejection;

/// What the rules and the fold read of a signature, of either kind: borrowed from a
/// decoded [`Signature`] or [`SignatureRecorded`] (deciding a new record) or from the
/// entry's bytes (replaying).
pub(crate) struct SignatureFacts<'a> {
    petition_id: &'a str,
    country: CountryCode,
    constituency: Option<AreaCode>,
    ward: Option<AreaCode>,
    council: Option<&'a str>,
    /// `None` online, else the paper batch's id.
    paper_batch: Option<&'a str>,
    /// One per identity of the signer (one for `signature.added`).
    dedup_tags: DedupTags,
    /// `signature.committed` only.
    signer_hash: Option<Hash>,
    /// [`Places::hash`] of the four codes, computed where the facts are read (in a
    /// bulk replay, on the decoding thread).
    place_hash: u64,
}

/// Where a signature's signer is: country, constituency, ward, council.
type PlaceFacts<'a> = (
    CountryCode,
    Option<AreaCode>,
    Option<AreaCode>,
    Option<&'a str>,
);

impl<'a> SignatureFacts<'a> {
    fn new(
        petition_id: &'a str,
        (country, constituency, ward, council): PlaceFacts<'a>,
        paper_batch: Option<&'a str>,
        dedup_tags: DedupTags,
        signer_hash: Option<Hash>,
    ) -> SignatureFacts<'a> {
        SignatureFacts {
            petition_id,
            country,
            constituency,
            ward,
            council,
            paper_batch,
            dedup_tags,
            signer_hash,
            place_hash: Places::hash(&country, &constituency, &ward, council),
        }
    }
}

/// The facts of a decoded signature record `s` of any kind, with its dedup tags and
/// signer hash (the fields in which the kinds differ).
macro_rules! facts_of_record {
    ($s:expr, $dedup_tags:expr, $signer_hash:expr) => {
        SignatureFacts::new(
            $s.petition_id.as_str(),
            ($s.country, $s.constituency, $s.ward, $s.council.as_deref()),
            $s.channel.paper_batch().map(Id::as_str),
            $dedup_tags,
            $signer_hash,
        )
    };
}

impl<'a> From<&'a Signature> for SignatureFacts<'a> {
    fn from(s: &'a Signature) -> SignatureFacts<'a> {
        facts_of_record!(s, DedupTags::one(s.dedup_tag), None)
    }
}

impl<'a> From<&'a SignatureRecorded> for SignatureFacts<'a> {
    fn from(s: &'a SignatureRecorded) -> SignatureFacts<'a> {
        facts_of_record!(s, s.dedup_tags, None)
    }
}

impl<'a> From<&'a SignatureCommitted> for SignatureFacts<'a> {
    fn from(s: &'a SignatureCommitted) -> SignatureFacts<'a> {
        facts_of_record!(s, s.dedup_tags, Some(s.signer_hash))
    }
}

impl<'a> From<&SignatureEntry<'a>> for SignatureFacts<'a> {
    fn from(s: &SignatureEntry<'a>) -> SignatureFacts<'a> {
        SignatureFacts::new(
            s.petition_id,
            (s.country, s.constituency, s.ward, s.council),
            s.paper_batch,
            s.dedup_tags,
            s.signer_hash,
        )
    }
}

/// An entry as a replay reads it: a signature of any kind (nearly every entry of a
/// real log) in place, without allocating, and only what the fold needs of it; anything else
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
    match Entry::decode_signature(bytes) {
        Some(signature) => Ok(ReadEntry::Signature {
            time_ms: signature.time_ms,
            facts: SignatureFacts::from(&signature),
        }),
        None => Entry::decode(bytes).map(|entry| ReadEntry::Other(Box::new(entry))),
    }
}

/// Where the record being folded goes in the log.
struct At {
    index: u64,
    time_ms: u64,
}

impl At {
    /// A copy of `record` as the read models keep it.
    fn log<R: Clone>(&self, record: &R) -> Logged<R> {
        Logged {
            index: self.index,
            time_ms: self.time_ms,
            record: record.clone(),
        }
    }
}

impl Projection {
    fn petition_slot(&self, id: &str) -> Result<u32, Rejection> {
        self.petition_ids.find(id).ok_or(Rejection::UnknownPetition)
    }

    /// The signature the rules accepted at log index `index`, live or not.
    pub(crate) fn signature_at(&self, index: u64) -> Option<SignatureRef> {
        let sig = self.signatures.get(usize::try_from(index).ok()?)?;
        (sig.petition != NONE).then_some(*sig)
    }

    pub(super) fn live_signature(&self, index: u64) -> Result<SignatureRef, Rejection> {
        match self.signature_at(index) {
            Some(sig) if sig.live => Ok(sig),
            _ => Err(Rejection::NotALiveSignature { index }),
        }
    }

    /// The decision rules and the fold in one: every check happens before any change.
    pub(super) fn fold(
        &mut self,
        index: u64,
        time_ms: u64,
        record: &Record,
    ) -> Result<(), Rejection> {
        let at = At { index, time_ms };
        match record {
            Record::CampaignLaunched(launched) => {
                let id = &launched.campaign_id;
                vacant(&mut self.campaigns, id, Rejection::CampaignExists)?.insert(Campaign {
                    launched: at.log(launched),
                    cities: Vec::new(),
                });
            }
            Record::CampaignCityJoined(joined) => {
                let campaign = self
                    .campaigns
                    .get_mut(&joined.campaign_id)
                    .ok_or(Rejection::UnknownCampaign)?;
                let known = |c: &Logged<_>| {
                    let ledger::record::CampaignCityJoined { city, country, .. } = &c.record;
                    *city == joined.city && *country == joined.country
                };
                if campaign.cities.iter().any(known) {
                    return Err(Rejection::CityAlreadyJoined);
                }
                campaign.cities.push(at.log(joined));
            }
            Record::PetitionOpened(opened) => {
                if self.petition_ids.find(&opened.petition_id).is_some() {
                    return Err(Rejection::PetitionExists);
                }
                self.petition_ids.slot(&opened.petition_id);
                self.petitions.push(Petition::new(at.log(opened)));
            }
            Record::PetitionClosed(closed) => {
                let slot = self.petition_slot(&closed.petition_id)?;
                let petition = &mut self.petitions[slot as usize];
                if petition.closed.is_some() {
                    return Err(Rejection::PetitionClosed);
                }
                petition.closed = Some(at.log(closed));
            }
            Record::SignatureAdded(signature) => {
                self.add_signature(index, time_ms, &signature.into())?
            }
            Record::SignatureRecorded(signature) => {
                self.add_signature(index, time_ms, &signature.into())?
            }
            Record::SignatureCommitted(signature) => {
                self.add_signature(index, time_ms, &signature.into())?
            }
            Record::SignatureWithdrawn(withdrawn) => {
                let sig = self.live_signature(withdrawn.index)?;
                self.withdraw(index, withdrawn.index, sig);
            }
            Record::SignatureWithdrawnBySigner(withdrawn) => {
                let sig = self.live_signature(withdrawn.index)?;
                check_signer_secret(withdrawn.index, &sig, &withdrawn.signer_secret)?;
                self.withdraw(index, withdrawn.index, sig);
                self.petitions[sig.petition as usize].withdrawn_by_signer += 1;
            }
            Record::PersonalDataErased(erased) => {
                let signed = erased.index;
                let sig = self
                    .signature_at(signed)
                    .ok_or(Rejection::NotASignature { index: signed })?;
                if sig.erased {
                    return Err(Rejection::AlreadyErased { index: signed });
                }
                if let Some(secret) = &erased.signer_secret {
                    check_signer_secret(signed, &sig, secret)?;
                }
                self.signatures[signed as usize].erased = true;
                if let Some(changes) = &mut self.changes {
                    changes.erased(signed);
                }
                let petition = &mut self.petitions[sig.petition as usize];
                petition.erased[reason_slot(ErasureReason::ALL, erased.reason)] += 1;
                if erased.signer_secret.is_some() {
                    petition.erased_by_signer += 1;
                }
            }
            Record::SignaturesInvalidated(invalidated) => {
                // Indexes are strictly ascending by their type, so none repeats.
                for &signed in invalidated.indexes.iter() {
                    self.live_signature(signed)?;
                }
                let reason_slot = reason_slot(InvalidationReason::ALL, invalidated.reason);
                for &signed in invalidated.indexes.iter() {
                    let sig = self.signatures[signed as usize];
                    self.retire(signed, sig);
                    let petition = &mut self.petitions[sig.petition as usize];
                    petition.invalidated[reason_slot] += 1;
                    petition.retired_by(index, signed);
                }
            }
            Record::PaperBatchRecorded(recorded) => {
                let petition = self.petition_slot(&recorded.petition_id)?;
                if self.batch_names.find(&recorded.batch_id).is_some() {
                    return Err(Rejection::PaperBatchExists);
                }
                if !known(&self.events, &recorded.event_id) {
                    return Err(Rejection::UnknownEvent);
                }
                self.batch_names.slot(&recorded.batch_id);
                self.batches.push(PaperBatch {
                    recorded: at.log(recorded),
                    petition,
                    entered: 0,
                });
            }
            Record::TwinLinkRegistered(registered) => {
                let id = &registered.link_id;
                vacant(&mut self.links, id, Rejection::LinkExists)?.insert(TwinLink {
                    registered: at.log(registered),
                    status: LinkStatus::Active,
                    history: Vec::new(),
                });
            }
            Record::TwinLinkStatusChanged(changed) => {
                if !known(&self.motions, &changed.motion_id) {
                    return Err(Rejection::UnknownMotion);
                }
                let link = self
                    .links
                    .get_mut(&changed.link_id)
                    .ok_or(Rejection::UnknownLink)?;
                // A severed link is over; anything else may move to any other status.
                if link.status == changed.status || link.status == LinkStatus::Severed {
                    return Err(Rejection::InvalidTransition {
                        what: "twin link",
                        from: link.status.as_str(),
                        to: changed.status.as_str(),
                    });
                }
                link.status = changed.status;
                link.history.push(at.log(changed));
            }
            Record::MotionTabled(tabled) => {
                let id = &tabled.motion_id;
                let new = vacant(&mut self.motions, id, Rejection::MotionExists)?;
                if !known(&self.links, &tabled.link_id) {
                    return Err(Rejection::UnknownLink);
                }
                new.insert(Motion {
                    tabled: at.log(tabled),
                    status: MotionStatus::Tabled,
                    amendments: Vec::new(),
                    vote: None,
                    withdrawn: None,
                });
            }
            Record::MotionAmended(amended) => {
                let motion = self.move_motion(&amended.motion_id, MotionStatus::Amended)?;
                let current = &mut motion.tabled.record;
                if let Some(title) = &amended.title {
                    current.title = title.clone();
                }
                if amended.text_hash.is_some() {
                    current.text_hash = amended.text_hash;
                }
                motion.amendments.push(index);
            }
            Record::MotionVoted(voted) => {
                let to = match voted.result {
                    VoteResult::Passed => MotionStatus::Passed,
                    VoteResult::Failed => MotionStatus::Failed,
                };
                let motion = self.move_motion(&voted.motion_id, to)?;
                motion.vote = Some(at.log(voted));
            }
            Record::MotionWithdrawn(withdrawn) => {
                let motion = self.move_motion(&withdrawn.motion_id, MotionStatus::Withdrawn)?;
                motion.withdrawn = Some(at.log(withdrawn));
            }
            Record::EventScheduled(scheduled) => {
                let id = &scheduled.event_id;
                vacant(&mut self.events, id, Rejection::EventExists)?.insert(Event {
                    scheduled: at.log(scheduled),
                    status: EventStatus::Scheduled,
                    changes: Vec::new(),
                    held: None,
                    cancelled: None,
                });
            }
            Record::EventChanged(changed) => {
                let event = self.move_event(&changed.event_id, EventStatus::Changed)?;
                let current = &mut event.scheduled.record;
                if let Some(title) = &changed.title {
                    current.title = title.clone();
                }
                if changed.place.is_some() {
                    current.place = changed.place.clone();
                }
                if let Some(starts_at) = changed.starts_at {
                    current.starts_at = starts_at;
                }
                if changed.ends_at.is_some() {
                    current.ends_at = changed.ends_at;
                }
                event.changes.push(index);
            }
            Record::EventCancelled(cancelled) => {
                let event = self.move_event(&cancelled.event_id, EventStatus::Cancelled)?;
                event.cancelled = Some(at.log(cancelled));
            }
            Record::EventHeld(held) => {
                let event = self.move_event(&held.event_id, EventStatus::Held)?;
                event.held = Some(at.log(held));
            }
            Record::ExportIssued(issued) => {
                let slot = self.petition_slot(&issued.petition_id)?;
                if issued.tree_size > index {
                    return Err(Rejection::ExportBeyondLog);
                }
                let petition = &mut self.petitions[slot as usize];
                petition.exports += 1;
                petition.revealed = petition.revealed.saturating_add(issued.revealed);
            }
        }
        Ok(())
    }

    pub(super) fn add_signature(
        &mut self,
        index: u64,
        time_ms: u64,
        signature: &SignatureFacts<'_>,
    ) -> Result<(), Rejection> {
        let petition = self.petition_slot(signature.petition_id)?;
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
                let batch_state = &self.batches[batch as usize];
                if batch_state.petition != petition {
                    return Err(Rejection::PaperBatchOfOtherPetition);
                }
                if batch_state.is_full() {
                    return Err(Rejection::PaperBatchFull);
                }
                batch + 1
            }
        };
        // The last rule: no identity of the signer has signed this petition, under
        // either kind. Checked for every tag before any is inserted, so a refused
        // signature leaves no tag behind; the tags of one signature are distinct by
        // their type. From here on nothing can refuse the record. (A projection that
        // handed its set over, `dedup.rs`, replays only records decided already: its
        // set takes every tag as new.)
        if let [tag] = *signature.dedup_tags {
            // The common case (one identity, and every `signature.added`): one probe.
            if !self.dedup.insert((petition, tag)) {
                return Err(Rejection::DuplicateSignature);
            }
            if let Some(changes) = &mut self.changes {
                changes.dedup_added(petition, tag);
            }
        } else {
            if signature
                .dedup_tags
                .iter()
                .any(|&tag| self.dedup.contains(&(petition, tag)))
            {
                return Err(Rejection::DuplicateSignature);
            }
            for &tag in signature.dedup_tags.iter() {
                self.dedup.insert((petition, tag));
                if let Some(changes) = &mut self.changes {
                    changes.dedup_added(petition, tag);
                }
            }
        }
        if channel != 0 {
            self.batches[channel as usize - 1].entered += 1;
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
        sig.signer = signature.signer_hash.map_or([0; 16], signer_check);
        sig.live = true;
        sig.erased = false;
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
        if let Some(&threshold) = p.opened.record.thresholds.get(crossed) {
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

    /// The signature at `signed`, live as `sig`, withdrawn by the entry at `index`.
    fn withdraw(&mut self, index: u64, signed: u64, sig: SignatureRef) {
        self.retire(signed, sig);
        let petition = &mut self.petitions[sig.petition as usize];
        petition.withdrawn += 1;
        petition.retired_by(index, signed);
    }

    /// Takes a live signature out of every count.
    fn retire(&mut self, index: u64, sig: SignatureRef) {
        self.signatures[index as usize].live = false;
        self.petitions[sig.petition as usize].count(&sig, -1);
        if let Some(changes) = &mut self.changes {
            changes.retired(index);
        }
    }

    /// The motion `id`, moved to status `to` if it is still open.
    fn move_motion(&mut self, id: &Id, to: MotionStatus) -> Result<&mut Motion, Rejection> {
        let motion = self.motions.get_mut(id).ok_or(Rejection::UnknownMotion)?;
        if !matches!(motion.status, MotionStatus::Tabled | MotionStatus::Amended) {
            return Err(Rejection::InvalidTransition {
                what: "motion",
                from: motion.status.as_str(),
                to: to.as_str(),
            });
        }
        motion.status = to;
        Ok(motion)
    }

    /// The event `id`, moved to status `to` if it is still upcoming.
    fn move_event(&mut self, id: &Id, to: EventStatus) -> Result<&mut Event, Rejection> {
        let event = self.events.get_mut(id).ok_or(Rejection::UnknownEvent)?;
        if !matches!(event.status, EventStatus::Scheduled | EventStatus::Changed) {
            return Err(Rejection::InvalidTransition {
                what: "event",
                from: event.status.as_str(),
                to: to.as_str(),
            });
        }
        event.status = to;
        Ok(event)
    }
}

/// Whether `id`, if given, names one of `models`.
fn known<T>(models: &BTreeMap<Id, T>, id: &Option<Id>) -> bool {
    id.as_ref().is_none_or(|id| models.contains_key(id))
}

/// Where a new read model with id `id` goes in `models`, refused as `exists` if the id
/// is taken.
fn vacant<'m, T>(
    models: &'m mut BTreeMap<Id, T>,
    id: &Id,
    exists: Rejection,
) -> Result<VacantEntry<'m, Id, T>, Rejection> {
    match models.entry(id.clone()) {
        btree_map::Entry::Vacant(new) => Ok(new),
        btree_map::Entry::Occupied(_) => Err(exists),
    }
}

/// The position of `reason` in `all` (a `named_enum!`'s `ALL`), where its counts go.
fn reason_slot<R: PartialEq + Copy>(all: &[R], reason: R) -> usize {
    all.iter()
        .position(|r| *r == reason)
        .expect("every reason is in ALL")
}

/// What a [`SignatureRef`] keeps of a signer hash.
fn signer_check(signer_hash: Hash) -> [u8; 16] {
    let mut check = [0; 16];
    check.copy_from_slice(&signer_hash.as_bytes()[..16]);
    check
}

/// Whether `secret` is the one the signature at `index` (`sig`) commits to.
fn check_signer_secret(
    index: u64,
    sig: &SignatureRef,
    secret: &SignerSecret,
) -> Result<(), Rejection> {
    if sig.signer == [0; 16] || signer_check(secret.hash()) != sig.signer {
        return Err(Rejection::WrongSignerSecret { index });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::record::{Channel, Name, PetitionOpened, PetitionText, Thresholds, Title};
    use ledger::{DedupTag, Hash};

    fn signature(tag: u8, constituency: &str, council: &str) -> Signature {
        Signature {
            petition_id: Id::parse("p").unwrap(),
            country: CountryCode::parse("GB").unwrap(),
            constituency: Some(AreaCode::parse(constituency).unwrap()),
            ward: None,
            council: Some(Name::parse(council).unwrap()),
            channel: Channel::Online,
            consent_to_share: false,
            dedup_tag: DedupTag([tag; 16]),
            commitment: Hash([0; 32]),
        }
    }

    /// The place memo only saves lookups. A place whose hash is taken by another
    /// (forced here: 64-bit collisions do not happen by chance in a test) is interned
    /// the usual way, and neither place's slots are confused.
    #[test]
    fn place_memo_collisions_fall_back_to_the_interners() {
        let opened = Record::PetitionOpened(PetitionOpened {
            petition_id: Id::parse("p").unwrap(),
            title: Title::parse("P").unwrap(),
            text: PetitionText::Hash(Hash([0; 32])),
            target: Name::parse("T").unwrap(),
            closes_on: None,
            thresholds: Thresholds::default(),
        });
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
}
