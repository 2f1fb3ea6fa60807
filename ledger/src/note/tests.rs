//! The note module's unit tests.

use super::*;

/// Signs a new note with `body` (also for the checkpoint and receipt tests).
pub(crate) fn sign_body(body: &str, signers: &[&dyn Signer]) -> Result<String> {
    sign(Note::new(body)?, signers)
}

/// Adds signatures to the signed note `text`.
pub(crate) fn sign_parsed(text: &str, signers: &[&dyn Signer]) -> Result<String> {
    sign(Note::parse(text)?, signers)
}

const BODY: &str = "example.org/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

fn seed(byte: u8) -> [u8; 32] {
    [byte; 32]
}

fn log_key() -> NoteSigner {
    NoteSigner::from_seed("example.org/log", &seed(1)).unwrap()
}

fn other_key() -> NoteSigner {
    NoteSigner::from_seed("example.org/other", &seed(2)).unwrap()
}

fn witness() -> CosignatureSigner {
    CosignatureSigner::from_seed("witness.example/w1", &seed(3)).unwrap()
}

#[test]
fn key_names_follow_the_spec() {
    for good in [
        "a",
        "example.com/log42",
        "sum.golang.org",
        "ünïcødé/名前",
        "a\u{7f}",
    ] {
        assert!(is_valid_key_name(good), "{good:?}");
    }
    for bad in [
        "",
        "a b",
        "a+b",
        "a\tb",
        "a\nb",
        "a\u{a0}b",
        "a\u{2003}b",
        "a\u{1}b",
    ] {
        assert!(!is_valid_key_name(bad), "{bad:?}");
        assert!(NoteSigner::from_seed(bad, &seed(1)).is_err());
        assert!(NoteSignature::new(bad, 1, vec![1]).is_err());
    }
}

#[test]
fn key_id_is_truncated_sha256_of_name_type_and_key() {
    let signer = log_key();
    let public_key = signer.verifier().public_key();
    let mut preimage = b"example.org/log\n\x01".to_vec();
    preimage.extend_from_slice(&public_key);
    let digest = Sha256::digest(&preimage);
    let expected = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    assert_eq!(signer.key_id(), expected);
    assert_eq!(
        key_id("example.org/log", SignatureType::Ed25519, &public_key),
        expected
    );
    // The same key as a cosigner has another ID.
    let cosigner = CosignatureSigner::from_seed("example.org/log", &seed(1)).unwrap();
    assert_ne!(cosigner.key_id(), signer.key_id());
}

#[test]
fn keys_round_trip_through_their_text_forms() {
    let signer = log_key();
    let skey = signer.to_private_key();
    assert!(skey.starts_with(&format!(
        "PRIVATE+KEY+example.org/log+{:08x}+",
        signer.key_id()
    )));
    let again = NoteSigner::from_private_key(&skey).unwrap();
    assert_eq!(again.to_private_key(), skey);
    let vkey = signer.verifier_key();
    assert_eq!(
        vkey,
        format!("example.org/log+{:08x}+{}", signer.key_id(), &vkey[25..])
    );
    let verifier: NoteVerifier = vkey.parse().unwrap();
    assert_eq!(verifier, signer.verifier());
    assert_eq!(verifier.to_string(), vkey);
    assert_eq!(verifier.signature_type(), SignatureType::Ed25519);

    let w = witness();
    let wkey = w.to_private_key();
    assert_eq!(
        CosignatureSigner::from_private_key(&wkey)
            .unwrap()
            .to_private_key(),
        wkey
    );
    let wv = NoteVerifier::parse(&w.verifier_key()).unwrap();
    assert_eq!(wv.signature_type(), SignatureType::CosignatureV1);
    assert_eq!(wv.key_id(), w.key_id());
    // A cosigner key is not a note signing key; a note key can be used to cosign.
    assert!(matches!(
        NoteSigner::from_private_key(&wkey),
        Err(Error::MalformedKey(_))
    ));
    let converted = CosignatureSigner::from_private_key(&skey).unwrap();
    assert_eq!(
        converted.verifier().public_key(),
        signer.verifier().public_key()
    );
    assert_ne!(converted.key_id(), signer.key_id());
}

#[test]
fn debug_output_never_shows_the_secret() {
    let signer = log_key();
    let shown = format!("{signer:?} {:?}", witness());
    let secret = &signer.to_private_key()[signer.to_private_key().rfind('+').unwrap() + 1..];
    assert!(!shown.contains(secret));
    assert!(shown.contains("example.org/log"));
}

