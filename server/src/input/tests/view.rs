//! The public view: every kind round-trips, absent options are omitted.

use super::*;

#[test]
fn every_kind_has_fields() {
    for kind in input_kinds() {
        let fields = fields_of(kind).expect("known kind");
        assert!(!fields.is_empty() && !fields.contains(&"type"), "{kind}");
    }
    assert_eq!(fields_of("signature.deleted"), None);
    // Only the server writes these.
    for kind in [
        "signature.recorded",
        "signature.committed",
        "personal_data.erased",
        "signature.withdrawn_by_signer",
        "export.issued",
    ] {
        assert_eq!(fields_of(kind), None, "{kind}");
    }
    assert_eq!(
        fields_of("event.held"),
        Some(&["event_id", "attendance"][..])
    );
}

#[test]
fn every_kind_round_trips_through_the_view() {
    let inputs = full_inputs();
    let mut kinds: Vec<&str> = inputs.iter().map(|i| i["type"].as_str().unwrap()).collect();
    kinds.dedup();
    assert_eq!(kinds, input_kinds().collect::<Vec<_>>());
    for input in &inputs {
        check_round_trip(input);
        // The view fields are exactly the kind's fields (no personal data).
        let view = record_view(&prepare_value(input).unwrap().record);
        let fields = fields_of(input["type"].as_str().unwrap()).unwrap();
        for key in view.as_object().unwrap().keys() {
            assert!(
                key == "type"
                    || key == "dedup_tags"
                    || key == "commitment"
                    || key == "signer_hash"
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
    // The record shapes the project's contract shows, verbatim (docs/API.md).
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
    let Record::SignatureCommitted(s) = &prepared.record else {
        panic!("not a signature")
    };
    assert_eq!(s.constituency.unwrap().as_str(), "E14000831");
    assert_eq!(s.channel, ledger::record::Channel::Online);
    assert!(s.consent_to_share);
    let (data, _) = prepared.personal.unwrap();
    assert_eq!(data.postcode.as_deref(), Some("NE1 7RU"));
}
