//! A realistic, valid campaign log generated from a seed: the data of the projector's
//! benchmarks, and of any test that wants a big honest log.
//!
//! [`campaign_log`] returns encoded entries (`Entry::v1(time_ms, author, record)`)
//! telling the story of the global detwin campaign (163 city councils in 7 countries):
//!
//! - a header: the campaign launched and the 14 UK cities of the joint action joined,
//!   16 twin links registered (Newcastle upon Tyne–Taiyuan sister link, Bath–Jiangxi
//!   friendship link, ...), 5 petitions opened (thresholds such as 10,000 and 100,000),
//!   the 1 October joint action day scheduled in those 14 cities, first paper batches;
//! - then ≈97 % signatures, as the server writes them now (`signature.recorded`): 650
//!   UK constituency codes (with their wards and councils) and some overseas signers,
//!   online and paper channels, a fresh random 16-byte dedup tag for each identity of
//!   the signer (one, or two for the ≈40 % who gave an email and a postcode; unique in
//!   the whole log) and a random 32-byte commitment;
//! - interleaved: withdrawals (≈1.5 %) and invalidations (≈0.3 %, 1 to 8 signatures, up
//!   to 120 for fraud) of live signatures only, each signature struck out at most once;
//!   events scheduled (≈0.2 %) and held, cancelled or changed once their end time has
//!   passed; paper batches (≈0.1 %, plus one for most held stalls);
//! - milestones at fixed fractions of the log: more cities joining, motions tabled
//!   (one amended) and then voted or withdrawn, each passed motion severing its link
//!   (active → severed, once per link), one petition closed at 60 %.
//!
//! Every record passes the decision rules (`Projection::try_apply`) at its position, so
//! a replay rejects nothing, and so does every prefix: the log is cut at `records`
//! wherever that falls. Timestamps rise by 1 to 499 ms per entry from 2022-07-01T09:00Z
//! (about four a second). The same `records` and `seed` always give the same bytes
//! (`StdRng`, no clocks, no hash-map iteration).
//!
//! The Newcastle and Bath links and votes follow the real campaign (README); the other link pairs,
//! motions and events are illustrative, and URLs use the reserved `.example` domain.
//!
//! Records start from the builders of [`crate::records`] and set every field the story
//! decides; a literal the types refuse is a bug here and panics.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};

use ledger::record::DedupTags;
use ledger::record::{
    AreaCode, CampaignCityJoined, CampaignLaunched, Channel, CountryCode, Date, EventCancelled,
    EventChanged, EventKind, EventScheduled, Id, InvalidationReason, LinkKind, LinkStatus,
    MotionAmended, MotionTabled, MotionVoted, MotionWithdrawn, Name, PaperBatchRecorded,
    PartialDate, PetitionClosed, PetitionOpened, PetitionText, SignatureRecorded,
    SignaturesInvalidated, Timestamp, TwinLinkRegistered, TwinLinkStatusChanged, VoteResult,
};
use ledger::{DedupTag, Entry, Hash, HashAlg, Record};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::records;
use crate::values::{area, count, country, date, id, long_text, name, thresholds, title, url};

/// 2022-07-01T09:00:00Z, the time of the first entry.
pub const START_MS: u64 = 1_656_666_000_000;
pub const CAMPAIGN_ID: &str = "global-detwin";
/// The joint action day of the UK campaign (1 October 2022).
pub const JOINT_ACTION_ID: &str = "global-detwin-day-2022-10-01";

/// Public ids of the tokens that append.
const ORGANISER: &str = "tok_org_3e1f8b62";
const MODERATOR: &str = "tok_admin_0a9d4c27";
const PAPER_DESK: &str = "tok_desk_5d72a9e3";
const ONLINE: &[&str] = &["tok_web_7f3a2c91", "tok_web_b04e6d15", "tok_api_19c8e2f0"];

/// Per step, when no milestone or event outcome is due.
const WITHDRAW_SHARE: f64 = 0.015;
const INVALIDATE_SHARE: f64 = 0.003;
const EVENT_SHARE: f64 = 0.002;
const BATCH_SHARE: f64 = 0.001;
/// Per signature.
const PAPER_SHARE: f64 = 0.12;
const CONSENT_SHARE: f64 = 0.35;
/// Signers who gave both an email and a postcode, so two identities and two tags.
const TWO_IDENTITIES_SHARE: f64 = 0.4;
const NO_WARD_SHARE: f64 = 0.08;
const NO_COUNCIL_SHARE: f64 = 0.04;
/// Signatures of a local petition from its home constituencies.
const HOME_SHARE: f64 = 0.75;
const WARDS_PER_CONSTITUENCY: u32 = 20;
/// Paper signatures go to one of a petition's latest batches.
const OPEN_BATCHES: usize = 8;

/// The 650 constituencies, in the shape of the 2010-boundary GSS codes: (code prefix,
/// first number, count, ward code prefix, councils assigned round-robin). Which code
/// is which seat is not meant to be accurate, except that the home constituencies of
/// the local petitions below get their council.
const NATIONS: [(&str, u32, u32, &str, &[&str]); 4] = [
    (
        "E14",
        530,
        533,
        "E05",
        &[
            "Birmingham",
            "Leeds",
            "Liverpool",
            "Nottingham",
            "Reading",
            "Exeter",
            "Guildford",
            "Kingston upon Thames",
            "Sutton",
            "Manchester",
            "Bristol",
            "Tower Hamlets",
            "Brighton and Hove",
        ],
    ),
    ("W07", 41, 40, "W05", &["Cardiff", "Swansea", "Newport"]),
    (
        "S14",
        1,
        59,
        "S13",
        &["City of Edinburgh", "Glasgow City", "Perth and Kinross"],
    ),
    ("N06", 1, 18, "N08", &["Belfast"]),
];

