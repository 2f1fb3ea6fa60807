//! Every route of the HTTP API (docs/API.md), happy path, against the real binary: the
//! log and its proofs, the read models and their shapes, the OpenAPI document, the
//! scopes of organiser tokens; `serve --demo`; and the CLI verbs `check`, `tiles` and
//! `token`.

mod support;

use ledger::merkle::{ConsistencyProof, InclusionProof};
use ledger::receipt::Receipt;
use ledger::tile::{decode_entry_bundle_with_width, decode_hash_tile, tile_root};
use ledger::{Hash, HashAlg, Record};
use support::*;

/// How many signatures the big batch appends: more than one full tile.
const BATCH: u64 = 300;

/// Appends a campaign as organisers would record it (a launch, a city joining, a petition
/// and its signatures, a twin link severed after a council vote, a stall held), plus a
/// batch of signatures, and returns the 201 answers in order.
fn populate(server: &Server) -> Vec<Value> {
    let admin = server.admin.clone();
    let mut answers = Vec::new();
    let mut append = |body: Value| {
        let answer = server.append(&admin, &body);
        answers.push(answer.clone());
        answer
    };
    append(
        json!({"type":"campaign.launched","campaign_id":"global-detwin","title":"End sister city links","launched_on":"2022-07-01","target_cities":163,"countries":7}),
    );
    append(
        json!({"type":"campaign.city_joined","campaign_id":"global-detwin","city":"Newcastle upon Tyne","country":"GB","joined_on":"2022-10-01"}),
    );
    append(
        json!({"type":"petition.opened","petition_id":"uk-detwin","title":"Review city diplomacy","text":"We ask for an independent advisory committee.","target":"UK Parliament","closes_on":"2030-04-01"}),
    );
    let first_signature = append(
        json!({"type":"signature.added","petition_id":"uk-detwin","name":"Ada Lovelace","email":"ada@example.org","postcode":"NE1 7RU",
        "country":"GB","constituency":"E14000831","council":"Newcastle upon Tyne","consent_to_share":true,"channel":"online"}),
    );
    append(
        json!({"type":"twin_link.registered","link_id":"newcastle-taiyuan","city":"Newcastle upon Tyne","country":"GB",
        "partner_city":"Taiyuan","partner_country":"CN","kind":"sister","since":"1985"}),
    );
    append(
        json!({"type":"motion.tabled","motion_id":"ncc-2022-11","council":"Newcastle City Council","link_id":"newcastle-taiyuan",
        "proposer":"Cllr Wendy Taylor","title":"End the sister city link with Taiyuan","tabled_on":"2022-10-05"}),
    );
    append(
        json!({"type":"motion.voted","motion_id":"ncc-2022-11","votes_for":60,"votes_against":0,"abstentions":0,"result":"passed","voted_on":"2022-11-02"}),
    );
    append(
        json!({"type":"twin_link.status_changed","link_id":"newcastle-taiyuan","status":"severed","effective_on":"2022-11-02","motion_id":"ncc-2022-11"}),
    );
    append(
        json!({"type":"event.scheduled","event_id":"lhka-2022-12-11","kind":"stall","title":"Global Detwin in UK","city":"Liverpool",
        "place":"Lord Street","starts_at":"2022-12-11T12:00:00Z","group":"LHKA","joint_action":"global-detwin"}),
    );
    append(json!({"type":"event.held","event_id":"lhka-2022-12-11","attendance":40}));
    // Three more signatures: one withdrawn, two invalidated.
    let mut extra = Vec::new();
    for email in ["bob@example.org", "cy@example.org", "di@example.org"] {
        extra.push(
            append(signature("uk-detwin", email))["index"]
                .as_u64()
                .unwrap(),
        );
    }
    append(json!({"type":"signature.withdrawn","index":extra[0]}));
    append(
        json!({"type":"signatures.invalidated","indexes":[extra[1],extra[2]],"reason":"duplicate"}),
    );
    // A batch of signatures in one request, so the log has full tiles.
    let records: Vec<Value> = (0..BATCH)
        .map(|i| signature("uk-detwin", &format!("batch-{i}@example.org")))
        .collect();
    let batch = append(json!({ "records": records }));
    assert_eq!(batch["entries"].as_array().unwrap().len(), BATCH as usize);
    assert_eq!(first_signature["entries"].as_array().unwrap().len(), 1);
    answers
}

