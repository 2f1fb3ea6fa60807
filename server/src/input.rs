//! The JSON shapes of `POST /api/v1/records`, and the public JSON view of a record.
//!
//! A request body is one record object or `{"records": [ ... ]}`. Each record has a
//! `type` (one of [`Record::KINDS`]) and the snake_case fields of its kind. Handling
//! goes in two steps:
//!
//! 1. [`parse_request`] checks the *shape*: well-formed UTF-8 JSON, no duplicate keys,
//!    a known `type`, no unknown fields, every required field present and every field
//!    of the right JSON type (integers in range of their Rust type). Failures are 400.
//! 2. [`RecordInput::prepare`] checks the *values* (ids, codes, dates, hashes, enum
//!    names, personal data, [`Record::validate`]) and builds the [`Record`]; for a
//!    signature it also draws the salt and computes the dedup tag and the commitment.
//!    Failures are 422.
//!
//! Invariants:
//! - **No submitted value ever reaches an [`InputError`].** Details name fields, JSON
//!   paths, positions, expected types and limits; they never quote input and never
//!   copy a serde message (those can quote input). An unknown field or a path segment
//!   is named only when it looks like a schema field name (short snake_case);
//!   otherwise it is shown as `?`.
//! - Personal data (name, email, postcode, address) never enters the [`Record`]; it is
//!   returned beside it in [`Prepared::personal`] for the vault, and the `Debug` output
//!   of [`PersonalData`], [`RecordInput`] and [`Prepared`] shows none of it.
//! - Nothing here panics on any input.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ledger::record::{
    AreaCode, Channel, CountryCode, Date, EventKind, Id, InvalidationReason, LinkKind, LinkStatus,
    PartialDate, PetitionText, Signature, Timestamp, VoteResult,
};
use ledger::{HashAlg, Record};
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_path_to_error::{Path, Segment};

/// Longest signer name, in bytes (after trimming).
pub const PERSONAL_NAME_MAX_BYTES: usize = 200;
/// Longest email address, in bytes.
pub const EMAIL_MAX_BYTES: usize = 254;
/// Longest postcode, in bytes.
pub const POSTCODE_MAX_BYTES: usize = 16;
/// Longest postal address, in bytes.
pub const ADDRESS_MAX_BYTES: usize = 512;

// ---------------------------------------------------------------------------------
// Personal data, dedup tags and commitments
// ---------------------------------------------------------------------------------

/// Personal data of one signer. Lives only in the vault, never in the log.
///
/// `Debug` is redacted: it prints no field values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalData {
    pub name: String,
    pub email: Option<String>,
    pub postcode: Option<String>,
    pub address: Option<String>,
}

impl fmt::Debug for PersonalData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonalData").finish_non_exhaustive()
    }
}

impl PersonalData {
    /// The canonical bytes a signature's commitment is taken over: the postcard
    /// encoding of this struct, which is its four fields in order with nothing
    /// around them:
    ///
    /// | # | field | encoding |
    /// |---|---|---|
    /// | 1 | `name` | varint length (LEB128), then the UTF-8 bytes |
    /// | 2 | `email` | `0x00` if absent; `0x01` then varint length and UTF-8 bytes |
    /// | 3 | `postcode` | as `email` |
    /// | 4 | `address` | as `email` |
    ///
    /// A varint is unsigned LEB128: seven bits per byte, least significant group
    /// first, the high bit set on every byte but the last.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            8 + self.name.len()
                + [&self.email, &self.postcode, &self.address]
                    .iter()
                    .map(|s| s.as_ref().map_or(0, String::len))
                    .sum::<usize>(),
        );
        put_str(&mut out, &self.name);
        for field in [&self.email, &self.postcode, &self.address] {
            match field {
                None => out.push(0),
                Some(s) => {
                    out.push(1);
                    put_str(&mut out, s);
                }
            }
        }
        out
    }

    /// The normalised identity that the dedup tag is keyed on.
    ///
    /// - With an email: `b"email:"` then the email trimmed and lower-cased.
    /// - Without: `b"name-postcode:"`, the name (trimmed, inner runs of white space
    ///   collapsed to one space, lower-cased), `b"\n"`, then the postcode upper-cased
    ///   with all white space removed (empty when there is none).
    pub fn normalised_identity(&self) -> Vec<u8> {
        match &self.email {
            Some(email) => {
                let mut out = b"email:".to_vec();
                out.extend_from_slice(email.trim().to_lowercase().as_bytes());
                out
            }
            None => {
                let name = self
                    .name
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_lowercase();
                let postcode: String = self
                    .postcode
                    .as_deref()
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect::<String>()
                    .to_uppercase();
                let mut out = b"name-postcode:".to_vec();
                out.extend_from_slice(name.as_bytes());
                out.push(b'\n');
                out.extend_from_slice(postcode.as_bytes());
                out
            }
        }
    }

    /// Builds the data as stored: every field trimmed, and optional fields that are
    /// empty after trimming treated as absent.
    fn from_input(
        name: &str,
        email: Option<&str>,
        postcode: Option<&str>,
        address: Option<&str>,
    ) -> PersonalData {
        let optional = |s: Option<&str>| {
            s.map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        PersonalData {
            name: name.trim().to_owned(),
            email: optional(email),
            postcode: optional(postcode),
            address: optional(address),
        }
    }

    /// Checks the data of one signature, returning the field at fault and why (both
    /// static: never the value).
    fn check(&self, online: bool) -> Result<(), (&'static str, &'static str)> {
        let has_control = |s: &str| s.chars().any(char::is_control);
        if self.name.is_empty() || self.name.len() > PERSONAL_NAME_MAX_BYTES {
            return Err(("name", "must be 1 to 200 bytes after trimming"));
        }
        if has_control(&self.name) {
            return Err(("name", "must not contain control characters"));
        }
        match &self.email {
            Some(email) if !is_email(email) => {
                return Err((
                    "email",
                    "must be an email address: at most 254 bytes, one '@' after a \
                     non-empty local part, a domain containing '.', no white space",
                ))
            }
            None if online => return Err(("email", "is required for online signatures")),
            None if self.postcode.is_none() => {
                return Err(("postcode", "is required for a signature without email"))
            }
            _ => {}
        }
        if let Some(postcode) = &self.postcode {
            let allowed = |c: u8| c.is_ascii_alphanumeric() || c == b' ';
            if postcode.len() > POSTCODE_MAX_BYTES || !postcode.bytes().all(allowed) {
                return Err((
                    "postcode",
                    "must be at most 16 bytes of ASCII letters, digits and spaces",
                ));
            }
        }
        if let Some(address) = &self.address {
            if address.len() > ADDRESS_MAX_BYTES {
                return Err(("address", "must be at most 512 bytes"));
            }
            if has_control(address) {
                return Err(("address", "must not contain control characters"));
            }
        }
        Ok(())
    }
}

/// An email address as far as this log cares: at most 254 bytes, no white space or
/// control characters, exactly one `@` with a non-empty local part before it and a
/// domain after it that contains a `.` and neither starts nor ends with one.
fn is_email(s: &str) -> bool {
    if s.len() > EMAIL_MAX_BYTES || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let mut parts = s.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }
        _ => false,
    }
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n & 0x7f) as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// The dedup tag of a signature: keyed BLAKE3 under `dedup_key` of the petition id's
/// bytes, `0x00`, then [`PersonalData::normalised_identity`]; the first 16 bytes.
pub fn dedup_tag(dedup_key: &[u8; 32], petition_id: &Id, data: &PersonalData) -> [u8; 16] {
    let mut hasher = blake3::Hasher::new_keyed(dedup_key);
    hasher.update(petition_id.as_str().as_bytes());
    hasher.update(&[0]);
    hasher.update(&data.normalised_identity());
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    tag
}

/// The commitment to a signer's data: `alg.digest(salt ‖ data.canonical_bytes())`.
/// Anyone given the data and the salt can recompute it and compare it with the log.
pub fn commitment(alg: HashAlg, salt: &[u8; 32], data: &PersonalData) -> [u8; 32] {
    let mut bytes = salt.to_vec();
    bytes.extend_from_slice(&data.canonical_bytes());
    alg.digest(&bytes)
}

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

/// Why a request body or one of its records is refused.
///
/// `status` is 400 (the shape is wrong) or 422 (a value is wrong). `reason` is a
/// stable snake_case name:
///
/// | status | reasons |
/// |---|---|
/// | 400 | `malformed_json`, `duplicate_field`, `wrong_type`, `unknown_type`, `unknown_field`, `missing_field`, `empty_batch` |
/// | 422 | `invalid_value`, `invalid_area_code`, `invalid_personal_data` |
///
/// `detail` is one line for humans that never contains a submitted value: it names
/// the field or JSON path (such as `records[3].votes_for`), the expected type or the
/// limit. `record` is the position of the record in a batch, when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub status: u16,
    pub reason: &'static str,
    pub detail: String,
    pub record: Option<usize>,
}

impl InputError {
    fn shape(reason: &'static str, detail: String, record: Option<usize>) -> InputError {
        InputError {
            status: 400,
            reason,
            detail,
            record,
        }
    }

    fn value(reason: &'static str, detail: String, record: Option<usize>) -> InputError {
        InputError {
            status: 422,
            reason,
            detail,
            record,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.reason, self.status, self.detail)
    }
}

impl std::error::Error for InputError {}

/// `records[i].` in a batch, nothing for a lone record: what field names are prefixed
/// with in details.
fn field_prefix(position: Option<usize>) -> String {
    position.map_or_else(String::new, |i| format!("records[{i}]."))
}

