//! The store against a naive reference tree: appends, reads, proofs, reopen, torn-tail
//! recovery and index rebuild. Crash safety under SIGKILL is in `crash.rs`.

mod support;

use std::path::Path;

use ledger::merkle::{verify_consistency, verify_inclusion};
use ledger::store::Store;
use ledger::{Error, HashAlg};
use proptest::prelude::*;
use support::{reference, sample_entry, Fixture};

#[test]
fn appends_read_back_and_survive_reopen() {
    let fx = Fixture::new(HashAlg::Blake3);
    let store = fx.create();
    assert_eq!(store.size(), 0);
    assert!(
        store.checkpoint_at(0).unwrap().is_some(),
        "a new log signs the empty tree"
    );
    let mut all = Vec::new();
    for batch in [1usize, 3, 300, 1, 700] {
        let entries: Vec<Vec<u8>> = (0..batch).map(|i| sample_entry(all.len() + i)).collect();
        let appended = store.append_blocking(entries.clone()).unwrap();
        assert_eq!(appended.first_index, all.len() as u64);
        all.extend(entries);
        assert_eq!(appended.tree_size, all.len() as u64);
        assert_eq!(appended.root, reference::root(HashAlg::Blake3, &all));
        assert!(appended.checkpoint.contains(&format!("\n{}\n", all.len())));
    }
    let check = |store: &Store| {
        assert_eq!(store.size(), all.len() as u64);
        assert_eq!(store.entries(0, all.len() as u64).unwrap(), all);
        for i in [0u64, 1, 4, 255, 256, 303, 1004] {
            assert_eq!(store.entry(i).unwrap(), all[i as usize]);
            assert_eq!(
                store.leaf_hash(i).unwrap(),
                HashAlg::Blake3.leaf_hash(&all[i as usize])
            );
        }
        assert_eq!(store.checkpoint_sizes(), vec![0, 1, 4, 304, 305, 1005]);
        assert!(store
            .checkpoint_at(304)
            .unwrap()
            .unwrap()
            .contains("\n304\n"));
        assert_eq!(store.checkpoint_at(5).unwrap(), None);
        let report = store.check().unwrap();
        assert_eq!(report.entries, all.len() as u64);
        assert_eq!(report.checkpoints, 6);
    };
    check(&store);
    store.close().unwrap();
    let store = fx.open();
    check(&store);
    // Appending after reopen continues the same tree.
    let appended = store.append_blocking(vec![sample_entry(9999)]).unwrap();
    all.push(sample_entry(9999));
    assert_eq!(appended.first_index, 1005);
    assert_eq!(appended.root, reference::root(HashAlg::Blake3, &all));
}

#[test]
fn read_log_gives_every_batch_without_the_key() {
    let fx = Fixture::new(HashAlg::Blake3);
    let store = fx.create();
    let entries: Vec<Vec<u8>> = (0..600).map(sample_entry).collect();
    store.append_blocking(entries[..100].to_vec()).unwrap();
    store.append_blocking(entries[100..].to_vec()).unwrap();
    let head = store.head();
    store.close().unwrap();
    let mut batches = Vec::new();
    let stopped_early = ledger::store::read_log(fx.dir(), &mut |batch| {
        batches.push(batch);
        Ok(())
    })
    .unwrap();
    assert_eq!(stopped_early, None);
    assert_eq!(
        ledger::store::describe(fx.dir()).unwrap().vkey,
        fx.signer().verifier_key()
    );
    let sizes: Vec<u64> = batches.iter().map(|b| b.tree_size).collect();
    assert_eq!(sizes, vec![0, 100, 600]);
    let read: Vec<Vec<u8>> = batches.iter().flat_map(|b| b.entries.clone()).collect();
    assert_eq!(read, entries);
    assert_eq!(batches[2].first_index, 100);
    assert_eq!(batches[2].checkpoint, *head.checkpoint);
}

#[test]
fn receipts_verify_with_only_the_vkey() {
    let fx = Fixture::new(HashAlg::Blake3);
    let store = fx.create();
    let entries: Vec<Vec<u8>> = (0..1000).map(sample_entry).collect();
    store.append_blocking(entries.clone()).unwrap();
    let vkey = ledger::note::NoteVerifier::parse(&fx.signer().verifier_key()).unwrap();
    for index in [0u64, 1, 499, 998, 999] {
        let text = store.receipt(index).unwrap().to_text();
        let receipt = ledger::receipt::Receipt::parse(&text).unwrap();
        let checkpoint = receipt
            .verify(HashAlg::Blake3, &entries[index as usize], &vkey)
            .unwrap();
        assert_eq!(checkpoint.size, 1000);
        assert!(receipt
            .verify(
                HashAlg::Blake3,
                &entries[(index as usize + 1) % 1000],
                &vkey
            )
            .is_err());
    }
    assert!(matches!(
        store.receipt(1000),
        Err(Error::IndexOutOfRange { .. })
    ));
}