#[test]
fn every_route_answers_and_verifies() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    let answers = populate(&server);
    let mut rng = Rng::from_clock();

    // --- 201 answers: consecutive indexes, each covered by a signed checkpoint.
    let log = server.log();
    let size = log.tree_size;
    assert_eq!(log.alg, HashAlg::Blake3);
    assert!(log.origin.starts_with("campaign-ledger/"), "{}", log.origin);
    assert_eq!(log.vkey.name(), log.origin);
    let mut next = 0;
    for answer in &answers {
        let index = answer["index"].as_u64().unwrap();
        assert_eq!(index, next, "indexes are consecutive: {answer}");
        let entries = answer["entries"].as_array().unwrap();
        next += entries.len() as u64;
        let checkpoint = open_checkpoint_text(answer["checkpoint"].as_str().unwrap(), &log.vkey);
        assert_eq!(checkpoint.size, answer["tree_size"].as_u64().unwrap());
        assert_eq!(
            checkpoint.root.to_string(),
            answer["root"].as_str().unwrap()
        );
        assert!(checkpoint.size >= next);
        assert_eq!(answer["leaf_hash"], entries[0]["leaf_hash"]);
    }
    assert_eq!(next, size, "every entry was appended by these requests");

    // --- /checkpoint
    let response = server.get("/checkpoint");
    assert_eq!(response.status(), 200);
    assert!(content_type(&response).starts_with("text/plain"));
    let checkpoint_text = response.text().unwrap();
    let checkpoint = open_checkpoint_text(&checkpoint_text, &log.vkey);
    assert_eq!((checkpoint.size, checkpoint.root), (size, log.root));
    assert_eq!(checkpoint.origin, log.origin);

    // --- hash tiles and entry bundles
    assert!(size > 256 && size < 512, "size {size}");
    let partial = (size - 256) as u16;
    let response = server.get("/tile/0/000");
    assert_eq!(response.status(), 200);
    assert_eq!(content_type(&response), "application/octet-stream");
    assert!(cache_control(&response).contains("immutable"));
    let tile0 = decode_hash_tile(&response.bytes().unwrap(), 256).expect("full hash tile");
    let tile1 = decode_hash_tile(
        &server.get_bytes(&format!("/tile/0/001.p/{partial}")),
        partial,
    )
    .expect("partial hash tile");
    let level1 = decode_hash_tile(&server.get_bytes("/tile/1/000.p/1"), 1).expect("level 1");
    assert_eq!(level1[0], tile_root(log.alg, &tile0).unwrap());
    let leaves: Vec<_> = tile0.iter().chain(&tile1).copied().collect();
    assert_eq!(merkle_root(log.alg, &leaves), checkpoint.root);
    assert_eq!(server.leaf_hashes(size), leaves);
    let bundle0 = server.get_bytes("/tile/entries/000");
    let bundle1 = server.get_bytes(&format!("/tile/entries/001.p/{partial}"));
    let entries: Vec<Vec<u8>> = decode_entry_bundle_with_width(&bundle0, 256)
        .expect("full entry bundle")
        .into_iter()
        .chain(decode_entry_bundle_with_width(&bundle1, partial).expect("partial bundle"))
        .map(<[u8]>::to_vec)
        .collect();
    for (index, entry) in entries.iter().enumerate() {
        assert_eq!(log.alg.leaf_hash(entry), leaves[index], "entry {index}");
        ledger::Entry::decode(entry).expect("entries decode");
    }
    // A partial tile as it was at an earlier size is still served.
    let small = decode_hash_tile(&server.get_bytes("/tile/0/000.p/5"), 5).unwrap();
    assert_eq!(small, leaves[..5]);
    let small = decode_entry_bundle_with_width(&server.get_bytes("/tile/entries/000.p/5"), 5)
        .unwrap()
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect::<Vec<_>>();
    assert_eq!(small, entries[..5]);

    // --- /api/v1/entries/{i}: decoded public view, bytes and leaf hash; no personal data.
    for index in [0, 3, size - 1, rng.below(size)] {
        let entry = server.get_json(&format!("/api/v1/entries/{index}"));
        assert_eq!(entry["index"], index);
        let bytes = b64_decode(entry["bytes"].as_str().unwrap());
        assert_eq!(bytes, entries[index as usize]);
        assert_eq!(entry["leaf_hash"], leaves[index as usize].to_string());
        assert!(entry["time_ms"].as_u64().unwrap() > 1_600_000_000_000);
        assert_eq!(
            entry["author"],
            format!("token-{}", token_id(&server.admin))
        );
        assert!(entry["record"]["type"].is_string());
    }
    let signature_entry = server.get_json("/api/v1/entries/3");
    let record = &signature_entry["record"];
    // An organiser's signature.added is logged as a signature.committed.
    assert_eq!(record["type"], "signature.committed");
    assert!(record["signer_hash"].is_string(), "{record}");
    assert_eq!(record["petition_id"], "uk-detwin");
    assert_eq!(record["constituency"], "E14000831");
    for personal in ["name", "email", "postcode", "address"] {
        assert!(
            record.get(personal).is_none(),
            "{personal} in the log: {record}"
        );
    }
    let all_bytes: Vec<u8> = entries.concat();
    for secret in [
        "Ada Lovelace",
        "ada@example.org",
        "NE1 7RU",
        "batch-7@example.org",
    ] {
        assert!(
            !contains(&all_bytes, secret.as_bytes()),
            "personal data in the log: {secret}"
        );
    }

    // --- inclusion proofs, at the current size and at past sizes: typed answers that
    // verify on their own and connect the leaf hash of the tiles to the root of the
    // tree of that size.
    for _ in 0..8 {
        let tree_size = 1 + rng.below(size);
        let index = rng.below(tree_size);
        for query in [
            format!("/api/v1/proofs/inclusion?index={index}&tree_size={tree_size}"),
            format!("/api/v1/proofs/inclusion?index={index}"),
        ] {
            let answer = server.get_json(&query);
            let keys = object_keys(&answer);
            assert_eq!(
                keys,
                ["index", "leaf_hash", "proof", "root", "tree_size"],
                "{query}"
            );
            let proof: InclusionProof = serde_json::from_value(answer)
                .unwrap_or_else(|e| panic!("{query}: not an InclusionProof: {e}"));
            proof
                .verify(log.alg)
                .unwrap_or_else(|e| panic!("{query}: {e}"));
            let at = if query.contains("tree_size") {
                tree_size
            } else {
                size
            };
            assert_eq!((proof.index, proof.tree_size), (index, at), "{query}");
            assert_eq!(proof.leaf_hash, leaves[index as usize], "{query}");
            assert_eq!(
                proof.root,
                merkle_root(log.alg, &leaves[..at as usize]),
                "{query}"
            );
            // The same check through the free function, and a proof for another leaf
            // or another root does not check.
            ledger::merkle::verify_inclusion(
                log.alg,
                proof.index,
                proof.tree_size,
                &proof.leaf_hash,
                &proof.proof,
                &proof.root,
            )
            .unwrap_or_else(|e| panic!("{query}: {e}"));
            let forged = InclusionProof {
                leaf_hash: log.alg.leaf_hash(b"forged"),
                ..proof.clone()
            };
            assert!(forged.verify(log.alg).is_err(), "{query}");
            let forged = InclusionProof {
                root: Hash([7; 32]),
                ..proof
            };
            assert!(forged.verify(log.alg).is_err(), "{query}");
        }
    }

    // --- consistency proofs from every checkpoint a client was given.
    for answer in &answers {
        let old = open_checkpoint_text(answer["checkpoint"].as_str().unwrap(), &log.vkey);
        server.assert_consistent(log.alg, &old, &checkpoint);
    }
    let answer = server.get_json("/api/v1/proofs/consistency?from=7");
    assert_eq!(
        object_keys(&answer),
        ["from", "from_root", "proof", "to", "to_root"],
        "{answer}"
    );
    assert_eq!(answer["to"], size);
    assert_eq!(
        answer["from_root"],
        merkle_root(log.alg, &leaves[..7]).to_string()
    );
    assert_eq!(answer["to_root"], checkpoint.root.to_string());
    let past = 3 + rng.below(size - 10);
    let later = past + 1 + rng.below(size - past);
    let proof: ConsistencyProof = serde_json::from_value(server.get_json(&format!(
        "/api/v1/proofs/consistency?from={past}&to={later}"
    )))
    .expect("a ConsistencyProof");
    assert_eq!((proof.from, proof.to), (past, later));
    assert_eq!(
        proof.from_root,
        merkle_root(log.alg, &leaves[..past as usize])
    );
    assert_eq!(
        proof.to_root,
        merkle_root(log.alg, &leaves[..later as usize])
    );
    proof
        .verify(log.alg)
        .unwrap_or_else(|e| panic!("consistency {past} -> {later}: {e}"));
    let forged = ConsistencyProof {
        to_root: Hash([7; 32]),
        ..proof
    };
    assert!(forged.verify(log.alg).is_err());

    // --- a receipt for a random record, verified with only the vkey.
    for index in [rng.below(size), 3] {
        let response = server.get(&format!("/api/v1/receipts/{index}"));
        assert_eq!(response.status(), 200);
        assert!(content_type(&response).starts_with("text/plain"));
        let receipt = Receipt::parse(&response.text().unwrap()).expect("a tlog-proof receipt");
        assert_eq!(receipt.index, index);
        let entry = server.get_json(&format!("/api/v1/entries/{index}"));
        let bytes = b64_decode(entry["bytes"].as_str().unwrap());
        let vkey = ledger::note::NoteVerifier::parse(&log.vkey_text).unwrap();
        let proven = receipt
            .verify(log.alg, &bytes, &vkey)
            .expect("the receipt verifies");
        assert!(proven.size > index && proven.size <= size);
        // A receipt for other bytes does not verify.
        assert!(receipt.verify(log.alg, b"forged", &vkey).is_err());
        // It carries its entry, so the signer checks it offline with the log key alone.
        assert_eq!(receipt.extra.as_deref(), Some(&bytes[..]));
        let dir = TestDir::new();
        let file = dir.path("receipt.txt");
        std::fs::write(&file, receipt.to_text()).unwrap();
        let file = file.to_str().unwrap();
        let said = cli_ok(&["verify", file, "--vkey", &log.vkey_text]);
        assert!(said.starts_with(&format!("ok: entry {index} ")), "{said}");
        let forged = Receipt {
            extra: Some(b"forged".to_vec()),
            ..receipt.clone()
        };
        std::fs::write(dir.path("forged.txt"), forged.to_text()).unwrap();
        let output = cli(&[
            "verify",
            dir.path("forged.txt").to_str().unwrap(),
            "--vkey",
            &log.vkey_text,
        ]);
        assert_eq!(output.status.code(), Some(1));
        assert_eq!(
            cli(&["verify", file]).status.code(),
            Some(2),
            "a receipt needs --vkey"
        );
        // The signer's page checks a pasted receipt the same way.
        let page = server
            .client
            .get(server.url("/verify"))
            .query(&[("receipt", receipt.to_text())])
            .send()
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));
        let html = page.text().unwrap();
        let is_signature = entry["record"]["type"]
            .as_str()
            .unwrap()
            .starts_with("signature.");
        if is_signature {
            assert!(html.contains("in the log"), "{html}");
            assert!(html.contains("proof holds"), "{html}");
        } else {
            assert!(html.contains("not a signature"), "{html}");
        }
        let forged_page = server
            .client
            .get(server.url("/verify"))
            .query(&[("receipt", forged.to_text())])
            .send()
            .unwrap()
            .text()
            .unwrap();
        assert!(forged_page.contains("does not verify"), "{forged_page}");
    }
    for (query, says) in [
        ("index=999999999", "No such entry"),
        ("index=abc", "not a log index"),
        (
            "receipt=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            "not a receipt",
        ),
    ] {
        let html = server.get_text(&format!("/verify?{query}"));
        assert!(html.contains(says), "{query}: {html}");
        assert!(!html.contains("<script>"), "{query}: unescaped");
    }
    assert!(server
        .get_text("/verify")
        .contains("<form class=\"verify\" method=\"get\" action=\"/verify\">"));

    // --- the signed tally, now and at a past size.
    let tally = server.get_json("/api/v1/tally");
    assert_eq!(tally["tree_size"], size);
    let text = tally["text"].as_str().unwrap();
    let body =
        projector::tally::open_tally(log.alg, tally["note"].as_str().unwrap(), &log.vkey, text)
            .expect("the tally note verifies and commits to the text");
    assert_eq!((body.tree_size, body.root), (size, checkpoint.root));
    let added = 4 + BATCH;
    let live = added - 3;
    assert!(
        text.contains(&format!("petition/uk-detwin/added {added}\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!("petition/uk-detwin/total {live}\n")),
        "{text}"
    );
    assert!(text.contains("petition/uk-detwin/withdrawn 1\n"), "{text}");
    assert!(
        text.contains("petition/uk-detwin/invalidated/duplicate 2\n"),
        "{text}"
    );
    assert!(text.contains("links/severed 1\n"), "{text}");
    assert!(text.contains(&format!("log/entries {size}\n")), "{text}");
    // Before the batch: the prefix is replayed.
    let before_batch = size - BATCH;
    let past_tally = server.get_json(&format!("/api/v1/tally?tree_size={before_batch}"));
    assert_eq!(past_tally["tree_size"], before_batch);
    let past_text = past_tally["text"].as_str().unwrap();
    let past_body = projector::tally::open_tally(
        log.alg,
        past_tally["note"].as_str().unwrap(),
        &log.vkey,
        past_text,
    )
    .expect("the past tally verifies");
    assert_eq!(past_body.tree_size, before_batch);
    assert_eq!(
        past_body.root,
        merkle_root(log.alg, &leaves[..before_batch as usize])
    );
    assert!(
        past_text.contains("petition/uk-detwin/total 1\n"),
        "{past_text}"
    );

    // --- read models, each stating its tree size. Each holds the records that made
    // it, as logged: the record's own fields (options as null) beside its index and
    // time.
    let petitions = server.get_json("/api/v1/petitions");
    assert_eq!(object_keys(&petitions), ["petitions", "tree_size"]);
    assert_eq!(petitions["tree_size"], size);
    let list = petitions["petitions"].as_array().expect("petitions list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["opened"]["petition_id"], "uk-detwin");
    assert_eq!(list[0]["total"], live);
    let mut petition = server.get_json("/api/v1/petitions/uk-detwin");
    let mut listed = list[0].clone();
    listed["tree_size"] = json!(size);
    assert_eq!(petition, listed, "the list holds the same petition");
    // Signatures per hour (named by the hour's start in Unix ms) and per UTC day: each
    // sums to what was added, and the first is when the first signature was.
    let first_ms = server.get_json("/api/v1/entries/3")["time_ms"]
        .as_u64()
        .unwrap();
    let first_day =
        ledger::record::Date::from_days_since_unix_epoch((first_ms / 86_400_000) as i64)
            .unwrap()
            .to_string();
    for (series, first) in [
        ("hourly", json!(first_ms / 3_600_000 * 3_600_000)),
        ("daily", json!(first_day)),
    ] {
        let points = petition
            .as_object_mut()
            .unwrap()
            .remove(series)
            .unwrap_or_else(|| panic!("no {series}"));
        let points = points.as_array().unwrap();
        let sum: u64 = points.iter().map(|point| point[1].as_u64().unwrap()).sum();
        assert_eq!(sum, added, "{series}: {points:?}");
        assert_eq!(points[0][0], first, "{series}: {points:?}");
    }
    assert_eq!(
        petition,
        json!({
            "tree_size": size,
            "opened": logged(&server, 2, "petition.opened", json!({
                "petition_id": "uk-detwin",
                "title": "Review city diplomacy",
                "text": {"full": "We ask for an independent advisory committee."},
                "target": "UK Parliament",
                "closes_on": "2030-04-01",
                "thresholds": [],
            })),
            "closed": null,
            "status": "open",
            "total": live,
            "added": added,
            "withdrawn": 1,
            "withdrawn_by_signer": 0,
            "invalidated": {"duplicate": 2, "fraud": 0, "ineligible": 0},
            "erased": {"signer_request": 0, "retention": 0},
            "erased_by_signer": 0,
            "exports_issued": 0,
            "signers_revealed": 0,
            "by_country": {"GB": live},
            "by_constituency": {"E14000831": live},
            "by_ward": {},
            "by_council": {"Newcastle upon Tyne": live},
            "by_channel": {"online": live},
            "paper_batches": [],
            "crossed": [],
        })
    );
    assert_eq!(
        server.get_json("/api/v1/motions"),
        json!({
            "tree_size": size,
            "motions": [{
                "tabled": logged(&server, 5, "motion.tabled", json!({
                    "motion_id": "ncc-2022-11",
                    "council": "Newcastle City Council",
                    "link_id": "newcastle-taiyuan",
                    "proposer": "Cllr Wendy Taylor",
                    "title": "End the sister city link with Taiyuan",
                    "text_hash": null,
                    "tabled_on": "2022-10-05",
                    "source_url": null,
                })),
                "status": "passed",
                "amendments": [],
                "vote": logged(&server, 6, "motion.voted", json!({
                    "motion_id": "ncc-2022-11",
                    "votes_for": 60,
                    "votes_against": 0,
                    "abstentions": 0,
                    "result": "passed",
                    "voted_on": "2022-11-02",
                    "majority": null,
                })),
                "withdrawn": null,
            }],
        })
    );
    assert_eq!(
        server.get_json("/api/v1/twin-links"),
        json!({
            "tree_size": size,
            "twin_links": [{
                "registered": logged(&server, 4, "twin_link.registered", json!({
                    "link_id": "newcastle-taiyuan",
                    "city": "Newcastle upon Tyne",
                    "country": "GB",
                    "partner_city": "Taiyuan",
                    "partner_country": "CN",
                    "kind": "sister",
                    "since": "1985",
                })),
                "status": "severed",
                "history": [logged(&server, 7, "twin_link.status_changed", json!({
                    "link_id": "newcastle-taiyuan",
                    "status": "severed",
                    "effective_on": "2022-11-02",
                    "motion_id": "ncc-2022-11",
                }))],
            }],
        })
    );
    assert_eq!(
        server.get_json("/api/v1/events"),
        json!({
            "tree_size": size,
            "events": [{
                "scheduled": logged(&server, 8, "event.scheduled", json!({
                    "event_id": "lhka-2022-12-11",
                    "kind": "stall",
                    "title": "Global Detwin in UK",
                    "city": "Liverpool",
                    "country": null,
                    "place": "Lord Street",
                    "starts_at": "2022-12-11T12:00:00Z",
                    "ends_at": null,
                    "group": "LHKA",
                    "joint_action": "global-detwin",
                })),
                "status": "held",
                "changes": [],
                "held": logged(&server, 9, "event.held", json!({
                    "event_id": "lhka-2022-12-11",
                    "attendance": 40,
                })),
                "cancelled": null,
            }],
        })
    );
    assert_eq!(
        server.get_json("/api/v1/campaigns"),
        json!({
            "tree_size": size,
            "campaigns": [{
                "launched": logged(&server, 0, "campaign.launched", json!({
                    "campaign_id": "global-detwin",
                    "title": "End sister city links",
                    "launched_on": "2022-07-01",
                    "target_cities": 163,
                    "countries": 7,
                })),
                "cities": [logged(&server, 1, "campaign.city_joined", json!({
                    "campaign_id": "global-detwin",
                    "city": "Newcastle upon Tyne",
                    "country": "GB",
                    "joined_on": "2022-10-01",
                }))],
                "cities_by_country": {"GB": 1},
            }],
            "links_severed": ["newcastle-taiyuan"],
            "motions_passed": 1,
            "joint_actions": [{
                "id": "global-detwin",
                "cities": ["Liverpool"],
                "events": ["lhka-2022-12-11"],
            }],
        })
    );

    // --- service routes.
    let health = server.get_json("/healthz");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["tree_size"], size);
    let response = server.get("/metrics");
    assert_eq!(response.status(), 200);
    assert!(content_type(&response).starts_with("text/plain"));
    let metrics = response.text().unwrap();
    for name in [
        "ledger_appended_entries_total",
        "http_request_duration_seconds",
        "ledger_batch_entries",
        "ledger_commit_seconds",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}:\n{metrics}");
    }
    assert!(
        metrics.contains(&format!("ledger_appended_entries_total {size}")),
        "{metrics}"
    );
    assert!(metrics.contains("route=\"/api/v1/records\""), "{metrics}");
    let openapi = server.get_json("/api/v1/openapi.json");
    assert!(openapi["openapi"].as_str().unwrap().starts_with('3'));
    let paths = openapi["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/records",
        "/api/v1/log",
        "/api/v1/entries/{index}",
        "/api/v1/proofs/inclusion",
        "/api/v1/proofs/consistency",
        "/api/v1/receipts/{index}",
        "/api/v1/tally",
        "/api/v1/petitions",
        "/checkpoint",
        "/healthz",
    ] {
        assert!(paths.contains_key(path), "openapi.json lacks {path}");
    }
    assert!(paths["/api/v1/records"].get("post").is_some());
    assert_openapi_schemas(&openapi);

    // --- the site's overview, and its trust page.
    let response = server.get("/");
    assert_eq!(response.status(), 200);
    assert!(content_type(&response).starts_with("text/html"));
    let html = response.text().unwrap();
    assert!(html.contains("Review city diplomacy"), "{html}");
    assert!(html.contains(&live.to_string()), "{html}");
    assert!(
        html.contains(&checkpoint.root.to_string()),
        "the dashboard shows the checkpoint"
    );
    assert!(html.contains(&checkpoint_text.lines().next().unwrap().to_string()));
    let trust = server.get_text("/trust");
    assert!(
        trust.contains(&log.vkey_text),
        "the trust page shows the vkey"
    );
}

