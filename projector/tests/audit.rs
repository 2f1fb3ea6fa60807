//! Offline audit: an honest log passes; a tampered entry, a dropped entry, two swapped
//! entries, a changed tally count and a forked checkpoint are each detected and named.
//! Also: restarts load the latest snapshot and catch up from the store.

use ledger::note::{NoteSigner, NoteVerifier};
use ledger::store::{LogConfig, Store};
use ledger::{Hash, HashAlg};
use projector::audit::{audit_dir, audit_entries, Finding, Published};
use projector::persist::{self, Snapshots};
use projector::Projection;
use test_support::campaign;
use test_support::records::{entry, signature, small_log, T0};

const ORIGIN: &str = "audit.test/log";
const ALG: HashAlg = HashAlg::Blake3;

/// The small log in a store, closed, with its key, final checkpoint and signed tally.
struct PublishedLog {
    dir: tempfile::TempDir,
    signer_key: String,
    log: Vec<Vec<u8>>,
    checkpoint: String,
    tally_note: String,
    tally_text: String,
    leaves: Vec<Hash>,
}

fn publish() -> PublishedLog {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate(ORIGIN).unwrap();
    let config = LogConfig {
        origin: ORIGIN.into(),
        hash: ALG,
    };
    let store = Store::create(
        dir.path(),
        &config,
        NoteSigner::from_private_key(&signer.to_private_key()).unwrap(),
    )
    .unwrap();
    let log = small_log();
    for chunk in log.chunks(7) {
        store.append_blocking(chunk.to_vec()).unwrap();
    }
    let head = store.head();
    let mut projection = Projection::new();
    for e in &log {
        projection.replay_bytes(e).unwrap();
    }
    let tally_text = projection.tally_text();
    let tally_note =
        projector::tally::sign_tally(ALG, &signer, head.size, head.root, &tally_text).unwrap();
    store.close().unwrap();
    PublishedLog {
        dir,
        signer_key: signer.to_private_key(),
        leaves: log.iter().map(|e| ALG.leaf_hash(e)).collect(),
        log,
        checkpoint: head.checkpoint.to_string(),
        tally_note,
        tally_text,
    }
}

impl PublishedLog {
    fn signer(&self) -> NoteSigner {
        NoteSigner::from_private_key(&self.signer_key).unwrap()
    }

    fn vkey(&self) -> NoteVerifier {
        self.signer().verifier()
    }

    fn published(&self) -> Published<'_> {
        Published {
            checkpoint: Some(&self.checkpoint),
            seen_checkpoints: &[],
            leaf_hashes: Some(&self.leaves),
            tally: Some((&self.tally_note, &self.tally_text)),
        }
    }

    fn audit(&self, entries: &[Vec<u8>]) -> Result<projector::audit::AuditReport, Finding> {
        audit_entries(ALG, &self.vkey(), entries, &self.published())
    }
}

#[test]
fn an_honest_log_passes() {
    let p = publish();
    let report = p.audit(&p.log).unwrap();
    assert_eq!(report.entries, p.log.len() as u64);
    assert!(report.tally_checked);
    assert_eq!(report.tally_text, p.tally_text);
    assert_eq!(report.rejected_in_log, 0);
    let report = audit_dir(p.dir.path(), Some((&p.tally_note, &p.tally_text))).unwrap();
    assert_eq!(report.entries, p.log.len() as u64);
    assert!(report.tally_checked);
    assert!(
        report.checkpoints_checked >= 5,
        "every batch's checkpoint is checked"
    );
}

#[test]
fn a_tampered_entry_is_named() {
    let p = publish();
    let mut log = p.log.clone();
    // Same length and still decodable: change the signature's commitment byte.
    let last = log[12].len() - 1;
    log[12][last] ^= 1;
    assert_eq!(
        p.audit(&log).unwrap_err(),
        Finding::LeafMismatch { index: 12 }
    );
    // Without published leaf hashes the root gives it away.
    let bare = Published {
        checkpoint: Some(&p.checkpoint),
        ..Published::default()
    };
    assert!(matches!(
        audit_entries(ALG, &p.vkey(), &log, &bare),
        Err(Finding::ForkedCheckpoint { .. })
    ));
}

#[test]
fn a_dropped_entry_is_named() {
    let p = publish();
    let mut log = p.log.clone();
    log.remove(15);
    assert_eq!(
        p.audit(&log).unwrap_err(),
        Finding::LeafMismatch { index: 15 }
    );
    let only_checkpoint = Published {
        checkpoint: Some(&p.checkpoint),
        ..Published::default()
    };
    let err = audit_entries(ALG, &p.vkey(), &log, &only_checkpoint).unwrap_err();
    assert_eq!(
        err,
        Finding::CheckpointBeyondLog {
            size: p.log.len() as u64,
            entries: p.log.len() as u64 - 1
        }
    );
}

