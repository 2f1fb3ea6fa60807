//! A running ledger node: the data directory opened, the read models loaded and the
//! sequencer started. `campaign-ledger serve`, the tests and the benchmark all start
//! the server through [`Node`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::Router;
use ledger::HashAlg;
use projector::persist::Snapshots;

use crate::auth::{Role, TokenRecord, TokenStore};
use crate::cosignatures::{Auditors, CosignatureStore};
use crate::datadir;
use crate::dedup_keys::DedupKeys;
use crate::health::{DiskGuard, ScrubOptions, Scrubber, DEFAULT_MIN_FREE_BYTES};
use crate::http::AppState;
use crate::idempotency::IdempotencyStore;
use crate::retention::{RetentionOptions, Sweeper};
use crate::sequencer::{Sequencer, Snapshotting};
use crate::vault::Vault;
use crate::{Error, Result};

/// Segments in the snapshot file above which start-up writes it again as one: each
/// segment repeats the small state (names, petitions, campaigns: kilobytes to a few
/// megabytes), so a file of many would outgrow the state it holds.
const MAX_SEGMENTS: usize = 32;

/// What [`Node::open`] reports about the data directory.
pub struct Opening {
    pub created: bool,
    pub admin_token_path: PathBuf,
    /// The first admin token, when the directory was just created.
    pub admin_token: Option<String>,
    pub origin: String,
    pub vkey: String,
    pub hash: HashAlg,
    pub tree_size: u64,
    /// How long loading the read models took (snapshot plus catch-up).
    pub load_ms: u128,
}

/// How a node runs beyond what its data directory fixes.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// Appends are refused (507) while the data directory's filesystem has less free.
    pub min_free_bytes: u64,
    /// The background scrub; `None` runs none (tests that time things).
    pub scrub: Option<ScrubOptions>,
    /// Entries appended between two read-model snapshots.
    pub snapshot_every: u64,
    /// Keep a static copy of the public read side in this directory
    /// (`crate::publish`).
    pub publish: Option<PathBuf>,
    /// Erase closed petitions' personal data after a while (`crate::retention`);
    /// `None` runs no sweep (tests that time things).
    pub retention: Option<RetentionOptions>,
}

impl Default for NodeOptions {
    fn default() -> NodeOptions {
        NodeOptions {
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
            scrub: Some(ScrubOptions::default()),
            snapshot_every: crate::sequencer::SNAPSHOT_EVERY,
            publish: None,
            retention: Some(RetentionOptions::default()),
        }
    }
}

pub struct Node {
    state: Arc<AppState>,
    sequencer_thread: Option<std::thread::JoinHandle<()>>,
    scrub: Option<(Arc<Scrubber>, std::thread::JoinHandle<()>)>,
    publisher: Option<crate::publish::Publisher>,
    sweeper: Option<Sweeper>,
}

impl Node {
    /// Opens (creating on first use) the data directory `dir` and starts the sequencer,
    /// with the default [`NodeOptions`].
    pub fn open(
        dir: &Path,
        origin: Option<&str>,
        hash: Option<HashAlg>,
    ) -> Result<(Node, Opening)> {
        Node::open_with(dir, origin, hash, &NodeOptions::default())
    }

