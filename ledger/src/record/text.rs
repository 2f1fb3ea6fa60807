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

/// One line of 1 to `max` bytes: no control characters or line separators, no white
/// space at either end.
fn one_line(s: &str, max: usize, length: &'static str) -> Result<(), &'static str> {
    if s.is_empty() || s.len() > max {
        return Err(length);
    }
    if s.chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
    {
        return Err("must be one line without control characters");
    }
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
    /// most 2048 bytes, without white space or control characters.
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
        Ok(())
    }
}

text_type! {
    /// Multi-line text such as a petition's wording: 1 to 32768 bytes, no control
    /// characters except `\n`.
    LongText,
    |s| {
        if s.is_empty() || s.len() > TEXT_MAX_BYTES {
            return Err("must be 1 to 32768 bytes");
        }
        if s.chars().any(|c| c.is_control() && c != '\n') {
            return Err("must not hold control characters other than \\n");
        }
        Ok(())
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
