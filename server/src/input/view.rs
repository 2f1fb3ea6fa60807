//! The public JSON view of a record, for `GET /api/v1/entries/{index}`.

use ledger::record::{Channel, PetitionText};
use ledger::Record;
use serde_json::{Map, Value};

/// The public JSON view of a record: `type` plus the fields of its kind's struct, in
/// their JSON forms (ids, codes and enum names as strings, timestamps in UTC such as
/// `2022-12-11T12:00:00Z` whatever offset they were submitted with, hashes and tags as
/// standard base64). Absent options and empty lists are omitted.
///
/// It has the shape of the input, so for every kind but the two signature kinds the
/// view is itself an input that prepares to the same record. The kinds whose input
/// shape differs are written as their input is: a petition's wording as `text` or
/// `text_hash`; a signature's (of any of the three kinds) `channel` as
/// `online` or `paper` with `batch_id` beside it, and its `dedup_tag` (or
/// `dedup_tags`) and `commitment` where the input had personal data.
pub fn record_view(record: &Record) -> Value {
    let mut view = match record.serialize_fields(serde_json::value::Serializer) {
        Ok(Value::Object(fields)) => fields,
        // Every kind is a struct of JSON-representable fields.
        _ => Map::new(),
    };
    if let Record::PetitionOpened(opened) = record {
        view.remove("text");
        let (key, text) = match &opened.text {
            PetitionText::Full(text) => ("text", text.to_string()),
            PetitionText::Hash(hash) => ("text_hash", hash.to_string()),
        };
        view.insert(key.into(), text.into());
    }
    if let Some(signature) = record.signature() {
        let channel = match signature.channel {
            Channel::Online => "online",
            Channel::Paper { batch_id } => {
                view.insert("batch_id".into(), batch_id.as_str().into());
                "paper"
            }
        };
        view.insert("channel".into(), channel.into());
    }
    view.retain(|_, value| !matches!(value, Value::Null) && !is_empty_list(value));
    view.insert("type".into(), record.kind().into());
    Value::Object(view)
}

fn is_empty_list(value: &Value) -> bool {
    matches!(value, Value::Array(items) if items.is_empty())
}