#[test]
fn sha256_logs_verify_with_sha256_and_keep_their_hash() {
    let dir = TestDir::new();
    let mut server = Server::start_with(
        &dir,
        &["--hash", "sha256", "--origin", "example.org/detwin"],
    );
    let log = server.log();
    assert_eq!(log.alg, HashAlg::Sha256);
    assert_eq!(log.origin, "example.org/detwin");
    assert_eq!(log.root, HashAlg::Sha256.empty_root());
    server.append(&server.admin, &petition_opened("p", "A petition"));
    let answer = server.append(&server.admin, &signature("p", "s@example.org"));
    let index = answer["index"].as_u64().unwrap();
    let receipt = Receipt::parse(&server.get_text(&format!("/api/v1/receipts/{index}"))).unwrap();
    let entry = server.get_json(&format!("/api/v1/entries/{index}"));
    let bytes = b64_decode(entry["bytes"].as_str().unwrap());
    receipt
        .verify(HashAlg::Sha256, &bytes, &log.vkey)
        .expect("a SHA-256 receipt verifies");
    assert!(receipt.verify(HashAlg::Blake3, &bytes, &log.vkey).is_err());
    assert_eq!(server.sigterm().code(), Some(0));

    // The hash and origin are fixed at creation: a mismatch is refused.
    for flags in [["--hash", "blake3"], ["--origin", "example.org/other"]] {
        let output = cli_timeout(
            &[
                "serve",
                "--data",
                dir.data().to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                flags[0],
                flags[1],
            ],
            std::time::Duration::from_secs(30),
        );
        assert!(!output.status.success(), "{flags:?} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("does not match"), "{stderr}");
    }
    let server = Server::start_with(&dir, &["--hash", "sha256"]);
    assert_eq!(server.tree_size(), 2);
}

#[test]
fn demo_seeds_the_campaign() {
    let dir = TestDir::new();
    let mut server = Server::start_with(&dir, &["--demo"]);
    let stdout = server.stdout();
    assert!(stdout.contains("seeded the demo campaign"), "{stdout}");
    assert!(stdout.contains("admin token written to"), "{stdout}");
    assert!(stdout.contains("vkey:"), "{stdout}");
    let size = server.tree_size();
    assert!(size > 2400, "size {size}");

    let petition = server.get_json("/api/v1/petitions/uk-city-diplomacy");
    assert_eq!(petition["tree_size"], size);
    assert_eq!(petition["added"], 2400, "{}", petition["added"]);
    assert_eq!(petition["total"], 2400, "{}", petition["total"]);
    assert_eq!(petition["status"], "open");

    let links = server.get_json("/api/v1/twin-links");
    let links = links["twin_links"].as_array().unwrap();
    let newcastle = links
        .iter()
        .find(|l| l["registered"]["link_id"] == "newcastle-taiyuan")
        .expect("the Newcastle–Taiyuan link");
    assert_eq!(newcastle["status"], "severed");
    assert_eq!(newcastle["registered"]["partner_city"], "Taiyuan");
    assert_eq!(newcastle["history"][0]["status"], "severed", "{newcastle}");

    let motions = server.get_json("/api/v1/motions");
    let passed: Vec<&Value> = motions["motions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status"] == "passed")
        .collect();
    assert!(
        passed.len() >= 2,
        "the Newcastle and Bath motions: {motions}"
    );
    let bath = passed
        .iter()
        .find(|m| {
            m["tabled"]["council"]
                .as_str()
                .unwrap_or("")
                .contains("Bath")
        })
        .expect("the Bath motion");
    // Vote counts are unknown, so null.
    assert_eq!(bath["vote"]["votes_for"], Value::Null, "{bath}");
    assert_eq!(bath["vote"]["result"], "passed", "{bath}");

    let events = server.get_json("/api/v1/events");
    assert!(events["events"].as_array().unwrap().len() >= 14, "{events}");
    let campaigns = server.get_json("/api/v1/campaigns");
    let campaign = &campaigns["campaigns"][0];
    assert_eq!(campaign["launched"]["target_cities"], 163, "{campaign}");
    assert_eq!(campaign["launched"]["countries"], 7, "{campaign}");

    let html = server.get_text("/");
    let title = petition["opened"]["title"].as_str().unwrap();
    assert!(
        html.contains(&title.replace('&', "&amp;").replace('\'', "&#39;")),
        "{html}"
    );
    assert!(html.contains("2400"), "{html}");

    // The tally agrees with the read model.
    let tally = server.get_json("/api/v1/tally");
    assert!(tally["text"]
        .as_str()
        .unwrap()
        .contains("petition/uk-city-diplomacy/total 2400\n"));

    // A second --demo on a seeded log changes nothing.
    assert_eq!(server.sigterm().code(), Some(0));
    let server = Server::start_with(&dir, &["--demo"]);
    assert!(
        server.stdout().contains("--demo ignored"),
        "{}",
        server.stdout()
    );
    assert_eq!(server.tree_size(), size);
}

