//! Personal data: its rules, its redaction, dedup tags and commitments.

use super::*;

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
    let Record::SignatureCommitted(s) = prepared.record else {
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
        json!({"type": "signatures.invalidated", "indexes": [name], "reason": "fraud"}).to_string(),
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
fn dedup_tags_follow_the_normalised_identities() {
    let uk = Id::parse("uk-detwin").unwrap();
    let leeds = Id::parse("leeds-detwin").unwrap();
    let tags = |p: &Id, d: &PersonalData| dedup_tags(&KEY, p, d).unwrap();
    let identities = |d: &PersonalData| d.normalised_identities().unwrap();

    let a = person("Ada", Some("Ada.Lovelace@Example.ORG"), None);
    let b = person("A. Lovelace", Some("  ada.lovelace@example.org\t"), None);
    assert_eq!(identities(&a), [b"email:ada.lovelace@example.org".to_vec()]);
    assert_eq!(tags(&uk, &a), tags(&uk, &b));
    assert_ne!(tags(&uk, &a), tags(&leeds, &a));
    assert_ne!(dedup_tags(&[8; 32], &uk, &a).unwrap(), tags(&uk, &a));
    let other = person("Ada", Some("ada@example.org"), None);
    assert_ne!(tags(&uk, &a), tags(&uk, &other));

    let paper = person("  Charles   Babbage ", None, Some("ls1 1ur"));
    let same = person("charles\tBABBAGE", None, Some(" LS11UR "));
    assert_eq!(
        identities(&paper),
        [b"name-postcode:charles babbage\nLS11UR".to_vec()]
    );
    assert_eq!(tags(&uk, &paper), tags(&uk, &same));
    assert_ne!(
        tags(&uk, &paper),
        tags(&uk, &person("Charles Babbage", None, Some("LS1 1UQ")))
    );
    assert_ne!(
        tags(&uk, &paper),
        tags(&uk, &person("Charles Babbag", None, Some("LS1 1UR")))
    );
    // An email and a postcode are two identities, so two tags: one of each kind.
    let with_email = person("Charles Babbage", Some("cb@example.org"), Some("LS1 1UR"));
    assert_eq!(
        identities(&with_email),
        [
            b"email:cb@example.org".to_vec(),
            b"name-postcode:charles babbage\nLS11UR".to_vec()
        ]
    );
    let both = tags(&uk, &with_email);
    assert_eq!(both.len(), 2);
    assert!(both.contains(&tags(&uk, &paper)[0]));
    assert!(both.contains(&tags(&uk, &person("C", Some("cb@example.org"), None))[0]));

    // By hand: keyed BLAKE3 of petition id, 0x00, identity, first 16 bytes.
    let mut message = b"uk-detwin\0".to_vec();
    message.extend_from_slice(b"email:ada.lovelace@example.org");
    let full = blake3::keyed_hash(&KEY, &message);
    assert_eq!(tags(&uk, &a)[0].0[..], full.as_bytes()[..16]);

    // Through prepare: the same signer in another form gets the same tags.
    let tags_of = |body: String| match prepare(&body).unwrap().record {
        Record::SignatureCommitted(s) => s.dedup_tags,
        _ => panic!(),
    };
    assert_eq!(
        tags_of(signature(json!({"email": "Zebedee@Example.org"}))),
        tags_of(signature(
            json!({"email": " zebedee@example.org", "name": "Z"})
        ))
    );
    assert_eq!(
        tags_of(signature(
            json!({"channel": "paper", "batch_id": "b", "email": null,
                                 "name": "Zebedee  Unique", "postcode": "ne1 7ru"})
        )),
        tags_of(signature(
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
        let Record::SignatureCommitted(s) = prepared.record else {
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
