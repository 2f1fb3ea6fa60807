//! The log's hash function, chosen once when a log is created, and the digests it
//! produces.
//!
//! BLAKE3 (32-byte output) is the default; SHA-256 is the interop mode for C2SP
//! witnesses and tools. Everything that hashes takes a [`HashAlg`], so one code path
//! serves both and the RFC 6962 test vectors exercise the same code as production.

use std::fmt;
use std::str::FromStr;

use crate::record::values::text_or_wire;
use crate::Error;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

/// Declares a fixed-size byte string whose text form is canonical standard base64 and
/// whose binary form (postcard: entries, snapshots) is the raw bytes.
macro_rules! fixed_bytes {
    ($(#[$meta:meta])* $name:ident, $len:literal, $b64_len:literal, $shape:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Parses standard padded base64 of exactly this many bytes, and nothing
            /// else (so every value has one text form).
            pub fn parse(text: &str) -> Result<$name, Error> {
                $name::parse_reason(text).map_err(|why| Error::InvalidRecord(why.to_owned()))
            }

            fn parse_reason(text: &str) -> Result<$name, &'static str> {
                let mut bytes = [0u8; $len];
                match BASE64.decode_slice(text, &mut bytes) {
                    Ok($len) if text.len() == $b64_len => Ok($name(bytes)),
                    _ => Err($shape),
                }
            }

            /// Characters in the base64 form.
            pub const BASE64_LEN: usize = $b64_len;

            /// The base64 form, written into `out` without allocating.
            pub fn encode<'a>(&self, out: &'a mut [u8; $b64_len]) -> &'a str {
                let written = BASE64
                    .encode_slice(self.0, out)
                    .expect("the buffer fits the base64 form");
                std::str::from_utf8(&out[..written]).expect("base64 is ASCII")
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(bytes: [u8; $len]) -> $name {
                $name(bytes)
            }
        }

        impl TryFrom<&[u8]> for $name {
            type Error = std::array::TryFromSliceError;
            fn try_from(bytes: &[u8]) -> Result<$name, Self::Error> {
                <[u8; $len]>::try_from(bytes).map($name)
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.encode(&mut [0; $b64_len]))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        text_or_wire!($name, |h| h.0, [u8; $len] => |bytes| Ok($name(bytes)));
    };
}

fixed_bytes! {
    /// A 32-byte digest under a log's hash function: a leaf hash, an interior node
    /// hash, a tree root, a commitment, the hash of a text.
    ///
    /// Text form (`Display`, `FromStr`, JSON): standard padded base64, 44 characters,
    /// as in checkpoints and receipts. Binary form: the 32 raw bytes.
    Hash, 32, 44, "must be standard base64 of exactly 32 bytes"
}

fixed_bytes! {
    /// A signature's dedup tag: the first 16 bytes of a keyed BLAKE3 of the petition
    /// and the signer's normalised identity (docs/FORMAT.md part E).
    ///
    /// Text form: standard padded base64, 24 characters. Binary form: the 16 raw bytes.
    DedupTag, 16, 24, "must be standard base64 of exactly 16 bytes"
}

fixed_bytes! {
    /// A signer secret: 32 random bytes the server draws for a signature and hands,
    /// once, to the signer. The signature commits to [`SignerSecret::hash`]; showing the
    /// secret later proves that the signer, not an organiser, asked for a withdrawal or
    /// an erasure (docs/FORMAT.md part E).
    ///
    /// Text form: standard padded base64, 44 characters. Binary form: the 32 raw bytes.
    SignerSecret, 32, 44, "must be standard base64 of exactly 32 bytes"
}

/// The BLAKE3 key-derivation context of [`SignerSecret::hash`]: fixed forever, since
/// signatures in the log commit to hashes made with it.
const SIGNER_SECRET_CONTEXT: &str = "campaign-ledger 2026-12 signer secret";

impl SignerSecret {
    /// What a signature commits to: BLAKE3 in key-derivation mode, with the context
    /// `campaign-ledger 2026-12 signer secret`, of the secret's 32 bytes. The same
    /// function whatever the log's hash function, so that anyone can check a secret
    /// with nothing but the entry.
    pub fn hash(&self) -> Hash {
        Hash(blake3::derive_key(SIGNER_SECRET_CONTEXT, &self.0))
    }
}

/// The hash function of one log. Fixed at creation; named wherever the log is described.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum HashAlg {
    #[default]
    Blake3,
    Sha256,
}

