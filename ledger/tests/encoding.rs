//! The entry encoding as a contract: every record kind round-trips, the sample entries
//! encode to exactly the bytes in `tests/data/entries-v1.golden`, and decoding refuses
//! every non-canonical or invalid encoding without panicking.
//!
//! Run with `UPDATE_GOLDEN=1` to rewrite the golden file after a deliberate change —
//! which, for a log format, should only ever mean *adding* lines.
//!
//! Invalid values cannot be built through the record's types, so the tests of refusals
//! build well-formed *bytes* of invalid values: the fields of a kind encoded as a tuple
//! of plain strings and numbers ([`entry_bytes`]), or a valid encoding with bytes
//! patched. Each such mirror is checked against the real encoding with a valid value.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ledger::entry::{Entry, AUTHOR_MAX_BYTES, MAX_ENTRY_BYTES};
use ledger::record::*;
use ledger::{DedupTag, Error, Hash};
use proptest::prelude::*;
use serde::Serialize;
use test_support::values::{at, country, date, id, name, partial_date, title};
use test_support::{arb, records, samples};

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

/// Encodes without validating, to build well-formed encodings of records that break a
/// cross-field rule (the only invalid records the types can hold).
fn encode_unchecked(entry: &Entry) -> Vec<u8> {
    postcard::to_allocvec(entry).unwrap()
}

/// The author of [`entry_bytes`].
const AUTHOR: &str = "tok-test";

/// The bytes of a v1 entry (time 1, by [`AUTHOR`]) whose record is of kind `kind` with
/// `fields` encoded in order, whatever their types: a well-formed encoding of values the
/// kind's types may refuse. postcard writes a struct as its fields in order and a
/// newtype variant as its discriminant then the struct, so a tuple of the same shape
/// with plain strings, numbers and lists gives the same bytes for the same values.
fn entry_bytes(kind: &str, fields: impl Serialize) -> Vec<u8> {
    let discriminant = Record::KINDS
        .iter()
        .position(|k| *k == kind)
        .expect("a kind of the table") as u32;
    postcard::to_allocvec(&(0u32, 1u64, AUTHOR, discriminant, fields)).unwrap()
}

fn event_held(attendance: Option<u32>) -> Entry {
    Entry::v1(
        1_670_781_600_000,
        "tok-lhka",
        records::event_held("lhka-2022-12-11", attendance).into(),
    )
}

fn motion_withdrawn(on: &str) -> Entry {
    Entry::v1(
        1_673_352_000_000,
        "tok-uk-detwin",
        MotionWithdrawn {
            withdrawn_on: Some(date(on)),
            ..records::motion_withdrawn("ncc-2022-11")
        }
        .into(),
    )
}

/// The first sample of a kind.
fn sample(kind: &str) -> Entry {
    samples::entries()
        .into_iter()
        .find(|e| e.kind() == kind)
        .expect("a sample of every kind")
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
    assert_eq!(kinds, Record::KINDS.iter().copied().collect());
}

