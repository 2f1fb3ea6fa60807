//! Free text: names, titles, URLs and long text, each a type that carries its rules.
//!
//! Limits are in bytes of UTF-8, all chosen so the largest record stays well inside the
//! 65535-byte entry limit:
//!
//! | type | limit | used for |
//! |---|---|---|
//! | [`Name`] | [`NAME_MAX_BYTES`] = 128 | cities, councils, targets, places, groups, stalls, proposers, majority |
//! | [`Title`] | [`TITLE_MAX_BYTES`] = 512 | titles, reasons, notes |
//! | [`Url`] | [`URL_MAX_BYTES`] = 2048 | motion source URL (`http://` or `https://`, no spaces) |
//! | [`LongText`] | [`TEXT_MAX_BYTES`] = 32768 | full petition text |
//!
//! Names, titles and URLs are one line: non-empty, no control characters, no line or
//! paragraph separators and no leading or trailing white space (so the same text has
//! one encoding and counts keyed by it are stable). Long text may contain `\n` (only
//! `\n`: a CR must be normalised away before it reaches the log).
//!
//! No text holds an invisible character ([`is_invisible`]: zero-width characters, the
//! soft hyphen, the byte order mark, bidi controls and every other format or
//! default-ignorable code point). Such a character changes the bytes, and so any count
//! or dedup keyed on them, without changing what a reader sees, and bidi controls can
//! make a text display as something else. The server's personal-data checks use the
//! same rule ([`check_visible`]).
//!
//! Every type is encoded as a string, derefs to `str` and compares with `str`.

use std::borrow::Borrow;
use std::ops::Deref;

use super::invalid;
use super::values::string_form;
use crate::Result;

/// Longest name (city, council, place, group, ...), in bytes.
pub const NAME_MAX_BYTES: usize = 128;
/// Longest title, reason or note, in bytes.
pub const TITLE_MAX_BYTES: usize = 512;
/// Longest source URL, in bytes.
pub const URL_MAX_BYTES: usize = 2048;
/// Longest full petition text, in bytes.
pub const TEXT_MAX_BYTES: usize = 32 * 1024;

/// Declares a text type over `String` whose `check(&str)` states its rules.
macro_rules! text_type {
    ($(#[$meta:meta])* $name:ident, $check:expr) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<$name> {
                $name::parse_reason(s).map_err(invalid)
            }

            fn parse_reason(s: &str) -> Result<$name, &'static str> {
                $name::check(s)?;
                Ok($name(s.to_owned()))
            }

            /// Takes `s` if it is valid, without copying it.
            pub fn from_string(s: String) -> Result<$name> {
                $name::check(&s).map_err(invalid)?;
                Ok($name(s))
            }

            /// The rules, on a borrowed string. Messages are static and quote nothing.
            pub fn check(s: &str) -> Result<(), &'static str> {
                let check: fn(&str) -> Result<(), &'static str> = $check;
                check(s)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        string_form!($name);
    };
}
pub(crate) use text_type;

/// Whether `c` is invisible: of General Category `Cf` (format: zero-width space and
/// joiners U+200B..U+200D, soft hyphen U+00AD, byte order mark U+FEFF, the bidi
/// controls U+061C, U+200E, U+200F, U+202A..U+202E and U+2066..U+2069, word joiner,
/// tags, ...) or `Default_Ignorable_Code_Point` (which adds the combining grapheme
/// joiner, Hangul fillers and variation selectors), by the Unicode data that
/// `icu_properties` ships. The one definition of the rule for every text of the log
/// and every field of personal data.
pub fn is_invisible(c: char) -> bool {
    use icu_properties::props::{DefaultIgnorableCodePoint, GeneralCategory};
    use icu_properties::{CodePointMapData, CodePointSetData};
    // ASCII has no such character (its controls are refused on their own).
    !c.is_ascii()
        && (CodePointMapData::<GeneralCategory>::new().get(c) == GeneralCategory::Format
            || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c))
}

/// Refuses text holding an invisible character ([`is_invisible`]).
pub fn check_visible(s: &str) -> Result<(), &'static str> {
    // Nearly every text is ASCII; skip the lookups for it.
    if !s.is_ascii() && s.chars().any(is_invisible) {
        return Err(
            "must not hold invisible characters (zero-width, soft hyphen, BOM, bidi controls)",
        );
    }
    Ok(())
}

