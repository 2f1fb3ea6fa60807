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

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

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

fn check_key_name(name: &str) -> Result<()> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(Error::MalformedKey(
            "key name must be non-empty, without spaces, '+' or control characters",
        ))
    }
}

/// Parses exactly eight lowercase hexadecimal digits.
fn parse_key_id_hex(hex: &str) -> Result<u32> {
    let well_formed = hex.len() == 8
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !well_formed {
        return Err(Error::MalformedKey(
            "key ID must be eight lowercase hexadecimal digits",
        ));
    }
    u32::from_str_radix(hex, 16)
        .map_err(|_| Error::MalformedKey("key ID must be eight lowercase hexadecimal digits"))
}

/// Decodes `base64(type byte || 32 bytes)`, strictly.
fn decode_typed_key(key64: &str) -> Result<(u8, [u8; 32])> {
    let bytes = BASE64
        .decode(key64)
        .map_err(|_| Error::MalformedKey("key material is not canonical standard base64"))?;
    match bytes.split_first() {
        Some((&type_byte, rest)) => match <[u8; 32]>::try_from(rest) {
            Ok(key) => Ok((type_byte, key)),
            Err(_) => Err(Error::MalformedKey(
                "key material must be a type byte and 32 key bytes",
            )),
        },
        None => Err(Error::MalformedKey("key material is empty")),
    }
}

fn encode_typed_key(signature_type: SignatureType, key: &[u8; 32]) -> String {
    let mut bytes = Vec::with_capacity(33);
    bytes.push(signature_type.id_byte());
    bytes.extend_from_slice(key);
    BASE64.encode(bytes)
}

