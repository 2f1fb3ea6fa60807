//! The entry encoding as a contract: every record kind round-trips, the sample entries
//! encode to exactly the bytes in `tests/data/entries-v1.golden`, and decoding refuses
//! every non-canonical or invalid encoding without panicking.
//!
//! Run with `UPDATE_GOLDEN=1` to rewrite the golden file after a deliberate change —
//! which, for a log format, should only ever mean *adding* lines.

// Included by path: `tests/support/mod.rs` belongs to the store tests.
#[path = "support/arb.rs"]
mod arb;
#[path = "support/samples.rs"]
mod samples;

use std::collections::BTreeSet;
use std::path::Path;

use ledger::entry::{Entry, AUTHOR_MAX_BYTES, MAX_ENTRY_BYTES};
use ledger::record::*;
use ledger::Error;
use proptest::prelude::*;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// Re-writes the varint that starts at `at` with one redundant continuation byte.
fn overlong_at(bytes: &[u8], at: usize) -> Vec<u8> {
    let len = bytes[at..].iter().position(|b| b & 0x80 == 0).unwrap() + 1;
    let mut out = bytes[..at + len].to_vec();
    *out.last_mut().unwrap() |= 0x80;
    out.push(0x00);
    out.extend_from_slice(&bytes[at + len..]);
    out
}

/// The position of the only byte in which two equally long encodings differ.
fn only_difference(a: &[u8], b: &[u8]) -> usize {
    assert_eq!(a.len(), b.len());
    let diffs: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    assert_eq!(diffs.len(), 1, "expected exactly one differing byte");
    diffs[0]
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in encoding")
}

fn encode(entry: &Entry) -> Vec<u8> {
    entry.encode().unwrap()
}

/// Encodes without validating, to build well-formed encodings of invalid records.
fn encode_unchecked(entry: &Entry) -> Vec<u8> {
    postcard::to_allocvec(entry).unwrap()
}

fn event_held(attendance: Option<u32>) -> Entry {
    Entry::v1(
        1_670_781_600_000,
        "tok-lhka",
        Record::EventHeld {
            event_id: samples::id("lhka-2022-12-11"),
            attendance,
        },
    )
}

fn motion_withdrawn(on: &str) -> Entry {
    Entry::v1(
        1_673_352_000_000,
        "tok-uk-detwin",
        Record::MotionWithdrawn {
            motion_id: samples::id("ncc-2022-11"),
            withdrawn_on: Some(samples::date(on)),
        },
    )
}

#[track_caller]
fn assert_decode_error(bytes: &[u8]) -> String {
    match Entry::decode(bytes) {
        Err(Error::Decode(why)) => why,
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[track_caller]
fn assert_non_canonical(bytes: &[u8]) {
    assert!(
        matches!(Entry::decode(bytes), Err(Error::NonCanonical)),
        "{:?}",
        Entry::decode(bytes)
    );
}

#[track_caller]
fn assert_invalid(bytes: &[u8]) {
    assert!(
        matches!(Entry::decode(bytes), Err(Error::InvalidRecord(_))),
        "{:?}",
        Entry::decode(bytes)
    );
}

// --- round trips and the golden file ---------------------------------------------

#[test]
fn every_sample_round_trips_and_all_kinds_are_covered() {
    let mut kinds = BTreeSet::new();
    for entry in samples::entries() {
        let bytes = encode(&entry);
        let back = Entry::decode(&bytes).unwrap();
        assert_eq!(back, entry);
        assert_eq!(encode(&back), bytes);
        // The record's discriminant follows the envelope tag, time and author.
        let header = 1 + varint(entry.time_ms()).len() + 1 + entry.author().len();
        assert_eq!(bytes[header], entry.record().discriminant() as u8);
        assert_eq!(entry.kind(), Record::KINDS[bytes[header] as usize]);
        kinds.insert(entry.kind());
    }
    assert_eq!(kinds, Record::KINDS.into_iter().collect());
}

#[test]
fn samples_round_trip_through_json_too() {
    for entry in samples::entries() {
        let json = serde_json::to_string(&entry).unwrap();
        assert_eq!(serde_json::from_str::<Entry>(&json).unwrap(), entry);
    }
}

#[test]
fn golden_file() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/entries-v1.golden");
    let expected: String = samples::entries()
        .iter()
        .map(|e| format!("{} {}\n", e.kind(), hex(&encode(e))))
        .collect();
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&path, &expected).unwrap();
    }
    let golden = std::fs::read_to_string(&path)
        .expect("tests/data/entries-v1.golden (UPDATE_GOLDEN=1 creates it)");
    assert!(
        golden == expected,
        "the encoding of the sample entries changed; if that is intended, run with \
         UPDATE_GOLDEN=1 and review the diff"
    );

    let mut kinds = BTreeSet::new();
    for line in golden.lines() {
        let (kind, hex_bytes) = line.split_once(' ').expect("<kind> <hex>");
        let bytes = unhex(hex_bytes);
        let entry = Entry::decode(&bytes).unwrap();
        assert_eq!(entry.kind(), kind);
        assert_eq!(encode(&entry), bytes);
        kinds.insert(kind);
    }
    assert_eq!(
        kinds.len(),
        Record::KINDS.len(),
        "golden file covers every kind"
    );
}

