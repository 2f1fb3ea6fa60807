//! C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>): the signed tree head.
//!
//! What it is: the checkpoint body `<origin>\n<tree size>\n<base64 root>\n` followed by
//! optional extension lines, parsed strictly, and helpers that sign it with the log key
//! and open it again requiring that key's signature. In this project the log key's name
//! is the origin.
//!
//! What it is not: it does not check that a checkpoint is consistent with an earlier one
//! (that is `merkle::verify_consistency`), and it does not judge cosigner quorums; it
//! reports which cosigners signed.
//!
//! Invariants:
//! - `Checkpoint::parse_body(&c.to_body())` returns `c` for every checkpoint that
//!   [`Checkpoint::validate`] accepts, and every body `parse_body` accepts is the
//!   `to_body` of its result (the encoding is canonical).
//! - A checkpoint is only returned from [`open_checkpoint`] when the log key's
//!   signature verified and the origin equals the log key's name.

use crate::note::{self, Note, NoteSigner, NoteVerifier, SignatureType, Signer, VerifiedNote};
use crate::{Error, Hash, Result};

/// A log's tree head: origin, tree size and root hash, plus opaque extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity; non-empty. Here it is also the log key's name.
    pub origin: String,
    /// The number of entries in the tree.
    pub size: u64,
    /// The Merkle tree root at `size` (`H("")` for the empty tree).
    pub root: Hash,
    /// Opaque, non-empty extra lines. Not recommended by the spec; empty here.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Checkpoint {
        Checkpoint {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note body: `<origin>\n<size>\n<base64 root>\n` then each extension and `\n`.
    ///
    /// Formats whatever the fields hold; call [`Checkpoint::validate`] first if they
    /// were not checked (an origin with a newline would make a different body).
    pub fn to_body(&self) -> String {
        let mut body = format!("{}\n{}\n{}\n", self.origin, self.size, self.root);
        for extension in &self.extensions {
            body.push_str(extension);
            body.push('\n');
        }
        body
    }

    /// Checks that the fields make a well-formed body: origin and extension lines
    /// non-empty and free of ASCII control characters (newline included).
    pub fn validate(&self) -> Result<()> {
        if self.origin.is_empty() {
            return Err(Error::MalformedCheckpoint("origin is empty"));
        }
        if has_control_character(&self.origin) {
            return Err(Error::MalformedCheckpoint(
                "origin contains a control character",
            ));
        }
        for extension in &self.extensions {
            if extension.is_empty() {
                return Err(Error::MalformedCheckpoint(
                    "extension lines must be non-empty",
                ));
            }
            if has_control_character(extension) {
                return Err(Error::MalformedCheckpoint(
                    "extension line contains a control character",
                ));
            }
        }
        Ok(())
    }

    /// Parses a checkpoint body strictly.
    ///
    /// Rejects with [`Error::MalformedCheckpoint`]: a body not ending in a newline;
    /// ASCII control characters other than newline; fewer than three lines; any empty
    /// line; a size that is not ASCII decimal without leading zeros or does not fit a
    /// u64; a root that is not exactly 32 bytes in padded, canonical standard base64.
    pub fn parse_body(body: &str) -> Result<Checkpoint> {
        let content = body.strip_suffix('\n').ok_or(Error::MalformedCheckpoint(
            "checkpoint body must end in a newline",
        ))?;
        if content.bytes().any(|b| b < 0x20 && b != b'\n') {
            return Err(Error::MalformedCheckpoint(
                "checkpoint contains a control character",
            ));
        }
        let mut lines = content.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(Error::MalformedCheckpoint("origin is empty"));
        }
        let size_line = lines
            .next()
            .ok_or(Error::MalformedCheckpoint("missing tree size line"))?;
        let size = parse_decimal_u64(size_line).ok_or(Error::MalformedCheckpoint(
            "tree size must be decimal without leading zeros and fit 64 bits",
        ))?;
        let root_line = lines
            .next()
            .ok_or(Error::MalformedCheckpoint("missing root hash line"))?;
        let root = Hash::parse(root_line)
            .ok()
            .ok_or(Error::MalformedCheckpoint(
                "root hash must be 32 bytes in padded standard base64",
            ))?;
        let mut extensions = Vec::new();
        for line in lines {
            if line.is_empty() {
                return Err(Error::MalformedCheckpoint(
                    "extension lines must be non-empty",
                ));
            }
            extensions.push(line.to_string());
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }
}

fn has_control_character(text: &str) -> bool {
    text.bytes().any(|b| b < 0x20)
}

/// Parses ASCII decimal with no sign and no leading zeros (except `0` itself): the one
/// way the signed formats write a number (tree sizes, indexes), so that a number has
/// one text.
pub fn parse_decimal_u64(text: &str) -> Option<u64> {
    let digits_only = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok()
}

