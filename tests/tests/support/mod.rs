//! Shared helpers of the black-box tests: build the real `campaign-ledger` binary once,
//! start it on a free loopback port over a temporary data directory, talk to it over
//! HTTP, and check what it answers with the `ledger` crate's verifiers.
//!
//! Every test file compiles this module on its own and uses a different part of it.
#![allow(dead_code)]

use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ledger::checkpoint::{open_checkpoint, Checkpoint};
use ledger::merkle::ConsistencyProof;
use ledger::note::NoteVerifier;
use ledger::{Hash, HashAlg};
use reqwest::blocking::{Client, Response};
pub use serde_json::{json, Value};

/// True when the slow variants were asked for (`CAMPAIGN_LEDGER_SLOW_TESTS=1`).
pub fn slow_tests() -> bool {
    std::env::var("CAMPAIGN_LEDGER_SLOW_TESTS").is_ok_and(|v| !v.is_empty() && v != "0")
}

// ---------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------

/// The `campaign-ledger` binary, built once per test process with the cargo that runs
/// the tests (`$CARGO build -p server --bin campaign-ledger`), in the same target
/// directory and profile. `CAMPAIGN_LEDGER_BIN` names a prebuilt binary instead.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("CAMPAIGN_LEDGER_BIN") {
            return PathBuf::from(path);
        }
        // …/target/<profile>/deps/<test binary> → …/target/<profile>/campaign-ledger
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in target/<profile>/deps");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .args([
                "build",
                "--quiet",
                "-p",
                "server",
                "--bin",
                "campaign-ledger",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        // cargo test describes the test's package in the environment (CARGO_PKG_NAME,
        // CARGO_MANIFEST_DIR, ...). ring's build script reruns when those change, so
        // passing them on would rebuild the server here and again in the next
        // `cargo test`.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_MANIFEST_")
                || matches!(
                    &*name,
                    "CARGO_CRATE_NAME"
                        | "CARGO_PRIMARY_PACKAGE"
                        | "CARGO_TARGET_TMPDIR"
                        | "OUT_DIR"
                )
            {
                command.env_remove(&*name);
            }
        }
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            command.arg("--release");
        }
        // A target directory given with `--target-dir` is not passed down to us; its
        // root is marked with CACHEDIR.TAG.
        if let Some(target) = profile_dir.parent() {
            if target.join("CACHEDIR.TAG").exists() {
                command.arg("--target-dir").arg(target);
            }
        }
        let output = command
            .output()
            .expect("cannot run cargo to build the server");
        assert!(
            output.status.success(),
            "building campaign-ledger failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let binary = profile_dir.join("campaign-ledger");
        assert!(binary.exists(), "{} was not built", binary.display());
        binary
    })
}

/// Runs the binary with `args` (a CLI verb) and returns what it printed.
pub fn cli(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("cannot run campaign-ledger")
}

/// Runs the binary with `args`, killing it if it has not exited after `timeout` (for
/// commands that should fail fast but would serve forever if they did not).
pub fn cli_timeout(args: &[&str], timeout: Duration) -> Output {
    let mut child = Command::new(binary())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run campaign-ledger");
    let deadline = Instant::now() + timeout;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("campaign-ledger output")
}

/// Runs a CLI verb that must succeed and returns its stdout.
pub fn cli_ok(args: &[&str]) -> String {
    let output = cli(args);
    assert!(
        output.status.success(),
        "campaign-ledger {args:?} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("CLI output is UTF-8")
}

/// `token create`: a new token of `role` (admin, organiser, exporter) with an optional
/// scope (`petition:ID`, `city:NAME`, `area:CODE`). Works while the server runs.
pub fn create_token(data: &Path, role: &str, scope: Option<&str>) -> String {
    let data = data.to_str().expect("UTF-8 temp path");
    let mut args = vec!["token", "create", "--data", data, "--role", role];
    if let Some(scope) = scope {
        args.extend(["--scope", scope]);
    }
    let token = cli_ok(&args).trim().to_owned();
    assert!(token.starts_with("clt_"), "not a token: {token:?}");
    token
}

/// The public id of a token `clt_<id>_<secret>`.
pub fn token_id(token: &str) -> &str {
    token
        .strip_prefix("clt_")
        .and_then(|rest| rest.split_once('_'))
        .map(|(id, _)| id)
        .expect("a token reads clt_<id>_<secret>")
}

// ---------------------------------------------------------------------------------
// Data directories and servers
// ---------------------------------------------------------------------------------

/// A temporary directory holding a data directory (`data/`) and the server logs.
pub struct TestDir {
    root: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir {
            root: tempfile::Builder::new()
                .prefix("campaign-ledger-test-")
                .tempdir()
                .expect("cannot create a temp dir"),
        }
    }

    /// The data directory (created by the server on first start).
    pub fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// Another path in the temp dir, outside the data directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    fn root(&self) -> &Path {
        self.root.path()
    }
}