/// Adding a kind to the table without a sample or without a row in docs/FORMAT.md
/// (part B §4) fails here, naming what is missing.
#[test]
fn every_kind_has_a_sample_and_a_row_in_format_md() {
    let sampled: BTreeSet<&str> = samples::entries().iter().map(Entry::kind).collect();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/FORMAT.md");
    let format = std::fs::read_to_string(&path).expect("docs/FORMAT.md");
    let start = format.find("### 4. Records").expect("FORMAT.md part B §4");
    let end = start + format[start..].find("### 5.").expect("FORMAT.md part B §5");
    // Rows such as "| 4 | `signature.added` | `Signature` ... |".
    let rows: BTreeMap<usize, &str> = format[start..end]
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let discriminant = cells.get(1)?.parse().ok()?;
            let kind = cells.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((discriminant, kind))
        })
        .collect();
    for (discriminant, kind) in Record::KINDS.iter().enumerate() {
        assert!(
            sampled.contains(kind),
            "{kind} has no sample in test_support::samples::entries()"
        );
        assert_eq!(
            rows.get(&discriminant),
            Some(kind),
            "docs/FORMAT.md part B §4 has no row `| {discriminant} | `{kind}` | ... |`"
        );
    }
    assert_eq!(
        rows.len(),
        Record::KINDS.len(),
        "docs/FORMAT.md part B §4 has rows for kinds that are not in the table"
    );
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
    let mut bytes = encode(&sample("twin_link.status_changed"));
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
    let large: Vec<u64> = (0..8000).map(|i| u64::MAX - 8000 + i).collect();
    let entry = Entry::v1(
        0,
        "tok-admin",
        records::signatures_invalidated(&large, InvalidationReason::Fraud).into(),
    );
    assert!(matches!(entry.encode(), Err(Error::EntryTooLarge(n)) if n > MAX_ENTRY_BYTES));
    let mut out = vec![1, 2, 3];
    assert!(entry.encode_into(&mut out).is_err());
    assert!(out.is_empty());
    // ...while the same number of small indexes does.
    let small: Vec<u64> = (0..8000).collect();
    let fits = Entry::v1(
        0,
        "tok-admin",
        records::signatures_invalidated(&small, InvalidationReason::Fraud).into(),
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
    let link = Entry::v1(
        1,
        AUTHOR,
        TwinLinkRegistered {
            since: Some(partial_date("1985-05")),
            ..records::twin_link_registered("newcastle-taiyuan")
        }
        .into(),
    );
    let mut bytes = encode(&link);
    let n = bytes.len();
    assert_eq!(&bytes[n - 5..], &[1, 1, 0xc1, 0x0f, 5]);
    bytes[n - 1] = 13;
    assert_invalid(&bytes);
}

#[test]
fn invalid_timestamps_in_well_formed_encodings_are_refused() {
    let scheduled = sample("event.scheduled");
    let bytes = encode(&scheduled);
    let Record::EventScheduled(EventScheduled { starts_at, .. }) = scheduled.record() else {
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

// --- invalid values and broken rules ----------------------------------------------

/// One value type's refusals: a kind's fields as a tuple around the value under test,
/// the encoding with a `good` value (which must decode: the tuple has the kind's shape)
/// and with each `bad` one (which must be refused as an invalid record).
struct Refusals {
    value_type: &'static str,
    kind: &'static str,
    good: Vec<u8>,
    bad: Vec<(String, Vec<u8>)>,
}

fn refusals<V: std::fmt::Debug, T: Serialize>(
    value_type: &'static str,
    kind: &'static str,
    fields: impl Fn(V) -> T,
    good: V,
    bad: impl IntoIterator<Item = V>,
) -> Refusals {
    Refusals {
        value_type,
        kind,
        good: entry_bytes(kind, fields(good)),
        bad: bad
            .into_iter()
            .map(|v| (format!("{v:?}"), entry_bytes(kind, fields(v))))
            .collect(),
    }
}

/// The fields of `signature_online`, with its constituency and council as plain
/// strings.
fn signature_fields<'a>(
    constituency: Option<&'a str>,
    council: Option<&'a str>,
) -> impl Serialize + 'a {
    let Record::SignatureAdded(s) = samples::signature_online().into_record() else {
        unreachable!("a signature")
    };
    (
        s.petition_id,
        s.country,
        constituency,
        s.ward,
        council,
        s.channel,
        s.consent_to_share,
        s.dedup_tag,
        s.commitment,
    )
}

/// `signature_online` by [`AUTHOR`] at time 1, with its constituency and council as
/// plain strings.
fn signature_bytes(constituency: Option<&str>, council: Option<&str>) -> Vec<u8> {
    entry_bytes("signature.added", signature_fields(constituency, council))
}

/// The fields of a `motion.tabled`, with its council and source URL as plain strings.
fn motion_tabled_fields<'a>(council: &'a str, source_url: Option<&'a str>) -> impl Serialize + 'a {
    (
        id("m"),
        council,
        None::<Id>,
        None::<Name>,
        "t",
        None::<Hash>,
        None::<Date>,
        source_url,
    )
}

fn motion_tabled_bytes(council: &str, source_url: Option<&str>) -> Vec<u8> {
    entry_bytes("motion.tabled", motion_tabled_fields(council, source_url))
}

/// A `partial date` with any numbers, in the shape of `PartialDate`'s encoding.
#[derive(Debug, Serialize)]
enum LoosePartialDate {
    Year(u16),
    Month(u16, u8),
    Day(u16, u8, u8),
}

