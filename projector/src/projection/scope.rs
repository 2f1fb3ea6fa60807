//! Which petitions and cities a record concerns: what an organiser's scope is checked
//! against.
//!
//! One arm per record kind, with no catch-all, so a new kind does not compile until
//! its scope is stated. A record that names what it concerns is read directly; one that
//! refers to earlier entries (a withdrawal names a signature by index, a vote names a
//! motion by id) is looked up in the state, which already holds every accepted entry,
//! earlier ones of the same batch included.

use ledger::record::{
    Id, MotionTabled, PersonalDataErased, Record, Signature, SignatureCommitted, SignatureRecorded,
    SignatureWithdrawn, SignatureWithdrawnBySigner,
};

use super::state::NONE;
use super::Projection;

/// Whether `a` and `b` name the same city, as a `city:` scope and the names in records
/// are compared: trimmed, then equal as Unicode compatibility caseless matching has it
/// (case folded and NFKC-normalised), so `Leeds`, `LEEDS` and `Ｌｅｅｄｓ` are one city,
/// `Köln` and `KÖLN` another, and `Leedstown` or `Leeds City Council` is not Leeds.
pub fn same_city(a: &str, b: &str) -> bool {
    caseless::compatibility_caseless_match_str(a.trim(), b.trim())
}

/// The petitions and cities a record concerns. `None` stands for a reference the state
/// cannot resolve (an index that is not a signature, an unknown motion), which no
/// scope covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Concerns<'a> {
    pub petitions: Vec<Option<&'a str>>,
    /// Cities by name, as records state them.
    pub cities: Vec<Option<&'a str>>,
}

impl Concerns<'_> {
    /// Whether the record concerns the petition `id` and nothing else: a petition scope.
    pub fn only_petition(&self, id: &str) -> bool {
        !self.petitions.is_empty() && self.petitions.iter().all(|p| *p == Some(id))
    }

    /// Whether the record concerns the city `name` and no other: a city scope.
    pub fn only_city(&self, name: &str) -> bool {
        !self.cities.is_empty()
            && self
                .cities
                .iter()
                .all(|c| c.is_some_and(|city| same_city(city, name)))
    }
}

impl Projection {
    /// The petitions and cities `record` concerns, as the next entry of this projection.
    ///
    /// A petition's organisers look after its closing, its paper batches and its
    /// signatures (adding, withdrawing, invalidating); a city's organisers look after
    /// the city joining a campaign, its twin links and their motions, its events, and
    /// the signatures of its residents (added or withdrawn). Launching a campaign,
    /// opening a petition and a motion tabled without a twin link concern neither, so
    /// only unscoped tokens may append them: no record states which city a council
    /// belongs to, and its name does not say (`Newcastle City Council` is Newcastle
    /// upon Tyne's, `Leedstown Parish Council` is not Leeds').
    pub fn concerns<'a>(&'a self, record: &'a Record) -> Concerns<'a> {
        let petition = |id: &'a Id| vec![Some(id.as_str())];
        let city = |name: &'a str| vec![Some(name)];
        let (petitions, cities) = match record {
            Record::CampaignLaunched(_) => (vec![], vec![]),
            Record::CampaignCityJoined(r) => (vec![], city(&r.city)),
            Record::PetitionOpened(_) => (vec![], vec![]),
            Record::PetitionClosed(r) => (petition(&r.petition_id), vec![]),
            Record::SignatureAdded(Signature {
                petition_id,
                council,
                ..
            })
            | Record::SignatureRecorded(SignatureRecorded {
                petition_id,
                council,
                ..
            })
            | Record::SignatureCommitted(SignatureCommitted {
                petition_id,
                council,
                ..
            }) => (
                petition(petition_id),
                council.iter().map(|c| Some(c.as_str())).collect(),
            ),
            Record::SignatureWithdrawn(SignatureWithdrawn { index })
            | Record::SignatureWithdrawnBySigner(SignatureWithdrawnBySigner { index, .. })
            | Record::PersonalDataErased(PersonalDataErased { index, .. }) => (
                vec![self.signature_petition(*index)],
                vec![self.signature_council(*index)],
            ),
            Record::SignaturesInvalidated(r) => (
                r.indexes
                    .iter()
                    .map(|&i| self.signature_petition(i))
                    .collect(),
                vec![],
            ),
            Record::PaperBatchRecorded(r) => (petition(&r.petition_id), vec![]),
            Record::TwinLinkRegistered(r) => (vec![], city(&r.city)),
            Record::TwinLinkStatusChanged(r) => (vec![], vec![self.link_city(&r.link_id)]),
            Record::MotionTabled(r) => (vec![], self.motion_cities(r)),
            Record::MotionAmended(r) => (vec![], self.tabled_motion_cities(&r.motion_id)),
            Record::MotionVoted(r) => (vec![], self.tabled_motion_cities(&r.motion_id)),
            Record::MotionWithdrawn(r) => (vec![], self.tabled_motion_cities(&r.motion_id)),
            Record::EventScheduled(r) => (vec![], city(&r.city)),
            Record::EventChanged(r) => (vec![], vec![self.event_city(&r.event_id)]),
            Record::EventCancelled(r) => (vec![], vec![self.event_city(&r.event_id)]),
            Record::EventHeld(r) => (vec![], vec![self.event_city(&r.event_id)]),
            Record::ExportIssued(r) => (petition(&r.petition_id), vec![]),
        };
        Concerns { petitions, cities }
    }