#[test]
fn two_swapped_entries_are_named() {
    let p = publish();
    let mut log = p.log.clone();
    log.swap(10, 14);
    assert_eq!(
        p.audit(&log).unwrap_err(),
        Finding::LeafMismatch { index: 10 }
    );
}

#[test]
fn a_changed_tally_count_is_named() {
    let p = publish();
    let altered = p
        .tally_text
        .replace("petition/uk-detwin/total 11", "petition/uk-detwin/total 12");
    assert_ne!(altered, p.tally_text);
    // Re-signed by the operator, so the note itself is valid: only replay catches it.
    let head_root = {
        let store = Store::open(p.dir.path(), p.signer()).unwrap();
        let root = store.head().root;
        store.close().unwrap();
        root
    };
    let note =
        projector::tally::sign_tally(ALG, &p.signer(), p.log.len() as u64, head_root, &altered)
            .unwrap();
    let published = Published {
        tally: Some((&note, &altered)),
        ..p.published()
    };
    let err = audit_entries(ALG, &p.vkey(), &p.log, &published).unwrap_err();
    assert_eq!(
        err,
        Finding::TallyMismatch {
            key: "petition/uk-detwin/total".into(),
            published: "12".into(),
            replayed: "11".into(),
        }
    );
    // A text that does not match its note is refused before any replay.
    let published = Published {
        tally: Some((&p.tally_note, &altered)),
        ..p.published()
    };
    assert!(matches!(
        audit_entries(ALG, &p.vkey(), &p.log, &published),
        Err(Finding::BadTallyNote { .. })
    ));
    // A past tally is checked against the replay of its prefix.
    let mut prefix = Projection::new();
    for e in &p.log[..20] {
        prefix.replay_bytes(e).unwrap();
    }
    let root_20 = {
        let store = Store::open(p.dir.path(), p.signer()).unwrap();
        let root = store.root_at(20).unwrap();
        store.close().unwrap();
        root
    };
    let text = prefix.tally_text();
    let note = projector::tally::sign_tally(ALG, &p.signer(), 20, root_20, &text).unwrap();
    let published = Published {
        tally: Some((&note, &text)),
        ..p.published()
    };
    assert!(
        audit_entries(ALG, &p.vkey(), &p.log, &published)
            .unwrap()
            .tally_checked
    );
}

#[test]
fn a_forked_checkpoint_is_named() {
    let p = publish();
    // The log key signs a checkpoint at size 20 whose root is not the log's.
    let fork = ledger::checkpoint::Checkpoint {
        origin: ORIGIN.into(),
        size: 20,
        root: Hash([0x66; 32]),
        extensions: vec![],
    };
    let forked = ledger::checkpoint::sign_checkpoint(&fork, &p.signer()).unwrap();
    let seen = vec![forked];
    let published = Published {
        seen_checkpoints: &seen,
        ..p.published()
    };
    assert_eq!(
        audit_entries(ALG, &p.vkey(), &p.log, &published).unwrap_err(),
        Finding::ForkedCheckpoint { size: 20 }
    );
    // A checkpoint signed by someone else is not the log's at all.
    let stranger = NoteSigner::generate(ORIGIN).unwrap();
    let fake = ledger::checkpoint::sign_checkpoint(&fork, &stranger).unwrap();
    let seen = vec![fake];
    let published = Published {
        seen_checkpoints: &seen,
        ..p.published()
    };
    assert!(matches!(
        audit_entries(ALG, &p.vkey(), &p.log, &published),
        Err(Finding::BadCheckpoint { size: 20, .. })
    ));
}

#[test]
fn a_tampered_data_directory_is_named() {
    let p = publish();
    let journal_path = p.dir.path().join("journal");
    let mut journal = std::fs::read(&journal_path).unwrap();
    let target = &p.log[17];
    let at = journal
        .windows(target.len())
        .position(|w| w == target.as_slice())
        .unwrap();
    journal[at + target.len() - 1] ^= 1;
    std::fs::write(&journal_path, &journal).unwrap();
    let err = audit_dir(p.dir.path(), None).unwrap_err();
    assert!(
        matches!(
            err,
            projector::Error::Audit(Finding::LeafMismatch { index: 17 })
        ),
        "{err}"
    );
}

