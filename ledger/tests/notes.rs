//! Black-box tests of signed notes, checkpoints, cosignatures, tiles and receipts, as
//! auditors see them: the C2SP spec examples, the Go reference vectors, tampering, and
//! the worked example of the format notes (docs/FORMAT.md, part C), pinned byte for byte.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use proptest::prelude::*;

use ledger::checkpoint::{
    open_checkpoint, open_checkpoint_with_cosigners, sign_checkpoint, Checkpoint,
};
use ledger::note::{
    cosignature_message, key_id, open, sign, CosignatureSigner, Note, NoteSigner, NoteVerifier,
    SignatureType, Signer, MAX_SIGNATURES,
};
use ledger::receipt::Receipt;
use ledger::tile::{
    decode_entry_bundle, decode_entry_bundle_with_width, decode_hash_tile, encode_entry_bundle,
    encode_hash_tile, tile_root, tiles_for_size, TilePath,
};
use ledger::{Error, Hash, HashAlg};

/// Signs a new note with `body`.
fn sign_body(body: &str, signers: &[&dyn Signer]) -> ledger::Result<String> {
    sign(Note::new(body)?, signers)
}

/// Adds signatures to the signed note `text`.
fn sign_parsed(text: &str, signers: &[&dyn Signer]) -> ledger::Result<String> {
    sign(Note::parse(text)?, signers)
}

// ---------------------------------------------------------------------------------
// C2SP spec examples (tests/data/c2sp, CC BY 4.0)
// ---------------------------------------------------------------------------------

const SPEC_SIGNED_NOTE: &str = include_str!("data/c2sp/signed-note-example.txt");
const SPEC_CHECKPOINT: &str = include_str!("data/c2sp/tlog-checkpoint-example.txt");
const SPEC_COSIGNED: &str = include_str!("data/c2sp/tlog-cosignature-example.txt");
const SPEC_COSIGNED_MESSAGE: &str = include_str!("data/c2sp/tlog-cosignature-signed-message.txt");
const SPEC_PROOF: &str = include_str!("data/c2sp/tlog-proof-example.txt");

#[test]
fn spec_signed_note_example_parses_and_needs_a_known_key() {
    let note = Note::parse(SPEC_SIGNED_NOTE).unwrap();
    // "the text is separated from the signatures by the last empty line in the note"
    assert_eq!(
        note.body(),
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n"
    );
    assert_eq!(note.signatures().len(), 1);
    let signature = &note.signatures()[0];
    assert_eq!(signature.name(), "quasimodo.example/salvatore");
    assert_eq!(signature.key_id(), 0x367b_a04b);
    assert_eq!(
        signature.signature_bytes().len(),
        64,
        "an Ed25519 signature"
    );
    assert_eq!(note.to_text().unwrap(), SPEC_SIGNED_NOTE);
    // "If no signature from a known key verifies successfully, clients MUST reject the
    // note." The spec publishes no key: with none, or with another key of that name,
    // the note is rejected.
    assert!(matches!(
        open(SPEC_SIGNED_NOTE, &[]),
        Err(Error::UnverifiedNote)
    ));
    let same_name = NoteSigner::from_seed("quasimodo.example/salvatore", &[1; 32]).unwrap();
    assert!(matches!(
        open(SPEC_SIGNED_NOTE, &[same_name.verifier()]),
        Err(Error::UnverifiedNote)
    ));
}

#[test]
fn spec_checkpoint_example_parses() {
    let note = Note::parse(SPEC_CHECKPOINT).unwrap();
    let checkpoint = Checkpoint::parse_body(note.body()).unwrap();
    assert_eq!(checkpoint.origin, "example.com/behind-the-sofa");
    assert_eq!(checkpoint.size, 20_852_163);
    assert_eq!(
        BASE64.encode(checkpoint.root),
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    );
    assert!(checkpoint.extensions.is_empty());
    assert_eq!(checkpoint.to_body(), note.body());
    // "The log's key name in its signature line SHOULD match the origin line."
    let signature = &note.signatures()[0];
    assert_eq!(signature.name(), checkpoint.origin);
    assert_eq!(signature.key_id(), 0x033d_e0ae);
    assert_eq!(signature.signature_bytes().len(), 64);
    // Without the log's key the checkpoint does not open.
    let other = NoteSigner::from_seed("example.com/behind-the-sofa", &[2; 32]).unwrap();
    assert!(matches!(
        open_checkpoint(SPEC_CHECKPOINT, &other.verifier()),
        Err(Error::UnverifiedNote)
    ));
}

