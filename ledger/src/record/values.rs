//! Ids, codes, counts and lists: the value types whose rules are about their shape.
//!
//! Each has private fields; its constructors and `Deserialize` check the value (a
//! refusal is reported through [`super::refuse`]), so a held value is always valid.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::text::text_type;
use super::{invalid, refuse};
use crate::{DedupTag, Result};

/// Longest [`Id`], in bytes.
pub const ID_MAX_BYTES: usize = 64;
/// Most signature thresholds a petition may declare.
pub const MAX_THRESHOLDS: usize = 16;
/// Most signatures one `signatures.invalidated` record may name. A batch this long of
/// large indexes does not fit in one entry; encoding then fails with
/// [`Error::EntryTooLarge`] and the caller splits the batch.
pub const MAX_INVALIDATED: usize = 8192;
/// Most dedup tags one signature carries: one per identity of its signer, and a
/// signer has at most two (an email; a name with a postcode).
pub const MAX_DEDUP_TAGS: usize = 2;

/// `FromStr` (through `parse`), `Serialize` and `Deserialize` for a checked type: in
/// human-readable formats (JSON) through its text form, `Display` out and
/// `parse_reason` in; in binary ones (postcard) through its wire form, `|$v| $to_wire`
/// out and `$wire` checked by `$from_wire` (returning `Result<_, &'static str>`) in.
/// A refusal is reported through [`super::refuse`].
macro_rules! text_or_wire {
    ($ty:ident, |$v:ident| $to_wire:expr, $wire:ty => $from_wire:expr) => {
        impl ::std::str::FromStr for $ty {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                $ty::parse(s)
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(
                &self,
                s: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(self)
                } else {
                    let $v = self;
                    ::serde::Serialize::serialize(&$to_wire, s)
                }
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                d: D,
            ) -> ::std::result::Result<Self, D::Error> {
                let checked = if d.is_human_readable() {
                    $ty::parse_reason(&<String as ::serde::Deserialize>::deserialize(d)?)
                } else {
                    let from_wire: fn($wire) -> ::std::result::Result<$ty, &'static str> =
                        $from_wire;
                    from_wire(<$wire as ::serde::Deserialize>::deserialize(d)?)
                };
                checked.map_err($crate::record::refuse)
            }
        }
    };
}
pub(crate) use text_or_wire;

/// [`text_or_wire!`] and `Display` for a type whose wire form is its text too (`as_str`).
macro_rules! string_form {
    ($ty:ident) => {
        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        $crate::record::values::text_or_wire!($ty, |v| v.as_str(), String => |s| $ty::parse_reason(&s));
    };
}
pub(crate) use string_form;

// ---------------------------------------------------------------------------------
// Id
// ---------------------------------------------------------------------------------

text_type! {
    /// A slug naming a campaign, petition, batch, twin link, motion or event:
    /// 1 to 64 bytes of `a-z 0-9 . _ -`, starting with a letter or digit
    /// (`uk-detwin`, `newcastle-taiyuan`, `lhka-2022-12-11`).
    ///
    /// Encoded as a string. Ordered as its text, and `Borrow<str>`, so maps keyed by `Id`
    /// can be searched with a `&str`.
    Id,
    |s| Id::check_bytes(s.as_bytes())
}

impl Id {
    /// The rules of an id, on its bytes (an id is ASCII, so valid bytes are valid
    /// UTF-8). Shared with the in-place signature decoder.
    pub(crate) fn check_bytes(b: &[u8]) -> Result<(), &'static str> {
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
}

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

text_or_wire!(CountryCode, |c| c.0, [u8; 2] => CountryCode::from_bytes);

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

string_form!(AreaCode);

// ---------------------------------------------------------------------------------
// Count
// ---------------------------------------------------------------------------------

/// A number of things that is at least 1: cities a campaign targets, signatures on a
/// paper batch.
///
/// Encoded as a varint `u32`; as a number in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Count(u32);

