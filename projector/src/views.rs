//! Read models for the API and the dashboard: petitions, twin links, motions, events
//! and campaigns, each wrapped in [`AsOf`], which states the tree size it reflects.
//!
//! A view serializes the projection's state as it is (the records each read model
//! holds, with their index and time, and what later records made of them); only what
//! the state keeps as interned slots (a petition's counts, its paper batches) is
//! resolved to names here. Views borrow the projection, so serialize them while holding
//! it. Maps are `BTreeMap`s, so JSON output is sorted and stable.

use std::collections::BTreeMap;

use ledger::record::{
    Date, ErasureReason, Id, InvalidationReason, LinkStatus, PaperBatchRecorded, PetitionClosed,
    PetitionOpened, PetitionText,
};
use serde::Serialize;

use crate::projection::state::{
    Campaign, Counts, Event, Logged, Motion, MotionStatus, Petition, ThresholdCrossing, TwinLink,
    MS_PER_HOUR,
};
use crate::projection::Interner;
use crate::Projection;

/// A read model and the log size it reflects. In JSON the view's fields sit beside
/// `tree_size`, so a view that is a list is named first ([`AsOf::named`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AsOf<T> {
    pub tree_size: u64,
    #[serde(flatten)]
    pub view: T,
}

impl<T> AsOf<Vec<T>> {
    /// The list under `name`: `{"tree_size": N, "<name>": [...]}` in JSON.
    pub fn named(self, name: &'static str) -> AsOf<Named<T>> {
        AsOf {
            tree_size: self.tree_size,
            view: Named {
                name,
                list: self.view,
            },
        }
    }
}

/// A list read model under its name, for [`AsOf`].
#[derive(Clone, Debug, PartialEq)]
pub struct Named<T> {
    pub name: &'static str,
    pub list: Vec<T>,
}

impl<T: Serialize> Serialize for Named<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.name, &self.list)?;
        map.end()
    }
}

/// A closed petition, for a retention sweep ([`Projection::closed_before`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionDue<'a> {
    pub petition_id: &'a str,
    /// The time of its `petition.closed` entry, or the end (UTC) of its `closes_on`
    /// date, whichever came first.
    pub closed_at_ms: u64,
    /// Its signatures (live or not) whose personal data has not been erased.
    pub unerased: u64,
}

/// One signature as the read models count it ([`Projection::signature`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SignatureStatus<'a> {
    pub petition_id: &'a str,
    /// Counted: not withdrawn or invalidated.
    pub live: bool,
    /// Its personal data was erased (`personal_data.erased`).
    pub erased: bool,
    /// It commits to a signer secret (`signature.committed`), so its signer can
    /// withdraw it or have its data erased without a token.
    pub has_signer_secret: bool,
}

/// A petition: the record that opened it (and the one that closed it), and its counts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PetitionView<'a> {
    pub opened: &'a Logged<PetitionOpened>,
    pub closed: Option<&'a Logged<PetitionClosed>>,
    /// `open` or `closed` (by a `petition.closed` record).
    pub status: &'static str,
    /// Live signatures: added, less withdrawn and invalidated.
    pub total: u64,
    pub added: u64,
    /// Withdrawals of either kind; `withdrawn_by_signer` of them proven by the
    /// signer's secret (`signature.withdrawn_by_signer`), the rest entered by organisers.
    pub withdrawn: u64,
    pub withdrawn_by_signer: u64,
    pub invalidated: BTreeMap<&'static str, u64>,
    /// Signatures whose personal data was erased, by reason (`signer_request`,
    /// `retention`); `erased_by_signer` of them asked for with the signer's secret.
    pub erased: BTreeMap<&'static str, u64>,
    pub erased_by_signer: u64,
    /// Exports that revealed signers' personal data (`export.issued` records), and
    /// how many signers' data they held in all.
    pub exports_issued: u64,
    pub signers_revealed: u64,
    pub by_country: BTreeMap<&'a str, u64>,
    pub by_constituency: BTreeMap<&'a str, u64>,
    pub by_ward: BTreeMap<&'a str, u64>,
    pub by_council: BTreeMap<&'a str, u64>,
    /// `online`, or `paper/<batch id>`.
    pub by_channel: BTreeMap<String, u64>,
    pub paper_batches: Vec<PaperBatchView<'a>>,
    pub crossed: &'a [ThresholdCrossing],
    /// Signatures added per hour: (start of the hour in Unix ms, count), ascending.
    pub hourly: Vec<(u64, u64)>,
    /// Signatures added per UTC day: (`YYYY-MM-DD`, count), ascending.
    pub daily: Vec<(String, u64)>,
}

