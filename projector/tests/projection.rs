//! The fold and its decision rules: every rule refuses what it should and changes
//! nothing when it does; counts and views add up; and a projection is a pure function
//! of the log prefix (incremental, snapshot-restored and rebuilt-from-zero projections
//! give byte-identical snapshots and tally text).

mod fixtures;

use fixtures::*;
use ledger::record::{InvalidationReason, LinkStatus, VoteResult};
use ledger::{Entry, Record};
use projector::{Projection, Rejection};
use proptest::prelude::*;

fn replayed(log: &[Vec<u8>]) -> Projection {
    let mut p = Projection::new();
    for e in log {
        p.replay_bytes(e).unwrap();
    }
    p
}

fn apply_all(p: &mut Projection, records: Vec<Record>) {
    for (i, r) in records.into_iter().enumerate() {
        p.try_apply(&entry(T0 + i as u64, r))
            .unwrap_or_else(|e| panic!("setup record {i}: {e}"));
    }
}

/// (setup, proposed record, expected reason).
fn rule_cases() -> Vec<(&'static str, Vec<Record>, Record, &'static str)> {
    let base = || {
        vec![
            petition("p", &[], None),
            paper_batch("b", "p", 5),
            petition("q", &[], None),
        ]
    };
    let with = |extra: Vec<Record>| {
        let mut v = base();
        v.extend(extra);
        v
    };
    vec![
        (
            "duplicate tag",
            with(vec![signature("p", 1, 0)]),
            signature("p", 1, 3),
            "duplicate_signature",
        ),
        (
            "withdrawn frees nothing",
            with(vec![signature("p", 1, 0), withdraw(3)]),
            signature("p", 1, 0),
            "duplicate_signature",
        ),
        (
            "unknown petition",
            base(),
            signature("nope", 1, 0),
            "unknown_petition",
        ),
        (
            "closed petition",
            with(vec![Record::PetitionClosed {
                petition_id: id("p"),
                reason: None,
            }]),
            signature("p", 1, 0),
            "petition_closed",
        ),
        (
            "petition past its date",
            vec![petition("p", &[], Some("2022-06-30"))],
            signature("p", 1, 0),
            "petition_closed",
        ),
        (
            "petition twice",
            base(),
            petition("p", &[], None),
            "petition_exists",
        ),
        (
            "close twice",
            with(vec![Record::PetitionClosed {
                petition_id: id("p"),
                reason: None,
            }]),
            Record::PetitionClosed {
                petition_id: id("p"),
                reason: None,
            },
            "petition_closed",
        ),
        (
            "withdraw a non-signature",
            base(),
            withdraw(0),
            "not_a_live_signature",
        ),
        (
            "withdraw beyond the log",
            base(),
            withdraw(99),
            "not_a_live_signature",
        ),
        (
            "withdraw twice",
            with(vec![signature("p", 1, 0), withdraw(3)]),
            withdraw(3),
            "not_a_live_signature",
        ),
        (
            "invalidate a withdrawn one",
            with(vec![
                signature("p", 1, 0),
                signature("p", 2, 0),
                withdraw(3),
            ]),
            invalidate(&[3, 4], InvalidationReason::Fraud),
            "not_a_live_signature",
        ),
        (
            // Not encodable (a valid record lists indexes strictly ascending); the rule
            // still guards try_apply.
            "invalidate twice in one record",
            with(vec![signature("p", 1, 0)]),
            invalidate(&[3, 3], InvalidationReason::Duplicate),
            "repeated_index",
        ),
        (
            "unknown paper batch",
            base(),
            paper_signature("p", 1, "nope"),
            "unknown_paper_batch",
        ),
        (
            "paper batch of another petition",
            base(),
            paper_signature("q", 1, "b"),
            "paper_batch_of_other_petition",
        ),
        (
            "paper batch twice",
            base(),
            paper_batch("b", "p", 1),
            "paper_batch_exists",
        ),
        (
            "campaign twice",
            vec![campaign("c")],
            campaign("c"),
            "campaign_exists",
        ),
        (
            "unknown campaign",
            vec![],
            city_joined("c", "Bath", "GB"),
            "unknown_campaign",
        ),
        (
            "city twice",
            vec![campaign("c"), city_joined("c", "Bath", "GB")],
            city_joined("c", "Bath", "GB"),
            "city_already_joined",
        ),
        ("link twice", vec![link("l")], link("l"), "link_exists"),
        (
            "unknown link",
            vec![],
            link_status("l", LinkStatus::Severed, None),
            "unknown_link",
        ),
        (
            "sever a severed link",
            vec![link("l"), link_status("l", LinkStatus::Severed, None)],
            link_status("l", LinkStatus::Severed, None),
            "invalid_transition",
        ),
        (
            "link to its own status",
            vec![link("l")],
            link_status("l", LinkStatus::Active, None),
            "invalid_transition",
        ),
        (
            "link change citing an unknown motion",
            vec![link("l")],
            link_status("l", LinkStatus::Severed, Some("m")),
            "unknown_motion",
        ),
        (
            "motion on an unknown link",
            vec![],
            motion("m", Some("l")),
            "unknown_link",
        ),
        (
            "motion twice",
            vec![motion("m", None)],
            motion("m", None),
            "motion_exists",
        ),
        (
            "vote an unknown motion",
            vec![],
            vote("m", VoteResult::Passed),
            "unknown_motion",
        ),
        (
            "vote a withdrawn motion",
            vec![motion("m", None), withdraw_motion("m")],
            vote("m", VoteResult::Passed),
            "invalid_transition",
        ),
        (
            "vote twice",
            vec![motion("m", None), vote("m", VoteResult::Failed)],
            vote("m", VoteResult::Passed),
            "invalid_transition",
        ),
        (
            "event twice",
            vec![event("e", "Leeds")],
            event("e", "Leeds"),
            "event_exists",
        ),
        (
            "hold an unknown event",
            vec![],
            held("e", None),
            "unknown_event",
        ),
        (
            "hold a cancelled event",
            vec![event("e", "Leeds"), cancelled("e")],
            held("e", Some(10)),
            "invalid_transition",
        ),
        (
            "cancel a held event",
            vec![event("e", "Leeds"), held("e", None)],
            cancelled("e"),
            "invalid_transition",
        ),
        (
            "paper batch at an unknown event",
            vec![petition("p", &[], None)],
            Record::PaperBatchRecorded {
                batch_id: id("b"),
                petition_id: id("p"),
                event_id: Some(id("e")),
                stall: None,
                collector: id("v"),
                sheet_scan_hash: None,
                count: 1,
            },
            "unknown_event",
        ),
    ]
}

