//! A static copy of the public read side: what `serve --publish DIR` keeps up to date
//! and `tiles --out DIR` writes once, so that any web server, CDN or object store can
//! serve the log and its read models, and `audit` can check it, without the sequencer.
//!
//! ```text
//! checkpoint                       the latest published signed checkpoint, cosigned
//! tile/<L>/<N>[.p/<W>]             hash tiles (C2SP tlog-tiles)
//! tile/entries/<N>[.p/<W>]         entry bundles
//! api/v1/log                       {"origin","hash","vkey","tree_size","root"}
//! api/v1/tally                     {"tree_size","note","text"} at the checkpoint's size
//! api/v1/<read model>.json         petitions, petitions/<id>, petitions/<id>/parliament,
//!                                  motions, twin-links, events, campaigns
//! index.html, petitions/<id>/index.html, petitions/<id>/counts.csv,
//! council-votes/index.html, events/index.html, trust/index.html, static/site.{css,js}
//!                                  the public site's pages (`crate::site`), as served;
//!                                  rendered again at most every 2 s while the log grows
//! ```
//!
//! The entry pages (`/entries/N`) are not copied (one per entry); the entries
//! themselves are, in the tiles.
//!
//! What must hold at every moment for a reader of the directory: every file is whole
//! (written beside it, then renamed over it); the checkpoint is written last, so every
//! tile of the tree it names, and the tally of its size, are already there; a full tile
//! is never rewritten; and the partial tiles of every signed size stay until the full
//! tile of their place exists (C2SP tlog-tiles), then are removed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::note::NoteSigner;
use ledger::store::Store;
use ledger::tile::{self, TilePath};
use projector::Projection;

use crate::cosignatures::{CosignatureStore, Cosigned};
use crate::http::{LogInfo, TallyAnswer};
use crate::locks;
use crate::sequencer::Published;
use crate::{Error, Result};

/// How often the publisher looks for a new commit.
const POLL: Duration = Duration::from_millis(50);
/// How often, at most, the site's pages are rendered again while the log grows.
const PAGES_EVERY: Duration = Duration::from_secs(2);

/// A static copy in a directory, and what it is copied from.
pub struct StaticCopy {
    pub dir: PathBuf,
    pub store: Store,
    pub log_key: NoteSigner,
    pub cosignatures: Arc<CosignatureStore>,
}

/// What the read models say at one size, taken under their read lock (serialized,
/// never written there): the size, the tally text and every read model's file.
pub struct ReadSide {
    pub tree_size: u64,
    pub tally_text: String,
    pub files: Vec<(String, Vec<u8>)>,
}

impl StaticCopy {
    /// The read side of `projection` as this copy publishes it: the read models' JSON
    /// and, with `pages`, the public site's pages (`crate::site`), serialized and
    /// rendered under the read lock, written after it is let go.
    pub fn read_side(&self, projection: &Projection, pages: bool) -> Result<ReadSide> {
        let mut files: Vec<(String, Vec<u8>)> = crate::http::read_model_files(projection)
            .map_err(|e| Error::Config(e.detail))?
            .into_iter()
            .map(|(path, bytes)| (path, bytes.to_vec()))
            .collect();
        let source = crate::site::SiteSource {
            store: &self.store,
            log_key: &self.log_key,
            cosignatures: &self.cosignatures,
        };
        if pages {
            files.extend(
                crate::site::static_pages(projection, &source)
                    .map_err(|e| Error::Config(e.detail))?,
            );
        }
        Ok(ReadSide {
            tree_size: projection.tree_size(),
            tally_text: projection.tally_text(),
            files,
        })
    }

    /// Writes every tile a reader of a checkpoint of any signed size up to `read`'s
    /// may ask for, then the read side and its checkpoint. Tiles already there are not
    /// written again; a directory holding a copy of another log, or of a longer one, is
    /// refused (its tiles would stay). Returns the size published.
    pub fn publish_all(&self, read: ReadSide, progress: &mut dyn FnMut(u64, u64)) -> Result<u64> {
        self.check_dir()?;
        let size = read.tree_size;
        let mut signed = self.store.checkpoint_sizes();
        signed.retain(|&s| s <= size);
        let tiles = tile::static_tiles(&signed, size);
        for (done, tile) in tiles.iter().enumerate() {
            self.write_tile(tile)?;
            progress(done as u64 + 1, tiles.len() as u64);
        }
        self.write_read_side(read)?;
        Ok(size)
    }

    /// Publishes the growth from `from` to `read`'s size: the tiles of every size signed
    /// in between (partial ones included), then the read side and the checkpoint.
    pub fn publish_growth(&self, from: u64, read: ReadSide) -> Result<u64> {
        let size = read.tree_size;
        let mut last = from;
        for signed in self.store.checkpoint_sizes_after(from) {
            if signed > size {
                break;
            }
            for tile in tile::tiles_added(last, signed) {
                self.write_tile(&tile)?;
            }
            last = signed;
        }
        self.write_read_side(read)?;
        Ok(size)
    }