#[test]
fn worked_example_of_the_format_doc() {
    // docs/FORMAT.md (part B, worked example) annotates these exact bytes.
    const ANNOTATED: &str = "\
        00 a0e496e6c330 07 746f6b2d776562 04 09 756b2d64657477696e 4742 01 09 453134303030383331 \
        00 01 13 4e6577636173746c652075706f6e2054796e65 00 01 \
        13e9226ed89f079f677d0746f89a35b4 \
        3c07d0d791fe21d2f2645612724dca3a546021f239636aeacfce42ff698f3421";
    let bytes = encode(&samples::signature_online());
    assert_eq!(hex(&bytes), ANNOTATED.replace(' ', ""));
}

// --- strictness ---------------------------------------------------------------------

#[test]
fn trailing_bytes_are_refused() {
    for entry in samples::entries() {
        let mut bytes = encode(&entry);
        bytes.push(0);
        assert!(assert_decode_error(&bytes).contains("trailing"));
    }
}

#[test]
fn every_proper_prefix_is_refused() {
    for entry in samples::entries() {
        let bytes = encode(&entry);
        for len in 0..bytes.len() {
            assert!(
                Entry::decode(&bytes[..len]).is_err(),
                "{} prefix {len}",
                entry.kind()
            );
        }
    }
}

#[test]
fn over_long_varints_are_refused() {
    let entry = event_held(Some(0));
    let bytes = encode(&entry);
    let time_at = 1;
    let author_len_at = time_at + varint(entry.time_ms()).len();
    let record_at = author_len_at + 1 + entry.author().len();
    let id_len_at = record_at + 1;
    let attendance_at = bytes.len() - 1;
    assert_eq!(bytes[attendance_at], 0);
    for at in [
        0,
        time_at,
        author_len_at,
        record_at,
        id_len_at,
        attendance_at,
    ] {
        assert_non_canonical(&overlong_at(&bytes, at));
    }
    // More bytes than a u32 varint may have at all.
    let mut too_long = bytes[..attendance_at].to_vec();
    too_long.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    assert!(assert_decode_error(&too_long).contains("varint"));
}

#[test]
fn bool_bytes_other_than_0_and_1_are_refused() {
    let consenting = samples::signature_online();
    let mut declining = consenting.clone();
    if let Entry::V1 {
        record: Record::SignatureAdded(s),
        ..
    } = &mut declining
    {
        s.consent_to_share = false;
    }
    let mut bytes = encode(&consenting);
    let at = only_difference(&bytes, &encode(&declining));
    assert_eq!(bytes[at], 1);
    bytes[at] = 2;
    assert!(assert_decode_error(&bytes).contains("bool"));
}

#[test]
fn option_tags_other_than_0_and_1_are_refused() {
    let mut bytes = encode(&event_held(None));
    *bytes.last_mut().unwrap() = 2;
    assert!(assert_decode_error(&bytes).contains("option"));
}

