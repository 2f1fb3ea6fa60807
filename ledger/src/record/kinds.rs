//! One struct per record kind, its fields in encoding order, and the rules that relate
//! two fields of one record (docs/FORMAT.md part B §5). Every single-field rule lives
//! in the field's type.
//!
//! A struct's fields are its JSON fields, snake_case; `Option` fields may be absent or
//! `null`, every other field is required, and unknown fields are refused. Fields that
//! reality may not tell us are `Option`. With the feature `arbitrary` every struct
//! derives proptest's `Arbitrary` from its fields' (see `arbitrary.rs`); a new kind is
//! declared in `kinds!` beside the others, so it derives the same as its neighbours.
//! The cross-field rules follow the structs.

use serde::{Deserialize, Serialize};

use super::enums::{
    AreaKind, Channel, ErasureReason, EventKind, InvalidationReason, LinkKind, LinkStatus,
    PetitionText, VoteResult,
};
use super::text::{Name, Title, Url};
use super::time::{Date, PartialDate, Timestamp};
use super::values::{AreaCode, Count, CountryCode, DedupTags, Id, SignatureIndexes, Thresholds};
use crate::{DedupTag, Error, Hash, Result, SignerSecret};

/// A rule broken: names the field, never its content.
fn broken(field: &str, why: &str) -> Error {
    Error::InvalidRecord(format!("{field}: {why}"))
}

fn ends_after_start(starts_at: Option<Timestamp>, ends_at: Option<Timestamp>) -> Result<()> {
    match (starts_at, ends_at) {
        (Some(start), Some(end)) if end <= start => {
            Err(broken("ends_at", "must be after starts_at"))
        }
        _ => Ok(()),
    }
}