    /// Writes `tile` unless it is there (a tile never changes); a full tile removes the
    /// partial ones of its place.
    fn write_tile(&self, tile: &TilePath) -> Result<()> {
        let name = tile.to_string();
        let path = self.dir.join(&name);
        if !path.exists() {
            let bytes = match *tile {
                TilePath::Hash {
                    level,
                    index,
                    width,
                } => self.store.hash_tile(level, index, width)?,
                TilePath::Entries { index, width } => self.store.entry_bundle(index, width)?,
            };
            write_atomic(&path, &bytes)?;
        }
        if tile.is_full() {
            let partials = self.dir.join(format!("{name}.p"));
            if partials.exists() {
                std::fs::remove_dir_all(&partials).map_err(Error::io(&partials))?;
            }
        }
        Ok(())
    }

    /// The log's identity, the read models of `read` and its signed tally, then the
    /// checkpoint of that size (with the auditors' cosignatures), last.
    fn write_read_side(&self, read: ReadSide) -> Result<()> {
        let size = read.tree_size;
        let checkpoint = self
            .store
            .checkpoint_at(size)?
            .ok_or_else(|| Error::Config(format!("no signed checkpoint at tree size {size}")))?;
        let mut tally = TallyAnswer::signed(&self.store, &self.log_key, size, read.tally_text)
            .map_err(|e| Error::Config(e.detail))?;
        tally.note = self
            .cosignatures
            .append_to(&tally.note, Cosigned::Tally, size);
        let mut log = LogInfo::of(&self.store);
        (log.tree_size, log.root) = (size, self.store.root_at(size)?);
        write_atomic(&self.dir.join("api/v1/log"), &to_json(&log)?)?;
        for (path, bytes) in read.files {
            write_atomic(&self.dir.join(path), &bytes)?;
        }
        // The tally just before the checkpoint: an auditor reads the checkpoint, then
        // the tally of its size, and a copy holds a newer tally than checkpoint only
        // between these two writes.
        write_atomic(&self.dir.join("api/v1/tally"), &to_json(&tally)?)?;
        write_atomic(
            &self.dir.join("checkpoint"),
            self.cosignatures
                .cosigned_checkpoint(&checkpoint)
                .as_bytes(),
        )
    }

    /// Refuses a directory whose `api/v1/log` names another log, or a tree larger
    /// than this log's.
    fn check_dir(&self) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct Copied {
            vkey: String,
            tree_size: u64,
        }
        let path = self.dir.join("api/v1/log");
        let Ok(bytes) = std::fs::read(&path) else {
            return Ok(());
        };
        let copied: Copied = serde_json::from_slice(&bytes).map_err(|_| {
            Error::Config(format!(
                "{} is not a campaign-ledger copy; publish into an empty directory",
                self.dir.display()
            ))
        })?;
        if copied.vkey != self.store.verifier().vkey() {
            return Err(Error::Config(format!(
                "{} holds a copy of another log ({}); publish into an empty directory",
                self.dir.display(),
                copied.vkey
            )));
        }
        if copied.tree_size > self.store.size() {
            return Err(Error::Config(format!(
                "{} holds this log at tree size {}, larger than the log's {}: was the data \
                 directory restored from an older backup?",
                self.dir.display(),
                copied.tree_size,
                self.store.size()
            )));
        }
        Ok(())
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::Config(format!("json: {e}")))
}

/// Writes `bytes` to `path` so that no reader ever sees a part of it: beside it, then
/// renamed over it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
    }
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let beside = path.with_file_name(format!(".{file_name}.tmp"));
    std::fs::write(&beside, bytes).map_err(Error::io(&beside))?;
    std::fs::rename(&beside, path).map_err(Error::io(path))
}

/// The thread that keeps a static copy up to date as the log grows and as auditors
/// cosign, within a poll interval of each commit.
pub struct Publisher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Publisher {
    /// Publishes everything now, then starts the thread. Refuses a directory that
    /// holds a copy of another log, or of a longer one: its tiles would be left as
    /// they are.
    pub fn start(copy: StaticCopy, published: Published) -> Result<Publisher> {
        let read = copy.read_side(&locks::read(&published), true)?;
        let mut size = copy.publish_all(read, &mut |_, _| {})?;
        let mut cosigned = copy.cosignatures.count();
        // The pages as last written: of what size and cosignatures, and when.
        let mut pages = (size, cosigned, Instant::now());
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("publisher".into())
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    std::thread::sleep(POLL);
                    let now_cosigned = copy.cosignatures.count();
                    let current = locks::read(&published).tree_size();
                    // Pages take milliseconds to render on a large log, under the read
                    // lock that appends wait for: at most every PAGES_EVERY, and once
                    // more when appends pause, so they never stay stale.
                    let pages_due = (pages.0, pages.1) != (current, now_cosigned)
                        && pages.2.elapsed() >= PAGES_EVERY;
                    if current == size && now_cosigned == cosigned && !pages_due {
                        continue;
                    }
                    // The read models are serialized under their read lock; the files
                    // are written after it is let go.
                    let read = copy.read_side(&locks::read(&published), pages_due);
                    let read_size = read.as_ref().map_or(size, |read| read.tree_size);
                    match read.and_then(|read| copy.publish_growth(size, read)) {
                        Ok(published_size) => {
                            size = published_size;
                            cosigned = now_cosigned;
                            if pages_due {
                                pages = (read_size, now_cosigned, Instant::now());
                            }
                        }
                        Err(e) => {
                            let dir = copy.dir.display();
                            tracing::error!(error = %e, dir = %dir, "publishing failed");
                        }
                    }
                }
            })
            .map_err(|e| Error::Config(format!("cannot start the publisher: {e}")))?;
        Ok(Publisher {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread (after its current publication).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop();
    }
}