#[test]
fn unknown_discriminants_are_refused() {
    let entry = event_held(Some(40));
    let bytes = encode(&entry);
    let record_at = 1 + varint(entry.time_ms()).len() + 1 + entry.author().len();
    assert_eq!(bytes[record_at], 17);

    let mut unknown_record = bytes.clone();
    unknown_record[record_at] = Record::KINDS.len() as u8;
    assert!(assert_decode_error(&unknown_record).contains("discriminant"));

    let mut unknown_version = bytes.clone();
    unknown_version[0] = 1;
    assert!(assert_decode_error(&unknown_version).contains("discriminant"));

    // An inner enum: the status of a twin link has three values.
    let severed = samples::entries()
        .into_iter()
        .find(|e| e.kind() == "twin_link.status_changed")
        .unwrap();
    let mut bytes = encode(&severed);
    let status_at = find(&bytes, b"newcastle-taiyuan") + "newcastle-taiyuan".len();
    assert_eq!(bytes[status_at], LinkStatus::Severed as u8);
    bytes[status_at] = 3;
    assert!(assert_decode_error(&bytes).contains("discriminant"));
}

#[test]
fn invalid_utf8_is_refused() {
    let entry = event_held(Some(40));
    let mut bytes = encode(&entry);
    let author_at = 1 + varint(entry.time_ms()).len() + 1;
    bytes[author_at] = 0xff;
    assert!(assert_decode_error(&bytes).contains("UTF-8"));

    let mut bytes = encode(&entry);
    let id_at = find(&bytes, b"lhka-2022-12-11");
    bytes[id_at + 1] = 0xc3; // a lead byte followed by ASCII
    assert!(assert_decode_error(&bytes).contains("UTF-8"));
}

#[test]
fn oversized_entries_are_refused() {
    let huge = vec![0u8; MAX_ENTRY_BYTES + 1];
    assert!(matches!(
        Entry::decode(&huge),
        Err(Error::EntryTooLarge(n)) if n == MAX_ENTRY_BYTES + 1
    ));

    // 8000 ten-byte indexes do not fit in one entry.
    let entry = Entry::v1(
        0,
        "tok-admin",
        Record::SignaturesInvalidated {
            indexes: (0..8000).map(|i| u64::MAX - 8000 + i).collect(),
            reason: InvalidationReason::Fraud,
            note: None,
        },
    );
    assert!(matches!(entry.encode(), Err(Error::EntryTooLarge(n)) if n > MAX_ENTRY_BYTES));
    let mut out = vec![1, 2, 3];
    assert!(entry.encode_into(&mut out).is_err());
    assert!(out.is_empty());
    // ...while the same number of small indexes does.
    let fits = Entry::v1(
        0,
        "tok-admin",
        Record::SignaturesInvalidated {
            indexes: (0..8000).collect(),
            reason: InvalidationReason::Fraud,
            note: None,
        },
    );
    assert_eq!(Entry::decode(&encode(&fits)).unwrap(), fits);
}

#[test]
fn invalid_dates_in_well_formed_encodings_are_refused() {
    let november = encode(&motion_withdrawn("2022-11-02"));
    let month_at = only_difference(&november, &encode(&motion_withdrawn("2022-12-02")));
    let mut bytes = november.clone();
    bytes[month_at] = 13;
    assert_invalid(&bytes);
    bytes[month_at] = 0;
    assert_invalid(&bytes);

    let feb = encode(&motion_withdrawn("2023-02-28"));
    let day_at = only_difference(&feb, &encode(&motion_withdrawn("2023-02-27")));
    let mut bytes = feb.clone();
    bytes[day_at] = 29;
    assert_invalid(&bytes);
    bytes[day_at] = 0;
    assert_invalid(&bytes);

    let year_one = encode(&motion_withdrawn("0001-01-01"));
    let year_at = only_difference(&year_one, &encode(&motion_withdrawn("0002-01-01")));
    let mut bytes = year_one.clone();
    bytes[year_at] = 0;
    assert_invalid(&bytes);

    // A partial date with month 13: `since` is Month(1985, 5) = [1, 0xc1, 0x0f, 5].
    let mut link = samples::entries()
        .into_iter()
        .find(|e| e.kind() == "twin_link.registered")
        .unwrap();
    if let Entry::V1 {
        record: Record::TwinLinkRegistered { since, .. },
        ..
    } = &mut link
    {
        *since = Some(PartialDate::parse("1985-05").unwrap());
    }
    let mut bytes = encode(&link);
    let n = bytes.len();
    assert_eq!(&bytes[n - 5..], &[1, 1, 0xc1, 0x0f, 5]);
    bytes[n - 1] = 13;
    assert_invalid(&bytes);
}

