//! The read side of campaign-ledger: what organisers, auditors and MPs' offices look at.
//!
//! What it is: a [`Projection`] folded entry by entry from the log (petition counts by
//! country, constituency, ward, council and channel; twin-link status and history;
//! motions; events; campaigns), the decision rules that need that state ([`rules`]),
//! tallies as signed notes (docs/FORMAT.md part C §5, [`tally`]), persistence with snapshots
//! ([`persist`]) and offline audit ([`audit`]).
//!
//! What it is not: it never writes to the log, and knows no HTTP and no personal data.
//!
//! Invariants:
//! - A projection is a pure function of the log prefix it reflects: folding the same
//!   entries gives byte-identical snapshots and tally text, however it was built
//!   (incrementally, from a snapshot, or from zero).
//! - Every projection states the tree size it reflects.
//! - A record the rules refuse changes nothing.

pub mod area;
pub mod audit;
pub mod persist;
mod pipeline;
mod projection;
pub mod rules;
pub mod tally;
pub mod views;

pub use area::{Area, AreaSignatures};
pub use projection::state::{
    Campaign, Event, EventStatus, Logged, Motion, MotionStatus, ThresholdCrossing, TwinLink,
};
pub use projection::{same_city, Concerns, HandedOverDedup, Projection, Segment, SegmentSource};
pub use rules::Rejection;

/// The one error type of the projector crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("entry {index} does not decode: {source}")]
    BadEntry {
        index: u64,
        #[source]
        source: ledger::Error,
    },
    #[error("projector snapshot is unusable: {0}")]
    BadSnapshot(&'static str),
    #[error("projector database: {0}")]
    Db(String),
    #[error(transparent)]
    Ledger(#[from] ledger::Error),
    #[error("malformed tally: {0}")]
    MalformedTally(&'static str),
    #[error("audit failed: {0}")]
    Audit(#[from] audit::Finding),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