#[test]
fn cli_check_tiles_and_tokens() {
    let dir = TestDir::new();
    let data = dir.data();
    let data_arg = data.to_str().unwrap();
    let mut server = Server::start(&dir);
    server.append(&server.admin, &petition_opened("uk-detwin", "Detwin"));
    let records: Vec<Value> = (0..270)
        .map(|i| signature("uk-detwin", &format!("cli-{i}@example.org")))
        .collect();
    server.append(&server.admin, &json!({ "records": records }));

    // Tokens: create (shown once), list (never the secret), revoke.
    let organiser = create_token(&data, "organiser", Some("petition:uk-detwin"));
    let id = token_id(&organiser).to_owned();
    server.append(&organiser, &signature("uk-detwin", "organiser@example.org"));
    let list = cli_ok(&["token", "list", "--data", data_arg]);
    let line = list
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} not listed:\n{list}"));
    assert!(
        line.contains("organiser") && line.contains("petition:uk-detwin"),
        "{line}"
    );
    assert!(line.contains("active"), "{line}");
    assert!(
        !list.contains(organiser.splitn(3, '_').nth(2).unwrap()),
        "the secret is listed"
    );
    assert!(list.contains(token_id(&server.admin)), "{list}");
    let revoked = cli_ok(&["token", "revoke", "--data", data_arg, &id]);
    assert!(revoked.contains(&id), "{revoked}");
    let list = cli_ok(&["token", "list", "--data", data_arg]);
    let line = list.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(line.contains("revoked"), "{line}");
    expect_problem(
        server.post(&organiser, &signature("uk-detwin", "late@example.org")),
        401,
        "revoked_token",
    );
    // Refusals of the CLI.
    let output = cli(&["token", "revoke", "--data", data_arg, "ffffffff"]);
    assert!(!output.status.success());
    let output = cli(&["token", "create", "--data", data_arg, "--role", "exporter"]);
    assert!(!output.status.success(), "an exporter needs an area scope");
    let exporter = create_token(&data, "exporter", Some("area:E14000831"));
    assert!(exporter.starts_with("clt_"));
    let nowhere = dir.path("not-a-data-dir");
    let output = cli(&["token", "list", "--data", nowhere.to_str().unwrap()]);
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("not a campaign-ledger data directory")
    );

    // The offline verbs refuse a directory that a running server holds.
    let busy = dir.path("busy");
    let output = cli(&["tiles", "--data", data_arg, "--out", busy.to_str().unwrap()]);
    assert!(!output.status.success(), "tiles ran beside the server");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("if the server is running"), "{stderr}");
    assert!(!cli(&["check", "--data", data_arg]).status.success());
    let output = cli(&[
        "export",
        "--data",
        data_arg,
        "--petition",
        "uk-detwin",
        "--area",
        "constituency:E14000831",
        "--out",
        busy.to_str().unwrap(),
    ]);
    assert!(!output.status.success(), "export ran beside the server");

    // What the running server serves, to compare with the offline export.
    let log = server.log();
    let served_checkpoint = server.get_text("/checkpoint");
    let served_tile = server.get_bytes("/tile/0/000");
    assert_eq!(server.sigterm().code(), Some(0));

    // check: an offline integrity check of the stopped server's directory.
    let report = cli_ok(&["check", "--data", data_arg]);
    assert!(report.starts_with("ok:"), "{report}");
    assert!(
        report.contains(&format!("{} entries", log.tree_size)),
        "{report}"
    );
    assert!(report.contains(&format!("root: {}", log.root)), "{report}");

    // tiles: a static export whose tiles make the exported checkpoint's root.
    let out = dir.path("static");
    let said = cli_ok(&["tiles", "--data", data_arg, "--out", out.to_str().unwrap()]);
    assert!(
        said.contains(&format!("tree size {}", log.tree_size)),
        "{said}"
    );
    let exported = std::fs::read_to_string(out.join("checkpoint")).unwrap();
    assert_eq!(exported, served_checkpoint);
    let checkpoint = open_checkpoint_text(&exported, &log.vkey);
    assert_eq!(checkpoint.size, log.tree_size);
    let size = checkpoint.size;
    let mut leaves = Vec::new();
    for (index, width) in [(0u64, 256u16), (1, (size - 256) as u16)] {
        let path = out.join(&tile_path(0, index, width)[1..]);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if index == 0 {
            assert_eq!(bytes, served_tile);
        }
        leaves.extend(decode_hash_tile(&bytes, width).unwrap());
        let bundle = std::fs::read(out.join(&bundle_path(index, width)[1..])).unwrap();
        let entries = decode_entry_bundle_with_width(&bundle, width).unwrap();
        for (i, entry) in entries.iter().enumerate() {
            assert_eq!(log.alg.leaf_hash(entry), leaves[index as usize * 256 + i]);
        }
    }
    assert_eq!(merkle_root(log.alg, &leaves), checkpoint.root);
    // The partial tiles of the earlier signed size (after the batch of 270, before the
    // organiser's signature) are there too, for a client holding that checkpoint; those
    // of sizes whose tile has since filled up are not.
    for earlier in ["tile/0/001.p/15", "tile/entries/001.p/15"] {
        assert!(out.join(earlier).exists(), "{earlier} missing");
    }
    assert!(!out.join("tile/0/000.p/1").exists());
    let level1 = std::fs::read(out.join("tile/1/000.p/1")).unwrap();
    assert_eq!(
        decode_hash_tile(&level1, 1).unwrap()[0],
        tile_root(log.alg, &leaves[..256]).unwrap()
    );

    // export: the operator's public bundle of the stopped server's log, which an
    // office checks offline; bad arguments are one-line errors that write nothing.
    let bundle = dir.path("uk-detwin-E14000831.zip");
    let bundle_arg = bundle.to_str().unwrap();
    let export = |petition: &str, area: &str| {
        cli(&[
            "export",
            "--data",
            data_arg,
            "--petition",
            petition,
            "--area",
            area,
            "--out",
            bundle_arg,
        ])
    };
    for (petition, area, says) in [
        ("nope", "constituency:E14000831", "no petition"),
        ("uk-detwin", "constituency:nowhere", "--area"),
        ("uk-detwin", "E14000831", "--area"),
    ] {
        let output = export(petition, area);
        assert_eq!(output.status.code(), Some(1), "{petition} {area}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(says) && stderr.lines().count() == 1,
            "{stderr}"
        );
        assert!(!bundle.exists());
    }
    let said = String::from_utf8(export("uk-detwin", "constituency:E14000831").stdout).unwrap();
    assert!(said.contains("271 live signatures"), "{said}");
    let verified = cli_ok(&["verify", bundle_arg, "--vkey", &log.vkey.to_string()]);
    assert!(verified.starts_with("ok: 271 signatures"), "{verified}");
    let broken = dir.path("not-a-zip");
    std::fs::write(&broken, b"PK not really").unwrap();
    let output = cli(&["verify", broken.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("not a readable zip"));
    let output = cli(&["verify", dir.path("missing.zip").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let output = cli(&["verify", bundle_arg, "--vkey", "not a key"]);
    assert_eq!(output.status.code(), Some(2));

    // The directory still serves after the offline verbs.
    let server = Server::start(&dir);
    assert_eq!(server.tree_size(), size);
}

/// The sorted keys of a JSON object.
fn object_keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

/// What a read model holds of the entry at `index`, which must be a record of `kind`:
/// the record's `fields` (every option written out, `null` when absent) beside the
/// entry's `index` and `time_ms`.
fn logged(server: &Server, index: u64, kind: &str, fields: Value) -> Value {
    let entry = server.get_json(&format!("/api/v1/entries/{index}"));
    assert_eq!(entry["record"]["type"], kind, "entry {index}: {entry}");
    let mut logged = json!({"index": index, "time_ms": entry["time_ms"]});
    let logged_fields = logged.as_object_mut().unwrap();
    for (key, value) in fields.as_object().expect("fields are an object") {
        assert!(
            logged_fields.insert(key.clone(), value.clone()).is_none(),
            "{kind} has no field {key}"
        );
    }
    logged
}

/// The OpenAPI document describes every record kind by its `type` (the fields of the
/// kind's struct, or of the hand-written input shape of a signature and of a petition),
/// any one record (`RecordInput`), a batch (`RecordBatch`), and the typed answers.
fn assert_openapi_schemas(openapi: &Value) {
    let schemas = openapi["components"]["schemas"]
        .as_object()
        .expect("components.schemas");
    let reference = |name: &str| format!("#/components/schemas/{name}");
    // Every kind a request may name: all but the five only the server writes (from a
    // signature.added, for an export, for an erasure and for a signer's withdrawal).
    let written_by_the_server = [
        "signature.recorded",
        "export.issued",
        "signature.committed",
        "personal_data.erased",
        "signature.withdrawn_by_signer",
    ];
    let input_kinds: Vec<&str> = Record::KINDS
        .iter()
        .copied()
        .filter(|kind| !written_by_the_server.contains(kind))
        .collect();
    assert_eq!(input_kinds.len(), Record::KINDS.len() - 5);
    for kind in &input_kinds {
        let schema = schemas
            .get(*kind)
            .unwrap_or_else(|| panic!("openapi.json has no schema {kind}"));
        let parts = schema["allOf"]
            .as_array()
            .unwrap_or_else(|| panic!("{kind}: {schema}"));
        assert_eq!(
            parts[0]["properties"]["type"]["enum"],
            json!([kind]),
            "{kind}"
        );
        assert_eq!(parts[0]["required"], json!(["type"]), "{kind}");
        let fields = parts[1]["$ref"]
            .as_str()
            .expect("a reference to the fields");
        let name = fields.rsplit('/').next().unwrap();
        assert!(
            schemas[name]["properties"].is_object(),
            "{kind}: the fields {name} are not described"
        );
    }
    let field_names = |kind: &str| -> Vec<String> {
        let fields = schemas[kind]["allOf"][1]["$ref"].as_str().unwrap();
        object_keys(&schemas[fields.rsplit('/').next().unwrap()]["properties"])
    };
    // The two hand-written shapes: personal data and a channel name in, and a
    // petition's wording as text or text_hash.
    let signature = field_names("signature.added");
    for field in [
        "name", "email", "postcode", "address", "channel", "batch_id",
    ] {
        assert!(signature.contains(&field.to_owned()), "{signature:?}");
    }
    for field in ["dedup_tag", "commitment"] {
        assert!(!signature.contains(&field.to_owned()), "{signature:?}");
    }
    let petition = field_names("petition.opened");
    for field in ["text", "text_hash"] {
        assert!(petition.contains(&field.to_owned()), "{petition:?}");
    }
    assert_eq!(
        field_names("motion.voted"),
        [
            "abstentions",
            "majority",
            "motion_id",
            "result",
            "voted_on",
            "votes_against",
            "votes_for"
        ]
    );
    let any: Vec<&str> = schemas["RecordInput"]["oneOf"]
        .as_array()
        .expect("RecordInput is one of the kinds")
        .iter()
        .map(|item| item["$ref"].as_str().unwrap())
        .collect();
    let every: Vec<String> = input_kinds.iter().map(|kind| reference(kind)).collect();
    assert_eq!(any, every);
    assert_eq!(
        schemas["RecordBatch"]["properties"]["records"]["items"]["$ref"],
        reference("RecordInput")
    );
    for (answer, fields) in [
        (
            "InclusionProof",
            &["index", "leaf_hash", "proof", "root", "tree_size"][..],
        ),
        (
            "ConsistencyProof",
            &["from", "from_root", "proof", "to", "to_root"],
        ),
        (
            "EntryAnswer",
            &["author", "bytes", "index", "leaf_hash", "record", "time_ms"],
        ),
        (
            "AppendAnswer",
            &[
                "checkpoint",
                "entries",
                "index",
                "leaf_hash",
                "root",
                "tree_size",
            ],
        ),
    ] {
        let schema = schemas
            .get(answer)
            .unwrap_or_else(|| panic!("openapi.json has no schema {answer}"));
        assert_eq!(object_keys(&schema["properties"]), fields, "{answer}");
    }
    // Every reference resolves.
    fn references<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    out.push(target);
                }
                map.values().for_each(|v| references(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, out)),
            _ => {}
        }
    }
    let mut targets = Vec::new();
    references(openapi, &mut targets);
    assert!(targets.len() > Record::KINDS.len(), "{targets:?}");
    for target in targets {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("a reference outside the schemas: {target}"));
        assert!(schemas.contains_key(name), "dangling reference {target}");
    }
    let answered = |path: &str| {
        openapi["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
            ["$ref"]
            .clone()
    };
    assert_eq!(
        answered("/api/v1/proofs/inclusion"),
        reference("InclusionProof")
    );
    assert_eq!(
        answered("/api/v1/proofs/consistency"),
        reference("ConsistencyProof")
    );
    assert_eq!(
        answered("/api/v1/entries/{index}"),
        reference("EntryAnswer")
    );
    assert_eq!(
        openapi["paths"]["/api/v1/records"]["post"]["responses"]["201"]["content"]
            ["application/json"]["schema"]["$ref"],
        reference("AppendAnswer")
    );
}

