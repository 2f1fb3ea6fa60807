//! Reporting helpers shared by the benchmark programs (included with `#[path]` by
//! `ledger/benches/append.rs` and `projector/benches/replay.rs`): number formatting
//! and a progress line drawn only on a terminal.
#![allow(dead_code)]

use std::io::IsTerminal;
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