/// Declares the kind structs, each deriving what every kind derives: `Clone`, `Debug`,
/// `Eq`, `Hash`, serde with unknown fields refused, proptest's `Arbitrary` (feature
/// `arbitrary`) and utoipa's `ToSchema` (feature `openapi`), all from its fields'.
macro_rules! kinds {
    ($($(#[$meta:meta])* pub struct $name:ident { $($fields:tt)* })+) => {
        $(
            $(#[$meta])*
            #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
            #[cfg_attr(feature = "arbitrary", derive(proptest_derive::Arbitrary))]
            #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
            #[serde(deny_unknown_fields)]
            pub struct $name { $($fields)* }
        )+
    };
}

kinds! {
    /// `campaign.launched`.
    pub struct CampaignLaunched {
        pub campaign_id: Id,
        pub title: Title,
        pub launched_on: Option<Date>,
        /// How many city councils the campaign addresses (163 for global detwin).
        pub target_cities: Option<Count>,
        /// In how many countries.
        pub countries: Option<Count>,
    }

    /// `campaign.city_joined`: a local group takes up the campaign in a city.
    pub struct CampaignCityJoined {
        pub campaign_id: Id,
        pub city: Name,
        pub country: CountryCode,
        pub joined_on: Option<Date>,
    }

    /// `petition.opened`.
    pub struct PetitionOpened {
        pub petition_id: Id,
        pub title: Title,
        pub text: PetitionText,
        /// The body petitioned (`UK Parliament`, `Leeds City Council`).
        pub target: Name,
        pub closes_on: Option<Date>,
        /// Signature counts that matter to the target.
        #[serde(default)]
        pub thresholds: Thresholds,
    }

    /// `petition.closed`.
    pub struct PetitionClosed {
        pub petition_id: Id,
        pub reason: Option<Title>,
    }

    /// `signature.added`: where the signer is and a commitment to who they are, never who
    /// they are. The first form of a signature, with one dedup tag: it still decodes and
    /// counts, but the server now writes [`SignatureRecorded`], which carries a tag for
    /// every identity of the signer.
    pub struct Signature {
        pub petition_id: Id,
        pub country: CountryCode,
        /// Parliamentary constituency (UK: `E14000831`).
        pub constituency: Option<AreaCode>,
        /// Council ward (UK: `E05...`), for exports to councillors.
        pub ward: Option<AreaCode>,
        /// Council or city name (`Newcastle upon Tyne`).
        pub council: Option<Name>,
        pub channel: Channel,
        /// The signer agreed that their details may be shown to the petition's target.
        pub consent_to_share: bool,
        /// `keyed_blake3(dedup_key, petition_id || normalised identity)`, first 16 bytes.
        pub dedup_tag: DedupTag,
        /// `H(salt32 || canonical personal data)`.
        pub commitment: Hash,
    }

    /// `signature.recorded`: a signature as [`Signature`] (`signature.added`) is, with a
    /// dedup tag for every identity of its signer instead of one, so that a signer is
    /// refused when *any* of their identities has already signed. What the server wrote
    /// for an organiser's `signature.added` before [`SignatureCommitted`]; every signature
    /// kind is a signature to everything that counts, withdraws or invalidates them.
    pub struct SignatureRecorded {
        pub petition_id: Id,
        pub country: CountryCode,
        /// Parliamentary constituency (UK: `E14000831`).
        pub constituency: Option<AreaCode>,
        /// Council ward (UK: `E05...`), for exports to councillors.
        pub ward: Option<AreaCode>,
        /// Council or city name (`Newcastle upon Tyne`).
        pub council: Option<Name>,
        pub channel: Channel,
        /// The signer agreed that their details may be shown to the petition's target.
        pub consent_to_share: bool,
        /// For each identity of the signer,
        /// `keyed_blake3(dedup_key, petition_id || 0x00 || normalised identity)`, first 16
        /// bytes; strictly ascending.
        pub dedup_tags: DedupTags,
        /// `H(salt32 || canonical personal data)`.
        pub commitment: Hash,
    }

    /// `signature.withdrawn` by the signer; `index` is the log index of the
    /// `signature.added` or `signature.recorded` entry.
    pub struct SignatureWithdrawn {
        pub index: u64,
    }

    /// `signatures.invalidated`: `signature.added` or `signature.recorded` entries that no
    /// longer count.
    pub struct SignaturesInvalidated {
        pub indexes: SignatureIndexes,
        pub reason: InvalidationReason,
        pub note: Option<Title>,
    }

    /// `paper_batch.recorded`: a bundle of paper sheets collected at a stall or event,
    /// before its signatures are entered.
    pub struct PaperBatchRecorded {
        pub batch_id: Id,
        pub petition_id: Id,
        pub event_id: Option<Id>,
        pub stall: Option<Name>,
        /// A handle for the collector assigned by the organisers; never a name.
        pub collector: Id,
        /// H(scanned sheets) under the log's hash function.
        pub sheet_scan_hash: Option<Hash>,
        /// Signatures on the sheets.
        pub count: Count,
    }

    /// `twin_link.registered`.
    pub struct TwinLinkRegistered {
        pub link_id: Id,
        pub city: Name,
        pub country: CountryCode,
        pub partner_city: Name,
        pub partner_country: CountryCode,
        pub kind: LinkKind,
        pub since: Option<PartialDate>,
    }

    /// `twin_link.status_changed`.
    pub struct TwinLinkStatusChanged {
        pub link_id: Id,
        pub status: LinkStatus,
        pub effective_on: Option<Date>,
        /// The motion that decided it, if any.
        pub motion_id: Option<Id>,
    }

    /// `motion.tabled` in a council.
    pub struct MotionTabled {
        pub motion_id: Id,
        pub council: Name,
        pub link_id: Option<Id>,
        /// The councillor proposing, as publicly recorded (`Cllr Wendy Taylor`).
        pub proposer: Option<Name>,
        pub title: Title,
        /// H(motion text) under the log's hash function.
        pub text_hash: Option<Hash>,
        pub tabled_on: Option<Date>,
        pub source_url: Option<Url>,
    }

    /// `motion.amended`: a new title, a new text, or both.
    pub struct MotionAmended {
        pub motion_id: Id,
        pub title: Option<Title>,
        pub text_hash: Option<Hash>,
        pub amended_on: Option<Date>,
    }

    /// `motion.voted`.
    pub struct MotionVoted {
        pub motion_id: Id,
        pub votes_for: Option<u32>,
        pub votes_against: Option<u32>,
        pub abstentions: Option<u32>,
        pub result: VoteResult,
        pub voted_on: Option<Date>,
        /// The majority as reported when counts are not (`unanimous`, `large majority`).
        pub majority: Option<Name>,
    }

    /// `motion.withdrawn`.
    pub struct MotionWithdrawn {
        pub motion_id: Id,
        pub withdrawn_on: Option<Date>,
    }

    /// `event.scheduled`.
    pub struct EventScheduled {
        pub event_id: Id,
        pub kind: EventKind,
        pub title: Title,
        pub city: Name,
        /// Disambiguates cities such as Perth.
        pub country: Option<CountryCode>,
        pub place: Option<Name>,
        pub starts_at: Timestamp,
        /// After `starts_at`.
        pub ends_at: Option<Timestamp>,
        /// The organising group (`LHKA`).
        pub group: Option<Name>,
        /// The joint action (day of action) this event is part of.
        pub joint_action: Option<Id>,
    }

    /// `event.changed`: the fields given replace the scheduled ones; `None` leaves a field
    /// as it was. At least one is given.
    pub struct EventChanged {
        pub event_id: Id,
        pub title: Option<Title>,
        pub place: Option<Name>,
        pub starts_at: Option<Timestamp>,
        pub ends_at: Option<Timestamp>,
    }

    /// `event.cancelled`.
    pub struct EventCancelled {
        pub event_id: Id,
        pub reason: Option<Title>,
    }

    /// `event.held`, with an attendance estimate if there is one.
    pub struct EventHeld {
        pub event_id: Id,
        pub attendance: Option<u32>,
    }

    /// `export.issued`: an export that reveals signers' personal data was handed to an
    /// exporter (an MP's or councillor's office), so that no disclosure is ever secret.
    /// It says how many signers were revealed, never who. Only the server writes it.
    pub struct ExportIssued {
        pub petition_id: Id,
        pub area_kind: AreaKind,
        /// The area as signatures name it: a constituency or ward code, a country code,
        /// or a council's name.
        pub area: Name,
        /// The tree size the export shows the petition at.
        pub tree_size: u64,
        /// The id of the exporter token it was issued to.
        pub exporter: Id,
        /// How many signers' personal data it holds.
        pub revealed: u64,
    }

    /// `signature.committed`: a signature as [`SignatureRecorded`] is, that also commits to
    /// a secret handed to its signer (`signer_hash` is [`SignerSecret::hash`] of it), so
    /// that the signer can later withdraw it or have its personal data erased without
    /// anyone's token, and the log shows that the signer asked. What the server writes for
    /// an organiser's `signature.added`; to everything that counts, withdraws or
    /// invalidates signatures it is one like the others.
    pub struct SignatureCommitted {
        pub petition_id: Id,
        pub country: CountryCode,
        /// Parliamentary constituency (UK: `E14000831`).
        pub constituency: Option<AreaCode>,
        /// Council ward (UK: `E05...`), for exports to councillors.
        pub ward: Option<AreaCode>,
        /// Council or city name (`Newcastle upon Tyne`).
        pub council: Option<Name>,
        pub channel: Channel,
        /// The signer agreed that their details may be shown to the petition's target.
        pub consent_to_share: bool,
        /// As in [`SignatureRecorded`]: one per identity of the signer, strictly ascending.
        pub dedup_tags: DedupTags,
        /// `H(salt32 || canonical personal data)`.
        pub commitment: Hash,
        /// [`SignerSecret::hash`] of the secret handed to the signer.
        pub signer_hash: Hash,
    }

    /// `personal_data.erased`: the vault no longer holds the personal data and salt of the
    /// signature at `index` (of any signature kind, live or not), so its commitment can
    /// never again be opened. The signature still counts and verifies. `signer_secret` is
    /// shown when the signer asked with it (only for `signer_request`). Only the server
    /// writes it, when it has erased the data.
    pub struct PersonalDataErased {
        pub index: u64,
        pub reason: ErasureReason,
        /// The signer's secret, when the signer asked by showing it.
        pub signer_secret: Option<SignerSecret>,
    }

    /// `signature.withdrawn_by_signer`: the signature at `index` (a `signature.committed`)
    /// no longer counts, and the signer asked: `signer_secret` is the secret its
    /// `signer_hash` commits to, which only the signer was given. Only the server writes
    /// it; a `signature.withdrawn` is a withdrawal an organiser entered.
    pub struct SignatureWithdrawnBySigner {
        pub index: u64,
        pub signer_secret: SignerSecret,
    }
}

// --- the rules that relate two fields of one record (run by `Record::validate`) ------

impl TwinLinkRegistered {
    /// A city cannot twin with itself.
    pub fn check(&self) -> Result<()> {
        if self.city == self.partner_city && self.country == self.partner_country {
            return Err(broken("partner_city", "a city cannot twin with itself"));
        }
        Ok(())
    }
}

impl MotionAmended {
    /// An amendment changes the title, the text or both.
    pub fn check(&self) -> Result<()> {
        if self.title.is_none() && self.text_hash.is_none() {
            return Err(broken(
                "title",
                "an amendment changes the title, the text or both",
            ));
        }
        Ok(())
    }
}

impl EventScheduled {
    /// An event ends after it starts.
    pub fn check(&self) -> Result<()> {
        ends_after_start(Some(self.starts_at), self.ends_at)
    }
}

impl EventChanged {
    /// A change changes something, and a new end is after a new start.
    pub fn check(&self) -> Result<()> {
        let EventChanged {
            event_id: _,
            title,
            place,
            starts_at,
            ends_at,
        } = self;
        if title.is_none() && place.is_none() && starts_at.is_none() && ends_at.is_none() {
            return Err(broken(
                "event_id",
                "a change must change at least one field",
            ));
        }
        ends_after_start(*starts_at, *ends_at)
    }
}

impl ExportIssued {
    /// A constituency or ward is a 9-character area code, a country a country code.
    pub fn check(&self) -> Result<()> {
        let fits = match self.area_kind {
            AreaKind::Constituency | AreaKind::Ward => AreaCode::parse(&self.area).is_ok(),
            AreaKind::Country => CountryCode::parse(&self.area).is_ok(),
            AreaKind::Council => true,
        };
        if !fits {
            return Err(broken("area", "must be a code of the area's kind"));
        }
        Ok(())
    }
}

impl SignatureRecorded {
    /// The same signature committing to the signer secret whose hash is `signer_hash`.
    pub fn committing_to(self, signer_hash: Hash) -> SignatureCommitted {
        let SignatureRecorded {
            petition_id,
            country,
            constituency,
            ward,
            council,
            channel,
            consent_to_share,
            dedup_tags,
            commitment,
        } = self;
        SignatureCommitted {
            petition_id,
            country,
            constituency,
            ward,
            council,
            channel,
            consent_to_share,
            dedup_tags,
            commitment,
            signer_hash,
        }
    }
}

impl PersonalDataErased {
    /// A signer's secret comes only with the signer's request.
    pub fn check(&self) -> Result<()> {
        if self.signer_secret.is_some() && self.reason != ErasureReason::SignerRequest {
            return Err(broken(
                "signer_secret",
                "is shown only when the signer asked (reason signer_request)",
            ));
        }
        Ok(())
    }
}
