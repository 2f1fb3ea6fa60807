//! Offline audit: re-derive every published number from the log alone.
//!
//! An [`Auditor`] takes the entries in order and re-hashes them into its own tree,
//! replays them into its own [`Projection`], and checks what the operator published
//! against both: signed checkpoints (signature by the log key, and root equal to the
//! re-hashed root at that size), published leaf hashes (from tiles or a data
//! directory's `hashes.0`), and a signed tally (its note, and its text counter by
//! counter against the replayed tally at the note's size). The first disagreement is a
//! [`Finding`] that names the entry, checkpoint or counter.
//!
//! Nothing here trusts the operator's code: it uses only the public formats.

use std::collections::BTreeMap;
use std::path::Path;

use ledger::checkpoint::{open_checkpoint, Checkpoint};
use ledger::merkle::Frontier;
use ledger::note::NoteVerifier;
use ledger::{Hash, HashAlg};

use crate::projection::{read_entry, ReadEntry};
use crate::tally::{open_tally, TallyBody};
use crate::{Projection, Result};

/// The first thing an audit found wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Finding {
    #[error("entry {index} does not decode: {reason}")]
    UndecodableEntry { index: u64, reason: String },
    #[error("entry {index} does not hash to the published leaf hash")]
    LeafMismatch { index: u64 },
    #[error("the checkpoint at size {size} is not validly signed by the log key: {reason}")]
    BadCheckpoint { size: u64, reason: String },
    #[error("the checkpoint at size {size} commits to a different root than the entries: a rewritten log or a fork")]
    ForkedCheckpoint { size: u64 },
    #[error("the log has {entries} entries but a checkpoint was signed for size {size}: the log lost entries")]
    CheckpointBeyondLog { size: u64, entries: u64 },
    #[error("the tally note is not valid: {reason}")]
    BadTallyNote { reason: String },
    #[error("tally counter {key}: published {published}, replayed {replayed}")]
    TallyMismatch {
        key: String,
        published: String,
        replayed: String,
    },
    #[error("the log cannot be read: {reason}")]
    Unreadable { reason: String },
}

/// What a successful audit established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Entries re-hashed and replayed.
    pub entries: u64,
    /// Their root, equal to every checked checkpoint's at its size.
    pub root: Hash,
    /// Signed checkpoints checked against the re-hashed tree.
    pub checkpoints_checked: u64,
    /// The replayed tally text at `entries`.
    pub tally_text: String,
    /// Whether a published tally was checked byte for byte.
    pub tally_checked: bool,
    /// Entries the decision rules refuse (an honest log has none), and the first one.
    pub rejected_in_log: u64,
    pub first_rejected: Option<(u64, String)>,
}

/// Re-hashes and replays a log entry by entry, checking published artefacts as the
/// tree reaches their sizes.
pub struct Auditor {
    alg: HashAlg,
    vkey: NoteVerifier,
    frontier: Frontier,
    projection: Projection,
    /// Checkpoints to check when the tree reaches their size.
    pending_checkpoints: BTreeMap<u64, Vec<Hash>>,
    checkpoints_checked: u64,
    /// A published tally (note body and text) to compare when the tree reaches its size.
    pending_tally: Option<(TallyBody, String)>,
    tally_checked: bool,
}

impl Auditor {
    /// An auditor of a log hashed with `alg` and signed by `vkey`.
    pub fn new(alg: HashAlg, vkey: NoteVerifier) -> Auditor {
        Auditor {
            alg,
            vkey,
            frontier: Frontier::new(),
            projection: Projection::new(),
            pending_checkpoints: BTreeMap::new(),
            checkpoints_checked: 0,
            pending_tally: None,
            tally_checked: false,
        }
    }

    /// Entries taken so far.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Opens a signed checkpoint (any size) to be checked against the re-hashed tree
    /// when it reaches that size; checked at once if it already has.
    pub fn expect_checkpoint(&mut self, note: &str) -> Result<(), Finding> {
        let opened = open_signed_checkpoint(note, &self.vkey);
        self.expect_opened_checkpoint(opened, self.size())
    }

