//! Literals of the record's value types for tests: `id("uk-detwin")`,
//! `title("Joint action day")`, `date("2022-11-02")`, `at("2022-10-01T13:00:00+01:00")`.
//!
//! Each parses its argument with the type's own checked constructor and panics, naming
//! the literal, if the type refuses it: a bad literal is a bug in the test. To build an
//! *invalid* value, encode plain strings and numbers instead (see
//! `ledger/tests/encoding.rs`); the types cannot hold one.

use std::fmt::Display;

use ledger::record::{
    AreaCode, Count, CountryCode, Date, Id, LongText, Name, PartialDate, SignatureIndexes,
    Thresholds, Timestamp, Title, Url,
};

/// `parse(text)`, or a panic naming what `text` was meant to be.
#[track_caller]
fn must<T, E: Display>(what: &str, text: impl std::fmt::Debug, parsed: Result<T, E>) -> T {
    match parsed {
        Ok(value) => value,
        Err(e) => panic!("{text:?} is not a valid {what}: {e}"),
    }
}

#[track_caller]
pub fn id(s: &str) -> Id {
    must("id", s, Id::parse(s))
}

#[track_caller]
pub fn country(s: &str) -> CountryCode {
    must("country code", s, CountryCode::parse(s))
}

#[track_caller]
pub fn area(s: &str) -> AreaCode {
    must("area code", s, AreaCode::parse(s))
}

#[track_caller]
pub fn name(s: &str) -> Name {
    must("name", s, Name::parse(s))
}

#[track_caller]
pub fn title(s: &str) -> Title {
    must("title", s, Title::parse(s))
}

#[track_caller]
pub fn url(s: &str) -> Url {
    must("URL", s, Url::parse(s))
}

#[track_caller]
pub fn long_text(s: &str) -> LongText {
    must("long text", s, LongText::parse(s))
}

#[track_caller]
pub fn count(n: u32) -> Count {
    must("count", n, Count::new(n))
}

#[track_caller]
pub fn thresholds(values: &[u64]) -> Thresholds {
    must(
        "list of thresholds",
        values,
        Thresholds::new(values.to_vec()),
    )
}

#[track_caller]
pub fn indexes(values: &[u64]) -> SignatureIndexes {
    must(
        "list of signature indexes",
        values,
        SignatureIndexes::new(values.to_vec()),
    )
}

/// `YYYY-MM-DD`.
#[track_caller]
pub fn date(s: &str) -> Date {
    must("date", s, Date::parse(s))
}

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
#[track_caller]
pub fn partial_date(s: &str) -> PartialDate {
    must("partial date", s, PartialDate::parse(s))
}

/// An RFC 3339 instant.
#[track_caller]
pub fn at(s: &str) -> Timestamp {
    must("timestamp", s, Timestamp::parse(s))
}

/// Milliseconds since the epoch of an RFC 3339 instant (an entry's `time_ms`); the
/// instant must not be before 1970.
#[track_caller]
pub fn ms(s: &str) -> u64 {
    let seconds = at(s).unix_seconds();
    must("entry time", s, u64::try_from(seconds)) * 1000
}