/// Signs `checkpoint` with the log key and returns the signed note's text.
///
/// The checkpoint must pass [`Checkpoint::validate`] and its origin must equal the
/// key's name ([`Error::MalformedCheckpoint`] otherwise).
pub fn sign_checkpoint(checkpoint: &Checkpoint, log_key: &NoteSigner) -> Result<String> {
    checkpoint.validate()?;
    if checkpoint.origin != log_key.name() {
        return Err(Error::MalformedCheckpoint(
            "origin must equal the log key's name",
        ));
    }
    note::sign(Note::new(&checkpoint.to_body())?, &[log_key])
}

/// Opens a signed checkpoint: the log key's Ed25519 signature must verify
/// ([`Error::UnverifiedNote`]), the body must parse, and the origin must equal the log
/// key's name ([`Error::MalformedCheckpoint`]). Other signatures are ignored.
pub fn open_checkpoint(text: &str, log_key: &NoteVerifier) -> Result<(Checkpoint, VerifiedNote)> {
    open_checkpoint_with_cosigners(text, log_key, &[])
}

/// As [`open_checkpoint`], and also checks the signatures of the known `cosigners`
/// (usually type `0x04` verifiers). A cosignature by one of them that does not verify
/// rejects the checkpoint; which ones signed, and when, is in the returned note.
pub fn open_checkpoint_with_cosigners(
    text: &str,
    log_key: &NoteVerifier,
    cosigners: &[NoteVerifier],
) -> Result<(Checkpoint, VerifiedNote)> {
    if log_key.signature_type() != SignatureType::Ed25519 {
        return Err(Error::MalformedKey(
            "a log key must be an Ed25519 note key (type 0x01)",
        ));
    }
    let note = note::open(text, &[std::slice::from_ref(log_key), cosigners].concat())?;
    if !note.is_verified_by(log_key) {
        return Err(Error::UnverifiedNote);
    }
    let checkpoint = Checkpoint::parse_body(note.body())?;
    if checkpoint.origin != log_key.name() {
        return Err(Error::MalformedCheckpoint(
            "origin does not match the log key's name",
        ));
    }
    Ok((checkpoint, note))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::tests::{sign_body, sign_parsed};
    use crate::note::CosignatureSigner;
    use crate::HashAlg;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;

    const ORIGIN: &str = "example.org/campaign";

    fn log_key() -> NoteSigner {
        NoteSigner::from_seed(ORIGIN, &[5; 32]).unwrap()
    }

    fn sample() -> Checkpoint {
        Checkpoint::new(ORIGIN, 1234, HashAlg::Blake3.digest(b"root"))
    }

    #[test]
    fn body_round_trips() {
        let checkpoint = sample();
        let body = checkpoint.to_body();
        assert_eq!(
            body,
            format!("{ORIGIN}\n1234\n{}\n", BASE64.encode(checkpoint.root))
        );
        assert_eq!(Checkpoint::parse_body(&body).unwrap(), checkpoint);

        let mut extended = sample();
        extended.extensions = vec!["ext one".into(), "— two".into()];
        let body = extended.to_body();
        assert!(body.ends_with("\next one\n— two\n"));
        assert_eq!(Checkpoint::parse_body(&body).unwrap(), extended);

        let empty = Checkpoint::new(ORIGIN, 0, HashAlg::Sha256.empty_root());
        assert_eq!(Checkpoint::parse_body(&empty.to_body()).unwrap(), empty);
        let largest = Checkpoint::new(ORIGIN, u64::MAX, Hash([0xff; 32]));
        assert_eq!(Checkpoint::parse_body(&largest.to_body()).unwrap(), largest);
    }

    #[test]
    fn malformed_bodies_are_rejected() {
        let root = BASE64.encode([7u8; 32]);
        let short_root = BASE64.encode([7u8; 31]);
        let long_root = BASE64.encode([7u8; 33]);
        let unpadded = root.trim_end_matches('=').to_string();
        // Same 32 bytes' worth of characters, but non-zero trailing bits.
        let non_canonical = format!("{}B=", &root[..42]);
        let url_safe_root = BASE64
            .encode([0xfb; 32])
            .replace('+', "-")
            .replace('/', "_");
        assert!(url_safe_root.contains('-') && url_safe_root.contains('_'));
        let bad = [
            format!("{ORIGIN}\n12\n{root}"),
            format!("{ORIGIN}\n12\n"),
            format!("{ORIGIN}\n12\n{root}\n\n"),
            format!("{ORIGIN}\n12\n{root}\n\next\n"),
            format!("\n12\n{root}\n"),
            format!("{ORIGIN}\n012\n{root}\n"),
            format!("{ORIGIN}\n00\n{root}\n"),
            format!("{ORIGIN}\n+12\n{root}\n"),
            format!("{ORIGIN}\n-1\n{root}\n"),
            format!("{ORIGIN}\n 12\n{root}\n"),
            format!("{ORIGIN}\n1_2\n{root}\n"),
            format!("{ORIGIN}\n18446744073709551616\n{root}\n"),
            format!("{ORIGIN}\n\n{root}\n"),
            format!("{ORIGIN}\n12\n{short_root}\n"),
            format!("{ORIGIN}\n12\n{long_root}\n"),
            format!("{ORIGIN}\n12\n{unpadded}\n"),
            format!("{ORIGIN}\n12\n{non_canonical}\n"),
            format!("{ORIGIN}\n12\n{url_safe_root}\n"),
            format!("{ORIGIN}\n12\n {root}\n"),
            format!("{ORIGIN}\r\n12\n{root}\n"),
            format!("{ORIGIN}\n12\n{root}\nex\u{1}t\n"),
            String::new(),
            "\n".to_string(),
        ];
        for body in &bad {
            assert!(
                matches!(
                    Checkpoint::parse_body(body),
                    Err(Error::MalformedCheckpoint(_))
                ),
                "accepted {body:?}"
            );
        }
    }

    #[test]
    fn validate_refuses_fields_that_would_change_the_body() {
        for (origin, extensions) in [
            ("", vec![]),
            ("a\nb", vec![]),
            ("a", vec![String::new()]),
            ("a", vec!["x\ny".to_string()]),
        ] {
            let checkpoint = Checkpoint {
                origin: origin.to_string(),
                size: 1,
                root: Hash([0; 32]),
                extensions,
            };
            assert!(checkpoint.validate().is_err());
        }
    }

    #[test]
    fn sign_and_open() {
        let key = log_key();
        let text = sign_checkpoint(&sample(), &key).unwrap();
        let (checkpoint, note) = open_checkpoint(&text, &key.verifier()).unwrap();
        assert_eq!(checkpoint, sample());
        assert!(note.is_verified_by(&key.verifier()));
    }

    #[test]
    fn the_origin_must_be_the_log_key_name() {
        let other = NoteSigner::from_seed("example.org/other", &[5; 32]).unwrap();
        assert!(matches!(
            sign_checkpoint(&sample(), &other),
            Err(Error::MalformedCheckpoint(_))
        ));
        // A note signed by a key whose name is not the origin.
        let text = sign_body(&sample().to_body(), &[&other]).unwrap();
        assert!(matches!(
            open_checkpoint(&text, &other.verifier()),
            Err(Error::MalformedCheckpoint(_))
        ));
    }

    #[test]
    fn only_the_log_key_opens_a_checkpoint() {
        let text = sign_checkpoint(&sample(), &log_key()).unwrap();
        let stranger = NoteSigner::from_seed(ORIGIN, &[6; 32]).unwrap();
        assert!(matches!(
            open_checkpoint(&text, &stranger.verifier()),
            Err(Error::UnverifiedNote)
        ));
        // A cosigner's signature alone is not enough.
        let witness = CosignatureSigner::from_seed("w.example", &[8; 32]).unwrap();
        let cosigned_by_witness_only = sign_body(&sample().to_body(), &[&stranger])
            .and_then(|t| sign_parsed(&t, &[&witness.at(10)]))
            .unwrap();
        assert!(matches!(
            open_checkpoint_with_cosigners(
                &cosigned_by_witness_only,
                &log_key().verifier(),
                &[witness.verifier()]
            ),
            Err(Error::UnverifiedNote)
        ));
        // A cosigner key cannot be the log key.
        assert!(matches!(
            open_checkpoint(&text, &witness.verifier()),
            Err(Error::MalformedKey(_))
        ));
    }

    #[test]
    fn cosigners_are_reported() {
        let witness = CosignatureSigner::from_seed("w.example", &[8; 32]).unwrap();
        let absent = CosignatureSigner::from_seed("w2.example", &[9; 32]).unwrap();
        let text = sign_checkpoint(&sample(), &log_key()).unwrap();
        let text = sign_parsed(&text, &[&witness.at(1_700_000_000)]).unwrap();
        let (checkpoint, note) = open_checkpoint_with_cosigners(
            &text,
            &log_key().verifier(),
            &[witness.verifier(), absent.verifier()],
        )
        .unwrap();
        assert_eq!(checkpoint, sample());
        assert_eq!(
            note.cosignature_time(&witness.verifier()),
            Some(1_700_000_000)
        );
        assert!(!note.is_verified_by(&absent.verifier()));
        // The plain opener ignores the cosignature.
        let (_, plain) = open_checkpoint(&text, &log_key().verifier()).unwrap();
        assert_eq!(plain.verified().len(), 1);
        assert_eq!(plain.unverified().len(), 1);
    }

    #[test]
    fn decimal_numbers_are_strict() {
        assert_eq!(parse_decimal_u64("0"), Some(0));
        assert_eq!(parse_decimal_u64("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "00",
            "01",
            "+1",
            "-0",
            "1 ",
            "１",
            "18446744073709551616",
        ] {
            assert_eq!(parse_decimal_u64(bad), None, "{bad:?}");
        }
    }
}