    /// [`Auditor::expect_checkpoint`] of a checkpoint already opened (on another
    /// thread), found in the log after its first `read` entries: entries this auditor
    /// may not have taken yet.
    fn expect_opened_checkpoint(
        &mut self,
        opened: Result<Checkpoint, Finding>,
        read: u64,
    ) -> Result<(), Finding> {
        let checkpoint = opened?;
        if checkpoint.size < read {
            return Err(Finding::Unreadable {
                reason: format!(
                    "checkpoint at size {} given after entry {read} was taken",
                    checkpoint.size,
                ),
            });
        }
        self.pending_checkpoints
            .entry(checkpoint.size)
            .or_default()
            .push(checkpoint.root);
        self.settle()
    }

    /// Opens a signed tally note and its text, to be compared with the replayed tally
    /// when the tree reaches the note's size.
    pub fn expect_tally(&mut self, note: &str, text: &str) -> Result<(), Finding> {
        let body =
            open_tally(self.alg, note, &self.vkey, text).map_err(|e| Finding::BadTallyNote {
                reason: e.to_string(),
            })?;
        self.pending_checkpoints
            .entry(body.tree_size)
            .or_default()
            .push(body.root);
        self.pending_tally = Some((body, text.to_string()));
        self.settle()
    }

    /// Takes the next entries, hashing and decoding them on a second thread while this
    /// one checks and folds. `published_leaves[i]`, if given, is the leaf hash of
    /// `entries[i]` as the operator published it.
    pub fn push_many<E: AsRef<[u8]> + Sync>(
        &mut self,
        entries: &[E],
        published_leaves: Option<&[Hash]>,
    ) -> Result<(), Finding> {
        let alg = self.alg;
        self.projection.reserve(entries.len());
        crate::pipeline::pipeline(
            entries,
            |entry| (alg.leaf_hash(entry), read_entry(entry)),
            |position, (leaf, decoded)| {
                self.take(
                    leaf,
                    decoded.as_ref(),
                    published_leaves.and_then(|l| l.get(position)),
                )
            },
        )
    }

    fn take(
        &mut self,
        leaf: &Hash,
        decoded: Result<&ReadEntry<'_>, &ledger::Error>,
        published_leaf: Option<&Hash>,
    ) -> Result<(), Finding> {
        let index = self.size();
        if published_leaf.is_some_and(|p| p != leaf) {
            return Err(Finding::LeafMismatch { index });
        }
        let entry = decoded.map_err(|e| Finding::UndecodableEntry {
            index,
            reason: e.to_string(),
        })?;
        self.projection.replay_read(entry);
        self.frontier.push(self.alg, *leaf, |_, _| {});
        self.settle()
    }

    /// Checks everything due at the current size.
    fn settle(&mut self) -> Result<(), Finding> {
        let size = self.size();
        let due = self.pending_checkpoints.first_entry();
        if let Some(roots) = due.filter(|c| *c.key() == size).map(|c| c.remove()) {
            let root = self.frontier.root(self.alg);
            if roots.iter().any(|r| *r != root) {
                return Err(Finding::ForkedCheckpoint { size });
            }
            self.checkpoints_checked += roots.len() as u64;
        }
        let due = self
            .pending_tally
            .take_if(|(body, _)| body.tree_size == size);
        if let Some((_, published)) = due {
            compare_tallies(&published, &self.projection.tally_text())?;
            self.tally_checked = true;
        }
        Ok(())
    }

    /// Ends the audit: every expected checkpoint and tally must have been reached.
    pub fn finish(self) -> Result<AuditReport, Finding> {
        let entries = self.size();
        if let Some((&size, _)) = self.pending_checkpoints.iter().next_back() {
            return Err(Finding::CheckpointBeyondLog { size, entries });
        }
        let (rejected_in_log, first) = self.projection.rejected_in_log();
        Ok(AuditReport {
            entries,
            root: self.frontier.root(self.alg),
            checkpoints_checked: self.checkpoints_checked,
            tally_text: self.projection.tally_text(),
            tally_checked: self.tally_checked,
            rejected_in_log,
            first_rejected: first.map(|(i, r)| (i, r.to_string())),
        })
    }
}

