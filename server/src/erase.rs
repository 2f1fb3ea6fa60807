//! `campaign-ledger erase`: erase a signer's personal data through a running server, so
//! that the erasure is logged like any other (the server owns the data directory while
//! it runs). With an admin's or organiser's token it is
//! `DELETE /api/v1/signatures/{index}/personal-data`; with the signer's own secret,
//! `POST /api/v1/signatures/{index}/erase`.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// `campaign-ledger erase`'s arguments.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("credential").required(true).args(["token_file", "signer_secret_file"])))]
pub struct EraseArgs {
    /// Log index of the signature whose personal data goes.
    pub index: u64,
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub server: String,
    /// A file holding an admin's token, or an organiser's whose scope covers the
    /// signature (the signer asked the organisers).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// A file holding the signer's secret, handed to them when they signed (the signer
    /// acts alone; the log shows the secret, so anyone can check the signer asked).
    #[arg(long, value_name = "FILE")]
    pub signer_secret_file: Option<PathBuf>,
    /// Print the server's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `erase`: what to print on success, or a one-line error.
pub fn run(args: &EraseArgs) -> Result<String, String> {
    let base = args.server.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err("--server must be an http:// or https:// URL".into());
    }
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| format!("cannot start an HTTP client: {e}"))?;
    let index = args.index;
    let request = match (&args.token_file, &args.signer_secret_file) {
        (Some(file), _) => {
            let token = read_one_line(file, "token")?;
            client
                .delete(format!("{base}/api/v1/signatures/{index}/personal-data"))
                .bearer_auth(token)
        }
        (None, Some(file)) => {
            let secret = read_one_line(file, "signer secret")?;
            client
                .post(format!("{base}/api/v1/signatures/{index}/erase"))
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(serde_json::json!({ "signer_secret": secret }).to_string())
        }
        (None, None) => return Err("give --token-file or --signer-secret-file".into()),
    };
    let response = request
        .send()
        .map_err(|e| format!("cannot reach {base}: {e}"))?;
    let status = response.status();
    let text = response
        .text()
        .map_err(|e| format!("reading {base}'s answer: {e}"))?;
    let body: Value = serde_json::from_str(&text)
        .map_err(|_| format!("{base} answered {status} without JSON: is it campaign-ledger?"))?;
    if !status.is_success() {
        let reason = body["reason"].as_str().unwrap_or("unknown");
        let detail = body["detail"].as_str().unwrap_or("");
        return Err(format!(
            "the server refused ({} {reason}): {detail}",
            status.as_u16()
        ));
    }
    if args.json {
        return Ok(body.to_string());
    }
    Ok(format!(
        "erased the personal data of signature {index}; the erasure is entry {} of the log \
         (tree size {})",
        body["index"], body["tree_size"]
    ))
}

/// The first line of `file`, trimmed: a token or a secret, which never belongs in a
/// command line (shell history, process lists).
fn read_one_line(file: &std::path::Path, what: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read the {what} from {}: {e}", file.display()))?;
    let line = text.lines().next().unwrap_or("").trim().to_string();
    if line.is_empty() {
        return Err(format!("{} holds no {what}", file.display()));
    }
    Ok(line)
}