#[test]
fn mangled_keys_are_rejected() {
    let vkey = log_key().verifier_key();
    let skey = log_key().to_private_key();
    for key in [&vkey, &skey] {
        let bytes = key.as_bytes();
        for i in 0..bytes.len() {
            let mut mangled = bytes.to_vec();
            mangled[i] = mangled[i].wrapping_add(1);
            if let Ok(text) = String::from_utf8(mangled) {
                assert!(NoteVerifier::parse(&text).is_err(), "{text}");
                assert!(NoteSigner::from_private_key(&text).is_err(), "{text}");
            }
            for j in i + 1..=bytes.len() {
                if (i, j) != (0, bytes.len()) {
                    let part = &key[i..j];
                    assert!(NoteVerifier::parse(part).is_err(), "{part}");
                    assert!(NoteSigner::from_private_key(part).is_err(), "{part}");
                }
            }
        }
    }
    // Upper-case hex and unknown types are refused.
    let upper = vkey.replacen(&vkey[16..24], &vkey[16..24].to_uppercase(), 1);
    if upper != vkey {
        assert!(NoteVerifier::parse(&upper).is_err());
    }
}

#[test]
fn weak_and_non_canonical_public_keys_are_rejected() {
    // The identity point, canonical and not.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(NoteVerifier::from_public_key("a", SignatureType::Ed25519, &identity).is_err());
    // y + p for small y: non-canonical encodings (2^255 - 19 + y).
    for y in 0u8..19 {
        let mut bytes = [0xffu8; 32];
        bytes[31] = 0x7f;
        bytes[0] = 0xed + y;
        assert!(
            NoteVerifier::from_public_key("a", SignatureType::Ed25519, &bytes).is_err(),
            "y = {y}"
        );
    }
}

#[test]
fn sign_and_open_round_trip() {
    let signer = log_key();
    let text = sign_body(BODY, &[&signer]).unwrap();
    assert!(text.starts_with(BODY));
    assert!(text[BODY.len()..].starts_with("\n\u{2014} example.org/log "));
    let verified = open(&text, &[signer.verifier()]).unwrap();
    assert_eq!(verified.body(), BODY);
    assert_eq!(verified.verified().len(), 1);
    assert!(verified.is_verified_by(&signer.verifier()));
    assert_eq!(verified.verified()[0].timestamp, None);
    assert!(open(&text, &[other_key().verifier()]).is_err());
    // Parsing and writing is the identity.
    assert_eq!(Note::parse(&text).unwrap().to_text().unwrap(), text);
}

#[test]
fn unknown_signatures_are_ignored_but_kept() {
    let text = sign_body(BODY, &[&other_key(), &log_key()]).unwrap();
    let verified = open(&text, &[log_key().verifier()]).unwrap();
    assert_eq!(verified.verified().len(), 1);
    assert_eq!(verified.unverified().len(), 1);
    assert_eq!(verified.unverified()[0].name(), "example.org/other");
    // No known key at all.
    assert!(matches!(open(&text, &[]), Err(Error::UnverifiedNote)));
    let stranger = NoteSigner::from_seed("stranger", &seed(9)).unwrap();
    assert!(matches!(
        open(&text, &[stranger.verifier()]),
        Err(Error::UnverifiedNote)
    ));
}

#[test]
fn same_name_or_same_id_alone_is_an_unknown_key() {
    let text = sign_body(BODY, &[&log_key()]).unwrap();
    // Same name, different key (so different ID): unknown, so unverified.
    let impostor = NoteSigner::from_seed("example.org/log", &seed(7)).unwrap();
    assert!(matches!(
        open(&text, &[impostor.verifier()]),
        Err(Error::UnverifiedNote)
    ));
    // Same ID, different name: a line with a renamed key is ignored.
    let renamed = text.replace("\u{2014} example.org/log ", "\u{2014} example.org/other ");
    assert!(matches!(
        open(&renamed, &[log_key().verifier()]),
        Err(Error::UnverifiedNote)
    ));
}

#[test]
fn a_bad_signature_by_a_known_key_rejects_the_note() {
    let good = sign_body(BODY, &[&log_key(), &other_key()]).unwrap();
    let mut note = Note::parse(&good).unwrap();
    let mut bad = note.signatures()[1].clone();
    bad.signature[0] ^= 1;
    note.add_signature(bad).unwrap();
    let text = note.to_text().unwrap();
    // Still fine for someone who only knows the log key...
    assert!(open(&text, &[log_key().verifier()]).is_ok());
    // ...but rejected by someone who knows the key whose signature is bad.
    assert!(matches!(
        open(&text, &[log_key().verifier(), other_key().verifier()]),
        Err(Error::UnverifiedNote)
    ));
}

