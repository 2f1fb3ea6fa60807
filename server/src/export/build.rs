//! Building a bundle: [`freeze`] what the read models say (briefly, under their read
//! lock), [`gather`] the entries and the revealed data from the store and the vault,
//! [`write_bundle`] the zip with every entry's proof. The HTTP handler logs a revealing export between
//! the last two steps, so no personal data leaves before its disclosure is durable.

use std::collections::BTreeMap;
use std::io::Write;

use base64::Engine;
use ledger::note::{Note, NoteSigner, Signer};
use ledger::record::{PetitionOpened, Record};
use ledger::store::Store;
use ledger::Entry;
use projector::{Area, AreaSignatures, Projection};

use super::render;
use super::{
    manifest_note_body, Counter, EntryLine, Manifest, ManifestArea, SignatureCounts, CHECKPOINT,
    ENTRIES, FORMAT, MANIFEST, MANIFEST_NOTE, README, SIGNERS, SUMMARY, TALLY_NOTE, TALLY_TEXT,
};
use crate::input::PersonalData;
use crate::vault::Vault;

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no petition {0:?} has been opened")]
    UnknownPetition(String),
    #[error("the log has no signed checkpoint at tree size {0}; retry shortly")]
    NoCheckpoint(u64),
    #[error(transparent)]
    Ledger(#[from] ledger::Error),
    #[error("vault: {0}")]
    Vault(#[from] crate::Error),
    /// The read models and the log disagree: a bug or damage, never bad input.
    #[error("the read models and the log disagree: {0}")]
    Inconsistent(String),
    #[error(
        "the area has {0} signatures; a bundle lists at most {max}: export a smaller area \
         (a constituency, ward or council)",
        max = MAX_EXPORT_SIGNATURES
    )]
    TooLarge(usize),
    #[error("writing the bundle: {0}")]
    Write(String),
}

/// [`ExportError::Write`], from whatever failed while writing.
pub(super) fn write_err(e: impl std::fmt::Display) -> ExportError {
    ExportError::Write(e.to_string())
}

/// What the read models say of one petition in one area at one tree size.
pub struct Frozen {
    pub tree_size: u64,
    pub tally_text: String,
    pub opened: PetitionOpened,
    pub opened_index: u64,
    pub area: Area,
    pub found: AreaSignatures,
}

/// Takes from `projection` what an export of `petition_id` in `area` needs. Cost: one
/// pass over the signature table and the tally text (hold the read lock for it).
pub fn freeze(
    projection: &Projection,
    petition_id: &str,
    area: &Area,
) -> Result<Frozen, ExportError> {
    let unknown = || ExportError::UnknownPetition(petition_id.to_string());
    let view = projection.petition(petition_id).ok_or_else(unknown)?;
    let found = projection
        .area_signatures(petition_id, area)
        .ok_or_else(unknown)?;
    Ok(Frozen {
        tree_size: projection.tree_size(),
        tally_text: projection.tally_text(),
        opened: view.view.opened.record.clone(),
        opened_index: view.view.opened.index,
        area: area.clone(),
        found,
    })
}

/// A live signature as `signers.csv` lists it.
pub struct SignerRow {
    pub index: u64,
    pub signed_at_ms: u64,
    /// `online` or `paper:<batch id>` ([`super::channel_text`]).
    pub channel: String,
    /// The signer's personal data and salt, when the bundle reveals them.
    pub revealed: Option<(PersonalData, [u8; 32])>,
}

/// A signature of the area that no longer counts, and why.
pub struct RetiredRow {
    pub index: u64,
    pub by: u64,
    /// `withdrawn`, or `invalidated: <reason>`, with the entry's public note.
    pub why: String,
}

/// What a bundle holds, read from the log and the vault: the entries it lists (their
/// proofs are made as the bundle is written), one small row per live signature, and
/// the revealed data.
pub struct Gathered {
    pub frozen: Frozen,
    /// The signed checkpoint of the frozen size (with auditors' cosignatures, once
    /// [`Gathered::add_cosignatures`] ran).
    pub checkpoint: String,
    /// Auditors' cosignature lines of the tally note of the frozen size.
    pub tally_cosignatures: Vec<String>,
    /// Verifier keys of the auditors who cosigned the checkpoint or the tally.
    pub cosigners: Vec<String>,
    /// Log indexes of the lines of `entries.jsonl`, ascending, and their entries.
    pub indexes: Vec<u64>,
    pub entries: Vec<Vec<u8>>,
    /// Live signatures, ascending.
    pub signers: Vec<SignerRow>,
    pub retired: Vec<RetiredRow>,
    /// Live signatures by channel: `online`, `paper:<batch>`.
    pub by_channel: BTreeMap<String, u64>,
    pub listed: u64,
    pub revealed: u64,
}