fn every_value_type_refusal() -> Vec<Refusals> {
    let long = |unit: &str, bytes: usize| unit.repeat(bytes / unit.len());
    let too_long_url = format!("https://{}", long("a", URL_MAX_BYTES - 7));
    let one_line_bad = |max: usize| {
        vec![
            String::new(),
            " x".into(),
            "x ".into(),
            "x\u{3000}".into(),
            "two\nlines".into(),
            "a\tb".into(),
            "a\u{7f}b".into(),
            "a\u{2028}b".into(),
            "a\u{2029}b".into(),
            long("x", max + 1),
            long("é", max + 2),
        ]
    };
    vec![
        refusals(
            "Id",
            "petition.closed",
            |petition_id: &str| (petition_id.to_owned(), None::<Title>),
            "uk-detwin",
            [
                "",
                "-x",
                ".x",
                "Uk",
                "uk detwin",
                "ü",
                &long("x", ID_MAX_BYTES + 1),
            ],
        ),
        refusals(
            "CountryCode",
            "campaign.city_joined",
            |code: [u8; 2]| (id("global-detwin"), "Liverpool", code, None::<Date>),
            *b"GB",
            [*b"gb", *b"G1", *b"  ", [0, 0], [0xc3, 0x89]],
        ),
        refusals(
            "AreaCode",
            "signature.added",
            |code: &str| signature_fields(Some(code), None),
            "E14000831",
            [
                "e14000831",
                "E1400083",
                "E140008311",
                "EE4000831",
                "E1400083x",
                "",
            ],
        ),
        refusals(
            "Date",
            "motion.withdrawn",
            |ymd: (u16, u8, u8)| (id("ncc-2022-11"), Some(ymd)),
            (2022, 11, 2),
            [
                (2022, 13, 2),
                (2022, 0, 2),
                (2022, 1, 0),
                (2022, 4, 31),
                (2023, 2, 29),
                (1900, 2, 29),
                (0, 1, 1),
                (10_000, 1, 1),
            ],
        ),
        refusals(
            "PartialDate",
            "twin_link.registered",
            |since: LoosePartialDate| {
                let link = records::twin_link_registered("newcastle-taiyuan");
                let TwinLinkRegistered {
                    link_id,
                    city,
                    country,
                    partner_city,
                    partner_country,
                    kind,
                    ..
                } = link;
                (
                    link_id,
                    city,
                    country,
                    partner_city,
                    partner_country,
                    kind,
                    Some(since),
                )
            },
            LoosePartialDate::Month(1985, 5),
            [
                LoosePartialDate::Year(0),
                LoosePartialDate::Year(10_000),
                LoosePartialDate::Month(1985, 0),
                LoosePartialDate::Month(1985, 13),
                LoosePartialDate::Day(2023, 2, 29),
            ],
        ),
        refusals(
            "Timestamp",
            "event.scheduled",
            |starts_at: i64| {
                let fields = (
                    id("e"),
                    EventKind::March,
                    "t",
                    "Leeds",
                    None::<CountryCode>,
                    None::<Name>,
                );
                (
                    fields,
                    starts_at,
                    None::<Timestamp>,
                    None::<Name>,
                    None::<Id>,
                )
            },
            0,
            [
                Timestamp::MAX.unix_seconds() + 1,
                Timestamp::MIN.unix_seconds() - 1,
                i64::MAX,
                i64::MIN,
            ],
        ),
        refusals(
            "Name",
            "campaign.city_joined",
            |city: String| (id("global-detwin"), city, country("GB"), None::<Date>),
            "Liverpool".into(),
            one_line_bad(NAME_MAX_BYTES),
        ),
        refusals(
            "Title",
            "petition.closed",
            |reason: String| (id("uk-detwin"), Some(reason)),
            "Closing date reached".into(),
            one_line_bad(TITLE_MAX_BYTES),
        ),
        refusals(
            "Url",
            "motion.tabled",
            |url: &str| motion_tabled_fields("Newcastle City Council", Some(url)),
            "https://democracy.bathnes.gov.uk/",
            [
                "javascript:alert(1)",
                "ftp://x",
                "https://",
                "https://a b",
                "https://a\u{7f}",
                "newcastle.gov.uk",
                "",
                &too_long_url,
            ],
        ),
        refusals(
            "LongText",
            "petition.opened",
            |text: String| {
                // `PetitionText::Full` is variant 0.
                (
                    id("p"),
                    "t",
                    (0u32, text),
                    "UK Parliament",
                    None::<Date>,
                    Vec::<u64>::new(),
                )
            },
            "para one\n\npara two\n".into(),
            [
                String::new(),
                "a\r\nb".into(),
                "a\tb".into(),
                long("x", TEXT_MAX_BYTES + 1),
            ],
        ),
        refusals(
            "Count",
            "paper_batch.recorded",
            |count: u32| {
                (
                    id("b"),
                    id("p"),
                    None::<Id>,
                    None::<Name>,
                    id("c"),
                    None::<Hash>,
                    count,
                )
            },
            1,
            [0],
        ),
        refusals(
            "Count",
            "campaign.launched",
            |cities: u32| (id("c"), "t", None::<Date>, Some(cities), Some(7u32)),
            163,
            [0],
        ),
        refusals(
            "Count",
            "campaign.launched",
            |countries: u32| (id("c"), "t", None::<Date>, None::<u32>, Some(countries)),
            7,
            [0],
        ),
        refusals(
            "Thresholds",
            "petition.opened",
            |thresholds: Vec<u64>| {
                // `PetitionText::Hash` is variant 1.
                (
                    id("p"),
                    "t",
                    (1u32, [0u8; 32]),
                    "UK Parliament",
                    None::<Date>,
                    thresholds,
                )
            },
            vec![10_000, 100_000],
            [
                vec![100_000, 10_000],
                vec![0, 10],
                vec![5, 5],
                (1..=MAX_THRESHOLDS as u64 + 1).collect(),
            ],
        ),
        refusals(
            "SignatureIndexes",
            "signatures.invalidated",
            |indexes: Vec<u64>| (indexes, InvalidationReason::Duplicate, None::<Title>),
            vec![7, 9],
            [
                vec![],
                vec![9, 7],
                vec![7, 7],
                (0..MAX_INVALIDATED as u64 + 1).collect(),
            ],
        ),
    ]
}

