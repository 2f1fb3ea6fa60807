//! The records that `campaign-ledger serve --demo` seeds into a fresh log.
//!
//! [`demo_records`] returns JSON request bodies of the shapes `POST /api/v1/records`
//! accepts; the server feeds them through its normal append path, so the demo log is
//! built, checked, hashed and signed exactly like a real one.
//!
//! What it seeds, in append order:
//!
//! 1. The global detwin campaign (launched 1 July 2022, 163 city councils in 7
//!    countries) and the 14 UK cities of the joint action of 1 October 2022.
//! 2. Two twin links and the council motions that ended them: Newcastle upon Tyne –
//!    Taiyuan (sister link, motion by Cllr Wendy Taylor, passed unanimously on
//!    2 November 2022) and Bath – Jiangxi (friendship link, motion by Cllr Andy Furse,
//!    passed by a large majority on 17 November 2022).
//! 3. Events: the Newcastle "Be Water" rally of 12 June 2022 (about 200 people), one
//!    event per city on the joint action day, and the LHKA stall on Lord Street,
//!    Liverpool, on 11 December 2022.
//! 4. The petition for an independent advisory committee on city diplomacy and a
//!    national public consultation.
//! 5. [`SYNTHETIC_SIGNATURES`] synthetic signatures on that petition: most online,
//!    and one paper batch from the Lord Street stall followed by its signatures.
//!
//! Only the campaign's public facts (README: the global detwin campaign, the 14-city UK
//! joint action of 1 October, the Newcastle and Bath votes) are used. Whatever they do
//! not give (vote counts, the date a motion was tabled, when a link began, the kind of
//! the joint-action events, attendance on the joint action day) is left out of the
//! record rather than made up; the few placeholders the record shapes force on us
//! (the time of day of an event) are marked where they are set.
//!
//! **Note: every signature in the demo is synthetic.** The signers are called
//! `Sample Signer 00001` and so on, their email addresses are in the reserved
//! `example.invalid` domain, and the postcodes of paper signers (and of every third
//! online signer, who so has two identities and two dedup tags) are generated. Only the area
//! codes are real: the 2010–2024 Westminster constituency codes of the 14 cities, so
//! that counts by constituency look like a live campaign's. The spread across cities,
//! the constituencies and the consent flags come from a fixed-seed PRNG, so the demo
//! log is the same on every run.

use serde_json::{json, Value};

/// How many synthetic signatures demo_records() contains (online and paper together).
pub const SYNTHETIC_SIGNATURES: usize = 2_400;

/// How many of the synthetic signatures were collected on paper at the LHKA stall.
const PAPER_SIGNATURES: usize = 120;

const CAMPAIGN_ID: &str = "global-detwin";
const JOINT_ACTION_ID: &str = "uk-joint-action-2022-10-01";
const PETITION_ID: &str = "uk-city-diplomacy";
const STALL_EVENT_ID: &str = "lhka-2022-12-11";
const BATCH_ID: &str = "lhka-stall-2022-12-11";

const NEWCASTLE: &str = "Newcastle upon Tyne";

/// One city of the UK joint action.
struct City {
    /// As the city is called in records (`city`, `council`).
    name: &'static str,
    /// Relative share of the synthetic online signatures (roughly by size; synthetic).
    weight: u64,
    /// Westminster constituencies (2010–2024 boundaries, in force in 2022) in the city.
    constituencies: &'static [&'static str],
}

