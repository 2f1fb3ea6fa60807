//! The projection's whole state as bytes, and back: the snapshots `persist.rs` keeps
//! so that a restart replays only what came after.
//!
//! Everything is sorted, so two projections of the same log prefix give identical
//! bytes however each was built. A snapshot is a cache, never a source of truth: one
//! that does not decode, or that refers to slots that do not exist, is refused.

use std::collections::BTreeMap;

use ledger::record::{ErasureReason, Id, InvalidationReason};
use ledger::DedupTag;
use serde::{Deserialize, Serialize};

use super::interning::Interner;
use super::state::{
    Campaign, Event, Motion, PaperBatch, Petition, SignatureRef, TwinLink, NONE, NOT_A_SIGNATURE,
};
use super::Projection;
use crate::{Error, Result};

/// The snapshot form: everything sorted, so equal projections give equal bytes.
/// Segments (`segment.rs`) carry one with empty `dedup` and `signatures` as the small
/// state.
#[derive(Default, Serialize, Deserialize)]
pub(super) struct Snapshot {
    pub(super) tree_size: u64,
    latest_time_ms: u64,
    rejected_in_log: u64,
    first_rejected: Option<(u64, String)>,
    countries: Vec<String>,
    constituencies: Vec<String>,
    wards: Vec<String>,
    councils: Vec<String>,
    batch_names: Vec<String>,
    petition_ids: Vec<String>,
    pub(super) petitions: Vec<Petition>,
    batches: Vec<PaperBatch>,
    campaigns: Vec<Campaign>,
    links: Vec<TwinLink>,
    motions: Vec<Motion>,
    events: Vec<Event>,
    dedup: Vec<(u32, DedupTag)>,
    signatures: Vec<(u64, SignatureRef)>,
}

/// Adds the signature record `sig` of entry `index` to the dense table `signatures`
/// (entries that are not signatures between the last one and it left empty), refusing
/// one that is not after the last, beyond the state's tree size, or refers to slots the
/// state `s` does not have.
pub(super) fn push_signature(
    signatures: &mut Vec<SignatureRef>,
    s: &Snapshot,
    index: u64,
    sig: SignatureRef,
) -> Result<()> {
    let at = usize::try_from(index).map_err(|_| Error::BadSnapshot("index too large"))?;
    if at < signatures.len() || sig.petition == NONE {
        return Err(Error::BadSnapshot("signatures out of order"));
    }
    if index >= s.tree_size {
        return Err(Error::BadSnapshot("a signature beyond the tree size"));
    }
    let within = |slot: u32, len: usize| slot == NONE || (slot as usize) < len;
    let fits = (sig.petition as usize) < s.petitions.len()
        && within(sig.country, s.countries.len())
        && within(sig.constituency, s.constituencies.len())
        && within(sig.ward, s.wards.len())
        && within(sig.council, s.councils.len())
        && (sig.channel as usize) <= s.batches.len();
    if !fits {
        return Err(Error::BadSnapshot("refers to slots that do not exist"));
    }
    signatures.resize(at, NOT_A_SIGNATURE);
    signatures.push(sig);
    Ok(())
}

/// Every slot a snapshot refers to must exist, so that a damaged snapshot that still
/// decodes is refused (a cache miss) instead of panicking later on a bad index: this
/// checks everything but the signatures, which [`push_signature`] checks.
pub(super) fn check_rest(s: &Snapshot) -> Result<()> {
    let petitions = s.petitions.len();
    let counts_fit = s.petitions.iter().all(|p| {
        p.by_country.0.len() <= s.countries.len()
            && p.by_constituency.0.len() <= s.constituencies.len()
            && p.by_ward.0.len() <= s.wards.len()
            && p.by_council.0.len() <= s.councils.len()
            && p.by_channel.0.len() <= s.batches.len() + 1
            && p.invalidated.len() == InvalidationReason::ALL.len()
            && p.erased.len() == ErasureReason::ALL.len()
    });
    let batches_fit = s.batches.len() == s.batch_names.len()
        && s.batches.iter().all(|b| (b.petition as usize) < petitions);
    if petitions != s.petition_ids.len() || !counts_fit || !batches_fit {
        return Err(Error::BadSnapshot("refers to slots that do not exist"));
    }
    Ok(())
}