/// Every value type refuses its invalid values inside a well-formed entry, and
/// `Entry::decode` reports each refusal as an invalid record (not as a malformed
/// encoding), whatever kind and field the value is in.
#[test]
fn invalid_values_in_well_formed_encodings_are_invalid_records() {
    let mut covered = BTreeSet::new();
    for case in every_value_type_refusal() {
        let Refusals {
            value_type,
            kind,
            good,
            bad,
        } = case;
        let decoded = Entry::decode(&good);
        assert!(
            decoded.is_ok(),
            "{value_type} in {kind}: the good value is refused: {decoded:?}"
        );
        assert_eq!(decoded.unwrap().kind(), kind);
        for (value, bytes) in bad {
            assert!(
                matches!(Entry::decode(&bytes), Err(Error::InvalidRecord(_))),
                "{value_type} {value} in {kind}: {:?}",
                Entry::decode(&bytes)
            );
        }
        covered.insert(value_type);
    }
    let every_type = [
        "Id",
        "CountryCode",
        "AreaCode",
        "Date",
        "PartialDate",
        "Timestamp",
        "Name",
        "Title",
        "Url",
        "LongText",
        "Count",
        "Thresholds",
        "SignatureIndexes",
    ];
    assert_eq!(covered, every_type.into_iter().collect());
}

/// The mirrors of [`entry_bytes`] give exactly the real encoding for valid values.
#[test]
fn mirrors_encode_like_the_records() {
    let online = samples::signature_online();
    let Record::SignatureAdded(signature) = online.record() else {
        unreachable!("a signature")
    };
    assert_eq!(
        signature_bytes(Some("E14000831"), Some("Newcastle upon Tyne")),
        encode(&Entry::v1(1, AUTHOR, signature.clone().into()))
    );
    let motion = MotionTabled {
        title: title("t"),
        ..records::motion_tabled("m")
    };
    assert_eq!(
        motion_tabled_bytes("Newcastle City Council", None),
        encode(&Entry::v1(1, AUTHOR, motion.into()))
    );
    let closed = PetitionClosed {
        reason: Some(title("Closing date reached")),
        ..records::petition_closed("uk-detwin")
    };
    assert_eq!(
        entry_bytes(
            "petition.closed",
            ("uk-detwin", Some("Closing date reached"))
        ),
        encode(&Entry::v1(1, AUTHOR, closed.into()))
    );
}

