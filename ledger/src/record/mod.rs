//! The record vocabulary v1: every fact the campaign log can hold, as typed values.
//!
//! A [`Record`] is one change (nothing is updated in place): a campaign launched, a
//! petition opened, a signature added, a council motion voted, an event held, and so on.
//! Records are encoded with postcard inside an [`Entry`](crate::entry::Entry); the byte
//! layout is documented in `docs/FORMAT.md` (part B).
//!
//! The module has one job per file:
//! - this file: the table of record kinds ([`record_kinds!`]), which yields [`Record`],
//!   [`Record::KINDS`], the discriminants, the JSON `type` names and [`RecordKind`];
//! - [`kinds`]: one struct per kind, and the few rules that relate fields of a record;
//! - [`values`]: ids, country and area codes, counts and the two list types;
//! - [`text`]: names, titles, URLs and long text;
//! - [`time`]: dates, partial dates and timestamps;
//! - [`enums`]: the small closed enums, and the two enums with data;
//! - `arbitrary.rs` (feature `arbitrary`): proptest `Arbitrary` for every value type,
//!   from which the kind structs and [`Record`] derive theirs.
//!
//! Invariants:
//! - **The encoding is frozen.** Kinds are only ever appended to the table, never
//!   reordered or removed, and the fields of a kind never change: postcard identifies a
//!   variant by its position and a field by its order, so any reordering would silently
//!   change the meaning of bytes already in the log. A new fact needs a new kind.
//! - **Parse, don't validate.** Every value type ([`Id`], [`Name`], [`Date`],
//!   [`Thresholds`], ...) has private fields; every constructor and its `Deserialize`
//!   check the value, so a month 13, a two-line title or a descending list of
//!   thresholds can never be held in one, whatever it was decoded from. What is left
//!   for [`Record::validate`] are the rules that relate two fields of one record
//!   (docs/FORMAT.md part B §5). Encoding and decoding an entry always validate.
//! - **No personal data.** A signature carries area codes, a keyed dedup tag and a
//!   commitment to the signer's data, never the data. Names that do appear are those of
//!   public bodies and office holders (councils, councillors proposing motions) and
//!   organising groups; a paper-batch collector is an [`Id`] handle, not a name.
//! - No floats and no hash maps, so the encoding is a function of the value.
//! - In JSON (any human-readable serde format) every field is its text form: ids,
//!   codes, dates, timestamps and enum names as strings, hashes and tags as base64.
//!
//! # Adding a record kind
//!
//! One row in the table below and one struct in [`kinds`] (deriving what its neighbours
//! derive). Everything else in this crate follows from the row; the compiler then asks
//! for the kind's fold arm and scope arm in the projector, and `ledger/tests/encoding.rs`
//! for a sample entry in `test_support::samples` and a row in docs/FORMAT.md part B §4. See ARCHITECTURE.md for the
//! whole list. The test `a_throwaway_kind_gets_everything_from_its_row` below builds a
//! table with an extra kind to show what one row yields.

use std::cell::Cell;

use serde::de;

use crate::Hash;

#[cfg(feature = "arbitrary")]
mod arbitrary;
pub mod enums;
pub mod kinds;
pub mod text;
pub mod time;
pub mod values;

pub use enums::{
    AreaKind, Channel, ErasureReason, EventKind, InvalidationReason, LinkKind, LinkStatus,
    PetitionText, VoteResult,
};
pub use kinds::*;
pub use text::{
    check_visible, is_invisible, LongText, Name, Title, Url, NAME_MAX_BYTES, TEXT_MAX_BYTES,
    TITLE_MAX_BYTES, URL_MAX_BYTES,
};
pub use time::{Date, PartialDate, Timestamp};
pub use values::{
    AreaCode, Count, CountryCode, DedupTags, Id, SignatureIndexes, Thresholds, ID_MAX_BYTES,
    MAX_DEDUP_TAGS, MAX_INVALIDATED, MAX_THRESHOLDS,
};

