//! A headless Chromium driven through `chromedriver`, for black-box tests of the
//! server's HTML pages, behind a small blocking API the sync tests call.
//!
//! **What it needs.** Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`); `bash .ci/run` installs them when they are missing (as
//! root). Without them [`Browser::start`] prints `SKIPPED: …` and answers `None`, so the
//! test passes without checking anything, unless `CI` is set or
//! `CAMPAIGN_LEDGER_BROWSER_TESTS=1`: then missing binaries fail the test.
//!
//! **How to run.** `cargo test -p integration-tests --test browser`. A test file
//! includes this module beside `support`, which it uses:
//!
//! ```ignore
//! mod support;
//! #[path = "support/browser.rs"]
//! mod browser;
//! ```
//!
//! **What a session is.** [`Browser::start`] starts `chromedriver` on a free loopback
//! port and one headless Chromium session with a fresh profile in a temp dir, the
//! browser console and the performance (network) logs enabled. Reuse one session
//! across the checks of a test: starting one takes about a second. Dropping the
//! `Browser` ends the session and chromedriver and removes the profile.
//!
//! **Logs.** [`Browser::console_errors`] and [`Browser::requested_urls`] hold everything
//! since the session started (or since [`Browser::clear_logs`]), across navigations.
//!
//! **Artefacts.** [`Browser::screenshot`] saves a full-page PNG as
//! `target/browser-artifacts/<test>/<name>.png`, where `target/` is `CARGO_TARGET_DIR`
//! (when absolute) or the target directory the test binary was built in, and `<test>`
//! is the name of the test that started the session.
//!
//! Every method panics, naming the page, when the browser cannot do what it is asked:
//! these are test assertions.
#![allow(dead_code)]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::support::{free_port, kill_with_parent};

/// Where Debian installs the two binaries (and where else they may be).
const CHROMEDRIVER: &[&str] = &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"];
const CHROMIUM: &[&str] = &["/usr/bin/chromium", "/usr/bin/chromium-browser"];

/// Flags that work headless, as root, in a container, with no traffic of Chromium's own.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
];

/// How long any one WebDriver command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// One headless Chromium session (see the module docs).
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    /// The session's tab: its DevTools target id, which tags its performance log.
    window: String,
    /// The profile (`--user-data-dir`) and chromedriver's log.
    dir: tempfile::TempDir,
    artifacts: PathBuf,
    /// Log entries read from chromedriver so far (reading them drains chromedriver's).
    logs: RefCell<Logs>,
}

#[derive(Default)]
struct Logs {
    console: Vec<Value>,
    requests: Vec<String>,
}

/// True when missing browser binaries must fail the test instead of skipping it.
fn required() -> bool {
    std::env::var_os("CI").is_some()
        || std::env::var("CAMPAIGN_LEDGER_BROWSER_TESTS").is_ok_and(|v| v == "1")
}

