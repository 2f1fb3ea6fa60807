//! The human files of a bundle: README.txt (plain words), summary.html (one printable
//! page, from a template the engine escapes) and signers.csv (UTF-8 with a BOM and CRLF
//! line ends, so spreadsheets open it as it is).

use askama::Template;
use ledger::record::PetitionText;
use ledger::Hash;

use super::build::{write_err, ExportError, Gathered, RetiredRow};
use super::SIGNERS_HEADER;

/// What the human files say, beside what was gathered.
pub(super) struct Facts<'a> {
    pub gathered: &'a Gathered,
    pub origin: &'a str,
    pub vkey: String,
    pub root: Hash,
    pub counter_key: &'a str,
    pub exported_by: &'a str,
    pub exported_at: &'a str,
}

impl Facts<'_> {
    fn area_label(&self) -> String {
        let area = &self.gathered.frozen.area;
        format!("{} {}", area.kind, area.code)
    }

    fn bundle_name(&self) -> String {
        let frozen = &self.gathered.frozen;
        super::bundle_name(
            frozen.opened.petition_id.as_str(),
            &frozen.area,
            frozen.tree_size,
        )
    }
}

pub(super) fn readme(facts: &Facts<'_>) -> String {
    let frozen = &facts.gathered.frozen;
    let live = facts.gathered.signers.len();
    let revealed = facts.gathered.revealed;
    let personal = if revealed == 0 {
        "It holds no personal data: signers.csv lists each signature by its log index, \
         time and channel."
            .to_string()
    } else {
        format!(
            "signers.csv also gives the name, postcode, email and address of the {revealed} \
             signers who agreed to share them with the petition's target. Keep it as you \
             would any personal data; this export was itself recorded in the public log \
             (as export.issued: how many signers were revealed, never who)."
        )
    };
    format!(
        "campaign-ledger export: petition \"{title}\" ({id})\r\n\
         Area: {area}\r\n\
         Live signatures: {live}, as of tree size {size} of the log {origin}\r\n\
         Exported {at} by {by}.\r\n\
         \r\n\
         What this is\r\n\
         ------------\r\n\
         Every signature from {area} on this petition, taken from the campaign's public,\r\n\
         append-only log, with a cryptographic proof for each. {personal}\r\n\
         \r\n\
         Files\r\n\
         -----\r\n\
         summary.html   one printable page: the petition, the count, withdrawals\r\n\
         signers.csv    one row per live signature (opens in any spreadsheet)\r\n\
         entries.jsonl  each signature's log entry and inclusion proof\r\n\
         checkpoint     the log's signed checkpoint at tree size {size}\r\n\
         tally.note     the signed tally at the same size, and tally.txt its text\r\n\
         manifest.json  what the bundle claims, and the hash of every file;\r\n\
         manifest.note  the log key's signature of the manifest\r\n\
         \r\n\
         How to verify (offline)\r\n\
         -----------------------\r\n\
         1. Compare the log's key with the one the campaign publishes:\r\n\
            {vkey}\r\n\
         2. Run: campaign-ledger verify {file} --vkey '{vkey}'\r\n\
         \r\n\
         The check proves, by itself, that every listed signature is in the log and\r\n\
         counted, and that every name shown is what the signer gave. That no signature\r\n\
         is missing rests on the operator's signed tally (counter {counter} = {live})\r\n\
         and on the auditors who replayed the whole log and cosigned it.\r\n",
        title = frozen.opened.title,
        id = frozen.opened.petition_id,
        area = facts.area_label(),
        size = frozen.tree_size,
        origin = facts.origin,
        at = facts.exported_at,
        by = facts.exported_by,
        vkey = facts.vkey,
        file = facts.bundle_name(),
        counter = facts.counter_key,
    )
}

#[derive(Template)]
#[template(path = "export_summary.html")]
struct Summary<'a> {
    title: &'a str,
    petition_id: &'a str,
    target: &'a str,
    closes_on: Option<String>,
    area_label: String,
    live: usize,
    tree_size: u64,
    root: String,
    exported_at: &'a str,
    exported_by: &'a str,
    channels: Vec<(&'a str, u64)>,
    revealed: u64,
    retired: &'a [RetiredRow],
    text: Option<&'a str>,
    text_hash: String,
    vkey: &'a str,
    bundle_name: String,
    counter_key: &'a str,
}

pub(super) fn summary(facts: &Facts<'_>) -> Result<String, ExportError> {
    let frozen = &facts.gathered.frozen;
    let opened = &frozen.opened;
    let (text, text_hash) = match &opened.text {
        PetitionText::Full(text) => (Some(text.as_str()), String::new()),
        PetitionText::Hash(hash) => (None, hash.to_string()),
    };
    Summary {
        title: opened.title.as_str(),
        petition_id: opened.petition_id.as_str(),
        target: opened.target.as_str(),
        closes_on: opened.closes_on.map(|d| d.to_string()),
        area_label: facts.area_label(),
        live: facts.gathered.signers.len(),
        tree_size: frozen.tree_size,
        root: facts.root.to_string(),
        exported_at: facts.exported_at,
        exported_by: facts.exported_by,
        channels: facts
            .gathered
            .by_channel
            .iter()
            .map(|(channel, count)| (channel.as_str(), *count))
            .collect(),
        revealed: facts.gathered.revealed,
        retired: &facts.gathered.retired,
        text,
        text_hash,
        vkey: &facts.vkey,
        bundle_name: facts.bundle_name(),
        counter_key: facts.counter_key,
    }
    .render()
    .map_err(write_err)
}

/// `signers.csv`: the header, then one row per live signature in log order. Personal
/// columns are empty for a signer not revealed.
pub(super) fn signers_csv(gathered: &Gathered) -> Result<Vec<u8>, ExportError> {
    let mut out = Vec::with_capacity(3 + gathered.signers.len() * 48);
    out.extend_from_slice("\u{feff}".as_bytes());
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    writer.write_record(SIGNERS_HEADER).map_err(write_err)?;
    for row in &gathered.signers {
        let data = row.revealed.as_ref().map(|(data, _)| data);
        writer
            .write_record(super::signer_row(
                row.index,
                row.signed_at_ms,
                &row.channel,
                data,
            ))
            .map_err(write_err)?;
    }
    writer.into_inner().map_err(write_err)
}
