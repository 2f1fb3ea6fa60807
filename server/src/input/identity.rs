//! Who a signer is, for dedup: every rule that turns a signer's personal data into the
//! normalised identities its dedup tags are keyed on, in this one place
//! (docs/FORMAT.md part E states the same rules for anyone recomputing a tag).
//!
//! A signer has up to two identities: their email, and their name with their postcode.
//! A signature is refused when *any* of its identities has already signed the
//! petition, so one person cannot sign twice by giving an email once and not the next
//! time. Each identity is normalised so that the forms people (or scripts) use to make
//! one address or one name look like another all give the same bytes:
//!
//! - [`fold`] (every identity's text): Unicode NFKC (fullwidth letters, ligatures,
//!   NFD forms), full case folding, NFKC again, then every non-ASCII character replaced
//!   by its UTS #39 confusable prototype ("skeleton": Cyrillic `а` is Latin `a`).
//!   ASCII is left as it is, so the identity of plain ASCII input is what the first
//!   rule (the one `signature.added` entries were tagged under) gave, and old entries
//!   still catch repeats of their signers.
//! - An email: the domain through IDNA (UTS #46 `ToASCII`, strict), so a U-label and
//!   its A-label are one domain, after folding its Unicode form; the local part folded,
//!   cut at its first `+` (a sub-address), and for Gmail (`gmail.com`,
//!   `googlemail.com`, which is the same mailbox) without dots, which Gmail ignores.
//! - A name: folded; `Last, First` turned round; ASCII punctuation made a space; white
//!   space collapsed; leading titles (`Dr`, `Mrs`, `Cllr`, ...) dropped.
//! - A postcode: upper-case ASCII without white space.
//!
//! Invisible characters (zero-width, soft hyphen, BOM, bidi controls) are not removed
//! here: `PersonalData::check` refuses them, by the ledger's one rule
//! ([`ledger::record::check_visible`]).

use caseless::default_case_fold_str;
use unicode_normalization::UnicodeNormalization;

/// Titles dropped from the front of a name (after folding and punctuation), as long as
/// a word remains: `Dr. Jane Doe` and `Jane Doe` are one signer.
const TITLES: &[&str] = &[
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "master",
    "dr",
    "doctor",
    "prof",
    "professor",
    "sir",
    "dame",
    "lord",
    "lady",
    "rev",
    "revd",
    "reverend",
    "fr",
    "father",
    "cllr",
    "councillor",
    "rt",
    "hon",
];

/// Mail domains that ignore dots in the local part, and the one name they share.
const DOTLESS_DOMAINS: &[&str] = &["gmail.com", "googlemail.com"];
const DOTLESS_CANONICAL: &str = "gmail.com";

/// NFKC, full case folding, NFKC again (NFKC_Casefold without its removal of default
/// ignorables, which are refused before this), then each non-ASCII character replaced
/// by its UTS #39 skeleton.
pub fn fold(s: &str) -> String {
    // ASCII is its own NFKC form and its own skeleton, and its full case folding is its
    // lower case: the same bytes as below, without the allocations (nearly every
    // signer's data is ASCII, and this runs on the append path).
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let folded: String = default_case_fold_str(&s.nfkc().collect::<String>())
        .nfkc()
        .collect();
    if folded.is_ascii() {
        return folded;
    }
    let mut out = String::with_capacity(folded.len());
    let mut buf = [0u8; 4];
    for c in folded.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.extend(unicode_security::skeleton(c.encode_utf8(&mut buf)));
        }
    }
    out
}

/// The normalised form of an email address, `local@domain`, or `None` if its domain is
/// not a valid IDNA domain name. Takes an address `is_email` accepted.
pub fn normalise_email(email: &str) -> Option<String> {
    let (local, domain) = email.trim().rsplit_once('@')?;
    let domain = normalise_domain(domain)?;
    let mut local = fold(local);
    if let Some(plus) = local.find('+').filter(|&at| at > 0) {
        local.truncate(plus);
    }
    let domain = if DOTLESS_DOMAINS.contains(&domain.as_str()) {
        local.retain(|c| c != '.');
        DOTLESS_CANONICAL.to_owned()
    } else {
        domain
    };
    if local.is_empty() {
        return None;
    }
    Some(format!("{local}@{domain}"))
}