impl Gathered {
    /// Adds what auditors cosigned at the frozen size: their lines on the checkpoint
    /// and the tally note, and their keys for the manifest.
    pub fn add_cosignatures(&mut self, store: &crate::cosignatures::CosignatureStore) {
        use crate::cosignatures::Cosigned;
        let size = self.frozen.tree_size;
        self.checkpoint = store.cosigned_checkpoint(&self.checkpoint);
        let tally = store.of(Cosigned::Tally, size);
        self.tally_cosignatures = tally.iter().map(|c| c.line.clone()).collect();
        let mut cosigners: Vec<String> = store
            .of(Cosigned::Checkpoint, size)
            .iter()
            .chain(&tally)
            .map(|c| c.vkey.clone())
            .collect();
        cosigners.sort();
        cosigners.dedup();
        self.cosigners = cosigners;
    }

    fn signer(&self, index: u64) -> Option<&SignerRow> {
        let at = self
            .signers
            .binary_search_by_key(&index, |r| r.index)
            .ok()?;
        Some(&self.signers[at])
    }
}

/// Most signatures one bundle lists. An area is an MP's or councillor's (tens of
/// thousands of signatures); a bundle is built in memory, about 500 bytes a
/// signature, so this bounds what one request can make the server hold.
pub const MAX_EXPORT_SIGNATURES: usize = 1_000_000;

/// Reads every entry a bundle lists (the petition's opening, the area's signatures,
/// the entries that retired some of them), every live signature's time and channel
/// and, with `reveal`, the personal data and salt of every live signer who consented
/// to share it. Cost: one entry read per listed entry, on two threads, and one vault
/// read per consenting signer.
pub fn gather(
    store: &Store,
    frozen: Frozen,
    reveal: Option<&Vault>,
) -> Result<Gathered, ExportError> {
    if frozen.found.signatures.len() > MAX_EXPORT_SIGNATURES {
        return Err(ExportError::TooLarge(frozen.found.signatures.len()));
    }
    let size = frozen.tree_size;
    let checkpoint = store
        .checkpoint_at(size)?
        .ok_or(ExportError::NoCheckpoint(size))?;

    // Why each retired signature of the area no longer counts.
    let mut retiring: Vec<u64> = frozen.found.retirements.iter().map(|r| r.0).collect();
    retiring.sort_unstable();
    retiring.dedup();
    let mut why_retired = BTreeMap::new();
    let mut retiring_entries = BTreeMap::new();
    for &index in &retiring {
        let bytes = store.entry(index)?;
        let why = match Entry::decode(&bytes)?.record() {
            Record::SignatureWithdrawn(_) => "withdrawn (entered by an organiser)".to_string(),
            Record::SignatureWithdrawnBySigner(_) => "withdrawn by the signer".to_string(),
            Record::SignaturesInvalidated(i) => match &i.note {
                Some(note) => format!("invalidated: {} ({note})", i.reason),
                None => format!("invalidated: {}", i.reason),
            },
            _ => {
                return Err(ExportError::Inconsistent(format!(
                    "entry {index} retires no signature"
                )))
            }
        };
        why_retired.insert(index, why);
        retiring_entries.insert(index, bytes);
    }
    let retired: BTreeMap<u64, u64> = frozen
        .found
        .retirements
        .iter()
        .map(|&(by, signature)| (signature, by))
        .collect();

    // The area's signatures, on two threads.
    // Each signature's entry, and its row if it is live.
    type Read = Vec<(Vec<u8>, Option<SignerRow>)>;
    let read = |signatures: &[u64]| -> Result<Read, ExportError> {
        let mut out = Vec::with_capacity(signatures.len());
        for &index in signatures {
            let bytes = store.entry(index)?;
            if retired.contains_key(&index) {
                out.push((bytes, None));
                continue;
            }
            let Some(signature) = Entry::decode_signature(&bytes) else {
                return Err(ExportError::Inconsistent(format!(
                    "entry {index} is not a signature"
                )));
            };
            let revealed = match (reveal, signature.consent_to_share) {
                (Some(vault), true) => vault.get(index, &signature.commitment)?,
                _ => None,
            };
            let row = SignerRow {
                index,
                signed_at_ms: signature.time_ms,
                channel: super::channel_text(signature.paper_batch),
                revealed,
            };
            out.push((bytes, Some(row)));
        }
        Ok(out)
    };
    let signatures = &frozen.found.signatures;
    let (first, second) = signatures.split_at(signatures.len() / 2);
    let (first, second) = std::thread::scope(|scope| {
        let second = scope.spawn(|| read(second));
        (read(first), second.join())
    });
    let second = second.map_err(|_| ExportError::Inconsistent("a reader panicked".into()))?;
    let read = first?.into_iter().chain(second?);

    // The lines in log order: the opening, the signatures, the retiring entries.
    let opened_bytes = store.entry(frozen.opened_index)?;
    let mut lines: BTreeMap<u64, Vec<u8>> = retiring_entries;
    lines.insert(frozen.opened_index, opened_bytes);
    let mut signers = Vec::with_capacity(frozen.found.live as usize);
    let mut by_channel: BTreeMap<String, u64> = BTreeMap::new();
    for (&index, (bytes, row)) in signatures.iter().zip(read) {
        lines.insert(index, bytes);
        if let Some(row) = row {
            *by_channel.entry(row.channel.clone()).or_insert(0) += 1;
            signers.push(row);
        }
    }
    if signers.len() as u64 != frozen.found.live {
        return Err(ExportError::Inconsistent(format!(
            "{} live signatures in the log, {} in the read models",
            signers.len(),
            frozen.found.live
        )));
    }
    let revealed = signers.iter().filter(|r| r.revealed.is_some()).count() as u64;
    let retired = retired
        .into_iter()
        .map(|(index, by)| RetiredRow {
            index,
            by,
            why: why_retired.get(&by).cloned().unwrap_or_default(),
        })
        .collect();
    let (indexes, entries) = lines.into_iter().unzip();
    Ok(Gathered {
        listed: signatures.len() as u64,
        indexes,
        entries,
        frozen,
        checkpoint,
        tally_cosignatures: Vec::new(),
        cosigners: Vec::new(),
        signers,
        retired,
        by_channel,
        revealed,
    })
}

