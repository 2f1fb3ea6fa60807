//! Retention: the personal data of a closed petition's signers is erased automatically
//! a set time after it closed (`serve --retention-days`, 183 by default: UK Parliament
//! petitions anonymise six months after closing), each erasure logged as a
//! `personal_data.erased` entry with reason `retention`. Once none of its signatures has
//! data left, the petition's dedup key is destroyed (`crate::dedup_keys`), so nothing
//! can link its signatures to people any more.
//!
//! A background thread sweeps at start and then every [`RetentionOptions::sweep_every`].
//! It hands the sequencer [`ERASURES_PER_BATCH`] erasures at a time, waits for each
//! batch to commit and then pauses about as long, so appends never wait behind a whole
//! sweep and most find the sequencer idle (the figure: `cargo bench -p server --bench
//! import`, `retention_sweep_append_p99_ms`; about 8,000 erasures a second). What is due is read from the read models each
//! time, so a sweep cut short (a restart, a signer erasing meanwhile) is finished by
//! the next.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use ledger::record::{ErasureReason, PersonalDataErased};

use crate::auth::TokenRecord;
use crate::http::AppState;
use crate::locks;
use crate::sequencer::{Refusal, Staged};
use crate::{Error, Result};

/// The default time personal data is kept after a petition closes.
pub const DEFAULT_RETENTION_DAYS: u64 = 183;
/// The default pause between two sweeps.
pub const DEFAULT_SWEEP_SECS: u64 = 300;
/// Erasures handed to the sequencer at once: small enough that an append waiting
/// behind one batch waits a few milliseconds (one vault `fdatasync`, one journal
/// append), large enough that 100,000 erasures take seconds, not minutes. (The wait
/// is mostly the two `fdatasync`s, so halving it from 256 changed little; the pause
/// after each batch is what keeps appends fast.)
pub const ERASURES_PER_BATCH: usize = 128;

const MS_PER_DAY: u64 = 86_400_000;
/// Between two batches of a sweep: about as long as a batch takes to commit.
const PAUSE: Duration = Duration::from_millis(10);

/// How retention runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionOptions {
    /// Personal data is kept this many days after its petition closed (0: erased at
    /// the first sweep after closing).
    pub days: u64,
    pub sweep_every: Duration,
}

impl Default for RetentionOptions {
    fn default() -> RetentionOptions {
        RetentionOptions {
            days: DEFAULT_RETENTION_DAYS,
            sweep_every: Duration::from_secs(DEFAULT_SWEEP_SECS),
        }
    }
}

impl RetentionOptions {
    /// Petitions that closed at or before this time are due at `now_ms`.
    pub fn cutoff_ms(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.days.saturating_mul(MS_PER_DAY))
    }
}

/// What one sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Signatures whose personal data was erased.
    pub erased: u64,
    /// Petitions whose dedup key was destroyed.
    pub keys_destroyed: Vec<String>,
}

/// One sweep at `now_ms`: erases the personal data of every signature of every petition
/// closed at least `options.days` ago, batch by batch, then destroys the dedup key of
/// every such petition with no data left.
pub async fn sweep(
    state: &AppState,
    options: &RetentionOptions,
    now_ms: u64,
) -> Result<SweepReport> {
    let due: Vec<(String, u64)> = {
        let published = locks::read(&state.published);
        published
            .closed_before(options.cutoff_ms(now_ms))
            .into_iter()
            .map(|due| (due.petition_id.to_owned(), due.unerased))
            .collect()
    };
    let mut report = SweepReport::default();
    for (petition_id, unerased) in due {
        if unerased > 0 && !erase_petition(state, &petition_id, &mut report).await? {
            continue;
        }
        if state.dedup_keys.is_destroyed(&petition_id) {
            continue;
        }
        let destroyed = state.dedup_keys.destroy(&petition_id, now_ms / 1000)?;
        if destroyed {
            tracing::info!(
                petition = %petition_id,
                "retention: the petition's dedup key was destroyed"
            );
        }
        report.keys_destroyed.push(petition_id);
    }
    Ok(report)
}

/// Erases the data of every signature of `petition_id` that still has some. Whether
/// all of it is gone (`false`: a batch was refused, and the next sweep goes on).
async fn erase_petition(
    state: &AppState,
    petition_id: &str,
    report: &mut SweepReport,
) -> Result<bool> {
    let indexes = locks::read(&state.published).unerased_signatures(petition_id);
    for batch in indexes.chunks(ERASURES_PER_BATCH) {
        // Fetched per batch: a server shutting down closes it, and the sweep stops
        // between two batches.
        let sequencer = state.sequencer().ok_or(Error::SequencerStopped)?;
        let staged = batch
            .iter()
            .map(|&index| {
                Staged::written_by_the_server(PersonalDataErased {
                    index,
                    reason: ErasureReason::Retention,
                    signer_secret: None,
                })
            })
            .collect();
        match sequencer
            .submit(TokenRecord::retention(), None, staged)
            .await
        {
            Ok(_) => {
                report.erased += batch.len() as u64;
                metrics::counter!("retention_erasures_total").increment(batch.len() as u64);
                // A pause as long as a batch took leaves the sequencer free half the
                // time, so most appends find it idle rather than behind a batch.
                tokio::time::sleep(PAUSE).await;
            }
            // A signer or an organiser erased one of the batch meanwhile: the next sweep
            // reads what is left again.
            Err(Refusal::Rejected { rejection, .. }) => {
                tracing::info!(
                    petition = %petition_id,
                    reason = rejection.reason(),
                    "retention: a batch of erasures was refused; the next sweep goes on"
                );
                return Ok(false);
            }
            Err(refusal) => {
                return Err(Error::Config(format!(
                    "retention: the sequencer refused erasures: {refusal:?}"
                )))
            }
        }
    }
    tracing::info!(
        petition = %petition_id,
        erased = indexes.len(),
        "retention: the personal data of the petition's signers was erased"
    );
    Ok(true)
}

/// The sweeping thread; stops when dropped or [`Sweeper::stop`]ped.
pub struct Sweeper {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sweeper {
    pub fn start(state: Arc<AppState>, options: RetentionOptions) -> Result<Sweeper> {
        let (stop, stopped) = mpsc::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| Error::Config(format!("cannot start the retention sweeper: {e}")))?;
        let thread = std::thread::Builder::new()
            .name("retention".into())
            .spawn(move || loop {
                match runtime.block_on(sweep(&state, &options, crate::unix_now_ms())) {
                    Ok(report) if report.erased > 0 => {
                        tracing::info!(erased = report.erased, "retention sweep done");
                    }
                    Ok(_) => {}
                    Err(Error::SequencerStopped) => return,
                    Err(e) => tracing::error!(error = %e, "retention sweep failed"),
                }
                match stopped.recv_timeout(options.sweep_every) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            })
            .map_err(|e| Error::Config(format!("cannot start the retention sweeper: {e}")))?;
        Ok(Sweeper {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the thread after the sweep it may be in (whose batches are committed or
    /// refused whole).
    pub fn stop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.stop();
    }
}
