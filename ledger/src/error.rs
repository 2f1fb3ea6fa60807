//! The one error type of the ledger crate, grouped by operation family.
//!
//! Every variant's message is safe to show to a user: none carries entry contents,
//! keys or personal data. A proof that does not check is always [`Error::ProofFailed`],
//! whatever part of it was wrong, so callers cannot mistake a bad proof for anything else.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    // --- hashing ---
    #[error("unknown hash function {0:?}: expected \"blake3\" or \"sha256\"")]
    UnknownHash(String),

    // --- entries and records ---
    #[error("entry is {0} bytes; entries are at most 65535 bytes")]
    EntryTooLarge(usize),
    #[error("entry does not decode: {0}")]
    Decode(String),
    #[error("entry is not in canonical form (it does not re-encode to the same bytes)")]
    NonCanonical,
    #[error("invalid record: {0}")]
    InvalidRecord(String),

    // --- Merkle proofs ---
    #[error("proof failed")]
    ProofFailed,
    #[error("index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {size} is beyond the log's size {current}")]
    SizeOutOfRange { size: u64, current: u64 },
    #[error("consistency needs from <= to, got from {from} and to {to}")]
    BadRange { from: u64, to: u64 },

    // --- signed notes, checkpoints, receipts, tiles ---
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    #[error("note has no valid signature by a known key")]
    UnverifiedNote,
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    #[error("malformed receipt: {0}")]
    MalformedReceipt(&'static str),
    #[error("malformed tile: {0}")]
    MalformedTile(&'static str),

    // --- the store ---
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("metadata database: {0}")]
    Db(String),
    #[error("data directory {path} is not a ledger (missing {missing})")]
    NotALedger {
        path: PathBuf,
        missing: &'static str,
    },
    #[error("data directory {0} already holds a ledger")]
    AlreadyExists(PathBuf),
    #[error("data directory is corrupt: {0}")]
    Corrupt(String),
    #[error("the log writer has stopped")]
    WriterStopped,
    #[error("a batch must hold at least one entry")]
    EmptyBatch,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
