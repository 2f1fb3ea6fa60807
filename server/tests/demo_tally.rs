//! The demo campaign's tally, against a golden file.
//!
//! `serve --demo` seeds a new log through the normal append path
//! (`Node::seed_demo`); the tally text of that log (every counter of docs/FORMAT.md
//! part D) must stay what it was when the golden file was written:
//! `tests/data/demo-tally.txt` was produced by the code before the record types and the
//! read models were reworked (one struct per record kind, read models holding their
//! records), so this test pins that the rework changed no count. Since then only the
//! export counters (`exports/issued`, `petition/<id>/exports/...`, all 0 in the demo)
//! were added.
//!
//! The demo is deterministic (fixed-seed synthetic signatures), and the tally text
//! holds no times, so the text is the same on every run. If a deliberate change to the
//! demo or to the tally format changes it, regenerate the file from this test's output
//! (`DEMO_TALLY_WRITE=1`) and review the diff.

use std::path::PathBuf;

use server::node::Node;

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/demo-tally.txt")
}

#[test]
fn the_demo_log_tallies_as_the_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    let (node, opening) = Node::open(dir.path(), None, None).unwrap();
    assert!(opening.created);
    assert_eq!(opening.tree_size, 0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let appended = runtime.block_on(node.seed_demo()).unwrap();

    let state = node.state().clone();
    let size = state.store.size();
    assert_eq!(size, appended);
    // The published projection (folded batch by batch as the sequencer appended) and a
    // replay of the log from zero must agree before either is compared with the file.
    let published = {
        let projection = state.published.read().unwrap();
        assert_eq!(projection.tree_size(), size);
        projection.tally_text()
    };
    let replayed = projector::persist::replay_prefix(&state.store, size)
        .unwrap()
        .tally_text();
    assert_eq!(published, replayed, "published and replayed tallies differ");
    drop(state);
    node.shutdown().unwrap();

    if std::env::var_os("DEMO_TALLY_WRITE").is_some() {
        std::fs::write(golden_path(), &replayed).unwrap();
    }
    let golden = std::fs::read_to_string(golden_path()).unwrap();
    if replayed != golden {
        panic!("{}", differences(&golden, &replayed));
    }
}

/// The counters that differ, one line each: `key: golden -> now`.
fn differences(golden: &str, now: &str) -> String {
    fn counters(text: &str) -> std::collections::BTreeMap<&str, &str> {
        text.lines()
            .filter_map(|line| line.split_once(' '))
            .collect()
    }
    let (golden, now) = (counters(golden), counters(now));
    let mut keys: Vec<&&str> = golden.keys().chain(now.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = String::from("the demo tally differs from tests/data/demo-tally.txt:\n");
    let before = out.len();
    for key in keys {
        let (was, is) = (golden.get(key), now.get(key));
        if was != is {
            out.push_str(&format!(
                "  {key}: {} -> {}\n",
                was.unwrap_or(&"(absent)"),
                is.unwrap_or(&"(absent)")
            ));
        }
    }
    if out.len() == before {
        out.push_str("  the same counters and values, but not the same text (order or format)\n");
    }
    out
}