/// (English constituency numbers, their council): home seats of the local petitions.
const HOMES: &[(&[u32], &str)] = &[
    (&[831, 832, 833], "Newcastle upon Tyne"),
    (&[547, 548], "Bath and North East Somerset"),
    (&[919, 920, 921, 922, 923], "Sheffield"),
];

/// Countries of overseas signers.
const OVERSEAS: &[&str] = &["HK", "TW", "US", "CA", "AU", "NZ", "DE", "NL", "FR"];

struct PetitionPlan {
    id: &'static str,
    title: &'static str,
    target: &'static str,
    /// In full if true, else only its hash.
    full_text: bool,
    text: &'static str,
    closes_on: Option<&'static str>,
    thresholds: &'static [u64],
    /// Relative share of signatures while open.
    weight: f64,
    overseas: f64,
    /// Index into [`HOMES`].
    home: Option<usize>,
    /// Closed at this fraction of the log.
    closes_at: Option<f64>,
}

const PETITIONS: &[PetitionPlan] = &[
    PetitionPlan {
        id: "uk-detwin",
        title: "End UK sister city links with cities in the People's Republic of China",
        target: "UK Parliament",
        full_text: true,
        text: "We call on Parliament to ask every council in the UK to end its sister city,\n\
               friendship and partnership links with cities in the People's Republic of China.\n\
               \n\
               Twinning should not lend legitimacy to a government that persecutes its own people.",
        closes_on: Some("2023-04-01"),
        thresholds: &[10_000, 100_000],
        weight: 0.55,
        overseas: 0.03,
        home: None,
        closes_at: None,
    },
    PetitionPlan {
        id: "newcastle-taiyuan",
        title: "End Newcastle's sister city link with Taiyuan",
        target: "Newcastle City Council",
        full_text: false,
        text: "We ask Newcastle City Council to end its sister city link with Taiyuan.",
        closes_on: Some("2022-12-31"),
        thresholds: &[1_000, 10_000],
        weight: 0.15,
        overseas: 0.01,
        home: Some(0),
        closes_at: None,
    },
    PetitionPlan {
        id: "bath-jiangxi",
        title: "End Bath's friendship link with Jiangxi",
        target: "Bath and North East Somerset Council",
        full_text: false,
        text:
            "We ask Bath and North East Somerset Council to end its friendship link with Jiangxi.",
        closes_on: Some("2022-12-31"),
        thresholds: &[2_500],
        weight: 0.08,
        overseas: 0.01,
        home: Some(1),
        closes_at: None,
    },
    PetitionPlan {
        id: "global-detwin-pledge",
        title: "Global Detwin: ask 163 city councils to end their links",
        target: "City councils of the Global Detwin campaign",
        full_text: true,
        text: "We ask the 163 city councils in 7 countries that are twinned with cities in the\n\
               People's Republic of China to end those links.",
        closes_on: None,
        thresholds: &[10_000, 100_000, 500_000],
        weight: 0.17,
        overseas: 0.35,
        home: None,
        closes_at: None,
    },
    PetitionPlan {
        id: "sheffield-chengdu",
        title: "Review Sheffield's sister city link with Chengdu",
        target: "Sheffield City Council",
        full_text: false,
        text: "We ask Sheffield City Council to review and end its sister city link with Chengdu.",
        closes_on: Some("2023-01-31"),
        thresholds: &[5_000],
        weight: 0.05,
        overseas: 0.01,
        home: Some(2),
        closes_at: Some(0.6),
    },
];

/// The 14 UK cities of the joint action: (city, a street-stall place).
const UK_CITIES: &[(&str, &str)] = &[
    ("Birmingham", "Victoria Square"),
    ("Edinburgh", "The Mound"),
    ("Exeter", "Bedford Square"),
    ("Glasgow", "George Square"),
    ("Guildford", "High Street"),
    ("Kingston", "Market Place"),
    ("Leeds", "Briggate"),
    ("Liverpool", "Lord Street"),
    ("Newcastle", "Grey's Monument"),
    ("Nottingham", "Old Market Square"),
    ("Perth", "King Edward Street"),
    ("Reading", "Broad Street"),
    ("Sheffield", "Fargate"),
    ("Sutton", "Sutton High Street"),
];

/// Cities joining later, at milestones spread over the log.
const LATER_CITIES: &[(&str, &str)] = &[
    ("Bath", "GB"),
    ("Cardiff", "GB"),
    ("Manchester", "GB"),
    ("Houston", "US"),
    ("Vancouver", "CA"),
    ("Melbourne", "AU"),
    ("Bristol", "GB"),
    ("Auckland", "NZ"),
    ("Hamburg", "DE"),
    ("Rotterdam", "NL"),
    ("Belfast", "GB"),
    ("Seattle", "US"),
    ("Toronto", "CA"),
    ("Perth", "AU"),
    ("Christchurch", "NZ"),
    ("Berlin", "DE"),
    ("Amsterdam", "NL"),
    ("Oxford", "GB"),
    ("San Francisco", "US"),
    ("Calgary", "CA"),
    ("Sydney", "AU"),
    ("Wellington", "NZ"),
    ("Munich", "DE"),
    ("Utrecht", "NL"),
    ("York", "GB"),
    ("Chicago", "US"),
    ("Brisbane", "AU"),
    ("Cambridge", "GB"),
];