impl PetitionView<'_> {
    pub fn id(&self) -> &Id {
        &self.opened.record.petition_id
    }

    /// The petition in the shape of the UK Parliament's petition JSON
    /// (`petition.parliament.uk/petitions/N.json`), so that tools made for those (petition
    /// maps, say) read these counts too.
    pub fn parliament(&self) -> ParliamentPetition<'_> {
        let counts = |by: &BTreeMap<&str, u64>, key: &'static str| {
            by.iter()
                .map(|(&code, &signature_count)| ParliamentCount {
                    key,
                    code: code.to_owned(),
                    signature_count,
                })
                .collect()
        };
        ParliamentPetition {
            data: ParliamentData {
                kind: "petition",
                id: self.id().as_str(),
                attributes: ParliamentAttributes {
                    action: self.opened.record.title.as_str(),
                    background: match &self.opened.record.text {
                        PetitionText::Full(text) => Some(text.as_str()),
                        PetitionText::Hash(_) => None,
                    },
                    state: self.status,
                    signature_count: self.total,
                    signatures_by_country: counts(&self.by_country, "code"),
                    signatures_by_constituency: counts(&self.by_constituency, "ons_code"),
                },
            },
        }
    }
}

/// [`PetitionView::parliament`]: `{"data": {"type": "petition", "id", "attributes":
/// {"action", "background", "state", "signature_count", "signatures_by_country":
/// [{"code", "signature_count"}], "signatures_by_constituency": [{"ons_code",
/// "signature_count"}]}}}`, beside `tree_size` in an [`AsOf`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParliamentPetition<'a> {
    pub data: ParliamentData<'a>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParliamentData<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
    pub attributes: ParliamentAttributes<'a>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParliamentAttributes<'a> {
    /// The petition's title.
    pub action: &'a str,
    /// Its text, when the log holds it (not only its hash).
    pub background: Option<&'a str>,
    /// `open` or `closed`.
    pub state: &'static str,
    /// Live signatures.
    pub signature_count: u64,
    pub signatures_by_country: Vec<ParliamentCount>,
    pub signatures_by_constituency: Vec<ParliamentCount>,
}

/// One area's count: `{"<key>": code, "signature_count": n}` (`code` for a country,
/// `ons_code` for a constituency).
#[derive(Clone, Debug, PartialEq)]
pub struct ParliamentCount {
    pub key: &'static str,
    pub code: String,
    pub signature_count: u64,
}

impl Serialize for ParliamentCount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry(self.key, &self.code)?;
        map.serialize_entry("signature_count", &self.signature_count)?;
        map.end()
    }
}

/// A paper batch as recorded (`count` is what was written on it) and how many live
/// signatures were entered against it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PaperBatchView<'a> {
    pub recorded: &'a Logged<PaperBatchRecorded>,
    pub counted: u64,
}

/// A campaign with its cities, and the cities counted by country.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CampaignView<'a> {
    #[serde(flatten)]
    pub campaign: &'a Campaign,
    pub cities_by_country: BTreeMap<&'a str, u64>,
}

/// Events grouped by the joint action they belong to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JointActionView<'a> {
    pub id: &'a Id,
    pub cities: Vec<&'a str>,
    pub events: Vec<&'a Id>,
}

