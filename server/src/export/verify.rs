//! `campaign-ledger verify BUNDLE`: checks an export bundle offline, against nothing
//! but the log's key (given, or taken from the manifest with a warning).
//!
//! The checks, in the order they run, so the first failure names the most telling
//! thing: the zip holds exactly the bundle's files; the manifest parses; the checkpoint,
//! tally note and manifest note verify under the log key (and every other signature on
//! them under a cosigner the manifest lists or an `--auditor` key); they agree on the
//! tree size and root, the tally note commits to `tally.txt` and the counter is in it;
//! each line of `entries.jsonl` decodes strictly, has a leaf hash whose proof leads to
//! the root, and belongs (the petition's opening, its signatures in the area, entries
//! that retired some of them); each revealed signer's data and salt reproduce the
//! signature's commitment; the live signatures number exactly the counter; every row
//! of `signers.csv` is a live signature as its entry says; every file hashes as the
//! manifest says.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};

use base64::Engine;
use ledger::note::NoteVerifier;
use ledger::record::Record;
use ledger::{Entry, HashAlg};
use serde::Serialize;

use super::{
    manifest_note_body, EntryLine, Manifest, CHECKPOINT, ENTRIES, FORMAT, HASHED_FILES, MANIFEST,
    MANIFEST_NOTE, SIGNERS, SIGNERS_HEADER, TALLY_NOTE, TALLY_TEXT,
};
use crate::input::{commitment, PersonalData};

/// Largest file but `entries.jsonl` and `signers.csv` a bundle may hold, unpacked.
const MAX_SMALL_FILE: u64 = 64 << 20;
/// Longest line of `entries.jsonl` (an entry is at most 64 KiB, base64 and a proof).
const MAX_LINE: usize = 256 << 10;

/// What to check a bundle against.
#[derive(Default)]
pub struct VerifyOptions {
    /// The log key the campaign publishes; `None` takes the manifest's (and says so).
    pub vkey: Option<NoteVerifier>,
    /// Auditors who must have cosigned the tally.
    pub auditors: Vec<NoteVerifier>,
}

/// The first check that failed, named.
#[derive(Debug, thiserror::Error, Serialize)]
#[error("{check}: {message}")]
pub struct Finding {
    /// Which check (`checkpoint`, `entries.jsonl`, `signers.csv`, ...).
    pub check: &'static str,
    pub message: String,
}

fn fail(check: &'static str, message: impl Into<String>) -> Finding {
    Finding {
        check,
        message: message.into(),
    }
}

/// What a bundle that passed every check shows.
#[derive(Debug, Serialize)]
pub struct Report {
    pub petition_id: String,
    pub area: String,
    pub origin: String,
    pub hash: String,
    pub vkey: String,
    /// Whether the key was given (`--vkey`), not taken from the manifest.
    pub key_given: bool,
    pub tree_size: u64,
    pub root: String,
    pub counter_key: String,
    pub counter_value: u64,
    /// Signatures of the area listed, live or retired; live ones; retired ones.
    pub listed: u64,
    pub live: u64,
    pub retired: u64,
    pub revealed: u64,
    pub exported_by: String,
    pub exported_at: String,
    /// Auditors (`--auditor`) whose cosignature of the tally verified.
    pub auditors: Vec<String>,
}

/// A signature of the area as its entry says.
struct Listed {
    time_ms: u64,
    /// `online` or `paper:<batch id>`.
    channel: String,
    revealed: Option<PersonalData>,
    retired: bool,
}

