//! Builders of records and small logs for tests.
//!
//! Two layers:
//! - **One builder per kind** (`campaign_launched`, `signature_added`, ... named after
//!   the kind's JSON `type`), returning the kind's struct. It takes what identifies the
//!   record and fills the other required fields with plausible constants; every
//!   `Option` is `None` and every list empty unless the kind's rules need otherwise.
//!   This is the one place in the test code that lists each kind's fields: callers
//!   change what they care about with struct-update syntax,
//!   `MotionTabled { link_id: Some(id("l")), ..motion_tabled("m") }`.
//! - **Short `Record` helpers** (`petition`, `signature`, `motion`, `vote`, ...), the
//!   vocabulary of the projector's tests: a kind's builder plus the details those tests
//!   rely on (a constituency, a vote date, a joint action). Their values are fixed;
//!   tests compare tallies against them.
//!
//! [`small_log`] is a short valid log touching every read model. The literals of
//! [`crate::values`] are re-exported, so one glob import serves a test file.

use ledger::record::{
    CampaignCityJoined, CampaignLaunched, Channel, ErasureReason, EventCancelled, EventChanged,
    EventHeld, EventKind, EventScheduled, ExportIssued, InvalidationReason, LinkKind, LinkStatus,
    MotionAmended, MotionTabled, MotionVoted, MotionWithdrawn, PaperBatchRecorded,
    PersonalDataErased, PetitionClosed, PetitionOpened, PetitionText, Signature,
    SignatureCommitted, SignatureRecorded, SignatureWithdrawn, SignatureWithdrawnBySigner,
    SignaturesInvalidated, TwinLinkRegistered, TwinLinkStatusChanged, VoteResult,
};
use ledger::{DedupTag, Entry, Hash, HashAlg, Record, SignerSecret};

pub use crate::values::*;

/// 2022-07-01T00:00:00Z, the time of the first entry of [`small_log`].
pub const T0: u64 = 1_656_633_600_000;

/// The author of [`entry`]: a token's public id.
pub const AUTHOR: &str = "tok_test";

/// A v1 entry by [`AUTHOR`].
pub fn entry(time_ms: u64, record: impl Into<Record>) -> Entry {
    Entry::v1(time_ms, AUTHOR, record.into())
}

/// The dedup tag of signer number `n`: distinct for distinct `n`.
pub fn tag(n: u64) -> DedupTag {
    let mut t = [0u8; 16];
    t[..8].copy_from_slice(&n.to_le_bytes());
    t[15] = 0xa5;
    DedupTag(t)
}

// --- one builder per kind ------------------------------------------------------------

/// `campaign.launched`, titled "Global detwin".
pub fn campaign_launched(campaign_id: &str) -> CampaignLaunched {
    CampaignLaunched {
        campaign_id: id(campaign_id),
        title: title("Global detwin"),
        launched_on: None,
        target_cities: None,
        countries: None,
    }
}

/// `campaign.city_joined`.
pub fn campaign_city_joined(
    campaign_id: &str,
    city: &str,
    country_code: &str,
) -> CampaignCityJoined {
    CampaignCityJoined {
        campaign_id: id(campaign_id),
        city: name(city),
        country: country(country_code),
        joined_on: None,
    }
}

/// `petition.opened` to the UK Parliament, in full text, without thresholds.
pub fn petition_opened(petition_id: &str) -> PetitionOpened {
    PetitionOpened {
        petition_id: id(petition_id),
        title: title(&format!("Petition {petition_id}")),
        text: PetitionText::Full(long_text("End the sister-city links.")),
        target: name("UK Parliament"),
        closes_on: None,
        thresholds: thresholds(&[]),
    }
}

/// `petition.closed`.
pub fn petition_closed(petition_id: &str) -> PetitionClosed {
    PetitionClosed {
        petition_id: id(petition_id),
        reason: None,
    }
}

/// `signature.added` online from Great Britain by signer number `who`
/// ([`tag`]`(who)`, commitment `[who as u8; 32]`), without area codes or consent.
pub fn signature_added(petition_id: &str, who: u64) -> Signature {
    Signature {
        petition_id: id(petition_id),
        country: country("GB"),
        constituency: None,
        ward: None,
        council: None,
        channel: Channel::Online,
        consent_to_share: false,
        dedup_tag: tag(who),
        commitment: Hash([who as u8; 32]),
    }
}

