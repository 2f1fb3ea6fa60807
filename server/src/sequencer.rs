//! The sequencer: one thread that decides and appends every record, in order.
//!
//! Handlers parse and authenticate a request, seal its personal data and hand it over
//! as a [`Submission`]. The sequencer takes whatever submissions are waiting (group
//! commit), and for each one, in arrival order:
//! 1. answers a retried `Idempotency-Key` from what it remembers;
//! 2. checks the token's scope;
//! 3. decides every record against the *working* projection (committed entries plus
//!    the ones accepted earlier in this batch), so two duplicates in one batch are
//!    caught; a request is all or nothing.
//!
//! Then, for the whole batch: one vault write (sealed personal data at the entries'
//! indexes, appended to `vault.log` with one fdatasync), one idempotency transaction,
//! one log append (entries fsynced and a signed checkpoint). Only then does it fold
//! the entries into the *published* projection that readers see and answer every
//! waiter. The vault and idempotency records are written first so that a crash can
//! orphan them but never lose them; start-up reconciles both against the log.
//!
//! Why one thread: the decision rules need a total order, and the log has one writer
//! anyway. Deciding costs about a microsecond per record; the fsync dominates, and
//! group commit shares it across every request that waited for it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use ledger::store::Store;
use ledger::{DedupTag, Entry, Hash, Record, SignerSecret};
use projector::persist::Snapshots;
use projector::{Projection, Rejection};
use tokio::sync::{mpsc, oneshot};

use crate::auth::{Role, Scope, TokenRecord};
use crate::health::DiskGuard;
use crate::idempotency::{IdempotencyStore, Remembered};
use crate::locks;
use crate::vault::{Sealed, Vault};

/// Most entries decided and committed as one batch.
pub const MAX_BATCH_ENTRIES: usize = 8192;
/// Submissions that may wait for the sequencer before senders wait in turn.
pub const QUEUE_DEPTH: usize = 4096;
/// Entries appended between background snapshots of the read models, so a restart
/// after a crash replays at most about this many (well under a second).
pub const SNAPSHOT_EVERY: u64 = 500_000;

/// Where and how often the sequencer saves read-model snapshots.
pub struct Snapshotting {
    pub snapshots: Arc<Snapshots>,
    /// Entries appended between two saves (default [`SNAPSHOT_EVERY`]).
    pub every: u64,
}

/// One record ready for the sequencer.
pub struct Staged {
    pub record: Record,
    /// The signer's personal data, sealed for the vault (signatures only).
    pub sealed: Option<Sealed>,
    /// The secret a signature's `signer_hash` commits to, for the answer only: the
    /// sequencer never sees a use for it.
    pub signer_secret: Option<SignerSecret>,
}

impl Staged {
    /// A record the server writes itself (an export issued, an erasure, a signer's
    /// withdrawal): no personal data, no secret.
    pub fn written_by_the_server(record: impl Into<Record>) -> Staged {
        Staged {
            record: record.into(),
            sealed: None,
            signer_secret: None,
        }
    }
}

/// An idempotency key and the fingerprint of the body it came with.
pub struct IdempotencyKey {
    pub scoped_key: String,
    pub fingerprint: [u8; 32],
}

/// One request's records, to be appended all together or not at all.
pub struct Submission {
    pub token: TokenRecord,
    pub idempotency: Option<IdempotencyKey>,
    pub records: Vec<Staged>,
    pub decision: Decision,
    pub reply: oneshot::Sender<Result<Accepted, Refusal>>,
}

/// How a submission is decided. The default is what `POST /api/v1/records` needs:
/// stop at the first refusal, append if none. A paper import (`crate::import`) asks
/// for every refusal, so that each bad row is named, and for dry runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Decide every record even after one was refused by the decision rules, and
    /// refuse with [`Refusal::RejectedMany`] naming each. A refusal of scope or size
    /// still stops at once.
    pub every_refusal: bool,
    /// Decide, then undo: nothing is written, and the answer's [`Accepted`] names only
    /// where the records would have gone (`first_index`; no leaf hashes, no
    /// checkpoint, `tree_size` the log's size then).
    pub dry_run: bool,
}

/// One record refused by the decision rules, in a [`Refusal::RejectedMany`].
#[derive(Clone, Debug)]
pub struct RecordRefusal {
    pub position: usize,
    pub rejection: Rejection,
    /// For a duplicate signature: which of its dedup tags had already signed, so the
    /// caller can say which identity (email; name with postcode) it was.
    pub signed: Vec<DedupTag>,
}

