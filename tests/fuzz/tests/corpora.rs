//! The short fuzz run of every `cargo test`: every file of every corpus, and every seed,
//! through the same checks the fuzz targets make (`fuzz_harness`).
//!
//! The seeds are made here from real data: the sample entries of every record kind,
//! notes, checkpoints, receipts and tally notes signed with the harness's keys, the
//! tiles of a small tree, the request bodies of every kind, and the reference notes in
//! `ledger/tests/data`. `UPDATE_FUZZ_SEEDS=1 cargo test -p fuzz-harness` writes them
//! into `corpus/<target>/` (named by content, as libFuzzer names its finds), to start a
//! fuzzer from; the README says how to run it and minimise the corpus afterwards.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use fuzz_harness::{auditor_key, log_key, Check, SEED_ENTRY, SEED_TALLY_TEXT, TARGETS};
use ledger::checkpoint::{sign_checkpoint, Checkpoint};
use ledger::note::{self, Note, Signer};
use ledger::receipt::Receipt;
use ledger::tile::{self, TilePath};
use ledger::{Hash, HashAlg};
use serde_json::Value;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

fn repo_file(path: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs `check` on each input, naming every input that failed.
fn run_all(target: &str, check: Check, inputs: &[(String, Vec<u8>)]) -> Vec<String> {
    inputs
        .iter()
        .filter(|(_, data)| catch_unwind(AssertUnwindSafe(|| check(data))).is_err())
        .map(|(name, _)| format!("{target}/{name}"))
        .collect()
}

#[test]
fn every_corpus_file_passes_its_target() {
    let mut failed = Vec::new();
    for (target, check) in TARGETS {
        let dir = corpus_dir(target);
        let mut inputs = Vec::new();
        for file in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = file.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            inputs.push((name, std::fs::read(&path).unwrap()));
        }
        assert!(
            !inputs.is_empty(),
            "corpus/{target} is empty; UPDATE_FUZZ_SEEDS=1 writes the seeds"
        );
        failed.extend(run_all(target, *check, &inputs));
    }
    assert!(failed.is_empty(), "corpus files that fail: {failed:?}");
}

#[test]
fn every_seed_passes_its_target() {
    let seeds = seeds();
    let mut failed = Vec::new();
    for (target, check) in TARGETS {
        let inputs: Vec<(String, Vec<u8>)> = seeds[target]
            .iter()
            .enumerate()
            .map(|(i, data)| (format!("seed {i}"), data.clone()))
            .collect();
        failed.extend(run_all(target, *check, &inputs));
        if TEXT_TARGETS.contains(target) {
            failed.extend(run_all(target, *check, &reference_inputs()));
        }
        if std::env::var_os("UPDATE_FUZZ_SEEDS").is_some() {
            write_corpus(target, &seeds[target]);
        }
    }
    assert!(failed.is_empty(), "seeds that fail: {failed:?}");
}

fn write_corpus(target: &str, inputs: &[Vec<u8>]) {
    let dir = corpus_dir(target);
    std::fs::create_dir_all(&dir).unwrap();
    for data in inputs {
        let name = blake3::hash(data).to_hex()[..40].to_string();
        std::fs::write(dir.join(name), data).unwrap();
    }
}

