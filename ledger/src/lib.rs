//! The verifiable campaign log.
//!
//! What it is: the record vocabulary and its canonical encoding ([`entry`], [`record`]),
//! RFC 6962 Merkle maths with no IO ([`merkle`]), signed notes, checkpoints,
//! cosignatures, receipts and tiles in their C2SP formats, and the durable store with
//! group commit ([`store`]).
//!
//! What it is not: it knows no HTTP, no read models and no personal data. Deciding
//! whether a record is allowed (duplicates, closed petitions) is the projector's job;
//! the ledger appends whatever valid entries it is given.
//!
//! Invariants:
//! - An entry's bytes never change once appended; index = position, with no gaps.
//! - Hashes are taken over the stored bytes, never over a re-encoding.
//! - Nothing is acknowledged to an appender before its entries are fsynced and covered
//!   by a signed checkpoint that is itself durable.
//! - The log key never signs two checkpoints that are inconsistent with each other.

pub mod checkpoint;
pub mod entry;
pub mod error;
pub mod hash;
pub mod merkle;
pub mod note;
#[cfg(feature = "openapi")]
mod openapi;
pub mod receipt;
pub mod record;
pub mod store;
pub mod tile;

pub use entry::Entry;
pub use error::{Error, Result};
pub use hash::{DedupTag, Hash, HashAlg, SignerSecret};
pub use record::Record;