/// `signature.recorded` online from Great Britain by signer number `who`, with the
/// one tag [`tag`]`(who)` (commitment `[who as u8; 32]`), without area codes or
/// consent. A signer with a second identity: `dedup_tags:
/// DedupTags::from_unsorted(&[tag(who), tag(other)])`.
pub fn signature_recorded(petition_id: &str, who: u64) -> SignatureRecorded {
    SignatureRecorded {
        petition_id: id(petition_id),
        country: country("GB"),
        constituency: None,
        ward: None,
        council: None,
        channel: Channel::Online,
        consent_to_share: false,
        dedup_tags: ledger::record::DedupTags::one(tag(who)),
        commitment: Hash([who as u8; 32]),
    }
}

/// `signature.withdrawn`.
pub fn signature_withdrawn(index: u64) -> SignatureWithdrawn {
    SignatureWithdrawn { index }
}

/// `signatures.invalidated`; `indexes` strictly ascending.
pub fn signatures_invalidated(
    indexes: &[u64],
    reason: InvalidationReason,
) -> SignaturesInvalidated {
    SignaturesInvalidated {
        indexes: crate::values::indexes(indexes),
        reason,
        note: None,
    }
}

/// `paper_batch.recorded` by collector `volunteer-7`, not at an event.
pub fn paper_batch_recorded(
    batch_id: &str,
    petition_id: &str,
    signatures: u32,
) -> PaperBatchRecorded {
    PaperBatchRecorded {
        batch_id: id(batch_id),
        petition_id: id(petition_id),
        event_id: None,
        stall: None,
        collector: id("volunteer-7"),
        sheet_scan_hash: None,
        count: count(signatures),
    }
}

/// `twin_link.registered`: Newcastle upon Tyne (GB) and Taiyuan (CN), sister cities.
pub fn twin_link_registered(link_id: &str) -> TwinLinkRegistered {
    TwinLinkRegistered {
        link_id: id(link_id),
        city: name("Newcastle upon Tyne"),
        country: country("GB"),
        partner_city: name("Taiyuan"),
        partner_country: country("CN"),
        kind: LinkKind::Sister,
        since: None,
    }
}

/// `twin_link.status_changed`.
pub fn twin_link_status_changed(link_id: &str, status: LinkStatus) -> TwinLinkStatusChanged {
    TwinLinkStatusChanged {
        link_id: id(link_id),
        status,
        effective_on: None,
        motion_id: None,
    }
}

/// `motion.tabled` in Newcastle City Council.
pub fn motion_tabled(motion_id: &str) -> MotionTabled {
    MotionTabled {
        motion_id: id(motion_id),
        council: name("Newcastle City Council"),
        link_id: None,
        proposer: None,
        title: title("End the sister city link with Taiyuan"),
        text_hash: None,
        tabled_on: None,
        source_url: None,
    }
}

/// `motion.amended`: a new text (an amendment changes the title, the text or both).
pub fn motion_amended(motion_id: &str) -> MotionAmended {
    MotionAmended {
        motion_id: id(motion_id),
        title: None,
        text_hash: Some(HashAlg::Blake3.digest(b"motion text as amended")),
        amended_on: None,
    }
}

/// `motion.voted`, without counts.
pub fn motion_voted(motion_id: &str, result: VoteResult) -> MotionVoted {
    MotionVoted {
        motion_id: id(motion_id),
        votes_for: None,
        votes_against: None,
        abstentions: None,
        result,
        voted_on: None,
        majority: None,
    }
}

/// `motion.withdrawn`.
pub fn motion_withdrawn(motion_id: &str) -> MotionWithdrawn {
    MotionWithdrawn {
        motion_id: id(motion_id),
        withdrawn_on: None,
    }
}

/// `event.scheduled`: a rally in `city` starting 2022-10-01T12:00:00Z.
pub fn event_scheduled(event_id: &str, city: &str) -> EventScheduled {
    EventScheduled {
        event_id: id(event_id),
        kind: EventKind::Rally,
        title: title("Be Water rally"),
        city: name(city),
        country: None,
        place: None,
        starts_at: at("2022-10-01T12:00:00Z"),
        ends_at: None,
        group: None,
        joint_action: None,
    }
}

/// `event.changed`: moved to the Town Hall steps (a change changes at least one field).
pub fn event_changed(event_id: &str) -> EventChanged {
    EventChanged {
        event_id: id(event_id),
        title: None,
        place: Some(name("Town Hall steps")),
        starts_at: None,
        ends_at: None,
    }
}

/// `event.cancelled`.
pub fn event_cancelled(event_id: &str) -> EventCancelled {
    EventCancelled {
        event_id: id(event_id),
        reason: None,
    }
}

/// `event.held`.
pub fn event_held(event_id: &str, attendance: Option<u32>) -> EventHeld {
    EventHeld {
        event_id: id(event_id),
        attendance,
    }
}

