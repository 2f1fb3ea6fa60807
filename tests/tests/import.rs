//! Paper import, black-box: CSV files entered through `campaign-ledger import` and
//! `POST /api/v1/imports/paper` on the real binary. A 10,000-row batch goes in whole
//! (counts, tally and the batch's view move by exactly its rows); a table of bad files
//! is each refused precisely with nothing appended and no value of the file in any
//! answer or in the server's log; a 1 GB upload is refused early.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::*;

const PETITION: &str = "paper-petition";
const OTHER: &str = "other-petition";
const CLOSED: &str = "closed-petition";
const HEADER: &str =
    "name,postcode,email,address,constituency,ward,council,country,consent_to_share";
/// The signer already in the log, online with an email and a postcode.
const SIGNED_NAME: &str = "Prior Signerqv";
const SIGNED_EMAIL: &str = "prior.signerqv@example.org";
const SIGNED_POSTCODE: &str = "LS1 4AP";

/// A server with a petition, another one, a closed one, a signer who already signed,
/// a paper batch already entered, and the tokens the tests use.
struct Campaign {
    server: Server,
    dir: TestDir,
    admin_file: std::path::PathBuf,
}

impl Campaign {
    /// `campaign-ledger import FILE` of batch `batch` of [`PETITION`] with the admin
    /// token, and `extra` flags.
    fn import(&self, file: &std::path::Path, batch: &str, extra: &[&str]) -> std::process::Output {
        let mut args = vec![
            "import",
            file.to_str().unwrap(),
            "--server",
            &self.server.base,
            "--token-file",
            self.admin_file.to_str().unwrap(),
            "--batch",
            batch,
            "--petition",
            PETITION,
            "--collector",
            "vol-17",
        ];
        args.extend_from_slice(extra);
        cli(&args)
    }

    fn new() -> Campaign {
        let dir = TestDir::new();
        let server = Server::start(&dir);
        let admin = server.admin.clone();
        server.append(&admin, &petition_opened(PETITION, "Paper petition"));
        server.append(&admin, &petition_opened(OTHER, "Other petition"));
        server.append(&admin, &petition_opened(CLOSED, "Closed petition"));
        server.append(
            &admin,
            &json!({"type": "petition.closed", "petition_id": CLOSED, "reason": "Withdrawn"}),
        );
        server.append(
            &admin,
            &json!({"type": "signature.added", "petition_id": PETITION, "name": SIGNED_NAME,
                    "email": SIGNED_EMAIL, "postcode": SIGNED_POSTCODE, "country": "GB",
                    "consent_to_share": false, "channel": "online"}),
        );
        server.append(
            &admin,
            &json!({"type": "paper_batch.recorded", "batch_id": "used-batch",
                    "petition_id": PETITION, "collector": "vol-1", "count": 5}),
        );
        let admin_file = dir.path("admin.token");
        std::fs::write(&admin_file, &admin).expect("write the token file");
        Campaign {
            server,
            dir,
            admin_file,
        }
    }
}

/// `n` good rows with every column, signers `from..from + n` (names and emails unique
/// to `tag`).
fn rows(tag: &str, from: usize, n: usize) -> Vec<String> {
    (from..from + n)
        .map(|i| {
            let consent = ["yes", "no", "true", "0", "", "1"][i % 6];
            let email = if i % 3 == 0 {
                String::new()
            } else {
                format!("{tag}.signer{i}@example.org")
            };
            format!(
                "Paper Signer {tag} {i},NE1 {}RU,{email},\"{i} Grey Street, Flat {}\",E14000831,\
                 E05001234,Newcastle upon Tyne,GB,{consent}",
                i % 10,
                i % 7
            )
        })
        .collect()
}

fn csv(header: &str, rows: &[String]) -> Vec<u8> {
    let mut text = format!("{header}\r\n");
    for row in rows {
        text.push_str(row);
        text.push_str("\r\n");
    }
    text.into_bytes()
}