fn content_type(response: &reqwest::blocking::Response) -> String {
    header(response, "content-type")
}

fn cache_control(response: &reqwest::blocking::Response) -> String {
    header(response, "cache-control")
}

fn header(response: &reqwest::blocking::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn empty_log_edges_escaping_and_every_other_record_kind() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    let admin = server.admin.clone();

    // The empty log.
    let log = server.log();
    assert_eq!((log.tree_size, log.root), (0, HashAlg::Blake3.empty_root()));
    let empty = server.checkpoint(&log.vkey);
    assert_eq!((empty.size, empty.root), (0, log.root));
    let tally = server.get_json("/api/v1/tally");
    assert_eq!(tally["tree_size"], 0);
    projector::tally::open_tally(
        log.alg,
        tally["note"].as_str().unwrap(),
        &log.vkey,
        tally["text"].as_str().unwrap(),
    )
    .expect("the empty tally verifies");
    assert_eq!(server.get_json("/api/v1/petitions")["petitions"], json!([]));
    assert_eq!(server.get("/tile/0/000.p/1").status(), 404);
    assert!(server
        .get_text("/")
        .contains("No petition has been opened yet"));

    // One entry: a receipt with an empty proof, and a consistency proof of equal sizes.
    let title = "<b>Détwin & \"friends\"</b> 城市";
    let mut opened = petition_opened("edge", title);
    opened["text"] = json!("Line one.\r\nLine two.\rLine three.");
    opened["thresholds"] = json!([2, 100]);
    let response = server.post_raw(
        Some(&admin),
        Some("Application/JSON; charset=utf-8"),
        None,
        serde_json::to_vec(&opened).unwrap(),
    );
    assert_eq!(
        response.status(),
        201,
        "content type parameters and case are fine"
    );
    let receipt = Receipt::parse(&server.get_text("/api/v1/receipts/0")).unwrap();
    assert!(receipt.proof.is_empty());
    let entry = server.get_json("/api/v1/entries/0");
    let first = receipt
        .verify(
            log.alg,
            &b64_decode(entry["bytes"].as_str().unwrap()),
            &log.vkey,
        )
        .unwrap();
    assert_eq!(first.size, 1);
    let proof = server.get_json("/api/v1/proofs/consistency?from=1&to=1");
    assert_eq!(proof["proof"], json!([]));
    let petition = server.get_json("/api/v1/petitions/edge");
    assert_eq!(petition["opened"]["title"], title);
    assert_eq!(
        petition["opened"]["text"]["full"],
        "Line one.\nLine two.\nLine three."
    );

    // The site escapes what organisers typed.
    for page in ["/", "/petitions/edge"] {
        let html = server.get_text(page);
        assert!(!html.contains("<b>Détwin"), "unescaped title on {page}");
        assert!(
            html.contains("&#60;b&#62;Détwin &#38; &#34;friends&#34;&#60;/b&#62; 城市"),
            "{page}: {html}"
        );
    }

    // Limits are inclusive: a 200-byte name and a 254-byte email are fine.
    let mut longest = signature("edge", &format!("{}@example.org", "e".repeat(254 - 12)));
    longest["name"] = json!("n".repeat(200));
    server.append(&admin, &longest);
    let mut too_long = signature("edge", "too-long@example.org");
    too_long["name"] = json!("n".repeat(201));
    expect_problem(server.post(&admin, &too_long), 422, "invalid_personal_data");
    let mut too_long = signature("edge", &format!("{}@example.org", "e".repeat(254 - 11)));
    too_long["name"] = json!("Someone");
    expect_problem(server.post(&admin, &too_long), 422, "invalid_personal_data");

    // Every record kind that the main test does not use, in one batch.
    let batch = json!({"records": [
        {"type":"event.scheduled","event_id":"stall-1","kind":"stall","title":"Stall","city":"Leeds","country":"GB",
         "place":"Briggate","starts_at":"2022-12-11T12:00:00Z","ends_at":"2022-12-11T15:00:00Z"},
        {"type":"paper_batch.recorded","batch_id":"stall-a","petition_id":"edge","event_id":"stall-1",
         "stall":"Briggate","collector":"vol-17","sheet_scan_hash":b64([2u8; 32]),"count":1},
        {"type":"signature.added","petition_id":"edge","name":"Charles Babbage","postcode":"LS1 1UR","country":"GB",
         "constituency":"E14000777","ward":"E05001234","council":"Leeds","consent_to_share":false,"channel":"paper","batch_id":"stall-a"},
        {"type":"event.changed","event_id":"stall-1","place":"Kirkgate","starts_at":"2022-12-11T13:00:00Z"},
        {"type":"event.scheduled","event_id":"march-1","kind":"march","title":"March","city":"Leeds","starts_at":"2022-12-18T12:00:00+00:00"},
        {"type":"event.cancelled","event_id":"march-1","reason":"Storm warning"},
        {"type":"motion.tabled","motion_id":"leeds-1","council":"Leeds City Council","title":"End the link",
         "text_hash":b64([3u8; 32]),"source_url":"https://example.org/motion"},
        {"type":"motion.amended","motion_id":"leeds-1","title":"End the link now","amended_on":"2022-10-20"},
        {"type":"motion.tabled","motion_id":"leeds-2","council":"Leeds City Council","title":"Another"},
        {"type":"motion.withdrawn","motion_id":"leeds-2","withdrawn_on":"2022-12-01"},
        {"type":"motion.voted","motion_id":"leeds-1","result":"passed","majority":"large majority"},
        {"type":"petition.closed","petition_id":"edge","reason":"Handed in"},
    ]});
    let answer = server.append(&admin, &batch);
    assert_eq!(answer["entries"].as_array().unwrap().len(), 12);
    let base = answer["index"].as_u64().unwrap();
    let petition = server.get_json("/api/v1/petitions/edge");
    assert_eq!(petition["status"], "closed", "{petition}");
    assert_eq!(petition["total"], 2);
    assert_eq!(petition["opened"]["thresholds"], json!([2, 100]));
    assert_eq!(petition["opened"]["closes_on"], "2030-04-01");
    assert_eq!(
        petition["closed"],
        logged(
            &server,
            base + 11,
            "petition.closed",
            json!({"petition_id": "edge", "reason": "Handed in"})
        )
    );
    assert_eq!(
        petition["by_channel"],
        json!({"online": 1, "paper/stall-a": 1})
    );
    assert_eq!(
        petition["by_council"],
        json!({"Leeds": 1, "Newcastle upon Tyne": 1})
    );
    assert_eq!(petition["by_ward"], json!({"E05001234": 1}));
    // A paper batch as recorded (its `count` is what was written on the sheets) and the
    // live signatures entered against it.
    assert_eq!(
        petition["paper_batches"],
        json!([{
            "recorded": logged(&server, base + 1, "paper_batch.recorded", json!({
                "batch_id": "stall-a",
                "petition_id": "edge",
                "event_id": "stall-1",
                "stall": "Briggate",
                "collector": "vol-17",
                "sheet_scan_hash": b64([2u8; 32]),
                "count": 1,
            })),
            "counted": 1,
        }])
    );
    // Threshold 2 was crossed by the paper signature: the entry that crossed it.
    let crossed_ms = server.get_json(&format!("/api/v1/entries/{}", base + 2))["time_ms"].clone();
    assert_eq!(
        petition["crossed"],
        json!([{"threshold": 2, "index": base + 2, "time_ms": crossed_ms}]),
        "{petition}"
    );

    // Events with their changes applied, by start time.
    assert_eq!(
        server.get_json("/api/v1/events")["events"],
        json!([
            {
                "scheduled": logged(&server, base, "event.scheduled", json!({
                    "event_id": "stall-1",
                    "kind": "stall",
                    "title": "Stall",
                    "city": "Leeds",
                    "country": "GB",
                    "place": "Kirkgate",
                    "starts_at": "2022-12-11T13:00:00Z",
                    "ends_at": "2022-12-11T15:00:00Z",
                    "group": null,
                    "joint_action": null,
                })),
                "status": "changed",
                "changes": [base + 3],
                "held": null,
                "cancelled": null,
            },
            {
                "scheduled": logged(&server, base + 4, "event.scheduled", json!({
                    "event_id": "march-1",
                    "kind": "march",
                    "title": "March",
                    "city": "Leeds",
                    "country": null,
                    "place": null,
                    "starts_at": "2022-12-18T12:00:00Z",
                    "ends_at": null,
                    "group": null,
                    "joint_action": null,
                })),
                "status": "cancelled",
                "changes": [],
                "held": null,
                "cancelled": logged(&server, base + 5, "event.cancelled", json!({
                    "event_id": "march-1",
                    "reason": "Storm warning",
                })),
            },
        ])
    );

    // Motions by council, then id; a motion's title is the amended one.
    assert_eq!(
        server.get_json("/api/v1/motions")["motions"],
        json!([
            {
                "tabled": logged(&server, base + 6, "motion.tabled", json!({
                    "motion_id": "leeds-1",
                    "council": "Leeds City Council",
                    "link_id": null,
                    "proposer": null,
                    "title": "End the link now",
                    "text_hash": b64([3u8; 32]),
                    "tabled_on": null,
                    "source_url": "https://example.org/motion",
                })),
                "status": "passed",
                "amendments": [base + 7],
                "vote": logged(&server, base + 10, "motion.voted", json!({
                    "motion_id": "leeds-1",
                    "votes_for": null,
                    "votes_against": null,
                    "abstentions": null,
                    "result": "passed",
                    "voted_on": null,
                    "majority": "large majority",
                })),
                "withdrawn": null,
            },
            {
                "tabled": logged(&server, base + 8, "motion.tabled", json!({
                    "motion_id": "leeds-2",
                    "council": "Leeds City Council",
                    "link_id": null,
                    "proposer": null,
                    "title": "Another",
                    "text_hash": null,
                    "tabled_on": null,
                    "source_url": null,
                })),
                "status": "withdrawn",
                "amendments": [],
                "vote": null,
                "withdrawn": logged(&server, base + 9, "motion.withdrawn", json!({
                    "motion_id": "leeds-2",
                    "withdrawn_on": "2022-12-01",
                })),
            },
        ])
    );
    // The log keeps the title as tabled; only the read model applies the amendment.
    let tabled = server.get_json(&format!("/api/v1/entries/{}", base + 6));
    assert_eq!(tabled["record"]["title"], "End the link", "{tabled}");
    // A closed petition takes no more signatures.
    expect_problem(
        server.post(&admin, &signature("edge", "after@example.org")),
        422,
        "petition_closed",
    );
}