/// `export.issued` of `petition_id` for the constituency `code` at `tree_size`, to the
/// exporter token `exporter`, revealing `revealed` signers.
pub fn export_issued(
    petition_id: &str,
    code: &str,
    tree_size: u64,
    exporter: &str,
    revealed: u64,
) -> ExportIssued {
    ExportIssued {
        petition_id: id(petition_id),
        area_kind: ledger::record::AreaKind::Constituency,
        area: name(code),
        tree_size,
        exporter: id(exporter),
        revealed,
    }
}

/// `signature.committed` by signer `who` (as [`signature_recorded`]), whose signer
/// secret is [`signer_secret`]`(who)`.
pub fn signature_committed(petition_id: &str, who: u64) -> SignatureCommitted {
    signature_recorded(petition_id, who).committing_to(signer_secret(who).hash())
}

/// The signer secret of signer `who` in [`signature_committed`].
pub fn signer_secret(who: u64) -> SignerSecret {
    SignerSecret([who as u8 ^ 0x5a; 32])
}

/// `personal_data.erased` of the signature at `index`, at the signer's request through
/// an organiser (no secret shown).
pub fn personal_data_erased(index: u64) -> PersonalDataErased {
    PersonalDataErased {
        index,
        reason: ErasureReason::SignerRequest,
        signer_secret: None,
    }
}

/// `signature.withdrawn_by_signer` of the signature at `index`, showing `secret`.
pub fn signature_withdrawn_by_signer(
    index: u64,
    secret: SignerSecret,
) -> SignatureWithdrawnBySigner {
    SignatureWithdrawnBySigner {
        index,
        signer_secret: secret,
    }
}

// --- the projector tests' vocabulary ---------------------------------------------------

/// A petition with these thresholds, closing on `closes_on` (`YYYY-MM-DD`) if given.
pub fn petition(petition_id: &str, thresholds: &[u64], closes_on: Option<&str>) -> Record {
    PetitionOpened {
        closes_on: closes_on.map(date),
        thresholds: crate::values::thresholds(thresholds),
        ..petition_opened(petition_id)
    }
    .into()
}

/// An online signature on `petition_id` by signer number `who` in constituency number
/// `area` (`E14000800 + area`), whose council depends on whether `area` is even, and
/// who consents to share when `who` is even.
pub fn signature(petition_id: &str, who: u64, area: u32) -> Record {
    Signature {
        constituency: Some(crate::values::area(&format!("E14{:06}", 800 + area))),
        council: Some(name(if area.is_multiple_of(2) {
            "Newcastle upon Tyne"
        } else {
            "Bath and North East Somerset"
        })),
        consent_to_share: who.is_multiple_of(2),
        ..signature_added(petition_id, who)
    }
    .into()
}

/// [`signature`] in constituency 1, on paper in `batch`.
pub fn paper_signature(petition_id: &str, who: u64, batch: &str) -> Record {
    let Record::SignatureAdded(online) = signature(petition_id, who, 1) else {
        unreachable!("signature() builds a signature")
    };
    Signature {
        channel: Channel::Paper {
            batch_id: id(batch),
        },
        ..online
    }
    .into()
}

/// A paper batch collected at the Northumberland Street stall.
pub fn paper_batch(batch_id: &str, petition_id: &str, signatures: u32) -> Record {
    PaperBatchRecorded {
        stall: Some(name("Northumberland Street")),
        ..paper_batch_recorded(batch_id, petition_id, signatures)
    }
    .into()
}

pub fn withdraw(index: u64) -> Record {
    signature_withdrawn(index).into()
}

pub fn invalidate(indexes: &[u64], reason: InvalidationReason) -> Record {
    signatures_invalidated(indexes, reason).into()
}

/// The Newcastle upon Tyne–Taiyuan sister link, under `link_id`.
pub fn link(link_id: &str) -> Record {
    twin_link_registered(link_id).into()
}

/// A status change effective on 2022-11-02, decided by `motion` if given.
pub fn link_status(link_id: &str, status: LinkStatus, motion: Option<&str>) -> Record {
    TwinLinkStatusChanged {
        effective_on: Some(date("2022-11-02")),
        motion_id: motion.map(id),
        ..twin_link_status_changed(link_id, status)
    }
    .into()
}

/// A motion proposed by Cllr Wendy Taylor, about `link_id` if given.
pub fn motion(motion_id: &str, link_id: Option<&str>) -> Record {
    MotionTabled {
        link_id: link_id.map(id),
        proposer: Some(name("Cllr Wendy Taylor")),
        ..motion_tabled(motion_id)
    }
    .into()
}

