//! Export bundles for MPs' and councillors' offices, black-box: fetched over HTTP from
//! the real binary with scoped tokens, opened as a spreadsheet would, checked with
//! `campaign-ledger verify`, and tampered with in every way an office must catch.

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};

use ledger::note::{NoteSigner, NoteVerifier};
use server::export::{verify_bundle, VerifyOptions};
use support::*;

const PETITION: &str = "p";
const HERE: &str = "E14000831";
const THERE: &str = "E14000999";

/// A signer in `constituency`, consenting or not.
fn signer(petition: &str, n: u32, constituency: &str, consent: bool) -> Value {
    json!({
        "type": "signature.added",
        "petition_id": petition,
        "name": format!("Signer Number {n}"),
        "email": format!("signer-{n}@example.org"),
        "postcode": "NE1 7RU",
        "country": "GB",
        "constituency": constituency,
        "council": "Newcastle upon Tyne",
        "consent_to_share": consent,
        "channel": "online",
    })
}

struct Campaign {
    server: Server,
    _dir: TestDir,
    vkey: NoteVerifier,
    /// Indexes of signatures in HERE: consenting, not consenting, withdrawn,
    /// invalidated.
    consenting: Vec<u64>,
    refusing: Vec<u64>,
    withdrawn: u64,
    invalidated: u64,
}

fn index_of(answer: &Value) -> u64 {
    answer["entries"][0]["index"].as_u64().expect("an index")
}

/// A petition with signatures in two constituencies (and one of another petition
/// here), one withdrawn and one invalidated.
fn campaign() -> Campaign {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    let admin = server.admin.clone();
    server.append(&admin, &petition_opened(PETITION, "Detwin now"));
    server.append(&admin, &petition_opened("q", "Another petition"));
    let mut consenting = Vec::new();
    let mut refusing = Vec::new();
    for n in 0..12 {
        let answer = server.append(&admin, &signer(PETITION, n, HERE, n % 3 != 0));
        if n % 3 != 0 {
            consenting.push(index_of(&answer));
        } else {
            refusing.push(index_of(&answer));
        }
        server.append(&admin, &signer(PETITION, 100 + n, THERE, true));
    }
    server.append(&admin, &signer("q", 7, HERE, true));
    // A consenting signer on paper, with no email.
    server.append(
        &admin,
        &json!({"type": "paper_batch.recorded", "batch_id": "stall-a", "petition_id": PETITION,
                "collector": "vol-1", "count": 2}),
    );
    let paper = server.append(
        &admin,
        &json!({"type": "signature.added", "petition_id": PETITION, "name": "Signer Number Paper",
                "postcode": "NE1 7RU", "country": "GB", "constituency": HERE,
                "consent_to_share": true, "channel": "paper", "batch_id": "stall-a"}),
    );
    let paper = index_of(&paper);
    let withdrawn = consenting.remove(0);
    server.append(
        &admin,
        &json!({"type": "signature.withdrawn", "index": withdrawn}),
    );
    let invalidated = consenting.remove(0);
    consenting.push(paper);
    server.append(
        &admin,
        &json!({"type": "signatures.invalidated", "indexes": [invalidated], "reason": "fraud", "note": "same hand"}),
    );
    let vkey = server.log().vkey;
    Campaign {
        server,
        _dir: dir,
        vkey,
        consenting,
        refusing,
        withdrawn,
        invalidated,
    }
}

fn export(server: &Server, token: Option<&str>, query: &str) -> reqwest::blocking::Response {
    let mut request = server
        .client
        .get(server.url(&format!("/api/v1/exports/{PETITION}?{query}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().expect("the export request")
}

fn bundle(server: &Server, token: Option<&str>, area: &str) -> Vec<u8> {
    let response = export(server, token, &format!("area={area}"));
    assert_eq!(response.status().as_u16(), 200, "{:?}", response.text());
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/zip"
    );
    response.bytes().unwrap().to_vec()
}

/// The files of a zip, by name, in order.
fn unpack(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut file = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).unwrap();
            (file.name().unwrap().to_string(), bytes)
        })
        .collect()
}

fn pack(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn file<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &files.iter().find(|(n, _)| n == name).expect(name).1
}

/// The bundle with `name` changed by `change`.
fn tampered(zip: &[u8], name: &str, change: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut files = unpack(zip);
    let (_, bytes) = files.iter_mut().find(|(n, _)| n == name).expect(name);
    change(bytes);
    pack(&files)
}