/// Where a request's records went, and the checkpoint that covers them.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub first_index: u64,
    pub leaf_hashes: Vec<Hash>,
    pub tree_size: u64,
    pub root: Hash,
    pub checkpoint: Arc<str>,
    /// One per entry: the secret a signature commits to (`None` for other records),
    /// for the answer only.
    pub signer_secrets: Vec<Option<SignerSecret>>,
    /// True when this answers a retry of an earlier request with the same key.
    pub replayed: bool,
}

/// Why a request appended nothing.
#[derive(Clone, Debug)]
pub enum Refusal {
    /// The decision rules refused the record at `position`.
    Rejected {
        position: usize,
        rejection: Rejection,
    },
    /// The decision rules refused these records (in position order, at least one), when
    /// [`Decision::every_refusal`] asked for all of them.
    RejectedMany(Vec<RecordRefusal>),
    /// The token may not append the record at `position`.
    OutOfScope { position: usize },
    /// The record at `position` encodes to more than an entry may hold (a
    /// `signatures.invalidated` naming thousands of large indexes): it must be split.
    TooLarge { position: usize, bytes: usize },
    /// The token's role may not append at all.
    Forbidden,
    /// The idempotency key was used before with a different body.
    IdempotencyConflict,
    /// The data directory's disk is full: nothing was written, and the same request
    /// can succeed once there is room.
    StorageFull,
    /// Storage failed; nothing of this request was acknowledged.
    Internal(String),
}

/// The read side the sequencer publishes to.
pub type Published = Arc<RwLock<Projection>>;

/// A handle to send submissions to the sequencer.
#[derive(Clone)]
pub struct Sequencer {
    sender: mpsc::Sender<Submission>,
}

impl Sequencer {
    /// Starts the sequencer thread. `published` must reflect exactly the entries of
    /// `store`. The thread stops when every handle is dropped, after answering
    /// everything already submitted; `on_stop` then runs on it (snapshots, closing).
    pub fn start(
        store: Store,
        published: Published,
        vault: Arc<Vault>,
        idempotency: Arc<IdempotencyStore>,
        snapshots: Snapshotting,
        disk: Arc<DiskGuard>,
        on_stop: impl FnOnce(&mut Projection) + Send + 'static,
    ) -> std::io::Result<(Sequencer, std::thread::JoinHandle<()>)> {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        let handle = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || {
                // The working copy is made here, not by the caller: at millions of
                // signatures it takes a good part of a second, and reads are served
                // from `published` meanwhile (appends wait in the queue). It takes the
                // dedup set with it (only the working projection decides): handed over
                // under the write lock at once, then the copy made under a read lock.
                let dedup = locks::write(&published).hand_over_dedup();
                let working = locks::read(&published).decider_with(dedup);
                let mut state = State {
                    store,
                    snapshot_size: working.tree_size(),
                    published,
                    working,
                    vault,
                    idempotency,
                    snapshots,
                    saving: None,
                    disk,
                };
                state.run(receiver);
                if let Some(saving) = state.saving.take() {
                    let _ = saving.join();
                }
                // Every batch is committed or rolled back by now, so the working
                // projection is the published one with the dedup set.
                on_stop(&mut state.working);
            })?;
        Ok((Sequencer { sender }, handle))
    }

    /// Submits and waits for the answer.
    pub async fn submit(
        &self,
        token: TokenRecord,
        idempotency: Option<IdempotencyKey>,
        records: Vec<Staged>,
    ) -> Result<Accepted, Refusal> {
        self.submit_decided(token, idempotency, records, Decision::default())
            .await
    }

    /// [`Sequencer::submit`], decided as `decision` says.
    pub async fn submit_decided(
        &self,
        token: TokenRecord,
        idempotency: Option<IdempotencyKey>,
        records: Vec<Staged>,
        decision: Decision,
    ) -> Result<Accepted, Refusal> {
        let (reply, answer) = oneshot::channel();
        let submission = Submission {
            token,
            // A dry run is never remembered, nor answered from memory.
            idempotency: idempotency.filter(|_| !decision.dry_run),
            records,
            decision,
            reply,
        };
        if self.sender.send(submission).await.is_err() {
            return Err(Refusal::Internal("the sequencer has stopped".into()));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(Refusal::Internal("the sequencer has stopped".into())))
    }
}

