//! The entry: the versioned envelope whose postcard bytes are the leaves of the log.
//!
//! An entry is `Entry::V1 { time_ms, author, record }`. Its bytes are what the log
//! stores, hashes and serves; `docs/FORMAT.md` (part B) gives the
//! byte layout for decoders in other languages.
//!
//! Invariants:
//! - Every entry produced by [`Entry::encode`] or accepted by [`Entry::decode`] is at
//!   most [`MAX_ENTRY_BYTES`] (tlog-tiles entry bundles use u16 length prefixes) and
//!   passes [`Entry::validate`].
//! - Decoding is strict: one value has exactly one encoding. Trailing bytes, over-long
//!   varints, bool or option bytes other than 0 and 1, unknown discriminants and invalid
//!   UTF-8 are all refused, so `encode(decode(b)) == b` for every accepted `b`. This is
//!   what lets auditors replay the log and reach the same counts byte for byte.
//! - Error messages describe what is wrong, never the entry's contents.
//! - Envelope versions, like record variants, are only ever appended.

use postcard::ser_flavors::Flavor;
use serde::{Deserialize, Serialize};

use crate::record::{
    take_refusal, AreaCode, Channel, CountryCode, DedupTags, Id, Name, Record, Signature,
    SignatureRecorded, MAX_DEDUP_TAGS,
};
use crate::{DedupTag, Error, Hash, Result};

/// Largest encoded entry, in bytes.
pub const MAX_ENTRY_BYTES: usize = crate::store::MAX_ENTRY_LEN;
/// Longest author, in bytes.
pub const AUTHOR_MAX_BYTES: usize = 64;

/// One log entry. The discriminant of each version is its position (V1 = 0).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Entry {
    V1 {
        /// When the sequencer accepted it, in milliseconds since the Unix epoch.
        time_ms: u64,
        /// The public id of the token that appended it: 1 to 64 bytes of printable
        /// ASCII without spaces.
        author: String,
        record: Record,
    },
}

impl Entry {
    pub fn v1(time_ms: u64, author: impl Into<String>, record: Record) -> Entry {
        Entry::V1 {
            time_ms,
            author: author.into(),
            record,
        }
    }

    pub fn time_ms(&self) -> u64 {
        match self {
            Entry::V1 { time_ms, .. } => *time_ms,
        }
    }

    pub fn author(&self) -> &str {
        match self {
            Entry::V1 { author, .. } => author,
        }
    }

    pub fn record(&self) -> &Record {
        match self {
            Entry::V1 { record, .. } => record,
        }
    }

    pub fn into_record(self) -> Record {
        match self {
            Entry::V1 { record, .. } => record,
        }
    }

    /// The record's JSON `type`, such as `signature.added`.
    pub fn kind(&self) -> &'static str {
        self.record().kind()
    }

    /// Checks the author and the record.
    pub fn validate(&self) -> Result<()> {
        if !author_is_valid(self.author().as_bytes()) {
            return Err(Error::InvalidRecord(
                "author: must be 1 to 64 bytes of printable ASCII without spaces".into(),
            ));
        }
        self.record().validate()
    }

    /// Validates and encodes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Validates and encodes into `out`, replacing its contents and reusing its
    /// allocation. On error `out` is left empty.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        self.validate()?;
        let buf = std::mem::take(out);
        // Serializing these types cannot fail: every sequence has a known length.
        *out = postcard::to_extend(self, buf)
            .map_err(|_| Error::Decode("entry could not be serialized".into()))?;
        if out.len() > MAX_ENTRY_BYTES {
            let len = out.len();
            out.clear();
            return Err(Error::EntryTooLarge(len));
        }
        Ok(())
    }

    /// Decodes an entry, accepting only canonical, valid encodings.
    pub fn decode(bytes: &[u8]) -> Result<Entry> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(Error::EntryTooLarge(bytes.len()));
        }
        take_refusal(); // clear any reason left over from an unrelated failure
        let (entry, rest) = postcard::take_from_bytes::<Entry>(bytes).map_err(decode_error)?;
        if !rest.is_empty() {
            return Err(Error::Decode(format!("{} trailing bytes", rest.len())));
        }
        // Re-encode, comparing as we go instead of building a second buffer.
        postcard::serialize_with_flavor(
            &entry,
            SameBytes {
                expected: bytes,
                at: 0,
            },
        )
        .map_err(|_| Error::NonCanonical)?;
        entry.validate()?;
        Ok(entry)
    }
}

