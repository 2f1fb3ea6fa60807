//! API tokens: roles, scopes, and how they are stored and checked.
//!
//! A token reads `clt_<id>_<secret>`: `id` is 8 hex digits, public, and becomes the
//! `author` of every entry appended with the token; `secret` is 32 random bytes in
//! base64url. Only BLAKE3(secret) is stored (in `tokens.json`, mode 0600), and the
//! check compares hashes in constant time (`blake3::Hash`'s equality is).
//!
//! `tokens.json` is replaced atomically (write, fsync, rename) under an exclusive file
//! lock, so the CLI can create or revoke tokens while the server runs; the server
//! re-reads the file whenever its modification time or length changes, looking at
//! most once per [`RECHECK_EVERY`] (a `stat` per request was a few per cent of the
//! CPU of an append), so a revocation takes effect within a millisecond.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::locks;
use crate::{Error, Result};

const TOKEN_PREFIX: &str = "clt_";

/// How often the server looks whether `tokens.json` changed.
pub const RECHECK_EVERY: Duration = Duration::from_millis(1);

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything.
    Admin,
    /// Append records, within its scope if it has one.
    Organiser,
    /// Read exports of its areas; appends nothing.
    Exporter,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Organiser => "organiser",
            Role::Exporter => "exporter",
        }
    }
}

/// What an organiser or exporter token is limited to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Scope {
    /// Records of one petition.
    Petition(String),
    /// Records that concern one city (its events, links, the motions on its links and
    /// its signers), named in full (`projector::same_city`).
    City(String),
    /// An area an exporter may receive personal data of (exports): `area:CODE` (a
    /// constituency or ward by its code) or `area:KIND:CODE` (`area:council:Leeds`,
    /// `area:country:GB`, `area:ward:E05001234`); holds what follows `area:`.
    Area(String),
}

impl Scope {
    /// Parses `petition:ID`, `city:NAME` or `area:CODE`.
    pub fn parse(text: &str) -> Result<Scope, String> {
        let (kind, value) = text
            .split_once(':')
            .ok_or_else(|| "a scope reads petition:ID, city:NAME or area:CODE".to_string())?;
        let value = value.trim();
        if value.is_empty() || value.len() > 128 || value.chars().any(char::is_control) {
            return Err("the scope's value must be 1 to 128 printable characters".into());
        }
        match kind {
            "petition" => ledger::record::Id::parse(value)
                .map(|_| Scope::Petition(value.to_owned()))
                .map_err(|_| "petition:ID needs a valid petition id".to_string()),
            "city" => Ok(Scope::City(value.to_owned())),
            "area" if value.contains(':') => projector::Area::parse(value)
                .map(|_| Scope::Area(value.to_owned()))
                .map_err(|e| format!("area:KIND:CODE: {e}")),
            "area" => ledger::record::AreaCode::parse(value)
                .map(|_| Scope::Area(value.to_owned()))
                .map_err(|_| {
                    "area:CODE needs a 9-character constituency or ward code (or use \
                     area:council:NAME, area:country:CC)"
                        .to_string()
                }),
            _ => Err(format!(
                "unknown scope kind {kind:?}: use petition, city or area"
            )),
        }
    }

    /// Whether this scope is the area `area`: an `area:KIND:CODE` scope that names it
    /// (a council as [`projector::same_city`] compares names), or an `area:CODE` scope
    /// whose code is the constituency's or ward's.
    pub fn covers_area(&self, area: &projector::Area) -> bool {
        use ledger::record::AreaKind;
        let Scope::Area(scoped) = self else {
            return false;
        };
        match projector::Area::parse(scoped) {
            Ok(scoped) if scoped.kind == AreaKind::Council => {
                area.kind == AreaKind::Council && projector::same_city(&scoped.code, &area.code)
            }
            Ok(scoped) => scoped == *area,
            Err(_) => {
                matches!(area.kind, AreaKind::Constituency | AreaKind::Ward) && area.code == *scoped
            }
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Petition(id) => write!(f, "petition:{id}"),
            Scope::City(name) => write!(f, "city:{name}"),
            Scope::Area(code) => write!(f, "area:{code}"),
        }
    }
}

impl From<Scope> for String {
    fn from(scope: Scope) -> String {
        scope.to_string()
    }
}

impl TryFrom<String> for Scope {
    type Error = String;
    fn try_from(text: String) -> Result<Scope, String> {
        Scope::parse(&text)
    }
}

