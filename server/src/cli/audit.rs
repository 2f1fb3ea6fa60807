//! `audit`: a log checked without trusting its operator, and cosigned if it holds.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use server::auditor::{self, AuditError};

use super::{parse_vkey, print, progress_bar, usage};

#[derive(clap::Args)]
pub struct AuditArgs {
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
pub fn audit(args: &AuditArgs) -> ExitCode {
    let json = args.json;
    let fail = |error: AuditError| {
        let fork = matches!(error, AuditError::Fork { .. });
        let value = json!({"ok": false, "fork": fork, "failed": error.to_string()});
        print(json, value, format!("FAILED: {error}\n"));
        ExitCode::from(error.exit_status())
    };
    let vkey = match args
        .vkey
        .as_deref()
        .map(|v| parse_vkey("--vkey", v))
        .transpose()
    {
        Ok(vkey) => vkey,
        Err(message) => return usage(message),
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
        return usage("--submit needs the server's URL, not a directory");
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
        let mut text = auditor::describe(&report);
        if let Some(cosigned) = &cosigned {
            text.push_str(&format!("  - {}\n", cosigned.summary));
        }
        print(
            json,
            json!({"ok": true, "report": report, "cosigned": cosigned}),
            text,
        );
        match args.watch {
            Some(seconds) => std::thread::sleep(std::time::Duration::from_secs(seconds.max(1))),
            None => return ExitCode::SUCCESS,
        }
    }
}
