//! Signers' rights, black-box: erasure by an organiser (HTTP and the `erase` verb) and
//! by the signer's own secret, and withdrawal by the signer, against the real binary.
//! What must hold: the erasure is logged and counted, the signature still counts and
//! its receipt still verifies, no byte of the sealed value is left in the data
//! directory, exports show no data for it, and every refusal changes nothing.

mod support;

use std::io::Read;
use std::path::Path;

use support::*;

const PETITION: &str = "p";

/// A consenting online signer in E14000831.
fn signer(n: u32) -> Value {
    json!({
        "type": "signature.added",
        "petition_id": PETITION,
        "name": format!("Erasable Signer {n}"),
        "email": format!("erasable-{n}@example.org"),
        "postcode": "NE1 7RU",
        "address": format!("{n} Grey Street, Newcastle"),
        "country": "GB",
        "constituency": "E14000831",
        "consent_to_share": true,
        "channel": "online",
    })
}

/// A signature's index and the signer secret its answer carried.
fn signed(server: &Server, token: &str, n: u32) -> (u64, String) {
    let answer = server.append(token, &signer(n));
    let entry = &answer["entries"][0];
    let secret = entry["signer_secret"]
        .as_str()
        .unwrap_or_else(|| panic!("no signer secret in {answer}"));
    (entry["index"].as_u64().unwrap(), secret.to_string())
}