#[test]
fn spec_cosignature_example_has_the_spec_layout() {
    let note = Note::parse(SPEC_COSIGNED).unwrap();
    assert_eq!(note.body(), Note::parse(SPEC_CHECKPOINT).unwrap().body());
    let cosignature = &note.signatures()[1];
    assert_eq!(cosignature.name(), "witness.example.com/w1");
    assert_eq!(cosignature.key_id(), 0x8d66_cf3f);
    // timestamped_signature: u64 timestamp then a 64-byte Ed25519 signature.
    assert_eq!(cosignature.signature_bytes().len(), 8 + 64);
    assert_eq!(cosignature.cosignature_time(), Some(1_679_315_147));
    // The spec's example signed message is exactly what we sign for that time.
    assert_eq!(
        cosignature_message(note.body(), 1_679_315_147),
        SPEC_COSIGNED_MESSAGE
    );
    assert_eq!(note.to_text().unwrap(), SPEC_COSIGNED);
}

#[test]
fn spec_proof_example_has_the_spec_layout() {
    // The spec elides its signatures ("hI2DJw[...]1roloI="), so the note is malformed.
    assert!(matches!(
        Receipt::parse(SPEC_PROOF),
        Err(Error::MalformedReceipt(_))
    ));
    // With the elided checkpoint replaced by a real one, every other line parses.
    let split = SPEC_PROOF.find("\n\n").unwrap() + 2;
    let key = NoteSigner::from_seed("example.com/fancylog", &[3; 32]).unwrap();
    let body_end = split + SPEC_PROOF[split..].find("\n\n").unwrap() + 1;
    let checkpoint = Checkpoint::parse_body(&SPEC_PROOF[split..body_end]).unwrap();
    assert_eq!(checkpoint.size, 109_482);
    let text = format!(
        "{}{}",
        &SPEC_PROOF[..split],
        sign_checkpoint(&checkpoint, &key).unwrap()
    );
    let receipt = Receipt::parse(&text).unwrap();
    assert_eq!(receipt.index, 73_894);
    assert_eq!(receipt.proof.len(), 5);
    assert_eq!(
        BASE64.encode(receipt.proof[0]),
        "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ="
    );
    assert!(receipt
        .extra
        .as_deref()
        .unwrap()
        .starts_with(b"age-v1.2.1-darwin-arm64.tar.gz"));
    assert_eq!(receipt.to_text(), text);
}

// ---------------------------------------------------------------------------------
// Go sumdb/note reference vectors (tests/data/go-sumdb-note, BSD-3-Clause)
// ---------------------------------------------------------------------------------

const GO_PETER_VKEY: &str = include_str!("data/go-sumdb-note/peter-neumann.vkey");
const GO_PETER_SKEY: &str = include_str!("data/go-sumdb-note/peter-neumann.skey");
const GO_ENOCH_VKEY: &str = include_str!("data/go-sumdb-note/enoch-root.vkey");
const GO_TEXT: &str = include_str!("data/go-sumdb-note/text.txt");
const GO_NOTE_PETER: &str = include_str!("data/go-sumdb-note/note-peter.txt");
const GO_NOTE_BOTH: &str = include_str!("data/go-sumdb-note/note-peter-enoch.txt");

#[test]
fn go_reference_keys_and_signature_are_reproduced() {
    let signer = NoteSigner::from_private_key(GO_PETER_SKEY).unwrap();
    assert_eq!(signer.name(), "PeterNeumann");
    assert_eq!(signer.key_id(), 0xc74f_20a3);
    assert_eq!(signer.to_private_key(), GO_PETER_SKEY);
    assert_eq!(signer.verifier_key(), GO_PETER_VKEY);
    let verifier = NoteVerifier::parse(GO_PETER_VKEY).unwrap();
    assert_eq!(
        key_id(
            "PeterNeumann",
            SignatureType::Ed25519,
            &verifier.public_key()
        ),
        0xc74f_20a3
    );
    // Ed25519 is deterministic: signing gives the reference note byte for byte.
    assert_eq!(sign_body(GO_TEXT, &[&signer]).unwrap(), GO_NOTE_PETER);
}