#[test]
fn the_seeds_are_accepted_where_they_should_be() {
    // Seeds that the parsers refuse would start the fuzzer at the front door only.
    let seeds = seeds();
    let accepted =
        |target: &str, ok: &dyn Fn(&[u8]) -> bool| seeds[target].iter().filter(|s| ok(s)).count();
    let text = |s: &[u8]| String::from_utf8(s.to_vec()).unwrap_or_default();
    let entries = accepted("entry", &|s| ledger::Entry::decode(s).is_ok());
    assert!(entries >= 18, "{entries} sample entries decode");
    let opened = accepted("checkpoint", &|s| {
        ledger::checkpoint::open_checkpoint(&text(s), &log_key().verifier()).is_ok()
    });
    assert!(opened >= 2, "{opened} checkpoints open");
    let receipts = accepted("receipt", &|s| {
        Receipt::parse(&text(s))
            .and_then(|r| r.verify(HashAlg::Blake3, SEED_ENTRY, &log_key().verifier()))
            .is_ok()
    });
    assert!(receipts >= 2, "{receipts} receipts verify");
    let tallies = accepted("tally", &|s| {
        projector::tally::open_tally(
            HashAlg::Blake3,
            &text(s),
            &log_key().verifier(),
            SEED_TALLY_TEXT,
        )
        .is_ok()
    });
    assert!(tallies >= 1, "{tallies} tally notes open");
    let one_pass = accepted("request", &|s| {
        server::input::parse_request_each_way(s).0.is_some()
    });
    assert!(one_pass >= 18, "{one_pass} request bodies read in one pass");
}

/// The seed inputs of every target.
fn seeds() -> BTreeMap<&'static str, Vec<Vec<u8>>> {
    let mut seeds = BTreeMap::new();
    seeds.insert("entry", entry_seeds());
    seeds.insert("note", note_seeds());
    seeds.insert("checkpoint", checkpoint_seeds());
    seeds.insert("tile", tile_seeds());
    seeds.insert("receipt", receipt_seeds());
    seeds.insert("tally", tally_seeds());
    seeds.insert("request", request_seeds());
    seeds
}

fn entry_seeds() -> Vec<Vec<u8>> {
    let golden = String::from_utf8(repo_file("ledger/tests/data/entries-v1.golden")).unwrap();
    let mut seeds: Vec<Vec<u8>> = golden
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(_, hex)| decode_hex(hex))
        .collect();
    seeds.extend(
        test_support::samples::entries()
            .iter()
            .map(|e| e.encode().unwrap()),
    );
    seeds
}

fn decode_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn checkpoint_of(size: u64, root: Hash) -> Checkpoint {
    Checkpoint::new(log_key().name(), size, root)
}

/// The log key's signed checkpoint, cosigned by the auditor when `cosigned`.
fn signed_checkpoint(checkpoint: &Checkpoint, cosigned: bool) -> String {
    let note = sign_checkpoint(checkpoint, log_key()).unwrap();
    if !cosigned {
        return note;
    }
    note::sign(Note::parse(&note).unwrap(), &[auditor_key()]).unwrap()
}

fn checkpoint_seeds() -> Vec<Vec<u8>> {
    let root = HashAlg::Blake3.leaf_hash(SEED_ENTRY);
    let mut with_extension = checkpoint_of(1, root);
    with_extension.extensions.push("extension line".into());
    vec![
        signed_checkpoint(&checkpoint_of(1, root), false).into_bytes(),
        signed_checkpoint(&checkpoint_of(1, root), true).into_bytes(),
        signed_checkpoint(&with_extension, true).into_bytes(),
        signed_checkpoint(&checkpoint_of(0, HashAlg::Sha256.empty_root()), false).into_bytes(),
        checkpoint_of(18446744073709551615, root)
            .to_body()
            .into_bytes(),
    ]
}

fn note_seeds() -> Vec<Vec<u8>> {
    let body = "a note\n\nwith an empty line inside\n";
    let note = note::sign(Note::new(body).unwrap(), &[log_key()]).unwrap();
    let both = note::sign(Note::new(body).unwrap(), &[log_key(), auditor_key()]).unwrap();
    vec![
        note.into_bytes(),
        both.into_bytes(),
        log_key().verifier_key().into_bytes(),
        auditor_key().verifier_key().into_bytes(),
    ]
}

/// The reference notes and checkpoints of `ledger/tests/data`, as further seeds of the
/// text targets. They are not copied into the corpora (they carry their sources'
/// licences and attributions where they are); a long run reads those folders as extra
/// corpus folders.
const REFERENCE_DIRS: &[&str] = &["ledger/tests/data/c2sp", "ledger/tests/data/go-sumdb-note"];
const TEXT_TARGETS: &[&str] = &["note", "checkpoint", "receipt", "tally"];

