//! The JSON shapes of `POST /api/v1/records`, and the public JSON view of a record.
//!
//! A request body is one record object or `{"records": [ ... ]}`. Each record has a
//! `type` (one of [`Record::KINDS`] but those only the server writes: [`input_kinds`])
//! and the snake_case fields of its kind. The shape of every kind is its struct in
//! `ledger::record::kinds`, read straight from the JSON, except where the shape really
//! differs: a signature (personal data in; dedup tags, commitment and signer hash out,
//! as a `signature.committed`) and an opened petition (`text` or `text_hash`), in
//! `special.rs`.
//! Handling goes in two steps:
//!
//! 1. [`parse_request`] reads the records: well-formed UTF-8 JSON, no duplicate keys, a
//!    known `type`, no unknown fields, every required field present (400), and every
//!    value of the right JSON type (400) and valid for its type: ids, codes, dates,
//!    texts, hashes, names from closed lists (422).
//! 2. [`RecordInput::prepare`] checks what relates fields ([`Record::validate`]) and
//!    builds the [`Record`]; for a signature it also checks the personal data, draws the
//!    salt and computes the dedup tags and the commitment. Failures are 422.
//!
//! One file per job: `fast.rs` (the common body read in one pass), `json.rs` (strict
//! JSON, and reading values with errors by kind),
//! `error.rs` ([`InputError`] and how a serde failure becomes one), `special.rs` (the
//! two hand-written shapes), `personal.rs` (personal data, dedup tags, commitments),
//! `identity.rs` (every normalisation rule of the identities dedup tags are keyed on),
//! `view.rs` (the public view).
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

mod error;
mod fast;
mod identity;
mod json;
mod personal;
mod special;
#[cfg(test)]
mod tests;
mod view;

use std::fmt;

use ledger::record::{
    ExportIssued, PersonalDataErased, PetitionOpened, RecordKind, Signature, SignatureCommitted,
    SignatureRecorded, SignatureWithdrawnBySigner,
};
use ledger::{HashAlg, Record, SignerSecret};
use serde_json::{Map, Value};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

pub use error::InputError;
pub use personal::{
    commitment, dedup_tag, dedup_tags, PersonalData, ADDRESS_MAX_BYTES, EMAIL_MAX_BYTES,
    PERSONAL_NAME_MAX_BYTES, POSTCODE_MAX_BYTES,
};
pub use view::record_view;

use error::{field_error, field_prefix, is_safe_key};
use json::{field_names, parse_json, read};
use special::{PetitionOpenedInput, SignatureInput};

/// One record's fields, as read.
enum Body {
    /// A kind whose JSON is its ledger struct: already the record.
    Record(Record),
    Signature(SignatureInput),
    PetitionOpened(PetitionOpenedInput),
}

/// The record kinds that only the server writes, never named by a request, each with
/// what to do instead: `signature.committed` is what a `signature.added` input becomes
/// (its dedup tags, commitment and signer hash come from personal data and a secret
/// drawn by the server; `signature.recorded` was that before); `export.issued` is
/// logged by the export itself; an erasure or a signer's withdrawal is logged by the
/// route that carries it out.
const WRITTEN_BY_THE_SERVER: &[(&str, &str)] = &[
    (
        SignatureRecorded::KIND,
        "send a signature.added with the signer's details",
    ),
    (
        SignatureCommitted::KIND,
        "send a signature.added with the signer's details",
    ),
    (
        PersonalDataErased::KIND,
        "DELETE /api/v1/signatures/{index}/personal-data erases the data and logs it",
    ),
    (
        SignatureWithdrawnBySigner::KIND,
        "the signer withdraws with POST /api/v1/signatures/{index}/withdraw and their \
         signer secret; an organiser sends a signature.withdrawn",
    ),
    (
        ExportIssued::KIND,
        "it is logged by GET /api/v1/exports/{petition_id} when an export reveals personal data",
    ),
];

/// The `type` of the record kind named `kind` if a request may name it: every kind in
/// the table but those [only the server writes](WRITTEN_BY_THE_SERVER).
pub fn input_kind(kind: &str) -> Option<&'static str> {
    input_kinds().find(|k| *k == kind)
}

