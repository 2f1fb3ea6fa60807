//! Keys: the verifier key (public) and the two signer kinds (secret), with their C2SP
//! text forms.

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use super::{
    check_note_body, cosignature_message, is_valid_key_name, key_id, NoteSignature, SignatureType,
    Signer, VerifiedSignature, MAX_COSIGNATURE_TIME, PRIVATE_KEY_PREFIX, TIMESTAMP_LEN,
};
use crate::{Error, Result};

/// A public key that checks note signatures of one [`SignatureType`].
///
/// Its text form (`Display`, [`NoteVerifier::vkey`]) is the verifier key
/// `<name>+<8 lowercase hex key ID>+<base64(type byte || 32-byte public key)>`.
#[derive(Clone)]
pub struct NoteVerifier {
    pub(super) name: String,
    pub(super) signature_type: SignatureType,
    pub(super) key_id: u32,
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
        let (name, stated_id, signature_type, public_key) =
            parse_key_parts(vkey, "verifier key must be name+keyid+key")?;
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
                let time = u64::from_be_bytes(bytes[..TIMESTAMP_LEN].try_into().expect("8 bytes"));
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
    /// against the type written in the key. Returns the parts.
    fn parse_private_key(skey: &str) -> Result<(String, SignatureType, SigningKey)> {
        let rest = skey
            .strip_prefix(PRIVATE_KEY_PREFIX)
            .ok_or(Error::MalformedKey(
                "signer key must start with PRIVATE+KEY+",
            ))?;
        let (name, stated_id, signature_type, seed) =
            parse_key_parts(rest, "signer key must be PRIVATE+KEY+name+keyid+key")?;
        let signing_key = SigningKey::from_bytes(&seed);
        let public_key = signing_key.verifying_key().to_bytes();
        if key_id(name, signature_type, &public_key) != stated_id {
            return Err(Error::MalformedKey("key ID does not match the key"));
        }
        Ok((name.to_string(), signature_type, signing_key))
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
        let (name, signature_type, signing_key) = KeyPair::parse_private_key(skey)?;
        if signature_type != SignatureType::Ed25519 {
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

fn check_key_name(name: &str) -> Result<()> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(Error::MalformedKey(
            "key name must be non-empty, without spaces, '+' or control characters",
        ))
    }
}

/// Splits `<name>+<hex key ID>+<base64(type || 32 bytes)>` (`shape` says so when it
/// is not three parts) and checks each part: the name, the stated key ID, the type and
/// the 32 bytes (not yet that the ID matches them).
fn parse_key_parts<'a>(
    text: &'a str,
    shape: &'static str,
) -> Result<(&'a str, u32, SignatureType, [u8; 32])> {
    let (name, rest) = text.split_once('+').ok_or(Error::MalformedKey(shape))?;
    let (id_hex, key64) = rest.split_once('+').ok_or(Error::MalformedKey(shape))?;
    check_key_name(name)?;
    let stated_id = parse_key_id_hex(id_hex)?;
    let (type_byte, key) = decode_typed_key(key64)?;
    let signature_type = SignatureType::from_id_byte(type_byte)
        .ok_or(Error::MalformedKey("unsupported signature type"))?;
    Ok((name, stated_id, signature_type, key))
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
