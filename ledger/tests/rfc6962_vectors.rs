//! Every inclusion and consistency case of `tests/data/rfc6962-sha256/` (from
//! transparency-dev/merkle, Apache-2.0; see the README beside them), checked in SHA-256
//! mode: a case must be accepted exactly when its `wantErr` is false.

use std::path::{Path, PathBuf};

use base64::Engine;
use ledger::merkle::{verify_consistency, verify_inclusion};
use ledger::{Hash, HashAlg};
use serde_json::Value;

fn cases(kind: &str) -> Vec<(PathBuf, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/rfc6962-sha256")
        .join(kind);
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for item in std::fs::read_dir(&dir).unwrap() {
            let path = item.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                out.push((path, value));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A base64 proof element as a hash; `None` when it does not decode to exactly 32 bytes,
/// which a verifier must treat as a failed proof.
fn hash(value: &Value) -> Option<Hash> {
    Hash::try_from(bytes(value)?.as_slice()).ok()
}

fn bytes(value: &Value) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(value.as_str()?)
        .ok()
}

/// A consistency root. Some cases use placeholders that are not 32 bytes long ("don't
/// care") where only equality matters (equal sizes need equal roots); those are mapped
/// to a 32-byte value that is equal exactly when the placeholders are, and never matches
/// a real hash. Inclusion fields stay strict: a leaf or root that is not 32 bytes fails.
fn root(value: &Value) -> Option<Hash> {
    let bytes = bytes(value)?;
    match <Hash>::try_from(bytes.as_slice()) {
        Ok(hash) => Some(hash),
        Err(_) => Some(HashAlg::Sha256.digest(&[b"placeholder:".as_slice(), &bytes].concat())),
    }
}

fn proof(value: &Value) -> Option<Vec<Hash>> {
    match value {
        Value::Null => Some(Vec::new()),
        Value::Array(items) => items.iter().map(hash).collect(),
        _ => None,
    }
}

fn num(value: &Value) -> u64 {
    value
        .as_u64()
        .expect("sizes in the vectors are non-negative integers")
}

#[test]
fn inclusion_vectors() {
    let cases = cases("inclusion");
    assert!(cases.len() > 50, "vectors missing: found {}", cases.len());
    for (path, case) in cases {
        let accepted = match (
            hash(&case["leafHash"]),
            hash(&case["root"]),
            proof(&case["proof"]),
        ) {
            (Some(leaf), Some(root), Some(proof)) => verify_inclusion(
                HashAlg::Sha256,
                num(&case["leafIdx"]),
                num(&case["treeSize"]),
                &leaf,
                &proof,
                &root,
            )
            .is_ok(),
            _ => false,
        };
        let want_err = case["wantErr"].as_bool().unwrap();
        assert_eq!(accepted, !want_err, "{}: {}", path.display(), case["desc"]);
    }
}

#[test]
fn consistency_vectors() {
    let cases = cases("consistency");
    assert!(cases.len() > 50, "vectors missing: found {}", cases.len());
    for (path, case) in cases {
        let accepted = match (
            root(&case["root1"]),
            root(&case["root2"]),
            proof(&case["proof"]),
        ) {
            (Some(root1), Some(root2), Some(proof)) => verify_consistency(
                HashAlg::Sha256,
                num(&case["size1"]),
                num(&case["size2"]),
                &root1,
                &root2,
                &proof,
            )
            .is_ok(),
            _ => false,
        };
        let want_err = case["wantErr"].as_bool().unwrap();
        assert_eq!(accepted, !want_err, "{}: {}", path.display(), case["desc"]);
    }
}

/// The README's root hashes for sizes 1..8, rebuilt from its eight leaf inputs.
#[test]
fn reference_roots() {
    let inputs: [&[u8]; 8] = [
        b"",
        &[0x00],
        &[0x10],
        &[0x20, 0x21],
        &[0x30, 0x31],
        &[0x40, 0x41, 0x42, 0x43],
        &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        &[
            0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
            0x6e, 0x6f,
        ],
    ];
    let want = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let mut frontier = ledger::merkle::Frontier::new();
    for (input, want) in inputs.iter().zip(want) {
        frontier.push(HashAlg::Sha256, HashAlg::Sha256.leaf_hash(input), |_, _| {});
        let root: String = frontier
            .root(HashAlg::Sha256)
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(root, want);
    }
}