#[test]
fn go_reference_notes_open_as_the_reference_says() {
    let peter = NoteVerifier::parse(GO_PETER_VKEY).unwrap();
    let enoch = NoteVerifier::parse(GO_ENOCH_VKEY).unwrap();
    // One known key: one verified, the other kept as unverified.
    let note = open(GO_NOTE_BOTH, std::slice::from_ref(&peter)).unwrap();
    assert_eq!(note.body(), GO_TEXT);
    assert_eq!(note.verified().len(), 1);
    assert_eq!(note.verified()[0].name, "PeterNeumann");
    assert_eq!(note.unverified().len(), 1);
    assert_eq!(note.unverified()[0].key_id(), 0xaf0c_fe78);
    // Both known.
    let note = open(GO_NOTE_BOTH, &[peter.clone(), enoch.clone()]).unwrap();
    assert_eq!(note.verified().len(), 2);
    assert!(note.unverified().is_empty());
    // None known.
    assert!(matches!(
        open(GO_NOTE_BOTH, &[]),
        Err(Error::UnverifiedNote)
    ));
    // Too many signatures, even if all are good.
    let peter_line = &GO_NOTE_PETER[GO_TEXT.len() + 1..];
    let many = format!("{GO_TEXT}\n{}", peter_line.repeat(MAX_SIGNATURES + 1));
    assert!(matches!(
        open(&many, std::slice::from_ref(&peter)),
        Err(Error::MalformedNote(_))
    ));
    // A known key's signature with bytes inserted.
    let broken = format!("{GO_TEXT}\n{}ABCD{}", &peter_line[..60], &peter_line[60..]);
    assert!(matches!(
        open(&broken, std::slice::from_ref(&peter)),
        Err(Error::UnverifiedNote)
    ));
    // The reference implementation's table of malformed messages.
    let bad = [
        GO_TEXT.to_string(),
        format!("{GO_TEXT}\n"),
        format!("{GO_TEXT}\n{}", &peter_line[..peter_line.len() - 1]),
        format!("\u{1}{GO_TEXT}\n{peter_line}"),
        format!("{GO_TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="),
        format!("{GO_TEXT}\n{peter_line}Unexpected line.\n"),
    ];
    for text in &bad {
        assert!(
            matches!(
                open(text, std::slice::from_ref(&peter)),
                Err(Error::MalformedNote(_))
            ),
            "accepted {text:?}"
        );
    }
}

#[test]
fn go_reference_key_manglings_are_rejected() {
    // As the reference tests: every proper substring, and every single-byte increment.
    for key in [GO_PETER_VKEY, GO_ENOCH_VKEY] {
        let bytes = key.as_bytes();
        for i in 0..=bytes.len() {
            for j in i + 1..=bytes.len() {
                if (i, j) != (0, bytes.len()) {
                    assert!(NoteVerifier::parse(&key[i..j]).is_err(), "{}", &key[i..j]);
                }
            }
        }
        for i in 0..bytes.len() {
            let mut mangled = bytes.to_vec();
            mangled[i] += 1;
            let mangled = String::from_utf8(mangled).unwrap();
            assert!(NoteVerifier::parse(&mangled).is_err(), "{mangled}");
        }
    }
    // Wrong key length and unknown algorithm, each with a matching key ID.
    assert!(NoteVerifier::parse(
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
    )
    .is_err());
    assert!(NoteVerifier::parse(
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    )
    .is_err());
    let bytes = GO_PETER_SKEY.as_bytes();
    for i in 0..bytes.len() {
        let mut mangled = bytes.to_vec();
        mangled[i] += 1;
        let mangled = String::from_utf8(mangled).unwrap();
        assert!(NoteSigner::from_private_key(&mangled).is_err(), "{mangled}");
    }
}

// ---------------------------------------------------------------------------------
// Notes and cosignatures
// ---------------------------------------------------------------------------------

const ORIGIN: &str = "ledger.example/test";

fn log_key() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[21; 32]).unwrap()
}

fn auditor() -> CosignatureSigner {
    CosignatureSigner::from_seed("auditor.example/a1", &[22; 32]).unwrap()
}

fn checkpoint(size: u64) -> Checkpoint {
    Checkpoint::new(ORIGIN, size, HashAlg::Blake3.digest(&size.to_be_bytes()))
}