/// The 14 cities of the UK joint action of 1 October 2022, in the order the campaign
/// lists them. "Newcastle" is written out as Newcastle upon Tyne, the name the twin
/// link and the rally use; "Kingston" stays as given.
const CITIES: [City; 14] = [
    City {
        name: "Birmingham",
        weight: 22,
        // Edgbaston, Hall Green, Ladywood, Perry Barr, Selly Oak.
        constituencies: &[
            "E14000560",
            "E14000562",
            "E14000564",
            "E14000566",
            "E14000567",
        ],
    },
    City {
        name: "Edinburgh",
        weight: 11,
        // East, North and Leith, South, South West, West.
        constituencies: &[
            "S14000022",
            "S14000023",
            "S14000024",
            "S14000025",
            "S14000026",
        ],
    },
    City {
        name: "Exeter",
        weight: 3,
        constituencies: &["E14000698"],
    },
    City {
        name: "Glasgow",
        weight: 14,
        // Central, East, North, North East, South, South West.
        constituencies: &[
            "S14000029",
            "S14000030",
            "S14000031",
            "S14000032",
            "S14000034",
            "S14000035",
        ],
    },
    City {
        name: "Guildford",
        weight: 2,
        constituencies: &["E14000719"],
    },
    City {
        name: "Kingston",
        weight: 3,
        // Kingston and Surbiton.
        constituencies: &["E14000770"],
    },
    City {
        name: "Leeds",
        weight: 13,
        // Central, East, North East, North West, West.
        constituencies: &[
            "E14000777",
            "E14000778",
            "E14000779",
            "E14000780",
            "E14000781",
        ],
    },
    City {
        name: "Liverpool",
        weight: 9,
        // Riverside, Walton, Wavertree, West Derby.
        constituencies: &LIVERPOOL_CONSTITUENCIES,
    },
    City {
        name: NEWCASTLE,
        weight: 8,
        // Central, East, North.
        constituencies: &["E14000831", "E14000832", "E14000833"],
    },
    City {
        name: "Nottingham",
        weight: 6,
        // East, North, South.
        constituencies: &["E14000865", "E14000866", "E14000867"],
    },
    City {
        name: "Perth",
        weight: 1,
        // Perth and North Perthshire.
        constituencies: &["S14000054"],
    },
    City {
        name: "Reading",
        weight: 3,
        // East, West.
        constituencies: &["E14000889", "E14000890"],
    },
    City {
        name: "Sheffield",
        weight: 10,
        // Central, South East, Brightside and Hillsborough, Hallam, Heeley.
        constituencies: &[
            "E14000919",
            "E14000920",
            "E14000921",
            "E14000922",
            "E14000923",
        ],
    },
    City {
        name: "Sutton",
        weight: 3,
        // Sutton and Cheam, Carshalton and Wallington.
        constituencies: &["E14000984", "E14000621"],
    },
];

/// Riverside, Walton, Wavertree, West Derby; the paper signatures from the Lord Street
/// stall are spread over these.
const LIVERPOOL_CONSTITUENCIES: [&str; 4] = ["E14000793", "E14000794", "E14000795", "E14000796"];

/// Every record of the demo campaign, in append order (facts first, then synthetic
/// signatures).
pub fn demo_records() -> Vec<Value> {
    let mut records = Vec::with_capacity(64 + SYNTHETIC_SIGNATURES);
    campaign(&mut records);
    twin_links_and_motions(&mut records);
    events(&mut records);
    petition(&mut records);
    synthetic_signatures(&mut records);
    records
}

fn campaign(out: &mut Vec<Value>) {
    out.push(json!({
        "type": "campaign.launched",
        "campaign_id": CAMPAIGN_ID,
        "title": "Global Detwin: end sister-city links",
        "launched_on": "2022-07-01",
        "target_cities": 163,
        "countries": 7,
    }));
    // The date each city joined is not given, so joined_on is absent.
    for city in &CITIES {
        out.push(json!({
            "type": "campaign.city_joined",
            "campaign_id": CAMPAIGN_ID,
            "city": city.name,
            "country": "GB",
        }));
    }
}

