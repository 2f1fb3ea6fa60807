//! The small closed enums of the vocabulary, and the two enums with data.
//!
//! A closed enum is encoded as its discriminant (its position in the declaration) and
//! written in JSON as its lower-case name; [`named_enum!`](crate::named_enum) declares
//! one with both, in one place.

use serde::{Deserialize, Serialize};

use super::text::LongText;
use super::values::Id;
use crate::Hash;

/// Declares a fieldless enum with its fixed discriminant order and the lower-case name
/// used in JSON, plus `ALL`, `as_str`, `parse`, `Display` and `FromStr`. The crate
/// using it needs `serde` as a dependency.
#[macro_export]
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize)]
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
            pub fn parse(s: &str) -> $crate::Result<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let names: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    $crate::Error::InvalidRecord(format!(
                        concat!("unknown ", $what, "; expected one of: {}"),
                        names.join(", ")
                    ))
                })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(s: &str) -> $crate::Result<Self> {
                $name::parse(s)
            }
        }

        /// A name, and only a name, in JSON (not serde's `{"name": null}` form of a
        /// unit variant, so every JSON reader agrees); the discriminant in postcard.
        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                struct ByName;
                impl<'de> ::serde::de::Visitor<'de> for ByName {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: ::serde::de::Error>(self, s: &str) -> ::std::result::Result<$name, E> {
                        $name::ALL
                            .iter()
                            .copied()
                            .find(|v| v.as_str() == s)
                            .ok_or_else(|| E::unknown_variant(s, &[$($text),+]))
                    }
                }
                if d.is_human_readable() {
                    d.deserialize_str(ByName)
                } else {
                    let at = <u32 as ::serde::Deserialize>::deserialize(d)?;
                    $name::ALL.get(at as usize).copied().ok_or_else(|| {
                        <D::Error as ::serde::de::Error>::invalid_value(
                            ::serde::de::Unexpected::Unsigned(at.into()),
                            &concat!("a ", $what, " discriminant"),
                        )
                    })
                }
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
    /// Why a signer's personal data was erased (`personal_data.erased`).
    ErasureReason, "erasure reason" {
        /// The signer asked: through an organiser, or by their signer secret.
        SignerRequest = "signer_request",
        /// The petition closed long enough ago that its signers' data is no longer kept.
        Retention = "retention",
    }
}

named_enum! {
    /// The kinds of area a petition's signatures are counted by, and so exported by:
    /// each is a field of a signature and a segment of its tally counters
    /// (`petition/<id>/<kind>/<code>`).
    AreaKind, "area kind" {
        /// A UK parliamentary constituency (its 9-character code): an MP.
        Constituency = "constituency",
        /// A council ward (its 9-character code): ward councillors.
        Ward = "ward",
        /// A council or city, by name: the council.
        Council = "council",
        /// A country (ISO 3166-1 alpha-2).
        Country = "country",
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

/// A petition's wording: in full, or only its digest when the text is published
/// elsewhere. Discriminants: 0 full, 1 hash.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PetitionText {
    /// The text itself.
    Full(LongText),
    /// H(UTF-8 text) under the log's hash function.
    Hash(Hash),
}

/// How a signature was collected. Discriminants: 0 online, 1 paper.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Online,
    /// On a paper sheet, entered as part of a recorded batch.
    Paper {
        batch_id: Id,
    },
}

impl Channel {
    /// The paper batch's id, or `None` online.
    pub fn paper_batch(&self) -> Option<&Id> {
        match self {
            Channel::Online => None,
            Channel::Paper { batch_id } => Some(batch_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