#[test]
fn extra_unknown_signatures_do_not_stop_verification() {
    let strangers: Vec<NoteSigner> = (0..20)
        .map(|i| NoteSigner::from_seed(&format!("stranger{i}.example"), &[i; 32]).unwrap())
        .collect();
    let body = checkpoint(5).to_body();
    let mut signers: Vec<&dyn Signer> = strangers.iter().map(|s| s as &dyn Signer).collect();
    let key = log_key();
    signers.insert(7, &key);
    let text = sign_body(&body, &signers).unwrap();
    let text = sign_parsed(&text, &[&auditor().at(1_700_000_000)]).unwrap();
    let (opened, note) = open_checkpoint(&text, &key.verifier()).unwrap();
    assert_eq!(opened, checkpoint(5));
    assert_eq!(note.verified().len(), 1);
    assert_eq!(note.unverified().len(), 21);
    // Foreign signature lines of unknown types and sizes are ignored too.
    let foreign = format!("{text}\u{2014} other.example/ecdsa AgAAAAEC\n");
    assert!(open_checkpoint(&foreign, &key.verifier()).is_ok());
}

#[test]
fn every_single_byte_flip_of_the_body_is_rejected() {
    let key = log_key();
    let text = sign_checkpoint(&checkpoint(1234), &key).unwrap();
    let body_len = checkpoint(1234).to_body().len();
    let verifier = key.verifier();
    for position in 0..body_len {
        for flip in [0x01u8, 0x02, 0x20, 0x80, 0xff] {
            let mut bytes = text.clone().into_bytes();
            bytes[position] ^= flip;
            // Not UTF-8 is not a note at all; otherwise it must not open.
            if let Ok(tampered) = String::from_utf8(bytes) {
                assert!(
                    open(&tampered, std::slice::from_ref(&verifier)).is_err(),
                    "flip {flip:#x} at {position} verified"
                );
                assert!(open_checkpoint(&tampered, &verifier).is_err());
            }
        }
    }
}

#[test]
fn cosignatures_round_trip_and_do_not_move_between_checkpoints() {
    let key = log_key();
    let auditor = auditor();
    let auditor_vkey = auditor.verifier_key();
    let auditor_verifier = NoteVerifier::parse(&auditor_vkey).unwrap();
    assert_eq!(
        auditor_verifier.signature_type(),
        SignatureType::CosignatureV1
    );
    // Round trip through the signer key text, too.
    let auditor = CosignatureSigner::from_private_key(&auditor.to_private_key()).unwrap();

    let first = sign_checkpoint(&checkpoint(10), &key).unwrap();
    let cosigned = sign_parsed(&first, &[&auditor.at(1_700_000_123)]).unwrap();
    let (opened, note) = open_checkpoint_with_cosigners(
        &cosigned,
        &key.verifier(),
        std::slice::from_ref(&auditor_verifier),
    )
    .unwrap();
    assert_eq!(opened.size, 10);
    assert_eq!(
        note.cosignature_time(&auditor_verifier),
        Some(1_700_000_123)
    );

    // Move the cosignature line onto another checkpoint signed by the same log.
    let cosignature_line = &cosigned[first.len()..];
    let second = sign_checkpoint(&checkpoint(11), &key).unwrap();
    let moved = format!("{second}{cosignature_line}");
    assert!(matches!(
        open_checkpoint_with_cosigners(
            &moved,
            &key.verifier(),
            std::slice::from_ref(&auditor_verifier)
        ),
        Err(Error::UnverifiedNote)
    ));
    // The log signature alone still opens it; the bad cosignature is then unknown.
    assert!(open_checkpoint(&moved, &key.verifier()).is_ok());
    // Cosigning twice replaces the first cosignature.
    let recosigned = sign_parsed(&cosigned, &[&auditor.at(1_700_000_999)]).unwrap();
    assert_eq!(Note::parse(&recosigned).unwrap().signatures().len(), 2);
    let (_, note) = open_checkpoint_with_cosigners(
        &recosigned,
        &key.verifier(),
        std::slice::from_ref(&auditor_verifier),
    )
    .unwrap();
    assert_eq!(
        note.cosignature_time(&auditor_verifier),
        Some(1_700_000_999)
    );
    // Adding more log-style signatures keeps the cosignature.
    let other = NoteSigner::from_seed("mirror.example", &[23; 32]).unwrap();
    let more = sign_parsed(&recosigned, &[&other]).unwrap();
    let note = open(&more, &[auditor_verifier.clone(), other.verifier()]).unwrap();
    assert_eq!(note.verified().len(), 2);
}

// ---------------------------------------------------------------------------------
// Tiles
// ---------------------------------------------------------------------------------

fn any_tile_path() -> impl Strategy<Value = TilePath> {
    prop_oneof![
        (0u8..=63, any::<u64>(), 1u16..=256).prop_map(|(level, index, width)| TilePath::Hash {
            level,
            index,
            width
        }),
        (any::<u64>(), 1u16..=256).prop_map(|(index, width)| TilePath::Entries { index, width }),
        (0u64..5_000, 1u16..=256).prop_map(|(index, width)| TilePath::Entries { index, width }),
    ]
}

