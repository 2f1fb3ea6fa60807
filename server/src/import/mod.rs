//! Paper import (`POST /api/v1/imports/paper`, `campaign-ledger import`): a batch of
//! signatures collected on paper at a stall or event, entered from one CSV file.
//!
//! The batch's `paper_batch.recorded` (its count the number of rows) and one
//! `signature.added` per row (channel paper, naming the batch) are one request to the
//! sequencer: all of them are appended, as one group commit under one signed
//! checkpoint, or none.
//!
//! Why one request and not chunks: a chunked upload that stays all-or-nothing needs
//! the server to keep the chunks somewhere between requests (expiry, disk, a crash in
//! the middle), and to decide and commit them together at the end anyway. One request
//! holds what a paper batch is (sheets from one stall: hundreds or thousands of rows)
//! with room to spare, so the import has its own, larger limits instead:
//! [`MAX_IMPORT_BYTES`] and [`MAX_IMPORT_ROWS`]. A bigger file is refused whole (split
//! it into batches, each with its own batch id); the CLI never splits one.
//!
//! How a file is read (`sheet.rs`), then each row (`rows.rs`): a row becomes the JSON
//! object of a `signature.added` and goes through the same reader and preparation as
//! a record of `POST /api/v1/records` (`crate::input`), whose errors name the field,
//! which is the column. Every bad row is reported, by row number, column and reason,
//! never by value; so are duplicates within the file (`duplicate_in_file`) and
//! signers who already signed (`already_signed`, decided by the sequencer against the
//! log, with every other rule).
//!
//! `cli.rs` is `campaign-ledger import`.

pub mod cli;
mod rows;
mod sheet;

use std::fmt;

use ledger::record::CountryCode;
use ledger::HashAlg;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::input::{InputError, RecordInput};
use crate::sequencer::Staged;
use crate::vault::Vault;

pub use rows::{identity_words, StagedRows};
pub use sheet::{read as read_sheet, Row, Sheet};

/// Largest CSV body an import takes (16 MiB: about 100,000 rows of a typical sheet).
pub const MAX_IMPORT_BYTES: usize = 16 << 20;
/// Most signer rows in one import.
pub const MAX_IMPORT_ROWS: usize = 50_000;
/// Most bad rows listed in a refusal; the answer says how many more there were.
pub const MAX_REPORTED_ROWS: usize = 100;
/// The country of a row without one, unless the import names another.
pub const DEFAULT_COUNTRY: &str = "GB";

/// A column of the CSV file, serialized as its [`Column::name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    Name,
    Postcode,
    Email,
    Address,
    Constituency,
    Ward,
    Council,
    Country,
    ConsentToShare,
}

impl Column {
    pub const ALL: [Column; 9] = [
        Column::Name,
        Column::Postcode,
        Column::Email,
        Column::Address,
        Column::Constituency,
        Column::Ward,
        Column::Council,
        Column::Country,
        Column::ConsentToShare,
    ];

    /// The column's name in a header, which is also the field it fills.
    pub fn name(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::Postcode => "postcode",
            Column::Email => "email",
            Column::Address => "address",
            Column::Constituency => "constituency",
            Column::Ward => "ward",
            Column::Council => "council",
            Column::Country => "country",
            Column::ConsentToShare => "consent_to_share",
        }
    }

    /// Whether every file must have the column.
    pub fn required(self) -> bool {
        matches!(self, Column::Name | Column::Postcode)
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The column a header cell names: trimmed, in any case.
    fn from_header(cell: &str) -> Option<Column> {
        let cell = cell.trim();
        Column::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(cell))
    }

    /// The column of a record field.
    fn of_field(field: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.name() == field)
    }

    /// Every column name, for details.
    fn names() -> String {
        Column::ALL.map(Column::name).join(", ")
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A row refused, by its number, column and reason; `detail` says why in words and,
/// like every error, never quotes a value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowProblem {
    /// The row's number as a spreadsheet shows it: the header is row 1.
    pub row: u64,
    /// The column at fault; absent when the row as a whole is (its number of fields,
    /// or a rule of the log that no one column breaks).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub column: Option<Column>,
    /// `wrong_field_count`, `duplicate_in_file`, `already_signed`, or a reason of
    /// `POST /api/v1/records` (`invalid_personal_data`, `invalid_value`,
    /// `invalid_area_code`, ...).
    pub reason: &'static str,
    pub detail: String,
}

