//! Where an audit reads a log from: a server or any static copy over HTTP(S), or a
//! local directory in the same layout (`checkpoint`, `tile/...`, `api/v1/tally`).

use std::path::PathBuf;
use std::time::Duration;

use super::AuditError;

/// Attempts of one request before an audit gives up on it.
const ATTEMPTS: u32 = 4;
/// The first pause before a retry; each next one is four times as long.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// A log's public files, by path relative to its base (`checkpoint`,
/// `tile/0/000`, `api/v1/tally?tree_size=5`).
pub trait Source: Sync {
    /// The base, for messages.
    fn describe(&self) -> String;
    /// The file at `path`, or `None` if the source has none there. A query string is
    /// for servers; a static copy serves the file without it.
    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, AuditError>;

    /// Sends `body` (text) to the server at `path` and returns the answer's body; only
    /// a server takes anything.
    fn post(&self, path: &str, _body: String) -> Result<String, AuditError> {
        Err(AuditError::Failed(format!(
            "{} is not a server: nothing can be sent to {path}",
            self.describe()
        )))
    }
}

/// A log over HTTP(S): a `campaign-ledger serve`, or a static copy on any web server.
pub struct HttpSource {
    base: String,
    client: reqwest::blocking::Client,
}

impl HttpSource {
    pub fn new(base: &str) -> Result<HttpSource, AuditError> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(32)
            .user_agent(concat!("campaign-ledger-audit/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AuditError::Failed(format!("cannot make an HTTP client: {e}")))?;
        Ok(HttpSource {
            base: base.trim_end_matches('/').to_string(),
            client,
        })
    }
}

impl Source for HttpSource {
    fn describe(&self) -> String {
        self.base.clone()
    }

    fn post(&self, path: &str, body: String) -> Result<String, AuditError> {
        let url = format!("{}/{path}", self.base);
        let response = self
            .client
            .post(&url)
            .header("content-type", "text/plain; charset=utf-8")
            .body(body)
            .send()
            .map_err(|e| AuditError::Failed(format!("{url}: {e}")))?;
        let status = response.status();
        let text = response.text().unwrap_or_default();
        if !status.is_success() {
            return Err(AuditError::Failed(format!("{url}: HTTP {status}: {text}")));
        }
        Ok(text)
    }

    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, AuditError> {
        let url = format!("{}/{path}", self.base);
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            // Connection failures, timeouts and 5xx answers are retried; a 404 is an
            // answer; any other status is a failure naming the URL.
            let failure = match self.client.get(&url).send() {
                Ok(response) => match response.status().as_u16() {
                    200 => match response.bytes() {
                        Ok(bytes) => return Ok(Some(bytes.to_vec())),
                        Err(e) => format!("{url}: the answer broke off: {e}"),
                    },
                    404 => return Ok(None),
                    status @ 500..=599 => format!("{url}: HTTP {status}"),
                    status => {
                        return Err(AuditError::Failed(format!("{url}: HTTP {status}")));
                    }
                },
                Err(e) => format!("{url}: {e}"),
            };
            if attempt == ATTEMPTS {
                return Err(AuditError::Failed(format!(
                    "{failure} (after {ATTEMPTS} attempts)"
                )));
            }
            std::thread::sleep(backoff);
            backoff *= 4;
            attempt += 1;
        }
    }
}

/// A log in a local directory: what `tiles --out` or `serve --publish` wrote, or a
/// copy of it.
pub struct DirSource {
    dir: PathBuf,
}

impl DirSource {
    pub fn new(dir: PathBuf) -> DirSource {
        DirSource { dir }
    }
}

impl Source for DirSource {
    fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    fn get(&self, path: &str) -> Result<Option<Vec<u8>>, AuditError> {
        let path = path.split_once('?').map_or(path, |(file, _)| file);
        let file = self.dir.join(path);
        match std::fs::read(&file) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(AuditError::Failed(format!("{}: {e}", file.display()))),
        }
    }
}
