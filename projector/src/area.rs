//! Areas a petition's signatures are counted by (a constituency, a ward, a council, a
//! country), and finding the signatures of one petition in one area: what an export
//! for an MP's or councillor's office lists.

use std::fmt;

use ledger::record::{AreaCode, AreaKind, CountryCode, Name};

use crate::projection::state::{SignatureRef, NONE};
use crate::tally::key_segment;
use crate::Projection;

/// One area of one kind, as signatures name it: `constituency:E14000831`,
/// `ward:E05001234`, `council:Newcastle upon Tyne`, `country:GB`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Area {
    pub kind: AreaKind,
    /// The code as signatures state it (a council by its name, exactly).
    pub code: String,
}

impl Area {
    /// Parses `<kind>:<code>`. The code must be one a signature could carry: a
    /// 9-character area code for a constituency or ward, an ISO country code, a
    /// council name (one line, at most 128 bytes).
    pub fn parse(text: &str) -> Result<Area, String> {
        let (kind, code) = text.split_once(':').ok_or_else(|| {
            "an area reads <kind>:<code>, e.g. constituency:E14000831, ward:E05001234, \
             council:Newcastle upon Tyne or country:GB"
                .to_string()
        })?;
        let kind = AreaKind::parse(kind).map_err(|e| e.to_string())?;
        let (fits, shape) = match kind {
            AreaKind::Constituency | AreaKind::Ward => (
                AreaCode::parse(code).is_ok(),
                "a 9-character area code such as E14000831",
            ),
            AreaKind::Country => (
                CountryCode::parse(code).is_ok(),
                "a two-letter code such as GB",
            ),
            AreaKind::Council => (
                Name::parse(code).is_ok(),
                "its name: one line of at most 128 bytes, no control characters",
            ),
        };
        if !fits {
            return Err(format!("a {kind} is {shape}"));
        }
        Ok(Area {
            kind,
            code: code.to_string(),
        })
    }

    /// The tally counter of the petition's live signatures in this area:
    /// `petition/<id>/<kind>/<code>`, a council's name escaped as in every counter.
    pub fn counter_key(&self, petition_id: &str) -> String {
        format!(
            "petition/{petition_id}/{}/{}",
            self.kind,
            self.key_segment()
        )
    }

    /// The code as one segment of a counter key or a file name: a council's name
    /// escaped ([`key_segment`]), any other code as it is.
    pub fn key_segment(&self) -> String {
        match self.kind {
            AreaKind::Council => key_segment(&self.code),
            _ => self.code.clone(),
        }
    }

    /// Whether `signature` was made in this area: its field of the area's kind holds
    /// the code (a council's name exactly as the signature states it).
    pub fn holds(&self, signature: &ledger::entry::SignatureEntry<'_>) -> bool {
        let code = self.code.as_str();
        match self.kind {
            AreaKind::Constituency => signature.constituency.is_some_and(|c| c.as_str() == code),
            AreaKind::Ward => signature.ward.is_some_and(|w| w.as_str() == code),
            AreaKind::Council => signature.council == Some(code),
            AreaKind::Country => signature.country.as_str() == code,
        }
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.code)
    }
}

/// The signatures of one petition in one area, as the read models know them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AreaSignatures {
    /// Log indexes of every signature of the petition in the area, live or retired,
    /// ascending.
    pub signatures: Vec<u64>,
    /// How many of them are live: the area's tally counter.
    pub live: u64,
    /// For each of `signatures` that no longer counts: the log index of the entry
    /// that retired it (a withdrawal or an invalidation), and the signature's, in log
    /// order.
    pub retirements: Vec<(u64, u64)>,
}

impl Projection {
    /// The signatures of petition `petition_id` in `area`; `None` for a petition that
    /// was never opened. An area no signature named has none.
    ///
    /// Cost: one pass over the per-entry signature table (32 bytes an entry, in
    /// memory), a few milliseconds a million entries; no log read. The table is the
    /// index: a list per petition and area would cost 4 bytes a signature for each of
    /// the four kinds of area, in every copy of the read models, for a lookup that an
    /// export does once.
    pub fn area_signatures(&self, petition_id: &str, area: &Area) -> Option<AreaSignatures> {
        let petition_slot = self.petition_ids.find(petition_id)?;
        let petition = &self.petitions[petition_slot as usize];
        // The names of the area's kind, and a signature's slot among them.
        let (names, slot_of): (_, fn(&SignatureRef) -> u32) = match area.kind {
            AreaKind::Constituency => (&self.constituencies, |sig| sig.constituency),
            AreaKind::Ward => (&self.wards, |sig| sig.ward),
            AreaKind::Council => (&self.councils, |sig| sig.council),
            AreaKind::Country => (&self.countries, |sig| sig.country),
        };
        let mut found = AreaSignatures::default();
        let Some(slot) = names.find(&area.code) else {
            return Some(found);
        };
        debug_assert_ne!(slot, NONE);
        for (index, sig) in self.signatures.iter().enumerate() {
            if slot_of(sig) == slot && sig.petition == petition_slot {
                found.signatures.push(index as u64);
                found.live += u64::from(sig.live);
            }
        }
        found.retirements = petition
            .retirements
            .iter()
            .filter(|(_, signature)| found.signatures.binary_search(signature).is_ok())
            .copied()
            .collect();
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_parse_by_kind_and_name_their_counter() {
        let area = Area::parse("constituency:E14000831").unwrap();
        assert_eq!(area.kind, AreaKind::Constituency);
        assert_eq!(
            area.counter_key("uk-detwin"),
            "petition/uk-detwin/constituency/E14000831"
        );
        let council = Area::parse("council:Newcastle upon Tyne").unwrap();
        assert_eq!(
            council.counter_key("uk-detwin"),
            "petition/uk-detwin/council/Newcastle%20upon%20Tyne"
        );
        assert_eq!(council.to_string(), "council:Newcastle upon Tyne");
        assert!(Area::parse("country:GB").is_ok());
        for bad in [
            "E14000831",
            "constituency:E1400083",
            "county:Kent",
            "country:gb",
            "council:",
            "council:two\nlines",
            "ward:",
        ] {
            assert!(Area::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