/// The query of a batch `batch` of [`PETITION`].
fn batch_query(batch: &str) -> Vec<(String, String)> {
    vec![
        ("batch_id".into(), batch.into()),
        ("petition_id".into(), PETITION.into()),
        ("collector".into(), "vol-17".into()),
        ("stall".into(), "Grey's Monument".into()),
    ]
}

/// `POST /api/v1/imports/paper`: status, body text, content type and the
/// `idempotent-replayed` header.
struct Answer {
    status: u16,
    text: String,
    content_type: String,
    replayed: bool,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {}", self.text))
    }
}

fn post_import(
    server: &Server,
    token: Option<&str>,
    query: &[(String, String)],
    content_type: Option<&str>,
    idempotency_key: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let mut request = server
        .client
        .post(server.url("/api/v1/imports/paper"))
        .query(query)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(key) = idempotency_key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().expect("POST /api/v1/imports/paper");
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let content_type = header("content-type");
    let replayed = header("idempotent-replayed") == "true";
    let text = response.text().expect("the answer's body");
    Answer {
        status,
        text,
        content_type,
        replayed,
    }
}

/// What a CLI run that must succeed printed.
fn ok(output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "campaign-ledger import failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8")
}

fn petition_view(server: &Server, id: &str) -> Value {
    server.get_json(&format!("/api/v1/petitions/{id}"))
}

/// The value of a tally counter (0 when absent).
fn counter(server: &Server, key: &str) -> u64 {
    let tally = server.get_json("/api/v1/tally");
    let text = tally["text"].as_str().expect("tally text");
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{key} ")))
        .map_or(0, |n| n.parse().expect("a counter"))
}

fn paper_batch<'a>(view: &'a Value, batch: &str) -> &'a Value {
    view["paper_batches"]
        .as_array()
        .expect("paper_batches")
        .iter()
        .find(|b| b["recorded"]["batch_id"] == batch)
        .unwrap_or_else(|| panic!("no paper batch {batch} in {view}"))
}