/// Opens a checkpoint signed by `vkey`, or names what is wrong with it.
fn open_signed_checkpoint(note: &str, vkey: &NoteVerifier) -> Result<Checkpoint, Finding> {
    open_checkpoint(note, vkey)
        .map(|(checkpoint, _)| checkpoint)
        .map_err(|e| Finding::BadCheckpoint {
            size: checkpoint_size_hint(note),
            reason: e.to_string(),
        })
}

/// The size line of a note that failed to open, for naming it (0 if there is none).
fn checkpoint_size_hint(note: &str) -> u64 {
    note.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
}

/// Compares two tally texts counter by counter, naming the first that differs.
pub fn compare_tallies(published: &str, replayed: &str) -> Result<(), Finding> {
    fn parse(text: &str) -> BTreeMap<&str, &str> {
        text.lines()
            .map(|line| line.rsplit_once(' ').unwrap_or((line, "")))
            .collect()
    }
    if published == replayed {
        return Ok(());
    }
    let (a, b) = (parse(published), parse(replayed));
    let keys: std::collections::BTreeSet<&str> = a.keys().chain(b.keys()).copied().collect();
    for key in keys {
        let (p, r) = (a.get(key), b.get(key));
        if p != r {
            let show = |v: Option<&&str>| v.copied().unwrap_or("(absent)").to_string();
            return Err(Finding::TallyMismatch {
                key: key.to_string(),
                published: show(p),
                replayed: show(r),
            });
        }
    }
    // Same counters, different bytes: order, spacing or line endings.
    Err(Finding::TallyMismatch {
        key: "(layout)".into(),
        published: "not in the canonical sorted form".into(),
        replayed: "canonical".into(),
    })
}

/// What an auditor was given besides the entries.
#[derive(Clone, Debug, Default)]
pub struct Published<'a> {
    /// The signed checkpoint the entries must add up to (its size must be theirs).
    pub checkpoint: Option<&'a str>,
    /// Earlier checkpoints the auditor saw; each must agree with the entries.
    pub seen_checkpoints: &'a [String],
    /// The published leaf hashes (from tiles), to name a changed entry exactly.
    pub leaf_hashes: Option<&'a [Hash]>,
    /// A signed tally note and its text.
    pub tally: Option<(&'a str, &'a str)>,
}

/// Audits entries `[0, N)` against what was published. The entries must be exactly
/// the log prefix of the published checkpoint's size.
pub fn audit_entries<E: AsRef<[u8]> + Sync>(
    alg: HashAlg,
    vkey: &NoteVerifier,
    entries: impl IntoIterator<Item = E>,
    published: &Published<'_>,
) -> Result<AuditReport, Finding> {
    let mut auditor = Auditor::new(alg, vkey.clone());
    for note in published
        .checkpoint
        .iter()
        .copied()
        .chain(published.seen_checkpoints.iter().map(String::as_str))
    {
        auditor.expect_checkpoint(note)?;
    }
    if let Some((note, text)) = published.tally {
        auditor.expect_tally(note, text)?;
    }
    // In chunks, so that hashing and decoding run ahead on a second core.
    let mut entries = entries.into_iter().peekable();
    while entries.peek().is_some() {
        let chunk: Vec<E> = entries.by_ref().take(1 << 16).collect();
        let start = auditor.size() as usize;
        let leaves = published.leaf_hashes.map(|l| l.get(start..).unwrap_or(&[]));
        auditor.push_many(&chunk, leaves)?;
    }
    let size = auditor.size();
    if published.leaf_hashes.is_some_and(|l| l.len() as u64 > size) {
        return Err(Finding::LeafMismatch { index: size });
    }
    let report = auditor.finish()?;
    if let Some(note) = published.checkpoint {
        let claimed = checkpoint_size_hint(note);
        if claimed != size {
            return Err(Finding::CheckpointBeyondLog {
                size: claimed,
                entries: size,
            });
        }
    }
    Ok(report)
}