/// A mail domain in ASCII: its Unicode form (A-labels decoded, case mapped), folded
/// so that a look-alike letter is its prototype, then back to ASCII by strict IDNA;
/// `None` if it is not a valid domain name.
fn normalise_domain(domain: &str) -> Option<String> {
    // An ASCII domain with no A-label has no Unicode form to fold: lower case is all
    // the mapping does (the same bytes, a third of the time).
    let has_a_label = || {
        domain.split('.').any(|label| {
            label
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
        })
    };
    if domain.is_ascii() && !has_a_label() {
        return idna::domain_to_ascii_strict(&domain.to_ascii_lowercase()).ok();
    }
    normalise_domain_by_unicode(domain)
}

/// [`normalise_domain`] the long way, for any domain.
fn normalise_domain_by_unicode(domain: &str) -> Option<String> {
    let (unicode, checked) = idna::domain_to_unicode(domain);
    checked.ok()?;
    idna::domain_to_ascii_strict(&fold(&unicode)).ok()
}

/// The normalised form of a signer's name: words of the folded name, `Last, First`
/// turned round, punctuation as space, leading titles dropped, joined by one space.
pub fn normalise_name(name: &str) -> String {
    let folded = fold(name);
    // Exactly one comma: `Doe, Jane` is `Jane Doe`.
    let turned = match folded.split_once(',') {
        Some((last, first)) if !first.contains(',') => format!("{first} {last}"),
        _ => folded,
    };
    let spaced: String = turned
        .chars()
        .map(|c| if c.is_ascii_punctuation() { ' ' } else { c })
        .collect();
    let mut words: Vec<&str> = spaced.split_whitespace().collect();
    let titles = words
        .iter()
        .take_while(|w| TITLES.contains(w))
        .count()
        .min(words.len().saturating_sub(1));
    words.drain(..titles);
    words.join(" ")
}

/// The normalised form of a postcode: upper case, without white space.
pub fn normalise_postcode(postcode: &str) -> String {
    postcode
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase()
}