/// Organising groups of events.
const GROUPS: &[&str] = &[
    "LHKA",
    "Newcastle student group",
    "Sheffield Hongkongers",
    "Detwin Edinburgh",
    "Leeds action group",
    "Glasgow solidarity network",
];

#[derive(Clone, Copy)]
enum Outcome {
    Passed,
    Failed,
    Withdrawn,
    /// Passed (three in four) or failed, drawn from the seed.
    Drawn,
}

struct MotionPlan {
    id: &'static str,
    council: &'static str,
    proposer: Option<&'static str>,
    title: &'static str,
    tabled_on: Option<&'static str>,
    voted_on: Option<&'static str>,
    votes: Option<(u32, u32, u32)>,
    majority: Option<&'static str>,
    outcome: Outcome,
    amended: bool,
}

struct LinkPlan {
    id: &'static str,
    city: &'static str,
    country: &'static str,
    partner_city: &'static str,
    partner_country: &'static str,
    kind: LinkKind,
    since: Option<u16>,
    motion: Option<MotionPlan>,
}

/// A motion whose details are generated: its council and title come from the link.
const fn drawn(id: &'static str, outcome: Outcome, amended: bool) -> Option<MotionPlan> {
    Some(MotionPlan {
        id,
        council: "",
        proposer: None,
        title: "",
        tabled_on: None,
        voted_on: None,
        votes: None,
        majority: None,
        outcome,
        amended,
    })
}

const fn link(
    id: &'static str,
    city: &'static str,
    country: &'static str,
    partner_city: &'static str,
    kind: LinkKind,
    motion: Option<MotionPlan>,
) -> LinkPlan {
    LinkPlan {
        id,
        city,
        country,
        partner_city,
        partner_country: "CN",
        kind,
        since: None,
        motion,
    }
}

const LINKS: &[LinkPlan] = &[
    LinkPlan {
        id: "newcastle-taiyuan",
        city: "Newcastle upon Tyne",
        country: "GB",
        partner_city: "Taiyuan",
        partner_country: "CN",
        kind: LinkKind::Sister,
        since: Some(1985),
        motion: Some(MotionPlan {
            id: "ncc-2022-11",
            council: "Newcastle City Council",
            proposer: Some("Cllr Wendy Taylor"),
            title: "End the sister city link with Taiyuan",
            tabled_on: Some("2022-10-05"),
            voted_on: Some("2022-11-02"),
            votes: Some((60, 0, 0)),
            majority: Some("unanimous"),
            outcome: Outcome::Passed,
            amended: false,
        }),
    },
    LinkPlan {
        id: "bath-jiangxi",
        city: "Bath",
        country: "GB",
        partner_city: "Jiangxi",
        partner_country: "CN",
        kind: LinkKind::Friendship,
        since: None,
        motion: Some(MotionPlan {
            id: "banes-2022-11",
            council: "Bath and North East Somerset Council",
            proposer: None,
            title: "End the friendship link with Jiangxi",
            tabled_on: None,
            voted_on: Some("2022-11-17"),
            votes: None,
            majority: Some("large majority"),
            outcome: Outcome::Passed,
            amended: false,
        }),
    },
    link(
        "sheffield-chengdu",
        "Sheffield",
        "GB",
        "Chengdu",
        LinkKind::Sister,
        drawn("sheffield-chengdu-motion", Outcome::Passed, true),
    ),
    link(
        "edinburgh-xian",
        "Edinburgh",
        "GB",
        "Xi'an",
        LinkKind::Sister,
        drawn("edinburgh-xian-motion", Outcome::Drawn, false),
    ),
    link(
        "leeds-hangzhou",
        "Leeds",
        "GB",
        "Hangzhou",
        LinkKind::Sister,
        drawn("leeds-hangzhou-motion", Outcome::Drawn, false),
    ),
    link(
        "liverpool-shanghai",
        "Liverpool",
        "GB",
        "Shanghai",
        LinkKind::Sister,
        drawn("liverpool-shanghai-motion", Outcome::Withdrawn, false),
    ),
    link(
        "glasgow-dalian",
        "Glasgow",
        "GB",
        "Dalian",
        LinkKind::Friendship,
        drawn("glasgow-dalian-motion", Outcome::Drawn, false),
    ),
    link(
        "nottingham-ningbo",
        "Nottingham",
        "GB",
        "Ningbo",
        LinkKind::Partnership,
        drawn("nottingham-ningbo-motion", Outcome::Failed, false),
    ),
    link(
        "birmingham-changchun",
        "Birmingham",
        "GB",
        "Changchun",
        LinkKind::Friendship,
        None,
    ),
    link(
        "cardiff-xiamen",
        "Cardiff",
        "GB",
        "Xiamen",
        LinkKind::Sister,
        None,
    ),
    link(
        "vancouver-guangzhou",
        "Vancouver",
        "CA",
        "Guangzhou",
        LinkKind::Sister,
        drawn("vancouver-guangzhou-motion", Outcome::Drawn, false),
    ),
    link(
        "melbourne-tianjin",
        "Melbourne",
        "AU",
        "Tianjin",
        LinkKind::Sister,
        None,
    ),
    link(
        "hamburg-shanghai",
        "Hamburg",
        "DE",
        "Shanghai",
        LinkKind::Partnership,
        drawn("hamburg-shanghai-motion", Outcome::Drawn, false),
    ),
    link(
        "rotterdam-shanghai",
        "Rotterdam",
        "NL",
        "Shanghai",
        LinkKind::Other,
        None,
    ),
    link(
        "houston-shenzhen",
        "Houston",
        "US",
        "Shenzhen",
        LinkKind::Sister,
        drawn("houston-shenzhen-motion", Outcome::Drawn, false),
    ),
    link(
        "christchurch-wuhan",
        "Christchurch",
        "NZ",
        "Wuhan",
        LinkKind::Sister,
        None,
    ),
];