/// A journal batch's entries in one buffer. The journal reader gets one allocation
/// per entry; copying them into one and freeing those on the reading thread keeps the
/// allocator reusing its memory (freed on the auditing thread, they came back too late,
/// and the reader kept taking fresh pages from the system: a fifth of the audit's time).
struct PackedBatch {
    bytes: Vec<u8>,
    /// Where each entry ends in `bytes`.
    ends: Vec<usize>,
}

impl PackedBatch {
    fn new(entries: Vec<Vec<u8>>) -> PackedBatch {
        let mut bytes = Vec::with_capacity(entries.iter().map(Vec::len).sum());
        let ends = entries
            .iter()
            .map(|entry| {
                bytes.extend_from_slice(entry);
                bytes.len()
            })
            .collect();
        PackedBatch { bytes, ends }
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn entries(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.bytes[start..end])
    }
}

/// Entries of a data directory audited per [`Auditor::push_many`]. The journal's
/// batches are grouped (a bulk import writes 1,024 entries per batch, a live server
/// often one), so that the two-thread pipeline runs long.
const AUDIT_RUN: usize = 1 << 16;

/// Journal batches read ahead of the audit.
const READ_AHEAD: usize = 64;

/// Audits the log in a data directory (not open for writing): every entry re-hashed,
/// compared with the stored leaf hashes where present, and replayed; every signed
/// checkpoint in the journal checked; and, if given, a tally note and text.
///
/// A third thread reads the journal and opens (verifies the signature of) each batch's
/// checkpoint ahead of the audit. Findings are still named in log order: a checkpoint
/// that does not open is reported only once every entry before its batch is audited.
pub fn audit_dir(dir: &Path, tally: Option<(&str, &str)>) -> Result<AuditReport> {
    let identity = ledger::store::describe(dir)?;
    let vkey = NoteVerifier::parse(&identity.vkey)?;
    let mut auditor = Auditor::new(identity.config.hash, vkey.clone());
    if let Some((note, text)) = tally {
        auditor.expect_tally(note, text)?;
    }
    let stored_leaves = std::fs::read(dir.join("hashes.0")).unwrap_or_default();
    let stored_leaf = |index: u64| -> Option<Hash> {
        let at = usize::try_from(index).ok()?.checked_mul(32)?;
        stored_leaves.get(at..at.checked_add(32)?)?.try_into().ok()
    };
    // Audits the entries read but not yet taken.
    let flush = |auditor: &mut Auditor, run: &mut Vec<PackedBatch>| -> Result<(), Finding> {
        let entries: Vec<&[u8]> = run.iter().flat_map(PackedBatch::entries).collect();
        let start = auditor.size();
        let leaves: Vec<Hash> = (start..start + entries.len() as u64)
            .map_while(stored_leaf)
            .collect();
        auditor.push_many(&entries, Some(&leaves))?;
        run.clear();
        Ok(())
    };
    let (audited, read) = std::thread::scope(|scope| {
        let (batches, ready) = std::sync::mpsc::sync_channel(READ_AHEAD);
        let reader = scope.spawn(move || {
            ledger::store::read_log(dir, &mut |batch| {
                let opened = open_signed_checkpoint(&batch.checkpoint, &vkey);
                batches
                    .send((PackedBatch::new(batch.entries), opened))
                    .map_err(|_| ledger::Error::Corrupt("the audit stopped".into()))
            })
        });
        let audit = || -> Result<(), Finding> {
            let mut run = Vec::new();
            let mut in_run = 0;
            for (batch, opened) in ready {
                let read = auditor.size() + in_run as u64;
                if let Err(finding) = auditor.expect_opened_checkpoint(opened, read) {
                    flush(&mut auditor, &mut run)?;
                    return Err(finding);
                }
                in_run += batch.len();
                run.push(batch);
                if in_run >= AUDIT_RUN {
                    flush(&mut auditor, &mut run)?;
                    in_run = 0;
                }
            }
            flush(&mut auditor, &mut run)
        };
        // Returning drops the receiver, which stops the reader at its next batch.
        let audited = audit();
        (
            audited,
            reader.join().expect("the journal reader does not panic"),
        )
    });
    audited?;
    if let Some(reason) = read? {
        return Err(Finding::Unreadable { reason }.into());
    }
    Ok(auditor.finish()?)
}
