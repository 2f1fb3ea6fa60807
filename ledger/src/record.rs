//! The record vocabulary v1: every fact the campaign log can hold, as typed values.
//!
//! A [`Record`] is one change (nothing is updated in place): a campaign launched, a
//! petition opened, a signature added, a council motion voted, an event held, and so on.
//! Records are encoded with postcard inside an [`Entry`](crate::entry::Entry); the byte
//! layout is documented in `docs/FORMAT.md` (part B).
//!
//! Invariants:
//! - **The encoding is frozen.** Enum variants are only ever appended, never reordered
//!   or removed, and the fields of a variant never change: postcard identifies a variant
//!   by its position and a field by its order, so any reordering would silently change
//!   the meaning of bytes already in the log. A new fact needs a new variant.
//! - **Values of the small types are always valid.** [`Id`], [`CountryCode`],
//!   [`AreaCode`], [`Date`], [`PartialDate`] and [`Timestamp`] have private fields;
//!   every constructor and their `Deserialize` check the value, so a month 13, a
//!   30 February or an upper-case id can never be held in one, whatever it was decoded
//!   from.
//! - **Everything else is checked by [`Record::validate`]**: free-text bounds, list
//!   bounds and rules that relate fields to each other. Encoding and decoding an entry
//!   always validate, so every record in the log satisfies it.
//! - **No personal data.** A signature carries area codes, a keyed dedup tag and a
//!   commitment to the signer's data, never the data. Names that do appear are those of
//!   public bodies and office holders (councils, councillors proposing motions) and
//!   organising groups; a paper-batch collector is an [`Id`] handle, not a name.
//! - No floats and no hash maps, so the encoding is a function of the value.
//!
//! Free-text limits (bytes of UTF-8), all chosen so the largest record stays well
//! inside the 65535-byte entry limit:
//!
//! | kind of text | limit | used for |
//! |---|---|---|
//! | name | [`NAME_MAX_BYTES`] = 128 | cities, councils, targets, places, groups, stalls, proposers, majority |
//! | title | [`TITLE_MAX_BYTES`] = 512 | titles, reasons, notes |
//! | URL | [`URL_MAX_BYTES`] = 2048 | motion source URL (`http://` or `https://`, no spaces) |
//! | long text | [`TEXT_MAX_BYTES`] = 32768 | full petition text |
//!
//! Names, titles and URLs are one line: non-empty, no control characters, no line or
//! paragraph separators and no leading or trailing white space (so the same text has
//! one encoding and counts keyed by it are stable). Long text may contain `\n` (only
//! `\n`: a CR must be normalised away before it reaches the log).

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

/// Longest [`Id`], in bytes.
pub const ID_MAX_BYTES: usize = 64;
/// Longest name (city, council, place, group, ...), in bytes.
pub const NAME_MAX_BYTES: usize = 128;
/// Longest title, reason or note, in bytes.
pub const TITLE_MAX_BYTES: usize = 512;
/// Longest source URL, in bytes.
pub const URL_MAX_BYTES: usize = 2048;
/// Longest full petition text, in bytes.
pub const TEXT_MAX_BYTES: usize = 32 * 1024;
/// Most signature thresholds a petition may declare.
pub const MAX_THRESHOLDS: usize = 16;
/// Most signatures one `signatures.invalidated` record may name. A batch this long of
/// large indexes does not fit in one entry; encoding then fails with
/// [`Error::EntryTooLarge`] and the caller splits the batch.
pub const MAX_INVALIDATED: usize = 8192;

// ---------------------------------------------------------------------------------
// Why a small type refused to deserialize.
//
// postcard replaces the message of every serde custom error with the bare
// `SerdeDeCustom`, which is also what an unknown enum discriminant produces. To tell an
// invalid value (a well-formed encoding of month 13: `InvalidRecord`) from a malformed
// encoding (`Decode`), the refusing type leaves its reason here, and
// `Entry::decode` picks it up. The reasons are static and never hold input.
// ---------------------------------------------------------------------------------

thread_local! {
    static REFUSAL: Cell<Option<&'static str>> = const { Cell::new(None) };
}

fn refuse<E: de::Error>(why: &'static str) -> E {
    REFUSAL.with(|r| r.set(Some(why)));
    E::custom(why)
}

/// Takes (and clears) the reason the last small type on this thread refused a value.
pub(crate) fn take_refusal() -> Option<&'static str> {
    REFUSAL.with(|r| r.take())
}

fn invalid(why: &'static str) -> Error {
    Error::InvalidRecord(why.to_owned())
}

/// Deserializes a string and parses it, reporting a refusal through [`refuse`].
fn deserialize_parsed<'de, D, T>(
    d: D,
    expecting: &'static str,
    parse: fn(&str) -> Result<T, &'static str>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct ParseVisitor<T> {
        expecting: &'static str,
        parse: fn(&str) -> Result<T, &'static str>,
    }
    impl<T> de::Visitor<'_> for ParseVisitor<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
            (self.parse)(s).map_err(refuse)
        }
    }
    d.deserialize_str(ParseVisitor { expecting, parse })
}

/// `FromStr` and string `Deserialize` for a type with `parse` and `parse_reason`.
macro_rules! text_traits {
    ($ty:ident, $expecting:literal) => {
        impl FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                $ty::parse(s)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                deserialize_parsed(d, $expecting, $ty::parse_reason)
            }
        }
    };
}

// ---------------------------------------------------------------------------------
// Id
// ---------------------------------------------------------------------------------

/// A slug naming a campaign, petition, batch, twin link, motion or event:
/// 1 to 64 bytes of `a-z 0-9 . _ -`, starting with a letter or digit
/// (`uk-detwin`, `newcastle-taiyuan`, `lhka-2022-12-11`).
///
/// Encoded as a string.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(String);

impl Id {
    pub fn parse(s: &str) -> Result<Id> {
        Id::parse_reason(s).map_err(invalid)
    }