/// `entries.jsonl` as lines, changed by `change`, written back.
fn tampered_lines(zip: &[u8], change: impl FnOnce(&mut Vec<Value>)) -> Vec<u8> {
    tampered(zip, "entries.jsonl", |bytes| {
        let mut lines: Vec<Value> = String::from_utf8(bytes.clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        change(&mut lines);
        *bytes = lines
            .iter()
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .into_bytes();
    })
}

fn verify(zip: &[u8], vkey: &NoteVerifier) -> Result<(), String> {
    let options = VerifyOptions {
        vkey: Some(vkey.clone()),
        auditors: Vec::new(),
    };
    verify_bundle(zip, &options, &mut |_, _| {})
        .map(|_| ())
        .map_err(|finding| finding.to_string())
}

fn assert_fails(zip: &[u8], vkey: &NoteVerifier, what: &str, expected: &str) {
    match verify(zip, vkey) {
        Ok(()) => panic!("{what}: verify passed"),
        Err(message) => assert!(
            message.contains(expected),
            "{what}: verify failed with {message:?}, not naming {expected:?}"
        ),
    }
}

fn tally_line(server: &Server, key: &str) -> Option<u64> {
    let tally = server.get_json("/api/v1/tally");
    tally["text"].as_str().unwrap().lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.parse().unwrap())
    })
}

/// Whether the bundle's summary counts `count` live signatures on `channel`.
fn summary_has_channel(zip: &[u8], channel: &str, count: u64) -> bool {
    let summary = String::from_utf8(file(&unpack(zip), "summary.html").to_vec()).unwrap();
    summary.contains(&format!("<td>{channel}</td><td class=\"n\">{count}</td>"))
}

