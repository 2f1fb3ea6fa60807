//! Errors as RFC 9457 problem+json with a stable `reason`, and the extractors that
//! answer with one when a path or query does not parse.

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::input::InputError;

/// An RFC 9457 problem: status, stable reason, one-line detail.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: &'static str,
    pub detail: String,
    /// Index of the offending record in a batch.
    pub record: Option<usize>,
}

impl ApiError {
    pub fn new(status: StatusCode, reason: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            reason,
            detail: detail.into(),
            record: None,
        }
    }

    /// Logs `error` and answers a generic 500: internal details stay in the log.
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %error, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the operator's log has the details",
        )
    }

    pub(super) fn bad_request(reason: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, reason, detail)
    }

    pub(super) fn not_found(reason: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, reason, detail)
    }

    /// This error, about the record at `position` of a batch.
    pub(super) fn at(self, position: usize) -> ApiError {
        ApiError {
            record: Some(position),
            ..self
        }
    }

    /// This error, about the request as a whole rather than one of its records.
    pub(super) fn whole(self) -> ApiError {
        ApiError {
            record: None,
            ..self
        }
    }
}

/// The problem+json body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable reason, e.g. `duplicate_signature`.
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<usize>,
}

impl From<ApiError> for Problem {
    fn from(error: ApiError) -> Problem {
        Problem {
            kind: "about:blank",
            title: error
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_owned(),
            status: error.status.as_u16(),
            detail: error.detail,
            reason: error.reason,
            record: error.record,
        }
    }
}

/// A problem+json answer of `body`: a [`Problem`], or one with more fields.
pub(super) fn problem_json(status: StatusCode, body: &impl Serialize) -> Response {
    let body = serde_json::to_vec(body).unwrap_or_default();
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = problem_json(status, &Problem::from(self));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Every 503 (shutting down, a replay running) passes soon.
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<InputError> for ApiError {
    fn from(e: InputError) -> ApiError {
        ApiError {
            status: StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
            reason: e.reason,
            detail: e.detail,
            record: e.record,
        }
    }
}

impl From<ledger::Error> for ApiError {
    /// A read the query asked for wrongly is 400; anything else is internal.
    fn from(e: ledger::Error) -> ApiError {
        match e {
            ledger::Error::IndexOutOfRange { index, size } => ApiError::bad_request(
                "index_out_of_range",
                format!("index {index} is not below the tree size {size}"),
            ),
            ledger::Error::SizeOutOfRange { size, current } => ApiError::bad_request(
                "size_out_of_range",
                format!("tree size {size} is larger than the log ({current})"),
            ),
            ledger::Error::BadRange { from, to } => ApiError::bad_request(
                "bad_range",
                format!("from {from} must be at least 1 and not above to {to}"),
            ),
            ledger::Error::Damaged { index, .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_damaged",
                format!(
                    "the stored data this answer needs is damaged (from entry {index} on) \
                     and is not served until the operator repairs it"
                ),
            ),
            other => ApiError::internal(other),
        }
    }
}

pub(super) fn unknown_petition() -> ApiError {
    ApiError::not_found(
        "unknown_petition",
        "no petition with this id has been opened",
    )
}

pub(super) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take this method; see /api/v1/openapi.json",
    )
}

pub(super) async fn not_found() -> ApiError {
    ApiError::not_found("no_such_route", "no such route; see /api/v1/openapi.json")
}

/// `Path`, with a problem+json answer when the path does not parse.
pub(crate) struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|_| {
                ApiError::bad_request(
                    "invalid_path",
                    "the path is not valid UTF-8 or not of the expected shape",
                )
            })
    }
}

/// `Query`, with a problem+json answer when the query string does not parse.
pub(crate) struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|_| ApiError::bad_request("invalid_query", "the query string does not parse"))
    }
}

/// An optional query parameter as a `u64`, in its one decimal spelling (`+5` and `05`
/// would give one resource several names).
pub(super) fn parse_u64(name: &'static str, text: Option<&str>) -> Result<Option<u64>, ApiError> {
    match text {
        None => Ok(None),
        Some(text) => ledger::checkpoint::parse_decimal_u64(text)
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_query",
                    format!(
                        "{name} must be a non-negative integer below 2^64, in decimal without \
                     sign or leading zeros"
                    ),
                )
            }),
    }
}

/// A log index from a path.
pub(super) fn path_index(text: &str) -> Result<u64, ApiError> {
    ledger::checkpoint::parse_decimal_u64(text).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_index",
            "the index must be a non-negative integer in decimal without sign or leading \
             zeros",
        )
    })
}
