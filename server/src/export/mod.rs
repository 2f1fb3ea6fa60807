//! Export bundles for MPs' and councillors' offices: one zip an office can keep, print,
//! open in a spreadsheet and check offline, with no trust in the campaign
//! (docs/FORMAT.md part F is the byte-level contract).
//!
//! One job per file: this one holds what the writer and the verifier share (file
//! names, the manifest, the lines of `entries.jsonl`, the CSV rules), so a format
//! lives in one place; `build.rs` gathers a petition's signatures in one area from the
//! read models, the store and the vault and writes the zip; `render.rs` writes the
//! human files (README.txt, summary.html, signers.csv); `verify.rs` checks a bundle.
//!
//! Invariants:
//! - Personal data is in a bundle only for live signers who consented to share it,
//!   and only when the caller asked for it (an exporter token scoped to the area); the
//!   HTTP handler logs such a bundle as `export.issued` before it hands it over.
//! - Every byte of every file is covered by a check `verify` makes: the manifest by the
//!   log key's signature in `manifest.note`, every other file by its BLAKE3 in the
//!   manifest, and their contents by the log's own proofs and signatures.

mod build;
mod render;
mod verify;

use ledger::record::AreaKind;
use ledger::Hash;
use serde::{Deserialize, Serialize};

pub use build::{bundle_name, freeze, gather, write_bundle, ExportError, Frozen, Gathered, Issuer};
pub use verify::{describe, verify_bundle, verify_reader, Finding, Report, VerifyOptions};

use crate::input::PersonalData;

/// The `format` of a bundle's manifest.
pub const FORMAT: &str = "campaign-ledger/export/v1";
/// The first line of the body of `manifest.note`.
pub const MANIFEST_NOTE_HEADER: &str = "campaign-ledger/export-manifest/v1";

pub const README: &str = "README.txt";
pub const SUMMARY: &str = "summary.html";
pub const SIGNERS: &str = "signers.csv";
pub const MANIFEST: &str = "manifest.json";
pub const MANIFEST_NOTE: &str = "manifest.note";
pub const CHECKPOINT: &str = "checkpoint";
pub const TALLY_NOTE: &str = "tally.note";
pub const TALLY_TEXT: &str = "tally.txt";
pub const ENTRIES: &str = "entries.jsonl";

/// The files the manifest lists by hash, in the order the zip holds them (after
/// `manifest.json` and `manifest.note`).
pub const HASHED_FILES: [&str; 7] = [
    README, SUMMARY, SIGNERS, CHECKPOINT, TALLY_NOTE, TALLY_TEXT, ENTRIES,
];

/// The header row of `signers.csv`.
pub const SIGNERS_HEADER: [&str; 7] = [
    "index",
    "signed_at",
    "channel",
    "name",
    "postcode",
    "email",
    "address",
];

/// `manifest.json`: what the bundle claims, every claim checked by `verify`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// The log: its origin (the log key's name), hash function and verifier key.
    pub origin: String,
    pub hash: String,
    pub vkey: String,
    pub petition_id: String,
    pub area: ManifestArea,
    /// The tree size and root of the checkpoint everything is proved against.
    pub tree_size: u64,
    pub root: Hash,
    /// The tally counter of the petition's live signatures in the area, and its value.
    pub counter: Counter,
    /// Lines of `entries.jsonl`.
    pub entries: u64,
    pub signatures: SignatureCounts,
    /// `token-<id>` of the token that asked for the bundle, or `operator` (the CLI).
    pub exported_by: String,
    /// When, RFC 3339 UTC.
    pub exported_at: String,
    /// Verifier keys of the auditors whose cosignatures the checkpoint and tally
    /// carry.
    pub cosigners: Vec<String>,
    /// BLAKE3 (hex) of every file but `manifest.json` and `manifest.note`.
    pub files: std::collections::BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestArea {
    pub kind: AreaKind,
    pub code: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counter {
    pub key: String,
    pub value: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureCounts {
    /// Signatures of the petition in the area in `entries.jsonl`, live or retired.
    pub listed: u64,
    /// Of which live: the rows of `signers.csv`, equal to the counter.
    pub live: u64,
    /// Live signers whose personal data the bundle holds.
    pub revealed: u64,
}

/// One line of `entries.jsonl`: an entry, its inclusion proof at the manifest's tree
/// size and, for a revealed signer, the data and salt its commitment was made from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryLine {
    pub index: u64,
    /// The entry's bytes, base64.
    pub entry: String,
    /// RFC 9162 audit path, leaf upwards.
    pub proof: Vec<Hash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<Hash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_data: Option<PersonalData>,
}

/// The body of `manifest.note`, signed by the log key: the manifest's BLAKE3 for the
/// log's origin and tree size.
pub fn manifest_note_body(origin: &str, tree_size: u64, manifest: &[u8]) -> String {
    format!(
        "{MANIFEST_NOTE_HEADER}\n{origin}\n{tree_size}\n{}\n",
        blake3::hash(manifest).to_hex()
    )
}

/// A cell of `signers.csv` as written: one whose first character a spreadsheet would
/// read as the start of a formula (`=`, `+`, `-`, `@`, tab, carriage return) gets a
/// leading apostrophe, so a signer's name can never run as a formula on an office's
/// computer. The verifier compares cells by the same rule.
pub fn spreadsheet_cell(value: &str) -> std::borrow::Cow<'_, str> {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}").into(),
        _ => value.into(),
    }
}

/// A row of `signers.csv`, as the writer writes it and the verifier expects it: the
/// signature's index, time (RFC 3339 UTC, to the second) and channel, then the signer's
/// name, postcode, email and address when revealed (empty cells otherwise).
pub fn signer_row(
    index: u64,
    time_ms: u64,
    channel: &str,
    data: Option<&PersonalData>,
) -> [String; 7] {
    let cell = |f: Option<&String>| spreadsheet_cell(f.map_or("", String::as_str)).into_owned();
    [
        index.to_string(),
        rfc3339((time_ms / 1000) as i64),
        channel.to_owned(),
        cell(data.map(|d| &d.name)),
        cell(data.and_then(|d| d.postcode.as_ref())),
        cell(data.and_then(|d| d.email.as_ref())),
        cell(data.and_then(|d| d.address.as_ref())),
    ]
}

/// A signature's channel as `signers.csv` and the summary write it: `online`, or
/// `paper:<batch id>` for a signature of a paper batch.
pub fn channel_text(paper_batch: Option<&str>) -> String {
    match paper_batch {
        None => "online".to_string(),
        Some(batch_id) => format!("paper:{batch_id}"),
    }
}

/// A Unix time in seconds as RFC 3339 UTC (`2026-12-01T15:00:00Z`).
pub fn rfc3339(unix_seconds: i64) -> String {
    ledger::record::Timestamp::from_unix_seconds(unix_seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}