#[test]
fn invalid_timestamps_in_well_formed_encodings_are_refused() {
    let scheduled = samples::entries()
        .into_iter()
        .find(|e| e.kind() == "event.scheduled")
        .unwrap();
    let bytes = encode(&scheduled);
    let Record::EventScheduled { starts_at, .. } = scheduled.record() else {
        unreachable!()
    };
    let zigzag = |s: i64| ((s << 1) ^ (s >> 63)) as u64;
    let start = varint(zigzag(starts_at.unix_seconds()));
    let at = find(&bytes, &start);
    for beyond in [
        Timestamp::MAX.unix_seconds() + 1,
        Timestamp::MIN.unix_seconds() - 1,
    ] {
        let spliced = [
            &bytes[..at],
            &varint(zigzag(beyond))[..],
            &bytes[at + start.len()..],
        ]
        .concat();
        assert_invalid(&spliced);
    }
}

#[test]
fn invalid_ids_and_codes_in_well_formed_encodings_are_refused() {
    let signature = encode(&samples::signature_online());
    for (needle, replacement) in [
        (&b"uk-detwin"[..], &b"Uk-detwin"[..]),
        (b"uk-detwin", b"-k-detwin"),
        (b"uk-detwin", b"uk detwin"),
        (b"GB", b"gb"),
        (b"GB", b"G1"),
        (b"E14000831", b"e14000831"),
        (b"E14000831", b"E1400083X"),
    ] {
        let mut bytes = signature.clone();
        let at = find(&bytes, needle);
        bytes[at..at + needle.len()].copy_from_slice(replacement);
        assert_invalid(&bytes);
    }
}

#[test]
fn records_that_break_validation_rules_are_refused() {
    let entry = |record| Entry::v1(1, "tok-test", record);
    let bad = [
        entry(Record::PetitionClosed {
            petition_id: samples::id("uk-detwin"),
            reason: Some("two\nlines".into()),
        }),
        entry(Record::PetitionClosed {
            petition_id: samples::id("uk-detwin"),
            reason: Some(" padded".into()),
        }),
        entry(Record::CampaignCityJoined {
            campaign_id: samples::id("global-detwin"),
            city: "".into(),
            country: samples::country("GB"),
            joined_on: None,
        }),
        entry(Record::CampaignCityJoined {
            campaign_id: samples::id("global-detwin"),
            city: "x".repeat(NAME_MAX_BYTES + 1),
            country: samples::country("GB"),
            joined_on: None,
        }),
        entry(Record::PetitionOpened {
            petition_id: samples::id("p"),
            title: "t".into(),
            text: PetitionText::Full("x".repeat(TEXT_MAX_BYTES + 1)),
            target: "UK Parliament".into(),
            closes_on: None,
            thresholds: vec![],
        }),
        entry(Record::PetitionOpened {
            petition_id: samples::id("p"),
            title: "t".into(),
            text: PetitionText::Full("a\r\nb".into()),
            target: "UK Parliament".into(),
            closes_on: None,
            thresholds: vec![],
        }),
        entry(Record::PetitionOpened {
            petition_id: samples::id("p"),
            title: "t".into(),
            text: PetitionText::Hash([0; 32]),
            target: "UK Parliament".into(),
            closes_on: None,
            thresholds: vec![100_000, 10_000],
        }),
        entry(Record::PetitionOpened {
            petition_id: samples::id("p"),
            title: "t".into(),
            text: PetitionText::Hash([0; 32]),
            target: "UK Parliament".into(),
            closes_on: None,
            thresholds: vec![0, 10],
        }),
        entry(Record::SignaturesInvalidated {
            indexes: vec![],
            reason: InvalidationReason::Duplicate,
            note: None,
        }),
        entry(Record::SignaturesInvalidated {
            indexes: vec![9, 7],
            reason: InvalidationReason::Duplicate,
            note: None,
        }),
        entry(Record::SignaturesInvalidated {
            indexes: vec![7, 7],
            reason: InvalidationReason::Duplicate,
            note: None,
        }),
        entry(Record::PaperBatchRecorded {
            batch_id: samples::id("b"),
            petition_id: samples::id("p"),
            event_id: None,
            stall: None,
            collector: samples::id("c"),
            sheet_scan_hash: None,
            count: 0,
        }),
        entry(Record::TwinLinkRegistered {
            link_id: samples::id("l"),
            city: "Bath".into(),
            country: samples::country("GB"),
            partner_city: "Bath".into(),
            partner_country: samples::country("GB"),
            kind: LinkKind::Other,
            since: None,
        }),
        entry(Record::MotionTabled {
            motion_id: samples::id("m"),
            council: "Newcastle City Council".into(),
            link_id: None,
            proposer: None,
            title: "t".into(),
            text_hash: None,
            tabled_on: None,
            source_url: Some("javascript:alert(1)".into()),
        }),
        entry(Record::MotionAmended {
            motion_id: samples::id("m"),
            title: None,
            text_hash: None,
            amended_on: Some(samples::date("2022-11-16")),
        }),
        entry(Record::EventScheduled {
            event_id: samples::id("e"),
            kind: EventKind::March,
            title: "t".into(),
            city: "Leeds".into(),
            country: None,
            place: None,
            starts_at: samples::at("2022-10-01T13:00:00Z"),
            ends_at: Some(samples::at("2022-10-01T13:00:00Z")),
            group: None,
            joint_action: None,
        }),
        entry(Record::EventChanged {
            event_id: samples::id("e"),
            title: None,
            place: None,
            starts_at: None,
            ends_at: None,
        }),
        entry(Record::CampaignLaunched {
            campaign_id: samples::id("c"),
            title: "t".into(),
            launched_on: None,
            target_cities: Some(0),
            countries: None,
        }),
        Entry::v1(1, "tok with space", Record::SignatureWithdrawn { index: 1 }),
    ];
    for (i, entry) in bad.iter().enumerate() {
        assert!(
            matches!(entry.encode(), Err(Error::InvalidRecord(_))),
            "case {i} encodes"
        );
        assert_invalid(&encode_unchecked(entry));
    }
}

