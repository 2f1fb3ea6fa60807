//! `/petitions/{id}`: the count, thresholds with the entry that crossed each, the
//! signing-rate chart, counts by country, constituency, council and ward (with each
//! one's share), online against each paper batch (declared and counted), withdrawals,
//! invalidations, erasures and exports; and `/petitions/{id}/counts.csv`, the
//! petition's counters exactly as the signed tally states them.

use askama::Template;
use ledger::record::PetitionText;
use projector::views::PetitionView;
use projector::Projection;

use super::chart::Chart;
use super::{thousands, utc, Layout, SiteSource};

#[derive(Template)]
#[template(path = "site/petition.html")]
pub(super) struct PetitionPage {
    layout: Layout,
    id: String,
    title: String,
    target: String,
    status: &'static str,
    closes_on: Option<String>,
    /// The full wording, by paragraph (none when the log holds only its hash).
    text: Option<Vec<String>>,
    total: String,
    total_value: u64,
    added: String,
    withdrawn: u64,
    withdrawn_by_signer: u64,
    withdrawn_by_organiser: u64,
    invalidated_total: u64,
    invalidated: Vec<(String, u64)>,
    erased: Vec<(String, u64)>,
    exports_issued: u64,
    signers_revealed: u64,
    thresholds: Vec<ThresholdRow>,
    chart: Chart,
    areas: Vec<AreaTable>,
    online: u64,
    batches: Vec<BatchRow>,
}

struct ThresholdRow {
    value: u64,
    count: String,
    /// How far the live total is to it, while not crossed.
    share: String,
    index: Option<u64>,
    when: String,
}

struct AreaTable {
    kind: &'static str,
    plural: &'static str,
    heading: &'static str,
    rows: Vec<AreaRow>,
    /// Areas with signatures: more than `rows` when the table is cut at
    /// [`MAX_AREA_ROWS`].
    areas: usize,
}

/// Rows an area table shows (the largest); the rest are in the CSV. At a million
/// entries a petition has signatures from thousands of wards, and a page that lists
/// them all weighs a megabyte.
const MAX_AREA_ROWS: usize = 100;

struct AreaRow {
    name: String,
    count: u64,
    share: String,
}

struct BatchRow {
    id: String,
    place: String,
    declared: u32,
    counted: u64,
}

/// `part` of `whole` as a percentage with one decimal.
fn share(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "0.0%".into();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

fn area_table(
    (kind, plural, heading): (&'static str, &'static str, &'static str),
    counts: &std::collections::BTreeMap<&str, u64>,
    total: u64,
) -> AreaTable {
    let mut rows: Vec<AreaRow> = counts
        .iter()
        .map(|(name, &count)| AreaRow {
            name: name.to_string(),
            count,
            share: share(count, total),
        })
        .collect();
    // Largest first, as a reader looks for them; the script sorts otherwise.
    rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    let areas = rows.len();
    rows.truncate(MAX_AREA_ROWS);
    AreaTable {
        kind,
        plural,
        heading,
        rows,
        areas,
    }
}

pub(super) fn page(p: &Projection, source: &SiteSource, id: &str) -> Option<PetitionPage> {
    let view: PetitionView = p.petition(id)?.view;
    let opened = &view.opened.record;
    let total = view.total;
    let thresholds = opened
        .thresholds
        .iter()
        .map(|&threshold| {
            let crossed = view.crossed.iter().find(|c| c.threshold == threshold);
            ThresholdRow {
                value: threshold,
                count: thousands(threshold),
                share: share(total.min(threshold), threshold),
                index: crossed.map(|c| c.index),
                when: crossed.map(|c| utc(c.time_ms)).unwrap_or_default(),
            }
        })
        .collect();
    let text = match &opened.text {
        PetitionText::Full(text) => Some(
            text.split("\n\n")
                .map(|paragraph| paragraph.trim().to_string())
                .filter(|paragraph| !paragraph.is_empty())
                .collect(),
        ),
        PetitionText::Hash(_) => None,
    };
    let batches = view
        .paper_batches
        .iter()
        .map(|batch| {
            let recorded = &batch.recorded.record;
            let place = match (&recorded.stall, &recorded.event_id) {
                (Some(stall), _) => stall.to_string(),
                (None, Some(event)) => format!("event {event}"),
                (None, None) => String::new(),
            };
            BatchRow {
                id: recorded.batch_id.to_string(),
                place,
                declared: recorded.count.get(),
                counted: batch.counted,
            }
        })
        .collect();
    let invalidated: Vec<(String, u64)> = view
        .invalidated
        .iter()
        .map(|(reason, count)| (reason.to_string(), *count))
        .collect();
    Some(PetitionPage {
        layout: Layout::new(source.store, p.tree_size(), ""),
        id: opened.petition_id.to_string(),
        title: opened.title.to_string(),
        target: opened.target.to_string(),
        status: view.status,
        closes_on: opened.closes_on.map(|d| d.to_string()),
        text,
        total: thousands(total),
        total_value: total,
        added: thousands(view.added),
        withdrawn: view.withdrawn,
        withdrawn_by_signer: view.withdrawn_by_signer,
        withdrawn_by_organiser: view.withdrawn - view.withdrawn_by_signer,
        invalidated_total: invalidated.iter().map(|(_, c)| c).sum(),
        invalidated,
        erased: view
            .erased
            .iter()
            .map(|(reason, count)| (reason.replace('_', " "), *count))
            .collect(),
        exports_issued: view.exports_issued,
        signers_revealed: view.signers_revealed,
        thresholds,
        chart: Chart::of(&view.hourly),
        areas: vec![
            area_table(("country", "countries", "Country"), &view.by_country, total),
            area_table(
                ("constituency", "constituencies", "Constituency"),
                &view.by_constituency,
                total,
            ),
            area_table(("council", "councils", "Council"), &view.by_council, total),
            area_table(("ward", "wards", "Ward"), &view.by_ward, total),
        ],
        online: view.by_channel.get("online").copied().unwrap_or(0),
        batches,
    })
}

/// The petition's counters from the tally text, as CSV: `tree_size,counter,count`,
/// one row per `petition/<id>/...` counter (the tally's own names, so every row can
/// be checked against the signed tally of that tree size).
pub(super) fn counts_csv(p: &Projection, id: &str) -> Option<String> {
    p.petition(id)?;
    let size = p.tree_size();
    let prefix = format!("petition/{id}/");
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    out.write_record(["tree_size", "counter", "count"]).ok()?;
    for line in p.tally_text().lines() {
        let Some((key, count)) = line.rsplit_once(' ') else {
            continue;
        };
        if key.starts_with(&prefix) {
            out.write_record([size.to_string().as_str(), key, count])
                .ok()?;
        }
    }
    String::from_utf8(out.into_inner().ok()?).ok()
}
