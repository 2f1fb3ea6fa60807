//! What the fuzzers check: one function per decoder or parser that reads bytes from
//! outside, each taking any bytes and panicking only when a property fails.
//!
//! The libFuzzer targets in `targets/` are one line each around these functions, and
//! `tests/corpora.rs` replays every file of `corpus/<target>/` through the same
//! functions on every `cargo test`, so what the long runs found stays checked.
//!
//! Beyond "no panic", each function checks what must hold of an accepted input:
//! - the text and byte formats are canonical: whatever a parser accepts, writing the
//!   parsed value back gives the same bytes (so two different texts never mean the
//!   same thing, and nothing is lost in between);
//! - where two readers take the same bytes, they agree (differential fuzzing):
//!   `Entry::decode_signature` accepts exactly the signature entries
//!   `Entry::decode` accepts, as the same entry; the request body's one-pass reader
//!   accepts only what the strict reader accepts, as the same records.

use std::sync::OnceLock;

use ledger::checkpoint::{self, Checkpoint};
use ledger::note::{self, CosignatureSigner, Note, NoteSigner, NoteVerifier};
use ledger::receipt::Receipt;
use ledger::tile::{self, TilePath};
use ledger::{Entry, HashAlg, Record};
use projector::tally::{self, TallyBody};
use rand::SeedableRng;
use server::input::{self, InputError, PersonalData, RecordInput};

/// What a fuzz target checks of one input: it panics when a property fails.
pub type Check = fn(&[u8]);

/// Every fuzz target by name: the name of its libFuzzer binary and of its corpus
/// folder `corpus/<name>/`.
pub const TARGETS: &[(&str, Check)] = &[
    ("entry", entry),
    ("note", note),
    ("checkpoint", checkpoint),
    ("tile", tile),
    ("receipt", receipt),
    ("tally", tally),
    ("request", request),
];

/// The log key the targets verify against. Seeds signed with it let the fuzzer reach
/// past signature checks into what follows them.
pub fn log_key() -> &'static NoteSigner {
    static KEY: OnceLock<NoteSigner> = OnceLock::new();
    KEY.get_or_init(|| NoteSigner::from_seed("fuzz.example/log", &[1; 32]).expect("valid name"))
}

/// An auditor's cosigning key the targets also accept.
pub fn auditor_key() -> &'static CosignatureSigner {
    static KEY: OnceLock<CosignatureSigner> = OnceLock::new();
    KEY.get_or_init(|| {
        CosignatureSigner::from_seed("fuzz.example/auditor", &[2; 32]).expect("valid name")
    })
}

fn verifiers() -> &'static [NoteVerifier; 2] {
    static VERIFIERS: OnceLock<[NoteVerifier; 2]> = OnceLock::new();
    VERIFIERS.get_or_init(|| [log_key().verifier(), auditor_key().verifier()])
}

/// The entry that the receipt and tally seeds commit to.
pub const SEED_ENTRY: &[u8] = b"an entry the fuzz seeds prove";

/// The tally text the tally seeds commit to.
pub const SEED_TALLY_TEXT: &str = "petitions 1\n";

/// `ledger::Entry`'s two decoders: the full one, and the in-place reader of
/// signature entries (`signature.added`, `signature.recorded`) that replays use.
pub fn entry(data: &[u8]) {
    let decoded = Entry::decode(data);
    let in_place = Entry::decode_signature(data);
    match (&decoded, in_place) {
        (Ok(entry), Some(signature)) => assert_eq!(
            signature.to_entry(),
            *entry,
            "the two decoders read different signatures from the same bytes"
        ),
        (Ok(entry), None) => assert!(
            !matches!(
                entry.record(),
                Record::SignatureAdded(_) | Record::SignatureRecorded(_)
            ),
            "the in-place reader refused a signature that Entry::decode accepts"
        ),
        (Err(error), Some(_)) => {
            panic!("the in-place reader accepted a signature that Entry::decode refuses: {error}")
        }
        (Err(_), None) => {}
    }
    if let Ok(entry) = decoded {
        let encoded = entry.encode().expect("a decoded entry encodes");
        assert_eq!(encoded, data, "a decoded entry re-encodes to other bytes");
    }
}

/// Signed notes: `Note::parse`, `note::open` and the verifier key text.
pub fn note(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = Note::parse(text);
    if let Ok(parsed) = &parsed {
        let written = parsed.to_text().expect("a parsed note has signatures");
        assert_eq!(written, text, "a note reads back as other text");
    }
    if let Ok(opened) = note::open(text, verifiers()) {
        let parsed = parsed.expect("an opened note parses");
        assert_eq!(opened.body(), parsed.body());
        assert!(
            !opened.verified().is_empty(),
            "an opened note names who signed it"
        );
    }
    if let Ok(verifier) = NoteVerifier::parse(text) {
        assert_eq!(
            verifier.vkey(),
            text,
            "a verifier key reads back as other text"
        );
    }
}