/// Accepts only canonical encodings of Ed25519 points that are not of small order.
fn parse_public_key(bytes: &[u8; 32]) -> Result<VerifyingKey> {
    let key = VerifyingKey::from_bytes(bytes)
        .map_err(|_| Error::MalformedKey("public key is not an Ed25519 point"))?;
    if key.is_weak() {
        return Err(Error::MalformedKey("public key has small order"));
    }
    if key.to_edwards().compress().to_bytes() != *bytes {
        return Err(Error::MalformedKey("public key is not canonically encoded"));
    }
    Ok(key)
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
        let mut time = [0u8; TIMESTAMP_LEN];
        time.copy_from_slice(&self.signature[..TIMESTAMP_LEN]);
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
    /// rejected with [`Error::UnverifiedNote`]; repeats by the same key after the first
    /// are ignored. At least one must verify, or [`Error::UnverifiedNote`]. Two
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
                    let repeated = verified
                        .iter()
                        .any(|v| v.name == verifier.name && v.key_id == verifier.key_id);
                    if !repeated {
                        verified.push(verifier.verify_signature(&self.body, signature)?);
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

// ---------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------

/// A public key that checks note signatures of one [`SignatureType`].
///
/// Its text form (`Display`, [`NoteVerifier::vkey`]) is the verifier key
/// `<name>+<8 lowercase hex key ID>+<base64(type byte || 32-byte public key)>`.
#[derive(Clone)]
pub struct NoteVerifier {
    name: String,
    signature_type: SignatureType,
    key_id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses a verifier key of type `0x01` (note signatures) or `0x04` (cosignatures).
    ///
    /// Rejects with [`Error::MalformedKey`]: a missing part, an invalid name, a key ID
    /// that is not 8 lowercase hex digits or does not match the key, non-canonical
    /// base64, another type byte, a key that is not 32 bytes, not canonical, or of
    /// small order.
    pub fn parse(vkey: &str) -> Result<NoteVerifier> {
        let (name, rest) = vkey
            .split_once('+')
            .ok_or(Error::MalformedKey("verifier key must be name+keyid+key"))?;
        let (id_hex, key64) = rest
            .split_once('+')
            .ok_or(Error::MalformedKey("verifier key must be name+keyid+key"))?;
        check_key_name(name)?;
        let stated_id = parse_key_id_hex(id_hex)?;
        let (type_byte, public_key) = decode_typed_key(key64)?;
        let signature_type = SignatureType::from_id_byte(type_byte)
            .ok_or(Error::MalformedKey("unsupported signature type"))?;
        let verifier = NoteVerifier::from_public_key(name, signature_type, &public_key)?;
        if verifier.key_id != stated_id {
            return Err(Error::MalformedKey("key ID does not match the key"));
        }
        Ok(verifier)
    }

    /// The verifier for `public_key` under `name`.
    pub fn from_public_key(
        name: &str,
        signature_type: SignatureType,
        public_key: &[u8; 32],
    ) -> Result<NoteVerifier> {
        check_key_name(name)?;
        let key = parse_public_key(public_key)?;
        Ok(NoteVerifier {
            name: name.to_string(),
            signature_type,
            key_id: key_id(name, signature_type, public_key),
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// Note signatures (`0x01`) or cosignatures (`0x04`).
    pub fn signature_type(&self) -> SignatureType {
        self.signature_type
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The verifier key string.
    pub fn vkey(&self) -> String {
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.key_id,
            encode_typed_key(self.signature_type, &self.key.to_bytes())
        )
    }

    /// Checks `signature` on `body`: it must carry this key's name and ID and verify.
    /// Any failure is [`Error::UnverifiedNote`].
    pub fn verify_signature(
        &self,
        body: &str,
        signature: &NoteSignature,
    ) -> Result<VerifiedSignature> {
        if signature.name != self.name || signature.key_id != self.key_id {
            return Err(Error::UnverifiedNote);
        }
        let bytes = &signature.signature;
        if bytes.len() != self.signature_type.signature_len() {
            return Err(Error::UnverifiedNote);
        }
        let (timestamp, ed25519_bytes) = match self.signature_type {
            SignatureType::Ed25519 => (None, &bytes[..]),
            SignatureType::CosignatureV1 => {
                let mut time = [0u8; TIMESTAMP_LEN];
                time.copy_from_slice(&bytes[..TIMESTAMP_LEN]);
                let time = u64::from_be_bytes(time);
                if time > MAX_COSIGNATURE_TIME {
                    return Err(Error::UnverifiedNote);
                }
                (Some(time), &bytes[TIMESTAMP_LEN..])
            }
        };
        let ed25519_signature =
            Signature::from_slice(ed25519_bytes).map_err(|_| Error::UnverifiedNote)?;
        let checked = match timestamp {
            None => self.key.verify_strict(body.as_bytes(), &ed25519_signature),
            Some(time) => self.key.verify_strict(
                cosignature_message(body, time).as_bytes(),
                &ed25519_signature,
            ),
        };
        checked.map_err(|_| Error::UnverifiedNote)?;
        Ok(VerifiedSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature_type: self.signature_type,
            timestamp,
        })
    }
}

impl PartialEq for NoteVerifier {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.signature_type == other.signature_type
            && self.key.to_bytes() == other.key.to_bytes()
    }
}

impl Eq for NoteVerifier {}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.vkey())
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteVerifier({})", self.vkey())
    }
}

impl FromStr for NoteVerifier {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        NoteVerifier::parse(s)
    }
}

/// The secret half shared by both signer kinds.
#[derive(Clone)]
struct KeyPair {
    name: String,
    signature_type: SignatureType,
    key_id: u32,
    signing_key: SigningKey,
}

impl KeyPair {
    fn from_seed(name: &str, signature_type: SignatureType, seed: &[u8; 32]) -> Result<KeyPair> {
        check_key_name(name)?;
        let signing_key = SigningKey::from_bytes(seed);
        let public_key = signing_key.verifying_key().to_bytes();
        Ok(KeyPair {
            name: name.to_string(),
            signature_type,
            key_id: key_id(name, signature_type, &public_key),
            signing_key,
        })
    }

