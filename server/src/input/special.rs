//! The two record kinds whose JSON is not their ledger struct: a signature (it arrives
//! with the signer's personal data and a channel name, and leaves with a dedup tag and
//! a commitment instead) and an opened petition (its wording arrives as `text` or as
//! `text_hash`). Every other kind is read straight into its ledger struct.

use ledger::record::{
    AreaCode, Channel, CountryCode, Date, Id, LongText, Name, PetitionOpened, PetitionText,
    SignatureCommitted, Thresholds, Title,
};
use ledger::{Hash, HashAlg, SignerSecret};
use serde::Deserialize;

use super::personal::{commitment, dedup_tags, PersonalData};
use super::InputError;

/// `signature.added` as an organiser's form sends it. The server turns it into a
/// `signature.committed`, with a dedup tag for each identity of the signer and the
/// hash of a new signer secret.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SignatureInput {
    pub(super) petition_id: Id,
    /// The signer's name (personal data: kept only, encrypted, in the vault).
    name: String,
    /// Required online; the dedup tag is keyed on it when given.
    email: Option<String>,
    /// Required on paper without an email.
    postcode: Option<String>,
    address: Option<String>,
    country: CountryCode,
    constituency: Option<AreaCode>,
    ward: Option<AreaCode>,
    council: Option<Name>,
    /// The signer agreed that their details may be shown to the petition's target.
    consent_to_share: bool,
    channel: ChannelName,
    /// Required for, and only for, paper signatures.
    batch_id: Option<Id>,
}

ledger::named_enum! {
    /// How a signature was collected, as submitted (a paper one names its batch apart).
    ChannelName, "channel" {
        Online = "online",
        Paper = "paper",
    }
}

impl utoipa::PartialSchema for ChannelName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(ChannelName::ALL.iter().map(|c| c.as_str())))
            .into()
    }
}

impl utoipa::ToSchema for ChannelName {}

impl SignatureInput {
    /// The signature for the log and the personal data for the vault: the data is
    /// trimmed and checked, a salt and a signer secret are drawn from `rng`, and the
    /// dedup tags (under
    /// `dedup_key`, one per identity of the signer) and the commitment (under `alg`)
    /// are computed. `invalid` makes a 422 naming a field.
    pub(super) fn prepare(
        self,
        alg: HashAlg,
        dedup_key: &[u8; 32],
        rng: &mut impl rand::RngCore,
        invalid: impl Fn(&'static str, &str, &str) -> InputError,
    ) -> Result<(SignatureCommitted, PersonalData, [u8; 32], SignerSecret), InputError> {
        let channel = match (self.channel, self.batch_id) {
            (ChannelName::Online, None) => Channel::Online,
            (ChannelName::Online, Some(_)) => {
                return Err(invalid(
                    "invalid_value",
                    "batch_id",
                    "only paper signatures have one",
                ))
            }
            (ChannelName::Paper, Some(batch_id)) => Channel::Paper { batch_id },
            (ChannelName::Paper, None) => {
                return Err(invalid(
                    "invalid_value",
                    "batch_id",
                    "is required for paper signatures",
                ))
            }
        };
        let data = PersonalData::from_input(
            &self.name,
            self.email.as_deref(),
            self.postcode.as_deref(),
            self.address.as_deref(),
        );
        data.check(channel == Channel::Online)
            .map_err(|(field, why)| invalid("invalid_personal_data", field, why))?;
        // Checked data always has an identity, and every email it accepts normalises.
        let dedup_tags = dedup_tags(dedup_key, &self.petition_id, &data)
            .ok_or_else(|| invalid("invalid_personal_data", "email", "must be an email address"))?;
        let mut salt = [0u8; 32];
        rng.fill_bytes(&mut salt);
        let mut secret = SignerSecret::default();
        rng.fill_bytes(&mut secret.0);
        let signature = SignatureCommitted {
            dedup_tags,
            commitment: commitment(alg, &salt, &data),
            signer_hash: secret.hash(),
            petition_id: self.petition_id,
            country: self.country,
            constituency: self.constituency,
            ward: self.ward,
            council: self.council,
            channel,
            consent_to_share: self.consent_to_share,
        };
        Ok((signature, data, salt, secret))
    }
}

/// `petition.opened` with its wording as `text` or as `text_hash`, exactly one.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PetitionOpenedInput {
    petition_id: Id,
    title: Title,
    /// The wording in full; CR LF and lone CR become LF.
    text: Option<String>,
    /// H(wording) when the wording is published elsewhere.
    text_hash: Option<Hash>,
    target: Name,
    closes_on: Option<Date>,
    thresholds: Option<Thresholds>,
}

impl PetitionOpenedInput {
    pub(super) fn prepare(
        self,
        invalid: impl Fn(&'static str, &str, &str) -> InputError,
    ) -> Result<PetitionOpened, InputError> {
        let text = match (self.text, self.text_hash) {
            (Some(text), None) => {
                let text = normalise_newlines(text);
                LongText::check(&text).map_err(|why| invalid("invalid_value", "text", why))?;
                PetitionText::Full(
                    LongText::from_string(text)
                        .map_err(|_| invalid("invalid_value", "text", "is not valid text"))?,
                )
            }
            (None, Some(hash)) => PetitionText::Hash(hash),
            _ => {
                return Err(invalid(
                    "invalid_value",
                    "text",
                    "give exactly one of text and text_hash",
                ))
            }
        };
        Ok(PetitionOpened {
            petition_id: self.petition_id,
            title: self.title,
            text,
            target: self.target,
            closes_on: self.closes_on,
            thresholds: self.thresholds.unwrap_or_default(),
        })
    }
}

/// Turns CR LF and lone CR into LF: the log holds long text with `\n` only.
fn normalise_newlines(text: String) -> String {
    if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text
    }
}