fn twin_links_and_motions(out: &mut Vec<Value>) {
    // When the links began is not given, so `since` is absent; so are the dates the
    // motions were tabled and the vote counts.
    out.push(json!({
        "type": "twin_link.registered",
        "link_id": "newcastle-taiyuan",
        "city": NEWCASTLE,
        "country": "GB",
        "partner_city": "Taiyuan",
        "partner_country": "CN",
        "kind": "sister",
    }));
    out.push(json!({
        "type": "twin_link.registered",
        "link_id": "bath-jiangxi",
        "city": "Bath",
        "country": "GB",
        "partner_city": "Jiangxi",
        "partner_country": "CN",
        "kind": "friendship",
    }));

    // Tabled by Cllr Wendy Taylor on behalf of a student group (the record has no field
    // for on whose behalf).
    out.push(json!({
        "type": "motion.tabled",
        "motion_id": "ncc-2022-11",
        "council": "Newcastle City Council",
        "link_id": "newcastle-taiyuan",
        "proposer": "Cllr Wendy Taylor",
        "title": "End the sister city link with Taiyuan",
    }));
    out.push(json!({
        "type": "motion.tabled",
        "motion_id": "banes-2022-11",
        "council": "Bath and North East Somerset Council",
        "link_id": "bath-jiangxi",
        "proposer": "Cllr Andy Furse",
        "title": "End the friendship link with Jiangxi",
    }));
    out.push(json!({
        "type": "motion.voted",
        "motion_id": "ncc-2022-11",
        "result": "passed",
        "voted_on": "2022-11-02",
        "majority": "unanimous",
    }));
    out.push(json!({
        "type": "motion.voted",
        "motion_id": "banes-2022-11",
        "result": "passed",
        "voted_on": "2022-11-17",
        "majority": "large majority",
    }));
    out.push(json!({
        "type": "twin_link.status_changed",
        "link_id": "newcastle-taiyuan",
        "status": "severed",
        "effective_on": "2022-11-02",
        "motion_id": "ncc-2022-11",
    }));
    out.push(json!({
        "type": "twin_link.status_changed",
        "link_id": "bath-jiangxi",
        "status": "severed",
        "effective_on": "2022-11-17",
        "motion_id": "banes-2022-11",
    }));
}

fn events(out: &mut Vec<Value>) {
    // The "Be Water" rally, about 200 people. The time of day is not given: 12:00
    // local (BST) is a placeholder.
    let be_water = "newcastle-be-water-2022-06-12";
    out.push(json!({
        "type": "event.scheduled",
        "event_id": be_water,
        "kind": "rally",
        "title": "Be Water rally",
        "city": NEWCASTLE,
        "country": "GB",
        "starts_at": "2022-06-12T12:00:00+01:00",
    }));
    out.push(json!({
        "type": "event.held",
        "event_id": be_water,
        "attendance": 200,
    }));

    // The UK joint action day: one event in each of the 14 cities. Neither the kind of
    // event nor the time of day is given: "rally" and 12:00 local (BST) are
    // placeholders. The day took place, so each event is marked held, without an
    // attendance figure (none is given).
    for city in &CITIES {
        out.push(json!({
            "type": "event.scheduled",
            "event_id": joint_action_event_id(city),
            "kind": "rally",
            "title": format!("UK joint action day: {}", city.name),
            "city": city.name,
            "country": "GB",
            "starts_at": "2022-10-01T12:00:00+01:00",
            "joint_action": JOINT_ACTION_ID,
        }));
    }
    for city in &CITIES {
        out.push(json!({
            "type": "event.held",
            "event_id": joint_action_event_id(city),
        }));
    }

    // The LHKA stall on Lord Street, exactly as docs/API.md shows it. Whether and how it
    // was held is not given, so there is no event.held.
    out.push(json!({
        "type": "event.scheduled",
        "event_id": STALL_EVENT_ID,
        "kind": "stall",
        "title": "Global Detwin in UK",
        "city": "Liverpool",
        "place": "Lord Street",
        "starts_at": "2022-12-11T12:00:00Z",
        "group": "LHKA",
        "joint_action": CAMPAIGN_ID,
    }));
}

fn joint_action_event_id(city: &City) -> String {
    format!("{JOINT_ACTION_ID}-{}", slug(city.name))
}

/// Lower case, spaces to '-': "Newcastle upon Tyne" -> "newcastle-upon-tyne".
fn slug(name: &str) -> String {
    name.to_ascii_lowercase().replace(' ', "-")
}

fn petition(out: &mut Vec<Value>) {
    // 10,000 signatures get a government response, 100,000 are considered for a
    // debate (UK Parliament e-petitions). No closing date is given.
    out.push(json!({
        "type": "petition.opened",
        "petition_id": PETITION_ID,
        "title": "An independent advisory committee on city diplomacy and a national public consultation",
        "text": "We call for an independent advisory committee on city diplomacy and a national public consultation.",
        "target": "UK Parliament",
        "thresholds": [10_000, 100_000],
    }));
}

// ---------------------------------------------------------------------------------
// Synthetic signatures
// ---------------------------------------------------------------------------------