/// What happens at a milestone.
#[derive(Clone, Copy)]
enum Plan {
    CityJoined(usize),
    MotionTabled(usize),
    MotionAmended(usize),
    /// Link number and whether the motion passes.
    MotionVoted(usize, bool),
    MotionWithdrawn(usize),
    LinkSevered(usize),
    PetitionClosed(usize),
    /// A paper batch collected at a held stall (event number).
    StallBatch(usize),
}

struct PetitionState {
    id: Id,
    open: bool,
    /// Paper batches with signatures on their sheets not yet entered, and how many (a
    /// batch takes no more signatures than its declared count).
    batches: Vec<(Id, u32)>,
    /// Constituency indexes this petition's local signers come from.
    home: Vec<usize>,
}

struct Constituency {
    code: AreaCode,
    wards: Vec<AreaCode>,
    council: Name,
}

struct EventState {
    id: Id,
    kind: EventKind,
    city: &'static str,
    place: Option<Name>,
}

struct Generator {
    rng: StdRng,
    records: usize,
    out: Vec<Vec<u8>>,
    time_ms: u64,
    gb: CountryCode,
    overseas: Vec<CountryCode>,
    constituencies: Vec<Constituency>,
    petitions: Vec<PetitionState>,
    /// Every dedup tag used so far (tags are unique in the whole log).
    tags: HashSet<DedupTag>,
    /// Indexes of live signatures, in no particular order.
    live: Vec<u64>,
    events: Vec<EventState>,
    /// Events not yet held, cancelled or changed: (end in Unix seconds, event number).
    upcoming: BinaryHeap<Reverse<(i64, usize)>>,
    batches: usize,
    due: VecDeque<Plan>,
}

/// `records` entries of a valid campaign log, generated from `seed` (see the module
/// docs). Each entry is `Entry::v1(time_ms, author, record).encode()`.
pub fn campaign_log(records: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut g = Generator::new(records, seed);
    g.header();
    let milestones = g.milestones();
    let mut next = 0;
    while !g.full() {
        let at = g.out.len();
        while next < milestones.len() && milestones[next].0 <= at {
            g.due.push_back(milestones[next].1);
            next += 1;
        }
        if let Some(plan) = g.due.pop_front() {
            g.milestone(plan);
            continue;
        }
        if g.upcoming
            .peek()
            .is_some_and(|Reverse((end, _))| *end <= g.now_seconds())
        {
            g.resolve_event();
            continue;
        }
        let x: f64 = g.rng.gen();
        if x < WITHDRAW_SHARE {
            g.withdraw();
        } else if x < WITHDRAW_SHARE + INVALIDATE_SHARE {
            g.invalidate();
        } else if x < WITHDRAW_SHARE + INVALIDATE_SHARE + EVENT_SHARE {
            g.schedule_event();
        } else if x < WITHDRAW_SHARE + INVALIDATE_SHARE + EVENT_SHARE + BATCH_SHARE {
            g.paper_batch(None);
        } else {
            g.signature();
        }
    }
    g.out
}

/// `Kingston upon Thames` as `kingston-upon-thames`.
fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

fn link_kind_words(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::Sister => "sister city link",
        LinkKind::Friendship => "friendship link",
        LinkKind::Partnership => "partnership",
        LinkKind::Other => "twin link",
    }
}

impl Generator {
    fn new(records: usize, seed: u64) -> Generator {
        let mut constituencies = Vec::with_capacity(650);
        let mut ward_number = 0u32;
        for (prefix, first, count, ward_prefix, councils) in NATIONS {
            for (k, n) in (first..first + count).enumerate() {
                let code = area(&format!("{prefix}{n:06}"));
                let wards = (0..WARDS_PER_CONSTITUENCY)
                    .map(|_| {
                        ward_number += 1;
                        area(&format!("{ward_prefix}{:06}", 1_000 + ward_number))
                    })
                    .collect();
                let home = HOMES
                    .iter()
                    .find(|(numbers, _)| prefix == "E14" && numbers.contains(&n));
                let council = match home {
                    Some((_, council)) => council,
                    None => councils[k % councils.len()],
                };
                constituencies.push(Constituency {
                    code,
                    wards,
                    council: name(council),
                });
            }
        }
        assert_eq!(constituencies.len(), 650, "650 UK constituencies");
        let home_of = |h: usize| -> Vec<usize> {
            HOMES[h]
                .0
                .iter()
                .map(|n| (n - NATIONS[0].1) as usize)
                .collect()
        };
        let petitions = PETITIONS
            .iter()
            .map(|p| PetitionState {
                id: id(p.id),
                open: false,
                batches: Vec::new(),
                home: p.home.map(home_of).unwrap_or_default(),
            })
            .collect();
        Generator {
            rng: StdRng::seed_from_u64(seed),
            records,
            out: Vec::with_capacity(records),
            time_ms: START_MS,
            gb: country("GB"),
            overseas: OVERSEAS.iter().map(|c| country(c)).collect(),
            constituencies,
            petitions,
            tags: HashSet::with_capacity(records),
            live: Vec::with_capacity(records),
            events: Vec::new(),
            upcoming: BinaryHeap::new(),
            batches: 0,
            due: VecDeque::new(),
        }
    }