    fn parse_reason(s: &str) -> Result<Id, &'static str> {
        Id::check(s.as_bytes())?;
        Ok(Id(s.to_owned()))
    }

    /// The rules of an id, on its bytes (an id is ASCII, so valid bytes are valid
    /// UTF-8). Shared with the in-place signature decoder.
    pub(crate) fn check(b: &[u8]) -> Result<(), &'static str> {
        if b.is_empty() || b.len() > ID_MAX_BYTES {
            return Err("id must be 1 to 64 bytes long");
        }
        if !(b[0].is_ascii_lowercase() || b[0].is_ascii_digit()) {
            return Err("id must start with a-z or 0-9");
        }
        let allowed = |c: &u8| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-');
        if !b.iter().all(allowed) {
            return Err("id may only hold a-z, 0-9, '.', '_' and '-'");
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

text_traits!(Id, "an id (1 to 64 bytes of a-z, 0-9, '.', '_', '-')");

// ---------------------------------------------------------------------------------
// CountryCode
// ---------------------------------------------------------------------------------

/// A country as an ISO 3166-1 alpha-2 shaped code: two ASCII letters `A`-`Z` (`GB`, `CN`).
/// Only the shape is checked; whether the code is assigned is for the reader to judge.
///
/// Encoded as its two ASCII bytes, raw (no length prefix); as a string in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub fn parse(s: &str) -> Result<CountryCode> {
        CountryCode::parse_reason(s).map_err(invalid)
    }

    fn parse_reason(s: &str) -> Result<CountryCode, &'static str> {
        let b: [u8; 2] = s
            .as_bytes()
            .try_into()
            .map_err(|_| "country code must be two letters A-Z")?;
        CountryCode::from_bytes(b)
    }

    pub(crate) fn from_bytes(b: [u8; 2]) -> Result<CountryCode, &'static str> {
        if b.iter().all(u8::is_ascii_uppercase) {
            Ok(CountryCode(b))
        } else {
            Err("country code must be two letters A-Z")
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a country code is ASCII by construction")
    }

    /// The two ASCII bytes, without the UTF-8 check of [`CountryCode::as_str`].
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CountryCode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        CountryCode::parse(s)
    }
}

impl Serialize for CountryCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(self.as_str())
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            deserialize_parsed(d, "a two-letter country code", CountryCode::parse_reason)
        } else {
            CountryCode::from_bytes(<[u8; 2]>::deserialize(d)?).map_err(refuse)
        }
    }
}

// ---------------------------------------------------------------------------------
// AreaCode
// ---------------------------------------------------------------------------------

/// A UK statistical area code in the ONS/GSS shape: one letter `A`-`Z` then eight
/// digits, such as the constituency `E14000831` or the ward `E05001234`.
///
/// Encoded as a string (always 9 bytes today), so that other code shapes can be
/// accepted later without changing the encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AreaCode([u8; 9]);

impl AreaCode {
    pub fn parse(s: &str) -> Result<AreaCode> {
        AreaCode::parse_reason(s).map_err(invalid)
    }

    fn parse_reason(s: &str) -> Result<AreaCode, &'static str> {
        AreaCode::from_bytes(s.as_bytes())
    }

    /// The rules of an area code, on its bytes (ASCII, so valid bytes are valid UTF-8).
    /// Shared with the in-place signature decoder.
    pub(crate) fn from_bytes(b: &[u8]) -> Result<AreaCode, &'static str> {
        const SHAPE: &str = "area code must be a letter A-Z and eight digits";
        let b: [u8; 9] = b.try_into().map_err(|_| SHAPE)?;
        if b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit) {
            Ok(AreaCode(b))
        } else {
            Err(SHAPE)
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("an area code is ASCII by construction")
    }

    /// The ASCII bytes, without the UTF-8 check of [`AreaCode::as_str`].
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AreaCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

text_traits!(AreaCode, "an area code such as E14000831");

// ---------------------------------------------------------------------------------
// Civil calendar arithmetic (proleptic Gregorian, years 1 to 9999)
// ---------------------------------------------------------------------------------

const SECONDS_PER_DAY: i64 = 86_400;
/// Days from 0001-01-01 to 1970-01-01.
const DAYS_TO_UNIX_EPOCH: i64 = 719_162;

fn is_leap_year(year: u16) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Days from 0001-01-01 to the first of January of `year`.
fn days_before_year(year: u16) -> i64 {
    let y = i64::from(year) - 1;
    365 * y + y / 4 - y / 100 + y / 400
}

/// Days from the first of January to the first of `month` in `year`.
fn days_before_month(year: u16, month: u8) -> i64 {
    (1..month).map(|m| i64::from(days_in_month(year, m))).sum()
}

// ---------------------------------------------------------------------------------
// Date
// ---------------------------------------------------------------------------------