/// 1 to 64 bytes of printable ASCII without spaces.
fn author_is_valid(author: &[u8]) -> bool {
    !author.is_empty()
        && author.len() <= AUTHOR_MAX_BYTES
        && author.iter().all(u8::is_ascii_graphic)
}

// ---------------------------------------------------------------------------------
// Signatures read in place
//
// Replaying a log is mostly decoding signatures, and decoding one with serde builds a
// `String` for its author, petition id, council and batch id, which the fold then only
// looks up and drops. This reads the same bytes in place. It is an addition, not a
// second format: it accepts exactly the bytes `Entry::decode` accepts as a
// `signature.added` or `signature.recorded` entry (docs/FORMAT.md part B, §1.1 and
// §6), using the same value checks (`Id::check_bytes`, `AreaCode::from_bytes`,
// `CountryCode::from_bytes`, `Name::check`, `author_is_valid`, the `DedupTags` rule),
// and returns `None` for everything else, leaving the full decoder to say what the
// entry is or what is wrong with it. `ledger/tests/encoding.rs` compares the two over
// valid, mutated and random encodings.
// ---------------------------------------------------------------------------------

/// Which of the three signature kinds an entry read in place is. They differ only in
/// their dedup tags (`signature.added` has one, the others a list) and in the signer
/// hash only `signature.committed` has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureKind {
    /// `signature.added`.
    Added,
    /// `signature.recorded`.
    Recorded,
    /// `signature.committed`.
    Committed,
}

/// A signature entry read in place from its bytes by [`Entry::decode_signature`]: the
/// same values as the decoded [`Record::SignatureAdded`] or
/// [`Record::SignatureRecorded`] or [`Record::SignatureCommitted`], with the texts
/// borrowed instead of allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureEntry<'a> {
    pub kind: SignatureKind,
    pub time_ms: u64,
    pub author: &'a str,
    /// A valid [`Id`](crate::record::Id).
    pub petition_id: &'a str,
    pub country: CountryCode,
    pub constituency: Option<AreaCode>,
    pub ward: Option<AreaCode>,
    /// A valid name (one line, at most 128 bytes).
    pub council: Option<&'a str>,
    /// The channel: `None` online, else the paper batch's id (a valid `Id`).
    pub paper_batch: Option<&'a str>,
    pub consent_to_share: bool,
    /// One tag for `signature.added`.
    pub dedup_tags: DedupTags,
    pub commitment: Hash,
    /// `signature.committed` only: the hash of the signer's secret.
    pub signer_hash: Option<Hash>,
}

impl SignatureEntry<'_> {
    /// The same entry as [`Entry::decode`] gives it.
    pub fn to_entry(&self) -> Entry {
        let id = |s: &str| Id::parse(s).expect("checked when read");
        let petition_id = id(self.petition_id);
        let council = self
            .council
            .map(|c| Name::parse(c).expect("checked when read"));
        let channel = match self.paper_batch {
            None => Channel::Online,
            Some(batch) => Channel::Paper {
                batch_id: id(batch),
            },
        };
        let record = match self.kind {
            SignatureKind::Added => Record::SignatureAdded(Signature {
                petition_id,
                country: self.country,
                constituency: self.constituency,
                ward: self.ward,
                council,
                channel,
                consent_to_share: self.consent_to_share,
                dedup_tag: self.dedup_tags[0],
                commitment: self.commitment,
            }),
            SignatureKind::Recorded | SignatureKind::Committed => {
                let recorded = SignatureRecorded {
                    petition_id,
                    country: self.country,
                    constituency: self.constituency,
                    ward: self.ward,
                    council,
                    channel,
                    consent_to_share: self.consent_to_share,
                    dedup_tags: self.dedup_tags,
                    commitment: self.commitment,
                };
                match self.signer_hash {
                    Some(signer_hash) => {
                        Record::SignatureCommitted(recorded.committing_to(signer_hash))
                    }
                    None => Record::SignatureRecorded(recorded),
                }
            }
        };
        Entry::v1(self.time_ms, self.author, record)
    }
}

