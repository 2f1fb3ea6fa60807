//! A signer's personal data, and the two values the log holds instead of it: the
//! dedup tag and the commitment (docs/FORMAT.md part E).
//!
//! Invariant: personal data never enters the log, a log line or an error. It lives only
//! in the vault; `PersonalData`'s `Debug` prints no field values, and the checks report
//! the field at fault and why, never the value.

use std::fmt;

use ledger::record::{check_visible, DedupTags, Id};
use ledger::{DedupTag, Hash, HashAlg};
use serde::{Deserialize, Serialize};

use super::identity;

/// Longest signer name, in bytes (after trimming).
pub const PERSONAL_NAME_MAX_BYTES: usize = 200;
/// Longest email address, in bytes.
pub const EMAIL_MAX_BYTES: usize = 254;
/// Longest postcode, in bytes.
pub const POSTCODE_MAX_BYTES: usize = 16;
/// Longest postal address, in bytes.
pub const ADDRESS_MAX_BYTES: usize = 512;

/// Personal data of one signer. Lives only in the vault, never in the log.
///
/// `Debug` is redacted: it prints no field values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalData {
    pub name: String,
    pub email: Option<String>,
    pub postcode: Option<String>,
    pub address: Option<String>,
}

impl fmt::Debug for PersonalData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonalData").finish_non_exhaustive()
    }
}

impl PersonalData {
    /// The canonical bytes a signature's commitment is taken over: the postcard
    /// encoding of this struct, which is its four fields in order with nothing
    /// around them:
    ///
    /// | # | field | encoding |
    /// |---|---|---|
    /// | 1 | `name` | varint length (LEB128), then the UTF-8 bytes |
    /// | 2 | `email` | `0x00` if absent; `0x01` then varint length and UTF-8 bytes |
    /// | 3 | `postcode` | as `email` |
    /// | 4 | `address` | as `email` |
    ///
    /// A varint is unsigned LEB128: seven bits per byte, least significant group
    /// first, the high bit set on every byte but the last. Every commitment in every
    /// log is taken over these bytes, so this struct takes no serde attribute that
    /// would change them; the tests pin them byte by byte.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("personal data always encodes")
    }

    /// The normalised identities the dedup tags are keyed on, one per identity the
    /// data has (an email; a name with a postcode), by the rules in
    /// [`super::identity`]. Takes data that [`PersonalData::check`] accepted; `None`
    /// only for data it refuses.
    pub fn normalised_identities(&self) -> Option<Vec<Vec<u8>>> {
        identity::identities(&self.name, self.email.as_deref(), self.postcode.as_deref())
    }

    /// Builds the data as stored: every field trimmed, and optional fields that are
    /// empty after trimming treated as absent.
    pub(super) fn from_input(
        name: &str,
        email: Option<&str>,
        postcode: Option<&str>,
        address: Option<&str>,
    ) -> PersonalData {
        let optional = |s: Option<&str>| {
            s.map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        PersonalData {
            name: name.trim().to_owned(),
            email: optional(email),
            postcode: optional(postcode),
            address: optional(address),
        }
    }

    /// Checks the data of one signature, returning the field at fault and why (both
    /// static: never the value). No field may hold a control character or an
    /// invisible one (the ledger's rule for every text: zero-width characters, soft
    /// hyphens, BOMs and bidi controls would let one signer look like two).
    pub(super) fn check(&self, online: bool) -> Result<(), (&'static str, &'static str)> {
        let has_control = |s: &str| s.chars().any(char::is_control);
        if self.name.is_empty() || self.name.len() > PERSONAL_NAME_MAX_BYTES {
            return Err(("name", "must be 1 to 200 bytes after trimming"));
        }
        if has_control(&self.name) {
            return Err(("name", "must not contain control characters"));
        }
        for (field, value) in [
            ("name", Some(&self.name)),
            ("email", self.email.as_ref()),
            ("postcode", self.postcode.as_ref()),
            ("address", self.address.as_ref()),
        ] {
            if let Some(value) = value {
                check_visible(value).map_err(|why| (field, why))?;
            }
        }
        match &self.email {
            Some(email) if !is_email(email) => {
                return Err((
                    "email",
                    "must be an email address: at most 254 bytes, one '@' after a \
                     non-empty local part, a valid domain name containing '.', no \
                     white space",
                ))
            }
            None if online => return Err(("email", "is required for online signatures")),
            None if self.postcode.is_none() => {
                return Err(("postcode", "is required for a signature without email"))
            }
            _ => {}
        }
        if let Some(postcode) = &self.postcode {
            let allowed = |c: u8| c.is_ascii_alphanumeric() || c == b' ';
            if postcode.len() > POSTCODE_MAX_BYTES || !postcode.bytes().all(allowed) {
                return Err((
                    "postcode",
                    "must be at most 16 bytes of ASCII letters, digits and spaces",
                ));
            }
        }
        if let Some(address) = &self.address {
            if address.len() > ADDRESS_MAX_BYTES {
                return Err(("address", "must be at most 512 bytes"));
            }
            if has_control(address) {
                return Err(("address", "must not contain control characters"));
            }
        }
        Ok(())
    }
}

/// An email address as far as this log cares: at most 254 bytes, no white space or
/// control characters, exactly one `@` with a non-empty local part before it and a
/// domain after it that contains a `.`, neither starts nor ends with one, and is a
/// valid IDNA domain name (so that it normalises: [`identity::normalise_email`]).
fn is_email(s: &str) -> bool {
    is_email_shaped(s) && identity::normalise_email(s).is_some()
}

fn is_email_shaped(s: &str) -> bool {
    if s.len() > EMAIL_MAX_BYTES || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let mut parts = s.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }
        _ => false,
    }
}

/// The dedup tag of one normalised identity: keyed BLAKE3 under `dedup_key` of the
/// petition id's bytes, `0x00`, then the identity; the first 16 bytes.
pub fn dedup_tag(dedup_key: &[u8; 32], petition_id: &Id, identity: &[u8]) -> DedupTag {
    let mut hasher = blake3::Hasher::new_keyed(dedup_key);
    hasher.update(petition_id.as_str().as_bytes());
    hasher.update(&[0]);
    hasher.update(identity);
    let mut tag = [0u8; 16];
    tag.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    DedupTag(tag)
}

/// The dedup tags of a signature: [`dedup_tag`] of each of the signer's
/// [normalised identities](PersonalData::normalised_identities), in ascending order.
/// `None` only for data that [`PersonalData::check`] refuses.
pub fn dedup_tags(
    dedup_key: &[u8; 32],
    petition_id: &Id,
    data: &PersonalData,
) -> Option<DedupTags> {
    let tags: Vec<DedupTag> = data
        .normalised_identities()?
        .iter()
        .map(|identity| dedup_tag(dedup_key, petition_id, identity))
        .collect();
    DedupTags::from_unsorted(&tags).ok()
}

/// The commitment to a signer's data: `alg.digest(salt ‖ data.canonical_bytes())`.
/// Anyone given the data and the salt can recompute it and compare it with the log.
pub fn commitment(alg: HashAlg, salt: &[u8; 32], data: &PersonalData) -> Hash {
    let bytes = postcard::to_extend(data, salt.to_vec()).expect("personal data always encodes");
    alg.digest(&bytes)
}
