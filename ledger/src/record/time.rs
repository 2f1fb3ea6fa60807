//! Dates and times: [`Date`], [`PartialDate`] and [`Timestamp`], on the proleptic
//! Gregorian calendar from year 1 to 9999, so every value prints in its text form.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::invalid;
use super::values::text_or_wire;
use crate::Result;

const SECONDS_PER_DAY: i64 = 86_400;
/// Days from 0001-01-01 to 1970-01-01.
const DAYS_TO_UNIX_EPOCH: i64 = 719_162;
/// The Julian day number of 1970-01-01.
const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// The date in the `time` crate's proleptic Gregorian calendar, if it exists there.
fn civil(year: u16, month: u8, day: u8) -> Option<time::Date> {
    let month = time::Month::try_from(month).ok()?;
    time::Date::from_calendar_date(i32::from(year), month, day).ok()
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
        civil(year, month, day).ok_or("day does not exist in that month")?;
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
        let date = civil(self.year, self.month, self.day).expect("a Date exists");
        i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY
    }

    /// The date `days` after 1970-01-01, if it lies in years 1 to 9999.
    pub fn from_days_since_unix_epoch(days: i64) -> Option<Date> {
        let julian_day = i32::try_from(days.checked_add(UNIX_EPOCH_JULIAN_DAY)?).ok()?;
        let date = time::Date::from_julian_day(julian_day).ok()?;
        let year = u16::try_from(date.year())
            .ok()
            .filter(|y| (1..=9999).contains(y))?;
        Some(Date {
            year,
            month: date.month().into(),
            day: date.day(),
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

text_or_wire!(Date, |d| (d.year, d.month, d.day), (u16, u8, u8) => |(y, m, d)| {
    Date::new_reason(y, m, d)
});

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

text_or_wire!(PartialDate, |p| p.0, PartialDateWire => PartialDate::check);

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

text_or_wire!(Timestamp, |t| t.0, i64 => Timestamp::from_unix_reason);

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(serde_json::from_str::<Date>("\"2022-02-30\"").is_err());
    }
}