/// The rules that relate two fields (and the author's) can be broken with valid
/// values: encoding refuses them, and so does decoding their unchecked bytes.
#[test]
fn records_that_break_cross_field_rules_are_refused() {
    let entry = |record: Record| Entry::v1(1, AUTHOR, record);
    let start = at("2022-10-01T13:00:00Z");
    let before = at("2022-10-01T12:59:59Z");
    let bad = [
        entry(
            TwinLinkRegistered {
                partner_city: name("Newcastle upon Tyne"),
                partner_country: country("GB"),
                ..records::twin_link_registered("l")
            }
            .into(),
        ),
        entry(
            MotionAmended {
                text_hash: None,
                amended_on: Some(date("2022-11-16")),
                ..records::motion_amended("m")
            }
            .into(),
        ),
        entry(
            EventScheduled {
                starts_at: start,
                ends_at: Some(start),
                ..records::event_scheduled("e", "Leeds")
            }
            .into(),
        ),
        entry(
            EventScheduled {
                starts_at: start,
                ends_at: Some(before),
                ..records::event_scheduled("e", "Leeds")
            }
            .into(),
        ),
        entry(
            EventChanged {
                place: None,
                ..records::event_changed("e")
            }
            .into(),
        ),
        entry(
            EventChanged {
                starts_at: Some(start),
                ends_at: Some(before),
                ..records::event_changed("e")
            }
            .into(),
        ),
        Entry::v1(1, "tok with space", records::withdraw(1)),
        Entry::v1(1, "", records::withdraw(1)),
        Entry::v1(1, "tök", records::withdraw(1)),
        Entry::v1(1, "t".repeat(AUTHOR_MAX_BYTES + 1), records::withdraw(1)),
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
    let message = Entry::decode(&motion_tabled_bytes(&format!("{secret}\n"), None))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("one line") && !message.contains(secret),
        "{message}"
    );
    let twin = Entry::v1(
        1,
        AUTHOR,
        TwinLinkRegistered {
            city: name(secret),
            partner_city: name(secret),
            partner_country: country("GB"),
            ..records::twin_link_registered("l")
        }
        .into(),
    );
    let message = Entry::decode(&encode_unchecked(&twin))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("partner_city") && !message.contains(secret),
        "{message}"
    );
}

// --- signatures read in place -------------------------------------------------------

fn is_signature(record: &Record) -> bool {
    matches!(
        record,
        Record::SignatureAdded(_) | Record::SignatureRecorded(_) | Record::SignatureCommitted(_)
    )
}

/// Whether `Entry::decode_signature` and `Entry::decode` agree on `bytes`: the first
/// accepts exactly the `signature.added`, `signature.recorded` and `signature.committed` entries the second
/// accepts, with the same values, and nothing else.
fn in_place_agrees(bytes: &[u8]) -> Result<(), String> {
    let in_place = Entry::decode_signature(bytes).map(|s| s.to_entry());
    let decoded = Entry::decode(bytes)
        .ok()
        .filter(|e| is_signature(e.record()));
    if in_place == decoded {
        Ok(())
    } else {
        Err(format!(
            "in place {in_place:?}, decoded {decoded:?}, bytes {}",
            hex(bytes)
        ))
    }
}

/// Signature entries of every kind with every field at its edges: none or some, online
/// or paper, the longest and non-ASCII council, the smallest and largest times, one
/// and two dedup tags.
fn signature_samples() -> Vec<Entry> {
    let mut samples: Vec<Entry> = samples::entries()
        .into_iter()
        .filter(|e| is_signature(e.record()))
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
        council: Some(name(&"é".repeat(NAME_MAX_BYTES / 2))),
        channel: Channel::Paper {
            batch_id: Id::parse(&"b".repeat(64)).unwrap(),
        },
        ..online.clone()
    };
    let Record::SignatureRecorded(recorded) = samples::signature_recorded_online().into_record()
    else {
        unreachable!()
    };
    let one_tag = SignatureRecorded {
        dedup_tags: DedupTags::one(recorded.dedup_tags[1]),
        channel: Channel::Paper {
            batch_id: Id::parse("b").unwrap(),
        },
        ..recorded
    };
    samples.push(Entry::v1(0, "t", Record::SignatureAdded(bare)));
    samples.push(Entry::v1(
        u64::MAX,
        "~".repeat(64),
        Record::SignatureAdded(full),
    ));
    samples.push(Entry::v1(1, "t", Record::SignatureRecorded(one_tag)));
    samples
}

