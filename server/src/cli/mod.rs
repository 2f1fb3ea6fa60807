//! The verbs of the `campaign-ledger` binary, one module per family, each with the clap
//! arguments of what it runs; `main.rs` parses the command line and dispatches.

pub mod audit;
pub mod keys;
pub mod offline;
pub mod serve;
pub mod verify;

use std::fmt::Display;
use std::path::Path;
use std::process::ExitCode;

use ledger::note::NoteVerifier;
use server::datadir;

/// What a verb that exits 1 on any error ends with: `main` prints the error as
/// `campaign-ledger: {error}`, its one line (the error's own message, no chain).
pub type Result<T = (), E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// A bad argument or an unreadable file of `verify` or `audit`: said on stderr, exit 2.
pub fn usage(message: impl Display) -> ExitCode {
    eprintln!("campaign-ledger: {message}");
    ExitCode::from(2)
}

/// Prints what a verb found: `value` as one line of JSON with `--json`, else `text`.
pub fn print(json: bool, value: serde_json::Value, text: impl Display) {
    if json {
        println!("{value}");
    } else {
        print!("{text}");
    }
}

/// A `--vkey` or `--auditor` argument.
pub fn parse_vkey(flag: &str, text: &str) -> Result<NoteVerifier, String> {
    NoteVerifier::parse(text.trim()).map_err(|e| format!("{flag}: not a note verifier key: {e}"))
}

pub fn require_data_dir(data: &Path) -> Result<(), String> {
    if datadir::has_log(data) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a campaign-ledger data directory (run `campaign-ledger serve` first)",
            data.display()
        ))
    }
}

/// An error opening the store, with what to do when the server holds it.
pub fn open_error(data: &Path, e: ledger::Error) -> String {
    match e {
        ledger::Error::Db(_) => format!(
            "cannot open {} ({e}); if the server is running, stop it first",
            data.display()
        ),
        other => other.to_string(),
    }
}

/// A progress bar on a terminal, hidden otherwise.
pub fn progress_bar(len: u64) -> indicatif::ProgressBar {
    let progress = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    progress
}