#[test]
fn ten_thousand_rows_through_the_cli_and_over_http() {
    let campaign = Campaign::new();
    let server = &campaign.server;
    let before = petition_view(server, PETITION);
    let total = before["total"].as_u64().unwrap();
    let tally_total = counter(server, &format!("petition/{PETITION}/total"));
    assert_eq!(tally_total, total);

    // Through the CLI, a dry run first: it appends nothing.
    let file = campaign.dir.path("stall-cli.csv");
    std::fs::write(&file, csv(HEADER, &rows("cli", 0, 10_000))).unwrap();
    let size = server.tree_size();
    let stall = ["--stall", "Grey's Monument"];
    let dry = ok(campaign.import(&file, "stall-cli", &[&stall[..], &["--dry-run"]].concat()));
    assert!(dry.contains("dry run: all 10000 rows"), "{dry}");
    assert_eq!(server.tree_size(), size, "a dry run appended");

    let started = Instant::now();
    let out = ok(campaign.import(&file, "stall-cli", &[&stall[..], &["--json"]].concat()));
    let elapsed = started.elapsed();
    let answer: Value = serde_json::from_str(&out).expect("--json prints the answer");
    assert_eq!(answer["count"], 10_000);
    assert_eq!(answer["batch_index"], size);
    assert_eq!(answer["first_signature_index"], size + 1);
    assert_eq!(answer["last_signature_index"], size + 10_000);
    assert_eq!(answer["tree_size"], size + 10_001);
    assert_eq!(server.tree_size(), size + 10_001);
    let log = server.log();
    let checkpoint = open_checkpoint_text(answer["checkpoint"].as_str().unwrap(), &log.vkey);
    assert_eq!(checkpoint.size, size + 10_001);
    eprintln!("10,000 rows through the CLI (debug build): {elapsed:?}");

    // Each row's signer secret is in the answer, and the row's entry commits to it.
    let secrets = answer["signer_secrets"].as_array().unwrap();
    assert_eq!(secrets.len(), 10_000);

    // Running the same command again (a lost answer, say) is answered, not appended,
    // with the same secrets, which --signer-secrets keeps in a file.
    let secrets_file = campaign.dir.path("secrets.csv");
    let again = ok(campaign.import(
        &file,
        "stall-cli",
        &[
            &stall[..],
            &["--signer-secrets", secrets_file.to_str().unwrap()],
        ]
        .concat(),
    ));
    assert!(again.contains("10000 signatures"), "{again}");
    assert_eq!(server.tree_size(), size + 10_001);
    let kept = std::fs::read_to_string(&secrets_file).unwrap();
    let lines: Vec<&str> = kept.lines().collect();
    assert_eq!(lines.len(), 10_001);
    assert_eq!(lines[0], "row,index,signer_secret");
    assert_eq!(
        lines[1],
        format!("2,{},{}", size + 1, secrets[0].as_str().unwrap())
    );
    for (row, index) in [(0usize, size + 1), (9_999, size + 10_000)] {
        let entry = server.get_json(&format!("/api/v1/entries/{index}"));
        let secret = ledger::SignerSecret::parse(secrets[row].as_str().unwrap()).unwrap();
        assert_eq!(
            entry["record"]["signer_hash"],
            secret.hash().to_string(),
            "row {row}"
        );
    }

    // The rows are entries: the batch record, then one paper signature per row.
    let batch_entry = server.get_json(&format!("/api/v1/entries/{size}"));
    assert_eq!(batch_entry["record"]["type"], "paper_batch.recorded");
    assert_eq!(batch_entry["record"]["count"], 10_000);
    assert_eq!(batch_entry["record"]["stall"], "Grey's Monument");
    for index in [size + 1, size + 5_000, size + 10_000] {
        let entry = server.get_json(&format!("/api/v1/entries/{index}"));
        assert_eq!(entry["record"]["type"], "signature.committed");
        assert_eq!(entry["record"]["channel"], "paper");
        assert_eq!(entry["record"]["batch_id"], "stall-cli");
    }
    // consent: yes, no, true, 0, (empty), 1 for rows 0..6.
    for (i, consent) in [true, false, true, false, false, true].iter().enumerate() {
        let entry = server.get_json(&format!("/api/v1/entries/{}", size + 1 + i as u64));
        assert_eq!(entry["record"]["consent_to_share"], *consent, "row {i}");
    }

    // Over HTTP, with a declared count.
    let size = server.tree_size();
    let mut query = batch_query("stall-http");
    query.push(("declared_count".into(), "10000".into()));
    let body = csv(HEADER, &rows("http", 0, 10_000));
    let answer = post_import(
        server,
        Some(&server.admin),
        &query,
        Some("text/csv"),
        Some("http-import-1"),
        body.clone(),
    );
    assert_eq!(answer.status, 201, "{}", answer.text);
    let json = answer.json();
    assert_eq!(json["count"], 10_000);
    assert_eq!(json["batch_index"], size);
    assert_eq!(json["first_signature_index"], size + 1);
    assert_eq!(json["last_signature_index"], size + 10_000);
    assert_eq!(json["tree_size"], size + 10_001);
    // A retry with the same key and body gets the first answer.
    let retry = post_import(
        server,
        Some(&server.admin),
        &query,
        Some("text/csv"),
        Some("http-import-1"),
        body,
    );
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert!(retry.replayed);
    assert_eq!(retry.json()["batch_index"], size);
    assert_eq!(server.tree_size(), size + 10_001);

    // The counts went up by exactly the rows.
    let after = petition_view(server, PETITION);
    assert_eq!(after["total"].as_u64().unwrap(), total + 20_000);
    assert_eq!(
        after["added"].as_u64().unwrap(),
        before["added"].as_u64().unwrap() + 20_000
    );
    assert_eq!(
        counter(server, &format!("petition/{PETITION}/total")),
        tally_total + 20_000
    );
    assert_eq!(after["by_channel"]["paper/stall-cli"], 10_000);
    assert_eq!(after["by_channel"]["paper/stall-http"], 10_000);
    // Declared (the batch record's count) against counted.
    for batch in ["stall-cli", "stall-http"] {
        let view = paper_batch(&after, batch);
        assert_eq!(view["recorded"]["count"], 10_000, "{view}");
        assert_eq!(view["counted"], 10_000, "{view}");
        assert_eq!(view["recorded"]["collector"], "vol-17");
    }
    let untouched = paper_batch(&after, "used-batch");
    assert_eq!(untouched["recorded"]["count"], 5);
    assert_eq!(untouched["counted"], 0);

    // An organiser of this petition may import too; a dry run over HTTP appends nothing.
    let organiser = create_token(
        &server.data,
        "organiser",
        Some(&format!("petition:{PETITION}")),
    );
    let mut query = batch_query("stall-organiser");
    query.push(("dry_run".into(), "true".into()));
    let size = server.tree_size();
    let answer = post_import(
        server,
        Some(&organiser),
        &query,
        None,
        None,
        csv("name,postcode", &["Organiser Rowqv,NE2 1AA".to_owned()]),
    );
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["dry_run"], true);
    assert_eq!(server.tree_size(), size);
    query.pop();
    let answer = post_import(
        server,
        Some(&organiser),
        &query,
        None,
        None,
        csv("name,postcode", &["Organiser Rowqv,NE2 1AA".to_owned()]),
    );
    assert_eq!(answer.status, 201, "{}", answer.text);
    assert_eq!(server.tree_size(), size + 2);
    // A row without a country is GB.
    let entry = server.get_json(&format!("/api/v1/entries/{}", size + 1));
    assert_eq!(entry["record"]["country"], "GB");
}

