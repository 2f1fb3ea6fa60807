//! C2SP signed notes (<https://c2sp.org/signed-note>) with Ed25519 keys, and C2SP
//! Ed25519 cosignatures (<https://c2sp.org/tlog-cosignature>, type `0x04`).
//!
//! What it is: the text format shared by checkpoints, tallies and receipts. A note is a
//! body (UTF-8 text ending in a newline) followed by a blank line and one or more
//! signature lines `— <key name> <base64(key ID || signature)>`. This module parses and
//! writes that format strictly, derives key IDs, reads and writes verifier keys
//! (`<name>+<8 hex key ID>+<base64(type || public key)>`) and signer keys
//! (`PRIVATE+KEY+<name>+<8 hex key ID>+<base64(type || seed)>`), signs, cosigns and
//! verifies.
//!
//! What it is not: it gives no meaning to a body (see `checkpoint`), keeps no key
//! files, and knows no other signature types (ECDSA, RFC 6962 tree head signatures,
//! ML-DSA cosignatures): signatures of those types are, like any signature by a key
//! the caller did not name, ignored.
//!
//! Invariants:
//! - Every `Note` held in memory is well formed: its body ends in a newline and holds
//!   no ASCII control character but newline, its key names are valid, it has at most
//!   [`MAX_SIGNATURES`] signatures, and writing it out and parsing it back gives the
//!   same value (base64 is decoded strictly, so its encoding is canonical).
//! - A [`VerifiedNote`] exists only when at least one signature by a key the caller
//!   supplied checked, and no signature by such a key failed.
//! - A key ID is always `SHA-256(name || 0x0A || type || public key)[:4]`, read
//!   big-endian; a key string whose stated ID differs is rejected.
//! - Nothing in this module panics on any input.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

mod keys;
#[cfg(test)]
pub(crate) mod tests;

pub use keys::{CosignatureSigner, NoteSigner, NoteVerifier};

/// The most signatures a note may carry. The spec asks verifiers to accept at least 16
/// and to cap the number; 100 is the Go reference implementation's cap.
pub const MAX_SIGNATURES: usize = 100;

/// The first line of every Ed25519 cosignature's signed message.
pub const COSIGNATURE_HEADER: &str = "cosignature/v1";

/// The largest cosignature timestamp allowed by the spec: `2^63 - 1`.
pub const MAX_COSIGNATURE_TIME: u64 = i64::MAX as u64;

/// Every signature line starts with an em dash (U+2014) and a space.
const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";

/// Every signer key starts with this.
const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";

const ED25519_SIGNATURE_LEN: usize = 64;
const TIMESTAMP_LEN: usize = 8;

/// The signature types this module signs and verifies, with their signed-note type bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureType {
    /// `0x01`: an Ed25519 signature over the note body. Used by the log key.
    Ed25519,
    /// `0x04`: a timestamped Ed25519 cosignature (tlog-cosignature), over
    /// `cosignature/v1\ntime <unix seconds>\n` followed by the body. Used by auditors.
    CosignatureV1,
}

impl SignatureType {
    /// The signature type identifier byte: `0x01` or `0x04`.
    pub fn id_byte(self) -> u8 {
        match self {
            SignatureType::Ed25519 => 0x01,
            SignatureType::CosignatureV1 => 0x04,
        }
    }

    /// The type with this identifier byte, if this module supports it.
    pub fn from_id_byte(byte: u8) -> Option<SignatureType> {
        match byte {
            0x01 => Some(SignatureType::Ed25519),
            0x04 => Some(SignatureType::CosignatureV1),
            _ => None,
        }
    }

    /// Length of the signature bytes that follow the 4-byte key ID.
    fn signature_len(self) -> usize {
        match self {
            SignatureType::Ed25519 => ED25519_SIGNATURE_LEN,
            SignatureType::CosignatureV1 => TIMESTAMP_LEN + ED25519_SIGNATURE_LEN,
        }
    }
}

