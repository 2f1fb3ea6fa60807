//! What a clumsy operator or a failing disk does to a stopped (or running) server's
//! data directory, and what the real binary must do about it: refuse to roll back,
//! refuse swapped keys and a missing vault, never serve damaged data, and ride out a
//! full disk.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

const PETITION: &str = "integrity";

/// A demo log, stopped cleanly: the directory and its size.
fn stopped_demo() -> (TestDir, u64) {
    let dir = TestDir::new();
    let mut server = Server::start_with(&dir, &["--demo"]);
    let size = server.tree_size();
    assert!(size > 2000, "the demo log has {size} entries");
    assert!(server.sigterm().success());
    (dir, size)
}

/// `serve` on the directory must refuse to start; returns what it said.
fn refused_start(dir: &TestDir) -> String {
    let data = dir.data();
    let output = cli_timeout(
        &[
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success() && output.status.code().is_some(),
        "serve started on a damaged directory ({}):\n{stderr}",
        output.status
    );
    stderr
}

/// `check` on the directory must fail; returns what it said.
fn failed_check(dir: &TestDir) -> String {
    let output = cli(&["check", "--data", dir.data().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "check passed a damaged directory");
    stderr
}

fn check_passes(dir: &TestDir) {
    cli_ok(&["check", "--data", dir.data().to_str().unwrap()]);
}

fn flip_bit(path: &Path, offset: u64) {
    test_support::damage::flip_bits(path, offset, 0x04);
}

#[test]
fn a_truncated_journal_is_refused_with_both_sizes_and_keeps_the_personal_data() {
    let (dir, size) = stopped_demo();
    let data = dir.data();
    let vault_before = std::fs::read(data.join("vault.log")).unwrap();
    let journal = std::fs::OpenOptions::new()
        .write(true)
        .open(data.join("journal"))
        .unwrap();
    journal.set_len(9000).unwrap();
    drop(journal);
    let said = refused_start(&dir);
    assert!(said.contains("rollback refused"), "{said}");
    assert!(said.contains(&size.to_string()), "{said}");
    assert!(said.contains("restore"), "{said}");
    // Nothing belonging to an acknowledged entry was deleted.
    assert_eq!(std::fs::read(data.join("vault.log")).unwrap(), vault_before);
    let said = failed_check(&dir);
    assert!(said.contains("rollback refused"), "{said}");
}

#[test]
fn swapped_keys_and_a_missing_vault_are_refused() {
    let (dir, _) = stopped_demo();
    let data = dir.data();
    for key in ["dedup.key", "vault.key"] {
        let original = std::fs::read(data.join(key)).unwrap();
        std::fs::write(data.join(key), format!("{}\n", "ab".repeat(32))).unwrap();
        let said = refused_start(&dir);
        assert!(said.contains(key) && said.contains("not the key"), "{said}");
        let said = failed_check(&dir);
        assert!(said.contains(key), "{said}");
        std::fs::write(data.join(key), original).unwrap();
    }
    let vault = std::fs::read(data.join("vault.log")).unwrap();
    std::fs::remove_file(data.join("vault.log")).unwrap();
    let said = refused_start(&dir);
    assert!(said.contains("vault.log is missing"), "{said}");
    std::fs::write(data.join("vault.log"), vault).unwrap();
    // Put back as they were, everything opens and checks.
    check_passes(&dir);
    let server = Server::start(&dir);
    let duplicate = server.post(
        &server.admin,
        &signature("uk-city-diplomacy", "dup@example.org"),
    );
    assert_eq!(duplicate.status(), 201);
    let again = server.post(
        &server.admin,
        &signature("uk-city-diplomacy", "dup@example.org"),
    );
    assert_eq!(again.status(), 409);
}

#[test]
fn a_damaged_index_row_is_refused_at_start_and_by_check() {
    let (dir, _) = stopped_demo();
    let data = dir.data();
    // The row of the frame holding entry 512 and on.
    flip_bit(&data.join("frames.idx"), 24 * 3 + 9);
    let said = refused_start(&dir);
    assert!(said.contains("frames.idx"), "{said}");
    let said = failed_check(&dir);
    assert!(said.contains("frames.idx"), "{said}");
}

#[test]
fn damaged_entries_and_hashes_are_found_within_seconds_and_never_served() {
    for (file, damage) in [("journal", 0u8), ("hashes.0", 1)] {
        let (dir, _) = stopped_demo();
        let data = dir.data();
        let offset = if damage == 0 {
            test_support::damage::entry_offset(&data, 700) + 3
        } else {
            700 * 32 + 3
        };
        flip_bit(&data.join(file), offset);
        let server = Server::start(&dir);
        let deadline = Instant::now() + Duration::from_secs(60);
        let health = loop {
            let response = server.get("/healthz");
            if response.status() == 503 {
                break response.json::<Value>().unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "{file}: the scrub did not find the damage within a minute"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert_eq!(health["status"], "unhealthy", "{file}: {health}");
        assert_eq!(
            health["problems"][0]["reason"], "storage_damaged",
            "{health}"
        );
        for path in [
            "/api/v1/entries/700".to_string(),
            "/api/v1/receipts/700".into(),
            "/api/v1/proofs/inclusion?index=5".into(),
            tile_path(0, 2, 256),
            bundle_path(2, 256),
        ] {
            let response = server.get(&path);
            assert_eq!(response.status(), 503, "{file} {path}");
            expect_problem(response, 503, "storage_damaged");
        }
        // What lies before the damage is served, and verifies.
        assert_eq!(server.get("/api/v1/entries/699").status(), 200);
        assert_eq!(server.get(&tile_path(0, 0, 256)).status(), 200);
        drop(server);
        let said = failed_check(&dir);
        assert!(said.contains("damaged from entry 700"), "{file}: {said}");
    }
}

/// The read-model snapshot is a cache: damaged, cut short or replaced by something
/// else, it costs a replay at the next start, never a wrong count; `check` says so
/// without failing, and the next clean stop writes it whole again.
#[test]
fn a_damaged_snapshot_costs_a_replay_never_a_wrong_count() {
    let (dir, size) = stopped_demo();
    let data = dir.data();
    let snapshot = data.join("projector.snap");
    let tally = |server: &Server| server.get("/api/v1/tally").json::<Value>().unwrap();
    let mut server = Server::start(&dir);
    let before = tally(&server);
    assert_eq!(before["tree_size"], size, "{before}");
    assert!(server.sigterm().success());
    let whole = std::fs::read(&snapshot).unwrap();
    assert!(whole.len() > 10_000, "{} bytes", whole.len());
    for what in ["a flipped bit", "cut in half", "not a snapshot"] {
        match what {
            "a flipped bit" => {
                std::fs::write(&snapshot, &whole).unwrap();
                flip_bit(&snapshot, whole.len() as u64 / 2);
            }
            "cut in half" => std::fs::write(&snapshot, &whole[..whole.len() / 2]).unwrap(),
            _ => std::fs::write(&snapshot, b"not a snapshot at all").unwrap(),
        }
        let said = cli_ok(&["check", "--data", data.to_str().unwrap()]);
        assert!(
            said.contains("note: the read-model snapshot"),
            "{what}: {said}"
        );
        let mut server = Server::start(&dir);
        assert_eq!(tally(&server), before, "{what}");
        assert!(server.sigterm().success());
        let said = cli_ok(&["check", "--data", data.to_str().unwrap()]);
        assert!(
            said.contains(&format!(
                "ok: the read-model snapshot (1 segment, tree size {size})"
            )),
            "{what}: {said}"
        );
    }
}

/// The tmpfs the disk-full test fills, mounted for the test's life.
struct SmallDisk {
    dir: TestDir,
}

impl SmallDisk {
    /// A tmpfs of `mib` MiB, or `None` where this process may not mount (not root).
    fn mount(mib: u64) -> Option<SmallDisk> {
        let dir = TestDir::new();
        let at = dir.path("disk");
        std::fs::create_dir_all(&at).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(&at)
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(SmallDisk { dir })
    }

    fn root(&self) -> std::path::PathBuf {
        self.dir.path("disk")
    }

    /// Fills the filesystem until a write fails for want of space.
    fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.root().join("filler")).unwrap();
        let block = vec![0x5a_u8; 1 << 16];
        while filler.write_all(&block).is_ok() {}
        let _ = filler.sync_all();
    }

    fn free(&self) {
        std::fs::remove_file(self.root().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.root())
            .status();
    }
}

#[test]
fn a_full_disk_refuses_appends_with_507_and_they_resume_by_themselves() {
    let Some(disk) = SmallDisk::mount(48) else {
        // CI runs as root; say loudly where this test could not run.
        eprintln!("SKIPPED: cannot mount a tmpfs here (not root); CI runs this test");
        return;
    };
    let data = disk.root().join("data");
    let mut server = Server::start_on(&data, &["--min-free-mib", "2", "--scrub-every", "0"]);
    server.append(&server.admin, &petition_opened(PETITION, "Full disk"));
    let signed = |server: &Server, n: usize| {
        server.post(
            &server.admin,
            &signature(PETITION, &format!("signer-{n}@example.org")),
        )
    };
    assert_eq!(signed(&server, 0).status(), 201);
    let size = server.tree_size();

    disk.fill();
    for n in 1..4 {
        expect_problem(signed(&server, n), 507, "storage_full");
    }
    let health = server.get("/healthz");
    assert_eq!(health.status(), 503);
    let health: Value = health.json().unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["problems"][0]["reason"], "storage_full", "{health}");
    // Reads still work, and nothing was appended.
    assert_eq!(server.tree_size(), size);

    disk.free();
    let resumed = signed(&server, 1);
    assert_eq!(resumed.status(), 201, "{}", resumed.text().unwrap());
    assert_eq!(server.get("/healthz").status(), 200);
    assert_eq!(server.tree_size(), size + 1);
    // The refused ones left nothing behind: the same signers can sign now.
    assert_eq!(signed(&server, 2).status(), 201);
    assert!(server.sigterm().success());
    cli_ok(&["check", "--data", data.to_str().unwrap()]);
}
