//! What the store refuses rather than serve or sign: a rolled-back or forked journal,
//! damaged index rows and stored hashes, a swapped key. Each case damages a closed data
//! directory the way an operator, a bad restore or a failing disk would.

mod support;

use std::path::Path;

use ledger::store::{KeyPin, Store};
use ledger::{Error, HashAlg};
use support::{sample_entry, Fixture};

/// A closed log of 2,000 entries in 20 batches.
fn log_of_2000() -> Fixture {
    let fx = Fixture::new(HashAlg::Blake3);
    let store = fx.create();
    for batch in 0..20 {
        store
            .append_blocking((batch * 100..batch * 100 + 100).map(sample_entry).collect())
            .unwrap();
    }
    store.close().unwrap();
    fx
}

fn open_err(fx: &Fixture) -> Error {
    match Store::open(fx.dir(), fx.signer()) {
        Ok(_) => panic!("the damaged directory opened"),
        Err(e) => e,
    }
}

fn flip_bit(path: &Path, offset: u64) {
    test_support::damage::flip_bits(path, offset, 0x10);
}

#[test]
fn a_truncated_journal_is_refused_not_rolled_back() {
    let fx = log_of_2000();
    let journal = fx.dir().join("journal");
    let before = std::fs::read(&journal).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&journal)
        .unwrap()
        .set_len(9000)
        .unwrap();
    let err = open_err(&fx);
    assert!(
        matches!(err, Error::RolledBack { published: 2000, journal } if journal < 100),
        "{err}"
    );
    let message = err.to_string();
    assert!(
        message.contains("2000") && message.contains("restore"),
        "{message}"
    );
    // Nothing of what is left was erased: putting the journal back opens the log.
    assert_eq!(std::fs::read(&journal).unwrap(), before[..9000]);
    std::fs::write(&journal, &before).unwrap();
    let store = fx.open();
    assert_eq!(store.size(), 2000);
    store.check().unwrap();
}

#[test]
fn an_older_copy_of_the_directory_is_refused() {
    let fx = Fixture::new(HashAlg::Blake3);
    let store = fx.create();
    store
        .append_blocking((0..100).map(sample_entry).collect())
        .unwrap();
    store.close().unwrap();
    let old = support::snapshot(fx.dir());
    let store = fx.open();
    store
        .append_blocking((100..200).map(sample_entry).collect())
        .unwrap();
    store.close().unwrap();
    // Every log file put back as it was at 100 entries, except the published head.
    let mut restored = old.clone();
    let published = fx.dir().join("published");
    restored.insert(published.clone(), std::fs::read(&published).unwrap());
    support::restore(fx.dir(), &restored);
    let err = open_err(&fx);
    assert!(
        matches!(
            err,
            Error::RolledBack {
                journal: 100,
                published: 200
            }
        ),
        "{err}"
    );
}

#[test]
fn a_different_journal_of_the_same_size_is_a_fork() {
    let fx = log_of_2000();
    // Another log with the same key and 2,000 other entries.
    let other = Fixture::with_key(HashAlg::Blake3, fx.private_key());
    let store = other.create();
    store
        .append_blocking((5000..7000).map(sample_entry).collect())
        .unwrap();
    store.close().unwrap();
    for name in [
        "journal",
        "hashes.0",
        "hashes.1",
        "frames.idx",
        "checkpoints.idx",
    ] {
        std::fs::copy(other.dir().join(name), fx.dir().join(name)).unwrap();
    }
    let err = open_err(&fx);
    assert!(
        matches!(err, Error::PublishedRootMismatch { size: 2000 }),
        "{err}"
    );
}

#[test]
fn a_flipped_bit_mid_journal_is_refused_not_cut() {
    let fx = Fixture::new(HashAlg::Blake3);
    let store = fx.create();
    store
        .append_blocking((0..1000).map(sample_entry).collect())
        .unwrap();
    store.close().unwrap();
    let meta_at_1000 = std::fs::read(fx.dir().join("meta.redb")).unwrap();
    let store = fx.open();
    for batch in 10..20 {
        store
            .append_blocking((batch * 100..batch * 100 + 100).map(sample_entry).collect())
            .unwrap();
    }
    store.close().unwrap();
    // As after a crash, recovery replays from entry 1000; a bit flipped in entry 1500
    // makes the journal read as ending at 1500.
    let at = test_support::damage::entry_offset(fx.dir(), 1500);
    std::fs::write(fx.dir().join("meta.redb"), meta_at_1000).unwrap();
    let journal = fx.dir().join("journal");
    flip_bit(&journal, at + 7);
    let damaged = std::fs::read(&journal).unwrap();
    let err = open_err(&fx);
    assert!(
        matches!(
            err,
            Error::RolledBack {
                journal: 1500,
                published: 2000
            }
        ),
        "{err}"
    );
    // The batches after the damage are still there for a repair.
    assert_eq!(std::fs::read(&journal).unwrap(), damaged);
}