    fn generate(name: &str, signature_type: SignatureType) -> Result<KeyPair> {
        let signing_key = SigningKey::generate(&mut rand::rngs::OsRng);
        KeyPair::from_seed(name, signature_type, signing_key.as_bytes())
    }

    /// Parses `PRIVATE+KEY+<name>+<hex ID>+<base64(type || seed)>`, checking the ID
    /// against the type byte written in the key. Returns the parts.
    fn parse_private_key(skey: &str) -> Result<(String, u8, SigningKey)> {
        let rest = skey
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or(Error::MalformedKey(
                "signer key must start with PRIVATE+KEY+",
            ))?;
        let (name, rest) = rest.split_once('+').ok_or(Error::MalformedKey(
            "signer key must be PRIVATE+KEY+name+keyid+key",
        ))?;
        let (id_hex, key64) = rest.split_once('+').ok_or(Error::MalformedKey(
            "signer key must be PRIVATE+KEY+name+keyid+key",
        ))?;
        check_key_name(name)?;
        let stated_id = parse_key_id_hex(id_hex)?;
        let (type_byte, seed) = decode_typed_key(key64)?;
        let signature_type = SignatureType::from_id_byte(type_byte)
            .ok_or(Error::MalformedKey("unsupported signature type"))?;
        let signing_key = SigningKey::from_bytes(&seed);
        let public_key = signing_key.verifying_key().to_bytes();
        if key_id(name, signature_type, &public_key) != stated_id {
            return Err(Error::MalformedKey("key ID does not match the key"));
        }
        Ok((name.to_string(), type_byte, signing_key))
    }

    fn private_key(&self) -> String {
        format!(
            "{PRIVATE_KEY_PREFIX}{}+{:08x}+{}",
            self.name,
            self.key_id,
            encode_typed_key(self.signature_type, self.signing_key.as_bytes())
        )
    }

    fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            signature_type: self.signature_type,
            key_id: self.key_id,
            key: self.signing_key.verifying_key(),
        }
    }

    fn signature(&self, message: &[u8], prefix: &[u8]) -> NoteSignature {
        let ed25519 = self.signing_key.sign(message).to_bytes();
        let mut signature = Vec::with_capacity(prefix.len() + ed25519.len());
        signature.extend_from_slice(prefix);
        signature.extend_from_slice(&ed25519);
        NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature,
        }
    }
}

/// What both signer kinds share, around their [`KeyPair`]: constructors, the secret
/// and public text forms, `Debug` without the secret, and [`Signer`]'s name and key ID.
macro_rules! signer_key {
    ($signer:ident, $type:expr) => {
        impl $signer {
            /// A fresh random key named `name`.
            pub fn generate(name: &str) -> Result<$signer> {
                Ok($signer::with_keys(KeyPair::generate(name, $type)?))
            }

            /// The key with this RFC 8032 seed. Meant for tests and fixed examples.
            pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<$signer> {
                Ok($signer::with_keys(KeyPair::from_seed(name, $type, seed)?))
            }

            /// The `PRIVATE+KEY+...` signer key. Secret: store it like one.
            pub fn to_private_key(&self) -> String {
                self.keys.private_key()
            }

            /// The matching verifier.
            pub fn verifier(&self) -> NoteVerifier {
                self.keys.verifier()
            }

            /// The matching verifier key string.
            pub fn verifier_key(&self) -> String {
                self.verifier().vkey()
            }
        }

        impl fmt::Debug for $signer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    concat!(stringify!($signer), "({}+{:08x})"),
                    self.keys.name, self.keys.key_id
                )
            }
        }
    };
}

/// Declares [`Signer::name`] and [`Signer::key_id`] from the key pair.
macro_rules! name_and_key_id {
    () => {
        fn name(&self) -> &str {
            &self.keys.name
        }

        fn key_id(&self) -> u32 {
            self.keys.key_id
        }
    };
}

