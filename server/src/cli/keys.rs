//! `token` and `auditor`: who may write to the log, and whose cosignatures of it the
//! server keeps. Both work while the server runs (their files are replaced atomically).

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use clap::{Subcommand, ValueEnum};
use server::auth::{Role, Scope, TokenStore};
use server::cosignatures::Auditors;
use server::datadir;

use super::require_data_dir;

#[derive(Subcommand)]
pub enum TokenAction {
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

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleChoice {
    Admin,
    Organiser,
    Exporter,
}

pub fn token(action: TokenAction) -> super::Result {
    let (TokenAction::Create { data, .. }
    | TokenAction::List { data }
    | TokenAction::Revoke { data, .. }) = &action;
    require_data_dir(data)?;
    let store = TokenStore::new(data.join(datadir::TOKENS));
    match action {
        TokenAction::Create {
            role, scope, label, ..
        } => {
            let role = match role {
                RoleChoice::Admin => Role::Admin,
                RoleChoice::Organiser => Role::Organiser,
                RoleChoice::Exporter => Role::Exporter,
            };
            let scope = scope
                .map(|s| Scope::parse(&s).map_err(|e| format!("--scope: {e}")))
                .transpose()?;
            println!("{}", store.create(role, scope, &label)?);
            eprintln!("this token is shown only once; store it safely");
        }
        TokenAction::List { .. } => {
            println!(
                "{:<10} {:<10} {:<32} {:<8} LABEL",
                "ID", "ROLE", "SCOPE", "STATUS"
            );
            for token in store.list()? {
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
        }
        TokenAction::Revoke { id, .. } => {
            let token = store.revoke(&id)?;
            println!("revoked token {} ({})", token.id, token.role.as_str());
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum AuditorAction {
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

pub fn auditor(action: AuditorAction) -> super::Result {
    let listed = |data: &Path| -> Result<Auditors, String> {
        require_data_dir(data)?;
        Ok(Auditors::new(data.join(datadir::AUDITORS)))
    };
    match action {
        AuditorAction::Keygen { name, out } => return keygen(&name, out),
        AuditorAction::Add { data, vkey } => {
            let auditor = listed(&data)?.add(&vkey)?;
            println!(
                "accepting cosignatures by {} ({})",
                auditor.name, auditor.vkey
            );
        }
        AuditorAction::List { data } => {
            let auditors = listed(&data)?.list()?;
            if auditors.is_empty() {
                println!("no auditor keys: add one with `campaign-ledger auditor add VKEY`");
            }
            for auditor in auditors {
                println!("{}  {}", auditor.name, auditor.vkey);
            }
        }
        AuditorAction::Remove { data, auditor } => {
            if !listed(&data)?.remove(&auditor)? {
                return Err(format!("no auditor {auditor:?} is listed").into());
            }
            println!("no longer accepting cosignatures by {auditor}");
        }
    }
    Ok(())
}

/// `auditor keygen`: a new cosigning key, never written over another.
fn keygen(name: &str, out: Option<PathBuf>) -> super::Result {
    let key =
        ledger::note::CosignatureSigner::generate(name).map_err(|e| format!("--name: {e}"))?;
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
