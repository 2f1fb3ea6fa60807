//! proptest strategies for every type of the record vocabulary and for whole entries.
//!
//! Strategies generate only valid values (the types and `Record::validate` must accept
//! them), including the edges: empty and full lists, `None` everywhere, the extreme
//! timestamps and non-ASCII text.

#![allow(dead_code)] // shared by test binaries that each use a part

use proptest::collection::btree_set;
use proptest::option::of;
use proptest::prelude::*;
use proptest::strategy::Union;

use ledger::entry::Entry;
use ledger::record::*;

pub fn id() -> impl Strategy<Value = Id> {
    "[a-z0-9][a-z0-9._-]{0,63}".prop_map(|s| Id::parse(&s).unwrap())
}

pub fn country() -> impl Strategy<Value = CountryCode> {
    "[A-Z]{2}".prop_map(|s| CountryCode::parse(&s).unwrap())
}

pub fn area() -> impl Strategy<Value = AreaCode> {
    "[A-Z][0-9]{8}".prop_map(|s| AreaCode::parse(&s).unwrap())
}

pub fn date() -> impl Strategy<Value = Date> {
    (1u16..=9999, 1u8..=12, 1u8..=31)
        .prop_filter_map("no such day", |(y, m, d)| Date::new(y, m, d).ok())
}

pub fn partial_date() -> impl Strategy<Value = PartialDate> {
    prop_oneof![
        (1u16..=9999).prop_map(|y| PartialDate::from_year(y).unwrap()),
        (1u16..=9999, 1u8..=12).prop_map(|(y, m)| PartialDate::from_year_month(y, m).unwrap()),
        date().prop_map(PartialDate::from),
    ]
}

pub fn timestamp() -> impl Strategy<Value = Timestamp> {
    prop_oneof![
        Just(Timestamp::MIN),
        Just(Timestamp::MAX),
        (Timestamp::MIN.unix_seconds()..=Timestamp::MAX.unix_seconds())
            .prop_map(|s| Timestamp::from_unix_seconds(s).unwrap()),
    ]
}

/// A start and a later end.
pub fn span() -> impl Strategy<Value = (Timestamp, Option<Timestamp>)> {
    (
        Timestamp::MIN.unix_seconds()..Timestamp::MAX.unix_seconds(),
        of(1i64..1_000_000),
    )
        .prop_map(|(start, length)| {
            let end = length.map(|l| (start + l).min(Timestamp::MAX.unix_seconds()));
            (
                Timestamp::from_unix_seconds(start).unwrap(),
                end.map(|e| Timestamp::from_unix_seconds(e).unwrap()),
            )
        })
}

/// One line of at most 42 characters of at most 3 bytes each: fits every name limit.
pub fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9À-ÿ一-鿿]([A-Za-z0-9À-ÿ一-鿿 ,.'’()–-]{0,40}[A-Za-z0-9À-ÿ一-鿿])?"
}

pub fn title() -> impl Strategy<Value = String> {
    prop_oneof![
        name(),
        Just("T".repeat(TITLE_MAX_BYTES)),
        Just("é".repeat(TITLE_MAX_BYTES / 2)),
    ]
}

pub fn long_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9À-ÿ一-鿿 ,.'’()–\n-]{1,300}",
        Just("x\n".repeat(TEXT_MAX_BYTES / 2)),
    ]
}

pub fn url() -> impl Strategy<Value = String> {
    "https?://[a-z0-9.-]{1,30}(/[A-Za-z0-9._~%-]{0,20}){0,3}"
}

pub fn hash() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

pub fn petition_text() -> impl Strategy<Value = PetitionText> {
    prop_oneof![
        long_text().prop_map(PetitionText::Full),
        hash().prop_map(PetitionText::Hash),
    ]
}

pub fn channel() -> impl Strategy<Value = Channel> {
    prop_oneof![
        Just(Channel::Online),
        id().prop_map(|batch_id| Channel::Paper { batch_id }),
    ]
}

pub fn signature() -> impl Strategy<Value = Signature> {
    (
        id(),
        country(),
        of(area()),
        of(area()),
        of(name()),
        channel(),
        any::<bool>(),
        any::<[u8; 16]>(),
        hash(),
    )
        .prop_map(
            |(petition_id, country, constituency, ward, council, channel, consent, tag, c)| {
                Signature {
                    petition_id,
                    country,
                    constituency,
                    ward,
                    council,
                    channel,
                    consent_to_share: consent,
                    dedup_tag: tag,
                    commitment: c,
                }
            },
        )
}

fn pick<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(all)
}

pub fn invalidation_reason() -> impl Strategy<Value = InvalidationReason> {
    pick(InvalidationReason::ALL)
}
pub fn link_kind() -> impl Strategy<Value = LinkKind> {
    pick(LinkKind::ALL)
}
pub fn link_status() -> impl Strategy<Value = LinkStatus> {
    pick(LinkStatus::ALL)
}
pub fn vote_result() -> impl Strategy<Value = VoteResult> {
    pick(VoteResult::ALL)
}
pub fn event_kind() -> impl Strategy<Value = EventKind> {
    pick(EventKind::ALL)
}

