//! `check`, `tiles` and `export`: what is done with a stopped server's data directory.

use std::path::{Path, PathBuf};

use ledger::note::NoteSigner;
use ledger::store::Store;
use server::cosignatures::CosignatureStore;
use server::datadir;

use super::{open_error, progress_bar, require_data_dir};

#[derive(clap::Args)]
pub struct CheckArgs {
    #[arg(long, default_value = "campaign-data")]
    data: PathBuf,
}

#[derive(clap::Args)]
pub struct TilesArgs {
    #[arg(long, default_value = "campaign-data")]
    data: PathBuf,
    /// Where to write `checkpoint` and `tile/...`.
    #[arg(long)]
    out: PathBuf,
}

#[derive(clap::Args)]
pub struct ExportArgs {
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
}

/// The log of the data directory `data`, and a second handle to its key.
fn open_log(data: &Path) -> super::Result<(Store, NoteSigner)> {
    require_data_dir(data)?;
    let keys = datadir::read_keys(data)?;
    let signer = datadir::copy_signer(&keys.log)?;
    let store = Store::open(data, keys.log).map_err(|e| open_error(data, e))?;
    Ok((store, signer))
}

/// `check`: everything the server serves from, verified offline, then the log
/// replayed as an auditor would.
pub fn check(args: CheckArgs) -> super::Result {
    let data = &args.data;
    require_data_dir(data)?;
    let keys = datadir::read_keys(data)?;
    let signer = datadir::copy_signer(&keys.log)?;
    // Opening refuses a rolled-back or forked journal, swapped keys and damaged index
    // rows or right-edge hashes; then every entry, stored hash, index row and
    // checkpoint signature is verified.
    let (store, _) = Store::open_pinned(data, signer, &keys.pins())
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
        let vault_failed =
            |e: server::Error| format!("check failed: {}: {e}", vault_path.display());
        let vault = server::vault::Vault::open(&vault_path, &keys.vault).map_err(vault_failed)?;
        let found = vault.verify(&store).map_err(vault_failed)?;
        if let Some(first) = found.problems.first() {
            return Err(format!(
                "check failed: {}: {} values do not open (first: {first})",
                vault_path.display(),
                found.problems.len()
            )
            .into());
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
    store.close()?;
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

/// `tiles`: what `serve --publish` keeps up to date, written once.
pub fn tiles(args: TilesArgs) -> super::Result {
    let (data, out) = (&args.data, &args.out);
    let (store, signer) = open_log(data)?;
    let size = store.size();
    // The tally and read models of the copy are the replay's.
    let projection = projector::persist::replay_prefix(&store, size)
        .map_err(|e| format!("replaying the log: {e}"))?;
    let copy = server::publish::StaticCopy {
        dir: out.clone(),
        store: store.clone(),
        log_key: signer,
        cosignatures: std::sync::Arc::new(CosignatureStore::open(
            &data.join(datadir::COSIGNATURES),
        )?),
    };
    let read = copy.read_side(&projection, true)?;
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
    store.close()?;
    println!(
        "wrote the checkpoint, {tiles} tiles and the read models for tree size {size} to {}",
        out.display()
    );
    Ok(())
}

/// `export`: one petition's bundle for one area, issued by the operator.
pub fn export(args: ExportArgs) -> super::Result {
    let (data, petition) = (&args.data, &args.petition);
    let area = projector::Area::parse(&args.area).map_err(|e| format!("--area: {e}"))?;
    let (store, signer) = open_log(data)?;
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
    let frozen = server::export::freeze(&projection, petition, &area)?;
    drop(projection);
    let mut gathered = server::export::gather(&store, frozen, None)?;
    gathered.add_cosignatures(&CosignatureStore::open(&data.join(datadir::COSIGNATURES))?);
    let issuer = server::export::Issuer {
        exported_by: "operator",
        exported_at_unix: server::unix_now() as i64,
    };
    let zip = server::export::write_bundle(&store, &gathered, &signer, issuer)?;
    spinner.finish_and_clear();
    let name = server::export::bundle_name(petition, &area, size);
    let path = args.out.unwrap_or_else(|| PathBuf::from(&name));
    std::fs::write(&path, &zip).map_err(|e| format!("{}: {e}", path.display()))?;
    store.close()?;
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