fn find(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// The cargo target directory: `CARGO_TARGET_DIR` when absolute, else the directory
/// marked with CACHEDIR.TAG above the test binary (`target/<profile>/deps/<binary>`).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        if dir.is_absolute() {
            return dir;
        }
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").exists())
        .or_else(|| exe.ancestors().nth(3))
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The running test's name (libtest names each test's thread after it).
fn test_name() -> String {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("browser");
    name.replace("::", "-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A POST of JSON `body` to `path` under the session (`/session/{id}/<path>`), for
/// chromedriver's own endpoints: `se/log` drains a log (`{"type": "browser"}`, the
/// console, or `"performance"`, DevTools events) and `goog/cdp/execute` runs a
/// DevTools command.
#[derive(Debug)]
struct SessionPost(&'static str, Value);

impl WebDriverCompatibleCommand for SessionPost {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/{}",
            session.unwrap_or_default(),
            self.0
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.1.to_string()))
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; `None` (after printing
    /// `SKIPPED`) when they are not installed and not required (see the module docs).
    pub fn start() -> Option<Browser> {
        let (Some(driver), Some(chromium)) = (find(CHROMEDRIVER), find(CHROMIUM)) else {
            assert!(
                !required(),
                "chromium/chromedriver not installed (bash .ci/run installs them), and \
                 CI or CAMPAIGN_LEDGER_BROWSER_TESTS=1 asks for the browser tests"
            );
            eprintln!("SKIPPED: chromium/chromedriver not installed (bash .ci/run installs them)");
            return None;
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let dir = tempfile::Builder::new()
            .prefix("campaign-ledger-browser-")
            .tempdir()
            .expect("cannot create a temp dir");
        let mut last_error = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let mut child = match spawn_driver(&driver, port, dir.path()) {
                Ok(child) => child,
                Err(e) => panic!("cannot start {}: {e}", driver.display()),
            };
            match wait_ready(&mut child, port) {
                Ok(()) => {
                    let client = runtime
                        .block_on(connect(port, &chromium, &dir.path().join("profile")))
                        .unwrap_or_else(|e| {
                            let _ = child.kill();
                            let _ = child.wait();
                            panic!(
                                "chromedriver could not start Chromium: {e}\n{}",
                                read_log(dir.path())
                            )
                        });
                    let window = runtime
                        .block_on(client.window())
                        .map(String::from)
                        .expect("the session's window");
                    let artifacts = target_dir().join("browser-artifacts").join(test_name());
                    let browser = Browser {
                        runtime,
                        client: Some(client),
                        driver: child,
                        window,
                        dir,
                        artifacts,
                        logs: RefCell::default(),
                    };
                    // The first tab starts on Chromium's new tab page, whose requests
                    // (chrome://…) are logged as the tab's: leave it, and forget them.
                    browser.open("about:blank");
                    browser.clear_logs();
                    return Some(browser);
                }
                // Another process took the port between our probe and its bind.
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = format!("{e}\n{}", read_log(dir.path()));
                }
            }
        }
        panic!("chromedriver did not start:\n{last_error}")
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    /// Runs one WebDriver command, panicking with `what` and the page's URL on error.
    fn run<T, E: std::fmt::Display>(
        &self,
        what: &str,
        future: impl std::future::Future<Output = Result<T, E>>,
    ) -> T {
        let result = self
            .runtime
            .block_on(async { tokio::time::timeout(COMMAND_TIMEOUT, future).await });
        match result {
            Ok(Ok(value)) => value,
            Ok(Err(e)) => panic!("browser: {what} failed on {}: {e}", self.page()),
            Err(_) => panic!("browser: {what} took over {COMMAND_TIMEOUT:?}"),
        }
    }

    /// The current URL for messages, without failing.
    fn page(&self) -> String {
        self.runtime
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(5), self.client().current_url()).await
            })
            .ok()
            .and_then(Result::ok)
            .map_or_else(|| "(unknown page)".to_owned(), |url| url.to_string())
    }

    /// Loads `url` and waits for its load event.
    pub fn open(&self, url: &str) {
        self.run(&format!("GET {url}"), self.client().goto(url));
    }

    /// Sets the viewport to `width` × `height` CSS pixels (a phone at 390 × 844, with
    /// its touch and meta-viewport behaviour, when `width` is under 600).
    pub fn set_window(&self, width: u32, height: u32) {
        let metrics = json!({
            "width": width,
            "height": height,
            "deviceScaleFactor": 1,
            "mobile": width < 600,
        });
        self.cdp("Emulation.setDeviceMetricsOverride", metrics);
        self.cdp(
            "Emulation.setTouchEmulationEnabled",
            json!({ "enabled": width < 600 }),
        );
    }

    fn cdp(&self, command: &'static str, params: Value) -> Value {
        self.run(
            command,
            self.client().issue_cmd(SessionPost(
                "goog/cdp/execute",
                json!({ "cmd": command, "params": params }),
            )),
        )
    }

    /// Saves a full-page PNG as `target/browser-artifacts/<test>/<name>.png` and
    /// returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let size = self.execute(
            "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight];",
        );
        let (width, height) = (
            size[0].as_f64().unwrap_or(0.0),
            size[1].as_f64().unwrap_or(0.0),
        );
        let shot = self.cdp(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
            }),
        );
        let png = shot["data"]
            .as_str()
            .map(|data| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.decode(data)
            })
            .and_then(Result::ok)
            .unwrap_or_else(|| panic!("browser: no screenshot of {}: {shot}", self.page()));
        std::fs::create_dir_all(&self.artifacts)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", self.artifacts.display()));
        let path = self.artifacts.join(format!("{name}.png"));
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }

    fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.run(
            &format!("finding {css:?}"),
            self.client().find(Locator::Css(css)),
        )
    }

    fn find_all(&self, css: &str) -> Vec<fantoccini::elements::Element> {
        self.run(
            &format!("finding {css:?}"),
            self.client().find_all(Locator::Css(css)),
        )
    }

    /// The rendered text of the first element matching `css` (panics if none does).
    pub fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.run(&format!("reading {css:?}"), element.text())
    }

    /// The rendered text of every element matching `css`, in document order.
    pub fn texts(&self, css: &str) -> Vec<String> {
        self.find_all(css)
            .into_iter()
            .map(|element| self.run(&format!("reading {css:?}"), element.text()))
            .collect()
    }

    /// The attribute `name` of the first element matching `css`, `None` if it has none.
    pub fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let element = self.find(css);
        self.run(&format!("reading {css:?} [{name}]"), element.attr(name))
    }

    /// How many elements match `css`.
    pub fn count(&self, css: &str) -> usize {
        self.find_all(css).len()
    }

    /// Clicks the first element matching `css` and waits until the page it leads to
    /// (if any) has loaded.
    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.run(&format!("clicking {css:?}"), element.click());
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        while self.execute("return document.readyState;") != "complete" {
            assert!(
                Instant::now() < deadline,
                "browser: {} did not finish loading",
                self.page()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs `js` as a function body in the page (`return` what you want back).
    pub fn execute(&self, js: &str) -> Value {
        self.run("running a script", self.client().execute(js, Vec::new()))
    }

    /// The current URL.
    pub fn current_url(&self) -> String {
        let url = self.run("reading the URL", self.client().current_url());
        url.to_string()
    }

    /// Moves what chromedriver logged since the last read into our buffers.
    fn read_logs(&self) {
        let console = self.run(
            "reading the console log",
            self.client()
                .issue_cmd(SessionPost("se/log", json!({ "type": "browser" }))),
        );
        let performance = self.run(
            "reading the performance log",
            self.client()
                .issue_cmd(SessionPost("se/log", json!({ "type": "performance" }))),
        );
        let mut logs = self.logs.borrow_mut();
        logs.console
            .extend(console.as_array().into_iter().flatten().cloned());
        for entry in performance.as_array().into_iter().flatten() {
            // Each entry's message is a DevTools event as JSON text.
            let Some(event) = entry["message"]
                .as_str()
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
            else {
                continue;
            };
            // Chromium's own pages (chrome://…) log here too, as other targets.
            if event["webview"] != self.window.as_str() {
                continue;
            }
            let event = &event["message"];
            if event["method"] == "Network.requestWillBeSent" {
                if let Some(url) = event["params"]["request"]["url"].as_str() {
                    logs.requests.push(url.to_owned());
                }
            }
        }
    }

    /// Every console message of level SEVERE (errors, failed loads, CSP refusals),
    /// except the failed load of `/favicon.ico`, which Chromium asks for by itself when
    /// a page names no icon (and a page under `default-src 'none'` cannot name one).
    pub fn console_errors(&self) -> Vec<String> {
        self.read_logs();
        let logs = self.logs.borrow();
        logs.console
            .iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .filter(|message| {
                !message
                    .split_once(" - ")
                    .is_some_and(|(url, _)| url.ends_with("/favicon.ico"))
            })
            .collect()
    }

    /// The URL of every request the pages made (Network.requestWillBeSent), in order.
    pub fn requested_urls(&self) -> Vec<String> {
        self.read_logs();
        self.logs.borrow().requests.clone()
    }

    /// Forgets the console messages and requests seen so far.
    pub fn clear_logs(&self) {
        self.read_logs();
        *self.logs.borrow_mut() = Logs::default();
    }

    /// Fails, naming them, if any request went off `base`'s origin (scheme, host and
    /// port); `data:` URLs stay in the page and are fine.
    pub fn assert_same_origin(&self, base: &str) {
        let origin = url::Url::parse(base)
            .unwrap_or_else(|e| panic!("not a URL: {base}: {e}"))
            .origin();
        let foreign: Vec<String> = self
            .requested_urls()
            .into_iter()
            .filter(|url| !url.starts_with("data:"))
            .filter(|url| !url::Url::parse(url).is_ok_and(|u| u.origin() == origin))
            .collect();
        assert!(
            foreign.is_empty(),
            "requests left the server's origin {}: {foreign:#?}",
            origin.ascii_serialization()
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), client.close()).await
            });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // Then `dir`, the profile, is removed as the fields drop.
    }
}

fn spawn_driver(driver: &Path, port: u16, dir: &Path) -> std::io::Result<Child> {
    let log = std::fs::File::create(dir.join("chromedriver.log"))?;
    let mut command = Command::new(driver);
    kill_with_parent(&mut command);
    command
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("chromedriver.log")).unwrap_or_default()
}

/// Waits until chromedriver answers `/status` as ready.
fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let probe = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("http://127.0.0.1:{port}/status");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("chromedriver exited with {status}"));
        }
        if let Ok(answer) = probe.get(&url).send().and_then(|r| r.json::<Value>()) {
            if answer["value"]["ready"] == true {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err("chromedriver did not answer /status within 30 s".to_owned());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

async fn connect(port: u16, chromium: &Path, profile: &Path) -> Result<Client, String> {
    let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|flag| flag.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.push("--window-size=1280,800".to_owned());
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": chromium, "args": args },
        "goog:loggingPrefs": { "browser": "ALL", "performance": "ALL" },
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!("an object")
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .map_err(|e| e.to_string())
}
