//! The bad-input table: every case gets its status and problem `reason`, appends
//! nothing, leaks no submitted personal data, and leaves the server answering.

mod support;

use support::*;

/// The name and email every signature in the table carries: no answer may quote them.
const NAME: &str = "Zed Secretname";
const EMAIL: &str = "zed.secretmail@example.org";

/// A signature on `petition` with the table's personal data (email `email`).
fn sig(petition: &str, email: &str) -> Value {
    let mut record = signature(petition, email);
    record["name"] = json!(NAME);
    // Without a postcode the email is the one identity, so signatures with other
    // emails are other signers.
    record.as_object_mut().unwrap().remove("postcode");
    record
}

/// The table's signature, with `field` set to `value` (or removed when null).
fn sig_with(field: &str, value: Value) -> Value {
    let mut record = sig("p-test", EMAIL);
    if value.is_null() {
        record.as_object_mut().unwrap().remove(field);
    } else {
        record[field] = value;
    }
    record
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

/// Who sends a request.
#[derive(Clone, Copy)]
enum Who {
    Nobody,
    Admin,
    Header(&'static str),
    Bearer(&'static str),
    Scoped,
    CityScoped,
    Exporter,
    Revoked,
    WrongSecret,
}

enum Request {
    Post {
        who: Who,
        content_type: Option<&'static str>,
        key: Option<Vec<u8>>,
        body: Vec<u8>,
    },
    Get(String),
    Other(reqwest::Method, String),
}

struct Case {
    name: &'static str,
    request: Request,
    status: u16,
    reason: &'static str,
    /// The position the problem must name in a batch (`record`), if checked.
    record: Option<u64>,
}

impl Case {
    /// Also requires the problem to name batch position `record`.
    fn at(mut self, record: u64) -> Case {
        self.record = Some(record);
        self
    }
}

fn post(name: &'static str, body: Vec<u8>, status: u16, reason: &'static str) -> Case {
    post_as(name, Who::Admin, body, status, reason)
}

fn post_as(name: &'static str, who: Who, body: Vec<u8>, status: u16, reason: &'static str) -> Case {
    Case {
        name,
        request: Request::Post {
            who,
            content_type: Some("application/json"),
            key: None,
            body,
        },
        status,
        reason,
        record: None,
    }
}

fn get(name: &'static str, path: String, status: u16, reason: &'static str) -> Case {
    Case {
        name,
        request: Request::Get(path),
        status,
        reason,
        record: None,
    }
}

/// Status, content type and body of an answer.
fn taken_apart(sent: reqwest::Result<reqwest::blocking::Response>) -> (u16, String, String) {
    let response = sent.unwrap_or_else(|e| panic!("no answer: {e}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, content_type, response.text().expect("body"))
}

struct Tokens {
    scoped: String,
    city: String,
    exporter: String,
    revoked: String,
}

#[test]
fn bad_input_table() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    let admin = server.admin.clone();

    // Set-up: an open petition with one signature, a closed petition, an event, an
    // idempotency key already used, and tokens of every kind.
    server.append(&admin, &petition_opened("p-test", "Test petition"));
    server.append(&admin, &petition_opened("p-closed", "Closed petition"));
    server.append(
        &admin,
        &petition_opened("other-petition", "Another petition"),
    );
    server.append(
        &admin,
        &json!({"type":"petition.closed","petition_id":"p-closed","reason":"handed in"}),
    );
    let signed = server.append(&admin, &sig("p-test", EMAIL));
    let signed_index = signed["index"].as_u64().unwrap();
    server.append(
        &admin,
        &json!({"type":"event.scheduled","event_id":"stall-1","kind":"stall","title":"Stall",
        "city":"Liverpool","starts_at":"2022-12-11T12:00:00Z"}),
    );
    let used = sig("p-test", "used-key@example.org");
    let response = server.post_idempotent(&admin, "key-1", &used);
    assert_eq!(response.status(), 201);
    let tokens = Tokens {
        scoped: create_token(&server.data, "organiser", Some("petition:other-petition")),
        city: create_token(&server.data, "organiser", Some("city:Leeds")),
        exporter: create_token(&server.data, "exporter", Some("area:E14000831")),
        revoked: create_token(&server.data, "organiser", None),
    };
    cli_ok(&[
        "token",
        "revoke",
        "--data",
        server.data.to_str().unwrap(),
        token_id(&tokens.revoked),
    ]);

    let size = server.tree_size();
    let new_sig = |email: &str| sig("p-test", email);
    let fresh = bytes(&new_sig("fresh@example.org"));
    let full = String::from_utf8(bytes(&sig("p-test", EMAIL))).unwrap();
    let voted = |votes: &str| {
        format!(
            r#"{{"type":"motion.voted","motion_id":"m","result":"passed","votes_for":{votes}}}"#
        )
        .into_bytes()
    };
    let withdrawn =
        |index: &str| format!(r#"{{"type":"signature.withdrawn","index":{index}}}"#).into_bytes();
    let event = |starts_at: &str| {
        bytes(
            &json!({"type":"event.scheduled","event_id":"e-new","kind":"rally","title":"Rally",
            "city":"Leeds","starts_at":starts_at}),
        )
    };
    let closes = |date: &str| {
        let mut p = petition_opened("p-new", "New");
        p["closes_on"] = json!(date);
        bytes(&p)
    };
    let small_event = json!({"type":"event.held","event_id":"stall-1"});
    let batch_of = |n: usize, record: &Value| bytes(&json!({ "records": vec![record.clone(); n] }));
    let oversized = bytes(&sig_with("address", json!("x".repeat(1 << 20))));
    let huge_batch = batch_of(100_000, &new_sig("many@example.org"));
    assert!(huge_batch.len() > 1 << 20);
    let many_small = batch_of(1001, &small_event);
    assert!(many_small.len() < 1 << 20, "{}", many_small.len());
    let mut invalid_utf8 = bytes(&new_sig("utf8@example.org"));
    let at = invalid_utf8
        .windows(6)
        .position(|w| w == b"Secret")
        .unwrap();
    invalid_utf8[at] = 0xff;
    invalid_utf8[at + 1] = 0xfe;

    let cases = vec![
        // --- malformed and truncated JSON (400 malformed_json)
        post("empty body", Vec::new(), 400, "malformed_json"),
        post("lone brace", b"{".to_vec(), 400, "malformed_json"),
        post("truncated signature", full.as_bytes()[..full.len() / 2].to_vec(), 400, "malformed_json"),
        post("truncated by one byte", full.as_bytes()[..full.len() - 1].to_vec(), 400, "malformed_json"),
        post("trailing garbage", format!("{full} x").into_bytes(), 400, "malformed_json"),
        post("two objects", format!("{full}{full}").into_bytes(), 400, "malformed_json"),
        post("unquoted keys", b"{type:\"event.held\",event_id:\"stall-1\"}".to_vec(), 400, "malformed_json"),
        post("single quotes", b"{'type':'event.held'}".to_vec(), 400, "malformed_json"),
        post("trailing comma", br#"{"type":"event.held","event_id":"stall-1",}"#.to_vec(), 400, "malformed_json"),
        post("invalid UTF-8 in a name", invalid_utf8, 400, "malformed_json"),
        post("byte order mark", [&b"\xef\xbb\xbf"[..], full.as_bytes()].concat(), 400, "malformed_json"),
        post("infinite number", br#"{"type":"event.held","event_id":"stall-1","attendance":1e999}"#.to_vec(), 400, "malformed_json"),
        post("deep nesting", "[".repeat(10_000).into_bytes(), 400, "malformed_json"),
        // --- wrong JSON types (400 wrong_type)
        post("top-level array", b"[]".to_vec(), 400, "wrong_type"),
        post("top-level null", b"null".to_vec(), 400, "wrong_type"),
        post("top-level string", br#""signature.added""#.to_vec(), 400, "wrong_type"),
        post("records is an object", br#"{"records":{}}"#.to_vec(), 400, "wrong_type"),
        post("record is a number", br#"{"records":[1]}"#.to_vec(), 400, "wrong_type"),
        post("type is a number", br#"{"type":7}"#.to_vec(), 400, "wrong_type"),
        post("consent is a string", bytes(&sig_with("consent_to_share", json!("yes"))), 400, "wrong_type"),
        post("name is a number", bytes(&sig_with("name", json!(42))), 400, "wrong_type"),
        post("email is an array", bytes(&sig_with("email", json!([EMAIL]))), 400, "wrong_type"),
        post("title is null", bytes(&json!({"type":"petition.opened","petition_id":"p-x","title":null,"text":"t","target":"t"})), 400, "wrong_type"),
        post("indexes is a number", br#"{"type":"signatures.invalidated","indexes":7,"reason":"fraud"}"#.to_vec(), 400, "wrong_type"),
        post("index is a string", br#"{"type":"signature.withdrawn","index":"3"}"#.to_vec(), 400, "wrong_type"),
        // --- huge and negative numbers (400 wrong_type)
        post("votes above u32", voted("4294967296"), 400, "wrong_type"),
        post("negative votes", voted("-1"), 400, "wrong_type"),
        post("votes as a float", voted("60.5"), 400, "wrong_type"),
        post("votes in exponent form", voted("1e20"), 400, "wrong_type"),
        post("negative index", withdrawn("-1"), 400, "wrong_type"),
        post("index above u64", withdrawn("18446744073709551616"), 400, "wrong_type"),
        post("huge integer", withdrawn(&"9".repeat(400)), 400, "malformed_json"),
        post("negative attendance", br#"{"type":"event.held","event_id":"stall-1","attendance":-200}"#.to_vec(), 400, "wrong_type"),
        // --- unknown and missing fields
        post("unknown field", bytes(&sig_with("nickname", json!("zed"))), 400, "unknown_field"),
        post("misspelt field", br#"{"type":"motion.voted","motion_id":"m","result":"passed","vote_for":60}"#.to_vec(), 400, "unknown_field"),
        post("personal field on an event", bytes(&json!({"type":"event.held","event_id":"stall-1","email":EMAIL})), 400, "unknown_field"),
        post("extra key beside records", bytes(&json!({"records":[small_event.clone()],"note":"x"})), 400, "unknown_field"),
        post("missing consent", bytes(&sig_with("consent_to_share", Value::Null)), 400, "missing_field"),
        post("missing petition id", bytes(&sig_with("petition_id", Value::Null)), 400, "missing_field"),
        post("missing name", bytes(&sig_with("name", Value::Null)), 400, "missing_field"),
        post("missing count", br#"{"type":"paper_batch.recorded","batch_id":"b","petition_id":"p-test","collector":"c"}"#.to_vec(), 400, "missing_field"),
        post("duplicate key", br#"{"type":"event.held","event_id":"stall-1","event_id":"stall-2"}"#.to_vec(), 400, "duplicate_field"),
        // --- unknown type
        post("missing type", bytes(&json!({"event_id":"stall-1"})), 400, "unknown_type"),
        post("empty object", b"{}".to_vec(), 400, "unknown_type"),
        post("unknown type", bytes(&json!({"type":"signature.deleted","index":3})), 400, "unknown_type"),
        post("a kind only the server writes", bytes(&json!({"type":"signature.recorded","petition_id":"p-test"})), 400, "unknown_type"),
        post("an export's record, which only the export writes", bytes(&json!({"type":"export.issued","petition_id":"p-test","area_kind":"constituency","area":"E14000831","tree_size":1,"exporter":"5e1f00d2","revealed":1})), 400, "unknown_type"),
        post("type in the wrong case", bytes(&json!({"type":"Event.Held","event_id":"stall-1"})), 400, "unknown_type"),
        post("unknown type in a batch", bytes(&json!({"records":[small_event.clone(),{"type":"event.deleted"}]})), 400, "unknown_type").at(1),
        // --- values (422)
        post("February 30th", closes("2023-02-30"), 422, "invalid_value"),
        post("month 13", closes("2023-13-01"), 422, "invalid_value"),
        post("British date order", closes("01/04/2023"), 422, "invalid_value"),
        post("timestamp without zone", event("2022-12-11T12:00:00"), 422, "invalid_value"),
        post("timestamp at 25 o'clock", event("2022-12-11T25:00:00Z"), 422, "invalid_value"),
        post("short area code", bytes(&sig_with("constituency", json!("E1400083"))), 422, "invalid_area_code"),
        post("lower-case area code", bytes(&sig_with("constituency", json!("e14000831"))), 422, "invalid_area_code"),
        post("postcode as ward", bytes(&sig_with("ward", json!("NE1 7RU"))), 422, "invalid_area_code"),
        post("lower-case country", bytes(&sig_with("country", json!("gb"))), 422, "invalid_value"),
        post("unknown channel", bytes(&sig_with("channel", json!("fax"))), 422, "invalid_value"),
        post("paper without a batch", bytes(&sig_with("channel", json!("paper"))), 422, "invalid_value"),
        post("bad petition id", bytes(&sig_with("petition_id", json!("P Test"))), 422, "invalid_value"),
        post("empty invalidation", br#"{"type":"signatures.invalidated","indexes":[],"reason":"fraud"}"#.to_vec(), 422, "invalid_value"),
        post("invalid email", bytes(&sig_with("email", json!("zed.secretmail-at-example.org"))), 422, "invalid_personal_data"),
        post("blank name", bytes(&sig_with("name", json!("   "))), 422, "invalid_personal_data"),
        post("online without email", bytes(&sig_with("email", Value::Null)), 422, "invalid_personal_data"),
        // --- decisions against the log (409, 422)
        post("unknown petition", bytes(&sig("no-such-petition", "u@example.org")), 422, "unknown_petition"),
        post("closed petition", bytes(&sig("p-closed", "c@example.org")), 422, "petition_closed"),
        post("petition opened twice", bytes(&petition_opened("p-test", "Again")), 422, "petition_exists"),
        post("unknown event", bytes(&json!({"type":"event.held","event_id":"no-such-event"})), 422, "unknown_event"),
        post("unknown motion", voted("60"), 422, "unknown_motion"),
        post("withdrawing a non-signature", withdrawn("0"), 422, "not_a_live_signature"),
        post("withdrawing beyond the log", withdrawn("18446744073709551615"), 422, "not_a_live_signature"),
        post("duplicate against the log", bytes(&sig("p-test", EMAIL)), 409, "duplicate_signature"),
        post("duplicate, other case and spaces", bytes(&sig("p-test", &format!("  {}  ", EMAIL.to_uppercase()))), 409, "duplicate_signature"),
        post(
            "duplicates inside one batch",
            bytes(&json!({"records":[new_sig("first@example.org"), new_sig("second@example.org"), new_sig("FIRST@example.org")]})),
            409,
            "duplicate_signature",
        )
        .at(2),
        post("batch with a bad record last", bytes(&json!({"records":[new_sig("ok@example.org"), sig("no-such-petition", "x@example.org")]})), 422, "unknown_petition").at(1),
        post("withdrawn twice in one batch", bytes(&json!({"records":[{"type":"signature.withdrawn","index":signed_index},{"type":"signature.withdrawn","index":signed_index}]})), 422, "not_a_live_signature").at(1),
        // --- sizes (413, 400)
        post("body over 1 MiB", oversized, 413, "body_too_large"),
        post("100,000-record batch", huge_batch, 413, "body_too_large"),
        post("1001 small records", many_small, 413, "batch_too_large"),
        post("empty batch", br#"{"records":[]}"#.to_vec(), 400, "empty_batch"),
        // --- tokens (401, 403)
        post_as("no token", Who::Nobody, fresh.clone(), 401, "missing_token"),
        post_as("basic auth", Who::Header("Basic YWRtaW46YWRtaW4="), fresh.clone(), 401, "missing_token"),
        post_as("bearer without token", Who::Header("Bearer"), fresh.clone(), 401, "missing_token"),
        post_as("unknown token", Who::Bearer("clt_deadbeef_c2VjcmV0c2VjcmV0c2VjcmV0"), fresh.clone(), 401, "invalid_token"),
        post_as("not a token", Who::Bearer("hunter2"), fresh.clone(), 401, "invalid_token"),
        post_as("wrong secret", Who::WrongSecret, fresh.clone(), 401, "invalid_token"),
        post_as("revoked token", Who::Revoked, fresh.clone(), 401, "revoked_token"),
        post_as("other petition's organiser", Who::Scoped, fresh.clone(), 403, "out_of_scope"),
        post_as("petition organiser opening a petition", Who::Scoped, bytes(&petition_opened("other-petition", "Other")), 403, "out_of_scope"),
        post_as("other city's organiser", Who::CityScoped, bytes(&json!({"type":"event.held","event_id":"stall-1"})), 403, "out_of_scope"),
        post_as(
            "batch partly out of scope",
            Who::Scoped,
            bytes(&json!({"records":[sig("other-petition", "in-scope@example.org"), new_sig("out-of-scope@example.org")]})),
            403,
            "out_of_scope",
        )
        .at(1),
        post_as("withdrawing another petition's signature", Who::Scoped, withdrawn(&signed_index.to_string()), 403, "out_of_scope"),
        post_as("exporter", Who::Exporter, fresh.clone(), 403, "forbidden_role"),
        // --- headers (415, 400, 409)
        Case {
            name: "text/plain",
            request: Request::Post { who: Who::Admin, content_type: Some("text/plain"), key: None, body: fresh.clone() },
            status: 415,
            reason: "unsupported_media_type",
            record: None,
        },
        Case {
            name: "form encoded",
            request: Request::Post { who: Who::Admin, content_type: Some("application/x-www-form-urlencoded"), key: None, body: fresh.clone() },
            status: 415,
            reason: "unsupported_media_type",
            record: None,
        },
        Case {
            name: "empty idempotency key",
            request: Request::Post { who: Who::Admin, content_type: Some("application/json"), key: Some(Vec::new()), body: fresh.clone() },
            status: 400,
            reason: "invalid_idempotency_key",
            record: None,
        },
        Case {
            name: "idempotency key of 256 bytes",
            request: Request::Post { who: Who::Admin, content_type: Some("application/json"), key: Some(vec![b'k'; 256]), body: fresh.clone() },
            status: 400,
            reason: "invalid_idempotency_key",
            record: None,
        },
        Case {
            name: "idempotency key not ASCII",
            request: Request::Post { who: Who::Admin, content_type: Some("application/json"), key: Some(b"key-\xff\xfe".to_vec()), body: fresh.clone() },
            status: 400,
            reason: "invalid_idempotency_key",
            record: None,
        },
        Case {
            name: "idempotency key reused with another body",
            request: Request::Post { who: Who::Admin, content_type: Some("application/json"), key: Some(b"key-1".to_vec()), body: fresh.clone() },
            status: 409,
            reason: "idempotency_conflict",
            record: None,
        },
        // --- reads
        get("inclusion index at the size", format!("/api/v1/proofs/inclusion?index={size}"), 400, "index_out_of_range"),
        get("inclusion index past a given size", "/api/v1/proofs/inclusion?index=3&tree_size=3".into(), 400, "index_out_of_range"),
        get("inclusion size beyond the log", format!("/api/v1/proofs/inclusion?index=0&tree_size={}", size + 1), 400, "size_out_of_range"),
        get("inclusion without index", "/api/v1/proofs/inclusion".into(), 400, "invalid_query"),
        get("inclusion negative index", "/api/v1/proofs/inclusion?index=-1".into(), 400, "invalid_query"),
        get("inclusion index not a number", "/api/v1/proofs/inclusion?index=abc".into(), 400, "invalid_query"),
        get("inclusion index above u64", "/api/v1/proofs/inclusion?index=18446744073709551616".into(), 400, "invalid_query"),
        get("consistency from zero", "/api/v1/proofs/consistency?from=0&to=1".into(), 400, "bad_range"),
        get("consistency backwards", "/api/v1/proofs/consistency?from=3&to=2".into(), 400, "bad_range"),
        get("consistency beyond the log", format!("/api/v1/proofs/consistency?from=1&to={}", size + 1), 400, "size_out_of_range"),
        get("consistency without from", "/api/v1/proofs/consistency?to=2".into(), 400, "invalid_query"),
        get("tally beyond the log", format!("/api/v1/tally?tree_size={}", size + 1), 400, "size_out_of_range"),
        get("tally size not a number", "/api/v1/tally?tree_size=ten".into(), 400, "invalid_query"),
        get("entry at the size", format!("/api/v1/entries/{size}"), 404, "unknown_entry"),
        get("entry far beyond", "/api/v1/entries/18446744073709551615".into(), 404, "unknown_entry"),
        get("entry index not a number", "/api/v1/entries/abc".into(), 400, "invalid_index"),
        get("entry index negative", "/api/v1/entries/-1".into(), 400, "invalid_index"),
        get("receipt at the size", format!("/api/v1/receipts/{size}"), 404, "unknown_entry"),
        get("unknown petition", "/api/v1/petitions/no-such-petition".into(), 404, "unknown_petition"),
        get("tile beyond the tree", "/tile/0/001".into(), 404, "tile_not_found"),
        get("partial tile wider than the tree", "/tile/0/000.p/255".into(), 404, "tile_not_found"),
        get("bundle beyond the tree", "/tile/entries/005.p/3".into(), 404, "tile_not_found"),
        get("tile path not a number", "/tile/0/abc".into(), 404, "invalid_tile_path"),
        get("tile of width 0", "/tile/0/000.p/0".into(), 404, "invalid_tile_path"),
        get("tile of width 256 as partial", "/tile/0/000.p/256".into(), 404, "invalid_tile_path"),
        get("tile index not in groups", "/tile/0/0".into(), 404, "invalid_tile_path"),
        get("tile level 64", "/tile/64/000".into(), 404, "invalid_tile_path"),
        get("unknown route", "/api/v1/nothing-here".into(), 404, "no_such_route"),
        get("repeated query parameter", "/api/v1/proofs/inclusion?index=0&index=1".into(), 400, "invalid_query"),
        get("petition id not UTF-8", "/api/v1/petitions/%FF".into(), 400, "invalid_path"),
        Case {
            name: "GET on the append route",
            request: Request::Other(reqwest::Method::GET, "/api/v1/records".into()),
            status: 405,
            reason: "method_not_allowed",
            record: None,
        },
        Case {
            name: "DELETE a checkpoint",
            request: Request::Other(reqwest::Method::DELETE, "/checkpoint".into()),
            status: 405,
            reason: "method_not_allowed",
            record: None,
        },
        Case {
            name: "PUT a record",
            request: Request::Other(reqwest::Method::PUT, "/api/v1/records".into()),
            status: 405,
            reason: "method_not_allowed",
            record: None,
        },
    ];
    assert!(cases.len() >= 40);
    eprintln!("{} bad-input cases", cases.len());

    let client = client();
    let auth_of = |who: Who| -> Option<String> {
        match who {
            Who::Nobody => None,
            Who::Admin => Some(format!("Bearer {admin}")),
            Who::Header(value) => Some(value.to_owned()),
            Who::Bearer(token) => Some(format!("Bearer {token}")),
            Who::Scoped => Some(format!("Bearer {}", tokens.scoped)),
            Who::CityScoped => Some(format!("Bearer {}", tokens.city)),
            Who::Exporter => Some(format!("Bearer {}", tokens.exporter)),
            Who::Revoked => Some(format!("Bearer {}", tokens.revoked)),
            Who::WrongSecret => Some(format!(
                "Bearer clt_{}_{}",
                token_id(&admin),
                "A".repeat(43)
            )),
        }
    };
    let mut failures = Vec::new();
    for case in cases {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let (status, content_type, text) = match &case.request {
                Request::Post {
                    who,
                    content_type,
                    key,
                    body,
                } if body.len() > 1 << 20 => {
                    // Read the answer while writing: the server refuses early.
                    let mut headers = Vec::new();
                    if let Some(auth) = auth_of(*who) {
                        headers.push(("Authorization", auth));
                    }
                    if let Some(content_type) = content_type {
                        headers.push(("Content-Type", content_type.to_string()));
                    }
                    if let Some(key) = key {
                        headers.push(("Idempotency-Key", String::from_utf8(key.clone()).unwrap()));
                    }
                    let answer = raw_post(&server.base, "/api/v1/records", &headers, body.clone());
                    (answer.status, answer.content_type, answer.body)
                }
                Request::Post {
                    who,
                    content_type,
                    key,
                    body,
                } => {
                    let mut request = client
                        .post(server.url("/api/v1/records"))
                        .body(body.clone());
                    if let Some(auth) = auth_of(*who) {
                        request = request.header("authorization", auth);
                    }
                    if let Some(content_type) = content_type {
                        request = request.header("content-type", *content_type);
                    }
                    if let Some(key) = key {
                        let value = reqwest::header::HeaderValue::from_bytes(key).unwrap();
                        request = request.header("idempotency-key", value);
                    }
                    taken_apart(request.send())
                }
                Request::Get(path) => taken_apart(client.get(server.url(path)).send()),
                Request::Other(method, path) => {
                    taken_apart(client.request(method.clone(), server.url(path)).send())
                }
            };
            let problem = check_problem(status, &content_type, &text, case.status, case.reason);
            if let Some(record) = case.record {
                assert_eq!(problem["record"], record, "the batch position: {problem}");
            }
            let text = problem.to_string();
            for secret in [
                "Secretname",
                "secretmail",
                "Zed",
                "example.org",
                "Test Signer",
                "NE1 7RU",
            ] {
                assert!(
                    !text.contains(secret),
                    "the problem quotes personal data: {text}"
                );
            }
            assert_eq!(server.tree_size(), size, "the tree grew");
            let health = server.get("/healthz");
            assert_eq!(health.status(), 200, "/healthz after the case");
        }));
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {message}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Nothing of a refused request was kept: the first record of the refused batch and
    // the fresh signature sent with bad tokens can be appended now, once.
    for email in [
        "first@example.org",
        "second@example.org",
        "ok@example.org",
        "fresh@example.org",
    ] {
        server.append(&admin, &new_sig(email));
    }
    assert_eq!(server.tree_size(), size + 4);
    // The signature withdrawn twice in the refused batch is still live.
    server.append(
        &admin,
        &json!({"type":"signature.withdrawn","index":signed_index}),
    );
    // The scoped organiser may append to its own petition, including the signature
    // of its refused batch.
    server.append(
        &tokens.scoped,
        &sig("other-petition", "in-scope@example.org"),
    );
    assert_eq!(server.tree_size(), size + 6);
}