/// One stored token (never the secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub role: Role,
    pub scope: Option<Scope>,
    pub label: String,
    /// Hex BLAKE3 of the secret.
    pub hash: String,
    pub created_unix: u64,
    pub revoked_unix: Option<u64>,
}

impl TokenRecord {
    /// What a signer acts as when they withdraw or erase with their signer secret: no
    /// stored token (the secret is their proof, checked by the decision rules), an
    /// unscoped organiser for the sequencer, and the author `token-signer` in the log
    /// (real token ids are 8 hex digits, so it names no token).
    pub fn signer() -> TokenRecord {
        TokenRecord::internal(
            "signer",
            Role::Organiser,
            "a signer, by their signer secret",
        )
    }

    /// What the retention sweep (`crate::retention`) appends its erasures as: the
    /// author `token-retention`.
    pub fn retention() -> TokenRecord {
        TokenRecord::internal("retention", Role::Organiser, "the retention sweep")
    }

    /// A token no one holds, for what the server appends itself (never stored, so it
    /// authenticates no request). Its id is not 8 hex digits, so it names no real token.
    pub fn internal(id: &str, role: Role, label: &str) -> TokenRecord {
        TokenRecord {
            id: id.into(),
            role,
            scope: None,
            label: label.into(),
            hash: String::new(),
            created_unix: 0,
            revoked_unix: None,
        }
    }

    /// The entry author for records appended with this token.
    pub fn author(&self) -> String {
        format!("token-{}", self.id)
    }
}

#[derive(Default, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<TokenRecord>,
}

/// Why a bearer token is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a token of this server, or a wrong secret.
    Invalid,
    Revoked,
}

/// The token file, with a cache for the server's checks.
pub struct TokenStore {
    path: PathBuf,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    stamp: Option<(SystemTime, u64)>,
    checked: Option<Instant>,
    tokens: Vec<TokenRecord>,
}

fn secret_hash(secret: &str) -> blake3::Hash {
    blake3::hash(secret.as_bytes())
}

impl TokenStore {
    pub fn new(path: PathBuf) -> TokenStore {
        TokenStore {
            path,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// Creates a token and returns it in full; this is the only time it is shown.
    pub fn create(&self, role: Role, scope: Option<Scope>, label: &str) -> Result<String> {
        if role == Role::Admin && scope.is_some() {
            return Err(Error::Tokens("admin tokens have no scope".into()));
        }
        match (role, &scope) {
            (Role::Exporter, Some(Scope::Area(_))) => {}
            (Role::Exporter, _) => {
                return Err(Error::Tokens(
                    "an exporter token needs an area scope: --scope area:E14000831, \
                     area:ward:CODE, area:council:NAME or area:country:CC"
                        .into(),
                ))
            }
            (_, Some(Scope::Area(_))) => {
                return Err(Error::Tokens("area scopes are for exporter tokens".into()))
            }
            _ => {}
        }
        let mut id_bytes = [0u8; 4];
        let mut secret_bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut id_bytes);
        rand::rngs::OsRng.fill_bytes(&mut secret_bytes);
        let id: String = id_bytes.iter().map(|b| format!("{b:02x}")).collect();
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret_bytes);
        let label: String = label
            .chars()
            .filter(|c| !c.is_control())
            .take(128)
            .collect();
        self.update(|file| {
            if file.tokens.iter().any(|t| t.id == id) {
                return Err(Error::Tokens("token id collision; try again".into()));
            }
            file.tokens.push(TokenRecord {
                id: id.clone(),
                role,
                scope: scope.clone(),
                label: label.clone(),
                hash: secret_hash(&secret).to_hex().to_string(),
                created_unix: crate::unix_now(),
                revoked_unix: None,
            });
            Ok(())
        })?;
        Ok(format!("{TOKEN_PREFIX}{id}_{secret}"))
    }

    /// Every token, revoked ones included.
    pub fn list(&self) -> Result<Vec<TokenRecord>> {
        Ok(read_file(&self.path)?.tokens)
    }

    /// Revokes the token with public id `id` (or `token-<id>`). Revoking twice is fine.
    pub fn revoke(&self, id: &str) -> Result<TokenRecord> {
        let id = id.strip_prefix("token-").unwrap_or(id);
        let mut revoked = None;
        self.update(|file| {
            let token = file
                .tokens
                .iter_mut()
                .find(|t| t.id == id)
                .ok_or_else(|| Error::Tokens(format!("no token with id {id}")))?;
            token.revoked_unix.get_or_insert_with(crate::unix_now);
            revoked = Some(token.clone());
            Ok(())
        })?;
        revoked.ok_or_else(|| Error::Tokens(format!("no token with id {id}")))
    }

