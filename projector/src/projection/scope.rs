//! Which petitions and cities a record concerns: what an organiser's scope is checked
//! against.
//!
//! One arm per record kind, with no catch-all, so a new kind does not compile until
//! its scope is stated. A record that names what it concerns is read directly; one that
//! refers to earlier entries (a withdrawal names a signature by index, a vote names a
//! motion by id) is looked up in the state, which already holds every accepted entry,
//! earlier ones of the same batch included.

use ledger::record::{Id, Record, Signature, SignatureRecorded};

use super::state::NONE;
use super::Projection;

/// A city a record belongs to, as its organisers would be scoped to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CityRef<'a> {
    /// A city by name (a twin link's or event's city, a signature's council).
    City(&'a str),
    /// A council by its full name (`Newcastle City Council`), which belongs to the city
    /// whose name is the first words of its own.
    Council(&'a str),
}

impl CityRef<'_> {
    /// Whether this is the city `name` (trimmed, ASCII case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        let name = name.trim();
        match self {
            CityRef::City(city) => city.trim().eq_ignore_ascii_case(name),
            // The council's name starts with the city's, as a whole word:
            // `Newcastle City Council` is Newcastle's, `Derbyshire County Council` is
            // not Derby's.
            CityRef::Council(council) => {
                let (council, name) = (council.as_bytes(), name.as_bytes());
                council.len() >= name.len()
                    && council[..name.len()].eq_ignore_ascii_case(name)
                    && council.get(name.len()).is_none_or(|&next| next == b' ')
            }
        }
    }
}

/// The petitions and cities a record concerns. `None` stands for a reference the state
/// cannot resolve (an index that is not a signature, an unknown motion), which no
/// scope covers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Concerns<'a> {
    pub petitions: Vec<Option<&'a str>>,
    pub cities: Vec<Option<CityRef<'a>>>,
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
                .all(|c| c.is_some_and(|city| city.is(name)))
    }
}

impl Projection {
    /// The petitions and cities `record` concerns, as the next entry of this projection.
    ///
    /// A petition's organisers look after its closing, its paper batches and its
    /// signatures (adding, withdrawing, invalidating); a city's organisers look after
    /// the city joining a campaign, its twin links and their motions (a motion without
    /// a link belongs to the city its council is named after), its events, and the
    /// signatures of its residents (added or withdrawn). Launching a campaign and
    /// opening a petition concern neither, so only unscoped tokens may do them.
    pub fn concerns<'a>(&'a self, record: &'a Record) -> Concerns<'a> {
        let petition = |id: &'a Id| vec![Some(id.as_str())];
        let city = |name: &'a str| vec![Some(CityRef::City(name))];
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
            }) => (
                petition(petition_id),
                council.iter().map(|c| Some(CityRef::City(c))).collect(),
            ),
            Record::SignatureWithdrawn(r) => (
                vec![self.signature_petition(r.index)],
                vec![self.signature_council(r.index).map(CityRef::City)],
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
            Record::MotionTabled(r) => (
                vec![],
                vec![match &r.link_id {
                    Some(link) => self.link_city(link),
                    None => Some(CityRef::Council(&r.council)),
                }],
            ),
            Record::MotionAmended(r) => (vec![], vec![self.motion_city(&r.motion_id)]),
            Record::MotionVoted(r) => (vec![], vec![self.motion_city(&r.motion_id)]),
            Record::MotionWithdrawn(r) => (vec![], vec![self.motion_city(&r.motion_id)]),
            Record::EventScheduled(r) => (vec![], city(&r.city)),
            Record::EventChanged(r) => (vec![], vec![self.event_city(&r.event_id)]),
            Record::EventCancelled(r) => (vec![], vec![self.event_city(&r.event_id)]),
            Record::EventHeld(r) => (vec![], vec![self.event_city(&r.event_id)]),
        };
        Concerns { petitions, cities }
    }

    /// The petition of the signature at log index `index`, live or not.
    fn signature_petition(&self, index: u64) -> Option<&str> {
        let sig = self.signatures.get(usize::try_from(index).ok()?)?;
        (sig.petition != NONE).then(|| self.petition_ids.name(sig.petition))
    }

    /// The council named by the signature at log index `index`.
    fn signature_council(&self, index: u64) -> Option<&str> {
        let sig = self.signatures.get(usize::try_from(index).ok()?)?;
        (sig.council != NONE).then(|| self.councils.name(sig.council))
    }

    fn link_city(&self, link_id: &Id) -> Option<CityRef<'_>> {
        let link = self.links.get(link_id)?;
        Some(CityRef::City(&link.registered.record.city))
    }

    /// A motion belongs to its twin link's city, or without a link to its council.
    fn motion_city(&self, motion_id: &Id) -> Option<CityRef<'_>> {
        let tabled = &self.motions.get(motion_id)?.tabled.record;
        match &tabled.link_id {
            Some(link) => self.link_city(link),
            None => Some(CityRef::Council(&tabled.council)),
        }
    }

    fn event_city(&self, event_id: &Id) -> Option<CityRef<'_>> {
        let event = self.events.get(event_id)?;
        Some(CityRef::City(&event.scheduled.record.city))
    }
}

#[cfg(test)]
mod tests {
    use super::CityRef;

    #[test]
    fn a_council_belongs_to_the_city_its_name_begins_with_as_whole_words() {
        let council = |name| CityRef::Council(name);
        assert!(council("Newcastle City Council").is("Newcastle"));
        assert!(council("Newcastle City Council").is(" newcastle "));
        assert!(council("Leeds").is("Leeds"));
        assert!(!council("Derbyshire County Council").is("Derby"));
        assert!(!council("Newcastle-under-Lyme Borough Council").is("Newcastle"));
        assert!(!council("Newcastle City Council").is("Newcastle upon Tyne"));
        assert!(CityRef::City("Newcastle upon Tyne").is("newcastle upon tyne"));
        assert!(!CityRef::City("Newcastle upon Tyne").is("Newcastle"));
    }
}
