//! `/`: each campaign (cities joined against those targeted, countries), each petition
//! with its live count and progress to its next threshold, the latest council votes,
//! twin links by status, upcoming and recent events, and the checkpoint with who
//! cosigned it.

use askama::Template;
use ledger::record::LinkStatus;
use projector::{Event, EventStatus, Motion, Projection};

use super::{or_blank, thousands, utc, Layout, SiteSource};
use crate::http::ApiError;

/// Votes, and events of each kind, the overview lists (the other pages list all).
const LATEST: usize = 5;

#[derive(Template)]
#[template(path = "site/overview.html")]
pub(super) struct Overview {
    layout: Layout,
    latest: Option<String>,
    campaigns: Vec<CampaignCard>,
    petitions: Vec<PetitionRow>,
    votes: Vec<VoteLine>,
    link_counts: Vec<(&'static str, u64)>,
    upcoming: Vec<EventLine>,
    recent: Vec<EventLine>,
    checkpoint: String,
    cosigners: Vec<String>,
}

struct CampaignCard {
    id: String,
    title: String,
    cities: usize,
    /// For the progress bar: at most the target.
    cities_capped: u64,
    target_cities: Option<u32>,
    countries: usize,
    target_countries: Option<u32>,
    by_country: Vec<(String, u64)>,
}

struct PetitionRow {
    id: String,
    title: String,
    target: String,
    status: &'static str,
    closes_on: Option<String>,
    total: String,
    total_capped: u64,
    next_threshold: Option<u64>,
}

pub(super) struct VoteLine {
    pub council: String,
    pub title: String,
    pub result: &'static str,
    /// `60 for, 0 against, 0 abstaining`, or the majority as reported.
    pub tally: Option<String>,
    pub date: Option<String>,
}

/// An event as the overview lists it, and (with where, who and the joint action) as
/// `/events` does.
pub(super) struct EventLine {
    /// Unix seconds, for sorting.
    pub sort: i64,
    pub date: String,
    pub city: String,
    pub title: String,
    pub kind: &'static str,
    pub place: String,
    pub group: String,
    pub joint_action: String,
    pub status: &'static str,
    pub attendance: Option<u32>,
}

impl EventLine {
    pub(super) fn of(event: &Event) -> EventLine {
        let scheduled = &event.scheduled.record;
        EventLine {
            sort: scheduled.starts_at.unix_seconds(),
            date: utc(scheduled.starts_at.unix_seconds().max(0) as u64 * 1000),
            city: scheduled.city.to_string(),
            title: scheduled.title.to_string(),
            kind: scheduled.kind.as_str(),
            place: or_blank(scheduled.place.as_ref()),
            group: or_blank(scheduled.group.as_ref()),
            joint_action: or_blank(scheduled.joint_action.as_ref()),
            status: event.status.as_str(),
            attendance: event.held.as_ref().and_then(|held| held.record.attendance),
        }
    }
}

/// How a motion's vote went, in words.
pub(super) fn vote_tally(motion: &Motion) -> Option<String> {
    let vote = &motion.vote.as_ref()?.record;
    match (vote.votes_for, vote.votes_against, vote.abstentions) {
        (None, None, None) => vote.majority.as_ref().map(|m| m.to_string()),
        (f, a, n) => {
            let part = |count: Option<u32>, what: &str| count.map(|c| format!("{c} {what}"));
            let parts: Vec<String> = [part(f, "for"), part(a, "against"), part(n, "abstaining")]
                .into_iter()
                .flatten()
                .collect();
            Some(parts.join(", "))
        }
    }
}

pub(super) fn page(p: &Projection, source: &SiteSource) -> Result<Overview, ApiError> {
    let size = p.tree_size();
    let overview = p.overview().view;
    let campaigns = overview
        .campaigns
        .iter()
        .map(|view| {
            let launched = &view.campaign.launched.record;
            let target_cities = launched.target_cities.map(|c| c.get());
            let cities = view.campaign.cities.len();
            CampaignCard {
                id: launched.campaign_id.to_string(),
                title: launched.title.to_string(),
                cities,
                cities_capped: (cities as u64).min(u64::from(target_cities.unwrap_or(0))),
                target_cities,
                countries: view.cities_by_country.len(),
                target_countries: launched.countries.map(|c| c.get()),
                by_country: view
                    .cities_by_country
                    .iter()
                    .map(|(country, cities)| (country.to_string(), *cities))
                    .collect(),
            }
        })
        .collect();
    let petitions = p
        .petitions()
        .view
        .iter()
        .map(|petition| {
            let opened = &petition.opened.record;
            let next_threshold = opened
                .thresholds
                .iter()
                .copied()
                .find(|&threshold| threshold > petition.total);
            PetitionRow {
                id: opened.petition_id.to_string(),
                title: opened.title.to_string(),
                target: opened.target.to_string(),
                status: petition.status,
                closes_on: opened.closes_on.map(|d| d.to_string()),
                total: thousands(petition.total),
                total_capped: petition.total.min(next_threshold.unwrap_or(0)),
                next_threshold,
            }
        })
        .collect();
    let mut voted: Vec<&Motion> = p
        .motions()
        .view
        .into_iter()
        .filter(|m| m.vote.is_some())
        .collect();
    voted.sort_by_key(|m| {
        let vote = m.vote.as_ref().expect("filtered");
        std::cmp::Reverse((vote.record.voted_on, vote.index))
    });
    let votes = voted
        .iter()
        .take(LATEST)
        .map(|motion| {
            let vote = &motion.vote.as_ref().expect("filtered").record;
            VoteLine {
                council: motion.tabled.record.council.to_string(),
                title: motion.tabled.record.title.to_string(),
                result: vote.result.as_str(),
                tally: vote_tally(motion),
                date: vote.voted_on.map(|d| d.to_string()),
            }
        })
        .collect();
    let links = p.twin_links().view;
    let link_counts = LinkStatus::ALL
        .iter()
        .map(|status| {
            let count = links.iter().filter(|l| l.status == *status).count() as u64;
            (status.as_str(), count)
        })
        .collect();
    let now_s = (p.latest_time_ms() / 1000) as i64;
    let events = p.events().view;
    let upcoming = events
        .iter()
        .filter(|e| {
            matches!(e.status, EventStatus::Scheduled | EventStatus::Changed)
                && e.scheduled.record.starts_at.unix_seconds() >= now_s
        })
        .take(LATEST)
        .map(|e| EventLine::of(e))
        .collect();
    let recent = events
        .iter()
        .rev()
        .filter(|e| e.scheduled.record.starts_at.unix_seconds() < now_s)
        .take(LATEST)
        .map(|e| EventLine::of(e))
        .collect();
    let mut cosigners: Vec<String> = source
        .cosigners(size)
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    cosigners.sort();
    cosigners.dedup();
    Ok(Overview {
        layout: Layout::new(source.store, size, "/"),
        latest: (size > 0).then(|| utc(p.latest_time_ms())),
        campaigns,
        petitions,
        votes,
        link_counts,
        upcoming,
        recent,
        checkpoint: if size == 0 {
            "The log is empty: nothing is signed yet.".to_string()
        } else {
            source.checkpoint(size)?
        },
        cosigners,
    })
}