    fn full(&self) -> bool {
        self.out.len() >= self.records
    }

    fn now_seconds(&self) -> i64 {
        (self.time_ms / 1000) as i64
    }

    fn today(&self) -> Date {
        Timestamp::from_unix_seconds(self.now_seconds())
            .expect("2022 is a valid time")
            .date()
    }

    /// Appends the next entry (a little after the last one) and returns its index; does
    /// nothing once the log has `records` entries.
    fn push(&mut self, author: &str, record: impl Into<Record>) -> u64 {
        let index = self.out.len() as u64;
        if self.full() {
            return index;
        }
        self.time_ms += self.rng.gen_range(1..500);
        let bytes = Entry::v1(self.time_ms, author, record.into())
            .encode()
            .expect("generated records are valid");
        self.out.push(bytes);
        index
    }

    /// A random dedup tag not used before in the log.
    fn fresh_tag(&mut self) -> DedupTag {
        loop {
            let mut tag = [0u8; 16];
            self.rng.fill(&mut tag);
            if self.tags.insert(DedupTag(tag)) {
                return DedupTag(tag);
            }
        }
    }

    fn random_hash(&mut self) -> Hash {
        let mut hash = [0u8; 32];
        self.rng.fill(&mut hash);
        Hash(hash)
    }

    fn header(&mut self) {
        let today = self.today();
        self.push(
            ORGANISER,
            CampaignLaunched {
                title: title(
                    "Global Detwin: end sister city links with the People's Republic of China",
                ),
                launched_on: Some(today),
                target_cities: Some(count(163)),
                countries: Some(count(7)),
                ..records::campaign_launched(CAMPAIGN_ID)
            },
        );
        for (city, _) in UK_CITIES {
            self.push(
                ORGANISER,
                CampaignCityJoined {
                    joined_on: Some(today),
                    ..records::campaign_city_joined(CAMPAIGN_ID, city, "GB")
                },
            );
        }
        for link in LINKS {
            self.push(
                ORGANISER,
                TwinLinkRegistered {
                    city: name(link.city),
                    country: country(link.country),
                    partner_city: name(link.partner_city),
                    partner_country: country(link.partner_country),
                    kind: link.kind,
                    since: link
                        .since
                        .map(|y| PartialDate::from_year(y).expect("a valid year")),
                    ..records::twin_link_registered(link.id)
                },
            );
        }
        for (p, plan) in PETITIONS.iter().enumerate() {
            let text = if plan.full_text {
                PetitionText::Full(long_text(plan.text))
            } else {
                PetitionText::Hash(HashAlg::Blake3.digest(plan.text.as_bytes()))
            };
            self.push(
                ORGANISER,
                PetitionOpened {
                    title: title(plan.title),
                    text,
                    target: name(plan.target),
                    closes_on: plan.closes_on.map(date),
                    thresholds: thresholds(plan.thresholds),
                    ..records::petition_opened(plan.id)
                },
            );
            self.petitions[p].open = true;
        }
        // The joint action day: announced now, after the end of any generated log, so
        // these events stay scheduled.
        let day = Timestamp::parse("2022-10-01T11:00:00Z").expect("a valid timestamp");
        for (i, (city, place)) in UK_CITIES.iter().enumerate() {
            let kind = if i % 3 == 0 {
                EventKind::Rally
            } else {
                EventKind::Stall
            };
            let event_id = id(&format!("detwin-day-{}", slug(city)));
            self.push(
                ORGANISER,
                EventScheduled {
                    kind,
                    title: title(&format!("Global Detwin day of action in {city}")),
                    country: Some(self.gb),
                    place: Some(name(place)),
                    starts_at: day,
                    ends_at: Some(
                        Timestamp::from_unix_seconds(day.unix_seconds() + 4 * 3600)
                            .expect("a valid time"),
                    ),
                    group: Some(name(GROUPS[i % GROUPS.len()])),
                    joint_action: Some(id(JOINT_ACTION_ID)),
                    ..records::event_scheduled(&event_id, city)
                },
            );
            self.events.push(EventState {
                id: event_id,
                kind,
                city,
                place: Some(name(place)),
            });
        }
        for _ in 0..3 {
            self.paper_batch(None);
        }
    }

    /// Milestones at fixed fractions of the log, sorted by position (ties keep their
    /// order, so a motion is always tabled before it is voted).
    fn milestones(&mut self) -> Vec<(usize, Plan)> {
        let n = self.records as f64;
        let at = |fraction: f64| (fraction * n) as usize;
        let mut plan = Vec::new();
        for (i, _) in LATER_CITIES.iter().enumerate() {
            let fraction = 0.01 + 0.9 * i as f64 / LATER_CITIES.len() as f64;
            plan.push((at(fraction), Plan::CityJoined(i)));
        }
        let motions: Vec<usize> = (0..LINKS.len())
            .filter(|&l| LINKS[l].motion.is_some())
            .collect();
        for (m, &l) in motions.iter().enumerate() {
            let motion = LINKS[l].motion.as_ref().expect("filtered");
            let tabled = 0.05 + 0.8 * m as f64 / motions.len() as f64;
            plan.push((at(tabled), Plan::MotionTabled(l)));
            if motion.amended {
                plan.push((at(tabled + 0.02), Plan::MotionAmended(l)));
            }
            let decided = at(tabled + 0.05);
            let passes = match motion.outcome {
                Outcome::Passed => true,
                Outcome::Failed => false,
                Outcome::Drawn => self.rng.gen_bool(0.75),
                Outcome::Withdrawn => {
                    plan.push((decided, Plan::MotionWithdrawn(l)));
                    continue;
                }
            };
            plan.push((decided, Plan::MotionVoted(l, passes)));
            if passes {
                plan.push((at(tabled + 0.052), Plan::LinkSevered(l)));
            }
        }
        for (p, petition) in PETITIONS.iter().enumerate() {
            if let Some(fraction) = petition.closes_at {
                plan.push((at(fraction), Plan::PetitionClosed(p)));
            }
        }
        plan.sort_by_key(|(position, _)| *position);
        plan
    }

