//! Values (422), and that no input panics.

use super::*;

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

#[test]
fn signature_channel_and_area_rules() {
    for (fields, reason, field) in [
        (
            json!({"constituency": "E1400083"}),
            "invalid_area_code",
            "constituency",
        ),
        (json!({"ward": "e05001234"}), "invalid_area_code", "ward"),
        (json!({"batch_id": "b1"}), "invalid_value", "batch_id"),
        (json!({"channel": "paper"}), "invalid_value", "batch_id"),
        (json!({"channel": "post"}), "invalid_value", "channel"),
        (
            json!({"channel": "paper", "batch_id": "B1"}),
            "invalid_value",
            "batch_id",
        ),
        (json!({"council": "Leeds\n"}), "invalid_value", "council"),
    ] {
        assert_error(&signature(fields), 422, reason, field);
    }
    let prepared = prepare(&signature(
        json!({"channel": "paper", "batch_id": "b1", "email": null, "postcode": "ne1 7ru"}),
    ))
    .unwrap();
    let Record::SignatureCommitted(s) = &prepared.record else {
        panic!()
    };
    assert_eq!(
        s.channel,
        ledger::record::Channel::Paper {
            batch_id: Id::parse("b1").unwrap()
        }
    );
    assert!(prepare(&signature(json!({"batch_id": null}))).is_ok());
}

#[test]
fn petition_text_newlines_are_normalised() {
    let prepared = prepare(
        &json!({"type": "petition.opened", "petition_id": "p", "title": "T",
                "target": "X", "text": "one\r\ntwo\rthree\n"})
        .to_string(),
    )
    .unwrap();
    let Record::PetitionOpened(opened) = prepared.record else {
        panic!()
    };
    let expected = ledger::record::LongText::parse("one\ntwo\nthree\n").unwrap();
    assert_eq!(opened.text, ledger::record::PetitionText::Full(expected));
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
    // As clients write them, `type` first: the bodies the one-pass reader takes.
    let type_first = |v: &Value| {
        let mut fields = v.as_object().unwrap().clone();
        let kind = fields.remove("type").unwrap();
        let rest = Value::Object(fields).to_string();
        format!("{{\"type\":{kind},{}", &rest[1..])
    };
    let firsts: Vec<String> = full_inputs().iter().map(type_first).collect();
    for first in &firsts {
        assert!(fast::read(first.as_bytes()).is_some(), "{first}");
        bodies.push(first.clone().into_bytes());
    }
    bodies.push(format!("{{\"records\":[{}]}}", firsts.join(",")).into_bytes());
    let mut r = StdRng::seed_from_u64(42);
    let alphabet = b"{}[]\",:0123456789-.eE \\u\xff\x00anulltrue";
    let try_body = |body: &[u8], r: &mut StdRng| {
        // The one-pass reader accepts only what the strict reader accepts, as the same
        // records.
        if let Some(fast) = fast::read(body) {
            let strict = parse_strictly(body).expect("the strict reader accepts it too");
            let prepare_all = |records: Vec<RecordInput>| -> Vec<Record> {
                records
                    .into_iter()
                    .map(|r| r.prepare(HashAlg::Sha256, &KEY, &mut rng(), None))
                    .filter_map(Result::ok)
                    .map(|p| p.record)
                    .collect()
            };
            assert_eq!(prepare_all(fast), prepare_all(strict));
        }
        if let Ok(records) = parse_request(body) {
            for (i, record) in records.into_iter().enumerate() {
                let _ = record.kind();
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