/// Checks the bundle `zip` (its bytes), calling `progress(done, total)` as entries are
/// checked.
pub fn verify_bundle(
    zip: &[u8],
    options: &VerifyOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Report, Finding> {
    verify_reader(std::io::Cursor::new(zip), options, progress)
}

/// [`verify_bundle`] of a bundle read from `zip` (a file, say) as it is checked.
pub fn verify_reader(
    zip: impl Read + std::io::Seek + Send,
    options: &VerifyOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Report, Finding> {
    let mut archive = zip::ZipArchive::new(zip)
        .map_err(|e| fail("zip", format!("not a readable zip file: {e}")))?;
    let mut names: BTreeSet<String> = BTreeSet::new();
    for name in archive.file_names() {
        let name = name.map_err(|e| fail("zip", format!("a file name does not read: {e}")))?;
        names.insert(name.into_owned());
    }
    let expected: BTreeSet<String> = [MANIFEST, MANIFEST_NOTE]
        .iter()
        .chain(HASHED_FILES.iter())
        .map(|s| s.to_string())
        .collect();
    if let Some(missing) = expected.difference(&names).next() {
        return Err(fail("zip", format!("{missing} is missing")));
    }
    if let Some(extra) = names.difference(&expected).next() {
        return Err(fail("zip", format!("{extra:?} is not a file of a bundle")));
    }
    if archive.len() != expected.len() {
        return Err(fail("zip", "a file name appears twice"));
    }
    // Each file's BLAKE3, for the manifest's list (which names neither manifest file).
    let mut hashes: BTreeMap<&str, String> = BTreeMap::new();
    let mut small = |name: &'static str| -> Result<Vec<u8>, Finding> {
        let file = archive
            .by_name(name)
            .map_err(|e| fail("zip", format!("{name}: {e}")))?;
        let mut bytes = Vec::new();
        file.take(MAX_SMALL_FILE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| fail("zip", format!("{name} does not unpack: {e}")))?;
        if bytes.len() as u64 > MAX_SMALL_FILE {
            return Err(fail(
                "zip",
                format!("{name} is larger than a bundle's file may be"),
            ));
        }
        hashes.insert(name, blake3::hash(&bytes).to_hex().to_string());
        Ok(bytes)
    };
    let manifest_bytes = small(MANIFEST)?;
    let manifest_note = text(MANIFEST_NOTE, small(MANIFEST_NOTE)?)?;
    let checkpoint_text = text(CHECKPOINT, small(CHECKPOINT)?)?;
    let tally_note = text(TALLY_NOTE, small(TALLY_NOTE)?)?;
    let tally_text = text(TALLY_TEXT, small(TALLY_TEXT)?)?;
    small(super::README)?;
    small(super::SUMMARY)?;

    // --- the manifest and the log's signatures -------------------------------------
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| fail("manifest.json", format!("does not parse: {e}")))?;
    if manifest.format != FORMAT {
        return Err(fail("manifest.json", format!("format is not {FORMAT}")));
    }
    let alg: HashAlg = manifest
        .hash
        .parse()
        .map_err(|_| fail("manifest.json", "hash is neither blake3 nor sha256"))?;
    let stated = NoteVerifier::parse(&manifest.vkey)
        .map_err(|e| fail("manifest.json", format!("vkey: {e}")))?;
    let key_given = options.vkey.is_some();
    let log_key = match &options.vkey {
        Some(given) if *given != stated => {
            return Err(fail(
                "key",
                "the bundle is signed for another log key than the one given with --vkey",
            ))
        }
        Some(given) => given.clone(),
        None => stated,
    };
    let mut known = vec![log_key.clone()];
    for cosigner in &manifest.cosigners {
        known.push(
            NoteVerifier::parse(cosigner)
                .map_err(|e| fail("manifest.json", format!("cosigners: {e}")))?,
        );
    }
    for auditor in &options.auditors {
        if !known.contains(auditor) {
            known.push(auditor.clone());
        }
    }
    // Every signature on the notes must verify: one that no known key made is a
    // change to the file, not a stranger's cosignature.
    let open_strict = |check: &'static str, note: &str| {
        let opened = ledger::note::open(note, &known)
            .map_err(|e| fail(check, format!("its signatures do not verify: {e}")))?;
        if !opened.is_verified_by(&log_key) {
            return Err(fail(check, "it is not signed by the log key"));
        }
        if let Some(stranger) = opened.unverified().first() {
            return Err(fail(
                check,
                format!(
                    "it carries a signature by {:?}, a key neither the manifest nor --auditor names",
                    stranger.name()
                ),
            ));
        }
        Ok(opened)
    };
    let checkpoint_note = open_strict(CHECKPOINT, &checkpoint_text)?;
    let checkpoint = ledger::checkpoint::Checkpoint::parse_body(checkpoint_note.body())
        .map_err(|e| fail(CHECKPOINT, e.to_string()))?;
    if checkpoint.origin != log_key.name() || manifest.origin != log_key.name() {
        return Err(fail(CHECKPOINT, "its origin is not the log key's name"));
    }
    if checkpoint.size != manifest.tree_size || checkpoint.root != manifest.root {
        return Err(fail(
            CHECKPOINT,
            "its tree size and root are not the manifest's",
        ));
    }
    let note = open_strict(MANIFEST_NOTE, &manifest_note)?;
    if note.body() != manifest_note_body(log_key.name(), manifest.tree_size, &manifest_bytes) {
        return Err(fail(
            MANIFEST,
            "does not match the log key's signature of it in manifest.note",
        ));
    }
    let tally = open_strict(TALLY_NOTE, &tally_note)?;
    let body = projector::tally::TallyBody::parse(tally.body())
        .map_err(|e| fail(TALLY_NOTE, e.to_string()))?;
    if body.origin != log_key.name()
        || body.tree_size != manifest.tree_size
        || body.root != manifest.root
    {
        return Err(fail(
            TALLY_NOTE,
            "it is not the tally of the checkpoint's tree",
        ));
    }
    if body.text_hash != alg.digest(tally_text.as_bytes()) {
        return Err(fail(
            TALLY_TEXT,
            "it is not the text the signed tally note commits to",
        ));
    }
    let mut auditors = Vec::new();
    for auditor in &options.auditors {
        if !tally.is_verified_by(auditor) {
            return Err(fail(
                TALLY_NOTE,
                format!("the auditor {:?} did not cosign it", auditor.name()),
            ));
        }
        auditors.push(auditor.name().to_string());
    }
    let counter_line = format!("{} {}\n", manifest.counter.key, manifest.counter.value);
    let area = projector::Area::parse(&format!("{}:{}", manifest.area.kind, manifest.area.code))
        .map_err(|e| fail("manifest.json", format!("area: {e}")))?;
    if area.counter_key(&manifest.petition_id) != manifest.counter.key {
        return Err(fail("manifest.json", "the counter is not the area's"));
    }
    let counted =
        tally_text.starts_with(&counter_line) || tally_text.contains(&format!("\n{counter_line}"));
    let absent_means_zero = manifest.counter.value == 0
        && !tally_text.lines().any(|l| {
            l.split_once(' ')
                .is_some_and(|(k, _)| k == manifest.counter.key)
        });
    if !counted && !absent_means_zero {
        return Err(fail(
            TALLY_TEXT,
            format!(
                "the signed tally does not say {} = {}",
                manifest.counter.key, manifest.counter.value
            ),
        ));
    }

    // --- entries.jsonl ---------------------------------------------------------------
    let entries_file = archive
        .by_name(ENTRIES)
        .map_err(|e| fail("zip", format!("{ENTRIES}: {e}")))?;
    let context = LineContext {
        alg,
        tree_size: manifest.tree_size,
        root: manifest.root,
        petition_id: &manifest.petition_id,
        area: &area,
    };
    let mut listed: BTreeMap<u64, Listed> = BTreeMap::new();
    let mut opened = false;
    let mut last: Option<u64> = None;
    let mut apply = |count: u64, checked: Checked| -> Result<(), Finding> {
        let index = checked.index;
        let at = |message: String| fail(ENTRIES, format!("entry {index}: {message}"));
        if last.is_some_and(|last| index <= last) {
            return Err(at("entries are not in ascending index order".into()));
        }
        last = Some(index);
        match checked.line {
            Line::Opened => opened = true,
            Line::Signature(signature) => {
                listed.insert(index, signature);
            }
            Line::Retiring(of) => {
                let in_area: Vec<u64> = of.into_iter().filter(|x| listed.contains_key(x)).collect();
                if in_area.is_empty() {
                    return Err(at("retires no signature the bundle lists before it".into()));
                }
                retire(&mut listed, &in_area).map_err(at)?;
            }
        }
        progress(count, manifest.entries);
        Ok(())
    };
    let (count, entries_hash) = check_lines(entries_file, &context, &mut apply)?;
    hashes.insert(ENTRIES, entries_hash);
    if !opened {
        return Err(fail(
            ENTRIES,
            format!(
                "the petition.opened entry of {} is missing",
                manifest.petition_id
            ),
        ));
    }
    let live: Vec<(&u64, &Listed)> = listed.iter().filter(|(_, s)| !s.retired).collect();
    if live.len() as u64 != manifest.counter.value {
        return Err(fail(
            ENTRIES,
            format!(
                "{} live signatures listed, but the signed tally counts {} ({})",
                live.len(),
                manifest.counter.value,
                manifest.counter.key
            ),
        ));
    }
    if count != manifest.entries {
        return Err(fail(
            ENTRIES,
            format!("{count} lines, but the manifest says {}", manifest.entries),
        ));
    }
    let revealed = live.iter().filter(|(_, s)| s.revealed.is_some()).count() as u64;
    if listed.values().any(|s| s.retired && s.revealed.is_some()) {
        return Err(fail(
            ENTRIES,
            "personal data of a signature that no longer counts",
        ));
    }
    let stated = &manifest.signatures;
    if (stated.listed, stated.live, stated.revealed)
        != (listed.len() as u64, live.len() as u64, revealed)
    {
        return Err(fail(
            "manifest.json",
            "its signature counts are not those of entries.jsonl",
        ));
    }

    // --- signers.csv ------------------------------------------------------------------
    let csv_file = archive
        .by_name(SIGNERS)
        .map_err(|e| fail("zip", format!("{SIGNERS}: {e}")))?;
    let mut hashing = HashingReader {
        inner: csv_file,
        hasher: blake3::Hasher::new(),
    };
    // No row of the bundle's is longer than a few kilobytes: a file that is, cut here,
    // fails its checks without being held in memory.
    let most = MAX_SMALL_FILE + 4096 * live.len() as u64;
    check_signers(&mut (&mut hashing).take(most), &live)?;
    std::io::copy(&mut hashing, &mut std::io::sink())
        .map_err(|e| fail(SIGNERS, format!("does not unpack: {e}")))?;
    hashes.insert(SIGNERS, hashing.hasher.finalize().to_hex().to_string());

    // --- every file's hash ------------------------------------------------------------
    let listed_files: BTreeSet<&str> = manifest.files.keys().map(String::as_str).collect();
    let hashed: BTreeSet<&str> = HASHED_FILES.iter().copied().collect();
    if listed_files != hashed {
        return Err(fail(
            "manifest.json",
            "it does not list exactly the bundle's files",
        ));
    }
    for name in HASHED_FILES {
        if manifest.files.get(name) != hashes.get(name) {
            return Err(fail(
                name,
                "its content does not match its BLAKE3 in the manifest",
            ));
        }
    }
    Ok(Report {
        petition_id: manifest.petition_id,
        area: area.to_string(),
        origin: manifest.origin,
        hash: manifest.hash,
        vkey: manifest.vkey,
        key_given,
        tree_size: manifest.tree_size,
        root: manifest.root.to_string(),
        counter_key: manifest.counter.key,
        counter_value: manifest.counter.value,
        listed: listed.len() as u64,
        live: live.len() as u64,
        retired: (listed.len() - live.len()) as u64,
        revealed,
        exported_by: manifest.exported_by,
        exported_at: manifest.exported_at,
        auditors,
    })
}