struct State {
    store: Store,
    published: Published,
    /// Committed entries plus those accepted so far in the current batch.
    working: Projection,
    vault: Arc<Vault>,
    idempotency: Arc<IdempotencyStore>,
    snapshots: Snapshotting,
    /// Tree size of the last snapshot saved or being saved.
    snapshot_size: u64,
    saving: Option<std::thread::JoinHandle<()>>,
    disk: Arc<DiskGuard>,
}

/// What the current batch holds so far.
#[derive(Default)]
struct Batch {
    /// The log's size before the batch: the index of its first entry.
    base: u64,
    /// The time of every entry of the batch.
    time_ms: u64,
    entries: Vec<Entry>,
    /// The entries encoded, as they are appended.
    bytes: Vec<Vec<u8>>,
    /// Sealed personal data, at its entry's index.
    sealed: Vec<(u64, Sealed)>,
}

/// A submission accepted into the current batch.
struct Pending {
    reply: oneshot::Sender<Result<Accepted, Refusal>>,
    /// Its idempotency key, remembered with the batch.
    key: Option<IdempotencyKey>,
    /// Offset of its first entry in the batch, and how many.
    start: usize,
    count: usize,
    signer_secrets: Vec<Option<SignerSecret>>,
    /// Retries with the same key and body in the same batch get the same answer.
    followers: Vec<oneshot::Sender<Result<Accepted, Refusal>>>,
}

impl State {
    fn run(&mut self, mut receiver: mpsc::Receiver<Submission>) {
        while let Some(first) = receiver.blocking_recv() {
            let mut entries = first.records.len();
            let mut batch = vec![first];
            while entries < MAX_BATCH_ENTRIES {
                match receiver.try_recv() {
                    Ok(next) => {
                        entries += next.records.len();
                        batch.push(next);
                    }
                    Err(_) => break,
                }
            }
            self.process(batch);
        }
    }

    fn process(&mut self, submissions: Vec<Submission>) {
        let mut batch = Batch {
            base: self.working.tree_size(),
            // Entry times never go backwards, whatever the clock does (the fold refuses an
            // entry earlier than the one before it).
            time_ms: crate::unix_now_ms().max(self.working.latest_time_ms()),
            ..Batch::default()
        };
        let mut pending: Vec<Pending> = Vec::new();
        let mut in_batch: HashMap<String, (usize, [u8; 32])> = HashMap::new();

        for submission in submissions {
            let Submission {
                token,
                idempotency,
                records,
                decision,
                reply,
            } = submission;
            if let Some(key) = &idempotency {
                if let Some(&(leader, fingerprint)) = in_batch.get(&key.scoped_key) {
                    if fingerprint == key.fingerprint {
                        pending[leader].followers.push(reply);
                    } else {
                        let _ = reply.send(Err(Refusal::IdempotencyConflict));
                    }
                    continue;
                }
                match self.idempotency.get(&key.scoped_key) {
                    Ok(Some(remembered)) => {
                        let answer = if remembered.fingerprint == key.fingerprint {
                            self.remembered_answer(&remembered)
                        } else {
                            Err(Refusal::IdempotencyConflict)
                        };
                        let _ = reply.send(answer);
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        let _ = reply.send(Err(internal(e)));
                        continue;
                    }
                }
            }
            let start = batch.entries.len();
            let signer_secrets: Vec<_> = records.iter().map(|s| s.signer_secret).collect();
            let decided = self.decide(&token, records, decision.every_refusal, &mut batch);
            if decision.dry_run {
                // Decided against everything committed and accepted so far, as an
                // append now would be; then undone.
                self.undo_from(start, &mut batch);
                let _ = reply.send(decided.map(|()| Accepted {
                    first_index: batch.base + start as u64,
                    leaf_hashes: Vec::new(),
                    tree_size: batch.base,
                    root: Hash::default(),
                    checkpoint: Arc::from(""),
                    signer_secrets: Vec::new(),
                    replayed: false,
                }));
                continue;
            }
            match decided {
                Ok(()) => {
                    if let Some(key) = &idempotency {
                        in_batch.insert(key.scoped_key.clone(), (pending.len(), key.fingerprint));
                    }
                    pending.push(Pending {
                        reply,
                        key: idempotency,
                        start,
                        count: batch.entries.len() - start,
                        signer_secrets,
                        followers: Vec::new(),
                    });
                }
                Err(refusal) => {
                    self.undo_from(start, &mut batch);
                    let _ = reply.send(Err(refusal));
                }
            }
        }
        if pending.is_empty() {
            return;
        }
        let entries = batch.entries.len();
        metrics::histogram!("ledger_batch_entries").record(entries as f64);
        let started = Instant::now();
        match self.commit(&mut batch, &pending) {
            Ok(appended) => {
                if self.disk.record(false) {
                    tracing::info!("there is room on the disk again; appends resume");
                }
                {
                    let mut published = locks::write(&self.published);
                    for entry in &batch.entries {
                        published.replay(entry);
                    }
                }
                metrics::histogram!("ledger_commit_seconds")
                    .record(started.elapsed().as_secs_f64());
                metrics::counter!("ledger_appended_entries_total").increment(entries as u64);
                metrics::counter!("ledger_batches_total").increment(1);
                for waiter in pending {
                    let answer = Accepted {
                        first_index: appended.first_index + waiter.start as u64,
                        leaf_hashes: appended.leaf_hashes
                            [waiter.start..waiter.start + waiter.count]
                            .to_vec(),
                        tree_size: appended.tree_size,
                        root: appended.root,
                        checkpoint: appended.checkpoint.clone(),
                        signer_secrets: waiter.signer_secrets,
                        replayed: false,
                    };
                    for follower in waiter.followers {
                        let _ = follower.send(Ok(Accepted {
                            replayed: true,
                            ..answer.clone()
                        }));
                    }
                    let _ = waiter.reply.send(Ok(answer));
                }
                self.maybe_snapshot(&appended.root);
            }
            Err(e) => {
                let refusal = if e.is_storage_full() {
                    if self.disk.record(true) {
                        tracing::error!(
                            error = %e,
                            "the data directory's disk is full: appends are refused (507) \
                             until there is room"
                        );
                    }
                    Refusal::StorageFull
                } else {
                    tracing::error!(error = %e, "commit failed; the batch was not acknowledged");
                    Refusal::Internal("commit failed".into())
                };
                metrics::counter!("ledger_commit_failures_total").increment(1);
                self.rebuild_working(&[]);
                for waiter in pending {
                    for follower in waiter.followers {
                        let _ = follower.send(Err(refusal.clone()));
                    }
                    let _ = waiter.reply.send(Err(refusal.clone()));
                }
            }
        }
    }

