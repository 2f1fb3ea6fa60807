//! The `campaign-ledger` binary: `serve`, `token`, `check`, `tiles`, `export` and
//! `verify`; README.md says how to use them.

use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use ledger::HashAlg;
use server::auth::{Role, Scope, TokenStore};
use server::datadir;
use server::http::listen;
use server::node::{Node, NodeOptions};

/// How long a stopping server waits for open connections to finish their requests.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

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

#[derive(Clone, Copy, ValueEnum)]
enum HashChoice {
    Blake3,
    Sha256,
}

impl From<HashChoice> for HashAlg {
    fn from(choice: HashChoice) -> HashAlg {
        match choice {
            HashChoice::Blake3 => HashAlg::Blake3,
            HashChoice::Sha256 => HashAlg::Sha256,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleChoice {
    Admin,
    Organiser,
    Exporter,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API, creating the data directory and its keys on first run.
    Serve {
        /// The data directory.
        #[arg(long, default_value = "campaign-data")]
        data: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Checkpoint origin (and log key name); only when the log is created.
        #[arg(long)]
        origin: Option<String>,
        /// Hash function; fixed when the log is created.
        #[arg(long, value_enum)]
        hash: Option<HashChoice>,
        /// Seed a new log with the demo campaign: the global detwin campaign, the 14-city UK
        /// joint action and 2,400 clearly labelled synthetic signatures.
        #[arg(long)]
        demo: bool,
        /// Keep DIR a static copy of the public read side (checkpoint, tiles, tally,
        /// read models), updated within a second of each commit, for any web server or
        /// CDN to serve and `audit` to check.
        #[arg(long, value_name = "DIR")]
        publish: Option<PathBuf>,
        #[command(flatten)]
        limits: ConnectionLimits,
        #[command(flatten)]
        integrity: Integrity,
    },
    /// Create, list or revoke API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Check a data directory offline (stop the server first)
    ///
    /// That nothing published was rolled back and the keys are the log's own; every entry re-hashed against the
    /// stored hashes, every index row and signed checkpoint; every vault value opened;
    /// the read-model snapshot; then the log replayed as an auditor would.
    Check {
        #[arg(long, default_value = "campaign-data")]
        data: PathBuf,
    },
    /// Write a static copy of the public read side, for any web server or CDN
    ///
    /// The checkpoint, every tile (and the partial tiles of earlier signed sizes), the
    /// signed tally and the read models as JSON: what `serve --publish` keeps up to date,
    /// written once from a stopped server's data directory. `audit` reads it as it reads
    /// the server.
    Tiles {
        #[arg(long, default_value = "campaign-data")]
        data: PathBuf,
        /// Where to write `checkpoint` and `tile/...`.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write the export bundle of one petition in one area, for an MP's or councillor's office
    ///
    /// A zip the office can check offline with `verify`, written from the data directory
    /// (stop the server first). It holds no personal data: to hand an office its
    /// consenting signers' details, give it an exporter token scoped to its area and
    /// let it fetch GET /api/v1/exports/{petition}?area=..., which logs the disclosure.
    Export {
        #[arg(long, default_value = "campaign-data")]
        data: PathBuf,
        /// The petition id.
        #[arg(long)]
        petition: String,
        /// constituency:E14000831, ward:E05001234, council:NAME or country:GB.
        #[arg(long, value_name = "KIND:CODE")]
        area: String,
        /// The zip to write (default: <petition>-<kind>-<code>-<tree size>.zip here).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Audit a log without trusting its operator, and cosign what holds
    ///
    /// Mirror its checkpoint and tiles (from a server, any static copy over HTTP, or a
    /// directory), fetching only what is new;
    /// check every tile and that the tree extends the one verified before (a fork is
    /// saved as evidence, exit 2); replay every entry and compare the signed tally
    /// counter by counter (exit 1 on any finding).
    Audit(AuditArgs),
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
        action: AuditorAction,
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
    Verify {
        /// The bundle (.zip).
        bundle: PathBuf,
        /// The log key the campaign publishes (a note verifier key). Without it the
        /// bundle's own key is used, and you are asked to compare it yourself.
        #[arg(long, value_name = "VKEY")]
        vkey: Option<String>,
        /// An auditor whose cosignature of the tally must be there (repeatable).
        #[arg(long, value_name = "VKEY")]
        auditor: Vec<String>,
        /// Print a JSON report instead of the summary.
        #[arg(long)]
        json: bool,
    },
}

/// `serve`'s guards of the data directory (server::health) and of signers' data
/// (server::retention).
#[derive(clap::Args)]
struct Integrity {
    /// Appends are refused (507 storage_full, /healthz degraded) while the data
    /// directory's filesystem has fewer free MiB than this; they resume by themselves.
    #[arg(long, value_name = "MIB", default_value_t = server::health::DEFAULT_MIN_FREE_BYTES >> 20)]
    min_free_mib: u64,
    /// Seconds from the start of one background scrub pass (re-hashing every entry and
    /// checking every stored hash, index row and checkpoint) to the next; 0 turns the
    /// scrub off. The first pass starts with the server.
    #[arg(long, value_name = "SECONDS", default_value_t = server::health::ScrubOptions::default().every.as_secs())]
    scrub_every: u64,
    /// Entries a scrub pass re-verifies per second at most.
    #[arg(long, value_name = "ENTRIES", default_value_t = server::health::ScrubOptions::default().entries_per_second, value_parser = clap::value_parser!(u64).range(1..))]
    scrub_rate: u64,
    /// Days the personal data of a closed petition's signers is kept after it closed
    /// (by a petition.closed record or its closing date); then it is erased, each
    /// erasure logged (reason retention), and the petition's dedup key destroyed. 0
    /// erases at the first sweep after closing.
    #[arg(long, value_name = "DAYS", default_value_t = server::retention::DEFAULT_RETENTION_DAYS, value_parser = clap::value_parser!(u64).range(0..=36_500))]
    retention_days: u64,
    /// Seconds between two retention sweeps (the first runs at start).
    #[arg(long, value_name = "SECONDS", default_value_t = server::retention::DEFAULT_SWEEP_SECS, value_parser = clap::value_parser!(u64).range(1..))]
    retention_sweep_secs: u64,
}

impl From<Integrity> for NodeOptions {
    fn from(integrity: Integrity) -> NodeOptions {
        NodeOptions {
            min_free_bytes: integrity.min_free_mib.saturating_mul(1 << 20),
            scrub: (integrity.scrub_every > 0).then(|| server::health::ScrubOptions {
                every: std::time::Duration::from_secs(integrity.scrub_every),
                entries_per_second: integrity.scrub_rate,
            }),
            retention: Some(server::retention::RetentionOptions {
                days: integrity.retention_days,
                sweep_every: std::time::Duration::from_secs(integrity.retention_sweep_secs),
            }),
            ..NodeOptions::default()
        }
    }
}

/// `serve`'s bounds on connections (server::http::listen).
#[derive(clap::Args)]
struct ConnectionLimits {
    /// Seconds a client has to send a request's headers, counted from when the
    /// connection starts waiting for it (so it also closes idle kept-alive connections).
    #[arg(long, value_name = "SECONDS", default_value_t = listen::DEFAULT_HEADER_READ_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    header_read_timeout: u64,
    /// Seconds a client has to send a request body.
    #[arg(long, value_name = "SECONDS", default_value_t = listen::DEFAULT_BODY_READ_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    body_read_timeout: u64,
    /// Seconds after which a connection on which nothing moves while no request is
    /// being handled is closed (an idle connection, a client that stopped reading).
    #[arg(long, value_name = "SECONDS", default_value_t = listen::DEFAULT_IDLE_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
    /// Most open connections; more wait to be accepted. Lowered to fit the descriptor
    /// limit (ulimit -n) less what the data directory needs.
    #[arg(long, default_value_t = listen::DEFAULT_MAX_CONNECTIONS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    max_connections: usize,
}

impl From<ConnectionLimits> for listen::Limits {
    fn from(limits: ConnectionLimits) -> listen::Limits {
        use std::time::Duration;
        listen::Limits {
            header_read_timeout: Duration::from_secs(limits.header_read_timeout),
            body_read_timeout: Duration::from_secs(limits.body_read_timeout),
            idle_timeout: Duration::from_secs(limits.idle_timeout),
            max_connections: listen::connections_within_descriptors(limits.max_connections),
        }
    }
}

#[derive(Subcommand)]
enum AuditorAction {
    /// Make an auditor's cosigning key: writes the private key (mode 0600) and prints
    /// the verifier key to give the operator.
    Keygen {
        /// The key's name, e.g. the auditor's domain (`audit.example.org`).
        #[arg(long)]
        name: String,
        /// Where to write the private key (default: <name>.key here). Never overwritten.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Accept cosignatures by this auditor key (works while the server runs).
    Add {
        #[arg(long, default_value = "campaign-data")]
        data: PathBuf,
        /// The auditor's verifier key, as `auditor keygen` printed it.
        vkey: String,
    },
    /// List the auditor keys accepted.
    List {
        #[arg(long, default_value = "campaign-data")]
        data: PathBuf,
    },
    /// Stop accepting cosignatures by an auditor (those given stay).
    Remove {
        #[arg(long, default_value = "campaign-data")]
        data: PathBuf,
        /// The auditor's key name or verifier key.
        auditor: String,
    },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Create a token and print it (it is shown only this once).
    Create {
        #[arg(long, default_value = "campaign-data")]
        data: PathBuf,
        #[arg(long, value_enum)]
        role: RoleChoice,
        /// petition:ID, city:NAME (organisers); area:CODE (a constituency or ward code),
        /// area:council:NAME or area:country:CC (exporters, who must have one).
        #[arg(long)]
        scope: Option<String>,
        /// A note for `token list`, e.g. who holds it.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long, default_value = "campaign-data")]
        data: PathBuf,
    },
    /// Revoke a token by its public id.
    Revoke {
        #[arg(long, default_value = "campaign-data")]
        data: PathBuf,
        id: String,
    },
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
    let result = match cli.command {
        Command::Serve {
            data,
            listen,
            origin,
            hash,
            demo,
            publish,
            limits,
            integrity,
        } => serve(
            &data,
            listen,
            origin.as_deref(),
            hash.map(Into::into),
            demo,
            limits.into(),
            NodeOptions {
                publish,
                ..integrity.into()
            },
        ),
        Command::Token { action } => token(action),
        Command::Check { data } => check(&data),
        Command::Tiles { data, out } => tiles(&data, &out),
        Command::Export {
            data,
            petition,
            area,
            out,
        } => export(&data, &petition, &area, out.as_deref()),
        Command::Verify {
            bundle,
            vkey,
            auditor,
            json,
        } => return verify(&bundle, vkey.as_deref(), &auditor, json),
        Command::Audit(args) => return audit(&args),
        Command::Import(args) => return server::import::cli::run(&args),
        Command::Erase(args) => server::erase::run(&args).map(|out| println!("{out}")),
        Command::Auditor { action } => auditor(action),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("campaign-ledger: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(
    data: &Path,
    listen: SocketAddr,
    origin: Option<&str>,
    hash: Option<HashAlg>,
    demo: bool,
    limits: listen::Limits,
    options: NodeOptions,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let (node, opening) = {
            let dir = data.to_path_buf();
            let origin = origin.map(str::to_owned);
            tokio::task::spawn_blocking(move || {
                Node::open_with(&dir, origin.as_deref(), hash, &options)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("{}: {e}", data.display()))?
        };
        if opening.created {
            println!("created a new log in {}", data.display());
            println!(
                "admin token written to {} (mode 0600)",
                opening.admin_token_path.display()
            );
        } else {
            println!(
                "opened the log in {} ({} entries, read models loaded in {} ms)",
                data.display(),
                opening.tree_size,
                opening.load_ms
            );
            println!(
                "admin token: {} (if still there)",
                opening.admin_token_path.display()
            );
        }
        println!("origin: {}", opening.origin);
        println!("hash:   {}", opening.hash.name());
        println!("vkey:   {}", opening.vkey);
        if demo {
            if opening.tree_size == 0 {
                let seeded = node
                    .seed_demo()
                    .await
                    .map_err(|e| format!("seeding the demo campaign: {e}"))?;
                println!("seeded the demo campaign: {seeded} entries (signatures are synthetic)");
            } else {
                println!(
                    "--demo ignored: the log already has {} entries",
                    opening.tree_size
                );
            }
        }
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        println!("listening on http://{address}");
        tracing::info!(%address, "serving");
        let signalled = std::sync::Arc::new(tokio::sync::Notify::new());
        let notify = signalled.clone();
        let serving = listen::serve(listener, node.router(), limits, async move {
            shutdown_signal().await;
            notify.notify_one();
        });
        // Graceful shutdown waits for every open connection; a client that stalls
        // mid-request must not keep the server (and its final snapshot) from stopping.
        tokio::select! {
            () = serving => {}
            _ = async {
                signalled.notified().await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {
                tracing::warn!(
                    grace_secs = SHUTDOWN_GRACE.as_secs(),
                    "connections still open after the grace period; closing them"
                );
            }
        }
        tracing::info!("stopped accepting; finishing queued appends");
        let stopped = tokio::task::spawn_blocking(move || node.shutdown())
            .await
            .map_err(|e| e.to_string())?;
        stopped.map_err(|e| format!("shutting down: {e}"))?;
        tracing::info!("shut down cleanly");
        Ok(())
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

fn token(action: TokenAction) -> Result<(), String> {
    match action {
        TokenAction::Create {
            data,
            role,
            scope,
            label,
        } => {
            require_data_dir(&data)?;
            let role = match role {
                RoleChoice::Admin => Role::Admin,
                RoleChoice::Organiser => Role::Organiser,
                RoleChoice::Exporter => Role::Exporter,
            };
            let scope = scope
                .map(|s| Scope::parse(&s).map_err(|e| format!("--scope: {e}")))
                .transpose()?;
            let store = TokenStore::new(data.join(datadir::TOKENS));
            let token = store
                .create(role, scope, &label)
                .map_err(|e| e.to_string())?;
            println!("{token}");
            eprintln!("this token is shown only once; store it safely");
            Ok(())
        }
        TokenAction::List { data } => {
            require_data_dir(&data)?;
            let store = TokenStore::new(data.join(datadir::TOKENS));
            let tokens = store.list().map_err(|e| e.to_string())?;
            println!(
                "{:<10} {:<10} {:<32} {:<8} LABEL",
                "ID", "ROLE", "SCOPE", "STATUS"
            );
            for token in tokens {
                println!(
                    "{:<10} {:<10} {:<32} {:<8} {}",
                    token.id,
                    token.role.as_str(),
                    token
                        .scope
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "-".into()),
                    if token.revoked_unix.is_some() {
                        "revoked"
                    } else {
                        "active"
                    },
                    token.label
                );
            }
            Ok(())
        }
        TokenAction::Revoke { data, id } => {
            require_data_dir(&data)?;
            let store = TokenStore::new(data.join(datadir::TOKENS));
            let token = store.revoke(&id).map_err(|e| e.to_string())?;
            println!("revoked token {} ({})", token.id, token.role.as_str());
            Ok(())
        }
    }
}

fn require_data_dir(data: &Path) -> Result<(), String> {
    if datadir::has_log(data) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a campaign-ledger data directory (run `campaign-ledger serve` first)",
            data.display()
        ))
    }
}

/// `check`: everything the server serves from, verified offline, then the log
/// replayed as an auditor would.
fn check(data: &Path) -> Result<(), String> {
    require_data_dir(data)?;
    let keys = datadir::read_keys(data).map_err(|e| e.to_string())?;
    let signer = datadir::copy_signer(&keys.log).map_err(|e| e.to_string())?;
    // Opening refuses a rolled-back or forked journal, swapped keys and damaged index
    // rows or right-edge hashes; then every entry, stored hash, index row and
    // checkpoint signature is verified.
    let (store, _) = ledger::store::Store::open_pinned(data, signer, &keys.pins())
        .map_err(|e| format!("check failed: {}", open_error(data, e)))?;
    let progress = progress_bar(store.size());
    let report = store
        .check_with_progress(&mut |checked| progress.set_position(checked))
        .map_err(|e| format!("check failed: {e}"));
    progress.finish_and_clear();
    let report = report?;
    println!(
        "ok: the log's files ({} entries, {} signed checkpoints; every stored hash and \
         index row; nothing published was rolled back)",
        report.entries, report.checkpoints
    );
    let vault_path = data.join(datadir::VAULT);
    if vault_path.exists() {
        let vault = server::vault::Vault::open(&vault_path, &keys.vault)
            .map_err(|e| format!("check failed: {}: {e}", vault_path.display()))?;
        let found = vault
            .verify(&store)
            .map_err(|e| format!("check failed: {}: {e}", vault_path.display()))?;
        if let Some(first) = found.problems.first() {
            return Err(format!(
                "check failed: {}: {} values do not open (first: {first})",
                vault_path.display(),
                found.problems.len()
            ));
        }
        println!(
            "ok: the vault ({} sealed values open with vault.key and their commitments)",
            found.opened
        );
        if found.orphans > 0 {
            println!(
                "note: the vault holds {} values of a batch that never reached the log; the \
                 server drops them at start",
                found.orphans
            );
        }
    }
    store.close().map_err(|e| e.to_string())?;
    let snapshots_path = data.join(datadir::SNAPSHOTS);
    if snapshots_path.exists() {
        let segments = |n: usize| match n {
            1 => "1 segment".to_string(),
            n => format!("{n} segments"),
        };
        match projector::persist::Snapshots::inspect(&snapshots_path) {
            Ok(found) if found.unusable_bytes == 0 => println!(
                "ok: the read-model snapshot ({}, tree size {})",
                segments(found.segments),
                found.tree_size
            ),
            Ok(found) => println!(
                "note: the read-model snapshot's last {} bytes are unusable (a torn or damaged \
                 segment); the {} before them reach tree size {}, and the server replays the \
                 rest of the log",
                found.unusable_bytes,
                segments(found.segments),
                found.tree_size
            ),
            Err(e) => println!(
                "note: the read-model snapshot is unusable ({e}); it is only a cache, and the \
                 server replays the log instead"
            ),
        }
    }
    let report =
        projector::audit::audit_dir(data, None).map_err(|e| format!("check failed: {e}"))?;
    println!(
        "ok: {} entries re-hashed and replayed, {} signed checkpoints checked",
        report.entries, report.checkpoints_checked
    );
    println!("root: {}", report.root);
    if report.rejected_in_log > 0 {
        if let Some((index, reason)) = &report.first_rejected {
            println!(
                "note: {} entries are refused by the decision rules (first: entry {index}, {reason})",
                report.rejected_in_log
            );
        }
    }
    Ok(())
}

/// An error opening the store, with what to do when the server holds it.
fn open_error(data: &Path, e: ledger::Error) -> String {
    match e {
        ledger::Error::Db(_) => format!(
            "cannot open {} ({e}); if the server is running, stop it first",
            data.display()
        ),
        other => other.to_string(),
    }
}

/// A progress bar on a terminal, hidden otherwise.
fn progress_bar(len: u64) -> indicatif::ProgressBar {
    let progress = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    progress
}

fn tiles(data: &Path, out: &Path) -> Result<(), String> {
    require_data_dir(data)?;
    let keys = datadir::read_keys(data).map_err(|e| e.to_string())?;
    let signer = datadir::copy_signer(&keys.log).map_err(|e| e.to_string())?;
    let store = ledger::store::Store::open(data, keys.log).map_err(|e| open_error(data, e))?;
    let size = store.size();
    // The tally and read models of the copy are the replay's.
    let projection = projector::persist::replay_prefix(&store, size)
        .map_err(|e| format!("replaying the log: {e}"))?;
    let copy = server::publish::StaticCopy {
        dir: out.to_path_buf(),
        store: store.clone(),
        log_key: signer,
        cosignatures: std::sync::Arc::new(
            server::cosignatures::CosignatureStore::open(&data.join(datadir::COSIGNATURES))
                .map_err(|e| e.to_string())?,
        ),
    };
    let read = copy
        .read_side(&projection, true)
        .map_err(|e| e.to_string())?;
    drop(projection);
    let progress = progress_bar(0);
    let mut tiles = 0;
    copy.publish_all(read, &mut |done, total| {
        tiles = total;
        progress.set_length(total);
        progress.set_position(done);
    })
    .map_err(|e| format!("writing {}: {e}", out.display()))?;
    progress.finish_and_clear();
    drop(copy);
    store.close().map_err(|e| e.to_string())?;
    println!(
        "wrote the checkpoint, {tiles} tiles and the read models for tree size {size} to {}",
        out.display()
    );
    Ok(())
}

fn export(data: &Path, petition: &str, area: &str, out: Option<&Path>) -> Result<(), String> {
    let area = projector::Area::parse(area).map_err(|e| format!("--area: {e}"))?;
    require_data_dir(data)?;
    let keys = datadir::read_keys(data).map_err(|e| e.to_string())?;
    let signer = datadir::copy_signer(&keys.log).map_err(|e| e.to_string())?;
    let store = ledger::store::Store::open(data, keys.log).map_err(|e| open_error(data, e))?;
    let size = store.size();
    let spinner = progress_bar(0);
    spinner.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    spinner.set_message(format!("replaying {size} entries"));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let projection = projector::persist::replay_prefix(&store, size)
        .map_err(|e| format!("replaying the log: {e}"))?;
    spinner.set_message("reading the area's entries and writing the bundle");
    let frozen = server::export::freeze(&projection, petition, &area).map_err(|e| e.to_string())?;
    drop(projection);
    let mut gathered = server::export::gather(&store, frozen, None).map_err(|e| e.to_string())?;
    let cosignatures =
        server::cosignatures::CosignatureStore::open(&data.join(datadir::COSIGNATURES))
            .map_err(|e| e.to_string())?;
    gathered.add_cosignatures(&cosignatures);
    let issuer = server::export::Issuer {
        exported_by: "operator",
        exported_at_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    };
    let zip = server::export::write_bundle(&store, &gathered, &signer, issuer)
        .map_err(|e| e.to_string())?;
    spinner.finish_and_clear();
    let name = server::export::bundle_name(petition, &area, size);
    let path = out.map_or_else(|| PathBuf::from(&name), Path::to_path_buf);
    std::fs::write(&path, &zip).map_err(|e| format!("{}: {e}", path.display()))?;
    store.close().map_err(|e| e.to_string())?;
    println!(
        "wrote {} ({} live signatures of {petition} in {area} at tree size {size}, {} bytes); \
         check it with: campaign-ledger verify {}",
        path.display(),
        gathered.signers.len(),
        zip.len(),
        path.display()
    );
    Ok(())
}

/// `verify`: exit 0 when everything holds, 1 on the first check that fails, 2 when
/// the bundle cannot be read or a key does not parse.
fn verify(bundle: &Path, vkey: Option<&str>, auditors: &[String], json: bool) -> ExitCode {
    let usage = |message: String| {
        eprintln!("campaign-ledger: {message}");
        ExitCode::from(2)
    };
    let parse = |flag: &str, text: &str| {
        ledger::note::NoteVerifier::parse(text.trim())
            .map_err(|e| format!("{flag}: not a note verifier key: {e}"))
    };
    let options = server::export::VerifyOptions {
        vkey: match vkey.map(|v| parse("--vkey", v)).transpose() {
            Ok(v) => v,
            Err(message) => return usage(message),
        },
        auditors: match auditors.iter().map(|a| parse("--auditor", a)).collect() {
            Ok(a) => a,
            Err(message) => return usage(message),
        },
    };
    let mut file = match std::fs::File::open(bundle) {
        Ok(file) => std::io::BufReader::new(file),
        Err(e) => return usage(format!("{}: {e}", bundle.display())),
    };
    // A signer's receipt (C2SP tlog-proof) rather than an export bundle.
    if std::io::BufRead::fill_buf(&mut file)
        .is_ok_and(|head| head.starts_with(ledger::receipt::RECEIPT_HEADER.as_bytes()))
    {
        return verify_receipt(bundle, options.vkey.as_ref(), json);
    }
    let progress = progress_bar(0);
    let result = server::export::verify_reader(file, &options, &mut |done, total| {
        if done % 1024 == 0 || done == total {
            progress.set_length(total);
            progress.set_position(done);
        }
    });
    progress.finish_and_clear();
    match result {
        Ok(report) => {
            if json {
                let value = serde_json::json!({"ok": true, "report": report});
                println!("{value}");
            } else {
                print!("{}", server::export::describe(&report));
                if !report.key_given {
                    println!(
                        "\nwarning: checked with the key the bundle names; compare it with the \
                         key the campaign publishes, then pass it with --vkey:\n  {}",
                        report.vkey
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(finding) => {
            if json {
                let value = serde_json::json!({"ok": false, "failed": finding});
                println!("{value}");
            } else {
                println!("FAILED: {finding}");
            }
            ExitCode::FAILURE
        }
    }
}

#[derive(clap::Args)]
struct AuditArgs {
    /// The log: https://..., http://... or a directory.
    source: String,
    /// Where the verified copy is kept between runs.
    #[arg(long, default_value = "audit-mirror")]
    mirror: PathBuf,
    /// The log key to insist on (a note verifier key). Without it, the key this
    /// mirror verified before, or on a first run the log's own, which it then keeps.
    #[arg(long, value_name = "VKEY")]
    vkey: Option<String>,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
    /// Audit again every SECS seconds, until a finding.
    #[arg(long, value_name = "SECS")]
    watch: Option<u64>,
    /// Print a JSON report instead of the summary.
    #[arg(long)]
    json: bool,
    /// When everything holds, cosign the checkpoint and the tally with this auditor
    /// key file (from `auditor keygen`): C2SP tlog-cosignature/v1 lines, written to
    /// the mirror as cosigned-checkpoint and cosigned-tally.
    #[arg(long, value_name = "KEYFILE")]
    cosign: Option<PathBuf>,
    /// Send the cosignatures to the server (POST /api/v1/cosignatures), which keeps
    /// them if the operator listed the key (`auditor add`).
    #[arg(long, requires = "cosign")]
    submit: bool,
}

/// `audit`: exit 0 when everything holds, 1 on a finding or a failure to audit, 2 on a
/// fork (and on arguments that do not parse).
fn audit(args: &AuditArgs) -> ExitCode {
    use server::auditor::{self, AuditError};
    let json = args.json;
    let fail = |error: AuditError| {
        if json {
            let fork = matches!(error, AuditError::Fork { .. });
            let value = serde_json::json!({"ok": false, "fork": fork, "failed": error.to_string()});
            println!("{value}");
        } else {
            println!("FAILED: {error}");
        }
        ExitCode::from(error.exit_status())
    };
    let usage = |message: String| {
        eprintln!("campaign-ledger: {message}");
        ExitCode::from(2)
    };
    let vkey = match args
        .vkey
        .as_deref()
        .map(|v| ledger::note::NoteVerifier::parse(v.trim()))
        .transpose()
    {
        Ok(vkey) => vkey,
        Err(e) => return usage(format!("--vkey: not a note verifier key: {e}")),
    };
    let cosigner = match &args.cosign {
        None => None,
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|key| {
                ledger::note::CosignatureSigner::from_private_key(key.trim())
                    .map_err(|e| e.to_string())
            }) {
            Ok(signer) => Some(signer),
            Err(e) => return usage(format!("--cosign {}: {e}", path.display())),
        },
    };
    let is_url = args.source.starts_with("http://") || args.source.starts_with("https://");
    if args.submit && !is_url {
        return usage("--submit needs the server's URL, not a directory".into());
    }
    let source: Box<dyn auditor::Source> = if is_url {
        match auditor::HttpSource::new(&args.source) {
            Ok(source) => Box::new(source),
            Err(e) => return fail(e),
        }
    } else {
        let dir = PathBuf::from(&args.source);
        if !dir.is_dir() {
            return usage(format!(
                "{}: neither an http(s) URL nor a directory",
                args.source
            ));
        }
        Box::new(auditor::DirSource::new(dir))
    };
    let mirror = match auditor::mirror::Mirror::open(&args.mirror) {
        Ok(mirror) => mirror,
        Err(e) => return fail(e),
    };
    let options = auditor::AuditOptions {
        vkey,
        concurrency: usize::from(args.concurrency),
    };
    loop {
        let progress = progress_bar(0);
        let result = auditor::audit(&*source, &mirror, &options, &mut |done, total| {
            progress.set_length(total);
            progress.set_position(done);
        });
        progress.finish_and_clear();
        let report = match result {
            Ok(report) => report,
            Err(error) => return fail(error),
        };
        let cosigned = match &cosigner {
            None => None,
            Some(signer) => {
                let submit_to = args.submit.then_some(&*source);
                match auditor::cosign(&report, signer, &mirror, submit_to) {
                    Ok(cosigned) => Some(cosigned),
                    Err(error) => return fail(error),
                }
            }
        };
        if json {
            let value = serde_json::json!({"ok": true, "report": report, "cosigned": cosigned});
            println!("{value}");
        } else {
            print!("{}", auditor::describe(&report));
            if let Some(cosigned) = &cosigned {
                println!("  - {}", cosigned.summary);
            }
        }
        match args.watch {
            Some(seconds) => std::thread::sleep(std::time::Duration::from_secs(seconds.max(1))),
            None => return ExitCode::SUCCESS,
        }
    }
}

fn auditor(action: AuditorAction) -> Result<(), String> {
    use server::cosignatures::Auditors;
    match action {
        AuditorAction::Keygen { name, out } => {
            let key = ledger::note::CosignatureSigner::generate(&name)
                .map_err(|e| format!("--name: {e}"))?;
            let path = out.unwrap_or_else(|| PathBuf::from(format!("{name}.key")));
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| format!("{}: {e} (a key is never overwritten)", path.display()))?;
            std::io::Write::write_all(&mut file, format!("{}\n", key.to_private_key()).as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("{}: {e}", path.display()))?;
            println!("{}", key.verifier_key());
            eprintln!(
                "wrote the private key to {} (keep it secret); give the operator the verifier \
                 key above for `campaign-ledger auditor add`",
                path.display()
            );
            Ok(())
        }
        AuditorAction::Add { data, vkey } => {
            require_data_dir(&data)?;
            let auditor = Auditors::new(data.join(datadir::AUDITORS))
                .add(&vkey)
                .map_err(|e| e.to_string())?;
            println!(
                "accepting cosignatures by {} ({})",
                auditor.name, auditor.vkey
            );
            Ok(())
        }
        AuditorAction::List { data } => {
            require_data_dir(&data)?;
            let auditors = Auditors::new(data.join(datadir::AUDITORS))
                .list()
                .map_err(|e| e.to_string())?;
            if auditors.is_empty() {
                println!("no auditor keys: add one with `campaign-ledger auditor add VKEY`");
            }
            for auditor in auditors {
                println!("{}  {}", auditor.name, auditor.vkey);
            }
            Ok(())
        }
        AuditorAction::Remove { data, auditor } => {
            require_data_dir(&data)?;
            let removed = Auditors::new(data.join(datadir::AUDITORS))
                .remove(&auditor)
                .map_err(|e| e.to_string())?;
            if !removed {
                return Err(format!("no auditor {auditor:?} is listed"));
            }
            println!("no longer accepting cosignatures by {auditor}");
            Ok(())
        }
    }
}

/// `verify RECEIPT`: a signer's receipt, with the entry it carries, checked offline
/// against the log key: exit 0 when the entry is in the log, 1 when not, 2 when the
/// file or key cannot be read.
fn verify_receipt(path: &Path, vkey: Option<&ledger::note::NoteVerifier>, json: bool) -> ExitCode {
    let usage = |message: String| {
        eprintln!("campaign-ledger: {message}");
        ExitCode::from(2)
    };
    let Some(vkey) = vkey else {
        return usage(
            "a receipt is checked against the log key the campaign publishes: pass --vkey".into(),
        );
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return usage(format!("{}: {e}", path.display())),
    };
    let failed = |message: String| {
        if json {
            println!("{}", serde_json::json!({"ok": false, "failed": message}));
        } else {
            println!("FAILED: {message}");
        }
        ExitCode::FAILURE
    };
    let receipt = match ledger::receipt::Receipt::parse(&text) {
        Ok(receipt) => receipt,
        Err(e) => return failed(format!("not a receipt: {e}")),
    };
    let Some(entry) = receipt.extra.as_deref() else {
        return failed(
            "the receipt carries no entry (its extra line); fetch it again from \
             GET /api/v1/receipts/{index}"
                .into(),
        );
    };
    // The log's hash function is not in the receipt: the proof holds under one of them.
    let proven = [HashAlg::Blake3, HashAlg::Sha256]
        .into_iter()
        .find_map(|alg| receipt.verify(alg, entry, vkey).ok());
    let Some(checkpoint) = proven else {
        return failed(format!(
            "entry {} is not in the tree the log key signed (the proof, the entry or the \
             checkpoint's signature does not hold)",
            receipt.index
        ));
    };
    let decoded = match ledger::Entry::decode(entry) {
        Ok(entry) => entry,
        Err(e) => return failed(format!("the entry does not decode: {e}")),
    };
    let record = decoded.record();
    let what = match record.signature() {
        Some(s) => format!("a signature of petition {}", s.petition_id),
        None => format!("a {} record", record.kind()),
    };
    if json {
        let value = serde_json::json!({
            "ok": true,
            "index": receipt.index,
            "record": record.kind(),
            "tree_size": checkpoint.size,
            "root": checkpoint.root.to_string(),
            "origin": checkpoint.origin,
        });
        println!("{value}");
    } else {
        println!(
            "ok: entry {} ({what}) is in the log {} at tree size {}, root {}",
            receipt.index, checkpoint.origin, checkpoint.size, checkpoint.root
        );
        println!(
            "  whether it still counts (not withdrawn or invalidated since) is the log's \
             signed tally's to say, and every auditor's who replayed the log"
        );
    }
    ExitCode::SUCCESS
}