/// A motion tabled without a twin link concerns no city: a council's name does not say
/// which city it belongs to (`Leedstown Parish Council` is not Leeds'), so only admins
/// and unscoped organisers may table one or append its amendments, vote and
/// withdrawal. A motion on a twin link belongs to the link's city, whatever its council
/// is called. City names in scopes match whole names, without Unicode case or
/// compatibility differences.
#[test]
fn a_linkless_motion_concerns_no_city_and_city_scopes_match_whole_names() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    let admin = server.admin.clone();
    let unscoped = create_token(&server.data, "organiser", None);
    let leeds = create_token(&server.data, "organiser", Some("city:Leeds"));
    server.append(&admin, &petition_opened("p", "A petition"));
    let petition_organiser = create_token(&server.data, "organiser", Some("petition:p"));
    let tabled = |id: &str, council: &str| json!({"type":"motion.tabled","motion_id":id,"council":council,"title":"End the link"});
    let amended =
        |id: &str| json!({"type":"motion.amended","motion_id":id,"title":"End the link now"});
    let voted = |id: &str| json!({"type":"motion.voted","motion_id":id,"result":"passed","votes_for":61,"votes_against":12,"voted_on":"2022-11-02"});
    let withdrawn = |id: &str| json!({"type":"motion.withdrawn","motion_id":id});

    // Tabling: no city scope covers it, whatever the council is called.
    let size = server.tree_size();
    for council in ["Leedstown Parish Council", "Leeds City Council", "Leeds"] {
        for scoped in [&leeds, &petition_organiser] {
            expect_problem(
                server.post(scoped, &tabled("leeds-1", council)),
                403,
                "out_of_scope",
            );
        }
    }
    assert_eq!(server.tree_size(), size, "nothing of a refusal is appended");
    server.append(&unscoped, &tabled("leeds-1", "Leeds City Council"));
    server.append(&admin, &tabled("leeds-2", "Leedstown Parish Council"));
    // Everything later is refused to scoped tokens too, and nothing is appended.
    let size = server.tree_size();
    for scoped in [&leeds, &petition_organiser] {
        for id in ["leeds-1", "leeds-2"] {
            for record in [amended(id), voted(id), withdrawn(id)] {
                expect_problem(server.post(scoped, &record), 403, "out_of_scope");
            }
        }
    }
    assert_eq!(server.tree_size(), size);
    server.append(&unscoped, &amended("leeds-1"));
    server.append(&unscoped, &voted("leeds-1"));
    server.append(&admin, &withdrawn("leeds-2"));
    let motions = server.get_json("/api/v1/motions")["motions"].clone();
    let status: Vec<(&str, &str)> = motions
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["tabled"]["motion_id"].as_str().unwrap(),
                m["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(status, [("leeds-1", "passed"), ("leeds-2", "withdrawn")]);
    assert_eq!(motions[0]["vote"]["votes_for"], 61, "{motions}");

    // A motion on a twin link: the link's city, not the council's name, decides. In
    // one request the vote's motion is the one tabled just before it.
    server.append(
        &admin,
        &json!({"type":"twin_link.registered","link_id":"newcastle-taiyuan","city":"Newcastle upon Tyne","country":"GB",
                "partner_city":"Taiyuan","partner_country":"CN","kind":"sister"}),
    );
    let linked = json!({"type":"motion.tabled","motion_id":"ncc-1","council":"Newcastle City Council",
                        "link_id":"newcastle-taiyuan","title":"End the sister city link"});
    let newcastle = create_token(&server.data, "organiser", Some("city:Newcastle"));
    let upon_tyne = create_token(&server.data, "organiser", Some("city:NEWCASTLE UPON TYNE"));
    let batch = json!({"records": [linked, voted("ncc-1")]});
    expect_problem(server.post(&newcastle, &batch), 403, "out_of_scope");
    let answer = server.append(&upon_tyne, &batch);
    assert_eq!(answer["entries"].as_array().unwrap().len(), 2);

    // Whole names, compared after Unicode case folding and compatibility normalisation:
    // `city:ＫÖＬＮ` (full-width, upper case) is Köln's organiser and not Leeds'.
    let koln = create_token(&server.data, "organiser", Some("city:ＫÖＬＮ"));
    let event = |id: &str, city: &str| {
        json!({"type":"event.scheduled","event_id":id,"kind":"rally","title":"Rally","city":city,
               "starts_at":"2030-10-01T11:00:00Z"})
    };
    server.append(&koln, &event("koln-1", "Köln"));
    server.append(&leeds, &event("leeds-rally", "LEEDS"));
    for (token, city) in [(&leeds, "Leedstown"), (&leeds, "Köln"), (&koln, "Leeds")] {
        expect_problem(server.post(token, &event("x", city)), 403, "out_of_scope");
    }
}

