//! JSON in: the strict parse of a request body, and a deserializer over the parsed
//! value whose errors say what kind of failure happened (see [`FieldError`]).
//!
//! serde_json's own deserializers report failures as message text, which can quote
//! input and is not meant to be matched. Reading records from a parsed value through
//! [`JsonValue`] instead makes serde build a [`FieldError`] by kind (missing field,
//! wrong type, refused value, ...), which `error.rs` turns into an answer.

use std::cell::Cell;
use std::fmt;

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{
    self, Deserialize, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer,
    MapAccess, SeqAccess, Visitor,
};
use serde_json::{Map, Value};

use super::error::{render_path, FieldError, InputError};

/// Reads any JSON value, refusing objects with a repeated key (serde_json's `Value`
/// silently keeps the last one, so two readers could disagree on what was signed). A
/// repeated key sets `duplicate`, so the failure is told apart by that, not by text.
#[derive(Clone, Copy)]
struct StrictSeed<'a> {
    duplicate: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
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
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                self.duplicate.set(true);
                return Err(de::Error::custom("duplicate key"));
            }
            let value = map.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Parses the body as strict JSON, mapping every failure to a 400 that quotes nothing.
pub(super) fn parse_json(body: &[u8]) -> Result<Value, InputError> {
    let malformed = |detail: String| InputError::shape("malformed_json", detail, None);
    if std::str::from_utf8(body).is_err() {
        return Err(malformed("the request body is not UTF-8".into()));
    }
    let duplicate = Cell::new(false);
    let mut track = serde_path_to_error::Track::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    let seed = StrictSeed {
        duplicate: &duplicate,
    };
    let value = match seed.deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track))
    {
        Ok(value) => value,
        Err(_) if duplicate.get() => {
            return Err(InputError::shape(
                "duplicate_field",
                format!(
                    "{}: an object has the same key twice",
                    render_path(None, &track.path(), "request body")
                ),
                None,
            ));
        }
        Err(e) => return Err(malformed(json_error_detail(&e))),
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

/// A parsed JSON value as a serde deserializer whose error is a [`FieldError`].
/// Strings are lent to the visitor, never copied here.
#[derive(Clone, Copy)]
pub(super) struct JsonValue<'de>(pub &'de Value);

impl<'de> Deserializer<'de> for JsonValue<'de> {
    type Error = FieldError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => visitor.visit_u64(u),
                (_, Some(i)) => visitor.visit_i64(i),
                _ => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.iter().map(JsonValue));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Value::Object(map) => {
                let entries = map.iter().map(|(k, v)| (k.as_str(), JsonValue(v)));
                let mut access = MapDeserializer::new(entries);
                let value = visitor.visit_map(&mut access)?;
                access.end()?;
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, FieldError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, FieldError> {
        match self.0 {
            // Closed lists are unit variants named by a string.
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            // What was found matters only where an integer was expected (a float or not).
            _ => Err(de::Error::invalid_type(
                de::Unexpected::Other("not a string"),
                &"a string",
            )),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf unit unit_struct newtype_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

impl<'de> IntoDeserializer<'de, FieldError> for JsonValue<'de> {
    type Deserializer = JsonValue<'de>;

    fn into_deserializer(self) -> JsonValue<'de> {
        self
    }
}

/// Reads `T` from `value`, with the path of any failure.
pub(super) fn read<'de, T: Deserialize<'de>>(
    value: &'de Value,
) -> Result<T, serde_path_to_error::Error<FieldError>> {
    // A refusal left over from an unrelated failure must not label this one.
    ledger::record::take_refusal();
    serde_path_to_error::deserialize(JsonValue(value))
}

/// The field names a derived `Deserialize` struct declares, read by asking it to
/// deserialize from a probe that records the list and stops.
pub(super) fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // The probe always answers with an error once it has the names.
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

struct FieldProbe<'a>(&'a mut &'static [&'static str]);

/// An error that only stops a reader: the field probe once it has the names, and the
/// one-pass reader (`fast.rs`) when it gives up. Never shown.
#[derive(Debug, thiserror::Error)]
#[error("stopped")]
pub(super) struct Stop;

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Stop {
        Stop
    }
}

impl<'de> Deserializer<'de> for FieldProbe<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = fields;
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

/// The field names of the ledger struct of record kind `kind`, or `None` for an
/// unknown kind.
pub(super) fn kind_field_names(kind: &str) -> Option<&'static [&'static str]> {
    let mut fields: &'static [&'static str] = &[];
    // The probe always answers with an error once it has the names.
    ledger::Record::deserialize_kind(kind, FieldProbe(&mut fields))?.ok();
    Some(fields)
}

/// Reads the record of kind `kind` from `value` into its ledger struct, with the path
/// of any failure; `None` for an unknown kind.
pub(super) fn read_kind(
    kind: &str,
    value: &Value,
) -> Option<Result<ledger::Record, serde_path_to_error::Error<FieldError>>> {
    ledger::record::take_refusal();
    let mut track = serde_path_to_error::Track::new();
    let read = ledger::Record::deserialize_kind(
        kind,
        serde_path_to_error::Deserializer::new(JsonValue(value), &mut track),
    )?;
    Some(read.map_err(|e| serde_path_to_error::Error::new(track.path(), e)))
}