fn delete(server: &Server, token: Option<&str>, index: &str) -> reqwest::blocking::Response {
    let mut request = server
        .client
        .delete(server.url(&format!("/api/v1/signatures/{index}/personal-data")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().expect("the erase request")
}

fn as_signer(server: &Server, action: &str, index: u64, body: &str) -> reqwest::blocking::Response {
    server
        .client
        .post(server.url(&format!("/api/v1/signatures/{index}/{action}")))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("the signer's request")
}

fn secret_body(secret: &str) -> String {
    json!({ "signer_secret": secret }).to_string()
}

fn petition(server: &Server) -> Value {
    server.get_json(&format!("/api/v1/petitions/{PETITION}"))
}

fn tally_count(server: &Server, key: &str) -> u64 {
    let tally = server.get_json("/api/v1/tally");
    tally["text"]
        .as_str()
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no counter {key}"))
        .parse()
        .unwrap()
}

/// Every file under `dir`, with its bytes.
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    found
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// The byte ranges in which `before` and `after` (of one file) differ.
fn changed_ranges(before: &[u8], after: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::new();
    for i in 0..before.len().min(after.len()) {
        if before[i] != after[i] {
            match ranges.last_mut() {
                Some(last) if last.end + 8 >= i => last.end = i + 1,
                _ => ranges.push(i..i + 1),
            }
        }
    }
    ranges
}

/// The names in an export's signers.csv.
fn exported_names(server: &Server, token: &str) -> String {
    let response = server
        .client
        .get(server.url(&format!(
            "/api/v1/exports/{PETITION}?area=constituency:E14000831"
        )))
        .bearer_auth(token)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let zip = response.bytes().unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    let mut csv = String::new();
    archive
        .by_name("signers.csv")
        .unwrap()
        .read_to_string(&mut csv)
        .unwrap();
    csv
}

#[test]
fn an_organiser_erases_and_the_data_is_gone_for_good() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    let admin = server.admin.clone();
    server.append(&admin, &petition_opened(PETITION, "Detwin now"));
    server.append(&admin, &petition_opened("q", "Another"));
    let (first, _) = signed(&server, &admin, 1);
    let (second, _) = signed(&server, &admin, 2);
    let (third, _) = signed(&server, &admin, 3);
    let receipt_before = server.get_text(&format!("/api/v1/receipts/{first}"));
    let vault = dir.data().join("vault.log");
    let vault_before = std::fs::read(&vault).unwrap();
    let total = petition(&server)["total"].as_u64().unwrap();

    // Refused, each changing nothing.
    let scoped_elsewhere = create_token(&dir.data(), "organiser", Some("petition:q"));
    let exporter = create_token(&dir.data(), "exporter", Some("area:E14000831"));
    let size = server.tree_size();
    let first_text = first.to_string();
    for (token, index, status, reason) in [
        (None, first_text.as_str(), 401, "missing_token"),
        (
            Some(scoped_elsewhere.as_str()),
            first_text.as_str(),
            403,
            "out_of_scope",
        ),
        (
            Some(exporter.as_str()),
            first_text.as_str(),
            403,
            "forbidden_role",
        ),
        (Some(admin.as_str()), "0", 404, "not_a_signature"),
        (Some(admin.as_str()), "999999", 404, "not_a_signature"),
        (Some(admin.as_str()), "01", 400, "invalid_index"),
        (Some(admin.as_str()), "-1", 400, "invalid_index"),
    ] {
        expect_problem(delete(&server, token, index), status, reason);
        assert_eq!(server.tree_size(), size, "{reason}: nothing appended");
    }
    assert_eq!(std::fs::read(&vault).unwrap(), vault_before);

    // An organiser scoped to the petition erases over HTTP.
    let organiser = create_token(&dir.data(), "organiser", Some("petition:p"));
    let answer = delete(&server, Some(&organiser), &first_text);
    assert_eq!(answer.status().as_u16(), 200);
    let answer: Value = answer.json().unwrap();
    let erasure = answer["index"].as_u64().unwrap();
    let entry = server.get_json(&format!("/api/v1/entries/{erasure}"));
    assert_eq!(
        entry["record"],
        json!({"type": "personal_data.erased", "index": first, "reason": "signer_request"})
    );
    // Twice is refused, and appends nothing.
    let size = server.tree_size();
    expect_problem(
        delete(&server, Some(&admin), &first_text),
        409,
        "already_erased",
    );
    assert_eq!(server.tree_size(), size);

    // The admin erases another with the CLI.
    let token_file = dir.path("admin.token");
    std::fs::write(&token_file, &admin).unwrap();
    let out = cli_ok(&[
        "erase",
        &second.to_string(),
        "--server",
        &server.url(""),
        "--token-file",
        token_file.to_str().unwrap(),
    ]);
    assert!(out.contains(&format!("signature {second}")), "{out}");
    let again = cli(&[
        "erase",
        &second.to_string(),
        "--server",
        &server.url(""),
        "--token-file",
        token_file.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("409 already_erased"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");

    // Still counted, still provable; counted as erased.
    let view = petition(&server);
    assert_eq!(view["total"].as_u64().unwrap(), total);
    assert_eq!(view["erased"]["signer_request"], 2);
    assert_eq!(tally_count(&server, "petition/p/erased/signer_request"), 2);
    assert_eq!(tally_count(&server, "petition/p/total"), total);
    let receipt = dir.path("first.receipt");
    std::fs::write(&receipt, &receipt_before).unwrap();
    let vkey = server.log().vkey_text;
    cli_ok(&["verify", receipt.to_str().unwrap(), "--vkey", &vkey]);
    let page = server.get_text(&format!("/verify?index={first}"));
    assert!(page.contains("in the log and counted"), "{page}");
    assert!(page.contains("personal data has been erased"), "{page}");
    let page = server.get_text(&format!("/verify?index={third}"));
    assert!(page.contains("with the signer secret"), "{page}");

    // No byte of the two sealed values is left anywhere in the data directory, and no
    // plaintext of any signer is anywhere in it either.
    let vault_after = std::fs::read(&vault).unwrap();
    let removed = changed_ranges(&vault_before, &vault_after);
    assert_eq!(removed.len(), 2, "two values overwritten: {removed:?}");
    let everything = files_under(&dir.data());
    for range in removed {
        assert!(range.len() >= 40, "a whole sealed value: {range:?}");
        assert!(vault_after[range.clone()].iter().all(|&b| b == 0));
        let sealed = &vault_before[range];
        for (name, bytes) in &everything {
            for piece in sealed.chunks(16).filter(|piece| piece.len() == 16) {
                assert!(
                    !contains(bytes, piece),
                    "a piece of a sealed value in {name}"
                );
            }
        }
    }
    for (name, bytes) in &everything {
        for plain in ["Erasable Signer", "erasable-", "Grey Street"] {
            assert!(!contains(bytes, plain.as_bytes()), "{plain} in {name}");
        }
    }

    // An export to the area's office lists the third signer's data, not the erased.
    let csv = exported_names(&server, &exporter);
    assert!(csv.contains("Erasable Signer 3"), "{csv}");
    assert!(!csv.contains("Erasable Signer 1") && !csv.contains("Erasable Signer 2"));
    assert!(third > second);

    // The erased values stay gone across a restart.
    drop(server);
    let server = Server::start(&dir);
    let view = petition(&server);
    assert_eq!(view["erased"]["signer_request"], 2);
    let csv = exported_names(&server, &exporter);
    assert!(!csv.contains("Erasable Signer 1"), "{csv}");
}

#[test]
fn a_signer_withdraws_and_erases_with_their_secret_alone() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    let admin = server.admin.clone();
    server.append(&admin, &petition_opened(PETITION, "Detwin now"));
    let (first, first_secret) = signed(&server, &admin, 1);
    let (second, second_secret) = signed(&server, &admin, 2);
    assert_ne!(first_secret, second_secret);
    // The signature commits to the secret's hash; the secret is nowhere in the log.
    let entry = server.get_json(&format!("/api/v1/entries/{first}"));
    let signer_hash = entry["record"]["signer_hash"].as_str().unwrap().to_string();
    let secret = ledger::SignerSecret::parse(&first_secret).unwrap();
    assert_eq!(secret.hash().to_string(), signer_hash);
    assert!(!entry.to_string().contains(&first_secret));

    // Refused, each appending nothing: a wrong secret, another signature's secret, a
    // malformed body, an index that is no signature.
    let size = server.tree_size();
    let wrong = b64([9u8; 32]);
    for (action, index, body, status, reason) in [
        (
            "withdraw",
            first,
            secret_body(&wrong),
            403,
            "wrong_signer_secret",
        ),
        (
            "withdraw",
            first,
            secret_body(&second_secret),
            403,
            "wrong_signer_secret",
        ),
        (
            "erase",
            second,
            secret_body(&first_secret),
            403,
            "wrong_signer_secret",
        ),
        (
            "withdraw",
            0,
            secret_body(&first_secret),
            422,
            "not_a_live_signature",
        ),
        (
            "erase",
            0,
            secret_body(&first_secret),
            404,
            "not_a_signature",
        ),
        (
            "withdraw",
            first,
            "{}".to_string(),
            400,
            "invalid_signer_request",
        ),
        (
            "withdraw",
            first,
            json!({"signer_secret": "short"}).to_string(),
            400,
            "invalid_signer_request",
        ),
        (
            "withdraw",
            first,
            json!({"signer_secret": first_secret, "x": 1}).to_string(),
            400,
            "invalid_signer_request",
        ),
        ("withdraw", first, "x".repeat(5000), 413, "body_too_large"),
    ] {
        let problem = expect_problem(as_signer(&server, action, index, &body), status, reason);
        assert!(
            !problem.to_string().contains(&first_secret),
            "the secret is not echoed"
        );
        assert_eq!(
            server.tree_size(),
            size,
            "{action} {reason}: nothing appended"
        );
    }

    // The right secret withdraws: the record shows it, so anyone can check it.
    let answer = as_signer(&server, "withdraw", first, &secret_body(&first_secret));
    assert_eq!(answer.status().as_u16(), 200);
    let withdrawal = answer.json::<Value>().unwrap()["index"].as_u64().unwrap();
    let entry = server.get_json(&format!("/api/v1/entries/{withdrawal}"));
    assert_eq!(
        entry["record"],
        json!({"type": "signature.withdrawn_by_signer", "index": first, "signer_secret": first_secret})
    );
    assert_eq!(entry["author"], "token-signer");
    // Reused, it withdraws nothing more.
    expect_problem(
        as_signer(&server, "withdraw", first, &secret_body(&first_secret)),
        422,
        "not_a_live_signature",
    );
    let view = petition(&server);
    assert_eq!(
        (
            view["withdrawn"].as_u64(),
            view["withdrawn_by_signer"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(view["total"], 1);

    // The withdrawn signer can still have their data erased, with the same secret; the
    // other signer erases theirs with the CLI.
    let answer = as_signer(&server, "erase", first, &secret_body(&first_secret));
    assert_eq!(answer.status().as_u16(), 200);
    let erasure = answer.json::<Value>().unwrap()["index"].as_u64().unwrap();
    let entry = server.get_json(&format!("/api/v1/entries/{erasure}"));
    assert_eq!(entry["record"]["signer_secret"], first_secret);
    assert_eq!(entry["record"]["reason"], "signer_request");
    let secret_file = dir.path("secret");
    std::fs::write(&secret_file, format!("{second_secret}\n")).unwrap();
    cli_ok(&[
        "erase",
        &second.to_string(),
        "--server",
        &server.url(""),
        "--signer-secret-file",
        secret_file.to_str().unwrap(),
    ]);
    expect_problem(
        as_signer(&server, "erase", second, &secret_body(&second_secret)),
        409,
        "already_erased",
    );
    let view = petition(&server);
    assert_eq!(view["erased"]["signer_request"], 2);
    assert_eq!(view["erased_by_signer"], 2);
    assert_eq!(view["total"], 1, "the erased signature still counts");
    assert_eq!(tally_count(&server, "petition/p/withdrawn_by_signer"), 1);
    assert_eq!(tally_count(&server, "petition/p/erased_by_signer"), 2);

    // No secret was written to the server's output.
    let output = format!("{}{}", server.stderr(), server.stdout());
    assert!(!output.contains(&second_secret) && !output.contains(&first_secret));
}

/// Polls `what` every 100 ms until it holds, for at most `seconds`.
fn eventually(seconds: u64, what: &str, mut holds: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !holds() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Retention with a shortened window (0 days, a sweep every second): a closed
/// petition's signers' data is erased, each erasure logged, its dedup key destroyed;
/// an open petition's is kept; appends go on during the sweep. With
/// CAMPAIGN_LEDGER_SLOW_TESTS=1 the sweep covers 100,000 signatures.
#[test]
fn retention_erases_a_closed_petitions_data_and_destroys_its_dedup_key() {
    let dir = TestDir::new();
    let server = Server::start_with(
        &dir,
        &["--retention-days", "0", "--retention-sweep-secs", "1"],
    );
    let admin = server.admin.clone();
    server.append(&admin, &petition_opened(PETITION, "Detwin now"));
    server.append(&admin, &petition_opened("q", "Still open"));
    let signers: u32 = if slow_tests() { 100_000 } else { 3_000 };
    for start in (0..signers).step_by(1000) {
        let batch: Vec<Value> = (start..(start + 1000).min(signers)).map(signer).collect();
        server.append(&admin, &json!({ "records": batch }));
    }
    let (kept, _) = signed(&server, &admin, 999_999);
    let kept_entry = server.get_json(&format!("/api/v1/entries/{kept}"));
    assert_eq!(kept_entry["record"]["petition_id"], PETITION);
    // A signer of the open petition keeps their data.
    let open_signer = json!({
        "type": "signature.added", "petition_id": "q", "name": "Open Petition Signer",
        "email": "open@example.org", "country": "GB", "consent_to_share": true,
        "channel": "online",
    });
    server.append(&admin, &open_signer);
    let keys_before = std::fs::read_to_string(dir.data().join("dedup-keys.json")).unwrap();
    let keys: Value = serde_json::from_str(&keys_before).unwrap();
    let nonce = keys["petitions"][PETITION]["nonce"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(keys["petitions"]["q"]["nonce"].is_string(), "{keys}");

    let total = u64::from(signers) + 1;
    server.append(
        &admin,
        &json!({"type": "petition.closed", "petition_id": PETITION}),
    );
    // Appends go on while the sweep runs; none waits long.
    let mut waits = Vec::new();
    let mut n = 0;
    while petition(&server)["erased"]["retention"].as_u64() != Some(total) {
        let started = std::time::Instant::now();
        server.append(
            &admin,
            &json!({"type": "event.scheduled", "event_id": format!("e-{n}"), "kind": "stall",
                    "title": "A stall", "city": "Leeds", "starts_at": "2030-01-01T12:00:00Z"}),
        );
        waits.push(started.elapsed());
        n += 1;
        assert!(n < 20_000, "the sweep never finished");
    }
    waits.sort();
    let p99 = waits[(waits.len() * 99 / 100).min(waits.len() - 1)];
    assert!(
        p99 < std::time::Duration::from_millis(500),
        "appends waited behind the sweep: p99 {p99:?} over {} appends",
        waits.len()
    );

    // Every signature still counts; each erasure is an entry of its own.
    let view = petition(&server);
    assert_eq!(view["total"].as_u64(), Some(total));
    assert_eq!(tally_count(&server, "petition/p/erased/retention"), total);
    assert_eq!(tally_count(&server, "petition/q/erased/retention"), 0);
    let size = server.tree_size();
    let last = server.get_json(&format!("/api/v1/entries/{}", size - 1));
    let erasure = (0..size)
        .rev()
        .map(|i| server.get_json(&format!("/api/v1/entries/{i}")))
        .find(|e| e["record"]["type"] == "personal_data.erased")
        .unwrap_or_else(|| panic!("no erasure entry; last {last}"));
    assert_eq!(erasure["record"]["reason"], "retention");
    assert_eq!(erasure["author"], "token-retention");

    // The petition's dedup key is destroyed: its nonce is in no file; the open
    // petition's is kept.
    eventually(10, "the dedup key destroyed", || {
        let keys: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.data().join("dedup-keys.json")).unwrap(),
        )
        .unwrap();
        keys["petitions"][PETITION]["destroyed"].is_u64()
    });
    let keys: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.data().join("dedup-keys.json")).unwrap())
            .unwrap();
    assert!(keys["petitions"]["q"]["nonce"].is_string(), "{keys}");
    for (name, bytes) in files_under(&dir.data()) {
        assert!(
            !contains(&bytes, nonce.as_bytes()),
            "the destroyed nonce in {name}"
        );
    }

    // An office's export of the closed petition holds no one's data any more.
    let exporter = create_token(&dir.data(), "exporter", Some("area:E14000831"));
    let csv = exported_names(&server, &exporter);
    assert!(!csv.contains("Erasable Signer"), "{csv}");
    // Nothing more to erase: a later sweep appends nothing.
    let size = server.tree_size();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(server.tree_size(), size);
}
