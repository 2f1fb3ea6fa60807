//! What the test suites and benchmarks of the workspace share, so that each record
//! kind's fields are written out once for tests instead of once per test file.
//!
//! - [`values`]: short literals of the record's value types (`id("uk-detwin")`,
//!   `title("...")`, `date("2022-11-02")`), which panic on a bad literal.
//! - [`records`]: one builder per record kind returning the kind's struct, with every
//!   `Option` `None` unless the kind needs it; callers change fields with struct-update
//!   syntax (`MotionTabled { link_id: Some(id("l")), ..records::motion_tabled("m") }`).
//!   Also the shorter `Record` helpers of the projector tests and a small valid log.
//! - [`samples`]: realistic entries of every record kind, whose encodings are the
//!   golden file `ledger/tests/data/entries-v1.golden`.
//! - [`arb`]: proptest strategies for valid records and entries, from the ledger's
//!   `Arbitrary` implementations (feature `arbitrary`).
//! - [`campaign`]: a big, valid, seeded campaign log for benchmarks and bulk tests.
//! - [`bench`]: what the benchmark programs share for reporting.
//!
//! This crate is only ever a dev-dependency. It panics on bad test input instead of
//! returning errors: a panic is how a test fails.

pub mod arb;
pub mod bench;
pub mod campaign;
pub mod damage;
pub mod records;
pub mod samples;
pub mod values;