    fn milestone(&mut self, plan: Plan) {
        match plan {
            Plan::CityJoined(i) => {
                let (city, code) = LATER_CITIES[i];
                let joined_on = Some(self.today());
                self.push(
                    ORGANISER,
                    CampaignCityJoined {
                        joined_on,
                        ..records::campaign_city_joined(CAMPAIGN_ID, city, code)
                    },
                );
            }
            Plan::MotionTabled(l) => {
                let link = &LINKS[l];
                let motion = link.motion.as_ref().expect("planned with a motion");
                let (council, motion_title) = if motion.council.is_empty() {
                    (
                        format!("{} City Council", link.city),
                        format!(
                            "End the {} with {}",
                            link_kind_words(link.kind),
                            link.partner_city
                        ),
                    )
                } else {
                    (motion.council.to_string(), motion.title.to_string())
                };
                let source_url = motion.council.is_empty().then(|| {
                    format!(
                        "https://council-minutes.example/{}/{}",
                        slug(link.city),
                        motion.id
                    )
                });
                let tabled_on = Some(motion.tabled_on.map_or_else(|| self.today(), date));
                let text_hash = Some(self.random_hash());
                self.push(
                    ORGANISER,
                    MotionTabled {
                        council: name(&council),
                        link_id: Some(id(link.id)),
                        proposer: motion.proposer.map(name),
                        title: title(&motion_title),
                        text_hash,
                        tabled_on,
                        source_url: source_url.map(|u| url(&u)),
                        ..records::motion_tabled(motion.id)
                    },
                );
            }
            Plan::MotionAmended(l) => {
                let link = &LINKS[l];
                let motion = link.motion.as_ref().expect("planned with a motion");
                let text_hash = Some(self.random_hash());
                let amended_on = Some(self.today());
                self.push(
                    ORGANISER,
                    MotionAmended {
                        title: Some(title(&format!(
                            "Review, then end, the {} with {}",
                            link_kind_words(link.kind),
                            link.partner_city
                        ))),
                        text_hash,
                        amended_on,
                        ..records::motion_amended(motion.id)
                    },
                );
            }
            Plan::MotionVoted(l, passes) => {
                let motion = LINKS[l].motion.as_ref().expect("planned with a motion");
                let (votes_for, votes_against, abstentions) = match motion.votes {
                    Some((f, a, s)) => (Some(f), Some(a), Some(s)),
                    None if motion.majority.is_some() => (None, None, None),
                    None => {
                        let (winners, losers) =
                            (self.rng.gen_range(30..70), self.rng.gen_range(0..25));
                        let abstentions = self.rng.gen_range(0..6);
                        if passes {
                            (Some(winners), Some(losers), Some(abstentions))
                        } else {
                            (Some(losers), Some(winners), Some(abstentions))
                        }
                    }
                };
                let voted_on = Some(motion.voted_on.map_or_else(|| self.today(), date));
                let result = if passes {
                    VoteResult::Passed
                } else {
                    VoteResult::Failed
                };
                self.push(
                    ORGANISER,
                    MotionVoted {
                        votes_for,
                        votes_against,
                        abstentions,
                        voted_on,
                        majority: motion.majority.map(name),
                        ..records::motion_voted(motion.id, result)
                    },
                );
            }
            Plan::MotionWithdrawn(l) => {
                let motion = LINKS[l].motion.as_ref().expect("planned with a motion");
                let withdrawn_on = Some(self.today());
                self.push(
                    ORGANISER,
                    MotionWithdrawn {
                        withdrawn_on,
                        ..records::motion_withdrawn(motion.id)
                    },
                );
            }
            Plan::LinkSevered(l) => {
                let link = &LINKS[l];
                let motion = link.motion.as_ref().expect("planned with a motion");
                let effective_on = Some(motion.voted_on.map_or_else(|| self.today(), date));
                self.push(
                    ORGANISER,
                    TwinLinkStatusChanged {
                        effective_on,
                        motion_id: Some(id(motion.id)),
                        ..records::twin_link_status_changed(link.id, LinkStatus::Severed)
                    },
                );
            }
            Plan::PetitionClosed(p) => {
                let plan = &PETITIONS[p];
                self.push(
                    ORGANISER,
                    PetitionClosed {
                        reason: Some(title(&format!("Handed in to {}", plan.target))),
                        ..records::petition_closed(plan.id)
                    },
                );
                self.petitions[p].open = false;
            }
            Plan::StallBatch(e) => self.paper_batch(Some(e)),
        }
    }

    /// An open petition, by weight.
    fn pick_petition(&mut self) -> usize {
        let total: f64 = PETITIONS
            .iter()
            .zip(&self.petitions)
            .filter(|(_, state)| state.open)
            .map(|(plan, _)| plan.weight)
            .sum();
        let mut x = self.rng.gen::<f64>() * total;
        let mut last = 0;
        for (p, (plan, state)) in PETITIONS.iter().zip(&self.petitions).enumerate() {
            if !state.open {
                continue;
            }
            last = p;
            if x < plan.weight {
                return p;
            }
            x -= plan.weight;
        }
        last
    }