#[test]
fn repeated_signatures_count_once() {
    let line = log_key().sign(BODY).unwrap().to_line();
    let text = format!("{BODY}\n{line}{line}{line}");
    let verified = open(&text, &[log_key().verifier()]).unwrap();
    assert_eq!(verified.verified().len(), 1);
    let other = other_key().sign(BODY).unwrap().to_line();
    let text = format!("{BODY}\n{other}{other}{line}");
    let verified = open(&text, &[log_key().verifier()]).unwrap();
    assert_eq!(verified.unverified().len(), 1);
    // A repeat by a known key is checked too: a bad one fails the note.
    let mut bad = line.clone().into_bytes();
    let at = bad.len() - 10;
    bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
    let bad = String::from_utf8(bad).unwrap();
    assert!(open(&format!("{BODY}\n{line}{line}"), &[log_key().verifier()]).is_ok());
    assert!(matches!(
        open(&format!("{BODY}\n{line}{bad}"), &[log_key().verifier()]),
        Err(Error::UnverifiedNote)
    ));
}

#[test]
fn signature_count_is_capped() {
    let line = log_key().sign(BODY).unwrap().to_line();
    let at_cap = format!("{BODY}\n{}", line.repeat(MAX_SIGNATURES));
    assert!(open(&at_cap, &[log_key().verifier()]).is_ok());
    let over = format!("{BODY}\n{}", line.repeat(MAX_SIGNATURES + 1));
    assert!(matches!(
        open(&over, &[log_key().verifier()]),
        Err(Error::MalformedNote(_))
    ));
    // Adding one more to a full note fails too.
    let mut note = Note::new(BODY).unwrap();
    for i in 0..MAX_SIGNATURES {
        note.add_signature(NoteSignature::new(&format!("k{i}"), 1, vec![1]).unwrap())
            .unwrap();
    }
    assert!(note
        .add_signature(NoteSignature::new("k100", 1, vec![1]).unwrap())
        .is_err());
}

#[test]
fn malformed_notes_are_rejected() {
    let line = log_key().sign(BODY).unwrap().to_line();
    let good = format!("{BODY}\n{line}");
    let sig64 = line.trim_end().rsplit(' ').next().unwrap().to_string();
    let bad = [
        BODY.to_string(),                                       // no signatures
        format!("{BODY}\n"),                                    // empty signature block
        format!("{BODY}\n{}", line.trim_end()),                 // no final newline
        format!("\u{1}{good}"),                                 // control character
        format!("{}\r\n\n{line}", BODY.trim_end()),             // carriage return
        format!("{BODY}{line}"),                                // no blank line
        format!("{BODY}\n{line}Unexpected line.\n"),            // junk after signatures
        format!("{BODY}\n- example.org/log {sig64}\n"),         // hyphen, not em dash
        format!("{BODY}\n\u{2014}example.org/log {sig64}\n"),   // no space after dash
        format!("{BODY}\n\u{2014} Bad Name {sig64}\n"),         // space in name
        format!("{BODY}\n\u{2014} a+b {sig64}\n"),              // plus in name
        format!("{BODY}\n\u{2014}  {sig64}\n"),                 // empty name
        format!("{BODY}\n\u{2014} example.org/log\n"),          // no signature
        format!("{BODY}\n\u{2014} example.org/log \n"),         // empty signature
        format!("{BODY}\n\u{2014} example.org/log AAAAAA==\n"), // too short
        format!("{BODY}\n\u{2014} example.org/log {sig64} \n"), // trailing space
        format!(
            "{BODY}\n\u{2014} example.org/log {}\n",
            &sig64[..sig64.len() - 1]
        ), // no padding
        format!("{BODY}\n{line}\n"),                            // blank line at the end
    ];
    for text in &bad {
        assert!(
            matches!(
                open(text, &[log_key().verifier()]),
                Err(Error::MalformedNote(_))
            ),
            "accepted {text:?}"
        );
    }
    // A blank line between signatures makes the first one part of the text, so the
    // remaining signature no longer covers it.
    let split = format!("{BODY}\n{line}\n{line}");
    assert_eq!(
        Note::parse(&split).unwrap().body(),
        format!("{BODY}\n{line}")
    );
    assert!(matches!(
        open(&split, &[log_key().verifier()]),
        Err(Error::UnverifiedNote)
    ));
}

#[test]
fn bodies_must_end_in_newline_and_be_clean() {
    let signer = log_key();
    for body in ["", "abc", "a\n\u{7}\n", "a\r\n"] {
        assert!(sign_body(body, &[&signer]).is_err(), "{body:?}");
    }
    assert!(sign_body(BODY, &[]).is_err());
    // Bodies may contain blank lines, even at the end.
    for body in ["\n", "a\n\nb\n", "a\n\n", "\u{2014} x y\n\n\u{2014} z w\n"] {
        let text = sign_body(body, &[&signer]).unwrap();
        assert_eq!(open(&text, &[signer.verifier()]).unwrap().body(), body);
    }
}