impl Default for TestDir {
    fn default() -> Self {
        TestDir::new()
    }
}

/// Asks Linux to SIGKILL the server if the thread that started it dies (a test
/// binary killed with Ctrl-C would otherwise leave servers running). Servers are
/// started and dropped on their test's own thread, so that thread outlives them.
#[cfg(target_os = "linux")]
pub fn kill_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
pub fn kill_with_parent(_: &mut Command) {}

/// A port that was free a moment ago (bound and released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// A keep-alive blocking client with generous timeouts.
pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(4)
        .build()
        .expect("cannot build an HTTP client")
}

static SERVER_SEQ: AtomicUsize = AtomicUsize::new(0);

/// A running `campaign-ledger serve`. Killed (SIGKILL) when dropped if still running.
pub struct Server {
    child: Option<Child>,
    pub data: PathBuf,
    pub base: String,
    pub admin: String,
    pub client: Client,
    pub stdout_path: PathBuf,
    pub stderr_path: PathBuf,
    /// Where the logs go when the data directory is not in a [`TestDir`].
    _logs: Option<TestDir>,
}

impl Server {
    /// Starts `serve --data <dir>/data` on a free port and waits for `/healthz`.
    pub fn start(dir: &TestDir) -> Server {
        Server::start_with(dir, &[])
    }

    /// As [`Server::start`], with extra `serve` flags such as `--demo`.
    pub fn start_with(dir: &TestDir, extra: &[&str]) -> Server {
        Server::start_in(dir.data(), dir.root(), None, extra)
    }

    /// As [`Server::start_with`], on the data directory `data` (anywhere: a small
    /// filesystem, say), with the server's logs in a temp dir of their own.
    pub fn start_on(data: &Path, extra: &[&str]) -> Server {
        let logs = TestDir::new();
        let root = logs.root().to_path_buf();
        Server::start_in(data.to_path_buf(), &root, Some(logs), extra)
    }

    fn start_in(data: PathBuf, logs: &Path, keep: Option<TestDir>, extra: &[&str]) -> Server {
        let mut last_error = String::new();
        let mut keep = keep;
        for _attempt in 0..8 {
            match Server::try_start(&data, logs, extra) {
                Ok(mut server) => {
                    server._logs = keep.take();
                    return server;
                }
                // Another test took the port between our probe and the server's bind.
                Err(error) if error.contains("cannot listen") => last_error = error,
                Err(error) => panic!("the server did not start:\n{error}"),
            }
        }
        panic!("the server could not get a port:\n{last_error}")
    }