    /// Undoes a request whose entries start at `start` in the batch: if part of it
    /// was applied to the working projection, rebuilds that from what is committed
    /// plus the batch before it.
    fn undo_from(&mut self, start: usize, batch: &mut Batch) {
        if batch.entries.len() > start {
            batch.entries.truncate(start);
            batch.bytes.truncate(start);
            let end = batch.base + start as u64;
            batch.sealed.retain(|(index, _)| *index < end);
            self.rebuild_working(&batch.entries);
        }
    }

    /// Decides every record of one request, appending the accepted entries to the
    /// batch. On refusal, some of the request's entries may already be in the batch
    /// and applied to the working projection; the caller undoes that. With
    /// `every_refusal`, a record the decision rules refuse is noted and the next one
    /// decided (a refused record changes nothing), and all of them are reported.
    fn decide(
        &mut self,
        token: &TokenRecord,
        records: Vec<Staged>,
        every_refusal: bool,
        batch: &mut Batch,
    ) -> Result<(), Refusal> {
        // An exporter appends only the `export.issued` of its own export, which the
        // server writes (no request may name that kind).
        let only_exports = records
            .iter()
            .all(|staged| matches!(staged.record, Record::ExportIssued(_)));
        if token.role == Role::Exporter && !only_exports {
            return Err(Refusal::Forbidden);
        }
        let author = token.author();
        let mut refused = Vec::new();
        for (position, staged) in records.into_iter().enumerate() {
            if let Some(scope) = &token.scope {
                if !self.in_scope(scope, &staged.record) {
                    return Err(Refusal::OutOfScope { position });
                }
            }
            let entry = Entry::v1(batch.time_ms, author.clone(), staged.record);
            let encoded = entry.encode().map_err(|e| match e {
                ledger::Error::EntryTooLarge(bytes) => Refusal::TooLarge { position, bytes },
                // Handlers validate every record first, so this is a bug, not bad input.
                e => Refusal::Internal(format!("a validated record does not encode: {e}")),
            })?;
            if let Err(rejection) = self.working.try_apply(&entry) {
                if !every_refusal {
                    return Err(Refusal::Rejected {
                        position,
                        rejection,
                    });
                }
                let tags = match (&rejection, entry.record()) {
                    (Rejection::DuplicateSignature, Record::SignatureCommitted(s)) => {
                        Some((&s.petition_id, &s.dedup_tags))
                    }
                    (Rejection::DuplicateSignature, Record::SignatureRecorded(s)) => {
                        Some((&s.petition_id, &s.dedup_tags))
                    }
                    _ => None,
                };
                let signed = tags.map_or_else(Vec::new, |(petition_id, tags)| {
                    tags.iter()
                        .filter(|tag| self.working.has_signed(petition_id, tag))
                        .copied()
                        .collect()
                });
                refused.push(RecordRefusal {
                    position,
                    rejection,
                    signed,
                });
                continue;
            }
            if let Some(seal) = staged.sealed {
                batch
                    .sealed
                    .push((batch.base + batch.entries.len() as u64, seal));
            }
            batch.entries.push(entry);
            batch.bytes.push(encoded);
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(Refusal::RejectedMany(refused))
        }
    }