/// splitmix64: a tiny, fixed, well-mixed PRNG, so the demo is the same on every run.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..n` for demo data (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Share of synthetic signers who agree to their details being shown to the target.
const CONSENT_PERCENT: u64 = 70;

/// One online signer in this many also gives a (synthetic) postcode.
const ONLINE_WITH_POSTCODE_EVERY: usize = 3;

fn synthetic_signatures(out: &mut Vec<Value>) {
    let mut rng = SplitMix64(0x6465_6d6f_2d73_6967); // "demo-sig"
    let total_weight: u64 = CITIES.iter().map(|c| c.weight).sum();
    let online = SYNTHETIC_SIGNATURES - PAPER_SIGNATURES;
    // Postcodes of the online signers who give one, from an rng of their own so that
    // the rest of the demo does not depend on how many there are.
    let mut postcodes = SplitMix64(0x6465_6d6f_2d70_6f73); // "demo-pos"

    for n in 1..=online {
        let city = weighted_city(&mut rng, total_weight);
        let constituency = *rng.pick(city.constituencies);
        let consent = rng.chance(CONSENT_PERCENT);
        let mut record = signature_base(n, city.name, constituency, consent);
        record["email"] = json!(format!("sample-{n:05}@example.invalid"));
        if n % ONLINE_WITH_POSTCODE_EVERY == 0 {
            // An email and a postcode: two identities, so two dedup tags.
            record["postcode"] = json!(synthetic_liverpool_postcode(&mut postcodes));
        }
        record["channel"] = json!("online");
        out.push(record);
    }

    out.push(json!({
        "type": "paper_batch.recorded",
        "batch_id": BATCH_ID,
        "petition_id": PETITION_ID,
        "event_id": STALL_EVENT_ID,
        "stall": "Lord Street",
        "collector": "collector-1",
        "count": PAPER_SIGNATURES,
    }));
    for n in online + 1..=SYNTHETIC_SIGNATURES {
        let constituency = *rng.pick(&LIVERPOOL_CONSTITUENCIES);
        let consent = rng.chance(CONSENT_PERCENT);
        let mut record = signature_base(n, "Liverpool", constituency, consent);
        record["postcode"] = json!(synthetic_liverpool_postcode(&mut rng));
        record["channel"] = json!("paper");
        record["batch_id"] = json!(BATCH_ID);
        out.push(record);
    }
}

fn weighted_city(rng: &mut SplitMix64, total_weight: u64) -> &'static City {
    let mut r = rng.below(total_weight);
    for city in &CITIES {
        if r < city.weight {
            return city;
        }
        r -= city.weight;
    }
    unreachable!("r is below the sum of the weights")
}

/// The fields every synthetic signature has; the caller adds the channel and either
/// an email (online) or a postcode and batch (paper).
fn signature_base(n: usize, council: &str, constituency: &str, consent: bool) -> Value {
    json!({
        "type": "signature.added",
        "petition_id": PETITION_ID,
        "name": format!("Sample Signer {n:05}"),
        "country": "GB",
        "constituency": constituency,
        "council": council,
        "consent_to_share": consent,
    })
}

