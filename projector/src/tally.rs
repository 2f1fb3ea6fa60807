//! Tallies: every public count as sorted text, and the signed note that commits to it.
//!
//! The tally text has one LF-terminated line `<key> <count>` per counter, sorted
//! bytewise; anyone who replays the same log prefix gets byte-identical text. The keys
//! are listed in `docs/FORMAT.md` (part D). The tally note is a signed note
//! whose body is
//!
//! ```text
//! campaign-ledger/tally/v1
//! <origin>
//! <tree size>
//! <base64 root>
//! <projector version>
//! <base64 H(tally text)>
//! ```

use ledger::checkpoint::parse_decimal_u64;
use ledger::note::{Note, NoteSigner, NoteVerifier, Signer};
use ledger::record::{ErasureReason, InvalidationReason, LinkStatus};
use ledger::{Hash, HashAlg};

use crate::projection::state::{EventStatus, MotionStatus};
use crate::Projection;
use crate::{Error, Result};

/// Names the fold that produced a tally; bumped whenever a decision rule or a counter's
/// meaning changes (2: paper batches hold at most their declared count, entry times
/// never go backwards, a signature is refused when any of its dedup tags signed; 3:
/// exports issued are counted; 4: signer-proven withdrawals and erasures are counted).
pub const PROJECTOR_VERSION: &str = "campaign-ledger-projector/4";

/// The first line of a tally note body.
pub const TALLY_HEADER: &str = "campaign-ledger/tally/v1";

/// Makes a name safe as one segment of a counter key: bytes other than ASCII letters,
/// digits and `.-_~` become `%XX` (uppercase hex), so keys hold no spaces or slashes.
pub fn key_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Projection {
    /// Every counter, sorted by key.
    pub fn counters(&self) -> Vec<(String, u64)> {
        let mut counters: Vec<(String, u64)> = Vec::new();
        let mut put = |key: String, count: u64| counters.push((key, count));
        put("log/entries".into(), self.tree_size);
        put("log/rejected".into(), self.rejected_in_log);

        for (id, campaign) in &self.campaigns {
            let mut countries: Vec<_> = campaign.cities.iter().map(|c| c.record.country).collect();
            countries.sort_unstable();
            countries.dedup();
            put(
                format!("campaign/{id}/cities"),
                campaign.cities.len() as u64,
            );
            put(format!("campaign/{id}/countries"), countries.len() as u64);
        }

        for &status in LinkStatus::ALL {
            let n = self.links.values().filter(|l| l.status == status).count();
            put(format!("links/{status}"), n as u64);
        }
        for &status in MotionStatus::ALL {
            let n = self.motions.values().filter(|m| m.status == status).count();
            put(format!("motions/{status}"), n as u64);
        }
        for &status in EventStatus::ALL {
            let n = self.events.values().filter(|e| e.status == status).count();
            put(format!("events/{status}"), n as u64);
        }
        let attendance: u64 = self
            .events
            .values()
            .filter_map(|e| e.held.as_ref()?.record.attendance)
            .map(u64::from)
            .sum();
        put("events/attendance".into(), attendance);
        let exports: u64 = self.petitions.iter().map(|p| p.exports).sum();
        put("exports/issued".into(), exports);

        for (slot, petition) in self.petitions.iter().enumerate() {
            let p = format!("petition/{}", petition.opened.record.petition_id);
            put(format!("{p}/total"), petition.total());
            put(format!("{p}/added"), petition.added);
            put(format!("{p}/withdrawn"), petition.withdrawn);
            put(
                format!("{p}/withdrawn_by_signer"),
                petition.withdrawn_by_signer,
            );
            for (reason, count) in ErasureReason::ALL.iter().zip(&petition.erased) {
                put(format!("{p}/erased/{}", reason.as_str()), *count);
            }
            put(format!("{p}/erased_by_signer"), petition.erased_by_signer);
            put(format!("{p}/exports/issued"), petition.exports);
            put(format!("{p}/exports/revealed"), petition.revealed);
            for (reason, count) in InvalidationReason::ALL.iter().zip(&petition.invalidated) {
                put(format!("{p}/invalidated/{}", reason.as_str()), *count);
            }
            // Area and country codes are letters and digits, which `key_segment` keeps.
            for (kind, counts, names) in [
                ("country", &petition.by_country, &self.countries),
                (
                    "constituency",
                    &petition.by_constituency,
                    &self.constituencies,
                ),
                ("ward", &petition.by_ward, &self.wards),
                ("council", &petition.by_council, &self.councils),
            ] {
                for (slot, count) in counts.non_zero() {
                    put(
                        format!("{p}/{kind}/{}", key_segment(names.name(slot))),
                        count,
                    );
                }
            }
            for (slot, count) in petition.by_channel.non_zero() {
                put(format!("{p}/channel/{}", self.channel_name(slot)), count);
            }
            let batches = self.batches.iter().filter(|b| b.petition as usize == slot);
            let declared = batches
                .map(|b| u64::from(b.recorded.record.count.get()))
                .sum();
            put(format!("{p}/paper_declared"), declared);
        }
        counters.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        counters
    }

    /// The tally text: `<key> <count>\n` per counter, sorted bytewise by key.
    pub fn tally_text(&self) -> String {
        let line = |(key, count)| format!("{key} {count}\n");
        self.counters().into_iter().map(line).collect()
    }

    /// A `by_channel` slot's name: `online`, or `paper/<batch id>`.
    pub(crate) fn channel_name(&self, slot: u32) -> String {
        match slot {
            0 => "online".to_string(),
            batch => format!("paper/{}", self.batch_names.name(batch - 1)),
        }
    }
}

