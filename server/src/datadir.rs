//! The data directory: the log, its keys and the server's own files.
//!
//! ```text
//! campaign-data/
//!   journal, hashes.<L>, frames.idx, checkpoints.idx, meta.redb   the log (ledger crate)
//!   projector.snap      read-model snapshots (a cache)
//!   server.redb         idempotency keys
//!   vault.log           encrypted personal data, keyed by entry index
//!   tokens.json         API tokens, as hashes only
//!   auditors.json       auditor keys whose cosignatures are accepted
//!   cosignatures.jsonl  auditors' cosignatures of checkpoints and tallies
//!   log.key             the log's Ed25519 signing key (C2SP signed-note private key)
//!   vault.key           the 32-byte vault encryption key
//!   dedup.key           the 32-byte key of signature dedup tags
//!   dedup-keys.json     each petition's nonce its dedup key is derived with, until
//!                       its retention ends (`crate::dedup_keys`)
//!   admin.token         the first admin token, written once at creation
//! ```
//!
//! Every key and token file is created with mode 0600 and written before the log
//! exists, so a directory with a log always has its keys.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use ledger::note::NoteSigner;
use ledger::store::{KeyPin, LogConfig, Store};
use ledger::HashAlg;
use rand::RngCore;

use crate::{Error, Result};

pub const LOG_KEY: &str = "log.key";
pub const VAULT_KEY: &str = "vault.key";
pub const DEDUP_KEY: &str = "dedup.key";
pub const ADMIN_TOKEN: &str = "admin.token";
pub const TOKENS: &str = "tokens.json";
pub const VAULT: &str = "vault.log";
/// The vault's earlier layout, moved into [`VAULT`] on first start.
pub const EARLIER_VAULT: &str = "vault.redb";
pub const SERVER_DB: &str = "server.redb";
pub const SNAPSHOTS: &str = "projector.snap";
/// The auditor keys whose cosignatures the server accepts.
pub const AUDITORS: &str = "auditors.json";
/// The cosignatures accepted, one JSON line each.
pub const COSIGNATURES: &str = "cosignatures.jsonl";

/// The keys of an open data directory.
pub struct Keys {
    pub log: NoteSigner,
    pub vault: [u8; 32],
    pub dedup: [u8; 32],
}

impl Keys {
    /// The fingerprints the log pins (the log key itself is pinned by its vkey): a
    /// swapped vault key would make every sealed value unreadable, a swapped dedup key
    /// would let everyone sign twice.
    pub fn pins(&self) -> [KeyPin<'static>; 2] {
        [
            KeyPin {
                name: VAULT_KEY,
                fingerprint: fingerprint(&self.vault),
            },
            KeyPin {
                name: DEDUP_KEY,
                fingerprint: fingerprint(&self.dedup),
            },
        ]
    }
}

/// A one-way fingerprint of a secret key: what the log records instead of the key.
fn fingerprint(key: &[u8; 32]) -> [u8; 32] {
    blake3::derive_key("campaign-ledger key fingerprint v1", key)
}

/// What opening a data directory found or made.
pub struct Opened {
    pub store: Store,
    pub keys: Keys,
    /// True when this call created the log.
    pub created: bool,
    /// The first admin token, when this call created the directory.
    pub admin_token: Option<String>,
}

/// The origin used when none is given: `campaign-ledger/<directory name>`.
pub fn default_origin(dir: &Path) -> String {
    let name = std::fs::canonicalize(dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "log".into());
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("campaign-ledger/{name}")
}

/// True when `dir` holds a log.
pub fn has_log(dir: &Path) -> bool {
    dir.join("meta.redb").exists()
}

