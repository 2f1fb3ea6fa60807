//! What `/healthz` reports beyond "the process answers": a full disk, damaged stored
//! data (found by the background scrub), a stopped log writer.
//!
//! The disk guard is also what keeps a full disk from doing harm: before each batch
//! the sequencer asks it whether the data directory's filesystem still has
//! `min_free` bytes; if not, the batch is refused (507 `storage_full`) before anything
//! is written, so no file is left half-grown and nothing needs a restart: the next
//! batch after space returns goes through. Checking costs one `statvfs` (about a
//! microsecond) per batch.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ledger::store::Store;

/// Free space below which appends are refused, by default. Enough for the log's and
/// the vault's next 4 MiB reserve, redb's growth and a snapshot's first pages.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 64 << 20;

/// The free space of the data directory's filesystem, and whether the last append
/// found it full.
pub struct DiskGuard {
    dir: PathBuf,
    min_free: u64,
    /// Set when an append was refused for want of space; cleared by the next append
    /// that succeeds.
    full: AtomicBool,
}

impl DiskGuard {
    pub fn new(dir: &Path, min_free: u64) -> DiskGuard {
        DiskGuard {
            dir: dir.to_path_buf(),
            min_free,
            full: AtomicBool::new(false),
        }
    }

    /// Bytes available to this process on the data directory's filesystem.
    pub fn free_bytes(&self) -> std::io::Result<u64> {
        let stat = rustix::fs::statvfs(&self.dir)?;
        Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    /// `Ok` if a batch may be written: at least `min_free` bytes are free (or the
    /// free space cannot be read, in which case the write itself will tell).
    pub fn check(&self) -> crate::Result<()> {
        match self.free_bytes() {
            Ok(free) if free < self.min_free => Err(ledger::Error::StorageFull {
                path: self.dir.clone(),
            }
            .into()),
            _ => Ok(()),
        }
    }

    /// Records how the last batch went; returns true when this changes the state (so
    /// the caller logs transitions, not every refused request).
    pub fn record(&self, full: bool) -> bool {
        self.full.swap(full, Ordering::Relaxed) != full
    }

    /// Whether appends are being refused for want of space: the last one was, or the
    /// free space is below the minimum now.
    pub fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
            || self.free_bytes().is_ok_and(|free| free < self.min_free)
    }
}

/// How the background scrub runs.
#[derive(Clone, Copy, Debug)]
pub struct ScrubOptions {
    /// Time from the start of one pass to the start of the next.
    pub every: Duration,
    /// Entries re-verified per second at most, so a pass stays in the background.
    pub entries_per_second: u64,
}

impl Default for ScrubOptions {
    fn default() -> ScrubOptions {
        ScrubOptions {
            every: Duration::from_secs(3600),
            entries_per_second: 200_000,
        }
    }
}

/// The background scrub: re-verifies everything the store serves (every entry
/// re-hashed against the stored hashes, every index row, every checkpoint signature)
/// once at start and then every `options.every`, at a bounded rate. Damage it finds is
/// remembered by the store, which from then on refuses reads of the damaged range,
/// and turns `/healthz` unhealthy. Stops when `stop` is set.
pub struct Scrubber {
    stop: AtomicBool,
}

impl Scrubber {
    pub fn start(
        store: Store,
        options: ScrubOptions,
    ) -> std::io::Result<(Arc<Scrubber>, std::thread::JoinHandle<()>)> {
        let scrubber = Arc::new(Scrubber {
            stop: AtomicBool::new(false),
        });
        let running = scrubber.clone();
        let handle = std::thread::Builder::new()
            .name("scrub".into())
            .spawn(move || running.run(&store, options))?;
        Ok((scrubber, handle))
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Sleeps up to `duration`, waking early if stopped; false if stopped.
    fn sleep(&self, duration: Duration) -> bool {
        let until = std::time::Instant::now() + duration;
        while !self.stop.load(Ordering::Relaxed) {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(Duration::from_millis(100)));
        }
        false
    }

    fn run(&self, store: &Store, options: ScrubOptions) {
        let rate = options.entries_per_second.max(1);
        loop {
            let started = std::time::Instant::now();
            let mut pace = |checked: u64| {
                let due = Duration::from_secs_f64(checked as f64 / rate as f64);
                let ahead = due.saturating_sub(started.elapsed());
                if self.sleep(ahead) {
                    Ok(())
                } else {
                    Err(ledger::Error::Interrupted)
                }
            };
            match store.scrub(&mut pace) {
                Ok(report) => tracing::debug!(
                    entries = report.entries,
                    ms = started.elapsed().as_millis() as u64,
                    "scrub pass found no damage"
                ),
                Err(ledger::Error::Damaged { index, what }) => {
                    tracing::error!(
                        from_entry = index,
                        %what,
                        "the scrub found damaged stored data; reads of it are refused and \
                         /healthz is unhealthy until the data directory is repaired \
                         (see `campaign-ledger check`)"
                    );
                    return;
                }
                Err(_) if self.stopped() => return,
                Err(e) => tracing::warn!(error = %e, "scrub pass failed; trying again next pass"),
            }
            if !self.sleep(options.every.saturating_sub(started.elapsed())) {
                return;
            }
        }
    }
}