    fn try_start(data: &Path, logs: &Path, extra: &[&str]) -> Result<Server, String> {
        let n = SERVER_SEQ.fetch_add(1, Ordering::Relaxed);
        let port = free_port();
        let data = data.to_path_buf();
        let stdout_path = logs.join(format!("server-{n}.out"));
        let stderr_path = logs.join(format!("server-{n}.err"));
        let stdout = std::fs::File::create(&stdout_path).map_err(|e| e.to_string())?;
        let stderr = std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
        let listen = format!("127.0.0.1:{port}");
        let mut command = Command::new(binary());
        kill_with_parent(&mut command);
        let child = command
            .arg("serve")
            .arg("--data")
            .arg(&data)
            .args(["--listen", &listen])
            .args(extra)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary().display()))?;
        let mut server = Server {
            child: Some(child),
            data: data.clone(),
            base: format!("http://{listen}"),
            admin: String::new(),
            client: client(),
            stdout_path,
            stderr_path,
            _logs: None,
        };
        let probe = Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = server.child_mut().try_wait().map_err(|e| e.to_string())? {
                server.child = None;
                return Err(format!(
                    "campaign-ledger serve exited with {status}:\n{}",
                    server.stderr()
                ));
            }
            // Up means answering: a server that found damage answers 503.
            if let Ok(response) = probe.get(server.url("/healthz")).send() {
                if matches!(response.status().as_u16(), 200 | 503) {
                    break;
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "/healthz did not answer within 120 s:\n{}",
                    server.stderr()
                ));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        server.admin = std::fs::read_to_string(data.join("admin.token"))
            .map_err(|e| format!("cannot read admin.token: {e}"))?
            .trim()
            .to_owned();
        Ok(server)
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("the server is not running")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is not running").id()
    }

    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => child.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    /// What the server wrote on stderr so far (its log).
    pub fn stderr(&self) -> String {
        read_lossy(&self.stderr_path)
    }

    /// What the server wrote on stdout so far.
    pub fn stdout(&self) -> String {
        read_lossy(&self.stdout_path)
    }

    /// Sends SIGTERM and waits (at most 60 s) for the process to exit.
    pub fn sigterm(&mut self) -> ExitStatus {
        let pid = self.pid() as libc::pid_t;
        // SAFETY: `pid` is our own child, which has not been reaped yet.
        let sent = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(sent, 0, "cannot send SIGTERM");
        self.wait_exit(Duration::from_secs(60))
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn sigkill(&mut self) {
        let mut child = self.child.take().expect("the server is not running");
        child.kill().expect("cannot SIGKILL the server");
        child.wait().expect("cannot reap the server");
    }

    /// Waits for the process to exit; panics (after killing it) on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            if Instant::now() > deadline {
                let mut child = self.child.take().expect("running");
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the server did not exit within {timeout:?}:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// GET that must answer 200 with JSON.
    pub fn get_json(&self, path: &str) -> Value {
        let response = self.get(path);
        let status = response.status();
        let text = response.text().expect("body");
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"))
    }

    /// GET that must answer 200; returns the body bytes.
    pub fn get_bytes(&self, path: &str) -> Vec<u8> {
        let response = self.get(path);
        assert_eq!(response.status(), 200, "GET {path}");
        response.bytes().expect("body").to_vec()
    }

    /// GET that must answer 200 with text.
    pub fn get_text(&self, path: &str) -> String {
        let response = self.get(path);
        let status = response.status();
        let text = response.text().expect("body");
        assert_eq!(status, 200, "GET {path}: {text}");
        text
    }

    /// `GET /api/v1/log`, parsed.
    pub fn log(&self) -> LogInfo {
        LogInfo::from_json(&self.get_json("/api/v1/log"))
    }

    /// The current tree size according to `GET /api/v1/log`.
    pub fn tree_size(&self) -> u64 {
        self.get_json("/api/v1/log")["tree_size"]
            .as_u64()
            .expect("tree_size")
    }

    /// `POST /api/v1/records` with a JSON body and bearer `token`.
    pub fn post(&self, token: &str, body: &Value) -> Response {
        self.post_raw(
            Some(token),
            Some("application/json"),
            None,
            serde_json::to_vec(body).expect("JSON"),
        )
    }

    /// `POST /api/v1/records` with an `Idempotency-Key`.
    pub fn post_idempotent(&self, token: &str, key: &str, body: &Value) -> Response {
        self.post_raw(
            Some(token),
            Some("application/json"),
            Some(key),
            serde_json::to_vec(body).expect("JSON"),
        )
    }

    /// `POST /api/v1/records` with every part under the caller's control.
    pub fn post_raw(
        &self,
        token: Option<&str>,
        content_type: Option<&str>,
        idempotency_key: Option<&str>,
        body: Vec<u8>,
    ) -> Response {
        let mut request = self.client.post(self.url("/api/v1/records"));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        request
            .body(body)
            .send()
            .unwrap_or_else(|e| panic!("POST /api/v1/records: {e}"))
    }

    /// Appends `body` (one record or a batch), which must be answered 201.
    pub fn append(&self, token: &str, body: &Value) -> Value {
        let response = self.post(token, body);
        let status = response.status();
        let text = response.text().expect("body");
        assert_eq!(status, 201, "POST {body}: {text}");
        serde_json::from_str(&text).expect("the 201 answer is JSON")
    }

    /// Fetches the level-0 hash tiles of the tree of `size` leaves: every leaf hash.
    pub fn leaf_hashes(&self, size: u64) -> Vec<Hash> {
        let mut leaves = Vec::with_capacity(size as usize);
        let mut index = 0;
        while leaves.len() < size as usize {
            let width = (size - index * 256).min(256) as u16;
            let path = tile_path(0, index, width);
            let bytes = self.get_bytes(&path);
            leaves.extend(ledger::tile::decode_hash_tile(&bytes, width).expect("hash tile"));
            index += 1;
        }
        leaves
    }

    /// `GET /checkpoint`, verified with the log key.
    pub fn checkpoint(&self, vkey: &NoteVerifier) -> Checkpoint {
        open_checkpoint_text(&self.get_text("/checkpoint"), vkey)
    }

    /// Asks for a consistency proof from `old` to `new`, checks that it connects the
    /// roots of the two (already verified) checkpoints, and verifies it.
    pub fn assert_consistent(&self, alg: HashAlg, old: &Checkpoint, new: &Checkpoint) {
        assert!(
            old.size <= new.size,
            "the log shrank from {} to {}",
            old.size,
            new.size
        );
        if old.size == 0 {
            return;
        }
        let path = format!(
            "/api/v1/proofs/consistency?from={}&to={}",
            old.size, new.size
        );
        let proof: ConsistencyProof = serde_json::from_value(self.get_json(&path))
            .unwrap_or_else(|e| panic!("GET {path}: not a ConsistencyProof: {e}"));
        assert_eq!((proof.from, proof.to), (old.size, new.size), "{path}");
        assert_eq!(
            (proof.from_root, proof.to_root),
            (old.root, new.root),
            "{path}: the proof is not about the checkpoints' roots"
        );
        proof.verify(alg).unwrap_or_else(|e| {
            panic!(
                "checkpoint {} is not consistent with checkpoint {}: {e}",
                old.size, new.size
            )
        });
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- server log ({}) ---\n{}",
                self.stderr_path.display(),
                tail(&self.stderr(), 60)
            );
        }
    }
}