/// What every line of `entries.jsonl` is checked against on its own.
struct LineContext<'a> {
    alg: HashAlg,
    tree_size: u64,
    root: ledger::Hash,
    petition_id: &'a str,
    area: &'a projector::Area,
}

/// A line that holds on its own (its proof leads to the root, its entry decodes
/// strictly, a signature is of the petition and area and its revealed data opens its
/// commitment); what relates lines is checked in order, as they are applied.
struct Checked {
    index: u64,
    line: Line,
}

enum Line {
    Opened,
    Signature(Listed),
    /// A withdrawal or invalidation, and the signatures it names.
    Retiring(Vec<u64>),
}

/// Lines handed to a checking thread at once.
const LINES_PER_JOB: usize = 512;

type Job = (u64, u64, Vec<Vec<u8>>);
type Done = (u64, Vec<Result<Checked, Finding>>);

/// Reads `entries.jsonl` from `file` on one thread, checks its lines on as many as the
/// machine has cores, and calls `apply(line number, line)` for each in order on this
/// one. Returns the number of lines and the file's BLAKE3, or the first line (in file
/// order) that fails.
fn check_lines(
    file: impl Read + Send,
    context: &LineContext<'_>,
    apply: &mut dyn FnMut(u64, Checked) -> Result<(), Finding>,
) -> Result<(u64, String), Finding> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    std::thread::scope(|scope| {
        let (job_sender, jobs) = std::sync::mpsc::sync_channel::<Job>(workers * 2);
        let (done_sender, done) = std::sync::mpsc::sync_channel::<Done>(workers * 2);
        let reader = scope.spawn(move || read_lines(file, job_sender));
        // Shared by the checking threads, and dropped with the last of them, so the
        // reader never waits on a channel nobody reads.
        let jobs = std::sync::Arc::new(std::sync::Mutex::new(jobs));
        for _ in 0..workers {
            let jobs = jobs.clone();
            let done_sender = done_sender.clone();
            scope.spawn(move || loop {
                let job = crate::locks::lock(&jobs).recv();
                let Ok((sequence, first, lines)) = job else {
                    return;
                };
                let mut results = Vec::with_capacity(lines.len());
                for (n, line) in lines.iter().enumerate() {
                    let result = check_line(line, first + n as u64, context);
                    let failed = result.is_err();
                    results.push(result);
                    if failed {
                        break;
                    }
                }
                if done_sender.send((sequence, results)).is_err() {
                    return;
                }
            });
        }
        drop((done_sender, jobs));
        // Apply in order; an error returns at once, dropping the receiver, so the
        // checking threads and then the reader stop at their next hand-over.
        let applied = (|| {
            let mut waiting: BTreeMap<u64, Vec<Result<Checked, Finding>>> = BTreeMap::new();
            let mut next = 0u64;
            let mut count = 0u64;
            for (sequence, results) in done {
                waiting.insert(sequence, results);
                while let Some(results) = waiting.remove(&next) {
                    for result in results {
                        count += 1;
                        apply(count, result?)?;
                    }
                    next += 1;
                }
            }
            Ok(count)
        })();
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(fail(ENTRIES, "the reading thread failed")));
        let count = applied?;
        let (lines, hash) = read?;
        if lines != count {
            return Err(fail(ENTRIES, "a line was not checked"));
        }
        Ok((count, hash))
    })
}