/// `audit_dir` opens each batch's checkpoint ahead of the audit, on another thread;
/// a damaged checkpoint must still be named only if nothing before its batch is wrong.
#[test]
fn a_data_directory_names_its_first_finding_in_log_order() {
    let p = publish();
    let journal_path = p.dir.path().join("journal");
    let honest = std::fs::read(&journal_path).unwrap();
    // The checkpoint committing entries [21, 28) (batches of 7), with one signature
    // character changed.
    let mut checkpoints = Vec::new();
    ledger::store::read_log(p.dir.path(), &mut |batch| {
        checkpoints.push((batch.tree_size, batch.checkpoint));
        Ok(())
    })
    .unwrap();
    let (size, note) = checkpoints.iter().find(|(size, _)| *size == 28).unwrap();
    let at = honest
        .windows(note.len())
        .position(|w| w == note.as_bytes())
        .unwrap();
    let mut bad_checkpoint = honest.clone();
    let sig = at + note.len() - 4;
    bad_checkpoint[sig] = if bad_checkpoint[sig] == b'A' {
        b'B'
    } else {
        b'A'
    };
    std::fs::write(&journal_path, &bad_checkpoint).unwrap();
    let err = audit_dir(p.dir.path(), None).unwrap_err();
    assert!(
        matches!(
            err,
            projector::Error::Audit(Finding::BadCheckpoint { size: 28, .. })
        ),
        "{size}: {err}"
    );
    // An entry changed in an earlier batch is named first.
    let target = &p.log[17];
    let entry_at = honest
        .windows(target.len())
        .position(|w| w == target.as_slice())
        .unwrap();
    bad_checkpoint[entry_at + target.len() - 1] ^= 1;
    std::fs::write(&journal_path, &bad_checkpoint).unwrap();
    let err = audit_dir(p.dir.path(), None).unwrap_err();
    assert!(
        matches!(
            err,
            projector::Error::Audit(Finding::LeafMismatch { index: 17 })
        ),
        "{err}"
    );
    // An entry changed in the batch of the damaged checkpoint comes after it: the
    // checkpoint is read (and checked) before its batch's entries.
    let mut later = honest.clone();
    later[sig] = bad_checkpoint[sig];
    let target = &p.log[23];
    let entry_at = honest
        .windows(target.len())
        .position(|w| w == target.as_slice())
        .unwrap();
    later[entry_at + target.len() - 1] ^= 1;
    std::fs::write(&journal_path, &later).unwrap();
    let err = audit_dir(p.dir.path(), None).unwrap_err();
    assert!(
        matches!(
            err,
            projector::Error::Audit(Finding::BadCheckpoint { size: 28, .. })
        ),
        "{err}"
    );
}

#[test]
fn restarts_load_the_snapshot_and_catch_up() {
    let p = publish();
    let store = Store::open(p.dir.path(), p.signer()).unwrap();
    let path = p.dir.path().join("projector.snap");
    let snapshots = Snapshots::open(&path).unwrap();
    let full = persist::load(&snapshots, &store).unwrap();
    assert_eq!((full.snapshot_size, full.segments), (None, 0));
    assert!(!full.projection.tracks_changes());
    assert_eq!(full.projection.tree_size(), p.log.len() as u64);
    // Snapshot part-way, then append more: load = snapshot + catch-up = full replay.
    let mut partial = Projection::new();
    for e in &p.log[..10] {
        partial.replay_bytes(e).unwrap();
    }
    snapshots
        .rewrite(&partial, &store.root_at(10).unwrap())
        .unwrap();
    let more = vec![
        entry(T0 + 10_000_000, signature("uk-detwin", 500, 3))
            .encode()
            .unwrap(),
        entry(T0 + 10_000_001, signature("uk-detwin", 501, 3))
            .encode()
            .unwrap(),
    ];
    store.append_blocking(more.clone()).unwrap();
    let mut loaded = persist::load(&snapshots, &store).unwrap();
    assert_eq!((loaded.snapshot_size, loaded.segments), (Some(10), 1));
    let mut everything = p.log.clone();
    everything.extend(more);
    let mut rebuilt = Projection::new();
    for e in &everything {
        rebuilt.replay_bytes(e).unwrap();
    }
    assert_eq!(loaded.projection.to_snapshot(), rebuilt.to_snapshot());
    // What was caught up is saved as a second segment: the next load replays nothing.
    let size = store.size();
    snapshots
        .save(&mut loaded.projection, &store.root_at(size).unwrap())
        .unwrap();
    let again = persist::load(&snapshots, &store).unwrap();
    assert_eq!((again.snapshot_size, again.segments), (Some(size), 2));
    assert_eq!(again.projection.to_snapshot(), rebuilt.to_snapshot());
    // The tally of a past size is the replay of that prefix.
    assert_eq!(
        persist::replay_prefix(&store, 10).unwrap().tally_text(),
        partial.tally_text()
    );
    assert!(persist::replay_prefix(&store, 1_000).is_err());
    // A flipped bit in the last segment: the first is used, the rest replayed, and the
    // damaged segment cut off.
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let damaged = persist::load(&snapshots, &store).unwrap();
    assert_eq!((damaged.snapshot_size, damaged.segments), (Some(10), 1));
    assert_eq!(damaged.projection.to_snapshot(), rebuilt.to_snapshot());
    assert!(std::fs::metadata(&path).unwrap().len() < bytes.len() as u64);
    // A snapshot whose root is not this log's at its size is ignored, not trusted.
    snapshots.rewrite(&partial, &Hash([0x42; 32])).unwrap();
    let loaded = persist::load(&snapshots, &store).unwrap();
    assert_eq!((loaded.snapshot_size, loaded.segments), (None, 0));
    assert_eq!(loaded.projection.to_snapshot(), rebuilt.to_snapshot());
    // Something that is not a snapshot file at all is a cache miss too.
    std::fs::write(&path, b"not a snapshot").unwrap();
    let loaded = persist::load(&snapshots, &store).unwrap();
    assert_eq!(loaded.segments, 0);
    assert_eq!(loaded.projection.to_snapshot(), rebuilt.to_snapshot());
    store.close().unwrap();
}

