//! `/council-votes`: every twin link with its status history and the motion that
//! changed it, and every motion (council, proposer, dates, result and majority);
//! `/events`: rallies, stalls, marches and joint-action days by date and city, with
//! attendance where known.

use askama::Template;
use projector::Projection;

use super::overview::{vote_tally, EventLine};
use super::{or_blank, Layout, SiteSource};

#[derive(Template)]
#[template(path = "site/council_votes.html")]
pub(super) struct CouncilVotes {
    layout: Layout,
    links: Vec<LinkRow>,
    motions: Vec<MotionRow>,
}

struct LinkRow {
    id: String,
    city: String,
    country: String,
    partner: String,
    partner_country: String,
    kind: &'static str,
    since: String,
    status: &'static str,
    history: Vec<LinkChange>,
}

struct LinkChange {
    index: u64,
    status: &'static str,
    date: Option<String>,
    motion: Option<String>,
}

struct MotionRow {
    id: String,
    council: String,
    title: String,
    source_url: Option<String>,
    link: Option<String>,
    proposer: String,
    tabled: String,
    status: &'static str,
    vote: String,
    decided: String,
}

pub(super) fn votes_page(p: &Projection, source: &SiteSource) -> CouncilVotes {
    let mut links: Vec<LinkRow> = p
        .twin_links()
        .view
        .into_iter()
        .map(|link| {
            let registered = &link.registered.record;
            LinkRow {
                id: registered.link_id.to_string(),
                city: registered.city.to_string(),
                country: registered.country.to_string(),
                partner: registered.partner_city.to_string(),
                partner_country: registered.partner_country.to_string(),
                kind: registered.kind.as_str(),
                since: or_blank(registered.since.as_ref()),
                status: link.status.as_str(),
                history: link
                    .history
                    .iter()
                    .map(|change| LinkChange {
                        index: change.index,
                        status: change.record.status.as_str(),
                        date: change.record.effective_on.map(|d| d.to_string()),
                        motion: change.record.motion_id.as_ref().map(|m| m.to_string()),
                    })
                    .collect(),
            }
        })
        .collect();
    links.sort_by(|a, b| (&a.city, &a.partner).cmp(&(&b.city, &b.partner)));
    let motions = p
        .motions()
        .view
        .into_iter()
        .map(|motion| {
            let tabled = &motion.tabled.record;
            let decided = match (&motion.vote, &motion.withdrawn) {
                (Some(vote), _) => vote.record.voted_on.map(|d| d.to_string()),
                (None, Some(withdrawn)) => withdrawn.record.withdrawn_on.map(|d| d.to_string()),
                (None, None) => None,
            };
            MotionRow {
                id: tabled.motion_id.to_string(),
                council: tabled.council.to_string(),
                title: tabled.title.to_string(),
                source_url: tabled.source_url.as_ref().map(|u| u.to_string()),
                link: tabled.link_id.as_ref().map(|l| l.to_string()),
                proposer: or_blank(tabled.proposer.as_ref()),
                tabled: or_blank(tabled.tabled_on.as_ref()),
                status: motion.status.as_str(),
                vote: vote_tally(motion).unwrap_or_default(),
                decided: decided.unwrap_or_default(),
            }
        })
        .collect();
    CouncilVotes {
        layout: Layout::new(source.store, p.tree_size(), "/council-votes"),
        links,
        motions,
    }
}

#[derive(Template)]
#[template(path = "site/events.html")]
pub(super) struct Events {
    layout: Layout,
    cities: usize,
    joint_actions: Vec<JointAction>,
    events: Vec<EventLine>,
}

struct JointAction {
    id: String,
    events: usize,
    cities: Vec<String>,
}

pub(super) fn events_page(p: &Projection, source: &SiteSource) -> Events {
    let events: Vec<EventLine> = p.events().view.into_iter().map(EventLine::of).collect();
    let mut cities: Vec<&str> = events.iter().map(|e| e.city.as_str()).collect();
    cities.sort_unstable();
    cities.dedup();
    let joint_actions = p
        .overview()
        .view
        .joint_actions
        .iter()
        .map(|action| JointAction {
            id: action.id.to_string(),
            events: action.events.len(),
            cities: action.cities.iter().map(|c| c.to_string()).collect(),
        })
        .collect();
    Events {
        layout: Layout::new(source.store, p.tree_size(), "/events"),
        cities: cities.len(),
        joint_actions,
        events,
    }
}
