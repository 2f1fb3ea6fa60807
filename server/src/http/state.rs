//! What every handler shares: the log, the read models, the sequencer handle, tokens,
//! the vault and keys, and a cache of serialized read models.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use axum::body::Bytes;
use ledger::note::NoteSigner;
use ledger::store::Store;
use metrics_exporter_prometheus::PrometheusHandle;

use super::problem::ApiError;
use crate::auth::TokenStore;
use crate::cosignatures::{Auditors, CosignatureStore};
use crate::dedup_keys::DedupKeys;
use crate::health::DiskGuard;
use crate::locks;
use crate::sequencer::{Published, Sequencer};
use crate::vault::Vault;

/// Everything the handlers share.
pub struct AppState {
    pub store: Store,
    pub published: Published,
    /// `None` once shutdown has begun: new appends are refused, queued ones finish.
    sequencer: Mutex<Option<Sequencer>>,
    pub tokens: Arc<TokenStore>,
    pub vault: Arc<Vault>,
    pub dedup_keys: Arc<DedupKeys>,
    pub log_key: NoteSigner,
    pub metrics: PrometheusHandle,
    /// Free space of the data directory, and whether appends are refused for want of it.
    pub disk: Arc<DiskGuard>,
    /// Auditors' cosignatures, and the auditor keys accepted.
    pub cosignatures: Arc<CosignatureStore>,
    pub auditors: Auditors,
    pub(super) cache: ViewCache,
    /// Permits of the export bundles being built (`exports.rs`): each holds up to a
    /// few hundred megabytes and a core, so requests beyond these are refused (503
    /// `export_busy`), never queued.
    pub(super) exports: Arc<tokio::sync::Semaphore>,
}

/// Export bundles built at once.
pub(super) const EXPORTS_AT_ONCE: usize = 2;

/// Serialized read models, cached per tree size: reads between appends cost a lookup.
#[derive(Default)]
pub(super) struct ViewCache {
    views: RwLock<HashMap<String, (u64, Bytes)>>,
    pub(super) past_tallies: PastTallies,
}

/// Most bytes of past tallies kept; the oldest answers go first.
pub(super) const PAST_TALLY_CACHE_BYTES: usize = 4 << 20;
/// Replays of a past tree size running at once. Anyone may ask for any size, and a
/// replay costs a second per few million entries and a projection's worth of memory,
/// so requests beyond this are refused (503 `replay_busy`), never queued.
pub(super) const PAST_TALLY_REPLAYS: usize = 1;

/// Tallies of past tree sizes: the answers kept (a past tally never changes) and the
/// permits of the replays that make new ones.
pub(super) struct PastTallies {
    pub(super) answers: Mutex<PastAnswers>,
    pub(super) replays: Arc<tokio::sync::Semaphore>,
}

impl Default for PastTallies {
    fn default() -> PastTallies {
        PastTallies {
            answers: Mutex::default(),
            replays: Arc::new(tokio::sync::Semaphore::new(PAST_TALLY_REPLAYS)),
        }
    }
}

/// Answers by tree size, at most [`PAST_TALLY_CACHE_BYTES`] of them, oldest first.
#[derive(Default)]
pub(super) struct PastAnswers {
    answers: VecDeque<(u64, Bytes)>,
    bytes: usize,
}

impl PastAnswers {
    pub(super) fn get(&self, size: u64) -> Option<Bytes> {
        self.answers
            .iter()
            .find(|(cached, _)| *cached == size)
            .map(|(_, answer)| answer.clone())
    }

    pub(super) fn insert(&mut self, size: u64, answer: Bytes) {
        if answer.len() > PAST_TALLY_CACHE_BYTES || self.get(size).is_some() {
            return;
        }
        self.bytes += answer.len();
        self.answers.push_back((size, answer));
        while self.bytes > PAST_TALLY_CACHE_BYTES {
            let Some((_, oldest)) = self.answers.pop_front() else {
                break;
            };
            self.bytes -= oldest.len();
        }
    }

    pub(super) fn clear(&mut self) {
        self.answers.clear();
        self.bytes = 0;
    }

    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }
}

