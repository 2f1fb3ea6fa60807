//! OpenAPI schemas (utoipa `ToSchema`) for the types whose JSON the server speaks:
//! value types here, by hand, since their JSON is their text form; record kinds and
//! proofs derive theirs where they are declared. Built only with the `openapi` feature.

use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use crate::hash::{DedupTag, Hash, SignerSecret};
use crate::record::{
    AreaCode, AreaKind, Count, CountryCode, Date, DedupTags, ErasureReason, EventKind, Id,
    InvalidationReason, LinkKind, LinkStatus, LongText, Name, PartialDate, SignatureIndexes,
    Thresholds, Timestamp, Title, Url, VoteResult, ID_MAX_BYTES, MAX_DEDUP_TAGS, MAX_INVALIDATED,
    MAX_THRESHOLDS, NAME_MAX_BYTES, TEXT_MAX_BYTES, TITLE_MAX_BYTES, URL_MAX_BYTES,
};

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

/// A string of exactly `len` characters of base64.
fn base64(description: &str, len: usize) -> ObjectBuilder {
    string(description)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Byte)))
        .min_length(Some(len))
        .max_length(Some(len))
}

/// `impl PartialSchema + ToSchema` from a schema expression.
macro_rules! schema {
    ($($ty:ty => $schema:expr;)+) => {
        $(
            impl PartialSchema for $ty {
                fn schema() -> RefOr<Schema> {
                    $schema.into()
                }
            }

            impl ToSchema for $ty {}
        )+
    };
}

/// The schema of a closed enum: its names.
macro_rules! names {
    ($($ty:ident),+) => {
        schema! {
            $($ty => string(concat!("one of the names of ", stringify!($ty)))
                .enum_values(Some($ty::ALL.iter().map(|v| v.as_str())));)+
        }
    };
}

schema! {
    Hash => base64("a 32-byte hash as standard padded base64", Hash::BASE64_LEN);
    DedupTag => base64("a 16-byte dedup tag as standard padded base64", DedupTag::BASE64_LEN);
    SignerSecret => base64("a 32-byte signer secret as standard padded base64", SignerSecret::BASE64_LEN);
    Id => string("a slug: a-z, 0-9, '.', '_', '-', starting with a letter or digit")
        .pattern(Some("^[a-z0-9][a-z0-9._-]*$"))
        .min_length(Some(1))
        .max_length(Some(ID_MAX_BYTES));
    CountryCode => string("an ISO 3166-1 alpha-2 shaped country code")
        .pattern(Some("^[A-Z]{2}$"));
    AreaCode => string("an ONS/GSS area code: a letter and eight digits (constituency E14000831)")
        .pattern(Some("^[A-Z][0-9]{8}$"));
    Name => string("a name: one line without control characters or surrounding white space, at most maxLength bytes of UTF-8 (the rule counts bytes, JSON Schema characters)")
        .min_length(Some(1))
        .max_length(Some(NAME_MAX_BYTES));
    Title => string("a title, reason or note: one line without control characters or surrounding white space, at most maxLength bytes of UTF-8 (the rule counts bytes, JSON Schema characters)")
        .min_length(Some(1))
        .max_length(Some(TITLE_MAX_BYTES));
    Url => string("an http:// or https:// URL without spaces, at most maxLength bytes")
        .pattern(Some("^https?://[^\\s]+$"))
        .max_length(Some(URL_MAX_BYTES));
    LongText => string("text that may hold line feeds, no other control characters, at most maxLength bytes of UTF-8 (the rule counts bytes, JSON Schema characters)")
        .min_length(Some(1))
        .max_length(Some(TEXT_MAX_BYTES));
    Date => string("a calendar date YYYY-MM-DD")
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)));
    PartialDate => string("a date known to the year, month or day: YYYY, YYYY-MM or YYYY-MM-DD")
        .pattern(Some("^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$"));
    Timestamp => string("an RFC 3339 date-time in whole seconds; answers are in UTC")
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)));
    Count => ObjectBuilder::new()
        .schema_type(Type::Integer)
        .description(Some("a count of at least 1"))
        .minimum(Some(1))
        .maximum(Some(u32::MAX));
    Thresholds => ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
        .description(Some("signature counts that matter, strictly ascending"))
        .max_items(Some(MAX_THRESHOLDS));
    DedupTags => ArrayBuilder::new()
        .items(<DedupTag as PartialSchema>::schema())
        .description(Some("one dedup tag per identity of the signer, strictly ascending by their bytes"))
        .min_items(Some(1))
        .max_items(Some(MAX_DEDUP_TAGS));
    SignatureIndexes => ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)))
        .description(Some("log indexes of signatures, strictly ascending"))
        .min_items(Some(1))
        .max_items(Some(MAX_INVALIDATED));
}

names!(
    AreaKind,
    ErasureReason,
    InvalidationReason,
    LinkKind,
    LinkStatus,
    VoteResult,
    EventKind
);