#[test]
fn error_messages_do_not_echo_contents() {
    let secret = "Wendy";
    let bad = Entry::v1(
        1,
        "tok-test",
        Record::MotionTabled {
            motion_id: samples::id("m"),
            council: format!("{secret}\n"),
            link_id: None,
            proposer: None,
            title: "t".into(),
            text_hash: None,
            tabled_on: None,
            source_url: None,
        },
    );
    let message = Entry::decode(&encode_unchecked(&bad))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("council") && !message.contains(secret),
        "{message}"
    );
}

// --- signature.added read in place ------------------------------------------------

/// Whether `Entry::decode_signature_added` and `Entry::decode` agree on `bytes`: the
/// first accepts exactly the `signature.added` entries the second accepts, with the same
/// values, and nothing else.
fn in_place_agrees(bytes: &[u8]) -> Result<(), String> {
    let in_place = Entry::decode_signature_added(bytes).map(|s| s.to_entry());
    let decoded = Entry::decode(bytes)
        .ok()
        .filter(|e| matches!(e.record(), Record::SignatureAdded(_)));
    if in_place == decoded {
        Ok(())
    } else {
        Err(format!(
            "in place {in_place:?}, decoded {decoded:?}, bytes {}",
            hex(bytes)
        ))
    }
}

/// Signature entries with every field at its edges: none or some, online or paper,
/// the longest and non-ASCII council, the smallest and largest times.
fn signature_samples() -> Vec<Entry> {
    let mut samples: Vec<Entry> = samples::entries()
        .into_iter()
        .filter(|e| matches!(e.record(), Record::SignatureAdded(_)))
        .collect();
    let Record::SignatureAdded(online) = samples::signature_online().into_record() else {
        unreachable!()
    };
    let bare = Signature {
        constituency: None,
        ward: None,
        council: None,
        ..online.clone()
    };
    let full = Signature {
        ward: Some(AreaCode::parse("E05001234").unwrap()),
        council: Some("é".repeat(NAME_MAX_BYTES / 2)),
        channel: Channel::Paper {
            batch_id: Id::parse(&"b".repeat(64)).unwrap(),
        },
        ..online.clone()
    };
    samples.push(Entry::v1(0, "t", Record::SignatureAdded(bare)));
    samples.push(Entry::v1(
        u64::MAX,
        "~".repeat(64),
        Record::SignatureAdded(full),
    ));
    samples
}