/// One bad import: what is sent and what must come back.
struct Case {
    name: &'static str,
    body: Vec<u8>,
    query: Vec<(String, String)>,
    token: Tok,
    content_type: Option<&'static str>,
    status: u16,
    reason: &'static str,
    /// (row, column, reason) of every bad row, for `invalid_rows`.
    rows: Vec<(u64, Option<&'static str>, &'static str)>,
}

#[derive(Clone, Copy)]
enum Tok {
    Admin,
    None,
    OtherOrganiser,
    CityOrganiser,
    Exporter,
}

/// A file of six good rows of `tag` with row `bad_row` (2..=7) replaced by `bad`.
fn with_bad_row(tag: &str, bad_row: usize, bad: &str) -> Vec<u8> {
    let mut rows = rows(tag, 0, 6);
    rows[bad_row - 2] = bad.to_owned();
    csv(HEADER, &rows)
}

fn good_row(tag: &str) -> String {
    format!("Good Row {tag},NE1 1AA,,,E14000831,,Newcastle upon Tyne,GB,yes")
}

fn case(name: &'static str, body: Vec<u8>, status: u16, reason: &'static str) -> Case {
    Case {
        name,
        body,
        query: batch_query(&format!("batch-{}", name.replace(' ', "-"))),
        token: Tok::Admin,
        content_type: Some("text/csv"),
        status,
        reason,
        rows: Vec::new(),
    }
}

fn row_case(
    name: &'static str,
    body: Vec<u8>,
    rows: Vec<(u64, Option<&'static str>, &'static str)>,
) -> Case {
    Case {
        rows,
        ..case(name, body, 422, "invalid_rows")
    }
}

/// A one-row file whose batch has the query parameter `param` set to `value`, or
/// left out (`None`).
fn query_case(
    name: &'static str,
    param: &str,
    value: Option<&str>,
    status: u16,
    reason: &'static str,
) -> Case {
    let mut case = case(name, csv(HEADER, &[good_row(name)]), status, reason);
    case.query.retain(|(n, _)| n != param);
    if let Some(value) = value {
        case.query.push((param.into(), value.into()));
    }
    case
}

/// A one-row file sent with `token`.
fn token_case(name: &'static str, token: Tok, status: u16, reason: &'static str) -> Case {
    Case {
        token,
        ..case(name, csv(HEADER, &[good_row(name)]), status, reason)
    }
}