/// A calendar date (proleptic Gregorian), years 1 to 9999: `2022-11-02`.
///
/// Encoded as year (varint u16), month (one byte), day (one byte); as `YYYY-MM-DD`
/// in JSON. Ordering is chronological.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    pub fn new(year: u16, month: u8, day: u8) -> Result<Date> {
        Date::new_reason(year, month, day).map_err(invalid)
    }

    fn new_reason(year: u16, month: u8, day: u8) -> Result<Date, &'static str> {
        if !(1..=9999).contains(&year) {
            return Err("year must be 1 to 9999");
        }
        if !(1..=12).contains(&month) {
            return Err("month must be 1 to 12");
        }
        if day < 1 || day > days_in_month(year, month) {
            return Err("day does not exist in that month");
        }
        Ok(Date { year, month, day })
    }

    /// Parses exactly `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Date> {
        Date::parse_reason(s).map_err(invalid)
    }

    fn parse_reason(s: &str) -> Result<Date, &'static str> {
        const SHAPE: &str = "date must be YYYY-MM-DD";
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(SHAPE);
        }
        let year = digits(&b[0..4]).ok_or(SHAPE)?;
        let month = digits(&b[5..7]).ok_or(SHAPE)?;
        let day = digits(&b[8..10]).ok_or(SHAPE)?;
        Date::new_reason(year as u16, month as u8, day as u8)
    }

    pub fn year(&self) -> u16 {
        self.year
    }

    pub fn month(&self) -> u8 {
        self.month
    }

    pub fn day(&self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_unix_epoch(&self) -> i64 {
        days_before_year(self.year) + days_before_month(self.year, self.month) + i64::from(self.day)
            - 1
            - DAYS_TO_UNIX_EPOCH
    }

    /// The date `days` after 1970-01-01, if it lies in years 1 to 9999.
    pub fn from_days_since_unix_epoch(days: i64) -> Option<Date> {
        let from_year_one = days.checked_add(DAYS_TO_UNIX_EPOCH)?;
        if !(0..days_before_year(10_000)).contains(&from_year_one) {
            return None;
        }
        // 146097 days per 400 years gives an estimate within one year of the truth.
        let mut year = (from_year_one * 400 / 146_097 + 1).clamp(1, 9999) as u16;
        while days_before_year(year) > from_year_one {
            year -= 1;
        }
        while year < 9999 && days_before_year(year + 1) <= from_year_one {
            year += 1;
        }
        let mut day_of_year = from_year_one - days_before_year(year);
        let mut month = 1;
        while day_of_year >= i64::from(days_in_month(year, month)) {
            day_of_year -= i64::from(days_in_month(year, month));
            month += 1;
        }
        Some(Date {
            year,
            month,
            day: day_of_year as u8 + 1,
        })
    }
}

/// The value of a run of ASCII digits, or None if any byte is not a digit.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl FromStr for Date {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Date::parse(s)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            (self.year, self.month, self.day).serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            deserialize_parsed(d, "a date YYYY-MM-DD", Date::parse_reason)
        } else {
            let (year, month, day) = <(u16, u8, u8)>::deserialize(d)?;
            Date::new_reason(year, month, day).map_err(refuse)
        }
    }
}

// ---------------------------------------------------------------------------------
// PartialDate
// ---------------------------------------------------------------------------------

/// A date known to the year, the month or the day: `1985`, `1985-05`, `1985-05-01`.
/// Used where history is vague, such as when a twin link began.
///
/// Encoded as an enum: 0 = year (varint u16), 1 = year and month (varint u16, one
/// byte), 2 = [`Date`]. As a string in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PartialDate(PartialDateWire);

/// The encoded shape of a [`PartialDate`]; private so that only checked values exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
enum PartialDateWire {
    Year(u16),
    Month(u16, u8),
    Day(Date),
}

impl PartialDate {
    pub fn from_year(year: u16) -> Result<PartialDate> {
        PartialDate::check(PartialDateWire::Year(year)).map_err(invalid)
    }

    pub fn from_year_month(year: u16, month: u8) -> Result<PartialDate> {
        PartialDate::check(PartialDateWire::Month(year, month)).map_err(invalid)
    }

    fn check(wire: PartialDateWire) -> Result<PartialDate, &'static str> {
        let (year, month) = match wire {
            PartialDateWire::Year(y) => (y, 1),
            PartialDateWire::Month(y, m) => (y, m),
            PartialDateWire::Day(_) => return Ok(PartialDate(wire)),
        };
        Date::new_reason(year, month, 1)?;
        Ok(PartialDate(wire))
    }

    /// Parses `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<PartialDate> {
        PartialDate::parse_reason(s).map_err(invalid)
    }

    fn parse_reason(s: &str) -> Result<PartialDate, &'static str> {
        const SHAPE: &str = "partial date must be YYYY, YYYY-MM or YYYY-MM-DD";
        let b = s.as_bytes();
        match b.len() {
            4 => {
                let year = digits(b).ok_or(SHAPE)?;
                PartialDate::check(PartialDateWire::Year(year as u16))
            }
            7 if b[4] == b'-' => {
                let year = digits(&b[0..4]).ok_or(SHAPE)?;
                let month = digits(&b[5..7]).ok_or(SHAPE)?;
                PartialDate::check(PartialDateWire::Month(year as u16, month as u8))
            }
            10 => Date::parse_reason(s).map(PartialDate::from),
            _ => Err(SHAPE),
        }
    }

    pub fn year(&self) -> u16 {
        match self.0 {
            PartialDateWire::Year(y) | PartialDateWire::Month(y, _) => y,
            PartialDateWire::Day(d) => d.year(),
        }
    }

    /// The month, if known.
    pub fn month(&self) -> Option<u8> {
        match self.0 {
            PartialDateWire::Year(_) => None,
            PartialDateWire::Month(_, m) => Some(m),
            PartialDateWire::Day(d) => Some(d.month()),
        }
    }

    /// The full date, if the day is known.
    pub fn date(&self) -> Option<Date> {
        match self.0 {
            PartialDateWire::Day(d) => Some(d),
            _ => None,
        }
    }
}

impl From<Date> for PartialDate {
    fn from(date: Date) -> PartialDate {
        PartialDate(PartialDateWire::Day(date))
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            PartialDateWire::Year(y) => write!(f, "{y:04}"),
            PartialDateWire::Month(y, m) => write!(f, "{y:04}-{m:02}"),
            PartialDateWire::Day(d) => d.fmt(f),
        }
    }
}

impl FromStr for PartialDate {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        PartialDate::parse(s)
    }
}

impl Serialize for PartialDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for PartialDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            deserialize_parsed(d, "YYYY, YYYY-MM or YYYY-MM-DD", PartialDate::parse_reason)
        } else {
            PartialDate::check(PartialDateWire::deserialize(d)?).map_err(refuse)
        }
    }
}

// ---------------------------------------------------------------------------------
// Timestamp
// ---------------------------------------------------------------------------------

