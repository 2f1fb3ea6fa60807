//! What the benchmark programs share (`ledger/benches/append.rs`,
//! `projector/benches/replay.rs`, `server/benches/http.rs`): errors with context,
//! `BENCH_SCALE`, temp dirs beside the build, number formatting and a progress line
//! drawn only on a terminal. Benchmarks print their figures and end with one `RESULT`
//! line; nothing here prints to stdout, so that line stays theirs.

use std::fmt::Display;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A one-line progress counter on stderr, drawn only when stderr is a terminal so
/// that logs and pipes stay clean.
pub struct Progress {
    enabled: bool,
    label: String,
    total: u64,
    drawn: Instant,
}

impl Progress {
    const EVERY: Duration = Duration::from_millis(200);

    pub fn new(label: &str, total: u64) -> Progress {
        Progress {
            enabled: std::io::stderr().is_terminal(),
            label: label.to_owned(),
            total,
            drawn: Instant::now(),
        }
    }

    pub fn update(&mut self, done: u64) {
        if self.enabled && self.drawn.elapsed() >= Self::EVERY {
            self.drawn = Instant::now();
            eprint!(
                "\r\x1b[2K  {}: {} / {}",
                self.label,
                thousands(done),
                thousands(self.total)
            );
        }
    }

    pub fn finish(&mut self) {
        if self.enabled {
            eprint!("\r\x1b[2K");
        }
    }

    /// A fixed line for a phase that cannot report as it goes.
    pub fn note(text: &str) -> Progress {
        let progress = Progress::new(text, 0);
        if progress.enabled {
            eprint!("\r\x1b[2K  {text} …");
        }
        progress
    }
}

pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Adds what was being done to an error.
pub trait Context<T> {
    fn context(self, what: &str) -> BenchResult<T>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn context(self, what: &str) -> BenchResult<T> {
        self.map_err(|e| format!("{what}: {e}").into())
    }
}

/// `BENCH_SCALE` (default 1): the fraction of the full workload to run.
pub fn bench_scale() -> BenchResult<f64> {
    match std::env::var("BENCH_SCALE") {
        Err(std::env::VarError::NotPresent) => Ok(1.0),
        Err(e) => Err(format!("BENCH_SCALE: {e}").into()),
        Ok(text) => match text.trim().parse::<f64>() {
            Ok(scale) if scale.is_finite() && scale > 0.0 => Ok(scale),
            _ => Err(format!("BENCH_SCALE must be a positive number, got {text:?}").into()),
        },
    }
}

/// `base * scale` entries, never fewer than `at_least`, so a tiny scale still runs
/// every scenario at least once.
pub fn scaled_count(base: f64, scale: f64, at_least: usize) -> usize {
    ((base * scale).round() as usize).max(at_least)
}

/// Where the temp dirs go: `<target dir>/tmp` (what cargo calls `CARGO_TARGET_TMPDIR`)
/// when the running benchmark sits in cargo's `<target dir>/<profile>/deps/`, so the
/// data is on the same disk as the build (and never on a tmpfs, where an fsync costs
/// nothing); else the system temp dir.
///
/// Found from the running executable, not from `option_env!("CARGO_TARGET_TMPDIR")`:
/// cargo sets that only while compiling a bench or an integration test, never while
/// compiling a library such as this one.
pub fn temp_root() -> BenchResult<PathBuf> {
    let exe = std::env::current_exe().context("locate the running benchmark")?;
    let target_dir = exe
        .parent()
        .filter(|deps| deps.ends_with("deps"))
        .and_then(Path::parent) // the profile's dir
        .and_then(Path::parent);
    let root = match target_dir {
        Some(target) => target.join("tmp"),
        None => std::env::temp_dir(),
    };
    std::fs::create_dir_all(&root).context(&format!("create {}", root.display()))?;
    Ok(root)
}

pub fn temp_dir(root: &Path, prefix: &str) -> BenchResult<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(root)
        .context(&format!("create a temp dir under {}", root.display()))
}
