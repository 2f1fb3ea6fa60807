//! `GET /api/v1/openapi.json`, generated from the handlers' annotations in [`crate::api`].

use std::sync::OnceLock;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "campaign-ledger",
        description = "A verifiable campaign log: petition signatures, council motions, twin-city links and events, with counts anyone can re-derive. Errors are RFC 9457 problem+json with a stable `reason`."
    ),
    paths(
        api::checkpoint,
        api::tile,
        api::healthz,
        api::metrics_text,
        api::openapi,
        api::log_info,
        api::entry,
        api::inclusion_proof,
        api::consistency_proof,
        api::receipt,
        api::tally,
        api::petitions,
        api::petition,
        api::motions,
        api::twin_links,
        api::events,
        api::campaigns,
        api::post_records,
    ),
    components(schemas(
        api::Problem,
        api::LogInfo,
        api::TallyAnswer,
        api::InclusionAnswer,
        api::AppendAnswer,
        api::AppendedEntry,
        api::HealthAnswer
    )),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The OpenAPI document as JSON, built once.
pub fn document() -> String {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".into()))
        .clone()
}
