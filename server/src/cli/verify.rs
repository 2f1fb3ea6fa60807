//! `verify`: an export bundle, or a signer's receipt, checked offline.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ledger::note::NoteVerifier;
use ledger::HashAlg;
use serde_json::json;

use super::{parse_vkey, print, progress_bar, usage};

#[derive(clap::Args)]
pub struct VerifyArgs {
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
}

/// `verify`: exit 0 when everything holds, 1 on the first check that fails, 2 when
/// the bundle cannot be read or a key does not parse.
pub fn verify(args: &VerifyArgs) -> ExitCode {
    let (bundle, json) = (&args.bundle, args.json);
    let options = server::export::VerifyOptions {
        vkey: match args
            .vkey
            .as_deref()
            .map(|v| parse_vkey("--vkey", v))
            .transpose()
        {
            Ok(v) => v,
            Err(message) => return usage(message),
        },
        auditors: match args
            .auditor
            .iter()
            .map(|a| parse_vkey("--auditor", a))
            .collect()
        {
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
            let mut text = server::export::describe(&report);
            if !report.key_given {
                text.push_str(&format!(
                    "\nwarning: checked with the key the bundle names; compare it with the \
                     key the campaign publishes, then pass it with --vkey:\n  {}\n",
                    report.vkey
                ));
            }
            print(json, json!({"ok": true, "report": report}), text);
            ExitCode::SUCCESS
        }
        Err(finding) => {
            let value = json!({"ok": false, "failed": finding});
            print(json, value, format!("FAILED: {finding}\n"));
            ExitCode::FAILURE
        }
    }
}

/// `verify RECEIPT`: a signer's receipt, with the entry it carries, checked offline
/// against the log key: exit 0 when the entry is in the log, 1 when not, 2 when the
/// file or key cannot be read.
fn verify_receipt(path: &Path, vkey: Option<&NoteVerifier>, json: bool) -> ExitCode {
    let Some(vkey) = vkey else {
        return usage(
            "a receipt is checked against the log key the campaign publishes: pass --vkey",
        );
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => return usage(format!("{}: {e}", path.display())),
    };
    let failed = |message: String| {
        print(
            json,
            json!({"ok": false, "failed": message}),
            format!("FAILED: {message}\n"),
        );
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
    let value = json!({
        "ok": true,
        "index": receipt.index,
        "record": record.kind(),
        "tree_size": checkpoint.size,
        "root": checkpoint.root.to_string(),
        "origin": checkpoint.origin,
    });
    let text = format!(
        "ok: entry {} ({what}) is in the log {} at tree size {}, root {}\n  whether it still \
         counts (not withdrawn or invalidated since) is the log's signed tally's to say, and \
         every auditor's who replayed the log\n",
        receipt.index, checkpoint.origin, checkpoint.size, checkpoint.root
    );
    print(json, value, text);
    ExitCode::SUCCESS
}