fn bad_cases() -> Vec<Case> {
    let mut latin1 = csv(HEADER, &rows("latin", 0, 3));
    let at = latin1.len() - 10;
    latin1.insert(at, 0xE9);
    let mut over_max = String::from("name,postcode\n");
    for i in 0..50_001 {
        over_max.push_str(&format!("Many Rowqv {i},NE1 7RU\n"));
    }
    let mut many_bad = rows("many", 0, 150);
    for row in many_bad.iter_mut().skip(10).take(120) {
        *row = row.replace("NE1 ", "NE1*");
    }
    vec![
        case("bad encoding", latin1, 400, "invalid_encoding"),
        case(
            "missing header",
            csv(&rows("nohead", 0, 1)[0], &rows("nohead", 1, 3)),
            400,
            "unknown_column",
        ),
        case(
            "no postcode column",
            csv("name,email", &["Header Lackqv,lack@example.org".to_owned()]),
            400,
            "missing_column",
        ),
        case(
            "unknown column",
            csv(
                "name,postcode,favourite_colour",
                &["Unknown Colqv,NE1 7RU,Mauvequx".to_owned()],
            ),
            400,
            "unknown_column",
        ),
        case(
            "duplicate column",
            csv(
                "name,postcode,Postcode",
                &["Dup Colqv,NE1 7RU,NE2 7RU".to_owned()],
            ),
            400,
            "duplicate_column",
        ),
        row_case(
            "bad postcode",
            with_bad_row(
                "pc",
                4,
                "Bad Postcodeqv,NE1*7RU!,,,E14000831,,Newcastle upon Tyne,GB,yes",
            ),
            vec![(4, Some("postcode"), "invalid_personal_data")],
        ),
        row_case(
            "bad email",
            with_bad_row(
                "em",
                5,
                "Bad Emailqv,NE1 7RU,not-an-emailqv,,E14000831,,Newcastle upon Tyne,GB,yes",
            ),
            vec![(5, Some("email"), "invalid_personal_data")],
        ),
        row_case(
            "bad country",
            with_bad_row(
                "cc",
                3,
                "Bad Countryqv,NE1 7RU,,,E14000831,,Newcastle upon Tyne,GBR,yes",
            ),
            vec![(3, Some("country"), "invalid_value")],
        ),
        row_case(
            "bad constituency",
            with_bad_row(
                "pcon",
                6,
                "Bad Constqv,NE1 7RU,,,NOTACODEqv,,Newcastle upon Tyne,GB,yes",
            ),
            vec![(6, Some("constituency"), "invalid_area_code")],
        ),
        row_case(
            "bad consent",
            with_bad_row(
                "consent",
                7,
                "Bad Consentqv,NE1 7RU,,,E14000831,,Newcastle upon Tyne,GB,maybeqv",
            ),
            vec![(7, Some("consent_to_share"), "invalid_value")],
        ),
        row_case(
            "empty name",
            with_bad_row(
                "noname",
                2,
                ",NE1 7RU,,,E14000831,,Newcastle upon Tyne,GB,yes",
            ),
            vec![(2, Some("name"), "invalid_personal_data")],
        ),
        row_case(
            "duplicate rows",
            {
                let mut rows = rows("dup", 0, 4);
                // The same name and postcode (another spelling), then the same email.
                rows.push("  paper signer DUP 1 ,ne1 1ru,,,,,,GB,no".to_owned());
                rows.push(rows[1].replace("Paper Signer dup 1", "Someone Elseqv"));
                csv(HEADER, &rows)
            },
            vec![
                (6, Some("name"), "duplicate_in_file"),
                (7, Some("email"), "duplicate_in_file"),
            ],
        ),
        row_case(
            "already signed",
            {
                let mut rows = rows("prior", 0, 3);
                rows.push(format!("{SIGNED_NAME},{SIGNED_POSTCODE},,,,,,GB,no"));
                rows.push(format!("Other Nameqv,NE9 9ZZ,{SIGNED_EMAIL},,,,,GB,no"));
                csv(HEADER, &rows)
            },
            vec![
                (5, Some("name"), "already_signed"),
                (6, Some("email"), "already_signed"),
            ],
        ),
        row_case(
            "several bad rows",
            {
                let mut rows = rows("several", 0, 5);
                rows[1] = rows[1].replace("NE1 ", "NE1*");
                rows.push(rows[3].clone());
                rows.push(format!("{SIGNED_NAME},{SIGNED_POSTCODE},,,,,,GB,no"));
                rows.push("Too Fewqv,NE1 7RU".to_owned());
                csv(HEADER, &rows)
            },
            vec![
                (3, Some("postcode"), "invalid_personal_data"),
                (7, Some("name"), "duplicate_in_file"),
                (8, Some("name"), "already_signed"),
                (9, None, "wrong_field_count"),
            ],
        ),
        row_case(
            "wrong field count",
            with_bad_row("fields", 3, "Short Rowqv,NE1 7RU,,E14000831"),
            vec![(3, None, "wrong_field_count")],
        ),
        {
            let mut case = row_case("many bad rows", csv(HEADER, &many_bad), Vec::new());
            case.rows = (12..132)
                .take(100)
                .map(|row| (row, Some("postcode"), "invalid_personal_data"))
                .collect();
            case
        },
        case(
            "over the row maximum",
            over_max.into_bytes(),
            413,
            "too_many_rows",
        ),
        case("empty file", Vec::new(), 400, "empty_file"),
        case("header only", csv(HEADER, &[]), 400, "no_rows"),
        query_case(
            "unknown petition",
            "petition_id",
            Some("no-such-petition"),
            422,
            "unknown_petition",
        ),
        query_case(
            "closed petition",
            "petition_id",
            Some(CLOSED),
            422,
            "petition_closed",
        ),
        query_case(
            "batch id already used",
            "batch_id",
            Some("used-batch"),
            422,
            "paper_batch_exists",
        ),
        query_case(
            "bad sheet scan hash",
            "sheet_scan_hash",
            Some("bm90IGEgaGFzaA=="),
            422,
            "invalid_value",
        ),
        query_case(
            "bad batch id",
            "batch_id",
            Some("not an id!"),
            422,
            "invalid_value",
        ),
        query_case(
            "bad default country",
            "country",
            Some("gb"),
            422,
            "invalid_value",
        ),
        query_case("missing collector", "collector", None, 400, "invalid_query"),
        query_case("missing batch id", "batch_id", None, 400, "invalid_query"),
        query_case(
            "missing petition",
            "petition_id",
            None,
            400,
            "invalid_query",
        ),
        query_case(
            "stall and event",
            "event_id",
            Some("some-event"),
            400,
            "invalid_query",
        ),
        query_case(
            "bad dry run",
            "dry_run",
            Some("maybe"),
            400,
            "invalid_query",
        ),
        query_case(
            "declared count differs",
            "declared_count",
            Some("4"),
            422,
            "count_mismatch",
        ),
        token_case(
            "organiser of another petition",
            Tok::OtherOrganiser,
            403,
            "out_of_scope",
        ),
        token_case("city organiser", Tok::CityOrganiser, 403, "out_of_scope"),
        token_case("exporter", Tok::Exporter, 403, "forbidden_role"),
        token_case("no token", Tok::None, 401, "missing_token"),
        Case {
            content_type: Some("application/json"),
            ..case(
                "not csv",
                csv(HEADER, &[good_row("json")]),
                415,
                "unsupported_media_type",
            )
        },
    ]
}