    fn signature(&mut self) {
        let p = self.pick_petition();
        let plan = &PETITIONS[p];
        let (country, constituency, ward, council) = if self.rng.gen_bool(plan.overseas) {
            let country = self.overseas[self.rng.gen_range(0..self.overseas.len())];
            (country, None, None, None)
        } else {
            let home = &self.petitions[p].home;
            let c = if !home.is_empty() && self.rng.gen_bool(HOME_SHARE) {
                home[self.rng.gen_range(0..home.len())]
            } else {
                self.rng.gen_range(0..self.constituencies.len())
            };
            let seat = &self.constituencies[c];
            let ward = (!self.rng.gen_bool(NO_WARD_SHARE))
                .then(|| seat.wards[self.rng.gen_range(0..seat.wards.len())]);
            let council = (!self.rng.gen_bool(NO_COUNCIL_SHARE)).then(|| seat.council.clone());
            (self.gb, Some(seat.code), ward, council)
        };
        let batches = &mut self.petitions[p].batches;
        let (channel, author) = if !batches.is_empty() && self.rng.gen_bool(PAPER_SHARE) {
            let open = batches.len().min(OPEN_BATCHES);
            let b = batches.len() - 1 - self.rng.gen_range(0..open);
            let batch_id = batches[b].0.clone();
            batches[b].1 -= 1;
            if batches[b].1 == 0 {
                batches.remove(b);
            }
            (Channel::Paper { batch_id }, PAPER_DESK)
        } else {
            (Channel::Online, ONLINE[self.rng.gen_range(0..ONLINE.len())])
        };
        let identities = if self.rng.gen_bool(TWO_IDENTITIES_SHARE) {
            2
        } else {
            1
        };
        let tags: Vec<DedupTag> = (0..identities).map(|_| self.fresh_tag()).collect();
        let commitment = self.random_hash();
        let signature = SignatureRecorded {
            country,
            constituency,
            ward,
            council,
            channel,
            consent_to_share: self.rng.gen_bool(CONSENT_SHARE),
            dedup_tags: DedupTags::from_unsorted(&tags).expect("one or two fresh tags"),
            commitment,
            ..records::signature_recorded(&self.petitions[p].id, 0)
        };
        let index = self.push(author, signature);
        self.live.push(index);
    }

    /// A live signature withdrawn by its signer (through the web form).
    fn withdraw(&mut self) {
        if self.live.is_empty() {
            return self.signature();
        }
        let index = self
            .live
            .swap_remove(self.rng.gen_range(0..self.live.len()));
        let author = ONLINE[self.rng.gen_range(0..2)];
        self.push(author, records::signature_withdrawn(index));
    }

    /// Live signatures struck out by a moderator.
    fn invalidate(&mut self) {
        let x: f64 = self.rng.gen();
        let (reason, wanted, note) = if x < 0.6 {
            (
                InvalidationReason::Duplicate,
                self.rng.gen_range(1..=8),
                "same person on paper and online",
            )
        } else if x < 0.9 {
            (
                InvalidationReason::Ineligible,
                self.rng.gen_range(1..=4),
                "not eligible for this petition",
            )
        } else {
            (
                InvalidationReason::Fraud,
                self.rng.gen_range(20..=120),
                "scripted sign-ups from one network",
            )
        };
        let wanted = wanted.min(self.live.len());
        if wanted == 0 {
            return self.signature();
        }
        let mut indexes: Vec<u64> = (0..wanted)
            .map(|_| {
                self.live
                    .swap_remove(self.rng.gen_range(0..self.live.len()))
            })
            .collect();
        indexes.sort_unstable();
        let note = self.rng.gen_bool(0.7).then(|| title(note));
        self.push(
            MODERATOR,
            SignaturesInvalidated {
                note,
                ..records::signatures_invalidated(&indexes, reason)
            },
        );
    }

    fn schedule_event(&mut self) {
        let x: f64 = self.rng.gen();
        let (kind, hours) = match x {
            x if x < 0.50 => (EventKind::Stall, 2..=4),
            x if x < 0.70 => (EventKind::Rally, 1..=3),
            x if x < 0.80 => (EventKind::March, 2..=4),
            x if x < 0.85 => (EventKind::Vigil, 1..=2),
            x if x < 0.95 => (EventKind::Meeting, 1..=2),
            _ => (EventKind::Online, 1..=2),
        };
        let (city, place, country) = if self.rng.gen_bool(0.85) {
            let (city, place) = UK_CITIES[self.rng.gen_range(0..UK_CITIES.len())];
            (city, Some(name(place)), self.gb)
        } else {
            let (city, code) = LATER_CITIES[self.rng.gen_range(0..LATER_CITIES.len())];
            (city, Some(name("City Hall")), country(code))
        };
        let place = if kind == EventKind::Online {
            None
        } else {
            place
        };
        let n = self.events.len();
        let event_id = id(&format!("{}-{}-{n}", slug(city), kind.as_str()));
        // Announced a few hours ahead, on the quarter hour.
        let starts = (self.now_seconds() + self.rng.gen_range(3_600..6 * 3_600)) / 900 * 900;
        let ends = starts + self.rng.gen_range(hours) * 3_600;
        let event_title = match kind {
            EventKind::Stall => format!("Petition stall in {city}"),
            EventKind::Rally => format!("Rally: end the {city} twin link"),
            EventKind::March => format!("March for Hong Kong in {city}"),
            EventKind::Vigil => format!("Candlelight vigil in {city}"),
            EventKind::Meeting => format!("Campaign meeting in {city}"),
            EventKind::Online => "Online briefing for new volunteers".to_string(),
        };
        let group = self
            .rng
            .gen_bool(0.9)
            .then(|| name(GROUPS[self.rng.gen_range(0..GROUPS.len())]));
        let timestamp = |s: i64| Timestamp::from_unix_seconds(s).expect("a valid time");
        self.push(
            ORGANISER,
            EventScheduled {
                kind,
                title: title(&event_title),
                country: Some(country),
                place: place.clone(),
                starts_at: timestamp(starts),
                ends_at: Some(timestamp(ends)),
                group,
                ..records::event_scheduled(&event_id, city)
            },
        );
        self.events.push(EventState {
            id: event_id,
            kind,
            city,
            place,
        });
        self.upcoming.push(Reverse((ends, n)));
    }

