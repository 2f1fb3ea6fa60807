//! proptest strategies for valid records and entries.
//!
//! Nothing here lists a kind's fields: the ledger derives `Arbitrary` for every kind
//! from its value types (feature `arbitrary`, `ledger/src/record/arbitrary.rs`, which
//! also says which edges come up), so a new kind is covered as soon as it is in the
//! table. What this module adds is what no single type knows:
//! - [`record`] keeps only records that pass [`Record::validate`] (the rules that
//!   relate two fields: an event ends after it starts, an amendment changes something);
//! - [`entry`] adds a valid envelope: any time and a valid author.
//!
//! Every value these strategies give encodes: `Entry::encode` accepts it.

use ledger::entry::{Entry, AUTHOR_MAX_BYTES};
use ledger::record::{Signature, SignatureCommitted, SignatureRecorded};
use ledger::Record;
use proptest::prelude::*;

/// Any valid record, every kind about equally likely (a few kinds lose the values
/// that break their cross-field rules).
pub fn record() -> impl Strategy<Value = Record> {
    any::<Record>().prop_filter("breaks a cross-field rule", |r| r.validate().is_ok())
}

/// Any signature record: `signature.added` or `signature.recorded`, equally likely
/// (signatures have no cross-field rules).
pub fn signature() -> impl Strategy<Value = Record> {
    prop_oneof![
        any::<Signature>().prop_map(Record::SignatureAdded),
        any::<SignatureRecorded>().prop_map(Record::SignatureRecorded),
        any::<SignatureCommitted>().prop_map(Record::SignatureCommitted),
    ]
}

/// A valid author: 1 to 64 bytes of printable ASCII without spaces, the longest
/// included.
pub fn author() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[!-~]{1,64}",
        1 => Just("~".repeat(AUTHOR_MAX_BYTES)),
    ]
}

/// Any valid entry: any time, a valid author and any valid record.
pub fn entry() -> impl Strategy<Value = Entry> {
    (any::<u64>(), author(), record())
        .prop_map(|(time_ms, author, record)| Entry::v1(time_ms, author, record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn entries_are_valid_and_encode(entry in entry()) {
            prop_assert!(entry.encode().is_ok(), "{:?}", entry.encode());
        }
    }

    /// Every kind comes up, so no kind's strategy is empty or filtered away.
    #[test]
    fn every_kind_comes_up() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = record();
        let kinds: BTreeSet<&str> = (0..2000)
            .map(|_| strategy.new_tree(&mut runner).unwrap().current().kind())
            .collect();
        assert_eq!(kinds, Record::KINDS.iter().copied().collect());
    }
}