impl Entry {
    /// If [`Entry::decode`] accepts `bytes` as a `signature.added`,
    /// `signature.recorded` or `signature.committed` entry, its fields, read in place without allocating;
    /// `None` for any other bytes: another record kind, or bytes that `decode` refuses
    /// (ask it why). For bulk replays, where most entries are signatures.
    pub fn decode_signature(bytes: &[u8]) -> Option<SignatureEntry<'_>> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return None;
        }
        let mut r = Reader(bytes);
        // Envelope V1, then record 4 (`signature.added`), 18 (`signature.recorded`) or
        // 20 (`signature.committed`): one-byte varints. The kinds' fields differ only in
        // the dedup tags and the signer hash at the end.
        r.expect(0x00)?;
        let time_ms = r.varint()?;
        let author = r.text(|b| author_is_valid(b).then_some(()))?;
        let kind = match r.byte()? {
            0x04 => SignatureKind::Added,
            0x12 => SignatureKind::Recorded,
            0x14 => SignatureKind::Committed,
            _ => return None,
        };
        let petition_id = r.text(|b| Id::check_bytes(b).ok())?;
        let country = CountryCode::from_bytes(r.array()?).ok()?;
        let constituency = r.option(|r| AreaCode::from_bytes(r.string()?).ok())?;
        let ward = r.option(|r| AreaCode::from_bytes(r.string()?).ok())?;
        let council = r.option(|r| {
            let council = std::str::from_utf8(r.string()?).ok()?;
            Name::check(council).ok()?;
            Some(council)
        })?;
        // Channel: 0 online, 1 paper with its batch id.
        let paper_batch = match r.byte()? {
            0 => None,
            1 => Some(r.text(|b| Id::check_bytes(b).ok())?),
            _ => return None,
        };
        let consent_to_share = r.flag()?;
        let dedup_tags = match kind {
            SignatureKind::Added => DedupTags::one(DedupTag(r.array()?)),
            SignatureKind::Recorded | SignatureKind::Committed => {
                // A count, then that many tags: read into a fixed array, since the
                // count is at most MAX_DEDUP_TAGS.
                let count = usize::try_from(r.varint()?).ok()?;
                let mut tags = [DedupTag::default(); MAX_DEDUP_TAGS];
                for tag in tags.get_mut(..count)? {
                    *tag = DedupTag(r.array()?);
                }
                DedupTags::new(&tags[..count]).ok()?
            }
        };
        let commitment = Hash(r.array()?);
        let signer_hash = match kind {
            SignatureKind::Committed => Some(Hash(r.array()?)),
            SignatureKind::Added | SignatureKind::Recorded => None,
        };
        if !r.0.is_empty() {
            return None;
        }
        Some(SignatureEntry {
            kind,
            time_ms,
            author,
            petition_id,
            country,
            constituency,
            ward,
            council,
            paper_batch,
            consent_to_share,
            dedup_tags,
            commitment,
            signer_hash,
        })
    }
}

/// The unread rest of an entry. Every method takes one canonical encoding of its
/// type (docs/FORMAT.md part B §1) or returns `None`.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.byte()? == byte).then_some(())
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (taken, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(taken)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// `0x00` or `0x01`.
    fn flag(&mut self) -> Option<bool> {
        match self.byte()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    /// A minimal LEB128 u64: at most 10 bytes, no final `0x00` group after a
    /// continuation, and a tenth byte of at most `0x01`.
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for i in 0..10 {
            let b = self.byte()?;
            if i == 9 && b > 0x01 {
                return None;
            }
            value |= u64::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                return (i == 0 || b != 0).then_some(value);
            }
        }
        None
    }

    /// A length-prefixed byte string.
    fn string(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        self.take(len)
    }

    /// A length-prefixed string of ASCII that `check` accepts (ASCII, so it is UTF-8).
    fn text(&mut self, check: impl Fn(&[u8]) -> Option<()>) -> Option<&'a str> {
        let bytes = self.string()?;
        check(bytes)?;
        debug_assert!(bytes.is_ascii());
        std::str::from_utf8(bytes).ok()
    }

    /// `0x00`, or `0x01` followed by a value `read` accepts.
    fn option<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        match self.flag()? {
            false => Some(None),
            true => read(self).map(Some),
        }
    }
}

