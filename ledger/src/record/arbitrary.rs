//! proptest [`Arbitrary`] for every value type of the vocabulary, and for [`Hash`] and
//! [`DedupTag`] (feature `arbitrary`). The kind structs and [`Record`](super::Record)
//! derive theirs from these, so `any::<Record>()` covers every kind without a
//! hand-written strategy per kind.
//!
//! What must hold:
//! - **Only valid values.** Every value goes through the type's own checked
//!   constructor (a value a constructor refuses is dropped, never unwrapped), so a
//!   strategy cannot produce what decoding would refuse. Cross-field rules are not the
//!   business of a value type: `any::<Record>()` still has to be filtered by
//!   [`Record::validate`](super::Record::validate).
//! - **The edges, often.** Beside ordinary values each strategy gives, with a fixed
//!   weight, the extreme timestamps and dates, texts of the longest length (in ASCII
//!   and in two-, three- and four-byte UTF-8), non-ASCII text, empty and full lists
//!   and the smallest and largest counts. `None` comes from proptest's own
//!   `Option` strategy, half the time.
//! - **Whole records fit in an entry.** The longest values of every type together stay
//!   under [`MAX_ENTRY_BYTES`](crate::entry::MAX_ENTRY_BYTES): the full list of
//!   signature indexes is the smallest 8192 indexes (about 16 KB), the longest petition
//!   text 32 KB.

use proptest::collection::btree_set;
use proptest::prelude::*;
use proptest::sample::select;

use super::enums::{
    AreaKind, Channel, ErasureReason, EventKind, InvalidationReason, LinkKind, LinkStatus,
    PetitionText, VoteResult,
};
use super::text::{
    LongText, Name, Title, Url, NAME_MAX_BYTES, TEXT_MAX_BYTES, TITLE_MAX_BYTES, URL_MAX_BYTES,
};
use super::time::{Date, PartialDate, Timestamp};
use super::values::{
    AreaCode, Count, CountryCode, DedupTags, Id, SignatureIndexes, Thresholds, ID_MAX_BYTES,
    MAX_DEDUP_TAGS, MAX_INVALIDATED, MAX_THRESHOLDS,
};
use crate::{DedupTag, Hash, SignerSecret};

/// `impl Arbitrary for $ty` whose strategy is `$strategy`, boxed.
macro_rules! arbitrary {
    ($ty:ty, $strategy:expr) => {
        impl Arbitrary for $ty {
            type Parameters = ();
            type Strategy = BoxedStrategy<$ty>;

            fn arbitrary_with((): ()) -> BoxedStrategy<$ty> {
                $strategy.boxed()
            }
        }
    };
}

/// The strings `regex` matches, through the checked constructor `parse`.
fn parsed<T: std::fmt::Debug>(
    regex: &'static str,
    parse: fn(&str) -> crate::Result<T>,
) -> impl Strategy<Value = T> {
    regex.prop_filter_map("refused by its type", move |s| parse(&s).ok())
}

/// The one value `text`, through the checked constructor `parse`: for the edges.
fn fixed<T: std::fmt::Debug>(
    text: String,
    parse: fn(&str) -> crate::Result<T>,
) -> impl Strategy<Value = T> {
    Just(text).prop_filter_map("refused by its type", move |s| parse(&s).ok())
}

/// `unit` repeated as often as fits in `max` bytes.
fn longest(unit: &str, max: usize) -> String {
    unit.repeat(max / unit.len())
}

/// One line of 1 to 42 characters (at most 126 bytes) of Latin, accented and CJK
/// letters with inner spaces and punctuation: valid as every one-line text type.
const ONE_LINE: &str =
    "[A-Za-z0-9À-ÿ一-鿿]([A-Za-z0-9À-ÿ一-鿿 ,.'’()–-]{0,40}[A-Za-z0-9À-ÿ一-鿿])?";

/// A one-line text type: ordinary lines, or the longest line of one-, two-, three- or
/// four-byte characters that fits in `max` bytes.
fn one_line<T: std::fmt::Debug>(
    max: usize,
    parse: fn(&str) -> crate::Result<T>,
) -> impl Strategy<Value = T> {
    prop_oneof![
        12 => parsed(ONE_LINE, parse),
        1 => fixed(longest("N", max), parse),
        1 => fixed(longest("é", max), parse),
        1 => fixed(longest("鿿", max - max % 3), parse),
        1 => fixed(longest("🏙", max), parse),
    ]
}

// --- ids, codes, counts ---------------------------------------------------------------

arbitrary!(
    Id,
    prop_oneof![
        8 => parsed("[a-z0-9][a-z0-9._-]{0,63}", Id::parse),
        1 => fixed(longest("x", ID_MAX_BYTES), Id::parse),
    ]
);

arbitrary!(CountryCode, parsed("[A-Z]{2}", CountryCode::parse));

arbitrary!(AreaCode, parsed("[A-Z][0-9]{8}", AreaCode::parse));

arbitrary!(
    Count,
    prop_oneof![Just(1), Just(u32::MAX), 1..=u32::MAX]
        .prop_filter_map("zero", |n| Count::new(n).ok())
);

// --- text -------------------------------------------------------------------------------

arbitrary!(Name, one_line(NAME_MAX_BYTES, Name::parse));

arbitrary!(Title, one_line(TITLE_MAX_BYTES, Title::parse));

arbitrary!(
    Url,
    prop_oneof![
        8 => parsed("https?://[a-z0-9.-]{1,30}(/[A-Za-z0-9._~%-]{0,20}){0,3}", Url::parse),
        1 => fixed(format!("https://{}", "a".repeat(URL_MAX_BYTES - 8)), Url::parse),
    ]
);

