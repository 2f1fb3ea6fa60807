//! The `campaign-ledger` server: HTTP API, auth, the personal-data vault and the CLI
//! verbs, on top of the [`ledger`] log and the [`projector`] read models.
//!
//! What it is: handlers that parse a request, call a library and map the result
//! ([`http`]); one sequencer thread that decides and appends records in order
//! ([`sequencer`]); bearer tokens ([`auth`]); encrypted personal data ([`vault`]);
//! idempotency keys ([`idempotency`]); the data directory and its keys ([`datadir`]).
//!
//! What it is not: it holds no Merkle maths, no record encoding and no read-model
//! logic of its own.
//!
//! Invariants:
//! - Nothing is acknowledged before it is durable and covered by a signed checkpoint.
//! - Personal data never enters the log, a log line, a trace, a metric or an error.
//! - A refused request appends nothing and changes no state.
//! - Blocking storage calls never run on the async executor's threads.

pub mod auditor;
pub mod auth;
pub mod cosignatures;
pub mod datadir;
pub mod dedup_keys;
pub mod demo;
pub mod erase;
pub mod export;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod import;
pub mod input;
mod locks;
pub mod metrics;
pub mod node;
pub mod openapi;
pub mod publish;
pub mod retention;
pub mod sequencer;
pub mod site;
pub mod vault;

/// The one error type of the server crate's library code (not HTTP answers: those are
/// [`http::ApiError`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Ledger(#[from] ledger::Error),
    #[error(transparent)]
    Projector(#[from] projector::Error),
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database {file}: {message}")]
    Db { file: &'static str, message: String },
    #[error("{0}")]
    Config(String),
    #[error("vault: {0}")]
    Vault(&'static str),
    #[error("tokens: {0}")]
    Tokens(String),
    #[error("the sequencer has stopped")]
    SequencerStopped,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether this is a full disk (or quota): nothing was written, and the same
    /// operation can succeed once there is room.
    pub fn is_storage_full(&self) -> bool {
        matches!(self, Error::Ledger(ledger::Error::StorageFull { .. }))
    }

    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn db<E: std::fmt::Display>(file: &'static str) -> impl Fn(E) -> Error {
        move |e| Error::Db {
            file,
            message: e.to_string(),
        }
    }
}

/// Milliseconds since the Unix epoch by the system clock (0 for a clock set before it).
pub fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Seconds since the Unix epoch by the system clock (0 for a clock set before it).
pub fn unix_now() -> u64 {
    unix_now_ms() / 1000
}