#[test]
fn offices_get_verifiable_bundles_and_every_disclosure_is_logged() {
    let c = campaign();
    let server = &c.server;
    let data = server.data.clone();
    let mp = create_token(&data, "exporter", Some(&format!("area:{HERE}")));
    let other_mp = create_token(&data, "exporter", Some(&format!("area:{THERE}")));
    let organiser = create_token(&data, "organiser", None);
    let area = format!("constituency:{HERE}");

    // Refusals change nothing and log nothing.
    let size = server.tree_size();
    let refused = [
        (
            export(server, Some(&other_mp), &format!("area={area}")),
            403,
            "out_of_scope",
        ),
        (
            export(server, Some(&organiser), &format!("area={area}")),
            403,
            "forbidden_role",
        ),
        (
            export(server, Some("clt_00000000_nope"), &format!("area={area}")),
            401,
            "invalid_token",
        ),
        (
            export(server, None, "area=constituency:E1"),
            400,
            "invalid_area",
        ),
        (
            export(server, None, "area=county:Kent"),
            400,
            "invalid_area",
        ),
        (export(server, None, ""), 400, "missing_area"),
    ];
    for (response, status, reason) in refused {
        expect_problem(response, status, reason);
    }
    let unknown = server
        .client
        .get(server.url(&format!("/api/v1/exports/nope?area={area}")))
        .send()
        .unwrap();
    expect_problem(unknown, 404, "unknown_petition");
    assert_eq!(
        server.tree_size(),
        size,
        "a refused export appended something"
    );
    assert_eq!(tally_line(server, "exports/issued"), Some(0));

    // The public bundle: no personal data, nothing logged, and it verifies.
    let public = bundle(server, None, &area);
    assert_eq!(server.tree_size(), size);
    verify(&public, &c.vkey).unwrap();
    for (name, bytes) in unpack(&public) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("Signer Number") && !text.contains("@example.org"),
            "{name} of a public bundle holds personal data"
        );
    }

    // The MP's bundle: logged first, then handed over; verifies with the CLI.
    let revealing = bundle(server, Some(&mp), &area);
    assert_eq!(server.tree_size(), size + 1, "the export was not logged");
    let logged = server.get_json(&format!("/api/v1/entries/{size}"));
    let record = &logged["record"];
    assert_eq!(record["type"], "export.issued", "{logged}");
    assert_eq!(record["exporter"], token_id(&mp));
    assert_eq!(record["area_kind"], "constituency");
    assert_eq!(record["area"], HERE);
    assert_eq!(record["tree_size"], size);
    assert_eq!(record["revealed"], c.consenting.len() as u64);
    assert_eq!(tally_line(server, "exports/issued"), Some(1));
    assert_eq!(
        tally_line(server, "petition/p/exports/revealed"),
        Some(c.consenting.len() as u64)
    );
    let view = server.get_json("/api/v1/petitions/p");
    assert_eq!(view["exports_issued"], 1);

    let dir = TestDir::new();
    let path = dir.path("bundle.zip");
    std::fs::write(&path, &revealing).unwrap();
    let path = path.to_str().unwrap();
    let vkey = server.log().vkey.to_string();
    let report = cli_ok(&["verify", path, "--vkey", &vkey]);
    assert!(report.contains("Proved by the bundle itself"), "{report}");
    assert!(report.contains("Attested"), "{report}");
    let json_report: Value =
        serde_json::from_str(&cli_ok(&["verify", path, "--vkey", &vkey, "--json"])).unwrap();
    assert_eq!(json_report["ok"], true);
    assert_eq!(
        json_report["report"]["live"],
        c.consenting.len() as u64 + c.refusing.len() as u64
    );
    assert_eq!(json_report["report"]["revealed"], c.consenting.len() as u64);
    // Without --vkey it still checks, and says whose key it trusted.
    let unpinned = cli_ok(&["verify", path]);
    assert!(unpinned.contains("warning"), "{unpinned}");
    // Another log's key: the bundle is refused.
    let stranger = NoteSigner::generate("someone-else").unwrap().verifier();
    let refused = cli(&["verify", path, "--vkey", &stranger.to_string()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stdout).contains("another log key"));

    // The files an office opens.
    let files = unpack(&revealing);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "README.txt",
        "summary.html",
        "signers.csv",
        "manifest.json",
        "checkpoint",
        "tally.note",
        "tally.txt",
        "entries.jsonl",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let csv_bytes = file(&files, "signers.csv");
    assert!(csv_bytes.starts_with("\u{feff}".as_bytes()), "no BOM");
    let csv_text = std::str::from_utf8(csv_bytes).expect("signers.csv is UTF-8");
    assert!(csv_text.contains("\r\n"), "not CRLF");
    let mut reader = csv::Reader::from_reader(&csv_bytes[3..]);
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "index",
            "signed_at",
            "channel",
            "name",
            "postcode",
            "email",
            "address"
        ]
    );
    let rows: BTreeMap<u64, Vec<String>> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].parse().unwrap(), r.iter().map(str::to_owned).collect())
        })
        .collect();
    assert_eq!(rows.len(), c.consenting.len() + c.refusing.len());
    for index in &c.consenting {
        assert!(
            rows[index][3].starts_with("Signer Number"),
            "{:?}",
            rows[index]
        );
        assert_eq!(rows[index][4], "NE1 7RU");
    }
    for index in &c.refusing {
        assert_eq!(
            rows[index][3..],
            ["", "", "", ""],
            "a refusing signer shown"
        );
    }
    assert!(!rows.contains_key(&c.withdrawn) && !rows.contains_key(&c.invalidated));
    let paper = c.consenting.last().unwrap();
    assert_eq!(rows[paper][2], "paper:stall-a");
    assert_eq!(rows[paper][5], "", "no email was given on paper");
    assert_eq!(rows[&c.refusing[0]][2], "online");
    assert!(
        summary_has_channel(&revealing, "paper:stall-a", 1),
        "the paper batch in the summary"
    );
    // A signer who did not consent appears in no file.
    for n in (0..12).filter(|n| n % 3 == 0) {
        for (name, bytes) in &files {
            let text = String::from_utf8_lossy(bytes);
            assert!(
                !text.contains(&format!("signer-{n}@")) && !text.contains(&format!("Number {n},")),
                "a non-consenting signer's data is in {name}"
            );
        }
    }
    let summary = String::from_utf8(file(&files, "summary.html").to_vec()).unwrap();
    let live = rows.len().to_string();
    assert!(
        summary.contains(&format!("<p class=\"count\">{live}</p>")),
        "{summary}"
    );
    assert!(summary.contains(&format!("tree size\n<strong>{size}</strong>")));
    assert!(
        summary.contains("fraud (same hand)"),
        "the invalidation's public reason"
    );
    let readme = String::from_utf8(file(&files, "README.txt").to_vec()).unwrap();
    assert!(readme.contains(&format!("Live signatures: {live}")));

    // A petition nobody in the area signed: an empty bundle that still verifies (its
    // counter is 0, absent from the tally); free text is escaped in the summary.
    server.append(
        &server.admin,
        &petition_opened("hostile", "<script>alert(1)</script> & \"quoted\""),
    );
    let response = server
        .client
        .get(server.url(&format!("/api/v1/exports/hostile?area={area}")))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let empty = response.bytes().unwrap().to_vec();
    verify(&empty, &c.vkey).unwrap();
    let summary = String::from_utf8(file(&unpack(&empty), "summary.html").to_vec()).unwrap();
    assert!(!summary.contains("<script>"), "{summary}");
    assert!(
        summary
            .contains("<h1>&#60;script&#62;alert(1)&#60;/script&#62; &#38; &#34;quoted&#34;</h1>"),
        "{summary}"
    );
    assert!(summary.contains("<p class=\"count\">0</p>"));

    // An office of a council or a country works the same way.
    let council = bundle(server, None, "council:Newcastle%20upon%20Tyne");
    verify(&council, &c.vkey).unwrap();
    let country = bundle(server, None, "country:GB");
    verify(&country, &c.vkey).unwrap();
}