/// Any record, every variant equally likely.
pub fn record() -> impl Strategy<Value = Record> {
    Union::new(vec![
        (id(), title(), of(date()), of(1u32..), of(1u32..))
            .prop_map(
                |(campaign_id, title, launched_on, target_cities, countries)| {
                    Record::CampaignLaunched {
                        campaign_id,
                        title,
                        launched_on,
                        target_cities,
                        countries,
                    }
                },
            )
            .boxed(),
        (id(), name(), country(), of(date()))
            .prop_map(
                |(campaign_id, city, country, joined_on)| Record::CampaignCityJoined {
                    campaign_id,
                    city,
                    country,
                    joined_on,
                },
            )
            .boxed(),
        (
            id(),
            title(),
            petition_text(),
            name(),
            of(date()),
            btree_set(1u64.., 0..=MAX_THRESHOLDS),
        )
            .prop_map(
                |(petition_id, title, text, target, closes_on, thresholds)| {
                    Record::PetitionOpened {
                        petition_id,
                        title,
                        text,
                        target,
                        closes_on,
                        thresholds: thresholds.into_iter().collect(),
                    }
                },
            )
            .boxed(),
        (id(), of(title()))
            .prop_map(|(petition_id, reason)| Record::PetitionClosed {
                petition_id,
                reason,
            })
            .boxed(),
        signature().prop_map(Record::SignatureAdded).boxed(),
        any::<u64>()
            .prop_map(|index| Record::SignatureWithdrawn { index })
            .boxed(),
        (
            btree_set(any::<u64>(), 1..40),
            invalidation_reason(),
            of(title()),
        )
            .prop_map(|(indexes, reason, note)| Record::SignaturesInvalidated {
                indexes: indexes.into_iter().collect(),
                reason,
                note,
            })
            .boxed(),
        (id(), id(), of(id()), of(name()), id(), of(hash()), 1u32..)
            .prop_map(
                |(batch_id, petition_id, event_id, stall, collector, sheet_scan_hash, count)| {
                    Record::PaperBatchRecorded {
                        batch_id,
                        petition_id,
                        event_id,
                        stall,
                        collector,
                        sheet_scan_hash,
                        count,
                    }
                },
            )
            .boxed(),
        (
            id(),
            name(),
            country(),
            name(),
            country(),
            link_kind(),
            of(partial_date()),
        )
            .prop_filter(
                "a city cannot twin with itself",
                |(_, c, cc, p, pc, _, _)| (c, cc) != (p, pc),
            )
            .prop_map(
                |(link_id, city, country, partner_city, partner_country, kind, since)| {
                    Record::TwinLinkRegistered {
                        link_id,
                        city,
                        country,
                        partner_city,
                        partner_country,
                        kind,
                        since,
                    }
                },
            )
            .boxed(),
        (id(), link_status(), of(date()), of(id()))
            .prop_map(
                |(link_id, status, effective_on, motion_id)| Record::TwinLinkStatusChanged {
                    link_id,
                    status,
                    effective_on,
                    motion_id,
                },
            )
            .boxed(),
        (
            id(),
            name(),
            of(id()),
            of(name()),
            title(),
            of(hash()),
            of(date()),
            of(url()),
        )
            .prop_map(
                |(motion_id, council, link_id, proposer, title, text_hash, tabled_on, url)| {
                    Record::MotionTabled {
                        motion_id,
                        council,
                        link_id,
                        proposer,
                        title,
                        text_hash,
                        tabled_on,
                        source_url: url,
                    }
                },
            )
            .boxed(),
        (id(), of(title()), of(hash()), of(date()))
            .prop_filter("an amendment changes something", |(_, t, h, _)| {
                t.is_some() || h.is_some()
            })
            .prop_map(
                |(motion_id, title, text_hash, amended_on)| Record::MotionAmended {
                    motion_id,
                    title,
                    text_hash,
                    amended_on,
                },
            )
            .boxed(),
        (
            id(),
            of(any::<u32>()),
            of(any::<u32>()),
            of(any::<u32>()),
            vote_result(),
            of(date()),
            of(name()),
        )
            .prop_map(
                |(motion_id, f, a, abst, result, voted_on, majority)| Record::MotionVoted {
                    motion_id,
                    votes_for: f,
                    votes_against: a,
                    abstentions: abst,
                    result,
                    voted_on,
                    majority,
                },
            )
            .boxed(),
        (id(), of(date()))
            .prop_map(|(motion_id, withdrawn_on)| Record::MotionWithdrawn {
                motion_id,
                withdrawn_on,
            })
            .boxed(),
        (
            (id(), event_kind(), title(), name(), of(country())),
            (of(name()), span(), of(name()), of(id())),
        )
            .prop_map(
                |(
                    (event_id, kind, title, city, country),
                    (place, (starts_at, ends_at), group, joint_action),
                )| Record::EventScheduled {
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
                },
            )
            .boxed(),
        (id(), of(title()), of(name()), of(span()), of(timestamp()))
            .prop_filter_map(
                "a change changes something",
                |(event_id, title, place, span, end)| {
                    let (starts_at, ends_at) = match span {
                        Some((start, end)) => (Some(start), end),
                        None => (None, end),
                    };
                    (title.is_some() || place.is_some() || starts_at.is_some() || ends_at.is_some())
                        .then_some(Record::EventChanged {
                            event_id,
                            title,
                            place,
                            starts_at,
                            ends_at,
                        })
                },
            )
            .boxed(),
        (id(), of(title()))
            .prop_map(|(event_id, reason)| Record::EventCancelled { event_id, reason })
            .boxed(),
        (id(), of(any::<u32>()))
            .prop_map(|(event_id, attendance)| Record::EventHeld {
                event_id,
                attendance,
            })
            .boxed(),
    ])
}

pub fn author() -> impl Strategy<Value = String> {
    "[!-~]{1,64}"
}

pub fn entry() -> impl Strategy<Value = Entry> {
    (any::<u64>(), author(), record()).prop_map(|(t, a, r)| Entry::v1(t, a, r))
}