impl Count {
    pub fn new(n: u32) -> Result<Count> {
        Count::new_reason(n).map_err(invalid)
    }

    fn new_reason(n: u32) -> Result<Count, &'static str> {
        if n == 0 {
            return Err("must be at least 1");
        }
        Ok(Count(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Count::new_reason(u32::deserialize(d)?).map_err(refuse)
    }
}

// ---------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------

/// Declares a list of `u64` with a rule: a newtype over `Vec<u64>` that derefs to a
/// slice, serializes as the list and checks the rule when built or deserialized.
macro_rules! checked_list {
    ($(#[$meta:meta])* $name:ident, $check:expr) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(Vec<u64>);

        impl $name {
            pub fn new(values: Vec<u64>) -> Result<$name> {
                $name::new_reason(values).map_err(invalid)
            }

            fn new_reason(values: Vec<u64>) -> Result<$name, &'static str> {
                let check: fn(&[u64]) -> Result<(), &'static str> = $check;
                check(&values)?;
                Ok($name(values))
            }
        }

        impl Deref for $name {
            type Target = [u64];
            fn deref(&self) -> &[u64] {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $name::new_reason(Vec::deserialize(d)?).map_err(refuse)
            }
        }
    };
}

fn strictly_ascending(values: &[u64]) -> bool {
    values.windows(2).all(|w| w[0] < w[1])
}

checked_list! {
    /// Signature counts that matter to a petition's target (10,000 for a government
    /// response, 100,000 for a debate): at most 16, non-zero, strictly ascending; may
    /// be empty (the default).
    #[derive(Default)]
    Thresholds,
    |values| {
        if values.len() > MAX_THRESHOLDS {
            return Err("at most 16 thresholds");
        }
        if values.first() == Some(&0) || !strictly_ascending(values) {
            return Err("must be non-zero and strictly ascending");
        }
        Ok(())
    }
}

checked_list! {
    /// Log indexes of `signature.added` entries: 1 to [`MAX_INVALIDATED`], strictly
    /// ascending (so each is named once).
    SignatureIndexes,
    |values| {
        if values.is_empty() || values.len() > MAX_INVALIDATED {
            return Err("must name 1 to 8192 signatures");
        }
        if !strictly_ascending(values) {
            return Err("must be strictly ascending");
        }
        Ok(())
    }
}

/// The dedup tags of one `signature.recorded`: one per identity of its signer
/// (docs/FORMAT.md part E), 1 to [`MAX_DEDUP_TAGS`], strictly ascending by their bytes
/// (so each is named once, the list has one encoding, and its order tells nothing of
/// which identity a tag is for).
///
/// Held inline, not in a `Vec`, so that it is `Copy` and a replay reads it in place
/// without allocating. Encoded as a list of [`DedupTag`]s: in postcard a varint count
/// and then each tag's 16 bytes, in JSON an array of base64 strings.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DedupTags {
    len: u8,
    /// The first `len` are the tags; the rest stay zero, so derived equality holds.
    tags: [DedupTag; MAX_DEDUP_TAGS],
}

impl DedupTags {
    /// The tags of `tags`, sorted and with repeats dropped (two identities of one
    /// signer that happen to give the same tag count once); an error if there are none
    /// or more than [`MAX_DEDUP_TAGS`] distinct ones.
    pub fn from_unsorted(tags: &[DedupTag]) -> Result<DedupTags> {
        let mut sorted = tags.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        DedupTags::new(&sorted)
    }

    /// The tags `tags`, which must follow the rule.
    pub fn new(tags: &[DedupTag]) -> Result<DedupTags> {
        DedupTags::new_reason(tags).map_err(invalid)
    }

    /// One tag.
    pub fn one(tag: DedupTag) -> DedupTags {
        let mut tags = [DedupTag::default(); MAX_DEDUP_TAGS];
        tags[0] = tag;
        DedupTags { len: 1, tags }
    }

