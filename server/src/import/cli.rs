//! `campaign-ledger import FILE --server URL ...`: sends a CSV file to
//! `POST /api/v1/imports/paper` in one request (the import is all-or-nothing, so the
//! file is never split; see `super`), with a progress bar of the upload on a terminal,
//! and prints the answer: the log indexes and checkpoint, or every bad row by number,
//! column and reason.
//!
//! The request carries an `Idempotency-Key` made from the file and the batch's
//! details, so running the same command again after a lost answer gets the first
//! answer back instead of appending twice or being refused.
//!
//! Exit status: 0 when the batch was entered (or the dry run found nothing wrong), 1
//! when it was refused or could not be sent, 2 for a bad argument or an unreadable
//! file.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use super::MAX_IMPORT_BYTES;

/// How long the server may take to answer once the file is sent (it decides, seals
/// and commits every row before it answers).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);

/// `campaign-ledger import`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The CSV file: a header line (name, postcode; optionally email, address,
    /// constituency, ward, council, country, consent_to_share, in any order) and one
    /// row per signer; UTF-8, at most 50,000 rows and 16 MiB.
    pub file: PathBuf,
    /// The server's base URL, such as http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// A file holding an admin token, or an organiser token (of the petition, if scoped).
    #[arg(long, value_name = "FILE")]
    pub token_file: PathBuf,
    /// The paper batch's id (new: one id per batch of sheets).
    #[arg(long, value_name = "ID")]
    pub batch: String,
    /// The petition the sheets are for.
    #[arg(long, value_name = "ID")]
    pub petition: String,
    /// The collector's handle assigned by the organisers (never a name).
    #[arg(long, value_name = "ID")]
    pub collector: String,
    /// Where the sheets were filled in.
    #[arg(long, value_name = "NAME", conflicts_with = "event")]
    pub stall: Option<String>,
    /// The event they were filled in at.
    #[arg(long, value_name = "ID")]
    pub event: Option<String>,
    /// H(scanned sheets) under the log's hash function, standard base64.
    #[arg(long, value_name = "B64")]
    pub sheet_scan_hash: Option<String>,
    /// The count written on the sheets: the file must have exactly as many rows.
    #[arg(long, value_name = "N")]
    pub declared_count: Option<u64>,
    /// The country of rows without one (default GB).
    #[arg(long, value_name = "CODE")]
    pub country: Option<String>,
    /// Check everything (every row, and each signer against the log); append nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the server's JSON answer (or problem) instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Write each row's signer secret to FILE (CSV: row,index,signer_secret; mode
    /// 0600), for handing on to the signers who can be reached. The server keeps them
    /// only a week, for a retry of this same command.
    #[arg(long, value_name = "FILE")]
    pub signer_secrets: Option<PathBuf>,
}

/// Runs `campaign-ledger import`.
pub fn run(args: &ImportArgs) -> ExitCode {
    let usage = |message: String| {
        eprintln!("campaign-ledger import: {message}");
        ExitCode::from(2)
    };
    let failed = |message: String| {
        eprintln!("campaign-ledger import: {message}");
        ExitCode::FAILURE
    };
    let token = match std::fs::read_to_string(&args.token_file) {
        Ok(token) if !token.trim().is_empty() => token.trim().to_owned(),
        Ok(_) => return usage(format!("{}: the file is empty", args.token_file.display())),
        Err(e) => return usage(format!("{}: {e}", args.token_file.display())),
    };
    let size = match std::fs::metadata(&args.file) {
        Ok(meta) => meta.len(),
        Err(e) => return usage(format!("{}: {e}", args.file.display())),
    };
    // Refused here rather than uploaded to be refused (body_too_large).
    if size > MAX_IMPORT_BYTES as u64 {
        return failed(format!(
            "{} is {size} bytes, over the {MAX_IMPORT_BYTES} an import takes; split it \
             into batches (body_too_large)",
            args.file.display()
        ));
    }
    let mut file = Vec::with_capacity(size as usize);
    if let Err(e) = std::fs::File::open(&args.file).and_then(|mut f| f.read_to_end(&mut file)) {
        return usage(format!("{}: {e}", args.file.display()));
    }
    let query = query(args);
    let key = idempotency_key(&query, &file);
    let client = match reqwest::blocking::Client::builder()
        .timeout(ANSWER_TIMEOUT)
        .build()
    {
        Ok(client) => client,
        Err(e) => return failed(format!("cannot make an HTTP client: {e}")),
    };
    let url = format!("{}/api/v1/imports/paper", args.server.trim_end_matches('/'));
    let bar = upload_bar(file.len() as u64);
    bar.set_message("uploading");
    let length = file.len() as u64;
    let body = reqwest::blocking::Body::sized(
        Uploading {
            bytes: std::io::Cursor::new(file),
            bar: bar.clone(),
        },
        length,
    );
    let sent = client
        .post(&url)
        .query(&query)
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .header("idempotency-key", key)
        .body(body)
        .send();
    bar.finish_and_clear();
    let response = match sent {
        Ok(response) => response,
        Err(e) => {
            return failed(format!(
                "could not send the file to {url}: {e}; nothing is known to be appended: \
                 run the same command again (it is safe: a batch is never entered twice)"
            ))
        }
    };
    let status = response.status();
    let text = match response.text() {
        Ok(text) => text,
        Err(e) => return failed(format!("the answer from {url} could not be read: {e}")),
    };
    if args.json {
        println!("{text}");
    }
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        if let Some(path) = &args.signer_secrets {
            if let Err(e) = write_signer_secrets(path, &answer) {
                return failed(format!(
                    "the batch was entered, but the signer secrets could not be written to \
                     {}: {e} (run the same command again to get them)",
                    path.display()
                ));
            }
        }
        if !args.json {
            println!("{}", summary(&answer));
        }
        return ExitCode::SUCCESS;
    }
    if !args.json {
        eprintln!(
            "campaign-ledger import: {}",
            refusal(status.as_u16(), &answer)
        );
        for line in row_lines(&answer) {
            eprintln!("  {line}");
        }
    }
    ExitCode::FAILURE
}