proptest! {
    #[test]
    fn tile_paths_round_trip(path in any_tile_path()) {
        let text = path.to_string();
        prop_assert_eq!(TilePath::parse(&text).unwrap(), path);
    }

    #[test]
    fn tile_paths_of_a_tree_round_trip(size in 0u64..100_000) {
        for path in tiles_for_size(size) {
            prop_assert!(path.is_valid());
            prop_assert_eq!(TilePath::parse(&path.to_string()).unwrap(), path);
        }
    }

    #[test]
    fn bundles_round_trip(entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 1..40)) {
        let borrowed: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        let bytes = encode_entry_bundle(&borrowed).unwrap();
        prop_assert_eq!(decode_entry_bundle(&bytes).unwrap(), borrowed);
    }
}

#[test]
fn invalid_tile_paths_are_rejected() {
    let table = [
        ("tile/0/1234067", "index not in groups"),
        ("tile/0/x1/x234/067", "short group"),
        ("tile/0/x001/x234/67", "short last group"),
        ("tile/0/x001/x234/x067", "x on the last group"),
        ("tile/0/001/x234/067", "no x on a leading group"),
        ("tile/0/x000/x001/234", "leading zero group"),
        ("tile/0/x001/x234/067.p/0", "zero width"),
        (
            "tile/0/x001/x234/067.p/256",
            "full width written as partial",
        ),
        ("tile/0/x001/x234/067.p/008", "width with leading zeros"),
        ("tile/0/x001/x234/067.p", "missing width"),
        ("tile/64/000", "level above 63"),
        ("tile/007/000", "level with leading zeros"),
        ("tile/entries/000.p/300", "width above 256"),
        (
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "index beyond u64",
        ),
        ("https://log.example/tile/0/000", "prefix included"),
        ("tile/0/000?x=1", "query string"),
        ("checkpoint", "not a tile"),
    ];
    for (path, why) in table {
        assert!(
            matches!(TilePath::parse(path), Err(Error::MalformedTile(_))),
            "{why}: {path} accepted"
        );
    }
}

#[test]
fn malformed_bundles_and_tiles_are_rejected() {
    let good = encode_entry_bundle(&[b"first", b"second"]).unwrap();
    assert_eq!(
        decode_entry_bundle_with_width(&good, 2).unwrap(),
        vec![&b"first"[..], b"second"]
    );
    let table: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "empty"),
        (good[..good.len() - 1].to_vec(), "last entry cut short"),
        (good[..8].to_vec(), "cut inside a length prefix"),
        ([good.clone(), vec![0]].concat(), "a stray byte"),
        (
            [good.clone(), vec![0, 9, 1]].concat(),
            "a third entry cut short",
        ),
        ([0, 0].repeat(257), "257 entries"),
    ];
    for (bytes, why) in table {
        assert!(
            matches!(decode_entry_bundle(&bytes), Err(Error::MalformedTile(_))),
            "{why}"
        );
    }
    assert!(decode_entry_bundle_with_width(&good, 3).is_err());
    let hashes: Vec<Hash> = vec![Hash([1; 32]), Hash([2; 32]), Hash([3; 32])];
    let tile = encode_hash_tile(&hashes).unwrap();
    assert_eq!(decode_hash_tile(&tile, 3).unwrap(), hashes);
    assert!(decode_hash_tile(&tile, 4).is_err());
    assert!(decode_hash_tile(&tile[1..], 3).is_err());
}

// ---------------------------------------------------------------------------------
// Receipts
// ---------------------------------------------------------------------------------

/// RFC 6962 MTH over leaf hashes.
fn mth(alg: HashAlg, leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => alg.empty_root(),
        1 => leaves[0],
        n => {
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            alg.node_hash(&mth(alg, &leaves[..k]), &mth(alg, &leaves[k..]))
        }
    }
}

/// RFC 6962 PATH(index, leaves).
fn inclusion_path(alg: HashAlg, index: usize, leaves: &[Hash]) -> Vec<Hash> {
    if leaves.len() <= 1 {
        return Vec::new();
    }
    let k = 1usize << (usize::BITS - 1 - (leaves.len() - 1).leading_zeros());
    let (mut path, sibling) = if index < k {
        (
            inclusion_path(alg, index, &leaves[..k]),
            mth(alg, &leaves[k..]),
        )
    } else {
        (
            inclusion_path(alg, index - k, &leaves[k..]),
            mth(alg, &leaves[..k]),
        )
    };
    path.push(sibling);
    path
}