/// An Ed25519 note signing key (type `0x01`), e.g. the log key. Its name is the log's
/// origin.
///
/// Its text form is `PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 || 32-byte seed)>`,
/// as in the Go `sumdb/note` package. `Debug` never shows the secret.
pub struct NoteSigner {
    keys: KeyPair,
}

signer_key!(NoteSigner, SignatureType::Ed25519);

impl NoteSigner {
    fn with_keys(keys: KeyPair) -> NoteSigner {
        NoteSigner { keys }
    }

    /// Parses a `PRIVATE+KEY+...` signer key of type `0x01`; the key ID must match.
    pub fn from_private_key(skey: &str) -> Result<NoteSigner> {
        let (name, type_byte, signing_key) = KeyPair::parse_private_key(skey)?;
        if type_byte != SignatureType::Ed25519.id_byte() {
            return Err(Error::MalformedKey("not an Ed25519 note signing key"));
        }
        NoteSigner::from_seed(&name, signing_key.as_bytes())
    }
}

impl Signer for NoteSigner {
    name_and_key_id!();

    /// An Ed25519 signature of the body.
    fn sign(&self, body: &str) -> Result<NoteSignature> {
        check_note_body(body)?;
        Ok(self.keys.signature(body.as_bytes(), &[]))
    }
}

/// An Ed25519 cosigning key (type `0x04`), e.g. an auditor's.
///
/// Its text form is `PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x04 || 32-byte seed)>`
/// with the key ID computed with type `0x04`. [`CosignatureSigner::from_private_key`]
/// also accepts a type-`0x01` signer key and uses its seed for cosigning (as
/// transparency-dev's Go code does); the key ID then changes. `Debug` never shows the
/// secret.
pub struct CosignatureSigner {
    keys: KeyPair,
    /// The time cosignatures state; `None` for the current time.
    time: Option<u64>,
}

signer_key!(CosignatureSigner, SignatureType::CosignatureV1);

impl CosignatureSigner {
    fn with_keys(keys: KeyPair) -> CosignatureSigner {
        CosignatureSigner { keys, time: None }
    }

    /// Parses a `PRIVATE+KEY+...` signer key of type `0x04` or `0x01`; the key ID must
    /// match the type written in the key.
    pub fn from_private_key(skey: &str) -> Result<CosignatureSigner> {
        let (name, _, signing_key) = KeyPair::parse_private_key(skey)?;
        CosignatureSigner::from_seed(&name, signing_key.as_bytes())
    }

    /// This key, cosigning as of `unix_time` instead of the current time: for fixed
    /// examples and tests. It must not exceed [`MAX_COSIGNATURE_TIME`].
    pub fn at(&self, unix_time: u64) -> CosignatureSigner {
        CosignatureSigner {
            keys: self.keys.clone(),
            time: Some(unix_time),
        }
    }
}

impl Signer for CosignatureSigner {
    name_and_key_id!();

    /// The cosignature of `body` now (or at the time given to [`CosignatureSigner::at`];
    /// 0 if the clock is before 1970): key ID, the time as a big-endian u64, then the
    /// Ed25519 signature of [`cosignature_message`].
    fn sign(&self, body: &str) -> Result<NoteSignature> {
        check_note_body(body)?;
        let unix_time = self.time.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
        if unix_time > MAX_COSIGNATURE_TIME {
            return Err(Error::MalformedNote("cosignature time exceeds 2^63 - 1"));
        }
        let message = cosignature_message(body, unix_time);
        Ok(self
            .keys
            .signature(message.as_bytes(), &unix_time.to_be_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_body(body: &str, signers: &[&dyn Signer]) -> Result<String> {
        sign(Note::new(body)?, signers)
    }

    fn sign_parsed(text: &str, signers: &[&dyn Signer]) -> Result<String> {
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
        let plain = NoteVerifier::from_public_key(
            w.name(),
            SignatureType::Ed25519,
            &w.verifier().public_key(),
        )
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
}
