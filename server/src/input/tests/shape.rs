//! The shape of a request: malformed JSON, batches, types, unknown, missing and wrongly typed fields (400).

use super::*;

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
    for (body, detail) in [
        (
            r#"{"type":"signature.added","petition_id":"p","name":"A","email":"a@b.c","country":"GB","channel":"online"}"#,
            "consent_to_share",
        ),
        (
            r#"{"type":"paper_batch.recorded","batch_id":"b","petition_id":"p","collector":"c"}"#,
            "count: required field of paper_batch.recorded",
        ),
        (
            r#"{"type":"signatures.invalidated","reason":"fraud"}"#,
            "indexes",
        ),
    ] {
        assert_error(body, 400, "missing_field", detail);
    }
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
    assert!(prepare(r#"{"type":"signature.withdrawn","index":18446744073709551615}"#).is_ok());
    for (body, detail) in [
        (r#"{"type":"signature.withdrawn","index":-1}"#, "index"),
        (
            r#"{"type":"signature.withdrawn","index":18446744073709551616}"#,
            "index",
        ),
        (
            r#"{"type":"signatures.invalidated","indexes":[7,"9"],"reason":"fraud"}"#,
            "indexes[1]",
        ),
        (
            r#"{"type":"signatures.invalidated","indexes":7,"reason":"fraud"}"#,
            "indexes: wrong JSON type; expected an array",
        ),
        (
            r#"{"type":"campaign.launched","campaign_id":"c","title":null}"#,
            "title: wrong JSON type; expected a string",
        ),
        (
            r#"{"type":"signature.added","petition_id":"p","name":"A","email":"a@b.c","country":"GB","consent_to_share":"yes","channel":"online"}"#,
            "consent_to_share: wrong JSON type; expected true or false",
        ),
    ] {
        assert_error(body, 400, "wrong_type", detail);
    }
}

#[test]
fn closed_lists_take_a_name_only_whatever_the_key_order() {
    // serde's `{"name": null}` form of a unit variant is refused by both readers: the
    // one-pass one (`type` first) and the strict one.
    for body in [
        r#"{"type":"motion.voted","motion_id":"m","result":{"passed":null}}"#,
        r#"{"motion_id":"m","type":"motion.voted","result":{"passed":null}}"#,
        r#"{"type":"signature.added","petition_id":"p","name":"Zed","email":"z@example.org","country":"GB","consent_to_share":true,"channel":{"online":null}}"#,
    ] {
        assert!(fast::read(body.as_bytes()).is_none(), "{body}");
        let field = if body.contains("channel") {
            "channel"
        } else {
            "result"
        };
        assert_error(body, 400, "wrong_type", field);
    }
}