/// Who made a bundle, and when.
pub struct Issuer<'a> {
    /// `token-<id>` (an exporter's or an admin's), `public` (no token) or `operator`
    /// (the `export` command).
    pub exported_by: &'a str,
    pub exported_at_unix: i64,
}

/// The bundle's file name: `<petition>-<area kind>-<code>-<tree size>.zip`, a council's
/// name escaped as in tally counters.
pub fn bundle_name(petition_id: &str, area: &Area, tree_size: u64) -> String {
    format!(
        "{petition_id}-{}-{}-{tree_size}.zip",
        area.kind,
        area.key_segment()
    )
}

/// Lines of `entries.jsonl` made at a time: one batched proof build and one handover
/// from the thread that makes them to the one that compresses.
const LINES_PER_CHUNK: usize = 2048;

/// Writes the zip of `gathered`, with each listed entry's inclusion proof from
/// `store`, signing the tally and the manifest with `log_key` (the
/// log's key, which signed its checkpoints). One thread makes the lines of
/// `entries.jsonl` while this one compresses them.
pub fn write_bundle(
    store: &Store,
    gathered: &Gathered,
    log_key: &NoteSigner,
    issuer: Issuer<'_>,
) -> Result<Vec<u8>, ExportError> {
    let alg = store.hash_alg();
    let frozen = &gathered.frozen;
    let size = frozen.tree_size;
    let verifier = log_key.verifier();
    let (checkpoint, _) = ledger::checkpoint::open_checkpoint(&gathered.checkpoint, &verifier)?;
    let mut tally_note =
        projector::tally::sign_tally(alg, log_key, size, checkpoint.root, &frozen.tally_text)
            .map_err(write_err)?;
    for line in &gathered.tally_cosignatures {
        tally_note.push_str(line);
    }
    let counter_key = frozen.area.counter_key(frozen.opened.petition_id.as_str());
    let exported_at = super::rfc3339(issuer.exported_at_unix);
    let facts = render::Facts {
        gathered,
        origin: log_key.name(),
        vkey: verifier.vkey(),
        root: checkpoint.root,
        counter_key: &counter_key,
        exported_by: issuer.exported_by,
        exported_at: &exported_at,
    };
    let small_files: Vec<(&str, Vec<u8>)> = vec![
        (README, render::readme(&facts).into_bytes()),
        (SUMMARY, render::summary(&facts)?.into_bytes()),
        (SIGNERS, render::signers_csv(gathered)?),
        (CHECKPOINT, gathered.checkpoint.clone().into_bytes()),
        (TALLY_NOTE, tally_note.into_bytes()),
        (TALLY_TEXT, frozen.tally_text.clone().into_bytes()),
    ];

    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // Deflate's fastest level: a third of the time of the default level for a bundle
    // a third larger (about 450 bytes a signature instead of 340); the entries are
    // base64 and hashes, which no level compresses much.
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .last_modified_time(zip_time(issuer.exported_at_unix));
    let mut files = BTreeMap::new();
    for (name, bytes) in &small_files {
        zip.start_file(*name, options).map_err(write_err)?;
        zip.write_all(bytes).map_err(write_err)?;
        files.insert(name.to_string(), blake3::hash(bytes).to_hex().to_string());
    }
    zip.start_file(ENTRIES, options).map_err(write_err)?;
    let mut hasher = blake3::Hasher::new();
    std::thread::scope(|scope| -> Result<(), ExportError> {
        let (send, chunks) = std::sync::mpsc::sync_channel::<Result<Vec<u8>, ExportError>>(2);
        scope.spawn(move || {
            let chunks = gathered
                .indexes
                .chunks(LINES_PER_CHUNK)
                .zip(gathered.entries.chunks(LINES_PER_CHUNK));
            for (indexes, entries) in chunks {
                let chunk = entry_lines(store, gathered, indexes, entries);
                let failed = chunk.is_err();
                if send.send(chunk).is_err() || failed {
                    return;
                }
            }
        });
        for chunk in chunks {
            let chunk = chunk?;
            hasher.update(&chunk);
            zip.write_all(&chunk).map_err(write_err)?;
        }
        Ok(())
    })?;
    files.insert(ENTRIES.to_string(), hasher.finalize().to_hex().to_string());

    let manifest = Manifest {
        format: FORMAT.to_string(),
        origin: log_key.name().to_string(),
        hash: alg.name().to_string(),
        vkey: verifier.vkey(),
        petition_id: frozen.opened.petition_id.to_string(),
        area: ManifestArea {
            kind: frozen.area.kind,
            code: frozen.area.code.clone(),
        },
        tree_size: size,
        root: checkpoint.root,
        counter: Counter {
            key: counter_key.clone(),
            value: frozen.found.live,
        },
        entries: gathered.indexes.len() as u64,
        signatures: SignatureCounts {
            listed: gathered.listed,
            live: gathered.signers.len() as u64,
            revealed: gathered.revealed,
        },
        exported_by: issuer.exported_by.to_string(),
        exported_at,
        cosigners: gathered.cosigners.clone(),
        files,
    };
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest).map_err(write_err)?;
    manifest_bytes.push(b'\n');
    let note = Note::new(&manifest_note_body(log_key.name(), size, &manifest_bytes))?;
    let manifest_note = ledger::note::sign(note, &[log_key])?;
    for (name, bytes) in [
        (MANIFEST, manifest_bytes.as_slice()),
        (MANIFEST_NOTE, manifest_note.as_bytes()),
    ] {
        zip.start_file(name, options).map_err(write_err)?;
        zip.write_all(bytes).map_err(write_err)?;
    }
    let cursor = zip.finish().map_err(write_err)?;
    Ok(cursor.into_inner())
}