/// A unanimous vote on 2022-11-02.
pub fn vote(motion_id: &str, result: VoteResult) -> Record {
    MotionVoted {
        voted_on: Some(date("2022-11-02")),
        majority: Some(name("unanimous")),
        ..motion_voted(motion_id, result)
    }
    .into()
}

pub fn withdraw_motion(motion_id: &str) -> Record {
    motion_withdrawn(motion_id).into()
}

/// A rally in `city` (GB), part of the joint action `uk-joint-action`.
pub fn event(event_id: &str, city: &str) -> Record {
    EventScheduled {
        country: Some(country("GB")),
        joint_action: Some(id("uk-joint-action")),
        ..event_scheduled(event_id, city)
    }
    .into()
}

pub fn held(event_id: &str, attendance: Option<u32>) -> Record {
    event_held(event_id, attendance).into()
}

pub fn cancelled(event_id: &str) -> Record {
    event_cancelled(event_id).into()
}

/// The campaign launched on 2022-07-01, addressing 163 cities in 7 countries.
pub fn campaign(campaign_id: &str) -> Record {
    CampaignLaunched {
        launched_on: Some(date("2022-07-01")),
        target_cities: Some(count(163)),
        countries: Some(count(7)),
        ..campaign_launched(campaign_id)
    }
    .into()
}

pub fn city_joined(campaign_id: &str, city: &str, country_code: &str) -> Record {
    campaign_city_joined(campaign_id, city, country_code).into()
}

/// A small valid log touching every read model, encoded, with one record a minute
/// from [`T0`].
pub fn small_log() -> Vec<Vec<u8>> {
    let mut records = vec![
        campaign("global-detwin"),
        city_joined("global-detwin", "Newcastle upon Tyne", "GB"),
        city_joined("global-detwin", "Bath", "GB"),
        petition("uk-detwin", &[3, 10], None),
        paper_batch("stall-1", "uk-detwin", 2),
        link("newcastle-taiyuan"),
        motion("ncc-2022-11", Some("newcastle-taiyuan")),
        event("rally-newcastle", "Newcastle upon Tyne"),
        event("rally-bath", "Bath"),
    ];
    for who in 0..12 {
        records.push(signature("uk-detwin", who, (who % 4) as u32));
    }
    records.push(paper_signature("uk-detwin", 100, "stall-1"));
    records.push(paper_signature("uk-detwin", 101, "stall-1"));
    records.push(withdraw(9));
    records.push(invalidate(&[10, 11], InvalidationReason::Duplicate));
    records.push(vote("ncc-2022-11", VoteResult::Passed));
    records.push(link_status(
        "newcastle-taiyuan",
        LinkStatus::Severed,
        Some("ncc-2022-11"),
    ));
    records.push(held("rally-newcastle", Some(200)));
    records.push(cancelled("rally-bath"));
    records
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            entry(T0 + i as u64 * 60_000, r)
                .encode()
                .expect("the small log's records are valid")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every builder gives a record that validates and encodes.
    #[test]
    fn every_builder_is_valid() {
        let records: Vec<Record> = vec![
            campaign_launched("c").into(),
            campaign_city_joined("c", "Leeds", "GB").into(),
            petition_opened("p").into(),
            petition_closed("p").into(),
            signature_added("p", 1).into(),
            signature_withdrawn(4).into(),
            signatures_invalidated(&[4, 5], InvalidationReason::Fraud).into(),
            paper_batch_recorded("b", "p", 3).into(),
            twin_link_registered("l").into(),
            twin_link_status_changed("l", LinkStatus::Suspended).into(),
            motion_tabled("m").into(),
            motion_amended("m").into(),
            motion_voted("m", VoteResult::Failed).into(),
            motion_withdrawn("m").into(),
            event_scheduled("e", "Leeds").into(),
            event_changed("e").into(),
            event_cancelled("e").into(),
            event_held("e", None).into(),
            signature_recorded("p", 1).into(),
            export_issued("p", "E14000831", 3, "5e1f00d2", 1).into(),
            signature_committed("p", 2).into(),
            personal_data_erased(4).into(),
            signature_withdrawn_by_signer(4, signer_secret(2)).into(),
        ];
        let kinds: Vec<&str> = records.iter().map(Record::kind).collect();
        assert_eq!(kinds, Record::KINDS, "one builder per kind, in table order");
        for record in records {
            entry(T0, record).encode().unwrap();
        }
        assert_eq!(small_log().len(), 29);
    }
}