/// Maps a postcard decoding error to a short message that holds no entry content.
fn decode_error(e: postcard::Error) -> Error {
    use postcard::Error as P;
    let why = match e {
        // A small type refused a value (see `record::take_refusal`), or serde met a
        // discriminant that this version does not know.
        P::SerdeDeCustom => match take_refusal() {
            Some(why) => return Error::InvalidRecord(why.to_owned()),
            None => "unknown enum discriminant",
        },
        P::DeserializeUnexpectedEnd => "unexpected end of entry",
        P::DeserializeBadVarint => "varint too long for its type",
        P::DeserializeBadBool => "bool byte is neither 0x00 nor 0x01",
        P::DeserializeBadOption => "option tag is neither 0x00 nor 0x01",
        P::DeserializeBadUtf8 | P::DeserializeBadChar => "string is not valid UTF-8",
        P::DeserializeBadEnum => "enum discriminant out of range",
        _ => "malformed entry",
    };
    Error::Decode(why.to_owned())
}

/// A postcard output that stores nothing and fails at the first byte that differs
/// from `expected`, or at the end if `expected` is longer.
struct SameBytes<'a> {
    expected: &'a [u8],
    at: usize,
}

impl Flavor for SameBytes<'_> {
    type Output = ();

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        let end = self.at + data.len();
        if self.expected.get(self.at..end) == Some(data) {
            self.at = end;
            Ok(())
        } else {
            Err(postcard::Error::SerializeBufferFull)
        }
    }

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        if self.expected.get(self.at) == Some(&byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(postcard::Error::SerializeBufferFull)
        }
    }

    fn finalize(self) -> postcard::Result<()> {
        if self.at == self.expected.len() {
            Ok(())
        } else {
            Err(postcard::Error::SerializeBufferFull)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Id;

    fn held() -> Entry {
        Entry::v1(
            1_670_774_400_000,
            "tok-lhka",
            Record::EventHeld(crate::record::EventHeld {
                event_id: Id::parse("lhka-2022-12-11").unwrap(),
                attendance: Some(40),
            }),
        )
    }

    #[test]
    fn round_trips_and_exposes_fields() {
        let entry = held();
        let bytes = entry.encode().unwrap();
        let back = Entry::decode(&bytes).unwrap();
        assert_eq!(back, entry);
        assert_eq!(back.time_ms(), 1_670_774_400_000);
        assert_eq!(back.author(), "tok-lhka");
        assert_eq!(back.kind(), "event.held");
        let mut reused = vec![0xAA; 3];
        entry.encode_into(&mut reused).unwrap();
        assert_eq!(reused, bytes);
    }

    #[test]
    fn same_bytes_notices_every_difference() {
        let bytes = held().encode().unwrap();
        let check = |expected: &[u8]| {
            postcard::serialize_with_flavor(&held(), SameBytes { expected, at: 0 }).is_ok()
        };
        assert!(check(&bytes));
        assert!(!check(&bytes[..bytes.len() - 1]));
        assert!(!check(&[&bytes[..], &[0]].concat()));
        for i in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[i] ^= 0x01;
            assert!(!check(&changed), "byte {i}");
        }
    }

    #[test]
    fn authors_are_bounded_printable_ascii() {
        for bad in ["", "tok lhka", "tök", &"t".repeat(65)] {
            let entry = Entry::v1(0, bad, held().into_record());
            assert!(
                matches!(entry.encode(), Err(Error::InvalidRecord(_))),
                "{bad:?}"
            );
        }
        assert!(Entry::v1(0, "t".repeat(64), held().into_record())
            .encode()
            .is_ok());
    }

    #[test]
    fn refusals_do_not_leak_into_later_decodes() {
        // A refusal left over from a direct postcard call must not relabel the
        // unknown discriminant of a later decode as an invalid value.
        let _ = postcard::from_bytes::<crate::record::Date>(&[0xE6, 0x0F, 13, 1]);
        let mut bytes = held().encode().unwrap();
        let at = bytes.len() - 3 - "lhka-2022-12-11".len() - 1;
        assert_eq!(bytes[at], 17);
        bytes[at] = 99;
        assert!(matches!(Entry::decode(&bytes), Err(Error::Decode(_))));
    }
}