/// A paper batch takes no more signatures than it declared: one declared with
/// `count: 1` takes one, also when the others come in the same request, and a
/// withdrawn signature does not free its place on the sheets.
#[test]
fn a_paper_batch_takes_no_more_signatures_than_its_count() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    let admin = server.admin.clone();
    server.append(&admin, &petition_opened("p", "A petition"));
    server.append(&admin, &json!({"type":"paper_batch.recorded","batch_id":"sheet-1","petition_id":"p","collector":"vol-1","count":1}));
    let paper = |name: &str| {
        json!({"type":"signature.added","petition_id":"p","name":name,"postcode":"NE1 7RU","country":"GB",
               "consent_to_share":false,"channel":"paper","batch_id":"sheet-1"})
    };
    let first = server.append(&admin, &paper("Ann Smith"));
    let size = server.tree_size();
    let problem = expect_problem(
        server.post(&admin, &paper("Bob Jones")),
        422,
        "paper_batch_full",
    );
    assert!(!problem.to_string().contains("Bob"), "{problem}");
    let batch = json!({"records": [paper("Cat Brown"), paper("Dan Green")]});
    let problem = expect_problem(server.post(&admin, &batch), 422, "paper_batch_full");
    assert_eq!(problem["record"], 0, "{problem}");
    server.append(
        &admin,
        &json!({"type":"signature.withdrawn","index":first["index"]}),
    );
    expect_problem(
        server.post(&admin, &paper("Bob Jones")),
        422,
        "paper_batch_full",
    );
    assert_eq!(
        server.tree_size(),
        size + 1,
        "only the withdrawal was appended"
    );
    let petition = server.get_json("/api/v1/petitions/p");
    assert_eq!(
        (petition["added"].clone(), petition["total"].clone()),
        (json!(1), json!(0))
    );
}