    /// The outcome of the event that ended first: held (most), cancelled, or moved.
    fn resolve_event(&mut self) {
        let Some(Reverse((ends, e))) = self.upcoming.pop() else {
            return;
        };
        let event_id = self.events[e].id.clone();
        let x: f64 = self.rng.gen();
        if x < 0.04 {
            self.push(
                ORGANISER,
                EventChanged {
                    place: Some(name("Town Hall steps")),
                    ..records::event_changed(&event_id)
                },
            );
            self.upcoming.push(Reverse((ends + 3_600, e)));
        } else if x < 0.12 {
            self.push(
                ORGANISER,
                EventCancelled {
                    reason: Some(title("Severe weather warning")),
                    ..records::event_cancelled(&event_id)
                },
            );
        } else {
            let kind = self.events[e].kind;
            let range = match kind {
                EventKind::Stall => 10..=60,
                EventKind::Rally => 80..=400,
                EventKind::March => 150..=1_500,
                EventKind::Vigil => 20..=150,
                EventKind::Meeting => 8..=80,
                EventKind::Online => 20..=300,
            };
            let attendance = self.rng.gen_bool(0.9).then(|| self.rng.gen_range(range));
            self.push(ORGANISER, records::event_held(&event_id, attendance));
            if kind == EventKind::Stall && self.rng.gen_bool(0.6) {
                self.due.push_back(Plan::StallBatch(e));
            }
        }
    }

    /// A bundle of paper sheets, collected at `event` or at a stall without one.
    fn paper_batch(&mut self, event: Option<usize>) {
        let p = self.pick_petition();
        let n = self.batches;
        self.batches += 1;
        let (city, event_id, stall) = match event {
            Some(e) => {
                let event = &self.events[e];
                (event.city, Some(event.id.clone()), event.place.clone())
            }
            None => {
                let (city, place) = UK_CITIES[self.rng.gen_range(0..UK_CITIES.len())];
                (city, None, Some(name(place)))
            }
        };
        let batch_id = id(&format!("{}-{}-{n}", slug(city), self.today()));
        let collector = id(&format!("volunteer-{}", self.rng.gen_range(1..400)));
        let sheet_scan_hash = self.rng.gen_bool(0.85).then(|| self.random_hash());
        let signatures = self.rng.gen_range(20..=300);
        self.push(
            PAPER_DESK,
            PaperBatchRecorded {
                event_id,
                stall,
                collector,
                sheet_scan_hash,
                ..records::paper_batch_recorded(&batch_id, &self.petitions[p].id, signatures)
            },
        );
        self.petitions[p].batches.push((batch_id, signatures));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A log has exactly `records` valid entries in time order, is the same for the
    /// same seed, and has the mix the module docs promise. (That the projector accepts
    /// every record is checked in `projector/tests/audit.rs`.)
    #[test]
    fn logs_are_valid_deterministic_and_mostly_signatures() {
        let log = campaign_log(6_000, 11);
        assert_eq!(log.len(), 6_000);
        assert_eq!(log, campaign_log(6_000, 11));
        assert_ne!(log, campaign_log(6_000, 12));
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        let mut last_ms = 0;
        for bytes in &log {
            let entry = Entry::decode(bytes).expect("a valid entry");
            assert!(entry.time_ms() > last_ms, "time goes forward");
            last_ms = entry.time_ms();
            *kinds.entry(entry.kind()).or_default() += 1;
        }
        let share = |kind: &str| kinds.get(kind).copied().unwrap_or(0) as f64 / log.len() as f64;
        assert!(share("signature.recorded") > 0.95, "{kinds:?}");
        assert!(
            (0.008..0.025).contains(&share("signature.withdrawn")),
            "{kinds:?}"
        );
        assert!(share("signatures.invalidated") > 0.0, "{kinds:?}");
        let header = [
            ("campaign.launched", 1),
            ("petition.opened", PETITIONS.len()),
            ("twin_link.registered", LINKS.len()),
        ];
        for (kind, count) in header {
            assert_eq!(kinds.get(kind), Some(&count), "{kind}");
        }
        for kind in [
            "campaign.city_joined",
            "paper_batch.recorded",
            "event.scheduled",
            "motion.tabled",
            "motion.amended",
            "motion.voted",
            "motion.withdrawn",
            "twin_link.status_changed",
            "petition.closed",
        ] {
            assert!(kinds.contains_key(kind), "{kind}: {kinds:?}");
        }
    }
}
