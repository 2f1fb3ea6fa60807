//! Why a request body or one of its records is refused, and how a serde failure becomes
//! that answer: by the kind of failure serde reported and the path where it happened,
//! never by reading serde's message (which may quote input).

use std::fmt;

use serde::de::{self, Expected, Unexpected};
use serde_path_to_error::{Path, Segment};

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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} ({status}): {detail}")]
pub struct InputError {
    pub status: u16,
    pub reason: &'static str,
    pub detail: String,
    pub record: Option<usize>,
}

impl InputError {
    pub(super) fn shape(reason: &'static str, detail: String, record: Option<usize>) -> InputError {
        InputError {
            status: 400,
            reason,
            detail,
            record,
        }
    }

    pub(super) fn value(reason: &'static str, detail: String, record: Option<usize>) -> InputError {
        InputError {
            status: 422,
            reason,
            detail,
            record,
        }
    }

    /// The field a lone record's error is about: details name it first, as
    /// `field: why` (or `field.sub: why`, or `record` when no field is at fault), so
    /// this is the name before the first `:` or `.` when it is a schema field name.
    /// `None` for errors of a batch position, which name `records[i].field`.
    pub fn field(&self) -> Option<&str> {
        let (head, _) = self.detail.split_once(':')?;
        let field = head.split(['.', '[']).next()?;
        (self.record.is_none() && is_safe_key(field) && field != "record").then_some(field)
    }
}

/// `records[i].` in a batch, nothing for a lone record: what field names are prefixed
/// with in details.
pub(super) fn field_prefix(position: Option<usize>) -> String {
    position.map_or_else(String::new, |i| format!("records[{i}]."))
}

/// Whether a key from the request looks like a schema field name, and so may be
/// shown in a detail: 1 to 32 bytes of `a-z 0-9 _`, not starting with a digit.
pub(super) fn is_safe_key(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && !b[0].is_ascii_digit()
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// Renders a serde path under `position`, showing only keys that pass
/// [`is_safe_key`] (others become `?`); `root` names an empty path.
pub(super) fn render_path(position: Option<usize>, path: &Path, root: &str) -> String {
    let mut out = position.map_or_else(String::new, |i| format!("records[{i}]"));
    for segment in path.iter() {
        let key = match segment {
            Segment::Seq { index } => {
                out.push_str(&format!("[{index}]"));
                continue;
            }
            Segment::Map { key } | Segment::Enum { variant: key } if is_safe_key(key) => key,
            _ => "?",
        };
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(key);
    }
    if out.is_empty() {
        out.push_str(root);
    }
    out
}

/// A serde failure while reading a record's fields, by kind. Built by serde itself
/// through the [`de::Error`] constructors, so it never holds input.
#[derive(Debug, thiserror::Error)]
pub(super) enum FieldError {
    /// A required field is absent.
    #[error("missing field {0}")]
    Missing(&'static str),
    /// A field the kind does not have.
    #[error("unknown field")]
    Unknown,
    /// A JSON value of the wrong type (`float`: a number with a fraction or exponent);
    /// `expected` is serde's description of the type the field takes (`u32`, `a
    /// string`, ...), never of the value.
    #[error("wrong type; expected {expected}")]
    WrongType { float: bool, expected: String },
    /// A number outside the range of its field.
    #[error("out of range; expected {expected}")]
    OutOfRange { expected: String },
    /// A value one of the ledger's value types refused, and why.
    #[error("{0}")]
    Refused(&'static str),
    /// A name outside a closed list.
    #[error("unknown name")]
    UnknownVariant(&'static [&'static str]),
    /// Any other failure serde reports.
    #[error("malformed value")]
    Other,
}

impl de::Error for FieldError {
    /// serde's catch-all. The ledger's value types refuse through it after leaving
    /// their reason with `ledger::record::take_refusal`.
    fn custom<T: fmt::Display>(_message: T) -> FieldError {
        match ledger::record::take_refusal() {
            Some(why) => FieldError::Refused(why),
            None => FieldError::Other,
        }
    }

    fn invalid_type(found: Unexpected<'_>, expected: &dyn Expected) -> FieldError {
        FieldError::WrongType {
            float: matches!(found, Unexpected::Float(_)),
            expected: expected.to_string(),
        }
    }

    fn invalid_value(found: Unexpected<'_>, expected: &dyn Expected) -> FieldError {
        match found {
            Unexpected::Unsigned(_) | Unexpected::Signed(_) => FieldError::OutOfRange {
                expected: expected.to_string(),
            },
            _ => FieldError::Other,
        }
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> FieldError {
        FieldError::UnknownVariant(expected)
    }

    fn unknown_field(_field: &str, _expected: &'static [&'static str]) -> FieldError {
        FieldError::Unknown
    }

    fn missing_field(field: &'static str) -> FieldError {
        FieldError::Missing(field)
    }
}

/// A field the ledger's area-code type checks: a bad one is `invalid_area_code`.
const AREA_FIELDS: [&str; 2] = ["constituency", "ward"];

/// The expectation of serde's primitive types, in words for the people who send JSON.
fn in_words(expected: &str) -> &'static str {
    match expected {
        "u32" => "an integer from 0 to 4294967295",
        "u64" => "an integer from 0 to 18446744073709551615",
        "a string" => "a string",
        "a boolean" => "true or false",
        "a sequence" => "an array",
        _ => "a value of another type",
    }
}

/// The answer to a failure to read the fields of a record of kind `kind` at batch
/// position `position`: 400 for a shape that is wrong, 422 for a value that is.
pub(super) fn field_error(
    error: FieldError,
    path: &Path,
    kind: &str,
    position: Option<usize>,
) -> InputError {
    let at = render_path(position, path, "record");
    match error {
        FieldError::Missing(field) => InputError::shape(
            "missing_field",
            format!(
                "{}{field}: required field of {kind} is missing",
                field_prefix(position)
            ),
            position,
        ),
        FieldError::Unknown => InputError::shape(
            "unknown_field",
            format!("{at}: unknown field of {kind}"),
            position,
        ),
        FieldError::WrongType { float, expected } => {
            let expected = in_words(&expected);
            let problem = if float && expected.starts_with("an integer") {
                "not an integer"
            } else {
                "wrong JSON type"
            };
            InputError::shape(
                "wrong_type",
                format!("{at}: {problem}; expected {expected}"),
                position,
            )
        }
        FieldError::OutOfRange { expected } => InputError::shape(
            "wrong_type",
            format!("{at}: out of range; expected {}", in_words(&expected)),
            position,
        ),
        FieldError::Refused(why) => {
            let leaf = path.iter().next_back();
            let area =
                matches!(leaf, Some(Segment::Map { key }) if AREA_FIELDS.contains(&key.as_str()));
            let reason = if area {
                "invalid_area_code"
            } else {
                "invalid_value"
            };
            InputError::value(reason, format!("{at}: {why}"), position)
        }
        FieldError::UnknownVariant(names) => InputError::value(
            "invalid_value",
            format!("{at}: unknown name; expected one of: {}", names.join(", ")),
            position,
        ),
        FieldError::Other => InputError::shape(
            "wrong_type",
            format!("{at}: wrong JSON type or shape"),
            position,
        ),
    }
}
