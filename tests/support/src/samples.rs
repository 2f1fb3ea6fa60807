//! One or more realistic entries of every record kind, drawn from the campaign the
//! log was built for (the UK detwin joint action and the global detwin campaign).
//!
//! What must hold:
//! - The encodings of [`entries`] are `ledger/tests/data/entries-v1.golden`, byte for
//!   byte, and [`signature_online`] is the worked example of docs/FORMAT.md part B.
//!   Changing a value here changes the golden file, which the encoding test refuses.
//! - Every kind of `Record::KINDS` has at least one sample (a test checks it).
//! - Everything is fixed — times, hashes, tags — so nothing depends on the clock or on
//!   randomness. Unknown facts stay `None`, as they would in the log.
//!
//! The samples start from the builders of [`crate::records`] and spell out only what
//! differs from them.

use ledger::entry::Entry;
use ledger::record::*;
use ledger::{DedupTag, Hash, HashAlg};

use crate::records;
use crate::values::{
    area, at, count, country, date, id, long_text, ms, name, partial_date, thresholds, title, url,
};

/// The organisers' token.
const ORGANISER: &str = "tok-uk-detwin";
/// A local group's token (Lancashire Hong Kongers Association).
const LHKA: &str = "tok-lhka";
/// The public web form's token.
const WEB: &str = "tok-web";

/// A dedup tag as the server computes it, with a fixed test key.
pub fn dedup_tag(petition: &str, normalised_identity: &str) -> DedupTag {
    let mut hasher = blake3::Hasher::new_keyed(&[7; 32]);
    hasher.update(petition.as_bytes());
    hasher.update(normalised_identity.as_bytes());
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    DedupTag(tag)
}

/// A personal-data commitment `H(salt32 || data)` with a fixed salt.
pub fn commitment(salt: u8, data: &str) -> Hash {
    HashAlg::Blake3.digest(&[&[salt; 32][..], data.as_bytes()].concat())
}

/// The sample signature, used by the worked example in docs/FORMAT.md part B. Every
/// field is spelled out, in encoding order, as the worked example annotates them.
pub fn signature_online() -> Entry {
    Entry::v1(
        ms("2022-11-03T09:15:00Z"),
        WEB,
        Record::SignatureAdded(Signature {
            petition_id: id("uk-detwin"),
            country: country("GB"),
            constituency: Some(area("E14000831")),
            ward: None,
            council: Some(name("Newcastle upon Tyne")),
            channel: Channel::Online,
            consent_to_share: true,
            dedup_tag: dedup_tag("uk-detwin", "signer@example.org"),
            commitment: commitment(
                1,
                "name=A. Signer\nemail=signer@example.org\npostcode=NE1 7RU",
            ),
        }),
    )
}

