//! The store tests' fixtures (`store.rs`, `crash.rs`): a temporary data directory with
//! a key, deterministic entry bytes (the store does not interpret them), and a naive
//! RFC 6962 reference tree written straight from the RFC's definitions. Record-level
//! samples and strategies are in the `test-support` crate.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ledger::note::NoteSigner;
use ledger::store::{LogConfig, Store};
use ledger::HashAlg;

pub const ORIGIN: &str = "test.campaign-ledger.example/log";

pub fn signer(origin: &str) -> NoteSigner {
    NoteSigner::generate(origin).unwrap()
}

/// A temporary data directory and the key of the log in it.
pub struct Fixture {
    dir: tempfile::TempDir,
    alg: HashAlg,
    key: String,
}

impl Fixture {
    pub fn new(alg: HashAlg) -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
            alg,
            key: signer(ORIGIN).to_private_key(),
        }
    }

    /// A fixture whose log key is `key` (another log by the same operator).
    pub fn with_key(alg: HashAlg, key: String) -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
            alg,
            key,
        }
    }

    pub fn private_key(&self) -> String {
        self.key.clone()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self) -> LogConfig {
        LogConfig {
            origin: ORIGIN.into(),
            hash: self.alg,
        }
    }

    pub fn signer(&self) -> NoteSigner {
        NoteSigner::from_private_key(&self.key).unwrap()
    }

    pub fn create(&self) -> Store {
        Store::create(self.dir(), &self.config(), self.signer()).unwrap()
    }

    pub fn open(&self) -> Store {
        Store::open(self.dir(), self.signer()).unwrap()
    }
}

/// A deterministic entry of 100 to 150 bytes (the store does not interpret entries).
pub fn sample_entry(i: usize) -> Vec<u8> {
    let len = 100 + (i * 7919) % 51;
    (0..len)
        .map(|j| (i.wrapping_mul(31).wrapping_add(j * 17) % 251) as u8)
        .collect()
}

/// Every file of a directory, to put back later.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect()
}

pub fn restore(dir: &Path, files: &BTreeMap<PathBuf, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && !files.contains_key(&path) {
            std::fs::remove_file(path).unwrap();
        }
    }
    for (path, bytes) in files {
        std::fs::write(path, bytes).unwrap();
    }
}

/// RFC 6962 §2.1 computed naively from the definitions, for comparison.
pub mod reference {
    use ledger::{Hash, HashAlg};

    /// The largest power of two smaller than `n >= 2`.
    fn split(n: usize) -> usize {
        1 << (usize::BITS - 1 - (n - 1).leading_zeros())
    }

    pub fn root(alg: HashAlg, entries: &[Vec<u8>]) -> Hash {
        let leaves: Vec<Hash> = entries.iter().map(|e| alg.leaf_hash(e)).collect();
        root_of_leaves(alg, &leaves)
    }

    /// MTH(D[n]) over leaf hashes.
    pub fn root_of_leaves(alg: HashAlg, leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => alg.empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n);
                alg.node_hash(
                    &root_of_leaves(alg, &leaves[..k]),
                    &root_of_leaves(alg, &leaves[k..]),
                )
            }
        }
    }

    /// PATH(m, D[n]).
    pub fn inclusion(alg: HashAlg, m: usize, entries: &[Vec<u8>]) -> Vec<Hash> {
        let leaves: Vec<Hash> = entries.iter().map(|e| alg.leaf_hash(e)).collect();
        path(alg, m, &leaves)
    }

    fn path(alg: HashAlg, m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = split(n);
        if m < k {
            let mut p = path(alg, m, &leaves[..k]);
            p.push(root_of_leaves(alg, &leaves[k..]));
            p
        } else {
            let mut p = path(alg, m - k, &leaves[k..]);
            p.push(root_of_leaves(alg, &leaves[..k]));
            p
        }
    }

    /// PROOF(m, D[n]).
    pub fn consistency(alg: HashAlg, m: usize, entries: &[Vec<u8>]) -> Vec<Hash> {
        let leaves: Vec<Hash> = entries.iter().map(|e| alg.leaf_hash(e)).collect();
        if m == leaves.len() {
            return Vec::new();
        }
        subproof(alg, m, &leaves, true)
    }

    /// Which side each sibling of PATH(m, D[n]) is on (true = right), leaf upwards:
    /// all an RFC 9162 verifier learns from `(m, n)`. Two claims with the same shape
    /// accept the same proofs, so no verifier can tell them apart.
    pub fn inclusion_shape(m: u64, n: u64) -> Option<Vec<bool>> {
        fn go(m: u64, n: u64, out: &mut Vec<bool>) {
            if n <= 1 {
                return;
            }
            let k = 1u64 << (63 - (n - 1).leading_zeros());
            if m < k {
                go(m, k, out);
                out.push(true);
            } else {
                go(m - k, n - k, out);
                out.push(false);
            }
        }
        (m < n).then(|| {
            let mut out = Vec::new();
            go(m, n, &mut out);
            out
        })
    }

    /// For PROOF(m, D[n]): whether the old root is implicit, then for each element
    /// whether it is a left sibling and whether it lies inside the old tree. The same
    /// role as [`inclusion_shape`].
    pub fn consistency_shape(m: u64, n: u64) -> Option<(bool, Vec<(bool, bool)>)> {
        fn go(m: u64, n: u64, b: bool, out: &mut Vec<(bool, bool)>) {
            if m == n {
                if !b {
                    out.push((false, true));
                }
                return;
            }
            let k = 1u64 << (63 - (n - 1).leading_zeros());
            if m <= k {
                go(m, k, b, out);
                out.push((false, false));
            } else {
                go(m - k, n - k, false, out);
                out.push((true, true));
            }
        }
        (0 < m && m < n).then(|| {
            let mut out = Vec::new();
            go(m, n, true, &mut out);
            (m.is_power_of_two(), out)
        })
    }

    fn subproof(alg: HashAlg, m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if b {
                Vec::new()
            } else {
                vec![root_of_leaves(alg, leaves)]
            };
        }
        let k = split(n);
        if m <= k {
            let mut p = subproof(alg, m, &leaves[..k], b);
            p.push(root_of_leaves(alg, &leaves[k..]));
            p
        } else {
            let mut p = subproof(alg, m - k, &leaves[k..], false);
            p.push(root_of_leaves(alg, &leaves[..k]));
            p
        }
    }
}