#[test]
fn tiles_match_the_tree() {
    let fx = Fixture::new(HashAlg::Sha256);
    let store = fx.create();
    let entries: Vec<Vec<u8>> = (0..70_000).map(sample_entry).collect();
    for chunk in entries.chunks(4096) {
        store.append_blocking(chunk.to_vec()).unwrap();
    }
    let leaves: Vec<_> = entries
        .iter()
        .map(|e| HashAlg::Sha256.leaf_hash(e))
        .collect();
    // Level 0: leaf hashes; level 1: roots of each 256-leaf subtree.
    let tile = store.hash_tile(0, 3, 256).unwrap();
    let want: Vec<u8> = leaves[768..1024].iter().flat_map(|h| h.0).collect();
    assert_eq!(tile, want);
    let tile = store.hash_tile(1, 0, 5).unwrap();
    let want: Vec<u8> = (0..5)
        .flat_map(|i| reference::root(HashAlg::Sha256, &entries[i * 256..(i + 1) * 256]).0)
        .collect();
    assert_eq!(tile, want);
    let level1_count = 70_000 / 256;
    assert!(store
        .hash_tile(1, 1, (level1_count - 256 + 1) as u16)
        .is_err());
    assert!(
        store.hash_tile(2, 0, 1).is_ok(),
        "65536 leaves complete one level-16 node"
    );
    assert!(store.hash_tile(2, 0, 2).is_err());
    // Entry bundles: u16 big-endian length prefixes, full and partial.
    let bundle = store.entry_bundle(2, 256).unwrap();
    let mut want = Vec::new();
    for e in &entries[512..768] {
        want.extend_from_slice(&(e.len() as u16).to_be_bytes());
        want.extend_from_slice(e);
    }
    assert_eq!(bundle, want);
    let last = 70_000 / 256;
    let width = (70_000 % 256) as u16;
    assert!(store.entry_bundle(last, width).is_ok());
    assert!(store.entry_bundle(last, width + 1).is_err());
    assert!(store.entry_bundle(0, 0).is_err());
    assert!(store.entry_bundle(0, 257).is_err());
    assert!(store.entry_bundle(u64::MAX, 1).is_err());
}