/// First byte of a snapshot: its layout version. Version 1 copied record fields into
/// the state; version 2 keeps the records themselves; version 3 adds what the time and
/// paper batch rules need (the latest entry time, each batch's entered signatures).
/// Version 4 adds to each petition the entries that retired its signatures and its
/// exports issued. Version 5 adds each signature's signer check and erased flag, and
/// each petition's erasures and signer-proven withdrawals.
/// A snapshot of another version is a cache miss: the projection is rebuilt.
const SNAPSHOT_V5: u8 = 5;

impl Projection {
    /// The projection's whole state as bytes. Two projections of the same log prefix
    /// give identical bytes, however each was built. Cost: sorts every signature.
    pub fn to_snapshot(&self) -> Vec<u8> {
        let mut dedup: Vec<(u32, DedupTag)> = self.dedup.iter().collect();
        dedup.sort_unstable();
        let signatures: Vec<(u64, SignatureRef)> = self
            .signatures
            .iter()
            .enumerate()
            .filter(|(_, s)| s.petition != NONE)
            .map(|(i, &s)| (i as u64, s))
            .collect();
        let snapshot = Snapshot {
            dedup,
            signatures,
            ..self.rest()
        };
        let mut bytes = vec![SNAPSHOT_V5];
        bytes.extend(postcard::to_allocvec(&snapshot).expect("in-memory state always encodes"));
        bytes
    }

    /// The projection a [`Projection::to_snapshot`] was taken of.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Projection> {
        let Some((&SNAPSHOT_V5, body)) = bytes.split_first() else {
            return Err(Error::BadSnapshot("unknown snapshot version"));
        };
        let s: Snapshot =
            postcard::from_bytes(body).map_err(|_| Error::BadSnapshot("does not decode"))?;
        check_rest(&s)?;
        let mut projection = Projection::default();
        projection.dedup.reserve(s.dedup.len());
        if !projection.dedup.insert_all(&s.dedup) {
            return Err(Error::BadSnapshot("a dedup tag is repeated"));
        }
        for &(index, sig) in &s.signatures {
            push_signature(&mut projection.signatures, &s, index, sig)?;
        }
        projection.set_rest(Snapshot {
            dedup: Vec::new(),
            signatures: Vec::new(),
            ..s
        });
        Ok(projection)
    }

    /// Everything but the dedup tags and the signatures (left empty): the small state.
    pub(super) fn rest(&self) -> Snapshot {
        Snapshot {
            tree_size: self.tree_size,
            latest_time_ms: self.latest_time_ms,
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
            dedup: Vec::new(),
            signatures: Vec::new(),
        }
    }

    /// Replaces the small state with `s`'s (its dedup tags and signatures are ignored).
    /// Names are only ever added, so the slots already in `places` stay right.
    pub(super) fn set_rest(&mut self, s: Snapshot) {
        self.tree_size = s.tree_size;
        self.latest_time_ms = s.latest_time_ms;
        self.rejected_in_log = s.rejected_in_log;
        self.first_rejected = s.first_rejected;
        self.countries = Interner::from_names(s.countries);
        self.constituencies = Interner::from_names(s.constituencies);
        self.wards = Interner::from_names(s.wards);
        self.councils = Interner::from_names(s.councils);
        self.batch_names = Interner::from_names(s.batch_names);
        self.petition_ids = Interner::from_names(s.petition_ids);
        self.petitions = s.petitions;
        self.batches = s.batches;
        self.campaigns = by_id(s.campaigns, |c| &c.launched.record.campaign_id);
        self.links = by_id(s.links, |l| &l.registered.record.link_id);
        self.motions = by_id(s.motions, |m| &m.tabled.record.motion_id);
        self.events = by_id(s.events, |e| &e.scheduled.record.event_id);
    }
}

/// `items` keyed by their ids.
fn by_id<T>(items: Vec<T>, id: impl Fn(&T) -> &Id) -> BTreeMap<Id, T> {
    items
        .into_iter()
        .map(|item| (id(&item).clone(), item))
        .collect()
}
