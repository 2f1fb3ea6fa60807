//! Read models as plain values for the API and the dashboard: petitions, twin links,
//! motions, events and campaigns. Every list comes wrapped in [`AsOf`], which states the
//! tree size it reflects. Maps are `BTreeMap`s, so JSON output is sorted and stable.

use std::collections::BTreeMap;

use ledger::record::{
    CountryCode, Date, EventKind, Id, InvalidationReason, LinkKind, LinkStatus, PartialDate,
    PetitionText, Timestamp,
};
use serde::Serialize;

use crate::projection::{
    CityJoined, Closure, EventStatus, LinkChange, MotionStatus, Projection, ThresholdCrossing, Vote,
};

const MS_PER_HOUR: u64 = 3_600_000;

/// A read model and the log size it reflects.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AsOf<T> {
    pub tree_size: u64,
    #[serde(flatten)]
    pub view: T,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PetitionView {
    pub id: Id,
    pub title: String,
    pub target: String,
    /// The full text, or the hash of a text published elsewhere.
    pub text: PetitionText,
    pub status: &'static str,
    pub opened_index: u64,
    pub opened_ms: u64,
    pub closes_on: Option<Date>,
    pub closed: Option<Closure>,
    /// Live signatures: added, less withdrawn and invalidated.
    pub total: u64,
    pub added: u64,
    pub withdrawn: u64,
    pub invalidated: BTreeMap<&'static str, u64>,
    pub by_country: BTreeMap<String, u64>,
    pub by_constituency: BTreeMap<String, u64>,
    pub by_ward: BTreeMap<String, u64>,
    pub by_council: BTreeMap<String, u64>,
    /// `online`, or `paper/<batch id>`.
    pub by_channel: BTreeMap<String, u64>,
    pub paper_batches: Vec<PaperBatchView>,
    pub thresholds: Vec<u64>,
    pub crossed: Vec<ThresholdCrossing>,
    /// Signatures added per hour: (start of the hour in Unix ms, count), ascending.
    pub hourly: Vec<(u64, u64)>,
    /// Signatures added per UTC day: (`YYYY-MM-DD`, count), ascending.
    pub daily: Vec<(String, u64)>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PaperBatchView {
    pub id: Id,
    pub event_id: Option<Id>,
    pub stall: Option<String>,
    pub collector: Id,
    /// The count written on the batch when it was recorded.
    pub declared: u32,
    /// Live signatures recorded against it.
    pub counted: u64,
    pub recorded_index: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TwinLinkView {
    pub id: Id,
    pub city: String,
    pub country: CountryCode,
    pub partner_city: String,
    pub partner_country: CountryCode,
    pub kind: LinkKind,
    pub since: Option<PartialDate>,
    pub status: LinkStatus,
    pub registered_index: u64,
    pub history: Vec<LinkChange>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MotionView {
    pub id: Id,
    pub council: String,
    pub link_id: Option<Id>,
    pub proposer: Option<String>,
    pub title: String,
    pub tabled_on: Option<Date>,
    pub source_url: Option<String>,
    pub status: MotionStatus,
    pub tabled_index: u64,
    pub amendments: Vec<u64>,
    pub vote: Option<Vote>,
    pub withdrawn_on: Option<Date>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventView {
    pub id: Id,
    pub kind: EventKind,
    pub title: String,
    pub city: String,
    pub country: Option<CountryCode>,
    pub place: Option<String>,
    pub starts_at: Timestamp,
    pub ends_at: Option<Timestamp>,
    pub group: Option<String>,
    pub joint_action: Option<Id>,
    pub status: EventStatus,
    pub attendance: Option<u32>,
    pub cancel_reason: Option<String>,
    pub scheduled_index: u64,
}

/// Events grouped by the joint action they belong to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JointActionView {
    pub id: Id,
    pub cities: Vec<String>,
    pub events: Vec<Id>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CampaignView {
    pub id: Id,
    pub title: String,
    pub launched_on: Option<Date>,
    pub target_cities: Option<u32>,
    pub countries: Option<u32>,
    pub cities: Vec<CityJoined>,
    /// Cities joined, by country code.
    pub cities_by_country: BTreeMap<String, u64>,
}

/// Totals across the whole campaign log.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OverviewView {
    pub campaigns: Vec<CampaignView>,
    pub links_severed: Vec<Id>,
    pub motions_passed: u64,
    pub joint_actions: Vec<JointActionView>,
}

impl Projection {
    fn as_of<T>(&self, view: T) -> AsOf<T> {
        AsOf {
            tree_size: self.tree_size,
            view,
        }
    }

    /// Every petition, in the order they were opened.
    pub fn petitions(&self) -> AsOf<Vec<PetitionView>> {
        self.as_of(
            (0..self.petitions.len())
                .map(|slot| self.petition_view(slot))
                .collect(),
        )
    }

    /// One petition by id.
    pub fn petition(&self, id: &str) -> Option<AsOf<PetitionView>> {
        let slot = self.petition_ids.names.iter().position(|p| p == id)?;
        Some(self.as_of(self.petition_view(slot)))
    }

    fn petition_view(&self, slot: usize) -> PetitionView {
        let p = &self.petitions[slot];
        let named = |counts: &crate::projection::Counts, names: &crate::projection::Interner| {
            counts
                .non_zero()
                .map(|(s, c)| (names.name(s).to_string(), c))
                .collect()
        };
        let by_channel = p
            .by_channel
            .non_zero()
            .map(|(s, c)| match s {
                0 => ("online".to_string(), c),
                b => (format!("paper/{}", self.batch_names.name(b - 1)), c),
            })
            .collect();
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
                id: batch.id.clone(),
                event_id: batch.event_id.clone(),
                stall: batch.stall.clone(),
                collector: batch.collector.clone(),
                declared: batch.declared,
                counted: p.by_channel.0.get(b + 1).copied().unwrap_or(0),
                recorded_index: batch.recorded_index,
            })
            .collect();
        PetitionView {
            id: p.id.clone(),
            title: p.title.clone(),
            target: p.target.clone(),
            text: p.text.clone(),
            status: if p.closed.is_some() { "closed" } else { "open" },
            opened_index: p.opened_index,
            opened_ms: p.opened_ms,
            closes_on: p.closes_on,
            closed: p.closed.clone(),
            total: p.total(),
            added: p.added,
            withdrawn: p.withdrawn,
            invalidated: InvalidationReason::ALL
                .iter()
                .zip(&p.invalidated)
                .map(|(r, c)| (r.as_str(), *c))
                .collect(),
            by_country: named(&p.by_country, &self.countries),
            by_constituency: named(&p.by_constituency, &self.constituencies),
            by_ward: named(&p.by_ward, &self.wards),
            by_council: named(&p.by_council, &self.councils),
            by_channel,
            paper_batches,
            thresholds: p.thresholds.clone(),
            crossed: p.crossed.clone(),
            hourly: p
                .hourly
                .iter()
                .map(|(&h, &c)| (h * MS_PER_HOUR, c))
                .collect(),
            daily: daily.into_iter().collect(),
        }
    }

    /// Every twin link, by id.
    pub fn twin_links(&self) -> AsOf<Vec<TwinLinkView>> {
        self.as_of(
            self.links
                .values()
                .map(|l| TwinLinkView {
                    id: l.id.clone(),
                    city: l.city.clone(),
                    country: l.country,
                    partner_city: l.partner_city.clone(),
                    partner_country: l.partner_country,
                    kind: l.kind,
                    since: l.since,
                    status: l.status,
                    registered_index: l.registered_index,
                    history: l.history.clone(),
                })
                .collect(),
        )
    }

    /// Every motion, grouped by council (then by id).
    pub fn motions(&self) -> AsOf<Vec<MotionView>> {
        let mut motions: Vec<MotionView> = self
            .motions
            .values()
            .map(|m| MotionView {
                id: m.id.clone(),
                council: m.council.clone(),
                link_id: m.link_id.clone(),
                proposer: m.proposer.clone(),
                title: m.title.clone(),
                tabled_on: m.tabled_on,
                source_url: m.source_url.clone(),
                status: m.status,
                tabled_index: m.tabled_index,
                amendments: m.amendments.clone(),
                vote: m.vote.clone(),
                withdrawn_on: m.withdrawn_on,
            })
            .collect();
        motions.sort_by(|a, b| {
            (a.council.as_str(), a.id.as_str()).cmp(&(b.council.as_str(), b.id.as_str()))
        });
        self.as_of(motions)
    }

    /// The event timeline: by start time, then city, then id.
    pub fn events(&self) -> AsOf<Vec<EventView>> {
        let mut events: Vec<EventView> = self
            .events
            .values()
            .map(|e| EventView {
                id: e.id.clone(),
                kind: e.kind,
                title: e.title.clone(),
                city: e.city.clone(),
                country: e.country,
                place: e.place.clone(),
                starts_at: e.starts_at,
                ends_at: e.ends_at,
                group: e.group.clone(),
                joint_action: e.joint_action.clone(),
                status: e.status,
                attendance: e.attendance,
                cancel_reason: e.cancel_reason.clone(),
                scheduled_index: e.scheduled_index,
            })
            .collect();
        events.sort_by(|a, b| {
            (a.starts_at, a.city.as_str(), a.id.as_str()).cmp(&(
                b.starts_at,
                b.city.as_str(),
                b.id.as_str(),
            ))
        });
        self.as_of(events)
    }

    /// Campaigns, severed links, passed motions and joint actions.
    pub fn overview(&self) -> AsOf<OverviewView> {
        let campaigns = self
            .campaigns
            .values()
            .map(|c| {
                let mut by_country: BTreeMap<String, u64> = BTreeMap::new();
                for city in &c.cities {
                    *by_country
                        .entry(city.country.as_str().to_string())
                        .or_insert(0) += 1;
                }
                CampaignView {
                    id: c.id.clone(),
                    title: c.title.clone(),
                    launched_on: c.launched_on,
                    target_cities: c.target_cities,
                    countries: c.countries,
                    cities: c.cities.clone(),
                    cities_by_country: by_country,
                }
            })
            .collect();
        let mut joint: BTreeMap<String, JointActionView> = BTreeMap::new();
        for event in self.events().view {
            if let Some(action) = &event.joint_action {
                let view =
                    joint
                        .entry(action.as_str().to_string())
                        .or_insert_with(|| JointActionView {
                            id: action.clone(),
                            cities: Vec::new(),
                            events: Vec::new(),
                        });
                if !view.cities.contains(&event.city) {
                    view.cities.push(event.city.clone());
                }
                view.events.push(event.id.clone());
            }
        }
        self.as_of(OverviewView {
            campaigns,
            links_severed: self
                .links
                .values()
                .filter(|l| l.status == LinkStatus::Severed)
                .map(|l| l.id.clone())
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