/// Whether `name` may name a key: non-empty, with no Unicode white space and no `+`.
///
/// The spec's rule, plus one that changes nothing for valid notes: no ASCII control
/// character (a note cannot contain one anyway).
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || (c as u32) < 0x20)
}

/// The key ID of a key: the first four bytes, big-endian, of
/// `SHA-256(name || 0x0A || type byte || 32-byte Ed25519 public key)`.
pub fn key_id(name: &str, signature_type: SignatureType, public_key: &[u8; 32]) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', signature_type.id_byte()]);
    hasher.update(public_key);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// The message an Ed25519 cosigner signs: `cosignature/v1\ntime <unix_time>\n` + `body`.
pub fn cosignature_message(body: &str, unix_time: u64) -> String {
    format!("{COSIGNATURE_HEADER}\ntime {unix_time}\n{body}")
}

/// Checks that `body` may be signed: it ends in a newline and holds no ASCII control
/// character other than newline.
pub fn check_note_body(body: &str) -> Result<()> {
    if !body.ends_with('\n') {
        return Err(Error::MalformedNote("note text must end in a newline"));
    }
    check_no_control_characters(body)
}

fn check_no_control_characters(text: &str) -> Result<()> {
    // UTF-8 multi-byte sequences never contain bytes below 0x80, so a byte scan is exact.
    if text.bytes().any(|b| b < 0x20 && b != b'\n') {
        return Err(Error::MalformedNote(
            "note contains an ASCII control character other than newline",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Signatures as they appear in a note
// ---------------------------------------------------------------------------------

/// One signature line of a note, verified or not: key name, key ID and the signature
/// bytes that follow the key ID.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NoteSignature {
    name: String,
    key_id: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// A signature by the key `name`/`key_id`. `signature` excludes the key ID and must
    /// not be empty.
    pub fn new(name: &str, key_id: u32, signature: Vec<u8>) -> Result<NoteSignature> {
        if !is_valid_key_name(name) {
            return Err(Error::MalformedNote("signature has an invalid key name"));
        }
        if signature.is_empty() {
            return Err(Error::MalformedNote("signature is empty"));
        }
        Ok(NoteSignature {
            name: name.to_string(),
            key_id,
            signature,
        })
    }

    /// Parses one signature line, `— <name> <base64>\n`, including its final newline.
    pub fn parse_line(line: &str) -> Result<NoteSignature> {
        match line.strip_suffix('\n') {
            Some(content) if !content.contains('\n') => parse_signature_content(content),
            _ => Err(Error::MalformedNote(
                "a signature line must end in exactly one newline",
            )),
        }
    }

    /// The signature line, `— <name> <base64(key ID || signature)>\n`.
    pub fn to_line(&self) -> String {
        let mut bytes = Vec::with_capacity(4 + self.signature.len());
        bytes.extend_from_slice(&self.key_id.to_be_bytes());
        bytes.extend_from_slice(&self.signature);
        format!(
            "{SIGNATURE_LINE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(bytes)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The signature bytes after the key ID.
    pub fn signature_bytes(&self) -> &[u8] {
        &self.signature
    }

    /// The timestamp of a cosignature: the first eight bytes, big-endian, when the
    /// signature has the 72-byte cosignature shape. Unauthenticated until verified; for
    /// a signature of another type the value means nothing.
    pub fn cosignature_time(&self) -> Option<u64> {
        if self.signature.len() != SignatureType::CosignatureV1.signature_len() {
            return None;
        }
        let time = self.signature[..TIMESTAMP_LEN].try_into().expect("8 bytes");
        Some(u64::from_be_bytes(time))
    }
}

/// Parses a signature line without its final newline.
fn parse_signature_content(content: &str) -> Result<NoteSignature> {
    let rest = content
        .strip_prefix(SIGNATURE_LINE_PREFIX)
        .ok_or(Error::MalformedNote(
            "signature line must start with an em dash and a space",
        ))?;
    let (name, sig64) = rest.split_once(' ').ok_or(Error::MalformedNote(
        "signature line must be a key name, a space and base64",
    ))?;
    if !is_valid_key_name(name) {
        return Err(Error::MalformedNote("signature has an invalid key name"));
    }
    let bytes = BASE64
        .decode(sig64)
        .map_err(|_| Error::MalformedNote("signature is not canonical standard base64"))?;
    if bytes.len() < 5 {
        return Err(Error::MalformedNote(
            "signature must be a 4-byte key ID and at least one byte",
        ));
    }
    let key_id = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    Ok(NoteSignature {
        name: name.to_string(),
        key_id,
        signature: bytes[4..].to_vec(),
    })
}

// ---------------------------------------------------------------------------------
// Notes
// ---------------------------------------------------------------------------------

/// A well-formed note: a body and its signatures, none of them verified yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    body: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// A note with `body` and no signatures yet (see [`check_note_body`]).
    pub fn new(body: &str) -> Result<Note> {
        check_note_body(body)?;
        Ok(Note {
            body: body.to_string(),
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note without verifying anything.
    ///
    /// Rejects with [`Error::MalformedNote`]: ASCII control characters other than
    /// newline; no blank line; an empty signature block or one not ending in a newline;
    /// any line after the blank line that is not `— <valid name> <canonical base64 of
    /// at least 5 bytes>`; more than [`MAX_SIGNATURES`] signatures. The body is
    /// everything up to and including the newline before the last blank line.
    pub fn parse(text: &str) -> Result<Note> {
        check_no_control_characters(text)?;
        let split = text.rfind("\n\n").ok_or(Error::MalformedNote(
            "no blank line separates the text from its signatures",
        ))?;
        let body = &text[..split + 1];
        let block = &text[split + 2..];
        if block.is_empty() {
            return Err(Error::MalformedNote("note has no signatures"));
        }
        let lines = block.strip_suffix('\n').ok_or(Error::MalformedNote(
            "the last signature line does not end in a newline",
        ))?;
        let mut signatures = Vec::new();
        for line in lines.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(Error::MalformedNote("note has more than 100 signatures"));
            }
            signatures.push(parse_signature_content(line)?);
        }
        Ok(Note {
            body: body.to_string(),
            signatures,
        })
    }

    /// The signed text, including its final newline.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The signatures, in note order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Appends `signature`, first removing any signature by the same key (same name and
    /// key ID). Fails if the note would carry more than [`MAX_SIGNATURES`].
    pub fn add_signature(&mut self, signature: NoteSignature) -> Result<()> {
        self.signatures
            .retain(|s| !(s.name == signature.name && s.key_id == signature.key_id));
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(Error::MalformedNote("note has more than 100 signatures"));
        }
        self.signatures.push(signature);
        Ok(())
    }

    /// The note's text: body, blank line, signature lines. Fails if there are none.
    pub fn to_text(&self) -> Result<String> {
        if self.signatures.is_empty() {
            return Err(Error::MalformedNote("note has no signatures"));
        }
        let mut text = String::with_capacity(self.body.len() + 1 + 100 * self.signatures.len());
        text.push_str(&self.body);
        text.push('\n');
        for signature in &self.signatures {
            text.push_str(&signature.to_line());
        }
        Ok(text)
    }

    /// Verifies the note against the known keys `verifiers`.
    ///
    /// Signatures whose (name, key ID) matches no verifier are ignored, kept as
    /// unverified. A signature that matches a verifier must verify, or the whole note is
    /// rejected with [`Error::UnverifiedNote`]; that holds for repeats by the same key
    /// too, which then count once. At least one must verify, or
    /// [`Error::UnverifiedNote`]. Two
    /// verifiers with the same name and key ID but different keys are
    /// [`Error::MalformedKey`].
    pub fn verify(&self, verifiers: &[NoteVerifier]) -> Result<VerifiedNote> {
        check_unambiguous(verifiers)?;
        let mut verified: Vec<VerifiedSignature> = Vec::new();
        let mut unverified: Vec<NoteSignature> = Vec::new();
        for signature in &self.signatures {
            let known = verifiers
                .iter()
                .find(|v| v.name == signature.name && v.key_id == signature.key_id);
            match known {
                None => {
                    if !unverified.contains(signature) {
                        unverified.push(signature.clone());
                    }
                }
                Some(verifier) => {
                    // Every signature by a known key is checked, repeats included.
                    let checked = verifier.verify_signature(&self.body, signature)?;
                    let repeated = verified
                        .iter()
                        .any(|v| v.name == verifier.name && v.key_id == verifier.key_id);
                    if !repeated {
                        verified.push(checked);
                    }
                }
            }
        }
        if verified.is_empty() {
            return Err(Error::UnverifiedNote);
        }
        Ok(VerifiedNote {
            body: self.body.clone(),
            verified,
            unverified,
        })
    }
}

fn check_unambiguous(verifiers: &[NoteVerifier]) -> Result<()> {
    for (i, a) in verifiers.iter().enumerate() {
        for b in &verifiers[i + 1..] {
            if a.name == b.name && a.key_id == b.key_id && a != b {
                return Err(Error::MalformedKey(
                    "two verifier keys share a name and key ID",
                ));
            }
        }
    }
    Ok(())
}

/// A known key's signature that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedSignature {
    /// The key name.
    pub name: String,
    /// The key ID.
    pub key_id: u32,
    /// Whether it was a plain note signature or a cosignature.
    pub signature_type: SignatureType,
    /// For a cosignature, the time it states (Unix seconds); `None` otherwise.
    pub timestamp: Option<u64>,
}

/// A note with at least one signature by a known key that verified. Only
/// [`Note::verify`] and [`open`] make one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedNote {
    body: String,
    verified: Vec<VerifiedSignature>,
    unverified: Vec<NoteSignature>,
}

impl VerifiedNote {
    /// The authenticated body, including its final newline.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The known keys whose signatures verified, in note order, each once.
    pub fn verified(&self) -> &[VerifiedSignature] {
        &self.verified
    }

    /// Signatures by keys that were not supplied, each distinct one once. Not checked.
    pub fn unverified(&self) -> &[NoteSignature] {
        &self.unverified
    }

    /// Whether `verifier`'s key signed the note.
    pub fn is_verified_by(&self, verifier: &NoteVerifier) -> bool {
        self.verified_signature(verifier).is_some()
    }

    /// The time stated by `verifier`'s cosignature, if that cosigner signed the note.
    pub fn cosignature_time(&self, verifier: &NoteVerifier) -> Option<u64> {
        self.verified_signature(verifier).and_then(|s| s.timestamp)
    }

    fn verified_signature(&self, verifier: &NoteVerifier) -> Option<&VerifiedSignature> {
        self.verified.iter().find(|s| {
            s.name == verifier.name
                && s.key_id == verifier.key_id
                && s.signature_type == verifier.signature_type
        })
    }
}

/// A key that signs note bodies, as Go's `note.Signer`: the log key ([`NoteSigner`],
/// Ed25519, type `0x01`) or an auditor's ([`CosignatureSigner`], type `0x04`).
pub trait Signer {
    /// The key name.
    fn name(&self) -> &str;
    /// The key ID.
    fn key_id(&self) -> u32;
    /// The signature of `body`, which must pass [`check_note_body`].
    fn sign(&self, body: &str) -> Result<NoteSignature>;
}

/// Signs `note` with every signer, in order, replacing any earlier signature by the same
/// key, and returns the signed note's text. `note` is new ([`Note::new`]) or read from a
/// signed note ([`Note::parse`], which verifies nothing: a cosigner states that it
/// checked the note, so open it first). At least one signature is required.
pub fn sign(mut note: Note, signers: &[&dyn Signer]) -> Result<String> {
    for signer in signers {
        note.add_signature(signer.sign(&note.body)?)?;
    }
    note.to_text()
}

/// Parses `text` strictly and verifies it against the known keys (see [`Note::parse`]
/// and [`Note::verify`]).
pub fn open(text: &str, verifiers: &[NoteVerifier]) -> Result<VerifiedNote> {
    Note::parse(text)?.verify(verifiers)
}