/// The fields of a tally note body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TallyBody {
    pub origin: String,
    pub tree_size: u64,
    pub root: Hash,
    pub projector_version: String,
    /// `H(tally text)` with the log's hash function.
    pub text_hash: Hash,
}

impl TallyBody {
    /// The body committing to `text` for the tree (`origin`, `tree_size`, `root`).
    pub fn new(alg: HashAlg, origin: &str, tree_size: u64, root: Hash, text: &str) -> TallyBody {
        TallyBody {
            origin: origin.to_string(),
            tree_size,
            root,
            projector_version: PROJECTOR_VERSION.to_string(),
            text_hash: alg.digest(text.as_bytes()),
        }
    }

    pub fn to_text(&self) -> String {
        format!(
            "{TALLY_HEADER}\n{}\n{}\n{}\n{}\n{}\n",
            self.origin, self.tree_size, self.root, self.projector_version, self.text_hash
        )
    }

    /// Parses a body exactly as [`TallyBody::to_text`] writes it.
    pub fn parse(body: &str) -> Result<TallyBody> {
        let lines: Vec<&str> = body
            .strip_suffix('\n')
            .ok_or(Error::MalformedTally("body must end in a newline"))?
            .split('\n')
            .collect();
        let [header, origin, size, root, version, text_hash] = lines.as_slice() else {
            return Err(Error::MalformedTally("a tally body has exactly six lines"));
        };
        if *header != TALLY_HEADER {
            return Err(Error::MalformedTally("not a campaign-ledger/tally/v1 body"));
        }
        let hash = |b64: &str| -> Result<Hash> {
            Hash::parse(b64).map_err(|_| Error::MalformedTally("a hash is not 32 bytes of base64"))
        };
        let tree_size = parse_decimal_u64(size).ok_or(Error::MalformedTally(
            "tree size must be decimal without sign or leading zeros",
        ))?;
        if origin.is_empty() || version.is_empty() {
            return Err(Error::MalformedTally("empty origin or projector version"));
        }
        Ok(TallyBody {
            origin: origin.to_string(),
            tree_size,
            root: hash(root)?,
            projector_version: version.to_string(),
            text_hash: hash(text_hash)?,
        })
    }
}

/// Signs a tally note for `text` with the log key.
pub fn sign_tally(
    alg: HashAlg,
    log_key: &NoteSigner,
    tree_size: u64,
    root: Hash,
    text: &str,
) -> Result<String> {
    let body = TallyBody::new(alg, log_key.name(), tree_size, root, text);
    Ok(ledger::note::sign(Note::new(&body.to_text())?, &[log_key])?)
}

/// Opens a tally note signed by `log_key` and checks that it commits to `text`.
pub fn open_tally(
    alg: HashAlg,
    note: &str,
    log_key: &NoteVerifier,
    text: &str,
) -> Result<TallyBody> {
    let verified = ledger::note::open(note, std::slice::from_ref(log_key))?;
    let body = TallyBody::parse(verified.body())?;
    if body.origin != log_key.name() {
        return Err(Error::MalformedTally("origin is not the log key's name"));
    }
    if body.text_hash != alg.digest(text.as_bytes()) {
        return Err(Error::MalformedTally(
            "the note does not commit to this tally text",
        ));
    }
    Ok(body)
}
