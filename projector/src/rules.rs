//! Why a record is refused: one reason per rule, each with a stable machine-readable
//! name (the `reason` of the server's problem+json answers).
//!
//! The rules themselves live in [`crate::Projection::try_apply`], which checks a record
//! completely against the current state before changing anything, so a refused record
//! leaves no trace.

/// A record that the decision rules refuse, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// This dedup tag already signed this petition (a withdrawn signature frees nothing).
    #[error("this person has already signed this petition")]
    DuplicateSignature,
    #[error("no petition with this id has been opened")]
    UnknownPetition,
    #[error("a petition with this id already exists")]
    PetitionExists,
    /// Closed by a `petition.closed` record, or past its `closes_on` date.
    #[error("the petition is closed")]
    PetitionClosed,
    /// Withdrawing or invalidating an index that is not a live signature.
    #[error("entry {index} is not a live signature")]
    NotALiveSignature { index: u64 },
    #[error("no paper batch with this id has been recorded")]
    UnknownPaperBatch,
    #[error("a paper batch with this id already exists")]
    PaperBatchExists,
    /// A paper signature naming a batch of another petition.
    #[error("the paper batch belongs to another petition")]
    PaperBatchOfOtherPetition,
    /// A paper signature beyond its batch's declared `count` (withdrawn and invalidated
    /// signatures of the batch still took their place on its sheets).
    #[error("the paper batch already has as many signatures as its declared count")]
    PaperBatchFull,
    #[error("no campaign with this id has been launched")]
    UnknownCampaign,
    #[error("a campaign with this id already exists")]
    CampaignExists,
    #[error("this city has already joined the campaign")]
    CityAlreadyJoined,
    #[error("no twin link with this id is registered")]
    UnknownLink,
    #[error("a twin link with this id already exists")]
    LinkExists,
    #[error("no motion with this id has been tabled")]
    UnknownMotion,
    #[error("a motion with this id already exists")]
    MotionExists,
    #[error("no event with this id has been scheduled")]
    UnknownEvent,
    #[error("an event with this id already exists")]
    EventExists,
    /// An entry whose time is earlier than that of an entry before it in the log. The
    /// server never writes one (it stamps max(now, the previous entry's time)); in a log
    /// it means entries were back-dated, for example past a petition's `closes_on`.
    #[error("the entry's time is earlier than an earlier entry's")]
    TimeGoesBackwards,
    /// An `export.issued` naming a tree size beyond its own entry: an export can only
    /// show the log as it was before the export was logged.
    #[error("an export cannot show a tree size beyond its own entry")]
    ExportBeyondLog,
    /// Erasing the personal data of an entry that is not a signature.
    #[error("entry {index} is not a signature")]
    NotASignature { index: u64 },
    /// Erasing personal data that was erased already.
    #[error("the personal data of entry {index} was erased already")]
    AlreadyErased { index: u64 },
    /// A signer secret that the signature does not commit to (or a signature that
    /// commits to none).
    #[error("this is not the signer secret of the signature at entry {index}")]
    WrongSignerSecret { index: u64 },
    /// A status change that makes no sense from the current status.
    #[error("a {what} that is {from} cannot become {to}")]
    InvalidTransition {
        what: &'static str,
        from: &'static str,
        to: &'static str,
    },
}

impl Rejection {
    /// The stable machine-readable name of the rule.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::DuplicateSignature => "duplicate_signature",
            Rejection::UnknownPetition => "unknown_petition",
            Rejection::PetitionExists => "petition_exists",
            Rejection::PetitionClosed => "petition_closed",
            Rejection::NotALiveSignature { .. } => "not_a_live_signature",
            Rejection::UnknownPaperBatch => "unknown_paper_batch",
            Rejection::PaperBatchExists => "paper_batch_exists",
            Rejection::PaperBatchOfOtherPetition => "paper_batch_of_other_petition",
            Rejection::PaperBatchFull => "paper_batch_full",
            Rejection::UnknownCampaign => "unknown_campaign",
            Rejection::CampaignExists => "campaign_exists",
            Rejection::CityAlreadyJoined => "city_already_joined",
            Rejection::UnknownLink => "unknown_link",
            Rejection::LinkExists => "link_exists",
            Rejection::UnknownMotion => "unknown_motion",
            Rejection::MotionExists => "motion_exists",
            Rejection::UnknownEvent => "unknown_event",
            Rejection::EventExists => "event_exists",
            Rejection::TimeGoesBackwards => "time_goes_backwards",
            Rejection::ExportBeyondLog => "export_beyond_log",
            Rejection::NotASignature { .. } => "not_a_signature",
            Rejection::AlreadyErased { .. } => "already_erased",
            Rejection::WrongSignerSecret { .. } => "wrong_signer_secret",
            Rejection::InvalidTransition { .. } => "invalid_transition",
        }
    }
}