#[test]
fn every_proof_up_to_64_matches_the_reference() {
    let alg = HashAlg::Blake3;
    let fx = Fixture::new(alg);
    let store = fx.create();
    let entries: Vec<Vec<u8>> = (0..64).map(sample_entry).collect();
    // Uneven batches so that checkpoints and frames fall at odd places.
    for chunk in entries.chunks(7) {
        store.append_blocking(chunk.to_vec()).unwrap();
    }
    for size in 1..=64u64 {
        let prefix = &entries[..size as usize];
        let root = reference::root(alg, prefix);
        assert_eq!(store.root_at(size).unwrap(), root);
        for index in 0..size {
            let proof = store
                .inclusion_proof(index, Some(size))
                .map(|p| p.proof)
                .unwrap();
            assert_eq!(proof, reference::inclusion(alg, index as usize, prefix));
            let leaf = alg.leaf_hash(&entries[index as usize]);
            verify_inclusion(alg, index, size, &leaf, &proof, &root).unwrap();
        }
        for from in 1..=size {
            let proof = store
                .consistency_proof(from, Some(size))
                .map(|p| p.proof)
                .unwrap();
            assert_eq!(proof, reference::consistency(alg, from as usize, prefix));
            let old = reference::root(alg, &entries[..from as usize]);
            verify_consistency(alg, from, size, &old, &root, &proof).unwrap();
        }
    }
    assert!(matches!(
        store.inclusion_proof(64, Some(64)).map(|p| p.proof),
        Err(Error::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        store.inclusion_proof(0, Some(65)).map(|p| p.proof),
        Err(Error::SizeOutOfRange { .. })
    ));
    assert!(matches!(
        store.consistency_proof(0, Some(5)).map(|p| p.proof),
        Err(Error::BadRange { .. })
    ));
    assert!(matches!(
        store.consistency_proof(6, Some(5)).map(|p| p.proof),
        Err(Error::BadRange { .. })
    ));
    assert!(matches!(
        store.root_at(65),
        Err(Error::SizeOutOfRange { .. })
    ));
}

/// Proofs in a log large enough that every way a node is found is used: leaves read
/// with the proof's other low siblings, whole chunks of 128 stored hashes rebuilt and
/// remembered (at levels 0 and 8), nodes on the right edge rebuilt alone, and the
/// same nodes found again in memory. Each proof is checked against the reference root,
/// cold (first time) and warm (second time), at the full size and at smaller sizes.
#[test]
fn proofs_verify_cold_and_warm_across_chunks_and_the_right_edge() {
    let alg = HashAlg::Sha256;
    let fx = Fixture::new(alg);
    let store = fx.create();
    let entries: Vec<Vec<u8>> = (0..70_000).map(sample_entry).collect();
    for chunk in entries.chunks(4096) {
        store.append_blocking(chunk.to_vec()).unwrap();
    }
    let leaves: Vec<_> = entries.iter().map(|e| alg.leaf_hash(e)).collect();
    for size in [70_000u64, 65_536, 32_768 + 129, 300] {
        let root = reference::root_of_leaves(alg, &leaves[..size as usize]);
        let indexes = [
            0, 1, 127, 128, 255, 256, 32_767, 32_768, 40_000, 65_535, 69_999,
        ];
        for pass in ["cold", "warm"] {
            for index in indexes.into_iter().filter(|i| *i < size) {
                let proof = store.inclusion_proof(index, Some(size)).unwrap().proof;
                let leaf = leaves[index as usize];
                assert!(
                    verify_inclusion(alg, index, size, &leaf, &proof, &root).is_ok(),
                    "{pass} proof of {index} at size {size}"
                );
            }
        }
        for from in [1u64, 200, 32_768, 40_001]
            .into_iter()
            .filter(|f| *f < size)
        {
            let old = reference::root_of_leaves(alg, &leaves[..from as usize]);
            let proof = store.consistency_proof(from, Some(size)).unwrap().proof;
            assert!(verify_consistency(alg, from, size, &old, &root, &proof).is_ok());
        }
    }
}

/// A 10,000-entry log shared by the random-pair properties.
fn big_log() -> &'static (Fixture, Store, Vec<ledger::Hash>) {
    static LOG: std::sync::OnceLock<(Fixture, Store, Vec<ledger::Hash>)> =
        std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let fx = Fixture::new(HashAlg::Blake3);
        let store = fx.create();
        let entries: Vec<Vec<u8>> = (0..10_000).map(sample_entry).collect();
        for chunk in entries.chunks(999) {
            store.append_blocking(chunk.to_vec()).unwrap();
        }
        let leaves = entries
            .iter()
            .map(|e| HashAlg::Blake3.leaf_hash(e))
            .collect();
        (fx, store, leaves)
    })
}

fn flip(hash: &mut ledger::Hash, bit: usize) {
    hash.0[bit / 8 % 32] ^= 1 << (bit % 8);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_inclusion_proofs_verify_and_every_bit_flip_fails(
        size in 1u64..=10_000, index_seed: u64, bit in 0usize..256, which in 0usize..4,
    ) {
        let (_, store, leaves) = big_log();
        let alg = HashAlg::Blake3;
        let index = index_seed % size;
        let root = reference::root_of_leaves(alg, &leaves[..size as usize]);
        let proof = store.inclusion_proof(index, Some(size)).map(|p| p.proof).unwrap();
        let leaf = leaves[index as usize];
        prop_assert!(verify_inclusion(alg, index, size, &leaf, &proof, &root).is_ok());
        let (mut leaf2, mut root2, mut proof2, mut size2, mut index2) = (leaf, root, proof.clone(), size, index);
        match which {
            0 if !proof2.is_empty() => { let n = proof2.len(); flip(&mut proof2[bit % n], bit) }
            0 | 1 => flip(&mut leaf2, bit),
            2 => flip(&mut root2, bit),
            _ => if bit % 2 == 0 { size2 ^= 1 << (bit % 64) } else { index2 ^= 1 << (bit % 64) },
        }
        // RFC 9162 proofs do not commit to (index, size) beyond the audit path's shape
        // (index 0 has one shape for every size in 129..=256, say); the size comes from
        // a signed checkpoint. A corrupted claim must fail unless its shape is the same.
        let indistinguishable = which == 3
            && reference::inclusion_shape(index2, size2) == reference::inclusion_shape(index, size);
        if !indistinguishable {
            prop_assert!(verify_inclusion(alg, index2, size2, &leaf2, &proof2, &root2).is_err());
        }
    }

    #[test]
    fn random_consistency_proofs_verify_and_every_bit_flip_fails(
        to in 2u64..=10_000, from_seed: u64, bit in 0usize..256, which in 0usize..4,
    ) {
        let (_, store, leaves) = big_log();
        let alg = HashAlg::Blake3;
        let from = 1 + from_seed % (to - 1);
        let old = reference::root_of_leaves(alg, &leaves[..from as usize]);
        let new = reference::root_of_leaves(alg, &leaves[..to as usize]);
        let proof = store.consistency_proof(from, Some(to)).map(|p| p.proof).unwrap();
        prop_assert!(verify_consistency(alg, from, to, &old, &new, &proof).is_ok());
        let (mut old2, mut new2, mut proof2, mut from2, mut to2) = (old, new, proof.clone(), from, to);
        match which {
            0 => { let n = proof2.len(); flip(&mut proof2[bit % n], bit) }
            1 => flip(&mut old2, bit),
            2 => flip(&mut new2, bit),
            _ => if bit % 2 == 0 { from2 ^= 1 << (bit % 64) } else { to2 ^= 1 << (bit % 64) },
        }
        // As for inclusion: only a corrupted size pair with the very same proof shape
        // may pass, because RFC 9162 cannot tell the two apart.
        let indistinguishable = which == 3
            && reference::consistency_shape(from2, to2) == reference::consistency_shape(from, to);
        if !indistinguishable {
            prop_assert!(verify_consistency(alg, from2, to2, &old2, &new2, &proof2).is_err());
        }
    }
}