/// A chain of segments taken at arbitrary points of a campaign (signatures, withdrawals
/// and invalidations of earlier signatures, paper batches) applies to exactly the state
/// a straight replay reaches, as does one whole segment; a segment out of its place in
/// the chain is refused.
#[test]
fn segment_chains_give_the_replayed_state() {
    let log = campaign::campaign_log(6_000, 7);
    let mut straight = Projection::new();
    straight.replay_many(&log).unwrap();
    for cuts in [
        vec![1usize, 2, 3],
        vec![500, 2_000, 5_999],
        vec![3_000],
        vec![],
    ] {
        let mut tracked = Projection::new();
        tracked.track_changes();
        let mut bodies = Vec::new();
        let mut at = 0;
        for cut in cuts.iter().copied().chain([log.len()]) {
            for e in &log[at..cut] {
                tracked.replay_bytes(e).unwrap();
            }
            at = cut;
            let mut body = Vec::new();
            tracked.take_segment().unwrap().write(&mut body).unwrap();
            bodies.push(body);
        }
        let mut applied = Projection::new();
        for body in &bodies {
            applied.apply_segment(body).unwrap();
        }
        assert_eq!(
            applied.to_snapshot(),
            straight.to_snapshot(),
            "cuts {cuts:?}"
        );
        let mut first = Projection::new();
        first.apply_segment(&bodies[0]).unwrap();
        assert!(
            first.clone().apply_segment(&bodies[0]).is_err(),
            "applied twice"
        );
        if bodies.len() > 2 {
            assert!(first.apply_segment(&bodies[2]).is_err(), "one skipped");
        }
    }
    let mut whole = Vec::new();
    straight.write_whole(&mut whole).unwrap();
    let mut applied = Projection::new();
    applied.apply_segment(&whole).unwrap();
    assert_eq!(applied.to_snapshot(), straight.to_snapshot());
    // Truncated or extended bodies are refused, not half-applied into a wrong state.
    for bad in [
        &whole[..whole.len() - 1],
        &[whole.as_slice(), &[0]].concat()[..],
    ] {
        assert!(Projection::new().apply_segment(bad).is_err());
    }
}

