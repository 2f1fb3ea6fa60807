//! The input module's unit tests, by subject; this file holds their shared helpers
//! and one input of every kind.

mod personal;
mod shape;
mod values;
mod view;

use super::*;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ledger::record::Id;
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
/// tags and commitment), and that a non-signature view prepares to the same record.
fn check_round_trip(input: &Value) {
    let prepared = prepare_value(input).unwrap_or_else(|e| panic!("{input}: {e:?}"));
    let view = record_view(&prepared.record);
    let mut expected = without(input, &PERSONAL);
    if let Record::SignatureCommitted(s) = &prepared.record {
        let (data, salt) = prepared.personal.as_ref().expect("personal data");
        let petition_id = Id::parse(input["petition_id"].as_str().unwrap()).unwrap();
        assert_eq!(Some(s.dedup_tags), dedup_tags(&KEY, &petition_id, data));
        assert_eq!(s.commitment, commitment(HashAlg::Blake3, salt, data));
        assert_eq!(data.name, input["name"].as_str().unwrap());
        assert_eq!(data.email.as_deref(), input["email"].as_str());
        let map = expected.as_object_mut().unwrap();
        let tags: Vec<String> = s.dedup_tags.iter().map(|t| t.to_string()).collect();
        map.insert("dedup_tags".into(), tags.into());
        map.insert("commitment".into(), s.commitment.to_string().into());
        // A signature.added input is logged as a signature.committed, whose signer hash
        // is that of the secret handed back beside it.
        let secret = prepared.signer_secret.expect("a signer secret");
        assert_eq!(s.signer_hash, secret.hash());
        map.insert("signer_hash".into(), s.signer_hash.to_string().into());
        map.insert("type".into(), "signature.committed".into());
    } else {
        assert!(prepared.personal.is_none());
        let again = prepare_value(&view).unwrap_or_else(|e| panic!("{view}: {e:?}"));
        assert_eq!(again.record, prepared.record);
    }
    assert_eq!(view, expected);
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

fn person(name: &str, email: Option<&str>, postcode: Option<&str>) -> PersonalData {
    PersonalData {
        name: name.into(),
        email: email.map(Into::into),
        postcode: postcode.map(Into::into),
        address: None,
    }
}