/// The journal's logical length: it is extended ahead with zeros, and every batch ends
/// with a signed note, whose last byte is a newline.
fn journal_len(dir: &Path) -> u64 {
    let bytes = std::fs::read(dir.join("journal")).unwrap();
    bytes
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i as u64 + 1)
}

#[test]
fn a_torn_last_batch_is_truncated_at_every_byte() {
    let fx = Fixture::new(HashAlg::Blake3);
    let store = fx.create();
    store
        .append_blocking((0..300).map(sample_entry).collect())
        .unwrap();
    let good = store.head();
    store.close().unwrap();
    let good_len = journal_len(fx.dir());
    let before = support::snapshot(fx.dir());
    let store = fx.open();
    store
        .append_blocking((300..302).map(sample_entry).collect())
        .unwrap();
    store.close().unwrap();
    let full_len = journal_len(fx.dir());
    // As a crash during the last batch's write leaves it: the journal and indexes
    // written, but neither the published head nor the sync state recorded past 300
    // (both are written only after the batch's fdatasync).
    let mut pristine = support::snapshot(fx.dir());
    for name in ["published", "meta.redb"] {
        let path = fx.dir().join(name);
        pristine.insert(path.clone(), before[&path].clone());
    }
    // Cutting anywhere inside the last batch loses exactly that batch, never more:
    // every byte of its headers and tail, and every 7th byte of the rest.
    let cuts =
        (good_len..full_len).filter(|c| c - good_len < 48 || full_len - c < 48 || c % 7 == 0);
    for cut in cuts {
        support::restore(fx.dir(), &pristine);
        let journal = std::fs::OpenOptions::new()
            .write(true)
            .open(fx.dir().join("journal"))
            .unwrap();
        journal.set_len(cut).unwrap();
        drop(journal);
        // The indexes may be ahead of the journal too (written before the crash).
        let store = fx.open();
        assert_eq!(store.head(), good, "cut at {cut}");
        assert_eq!(journal_len(fx.dir()), good_len);
        store.check().unwrap();
        store.close().unwrap();
    }
    // Garbage after the last commit is dropped too.
    support::restore(fx.dir(), &pristine);
    let mut bytes = std::fs::read(fx.dir().join("journal")).unwrap();
    bytes.extend_from_slice(b"E garbage that is not a frame");
    std::fs::write(fx.dir().join("journal"), &bytes).unwrap();
    let store = fx.open();
    assert_eq!(store.size(), 302);
    store.check().unwrap();
}

#[test]
fn lost_indexes_are_rebuilt_from_the_journal() {
    let fx = Fixture::new(HashAlg::Blake3);
    let store = fx.create();
    for chunk in (0..70_000)
        .map(sample_entry)
        .collect::<Vec<_>>()
        .chunks(5000)
    {
        store.append_blocking(chunk.to_vec()).unwrap();
    }
    let head = store.head();
    store.close().unwrap();
    for name in ["frames.idx", "hashes.0", "hashes.1", "checkpoints.idx"] {
        std::fs::remove_file(fx.dir().join(name)).unwrap();
        let store = fx.open();
        assert_eq!(store.head(), head, "after deleting {name}");
        store.check().unwrap();
        assert_eq!(store.entry(65_537).unwrap(), sample_entry(65_537));
        store.close().unwrap();
    }
}