/// An instant in whole seconds since 1970-01-01T00:00:00Z (leap seconds not counted),
/// from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z so it always prints as RFC 3339.
///
/// Encoded as a zigzag varint i64; as RFC 3339 in UTC (`2022-12-11T12:00:00Z`) in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// 0001-01-01T00:00:00Z.
    pub const MIN: Timestamp = Timestamp(-DAYS_TO_UNIX_EPOCH * SECONDS_PER_DAY);
    /// 9999-12-31T23:59:59Z.
    pub const MAX: Timestamp = Timestamp(253_402_300_799);

    pub fn from_unix_seconds(seconds: i64) -> Result<Timestamp> {
        Timestamp::from_unix_reason(seconds).map_err(invalid)
    }

    fn from_unix_reason(seconds: i64) -> Result<Timestamp, &'static str> {
        if (Timestamp::MIN.0..=Timestamp::MAX.0).contains(&seconds) {
            Ok(Timestamp(seconds))
        } else {
            Err("timestamp must lie in years 1 to 9999")
        }
    }

    pub fn unix_seconds(&self) -> i64 {
        self.0
    }

    /// The UTC calendar date of this instant.
    pub fn date(&self) -> Date {
        Date::from_days_since_unix_epoch(self.0.div_euclid(SECONDS_PER_DAY))
            .expect("a timestamp lies in years 1 to 9999 by construction")
    }

    /// Parses RFC 3339 date-time: `YYYY-MM-DDTHH:MM:SS`, optional fraction of zeros
    /// (timestamps are whole seconds), then `Z` or an offset `+HH:MM` / `-HH:MM`.
    /// `T` and `Z` may be lower case. Leap second 60 is refused: Unix time has no
    /// place for it.
    pub fn parse(s: &str) -> Result<Timestamp> {
        Timestamp::parse_reason(s).map_err(invalid)
    }

    fn parse_reason(s: &str) -> Result<Timestamp, &'static str> {
        const SHAPE: &str = "timestamp must be RFC 3339, like 2022-12-11T12:00:00Z";
        let b = s.as_bytes();
        if b.len() < 20 || !s.is_ascii() || !matches!(b[10], b'T' | b't') {
            return Err(SHAPE);
        }
        let date = Date::parse_reason(&s[..10])?;
        if b[13] != b':' || b[16] != b':' {
            return Err(SHAPE);
        }
        let hour = digits(&b[11..13]).ok_or(SHAPE)?;
        let minute = digits(&b[14..16]).ok_or(SHAPE)?;
        let second = digits(&b[17..19]).ok_or(SHAPE)?;
        if hour > 23 || minute > 59 || second > 59 {
            return Err("time of day out of range");
        }
        let mut rest = &b[19..];
        if let Some(fraction) = rest.strip_prefix(b".") {
            let len = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
            if len == 0 {
                return Err(SHAPE);
            }
            if fraction[..len].iter().any(|&c| c != b'0') {
                return Err("timestamps are whole seconds");
            }
            rest = &fraction[len..];
        }
        let offset_seconds = match rest {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let hours = digits(&[*h1, *h2]).ok_or(SHAPE)?;
                let minutes = digits(&[*m1, *m2]).ok_or(SHAPE)?;
                if hours > 23 || minutes > 59 {
                    return Err("offset out of range");
                }
                let magnitude = i64::from(hours * 3600 + minutes * 60);
                if *sign == b'+' {
                    magnitude
                } else {
                    -magnitude
                }
            }
            _ => return Err(SHAPE),
        };
        let local = date.days_since_unix_epoch() * SECONDS_PER_DAY
            + i64::from(hour * 3600 + minute * 60 + second);
        // Local time = UTC + offset, so UTC = local - offset.
        Timestamp::from_unix_reason(local - offset_seconds)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let second_of_day = self.0.rem_euclid(SECONDS_PER_DAY);
        write!(
            f,
            "{}T{:02}:{:02}:{:02}Z",
            self.date(),
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60
        )
    }
}

impl FromStr for Timestamp {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Timestamp::parse(s)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.collect_str(self)
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            deserialize_parsed(d, "an RFC 3339 timestamp", Timestamp::parse_reason)
        } else {
            Timestamp::from_unix_reason(i64::deserialize(d)?).map_err(refuse)
        }
    }
}

// ---------------------------------------------------------------------------------
// Small closed enums
// ---------------------------------------------------------------------------------

/// Declares a fieldless enum with its fixed discriminant order and the lower-case name
/// used in JSON, plus `ALL`, `as_str`, `parse`, `Display` and `FromStr`.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every variant, in discriminant order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The JSON name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// Parses the JSON name.
            pub fn parse(s: &str) -> Result<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let names: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    Error::InvalidRecord(format!(
                        concat!("unknown ", $what, "; expected one of: {}"),
                        names.join(", ")
                    ))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                $name::parse(s)
            }
        }
    };
}

named_enum! {
    /// Why signatures were struck out. Discriminants: 0 duplicate, 1 fraud, 2 ineligible.
    InvalidationReason, "invalidation reason" {
        Duplicate = "duplicate",
        Fraud = "fraud",
        Ineligible = "ineligible",
    }
}

named_enum! {
    /// What a twin link is called by the councils.
    /// Discriminants: 0 sister, 1 friendship, 2 partnership, 3 other.
    LinkKind, "link kind" {
        Sister = "sister",
        Friendship = "friendship",
        Partnership = "partnership",
        Other = "other",
    }
}

named_enum! {
    /// The state of a twin link. Discriminants: 0 active, 1 suspended, 2 severed.
    LinkStatus, "link status" {
        Active = "active",
        Suspended = "suspended",
        Severed = "severed",
    }
}

named_enum! {
    /// The outcome of a council vote. Discriminants: 0 passed, 1 failed.
    VoteResult, "vote result" {
        Passed = "passed",
        Failed = "failed",
    }
}