#[test]
fn every_tampering_fails_verify_and_names_what_failed() {
    let c = campaign();
    let server = &c.server;
    let mp = create_token(&server.data, "exporter", Some(&format!("area:{HERE}")));
    let zip = bundle(server, Some(&mp), &format!("constituency:{HERE}"));
    let vkey = &c.vkey;
    verify(&zip, vkey).unwrap();
    let manifest: Value = serde_json::from_slice(file(&unpack(&zip), "manifest.json")).unwrap();
    let size = manifest["tree_size"].as_u64().unwrap();

    // A flipped bit anywhere in any file.
    for (name, bytes) in unpack(&zip) {
        for at in [0, bytes.len() / 2, bytes.len() - 2] {
            let changed = tampered(&zip, &name, |b| b[at] ^= 0x02);
            assert!(
                verify(&changed, vkey).is_err(),
                "a bit flipped at {at} of {name} passed"
            );
        }
    }

    // signers.csv rows removed, added, changed.
    let csv_lines = |zip: &[u8]| -> Vec<String> {
        String::from_utf8(file(&unpack(zip), "signers.csv").to_vec())
            .unwrap()
            .split("\r\n")
            .map(str::to_owned)
            .collect()
    };
    let lines = csv_lines(&zip);
    let write = |lines: Vec<String>| move |b: &mut Vec<u8>| *b = lines.join("\r\n").into_bytes();
    let mut removed = lines.clone();
    removed.remove(2);
    assert_fails(
        &tampered(&zip, "signers.csv", write(removed)),
        vkey,
        "a row removed",
        "signers.csv",
    );
    let mut added = lines.clone();
    added.insert(2, lines[2].replacen(&c.refusing[0].to_string(), "9999", 1));
    assert_fails(
        &tampered(&zip, "signers.csv", write(added)),
        vkey,
        "a row added",
        "signers.csv",
    );
    let mut renamed = lines.clone();
    let shown = renamed
        .iter()
        .position(|l| l.contains(",Signer Number "))
        .expect("a revealed row");
    renamed[shown] = renamed[shown].replacen(",Signer Number ", ",Signer Numbre ", 1);
    assert_fails(
        &tampered(&zip, "signers.csv", write(renamed)),
        vkey,
        "a name changed in the CSV",
        "name",
    );
    let withdrawn_live: Vec<String> = {
        let mut l = lines.clone();
        let row = l[1].replacen(
            &l[1].split(',').next().unwrap().to_string(),
            &c.withdrawn.to_string(),
            1,
        );
        l.insert(1, row);
        l
    };
    assert_fails(
        &tampered(&zip, "signers.csv", write(withdrawn_live)),
        vkey,
        "a withdrawn signature listed as live in the CSV",
        "signers.csv",
    );

    // Revealed data and salts that do not open the commitment.
    let revealed_at = |lines: &Vec<Value>| {
        lines
            .iter()
            .position(|l| l.get("personal_data").is_some())
            .expect("a revealed signer")
    };
    for (what, change) in [
        ("a changed name", ("name", json!("Someone Else"))),
        ("a changed postcode", ("postcode", json!("SW1A 1AA"))),
    ] {
        let changed = tampered_lines(&zip, |lines| {
            let at = revealed_at(lines);
            lines[at]["personal_data"][change.0] = change.1.clone();
        });
        assert_fails(&changed, vkey, what, "commitment");
    }
    let changed = tampered_lines(&zip, |lines| {
        let at = revealed_at(lines);
        lines[at]["salt"] = json!(b64([7u8; 32]));
    });
    assert_fails(&changed, vkey, "a changed salt", "commitment");

    // A withdrawn signature listed as live: its withdrawal left out.
    let changed = tampered_lines(&zip, |lines| {
        lines.retain(|l| {
            let bytes = b64_decode(l["entry"].as_str().unwrap());
            !matches!(
                ledger::Entry::decode(&bytes).unwrap().record(),
                ledger::Record::SignatureWithdrawn(_)
            )
        });
    });
    assert_fails(
        &changed,
        vkey,
        "a withdrawal left out",
        "live signatures listed",
    );

    // A signer moved in from another area, an entry of another petition.
    let there = bundle(server, None, &format!("constituency:{THERE}"));
    let other_petition = {
        let response = server
            .client
            .get(server.url(&format!("/api/v1/exports/q?area=constituency:{HERE}")))
            .send()
            .unwrap();
        response.bytes().unwrap().to_vec()
    };
    for (what, source, expected) in [
        ("a signature of another area", &there, "outside"),
        (
            "a signature of another petition",
            &other_petition,
            "petition q",
        ),
    ] {
        let foreign: Vec<Value> =
            String::from_utf8(file(&unpack(source), "entries.jsonl").to_vec())
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .filter(|l: &Value| l.get("proof").is_some())
                .collect();
        let foreign_signature = foreign
            .into_iter()
            .find(|l| {
                let bytes = b64_decode(l["entry"].as_str().unwrap());
                ledger::Entry::decode(&bytes)
                    .unwrap()
                    .record()
                    .signature()
                    .is_some()
            })
            .unwrap();
        // With a true proof at the bundle's size: only where it belongs is wrong.
        let mut foreign_signature = foreign_signature;
        let proof = server.get_json(&format!(
            "/api/v1/proofs/inclusion?index={}&tree_size={size}",
            foreign_signature["index"]
        ));
        foreign_signature["proof"] = proof["proof"].clone();
        let changed = tampered_lines(&zip, |lines| {
            lines.push(foreign_signature);
            lines.sort_by_key(|l| l["index"].as_u64());
        });
        assert_fails(&changed, vkey, what, expected);
    }

    // A proof for a different tree size.
    let changed = tampered_lines(&zip, |lines| {
        let index = lines[1]["index"].as_u64().unwrap();
        let older = server.get_json(&format!(
            "/api/v1/proofs/inclusion?index={index}&tree_size={}",
            index + 1
        ));
        lines[1]["proof"] = older["proof"].clone();
    });
    assert_fails(
        &changed,
        vkey,
        "a proof for another tree size",
        "inclusion proof",
    );

    // A tally counter edited.
    let key = format!("petition/p/constituency/{HERE} ");
    let changed = tampered(&zip, "tally.txt", |bytes| {
        let text = String::from_utf8(bytes.clone()).unwrap();
        let edited: String = text
            .lines()
            .map(|l| match l.strip_prefix(&key) {
                Some(n) => format!("{key}{}\n", n.parse::<u64>().unwrap() + 1),
                None => format!("{l}\n"),
            })
            .collect();
        *bytes = edited.into_bytes();
    });
    assert_fails(&changed, vkey, "a tally counter edited", "tally.txt");

    // A checkpoint signed by another key (of the same name, so only the key differs).
    let impostor = NoteSigner::generate(&server.log().origin).unwrap();
    let changed = tampered(&zip, "checkpoint", |bytes| {
        let text = String::from_utf8(bytes.clone()).unwrap();
        let body = text.split("\n\n").next().unwrap().to_string() + "\n";
        let note = ledger::note::Note::new(&body).unwrap();
        *bytes = ledger::note::sign(note, &[&impostor]).unwrap().into_bytes();
    });
    assert_fails(
        &changed,
        vkey,
        "a checkpoint signed by another key",
        "checkpoint",
    );

    // Files missing or added.
    let mut files = unpack(&zip);
    files.retain(|(n, _)| n != "tally.txt");
    assert_fails(
        &pack(&files),
        vkey,
        "a file removed",
        "tally.txt is missing",
    );
    let mut files = unpack(&zip);
    files.push(("extra.txt".into(), b"hello".to_vec()));
    assert_fails(&pack(&files), vkey, "a file added", "extra.txt");
}