#[test]
fn every_rule_refuses_and_changes_nothing() {
    for (name, setup, proposed, reason) in rule_cases() {
        let mut p = Projection::new();
        apply_all(&mut p, setup);
        let before = p.to_snapshot();
        let size = p.tree_size();
        let err = p
            .try_apply(&entry(T0 + 1000, proposed.clone()))
            .expect_err(&format!("{name}: should be refused"));
        assert_eq!(err.reason(), reason, "{name}: {err}");
        assert_eq!(p.tree_size(), size, "{name}");
        assert_eq!(
            p.to_snapshot(),
            before,
            "{name}: a refused record changed the state"
        );
        // Replaying the same record from a log counts it as rejected, and only that.
        p.replay(&entry(T0 + 1000, proposed));
        assert_eq!(p.tree_size(), size + 1);
        assert_eq!(p.rejected_in_log(), (1, Some((size, reason))), "{name}");
    }
}

#[test]
fn duplicates_inside_one_batch_are_caught_in_order() {
    let mut p = Projection::new();
    apply_all(&mut p, vec![petition("p", &[], None)]);
    let batch = [
        signature("p", 7, 0),
        signature("p", 8, 0),
        signature("p", 7, 2),
    ];
    let outcomes: Vec<Result<(), Rejection>> = batch
        .into_iter()
        .map(|r| p.try_apply(&entry(T0, r)))
        .collect();
    assert!(outcomes[0].is_ok() && outcomes[1].is_ok());
    assert_eq!(outcomes[2], Err(Rejection::DuplicateSignature));
    // The same tag may sign another petition.
    apply_all(&mut p, vec![petition("q", &[], None), signature("q", 7, 0)]);
}