fn read_lossy(path: &Path) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        // The last 256 KiB are plenty for a diagnosis.
        let _ = file.seek(SeekFrom::Start(len.saturating_sub(256 * 1024)));
        let _ = file.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `GET /api/v1/log`.
#[derive(Clone, Debug)]
pub struct LogInfo {
    pub origin: String,
    pub alg: HashAlg,
    pub vkey: NoteVerifier,
    pub vkey_text: String,
    pub tree_size: u64,
    pub root: Hash,
}

impl LogInfo {
    pub fn from_json(value: &Value) -> LogInfo {
        let vkey_text = value["vkey"].as_str().expect("vkey").to_owned();
        LogInfo {
            origin: value["origin"].as_str().expect("origin").to_owned(),
            alg: value["hash"]
                .as_str()
                .expect("hash")
                .parse()
                .expect("blake3 or sha256"),
            vkey: NoteVerifier::parse(&vkey_text).expect("a note verifier key"),
            vkey_text,
            tree_size: value["tree_size"].as_u64().expect("tree_size"),
            root: b64_hash(value["root"].as_str().expect("root")),
        }
    }
}

// ---------------------------------------------------------------------------------
// Encodings and checks
// ---------------------------------------------------------------------------------

/// Standard base64 of bytes or of a [`Hash`] (whose `Display` is the same text).
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    BASE64.encode(bytes)
}

pub fn b64_decode(text: &str) -> Vec<u8> {
    BASE64
        .decode(text)
        .unwrap_or_else(|e| panic!("not base64 ({e}): {text:?}"))
}

/// A hash in its text form: canonical standard base64 of 32 bytes.
pub fn b64_hash(text: &str) -> Hash {
    Hash::parse(text).unwrap_or_else(|e| panic!("not a base64 32-byte hash ({e}): {text:?}"))
}

