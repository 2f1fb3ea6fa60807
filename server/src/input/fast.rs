//! Reading a request body in one pass, for the bodies every client sends: each record
//! object with `type` as its first key. The record is read straight from the JSON text
//! into its struct, with no intermediate JSON tree and no path bookkeeping.
//!
//! Any doubt sends the body the slow way (`super::parse_request`'s strict tree, then
//! the struct), which is also the only way that reports errors: a body this reader
//! refuses or does not recognise is read again there. Everything this reader accepts,
//! the slow way accepts too with the same result: it refuses repeated keys (the structs
//! refuse repeated and unknown fields; the batch object is checked here), reads the
//! same structs, and requires the whole body to be one JSON value.

use std::fmt;

use ledger::record::{PetitionOpened, RecordKind, Signature};
use ledger::Record;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::json::Stop;
use super::special::{PetitionOpenedInput, SignatureInput};
use super::{Body, RecordInput};

/// The records of `body`, if it reads in one pass; `None` to read it the slow way.
pub(super) fn read(body: &[u8]) -> Option<Vec<RecordInput>> {
    let mut json = serde_json::Deserializer::from_slice(body);
    let records = json.deserialize_map(RequestVisitor).ok()?;
    json.end().ok()?;
    (!records.is_empty()).then_some(records)
}

/// The request: one record, or `{"records": [...]}`.
struct RequestVisitor;

impl<'de> Visitor<'de> for RequestVisitor {
    type Value = Vec<RecordInput>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record or a batch")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        match map.next_key::<&str>()? {
            Some("type") => Ok(vec![record(map)?]),
            Some("records") => {
                let records: Vec<BatchRecord> = map.next_value()?;
                match map.next_key::<&str>()? {
                    None => Ok(records.into_iter().map(|record| record.0).collect()),
                    Some(_) => Err(de::Error::custom(Stop)),
                }
            }
            _ => Err(de::Error::custom(Stop)),
        }
    }
}

/// One record object of a batch.
struct BatchRecord(RecordInput);

impl<'de> Deserialize<'de> for BatchRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RecordVisitor).map(BatchRecord)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = RecordInput;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        match map.next_key::<&str>()? {
            Some("type") => record(map),
            _ => Err(de::Error::custom(Stop)),
        }
    }
}

/// The rest of a record object whose `type` key was just read: its value, then the
/// kind's fields.
fn record<'de, A: MapAccess<'de>>(mut map: A) -> Result<RecordInput, A::Error> {
    let kind = map.next_value::<&str>()?;
    let kind = super::input_kind(kind).ok_or_else(|| de::Error::custom(Stop))?;
    let fields = MapAccessDeserializer::new(map);
    let body = match kind {
        Signature::KIND => Body::Signature(SignatureInput::deserialize(fields)?),
        PetitionOpened::KIND => Body::PetitionOpened(PetitionOpenedInput::deserialize(fields)?),
        _ => Body::Record(
            Record::deserialize_kind(kind, fields).ok_or_else(|| de::Error::custom(Stop))??,
        ),
    };
    Ok(RecordInput { kind, body })
}
