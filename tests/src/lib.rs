//! Black-box integration tests for campaign-ledger.
//!
//! The tests live in `tests/`: each file starts the real `campaign-ledger` binary
//! (built once per test process with `$CARGO build -p server --bin campaign-ledger`)
//! on a free loopback port over a temporary data directory, and checks its answers
//! with the `ledger` and `projector` verifiers only.
//!
//! - `api.rs`: every route's happy path, `serve --demo`, and the CLI verbs.
//! - `bad_input.rs`: the table of refused requests.
//! - `durability.rs`: SIGKILL and SIGTERM under load.
//! - `idempotency.rs`: `Idempotency-Key` retries, across restarts and concurrently.
//! - `support/mod.rs`: starting servers, HTTP helpers, load generators, checks.
//!
//! `CAMPAIGN_LEDGER_SLOW_TESTS=1` runs the longer variants; `CAMPAIGN_LEDGER_BIN`
//! names a prebuilt binary instead of building one.