/// Opens the data directory `dir`, creating the log and its keys on first use.
///
/// For an existing log, `origin` and `hash` (when given) must match what the log was
/// created with; a mismatch is an error, never a silent change.
pub fn open_or_create(dir: &Path, origin: Option<&str>, hash: Option<HashAlg>) -> Result<Opened> {
    if has_log(dir) {
        let identity = ledger::store::describe(dir)?;
        if let Some(origin) = origin {
            if origin != identity.config.origin {
                return Err(Error::Config(format!(
                    "--origin {origin} does not match this log's origin {}",
                    identity.config.origin
                )));
            }
        }
        if let Some(hash) = hash {
            if hash != identity.config.hash {
                return Err(Error::Config(format!(
                    "--hash {} does not match this log, which uses {}",
                    hash.name(),
                    identity.config.hash.name()
                )));
            }
        }
        let keys = read_keys(dir)?;
        let (store, newly_pinned) = Store::open_pinned(dir, copy_signer(&keys.log)?, &keys.pins())?;
        if !newly_pinned.is_empty() {
            tracing::info!(
                keys = newly_pinned.join(", "),
                "recorded the fingerprints of these keys; from now on a different key is refused"
            );
        }
        return Ok(Opened {
            store,
            keys,
            created: false,
            admin_token: None,
        });
    }
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let origin = origin
        .map(str::to_owned)
        .unwrap_or_else(|| default_origin(dir));
    let hash = hash.unwrap_or(HashAlg::Blake3);
    let log = NoteSigner::generate(&origin)
        .map_err(|e| Error::Config(format!("--origin {origin:?} is not a valid key name: {e}")))?;
    // Keys first: a crash before the log exists leaves keys that the next run reuses.
    let vault = read_or_create_secret(&dir.join(VAULT_KEY))?;
    let dedup = read_or_create_secret(&dir.join(DEDUP_KEY))?;
    write_new_file(&dir.join(LOG_KEY), log.to_private_key().as_bytes(), true)?;
    let admin_token = crate::auth::TokenStore::new(dir.join(TOKENS)).create(
        crate::auth::Role::Admin,
        None,
        "first admin",
    )?;
    write_new_file(
        &dir.join(ADMIN_TOKEN),
        format!("{admin_token}\n").as_bytes(),
        true,
    )?;
    let keys = Keys { log, vault, dedup };
    let store = Store::create_pinned(
        dir,
        &LogConfig { origin, hash },
        copy_signer(&keys.log)?,
        &keys.pins(),
    )?;
    Ok(Opened {
        store,
        keys,
        created: true,
        admin_token: Some(admin_token),
    })
}

/// A second handle to a signing key (the store signs checkpoints, the server tallies).
pub fn copy_signer(signer: &NoteSigner) -> Result<NoteSigner> {
    Ok(NoteSigner::from_private_key(&signer.to_private_key())?)
}

/// Reads the keys of an existing data directory.
pub fn read_keys(dir: &Path) -> Result<Keys> {
    let path = dir.join(LOG_KEY);
    let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
    let log = NoteSigner::from_private_key(text.trim())
        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
    Ok(Keys {
        log,
        vault: read_secret(&dir.join(VAULT_KEY))?,
        dedup: read_secret(&dir.join(DEDUP_KEY))?,
    })
}

fn read_secret(path: &Path) -> Result<[u8; 32]> {
    let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
    let bytes = decode_hex(text.trim())
        .ok_or_else(|| Error::Config(format!("{}: not 64 hex digits", path.display())))?;
    Ok(bytes)
}

fn read_or_create_secret(path: &Path) -> Result<[u8; 32]> {
    if path.exists() {
        return read_secret(path);
    }
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    write_new_file(path, format!("{}\n", encode_hex(&secret)).as_bytes(), false)?;
    Ok(secret)
}

/// Writes a new file with mode 0600 and fsyncs it. With `replace`, an existing file
/// (left by a crash during creation) is overwritten.
pub fn write_new_file(path: &Path, contents: &[u8], replace: bool) -> Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).mode(0o600);
    if replace {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(Error::io(path))?;
    file.write_all(contents).map_err(Error::io(path))?;
    file.sync_all().map_err(Error::io(path))
}

/// Replaces the file at `path` with `bytes`, atomically and durably: `<path>.json.tmp`
/// written (mode 0600) and fsynced, renamed over `path`, the directory fsynced. An I/O
/// error names the file or directory of the step that failed.
pub fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = path.with_extension("json.tmp");
    write_new_file(&temp, bytes, true)?;
    std::fs::rename(&temp, path).map_err(Error::io(path))?;
    if let Some(dir) = path.parent() {
        ledger::store::sync_dir(dir).map_err(Error::io(dir))?;
    }
    Ok(())
}

pub fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn decode_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}