/// Totals across the whole campaign log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OverviewView<'a> {
    pub campaigns: Vec<CampaignView<'a>>,
    pub links_severed: Vec<&'a Id>,
    pub motions_passed: u64,
    pub joint_actions: Vec<JointActionView<'a>>,
}

fn named<'a>(counts: &Counts, names: &'a Interner) -> BTreeMap<&'a str, u64> {
    counts.non_zero().map(|(s, c)| (names.name(s), c)).collect()
}

impl Projection {
    fn as_of<T>(&self, view: T) -> AsOf<T> {
        AsOf {
            tree_size: self.tree_size,
            view,
        }
    }

    /// Every petition, in the order they were opened.
    pub fn petitions(&self) -> AsOf<Vec<PetitionView<'_>>> {
        self.as_of(
            (0..self.petitions.len())
                .map(|slot| self.petition_view(slot))
                .collect(),
        )
    }

    /// The signature at log index `index`, as the read models count it: its petition
    /// and whether it is live (not withdrawn or invalidated). `None` for an entry that
    /// is not a signature the rules accepted.
    pub fn signature(&self, index: u64) -> Option<SignatureStatus<'_>> {
        let sig = self.signature_at(index)?;
        Some(SignatureStatus {
            petition_id: self.petition_ids.name(sig.petition),
            live: sig.live,
            erased: sig.erased,
            has_signer_secret: sig.signer != [0; 16],
        })
    }

    /// Every petition that closed (by record or by date, [`RetentionDue::closed_at_ms`])
    /// at or before `cutoff_ms`, with how many of its signatures still have personal
    /// data: what a retention sweep erases. Cheap: one look at each petition.
    pub fn closed_before(&self, cutoff_ms: u64) -> Vec<RetentionDue<'_>> {
        self.petitions
            .iter()
            .enumerate()
            .filter_map(|(slot, p)| {
                let closed_at_ms = p.closed_at_ms().filter(|&at| at <= cutoff_ms)?;
                Some(RetentionDue {
                    petition_id: self.petition_ids.name(slot as u32),
                    closed_at_ms,
                    unerased: p.unerased(),
                })
            })
            .collect()
    }

    /// The log indexes of petition `id`'s signatures whose personal data has not been
    /// erased (live or not), ascending. Cost: one pass over the signature table.
    pub fn unerased_signatures(&self, id: &str) -> Vec<u64> {
        let Some(slot) = self.petition_ids.find(id) else {
            return Vec::new();
        };
        self.signatures
            .iter()
            .enumerate()
            .filter(|(_, sig)| sig.petition == slot && !sig.erased)
            .map(|(index, _)| index as u64)
            .collect()
    }

    /// How many signatures petition `id` has ever had (withdrawn and invalidated ones
    /// included), or `None` if it was never opened. Cheap: no view is built.
    pub fn signatures_added(&self, id: &str) -> Option<u64> {
        let slot = self.petition_ids.find(id)?;
        Some(self.petitions[slot as usize].added)
    }

    /// One petition by id.
    pub fn petition(&self, id: &str) -> Option<AsOf<PetitionView<'_>>> {
        let slot = self.petition_ids.find(id)?;
        Some(self.as_of(self.petition_view(slot as usize)))
    }

    fn petition_view(&self, slot: usize) -> PetitionView<'_> {
        let p: &Petition = &self.petitions[slot];
        let by_channel = p
            .by_channel
            .non_zero()
            .map(|(s, c)| (self.channel_name(s), c));
        let mut daily: BTreeMap<String, u64> = BTreeMap::new();
        for (&hour, &count) in &p.hourly {
            let day = Date::from_days_since_unix_epoch((hour / 24) as i64)
                .map_or_else(|| format!("day-{}", hour / 24), |d| d.to_string());
            *daily.entry(day).or_insert(0) += count;
        }
        let paper_batches = self
            .batches
            .iter()
            .enumerate()
            .filter(|(_, b)| b.petition as usize == slot)
            .map(|(b, batch)| PaperBatchView {
                recorded: &batch.recorded,
                counted: p.by_channel.0.get(b + 1).copied().unwrap_or(0),
            })
            .collect();
        PetitionView {
            opened: &p.opened,
            closed: p.closed.as_ref(),
            status: if p.closed.is_some() { "closed" } else { "open" },
            total: p.total(),
            added: p.added,
            withdrawn: p.withdrawn,
            withdrawn_by_signer: p.withdrawn_by_signer,
            erased: ErasureReason::ALL
                .iter()
                .zip(&p.erased)
                .map(|(r, c)| (r.as_str(), *c))
                .collect(),
            erased_by_signer: p.erased_by_signer,
            exports_issued: p.exports,
            signers_revealed: p.revealed,
            invalidated: InvalidationReason::ALL
                .iter()
                .zip(&p.invalidated)
                .map(|(r, c)| (r.as_str(), *c))
                .collect(),
            by_country: named(&p.by_country, &self.countries),
            by_constituency: named(&p.by_constituency, &self.constituencies),
            by_ward: named(&p.by_ward, &self.wards),
            by_council: named(&p.by_council, &self.councils),
            by_channel: by_channel.collect(),
            paper_batches,
            crossed: &p.crossed,
            hourly: p
                .hourly
                .iter()
                .map(|(&h, &c)| (h * MS_PER_HOUR, c))
                .collect(),
            daily: daily.into_iter().collect(),
        }
    }

    /// Every twin link, by id.
    pub fn twin_links(&self) -> AsOf<Vec<&TwinLink>> {
        self.as_of(self.links.values().collect())
    }

    /// Every motion, grouped by council (then by id).
    pub fn motions(&self) -> AsOf<Vec<&Motion>> {
        let mut motions: Vec<&Motion> = self.motions.values().collect();
        motions.sort_by_key(|m| (&m.tabled.record.council, &m.tabled.record.motion_id));
        self.as_of(motions)
    }

    /// The event timeline: by start time, then city, then id.
    pub fn events(&self) -> AsOf<Vec<&Event>> {
        let mut events: Vec<&Event> = self.events.values().collect();
        events.sort_by_key(|e| {
            let s = &e.scheduled.record;
            (s.starts_at, &s.city, &s.event_id)
        });
        self.as_of(events)
    }

    /// Campaigns, severed links, passed motions and joint actions.
    pub fn overview(&self) -> AsOf<OverviewView<'_>> {
        let campaigns = self
            .campaigns
            .values()
            .map(|campaign| {
                let mut cities_by_country = BTreeMap::new();
                for city in &campaign.cities {
                    *cities_by_country
                        .entry(city.record.country.as_str())
                        .or_insert(0) += 1;
                }
                CampaignView {
                    campaign,
                    cities_by_country,
                }
            })
            .collect();
        let mut joint: BTreeMap<&Id, JointActionView<'_>> = BTreeMap::new();
        for event in self.events().view {
            let scheduled = &event.scheduled.record;
            if let Some(action) = &scheduled.joint_action {
                let view = joint.entry(action).or_insert_with(|| JointActionView {
                    id: action,
                    cities: Vec::new(),
                    events: Vec::new(),
                });
                if !view.cities.contains(&scheduled.city.as_str()) {
                    view.cities.push(&scheduled.city);
                }
                view.events.push(&scheduled.event_id);
            }
        }
        self.as_of(OverviewView {
            campaigns,
            links_severed: self
                .links
                .iter()
                .filter(|(_, l)| l.status == LinkStatus::Severed)
                .map(|(id, _)| id)
                .collect(),
            motions_passed: self
                .motions
                .values()
                .filter(|m| m.status == MotionStatus::Passed)
                .count() as u64,
            joint_actions: joint.into_values().collect(),
        })
    }
}