struct Log {
    alg: HashAlg,
    entries: Vec<Vec<u8>>,
    leaves: Vec<Hash>,
}

impl Log {
    fn new(alg: HashAlg, entries: Vec<Vec<u8>>) -> Log {
        let leaves = entries.iter().map(|e| alg.leaf_hash(e)).collect();
        Log {
            alg,
            entries,
            leaves,
        }
    }

    fn checkpoint_note(&self, origin_key: &NoteSigner) -> String {
        let checkpoint = Checkpoint::new(
            origin_key.name(),
            self.leaves.len() as u64,
            mth(self.alg, &self.leaves),
        );
        sign_checkpoint(&checkpoint, origin_key).unwrap()
    }

    fn receipt(&self, index: usize, key: &NoteSigner) -> Receipt {
        Receipt::new(
            index as u64,
            inclusion_path(self.alg, index, &self.leaves),
            self.checkpoint_note(key),
        )
    }
}

#[test]
fn receipts_round_trip_and_corruptions_are_rejected() {
    let key = log_key();
    let verifier = key.verifier();
    for alg in [HashAlg::Blake3, HashAlg::Sha256] {
        let entries: Vec<Vec<u8>> = (0..21)
            .map(|i| format!("signature {i}").into_bytes())
            .collect();
        let log = Log::new(alg, entries);
        for index in [0, 1, 9, 16, 20] {
            let receipt = log.receipt(index, &key);
            let text = receipt.to_text();
            let parsed = Receipt::parse(&text).unwrap();
            assert_eq!(parsed, receipt);
            let opened = parsed.verify(alg, &log.entries[index], &verifier).unwrap();
            assert_eq!(opened.size, 21);
            assert!(parsed
                .verify_leaf_hash(alg, &log.leaves[index], &verifier)
                .is_ok());

            // Wrong index.
            let mut wrong = parsed.clone();
            wrong.index = (index as u64 + 1) % 21;
            assert!(matches!(
                wrong.verify(alg, &log.entries[index], &verifier),
                Err(Error::ProofFailed)
            ));
            // A flipped bit in any proof hash.
            for h in 0..parsed.proof.len() {
                let mut flipped = parsed.clone();
                flipped.proof[h].0[31] ^= 0x01;
                assert!(matches!(
                    flipped.verify(alg, &log.entries[index], &verifier),
                    Err(Error::ProofFailed)
                ));
            }
            // A different checkpoint (a longer log, same key).
            let mut longer_entries = log.entries.clone();
            longer_entries.push(b"one more".to_vec());
            let longer = Log::new(alg, longer_entries);
            let mut swapped = parsed.clone();
            swapped.checkpoint_note = longer.checkpoint_note(&key);
            assert!(matches!(
                swapped.verify(alg, &log.entries[index], &verifier),
                Err(Error::ProofFailed)
            ));
            // A checkpoint note with its body edited.
            let mut edited = parsed.clone();
            edited.checkpoint_note = edited.checkpoint_note.replacen("\n21\n", "\n22\n", 1);
            assert!(matches!(
                edited.verify(alg, &log.entries[index], &verifier),
                Err(Error::UnverifiedNote)
            ));
            // Truncated text, at every length.
            for cut in 0..text.len() {
                if text.is_char_boundary(cut) {
                    assert!(Receipt::parse(&text[..cut]).is_err(), "cut at {cut}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// The worked example of docs/FORMAT.md part C, pinned
// ---------------------------------------------------------------------------------

/// Seed bytes `start, start + 1, ..., start + 31`.
fn counting_seed(start: u8) -> [u8; 32] {
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = start + i as u8;
    }
    seed
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct WorkedExample {
    log_skey: String,
    log_vkey: String,
    auditor_vkey: String,
    leaf_hashes: Vec<String>,
    root: String,
    checkpoint_note: String,
    cosigned_note: String,
    receipt: String,
    tiles: Vec<String>,
    level0_tile_hex: String,
    bundle_hex: String,
    tally_text: String,
    tally_note: String,
}

fn worked_example() -> WorkedExample {
    let alg = HashAlg::Blake3;
    let log_key = NoteSigner::from_seed("ledger.example/demo", &counting_seed(0x00)).unwrap();
    let auditor = CosignatureSigner::from_seed("auditor.example/a1", &counting_seed(0x20)).unwrap();
    let entries: Vec<&[u8]> = vec![b"entry 0", b"entry 1", b"entry 2"];
    let leaves: Vec<Hash> = entries.iter().map(|e| alg.leaf_hash(e)).collect();
    let root = mth(alg, &leaves);
    let checkpoint = Checkpoint::new(log_key.name(), 3, root);
    let checkpoint_note = sign_checkpoint(&checkpoint, &log_key).unwrap();
    let cosigned_note = sign_parsed(&checkpoint_note, &[&auditor.at(1_700_000_000)]).unwrap();
    let receipt = Receipt::new(1, inclusion_path(alg, 1, &leaves), cosigned_note.clone());
    let tally_text = "motions/passed 1\npetition/uk-detwin/total 2\n".to_string();
    let tally_body = format!(
        "campaign-ledger/tally/v1\nledger.example/demo\n3\n{}\nprojector/1\n{}\n",
        BASE64.encode(root),
        BASE64.encode(alg.digest(tally_text.as_bytes()))
    );
    let tally_note = sign_body(&tally_body, &[&log_key]).unwrap();
    let tally_note = sign_parsed(&tally_note, &[&auditor.at(1_700_000_000)]).unwrap();
    WorkedExample {
        log_skey: log_key.to_private_key(),
        log_vkey: log_key.verifier_key(),
        auditor_vkey: auditor.verifier_key(),
        leaf_hashes: leaves.iter().map(|h| hex(h.as_bytes())).collect(),
        root: BASE64.encode(root),
        checkpoint_note,
        cosigned_note,
        receipt: receipt.to_text(),
        tiles: tiles_for_size(3).iter().map(TilePath::to_string).collect(),
        level0_tile_hex: hex(&encode_hash_tile(&leaves).unwrap()),
        bundle_hex: hex(&encode_entry_bundle(&entries).unwrap()),
        tally_text,
        tally_note,
    }
}

#[test]
fn the_worked_example_verifies() {
    let w = worked_example();
    let log = NoteVerifier::parse(&w.log_vkey).unwrap();
    let auditor = NoteVerifier::parse(&w.auditor_vkey).unwrap();
    let (checkpoint, note) =
        open_checkpoint_with_cosigners(&w.cosigned_note, &log, std::slice::from_ref(&auditor))
            .unwrap();
    assert_eq!(checkpoint.size, 3);
    assert_eq!(note.cosignature_time(&auditor), Some(1_700_000_000));
    let receipt = Receipt::parse(&w.receipt).unwrap();
    assert_eq!(
        receipt.verify(HashAlg::Blake3, b"entry 1", &log).unwrap(),
        checkpoint
    );
    let tally = open(&w.tally_note, &[log, auditor]).unwrap();
    assert_eq!(tally.verified().len(), 2);
    let leaves: Vec<Hash> = decode_hash_tile(
        &(0..w.level0_tile_hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&w.level0_tile_hex[i..i + 2], 16).unwrap())
            .collect::<Vec<u8>>(),
        3,
    )
    .unwrap();
    assert_eq!(
        BASE64.encode(tile_root(HashAlg::Blake3, &leaves).unwrap()),
        w.root
    );
}

#[test]
fn the_worked_example_matches_format_notes() {
    let w = worked_example();
    assert_eq!(w.log_skey, WORKED_LOG_SKEY);
    assert_eq!(w.log_vkey, WORKED_LOG_VKEY);
    assert_eq!(w.auditor_vkey, WORKED_AUDITOR_VKEY);
    assert_eq!(w.leaf_hashes, WORKED_LEAF_HASHES);
    assert_eq!(w.root, WORKED_ROOT);
    assert_eq!(w.checkpoint_note, WORKED_CHECKPOINT_NOTE);
    assert_eq!(w.cosigned_note, WORKED_COSIGNED_NOTE);
    assert_eq!(w.receipt, WORKED_RECEIPT);
    assert_eq!(w.tiles, WORKED_TILES);
    assert_eq!(w.level0_tile_hex, WORKED_LEVEL0_TILE_HEX);
    assert_eq!(w.bundle_hex, WORKED_BUNDLE_HEX);
    assert_eq!(w.tally_text, WORKED_TALLY_TEXT);
    assert_eq!(w.tally_note, WORKED_TALLY_NOTE);
}

const WORKED_LOG_SKEY: &str =
    "PRIVATE+KEY+ledger.example/demo+7b8488d1+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f";
const WORKED_LOG_VKEY: &str =
    "ledger.example/demo+7b8488d1+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
const WORKED_AUDITOR_VKEY: &str =
    "auditor.example/a1+a1e08b30+BCmsuuFBvMrwsi4alNNNC8c2HlJtC/4SyJeUvJMilm3X";
const WORKED_LEAF_HASHES: [&str; 3] = [
    "e32df136ac001fc9ce15ea296ed6d6dad4880d42e00bd4cee357b8719abd3011",
    "0ff9ec8d4be40955e2dc844a0fd73619288f837027490ee9b3ad5c7265b3c103",
    "58ad0e79a73219a52781cbd1676f41770af9b5d78b496f9656f583e7d9c6e4c1",
];
const WORKED_ROOT: &str = "k+XnMmuh85nbHCdP1lgqIX3POgRxzvDlTSqsYFQIbeQ=";
const WORKED_CHECKPOINT_NOTE: &str = "ledger.example/demo
3
k+XnMmuh85nbHCdP1lgqIX3POgRxzvDlTSqsYFQIbeQ=

— ledger.example/demo e4SI0cpyBjrkodh0vJYz5ObznUQ7QXsZVtUIASsmWExckQ+yVE0qhPUeCBDnxJHzC8XtjQsDoXC4dZi7DGjHiC5eiQU=
";
const WORKED_COSIGNED_NOTE: &str = "ledger.example/demo
3
k+XnMmuh85nbHCdP1lgqIX3POgRxzvDlTSqsYFQIbeQ=

— ledger.example/demo e4SI0cpyBjrkodh0vJYz5ObznUQ7QXsZVtUIASsmWExckQ+yVE0qhPUeCBDnxJHzC8XtjQsDoXC4dZi7DGjHiC5eiQU=
— auditor.example/a1 oeCLMAAAAABlU/EAzTT/35/QtvmHdLksC/mvQUANe5cWdByfGxHwR4G09KmMHGWQkEL0WyTOyphBBP9DqUWaiv0v3bWD9XMfk8a4AA==
";
const WORKED_RECEIPT: &str = "c2sp.org/tlog-proof@v1
index 1
4y3xNqwAH8nOFeopbtbW2tSIDULgC9TO41e4cZq9MBE=
WK0OeacyGaUngcvRZ29Bdwr5tdeLSW+WVvWD59nG5ME=

ledger.example/demo
3
k+XnMmuh85nbHCdP1lgqIX3POgRxzvDlTSqsYFQIbeQ=

— ledger.example/demo e4SI0cpyBjrkodh0vJYz5ObznUQ7QXsZVtUIASsmWExckQ+yVE0qhPUeCBDnxJHzC8XtjQsDoXC4dZi7DGjHiC5eiQU=
— auditor.example/a1 oeCLMAAAAABlU/EAzTT/35/QtvmHdLksC/mvQUANe5cWdByfGxHwR4G09KmMHGWQkEL0WyTOyphBBP9DqUWaiv0v3bWD9XMfk8a4AA==
";
const WORKED_TILES: [&str; 2] = ["tile/0/000.p/3", "tile/entries/000.p/3"];
const WORKED_LEVEL0_TILE_HEX: &str = "\
    e32df136ac001fc9ce15ea296ed6d6dad4880d42e00bd4cee357b8719abd3011\
    0ff9ec8d4be40955e2dc844a0fd73619288f837027490ee9b3ad5c7265b3c103\
    58ad0e79a73219a52781cbd1676f41770af9b5d78b496f9656f583e7d9c6e4c1";
const WORKED_BUNDLE_HEX: &str = "0007656e74727920300007656e74727920310007656e7472792032";
const WORKED_TALLY_TEXT: &str = "motions/passed 1
petition/uk-detwin/total 2
";
const WORKED_TALLY_NOTE: &str = "campaign-ledger/tally/v1
ledger.example/demo
3
k+XnMmuh85nbHCdP1lgqIX3POgRxzvDlTSqsYFQIbeQ=
projector/1
TIZo+XgUgp6oddRnl5sfhVFJ3N3+kdqkkky0ZZTLcH0=

— ledger.example/demo e4SI0b4RRNy8Wf0BjaYzYaN6f2RvAdtderFN14Gw2BgIjdpM5oHNCvPelIK0ohtehh3LfcpYj9bjqRUlAy9oucoSNgY=
— auditor.example/a1 oeCLMAAAAABlU/EABWBw9dr2JIUJOvqBzvwet4zHuaESW7RHcv+AHdd7SqYZCGmS6Qe8a2GQYMNX5VxEvBNm5z0U2iKQvbpd7iwYDA==
";