#[test]
fn counts_views_and_thresholds_add_up() {
    let p = replayed(&small_log());
    let petition = p.petition("uk-detwin").unwrap();
    assert_eq!(petition.tree_size, 29);
    let v = petition.view;
    // 14 added (12 online, 2 paper), 1 withdrawn, 2 invalidated as duplicates.
    assert_eq!((v.added, v.withdrawn, v.total), (14, 1, 11));
    assert_eq!(v.invalidated["duplicate"], 2);
    assert_eq!(v.by_country["GB"], 11);
    assert_eq!(v.by_constituency.values().sum::<u64>(), 11);
    assert_eq!(v.by_channel["online"], 9);
    assert_eq!(v.by_channel["paper/stall-1"], 2);
    assert_eq!(v.paper_batches[0].declared, 2);
    assert_eq!(v.paper_batches[0].counted, 2);
    assert_eq!(
        v.crossed.iter().map(|c| c.threshold).collect::<Vec<_>>(),
        vec![3, 10]
    );
    assert_eq!(v.crossed[0].index, 11, "the third signature is entry 11");
    assert_eq!(v.hourly.iter().map(|(_, c)| c).sum::<u64>(), 14);
    assert_eq!(v.daily, vec![("2022-07-01".to_string(), 14)]);

    let links = p.twin_links().view;
    assert_eq!(links[0].status, LinkStatus::Severed);
    assert_eq!(
        links[0].history[0].motion_id.as_ref().unwrap().as_str(),
        "ncc-2022-11"
    );
    let motions = p.motions().view;
    assert_eq!(motions[0].status, projector::MotionStatus::Passed);
    let events = p.events().view;
    assert_eq!(events.len(), 2);
    let overview = p.overview().view;
    assert_eq!(overview.campaigns[0].cities.len(), 2);
    assert_eq!(overview.links_severed.len(), 1);
    assert_eq!(overview.joint_actions[0].cities.len(), 2);
    assert_eq!(p.rejected_in_log(), (0, None));
}