#[test]
fn a_flipped_bit_in_the_journal_is_found_by_check() {
    let fx = Fixture::new(HashAlg::Blake3);
    let store = fx.create();
    store
        .append_blocking((0..100).map(sample_entry).collect())
        .unwrap();
    store
        .append_blocking((100..200).map(sample_entry).collect())
        .unwrap();
    store.close().unwrap();
    let pristine = support::snapshot(fx.dir());
    let journal = std::fs::read(fx.dir().join("journal")).unwrap();
    let find = |needle: &[u8]| {
        journal
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    };
    // One byte of an early entry, and one byte of an early checkpoint's signature
    // (both well before the last batch, so recovery does not look at them).
    let entry_byte = find(&sample_entry(50)) + 10;
    let first_note = find("\u{2014} ".as_bytes());
    let signature_byte = first_note
        + journal[first_note..]
            .iter()
            .position(|&b| b == b'\n')
            .unwrap()
        - 5;
    for (offset, first_bad) in [(entry_byte, 50), (signature_byte, 0)] {
        support::restore(fx.dir(), &pristine);
        let mut bytes = journal.clone();
        bytes[offset] ^= 0x01;
        std::fs::write(fx.dir().join("journal"), &bytes).unwrap();
        let store = fx.open();
        let err = store.check().unwrap_err();
        assert!(
            matches!(err, Error::Damaged { index, .. } if index == first_bad),
            "{err}"
        );
        store.close().unwrap();
    }
}

#[test]
fn bad_appends_change_nothing() {
    let fx = Fixture::new(HashAlg::Blake3);
    let store = fx.create();
    assert!(matches!(
        store.append_blocking(vec![]),
        Err(Error::EmptyBatch)
    ));
    assert!(matches!(
        store.append_blocking(vec![vec![0u8; 65_536]]),
        Err(Error::EntryTooLarge(65_536))
    ));
    assert_eq!(store.size(), 0);
    assert!(store.append_blocking(vec![vec![0u8; 65_535]]).is_ok());
    assert!(matches!(store.entry(1), Err(Error::IndexOutOfRange { .. })));
    // Extreme arguments are errors, never panics or wrap-arounds.
    assert!(store.entry(u64::MAX).is_err());
    assert!(store.entries(u64::MAX - 1, u64::MAX).is_err());
    assert!(store.leaf_hash(u64::MAX).is_err());
    assert!(store.hash_tile(0, u64::MAX / 256, 256).is_err());
    assert!(store.hash_tile(255, 0, 1).is_err());
    assert!(store.entry_bundle(u64::MAX / 256, 256).is_err());
    assert!(store
        .inclusion_proof(u64::MAX, Some(u64::MAX))
        .map(|p| p.proof)
        .is_err());
    assert!(store
        .consistency_proof(1, Some(u64::MAX))
        .map(|p| p.proof)
        .is_err());
    assert!(store.root_at(u64::MAX).is_err());
    assert!(store.receipt(u64::MAX).is_err());
    assert_eq!(store.checkpoint_at(u64::MAX).unwrap(), None);
}

#[test]
fn opening_checks_identity() {
    let fx = Fixture::new(HashAlg::Blake3);
    fx.create().close().unwrap();
    assert!(matches!(
        Store::create(fx.dir(), &fx.config(), fx.signer()),
        Err(Error::AlreadyExists(_))
    ));
    let stranger = support::signer(&fx.config().origin);
    assert!(Store::open(fx.dir(), stranger).is_err());
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        Store::open(empty.path(), fx.signer()),
        Err(Error::NotALedger { .. })
    ));
    let described = ledger::store::describe(fx.dir()).unwrap();
    assert_eq!(described.config, fx.config());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appenders_share_commits() {
    let fx = Fixture::new(HashAlg::Blake3);
    let store = fx.create();
    let mut tasks = Vec::new();
    for t in 0..32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..20 {
                let entry = sample_entry(t * 1000 + i);
                let appended = store.append(vec![entry.clone()]).await.unwrap();
                got.push((appended.first_index, entry));
            }
            got
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.extend(task.await.unwrap());
    }
    assert_eq!(store.size(), 640);
    for (index, entry) in seen {
        assert_eq!(store.entry(index).unwrap(), entry);
    }
    assert!(
        store.checkpoint_sizes().len() < 641,
        "some commits were shared"
    );
    store.check().unwrap();
}