/// Every sample entry, in a fixed order covering all record kinds.
pub fn entries() -> Vec<Entry> {
    let entry = |time: &str, author: &str, record: Record| Entry::v1(ms(time), author, record);
    let digest = |text: &[u8]| HashAlg::Blake3.digest(text);
    vec![
        entry(
            "2022-09-01T10:00:00Z",
            ORGANISER,
            CampaignLaunched {
                title: title("End sister-city links with cities in the PRC"),
                target_cities: Some(count(163)),
                countries: Some(count(7)),
                ..records::campaign_launched("global-detwin")
            }
            .into(),
        ),
        entry(
            "2022-09-01T10:05:00Z",
            ORGANISER,
            records::campaign_city_joined("global-detwin", "Liverpool", "GB").into(),
        ),
        entry(
            "2022-09-02T08:00:00Z",
            ORGANISER,
            PetitionOpened {
                title: title("End UK sister-city links with cities in the PRC"),
                text: PetitionText::Full(long_text(
                    "We ask UK councils to end their sister-city and friendship links\n\
                     with cities in the People's Republic of China.",
                )),
                closes_on: Some(date("2023-04-01")),
                thresholds: thresholds(&[10_000, 100_000]),
                ..records::petition_opened("uk-detwin")
            }
            .into(),
        ),
        entry(
            "2022-09-02T08:01:00Z",
            ORGANISER,
            PetitionOpened {
                title: title("Example petition whose text is published elsewhere – by hash"),
                text: PetitionText::Hash(digest(b"published petition text")),
                target: name("Example City Council"),
                ..records::petition_opened("example-hashed-text")
            }
            .into(),
        ),
        signature_online(),
        entry(
            "2022-12-12T18:00:00Z",
            LHKA,
            Signature {
                council: Some(name("Liverpool")),
                channel: Channel::Paper {
                    batch_id: id("lhka-2022-12-11-a"),
                },
                dedup_tag: dedup_tag("uk-detwin", "a signer|L1 1JQ"),
                commitment: commitment(2, "name=A. Signer\npostcode=L1 1JQ"),
                ..records::signature_added("uk-detwin", 0)
            }
            .into(),
        ),
        entry(
            "2022-11-20T12:00:00Z",
            WEB,
            records::signature_withdrawn(42).into(),
        ),
        entry(
            "2022-11-21T12:00:00Z",
            ORGANISER,
            records::signatures_invalidated(&[7, 9], InvalidationReason::Duplicate).into(),
        ),
        entry(
            "2022-12-11T17:00:00Z",
            LHKA,
            PaperBatchRecorded {
                event_id: Some(id("lhka-2022-12-11")),
                stall: Some(name("Lord Street")),
                collector: id("lhka-volunteer-1"),
                sheet_scan_hash: Some(digest(b"scan of sheets 1-3")),
                ..records::paper_batch_recorded("lhka-2022-12-11-a", "uk-detwin", 37)
            }
            .into(),
        ),
        entry(
            "2022-09-03T09:00:00Z",
            ORGANISER,
            TwinLinkRegistered {
                since: Some(partial_date("1985")),
                ..records::twin_link_registered("newcastle-taiyuan")
            }
            .into(),
        ),
        entry(
            "2022-09-03T09:01:00Z",
            ORGANISER,
            TwinLinkRegistered {
                city: name("Bath"),
                partner_city: name("Jiangxi"),
                kind: LinkKind::Friendship,
                ..records::twin_link_registered("bath-jiangxi")
            }
            .into(),
        ),
        entry(
            "2022-10-05T12:00:00Z",
            ORGANISER,
            MotionTabled {
                link_id: Some(id("newcastle-taiyuan")),
                proposer: Some(name("Cllr Wendy Taylor")),
                tabled_on: Some(date("2022-10-05")),
                ..records::motion_tabled("ncc-2022-11")
            }
            .into(),
        ),
        entry(
            "2022-11-01T12:00:00Z",
            ORGANISER,
            MotionTabled {
                council: name("Bath and North East Somerset Council"),
                link_id: Some(id("bath-jiangxi")),
                proposer: Some(name("Cllr Andy Furse")),
                title: title("End the friendship link with Jiangxi"),
                text_hash: Some(digest(b"motion text as tabled")),
                source_url: Some(url("https://democracy.bathnes.gov.uk/")),
                ..records::motion_tabled("banes-2022-11")
            }
            .into(),
        ),
        entry(
            "2022-11-16T12:00:00Z",
            ORGANISER,
            MotionAmended {
                text_hash: Some(digest(b"motion text as amended")),
                ..records::motion_amended("banes-2022-11")
            }
            .into(),
        ),
        entry(
            "2022-11-02T21:00:00Z",
            ORGANISER,
            MotionVoted {
                votes_for: Some(60),
                votes_against: Some(0),
                abstentions: Some(0),
                voted_on: Some(date("2022-11-02")),
                majority: Some(name("unanimous")),
                ..records::motion_voted("ncc-2022-11", VoteResult::Passed)
            }
            .into(),
        ),
        entry(
            "2022-11-17T21:00:00Z",
            ORGANISER,
            MotionVoted {
                voted_on: Some(date("2022-11-17")),
                majority: Some(name("large majority")),
                ..records::motion_voted("banes-2022-11", VoteResult::Passed)
            }
            .into(),
        ),
        entry(
            "2022-11-02T21:05:00Z",
            ORGANISER,
            TwinLinkStatusChanged {
                effective_on: Some(date("2022-11-02")),
                motion_id: Some(id("ncc-2022-11")),
                ..records::twin_link_status_changed("newcastle-taiyuan", LinkStatus::Severed)
            }
            .into(),
        ),
        entry(
            "2023-01-10T12:00:00Z",
            ORGANISER,
            records::motion_withdrawn("example-council-2023-01").into(),
        ),
        entry(
            "2022-09-20T12:00:00Z",
            ORGANISER,
            EventScheduled {
                title: title("Joint action day"),
                country: Some(country("GB")),
                starts_at: at("2022-10-01T13:00:00+01:00"),
                ends_at: Some(at("2022-10-01T16:00:00+01:00")),
                joint_action: Some(id("uk-joint-action-2022-10-01")),
                ..records::event_scheduled("uk-joint-action-2022-10-01", "Leeds")
            }
            .into(),
        ),
        entry(
            "2022-12-01T12:00:00Z",
            LHKA,
            EventScheduled {
                kind: EventKind::Stall,
                title: title("Global Detwin in UK"),
                place: Some(name("Lord Street")),
                starts_at: at("2022-12-11T12:00:00Z"),
                group: Some(name("LHKA")),
                joint_action: Some(id("global-detwin")),
                ..records::event_scheduled("lhka-2022-12-11", "Liverpool")
            }
            .into(),
        ),
        entry(
            "2022-12-05T12:00:00Z",
            LHKA,
            EventChanged {
                place: None,
                ends_at: Some(at("2022-12-11T15:00:00Z")),
                ..records::event_changed("lhka-2022-12-11")
            }
            .into(),
        ),
        entry(
            "2022-12-06T12:00:00Z",
            ORGANISER,
            EventCancelled {
                reason: Some(title("Weather warning")),
                ..records::event_cancelled("example-vigil-2022-12-10")
            }
            .into(),
        ),
        entry(
            "2022-12-11T18:00:00Z",
            LHKA,
            records::event_held("lhka-2022-12-11", Some(40)).into(),
        ),
        entry(
            "2023-04-02T00:00:00Z",
            ORGANISER,
            PetitionClosed {
                reason: Some(title("Closing date reached")),
                ..records::petition_closed("uk-detwin")
            }
            .into(),
        ),
        // Kinds added later go after every earlier sample, so the golden file only
        // grows.
        signature_recorded_online(),
        entry(
            "2023-04-03T09:00:00Z",
            "token-5e1f00d2",
            records::export_issued("uk-detwin", "E14000831", 24, "5e1f00d2", 1).into(),
        ),
        entry(
            "2023-04-03T10:00:00Z",
            WEB,
            SignatureCommitted {
                constituency: Some(area("E14000831")),
                ..records::signature_committed("uk-detwin", 7)
            }
            .into(),
        ),
        entry(
            "2023-04-04T10:00:00Z",
            ORGANISER,
            records::personal_data_erased(22).into(),
        ),
        entry(
            "2023-04-04T11:00:00Z",
            WEB,
            PersonalDataErased {
                signer_secret: Some(records::signer_secret(7)),
                ..records::personal_data_erased(25)
            }
            .into(),
        ),
        entry(
            "2023-04-05T11:00:00Z",
            WEB,
            records::signature_withdrawn_by_signer(25, records::signer_secret(7)).into(),
        ),
    ]
}

/// A `signature.recorded` of a signer who gave an email and a postcode: two tags.
pub fn signature_recorded_online() -> Entry {
    let tags = [
        dedup_tag("uk-detwin", "email:signer@example.org"),
        dedup_tag("uk-detwin", "name-postcode:a signer\nNE17RU"),
    ];
    Entry::v1(
        ms("2022-11-03T09:20:00Z"),
        WEB,
        SignatureRecorded {
            constituency: Some(area("E14000831")),
            council: Some(name("Newcastle upon Tyne")),
            consent_to_share: true,
            dedup_tags: DedupTags::from_unsorted(&tags).expect("two distinct tags"),
            commitment: commitment(
                3,
                "name=A. Signer\nemail=signer@example.org\npostcode=NE1 7RU",
            ),
            ..records::signature_recorded("uk-detwin", 0)
        }
        .into(),
    )
}