/// Writes the answer's signer secrets as CSV (`row,index,signer_secret`, rows numbered
/// as a spreadsheet shows them: the header is row 1), readable by the owner only.
fn write_signer_secrets(path: &std::path::Path, answer: &Value) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let first = answer["first_signature_index"].as_u64().unwrap_or(0);
    let mut out = String::from("row,index,signer_secret\n");
    let secrets = answer["signer_secrets"].as_array().into_iter().flatten();
    for (i, secret) in secrets.enumerate() {
        let secret = secret.as_str().unwrap_or("");
        out.push_str(&format!("{},{},{secret}\n", i + 2, first + i as u64));
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(out.as_bytes())?;
    file.sync_all()
}

/// The query parameters of the request.
fn query(args: &ImportArgs) -> Vec<(&'static str, String)> {
    let mut query = vec![
        ("batch_id", args.batch.clone()),
        ("petition_id", args.petition.clone()),
        ("collector", args.collector.clone()),
    ];
    let optional = [
        ("stall", args.stall.clone()),
        ("event_id", args.event.clone()),
        ("sheet_scan_hash", args.sheet_scan_hash.clone()),
        ("declared_count", args.declared_count.map(|n| n.to_string())),
        ("country", args.country.clone()),
    ];
    query.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?))),
    );
    if args.dry_run {
        query.push(("dry_run", "true".to_owned()));
    }
    query
}

/// `cli-` and the hex BLAKE3 of the batch's details and the file: the same command
/// sends the same key. (The server keys it per token and apart from record appends.)
fn idempotency_key(query: &[(&'static str, String)], file: &[u8]) -> String {
    let mut hasher = blake3::Hasher::new();
    for (name, value) in query.iter().filter(|(name, _)| *name != "dry_run") {
        hasher.update(name.as_bytes());
        hasher.update(b"=");
        hasher.update(value.as_bytes());
        hasher.update(b"\n");
    }
    hasher.update(file);
    format!("cli-{}", &hasher.finalize().to_hex()[..48])
}

/// The one-line summary of a success.
fn summary(answer: &Value) -> String {
    let text = |field: &str| answer[field].as_str().unwrap_or("?").to_owned();
    let number = |field: &str| answer[field].as_u64().map_or("?".into(), |n| n.to_string());
    if answer["dry_run"].as_bool() == Some(true) {
        return format!(
            "dry run: all {} rows of paper batch {} of petition {} would be entered; \
             nothing was appended",
            number("count"),
            text("batch_id"),
            text("petition_id")
        );
    }
    format!(
        "entered paper batch {} of petition {}: {} signatures at log indexes {}..={} (the \
         batch record at {}), covered by the signed checkpoint of tree size {}",
        text("batch_id"),
        text("petition_id"),
        number("count"),
        number("first_signature_index"),
        number("last_signature_index"),
        number("batch_index"),
        number("tree_size")
    )
}

/// The one-line message of a refusal.
fn refusal(status: u16, problem: &Value) -> String {
    match (problem["reason"].as_str(), problem["detail"].as_str()) {
        (Some(reason), Some(detail)) => format!("refused: {detail} ({status} {reason})"),
        _ => format!("refused with HTTP status {status} and no problem details"),
    }
}

/// One line per bad row, and how many more there were.
fn row_lines(problem: &Value) -> Vec<String> {
    let rows = problem["rows"].as_array().into_iter().flatten();
    let mut lines: Vec<String> = rows
        .map(|row| {
            let column = row["column"]
                .as_str()
                .map_or(String::new(), |c| format!(", column {c}"));
            format!(
                "row {}{column}: {} ({})",
                row["row"].as_u64().unwrap_or(0),
                row["detail"].as_str().unwrap_or(""),
                row["reason"].as_str().unwrap_or("?")
            )
        })
        .collect();
    if let Some(more) = problem["more_rows"].as_u64().filter(|&n| n > 0) {
        lines.push(format!("... and {more} more bad rows"));
    }
    lines
}

/// A progress bar of the upload on stderr when it is a terminal, hidden otherwise.
fn upload_bar(len: u64) -> indicatif::ProgressBar {
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The file being sent, moving the progress bar.
struct Uploading {
    bytes: std::io::Cursor<Vec<u8>>,
    bar: indicatif::ProgressBar,
}

impl Read for Uploading {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.bytes.read(buf)?;
        self.bar.inc(n as u64);
        if self.bytes.position() == self.bytes.get_ref().len() as u64 {
            self.bar
                .set_message("waiting for the server to check and commit");
        }
        Ok(n)
    }
}