named_enum! {
    /// What kind of event. Discriminants: 0 rally, 1 stall, 2 march, 3 vigil,
    /// 4 meeting, 5 online.
    EventKind, "event kind" {
        Rally = "rally",
        Stall = "stall",
        March = "march",
        Vigil = "vigil",
        Meeting = "meeting",
        Online = "online",
    }
}

// ---------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------

/// A petition's wording: in full, or only its digest when the text is published
/// elsewhere. Discriminants: 0 full, 1 hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PetitionText {
    /// The text itself (at most [`TEXT_MAX_BYTES`], `\n` allowed).
    Full(String),
    /// H(UTF-8 text) under the log's hash function.
    Hash([u8; 32]),
}

/// How a signature was collected. Discriminants: 0 online, 1 paper.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Online,
    /// On a paper sheet, entered as part of a recorded batch.
    Paper {
        batch_id: Id,
    },
}

/// One signature: where the signer is and a commitment to who they are, never who
/// they are.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Signature {
    pub petition_id: Id,
    pub country: CountryCode,
    /// Parliamentary constituency (UK: `E14000831`).
    pub constituency: Option<AreaCode>,
    /// Council ward (UK: `E05...`), for exports to councillors.
    pub ward: Option<AreaCode>,
    /// Council or city name (`Newcastle upon Tyne`).
    pub council: Option<String>,
    pub channel: Channel,
    /// The signer agreed that their details may be shown to the petition's target.
    pub consent_to_share: bool,
    /// `keyed_blake3(dedup_key, petition_id || normalised identity)`, first 16 bytes.
    pub dedup_tag: [u8; 16],
    /// `H(salt32 || canonical personal data)`.
    pub commitment: [u8; 32],
}

/// One change to the campaign's state.
///
/// The discriminant of each variant is its position below (shown in brackets) and is
/// part of the log format: variants are only ever appended at the end, never
/// reordered, removed or given new fields. The order groups the domain — campaign,
/// petitions and signatures, paper, twin links, motions, events — each in lifecycle
/// order. Fields that reality may not tell us are `Option`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Record {
    /// \[0\] `campaign.launched`.
    CampaignLaunched {
        campaign_id: Id,
        title: String,
        launched_on: Option<Date>,
        /// How many city councils the campaign addresses (163 for global detwin).
        target_cities: Option<u32>,
        /// In how many countries.
        countries: Option<u32>,
    },
    /// \[1\] `campaign.city_joined`: a local group takes up the campaign in a city.
    CampaignCityJoined {
        campaign_id: Id,
        city: String,
        country: CountryCode,
        joined_on: Option<Date>,
    },
    /// \[2\] `petition.opened`.
    PetitionOpened {
        petition_id: Id,
        title: String,
        text: PetitionText,
        /// The body petitioned (`UK Parliament`, `Leeds City Council`).
        target: String,
        closes_on: Option<Date>,
        /// Signature counts that matter to the target, strictly ascending, non-zero.
        thresholds: Vec<u64>,
    },
    /// \[3\] `petition.closed`.
    PetitionClosed {
        petition_id: Id,
        reason: Option<String>,
    },
    /// \[4\] `signature.added`.
    SignatureAdded(Signature),
    /// \[5\] `signature.withdrawn` by the signer; `index` is the log index of the
    /// `signature.added` entry.
    SignatureWithdrawn { index: u64 },
    /// \[6\] `signatures.invalidated`: log indexes (strictly ascending) of
    /// `signature.added` entries that no longer count.
    SignaturesInvalidated {
        indexes: Vec<u64>,
        reason: InvalidationReason,
        note: Option<String>,
    },
    /// \[7\] `paper_batch.recorded`: a bundle of paper sheets collected at a stall or
    /// event, before its signatures are entered.
    PaperBatchRecorded {
        batch_id: Id,
        petition_id: Id,
        event_id: Option<Id>,
        stall: Option<String>,
        /// A handle for the collector assigned by the organisers; never a name.
        collector: Id,
        /// H(scanned sheets) under the log's hash function.
        sheet_scan_hash: Option<[u8; 32]>,
        /// Signatures on the sheets, at least 1.
        count: u32,
    },
    /// \[8\] `twin_link.registered`.
    TwinLinkRegistered {
        link_id: Id,
        city: String,
        country: CountryCode,
        partner_city: String,
        partner_country: CountryCode,
        kind: LinkKind,
        since: Option<PartialDate>,
    },
    /// \[9\] `twin_link.status_changed`.
    TwinLinkStatusChanged {
        link_id: Id,
        status: LinkStatus,
        effective_on: Option<Date>,
        /// The motion that decided it, if any.
        motion_id: Option<Id>,
    },
    /// \[10\] `motion.tabled` in a council.
    MotionTabled {
        motion_id: Id,
        council: String,
        link_id: Option<Id>,
        /// The councillor proposing, as publicly recorded (`Cllr Wendy Taylor`).
        proposer: Option<String>,
        title: String,
        /// H(motion text) under the log's hash function.
        text_hash: Option<[u8; 32]>,
        tabled_on: Option<Date>,
        source_url: Option<String>,
    },
    /// \[11\] `motion.amended`: a new title, a new text, or both.
    MotionAmended {
        motion_id: Id,
        title: Option<String>,
        text_hash: Option<[u8; 32]>,
        amended_on: Option<Date>,
    },
    /// \[12\] `motion.voted`.
    MotionVoted {
        motion_id: Id,
        votes_for: Option<u32>,
        votes_against: Option<u32>,
        abstentions: Option<u32>,
        result: VoteResult,
        voted_on: Option<Date>,
        /// The majority as reported when counts are not (`unanimous`, `large majority`).
        majority: Option<String>,
    },
    /// \[13\] `motion.withdrawn`.
    MotionWithdrawn {
        motion_id: Id,
        withdrawn_on: Option<Date>,
    },
    /// \[14\] `event.scheduled`.
    EventScheduled {
        event_id: Id,
        kind: EventKind,
        title: String,
        city: String,
        /// Disambiguates cities such as Perth.
        country: Option<CountryCode>,
        place: Option<String>,
        starts_at: Timestamp,
        /// After `starts_at`.
        ends_at: Option<Timestamp>,
        /// The organising group (`LHKA`).
        group: Option<String>,
        /// The joint action (day of action) this event is part of.
        joint_action: Option<Id>,
    },
    /// \[15\] `event.changed`: the fields given replace the scheduled ones; `None`
    /// leaves a field as it was. At least one is given.
    EventChanged {
        event_id: Id,
        title: Option<String>,
        place: Option<String>,
        starts_at: Option<Timestamp>,
        ends_at: Option<Timestamp>,
    },
    /// \[16\] `event.cancelled`.
    EventCancelled {
        event_id: Id,
        reason: Option<String>,
    },
    /// \[17\] `event.held`, with an attendance estimate if there is one.
    EventHeld {
        event_id: Id,
        attendance: Option<u32>,
    },
}