/// Reads the lines of `file`, hashing them, and hands them out `LINES_PER_JOB` at a
/// time. Returns the number of lines and the BLAKE3 of the file.
fn read_lines(
    file: impl Read,
    jobs: std::sync::mpsc::SyncSender<Job>,
) -> Result<(u64, String), Finding> {
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut hasher = blake3::Hasher::new();
    let mut batch = Vec::with_capacity(LINES_PER_JOB);
    let (mut count, mut sequence, mut first) = (0u64, 0u64, 1u64);
    loop {
        let mut line = Vec::new();
        let read = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| fail(ENTRIES, format!("does not unpack: {e}")))?;
        if read > 0 {
            hasher.update(&line);
            count += 1;
            batch.push(line);
        }
        if batch.len() == LINES_PER_JOB || (read == 0 && !batch.is_empty()) {
            let lines = std::mem::replace(&mut batch, Vec::with_capacity(LINES_PER_JOB));
            if jobs.send((sequence, first, lines)).is_err() {
                // The lines are no longer wanted: a line before failed.
                return Ok((count, String::new()));
            }
            sequence += 1;
            first = count + 1;
        }
        if read == 0 {
            return Ok((count, hasher.finalize().to_hex().to_string()));
        }
    }
}

/// Checks line number `count` on its own.
fn check_line(raw: &[u8], count: u64, context: &LineContext<'_>) -> Result<Checked, Finding> {
    let at = |message: String| fail(ENTRIES, format!("line {count}: {message}"));
    if raw.len() > MAX_LINE || raw.last() != Some(&b'\n') {
        return Err(at("too long, or not ended by a newline".into()));
    }
    let parsed: EntryLine = serde_json::from_slice(&raw[..raw.len() - 1])
        .map_err(|e| at(format!("does not parse: {e}")))?;
    let index = parsed.index;
    let at = |message: String| fail(ENTRIES, format!("entry {index}: {message}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(parsed.entry.as_bytes())
        .map_err(|_| at("its bytes are not base64".into()))?;
    let alg = context.alg;
    ledger::merkle::verify_inclusion(
        alg,
        index,
        context.tree_size,
        &alg.leaf_hash(&bytes),
        &parsed.proof,
        &context.root,
    )
    .map_err(|_| {
        at(format!(
            "its inclusion proof does not lead to the root of tree size {}",
            context.tree_size
        ))
    })?;
    let revealing = parsed.salt.is_some() || parsed.personal_data.is_some();
    // Every signature kind is read in place, as strictly as `Entry::decode` reads them.
    if let Some(signature) = Entry::decode_signature(&bytes) {
        if signature.petition_id != context.petition_id {
            return Err(at(format!(
                "a signature of petition {}, not {}",
                signature.petition_id, context.petition_id
            )));
        }
        if !context.area.holds(&signature) {
            return Err(at(format!("a signature from outside {}", context.area)));
        }
        let revealed = match (parsed.salt, parsed.personal_data) {
            (None, None) => None,
            (Some(salt), Some(data)) => {
                if !signature.consent_to_share {
                    return Err(at(
                        "personal data of a signer who did not consent to share it".into(),
                    ));
                }
                if commitment(alg, &salt.0, &data) != signature.commitment {
                    return Err(at("the personal data and salt do not reproduce the \
                         signature's commitment"
                        .into()));
                }
                Some(data)
            }
            _ => return Err(at("a salt without personal data, or the reverse".into())),
        };
        return Ok(Checked {
            index,
            line: Line::Signature(Listed {
                time_ms: signature.time_ms,
                channel: super::channel_text(signature.paper_batch),
                revealed,
                retired: false,
            }),
        });
    }
    let entry = Entry::decode(&bytes).map_err(|e| at(format!("does not decode: {e}")))?;
    let line = match entry.record() {
        Record::PetitionOpened(p) if p.petition_id.as_str() == context.petition_id => Line::Opened,
        Record::SignatureWithdrawn(w) => Line::Retiring(vec![w.index]),
        Record::SignatureWithdrawnBySigner(w) => Line::Retiring(vec![w.index]),
        Record::SignaturesInvalidated(i) => Line::Retiring(i.indexes.iter().copied().collect()),
        other => {
            return Err(at(format!(
                "a {} entry, which a bundle of petition {} has no use for",
                other.kind(),
                context.petition_id
            )))
        }
    };
    if revealing {
        return Err(at(
            "personal data on an entry that is not a signature".into()
        ));
    }
    Ok(Checked { index, line })
}

fn text(name: &'static str, bytes: Vec<u8>) -> Result<String, Finding> {
    String::from_utf8(bytes).map_err(|_| fail(name, "not UTF-8"))
}

/// Marks the listed signatures `indexes` retired by the entry being read (which comes
/// after them in the log).
fn retire(listed: &mut BTreeMap<u64, Listed>, indexes: &[u64]) -> Result<(), String> {
    for index in indexes {
        let Some(signature) = listed.get_mut(index) else {
            return Err(format!(
                "retires signature {index}, which the bundle does not list before it"
            ));
        };
        if signature.retired {
            return Err(format!("retires signature {index} a second time"));
        }
        signature.retired = true;
    }
    Ok(())
}

/// Checks `signers.csv`: a BOM, the header, then exactly one row per live signature in
/// log order, each as its entry (and revealed data) says.
fn check_signers(reader: &mut dyn Read, live: &[(&u64, &Listed)]) -> Result<(), Finding> {
    let mut bom = [0u8; 3];
    reader
        .read_exact(&mut bom)
        .map_err(|_| fail(SIGNERS, "it is empty"))?;
    if bom != [0xEF, 0xBB, 0xBF] {
        return Err(fail(
            SIGNERS,
            "it does not start with a UTF-8 byte order mark",
        ));
    }
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(reader);
    let header = csv
        .headers()
        .map_err(|e| fail(SIGNERS, format!("the header does not parse: {e}")))?;
    if header.iter().ne(SIGNERS_HEADER) {
        return Err(fail(SIGNERS, "the header is not the bundle's"));
    }
    let mut rows = csv.records();
    for (n, (index, signature)) in live.iter().enumerate() {
        let row_number = n + 2;
        let row = match rows.next() {
            Some(Ok(row)) => row,
            Some(Err(e)) => {
                return Err(fail(
                    SIGNERS,
                    format!("row {row_number} does not parse: {e}"),
                ))
            }
            None => {
                return Err(fail(
                    SIGNERS,
                    format!(
                        "live signature {index} has no row (the file ends at row {row_number})"
                    ),
                ))
            }
        };
        let expected = super::signer_row(
            **index,
            signature.time_ms,
            &signature.channel,
            signature.revealed.as_ref(),
        );
        if let Some(column) = (0..SIGNERS_HEADER.len()).find(|&c| row.get(c) != Some(&expected[c]))
        {
            let what = if row.get(0) != Some(&expected[0]) {
                format!(
                    "row {row_number} should be live signature {index}: a row is missing, \
                     added, moved or out of order"
                )
            } else {
                format!(
                    "row {row_number} (signature {index}): {} is not what the log and the \
                     revealed data say",
                    SIGNERS_HEADER[column]
                )
            };
            return Err(fail(SIGNERS, what));
        }
    }
    if let Some(extra) = rows.next() {
        let index = extra
            .ok()
            .and_then(|r| r.get(0).map(str::to_owned))
            .unwrap_or_default();
        return Err(fail(
            SIGNERS,
            format!("a row ({index:?}) for no live signature of the area"),
        ));
    }
    Ok(())
}

/// Reads through, hashing what it read.
struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The summary `verify` prints: what the bundle proves by itself, apart from what it
/// attests.
pub fn describe(report: &Report) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "ok: {} signatures of petition {} in {} checked against the log {} at tree size {}\n",
        report.listed, report.petition_id, report.area, report.origin, report.tree_size
    ));
    out.push_str("\nProved by the bundle itself:\n");
    out.push_str(&format!(
        "  - every listed signature is in the log (inclusion proofs to the signed checkpoint, root {})\n",
        report.root
    ));
    out.push_str(&format!(
        "  - {} of them count ({} withdrawn or invalidated by entries in the bundle)\n",
        report.live, report.retired
    ));
    out.push_str(&format!(
        "  - the personal data of {} signers matches what each gave when signing (their commitments)\n",
        report.revealed
    ));
    out.push_str("  - every file is as the log key signed it\n");
    out.push_str("\nAttested, not proved by the bundle alone:\n");
    out.push_str(&format!(
        "  - that no signature of {} is missing: the operator's signed tally says {} = {}\n",
        report.area, report.counter_key, report.counter_value
    ));
    if report.auditors.is_empty() {
        out.push_str(
            "  - no auditor's cosignature was checked (name auditors you trust with --auditor)\n",
        );
    } else {
        out.push_str(&format!(
            "  - auditors who replayed the whole log and cosigned that tally: {}\n",
            report.auditors.join(", ")
        ));
    }
    out.push_str(&format!(
        "\nExported {} by {}.\n",
        report.exported_at, report.exported_by
    ));
    out
}