fn reference_inputs() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut inputs = Vec::new();
    for dir in REFERENCE_DIRS {
        for file in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = file.unwrap().path();
            let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            inputs.push((name, std::fs::read(&path).unwrap()));
        }
    }
    assert!(inputs.len() >= 10, "reference files: {}", inputs.len());
    inputs
}

fn tile_seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = tile::tiles_for_size(600)
        .into_iter()
        .chain([
            TilePath::hash(0, 1_234_067, 8).unwrap(),
            TilePath::entries(u64::MAX / 256, 255).unwrap(),
        ])
        .map(|path| path.to_string().into_bytes())
        .collect();
    let entries: Vec<Vec<u8>> = entry_seeds().into_iter().take(4).collect();
    let entries: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
    seeds.push(tile::encode_entry_bundle(&entries).unwrap());
    let hashes: Vec<Hash> = entries
        .iter()
        .map(|e| HashAlg::Blake3.leaf_hash(e))
        .collect();
    seeds.push(tile::encode_hash_tile(&hashes).unwrap());
    seeds
}

fn receipt_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for alg in [HashAlg::Blake3, HashAlg::Sha256] {
        // A tree of one entry (no proof hashes), and one of two (one proof hash).
        let leaf = alg.leaf_hash(SEED_ENTRY);
        let other = alg.leaf_hash(b"its neighbour");
        let one = signed_checkpoint(&checkpoint_of(1, leaf), false);
        seeds.push(Receipt::new(0, Vec::new(), one).to_text().into_bytes());
        let two = signed_checkpoint(&checkpoint_of(2, alg.node_hash(&leaf, &other)), true);
        let mut receipt = Receipt::new(0, vec![other], two);
        seeds.push(receipt.to_text().into_bytes());
        receipt.extra = Some(b"extra data".to_vec());
        seeds.push(receipt.to_text().into_bytes());
    }
    seeds
}

fn tally_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for alg in [HashAlg::Blake3, HashAlg::Sha256] {
        let root = alg.leaf_hash(SEED_ENTRY);
        let note = projector::tally::sign_tally(alg, log_key(), 1, root, SEED_TALLY_TEXT).unwrap();
        seeds.push(note.into_bytes());
    }
    seeds
}

fn request_seeds() -> Vec<Vec<u8>> {
    // Every kind as its public view (which is its input, but for a signature), written
    // with `type` first as clients do, then a signature's input with personal data.
    let mut bodies: Vec<String> = test_support::samples::entries()
        .iter()
        .map(|e| type_first(&server::input::record_view(e.record())))
        .collect();
    let signature = serde_json::json!({
        "type": "signature.added", "petition_id": "uk-city-diplomacy", "name": "Ada Example",
        "email": "ada@example.org", "postcode": "NE1 7RU", "address": "1 Grey Street",
        "country": "GB", "constituency": "E14000831", "ward": "E05001234",
        "council": "Newcastle upon Tyne", "consent_to_share": true, "channel": "online"
    });
    let paper = serde_json::json!({
        "type": "signature.added", "petition_id": "uk-city-diplomacy", "name": "B. Signer",
        "postcode": "LS1 1UR", "country": "GB", "consent_to_share": false,
        "channel": "paper", "batch_id": "leeds-2022-12-11-a"
    });
    bodies.push(type_first(&signature));
    bodies.push(type_first(&paper));
    bodies.push(signature.to_string());
    bodies.push(format!(
        "{{\"records\":[{},{}]}}",
        type_first(&signature),
        type_first(&paper)
    ));
    bodies.into_iter().map(String::into_bytes).collect()
}

/// `value` (an object with a `type`) written with `type` as its first key.
fn type_first(value: &Value) -> String {
    let mut fields = value.as_object().unwrap().clone();
    let kind = fields.remove("type").unwrap();
    let rest = Value::Object(fields).to_string();
    if rest == "{}" {
        return format!("{{\"type\":{kind}}}");
    }
    format!("{{\"type\":{kind},{}", &rest[1..])
}