impl AppState {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        published: Published,
        sequencer: Sequencer,
        tokens: Arc<TokenStore>,
        vault: Arc<Vault>,
        dedup_keys: Arc<DedupKeys>,
        log_key: NoteSigner,
        metrics: PrometheusHandle,
        disk: Arc<DiskGuard>,
        cosignatures: Arc<CosignatureStore>,
        auditors: Auditors,
    ) -> AppState {
        AppState {
            store,
            published,
            sequencer: Mutex::new(Some(sequencer)),
            tokens,
            vault,
            dedup_keys,
            log_key,
            metrics,
            disk,
            cosignatures,
            auditors,
            cache: ViewCache::default(),
            exports: Arc::new(tokio::sync::Semaphore::new(EXPORTS_AT_ONCE)),
        }
    }

    /// A handle to the sequencer, unless shutdown has begun.
    pub fn sequencer(&self) -> Option<Sequencer> {
        locks::lock(&self.sequencer).clone()
    }

    /// [`AppState::sequencer`], or the answer to give when shutdown has begun.
    pub(super) fn running_sequencer(&self) -> Result<Sequencer, ApiError> {
        self.sequencer().ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the server is shutting down; retry shortly",
            )
        })
    }

    /// Drops this state's sequencer handle: once in-flight requests finish, the
    /// sequencer thread drains its queue and stops.
    pub fn close_sequencer(&self) {
        locks::lock(&self.sequencer).take();
    }

    /// The tree size readers currently see.
    pub fn published_size(&self) -> u64 {
        locks::read(&self.published).tree_size()
    }

    /// What the site's pages read beside the read models.
    pub(crate) fn site_source(&self) -> crate::site::SiteSource<'_> {
        crate::site::SiteSource {
            store: &self.store,
            log_key: &self.log_key,
            cosignatures: &self.cosignatures,
        }
    }

    /// The JSON of a read model, made by `make` under the read lock (so it matches the
    /// tree size it states; views borrow the projection), or taken from the cache when
    /// the log has not grown since; `None` when `make` finds nothing. With the tree size
    /// the read models had.
    pub(crate) fn view(
        &self,
        key: &str,
        make: impl FnOnce(&projector::Projection) -> Result<Option<Bytes>, ApiError>,
    ) -> Result<(u64, Option<Bytes>), ApiError> {
        let projection = locks::read(&self.published);
        let size = projection.tree_size();
        {
            let views = locks::read(&self.cache.views);
            if let Some((cached_size, bytes)) = views.get(key) {
                if *cached_size == size {
                    return Ok((size, Some(bytes.clone())));
                }
            }
        }
        let Some(bytes) = make(&projection)? else {
            return Ok((size, None));
        };
        drop(projection);
        let mut views = locks::write(&self.cache.views);
        if views.len() > 4096 {
            views.clear();
        }
        views.insert(key.to_owned(), (size, bytes.clone()));
        Ok((size, Some(bytes)))
    }

    /// Forgets every serialized read model (a cosignature changed the tally's note).
    pub(super) fn forget_views(&self) {
        locks::write(&self.cache.views).clear();
        locks::lock(&self.cache.past_tallies.answers).clear();
    }

    /// The tally text of the tree of size `size`: the read models' if that is their
    /// size, else a replay of the prefix (one at a time: `503 replay_busy`). Blocking.
    pub(super) fn tally_text_at(&self, size: u64) -> Result<String, ApiError> {
        {
            let projection = locks::read(&self.published);
            if projection.tree_size() == size {
                return Ok(projection.tally_text());
            }
        }
        let _replay = self.replay_permit()?;
        self.replayed_tally_text(size)
    }

    /// The permit to replay a past tree size, or `503 replay_busy` while another runs.
    pub(super) fn replay_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        let replays = self.cache.past_tallies.replays.clone();
        replays.try_acquire_owned().map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "replay_busy",
                "another past tree size is being replayed; retry shortly",
            )
        })
    }

    /// The tally text of the tree of size `size`, replayed from the log (under a
    /// [`AppState::replay_permit`]). Blocking.
    pub(super) fn replayed_tally_text(&self, size: u64) -> Result<String, ApiError> {
        projector::persist::replay_prefix(&self.store, size)
            .map(|p| p.tally_text())
            .map_err(|e| match e {
                projector::Error::Ledger(e) => ApiError::from(e),
                other => ApiError::internal(other),
            })
    }
}