/// The normalised identities of a signer, as the bytes a dedup tag is keyed on:
/// `email:` then the normalised email, if there is one; `name-postcode:`, the
/// normalised name, `\n` and the normalised postcode, if there is a postcode. `None` if
/// the email's domain is not a valid domain name.
pub fn identities(name: &str, email: Option<&str>, postcode: Option<&str>) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(2);
    if let Some(email) = email {
        out.push(format!("email:{}", normalise_email(email)?).into_bytes());
    }
    if let Some(postcode) = postcode {
        out.push(
            format!(
                "name-postcode:{}\n{}",
                normalise_name(name),
                normalise_postcode(postcode)
            )
            .into_bytes(),
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::personal::{dedup_tags, PersonalData};

    #[test]
    fn the_ascii_shortcuts_give_the_bytes_of_the_long_way() {
        use unicode_normalization::UnicodeNormalization;
        let long_fold = |s: &str| -> String {
            caseless::default_case_fold_str(&s.nfkc().collect::<String>())
                .nfkc()
                .collect()
        };
        let mut ascii: Vec<String> = (0u8..128).map(|b| char::from(b).to_string()).collect();
        ascii.extend(["Jane DOE", "O'Brien-Smith, Dr. Ann", "MiXeD 123 !?", ""].map(String::from));
        for text in &ascii {
            assert_eq!(super::fold(text), long_fold(text), "{text:?}");
        }
        for domain in [
            "example.org",
            "EXAMPLE.ORG",
            "Mail.Example.Co.UK",
            "example.org.",
            "a..b",
            "-bad.example",
            "under_score.example",
            "xn--bcher-kva.de",
            "XN--BCHER-KVA.DE",
            "1.2.3.4",
            "localhost",
            "",
            "a.b-c.d",
            "example.xn--",
        ] {
            assert_eq!(
                super::normalise_domain(domain),
                super::normalise_domain_by_unicode(domain),
                "{domain:?}"
            );
        }
    }
    use ledger::record::Id;

    /// What becomes of a second signature that tries to pass for a new signer.
    #[derive(Debug, PartialEq)]
    enum Outcome {
        /// Its data is refused outright (an invisible character, a bad domain).
        Refused,
        /// It shares a dedup tag with the first, so the fold refuses it as a duplicate.
        Caught,
        /// A different signer (the controls at the end of the table).
        Distinct,
    }
    use Outcome::*;

    /// `(name, email, postcode)` as a form sends them.
    type Form = (&'static str, Option<&'static str>, Option<&'static str>);

    const JANE: Form = ("Jane Doe", Some("jane.doe@example.org"), None);
    const JANE_GMAIL: Form = ("Jane Doe", Some("janedoe@gmail.com"), None);
    const JANE_PAPER: Form = ("Jane Doe", None, Some("NE1 7RU"));
    const IDN: Form = ("Jane Doe", Some("jane@bücher.de"), None);
    const ANNA: Form = ("Анна Иванова", Some("anna@example.org"), Some("NE1 7RU"));

    /// Each row: a first signature, a second one by the same person dressed up as
    /// someone else, and what must happen to the second.
    const EVASIONS: &[(&str, Form, Form, Outcome)] = &[
        // Invisible characters inside an email: refused.
        (
            "ZWSP in email",
            JANE,
            ("Jane Doe", Some("jane.doe\u{200B}@example.org"), None),
            Refused,
        ),
        (
            "soft hyphen in email",
            JANE,
            ("Jane Doe", Some("jane.\u{AD}doe@example.org"), None),
            Refused,
        ),
        (
            "BOM in email",
            JANE,
            ("Jane Doe", Some("\u{FEFF}jane.doe@example.org"), None),
            Refused,
        ),
        (
            "ZWNJ in email",
            JANE,
            ("Jane Doe", Some("jane.doe@exa\u{200C}mple.org"), None),
            Refused,
        ),
        (
            "word joiner in email",
            JANE,
            ("Jane Doe", Some("jane\u{2060}.doe@example.org"), None),
            Refused,
        ),
        (
            "RLO in email",
            JANE,
            ("Jane Doe", Some("jane.doe@\u{202E}gro.elpmaxe"), None),
            Refused,
        ),
        (
            "LRM in email",
            JANE,
            ("Jane Doe", Some("jane.doe\u{200E}@example.org"), None),
            Refused,
        ),
        // Sub-addresses and case.
        (
            "+tag",
            JANE,
            ("Jane Doe", Some("jane.doe+petition@example.org"), None),
            Caught,
        ),
        (
            "+tag, two pluses",
            JANE,
            ("Jane Doe", Some("jane.doe+a+b@example.org"), None),
            Caught,
        ),
        (
            "upper case",
            JANE,
            ("Jane Doe", Some("JANE.DOE@EXAMPLE.ORG"), None),
            Caught,
        ),
        (
            "upper-case domain only",
            JANE,
            ("Jane Doe", Some("jane.doe@Example.Org"), None),
            Caught,
        ),
        // Gmail ignores dots and answers to googlemail.com too.
        (
            "Gmail dots",
            JANE_GMAIL,
            ("Jane Doe", Some("jane.doe@gmail.com"), None),
            Caught,
        ),
        (
            "Gmail many dots",
            JANE_GMAIL,
            ("Jane Doe", Some("j.a.n.e.d.o.e@gmail.com"), None),
            Caught,
        ),
        (
            "googlemail.com",
            JANE_GMAIL,
            ("Jane Doe", Some("janedoe@googlemail.com"), None),
            Caught,
        ),
        (
            "googlemail dots and tag",
            JANE_GMAIL,
            ("Jane Doe", Some("Jane.Doe+x@GoogleMail.com"), None),
            Caught,
        ),
        // Compatibility and canonical forms.
        (
            "fullwidth local part",
            JANE,
            ("Jane Doe", Some("ｊａｎｅ.ｄｏｅ@example.org"), None),
            Caught,
        ),
        (
            "fullwidth domain",
            JANE,
            ("Jane Doe", Some("jane.doe@ｅｘａｍｐｌｅ.ｏｒｇ"), None),
            Caught,
        ),
        (
            "fullwidth at and plus",
            JANE,
            ("Jane Doe", Some("jane.doe＋x@example.org"), None),
            Caught,
        ),
        (
            "mathematical letters",
            JANE,
            ("Jane Doe", Some("𝐣𝐚𝐧𝐞.doe@example.org"), None),
            Caught,
        ),
        (
            "NFD vs NFC local part",
            ("Zoë", Some("zoë@example.org"), None),
            ("Zoë", Some("zoe\u{308}@example.org"), None),
            Caught,
        ),
        (
            "ligature",
            ("Fiona", Some("fiona@example.org"), None),
            ("Fiona", Some("ﬁona@example.org"), None),
            Caught,
        ),
        (
            "sharp s folds to ss",
            ("Strauss", Some("strauss@example.org"), None),
            ("Strauß", Some("STRAUß@example.org"), None),
            Caught,
        ),
        // Look-alike letters from other scripts.
        (
            "Cyrillic a in local part",
            JANE,
            ("Jane Doe", Some("j\u{430}ne.doe@example.org"), None),
            Caught,
        ),
        (
            "Cyrillic e and o",
            JANE,
            ("Jane Doe", Some("jan\u{435}.d\u{43E}e@example.org"), None),
            Caught,
        ),
        (
            "Cyrillic a in domain",
            JANE,
            ("Jane Doe", Some("jane.doe@ex\u{430}mple.org"), None),
            Caught,
        ),
        (
            "Greek omicron in domain",
            JANE,
            ("Jane Doe", Some("jane.doe@example.\u{3BF}rg"), None),
            Caught,
        ),
        // A domain as a U-label or as its A-label is one domain.
        (
            "IDN A-label",
            IDN,
            ("Jane Doe", Some("jane@xn--bcher-kva.de"), None),
            Caught,
        ),
        (
            "IDN A-label upper case",
            IDN,
            ("Jane Doe", Some("jane@XN--BCHER-KVA.DE"), None),
            Caught,
        ),
        (
            "IDN fullwidth U-label",
            IDN,
            ("Jane Doe", Some("jane@ｂüｃｈｅｒ.de"), None),
            Caught,
        ),
        (
            "IDN NFD U-label",
            IDN,
            ("Jane Doe", Some("jane@bu\u{308}cher.de"), None),
            Caught,
        ),
        // On paper: the name and postcode.
        (
            "ZWSP in name",
            JANE_PAPER,
            ("Jane\u{200B} Doe", None, Some("NE1 7RU")),
            Refused,
        ),
        (
            "soft hyphen in name",
            JANE_PAPER,
            ("Ja\u{AD}ne Doe", None, Some("NE1 7RU")),
            Refused,
        ),
        (
            "bidi isolate in name",
            JANE_PAPER,
            ("\u{2067}Jane Doe\u{2069}", None, Some("NE1 7RU")),
            Refused,
        ),
        (
            "BOM in postcode",
            JANE_PAPER,
            ("Jane Doe", None, Some("\u{FEFF}NE1 7RU")),
            Refused,
        ),
        (
            "trailing dot",
            JANE_PAPER,
            ("Jane Doe.", None, Some("NE1 7RU")),
            Caught,
        ),
        (
            "Last, First",
            JANE_PAPER,
            ("Doe, Jane", None, Some("NE1 7RU")),
            Caught,
        ),
        (
            "LAST, First without space",
            JANE_PAPER,
            ("DOE,Jane", None, Some("ne17ru")),
            Caught,
        ),
        (
            "title",
            JANE_PAPER,
            ("Dr Jane Doe", None, Some("NE1 7RU")),
            Caught,
        ),
        (
            "title with a dot",
            JANE_PAPER,
            ("Mrs. Jane Doe", None, Some("NE1 7RU")),
            Caught,
        ),
        (
            "two titles",
            JANE_PAPER,
            ("Rt. Hon. Jane Doe", None, Some("NE1 7RU")),
            Caught,
        ),
        (
            "title after Last, First",
            JANE_PAPER,
            ("Doe, Dr Jane", None, Some("NE1 7RU")),
            Caught,
        ),
        (
            "punctuation and spaces",
            JANE_PAPER,
            ("  jane   doe !", None, Some(" ne1  7ru ")),
            Caught,
        ),
        (
            "fullwidth name",
            JANE_PAPER,
            ("Ｊａｎｅ Ｄｏｅ", None, Some("NE1 7RU")),
            Caught,
        ),
        (
            "fullwidth comma",
            JANE_PAPER,
            ("Doe，Jane", None, Some("NE1 7RU")),
            Caught,
        ),
        (
            "Cyrillic look-alike name",
            JANE_PAPER,
            ("J\u{430}ne D\u{43E}e", None, Some("NE1 7RU")),
            Caught,
        ),
        (
            "curly apostrophe",
            ("Sean O'Brien", None, Some("L1 1JQ")),
            ("Sean O’Brien", None, Some("L1 1JQ")),
            Caught,
        ),
        (
            "hyphen vs space",
            ("Mary-Jane Smith", None, Some("L1 1JQ")),
            ("Mary Jane Smith", None, Some("L1 1JQ")),
            Caught,
        ),
        (
            "Cyrillic name, upper case",
            ANNA,
            ("АННА ИВАНОВА", None, Some("NE1 7RU")),
            Caught,
        ),
        // Paper without an email, then online with one (and the postcode).
        ("paper, then online", JANE_PAPER, JANE_WITH_POSTCODE, Caught),
        (
            "online, then paper",
            JANE_WITH_POSTCODE,
            ("Doe, Jane", None, Some("ne17ru")),
            Caught,
        ),
        (
            "online, then online by another email",
            JANE_WITH_POSTCODE,
            ("Jane Doe", Some("jd@example.net"), Some("NE1 7RU")),
            Caught,
        ),
        (
            "online, then paper with the email",
            JANE,
            ("J. Doe", Some("Jane.Doe@example.org"), Some("L1 1JQ")),
            Caught,
        ),
        // Controls: other people stay other people.
        (
            "another postcode",
            JANE_PAPER,
            ("Jane Doe", None, Some("NE1 7RV")),
            Distinct,
        ),
        (
            "another name",
            JANE_PAPER,
            ("Jane Dee", None, Some("NE1 7RU")),
            Distinct,
        ),
        (
            "dots matter outside Gmail",
            JANE,
            ("Jane Doe", Some("janedoe@example.org"), None),
            Distinct,
        ),
        (
            "another domain",
            JANE,
            ("Jane Doe", Some("jane.doe@example.net"), None),
            Distinct,
        ),
        (
            "accents matter",
            ("Zoë", Some("zoë@example.org"), None),
            ("Zoe", Some("zoe@example.org"), None),
            Distinct,
        ),
        (
            "a title that is a name",
            ("Dr", None, Some("NE1 7RU")),
            ("Jane Doe", None, Some("NE1 7RU")),
            Distinct,
        ),
    ];

    const JANE_WITH_POSTCODE: Form = ("Jane Doe", Some("jane.doe@example.org"), Some("NE1 7RU"));

    fn data((name, email, postcode): Form) -> PersonalData {
        PersonalData::from_input(name, email, postcode, None)
    }

    #[test]
    fn evasions_are_refused_or_caught() {
        assert!(EVASIONS.len() >= 40 + 6, "{}", EVASIONS.len());
        let key = [7; 32];
        let petition = Id::parse("uk-detwin").unwrap();
        for (what, first, second, expected) in EVASIONS {
            let (first, second) = (data(*first), data(*second));
            first
                .check(false)
                .unwrap_or_else(|e| panic!("{what}: first {e:?}"));
            let outcome = if second.check(false).is_err() {
                Refused
            } else {
                let a = dedup_tags(&key, &petition, &first).unwrap();
                let b = dedup_tags(&key, &petition, &second).unwrap();
                if a.iter().any(|tag| b.contains(tag)) {
                    Caught
                } else {
                    Distinct
                }
            };
            assert_eq!(outcome, *expected, "{what}");
        }
    }

    /// New Unicode data can change an identity, and so a tag, so that a signer's
    /// repeat is no longer caught: a change of these versions must be deliberate, and
    /// docs/FORMAT.md part E.3.2 names them.
    #[test]
    fn unicode_versions_are_the_documented_ones() {
        assert_eq!(unicode_normalization::UNICODE_VERSION, (18, 0, 0));
        assert_eq!(unicode_security::UNICODE_VERSION, (18, 0, 0));
        assert_eq!(caseless::UNICODE_VERSION, (16, 0, 0));
    }

    #[test]
    fn plain_ascii_identities_are_what_the_first_rule_gave() {
        // `signature.added` entries were tagged with the email trimmed and lower-cased,
        // or the name's words lower-cased and the postcode upper-cased without spaces:
        // for plain input the rules here give the same bytes, so those entries still
        // catch their signers.
        assert_eq!(
            super::identities("Ada", Some("Ada.Lovelace@Example.ORG"), None).unwrap(),
            [b"email:ada.lovelace@example.org".to_vec()]
        );
        assert_eq!(
            super::identities("Charles  Babbage", None, Some("ls1 1ur")).unwrap(),
            [b"name-postcode:charles babbage\nLS11UR".to_vec()]
        );
        assert_eq!(
            super::normalise_email("jim@bücher.de").unwrap(),
            "jim@xn--bcher-kva.de"
        );
        assert_eq!(super::normalise_name("Doe, Rev. Dr. Jane"), "jane doe");
        assert_eq!(super::normalise_name("Dr."), "dr");
        assert_eq!(
            super::normalise_email("+tag@example.org").unwrap(),
            "+tag@example.org"
        );
        assert_eq!(super::normalise_email(".@gmail.com"), None);
        assert_eq!(super::normalise_email("jane@exa_mple.org"), None);
    }
}
