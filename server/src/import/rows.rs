//! Each row of a sheet as a signature: the row's cells become the JSON object of a
//! `signature.added` (channel paper, the batch's id and petition), read and prepared
//! exactly as `POST /api/v1/records` reads and prepares one (`crate::input`): the
//! same checks, the same dedup tags and commitment, the data sealed for the vault.
//! Then duplicates within the file are found by the signers' identities.
//!
//! Rows are prepared on a few threads at once (the dedup tags, the commitment and the
//! sealing are most of an import's CPU time); everything after that is in row order.

use std::collections::HashMap;

use ledger::DedupTag;
use serde_json::{Map, Value};

use super::{parse_consent, Column, Keys, Metadata, RowProblem, Sheet, DEFAULT_COUNTRY};
use crate::input::{dedup_tag, RecordInput};
use crate::sequencer::Staged;

/// Rows under which preparing them on one thread is as quick.
const ROWS_PER_THREAD: usize = 1024;
/// Most threads preparing one import's rows.
const MAX_THREADS: usize = 4;

/// The rows of a sheet, prepared.
#[derive(Default)]
pub struct StagedRows {
    /// The good rows' signatures, in row order.
    pub staged: Vec<Staged>,
    /// For each of `staged`: its row, and the dedup tag of each of the signer's
    /// identities with the column that names it (email; name, with the postcode).
    pub rows: Vec<(u64, Vec<(Column, DedupTag)>)>,
    /// Every bad row (the sheet's own problems included), in row order.
    pub problems: Vec<RowProblem>,
}

/// What preparing one row gave. (Nearly every row is good: boxing that variant would
/// cost an allocation per row to save space on the rare bad one.)
#[allow(clippy::large_enum_variant)]
enum Outcome {
    Good {
        staged: Staged,
        identities: Vec<(Column, DedupTag)>,
    },
    Bad(RowProblem),
}

/// Prepares every row of `sheet`.
pub(super) fn stage(sheet: &Sheet, meta: &Metadata, keys: Keys<'_>) -> StagedRows {
    let threads = (sheet.rows.len() / ROWS_PER_THREAD)
        .clamp(1, MAX_THREADS)
        .min(std::thread::available_parallelism().map_or(1, |n| n.get()));
    let per_thread = sheet.rows.len().div_ceil(threads).max(1);
    let prepare = |rows: &[super::Row]| -> Vec<Outcome> {
        rows.iter()
            .map(|row| prepare_row(sheet, row, meta, keys))
            .collect()
    };
    let outcomes: Vec<Outcome> = if threads == 1 {
        prepare(&sheet.rows)
    } else {
        std::thread::scope(|scope| {
            let workers: Vec<_> = sheet
                .rows
                .chunks(per_thread)
                .map(|chunk| scope.spawn(move || prepare(chunk)))
                .collect();
            workers
                .into_iter()
                .flat_map(|worker| {
                    worker
                        .join()
                        .unwrap_or_else(|e| std::panic::resume_unwind(e))
                })
                .collect()
        })
    };
    let mut out = StagedRows {
        staged: Vec::with_capacity(outcomes.len()),
        rows: Vec::with_capacity(outcomes.len()),
        problems: sheet.problems.clone(),
    };
    // The first row of each identity.
    let mut seen: HashMap<DedupTag, u64> = HashMap::with_capacity(outcomes.len() * 2);
    for (row, outcome) in sheet.rows.iter().zip(outcomes) {
        match outcome {
            Outcome::Bad(problem) => out.problems.push(problem),
            Outcome::Good { staged, identities } => {
                let earlier = identities
                    .iter()
                    .find_map(|(column, tag)| seen.get(tag).map(|first| (*column, *first)));
                if let Some((column, first)) = earlier {
                    out.problems.push(RowProblem {
                        row: row.number,
                        column: Some(column),
                        reason: "duplicate_in_file",
                        detail: format!(
                            "the same signer as row {first} (by {}); a signer signs once",
                            identity_words(column)
                        ),
                    });
                    continue;
                }
                for (_, tag) in &identities {
                    seen.insert(*tag, row.number);
                }
                out.staged.push(staged);
                out.rows.push((row.number, identities));
            }
        }
    }
    out.problems.sort_by_key(|p| p.row);
    out
}

/// The identity a column stands for, in words.
pub fn identity_words(column: Column) -> &'static str {
    match column {
        Column::Email => "email",
        _ => "name and postcode",
    }
}

/// One row as a signature, through the same reader and preparation as a record of
/// `POST /api/v1/records`.
fn prepare_row(sheet: &Sheet, row: &super::Row, meta: &Metadata, keys: Keys<'_>) -> Outcome {
    let problem = |column: Option<Column>, reason: &'static str, detail: String| {
        Outcome::Bad(RowProblem {
            row: row.number,
            column,
            reason,
            detail,
        })
    };
    let Some(consent) = parse_consent(sheet.get(row, Column::ConsentToShare)) else {
        return problem(
            Some(Column::ConsentToShare),
            "invalid_value",
            "consent_to_share: must be true, false, yes, no, 1 or 0 (empty is false)".into(),
        );
    };
    let mut object = Map::new();
    let mut put = |field: &str, value: Value| {
        object.insert(field.to_owned(), value);
    };
    put("type", "signature.added".into());
    put("petition_id", meta.petition_id.as_str().into());
    put("channel", "paper".into());
    put("batch_id", meta.batch_id.as_str().into());
    // An empty name is the personal-data rules' to refuse, as for any signature.
    put("name", sheet.get(row, Column::Name).unwrap_or("").into());
    // The text columns as they are (name, country and consent apart).
    for column in Column::ALL {
        if matches!(
            column,
            Column::Name | Column::Country | Column::ConsentToShare
        ) {
            continue;
        }
        if let Some(cell) = sheet.get(row, column) {
            put(column.name(), cell.into());
        }
    }
    let country = sheet
        .get(row, Column::Country)
        .or(meta.country.as_deref())
        .unwrap_or(DEFAULT_COUNTRY);
    put("country", country.into());
    put("consent_to_share", consent.into());
    let prepared = RecordInput::from_fields(object)
        .and_then(|input| input.prepare(keys.alg, keys.dedup_key, &mut rand::thread_rng(), None));
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(e) => {
            let column = e.field().and_then(Column::of_field);
            return problem(column, e.reason, e.detail);
        }
    };
    let (Some(signature), Some((data, salt))) = (prepared.record.signature(), &prepared.personal)
    else {
        return problem(
            None,
            "internal",
            "the row did not make a signature; this is a bug".into(),
        );
    };
    let identities = data
        .normalised_identities()
        .unwrap_or_default()
        .iter()
        .map(|identity| {
            let column = if identity.starts_with(b"email:") {
                Column::Email
            } else {
                Column::Name
            };
            (
                column,
                dedup_tag(keys.dedup_key, signature.petition_id, identity),
            )
        })
        .collect();
    let sealed = keys.vault.seal(data, salt, signature.commitment);
    Outcome::Good {
        // The signer secret goes back in the answer, by row, for the organisers to
        // hand on to the signers they can reach (by email, say).
        staged: Staged {
            record: prepared.record,
            sealed: Some(sealed),
            signer_secret: prepared.signer_secret,
        },
        identities,
    }
}
