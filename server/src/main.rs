//! The `campaign-ledger` binary: `serve`, `token`, `check`, `tiles`, `export` and
//! `verify`; README.md says how to use them. Each verb runs in `cli/`.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "campaign-ledger",
    version,
    about = "A verifiable ledger for grassroots campaigns"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API, creating the data directory and its keys on first run.
    Serve(cli::serve::ServeArgs),
    /// Create, list or revoke API tokens.
    Token {
        #[command(subcommand)]
        action: cli::keys::TokenAction,
    },
    /// Check a data directory offline (stop the server first)
    ///
    /// That nothing published was rolled back and the keys are the log's own; every entry re-hashed against the
    /// stored hashes, every index row and signed checkpoint; every vault value opened;
    /// the read-model snapshot; then the log replayed as an auditor would.
    Check(cli::offline::CheckArgs),
    /// Write a static copy of the public read side, for any web server or CDN
    ///
    /// The checkpoint, every tile (and the partial tiles of earlier signed sizes), the
    /// signed tally and the read models as JSON: what `serve --publish` keeps up to date,
    /// written once from a stopped server's data directory. `audit` reads it as it reads
    /// the server.
    Tiles(cli::offline::TilesArgs),
    /// Write the export bundle of one petition in one area, for an MP's or councillor's office
    ///
    /// A zip the office can check offline with `verify`, written from the data directory
    /// (stop the server first). It holds no personal data: to hand an office its
    /// consenting signers' details, give it an exporter token scoped to its area and
    /// let it fetch GET /api/v1/exports/{petition}?area=..., which logs the disclosure.
    Export(cli::offline::ExportArgs),
    /// Audit a log without trusting its operator, and cosign what holds
    ///
    /// Mirror its checkpoint and tiles (from a server, any static copy over HTTP, or a
    /// directory), fetching only what is new;
    /// check every tile and that the tree extends the one verified before (a fork is
    /// saved as evidence, exit 2); replay every entry and compare the signed tally
    /// counter by counter (exit 1 on any finding).
    Audit(cli::audit::AuditArgs),
    /// Erase a signer's personal data through a running server, and log the erasure
    ///
    /// The vault forgets the data and salt for good; a public personal_data.erased entry
    /// says so. The signature still counts and its proofs still verify. With
    /// --token-file an admin or an organiser scoped to the petition acts on the signer's
    /// request; with --signer-secret-file the signer acts alone, with the secret handed
    /// to them when they signed.
    Erase(server::erase::EraseArgs),
    /// Make an auditor's key; list the auditor keys a server accepts cosignatures from
    Auditor {
        #[command(subcommand)]
        action: cli::keys::AuditorAction,
    },
    /// Enter a paper batch of signatures from a CSV file, all or nothing
    ///
    /// Sends the file to the server (POST /api/v1/imports/paper): the batch record and
    /// one signature per row are appended together, or nothing is when any row is bad;
    /// each bad row is named by number, column and reason.
    Import(server::import::cli::ImportArgs),
    /// Check an export bundle offline
    ///
    /// The log's signatures on its checkpoint, tally
    /// and manifest; every entry's inclusion proof; that the live signatures listed
    /// number exactly the signed counter; every revealed signer's data against the
    /// log's commitment; every file's hash. Exits 0 only if everything holds.
    Verify(cli::verify::VerifyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Verbs with exit statuses of their own; the rest exit 1 on any error.
    let result = match cli.command {
        Command::Verify(args) => return cli::verify::verify(&args),
        Command::Audit(args) => return cli::audit::audit(&args),
        Command::Import(args) => return server::import::cli::run(&args),
        Command::Serve(args) => cli::serve::run(args),
        Command::Token { action } => cli::keys::token(action),
        Command::Auditor { action } => cli::keys::auditor(action),
        Command::Check(args) => cli::offline::check(args),
        Command::Tiles(args) => cli::offline::tiles(args),
        Command::Export(args) => cli::offline::export(args),
        Command::Erase(args) => server::erase::run(&args)
            .map(|out| println!("{out}"))
            .map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("campaign-ledger: {message}");
            ExitCode::FAILURE
        }
    }
}