    /// Writes the batch (vault, `pending`'s idempotency keys, then the log); takes its bytes.
    fn commit(
        &self,
        batch: &mut Batch,
        pending: &[Pending],
    ) -> crate::Result<ledger::store::Appended> {
        let base = batch.base;
        // A full disk refuses the batch before anything is written.
        self.disk.check()?;
        let items: Vec<(u64, &Sealed)> = batch.sealed.iter().map(|(i, s)| (*i, s)).collect();
        self.vault.put_many(&items)?;
        // Personal data is erased before its erasure is logged: an erasure the log shows
        // has always happened, and one whose record is then lost was at worst done
        // early (the signer or organiser asks again, and the record is written).
        let erasures: Vec<u64> = batch
            .entries
            .iter()
            .filter_map(|entry| match entry.record() {
                Record::PersonalDataErased(erased) => Some(erased.index),
                _ => None,
            })
            .collect();
        self.vault.erase_many(&erasures)?;
        let tree_size = base + batch.bytes.len() as u64;
        let created_unix = crate::unix_now();
        let records: Vec<(String, Remembered)> = pending
            .iter()
            .filter_map(|waiter| {
                let key = waiter.key.as_ref()?;
                let remembered = Remembered {
                    fingerprint: key.fingerprint,
                    first_index: base + waiter.start as u64,
                    count: waiter.count as u64,
                    tree_size,
                    created_unix,
                    signer_secrets: waiter.signer_secrets.clone(),
                };
                Some((key.scoped_key.clone(), remembered))
            })
            .collect();
        // (Nothing to remember writes nothing.)
        if let Err(e) = self.idempotency.put_many(tree_size, &records) {
            // The log stays usable, so these indexes will be reused: the batch's
            // sealed data must not stay behind at them.
            self.forget_unlogged(base);
            return Err(e);
        }
        // A failed append stops the log's writer for good (its page cache can no longer
        // be trusted), so nothing reuses these indexes in this process; whether the batch
        // survives is decided by recovery at the next start, which reconciles the vault
        // and the keys with it. A full disk is the exception: the log wrote nothing
        // and carries on, so the next batch reuses these indexes, and the vault values
        // and keys written for this one go now.
        let appended = match self.store.append_blocking(std::mem::take(&mut batch.bytes)) {
            Ok(appended) => appended,
            Err(e @ ledger::Error::StorageFull { .. }) => {
                self.forget_unlogged(base);
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        if appended.first_index != base {
            // Only the sequencer appends; anything else is a bug that must stop writes.
            return Err(crate::Error::Config(format!(
                "the log grew behind the sequencer's back: expected index {base}, got {}",
                appended.first_index
            )));
        }
        Ok(appended)
    }

    /// Forgets what was written for a batch from index `base` that did not reach the
    /// log. If even that fails, the vault refuses every later change until a restart,
    /// which forgets them.
    fn forget_unlogged(&self, base: u64) {
        if let Err(forget) = self.vault.forget_from(base) {
            tracing::error!(error = %forget, "could not forget a failed batch's vault values");
        }
        // Keys remembered for this batch would answer a retry with entries that do
        // not exist.
        if let Err(e) = self.idempotency.reconcile(base, crate::unix_now()) {
            tracing::error!(error = %e, "could not forget a failed batch's idempotency keys");
        }
    }

    /// Every [`Snapshotting::every`] entries, saves what changed since the last snapshot on
    /// a background thread. The working projection equals the published one between
    /// batches, and both track changes from the same point: the working one hands them
    /// out and the published one starts again from here too, so that the working one can
    /// be rebuilt from the published one after a failed append.
    /// Cost here: a copy of what changed and of the small state, never of everything.
    fn maybe_snapshot(&mut self, root: &Hash) {
        let size = self.working.tree_size();
        if size - self.snapshot_size < self.snapshots.every {
            return;
        }
        if self.saving.as_ref().is_some_and(|s| !s.is_finished()) {
            return;
        }
        let Some(segment) = self.working.take_segment() else {
            return;
        };
        locks::write(&self.published).track_changes();
        let snapshots = self.snapshots.snapshots.clone();
        let root = *root;
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                if let Err(e) = snapshots.append(&segment, &root) {
                    tracing::error!(error = %e, "could not save a read-model snapshot");
                }
            });
        match spawned {
            Ok(handle) => {
                self.snapshot_size = size;
                self.saving = Some(handle);
            }
            Err(e) => {
                tracing::error!(error = %e, "could not start the snapshot thread");
                self.snapshots.snapshots.lost_a_segment();
            }
        }
    }