impl Record {
    /// The JSON `type` of every variant, indexed by discriminant.
    pub const KINDS: [&'static str; 18] = [
        "campaign.launched",
        "campaign.city_joined",
        "petition.opened",
        "petition.closed",
        "signature.added",
        "signature.withdrawn",
        "signatures.invalidated",
        "paper_batch.recorded",
        "twin_link.registered",
        "twin_link.status_changed",
        "motion.tabled",
        "motion.amended",
        "motion.voted",
        "motion.withdrawn",
        "event.scheduled",
        "event.changed",
        "event.cancelled",
        "event.held",
    ];

    /// The variant's discriminant in the encoding.
    pub fn discriminant(&self) -> u32 {
        match self {
            Record::CampaignLaunched { .. } => 0,
            Record::CampaignCityJoined { .. } => 1,
            Record::PetitionOpened { .. } => 2,
            Record::PetitionClosed { .. } => 3,
            Record::SignatureAdded(_) => 4,
            Record::SignatureWithdrawn { .. } => 5,
            Record::SignaturesInvalidated { .. } => 6,
            Record::PaperBatchRecorded { .. } => 7,
            Record::TwinLinkRegistered { .. } => 8,
            Record::TwinLinkStatusChanged { .. } => 9,
            Record::MotionTabled { .. } => 10,
            Record::MotionAmended { .. } => 11,
            Record::MotionVoted { .. } => 12,
            Record::MotionWithdrawn { .. } => 13,
            Record::EventScheduled { .. } => 14,
            Record::EventChanged { .. } => 15,
            Record::EventCancelled { .. } => 16,
            Record::EventHeld { .. } => 17,
        }
    }

    /// The JSON `type` name, such as `signature.added`.
    pub fn kind(&self) -> &'static str {
        Record::KINDS[self.discriminant() as usize]
    }

    /// Checks everything the types cannot: text and list bounds and the rules that
    /// relate fields. Messages name the field, never its content.
    pub fn validate(&self) -> Result<()> {
        match self {
            Record::CampaignLaunched {
                campaign_id: _,
                title,
                launched_on: _,
                target_cities,
                countries,
            } => {
                line("title", title, TITLE_MAX_BYTES)?;
                nonzero("target_cities", *target_cities)?;
                nonzero("countries", *countries)
            }
            Record::CampaignCityJoined { city, .. } => line("city", city, NAME_MAX_BYTES),
            Record::PetitionOpened {
                title,
                text,
                target,
                thresholds,
                ..
            } => {
                line("title", title, TITLE_MAX_BYTES)?;
                if let PetitionText::Full(text) = text {
                    long_text("text", text, TEXT_MAX_BYTES)?;
                }
                line("target", target, NAME_MAX_BYTES)?;
                if thresholds.len() > MAX_THRESHOLDS {
                    return Err(field("thresholds", "at most 16 thresholds"));
                }
                if thresholds.first() == Some(&0) || !strictly_ascending(thresholds) {
                    return Err(field(
                        "thresholds",
                        "must be non-zero and strictly ascending",
                    ));
                }
                Ok(())
            }
            Record::PetitionClosed { reason, .. } => opt_line("reason", reason, TITLE_MAX_BYTES),
            Record::SignatureAdded(signature) => {
                opt_line("council", &signature.council, NAME_MAX_BYTES)
            }
            Record::SignatureWithdrawn { .. } => Ok(()),
            Record::SignaturesInvalidated { indexes, note, .. } => {
                if indexes.is_empty() || indexes.len() > MAX_INVALIDATED {
                    return Err(field("indexes", "must name 1 to 8192 signatures"));
                }
                if !strictly_ascending(indexes) {
                    return Err(field("indexes", "must be strictly ascending"));
                }
                opt_line("note", note, TITLE_MAX_BYTES)
            }
            Record::PaperBatchRecorded { stall, count, .. } => {
                opt_line("stall", stall, NAME_MAX_BYTES)?;
                if *count == 0 {
                    return Err(field("count", "must be at least 1"));
                }
                Ok(())
            }
            Record::TwinLinkRegistered {
                city,
                country,
                partner_city,
                partner_country,
                ..
            } => {
                line("city", city, NAME_MAX_BYTES)?;
                line("partner_city", partner_city, NAME_MAX_BYTES)?;
                if city == partner_city && country == partner_country {
                    return Err(field("partner_city", "a city cannot twin with itself"));
                }
                Ok(())
            }
            Record::TwinLinkStatusChanged { .. } => Ok(()),
            Record::MotionTabled {
                council,
                proposer,
                title,
                source_url,
                ..
            } => {
                line("council", council, NAME_MAX_BYTES)?;
                opt_line("proposer", proposer, NAME_MAX_BYTES)?;
                line("title", title, TITLE_MAX_BYTES)?;
                match source_url {
                    Some(url) => web_url("source_url", url),
                    None => Ok(()),
                }
            }
            Record::MotionAmended {
                title, text_hash, ..
            } => {
                if title.is_none() && text_hash.is_none() {
                    return Err(field(
                        "title",
                        "an amendment changes the title, the text or both",
                    ));
                }
                opt_line("title", title, TITLE_MAX_BYTES)
            }
            Record::MotionVoted { majority, .. } => opt_line("majority", majority, NAME_MAX_BYTES),
            Record::MotionWithdrawn { .. } => Ok(()),
            Record::EventScheduled {
                title,
                city,
                place,
                starts_at,
                ends_at,
                group,
                ..
            } => {
                line("title", title, TITLE_MAX_BYTES)?;
                line("city", city, NAME_MAX_BYTES)?;
                opt_line("place", place, NAME_MAX_BYTES)?;
                opt_line("group", group, NAME_MAX_BYTES)?;
                ends_after_start(Some(*starts_at), *ends_at)
            }
            Record::EventChanged {
                title,
                place,
                starts_at,
                ends_at,
                ..
            } => {
                if title.is_none() && place.is_none() && starts_at.is_none() && ends_at.is_none() {
                    return Err(field("event_id", "a change must change at least one field"));
                }
                opt_line("title", title, TITLE_MAX_BYTES)?;
                opt_line("place", place, NAME_MAX_BYTES)?;
                ends_after_start(*starts_at, *ends_at)
            }
            Record::EventCancelled { reason, .. } => opt_line("reason", reason, TITLE_MAX_BYTES),
            Record::EventHeld { .. } => Ok(()),
        }
    }
}