arbitrary!(
    LongText,
    prop_oneof![
        6 => parsed("[A-Za-z0-9À-ÿ一-鿿 ,.'’()–\n-]{1,300}", LongText::parse),
        1 => fixed(longest("x\n", TEXT_MAX_BYTES), LongText::parse),
        1 => fixed(longest("é\n", TEXT_MAX_BYTES - TEXT_MAX_BYTES % 3), LongText::parse),
    ]
);

// --- time -------------------------------------------------------------------------------

arbitrary!(Date, {
    // In days since 1970-01-01, so that every value drawn is a date.
    let first = Timestamp::MIN.date().days_since_unix_epoch();
    let last = Timestamp::MAX.date().days_since_unix_epoch();
    prop_oneof![
        8 => first..=last,
        1 => Just(first),
        1 => Just(last),
    ]
    .prop_filter_map("not a date", Date::from_days_since_unix_epoch)
});

arbitrary!(
    PartialDate,
    prop_oneof![
        (1u16..=9999).prop_filter_map("not a year", |y| PartialDate::from_year(y).ok()),
        (1u16..=9999, 1u8..=12)
            .prop_filter_map("not a month", |(y, m)| PartialDate::from_year_month(y, m)
                .ok()),
        any::<Date>().prop_map(PartialDate::from),
    ]
);

arbitrary!(
    Timestamp,
    prop_oneof![
        4 => Timestamp::MIN.unix_seconds()..=Timestamp::MAX.unix_seconds(),
        1 => Just(Timestamp::MIN.unix_seconds()),
        1 => Just(Timestamp::MAX.unix_seconds()),
    ]
    .prop_filter_map("out of range", |s| Timestamp::from_unix_seconds(s).ok())
);

// --- lists ------------------------------------------------------------------------------

arbitrary!(
    Thresholds,
    btree_set(1u64.., 0..=MAX_THRESHOLDS)
        .prop_filter_map("refused", |set| Thresholds::new(set.into_iter().collect())
            .ok())
);

arbitrary!(
    SignatureIndexes,
    prop_oneof![
        16 => btree_set(any::<u64>(), 1..40).prop_map(|set| set.into_iter().collect::<Vec<_>>()),
        1 => Just((0..MAX_INVALIDATED as u64).collect()),
    ]
    .prop_filter_map("refused", |indexes| SignatureIndexes::new(indexes).ok())
);

// --- enums ------------------------------------------------------------------------------

arbitrary!(InvalidationReason, select(InvalidationReason::ALL));
arbitrary!(ErasureReason, select(ErasureReason::ALL));
arbitrary!(LinkKind, select(LinkKind::ALL));
arbitrary!(LinkStatus, select(LinkStatus::ALL));
arbitrary!(VoteResult, select(VoteResult::ALL));
arbitrary!(EventKind, select(EventKind::ALL));
arbitrary!(AreaKind, select(AreaKind::ALL));

arbitrary!(
    PetitionText,
    prop_oneof![
        any::<LongText>().prop_map(PetitionText::Full),
        any::<Hash>().prop_map(PetitionText::Hash),
    ]
);

arbitrary!(
    Channel,
    prop_oneof![
        Just(Channel::Online),
        any::<Id>().prop_map(|batch_id| Channel::Paper { batch_id }),
    ]
);

// --- digests ----------------------------------------------------------------------------

arbitrary!(Hash, any::<[u8; 32]>().prop_map(Hash));

arbitrary!(DedupTag, any::<[u8; 16]>().prop_map(DedupTag));

arbitrary!(SignerSecret, any::<[u8; 32]>().prop_map(SignerSecret));

arbitrary!(
    DedupTags,
    btree_set(any::<DedupTag>(), 1..=MAX_DEDUP_TAGS).prop_filter_map("refused", |set| {
        DedupTags::new(&set.into_iter().collect::<Vec<_>>()).ok()
    })
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    /// The first `n` values of `any::<T>()`.
    fn sample<T: Arbitrary>(n: usize) -> Vec<T> {
        let mut runner = TestRunner::deterministic();
        let strategy = any::<T>();
        (0..n)
            .map(|_| strategy.new_tree(&mut runner).unwrap().current())
            .collect()
    }

    #[test]
    fn the_edges_come_up() {
        let titles: Vec<Title> = sample(400);
        assert!(titles
            .iter()
            .any(|t| t.len() == TITLE_MAX_BYTES && t.is_ascii()));
        assert!(titles
            .iter()
            .any(|t| t.len() == TITLE_MAX_BYTES && t.contains('🏙')));
        assert!(titles.iter().any(|t| !t.is_ascii() && t.len() < 200));
        let names: Vec<Name> = sample(400);
        assert!(names
            .iter()
            .any(|n| n.len() == NAME_MAX_BYTES && n.contains('é')));
        let stamps: Vec<Timestamp> = sample(200);
        assert!(stamps.contains(&Timestamp::MIN) && stamps.contains(&Timestamp::MAX));
        let thresholds: Vec<Thresholds> = sample(400);
        assert!(thresholds.iter().any(|t| t.is_empty()));
        assert!(thresholds.iter().any(|t| t.len() == MAX_THRESHOLDS));
        let indexes: Vec<SignatureIndexes> = sample(400);
        assert!(indexes.iter().any(|i| i.len() == MAX_INVALIDATED));
        let texts: Vec<LongText> = sample(200);
        assert!(texts.iter().any(|t| t.len() == TEXT_MAX_BYTES));
        let counts: Vec<Count> = sample(200);
        assert!(counts.iter().any(|c| c.get() == 1) && counts.iter().any(|c| c.get() == u32::MAX));
    }
}