/// A problem with the file or the import as a whole: nothing in it was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub status: u16,
    pub reason: &'static str,
    pub detail: String,
}

impl FileError {
    fn bad_request(reason: &'static str, detail: String) -> FileError {
        FileError {
            status: 400,
            reason,
            detail,
        }
    }
}

impl From<InputError> for FileError {
    fn from(e: InputError) -> FileError {
        FileError {
            status: e.status,
            reason: e.reason,
            detail: e.detail,
        }
    }
}

/// What an import says about its batch (the query parameters of the route, the flags
/// of the CLI).
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    pub batch_id: String,
    pub petition_id: String,
    /// The collector's handle assigned by the organisers (never a name).
    pub collector: String,
    pub stall: Option<String>,
    pub event_id: Option<String>,
    /// H(scanned sheets), standard base64.
    pub sheet_scan_hash: Option<String>,
    /// The count written on the sheets, if given: the file must have as many rows.
    pub declared_count: Option<u64>,
    /// The country of rows without one ([`DEFAULT_COUNTRY`] if not given).
    pub country: Option<String>,
}

/// How the rows are prepared: the log's hash function, the petition's dedup key
/// (`crate::dedup_keys`) and the vault
/// that seals each signer's data.
#[derive(Clone, Copy)]
pub struct Keys<'a> {
    pub alg: HashAlg,
    pub dedup_key: &'a [u8; 32],
    pub vault: &'a Vault,
}

impl Metadata {
    /// Checks the batch's fields as its record's reader does (so before the file is
    /// read): the errors name the field, which is the query parameter.
    pub fn check(&self, alg: HashAlg) -> Result<(), FileError> {
        if let Some(country) = &self.country {
            CountryCode::parse(country).map_err(|_| FileError {
                status: 422,
                reason: "invalid_value",
                detail: "country: country code must be two letters A-Z".into(),
            })?;
        }
        self.batch_record(1, alg).map(drop)
    }

    /// The `paper_batch.recorded` of a batch of `count` rows.
    fn batch_record(&self, count: usize, alg: HashAlg) -> Result<Staged, FileError> {
        let mut object = Map::new();
        let mut put = |field: &str, value: Value| {
            object.insert(field.to_owned(), value);
        };
        put("type", "paper_batch.recorded".into());
        put("batch_id", self.batch_id.as_str().into());
        put("petition_id", self.petition_id.as_str().into());
        put("collector", self.collector.as_str().into());
        if let Some(stall) = &self.stall {
            put("stall", stall.as_str().into());
        }
        if let Some(event_id) = &self.event_id {
            put("event_id", event_id.as_str().into());
        }
        if let Some(hash) = &self.sheet_scan_hash {
            put("sheet_scan_hash", hash.as_str().into());
        }
        put("count", count.into());
        // A batch record has no dedup tags: the key is not used.
        let prepared = RecordInput::from_fields(object)?.prepare(
            alg,
            &[0; 32],
            &mut rand::thread_rng(),
            None,
        )?;
        Ok(Staged::written_by_the_server(prepared.record))
    }
}

/// An import read and prepared: the batch record, then each good row's signature.
pub struct Prepared {
    pub batch: Staged,
    pub rows: StagedRows,
    /// Signer rows in the file, good and bad.
    pub row_count: usize,
}