/// Every `type` a request may name, in table order.
pub fn input_kinds() -> impl Iterator<Item = &'static str> {
    Record::KINDS
        .iter()
        .copied()
        .filter(|k| WRITTEN_BY_THE_SERVER.iter().all(|(server, _)| server != k))
}

/// The field names of the record kind `kind` (without `type`), or `None` if no kind
/// a request may name has that name.
pub fn fields_of(kind: &str) -> Option<&'static [&'static str]> {
    match input_kind(kind)? {
        Signature::KIND => Some(field_names::<SignatureInput>()),
        PetitionOpened::KIND => Some(field_names::<PetitionOpenedInput>()),
        _ => json::kind_field_names(kind),
    }
}

/// A record kind's JSON `type`, the name of its fields' schema, and that schema.
pub type KindSchema = (&'static str, String, RefOr<Schema>);

/// The OpenAPI schema of every kind's JSON input: `(JSON type, schema name, schema)` in
/// table order, and the schemas they refer to. A kind's struct, except for the two
/// hand-written shapes.
pub fn schemas() -> (Vec<KindSchema>, Vec<(String, RefOr<Schema>)>) {
    let (mut kinds, mut referred) = Record::schemas();
    kinds.retain(|(kind, _, _)| input_kind(kind).is_some());
    for (kind, name, schema) in &mut kinds {
        match *kind {
            Signature::KIND => {
                *name = SignatureInput::name().into_owned();
                *schema = SignatureInput::schema();
                SignatureInput::schemas(&mut referred);
            }
            PetitionOpened::KIND => {
                *name = PetitionOpenedInput::name().into_owned();
                *schema = PetitionOpenedInput::schema();
                PetitionOpenedInput::schemas(&mut referred);
            }
            _ => {}
        }
    }
    (kinds, referred)
}

/// The body of `POST /api/v1/records` in the OpenAPI document: one `RecordInput`
/// (any kind) or a `RecordBatch` (`{"records": [...]}`); those two are built from
/// [`schemas`] in `crate::openapi`.
pub struct RecordsBody;

impl PartialSchema for RecordsBody {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::OneOfBuilder;
        use utoipa::openapi::Ref;
        Schema::OneOf(
            OneOfBuilder::new()
                .item(Ref::from_schema_name("RecordInput"))
                .item(Ref::from_schema_name("RecordBatch"))
                .build(),
        )
        .into()
    }
}

impl ToSchema for RecordsBody {}

/// One record as it arrived: its fields read and their values checked, but not yet
/// the rules that relate them. Its `Debug` shows only the kind.
pub struct RecordInput {
    kind: &'static str,
    body: Body,
}