/// A made-up postcode in the shape of a Liverpool one (`L1 0AA` to `L25 9ZZ`); it
/// belongs to no one.
fn synthetic_liverpool_postcode(rng: &mut SplitMix64) -> String {
    // Letters used in the inward part of UK postcodes (no C, I, K, M, O, V).
    const INWARD: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";
    let district = 1 + rng.below(25);
    let sector = rng.below(10);
    let a = char::from(*rng.pick(INWARD));
    let b = char::from(*rng.pick(INWARD));
    format!("L{district} {sector}{a}{b}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn kind(record: &Value) -> &str {
        record["type"]
            .as_str()
            .expect("every record has a string type")
    }

    fn str_field<'a>(record: &'a Value, field: &str) -> Option<&'a str> {
        record.get(field).and_then(Value::as_str)
    }

    fn of_kind(records: &[Value], kind_name: &str) -> usize {
        records.iter().filter(|r| kind(r) == kind_name).count()
    }

    #[test]
    fn output_is_deterministic() {
        assert_eq!(demo_records(), demo_records());
    }

    /// Every record read as `POST /api/v1/records` reads it (each field checked: ids,
    /// dates, timestamps, area codes, postcodes) and decided in order by the rules
    /// `serve --demo` appends it under: every id is defined once, every reference
    /// (campaign, link, motion, event, petition, paper batch) before its use, no motion
    /// voted nor event held twice, no batch over its count.
    #[test]
    fn every_record_is_read_and_accepted_in_order() {
        let mut projection = projector::Projection::new();
        for record in demo_records() {
            let object = record.as_object().expect("every record is an object");
            assert!(
                object.values().all(|v| !v.is_null()),
                "absent fields are omitted, not null: {record}"
            );
            let body = serde_json::to_vec(&record).unwrap();
            let [input] = <[_; 1]>::try_from(crate::input::parse_request(&body).unwrap()).unwrap();
            let prepared = input
                .prepare(
                    ledger::HashAlg::Blake3,
                    &[7; 32],
                    &mut rand::thread_rng(),
                    None,
                )
                .unwrap_or_else(|e| panic!("{record}: {e:?}"));
            let entry = ledger::Entry::v1(0, "demo", prepared.record);
            projection
                .try_apply(&entry)
                .unwrap_or_else(|e| panic!("{record}: {e:?}"));
        }
    }

    #[test]
    fn counts_by_type() {
        let records = demo_records();
        let expect = [
            ("campaign.launched", 1),
            ("campaign.city_joined", 14),
            ("twin_link.registered", 2),
            ("motion.tabled", 2),
            ("motion.voted", 2),
            ("twin_link.status_changed", 2),
            ("event.scheduled", 16),
            ("event.held", 15),
            ("petition.opened", 1),
            ("paper_batch.recorded", 1),
            ("signature.added", SYNTHETIC_SIGNATURES),
        ];
        for (kind_name, n) in expect {
            assert_eq!(of_kind(&records, kind_name), n, "{kind_name}");
        }
        let total: usize = expect.iter().map(|(_, n)| n).sum();
        assert_eq!(records.len(), total, "no other record types");
    }

    #[test]
    fn facts_come_before_synthetic_signatures() {
        let records = demo_records();
        let first_signature = records
            .iter()
            .position(|r| kind(r) == "signature.added")
            .unwrap();
        let tail = &records[first_signature..];
        assert!(tail
            .iter()
            .all(|r| matches!(kind(r), "signature.added" | "paper_batch.recorded")));
    }

    #[test]
    fn the_given_facts_are_there() {
        let records = demo_records();
        assert_eq!(
            records[0],
            json!({"type":"campaign.launched","campaign_id":"global-detwin",
                   "title":"Global Detwin: end sister-city links","launched_on":"2022-07-01",
                   "target_cities":163,"countries":7})
        );
        let stall = records
            .iter()
            .find(|r| str_field(r, "event_id") == Some(STALL_EVENT_ID))
            .unwrap();
        assert_eq!(
            stall,
            &json!({"type":"event.scheduled","event_id":"lhka-2022-12-11","kind":"stall",
                    "title":"Global Detwin in UK","city":"Liverpool","place":"Lord Street",
                    "starts_at":"2022-12-11T12:00:00Z","group":"LHKA",
                    "joint_action":"global-detwin"})
        );
        let joint: Vec<&Value> = records
            .iter()
            .filter(|r| str_field(r, "joint_action") == Some(JOINT_ACTION_ID))
            .collect();
        assert_eq!(joint.len(), 14);
        assert!(joint
            .iter()
            .all(|r| str_field(r, "starts_at").unwrap().starts_with("2022-10-01")));
        let votes: Vec<(&str, &str)> = records
            .iter()
            .filter(|r| kind(r) == "motion.voted")
            .map(|r| {
                assert!(r.get("votes_for").is_none(), "counts are not given");
                (
                    str_field(r, "voted_on").unwrap(),
                    str_field(r, "majority").unwrap(),
                )
            })
            .collect();
        assert_eq!(
            votes,
            [
                ("2022-11-02", "unanimous"),
                ("2022-11-17", "large majority")
            ]
        );
        // Each link is severed by its motion, voted before.
        let last_vote = records.iter().rposition(|r| kind(r) == "motion.voted");
        let first_severed = records
            .iter()
            .position(|r| kind(r) == "twin_link.status_changed");
        assert!(last_vote < first_severed);
        let rally_held = records
            .iter()
            .find(|r| kind(r) == "event.held" && r.get("attendance").is_some())
            .unwrap();
        assert_eq!(rally_held["attendance"], 200);
        assert_eq!(
            of_kind(&records, "event.held"),
            15,
            "the rally and the 14 joint-action events are held; the stall is not"
        );
        assert!(!records
            .iter()
            .any(|r| kind(r) == "event.held" && str_field(r, "event_id") == Some(STALL_EVENT_ID)));
    }

    #[test]
    fn signatures_are_synthetic_and_well_formed() {
        let records = demo_records();
        let signatures: Vec<&Value> = records
            .iter()
            .filter(|r| kind(r) == "signature.added")
            .collect();
        assert_eq!(signatures.len(), SYNTHETIC_SIGNATURES);

        let city_names: BTreeSet<&str> = CITIES.iter().map(|c| c.name).collect();
        let mut paper_ids = BTreeSet::new();
        let mut consenting = 0;
        let mut per_council: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, sig) in signatures.iter().enumerate() {
            let name = str_field(sig, "name").unwrap();
            assert_eq!(name, format!("Sample Signer {:05}", i + 1));
            assert_eq!(str_field(sig, "country"), Some("GB"));
            let council = str_field(sig, "council").unwrap();
            assert!(city_names.contains(council), "{council}");
            *per_council.entry(council).or_default() += 1;
            if sig["consent_to_share"].as_bool().unwrap() {
                consenting += 1;
            }
            match str_field(sig, "channel").unwrap() {
                "online" => {
                    // One address each, in the reserved domain.
                    let email = format!("sample-{:05}@example.invalid", i + 1);
                    assert_eq!(str_field(sig, "email"), Some(email.as_str()));
                    assert!(sig.get("batch_id").is_none());
                    // Every third online signer gives a postcode too.
                    assert_eq!(
                        sig.get("postcode").is_some(),
                        (i + 1) % ONLINE_WITH_POSTCODE_EVERY == 0
                    );
                }
                "paper" => {
                    assert_eq!(str_field(sig, "batch_id"), Some(BATCH_ID));
                    assert!(sig.get("email").is_none());
                    assert_eq!(council, "Liverpool");
                    let constituency = str_field(sig, "constituency").unwrap();
                    assert!(LIVERPOOL_CONSTITUENCIES.contains(&constituency));
                    let postcode = str_field(sig, "postcode").unwrap();
                    assert!(postcode.starts_with('L') && (6..=7).contains(&postcode.len()));
                    assert!(paper_ids.insert(postcode.to_owned() + name));
                }
                other => panic!("channel {other}"),
            }
        }
        assert_eq!(paper_ids.len(), PAPER_SIGNATURES);
        let batch = records.iter().find(|r| kind(r) == "paper_batch.recorded");
        assert_eq!(
            batch.unwrap()["count"],
            PAPER_SIGNATURES,
            "its count is its signatures"
        );
        let share = consenting * 100 / SYNTHETIC_SIGNATURES;
        assert!((65..=75).contains(&share), "consent share {share}%");
        assert_eq!(per_council.len(), 14, "every city has signatures");
        assert!(per_council["Birmingham"] > 3 * per_council["Guildford"]);
        assert!(per_council["Perth"] < per_council["Glasgow"]);
    }

    #[test]
    fn constituency_codes_belong_to_their_nation() {
        let scottish = ["Edinburgh", "Glasgow", "Perth"];
        for city in &CITIES {
            let prefix = if scottish.contains(&city.name) {
                "S14"
            } else {
                "E14"
            };
            for code in city.constituencies {
                assert!(code.starts_with(prefix), "{code}");
                ledger::record::AreaCode::parse(code).unwrap();
            }
        }
        let all: Vec<&str> = CITIES
            .iter()
            .flat_map(|c| c.constituencies.iter().copied())
            .collect();
        let distinct: BTreeSet<&str> = all.iter().copied().collect();
        assert_eq!(all.len(), distinct.len(), "a constituency is in one city");
    }
}