/// Reads `body` and prepares every row for the sequencer. A problem with the file or
/// the batch as a whole is an `Err`; bad rows are in [`StagedRows::problems`].
pub fn prepare(body: &[u8], meta: &Metadata, keys: Keys<'_>) -> Result<Prepared, FileError> {
    let sheet = read_sheet(body, MAX_IMPORT_ROWS)?;
    let row_count = sheet.row_count();
    if let Some(declared) = meta.declared_count {
        if declared != row_count as u64 {
            return Err(FileError {
                status: 422,
                reason: "count_mismatch",
                detail: format!(
                    "declared_count is {declared} but the file has {row_count} signer rows"
                ),
            });
        }
    }
    let batch = meta.batch_record(row_count, keys.alg)?;
    let rows = rows::stage(&sheet, meta, keys);
    Ok(Prepared {
        batch,
        rows,
        row_count,
    })
}

/// `consent_to_share` as written: `true`, `yes`, `1` or `false`, `no`, `0`, in any
/// case; an empty cell (or no such column) is `false`, so nobody's details are shared
/// without a mark on the sheet saying so.
pub fn parse_consent(cell: Option<&str>) -> Option<bool> {
    let Some(cell) = cell else {
        return Some(false);
    };
    let yes = ["true", "yes", "1"];
    let no = ["false", "no", "0"];
    if yes.iter().any(|y| y.eq_ignore_ascii_case(cell)) {
        Some(true)
    } else if no.iter().any(|n| n.eq_ignore_ascii_case(cell)) {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_takes_the_documented_words_only() {
        for (cell, consent) in [
            (None, Some(false)),
            (Some("true"), Some(true)),
            (Some("YES"), Some(true)),
            (Some("1"), Some(true)),
            (Some("False"), Some(false)),
            (Some("no"), Some(false)),
            (Some("0"), Some(false)),
            (Some("y"), None),
            (Some("maybe"), None),
            (Some("2"), None),
        ] {
            assert_eq!(parse_consent(cell), consent, "{cell:?}");
        }
    }

    #[test]
    fn header_names_are_trimmed_and_caseless() {
        assert_eq!(
            Column::from_header(" Consent_To_Share "),
            Some(Column::ConsentToShare)
        );
        assert_eq!(Column::from_header("E-mail"), None);
        for column in Column::ALL {
            assert_eq!(Column::from_header(column.name()), Some(column));
            assert_eq!(Column::of_field(column.name()), Some(column));
        }
    }

    /// The record reader's errors name the field, which is the column.
    #[test]
    fn errors_of_the_record_reader_name_the_column() {
        let row = |field: &str, value: &str| {
            let mut object = Map::new();
            for (k, v) in [
                ("type", "signature.added"),
                ("petition_id", "p"),
                ("channel", "paper"),
                ("batch_id", "b"),
                ("name", "Ada Example"),
                ("postcode", "NE1 7RU"),
                ("country", "GB"),
            ] {
                object.insert(k.into(), v.into());
            }
            object.insert("consent_to_share".into(), false.into());
            object.insert(field.into(), value.into());
            RecordInput::from_fields(object)
                .and_then(|input| {
                    input.prepare(HashAlg::Blake3, &[7; 32], &mut rand::thread_rng(), None)
                })
                .err()
                .map(|e| (e.field().map(str::to_owned), e.reason, e.detail))
        };
        for (field, value, reason) in [
            ("postcode", "NE1*7RU", "invalid_personal_data"),
            ("email", "not-an-email", "invalid_personal_data"),
            ("name", " ", "invalid_personal_data"),
            ("country", "GBR", "invalid_value"),
            ("constituency", "NOTACODE", "invalid_area_code"),
            ("ward", "W1", "invalid_area_code"),
            ("council", "", "invalid_value"),
            ("address", "a\u{200b}b", "invalid_personal_data"),
        ] {
            let (got, got_reason, detail) =
                row(field, value).unwrap_or_else(|| panic!("{field} accepted"));
            assert_eq!(got.as_deref(), Some(field), "{detail}");
            assert_eq!(got_reason, reason, "{detail}");
            assert!(
                !detail.contains(value) || value.trim().is_empty(),
                "{detail}"
            );
        }
        assert!(row("postcode", "NE1 7RU").is_none());
    }
}