fn field(name: &str, why: &str) -> Error {
    Error::InvalidRecord(format!("{name}: {why}"))
}

/// A one-line text: non-empty, bounded, no control characters or line separators, no
/// white space at either end.
pub(crate) fn line(name: &str, s: &str, max: usize) -> Result<()> {
    if s.is_empty() || s.len() > max {
        return Err(field(name, &format!("must be 1 to {max} bytes")));
    }
    if s.chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
    {
        return Err(field(name, "must be one line without control characters"));
    }
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err(field(name, "must not start or end with white space"));
    }
    Ok(())
}

fn opt_line(name: &str, s: &Option<String>, max: usize) -> Result<()> {
    match s {
        Some(s) => line(name, s, max),
        None => Ok(()),
    }
}

/// Multi-line text: non-empty, bounded, no control characters except `\n`.
fn long_text(name: &str, s: &str, max: usize) -> Result<()> {
    if s.is_empty() || s.len() > max {
        return Err(field(name, &format!("must be 1 to {max} bytes")));
    }
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(field(
            name,
            "must not hold control characters other than \\n",
        ));
    }
    Ok(())
}

/// An absolute `http://` or `https://` URL with something after the scheme.
fn web_url(name: &str, s: &str) -> Result<()> {
    if s.len() > URL_MAX_BYTES {
        return Err(field(name, "must be at most 2048 bytes"));
    }
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| field(name, "must start with https:// or http://"))?;
    if rest.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(field(name, "must be a URL without spaces"));
    }
    Ok(())
}

fn nonzero(name: &str, n: Option<u32>) -> Result<()> {
    if n == Some(0) {
        return Err(field(name, "must be at least 1 when given"));
    }
    Ok(())
}

fn strictly_ascending(values: &[u64]) -> bool {
    values.windows(2).all(|w| w[0] < w[1])
}