    /// The petition of the signature at log index `index`, live or not.
    fn signature_petition(&self, index: u64) -> Option<&str> {
        let sig = self.signature_at(index)?;
        Some(self.petition_ids.name(sig.petition))
    }

    /// The council named by the signature at log index `index`.
    fn signature_council(&self, index: u64) -> Option<&str> {
        let sig = self.signature_at(index)?;
        (sig.council != NONE).then(|| self.councils.name(sig.council))
    }

    fn link_city(&self, link_id: &Id) -> Option<&str> {
        Some(&self.links.get(link_id)?.registered.record.city)
    }

    /// A motion belongs to its twin link's city; without a link, to no city.
    fn motion_cities<'a>(&'a self, tabled: &MotionTabled) -> Vec<Option<&'a str>> {
        match &tabled.link_id {
            Some(link) => vec![self.link_city(link)],
            None => vec![],
        }
    }

    /// The cities of the motion tabled as `motion_id` ([`Projection::motion_cities`]).
    fn tabled_motion_cities(&self, motion_id: &Id) -> Vec<Option<&str>> {
        match self.motions.get(motion_id) {
            Some(motion) => self.motion_cities(&motion.tabled.record),
            None => vec![None],
        }
    }

    fn event_city(&self, event_id: &Id) -> Option<&str> {
        Some(&self.events.get(event_id)?.scheduled.record.city)
    }
}

#[cfg(test)]
mod tests {
    use super::same_city;

    #[test]
    fn cities_match_whole_names_without_case_or_compatibility_differences() {
        assert!(same_city("Newcastle upon Tyne", " newcastle UPON tyne "));
        assert!(same_city("Leeds", "LEEDS"));
        // Unicode case, not only ASCII: ß folds to ss, Ö to ö.
        assert!(same_city("Köln", "KÖLN"));
        assert!(same_city("Gießen", "GIESSEN"));
        // Compatibility forms: full-width letters, a precomposed and a combining é.
        assert!(same_city("Ｌｅｅｄｓ", "Leeds"));
        assert!(same_city("Orl\u{e9}ans", "ORLE\u{301}ANS"));
        // Never a prefix, a word or a council of the city.
        assert!(!same_city("Leedstown", "Leeds"));
        assert!(!same_city("Leeds City Council", "Leeds"));
        assert!(!same_city("Newcastle upon Tyne", "Newcastle"));
        assert!(!same_city("Derby", "Derbyshire"));
    }
}