    fn new_reason(tags: &[DedupTag]) -> Result<DedupTags, &'static str> {
        if tags.is_empty() || tags.len() > MAX_DEDUP_TAGS {
            return Err("must hold 1 to 2 dedup tags");
        }
        if !tags.windows(2).all(|w| w[0] < w[1]) {
            return Err("must be strictly ascending");
        }
        let mut held = [DedupTag::default(); MAX_DEDUP_TAGS];
        held[..tags.len()].copy_from_slice(tags);
        Ok(DedupTags {
            len: tags.len() as u8,
            tags: held,
        })
    }
}

impl Deref for DedupTags {
    type Target = [DedupTag];
    fn deref(&self) -> &[DedupTag] {
        &self.tags[..usize::from(self.len)]
    }
}

impl fmt::Debug for DedupTags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for DedupTags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for DedupTags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        DedupTags::new_reason(&Vec::<DedupTag>::deserialize(d)?).map_err(refuse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_tags_are_one_or_two_ascending() {
        let (a, b) = (DedupTag([1; 16]), DedupTag([2; 16]));
        let tags = DedupTags::new(&[a, b]).unwrap();
        assert_eq!(&*tags, [a, b]);
        assert_eq!(DedupTags::from_unsorted(&[b, a, b]).unwrap(), tags);
        assert_eq!(&*DedupTags::one(b), [b]);
        for bad in [&[][..], &[b, a], &[a, a], &[a, b, DedupTag([3; 16])]] {
            assert!(DedupTags::new(bad).is_err(), "{bad:?}");
        }
        let bytes = postcard::to_allocvec(&tags).unwrap();
        assert_eq!(bytes, [&[2][..], &[1; 16], &[2; 16]].concat());
        assert_eq!(postcard::from_bytes::<DedupTags>(&bytes).unwrap(), tags);
        let swapped = [&[2][..], &[2; 16], &[1; 16]].concat();
        assert!(postcard::from_bytes::<DedupTags>(&swapped).is_err());
        let json = serde_json::to_string(&tags).unwrap();
        assert_eq!(json, format!("[\"{a}\",\"{b}\"]"));
        assert_eq!(serde_json::from_str::<DedupTags>(&json).unwrap(), tags);
    }

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
    fn counts_and_lists_check_their_rules() {
        assert!(Count::new(0).is_err());
        assert_eq!(Count::new(163).unwrap().get(), 163);
        assert!(Thresholds::new(vec![]).is_ok());
        assert!(Thresholds::new(vec![10_000, 100_000]).is_ok());
        for bad in [vec![0, 1], vec![5, 5], vec![10, 5], (1..=17).collect()] {
            assert!(Thresholds::new(bad.clone()).is_err(), "{bad:?}");
        }
        assert!(SignatureIndexes::new(vec![7, 9]).is_ok());
        for bad in [vec![], vec![9, 7], vec![7, 7], (0..8193).collect()] {
            assert!(SignatureIndexes::new(bad.clone()).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<Thresholds>("[3, 2]").is_err());
        assert_eq!(
            super::super::take_refusal(),
            Some("must be non-zero and strictly ascending")
        );
        assert_eq!(
            postcard::to_allocvec(&Thresholds::new(vec![1, 300]).unwrap()).unwrap(),
            postcard::to_allocvec(&vec![1u64, 300]).unwrap()
        );
    }

    #[test]
    fn json_uses_the_text_forms() {
        let country: CountryCode = serde_json::from_str("\"CN\"").unwrap();
        assert_eq!(serde_json::to_string(&country).unwrap(), "\"CN\"");
        assert!(serde_json::from_str::<Id>("\"Bad Id\"").is_err());
        let id: Id = serde_json::from_str("\"uk-detwin\"").unwrap();
        assert_eq!(&*id, "uk-detwin");
    }
}