/// Logs large enough for the two-thread paths (replay_many, push_many) give the same
/// state as entry-by-entry replay, and a finding deep inside still names its entry.
#[test]
fn bulk_paths_agree_and_name_deep_findings() {
    let log = campaign::campaign_log(6_000, 11);
    let mut one_by_one = Projection::new();
    for e in &log {
        one_by_one.replay_bytes(e).unwrap();
    }
    assert_eq!(one_by_one.rejected_in_log(), (0, None));
    let mut bulk = Projection::new();
    bulk.replay_many(&log[..2_500]).unwrap();
    bulk.replay_many(&log[2_500..]).unwrap();
    assert_eq!(bulk.to_snapshot(), one_by_one.to_snapshot());

    let signer = NoteSigner::generate(ORIGIN).unwrap();
    let leaves: Vec<Hash> = log.iter().map(|e| ALG.leaf_hash(e)).collect();
    let mut frontier = ledger::merkle::Frontier::new();
    for leaf in &leaves {
        frontier.push(ALG, *leaf, |_, _| {});
    }
    let checkpoint = ledger::checkpoint::Checkpoint {
        origin: ORIGIN.into(),
        size: log.len() as u64,
        root: frontier.root(ALG),
        extensions: vec![],
    };
    let checkpoint = ledger::checkpoint::sign_checkpoint(&checkpoint, &signer).unwrap();
    let published = Published {
        checkpoint: Some(&checkpoint),
        seen_checkpoints: &[],
        leaf_hashes: Some(&leaves),
        tally: None,
    };
    let report = audit_entries(ALG, &signer.verifier(), &log, &published).unwrap();
    assert_eq!(report.tally_text, one_by_one.tally_text());
    let mut tampered = log.clone();
    let last = tampered[4_321].len() - 1;
    tampered[4_321][last] ^= 1;
    assert_eq!(
        audit_entries(ALG, &signer.verifier(), &tampered, &published).unwrap_err(),
        Finding::LeafMismatch { index: 4_321 }
    );
    let mut broken = log.clone();
    broken[3_000] = b"garbage".to_vec();
    let bare = Published {
        checkpoint: Some(&checkpoint),
        ..Published::default()
    };
    assert!(matches!(
        audit_entries(ALG, &signer.verifier(), &broken, &bare),
        Err(Finding::UndecodableEntry { index: 3_000, .. })
    ));
    let mut projection = Projection::new();
    let err = projection.replay_many(&broken).unwrap_err().to_string();
    assert!(err.contains("entry 3000"), "{err}");
    assert_eq!(
        projection.tree_size(),
        3_000,
        "everything before the bad entry was folded"
    );
}

/// The server's split: the decider keeps the dedup set, the published projection folds
/// without it. After records the decider accepted are rolled back, the rebuilt decider
/// has exactly the committed tags (a rolled-back signer may sign again, a committed
/// one may not), and writing a whole snapshot needs the decider's set.
#[test]
fn a_split_off_decider_rolls_back_its_dedup_tags() {
    let log = small_log();
    let mut published = Projection::new();
    for e in &log {
        published.replay_bytes(e).unwrap();
    }
    let mut decider = published.split_off_decider();
    assert!(published.has_signatures());
    let mut whole = Vec::new();
    assert!(published.write_whole(&mut whole).is_err());
    let time = T0 + 50_000_000;
    let committed = entry(time, signature("uk-detwin", 900, 1));
    let rolled_back = entry(time + 1, signature("uk-detwin", 901, 1));
    decider.try_apply(&committed).unwrap();
    decider.try_apply(&rolled_back).unwrap();
    // The published projection replays only what was committed, without the set.
    published.try_apply(&committed).unwrap();
    let (mut rebuilt, pruned) = published.rebuild_decider(&mut decider);
    assert!(pruned);
    let again = |n| entry(time + 2, signature("uk-detwin", n, 2));
    assert!(
        rebuilt.clone().try_apply(&again(901)).is_ok(),
        "rolled back: may sign"
    );
    assert!(
        rebuilt.try_apply(&again(900)).is_err(),
        "committed: a duplicate"
    );
    // Projections that were not split cannot tell what was rolled back: the set keeps
    // every tag (no duplicate can get in).
    let mut plain = Projection::new();
    for e in &log {
        plain.replay_bytes(e).unwrap();
    }
    plain.try_apply(&committed).unwrap();
    let (mut kept, pruned) = published.rebuild_decider(&mut plain.clone());
    assert!(!pruned);
    assert!(kept.try_apply(&again(900)).is_err());
    // Such a set is never written whole: it may hold tags of records not in the log.
    assert!(kept.write_whole(&mut Vec::new()).is_err());
    // The decider writes the whole state, and it reads back as the straight replay.
    let mut straight = Projection::new();
    for e in &log {
        straight.replay_bytes(e).unwrap();
    }
    straight.try_apply(&committed).unwrap();
    let mut whole = Vec::new();
    let (decider, _) = published.rebuild_decider(&mut rebuilt);
    decider.write_whole(&mut whole).unwrap();
    let mut applied = Projection::new();
    applied.apply_segment(&whole).unwrap();
    assert_eq!(applied.to_snapshot(), straight.to_snapshot());
}