#[test]
fn signatures_read_in_place_agree_with_decode_under_every_one_byte_change() {
    let samples = signature_samples();
    assert_eq!(samples.len(), 4);
    let mut checked = 0;
    for entry in &samples {
        let bytes = encode(entry);
        assert_eq!(
            Entry::decode_signature_added(&bytes).map(|s| s.to_entry()),
            Some(entry.clone())
        );
        let mut variants = Vec::new();
        for i in 0..bytes.len() {
            for byte in 0..=255u8 {
                let mut changed = bytes.clone();
                changed[i] = byte;
                variants.push(changed);
            }
            for byte in [0x00, 0x01, 0x02, 0x09, 0x20, b'a', 0x7F, 0x80, 0xFF] {
                let mut inserted = bytes.clone();
                inserted.insert(i, byte);
                variants.push(inserted);
            }
            let mut removed = bytes.clone();
            removed.remove(i);
            variants.push(removed);
            variants.push(bytes[..i].to_vec());
            if i == 0 || bytes[i - 1] & 0x80 == 0 {
                // Every varint (and every byte that could start one) spelled too long.
                if bytes[i..].iter().any(|b| b & 0x80 == 0) {
                    variants.push(overlong_at(&bytes, i));
                }
            }
        }
        variants.push([&bytes[..], &[0x00]].concat());
        for variant in &variants {
            in_place_agrees(variant).unwrap();
        }
        checked += variants.len();
    }
    assert!(checked > 100_000, "{checked}");
}

#[test]
fn signatures_read_in_place_refuse_well_formed_invalid_values() {
    let Record::SignatureAdded(online) = samples::signature_online().into_record() else {
        unreachable!()
    };
    let with_council = |council: &str| {
        Entry::v1(
            1,
            "tok-web",
            Record::SignatureAdded(Signature {
                council: Some(council.to_string()),
                ..online.clone()
            }),
        )
    };
    let long = "x".repeat(NAME_MAX_BYTES + 1);
    let mut invalid: Vec<Entry> = ["", " x", "x ", "a\nb", "a\u{2028}b", "x\u{3000}", &long]
        .iter()
        .map(|c| with_council(c))
        .collect();
    let signature = Record::SignatureAdded(online.clone());
    for author in ["", "tok web", "tök", &"t".repeat(AUTHOR_MAX_BYTES + 1)] {
        invalid.push(Entry::v1(1, author, signature.clone()));
    }
    for entry in invalid {
        let bytes = encode_unchecked(&entry);
        assert!(Entry::decode(&bytes).is_err(), "{entry:?}");
        assert_eq!(Entry::decode_signature_added(&bytes), None, "{entry:?}");
    }
    // Too long for an entry, though nothing else is wrong with it: a decoder refuses it
    // on its length alone.
    let mut oversized = encode(&samples::signature_online());
    oversized.resize(MAX_ENTRY_BYTES + 1, 0);
    assert!(Entry::decode(&oversized).is_err());
    assert_eq!(Entry::decode_signature_added(&oversized), None);
}

/// Where the petition id of a signature entry ends in its encoding.
fn petition_id_end(entry: &Entry) -> usize {
    let Record::SignatureAdded(s) = entry.record() else {
        unreachable!("a signature")
    };
    let author = entry.author().len();
    let petition = s.petition_id.as_str().len();
    // envelope, time, author, record discriminant, petition id (length < 128)
    1 + varint(entry.time_ms()).len() + varint(author as u64).len() + author + 1 + 1 + petition
}

