//! The log's hash function, chosen once when a log is created.
//!
//! BLAKE3 (32-byte output) is the default; SHA-256 is the interop mode for C2SP
//! witnesses and tools. Everything that hashes takes a [`HashAlg`], so one code path
//! serves both and the RFC 6962 test vectors exercise the same code as production.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A 32-byte digest: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

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
            HashAlg::Blake3 => *blake3::hash(data).as_bytes(),
            HashAlg::Sha256 => {
                use sha2::Digest;
                sha2::Sha256::digest(data).into()
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
                *h.finalize().as_bytes()
            }
            HashAlg::Sha256 => {
                use sha2::Digest;
                let mut h = sha2::Sha256::new();
                h.update([0u8]);
                h.update(entry);
                h.finalize().into()
            }
        }
    }

    /// RFC 6962 interior node hash: `H(0x01 || left || right)`.
    pub fn node_hash(self, left: &Hash, right: &Hash) -> Hash {
        let mut buf = [0u8; 65];
        buf[0] = 1;
        buf[1..33].copy_from_slice(left);
        buf[33..].copy_from_slice(right);
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

    fn hex(h: &[u8]) -> String {
        h.iter().map(|b| format!("{b:02x}")).collect()
    }
}
