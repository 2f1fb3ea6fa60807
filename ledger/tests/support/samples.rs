//! One or more realistic entries of every record kind, drawn from the campaign the
//! log was built for (the UK detwin joint action and the global detwin campaign).
//!
//! Everything here is fixed — times, hashes, tags — so the golden file never depends
//! on the clock or on randomness. Unknown facts stay `None`, as they would in the log.

#![allow(dead_code)] // shared by test binaries that each use a part

use ledger::entry::Entry;
use ledger::record::*;
use ledger::HashAlg;

pub fn id(s: &str) -> Id {
    Id::parse(s).unwrap()
}

pub fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

pub fn at(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

pub fn country(s: &str) -> CountryCode {
    CountryCode::parse(s).unwrap()
}

/// Milliseconds since the epoch of a UTC instant.
pub fn ms(s: &str) -> u64 {
    at(s).unix_seconds() as u64 * 1000
}

pub fn text(s: &str) -> Option<String> {
    Some(s.to_owned())
}

/// A dedup tag as the server computes it, with a fixed test key.
pub fn dedup_tag(petition: &str, normalised_identity: &str) -> [u8; 16] {
    let mut hasher = blake3::Hasher::new_keyed(&[7; 32]);
    hasher.update(petition.as_bytes());
    hasher.update(normalised_identity.as_bytes());
    hasher.finalize().as_bytes()[..16].try_into().unwrap()
}

/// A personal-data commitment `H(salt32 || data)` with a fixed salt.
pub fn commitment(salt: u8, data: &str) -> [u8; 32] {
    HashAlg::Blake3.digest(&[&[salt; 32][..], data.as_bytes()].concat())
}

/// The sample signature, used by the worked example in docs/FORMAT.md part B.
pub fn signature_online() -> Entry {
    Entry::v1(
        ms("2022-11-03T09:15:00Z"),
        "tok-web",
        Record::SignatureAdded(Signature {
            petition_id: id("uk-detwin"),
            country: country("GB"),
            constituency: Some(AreaCode::parse("E14000831").unwrap()),
            ward: None,
            council: text("Newcastle upon Tyne"),
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
    let organiser = "tok-uk-detwin";
    let lhka = "tok-lhka";
    vec![
        Entry::v1(
            ms("2022-09-01T10:00:00Z"),
            organiser,
            Record::CampaignLaunched {
                campaign_id: id("global-detwin"),
                title: "End sister-city links with cities in the PRC".into(),
                launched_on: None,
                target_cities: Some(163),
                countries: Some(7),
            },
        ),
        Entry::v1(
            ms("2022-09-01T10:05:00Z"),
            organiser,
            Record::CampaignCityJoined {
                campaign_id: id("global-detwin"),
                city: "Liverpool".into(),
                country: country("GB"),
                joined_on: None,
            },
        ),
        Entry::v1(
            ms("2022-09-02T08:00:00Z"),
            organiser,
            Record::PetitionOpened {
                petition_id: id("uk-detwin"),
                title: "End UK sister-city links with cities in the PRC".into(),
                text: PetitionText::Full(
                    "We ask UK councils to end their sister-city and friendship links\n\
                     with cities in the People's Republic of China."
                        .into(),
                ),
                target: "UK Parliament".into(),
                closes_on: Some(date("2023-04-01")),
                thresholds: vec![10_000, 100_000],
            },
        ),
        Entry::v1(
            ms("2022-09-02T08:01:00Z"),
            organiser,
            Record::PetitionOpened {
                petition_id: id("example-hashed-text"),
                title: "Example petition whose text is published elsewhere – by hash".into(),
                text: PetitionText::Hash(HashAlg::Blake3.digest(b"published petition text")),
                target: "Example City Council".into(),
                closes_on: None,
                thresholds: vec![],
            },
        ),
        signature_online(),
        Entry::v1(
            ms("2022-12-12T18:00:00Z"),
            lhka,
            Record::SignatureAdded(Signature {
                petition_id: id("uk-detwin"),
                country: country("GB"),
                constituency: None,
                ward: None,
                council: text("Liverpool"),
                channel: Channel::Paper {
                    batch_id: id("lhka-2022-12-11-a"),
                },
                consent_to_share: false,
                dedup_tag: dedup_tag("uk-detwin", "a signer|L1 1JQ"),
                commitment: commitment(2, "name=A. Signer\npostcode=L1 1JQ"),
            }),
        ),
        Entry::v1(
            ms("2022-11-20T12:00:00Z"),
            "tok-web",
            Record::SignatureWithdrawn { index: 42 },
        ),
        Entry::v1(
            ms("2022-11-21T12:00:00Z"),
            organiser,
            Record::SignaturesInvalidated {
                indexes: vec![7, 9],
                reason: InvalidationReason::Duplicate,
                note: None,
            },
        ),
        Entry::v1(
            ms("2022-12-11T17:00:00Z"),
            lhka,
            Record::PaperBatchRecorded {
                batch_id: id("lhka-2022-12-11-a"),
                petition_id: id("uk-detwin"),
                event_id: Some(id("lhka-2022-12-11")),
                stall: text("Lord Street"),
                collector: id("lhka-volunteer-1"),
                sheet_scan_hash: Some(HashAlg::Blake3.digest(b"scan of sheets 1-3")),
                count: 37,
            },
        ),
        Entry::v1(
            ms("2022-09-03T09:00:00Z"),
            organiser,
            Record::TwinLinkRegistered {
                link_id: id("newcastle-taiyuan"),
                city: "Newcastle upon Tyne".into(),
                country: country("GB"),
                partner_city: "Taiyuan".into(),
                partner_country: country("CN"),
                kind: LinkKind::Sister,
                since: Some(PartialDate::parse("1985").unwrap()),
            },
        ),
        Entry::v1(
            ms("2022-09-03T09:01:00Z"),
            organiser,
            Record::TwinLinkRegistered {
                link_id: id("bath-jiangxi"),
                city: "Bath".into(),
                country: country("GB"),
                partner_city: "Jiangxi".into(),
                partner_country: country("CN"),
                kind: LinkKind::Friendship,
                since: None,
            },
        ),
        Entry::v1(
            ms("2022-10-05T12:00:00Z"),
            organiser,
            Record::MotionTabled {
                motion_id: id("ncc-2022-11"),
                council: "Newcastle City Council".into(),
                link_id: Some(id("newcastle-taiyuan")),
                proposer: text("Cllr Wendy Taylor"),
                title: "End the sister city link with Taiyuan".into(),
                text_hash: None,
                tabled_on: Some(date("2022-10-05")),
                source_url: None,
            },
        ),
        Entry::v1(
            ms("2022-11-01T12:00:00Z"),
            organiser,
            Record::MotionTabled {
                motion_id: id("banes-2022-11"),
                council: "Bath and North East Somerset Council".into(),
                link_id: Some(id("bath-jiangxi")),
                proposer: text("Cllr Andy Furse"),
                title: "End the friendship link with Jiangxi".into(),
                text_hash: Some(HashAlg::Blake3.digest(b"motion text as tabled")),
                tabled_on: None,
                source_url: text("https://democracy.bathnes.gov.uk/"),
            },
        ),
        Entry::v1(
            ms("2022-11-16T12:00:00Z"),
            organiser,
            Record::MotionAmended {
                motion_id: id("banes-2022-11"),
                title: None,
                text_hash: Some(HashAlg::Blake3.digest(b"motion text as amended")),
                amended_on: None,
            },
        ),
        Entry::v1(
            ms("2022-11-02T21:00:00Z"),
            organiser,
            Record::MotionVoted {
                motion_id: id("ncc-2022-11"),
                votes_for: Some(60),
                votes_against: Some(0),
                abstentions: Some(0),
                result: VoteResult::Passed,
                voted_on: Some(date("2022-11-02")),
                majority: text("unanimous"),
            },
        ),
        Entry::v1(
            ms("2022-11-17T21:00:00Z"),
            organiser,
            Record::MotionVoted {
                motion_id: id("banes-2022-11"),
                votes_for: None,
                votes_against: None,
                abstentions: None,
                result: VoteResult::Passed,
                voted_on: Some(date("2022-11-17")),
                majority: text("large majority"),
            },
        ),
        Entry::v1(
            ms("2022-11-02T21:05:00Z"),
            organiser,
            Record::TwinLinkStatusChanged {
                link_id: id("newcastle-taiyuan"),
                status: LinkStatus::Severed,
                effective_on: Some(date("2022-11-02")),
                motion_id: Some(id("ncc-2022-11")),
            },
        ),
        Entry::v1(
            ms("2023-01-10T12:00:00Z"),
            organiser,
            Record::MotionWithdrawn {
                motion_id: id("example-council-2023-01"),
                withdrawn_on: None,
            },
        ),
        Entry::v1(
            ms("2022-09-20T12:00:00Z"),
            organiser,
            Record::EventScheduled {
                event_id: id("uk-joint-action-2022-10-01"),
                kind: EventKind::Rally,
                title: "Joint action day".into(),
                city: "Leeds".into(),
                country: Some(country("GB")),
                place: None,
                starts_at: at("2022-10-01T13:00:00+01:00"),
                ends_at: Some(at("2022-10-01T16:00:00+01:00")),
                group: None,
                joint_action: Some(id("uk-joint-action-2022-10-01")),
            },
        ),
        Entry::v1(
            ms("2022-12-01T12:00:00Z"),
            lhka,
            Record::EventScheduled {
                event_id: id("lhka-2022-12-11"),
                kind: EventKind::Stall,
                title: "Global Detwin in UK".into(),
                city: "Liverpool".into(),
                country: None,
                place: text("Lord Street"),
                starts_at: at("2022-12-11T12:00:00Z"),
                ends_at: None,
                group: text("LHKA"),
                joint_action: Some(id("global-detwin")),
            },
        ),
        Entry::v1(
            ms("2022-12-05T12:00:00Z"),
            lhka,
            Record::EventChanged {
                event_id: id("lhka-2022-12-11"),
                title: None,
                place: None,
                starts_at: None,
                ends_at: Some(at("2022-12-11T15:00:00Z")),
            },
        ),
        Entry::v1(
            ms("2022-12-06T12:00:00Z"),
            organiser,
            Record::EventCancelled {
                event_id: id("example-vigil-2022-12-10"),
                reason: text("Weather warning"),
            },
        ),
        Entry::v1(
            ms("2022-12-11T18:00:00Z"),
            lhka,
            Record::EventHeld {
                event_id: id("lhka-2022-12-11"),
                attendance: Some(40),
            },
        ),
        Entry::v1(
            ms("2023-04-02T00:00:00Z"),
            organiser,
            Record::PetitionClosed {
                petition_id: id("uk-detwin"),
                reason: text("Closing date reached"),
            },
        ),
    ]
}