#[test]
fn adding_signatures_replaces_earlier_ones_by_the_same_key() {
    let text = sign_body(BODY, &[&log_key()]).unwrap();
    let text = sign_parsed(&text, &[&other_key(), &log_key()]).unwrap();
    let note = Note::parse(&text).unwrap();
    let names: Vec<&str> = note.signatures().iter().map(|s| s.name()).collect();
    assert_eq!(names, ["example.org/other", "example.org/log"]);
    let verified = open(&text, &[log_key().verifier(), other_key().verifier()]).unwrap();
    assert_eq!(verified.verified().len(), 2);
}

#[test]
fn ambiguous_verifiers_are_refused() {
    let text = sign_body(BODY, &[&log_key()]).unwrap();
    let v = log_key().verifier();
    // The same verifier twice is harmless.
    assert!(open(&text, &[v.clone(), v.clone()]).is_ok());
    // A different key claiming the same name and ID is a configuration error.
    let mut forged = other_key().verifier();
    forged.name = v.name.clone();
    forged.key_id = v.key_id;
    assert!(matches!(
        open(&text, &[v, forged]),
        Err(Error::MalformedKey(_))
    ));
}

#[test]
fn cosignatures_round_trip_and_state_their_time() {
    let text = sign_body(BODY, &[&log_key()]).unwrap();
    let cosigned = sign_parsed(&text, &[&witness().at(1_679_315_147)]).unwrap();
    let verified = open(&cosigned, &[log_key().verifier(), witness().verifier()]).unwrap();
    assert_eq!(verified.verified().len(), 2);
    assert_eq!(
        verified.cosignature_time(&witness().verifier()),
        Some(1_679_315_147)
    );
    assert_eq!(verified.cosignature_time(&log_key().verifier()), None);
    let parsed = Note::parse(&cosigned).unwrap();
    let cosig = &parsed.signatures()[1];
    assert_eq!(cosig.signature_bytes().len(), 72);
    assert_eq!(cosig.cosignature_time(), Some(1_679_315_147));
    // The witness alone is enough to open the note, as a note.
    assert!(open(&cosigned, &[witness().verifier()]).is_ok());
}

#[test]
fn cosignatures_bind_body_and_time() {
    let w = witness();
    let line = w.at(1000).sign(BODY).map(|s| s.to_line()).unwrap();
    let other_body = BODY.replace("\n3\n", "\n4\n");
    let moved = format!("{other_body}\n{line}");
    assert!(matches!(
        open(&moved, &[w.verifier()]),
        Err(Error::UnverifiedNote)
    ));
    // Change the stated time: the signature no longer checks.
    let mut signature = NoteSignature::parse_line(&line).unwrap();
    signature.signature[7] ^= 1;
    let text = format!("{BODY}\n{}", signature.to_line());
    assert!(matches!(
        open(&text, &[w.verifier()]),
        Err(Error::UnverifiedNote)
    ));
    // A plain Ed25519 verifier of the same key does not accept a cosignature.
    let plain =
        NoteVerifier::from_public_key(w.name(), SignatureType::Ed25519, &w.verifier().public_key())
            .unwrap();
    assert!(open(&format!("{BODY}\n{line}"), &[plain]).is_err());
    // Times beyond 2^63 - 1 are refused.
    assert!(w
        .at(MAX_COSIGNATURE_TIME)
        .sign(BODY)
        .map(|s| s.to_line())
        .is_ok());
    assert!(w
        .at(MAX_COSIGNATURE_TIME + 1)
        .sign(BODY)
        .map(|s| s.to_line())
        .is_err());
    assert!(w.sign(BODY).map(|s| s.to_line()).is_ok());
}

#[test]
fn the_cosignature_message_is_header_time_then_body() {
    assert_eq!(
        cosignature_message("o\n1\nAA==\n", 42),
        "cosignature/v1\ntime 42\no\n1\nAA==\n"
    );
}

#[test]
fn signature_lines_round_trip() {
    let line = log_key().sign(BODY).unwrap().to_line();
    let signature = NoteSignature::parse_line(&line).unwrap();
    assert_eq!(signature.to_line(), line);
    assert_eq!(signature.key_id(), log_key().key_id());
    assert_eq!(signature.cosignature_time(), None);
    assert!(NoteSignature::parse_line(line.trim_end()).is_err());
    assert!(NoteSignature::parse_line(&format!("{line}\n")).is_err());
    assert!(NoteSignature::new("a", 1, vec![]).is_err());
}