// ---------------------------------------------------------------------------------
// Why a value type refused to deserialize.
//
// postcard replaces the message of every serde custom error with the bare
// `SerdeDeCustom`, which is also what an unknown enum discriminant produces; a JSON
// reader gets serde's message text, which is not meant to be matched. So a refusing type
// leaves its reason here as well: `Entry::decode` tells an invalid value (a well-formed
// encoding of month 13: `InvalidRecord`) from a malformed encoding (`Decode`) by it, and
// the server tells a bad value (422) from a wrong JSON type (400). The reasons are
// static and never hold input.
// ---------------------------------------------------------------------------------

thread_local! {
    static REFUSAL: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// The error a value type returns when it refuses a value: `why` is left for
/// [`take_refusal`] and becomes the error's message.
pub(crate) fn refuse<E: de::Error>(why: &'static str) -> E {
    REFUSAL.with(|r| r.set(Some(why)));
    E::custom(why)
}

/// Takes (and clears) the reason the last value type on this thread refused a value,
/// if one did since the last call. A deserializer's error can be told apart by it: an
/// error that comes with a refusal is a well-formed but invalid value.
pub fn take_refusal() -> Option<&'static str> {
    REFUSAL.with(|r| r.take())
}

fn invalid(why: &'static str) -> crate::Error {
    crate::Error::InvalidRecord(why.to_owned())
}

/// What the table says of one record kind's struct.
pub trait RecordKind {
    /// The JSON `type`, such as `signature.added`.
    const KIND: &'static str;
    /// The discriminant in the encoding (the kind's row in the table).
    const DISCRIMINANT: u32;
}