// --- properties ---------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_entries_round_trip(entry in arb::entry()) {
        let bytes = entry.encode().unwrap();
        prop_assert!(bytes.len() <= MAX_ENTRY_BYTES);
        let back = Entry::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &entry);
        prop_assert_eq!(back.encode().unwrap(), bytes);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(entry) = Entry::decode(&bytes) {
            prop_assert_eq!(entry.encode().unwrap(), bytes);
        }
    }

    /// Random record bodies behind a valid envelope reach every record decoder.
    #[test]
    fn random_record_bodies_never_panic(
        kind in 0u8..20,
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let bytes = [&[0x00, 0x01, 0x01, b'a', kind][..], &body].concat();
        if let Ok(entry) = Entry::decode(&bytes) {
            prop_assert_eq!(entry.encode().unwrap(), bytes);
        }
    }

    /// Whatever a one-byte change, insertion or deletion does to a valid entry,
    /// decoding either refuses it or accepts exactly one canonical value.
    #[test]
    fn mutated_entries_are_refused_or_canonical(
        entry in arb::entry(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        how in 0u8..3,
    ) {
        let mut bytes = entry.encode().unwrap();
        let i = at.index(bytes.len());
        match how {
            0 => bytes[i] = byte,
            1 => bytes.insert(i, byte),
            _ => { bytes.remove(i); }
        }
        if let Ok(decoded) = Entry::decode(&bytes) {
            prop_assert_eq!(decoded.encode().unwrap(), bytes);
        }
    }

    /// Any entry: a signature is read in place as it decodes, anything else is not.
    #[test]
    fn entries_read_in_place_as_they_decode(entry in arb::entry()) {
        let bytes = entry.encode().unwrap();
        prop_assert_eq!(
            Entry::decode_signature_added(&bytes).is_some(),
            matches!(entry.record(), Record::SignatureAdded(_))
        );
        in_place_agrees(&bytes).map_err(TestCaseError::fail)?;
    }

    /// Random signatures, then one byte changed, inserted or removed, or random bytes
    /// after the signature's first field: reading in place and decoding agree.
    #[test]
    fn mutated_signatures_read_in_place_as_they_decode(
        time_ms in any::<u64>(),
        author in arb::author(),
        signature in arb::signature(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        how in 0u8..4,
        tail in proptest::collection::vec(any::<u8>(), 0..160),
    ) {
        let entry = Entry::v1(time_ms, author, Record::SignatureAdded(signature));
        let mut bytes = entry.encode().unwrap();
        in_place_agrees(&bytes).map_err(TestCaseError::fail)?;
        prop_assert!(Entry::decode_signature_added(&bytes).is_some());
        let i = at.index(bytes.len());
        match how {
            0 => bytes[i] = byte,
            1 => bytes.insert(i, byte),
            2 => { bytes.remove(i); }
            _ => {
                bytes.truncate(petition_id_end(&entry));
                bytes.extend_from_slice(&tail);
            }
        }
        in_place_agrees(&bytes).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn text_forms_round_trip(
        date in arb::date(),
        partial in arb::partial_date(),
        at in arb::timestamp(),
        id in arb::id(),
        area in arb::area(),
    ) {
        prop_assert_eq!(Date::parse(&date.to_string()).unwrap(), date);
        prop_assert_eq!(PartialDate::parse(&partial.to_string()).unwrap(), partial);
        prop_assert_eq!(Timestamp::parse(&at.to_string()).unwrap(), at);
        prop_assert_eq!(at.date().days_since_unix_epoch(), at.unix_seconds().div_euclid(86_400));
        prop_assert_eq!(Id::parse(id.as_str()).unwrap(), id);
        prop_assert_eq!(AreaCode::parse(area.as_str()).unwrap(), area);
    }

    #[test]
    fn offsets_shift_by_exactly_the_offset(
        at in arb::timestamp(),
        hours in 0i64..24,
        minutes in 0i64..60,
        east in any::<bool>(),
    ) {
        let offset = (hours * 3600 + minutes * 60) * if east { 1 } else { -1 };
        let local = at.unix_seconds() + offset;
        prop_assume!(Timestamp::from_unix_seconds(local).is_ok());
        let text = Timestamp::from_unix_seconds(local).unwrap().to_string();
        let sign = if east { '+' } else { '-' };
        let with_offset = format!("{}{sign}{hours:02}:{minutes:02}", &text[..19]);
        prop_assert_eq!(Timestamp::parse(&with_offset).unwrap(), at);
    }
}