/// The lines of `entries.jsonl` for the `entries` at `indexes`: each with its
/// inclusion proof at the bundle's tree size, and a revealed signer's data.
fn entry_lines(
    store: &Store,
    gathered: &Gathered,
    indexes: &[u64],
    entries: &[Vec<u8>],
) -> Result<Vec<u8>, ExportError> {
    let proofs = store.inclusion_proofs(indexes, gathered.frozen.tree_size)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = Vec::with_capacity(indexes.len() * 1100);
    for ((&index, bytes), proof) in indexes.iter().zip(entries).zip(proofs) {
        let revealed = gathered.signer(index).and_then(|row| row.revealed.as_ref());
        let line = EntryLine {
            index,
            entry: b64.encode(bytes),
            proof: proof.proof,
            salt: revealed.map(|(_, salt)| ledger::Hash(*salt)),
            personal_data: revealed.map(|(data, _)| data.clone()),
        };
        serde_json::to_writer(&mut out, &line).map_err(write_err)?;
        out.push(b'\n');
    }
    Ok(out)
}

/// The zip's modification time of every file: the export's time (UTC; zip times have
/// two-second steps and start in 1980).
fn zip_time(unix_seconds: i64) -> zip::DateTime {
    let Ok(stamp) = ledger::record::Timestamp::from_unix_seconds(unix_seconds) else {
        return zip::DateTime::default();
    };
    let date = stamp.date();
    let second_of_day = unix_seconds.rem_euclid(86_400);
    zip::DateTime::from_date_and_time(
        date.year(),
        date.month(),
        date.day(),
        (second_of_day / 3600) as u8,
        (second_of_day / 60 % 60) as u8,
        (second_of_day % 60) as u8,
    )
    .unwrap_or_default()
}
