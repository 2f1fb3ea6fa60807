//! Read models folded from the campaign log (counts by petition and area, motion and
//! twin-link status, event timeline), the decision rules that need that state, tallies
//! and offline audit.
//!
//! Not yet built: this crate is a placeholder until the projector issue lands. It never
//! writes to the log.