#[test]
fn a_flipped_bit_in_a_synced_entry_is_found_by_the_scrub() {
    let fx = log_of_2000();
    let journal = fx.dir().join("journal");
    flip_bit(
        &journal,
        test_support::damage::entry_offset(fx.dir(), 1000) + 7,
    );
    let store = fx.open();
    let err = store.scrub(&mut |_| Ok(())).unwrap_err();
    assert!(matches!(err, Error::Damaged { index: 1000, .. }), "{err}");
    assert!(matches!(store.entry(1000), Err(Error::Damaged { .. })));
    assert!(matches!(store.receipt(1000), Err(Error::Damaged { .. })));
    assert!(matches!(
        store.entry_bundle(3, 256),
        Err(Error::Damaged { .. })
    ));
    assert_eq!(store.entry(999).unwrap(), sample_entry(999));
    store.close().unwrap();
}

#[test]
fn a_missing_published_head_is_refused() {
    let fx = log_of_2000();
    std::fs::remove_file(fx.dir().join("published")).unwrap();
    let err = open_err(&fx);
    assert!(matches!(err, Error::PublishedMissing), "{err}");
}

#[test]
fn every_flipped_bit_of_an_index_row_is_refused_at_open() {
    let fx = log_of_2000();
    let pristine = support::snapshot(fx.dir());
    for name in ["frames.idx", "checkpoints.idx"] {
        let path = fx.dir().join(name);
        let len = std::fs::metadata(&path).unwrap().len();
        // Every byte of the first rows and of the last ones, every 5th elsewhere.
        for offset in (0..len).filter(|o| *o < 48 || len - o <= 48 || o % 5 == 0) {
            support::restore(fx.dir(), &pristine);
            flip_bit(&path, offset);
            let err = open_err(&fx);
            assert!(
                matches!(err, Error::Corrupt(_)),
                "{name} byte {offset}: {err}"
            );
        }
    }
}

#[test]
fn a_flipped_stored_hash_is_refused_at_open_or_found_by_the_scrub() {
    let fx = log_of_2000();
    let pristine = support::snapshot(fx.dir());
    // The stored hashes the root is rebuilt from (the last leaves and every level-8
    // hash of a log this small) are checked against the last checkpoint: a flip there
    // is refused at open.
    for (file, row) in [("hashes.0", 1999u64), ("hashes.1", 3)] {
        support::restore(fx.dir(), &pristine);
        flip_bit(&fx.dir().join(file), row * 32);
        let err = open_err(&fx);
        assert!(
            matches!(err, Error::PublishedRootMismatch { size: 2000 }),
            "{err}"
        );
    }

    // A flip inside a complete subtree is not on the right edge: the store opens, the
    // scrub finds it, and from then on nothing that needs the damaged range is served.
    {
        let (file, row, first_bad) = ("hashes.0", 700u64, 700u64);
        support::restore(fx.dir(), &pristine);
        flip_bit(&fx.dir().join(file), row * 32 + 5);
        let store = fx.open();
        assert_eq!(store.entry(1500).unwrap(), sample_entry(1500));
        let err = store.scrub(&mut |_| Ok(())).unwrap_err();
        assert!(
            matches!(err, Error::Damaged { index, .. } if index == first_bad),
            "{err}"
        );
        assert_eq!(store.damage().unwrap().index, first_bad);
        assert!(matches!(store.entry(1500), Err(Error::Damaged { .. })));
        assert!(matches!(
            store.inclusion_proof(10, None),
            Err(Error::Damaged { .. })
        ));
        assert!(matches!(
            store.hash_tile(0, 2, 256),
            Err(Error::Damaged { .. })
        ));
        // What lies wholly before the damage is still served.
        assert_eq!(
            store.entry(first_bad - 1).unwrap(),
            sample_entry(first_bad as usize - 1)
        );
        assert!(store.hash_tile(0, 0, 256).is_ok());
        store.close().unwrap();
    }
}

#[test]
fn a_swapped_key_is_refused() {
    let fx = Fixture::new(HashAlg::Blake3);
    let pin = |b: u8| KeyPin {
        name: "vault.key",
        fingerprint: [b; 32],
    };
    let store = Store::create_pinned(fx.dir(), &fx.config(), fx.signer(), &[pin(1)]).unwrap();
    store.close().unwrap();
    let (store, new) = Store::open_pinned(fx.dir(), fx.signer(), &[pin(1)]).unwrap();
    assert!(new.is_empty());
    store.close().unwrap();
    let err = match Store::open_pinned(fx.dir(), fx.signer(), &[pin(2)]) {
        Ok(_) => panic!("a swapped key opened the log"),
        Err(e) => e,
    };
    assert!(
        matches!(&err, Error::KeyMismatch { name } if name == "vault.key"),
        "{err}"
    );
    // A key not pinned before is pinned on first use.
    let other = KeyPin {
        name: "dedup.key",
        fingerprint: [3; 32],
    };
    let (store, new) = Store::open_pinned(fx.dir(), fx.signer(), &[pin(1), other]).unwrap();
    assert_eq!(new, vec!["dedup.key".to_string()]);
    store.close().unwrap();
}