/// Declares a record enum from its table of kinds: one row
/// `<discriminant> <Variant>(<struct>) = "<JSON type>"`, optionally followed by
/// `, rules = <fn(&struct) -> Result<()>>` for rules that relate the kind's fields.
///
/// Yields the enum (one newtype variant per kind, so a kind's encoding is its
/// discriminant followed by its struct's fields), `KINDS`, `discriminant`, `kind`,
/// `validate`, `deserialize_kind` and `serialize_fields`; and for every struct
/// `From<struct>` and [`RecordKind`]. Discriminants must count up from 0 in table order,
/// which a compile-time assertion checks.
///
/// When the *invoking* crate's feature `arbitrary` is on, the enum also derives
/// proptest's `Arbitrary` (every kind equally likely), which needs every struct to
/// derive it too; `proptest` and `proptest-derive` must then be dependencies.
#[macro_export]
macro_rules! record_kinds {
    (
        $(#[$enum_meta:meta])*
        $vis:vis enum $record:ident {
            $(
                $(#[$meta:meta])*
                $disc:literal $variant:ident($ty:ty) = $kind:literal $(, rules = $rules:path)?;
            )+
        }
    ) => {
        $(#[$enum_meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[cfg_attr(feature = "arbitrary", derive(::proptest_derive::Arbitrary))]
        $vis enum $record {
            $( $(#[$meta])* $variant($ty), )+
        }

        const _: () = {
            let mut next = 0u32;
            $(
                assert!($disc == next, "discriminants must count up from 0 in table order");
                next += 1;
            )+
            let _ = next;
        };

        impl $record {
            /// The JSON `type` of every kind, indexed by discriminant.
            pub const KINDS: &'static [&'static str] = &[$($kind),+];

            /// The kind's discriminant in the encoding.
            pub fn discriminant(&self) -> u32 {
                match self {
                    $( $record::$variant(_) => $disc, )+
                }
            }

            /// The JSON `type` name, such as `signature.added`.
            pub fn kind(&self) -> &'static str {
                Self::KINDS[self.discriminant() as usize]
            }

            /// Checks the rules that relate fields of one record (every value is valid
            /// by its type). Messages name the field, never its content.
            pub fn validate(&self) -> $crate::Result<()> {
                match self {
                    $( $record::$variant(_record) => {
                        $( $rules(_record)?; )?
                        Ok(())
                    } )+
                }
            }

            /// Deserializes the fields of the kind whose JSON `type` is `kind` (the
            /// kind's struct), or `None` for a `type` that is not in the table.
            pub fn deserialize_kind<'de, D: ::serde::Deserializer<'de>>(
                kind: &str,
                fields: D,
            ) -> Option<Result<$record, D::Error>> {
                match kind {
                    $( $kind => Some(<$ty as ::serde::Deserialize>::deserialize(fields).map($record::$variant)), )+
                    _ => None,
                }
            }

            /// Serializes the kind's struct alone: its fields, without the variant.
            pub fn serialize_fields<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( $record::$variant(record) => ::serde::Serialize::serialize(record, s), )+
                }
            }

            /// The OpenAPI schema of every kind's struct: `(JSON type, schema name,
            /// schema)`, in table order, and the schemas they refer to.
            #[cfg(feature = "openapi")]
            pub fn schemas() -> (
                Vec<(&'static str, String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
                Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
            ) {
                let mut referred = Vec::new();
                let kinds = vec![$(
                    {
                        <$ty as utoipa::ToSchema>::schemas(&mut referred);
                        (
                            $kind,
                            <$ty as utoipa::ToSchema>::name().into_owned(),
                            <$ty as utoipa::PartialSchema>::schema(),
                        )
                    },
                )+];
                (kinds, referred)
            }
        }

        $(
            impl From<$ty> for $record {
                fn from(record: $ty) -> $record {
                    $record::$variant(record)
                }
            }

            impl $crate::record::RecordKind for $ty {
                const KIND: &'static str = $kind;
                const DISCRIMINANT: u32 = $disc;
            }
        )+
    };
}

record_kinds! {
    /// One change to the campaign's state: one struct per kind, in the order of the
    /// table. The order groups the domain (campaign, petitions and signatures, paper,
    /// twin links, motions, events), each in lifecycle order; new kinds go at the end.
    pub enum Record {
        0 CampaignLaunched(CampaignLaunched) = "campaign.launched";
        1 CampaignCityJoined(CampaignCityJoined) = "campaign.city_joined";
        2 PetitionOpened(PetitionOpened) = "petition.opened";
        3 PetitionClosed(PetitionClosed) = "petition.closed";
        4 SignatureAdded(Signature) = "signature.added";
        5 SignatureWithdrawn(SignatureWithdrawn) = "signature.withdrawn";
        6 SignaturesInvalidated(SignaturesInvalidated) = "signatures.invalidated";
        7 PaperBatchRecorded(PaperBatchRecorded) = "paper_batch.recorded";
        8 TwinLinkRegistered(TwinLinkRegistered) = "twin_link.registered",
            rules = TwinLinkRegistered::check;
        9 TwinLinkStatusChanged(TwinLinkStatusChanged) = "twin_link.status_changed";
        10 MotionTabled(MotionTabled) = "motion.tabled";
        11 MotionAmended(MotionAmended) = "motion.amended", rules = MotionAmended::check;
        12 MotionVoted(MotionVoted) = "motion.voted";
        13 MotionWithdrawn(MotionWithdrawn) = "motion.withdrawn";
        14 EventScheduled(EventScheduled) = "event.scheduled", rules = EventScheduled::check;
        15 EventChanged(EventChanged) = "event.changed", rules = EventChanged::check;
        16 EventCancelled(EventCancelled) = "event.cancelled";
        17 EventHeld(EventHeld) = "event.held";
        18 SignatureRecorded(SignatureRecorded) = "signature.recorded";
        19 ExportIssued(ExportIssued) = "export.issued", rules = ExportIssued::check;
        20 SignatureCommitted(SignatureCommitted) = "signature.committed";
        21 PersonalDataErased(PersonalDataErased) = "personal_data.erased",
            rules = PersonalDataErased::check;
        22 SignatureWithdrawnBySigner(SignatureWithdrawnBySigner) = "signature.withdrawn_by_signer";
    }
}

/// What every signature kind (`signature.added`, `signature.recorded`,
/// `signature.committed`) has, borrowed: for code that treats them alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureCommon<'a> {
    pub petition_id: &'a Id,
    pub channel: &'a Channel,
    pub consent_to_share: bool,
    pub commitment: Hash,
}

impl Record {
    /// The fields every signature kind has, or `None` for a record that is not a
    /// signature.
    pub fn signature(&self) -> Option<SignatureCommon<'_>> {
        let common = |petition_id, channel, consent_to_share, commitment| SignatureCommon {
            petition_id,
            channel,
            consent_to_share,
            commitment,
        };
        match self {
            Record::SignatureAdded(s) => Some(common(
                &s.petition_id,
                &s.channel,
                s.consent_to_share,
                s.commitment,
            )),
            Record::SignatureRecorded(s) => Some(common(
                &s.petition_id,
                &s.channel,
                s.consent_to_share,
                s.commitment,
            )),
            Record::SignatureCommitted(s) => Some(common(
                &s.petition_id,
                &s.channel,
                s.consent_to_share,
                s.commitment,
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[test]
    fn kinds_follow_discriminants() {
        let held = Record::EventHeld(EventHeld {
            event_id: Id::parse("lhka-2022-12-11").unwrap(),
            attendance: Some(40),
        });
        assert_eq!(held.kind(), "event.held");
        assert_eq!(Record::KINDS[held.discriminant() as usize], "event.held");
        let bytes = postcard::to_allocvec(&held).unwrap();
        assert_eq!(u32::from(bytes[0]), held.discriminant());
        assert_eq!(<EventHeld as RecordKind>::KIND, "event.held");
        assert_eq!(<Signature as RecordKind>::DISCRIMINANT, 4);
        assert_eq!(Record::KINDS.len(), 23);
    }

    /// What adding a kind takes, shown on a table of its own: one struct and one row
    /// give the enum variant, the discriminant, the JSON `type`, the encoding, JSON
    /// parsing and printing, and the cross-field rules.
    #[test]
    fn a_throwaway_kind_gets_everything_from_its_row() {
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "arbitrary", derive(proptest_derive::Arbitrary))]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(deny_unknown_fields)]
        struct BannerUnfurled {
            event_id: Id,
            banner: Title,
            width_m: Option<Count>,
        }

        impl BannerUnfurled {
            fn check(&self) -> crate::Result<()> {
                match self.width_m {
                    Some(width) if width.get() > 100 => Err(crate::Error::InvalidRecord(
                        "width_m: no banner is wider than 100 m".into(),
                    )),
                    _ => Ok(()),
                }
            }
        }

        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "arbitrary", derive(proptest_derive::Arbitrary))]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(deny_unknown_fields)]
        struct LeafletPrinted {
            copies: Count,
        }

        record_kinds! {
            enum Demo {
                0 LeafletPrinted(LeafletPrinted) = "leaflet.printed";
                1 BannerUnfurled(BannerUnfurled) = "banner.unfurled", rules = BannerUnfurled::check;
            }
        }

        let banner = BannerUnfurled {
            event_id: Id::parse("lhka-2022-12-11").unwrap(),
            banner: Title::parse("End the link with Taiyuan").unwrap(),
            width_m: Some(Count::new(12).unwrap()),
        };
        let record = Demo::from(banner.clone());
        assert_eq!(Demo::KINDS, ["leaflet.printed", "banner.unfurled"]);
        assert_eq!(
            (record.discriminant(), record.kind()),
            (1, "banner.unfurled")
        );
        assert_eq!(<BannerUnfurled as RecordKind>::KIND, "banner.unfurled");
        // Encoding: the discriminant, then the struct's fields in order.
        let bytes = postcard::to_allocvec(&record).unwrap();
        assert_eq!(bytes[0], 1);
        assert_eq!(&bytes[1..], postcard::to_allocvec(&banner).unwrap());
        assert_eq!(postcard::from_bytes::<Demo>(&bytes).unwrap(), record);
        // JSON: the struct's fields, parsed by the kind's name.
        let json = serde_json::json!({"event_id": "lhka-2022-12-11", "banner": "End the link with Taiyuan", "width_m": 12});
        let parsed = Demo::deserialize_kind("banner.unfurled", &json)
            .unwrap()
            .unwrap();
        assert_eq!(parsed, record);
        assert!(Demo::deserialize_kind("banner.burned", &json).is_none());
        assert_eq!(
            record
                .serialize_fields(serde_json::value::Serializer)
                .unwrap(),
            json
        );
        // The OpenAPI schema of each kind, named after its struct.
        #[cfg(feature = "openapi")]
        {
            let (kinds, _) = Demo::schemas();
            assert_eq!(
                (kinds[1].0, kinds[1].1.as_str()),
                ("banner.unfurled", "BannerUnfurled")
            );
        }
        // Rules: the row's `rules` run in `validate`.
        assert!(record.validate().is_ok());
        let too_wide = Demo::from(BannerUnfurled {
            width_m: Some(Count::new(101).unwrap()),
            ..banner
        });
        assert!(too_wide.validate().is_err());
    }
}
