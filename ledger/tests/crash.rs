//! Crash safety: a child process appends in a loop from several threads and reports
//! every acknowledgement on stdout; the parent kills it with SIGKILL at random moments
//! (20 times by default, `LEDGER_CRASH_ROUNDS` to change) and after each reopen checks
//! that every acknowledged entry is present and unchanged, that `check` passes, and that
//! the new checkpoint is consistent with every checkpoint the child reported.
//!
//! The child is this same test binary, re-run with `LEDGER_CRASH_CHILD` set so that
//! only [`crash_child`] does anything.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ledger::merkle::verify_consistency;
use ledger::store::Store;
use ledger::{Hash, HashAlg};
use rand::Rng;
use support::Fixture;

const CHILD_DIR: &str = "LEDGER_CRASH_CHILD";
const CHILD_KEY: &str = "LEDGER_CRASH_CHILD_KEY";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Hash {
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect();
    Hash::try_from(bytes.as_slice()).unwrap()
}

/// The child's body; does nothing unless started by [`sigkill_never_loses_acknowledged_entries`].
#[test]
fn crash_child() {
    let (Ok(dir), Ok(key)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_KEY)) else {
        return;
    };
    let signer = ledger::note::NoteSigner::from_private_key(&key).unwrap();
    let store = Store::open(dir.as_ref(), signer).unwrap();
    let out = std::sync::Mutex::new(std::io::stdout());
    std::thread::scope(|scope| {
        for thread in 0..4u64 {
            let store = store.clone();
            let out = &out;
            scope.spawn(move || {
                let mut rng = rand::thread_rng();
                for round in 0u64.. {
                    let count = rng.gen_range(1..=40);
                    let entries: Vec<Vec<u8>> = (0..count)
                        .map(|i| {
                            format!(
                                "entry pid={} thread={thread} round={round} i={i}",
                                std::process::id()
                            )
                            .into_bytes()
                        })
                        .collect();
                    let appended = store.append_blocking(entries).unwrap();
                    let mut text = String::new();
                    for (i, leaf) in appended.leaf_hashes.iter().enumerate() {
                        text += &format!(
                            "ack {} {}\n",
                            appended.first_index + i as u64,
                            hex(leaf.as_bytes())
                        );
                    }
                    text += &format!(
                        "cp {} {}\n",
                        appended.tree_size,
                        hex(appended.root.as_bytes())
                    );
                    let mut out = out.lock().unwrap();
                    out.write_all(text.as_bytes()).unwrap();
                    out.flush().unwrap();
                }
            });
        }
    });
}

#[test]
fn sigkill_never_loses_acknowledged_entries() {
    let rounds: usize = std::env::var("LEDGER_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let fx = Fixture::new(HashAlg::Blake3);
    fx.create().close().unwrap();
    let key = fx.signer().to_private_key();
    let mut acknowledged: BTreeMap<u64, Hash> = BTreeMap::new();
    // Checkpoints reported since the last reopen; earlier ones are covered by
    // transitivity through `last_head`, which was proved consistent with them.
    let mut checkpoints: BTreeMap<u64, Hash> = BTreeMap::new();
    let mut last_head: Option<(u64, Hash)> = None;
    let mut rng = rand::thread_rng();
    let mut kills_mid_stream = 0;
    for round in 0..rounds {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, fx.dir())
            .env(CHILD_KEY, &key)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(line) => lines.push(line),
                    Err(_) => break,
                }
            }
            lines
        });
        // Kill at a random moment once the child is appending.
        let started = Instant::now();
        std::thread::sleep(Duration::from_millis(rng.gen_range(30..250)));
        unsafe {
            libc::kill(child.id() as i32, libc::SIGKILL);
        }
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        let before = acknowledged.len();
        for line in lines {
            let parts: Vec<&str> = line.split(' ').collect();
            match parts.as_slice() {
                ["ack", index, leaf] => {
                    acknowledged.insert(index.parse().unwrap(), unhex(leaf));
                }
                ["cp", size, root] => {
                    checkpoints.insert(size.parse().unwrap(), unhex(root));
                }
                _ => {}
            }
        }
        if acknowledged.len() > before {
            kills_mid_stream += 1;
        }

        let store = fx.open();
        let size = store.size();
        let entries = if size == 0 {
            Vec::new()
        } else {
            store.entries(0, size).unwrap()
        };
        for (&index, leaf) in &acknowledged {
            assert!(
                index < size,
                "round {round}: acknowledged entry {index} lost (size {size})"
            );
            assert_eq!(
                &store.leaf_hash(index).unwrap(),
                leaf,
                "round {round}: entry {index} changed"
            );
            assert_eq!(
                HashAlg::Blake3.leaf_hash(&entries[index as usize]),
                *leaf,
                "round {round}: entry {index} bytes changed"
            );
        }
        store
            .check()
            .unwrap_or_else(|e| panic!("round {round}: check failed: {e}"));
        let root = store.head().root;
        checkpoints.extend(last_head.filter(|(s, _)| *s > 0));
        for (&old_size, old_root) in &checkpoints {
            let proof = store
                .consistency_proof(old_size, Some(size))
                .map(|p| p.proof)
                .unwrap();
            verify_consistency(HashAlg::Blake3, old_size, size, old_root, &root, &proof)
                .unwrap_or_else(|_| {
                    panic!("round {round}: checkpoint {old_size} is not a prefix of {size}")
                });
        }
        checkpoints.clear();
        last_head = Some((size, root));
        store.close().unwrap();
        assert!(started.elapsed() < Duration::from_secs(60));
    }
    assert!(
        kills_mid_stream * 2 >= rounds,
        "only {kills_mid_stream} of {rounds} kills came after the child had appended"
    );
}