    /// [`Node::open`] with `options`.
    pub fn open_with(
        dir: &Path,
        origin: Option<&str>,
        hash: Option<HashAlg>,
        options: &NodeOptions,
    ) -> Result<(Node, Opening)> {
        let opened = datadir::open_or_create(dir, origin, hash)?;
        let store = opened.store;
        let started = Instant::now();
        let snapshots = Arc::new(Snapshots::open(&dir.join(datadir::SNAPSHOTS))?);
        let vault_path = dir.join(datadir::VAULT);
        let vault_missing = !vault_path.exists() && !dir.join(datadir::EARLIER_VAULT).exists();
        // An existing vault is opened (its file scanned) beside the read models' load:
        // at millions of signatures each takes a noticeable part of a restart. A
        // missing one is not created before the log is known to hold no signatures.
        let vault_key = &opened.keys.vault;
        let (loaded, vault) = std::thread::scope(|scope| {
            let vault =
                (!vault_missing).then(|| scope.spawn(|| Vault::open(&vault_path, vault_key)));
            let loaded = projector::persist::load(&snapshots, &store);
            let vault = vault.map(|opening| {
                opening
                    .join()
                    .unwrap_or_else(|_| Err(Error::Config("opening the vault failed".into())))
            });
            (loaded, vault)
        });
        let vault = vault.transpose()?;
        let loaded = loaded?;
        let (snapshot_size, segments) = (loaded.snapshot_size, loaded.segments);
        let mut projection = loaded.projection;
        let size = projection.tree_size();
        // Make the snapshot reach the log's size now, so the next start (after a crash,
        // say) replays nothing of it again: one more segment with what was replayed, or
        // a whole new file if there was no usable snapshot or its chain grew long.
        if snapshot_size != Some(size) || segments > MAX_SEGMENTS {
            let root = store.root_at(size)?;
            let saved = if segments == 0 || segments > MAX_SEGMENTS {
                snapshots.rewrite(&projection, &root)
            } else {
                snapshots.save(&mut projection, &root)
            };
            if let Err(e) = saved {
                tracing::error!(error = %e, "could not save the read-model snapshot");
                snapshots.lost_a_segment();
            }
        }
        projection.track_changes();
        let load_ms = started.elapsed().as_millis();

        if vault_missing && projection.has_signatures() {
            return Err(Error::Config(format!(
                "{} is missing but the log holds signatures: starting would lose every \
                 signer's personal data for good. Restore it from a backup of this data \
                 directory",
                dir.join(datadir::VAULT).display()
            )));
        }
        let vault = Arc::new(match vault {
            Some(vault) => vault,
            None => Vault::open(&vault_path, vault_key)?,
        });
        let orphans = vault.forget_from(store.size())?;
        if orphans > 0 {
            tracing::warn!(
                orphans,
                "dropped sealed personal data of entries that never reached the log"
            );
        }
        let idempotency = Arc::new(IdempotencyStore::open(&dir.join(datadir::SERVER_DB))?);
        idempotency.reconcile(store.size(), crate::unix_now())?;

        let tree_size = projection.tree_size();
        let published = Arc::new(RwLock::new(projection));
        let disk = Arc::new(DiskGuard::new(dir, options.min_free_bytes));
        let stop_store = store.clone();
        let stop_snapshots = snapshots.clone();
        let (sequencer, sequencer_thread) = Sequencer::start(
            store.clone(),
            published.clone(),
            vault.clone(),
            idempotency,
            Snapshotting {
                snapshots: snapshots.clone(),
                every: options.snapshot_every.max(1),
            },
            disk.clone(),
            move |projection| {
                // At shutdown the snapshot is written whole unless it is one whole
                // segment already: a whole one loads several times faster (its dedup
                // tags come in the order of the tables they go into, a delta's in the
                // order they were signed), and stopping has the time.
                let saved = stop_store
                    .root_at(projection.tree_size())
                    .map_err(projector::Error::from)
                    .and_then(|root| {
                        if stop_snapshots.is_one_whole() {
                            stop_snapshots.save(projection, &root)
                        } else {
                            // A whole snapshot is refused for a dedup set that may hold
                            // rolled-back tags; a last segment still saves the rest.
                            stop_snapshots
                                .rewrite(projection, &root)
                                .or_else(|_| stop_snapshots.save(projection, &root))
                        }
                    });
                if let Err(e) = saved {
                    tracing::error!(error = %e, "could not save the read-model snapshot");
                }
            },
        )
        .map_err(Error::io(dir))?;
        let opening = Opening {
            created: opened.created,
            admin_token_path: dir.join(datadir::ADMIN_TOKEN),
            admin_token: opened.admin_token,
            origin: store.origin().to_owned(),
            vkey: store.verifier().to_string(),
            hash: store.hash_alg(),
            tree_size,
            load_ms,
        };
        let state = Arc::new(AppState::new(
            store,
            published,
            sequencer,
            Arc::new(TokenStore::new(dir.join(datadir::TOKENS))),
            vault,
            Arc::new(DedupKeys::open(dir, opened.keys.dedup)?),
            opened.keys.log,
            crate::metrics::install(),
            disk,
            Arc::new(CosignatureStore::open(&dir.join(datadir::COSIGNATURES))?),
            Auditors::new(dir.join(datadir::AUDITORS)),
        ));
        let publisher = match &options.publish {
            Some(publish_dir) => Some(crate::publish::Publisher::start(
                crate::publish::StaticCopy {
                    dir: publish_dir.clone(),
                    store: state.store.clone(),
                    log_key: datadir::copy_signer(&state.log_key)?,
                    cosignatures: state.cosignatures.clone(),
                },
                state.published.clone(),
            )?),
            None => None,
        };
        let sweeper = options
            .retention
            .map(|retention| Sweeper::start(state.clone(), retention))
            .transpose()?;
        let scrub = options
            .scrub
            .map(|scrub| Scrubber::start(state.store.clone(), scrub).map_err(Error::io(dir)))
            .transpose()?;
        Ok((
            Node {
                state,
                sequencer_thread: Some(sequencer_thread),
                scrub,
                publisher,
                sweeper,
            },
            opening,
        ))
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// The HTTP router over this node.
    pub fn router(&self) -> Router {
        crate::http::app(self.state.clone())
    }

    /// Seeds the demo campaign (`crate::demo`) through the normal append path. Returns how
    /// many entries were appended.
    pub async fn seed_demo(&self) -> Result<u64> {
        let seeder = TokenRecord::internal("demo", Role::Admin, "demo seed");
        let records = crate::demo::demo_records();
        let mut appended = 0;
        for chunk in records.chunks(500) {
            let body = serde_json::to_vec(&serde_json::json!({ "records": chunk }))
                .map_err(|e| Error::Config(format!("demo records do not encode: {e}")))?;
            let staged = crate::http::stage(&self.state, &body)
                .map_err(|e| Error::Config(format!("demo record refused: {}", e.detail)))?;
            let count = staged.len() as u64;
            self.sequencer()?
                .submit(seeder.clone(), None, staged)
                .await
                .map_err(|refusal| Error::Config(format!("demo record refused: {refusal:?}")))?;
            appended += count;
        }
        Ok(appended)
    }

    fn sequencer(&self) -> Result<Sequencer> {
        self.state.sequencer().ok_or(Error::SequencerStopped)
    }

    /// Stops the sequencer after it has answered everything submitted, saves a
    /// snapshot of the read models and waits for the log's writer to finish.
    pub fn shutdown(mut self) -> Result<()> {
        // The publisher holds a store handle too; it finishes its publication first.
        if let Some(mut publisher) = self.publisher.take() {
            publisher.stop();
        }
        if let Some((scrubber, thread)) = self.scrub.take() {
            // It holds a store handle: it must let go before the store can close.
            scrubber.stop();
            let _ = thread.join();
        }
        self.state.close_sequencer();
        // After the sequencer is closed: a sweep stops between two of its batches.
        if let Some(mut sweeper) = self.sweeper.take() {
            sweeper.stop();
        }
        if let Some(thread) = self.sequencer_thread.take() {
            thread
                .join()
                .map_err(|_| Error::Config("the sequencer thread panicked".into()))?;
        }
        match Arc::try_unwrap(self.state) {
            // The last handle: wait for the log's writer, so the directory can be
            // reopened at once.
            Ok(state) => state.store.close()?,
            Err(_) => tracing::warn!(
                "requests still hold the server state; the log closes when they finish"
            ),
        }
        Ok(())
    }
}