    /// Checks the `Authorization` header value.
    pub fn authenticate(&self, header: Option<&str>) -> Result<TokenRecord, AuthFailure> {
        let token = header
            .and_then(|h| h.trim().split_once(' '))
            // RFC 9110 §11.1: the scheme name is case-insensitive.
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or(AuthFailure::Missing)?;
        let (id, secret) = token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .ok_or(AuthFailure::Invalid)?;
        let mut cache = locks::lock(&self.cache);
        self.refresh(&mut cache).map_err(|e| {
            tracing::error!(error = %e, "cannot read the token file");
            AuthFailure::Invalid
        })?;
        let record = cache
            .tokens
            .iter()
            .find(|t| t.id == id)
            .ok_or(AuthFailure::Invalid)?;
        let stored = blake3::Hash::from_hex(&record.hash).map_err(|_| AuthFailure::Invalid)?;
        if stored != secret_hash(secret) {
            return Err(AuthFailure::Invalid);
        }
        if record.revoked_unix.is_some() {
            return Err(AuthFailure::Revoked);
        }
        Ok(record.clone())
    }

    fn refresh(&self, cache: &mut Cache) -> Result<()> {
        let now = Instant::now();
        if cache
            .checked
            .is_some_and(|checked| now.duration_since(checked) < RECHECK_EVERY)
        {
            return Ok(());
        }
        let stamp = match std::fs::metadata(&self.path) {
            Ok(meta) => Some((
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                meta.len(),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(&self.path)(e)),
        };
        if stamp.is_some() && stamp == cache.stamp {
            cache.checked = Some(now);
            return Ok(());
        }
        cache.tokens = read_file(&self.path)?.tokens;
        cache.stamp = stamp;
        cache.checked = Some(now);
        Ok(())
    }

    /// Read, change and atomically replace the token file under an exclusive lock.
    fn update(&self, change: impl FnOnce(&mut TokenFile) -> Result<()>) -> Result<()> {
        let lock_path = self.path.with_extension("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(Error::io(&lock_path))?;
        lock.lock().map_err(Error::io(&lock_path))?;
        let mut file = read_file(&self.path)?;
        change(&mut file)?;
        let text = serde_json::to_string_pretty(&file)
            .map_err(|e| Error::Tokens(format!("cannot encode the token file: {e}")))?;
        crate::datadir::replace_file(&self.path, text.as_bytes())
    }
}

fn read_file(path: &Path) -> Result<TokenFile> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::Tokens(format!("{} is damaged: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile::default()),
        Err(e) => Err(Error::io(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_authenticate_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path().join("tokens.json"));
        let token = store
            .create(
                Role::Organiser,
                Some(Scope::parse("petition:uk-detwin").unwrap()),
                "stall",
            )
            .unwrap();
        let header = format!("Bearer {token}");
        let record = store.authenticate(Some(&header)).unwrap();
        assert_eq!(record.role, Role::Organiser);
        assert_eq!(record.scope, Some(Scope::Petition("uk-detwin".into())));
        assert!(!std::fs::read_to_string(dir.path().join("tokens.json"))
            .unwrap()
            .contains(token.splitn(3, '_').nth(2).unwrap()));

        let wrong = format!("Bearer {}x", token);
        assert_eq!(store.authenticate(Some(&wrong)), Err(AuthFailure::Invalid));
        assert_eq!(store.authenticate(None), Err(AuthFailure::Missing));
        assert_eq!(
            store.authenticate(Some("Basic abc")),
            Err(AuthFailure::Missing)
        );

        // Another process (the CLI) revokes; the cached server copy notices.
        let cli = TokenStore::new(dir.path().join("tokens.json"));
        std::thread::sleep(std::time::Duration::from_millis(10));
        cli.revoke(&record.id).unwrap();
        assert_eq!(store.authenticate(Some(&header)), Err(AuthFailure::Revoked));
        assert_eq!(cli.list().unwrap().len(), 1);
    }

    #[test]
    fn scopes_parse_strictly() {
        assert!(Scope::parse("petition:Bad Id").is_err());
        assert!(Scope::parse("planet:mars").is_err());
        assert!(Scope::parse("city:").is_err());
        assert_eq!(
            Scope::parse("city:Newcastle upon Tyne").unwrap(),
            Scope::City("Newcastle upon Tyne".into())
        );
    }
}