impl fmt::Debug for RecordInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordInput")
            .field("type", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Parses a request body: one record object, or `{"records": [ ... ]}` with at least
/// one record (an empty array is 400 `empty_batch`). The batch size limit is the
/// caller's to check.
///
/// An object with a `type` key, or without a `records` key, is one record; otherwise
/// it is a batch, whose only key must be `records`. For a record of a batch,
/// [`InputError::record`] is its position.
pub fn parse_request(body: &[u8]) -> Result<Vec<RecordInput>, InputError> {
    match fast::read(body) {
        Some(records) => Ok(records),
        None => parse_strictly(body),
    }
}

/// The two readers behind [`parse_request`], each on its own, for differential tests
/// and fuzzing (`tests/fuzz`): what the one-pass reader makes of `body` (`None`: it gave
/// up) and what the strict reader makes of it. Whatever the first accepts, the second
/// must accept as the same records.
pub fn parse_request_each_way(
    body: &[u8],
) -> (
    Option<Vec<RecordInput>>,
    Result<Vec<RecordInput>, InputError>,
) {
    (fast::read(body), parse_strictly(body))
}

/// [`parse_request`] without the one-pass reader: through the strict JSON tree, which
/// names what is wrong.
fn parse_strictly(body: &[u8]) -> Result<Vec<RecordInput>, InputError> {
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
    /// Reads one record object.
    fn from_object(
        mut object: Map<String, Value>,
        position: Option<usize>,
    ) -> Result<RecordInput, InputError> {
        let prefix = field_prefix(position);
        let kinds = || input_kinds().collect::<Vec<_>>().join(", ");
        let unknown_type = || {
            InputError::shape(
                "unknown_type",
                format!(
                    "{prefix}type: unknown record type; expected one of: {}",
                    kinds()
                ),
                position,
            )
        };
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
        if let Some((_, instead)) = WRITTEN_BY_THE_SERVER.iter().find(|(k, _)| *k == kind) {
            return Err(InputError::shape(
                "unknown_type",
                format!("{prefix}type: {kind} is written by the server only; {instead}"),
                position,
            ));
        }
        let kind = input_kind(&kind).ok_or_else(unknown_type)?;
        let fields = fields_of(kind).ok_or_else(unknown_type)?;
        // Unknown fields first, whatever else is wrong, so the answer does not depend
        // on the order of the keys.
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
        let value = Value::Object(object);
        let failed = |e: serde_path_to_error::Error<_>| {
            let path = e.path().clone();
            field_error(e.into_inner(), &path, kind, position)
        };
        let body = match kind {
            Signature::KIND => Body::Signature(read(&value).map_err(failed)?),
            PetitionOpened::KIND => Body::PetitionOpened(read(&value).map_err(failed)?),
            _ => Body::Record(
                json::read_kind(kind, &value)
                    .ok_or_else(unknown_type)?
                    .map_err(failed)?,
            ),
        };
        Ok(RecordInput { kind, body })
    }

    /// Reads one record object built by the server from another form of input (a
    /// paper import's CSV row, `crate::import`), exactly as a lone record of a request
    /// body is read: the same checks and the same errors, which name fields (see
    /// [`InputError::field`]).
    pub fn from_fields(object: Map<String, Value>) -> Result<RecordInput, InputError> {
        RecordInput::from_object(object, None)
    }

    /// The record's `type`, such as `signature.added`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The petition of a signature, whose dedup key [`RecordInput::prepare`] needs;
    /// `None` for any other record.
    pub fn signature_petition(&self) -> Option<&ledger::record::Id> {
        match &self.body {
            Body::Signature(input) => Some(&input.petition_id),
            _ => None,
        }
    }

    /// Checks the rules that relate fields and builds the record; errors are 422 with
    /// [`InputError::record`] set to `position`.
    ///
    /// For a signature, the personal data is trimmed (empty optional fields count as
    /// absent) and checked, a 32-byte salt is drawn from `rng`, and the dedup tags
    /// (under `dedup_key`) and the commitment (under `alg`) are computed, and a signer
    /// secret is drawn; the record is a `signature.committed`, the data and salt come
    /// back in [`Prepared::personal`] and the secret in [`Prepared::signer_secret`]. A petition's full text has CR LF and
    /// lone CR normalised to LF.
    pub fn prepare(
        self,
        alg: HashAlg,
        dedup_key: &[u8; 32],
        rng: &mut impl rand::RngCore,
        position: Option<usize>,
    ) -> Result<Prepared, InputError> {
        let prefix = field_prefix(position);
        let invalid = |reason: &'static str, field: &str, why: &str| {
            InputError::value(reason, format!("{prefix}{field}: {why}"), position)
        };
        let mut personal = None;
        let mut signer_secret = None;
        let record = match self.body {
            Body::Record(record) => record,
            Body::PetitionOpened(input) => Record::PetitionOpened(input.prepare(invalid)?),
            Body::Signature(input) => {
                let (signature, data, salt, secret) =
                    input.prepare(alg, dedup_key, rng, invalid)?;
                personal = Some((data, salt));
                signer_secret = Some(secret);
                Record::SignatureCommitted(signature)
            }
        };
        record.validate().map_err(|e| {
            let why = match e {
                ledger::Error::InvalidRecord(why) => why,
                _ => "the record is invalid".to_owned(),
            };
            InputError::value("invalid_value", format!("{prefix}{why}"), position)
        })?;
        Ok(Prepared {
            record,
            personal,
            signer_secret,
        })
    }
}

/// A record ready to append, plus the signer's personal data and salt when it is a
/// signature (for the vault; they never go into the log) and the signer secret its
/// `signer_hash` commits to (for the answer, once). `Debug` redacts all three.
pub struct Prepared {
    pub record: Record,
    pub personal: Option<(PersonalData, [u8; 32])>,
    pub signer_secret: Option<SignerSecret>,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("record", &self.record)
            .field(
                "personal",
                &self.personal.as_ref().map(|_| "<redacted data and salt>"),
            )
            .field(
                "signer_secret",
                &self.signer_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}
