//! Auditors, black-box: `campaign-ledger audit` against the live server and against
//! static copies, cosigning and submitting, the server's rules for cosignatures, and a
//! log that lies in each way an auditor must catch.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use ledger::note::{CosignatureSigner, Note, NoteSigner, Signer};
use support::*;

fn audit(source: &str, mirror: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "audit",
        source,
        "--mirror",
        mirror.to_str().unwrap(),
        "--json",
    ];
    args.extend(extra);
    cli(&args)
}

/// The JSON report of a passing audit.
fn audit_ok(source: &str, mirror: &Path, extra: &[&str]) -> Value {
    let output = audit(source, mirror, extra);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "audit {source} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("a JSON report");
    assert_eq!(report["ok"], true);
    report
}

/// Asserts the audit fails with `status` and a message naming `expected`.
fn audit_fails(source: &Path, mirror: &Path, status: i32, expected: &str) -> String {
    let output = audit(source.to_str().unwrap(), mirror, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(output.status.code(), Some(status), "{stdout}");
    let report: Value = serde_json::from_str(stdout.trim()).expect("a JSON report");
    assert_eq!(report["ok"], false);
    let failed = report["failed"].as_str().unwrap().to_string();
    assert!(
        failed.contains(expected),
        "{failed:?} does not name {expected:?}"
    );
    failed
}

fn signatures(server: &Server, from: u32, count: u32) {
    let records: Vec<Value> = (from..from + count)
        .map(|i| signature("p", &format!("audit-{i}@example.org")))
        .collect();
    server.append(&server.admin, &json!({ "records": records }));
}

/// `tiles --out` of the stopped server's data directory `data`, into `out`.
fn static_copy(data: &Path, out: &Path) {
    cli_ok(&[
        "tiles",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn auditors_mirror_the_live_log_cosign_and_the_server_serves_their_cosignatures() {
    let dir = TestDir::new();
    let server = Server::start_with(&dir, &["--demo"]);
    let url = server.base.clone();
    let mirror = dir.path("mirror");
    let size = server.tree_size();

    // A first audit: everything fetched and checked.
    let report = audit_ok(&url, &mirror, &[]);
    assert_eq!(report["report"]["tree_size"], size);
    assert_eq!(report["report"]["entries_checked"], size);
    assert_eq!(report["report"]["key_first_seen"], true);
    let vkey = server.log().vkey.to_string();
    assert_eq!(report["report"]["vkey"], vkey.as_str());

    // An auditor's key, listed by the operator; an audit that cosigns and submits.
    let key_file = dir.path("auditor.key");
    let auditor_vkey = cli_ok(&[
        "auditor",
        "keygen",
        "--name",
        "audit.example.org",
        "--out",
        key_file.to_str().unwrap(),
    ])
    .trim()
    .to_string();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let data = server.data.to_str().unwrap().to_string();
    cli_ok(&["auditor", "add", "--data", &data, &auditor_vkey]);
    assert!(cli_ok(&["auditor", "list", "--data", &data]).contains("audit.example.org"));
    signatures_after_demo(&server);
    let report = audit_ok(
        &url,
        &mirror,
        &[
            "--vkey",
            &vkey,
            "--cosign",
            key_file.to_str().unwrap(),
            "--submit",
        ],
    );
    let now = server.tree_size();
    assert_eq!(report["report"]["previous_size"], size);
    assert_eq!(report["report"]["tree_size"], now);
    assert_eq!(report["report"]["entries_checked"], now - size);
    assert_eq!(report["cosigned"]["submitted"], true);

    // The cosignature is on the checkpoint and the tally; a verifier that knows only
    // the log key still accepts the checkpoint, and one that knows the auditor too
    // sees its cosignature.
    let auditor = ledger::note::NoteVerifier::parse(&auditor_vkey).unwrap();
    let log_key = server.log().vkey;
    let checkpoint = server.get_text("/checkpoint");
    assert!(checkpoint.contains("— audit.example.org "), "{checkpoint}");
    assert_eq!(open_checkpoint_text(&checkpoint, &log_key).size, now);
    let opened = ledger::note::open(&checkpoint, &[log_key.clone(), auditor.clone()]).unwrap();
    assert!(opened.is_verified_by(&auditor));
    let tally = server.get_json("/api/v1/tally");
    let note = tally["note"].as_str().unwrap();
    assert!(
        ledger::note::open(note, &[log_key.clone(), auditor.clone()])
            .unwrap()
            .is_verified_by(&auditor)
    );
    let listed = server.get_json("/api/v1/cosignatures");
    let cosigned: Vec<&str> = listed["cosignatures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cosigned"].as_str().unwrap())
        .collect();
    assert_eq!(cosigned, ["checkpoint", "tally"]);

    // An office's export bundle carries the auditor's cosignature, which `verify
    // --auditor` checks.
    let bundle = dir.path("bundle.zip");
    let zip = server
        .client
        .get(server.url("/api/v1/exports/uk-city-diplomacy?area=country:GB"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    std::fs::write(&bundle, &zip).unwrap();
    let verified = cli_ok(&[
        "verify",
        bundle.to_str().unwrap(),
        "--vkey",
        &vkey,
        "--auditor",
        &auditor_vkey,
    ]);
    assert!(
        verified.contains("cosigned that tally: audit.example.org"),
        "{verified}"
    );

    // What the server refuses.
    let post = |body: String| {
        server
            .client
            .post(server.url("/api/v1/cosignatures"))
            .body(body)
            .send()
            .unwrap()
    };
    let stranger = CosignatureSigner::generate("stranger.example.org").unwrap();
    let cosign = |note: &str, key: &CosignatureSigner| {
        ledger::note::sign(Note::parse(note).unwrap(), &[key as &dyn Signer]).unwrap()
    };
    // The checkpoint with the log's own signature only.
    let served = server.get_text("/checkpoint");
    let bare: String = {
        let (body, signatures) = served.split_once("\n\n").unwrap();
        format!("{body}\n\n{}\n", signatures.lines().next().unwrap())
    };
    expect_problem(post(cosign(&bare, &stranger)), 403, "unknown_auditor");
    expect_problem(post("not a note".into()), 400, "malformed_note");
    // Another log's checkpoint, cosigned by the listed auditor's key.
    let auditor_key =
        CosignatureSigner::from_private_key(std::fs::read_to_string(&key_file).unwrap().trim())
            .unwrap();
    let other_log = NoteSigner::generate("another-log").unwrap();
    let foreign = ledger::checkpoint::sign_checkpoint(
        &ledger::checkpoint::Checkpoint::new("another-log", 1, ledger::Hash([7; 32])),
        &other_log,
    )
    .unwrap();
    expect_problem(post(cosign(&foreign, &auditor_key)), 422, "not_this_log");
    // This log's name and size, but a root it never signed.
    let forged = ledger::checkpoint::sign_checkpoint(
        &ledger::checkpoint::Checkpoint::new(log_key.name(), 3, ledger::Hash([7; 32])),
        &other_log,
    );
    if let Ok(forged) = forged {
        expect_problem(post(cosign(&forged, &auditor_key)), 422, "not_this_log");
    }
    // A tally the log's replay does not give.
    let body = projector::tally::TallyBody::parse(&note[..note.find("\n\n").unwrap() + 1]).unwrap();
    let lying = projector::tally::TallyBody {
        text_hash: ledger::Hash([1; 32]),
        ..body
    };
    let lying_note = ledger::note::sign(
        Note::new(&lying.to_text()).unwrap(),
        &[&auditor_key as &dyn Signer],
    )
    .unwrap();
    expect_problem(post(lying_note), 422, "not_this_log");

    // A removed auditor's next cosignature is refused; the ones it gave stay.
    cli_ok(&["auditor", "remove", "--data", &data, "audit.example.org"]);
    expect_problem(post(cosign(&bare, &auditor_key)), 403, "unknown_auditor");
    assert!(server
        .get_text("/checkpoint")
        .contains("— audit.example.org "));
}

fn signatures_after_demo(server: &Server) {
    let records: Vec<Value> = (0..7)
        .map(|i| signature("uk-city-diplomacy", &format!("after-demo-{i}@example.org")))
        .collect();
    server.append(&server.admin, &json!({ "records": records }));
}

/// Stops `server`, writes its static copy to `out`, starts it again.
fn copy_of(dir: &TestDir, server: Server, out: &Path) -> Server {
    let mut server = server;
    assert_eq!(server.sigterm().code(), Some(0));
    static_copy(&dir.data(), out);
    drop(server);
    Server::start(dir)
}

#[test]
fn every_lie_is_caught_and_named() {
    let dir = TestDir::new();
    let server = Server::start(&dir);
    server.append(&server.admin, &petition_opened("p", "Audit me"));
    signatures(&server, 0, 300);
    let older = dir.path("older");
    let server = copy_of(&dir, server, &older);
    // Two logs from one key: a copy of the data directory that grows apart.
    let twin = dir.path("twin-data");
    let mut server = server;
    assert_eq!(server.sigterm().code(), Some(0));
    copy_dir(&dir.data(), &twin);
    let server = Server::start(&dir);
    signatures(&server, 300, 40);
    let good = dir.path("good");
    let mut server = copy_of(&dir, server, &good);
    assert_eq!(server.sigterm().code(), Some(0));
    let twin_server = Server::start_on(&twin, &[]);
    signatures(&twin_server, 1000, 60);
    let mut twin_server = twin_server;
    assert_eq!(twin_server.sigterm().code(), Some(0));
    let forked = dir.path("forked");
    static_copy(&twin, &forked);

    // The honest copies pass.
    let mirror = dir.path("mirror");
    audit_ok(older.to_str().unwrap(), &mirror, &[]);
    let report = audit_ok(good.to_str().unwrap(), &mirror, &[]);
    assert_eq!(report["report"]["previous_size"], 301);

    // A rolled-back copy, to the mirror that verified more.
    audit_fails(&older, &mirror, 1, "rolled back");
    // A fork: the twin's history is not an extension of what the mirror verified.
    let failed = audit_fails(&forked, &mirror, 2, "fork");
    assert!(failed.contains("rewritten"), "{failed}");
    let evidence: Vec<PathBuf> = std::fs::read_dir(&mirror)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("fork-evidence")
        })
        .collect();
    assert_eq!(evidence.len(), 1);
    let text = std::fs::read_to_string(&evidence[0]).unwrap();
    assert_eq!(
        text.matches("\n— ").count(),
        2,
        "both signed checkpoints: {text}"
    );

    // Lies told to a fresh auditor, each in a copy of the good one.
    let lie = |name: &str, change: &dyn Fn(&Path)| -> (PathBuf, PathBuf) {
        let copy = dir.path(name);
        copy_dir(&good, &copy);
        change(&copy);
        (copy, dir.path(&format!("{name}-mirror")))
    };
    let flip = |file: &Path, at: usize| {
        let mut bytes = std::fs::read(file).unwrap();
        bytes[at] ^= 1;
        std::fs::write(file, bytes).unwrap();
    };
    // A rewritten entry (a byte inside the first signature).
    let (copy, m) = lie("rewritten", &|c| flip(&c.join("tile/entries/000"), 300));
    // Caught as an entry that no longer decodes or as entries that miss the signed root.
    audit_fails(&copy, &m, 1, "entr");
    // A dropped entry: the first bundle without its last entry.
    let (copy, m) = lie("dropped", &|c| {
        let path = c.join("tile/entries/000");
        let bytes = std::fs::read(&path).unwrap();
        let entries = ledger::tile::decode_entry_bundle(&bytes).unwrap();
        let shorter = ledger::tile::encode_entry_bundle(&entries[..entries.len() - 1]).unwrap();
        std::fs::write(&path, shorter).unwrap();
    });
    audit_fails(&copy, &m, 1, "tile/entries/000");
    // A hash tile that does not match the entries.
    let (copy, m) = lie("tile", &|c| flip(&c.join("tile/0/000"), 5));
    audit_fails(&copy, &m, 1, "tile/0/000");
    // A checkpoint signed by another key of the same name.
    let (copy, m) = lie("impostor", &|c| {
        let path = c.join("checkpoint");
        let text = std::fs::read_to_string(&path).unwrap();
        let body = &text[..text.find("\n\n").unwrap() + 1];
        let origin = body.lines().next().unwrap();
        let impostor = NoteSigner::generate(origin).unwrap();
        let signed =
            ledger::note::sign(Note::new(body).unwrap(), &[&impostor as &dyn Signer]).unwrap();
        std::fs::write(&path, signed).unwrap();
    });
    audit_fails(&copy, &m, 1, "checkpoint");
    // A tally counter off by one, signed by the log key itself: an operator who lies.
    let log_key = NoteSigner::from_private_key(
        std::fs::read_to_string(dir.data().join("log.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let (copy, m) = lie("tally", &|c| {
        let path = c.join("api/v1/tally");
        let mut answer: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let text = answer["text"]
            .as_str()
            .unwrap()
            .replace("petition/p/total 340\n", "petition/p/total 341\n");
        assert_ne!(
            text,
            answer["text"].as_str().unwrap(),
            "the counter is there"
        );
        let size = answer["tree_size"].as_u64().unwrap();
        let checkpoint = std::fs::read_to_string(c.join("checkpoint")).unwrap();
        let root = ledger::Hash::parse(checkpoint.lines().nth(2).unwrap()).unwrap();
        answer["note"] = json!(projector::tally::sign_tally(
            ledger::HashAlg::Blake3,
            &log_key,
            size,
            root,
            &text
        )
        .unwrap());
        answer["text"] = json!(text);
        std::fs::write(&path, serde_json::to_vec(&answer).unwrap()).unwrap();
    });
    audit_fails(&copy, &m, 1, "petition/p/total");
}

/// nginx serving `root` on a free loopback port, as any static host would; stopped
/// when dropped. `None` where nginx is not installed (`.ci/run` installs it).
struct Nginx {
    child: std::process::Child,
    port: u16,
    _dir: TestDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx(root: &Path) -> Option<Nginx> {
    let binary = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let dir = TestDir::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let tmp = dir.path("nginx");
    std::fs::create_dir_all(&tmp).unwrap();
    // As root, nginx's workers would drop to a user who cannot read a private temp dir.
    // SAFETY: geteuid has no preconditions.
    let user = if unsafe { libc::geteuid() } == 0 {
        "user root;"
    } else {
        ""
    };
    let t = tmp.display();
    let conf = format!(
        "{user}\ndaemon off;\nworker_processes 1;\npid {t}/nginx.pid;\nerror_log {t}/error.log;\n\
         events {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {t}/body;\n\
         proxy_temp_path {t}/proxy;\n  fastcgi_temp_path {t}/fastcgi;\n  uwsgi_temp_path {t}/uwsgi;\n\
         scgi_temp_path {t}/scgi;\n  default_type application/octet-stream;\n\
         server {{\n    listen 127.0.0.1:{port};\n    root {};\n    location / {{ try_files $uri =404; }}\n  }}\n}}\n",
        root.display()
    );
    let conf_path = tmp.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = std::process::Command::new(binary)
        .args([
            "-c",
            conf_path.to_str().unwrap(),
            "-p",
            tmp.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let nginx = Nginx {
        child,
        port,
        _dir: dir,
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nginx did not start: {}",
            std::fs::read_to_string(tmp.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Some(nginx)
}

#[test]
fn a_published_copy_stays_whole_under_appends_and_audits_through_nginx() {
    let dir = TestDir::new();
    let site = dir.path("site");
    let server = Server::start_with(&dir, &["--publish", site.to_str().unwrap()]);
    server.append(&server.admin, &petition_opened("p", "Published"));
    signatures(&server, 0, 100);
    let web = nginx(&site);
    let Some(web) = web else {
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx is not installed; .ci/run installs it"
        );
        println!("SKIPPED: nginx is not installed");
        return;
    };
    let url = format!("http://127.0.0.1:{}", web.port);

    // Appends go on while auditors read the copy through nginx: every audit passes
    // (each checks every new tile against the checkpoint it read, and the tally).
    let appender = {
        let base = server.base.clone();
        let admin = server.admin.clone();
        std::thread::spawn(move || {
            let client = client();
            for round in 0..40u32 {
                let records: Vec<Value> = (0..10)
                    .map(|i| signature("p", &format!("live-{round}-{i}@example.org")))
                    .collect();
                let response = client
                    .post(format!("{base}/api/v1/records"))
                    .bearer_auth(&admin)
                    .json(&json!({ "records": records }))
                    .send()
                    .unwrap();
                assert_eq!(response.status().as_u16(), 201);
                std::thread::sleep(std::time::Duration::from_millis(15));
            }
        })
    };
    let mirror = dir.path("mirror");
    let mut audits = 0;
    while !appender.is_finished() {
        audit_ok(&url, &mirror, &[]);
        // And at any moment the copy's checkpoint names only tiles that are there.
        let checkpoint = std::fs::read_to_string(site.join("checkpoint")).unwrap();
        let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
        for tile in ledger::tile::tiles_for_size(size) {
            let full = site.join(tile.to_string());
            let widest = match tile {
                ledger::tile::TilePath::Hash { level, index, .. } => ledger::tile::TilePath::Hash {
                    level,
                    index,
                    width: 256,
                },
                ledger::tile::TilePath::Entries { index, .. } => {
                    ledger::tile::TilePath::Entries { index, width: 256 }
                }
            };
            assert!(
                full.exists() || site.join(widest.to_string()).exists(),
                "{tile} of size {size} is missing"
            );
        }
        audits += 1;
    }
    appender.join().unwrap();
    assert!(audits >= 2, "only {audits} audits ran during the appends");

    // Within a second the copy has everything; the last audit agrees with the server.
    let size = server.tree_size();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let checkpoint = std::fs::read_to_string(site.join("checkpoint")).unwrap();
        if checkpoint.lines().nth(1) == Some(size.to_string().as_str()) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the copy lags more than a second"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let report = audit_ok(&url, &mirror, &[]);
    assert_eq!(report["report"]["tree_size"], size);
    // The live server, audited into the same mirror, tells the same story.
    audit_ok(&server.base, &mirror, &[]);
    let published: Value =
        serde_json::from_slice(&std::fs::read(site.join("api/v1/petitions/p.json")).unwrap())
            .unwrap();
    let live = server.get_json("/api/v1/petitions/p");
    assert_eq!(published["total"], live["total"]);
    assert_eq!(published["tree_size"], size);
    // Tiles through nginx are served as they are, byte for byte.
    let tile = client()
        .get(format!("{url}/tile/0/000"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(&tile[..], &server.get_bytes("/tile/0/000")[..]);
}
