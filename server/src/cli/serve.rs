//! `serve`: the HTTP API over a data directory, until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;
use ledger::HashAlg;
use server::http::listen;
use server::node::{Node, NodeOptions};

/// How long a stopping server waits for open connections to finish their requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(clap::Args)]
pub struct ServeArgs {
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

pub fn run(args: ServeArgs) -> super::Result {
    // Bounds first: fitting them to the descriptor limit may warn.
    let (limits, integrity) = (&args.limits, &args.integrity);
    let limits = listen::Limits {
        header_read_timeout: Duration::from_secs(limits.header_read_timeout),
        body_read_timeout: Duration::from_secs(limits.body_read_timeout),
        idle_timeout: Duration::from_secs(limits.idle_timeout),
        max_connections: listen::connections_within_descriptors(limits.max_connections),
    };
    let options = NodeOptions {
        min_free_bytes: integrity.min_free_mib.saturating_mul(1 << 20),
        scrub: (integrity.scrub_every > 0).then(|| server::health::ScrubOptions {
            every: Duration::from_secs(integrity.scrub_every),
            entries_per_second: integrity.scrub_rate,
        }),
        retention: Some(server::retention::RetentionOptions {
            days: integrity.retention_days,
            sweep_every: Duration::from_secs(integrity.retention_sweep_secs),
        }),
        publish: args.publish,
        ..NodeOptions::default()
    };
    let (data, listen, demo) = (args.data, args.listen, args.demo);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async {
        // Before the port accepts anything: a SIGTERM sent as soon as it does must stop
        // the server cleanly, not meet the default action (which skips the last snapshot).
        let shutdown =
            shutdown_signal().map_err(|e| format!("cannot handle SIGTERM and SIGINT: {e}"))?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let (node, opening) = {
            let dir = data.clone();
            tokio::task::spawn_blocking(move || {
                Node::open_with(
                    &dir,
                    args.origin.as_deref(),
                    args.hash.map(Into::into),
                    &options,
                )
            })
            .await?
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
        let address = listener.local_addr()?;
        println!("listening on http://{address}");
        tracing::info!(%address, "serving");
        let signalled = std::sync::Arc::new(tokio::sync::Notify::new());
        let notify = signalled.clone();
        let serving = listen::serve(listener, node.router(), limits, async move {
            shutdown.await;
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
        let stopped = tokio::task::spawn_blocking(move || node.shutdown()).await?;
        stopped.map_err(|e| format!("shutting down: {e}"))?;
        tracing::info!("shut down cleanly");
        Ok(())
    })
}

/// Installs the SIGTERM and SIGINT (Ctrl-C) handlers now, and returns what ends on the
/// first of them. Tokio installs a handler only when its future is first polled, and the
/// accept loop may not poll its shutdown future before the first requests are answered.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}
