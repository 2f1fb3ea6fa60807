//! `GET /api/v1/exports/{petition_id}?area=<kind>:<code>`: the export bundle of one
//! petition in one area (docs/FORMAT.md part F).
//!
//! Without a token (or with an admin token) the bundle is public: counts and
//! pseudonymous entries, no personal data, nothing logged. With an exporter token
//! scoped to the area it also holds the personal data of the live signers who
//! consented, and the export is appended to the log as `export.issued` (and committed)
//! before a byte of the bundle is sent: a disclosure is never secret.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use ledger::record::{ExportIssued, Id, Name};
use serde::Deserialize;

use super::problem::{unknown_petition, ApiError, ApiPath, ApiQuery, Problem};
use super::records::authenticate;
use super::state::AppState;
use super::{blocking, text, CACHE_NEVER};
use crate::auth::Role;
use crate::export::{self, ExportError, Issuer};
use crate::locks;
use crate::sequencer::Staged;

#[derive(Deserialize)]
pub(crate) struct ExportQuery {
    area: Option<String>,
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> ApiError {
        match e {
            ExportError::UnknownPetition(_) => unknown_petition(),
            ExportError::NoCheckpoint(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_checkpoint",
                "the read models are ahead of the signed checkpoints for a moment; retry",
            ),
            ExportError::TooLarge(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "area_too_large",
                e.to_string(),
            ),
            ExportError::Ledger(e) => ApiError::from(e),
            other => ApiError::internal(other),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/exports/{petition_id}", tag = "exports", params(("petition_id" = String, Path), ("area" = String, Query, description = "`constituency:E14000831`, `ward:E05001234`, `council:Newcastle upon Tyne` or `country:GB`")), security((), ("bearer" = [])), responses((status = 200, description = "The export bundle: a zip (docs/FORMAT.md part F). With an exporter token scoped to the area it holds consenting signers' personal data and was logged as `export.issued`.", content_type = "application/zip"), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(crate) async fn export_bundle(
    State(state): State<Arc<AppState>>,
    ApiPath(petition_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ExportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let area = query.area.ok_or_else(|| {
        ApiError::bad_request(
            "missing_area",
            "name the area: ?area=constituency:E14000831 (or ward:, council:, country:)",
        )
    })?;
    let area =
        projector::Area::parse(&area).map_err(|why| ApiError::bad_request("invalid_area", why))?;
    let token = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(_) => Some(authenticate(&state.tokens, &headers)?),
    };
    // Who may see personal data: an exporter whose scope is this very area.
    let reveal = match &token {
        None => false,
        Some(t) => match t.role {
            Role::Admin => false,
            Role::Exporter if t.scope.as_ref().is_some_and(|s| s.covers_area(&area)) => true,
            Role::Exporter => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "out_of_scope",
                    "this exporter token is scoped to another area",
                ))
            }
            Role::Organiser => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden_role",
                    "organiser tokens do not export; ask without a token for the public \
                     bundle, or use an exporter token scoped to the area",
                ))
            }
        },
    };
    let _building = state.exports.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "export_busy",
            "other exports are being built; retry in a few seconds",
        )
    })?;
    let exported_by = token
        .as_ref()
        .map_or_else(|| "public".to_string(), |t| t.author());
    let petition = petition_id.clone();
    let gathered = {
        let state = state.clone();
        let area = area.clone();
        blocking(move || {
            let frozen = {
                let projection = locks::read(&state.published);
                export::freeze(&projection, &petition, &area)?
            };
            let vault = reveal.then_some(&*state.vault);
            let mut gathered = export::gather(&state.store, frozen, vault)?;
            gathered.add_cosignatures(&state.cosignatures);
            Ok(gathered)
        })
        .await?
    };
    if let (true, Some(token)) = (reveal, &token) {
        let record = ExportIssued {
            petition_id: Id::parse(&petition_id).map_err(ApiError::internal)?,
            area_kind: area.kind,
            area: Name::parse(&area.code).map_err(ApiError::internal)?,
            tree_size: gathered.frozen.tree_size,
            exporter: Id::parse(&token.id).map_err(ApiError::internal)?,
            revealed: gathered.revealed,
        };
        let sequencer = state.running_sequencer()?;
        sequencer
            .submit(
                token.clone(),
                None,
                vec![Staged::written_by_the_server(record)],
            )
            .await
            .map_err(ApiError::from)?;
    }
    let name = export::bundle_name(&petition_id, &area, gathered.frozen.tree_size);
    let zip = blocking(move || {
        let issuer = Issuer {
            exported_by: &exported_by,
            exported_at_unix: crate::unix_now() as i64,
        };
        Ok(export::write_bundle(
            &state.store,
            &gathered,
            &state.log_key,
            issuer,
        )?)
    })
    .await?;
    // Personal data is never kept by a cache; a public bundle changes as the log grows.
    let cache = if reveal { "no-store" } else { CACHE_NEVER };
    let mut response = text(zip, "application/zip", cache);
    // The name is ASCII by construction (ids, codes, an escaped council name).
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