/// Opens a signed checkpoint note with the log key, or panics.
pub fn open_checkpoint_text(text: &str, vkey: &NoteVerifier) -> Checkpoint {
    open_checkpoint(text, vkey)
        .unwrap_or_else(|e| panic!("the checkpoint does not verify ({e}):\n{text}"))
        .0
}

/// The RFC 6962 root of a tree with these leaf hashes.
pub fn merkle_root(alg: HashAlg, leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return alg.empty_root();
    }
    ledger::tile::tile_root(alg, leaves).expect("non-empty")
}

/// The tlog-tiles path of hash tile `level`/`index` of width `width`.
pub fn tile_path(level: u8, index: u64, width: u16) -> String {
    let path = ledger::tile::TilePath::hash(level, index, width).expect("a valid tile");
    format!("/{path}")
}

/// The tlog-tiles path of entry bundle `index` of width `width`.
pub fn bundle_path(index: u64, width: u16) -> String {
    let path = ledger::tile::TilePath::entries(index, width).expect("a valid tile");
    format!("/{path}")
}

/// Checks that `response` is an RFC 9457 problem with `status` and `reason`; returns it.
pub fn expect_problem(response: Response, status: u16, reason: &str) -> Value {
    let got = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().expect("body");
    check_problem(got, &content_type, &text, status, reason)
}

/// [`expect_problem`] on an answer already taken apart.
pub fn check_problem(got: u16, content_type: &str, text: &str, status: u16, reason: &str) -> Value {
    assert_eq!(got, status, "expected {status} {reason}, got {got}: {text}");
    assert!(
        content_type.starts_with("application/problem+json"),
        "expected application/problem+json for {status} {reason}, got {content_type:?}: {text}"
    );
    let problem: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("the problem is not JSON ({e}): {text}"));
    assert_eq!(problem["reason"], reason, "{text}");
    assert_eq!(problem["status"], status, "{text}");
    assert!(problem["type"].is_string(), "{text}");
    assert!(problem["title"].is_string(), "{text}");
    assert!(problem["detail"].is_string(), "{text}");
    problem
}

/// An HTTP answer read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// `POST` over a raw HTTP/1.1 connection that reads the answer while the body is still
/// being written, as curl does. A server that refuses a large body early answers and
/// closes the connection; clients that write the whole body before reading (reqwest)
/// then see a reset instead of the answer.
pub fn raw_post(base: &str, path: &str, headers: &[(&str, String)], body: Vec<u8>) -> RawResponse {
    use std::io::Write;
    let address = base.strip_prefix("http://").expect("an http:// base URL");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .expect("write the request head");
    let mut writer = stream.try_clone().expect("clone the socket");
    let sender = std::thread::spawn(move || {
        for chunk in body.chunks(64 * 1024) {
            if writer.write_all(chunk).is_err() {
                break;
            }
        }
    });
    let mut received = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    let answer = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break parse_raw(&received),
            Ok(n) => {
                received.extend_from_slice(&buffer[..n]);
                if let Some(answer) = parse_raw(&received) {
                    break Some(answer);
                }
            }
            Err(e) => {
                break parse_raw(&received).or_else(|| panic!("POST {path}: {e} before an answer"))
            }
        }
    };
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = sender.join();
    answer.unwrap_or_else(|| {
        panic!(
            "POST {path}: incomplete answer: {}",
            String::from_utf8_lossy(&received)
        )
    })
}

/// A complete HTTP/1.1 answer with a Content-Length, or None if more is needed.
pub fn parse_raw(bytes: &[u8]) -> Option<RawResponse> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut content_type = String::new();
    let mut length = 0;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-type" => content_type = value.trim().to_owned(),
            "content-length" => length = value.trim().parse().ok()?,
            _ => {}
        }
    }
    let body = bytes.get(end + 4..end + 4 + length)?;
    Some(RawResponse {
        status,
        content_type,
        body: String::from_utf8_lossy(body).into_owned(),
    })
}

/// A tiny deterministic generator for "random" picks (seeded from the clock).
pub struct Rng(u64);

