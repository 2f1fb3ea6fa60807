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
    #[error(
        "rollback refused: the journal holds {journal} entries, but this log has already \
         published a signed checkpoint at tree size {published}. The journal was cut \
         short, damaged or replaced by an older copy; opening it would contradict what \
         was published. Nothing was changed: restore the data directory from a backup \
         that holds at least {published} entries (`campaign-ledger check` says what is \
         wrong)"
    )]
    RolledBack { journal: u64, published: u64 },
    #[error(
        "fork refused: the tree at size {size} is not the one this log published at \
         that size. Either the stored hashes are damaged (`campaign-ledger check` tells; \
         deleting the hashes.* files rebuilds them from the journal) or the journal was \
         replaced (restore the data directory from a backup). Nothing was changed"
    )]
    PublishedRootMismatch { size: u64 },
    #[error(
        "the published-head file `published` is missing or unreadable although this \
         log has published checkpoints; without it a rolled-back journal cannot be \
         told from a good one. Restore it from a backup of this data directory"
    )]
    PublishedMissing,
    #[error(
        "{name} is not the key this log was created with (its fingerprint differs from \
         the one recorded at creation); restore the original {name}"
    )]
    KeyMismatch { name: String },
    #[error("stored data is damaged from entry {index} on: {what}")]
    Damaged { index: u64, what: String },
    #[error("{path}: no space left on the device; nothing was written")]
    StorageFull { path: PathBuf },
    #[error("the log writer has stopped")]
    WriterStopped,
    #[error("stopped before it finished")]
    Interrupted,
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