/// Whether a key from the request looks like a schema field name, and so may be
/// shown in a detail: 1 to 32 bytes of `a-z 0-9 _`, not starting with a digit.
fn is_safe_key(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && !b[0].is_ascii_digit()
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// Renders a serde path under `position`, showing only keys that pass
/// [`is_safe_key`] (others become `?`); `root` names an empty path.
fn render_path(position: Option<usize>, path: &Path, root: &str) -> String {
    let mut out = position.map_or_else(String::new, |i| format!("records[{i}]"));
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(if is_safe_key(key) { key } else { "?" });
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    if out.is_empty() {
        out.push_str(root);
    }
    out
}

// ---------------------------------------------------------------------------------
// Step 1: strict JSON
// ---------------------------------------------------------------------------------

/// The message of the error [`StrictValue`] raises for a repeated key; static, so it
/// can be recognised without quoting anything.
const DUPLICATE_KEY: &str = "duplicate key";

/// A JSON value that refuses objects with a repeated key (serde_json's `Value`
/// silently keeps the last one, so two readers could disagree on what was signed).
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        StrictValue::deserialize(d).map(|v| v.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(DUPLICATE_KEY));
            }
            let StrictValue(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Parses the body as strict JSON, mapping every failure to a 400 that quotes nothing.
fn parse_json(body: &[u8]) -> Result<Value, InputError> {
    let malformed = |detail: String| InputError::shape("malformed_json", detail, None);
    if std::str::from_utf8(body).is_err() {
        return Err(malformed("the request body is not UTF-8".into()));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = match serde_path_to_error::deserialize::<_, StrictValue>(&mut de) {
        Ok(StrictValue(value)) => value,
        Err(e) => {
            let inner = e.inner();
            if inner.is_data() && inner.to_string().starts_with(DUPLICATE_KEY) {
                return Err(InputError::shape(
                    "duplicate_field",
                    format!(
                        "{}: an object has the same key twice",
                        render_path(None, e.path(), "request body")
                    ),
                    None,
                ));
            }
            return Err(malformed(json_error_detail(inner)));
        }
    };
    de.end().map_err(|e| malformed(json_error_detail(&e)))?;
    Ok(value)
}

/// Where and how the JSON text is broken, without its contents.
fn json_error_detail(e: &serde_json::Error) -> String {
    let (line, column) = (e.line(), e.column());
    match e.classify() {
        serde_json::error::Category::Eof => {
            format!("the request body ends inside a JSON value (line {line}, column {column})")
        }
        _ => format!("the request body is not valid JSON (line {line}, column {column})"),
    }
}

// ---------------------------------------------------------------------------------
// Step 1: record shapes
// ---------------------------------------------------------------------------------

// Values that need checking (ids, codes, dates, hashes, enum names) are `String`
// here and parsed in `prepare`, so a bad one is a 422 naming the field.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignLaunchedIn {
    campaign_id: String,
    title: String,
    launched_on: Option<String>,
    target_cities: Option<u32>,
    countries: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignCityJoinedIn {
    campaign_id: String,
    city: String,
    country: String,
    joined_on: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PetitionOpenedIn {
    petition_id: String,
    title: String,
    text: Option<String>,
    text_hash: Option<String>,
    target: String,
    closes_on: Option<String>,
    thresholds: Option<Vec<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PetitionClosedIn {
    petition_id: String,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureAddedIn {
    petition_id: String,
    name: String,
    email: Option<String>,
    postcode: Option<String>,
    address: Option<String>,
    country: String,
    constituency: Option<String>,
    ward: Option<String>,
    council: Option<String>,
    consent_to_share: bool,
    channel: String,
    batch_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureWithdrawnIn {
    index: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignaturesInvalidatedIn {
    indexes: Vec<u64>,
    reason: String,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PaperBatchRecordedIn {
    batch_id: String,
    petition_id: String,
    event_id: Option<String>,
    stall: Option<String>,
    collector: String,
    sheet_scan_hash: Option<String>,
    count: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TwinLinkRegisteredIn {
    link_id: String,
    city: String,
    country: String,
    partner_city: String,
    partner_country: String,
    kind: String,
    since: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TwinLinkStatusChangedIn {
    link_id: String,
    status: String,
    effective_on: Option<String>,
    motion_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MotionTabledIn {
    motion_id: String,
    council: String,
    link_id: Option<String>,
    proposer: Option<String>,
    title: String,
    text_hash: Option<String>,
    tabled_on: Option<String>,
    source_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MotionAmendedIn {
    motion_id: String,
    title: Option<String>,
    text_hash: Option<String>,
    amended_on: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MotionVotedIn {
    motion_id: String,
    votes_for: Option<u32>,
    votes_against: Option<u32>,
    abstentions: Option<u32>,
    result: String,
    voted_on: Option<String>,
    majority: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MotionWithdrawnIn {
    motion_id: String,
    withdrawn_on: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventScheduledIn {
    event_id: String,
    kind: String,
    title: String,
    city: String,
    country: Option<String>,
    place: Option<String>,
    starts_at: String,
    ends_at: Option<String>,
    group: Option<String>,
    joint_action: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventChangedIn {
    event_id: String,
    title: Option<String>,
    place: Option<String>,
    starts_at: Option<String>,
    ends_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventCancelledIn {
    event_id: String,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventHeldIn {
    event_id: String,
    attendance: Option<u32>,
}

/// Declares [`Body`], one variant per record kind, with the lookups by `type`.
macro_rules! bodies {
    ($($variant:ident($input:ident) = $kind:literal,)+) => {
        /// One record's fields, by kind.
        enum Body {
            $($variant($input),)+
        }

        impl Body {
            /// Every `type`, in the order of [`Record::KINDS`] (checked by a test).
            #[cfg(test)]
            const KINDS: &'static [&'static str] = &[$($kind,)+];

            fn kind(&self) -> &'static str {
                match self {
                    $(Body::$variant(_) => $kind,)+
                }
            }

            /// The field names of a kind (without `type`), or None if it is unknown.
            fn fields(kind: &str) -> Option<&'static [&'static str]> {
                match kind {
                    $($kind => Some(field_names::<$input>()),)+
                    _ => None,
                }
            }

            /// Deserializes the fields of a known kind (`type` already removed).
            fn from_value(
                kind: &str,
                value: Value,
            ) -> Option<Result<Body, serde_path_to_error::Error<serde_json::Error>>> {
                match kind {
                    $($kind => Some(serde_path_to_error::deserialize(value).map(Body::$variant)),)+
                    _ => None,
                }
            }
        }
    };
}

bodies! {
    CampaignLaunched(CampaignLaunchedIn) = "campaign.launched",
    CampaignCityJoined(CampaignCityJoinedIn) = "campaign.city_joined",
    PetitionOpened(PetitionOpenedIn) = "petition.opened",
    PetitionClosed(PetitionClosedIn) = "petition.closed",
    SignatureAdded(SignatureAddedIn) = "signature.added",
    SignatureWithdrawn(SignatureWithdrawnIn) = "signature.withdrawn",
    SignaturesInvalidated(SignaturesInvalidatedIn) = "signatures.invalidated",
    PaperBatchRecorded(PaperBatchRecordedIn) = "paper_batch.recorded",
    TwinLinkRegistered(TwinLinkRegisteredIn) = "twin_link.registered",
    TwinLinkStatusChanged(TwinLinkStatusChangedIn) = "twin_link.status_changed",
    MotionTabled(MotionTabledIn) = "motion.tabled",
    MotionAmended(MotionAmendedIn) = "motion.amended",
    MotionVoted(MotionVotedIn) = "motion.voted",
    MotionWithdrawn(MotionWithdrawnIn) = "motion.withdrawn",
    EventScheduled(EventScheduledIn) = "event.scheduled",
    EventChanged(EventChangedIn) = "event.changed",
    EventCancelled(EventCancelledIn) = "event.cancelled",
    EventHeld(EventHeldIn) = "event.held",
}

/// The field names a derived `Deserialize` struct declares, read by asking it to
/// deserialize from a probe that records the list and stops.
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // The probe always answers with an error once it has the names.
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

struct FieldProbe<'a>(&'a mut &'static [&'static str]);

#[derive(Debug)]
struct ProbeDone;

impl fmt::Display for ProbeDone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field probe done")
    }
}

impl std::error::Error for ProbeDone {}

impl de::Error for ProbeDone {
    fn custom<T: fmt::Display>(_: T) -> Self {
        ProbeDone
    }
}

impl<'de> Deserializer<'de> for FieldProbe<'_> {
    type Error = ProbeDone;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeDone> {
        Err(ProbeDone)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, ProbeDone> {
        *self.0 = fields;
        Err(ProbeDone)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

/// One record as it arrived: shape-checked (known `type`, known fields, JSON types
/// right) but its values not yet validated. Its `Debug` shows only the kind.
pub struct RecordInput {
    body: Body,
}

impl fmt::Debug for RecordInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordInput")
            .field("type", &self.kind())
            .finish_non_exhaustive()
    }
}

/// Parses a request body: one record object, or `{"records": [ ... ]}` with at least
/// one record (an empty array is 400 `empty_batch`). The batch size limit is the
/// caller's to check.
///
/// An object with a `type` key, or without a `records` key, is one record; otherwise
/// it is a batch, whose only key must be `records`. Errors are all 400; for a record
/// of a batch, [`InputError::record`] is its position.
pub fn parse_request(body: &[u8]) -> Result<Vec<RecordInput>, InputError> {
    let Value::Object(mut top) = parse_json(body)? else {
        return Err(InputError::shape(
            "wrong_type",
            "the request body must be a JSON object: one record, or {\"records\": [...]}".into(),
            None,
        ));
    };
    if top.contains_key("type") {
        return Ok(vec![RecordInput::from_object(top, None)?]);
    }
    let Some(records) = top.remove("records") else {
        return Ok(vec![RecordInput::from_object(top, None)?]);
    };
    if let Some(key) = top.keys().next() {
        return Err(InputError::shape(
            "unknown_field",
            format!(
                "{}: unknown field; a batch object has only the field records",
                if is_safe_key(key) { key } else { "?" }
            ),
            None,
        ));
    }
    let Value::Array(items) = records else {
        return Err(InputError::shape(
            "wrong_type",
            "records: expected an array of record objects".into(),
            None,
        ));
    };
    if items.is_empty() {
        return Err(InputError::shape(
            "empty_batch",
            "records: a batch holds at least one record".into(),
            None,
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(object) => RecordInput::from_object(object, Some(i)),
            _ => Err(InputError::shape(
                "wrong_type",
                format!("records[{i}]: expected a record object"),
                Some(i),
            )),
        })
        .collect()
}

impl RecordInput {
    /// Checks the shape of one record object.
    fn from_object(
        mut object: Map<String, Value>,
        position: Option<usize>,
    ) -> Result<RecordInput, InputError> {
        let prefix = field_prefix(position);
        let kinds = || Record::KINDS.join(", ");
        let kind = match object.remove("type") {
            Some(Value::String(kind)) => kind,
            Some(_) => {
                return Err(InputError::shape(
                    "wrong_type",
                    format!("{prefix}type: expected a string, one of: {}", kinds()),
                    position,
                ))
            }
            None => {
                return Err(InputError::shape(
                    "unknown_type",
                    format!("{prefix}type: missing; expected one of: {}", kinds()),
                    position,
                ))
            }
        };
        let Some(fields) = Body::fields(&kind) else {
            return Err(InputError::shape(
                "unknown_type",
                format!(
                    "{prefix}type: unknown record type; expected one of: {}",
                    kinds()
                ),
                position,
            ));
        };
        let kind = Record::KINDS
            .iter()
            .copied()
            .find(|k| *k == kind)
            .unwrap_or("record");
        if let Some(key) = object.keys().find(|k| !fields.contains(&k.as_str())) {
            let shown = if is_safe_key(key) { key } else { "?" };
            return Err(InputError::shape(
                "unknown_field",
                format!(
                    "{prefix}{shown}: unknown field of {kind}; its fields are type, {}",
                    fields.join(", ")
                ),
                position,
            ));
        }
        match Body::from_value(kind, Value::Object(object)) {
            Some(Ok(body)) => Ok(RecordInput { body }),
            Some(Err(e)) => Err(shape_error(&e, kind, fields, position)),
            None => Err(InputError::shape(
                "unknown_type",
                format!(
                    "{prefix}type: unknown record type; expected one of: {}",
                    kinds()
                ),
                position,
            )),
        }
    }

    /// The record's `type`, such as `signature.added`.
    pub fn kind(&self) -> &'static str {
        self.body.kind()
    }

    /// The petition this record names directly, as submitted (not yet validated), for
    /// organiser scopes: `petition.opened`, `petition.closed`, `signature.added` and
    /// `paper_batch.recorded`. None for every other kind, including withdrawals and
    /// invalidations, which name signatures only by log index.
    pub fn petition_id(&self) -> Option<&str> {
        match &self.body {
            Body::PetitionOpened(r) => Some(&r.petition_id),
            Body::PetitionClosed(r) => Some(&r.petition_id),
            Body::SignatureAdded(r) => Some(&r.petition_id),
            Body::PaperBatchRecorded(r) => Some(&r.petition_id),
            _ => None,
        }
    }

    /// The cities and councils this record names directly, as submitted, for
    /// organiser scopes: the `city` field (`campaign.city_joined`,
    /// `twin_link.registered`, `event.scheduled`) and the `council` field
    /// (`signature.added`, `motion.tabled`). A twin link's `partner_city` is not
    /// included: the link belongs to the city that registers it.
    pub fn cities(&self) -> Vec<&str> {
        match &self.body {
            Body::CampaignCityJoined(r) => vec![r.city.as_str()],
            Body::SignatureAdded(r) => r.council.as_deref().into_iter().collect(),
            Body::TwinLinkRegistered(r) => vec![r.city.as_str()],
            Body::MotionTabled(r) => vec![r.council.as_str()],
            Body::EventScheduled(r) => vec![r.city.as_str()],
            _ => Vec::new(),
        }
    }

    /// Validates the values and builds the record; errors are 422 with
    /// [`InputError::record`] set to `position`.
    ///
    /// Ids, codes, dates, timestamps, enum names and hashes (standard base64 of 32
    /// bytes) are parsed, then [`Record::validate`] runs. A petition's full text has
    /// CR LF and lone CR normalised to LF. For a signature, the personal data is
    /// trimmed (empty optional fields count as absent) and checked, a 32-byte salt is
    /// drawn from `rng`, and the dedup tag (under `dedup_key`) and the commitment
    /// (under `alg`) are computed; the data and salt come back in
    /// [`Prepared::personal`].
    pub fn prepare(
        self,
        alg: HashAlg,
        dedup_key: &[u8; 32],
        rng: &mut impl rand::RngCore,
        position: Option<usize>,
    ) -> Result<Prepared, InputError> {
        let v = Values {
            prefix: field_prefix(position),
            position,
        };
        let mut personal = None;
        let record = match self.body {
            Body::CampaignLaunched(r) => Record::CampaignLaunched {
                campaign_id: v.parse("campaign_id", &r.campaign_id, Id::parse)?,
                title: r.title,
                launched_on: v.opt("launched_on", r.launched_on, Date::parse)?,
                target_cities: r.target_cities,
                countries: r.countries,
            },
            Body::CampaignCityJoined(r) => Record::CampaignCityJoined {
                campaign_id: v.parse("campaign_id", &r.campaign_id, Id::parse)?,
                city: r.city,
                country: v.parse("country", &r.country, CountryCode::parse)?,
                joined_on: v.opt("joined_on", r.joined_on, Date::parse)?,
            },
            Body::PetitionOpened(r) => {
                let text = match (r.text, r.text_hash) {
                    (Some(text), None) => PetitionText::Full(normalise_newlines(text)),
                    (None, Some(hash)) => PetitionText::Hash(v.hash("text_hash", &hash)?),
                    _ => return Err(v.invalid("text", "give exactly one of text and text_hash")),
                };
                Record::PetitionOpened {
                    petition_id: v.parse("petition_id", &r.petition_id, Id::parse)?,
                    title: r.title,
                    text,
                    target: r.target,
                    closes_on: v.opt("closes_on", r.closes_on, Date::parse)?,
                    thresholds: r.thresholds.unwrap_or_default(),
                }
            }
            Body::PetitionClosed(r) => Record::PetitionClosed {
                petition_id: v.parse("petition_id", &r.petition_id, Id::parse)?,
                reason: r.reason,
            },
            Body::SignatureAdded(r) => {
                let petition_id = v.parse("petition_id", &r.petition_id, Id::parse)?;
                let country = v.parse("country", &r.country, CountryCode::parse)?;
                let constituency = v.area("constituency", r.constituency)?;
                let ward = v.area("ward", r.ward)?;
                let channel = match (r.channel.as_str(), r.batch_id) {
                    ("online", None) => Channel::Online,
                    ("online", Some(_)) => {
                        return Err(v.invalid("batch_id", "only paper signatures have one"))
                    }
                    ("paper", Some(batch_id)) => Channel::Paper {
                        batch_id: v.parse("batch_id", &batch_id, Id::parse)?,
                    },
                    ("paper", None) => {
                        return Err(v.invalid("batch_id", "is required for paper signatures"))
                    }
                    _ => return Err(v.invalid("channel", "expected one of: online, paper")),
                };
                let data = PersonalData::from_input(
                    &r.name,
                    r.email.as_deref(),
                    r.postcode.as_deref(),
                    r.address.as_deref(),
                );
                data.check(channel == Channel::Online)
                    .map_err(|(field, why)| {
                        InputError::value(
                            "invalid_personal_data",
                            format!("{}{field}: {why}", v.prefix),
                            position,
                        )
                    })?;
                let mut salt = [0u8; 32];
                rng.fill_bytes(&mut salt);
                let signature = Signature {
                    dedup_tag: dedup_tag(dedup_key, &petition_id, &data),
                    commitment: commitment(alg, &salt, &data),
                    petition_id,
                    country,
                    constituency,
                    ward,
                    council: r.council,
                    channel,
                    consent_to_share: r.consent_to_share,
                };
                personal = Some((data, salt));
                Record::SignatureAdded(signature)
            }
            Body::SignatureWithdrawn(r) => Record::SignatureWithdrawn { index: r.index },
            Body::SignaturesInvalidated(r) => Record::SignaturesInvalidated {
                indexes: r.indexes,
                reason: v.parse("reason", &r.reason, InvalidationReason::parse)?,
                note: r.note,
            },
            Body::PaperBatchRecorded(r) => Record::PaperBatchRecorded {
                batch_id: v.parse("batch_id", &r.batch_id, Id::parse)?,
                petition_id: v.parse("petition_id", &r.petition_id, Id::parse)?,
                event_id: v.opt("event_id", r.event_id, Id::parse)?,
                stall: r.stall,
                collector: v.parse("collector", &r.collector, Id::parse)?,
                sheet_scan_hash: v.opt_hash("sheet_scan_hash", r.sheet_scan_hash)?,
                count: r.count,
            },
            Body::TwinLinkRegistered(r) => Record::TwinLinkRegistered {
                link_id: v.parse("link_id", &r.link_id, Id::parse)?,
                city: r.city,
                country: v.parse("country", &r.country, CountryCode::parse)?,
                partner_city: r.partner_city,
                partner_country: v.parse(
                    "partner_country",
                    &r.partner_country,
                    CountryCode::parse,
                )?,
                kind: v.parse("kind", &r.kind, LinkKind::parse)?,
                since: v.opt("since", r.since, PartialDate::parse)?,
            },
            Body::TwinLinkStatusChanged(r) => Record::TwinLinkStatusChanged {
                link_id: v.parse("link_id", &r.link_id, Id::parse)?,
                status: v.parse("status", &r.status, LinkStatus::parse)?,
                effective_on: v.opt("effective_on", r.effective_on, Date::parse)?,
                motion_id: v.opt("motion_id", r.motion_id, Id::parse)?,
            },
            Body::MotionTabled(r) => Record::MotionTabled {
                motion_id: v.parse("motion_id", &r.motion_id, Id::parse)?,
                council: r.council,
                link_id: v.opt("link_id", r.link_id, Id::parse)?,
                proposer: r.proposer,
                title: r.title,
                text_hash: v.opt_hash("text_hash", r.text_hash)?,
                tabled_on: v.opt("tabled_on", r.tabled_on, Date::parse)?,
                source_url: r.source_url,
            },
            Body::MotionAmended(r) => Record::MotionAmended {
                motion_id: v.parse("motion_id", &r.motion_id, Id::parse)?,
                title: r.title,
                text_hash: v.opt_hash("text_hash", r.text_hash)?,
                amended_on: v.opt("amended_on", r.amended_on, Date::parse)?,
            },
            Body::MotionVoted(r) => Record::MotionVoted {
                motion_id: v.parse("motion_id", &r.motion_id, Id::parse)?,
                votes_for: r.votes_for,
                votes_against: r.votes_against,
                abstentions: r.abstentions,
                result: v.parse("result", &r.result, VoteResult::parse)?,
                voted_on: v.opt("voted_on", r.voted_on, Date::parse)?,
                majority: r.majority,
            },
            Body::MotionWithdrawn(r) => Record::MotionWithdrawn {
                motion_id: v.parse("motion_id", &r.motion_id, Id::parse)?,
                withdrawn_on: v.opt("withdrawn_on", r.withdrawn_on, Date::parse)?,
            },
            Body::EventScheduled(r) => Record::EventScheduled {
                event_id: v.parse("event_id", &r.event_id, Id::parse)?,
                kind: v.parse("kind", &r.kind, EventKind::parse)?,
                title: r.title,
                city: r.city,
                country: v.opt("country", r.country, CountryCode::parse)?,
                place: r.place,
                starts_at: v.parse("starts_at", &r.starts_at, Timestamp::parse)?,
                ends_at: v.opt("ends_at", r.ends_at, Timestamp::parse)?,
                group: r.group,
                joint_action: v.opt("joint_action", r.joint_action, Id::parse)?,
            },
            Body::EventChanged(r) => Record::EventChanged {
                event_id: v.parse("event_id", &r.event_id, Id::parse)?,
                title: r.title,
                place: r.place,
                starts_at: v.opt("starts_at", r.starts_at, Timestamp::parse)?,
                ends_at: v.opt("ends_at", r.ends_at, Timestamp::parse)?,
            },
            Body::EventCancelled(r) => Record::EventCancelled {
                event_id: v.parse("event_id", &r.event_id, Id::parse)?,
                reason: r.reason,
            },
            Body::EventHeld(r) => Record::EventHeld {
                event_id: v.parse("event_id", &r.event_id, Id::parse)?,
                attendance: r.attendance,
            },
        };
        record.validate().map_err(|e| {
            let why = match e {
                ledger::Error::InvalidRecord(why) => why,
                _ => "the record is invalid".to_owned(),
            };
            InputError::value("invalid_value", format!("{}{why}", v.prefix), position)
        })?;
        Ok(Prepared { record, personal })
    }
}

/// Maps a serde error from deserializing a record's fields to a 400 that names the
/// path and the expected type, never the value (serde's own message can quote it).
fn shape_error(
    e: &serde_path_to_error::Error<serde_json::Error>,
    kind: &str,
    fields: &[&str],
    position: Option<usize>,
) -> InputError {
    let message = e.inner().to_string();
    if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let name = fields.iter().find(|f| **f == name).copied().unwrap_or("?");
        return InputError::shape(
            "missing_field",
            format!(
                "{}{name}: required field of {kind} is missing",
                field_prefix(position)
            ),
            position,
        );
    }
    let path = render_path(position, e.path(), "record");
    if message.starts_with("unknown field") {
        return InputError::shape(
            "unknown_field",
            format!("{path}: unknown field of {kind}"),
            position,
        );
    }
    // "invalid type: <what was found>, expected <what the field takes>": keep only the
    // expectation, and only when it is one we know to be schema text.
    let expected = match message.rsplit(", expected ").next() {
        Some("u32") => "an integer from 0 to 4294967295",
        Some("u64") => "an integer from 0 to 18446744073709551615",
        Some("a string") => "a string",
        Some("a boolean") => "true or false",
        Some("a sequence") => "an array",
        _ => "a value of another type",
    };
    let problem = if message.starts_with("invalid value") {
        "out of range"
    } else if message.starts_with("invalid type: floating point") {
        "not an integer"
    } else {
        "wrong JSON type"
    };
    InputError::shape(
        "wrong_type",
        format!("{path}: {problem}; expected {expected}"),
        position,
    )
}

/// Parses the values of one record, making 422 errors that name the field.
struct Values {
    /// `records[i].` or nothing.
    prefix: String,
    position: Option<usize>,
}

impl Values {
    fn invalid(&self, field: &str, why: &str) -> InputError {
        InputError::value(
            "invalid_value",
            format!("{}{field}: {why}", self.prefix),
            self.position,
        )
    }

    /// Parses with a ledger constructor, whose messages name no content.
    fn parse<T>(
        &self,
        field: &str,
        s: &str,
        parse: fn(&str) -> ledger::Result<T>,
    ) -> Result<T, InputError> {
        parse(s).map_err(|e| match e {
            ledger::Error::InvalidRecord(why) => self.invalid(field, &why),
            _ => self.invalid(field, "invalid value"),
        })
    }

    fn opt<T>(
        &self,
        field: &str,
        s: Option<String>,
        parse: fn(&str) -> ledger::Result<T>,
    ) -> Result<Option<T>, InputError> {
        s.map(|s| self.parse(field, &s, parse)).transpose()
    }

    /// An optional area code; a bad one is `invalid_area_code`.
    fn area(&self, field: &str, s: Option<String>) -> Result<Option<AreaCode>, InputError> {
        s.map(|s| {
            AreaCode::parse(&s).map_err(|_| {
                InputError::value(
                    "invalid_area_code",
                    format!(
                        "{}{field}: area code must be a letter A-Z and eight digits",
                        self.prefix
                    ),
                    self.position,
                )
            })
        })
        .transpose()
    }

    /// A 32-byte hash in standard, padded, canonical base64.
    fn hash(&self, field: &str, s: &str) -> Result<[u8; 32], InputError> {
        BASE64
            .decode(s)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| self.invalid(field, "must be standard base64 of exactly 32 bytes"))
    }

    fn opt_hash(&self, field: &str, s: Option<String>) -> Result<Option<[u8; 32]>, InputError> {
        s.map(|s| self.hash(field, &s)).transpose()
    }
}

/// Turns CR LF and lone CR into LF: the log holds long text with `\n` only.
fn normalise_newlines(text: String) -> String {
    if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text
    }
}

/// A record ready to append, plus the signer's personal data and salt when it is a
/// signature (for the vault; they never go into the log). `Debug` redacts both.
pub struct Prepared {
    pub record: Record,
    pub personal: Option<(PersonalData, [u8; 32])>,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("record", &self.record)
            .field(
                "personal",
                &self.personal.as_ref().map(|_| "<redacted data and salt>"),
            )
            .finish()
    }
}

// ---------------------------------------------------------------------------------
// The public view
// ---------------------------------------------------------------------------------

/// The public JSON view of a record, for `GET /api/v1/entries/{index}`.
///
/// The same shape as the input: `type` plus the snake_case fields, without personal
/// data. A signature shows `channel` (`online` / `paper`, with `batch_id` for paper),
/// `dedup_tag` and `commitment`. Every hash and tag is standard base64. Absent options
/// are omitted, and so are empty `thresholds`. Timestamps are printed in UTC
/// (`2022-12-11T12:00:00Z`), whatever offset they were submitted with. For every kind
/// but `signature.added` the view is itself an input that prepares to the same record.
pub fn record_view(record: &Record) -> Value {
    let mut v = View::new(record.kind());
    match record {
        Record::CampaignLaunched {
            campaign_id,
            title,
            launched_on,
            target_cities,
            countries,
        } => {
            v.text("campaign_id", campaign_id);
            v.text("title", title);
            v.opt_text("launched_on", launched_on);
            v.opt("target_cities", *target_cities);
            v.opt("countries", *countries);
        }
        Record::CampaignCityJoined {
            campaign_id,
            city,
            country,
            joined_on,
        } => {
            v.text("campaign_id", campaign_id);
            v.text("city", city);
            v.text("country", country);
            v.opt_text("joined_on", joined_on);
        }
        Record::PetitionOpened {
            petition_id,
            title,
            text,
            target,
            closes_on,
            thresholds,
        } => {
            v.text("petition_id", petition_id);
            v.text("title", title);
            match text {
                PetitionText::Full(text) => v.text("text", text),
                PetitionText::Hash(hash) => v.bytes("text_hash", hash),
            }
            v.text("target", target);
            v.opt_text("closes_on", closes_on);
            if !thresholds.is_empty() {
                v.put("thresholds", thresholds.clone());
            }
        }
        Record::PetitionClosed {
            petition_id,
            reason,
        } => {
            v.text("petition_id", petition_id);
            v.opt_text("reason", reason);
        }
        Record::SignatureAdded(s) => {
            v.text("petition_id", &s.petition_id);
            v.text("country", s.country);
            v.opt_text("constituency", &s.constituency);
            v.opt_text("ward", &s.ward);
            v.opt_text("council", &s.council);
            v.put("consent_to_share", s.consent_to_share);
            match &s.channel {
                Channel::Online => v.text("channel", "online"),
                Channel::Paper { batch_id } => {
                    v.text("channel", "paper");
                    v.text("batch_id", batch_id);
                }
            }
            v.bytes("dedup_tag", &s.dedup_tag);
            v.bytes("commitment", &s.commitment);
        }
        Record::SignatureWithdrawn { index } => v.put("index", *index),
        Record::SignaturesInvalidated {
            indexes,
            reason,
            note,
        } => {
            v.put("indexes", indexes.clone());
            v.text("reason", reason);
            v.opt_text("note", note);
        }
        Record::PaperBatchRecorded {
            batch_id,
            petition_id,
            event_id,
            stall,
            collector,
            sheet_scan_hash,
            count,
        } => {
            v.text("batch_id", batch_id);
            v.text("petition_id", petition_id);
            v.opt_text("event_id", event_id);
            v.opt_text("stall", stall);
            v.text("collector", collector);
            v.opt_bytes("sheet_scan_hash", sheet_scan_hash);
            v.put("count", *count);
        }
        Record::TwinLinkRegistered {
            link_id,
            city,
            country,
            partner_city,
            partner_country,
            kind,
            since,
        } => {
            v.text("link_id", link_id);
            v.text("city", city);
            v.text("country", country);
            v.text("partner_city", partner_city);
            v.text("partner_country", partner_country);
            v.text("kind", kind);
            v.opt_text("since", since);
        }
        Record::TwinLinkStatusChanged {
            link_id,
            status,
            effective_on,
            motion_id,
        } => {
            v.text("link_id", link_id);
            v.text("status", status);
            v.opt_text("effective_on", effective_on);
            v.opt_text("motion_id", motion_id);
        }
        Record::MotionTabled {
            motion_id,
            council,
            link_id,
            proposer,
            title,
            text_hash,
            tabled_on,
            source_url,
        } => {
            v.text("motion_id", motion_id);
            v.text("council", council);
            v.opt_text("link_id", link_id);
            v.opt_text("proposer", proposer);
            v.text("title", title);
            v.opt_bytes("text_hash", text_hash);
            v.opt_text("tabled_on", tabled_on);
            v.opt_text("source_url", source_url);
        }
        Record::MotionAmended {
            motion_id,
            title,
            text_hash,
            amended_on,
        } => {
            v.text("motion_id", motion_id);
            v.opt_text("title", title);
            v.opt_bytes("text_hash", text_hash);
            v.opt_text("amended_on", amended_on);
        }
        Record::MotionVoted {
            motion_id,
            votes_for,
            votes_against,
            abstentions,
            result,
            voted_on,
            majority,
        } => {
            v.text("motion_id", motion_id);
            v.opt("votes_for", *votes_for);
            v.opt("votes_against", *votes_against);
            v.opt("abstentions", *abstentions);
            v.text("result", result);
            v.opt_text("voted_on", voted_on);
            v.opt_text("majority", majority);
        }
        Record::MotionWithdrawn {
            motion_id,
            withdrawn_on,
        } => {
            v.text("motion_id", motion_id);
            v.opt_text("withdrawn_on", withdrawn_on);
        }
        Record::EventScheduled {
            event_id,
            kind,
            title,
            city,
            country,
            place,
            starts_at,
            ends_at,
            group,
            joint_action,
        } => {
            v.text("event_id", event_id);
            v.text("kind", kind);
            v.text("title", title);
            v.text("city", city);
            v.opt_text("country", country);
            v.opt_text("place", place);
            v.text("starts_at", starts_at);
            v.opt_text("ends_at", ends_at);
            v.opt_text("group", group);
            v.opt_text("joint_action", joint_action);
        }
        Record::EventChanged {
            event_id,
            title,
            place,
            starts_at,
            ends_at,
        } => {
            v.text("event_id", event_id);
            v.opt_text("title", title);
            v.opt_text("place", place);
            v.opt_text("starts_at", starts_at);
            v.opt_text("ends_at", ends_at);
        }
        Record::EventCancelled { event_id, reason } => {
            v.text("event_id", event_id);
            v.opt_text("reason", reason);
        }
        Record::EventHeld {
            event_id,
            attendance,
        } => {
            v.text("event_id", event_id);
            v.opt("attendance", *attendance);
        }
    }
    Value::Object(v.0)
}

/// Builds the object of [`record_view`].
struct View(Map<String, Value>);

impl View {
    fn new(kind: &str) -> View {
        let mut map = Map::new();
        map.insert("type".into(), Value::from(kind));
        View(map)
    }

    fn put(&mut self, key: &str, value: impl Into<Value>) {
        self.0.insert(key.into(), value.into());
    }

    fn opt(&mut self, key: &str, value: Option<impl Into<Value>>) {
        if let Some(value) = value {
            self.put(key, value);
        }
    }

    /// Any value shown by its text form (ids, codes, dates, enum names, strings).
    fn text(&mut self, key: &str, value: impl fmt::Display) {
        self.put(key, value.to_string());
    }

    fn opt_text(&mut self, key: &str, value: &Option<impl fmt::Display>) {
        if let Some(value) = value {
            self.text(key, value);
        }
    }

    fn bytes(&mut self, key: &str, bytes: &[u8]) {
        self.put(key, BASE64.encode(bytes));
    }

    fn opt_bytes(&mut self, key: &str, bytes: &Option<[u8; 32]>) {
        if let Some(bytes) = bytes {
            self.bytes(key, bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use serde_json::json;

    const KEY: [u8; 32] = [7; 32];

    fn rng() -> StdRng {
        StdRng::seed_from_u64(1)
    }

    fn hash_b64(byte: u8) -> String {
        BASE64.encode([byte; 32])
    }

    fn parse_one(body: &str) -> RecordInput {
        let mut records = parse_request(body.as_bytes()).expect("parses");
        assert_eq!(records.len(), 1);
        records.remove(0)
    }

    fn prepare(body: &str) -> Result<Prepared, InputError> {
        parse_request(body.as_bytes())?
            .into_iter()
            .map(|r| r.prepare(HashAlg::Blake3, &KEY, &mut rng(), None))
            .next()
            .expect("one record")
    }

    fn prepare_value(value: &Value) -> Result<Prepared, InputError> {
        prepare(&value.to_string())
    }

    /// The error of a body that must fail, at parse or prepare time.
    fn error(body: &str) -> InputError {
        match parse_request(body.as_bytes()) {
            Err(e) => e,
            Ok(records) => {
                for (i, r) in records.into_iter().enumerate() {
                    let position = Some(i).filter(|_| body.contains("\"records\""));
                    if let Err(e) = r.prepare(HashAlg::Blake3, &KEY, &mut rng(), position) {
                        return e;
                    }
                }
                panic!("body was accepted: {body}")
            }
        }
    }

    fn assert_error(body: &str, status: u16, reason: &str, detail_has: &str) -> InputError {
        let e = error(body);
        assert_eq!((e.status, e.reason), (status, reason), "{body}: {e:?}");
        assert!(
            e.detail.contains(detail_has),
            "{body}: detail {:?} lacks {detail_has:?}",
            e.detail
        );
        assert!(!e.detail.contains('\n'), "{:?}", e.detail);
        e
    }

    const PERSONAL: [&str; 4] = ["name", "email", "postcode", "address"];

    /// One input of every kind with every field set (two each for the kinds with two
    /// shapes).
    fn full_inputs() -> Vec<Value> {
        vec![
            json!({"type": "campaign.launched", "campaign_id": "global-detwin",
                   "title": "Global Detwin", "launched_on": "2022-10-01",
                   "target_cities": 163, "countries": 7}),
            json!({"type": "campaign.city_joined", "campaign_id": "global-detwin",
                   "city": "Leeds", "country": "GB", "joined_on": "2022-10-01"}),
            json!({"type": "petition.opened", "petition_id": "uk-detwin",
                   "title": "End sister city links", "text": "Para one.\n\nPara two.",
                   "target": "UK Parliament", "closes_on": "2023-04-01",
                   "thresholds": [10000, 100000]}),
            json!({"type": "petition.opened", "petition_id": "leeds-detwin",
                   "title": "Leeds: end the link", "text_hash": hash_b64(1),
                   "target": "Leeds City Council", "closes_on": "2023-04-01",
                   "thresholds": [500]}),
            json!({"type": "petition.closed", "petition_id": "uk-detwin",
                   "reason": "Handed in to Parliament"}),
            json!({"type": "signature.added", "petition_id": "uk-detwin",
                   "name": "Ada Lovelace", "email": "ada@example.org", "postcode": "NE1 7RU",
                   "address": "1 Grey Street, Newcastle", "country": "GB",
                   "constituency": "E14000831", "ward": "E05001234",
                   "council": "Newcastle upon Tyne", "consent_to_share": true,
                   "channel": "online"}),
            json!({"type": "signature.added", "petition_id": "uk-detwin",
                   "name": "Charles Babbage", "postcode": "LS1 1UR", "country": "GB",
                   "constituency": "E14000777", "council": "Leeds",
                   "consent_to_share": false, "channel": "paper",
                   "batch_id": "leeds-2022-12-11-a"}),
            json!({"type": "signature.withdrawn", "index": 42}),
            json!({"type": "signatures.invalidated", "indexes": [7, 9], "reason": "fraud",
                   "note": "Same handwriting on every line"}),
            json!({"type": "paper_batch.recorded", "batch_id": "leeds-2022-12-11-a",
                   "petition_id": "uk-detwin", "event_id": "lhka-2022-12-11",
                   "stall": "Briggate", "collector": "vol-17",
                   "sheet_scan_hash": hash_b64(2), "count": 25}),
            json!({"type": "twin_link.registered", "link_id": "newcastle-taiyuan",
                   "city": "Newcastle upon Tyne", "country": "GB", "partner_city": "Taiyuan",
                   "partner_country": "CN", "kind": "sister", "since": "1985-05"}),
            json!({"type": "twin_link.status_changed", "link_id": "newcastle-taiyuan",
                   "status": "severed", "effective_on": "2022-11-02",
                   "motion_id": "ncc-2022-11"}),
            json!({"type": "motion.tabled", "motion_id": "ncc-2022-11",
                   "council": "Newcastle City Council", "link_id": "newcastle-taiyuan",
                   "proposer": "Cllr Wendy Taylor",
                   "title": "End the sister city link with Taiyuan",
                   "text_hash": hash_b64(3), "tabled_on": "2022-10-05",
                   "source_url": "https://democracy.newcastle.gov.uk/motion/1"}),
            json!({"type": "motion.amended", "motion_id": "ncc-2022-11",
                   "title": "End the sister city link", "text_hash": hash_b64(4),
                   "amended_on": "2022-10-20"}),
            json!({"type": "motion.voted", "motion_id": "bath-2022-11", "votes_for": 50,
                   "votes_against": 3, "abstentions": 2, "result": "passed",
                   "voted_on": "2022-11-17", "majority": "large majority"}),
            json!({"type": "motion.withdrawn", "motion_id": "ncc-2022-12",
                   "withdrawn_on": "2022-12-01"}),
            json!({"type": "event.scheduled", "event_id": "lhka-2022-12-11", "kind": "stall",
                   "title": "Global Detwin in UK", "city": "Perth", "country": "GB",
                   "place": "High Street", "starts_at": "2022-12-11T12:00:00Z",
                   "ends_at": "2022-12-11T15:00:00Z", "group": "LHKA",
                   "joint_action": "global-detwin"}),
            json!({"type": "event.changed", "event_id": "lhka-2022-12-11",
                   "title": "Global Detwin in Perth", "place": "King Edward Street",
                   "starts_at": "2022-12-11T13:00:00Z", "ends_at": "2022-12-11T16:00:00Z"}),
            json!({"type": "event.cancelled", "event_id": "lhka-2022-12-18",
                   "reason": "Storm warning"}),
            json!({"type": "event.held", "event_id": "lhka-2022-12-11", "attendance": 40}),
        ]
    }

    fn without(value: &Value, keys: &[&str]) -> Value {
        let mut value = value.clone();
        if let Value::Object(map) = &mut value {
            for key in keys {
                map.remove(*key);
            }
        }
        value
    }

    /// Checks that the view is the input minus personal data (plus the signature's
    /// tag and commitment), and that a non-signature view prepares to the same record.
    fn check_round_trip(input: &Value) {
        let prepared = prepare_value(input).unwrap_or_else(|e| panic!("{input}: {e:?}"));
        let view = record_view(&prepared.record);
        let mut expected = without(input, &PERSONAL);
        if let Record::SignatureAdded(s) = &prepared.record {
            let (data, salt) = prepared.personal.as_ref().expect("personal data");
            let petition_id = Id::parse(input["petition_id"].as_str().unwrap()).unwrap();
            assert_eq!(s.dedup_tag, dedup_tag(&KEY, &petition_id, data));
            assert_eq!(s.commitment, commitment(HashAlg::Blake3, salt, data));
            assert_eq!(data.name, input["name"].as_str().unwrap());
            assert_eq!(data.email.as_deref(), input["email"].as_str());
            let map = expected.as_object_mut().unwrap();
            map.insert("dedup_tag".into(), BASE64.encode(s.dedup_tag).into());
            map.insert("commitment".into(), BASE64.encode(s.commitment).into());
        } else {
            assert!(prepared.personal.is_none());
            let again = prepare_value(&view).unwrap_or_else(|e| panic!("{view}: {e:?}"));
            assert_eq!(again.record, prepared.record);
        }
        assert_eq!(view, expected);
    }

    #[test]
    fn body_kinds_follow_the_record_kinds() {
        assert_eq!(Body::KINDS, &Record::KINDS[..]);
        for kind in Record::KINDS {
            let fields = Body::fields(kind).expect("known kind");
            assert!(!fields.is_empty() && !fields.contains(&"type"), "{kind}");
        }
        assert_eq!(Body::fields("signature.deleted"), None);
        assert_eq!(
            Body::fields("event.held"),
            Some(&["event_id", "attendance"][..])
        );
    }

    #[test]
    fn every_kind_round_trips_through_the_view() {
        let inputs = full_inputs();
        let mut kinds: Vec<&str> = inputs.iter().map(|i| i["type"].as_str().unwrap()).collect();
        kinds.dedup();
        assert_eq!(kinds, Record::KINDS);
        for input in &inputs {
            check_round_trip(input);
            // The view fields are exactly the kind's fields (no personal data).
            let view = record_view(&prepare_value(input).unwrap().record);
            let fields = Body::fields(input["type"].as_str().unwrap()).unwrap();
            for key in view.as_object().unwrap().keys() {
                assert!(
                    key == "type"
                        || key == "dedup_tag"
                        || key == "commitment"
                        || (fields.contains(&key.as_str()) && !PERSONAL.contains(&key.as_str())),
                    "{key}"
                );
            }
        }
    }

    #[test]
    fn null_or_absent_optional_fields_are_omitted_from_the_view() {
        let mut optional_seen = 0;
        for input in full_inputs() {
            for key in input.as_object().unwrap().keys() {
                if key == "type" {
                    continue;
                }
                let mut nulled = input.clone();
                nulled[key.as_str()] = Value::Null;
                let removed = without(&input, &[key]);
                match (prepare_value(&nulled), prepare_value(&removed)) {
                    (Ok(a), Ok(b)) => {
                        optional_seen += 1;
                        assert_eq!(a.record, b.record, "{key}");
                        check_round_trip(&removed);
                    }
                    (Err(a), Err(b)) => {
                        // A required field: absent is missing_field, null is wrong_type
                        // (or a value rule that needs it, such as text / text_hash).
                        if b.status == 400 {
                            assert_eq!(b.reason, "missing_field", "{key}");
                            assert!(b.detail.starts_with(&format!("{key}:")), "{b:?}");
                            assert_eq!(a.reason, "wrong_type", "{key}");
                        } else {
                            assert_eq!(a, b, "{key}");
                        }
                    }
                    (a, b) => panic!("{key}: null {:?} vs absent {:?}", a.err(), b.err()),
                }
            }
        }
        // Every optional field of full_inputs() but those a value rule needs (an
        // online signature's email, a paper one's postcode, one of text / text_hash).
        assert_eq!(optional_seen, 48);
    }

    #[test]
    fn timestamps_are_shown_in_utc() {
        let prepared = prepare(
            r#"{"type":"event.changed","event_id":"e1","starts_at":"2022-12-11T13:00:00+01:00"}"#,
        )
        .unwrap();
        assert_eq!(
            record_view(&prepared.record)["starts_at"],
            "2022-12-11T12:00:00Z"
        );
    }

    #[test]
    fn design_examples_parse_and_prepare() {
        // DESIGN.md §6, verbatim.
        let examples = [
            r#"{"type":"petition.opened","petition_id":"uk-detwin","title":"...","text":"...","target":"UK Parliament","closes_on":"2023-04-01"}"#,
            r#"{"type":"signatures.invalidated","indexes":[7,9],"reason":"duplicate"}"#,
            r#"{"type":"signature.withdrawn","index":42}"#,
            r#"{"type":"twin_link.registered","link_id":"newcastle-taiyuan","city":"Newcastle upon Tyne","country":"GB",
   "partner_city":"Taiyuan","partner_country":"CN","kind":"sister","since":"1985"}"#,
            r#"{"type":"motion.tabled","motion_id":"ncc-2022-11","council":"Newcastle City Council","link_id":"newcastle-taiyuan",
   "proposer":"Cllr Wendy Taylor","title":"End the sister city link with Taiyuan","tabled_on":"2022-10-05"}"#,
            r#"{"type":"motion.voted","motion_id":"ncc-2022-11","votes_for":60,"votes_against":0,"abstentions":0,"result":"passed","voted_on":"2022-11-02"}"#,
            r#"{"type":"twin_link.status_changed","link_id":"newcastle-taiyuan","status":"severed","effective_on":"2022-11-02","motion_id":"ncc-2022-11"}"#,
            r#"{"type":"event.scheduled","event_id":"lhka-2022-12-11","kind":"stall","title":"Global Detwin in UK","city":"Liverpool",
   "place":"Lord Street","starts_at":"2022-12-11T12:00:00Z","group":"LHKA","joint_action":"global-detwin"}"#,
            r#"{"type":"event.held","event_id":"lhka-2022-12-11","attendance":40}"#,
        ];
        for example in examples {
            let prepared = prepare(example).unwrap_or_else(|e| panic!("{example}: {e:?}"));
            let input: Value = serde_json::from_str(example).unwrap();
            assert_eq!(record_view(&prepared.record), input);
        }

        // The signature example's "..." email is a placeholder, not an address: it
        // parses, and is refused only for the email. With an address it prepares.
        let signature = r#"{"type":"signature.added","petition_id":"uk-detwin","name":"...","email":"...","postcode":"NE1 7RU",
   "country":"GB","constituency":"E14000831","council":"Newcastle upon Tyne","consent_to_share":true,"channel":"online"}"#;
        assert_eq!(parse_one(signature).kind(), "signature.added");
        let e = prepare(signature).unwrap_err();
        assert_eq!((e.status, e.reason), (422, "invalid_personal_data"));
        assert!(e.detail.starts_with("email:"), "{e:?}");
        let filled = signature.replace(r#""email":"...""#, r#""email":"signer@example.org""#);
        let prepared = prepare(&filled).unwrap();
        let Record::SignatureAdded(s) = &prepared.record else {
            panic!("not a signature")
        };
        assert_eq!(s.constituency.unwrap().as_str(), "E14000831");
        assert_eq!(s.channel, Channel::Online);
        assert!(s.consent_to_share);
        let (data, _) = prepared.personal.unwrap();
        assert_eq!(data.postcode.as_deref(), Some("NE1 7RU"));
    }

    #[test]
    fn batches_keep_order_and_report_positions() {
        let body = json!({"records": [
            {"type": "event.held", "event_id": "a"},
            {"type": "signature.withdrawn", "index": 1},
            {"type": "event.cancelled", "event_id": "b"},
        ]})
        .to_string();
        let records = parse_request(body.as_bytes()).unwrap();
        let kinds: Vec<_> = records.iter().map(RecordInput::kind).collect();
        assert_eq!(
            kinds,
            ["event.held", "signature.withdrawn", "event.cancelled"]
        );

        let e = assert_error(r#"{"records":[]}"#, 400, "empty_batch", "records");
        assert_eq!(e.record, None);
        assert_error(r#"{"records":{}}"#, 400, "wrong_type", "records");
        assert_error(
            r#"{"records":[{"type":"event.held","event_id":"a"}],"extra":1}"#,
            400,
            "unknown_field",
            "extra",
        );
        let e = assert_error(
            r#"{"records":[{"type":"event.held","event_id":"a"},7]}"#,
            400,
            "wrong_type",
            "records[1]",
        );
        assert_eq!(e.record, Some(1));

        let e = assert_error(
            r#"{"records":[{"type":"event.held","event_id":"a"},{"type":"motion.voted","motion_id":"m","result":"passed","votes_for":-1}]}"#,
            400,
            "wrong_type",
            "records[1].votes_for",
        );
        assert_eq!(e.record, Some(1));
        let e = assert_error(
            r#"{"records":[{"type":"event.held","event_id":"a"},{"type":"event.held","event_id":"a","attendance":1},{"type":"event.held"}]}"#,
            400,
            "missing_field",
            "records[2].event_id",
        );
        assert_eq!(e.record, Some(2));
        let e = assert_error(
            r#"{"records":[{"type":"event.held","event_id":"a"},{"type":"event.held","event_id":"Bad Id"}]}"#,
            422,
            "invalid_value",
            "records[1].event_id",
        );
        assert_eq!(e.record, Some(1));
        let e = assert_error(
            r#"{"records":[{"type":"campaign.launched","campaign_id":"c","title":" padded"}]}"#,
            422,
            "invalid_value",
            "records[0].title",
        );
        assert_eq!(e.record, Some(0));
    }

    #[test]
    fn malformed_bodies_are_400_malformed_json() {
        for body in [
            &b""[..],
            b"{",
            b"{\"type\":\"event.held\",\"event_id\":\"a\"",
            b"{\"type\":\"event.held\",\"event_id\":\"a\"}}",
            b"{\"type\":\"event.held\",\"event_id\":\"a\"} x",
            b"{type:\"event.held\"}",
            b"{\"type\":\"event.held\",\"event_id\":\"\xff\"}",
            b"\xef\xbb\xbf{}",
            b"{\"type\":\"event.held\",\"attendance\":1e999}",
        ] {
            let e = parse_request(body).unwrap_err();
            assert_eq!((e.status, e.reason), (400, "malformed_json"), "{body:?}");
            assert_eq!(e.record, None);
        }
        let deep = "[".repeat(100_000);
        assert_eq!(
            parse_request(deep.as_bytes()).unwrap_err().reason,
            "malformed_json"
        );
        for body in ["[]", "\"event.held\"", "42", "null"] {
            assert_error(body, 400, "wrong_type", "JSON object");
        }
    }

    #[test]
    fn duplicate_keys_are_refused() {
        assert_error(
            r#"{"type":"event.held","event_id":"a","event_id":"b"}"#,
            400,
            "duplicate_field",
            "request body: an object has the same key twice",
        );
        assert_error(
            r#"{"records":[{"type":"event.held","event_id":"a","attendance":1,"attendance":2}]}"#,
            400,
            "duplicate_field",
            "records[0]",
        );
    }

    #[test]
    fn types_must_be_known() {
        assert_error(r#"{"event_id":"a"}"#, 400, "unknown_type", "type: missing");
        assert_error(r#"{}"#, 400, "unknown_type", "type");
        let e = assert_error(
            r#"{"type":"event.deleted","event_id":"a"}"#,
            400,
            "unknown_type",
            "event.held",
        );
        assert!(!e.detail.contains("event.deleted"));
        assert_error(r#"{"type":7}"#, 400, "wrong_type", "type");
        let e = assert_error(
            r#"{"records":[{"type":"event.held","event_id":"a"},{"type":"Event.Held"}]}"#,
            400,
            "unknown_type",
            "records[1].type",
        );
        assert_eq!(e.record, Some(1));
    }

    #[test]
    fn unknown_fields_are_400() {
        let e = assert_error(
            r#"{"type":"motion.voted","motion_id":"m","result":"passed","vote_for":60}"#,
            400,
            "unknown_field",
            "vote_for: unknown field of motion.voted",
        );
        assert!(e.detail.contains("votes_for"), "lists the fields: {e:?}");
        // Keys that do not look like field names are not echoed.
        let e = assert_error(
            r#"{"type":"event.held","event_id":"a","Secret Key!":1}"#,
            400,
            "unknown_field",
            "?: unknown field",
        );
        assert!(!e.detail.contains("Secret"));
        // Personal fields belong to signatures only.
        assert_error(
            r#"{"type":"event.held","event_id":"a","email":"x@example.org"}"#,
            400,
            "unknown_field",
            "email",
        );
    }

    #[test]
    fn missing_fields_are_400() {
        assert_error(
            r#"{"type":"signature.added","petition_id":"p","name":"A","email":"a@b.c","country":"GB","channel":"online"}"#,
            400,
            "missing_field",
            "consent_to_share",
        );
        assert_error(
            r#"{"type":"paper_batch.recorded","batch_id":"b","petition_id":"p","collector":"c"}"#,
            400,
            "missing_field",
            "count: required field of paper_batch.recorded",
        );
        assert_error(
            r#"{"type":"signatures.invalidated","reason":"fraud"}"#,
            400,
            "missing_field",
            "indexes",
        );
    }

    #[test]
    fn wrong_json_types_and_out_of_range_numbers_are_400() {
        let voted = |votes: &str| {
            format!(
                r#"{{"type":"motion.voted","motion_id":"m","result":"passed","votes_for":{votes}}}"#
            )
        };
        for votes in ["-1", "1e20", "4294967296", "60.5", "\"60\"", "true", "[60]"] {
            assert_error(&voted(votes), 400, "wrong_type", "votes_for");
        }
        assert!(error(&voted("1e20")).detail.contains("not an integer"));
        let e = error(&voted("4294967296"));
        assert!(e.detail.contains("out of range"), "{e:?}");
        assert!(e.detail.contains("4294967295"), "states the limit: {e:?}");
        assert!(prepare(&voted("4294967295")).is_ok());
        assert_error(
            r#"{"type":"signature.withdrawn","index":-1}"#,
            400,
            "wrong_type",
            "index",
        );
        assert_error(
            r#"{"type":"signature.withdrawn","index":18446744073709551616}"#,
            400,
            "wrong_type",
            "index",
        );
        assert!(prepare(r#"{"type":"signature.withdrawn","index":18446744073709551615}"#).is_ok());
        assert_error(
            r#"{"type":"signatures.invalidated","indexes":[7,"9"],"reason":"fraud"}"#,
            400,
            "wrong_type",
            "indexes[1]",
        );
        assert_error(
            r#"{"type":"signatures.invalidated","indexes":7,"reason":"fraud"}"#,
            400,
            "wrong_type",
            "indexes: wrong JSON type; expected an array",
        );
        assert_error(
            r#"{"type":"campaign.launched","campaign_id":"c","title":null}"#,
            400,
            "wrong_type",
            "title: wrong JSON type; expected a string",
        );
        assert_error(
            r#"{"type":"signature.added","petition_id":"p","name":"A","email":"a@b.c","country":"GB","consent_to_share":"yes","channel":"online"}"#,
            400,
            "wrong_type",
            "consent_to_share: wrong JSON type; expected true or false",
        );
    }

    #[test]
    fn bad_values_are_422_naming_the_field() {
        let cases = [
            (r#"{"type":"event.held","event_id":"Lhka"}"#, "event_id"),
            (
                r#"{"type":"campaign.city_joined","campaign_id":"c","city":"Leeds","country":"gb"}"#,
                "country",
            ),
            (
                r#"{"type":"campaign.launched","campaign_id":"c","title":"T","launched_on":"2022-02-30"}"#,
                "launched_on",
            ),
            (
                r#"{"type":"twin_link.registered","link_id":"l","city":"A","country":"GB","partner_city":"B","partner_country":"CN","kind":"sister","since":"85"}"#,
                "since",
            ),
            (
                r#"{"type":"twin_link.registered","link_id":"l","city":"A","country":"GB","partner_city":"B","partner_country":"CN","kind":"cousin"}"#,
                "kind",
            ),
            (
                r#"{"type":"twin_link.status_changed","link_id":"l","status":"Severed"}"#,
                "status",
            ),
            (
                r#"{"type":"motion.voted","motion_id":"m","result":"won"}"#,
                "result",
            ),
            (
                r#"{"type":"event.scheduled","event_id":"e","kind":"picnic","title":"T","city":"C","starts_at":"2022-12-11T12:00:00Z"}"#,
                "kind",
            ),
            (
                r#"{"type":"event.scheduled","event_id":"e","kind":"stall","title":"T","city":"C","starts_at":"2022-12-11 12:00"}"#,
                "starts_at",
            ),
            (
                r#"{"type":"signatures.invalidated","indexes":[1],"reason":"spam"}"#,
                "reason",
            ),
            (
                r#"{"type":"motion.amended","motion_id":"m","text_hash":"AAAA"}"#,
                "text_hash",
            ),
            (
                r#"{"type":"motion.amended","motion_id":"m","text_hash":"not base64!"}"#,
                "text_hash",
            ),
            (
                r#"{"type":"paper_batch.recorded","batch_id":"b","petition_id":"p","collector":"c","count":1,"sheet_scan_hash":"q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA"}"#,
                "sheet_scan_hash",
            ),
            (
                r#"{"type":"petition.opened","petition_id":"p","title":"T","target":"X"}"#,
                "text",
            ),
            (
                r#"{"type":"petition.opened","petition_id":"p","title":"T","target":"X","text":"t","text_hash":"q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="}"#,
                "text",
            ),
            (
                r#"{"type":"petition.opened","petition_id":"p","title":"T","target":"X","text":"t","thresholds":[10,5]}"#,
                "thresholds",
            ),
            (
                r#"{"type":"paper_batch.recorded","batch_id":"b","petition_id":"p","collector":"c","count":0}"#,
                "count",
            ),
            (r#"{"type":"motion.amended","motion_id":"m"}"#, "title"),
            (
                r#"{"type":"event.changed","event_id":"e","starts_at":"2022-12-11T12:00:00Z","ends_at":"2022-12-11T11:00:00Z"}"#,
                "ends_at",
            ),
            (
                r#"{"type":"motion.tabled","motion_id":"m","council":"C","title":"T","source_url":"ftp://x"}"#,
                "source_url",
            ),
            (
                r#"{"type":"signatures.invalidated","indexes":[],"reason":"fraud"}"#,
                "indexes",
            ),
        ];
        for (body, field) in cases {
            let e = assert_error(body, 422, "invalid_value", field);
            assert!(e.detail.starts_with(&format!("{field}:")), "{body}: {e:?}");
        }
        // A valid 32-byte hash is accepted where the one above was not canonical.
        assert!(prepare(r#"{"type":"motion.amended","motion_id":"m","text_hash":"q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA="}"#).is_ok());
    }

    fn signature(fields: Value) -> String {
        let mut base = json!({"type": "signature.added", "petition_id": "uk-detwin",
            "name": "Zebedee Unique", "country": "GB", "consent_to_share": true,
            "channel": "online", "email": "zebedee@example.org"});
        for (k, v) in fields.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k.as_str()] = v.clone();
            }
        }
        base.to_string()
    }

    #[test]
    fn signature_channel_and_area_rules() {
        assert_error(
            &signature(json!({"constituency": "E1400083"})),
            422,
            "invalid_area_code",
            "constituency",
        );
        assert_error(
            &signature(json!({"ward": "e05001234"})),
            422,
            "invalid_area_code",
            "ward",
        );
        assert_error(
            &signature(json!({"batch_id": "b1"})),
            422,
            "invalid_value",
            "batch_id",
        );
        assert_error(
            &signature(json!({"channel": "paper"})),
            422,
            "invalid_value",
            "batch_id",
        );
        assert_error(
            &signature(json!({"channel": "post"})),
            422,
            "invalid_value",
            "channel",
        );
        assert_error(
            &signature(json!({"channel": "paper", "batch_id": "B1"})),
            422,
            "invalid_value",
            "batch_id",
        );
        let prepared = prepare(&signature(
            json!({"channel": "paper", "batch_id": "b1", "email": null, "postcode": "ne1 7ru"}),
        ))
        .unwrap();
        let Record::SignatureAdded(s) = &prepared.record else {
            panic!()
        };
        assert_eq!(
            s.channel,
            Channel::Paper {
                batch_id: Id::parse("b1").unwrap()
            }
        );
        assert!(prepare(&signature(json!({"batch_id": null}))).is_ok());
        assert_error(
            &signature(json!({"council": "Leeds\n"})),
            422,
            "invalid_value",
            "council",
        );
    }

    #[test]
    fn personal_data_rules() {
        let cases = [
            (json!({"name": "   "}), "name"),
            (json!({"name": "x".repeat(201)}), "name"),
            (json!({"name": "Zebedee\u{7}Unique"}), "name"),
            (json!({"email": null}), "email"),
            (json!({"email": "  "}), "email"),
            (json!({"email": "zebedee.example.org"}), "email"),
            (json!({"email": "zebedee@@example.org"}), "email"),
            (json!({"email": "zebedee@example@org"}), "email"),
            (json!({"email": "@example.org"}), "email"),
            (json!({"email": "zebedee@localhost"}), "email"),
            (json!({"email": "zebedee@example.org."}), "email"),
            (json!({"email": "zebedee unique@example.org"}), "email"),
            (
                json!({"email": format!("{}@example.org", "z".repeat(243))}),
                "email",
            ),
            (json!({"postcode": "NE1-7RU"}), "postcode"),
            (json!({"postcode": "NE1 7RU NE1 7RU NE"}), "postcode"),
            (json!({"postcode": "NÉ1 7RU"}), "postcode"),
            (json!({"address": "1 Grey St\nNewcastle"}), "address"),
            (json!({"address": "x".repeat(513)}), "address"),
            (
                json!({"channel": "paper", "batch_id": "b1", "email": null}),
                "postcode",
            ),
        ];
        for (fields, field) in cases {
            let body = signature(fields);
            let e = assert_error(&body, 422, "invalid_personal_data", field);
            assert!(e.detail.starts_with(&format!("{field}:")), "{e:?}");
        }
        // At the limits.
        for fields in [
            json!({"name": "x".repeat(200)}),
            json!({"email": format!("{}@example.org", "z".repeat(242))}),
            json!({"postcode": "AB12 3CD EF45 6G"}),
            json!({"address": "x".repeat(512)}),
            json!({"channel": "paper", "batch_id": "b1", "email": null, "postcode": "NE1 7RU"}),
        ] {
            prepare(&signature(fields.clone())).unwrap_or_else(|e| panic!("{fields}: {e:?}"));
        }
        let e = error(
            &json!({"records": [
                {"type": "event.held", "event_id": "a"},
                serde_json::from_str::<Value>(&signature(json!({"email": "bad"}))).unwrap(),
            ]})
            .to_string(),
        );
        assert_eq!((e.reason, e.record), ("invalid_personal_data", Some(1)));
        assert!(e.detail.starts_with("records[1].email:"), "{e:?}");
    }

    #[test]
    fn personal_data_is_trimmed_and_blank_options_are_absent() {
        let prepared = prepare(&signature(json!({
            "name": "  Zebedee Unique ", "email": " zebedee@example.org ",
            "postcode": "", "address": "  "
        })))
        .unwrap();
        let (data, salt) = prepared.personal.unwrap();
        assert_eq!(
            data,
            PersonalData {
                name: "Zebedee Unique".into(),
                email: Some("zebedee@example.org".into()),
                postcode: None,
                address: None,
            }
        );
        let Record::SignatureAdded(s) = prepared.record else {
            panic!()
        };
        assert_eq!(s.commitment, commitment(HashAlg::Blake3, &salt, &data));
    }

    #[test]
    fn no_detail_contains_a_submitted_value() {
        let secrets = [
            "Zebedee",
            "zebedee",
            "Unique",
            "unique",
            "zeb3dee@@example.org",
            "ZZ9 9ZZ",
        ];
        let name = "Zebedee Unique";
        let email = "zeb3dee@@example.org";
        let bodies = vec![
            signature(json!({"name": name, "email": email})),
            signature(json!({"name": format!("{name}\u{1}"), "email": "ok@example.org"})),
            signature(json!({"name": name.repeat(20), "email": "ok@example.org"})),
            signature(json!({"name": name, "email": null, "postcode": "ZZ9 9ZZ"})),
            signature(json!({"name": name, "postcode": "ZZ9-9ZZ-Zebedee"})),
            signature(json!({"name": name, "address": "Zebedee\nUnique"})),
            signature(json!({"name": name, "country": "Zebedee Unique"})),
            signature(json!({"name": name, "constituency": "Zebedee Unique"})),
            signature(json!({"name": name, "petition_id": "Zebedee Unique"})),
            signature(json!({"name": name, "channel": "Zebedee Unique"})),
            signature(json!({"name": name, "consent_to_share": "Zebedee Unique"})),
            signature(json!({"name": {"Zebedee Unique": email}})),
            signature(json!({"name": [name]})),
            signature(json!({"name": name, "Zebedee Unique": email})),
            signature(json!({"name": name, "type": "Zebedee Unique"})),
            format!(r#"{{"type":"signature.added","name":"{name}","name":"{name}"}}"#),
            format!(r#"{{"type":"signature.added","name":"{name}","email":"{email}"#),
            format!(r#"{{"type":"signature.added","name":"{name}" "email":"{email}"}}"#),
            format!(r#"{{"type":"signature.added","name":"{name}\q"}}"#),
            format!(r#"{{"records":[{{"type":"signature.added","name":"{name}"}}],"{name}":1}}"#),
            format!(r#"{{"records":[{{"type":"signature.added","{name}":{{"a":1,"a":2}}}}]}}"#),
            format!(
                r#"{{"type":"signature.added","name":"{name}","email":"{email}","postcode":{name}}}"#
            ),
            json!({"type": "event.held", "event_id": "a", "attendance": name}).to_string(),
            json!({"type": "signatures.invalidated", "indexes": [name], "reason": "fraud"})
                .to_string(),
        ];
        for body in &bodies {
            let e = error(body);
            let shown = format!("{e} {e:?}");
            for secret in secrets {
                assert!(!shown.contains(secret), "{body}\nleaks {secret:?}: {shown}");
            }
        }
    }

    #[test]
    fn debug_output_redacts_personal_data() {
        let body = signature(json!({"address": "1 Unique Street", "postcode": "ZZ9 9ZZ"}));
        let input = parse_one(&body);
        let shown = format!("{input:?}");
        assert!(shown.contains("signature.added"), "{shown}");
        let prepared = input
            .prepare(HashAlg::Blake3, &KEY, &mut rng(), None)
            .unwrap();
        let (data, salt) = prepared.personal.clone().unwrap();
        for shown in [shown, format!("{prepared:?}"), format!("{data:?}")] {
            for secret in ["Zebedee", "zebedee@example.org", "Unique", "ZZ9"] {
                assert!(!shown.contains(secret), "{shown}");
            }
            assert!(!shown.contains(&format!("{:?}", &salt[..4])), "{shown}");
        }
    }

    #[test]
    fn scope_accessors() {
        let records = full_inputs();
        let of = |kind: &str| {
            let value = records
                .iter()
                .find(|v| v["type"] == kind)
                .unwrap()
                .to_string();
            parse_one(&value)
        };
        assert_eq!(of("petition.opened").petition_id(), Some("uk-detwin"));
        assert_eq!(of("petition.closed").petition_id(), Some("uk-detwin"));
        assert_eq!(of("signature.added").petition_id(), Some("uk-detwin"));
        assert_eq!(of("paper_batch.recorded").petition_id(), Some("uk-detwin"));
        assert_eq!(of("signatures.invalidated").petition_id(), None);
        assert_eq!(of("event.held").petition_id(), None);
        assert_eq!(of("campaign.city_joined").cities(), ["Leeds"]);
        assert_eq!(of("signature.added").cities(), ["Newcastle upon Tyne"]);
        assert_eq!(of("twin_link.registered").cities(), ["Newcastle upon Tyne"]);
        assert_eq!(of("motion.tabled").cities(), ["Newcastle City Council"]);
        assert_eq!(of("event.scheduled").cities(), ["Perth"]);
        assert!(of("motion.voted").cities().is_empty());
        let no_council = parse_one(&signature(json!({})));
        assert!(no_council.cities().is_empty());
        assert_eq!(no_council.kind(), "signature.added");
    }

    #[test]
    fn petition_text_newlines_are_normalised() {
        let prepared = prepare(
            &json!({"type": "petition.opened", "petition_id": "p", "title": "T",
                    "target": "X", "text": "one\r\ntwo\rthree\n"})
            .to_string(),
        )
        .unwrap();
        let Record::PetitionOpened { text, .. } = prepared.record else {
            panic!()
        };
        assert_eq!(text, PetitionText::Full("one\ntwo\nthree\n".into()));
    }

    fn person(name: &str, email: Option<&str>, postcode: Option<&str>) -> PersonalData {
        PersonalData {
            name: name.into(),
            email: email.map(Into::into),
            postcode: postcode.map(Into::into),
            address: None,
        }
    }

    #[test]
    fn dedup_tags_follow_the_normalised_identity() {
        let uk = Id::parse("uk-detwin").unwrap();
        let leeds = Id::parse("leeds-detwin").unwrap();
        let tag = |p: &Id, d: &PersonalData| dedup_tag(&KEY, p, d);

        let a = person("Ada", Some("Ada.Lovelace@Example.ORG"), None);
        let b = person(
            "A. Lovelace",
            Some("  ada.lovelace@example.org\t"),
            Some("NE1 7RU"),
        );
        assert_eq!(a.normalised_identity(), b"email:ada.lovelace@example.org");
        assert_eq!(tag(&uk, &a), tag(&uk, &b));
        assert_ne!(tag(&uk, &a), tag(&leeds, &a));
        assert_ne!(dedup_tag(&[8; 32], &uk, &a), tag(&uk, &a));
        let other = person("Ada", Some("ada@example.org"), None);
        assert_ne!(tag(&uk, &a), tag(&uk, &other));

        let paper = person("  Charles   Babbage ", None, Some("ls1 1ur"));
        let same = person("charles\tBABBAGE", None, Some(" LS11UR "));
        assert_eq!(
            paper.normalised_identity(),
            b"name-postcode:charles babbage\nLS11UR"
        );
        assert_eq!(tag(&uk, &paper), tag(&uk, &same));
        assert_ne!(
            tag(&uk, &paper),
            tag(&uk, &person("Charles Babbage", None, Some("LS1 1UQ")))
        );
        assert_ne!(
            tag(&uk, &paper),
            tag(&uk, &person("Charles Babbag", None, Some("LS1 1UR")))
        );
        // Email, when present, wins over name and postcode.
        let with_email = person("Charles Babbage", Some("cb@example.org"), Some("LS1 1UR"));
        assert_eq!(with_email.normalised_identity(), b"email:cb@example.org");
        assert_eq!(
            person("X", None, None).normalised_identity(),
            b"name-postcode:x\n"
        );

        // By hand: keyed BLAKE3 of petition id, 0x00, identity, first 16 bytes.
        let mut message = b"uk-detwin\0".to_vec();
        message.extend_from_slice(b"email:ada.lovelace@example.org");
        let full = blake3::keyed_hash(&KEY, &message);
        assert_eq!(tag(&uk, &a)[..], full.as_bytes()[..16]);

        // Through prepare: the same signer in another form gets the same tag.
        let tag_of = |body: String| match prepare(&body).unwrap().record {
            Record::SignatureAdded(s) => s.dedup_tag,
            _ => panic!(),
        };
        assert_eq!(
            tag_of(signature(json!({"email": "Zebedee@Example.org"}))),
            tag_of(signature(
                json!({"email": " zebedee@example.org", "name": "Z"})
            ))
        );
        assert_eq!(
            tag_of(signature(
                json!({"channel": "paper", "batch_id": "b", "email": null,
                                     "name": "Zebedee  Unique", "postcode": "ne1 7ru"})
            )),
            tag_of(signature(
                json!({"channel": "paper", "batch_id": "c", "email": null,
                                     "name": "zebedee unique", "postcode": "NE17RU"})
            ))
        );
    }

    #[test]
    fn canonical_bytes_are_postcard_and_commitments_recompute() {
        let data = PersonalData {
            name: "Ada Lovelace".into(),
            email: Some("ada@example.org".into()),
            postcode: None,
            address: Some("x".repeat(300)),
        };
        let bytes = data.canonical_bytes();
        assert_eq!(bytes, postcard::to_allocvec(&data).unwrap());
        let mut expected = vec![12];
        expected.extend_from_slice(b"Ada Lovelace");
        expected.extend_from_slice(&[1, 15]);
        expected.extend_from_slice(b"ada@example.org");
        expected.extend_from_slice(&[0, 1, 0xac, 0x02]);
        expected.extend_from_slice("x".repeat(300).as_bytes());
        assert_eq!(bytes, expected);
        assert_eq!(postcard::from_bytes::<PersonalData>(&bytes).unwrap(), data);
        let minimal = person("", None, None);
        assert_eq!(minimal.canonical_bytes(), [0, 0, 0, 0]);

        for alg in [HashAlg::Blake3, HashAlg::Sha256] {
            let salt = [9u8; 32];
            let mut preimage = salt.to_vec();
            preimage.extend_from_slice(&bytes);
            assert_eq!(commitment(alg, &salt, &data), alg.digest(&preimage));
            assert_ne!(commitment(alg, &[10; 32], &data), alg.digest(&preimage));

            // Through prepare: the record's commitment recomputes from what the vault
            // gets, and the salt comes from the rng.
            let body = signature(json!({"postcode": "NE1 7RU"}));
            let prepared = parse_one(&body)
                .prepare(alg, &KEY, &mut rng(), None)
                .unwrap();
            let (data, salt) = prepared.personal.unwrap();
            let mut expected_salt = [0u8; 32];
            rng().fill(&mut expected_salt);
            assert_eq!(salt, expected_salt);
            let Record::SignatureAdded(s) = prepared.record else {
                panic!()
            };
            let mut preimage = salt.to_vec();
            preimage.extend_from_slice(&data.canonical_bytes());
            assert_eq!(s.commitment, alg.digest(&preimage));
        }
        // Fresh salts differ between signatures.
        let mut r = rng();
        let body = signature(json!({}));
        let one = parse_one(&body)
            .prepare(HashAlg::Blake3, &KEY, &mut r, None)
            .unwrap();
        let two = parse_one(&body)
            .prepare(HashAlg::Blake3, &KEY, &mut r, None)
            .unwrap();
        assert_ne!(one.personal.unwrap().1, two.personal.unwrap().1);
        assert_ne!(one.record, two.record);
    }

    #[test]
    fn prepared_records_encode_as_entries() {
        for input in full_inputs() {
            let prepared = prepare_value(&input).unwrap();
            let entry = ledger::Entry::v1(1, "tok-test", prepared.record.clone());
            let bytes = entry.encode().unwrap();
            assert_eq!(ledger::Entry::decode(&bytes).unwrap(), entry);
        }
    }

    #[test]
    fn no_input_panics() {
        let mut bodies: Vec<Vec<u8>> = full_inputs()
            .iter()
            .map(|v| v.to_string().into_bytes())
            .collect();
        bodies.push(json!({"records": full_inputs()}).to_string().into_bytes());
        let mut r = StdRng::seed_from_u64(42);
        let alphabet = b"{}[]\",:0123456789-.eE \\u\xff\x00anulltrue";
        let try_body = |body: &[u8], r: &mut StdRng| {
            if let Ok(records) = parse_request(body) {
                for (i, record) in records.into_iter().enumerate() {
                    let _ = record.kind();
                    let _ = record.petition_id();
                    let _ = record.cities();
                    if let Ok(p) = record.prepare(HashAlg::Sha256, &KEY, r, Some(i)) {
                        let _ = record_view(&p.record);
                    }
                }
            }
        };
        for body in &bodies {
            for cut in 0..body.len() {
                try_body(&body[..cut], &mut r);
            }
            for _ in 0..300 {
                let mut mutated = body.clone();
                for _ in 0..r.gen_range(1..4) {
                    let at = r.gen_range(0..mutated.len());
                    match r.gen_range(0..3) {
                        0 => mutated[at] = alphabet[r.gen_range(0..alphabet.len())],
                        1 => {
                            mutated.remove(at);
                        }
                        _ => mutated.insert(at, alphabet[r.gen_range(0..alphabet.len())]),
                    }
                }
                try_body(&mutated, &mut r);
            }
        }
    }

    /// The worked example of docs/FORMAT.md part E.1, byte for byte.
    #[test]
    fn canonical_bytes_match_the_format_doc() {
        let data = PersonalData {
            name: "Ada".into(),
            email: Some("ada@example.org".into()),
            postcode: None,
            address: None,
        };
        let mut expected = vec![0x03, b'A', b'd', b'a', 0x01, 0x0f];
        expected.extend_from_slice(b"ada@example.org");
        expected.extend_from_slice(&[0x00, 0x00]);
        assert_eq!(data.canonical_bytes(), expected);
    }
}