#[test]
fn duplicates_are_per_petition_and_follow_the_normalised_identity() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    let admin = server.admin.clone();
    for id in ["one", "two"] {
        server.append(&admin, &petition_opened(id, id));
    }
    // The same person may sign two petitions, but each only once.
    server.append(&admin, &signature("one", "same@example.org"));
    server.append(&admin, &signature("two", "Same@Example.org"));
    expect_problem(
        server.post(&admin, &signature("two", " SAME@example.ORG ")),
        409,
        "duplicate_signature",
    );
    // Without an email, the name and postcode identify a paper signer.
    server.append(&admin, &json!({"type":"paper_batch.recorded","batch_id":"sheet-1","petition_id":"one","collector":"vol-1","count":3}));
    let paper = |name: &str, postcode: &str| {
        json!({"type":"signature.added","petition_id":"one","name":name,"postcode":postcode,"country":"GB",
               "consent_to_share":false,"channel":"paper","batch_id":"sheet-1"})
    };
    server.append(&admin, &paper("Ann  Smith", "NE1 7RU"));
    server.append(&admin, &paper("Ann Smith", "NE2 1AA"));
    expect_problem(
        server.post(&admin, &paper(" ann   SMITH ", "ne17ru")),
        409,
        "duplicate_signature",
    );
    let one = server.get_json("/api/v1/petitions/one");
    assert_eq!(one["total"], 3);
    let two = server.get_json("/api/v1/petitions/two");
    assert_eq!(two["total"], 1);
}

/// One signer, one signature: a second signature in a form made to look like another
/// signer's is 409 (or 422 when the form holds an invisible character), and a signer
/// who signed on paper without an email cannot sign again online with one.
#[test]
fn evasions_of_dedup_are_refused_over_http() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    let admin = server.admin.clone();
    server.append(&admin, &petition_opened("p", "P"));
    server.append(&admin, &json!({"type":"paper_batch.recorded","batch_id":"sheet-1","petition_id":"p","collector":"vol-1","count":3}));
    let online = |name: &str, email: &str, postcode: Option<&str>| {
        let mut record = signature("p", email);
        record["name"] = json!(name);
        match postcode {
            Some(postcode) => record["postcode"] = json!(postcode),
            None => drop(record.as_object_mut().unwrap().remove("postcode")),
        }
        record
    };
    server.append(&admin, &online("Jane Doe", "jane.doe@gmail.com", None));
    for email in [
        "Jane.Doe+petition@googlemail.com",
        "j.a.n.e.d.o.e@gmail.com",
        "ｊａｎｅ.ｄｏｅ@ｇｍａｉｌ.ｃｏｍ",
        "j\u{430}ne.doe@gmail.com",
        "janedoe@gm\u{430}il.com",
    ] {
        let answer = server.post(&admin, &online("Jane Doe", email, None));
        expect_problem(answer, 409, "duplicate_signature");
    }
    for email in [
        "jane.doe\u{200B}@gmail.com",
        "jane.\u{AD}doe@gmail.com",
        "\u{FEFF}jane.doe@gmail.com",
    ] {
        let answer = server.post(&admin, &online("Jane Doe", email, None));
        expect_problem(answer, 422, "invalid_personal_data");
    }
    // Paper without an email, then online with one: the name and postcode match.
    let paper = json!({"type":"signature.added","petition_id":"p","name":"Doe, John.","postcode":"LS1 1UR",
                       "country":"GB","consent_to_share":false,"channel":"paper","batch_id":"sheet-1"});
    server.append(&admin, &paper);
    let answer = server.post(
        &admin,
        &online("Dr John Doe", "john@example.org", Some("ls11ur")),
    );
    expect_problem(answer, 409, "duplicate_signature");
    // The refused signature left its email free: alone it is a new signer's.
    let index =
        server.append(&admin, &online("John Doe", "john@example.org", None))["index"].clone();
    // What the log holds is a signature.committed with one tag per identity.
    let entry = server.get_json(&format!("/api/v1/entries/{index}"));
    assert_eq!(entry["record"]["type"], "signature.committed", "{entry}");
    assert_eq!(
        entry["record"]["dedup_tags"].as_array().unwrap().len(),
        1,
        "{entry}"
    );
    let p = server.get_json("/api/v1/petitions/p");
    assert_eq!(p["total"], 3);
}

/// RFC 9110 §11.1: the authentication scheme is a case-insensitive token, so
/// `bearer <token>` must be accepted like `Bearer <token>`.
#[test]
fn the_bearer_scheme_is_case_insensitive() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    for (n, scheme) in ["Bearer", "bearer", "BEARER"].into_iter().enumerate() {
        let response = server
            .client
            .post(server.url("/api/v1/records"))
            .header("authorization", format!("{scheme} {}", server.admin))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&petition_opened(&format!("p{n}"), "P")).unwrap())
            .send()
            .unwrap();
        let status = response.status();
        assert_eq!(status, 201, "{scheme}: {}", response.text().unwrap());
    }
}

#[test]
fn a_record_too_large_for_an_entry_is_413_and_changes_nothing() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    let size = server.tree_size();
    // 8,192 indexes (the most one record may name) of nine varint bytes each: about
    // 74 KB, over the 65,535 bytes an entry may hold.
    let indexes: Vec<u64> = (0..8192).map(|i| (1u64 << 62) + i).collect();
    let response = server.post(
        &server.admin,
        &json!({"type": "signatures.invalidated", "indexes": indexes, "reason": "fraud"}),
    );
    assert_eq!(response.status(), 413);
    let problem: Value = response.json().unwrap();
    assert_eq!(problem["reason"], "entry_too_large", "{problem}");
    assert_eq!(server.tree_size(), size);
}