    /// Rolls the working projection back to what is committed, then applies
    /// `accepted` again: the published projection with the working one's dedup set, less
    /// the tags of everything rolled back.
    fn rebuild_working(&mut self, accepted: &[Entry]) {
        let (rebuilt, pruned) = locks::read(&self.published).rebuild_decider(&mut self.working);
        // Both projections track their changes from one point from the start on, so
        // the rolled-back tags can always be told; if they ever could not, the set is
        // rebuilt from the log, and if even that failed it keeps them: the signers
        // rolled back would be refused as duplicates, but no duplicate is accepted.
        self.working = match pruned {
            true => rebuilt,
            false => self.replay_working().unwrap_or_else(|| {
                tracing::error!(
                    "the dedup set keeps the tags of records that were rolled back until restart"
                );
                rebuilt
            }),
        };
        for entry in accepted {
            self.working.replay(entry);
        }
    }

    /// The working projection replayed from the whole log, with a whole snapshot saved
    /// of it (the changes since the last one are not known any more), or `None` if the
    /// log cannot be read. Cost: a replay.
    fn replay_working(&mut self) -> Option<Projection> {
        tracing::error!("the working projection cannot be rolled back; replaying the log");
        // A segment still being appended would land after the whole snapshot written
        // below: let it finish first.
        if let Some(saving) = self.saving.take() {
            let _ = saving.join();
        }
        let size = self.store.size();
        let mut working = match projector::persist::replay_prefix(&self.store, size) {
            Ok(working) => working,
            Err(e) => {
                tracing::error!(error = %e, "replaying the log failed");
                return None;
            }
        };
        working.track_changes();
        locks::write(&self.published).track_changes();
        let saved = self
            .store
            .root_at(size)
            .map_err(projector::Error::from)
            .and_then(|root| self.snapshots.snapshots.rewrite(&working, &root));
        if let Err(e) = saved {
            tracing::error!(error = %e, "could not save a read-model snapshot");
        }
        Some(working)
    }

    fn remembered_answer(&self, remembered: &Remembered) -> Result<Accepted, Refusal> {
        let checkpoint = self
            .store
            .checkpoint_at(remembered.tree_size)
            .map_err(internal)?
            .ok_or_else(|| Refusal::Internal("a remembered checkpoint is missing".into()))?;
        let root = self.store.root_at(remembered.tree_size).map_err(internal)?;
        let leaf_hashes = (remembered.first_index..remembered.first_index + remembered.count)
            .map(|index| self.store.leaf_hash(index))
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?;
        Ok(Accepted {
            first_index: remembered.first_index,
            leaf_hashes,
            tree_size: remembered.tree_size,
            root,
            checkpoint: Arc::from(checkpoint),
            signer_secrets: remembered.signer_secrets.clone(),
            replayed: true,
        })
    }

    /// Whether a token scoped to `scope` may append `record` as the next entry of the
    /// working projection, which knows what every earlier entry concerns (those of this
    /// batch included).
    fn in_scope(&self, scope: &Scope, record: &Record) -> bool {
        let concerns = self.working.concerns(record);
        match scope {
            // An exporter's scope holds only the export of its area.
            Scope::Area(_) => match record {
                Record::ExportIssued(issued) => {
                    let area = projector::Area {
                        kind: issued.area_kind,
                        code: issued.area.to_string(),
                    };
                    scope.covers_area(&area)
                }
                _ => false,
            },
            Scope::Petition(petition) => concerns.only_petition(petition),
            Scope::City(city) => concerns.only_city(city),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "storage error while sequencing");
    Refusal::Internal(e.to_string())
}