impl Rng {
    pub fn from_clock() -> Rng {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        eprintln!("rng seed {seed}");
        Rng(seed | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

// ---------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------

/// `petition.opened` with a full text.
pub fn petition_opened(id: &str, title: &str) -> Value {
    json!({
        "type": "petition.opened",
        "petition_id": id,
        "title": title,
        "text": "We ask for an independent advisory committee on city diplomacy.",
        "target": "UK Parliament",
        "closes_on": "2030-04-01",
    })
}

/// An online `signature.added` by the signer whose email is `email`: the name is made
/// from the email too, since a name with a postcode is a second identity (signers
/// who share both are one signer).
pub fn signature(petition: &str, email: &str) -> Value {
    json!({
        "type": "signature.added",
        "petition_id": petition,
        "name": format!("Test Signer {}", email.trim().to_lowercase()),
        "email": email,
        "postcode": "NE1 7RU",
        "country": "GB",
        "constituency": "E14000831",
        "council": "Newcastle upon Tyne",
        "consent_to_share": true,
        "channel": "online",
    })
}

// ---------------------------------------------------------------------------------
// Load: many clients appending signatures
// ---------------------------------------------------------------------------------

/// One `201` answer a client received.
#[derive(Clone, Debug)]
pub struct Acked {
    pub index: u64,
    pub leaf_hash: String,
    pub tree_size: u64,
    pub checkpoint: String,
}

impl Acked {
    /// From the JSON of a 201 answer to a single-record request.
    pub fn from_answer(answer: &Value) -> Acked {
        Acked {
            index: answer["index"].as_u64().expect("index"),
            leaf_hash: answer["leaf_hash"].as_str().expect("leaf_hash").to_owned(),
            tree_size: answer["tree_size"].as_u64().expect("tree_size"),
            checkpoint: answer["checkpoint"]
                .as_str()
                .expect("checkpoint")
                .to_owned(),
        }
    }
}

/// What one appending client saw.
#[derive(Default, Debug)]
pub struct ClientLog {
    pub acked: Vec<Acked>,
    /// Non-201 answers, by status.
    pub refused: Vec<(u16, String)>,
    /// Requests that got no answer (connection refused, reset, ...).
    pub failed: usize,
    /// With keys: the idempotency key and body of every request that got no answer.
    pub unanswered: Vec<(String, Vec<u8>)>,
}

/// Starts `threads` clients, each with its own keep-alive connection, appending single
/// signatures with unique emails (`<tag>-<thread>-<n>@example.org`) to `petition` as
/// fast as they can until `stop` is set. Connection errors are retried (with the next
/// signature) until then. With `keyed`, every request carries an `Idempotency-Key`
/// and the unanswered ones are kept in [`ClientLog::unanswered`] for a retry.
pub fn spawn_appenders(
    base: &str,
    token: &str,
    petition: &str,
    threads: usize,
    tag: &str,
    stop: &Arc<AtomicBool>,
    keyed: bool,
) -> Vec<JoinHandle<ClientLog>> {
    (0..threads)
        .map(|thread| {
            let url = format!("{base}/api/v1/records");
            let auth = format!("Bearer {token}");
            let petition = petition.to_owned();
            let tag = tag.to_owned();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let client = Client::builder()
                    .timeout(Duration::from_secs(30))
                    .pool_max_idle_per_host(1)
                    .build()
                    .expect("client");
                let mut log = ClientLog::default();
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let body = signature(&petition, &format!("{tag}-{thread}-{n}@example.org"));
                    let body = serde_json::to_vec(&body).expect("JSON");
                    let key = format!("{tag}-{thread}-{n}");
                    let mut request = client
                        .post(&url)
                        .header("authorization", &auth)
                        .header("content-type", "application/json")
                        .body(body.clone());
                    if keyed {
                        request = request.header("idempotency-key", &key);
                    }
                    let answered = request.send().and_then(|response| {
                        let status = response.status().as_u16();
                        response.text().map(|text| (status, text))
                    });
                    let (status, text) = match answered {
                        Ok(answer) => answer,
                        Err(_) => {
                            log.failed += 1;
                            if keyed {
                                log.unanswered.push((key, body));
                            }
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                    };
                    if status != 201 {
                        log.refused.push((status, text));
                        continue;
                    }
                    let answer: Value = serde_json::from_str(&text).expect("201 answer is JSON");
                    log.acked.push(Acked::from_answer(&answer));
                }
                log
            })
        })
        .collect()
}

/// Waits for the clients and merges what they saw.
pub fn join_appenders(handles: Vec<JoinHandle<ClientLog>>) -> ClientLog {
    let mut all = ClientLog::default();
    for handle in handles {
        let log = handle.join().expect("a client thread panicked");
        all.acked.extend(log.acked);
        all.refused.extend(log.refused);
        all.failed += log.failed;
        all.unanswered.extend(log.unanswered);
    }
    all
}

/// Checks, on a (restarted) server, that every acknowledged append is in the log with
/// the same index and leaf hash, that every acknowledged checkpoint verifies and covers
/// its entry, and that the current checkpoint is consistent with the largest
/// checkpoint any client saw. `entry_checks` is how many acknowledged records are also
/// fetched one by one from `/api/v1/entries/{i}` (all of them when `None`).
pub fn verify_acked(server: &Server, acked: &[Acked], entry_checks: Option<usize>) {
    let log = server.log();
    let current = server.checkpoint(&log.vkey);
    assert_eq!(current.size, log.tree_size);
    assert_eq!(current.root, log.root);

    // No index was acknowledged twice.
    let mut indexes: Vec<u64> = acked.iter().map(|a| a.index).collect();
    indexes.sort_unstable();
    let before = indexes.len();
    indexes.dedup();
    assert_eq!(
        before,
        indexes.len(),
        "two 201 answers named the same index"
    );

    // Every leaf hash, from the hash tiles, and the root they make.
    let leaves = server.leaf_hashes(current.size);
    assert_eq!(
        merkle_root(log.alg, &leaves),
        current.root,
        "the hash tiles do not make the checkpoint's root"
    );
    let mut latest: Option<Checkpoint> = None;
    for ack in acked {
        assert!(
            ack.index < current.size,
            "acknowledged entry {} is missing: the log has {} entries",
            ack.index,
            current.size
        );
        assert_eq!(
            leaves[ack.index as usize].to_string(),
            ack.leaf_hash,
            "entry {} changed after it was acknowledged",
            ack.index
        );
        assert!(
            ack.index < ack.tree_size,
            "a 201 checkpoint must cover its entry"
        );
        if latest.as_ref().is_none_or(|l| ack.tree_size > l.size) {
            let checkpoint = open_checkpoint_text(&ack.checkpoint, &log.vkey);
            assert_eq!(checkpoint.size, ack.tree_size);
            latest = Some(checkpoint);
        }
    }
    if let Some(latest) = &latest {
        server.assert_consistent(log.alg, latest, &current);
    }

    // And one by one through the entries API (parallel, on a few connections).
    let picked: Vec<Acked> = match entry_checks {
        None => acked.to_vec(),
        Some(n) => {
            let step = (acked.len() / n.max(1)).max(1);
            acked.iter().step_by(step).cloned().collect()
        }
    };
    let chunks: Vec<Vec<Acked>> = picked
        .chunks(picked.len().div_ceil(4).max(1))
        .map(<[Acked]>::to_vec)
        .collect();
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let base = server.base.clone();
            let alg = log.alg;
            std::thread::spawn(move || {
                let client = client();
                for ack in chunk {
                    let url = format!("{base}/api/v1/entries/{}", ack.index);
                    let entry: Value = client
                        .get(&url)
                        .send()
                        .and_then(|r| r.error_for_status())
                        .and_then(|r| r.json())
                        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
                    assert_eq!(entry["index"], ack.index);
                    assert_eq!(entry["leaf_hash"], ack.leaf_hash.as_str(), "{url}");
                    let bytes = b64_decode(entry["bytes"].as_str().expect("bytes"));
                    assert_eq!(alg.leaf_hash(&bytes).to_string(), ack.leaf_hash, "{url}");
                    // A signature.added is logged as a signature.committed.
                    assert_eq!(entry["record"]["type"], "signature.committed", "{url}");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("an entry check failed");
    }
}

/// Sleeps `duration`, for readability at call sites.
pub fn pause(duration: Duration) {
    std::thread::sleep(duration);
}