#[test]
fn tally_text_is_sorted_canonical_and_complete() {
    let p = replayed(&small_log());
    let text = p.tally_text();
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    let mut sorted = lines.clone();
    sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(lines, sorted);
    for line in &lines {
        let (key, count) = line.split_once(' ').unwrap();
        assert!(!key.is_empty() && !key.contains(' '));
        count.parse::<u64>().unwrap();
    }
    for want in [
        "log/entries 29",
        "log/rejected 0",
        "petition/uk-detwin/total 11",
        "petition/uk-detwin/withdrawn 1",
        "petition/uk-detwin/invalidated/duplicate 2",
        "petition/uk-detwin/council/Newcastle%20upon%20Tyne 4",
        "petition/uk-detwin/council/Bath%20and%20North%20East%20Somerset 7",
        "petition/uk-detwin/channel/paper/stall-1 2",
        "petition/uk-detwin/paper_declared 2",
        "motions/passed 1",
        "links/severed 1",
        "events/held 1",
        "events/cancelled 1",
        "events/attendance 200",
        "campaign/global-detwin/cities 2",
        "campaign/global-detwin/countries 1",
    ] {
        assert!(lines.contains(&want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn tally_notes_sign_and_open() {
    let alg = ledger::HashAlg::Blake3;
    let signer = ledger::note::NoteSigner::generate("example.org/log").unwrap();
    let p = replayed(&small_log());
    let text = p.tally_text();
    let root = [7u8; 32];
    let note = projector::tally::sign_tally(alg, &signer, p.tree_size(), root, &text).unwrap();
    assert!(note.starts_with("campaign-ledger/tally/v1\nexample.org/log\n29\n"));
    let body = projector::tally::open_tally(alg, &note, &signer.verifier(), &text).unwrap();
    assert_eq!((body.tree_size, body.root), (29, root));
    let altered = text.replace("total 11", "total 12");
    assert!(projector::tally::open_tally(alg, &note, &signer.verifier(), &altered).is_err());
    let stranger = ledger::note::NoteSigner::generate("example.org/log").unwrap();
    assert!(projector::tally::open_tally(alg, &note, &stranger.verifier(), &text).is_err());
}

#[test]
fn snapshots_round_trip_and_reject_garbage() {
    let p = replayed(&small_log());
    let bytes = p.to_snapshot();
    let q = Projection::from_snapshot(&bytes).unwrap();
    assert_eq!(q.to_snapshot(), bytes);
    assert_eq!(q.tally_text(), p.tally_text());
    assert!(Projection::from_snapshot(&[]).is_err());
    assert!(Projection::from_snapshot(&[9, 1, 2]).is_err());
    assert!(Projection::from_snapshot(&bytes[..bytes.len() / 2]).is_err());
    // Every single-byte change either is refused or still gives a usable projection
    // (views and tally work without panicking).
    for at in 1..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x01;
        if let Ok(q) = Projection::from_snapshot(&damaged) {
            let _ = (q.tally_text(), q.petitions(), q.overview());
        }
    }
}

#[test]
fn an_undecodable_entry_names_its_index_and_changes_nothing() {
    let log = small_log();
    let mut p = replayed(&log[..5]);
    let before = p.to_snapshot();
    let err = p.replay_bytes(b"not an entry").unwrap_err().to_string();
    assert!(err.contains("entry 5"), "{err}");
    assert_eq!(p.to_snapshot(), before);
}

/// A record from a small universe, so that random streams hit every rule, valid and not.
fn arb_record() -> impl Strategy<Value = Record> {
    let pid = prop::sample::select(vec!["p0", "p1", "p2"]);
    let who = 0u64..40;
    let index = 0u64..120;
    let mid = prop::sample::select(vec!["m0", "m1"]);
    let eid = prop::sample::select(vec!["e0", "e1"]);
    let lid = prop::sample::select(vec!["l0", "l1"]);
    let status = prop::sample::select(LinkStatus::ALL.to_vec());
    let reason = prop::sample::select(InvalidationReason::ALL.to_vec());
    prop_oneof![
        8 => (pid.clone(), who.clone(), 0u32..6).prop_map(|(p, w, a)| signature(p, w, a)),
        2 => (pid.clone(), who.clone()).prop_map(|(p, w)| paper_signature(p, w, "b0")),
        1 => pid.clone().prop_map(|p| petition(p, &[2, 5, 9], None)),
        1 => pid.clone().prop_map(|p| paper_batch("b0", p, 3)),
        1 => pid.prop_map(|p| Record::PetitionClosed { petition_id: id(p), reason: None }),
        2 => index.clone().prop_map(withdraw),
        1 => (prop::collection::btree_set(index, 1..4), reason)
            .prop_map(|(i, r)| invalidate(&i.into_iter().collect::<Vec<_>>(), r)),
        1 => lid.clone().prop_map(link),
        1 => (lid.clone(), status, prop::option::of(mid.clone())).prop_map(|(l, s, m)| link_status(l, s, m)),
        1 => (mid.clone(), prop::option::of(lid)).prop_map(|(m, l)| motion(m, l)),
        1 => (mid.clone(), any::<bool>()).prop_map(|(m, p)| vote(m, if p { VoteResult::Passed } else { VoteResult::Failed })),
        1 => mid.prop_map(withdraw_motion),
        1 => eid.clone().prop_map(|e| event(e, "Leeds")),
        1 => (eid.clone(), prop::option::of(0u32..500)).prop_map(|(e, a)| held(e, a)),
        1 => eid.prop_map(cancelled),
        1 => Just(campaign("c")),
        1 => prop::sample::select(vec!["Leeds", "Bath"]).prop_map(|c| city_joined("c", c, "GB")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Incremental replay, interrupted by snapshot round trips at random points, gives
    /// the same bytes and tally as a rebuild from zero, and the tally of every prefix
    /// can be reproduced by replaying just that prefix.
    #[test]
    fn rebuild_from_zero_is_byte_identical(
        records in prop::collection::vec(arb_record(), 1..120),
        cuts in prop::collection::btree_set(0usize..120, 0..4),
        probe in 0usize..120,
    ) {
        let log: Vec<Vec<u8>> = records
            .into_iter()
            .enumerate()
            .map(|(i, r)| Entry::v1(T0 + i as u64 * 1_000, "tok", r).encode().unwrap())
            .collect();
        let probe = probe % (log.len() + 1);
        let mut incremental = Projection::new();
        let mut tally_at_probe = None;
        for (i, e) in log.iter().enumerate() {
            if i == probe {
                tally_at_probe = Some(incremental.tally_text());
            }
            if cuts.contains(&i) {
                incremental = Projection::from_snapshot(&incremental.to_snapshot()).unwrap();
            }
            incremental.replay_bytes(e).unwrap();
        }
        let tally_at_probe = tally_at_probe.unwrap_or_else(|| incremental.tally_text());
        let rebuilt = replayed(&log);
        // `replay_bytes` reads signatures in place; replaying the decoded entries takes
        // the other path into the same rules, refusals included.
        let mut decoded = Projection::new();
        for e in &log {
            decoded.replay(&Entry::decode(e).unwrap());
        }
        prop_assert_eq!(decoded.to_snapshot(), rebuilt.to_snapshot());
        prop_assert_eq!(incremental.to_snapshot(), rebuilt.to_snapshot());
        prop_assert_eq!(incremental.tally_text(), rebuilt.tally_text());
        prop_assert_eq!(replayed(&log[..probe]).tally_text(), tally_at_probe);
    }

    /// Deciding with try_apply (the server's path) and replaying the accepted entries
    /// (an auditor's path) agree.
    #[test]
    fn deciding_and_replaying_agree(records in prop::collection::vec(arb_record(), 1..120)) {
        let mut decided = Projection::new();
        let mut accepted = Vec::new();
        for (i, r) in records.into_iter().enumerate() {
            let e = Entry::v1(T0 + i as u64 * 1_000, "tok", r);
            if decided.try_apply(&e).is_ok() {
                accepted.push(e.encode().unwrap());
            }
        }
        let audited = replayed(&accepted);
        prop_assert_eq!(audited.rejected_in_log(), (0, None));
        prop_assert_eq!(audited.to_snapshot(), decided.to_snapshot());
    }
}