/// The values of a file worth looking for in answers and logs: every cell of four
/// characters or more that is not a column name or a common word.
fn values_of(body: &[u8]) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut values = Vec::new();
    for record in reader.records().skip(1).flatten() {
        for cell in record.iter() {
            let cell = cell.trim();
            let common = [
                "true",
                "false",
                "E14000831",
                "E05001234",
                "Newcastle upon Tyne",
            ];
            if cell.len() >= 4 && !common.contains(&cell) {
                values.push(cell.to_owned());
            }
        }
    }
    values.sort();
    values.dedup();
    values
}

#[test]
fn bad_files_are_refused_precisely_and_append_nothing() {
    let campaign = Campaign::new();
    let server = &campaign.server;
    let other = create_token(
        &server.data,
        "organiser",
        Some(&format!("petition:{OTHER}")),
    );
    let city = create_token(&server.data, "organiser", Some("city:Newcastle upon Tyne"));
    let exporter = create_token(&server.data, "exporter", Some("area:E14000831"));
    let cases = bad_cases();
    assert!(cases.len() >= 25, "{} cases", cases.len());
    let size = server.tree_size();
    let mut every_value = Vec::new();
    for case in &cases {
        let token = match case.token {
            Tok::Admin => Some(server.admin.as_str()),
            Tok::None => None,
            Tok::OtherOrganiser => Some(other.as_str()),
            Tok::CityOrganiser => Some(city.as_str()),
            Tok::Exporter => Some(exporter.as_str()),
        };
        let answer = post_import(
            server,
            token,
            &case.query,
            case.content_type,
            None,
            case.body.clone(),
        );
        let problem = check_problem(
            answer.status,
            &answer.content_type,
            &answer.text,
            case.status,
            case.reason,
        );
        if case.reason == "invalid_rows" {
            let got: Vec<(u64, Option<&str>, &str)> = problem["rows"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: no rows: {}", case.name, answer.text))
                .iter()
                .map(|r| {
                    (
                        r["row"].as_u64().unwrap(),
                        r["column"].as_str(),
                        r["reason"].as_str().unwrap(),
                    )
                })
                .collect();
            assert_eq!(got, case.rows, "{}: {}", case.name, answer.text);
        }
        if case.name == "many bad rows" {
            assert_eq!(problem["more_rows"], 20, "{}", answer.text);
        }
        assert_eq!(
            server.tree_size(),
            size,
            "{}: something was appended",
            case.name
        );
        let values = values_of(&case.body);
        for value in &values {
            assert!(
                !answer.text.contains(value.as_str()),
                "{}: the answer quotes a value of the file: {}",
                case.name,
                answer.text
            );
        }
        every_value.extend(values);
    }

    // The CLI says the same in one line (and a line per bad row).
    let cli_case = |name: &str, body: &[u8], batch: &str| {
        let file = campaign.dir.path(name);
        std::fs::write(&file, body).unwrap();
        campaign.import(&file, batch, &[])
    };
    let output = cli_case("empty.csv", b"", "cli-empty");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("(400 empty_file)"), "{stderr}");
    let bad = with_bad_row(
        "clirow",
        4,
        "Bad Postcodeqv,NE1*7RU!,,,E14000831,,Newcastle upon Tyne,GB,yes",
    );
    let output = cli_case("bad-row.csv", &bad, "cli-bad-row");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .lines()
            .next()
            .unwrap()
            .contains("(422 invalid_rows)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("row 4, column postcode:") && stderr.contains("(invalid_personal_data)"),
        "{stderr}"
    );
    assert!(!stderr.contains("NE1*7RU!"), "{stderr}");
    let output = cli_case(
        "used.csv",
        &csv(HEADER, &[good_row("cliused")]),
        "used-batch",
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("(422 paper_batch_exists)"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(server.tree_size(), size);

    // The route and its answers are in the OpenAPI document, every reference resolving.
    let openapi = server.get_json("/api/v1/openapi.json");
    let route = &openapi["paths"]["/api/v1/imports/paper"]["post"];
    assert!(route.is_object(), "openapi.json lacks the import route");
    let text = openapi.to_string();
    for name in ["ImportAnswer", "ImportProblem", "RowProblem"] {
        assert!(
            openapi["components"]["schemas"][name].is_object(),
            "no schema {name}"
        );
    }
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(
            openapi["components"]["schemas"][name].is_object(),
            "an unresolved reference to {name}"
        );
    }

    // Nothing of any file reached the server's log.
    let log = server.stderr();
    for value in &every_value {
        assert!(
            !log.contains(value.as_str()),
            "the server's log holds a value of a file"
        );
    }
}

/// Streams `total` bytes of CSV-looking rows (with a Content-Length, or chunked) to
/// the import route until the server answers; returns the answer, how long it took
/// and how many bytes were sent.
fn stream_upload(
    server: &Server,
    content_length: bool,
    total: u64,
) -> (RawResponse, Duration, u64) {
    let address = server.base.strip_prefix("http://").unwrap().to_owned();
    let mut stream = TcpStream::connect(&address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let framing = if content_length {
        format!("Content-Length: {total}\r\n")
    } else {
        "Transfer-Encoding: chunked\r\n".to_owned()
    };
    let head = format!(
        "POST /api/v1/imports/paper?batch_id=huge&petition_id={PETITION}&collector=vol-1 \
         HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nContent-Type: text/csv\r\n\
         {framing}Connection: close\r\n\r\n",
        server.admin
    );
    let started = Instant::now();
    stream.write_all(head.as_bytes()).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let mut writer = stream.try_clone().unwrap();
    let sender = {
        let done = done.clone();
        let sent = sent.clone();
        std::thread::spawn(move || {
            let mut chunk = b"name,postcode\n".to_vec();
            while chunk.len() < 64 * 1024 {
                chunk.extend_from_slice(b"Generated Signer,NE1 7RU\n");
            }
            while !done.load(Ordering::Relaxed) && sent.load(Ordering::Relaxed) < total {
                let result = if content_length {
                    writer.write_all(&chunk)
                } else {
                    writer
                        .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                        .and_then(|()| writer.write_all(&chunk))
                        .and_then(|()| writer.write_all(b"\r\n"))
                };
                if result.is_err() {
                    break;
                }
                sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        })
    };
    let mut received = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                received.extend_from_slice(&buffer[..n]);
                if let Some(answer) = parse_raw(&received) {
                    done.store(true, Ordering::Relaxed);
                    let elapsed = started.elapsed();
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                    let _ = sender.join();
                    return (answer, elapsed, sent.load(Ordering::Relaxed));
                }
            }
        }
    }
    done.store(true, Ordering::Relaxed);
    let _ = sender.join();
    panic!(
        "no answer to the upload: {}",
        String::from_utf8_lossy(&received)
    );
}