#[test]
fn signatures_read_in_place_agree_with_decode_under_every_one_byte_change() {
    let samples = signature_samples();
    assert_eq!(samples.len(), 7);
    let mut checked = 0;
    for entry in &samples {
        let bytes = encode(entry);
        assert_eq!(
            Entry::decode_signature(&bytes).map(|s| s.to_entry()),
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
    let long = "x".repeat(NAME_MAX_BYTES + 1);
    let invisible = ["a\u{200B}b", "a\u{00AD}b", "\u{FEFF}ab", "a\u{202E}b"];
    let mut invalid: Vec<Vec<u8>> = ["", " x", "x ", "a\nb", "a\u{2028}b", "x\u{3000}", &long]
        .into_iter()
        .chain(invisible)
        .map(|council| signature_bytes(Some("E14000831"), Some(council)))
        .collect();
    for constituency in ["e14000831", "E1400083", "E140008311"] {
        invalid.push(signature_bytes(Some(constituency), None));
    }
    let signature = Record::SignatureAdded(online.clone());
    for author in ["", "tok web", "tök", &"t".repeat(AUTHOR_MAX_BYTES + 1)] {
        invalid.push(encode_unchecked(&Entry::v1(1, author, signature.clone())));
    }
    // `signature.recorded` with its tags out of order, repeated, none or too many.
    let Record::SignatureRecorded(recorded) = samples::signature_recorded_online().into_record()
    else {
        unreachable!()
    };
    let [low, high] = [recorded.dedup_tags[0], recorded.dedup_tags[1]];
    for tags in [
        vec![high, low],
        vec![low, low],
        vec![],
        vec![low, high, DedupTag([0xff; 16])],
    ] {
        let fields = (
            &recorded.petition_id,
            recorded.country,
            recorded.constituency,
            recorded.ward,
            &recorded.council,
            &recorded.channel,
            recorded.consent_to_share,
            tags,
            recorded.commitment,
        );
        invalid.push(entry_bytes("signature.recorded", fields));
    }
    for bytes in invalid {
        assert!(Entry::decode(&bytes).is_err(), "{}", hex(&bytes));
        assert_eq!(Entry::decode_signature(&bytes), None, "{}", hex(&bytes));
    }
    // Too long for an entry, though nothing else is wrong with it: a decoder refuses it
    // on its length alone.
    let mut oversized = encode(&samples::signature_online());
    oversized.resize(MAX_ENTRY_BYTES + 1, 0);
    assert!(Entry::decode(&oversized).is_err());
    assert_eq!(Entry::decode_signature(&oversized), None);
}

/// Where the petition id of a signature entry ends in its encoding.
fn petition_id_end(entry: &Entry) -> usize {
    let petition_id = match entry.record() {
        Record::SignatureAdded(s) => &s.petition_id,
        Record::SignatureRecorded(s) => &s.petition_id,
        Record::SignatureCommitted(s) => &s.petition_id,
        _ => unreachable!("a signature"),
    };
    let author = entry.author().len();
    let petition = petition_id.as_str().len();
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
            Entry::decode_signature(&bytes).is_some(),
            is_signature(entry.record())
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
        let entry = Entry::v1(time_ms, author, signature);
        let mut bytes = entry.encode().unwrap();
        in_place_agrees(&bytes).map_err(TestCaseError::fail)?;
        prop_assert!(Entry::decode_signature(&bytes).is_some());
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
        date in any::<Date>(),
        partial in any::<PartialDate>(),
        at in any::<Timestamp>(),
        id in any::<Id>(),
        area in any::<AreaCode>(),
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
        at in any::<Timestamp>(),
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
