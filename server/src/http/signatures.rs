//! A signer's rights over one signature, by its log index:
//!
//! - `DELETE /api/v1/signatures/{index}/personal-data`: an admin, or an organiser whose
//!   scope covers the signature, erases the signer's personal data (at the signer's
//!   request, made to the organisers);
//! - `POST /api/v1/signatures/{index}/withdraw` and `POST .../erase`: the signer does it
//!   alone, with no token, by showing the signer secret the signature commits to.
//!
//! Each appends one record (`personal_data.erased`, `signature.withdrawn_by_signer`)
//! through the sequencer, whose decision rules refuse what cannot be done (an entry that
//! is not a signature, data erased already, a wrong secret); the sequencer erases the
//! vault value before the erasure is logged. A refused request changes nothing.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ledger::record::{ErasureReason, PersonalDataErased, SignatureWithdrawnBySigner};
use ledger::{Record, SignerSecret};
use serde::Deserialize;

use super::json;
use super::problem::{path_index, ApiError, ApiPath, Problem};
use super::records::{authenticate, AppendAnswer};
use super::state::AppState;
use crate::auth::TokenRecord;
use crate::sequencer::Staged;

/// Largest body of a signer's request: one secret in a small JSON object.
const MAX_SIGNER_BODY_BYTES: usize = 1024;

/// The body of a signer's own request.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignerRequest {
    /// The signer secret handed to the signer when the signature was added.
    #[schema(value_type = String)]
    pub signer_secret: SignerSecret,
}

#[utoipa::path(delete, path = "/api/v1/signatures/{index}/personal-data", tag = "signers", params(("index" = u64, Path, description = "log index of the signature")), security(("bearer" = [])), responses((status = 200, description = "Erased, and the erasure logged", body = AppendAnswer), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn erase_personal_data(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiPath(index): ApiPath<String>,
) -> Result<Response, ApiError> {
    let token = authenticate(&state.tokens, &headers)?;
    let index = path_index(&index)?;
    let record = PersonalDataErased {
        index,
        reason: ErasureReason::SignerRequest,
        signer_secret: None,
    };
    append(&state, token, record.into()).await
}

#[utoipa::path(post, path = "/api/v1/signatures/{index}/withdraw", tag = "signers", params(("index" = u64, Path, description = "log index of the signature")), request_body(content = SignerRequest, content_type = "application/json"), responses((status = 200, description = "Withdrawn, and the withdrawal logged with the secret", body = AppendAnswer), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn signer_withdraws(
    State(state): State<Arc<AppState>>,
    ApiPath(index): ApiPath<String>,
    body: Body,
) -> Result<Response, ApiError> {
    signer_acts(&state, &index, body, |index, signer_secret| {
        SignatureWithdrawnBySigner {
            index,
            signer_secret,
        }
        .into()
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/signatures/{index}/erase", tag = "signers", params(("index" = u64, Path, description = "log index of the signature")), request_body(content = SignerRequest, content_type = "application/json"), responses((status = 200, description = "Erased, and the erasure logged with the secret", body = AppendAnswer), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn signer_erases(
    State(state): State<Arc<AppState>>,
    ApiPath(index): ApiPath<String>,
    body: Body,
) -> Result<Response, ApiError> {
    signer_acts(&state, &index, body, |index, signer_secret| {
        PersonalDataErased {
            index,
            reason: ErasureReason::SignerRequest,
            signer_secret: Some(signer_secret),
        }
        .into()
    })
    .await
}

/// A signer's own request about the signature at `index`: the record `record` makes of
/// the index and the secret, appended as the signer.
async fn signer_acts(
    state: &AppState,
    index: &str,
    body: Body,
    record: impl FnOnce(u64, SignerSecret) -> Record,
) -> Result<Response, ApiError> {
    let index = path_index(index)?;
    let SignerRequest { signer_secret } = signer_request(body).await?;
    append(state, TokenRecord::signer(), record(index, signer_secret)).await
}

/// Reads `{"signer_secret": "<base64>"}`, strictly; says what is wrong without
/// repeating the secret.
async fn signer_request(body: Body) -> Result<SignerRequest, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_SIGNER_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "send {{\"signer_secret\": \"...\"}} in at most {MAX_SIGNER_BODY_BYTES} bytes"
                ),
            )
        })?;
    serde_json::from_slice(&bytes).map_err(|_| {
        ApiError::bad_request(
            "invalid_signer_request",
            "send {\"signer_secret\": \"...\"}: the 44-character base64 secret handed to the \
             signer when the signature was added, and nothing else",
        )
    })
}

/// Appends `record`, written by the server on behalf of `token`, and answers with
/// where it went.
async fn append(
    state: &AppState,
    token: TokenRecord,
    record: Record,
) -> Result<Response, ApiError> {
    let sequencer = state.running_sequencer()?;
    let accepted = sequencer
        .submit(token, None, vec![Staged::written_by_the_server(record)])
        .await
        .map_err(|refusal| ApiError::from(refusal).whole())?;
    json(StatusCode::OK, &AppendAnswer::from(&accepted))
}