#[test]
fn a_gigabyte_upload_is_refused_early() {
    let campaign = Campaign::new();
    let server = &campaign.server;
    let size = server.tree_size();
    const GIGABYTE: u64 = 1 << 30;
    // By its Content-Length, before a byte of it is read.
    let (answer, elapsed, _) = stream_upload(server, true, GIGABYTE);
    check_problem(
        answer.status,
        &answer.content_type,
        &answer.body,
        413,
        "body_too_large",
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "refused after {elapsed:?}"
    );
    // Chunked, with no length: as soon as the limit is passed.
    let (answer, elapsed, sent) = stream_upload(server, false, GIGABYTE);
    check_problem(
        answer.status,
        &answer.content_type,
        &answer.body,
        413,
        "body_too_large",
    );
    assert!(
        elapsed < Duration::from_secs(20),
        "refused after {elapsed:?}"
    );
    assert!(
        sent < GIGABYTE / 4,
        "{sent} bytes were sent before the refusal"
    );
    // The server is well and took nothing.
    let health = server.get_json("/healthz");
    assert_eq!(health["status"], "ok");
    assert_eq!(server.tree_size(), size);
    let answer = post_import(
        server,
        Some(&server.admin),
        &batch_query("after-the-flood"),
        Some("text/csv"),
        None,
        csv(HEADER, &[good_row("after")]),
    );
    assert_eq!(answer.status, 201, "{}", answer.text);
}