fn ends_after_start(starts_at: Option<Timestamp>, ends_at: Option<Timestamp>) -> Result<()> {
    match (starts_at, ends_at) {
        (Some(start), Some(end)) if end <= start => {
            Err(field("ends_at", "must be after starts_at"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_slugs_only() {
        for good in ["uk-detwin", "0", "a.b_c-d", &"x".repeat(64)] {
            assert_eq!(Id::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "-x",
            ".x",
            "_x",
            "Uk",
            "uk detwin",
            "ü",
            &"x".repeat(65),
        ] {
            assert!(Id::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn country_and_area_codes_check_their_shape() {
        assert_eq!(CountryCode::parse("GB").unwrap().to_string(), "GB");
        for bad in ["gb", "G", "GBR", "G1", "ÉE"] {
            assert!(CountryCode::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(AreaCode::parse("E14000831").unwrap().as_str(), "E14000831");
        for bad in [
            "e14000831",
            "E1400083",
            "E140008311",
            "EE4000831",
            "E1400083x",
        ] {
            assert!(AreaCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dates_are_real_calendar_dates() {
        assert_eq!(
            Date::parse("2022-11-02").unwrap(),
            Date::new(2022, 11, 2).unwrap()
        );
        assert!(Date::parse("2024-02-29").is_ok());
        assert!(Date::parse("2000-02-29").is_ok());
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2022-13-01",
            "2022-00-10",
            "2022-04-31",
            "2022-01-00",
            "0000-01-01",
            "2022-1-01",
            "2022/01/01",
            "+022-01-01",
            "2022-01-01 ",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Date::new(1985, 5, 1).unwrap().to_string(), "1985-05-01");
        assert_eq!(Date::new(9, 1, 1).unwrap().to_string(), "0009-01-01");
    }

    #[test]
    fn day_numbers_round_trip_across_the_whole_range() {
        assert_eq!(Date::new(1970, 1, 1).unwrap().days_since_unix_epoch(), 0);
        assert_eq!(
            Date::new(2000, 3, 1).unwrap().days_since_unix_epoch(),
            11_017
        );
        let first = Date::new(1, 1, 1).unwrap().days_since_unix_epoch();
        let last = Date::new(9999, 12, 31).unwrap().days_since_unix_epoch();
        let mut previous: Option<Date> = None;
        for days in first..=last {
            let date = Date::from_days_since_unix_epoch(days).unwrap();
            assert_eq!(date.days_since_unix_epoch(), days);
            if let Some(p) = previous {
                assert!(p < date);
            }
            previous = Some(date);
        }
        assert_eq!(Date::from_days_since_unix_epoch(first - 1), None);
        assert_eq!(Date::from_days_since_unix_epoch(last + 1), None);
        assert_eq!(Date::from_days_since_unix_epoch(i64::MAX), None);
    }

    #[test]
    fn partial_dates_parse_each_precision() {
        let year = PartialDate::parse("1985").unwrap();
        assert_eq!((year.year(), year.month(), year.date()), (1985, None, None));
        let month = PartialDate::parse("1985-05").unwrap();
        assert_eq!((month.year(), month.month()), (1985, Some(5)));
        let day = PartialDate::parse("1985-05-01").unwrap();
        assert_eq!(day.date(), Some(Date::new(1985, 5, 1).unwrap()));
        for s in ["1985", "1985-05", "1985-05-01"] {
            assert_eq!(PartialDate::parse(s).unwrap().to_string(), s);
        }
        for bad in [
            "0000",
            "1985-13",
            "1985-00",
            "85",
            "1985-5",
            "1985-02-30",
            "19850",
        ] {
            assert!(PartialDate::parse(bad).is_err(), "{bad:?}");
        }
        assert!(PartialDate::from_year_month(2022, 12).is_ok());
        assert!(PartialDate::from_year(10_000).is_err());
    }

    #[test]
    fn timestamps_parse_rfc3339_and_print_utc() {
        let stall = Timestamp::parse("2022-12-11T12:00:00Z").unwrap();
        assert_eq!(stall.unix_seconds(), 1_670_760_000);
        assert_eq!(stall.to_string(), "2022-12-11T12:00:00Z");
        assert_eq!(stall.date(), Date::new(2022, 12, 11).unwrap());
        for same in [
            "2022-12-11T13:00:00+01:00",
            "2022-12-11T07:30:00-04:30",
            "2022-12-11t12:00:00z",
            "2022-12-11T12:00:00.000Z",
            "2022-12-12T01:00:00+13:00",
            "2022-12-11T12:00:00-00:00",
        ] {
            assert_eq!(Timestamp::parse(same).unwrap(), stall, "{same}");
        }
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:00Z")
                .unwrap()
                .unix_seconds(),
            0
        );
        let before = Timestamp::parse("1969-12-31T23:59:59Z").unwrap();
        assert_eq!(before.unix_seconds(), -1);
        assert_eq!(before.to_string(), "1969-12-31T23:59:59Z");
        assert_eq!(Timestamp::MIN.to_string(), "0001-01-01T00:00:00Z");
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59Z");
        for bad in [
            "2022-12-11T12:00:00",
            "2022-12-11 12:00:00Z",
            "2022-12-11T24:00:00Z",
            "2022-12-11T12:60:00Z",
            "2022-12-31T23:59:60Z",
            "2022-12-11T12:00:00.5Z",
            "2022-12-11T12:00:00.Z",
            "2022-12-11T12:00:00+0100",
            "2022-12-11T12:00:00+24:00",
            "2022-12-11T12:00:00+01:60",
            "2022-02-30T12:00:00Z",
            "0001-01-01T00:00:00+00:01",
            "9999-12-31T23:59:59-00:01",
            "2022-12-11T12:00:00Zé",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Timestamp::from_unix_seconds(Timestamp::MAX.unix_seconds() + 1).is_err());
        assert!(Timestamp::from_unix_seconds(i64::MIN).is_err());
    }

    #[test]
    fn named_enums_round_trip_their_names() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>().unwrap(), *kind);
        }
        assert_eq!(LinkKind::parse("friendship").unwrap(), LinkKind::Friendship);
        assert!(LinkStatus::parse("Severed").is_err());
        assert_eq!(
            serde_json::to_string(&VoteResult::Passed).unwrap(),
            "\"passed\""
        );
    }

    #[test]
    fn json_uses_the_text_forms() {
        let date: Date = serde_json::from_str("\"2022-11-02\"").unwrap();
        assert_eq!(serde_json::to_string(&date).unwrap(), "\"2022-11-02\"");
        let since: PartialDate = serde_json::from_str("\"1985\"").unwrap();
        assert_eq!(serde_json::to_string(&since).unwrap(), "\"1985\"");
        let at: Timestamp = serde_json::from_str("\"2022-12-11T13:00:00+01:00\"").unwrap();
        assert_eq!(
            serde_json::to_string(&at).unwrap(),
            "\"2022-12-11T12:00:00Z\""
        );
        let country: CountryCode = serde_json::from_str("\"CN\"").unwrap();
        assert_eq!(serde_json::to_string(&country).unwrap(), "\"CN\"");
        assert!(serde_json::from_str::<Date>("\"2022-02-30\"").is_err());
        assert!(serde_json::from_str::<Id>("\"Bad Id\"").is_err());
    }

    #[test]
    fn kinds_follow_discriminants() {
        let held = Record::EventHeld {
            event_id: Id::parse("lhka-2022-12-11").unwrap(),
            attendance: Some(40),
        };
        assert_eq!(held.kind(), "event.held");
        let bytes = postcard::to_allocvec(&held).unwrap();
        assert_eq!(u32::from(bytes[0]), held.discriminant());
    }

    #[test]
    fn text_rules() {
        assert!(line("t", "Global Detwin in UK", 512).is_ok());
        for bad in ["", " x", "x ", "a\nb", "a\tb", "a\u{2028}b", "a\u{7f}b"] {
            assert!(line("t", bad, 512).is_err(), "{bad:?}");
        }
        assert!(line("t", &"x".repeat(513), 512).is_err());
        assert!(long_text("t", "para one\n\npara two\n", 100).is_ok());
        assert!(long_text("t", "a\r\nb", 100).is_err());
        assert!(web_url("u", "https://democracy.newcastle.gov.uk/").is_ok());
        for bad in ["ftp://x", "https://", "https://a b", "newcastle.gov.uk"] {
            assert!(web_url("u", bad).is_err(), "{bad:?}");
        }
    }
}