/// One line of 1 to `max` bytes: no control characters or line separators, no
/// invisible characters, no white space at either end.
fn one_line(s: &str, max: usize, length: &'static str) -> Result<(), &'static str> {
    if s.is_empty() || s.len() > max {
        return Err(length);
    }
    if s.chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
    {
        return Err("must be one line without control characters");
    }
    check_visible(s)?;
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err("must not start or end with white space");
    }
    Ok(())
}

text_type! {
    /// A name: a city, council, target body, place, group, stall, proposer or majority
    /// as reported (`Newcastle upon Tyne`, `Cllr Wendy Taylor`). One line, 1 to 128 bytes.
    Name,
    |s| one_line(s, NAME_MAX_BYTES, "must be 1 to 128 bytes")
}

text_type! {
    /// A title, a reason or a note. One line, 1 to 512 bytes.
    Title,
    |s| one_line(s, TITLE_MAX_BYTES, "must be 1 to 512 bytes")
}

text_type! {
    /// An absolute `http://` or `https://` URL with something after the scheme, at
    /// most 2048 bytes, without white space, control or invisible characters.
    Url,
    |s| {
        if s.len() > URL_MAX_BYTES {
            return Err("must be at most 2048 bytes");
        }
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .ok_or("must start with https:// or http://")?;
        if rest.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must be a URL without spaces");
        }
        check_visible(s)
    }
}

text_type! {
    /// Multi-line text such as a petition's wording: 1 to 32768 bytes, no control
    /// characters except `\n`, no invisible characters.
    LongText,
    |s| {
        if s.is_empty() || s.len() > TEXT_MAX_BYTES {
            return Err("must be 1 to 32768 bytes");
        }
        if s.chars().any(|c| c.is_control() && c != '\n') {
            return Err("must not hold control characters other than \\n");
        }
        check_visible(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_texts() {
        assert!(Title::parse("Global Detwin in UK").is_ok());
        for bad in ["", " x", "x ", "a\nb", "a\tb", "a\u{2028}b", "a\u{7f}b"] {
            assert!(Title::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Title::parse(&"x".repeat(513)).is_err());
        assert!(Title::parse(&"x".repeat(512)).is_ok());
        assert!(Name::parse(&"é".repeat(64)).is_ok());
        assert!(Name::parse(&"é".repeat(65)).is_err());
    }

    #[test]
    fn invisible_characters_are_refused_in_every_text() {
        let invisible = [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{00AD}',
            '\u{FEFF}',
            '\u{061C}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{2060}',
            '\u{034F}',
            '\u{3164}',
            '\u{FE0F}',
            '\u{E0041}',
            '\u{180E}',
        ];
        for c in invisible {
            assert!(is_invisible(c), "{c:?}");
            let text = format!("Jane{c}Doe");
            assert!(Name::parse(&text).is_err(), "{c:?}");
            assert!(Title::parse(&text).is_err(), "{c:?}");
            assert!(LongText::parse(&text).is_err(), "{c:?}");
            assert!(Url::parse(&format!("https://x.org/{c}")).is_err(), "{c:?}");
        }
        for visible in ['a', ' ', 'é', 'Ж', '中', '\u{0301}', '’', '🙂'] {
            assert!(!is_invisible(visible), "{visible:?}");
        }
        assert!(Name::parse("Zoë Łukasiewicz-Ó Briain").is_ok());
    }

    #[test]
    fn long_text_and_urls() {
        assert!(LongText::parse("para one\n\npara two\n").is_ok());
        assert!(LongText::parse("a\r\nb").is_err());
        assert!(LongText::parse("").is_err());
        assert!(Url::parse("https://democracy.newcastle.gov.uk/").is_ok());
        for bad in ["ftp://x", "https://", "https://a b", "newcastle.gov.uk"] {
            assert!(Url::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn texts_compare_and_encode_as_strings() {
        let city = Name::parse("Leeds").unwrap();
        assert_eq!(city, "Leeds");
        assert_eq!(&*city, "Leeds");
        assert_eq!(
            postcard::to_allocvec(&city).unwrap(),
            postcard::to_allocvec("Leeds").unwrap()
        );
        assert_eq!(serde_json::to_string(&city).unwrap(), "\"Leeds\"");
        assert!(serde_json::from_str::<Name>("\" Leeds\"").is_err());
        assert!(postcard::from_bytes::<Name>(&postcard::to_allocvec("a\nb").unwrap()).is_err());
    }
}