impl HashAlg {
    /// The name used in `GET /api/v1/log`, export manifests and the data directory.
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Blake3 => "blake3",
            HashAlg::Sha256 => "sha256",
        }
    }

    /// `H(data)`.
    pub fn digest(self, data: &[u8]) -> Hash {
        match self {
            HashAlg::Blake3 => Hash(*blake3::hash(data).as_bytes()),
            HashAlg::Sha256 => {
                use sha2::Digest;
                Hash(sha2::Sha256::digest(data).into())
            }
        }
    }

    /// The root of the empty tree: `H("")`.
    pub fn empty_root(self) -> Hash {
        self.digest(b"")
    }

    /// RFC 6962 leaf hash: `H(0x00 || entry)`.
    pub fn leaf_hash(self, entry: &[u8]) -> Hash {
        match self {
            HashAlg::Blake3 => {
                let mut h = blake3::Hasher::new();
                h.update(&[0]);
                h.update(entry);
                Hash(*h.finalize().as_bytes())
            }
            HashAlg::Sha256 => {
                use sha2::Digest;
                let mut h = sha2::Sha256::new();
                h.update([0u8]);
                h.update(entry);
                Hash(h.finalize().into())
            }
        }
    }

    /// RFC 6962 interior node hash: `H(0x01 || left || right)`.
    pub fn node_hash(self, left: &Hash, right: &Hash) -> Hash {
        let mut buf = [0u8; 65];
        buf[0] = 1;
        buf[1..33].copy_from_slice(&left.0);
        buf[33..].copy_from_slice(&right.0);
        self.digest(&buf)
    }
}

impl fmt::Display for HashAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for HashAlg {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "blake3" => Ok(HashAlg::Blake3),
            "sha256" => Ok(HashAlg::Sha256),
            other => Err(Error::UnknownHash(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_roots_are_hash_of_nothing() {
        assert_eq!(
            hex(&HashAlg::Sha256.empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&HashAlg::Blake3.empty_root()),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn leaf_and_node_match_the_rfc_vectors() {
        // Leaf "" and the two-leaf root of "" and 00, from the vectors' README.
        let l0 = HashAlg::Sha256.leaf_hash(b"");
        assert_eq!(
            hex(&l0),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        let l1 = HashAlg::Sha256.leaf_hash(&[0]);
        assert_eq!(
            hex(&HashAlg::Sha256.node_hash(&l0, &l1)),
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
        );
        let b = HashAlg::Blake3;
        assert_eq!(
            b.leaf_hash(b"abc"),
            b.digest(&[&[0u8][..], b"abc"].concat())
        );
    }

    #[test]
    fn names_round_trip() {
        for alg in [HashAlg::Blake3, HashAlg::Sha256] {
            assert_eq!(alg.name().parse::<HashAlg>().unwrap(), alg);
        }
        assert!("md5".parse::<HashAlg>().is_err());
    }

    #[test]
    fn text_form_is_canonical_padded_base64() {
        let hash = HashAlg::Blake3.digest(b"x");
        let text = hash.to_string();
        assert_eq!(text.len(), 44);
        assert_eq!(text.parse::<Hash>().unwrap(), hash);
        assert_eq!(serde_json::to_string(&hash).unwrap(), format!("\"{text}\""));
        assert_eq!(postcard::to_allocvec(&hash).unwrap(), hash.0);
        let unpadded = text.trim_end_matches('=');
        for bad in [
            unpadded,
            "AAAA",
            "",
            &format!("{text}AAAA"),
            &text.replace('A', "-"),
        ] {
            assert!(bad.parse::<Hash>().is_err(), "{bad:?}");
        }
        // Trailing bits that canonical base64 leaves zero.
        let zero = Hash([0; 32]).to_string();
        assert_eq!(zero, format!("{}=", "A".repeat(43)));
        assert!(format!("{}B=", "A".repeat(42)).parse::<Hash>().is_err());
        let tag = DedupTag([7; 16]);
        assert_eq!(tag.to_string().parse::<DedupTag>().unwrap(), tag);
        assert_eq!(postcard::to_allocvec(&tag).unwrap(), [7; 16]);
    }

    fn hex(h: &Hash) -> String {
        let h = h.as_bytes();
        h.iter().map(|b| format!("{b:02x}")).collect()
    }
}