/// Checkpoints: the body alone, and opened as a signed note by the log key and an
/// auditor.
pub fn checkpoint(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    as_text_and_as_note_body(text, check_checkpoint_body);
    let [log, auditor] = verifiers();
    if let Ok((checkpoint, note)) =
        checkpoint::open_checkpoint_with_cosigners(text, log, std::slice::from_ref(auditor))
    {
        assert_eq!(checkpoint.to_body(), note.body());
        assert_eq!(checkpoint.origin, log.name());
    }
}

/// Runs a check of note bodies on `text`, and on the body of `text` as a signed note if
/// it parses as one, so that the fuzzer reaches the body's parser past the signatures
/// it cannot forge.
fn as_text_and_as_note_body(text: &str, check: fn(&str)) {
    check(text);
    if let Ok(note) = Note::parse(text) {
        check(note.body());
    }
}

fn check_checkpoint_body(body: &str) {
    if let Ok(checkpoint) = Checkpoint::parse_body(body) {
        assert_eq!(
            checkpoint.to_body(),
            body,
            "a checkpoint reads back as other text"
        );
        checkpoint
            .validate()
            .expect("a parsed checkpoint is a valid one");
    }
}

/// Tile paths, entry bundles and hash tiles, as a mirror or a client reads them.
pub fn tile(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(path) = TilePath::parse(text) {
            assert!(path.is_valid(), "a parsed tile path is valid");
            assert_eq!(
                path.to_string(),
                text,
                "a tile path reads back as another path"
            );
        }
    }
    if let Ok(entries) = tile::decode_entry_bundle(data) {
        let encoded = tile::encode_entry_bundle(&entries).expect("a decoded bundle encodes");
        assert_eq!(encoded, data, "a bundle re-encodes to other bytes");
    }
    let width = data.len() / 32;
    if let Ok(width) = u16::try_from(width) {
        if let Ok(hashes) = tile::decode_hash_tile(data, width) {
            let encoded = tile::encode_hash_tile(&hashes).expect("a decoded tile encodes");
            assert_eq!(encoded, data, "a hash tile re-encodes to other bytes");
        }
    }
}

/// Receipts (`c2sp.org/tlog-proof@v1`): parsed, then verified for [`SEED_ENTRY`] with
/// both hash functions.
pub fn receipt(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(receipt) = Receipt::parse(text) else {
        return;
    };
    assert_eq!(
        receipt.to_text(),
        text,
        "a receipt reads back as other text"
    );
    for alg in [HashAlg::Blake3, HashAlg::Sha256] {
        if let Ok(checkpoint) = receipt.verify(alg, SEED_ENTRY, &verifiers()[0]) {
            assert!(
                receipt.index < checkpoint.size,
                "a proof of an index past the tree"
            );
        }
    }
}

/// Tally notes: the body alone, and opened by the log key for [`SEED_TALLY_TEXT`].
pub fn tally(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    as_text_and_as_note_body(text, check_tally_body);
    for alg in [HashAlg::Blake3, HashAlg::Sha256] {
        if let Ok(body) = tally::open_tally(alg, text, &verifiers()[0], SEED_TALLY_TEXT) {
            assert_eq!(body.origin, verifiers()[0].name());
        }
    }
}

fn check_tally_body(body: &str) {
    if let Ok(parsed) = TallyBody::parse(body) {
        assert_eq!(
            parsed.to_text(),
            body,
            "a tally body reads back as other text"
        );
    }
}

/// A `POST /api/v1/records` body: the one-pass reader against the strict one, then
/// each record prepared and shown as the server would.
pub fn request(data: &[u8]) {
    let (one_pass, strict) = input::parse_request_each_way(data);
    if let Some(one_pass) = one_pass {
        let strict = strict.expect("the strict reader accepts what the one-pass reader does");
        assert_eq!(one_pass.len(), strict.len());
        assert_eq!(
            prepare_all(one_pass),
            prepare_all(strict),
            "the two readers read different records"
        );
    }
    if let Ok(records) = input::parse_request(data) {
        for prepared in prepare_all(records).into_iter().flatten() {
            let _ = input::record_view(&prepared.0);
        }
    }
}

type PreparedParts = (Record, Option<(PersonalData, [u8; 32])>);

/// Each record prepared as the sequencer would, with a fixed salt source, so that the
/// same input prepares to the same record and personal data.
fn prepare_all(records: Vec<RecordInput>) -> Vec<Result<PreparedParts, InputError>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    records
        .into_iter()
        .enumerate()
        .map(|(i, record)| {
            record
                .prepare(HashAlg::Blake3, &[7; 32], &mut rng, Some(i))
                .map(|p| (p.record, p.personal))
        })
        .collect()
}
