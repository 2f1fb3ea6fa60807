//! `GET /api/v1/openapi.json`: generated from the handlers' annotations in
//! [`crate::http`], the answer types, and the record kinds' own definitions (each kind
//! is its struct in `ledger::record::kinds`, except the two hand-written input shapes of
//! `crate::input`), so no shape is described twice.

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use ledger::merkle::{ConsistencyProof, InclusionProof};
use utoipa::openapi::schema::{
    AllOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::http::{cosignatures, exports, imports, log, read_models, records, service, signatures};
use crate::http::{
    AppendAnswer, AppendedEntry, EntryAnswer, HealthAnswer, HealthProblem, ImportAnswer,
    ImportProblem, LogInfo, Problem, TallyAnswer,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "campaign-ledger",
        description = "A verifiable campaign log: petition signatures, council motions, twin-city links and events, with counts anyone can re-derive. Errors are RFC 9457 problem+json with a stable `reason`."
    ),
    paths(
        log::checkpoint,
        log::tile,
        service::healthz,
        service::metrics_text,
        serve,
        log::log_info,
        log::entry,
        log::inclusion_proof,
        log::consistency_proof,
        log::receipt,
        read_models::tally,
        read_models::petitions,
        read_models::petition,
        read_models::parliament_petition,
        read_models::motions,
        read_models::twin_links,
        read_models::events,
        read_models::campaigns,
        records::post_records,
        imports::post_paper_import,
        exports::export_bundle,
        cosignatures::post_cosignatures,
        cosignatures::list_cosignatures,
        signatures::erase_personal_data,
        signatures::signer_withdraws,
        signatures::signer_erases,
    ),
    components(schemas(
        Problem,
        LogInfo,
        EntryAnswer,
        TallyAnswer,
        InclusionProof,
        ConsistencyProof,
        AppendAnswer,
        AppendedEntry,
        ImportAnswer,
        ImportProblem,
        crate::import::RowProblem,
        HealthAnswer,
        HealthProblem,
        crate::http::SignerRequest,
        crate::input::RecordsBody
    )),
    modifiers(&BearerAuth, &RecordSchemas)
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

/// Adds one schema per record kind, named by its `type` (`type` plus the fields of the
/// kind's struct, whose schema is named after it), `RecordInput` (any one of them) and
/// `RecordBatch` (`{"records": [...]}`).
struct RecordSchemas;

impl Modify for RecordSchemas {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let (kinds, referred) = crate::input::schemas();
        for (name, schema) in referred {
            components.schemas.entry(name).or_insert(schema);
        }
        let mut any = OneOfBuilder::new().description(Some(
            "One record: `type` names its kind and the other fields are the kind's.",
        ));
        for (kind, name, fields) in kinds {
            let tag = ObjectBuilder::new()
                .property(
                    "type",
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([kind])),
                )
                .required("type");
            components.schemas.insert(name.clone(), fields);
            let with_type = AllOfBuilder::new()
                .item(tag)
                .item(Ref::from_schema_name(&name))
                .description(Some(format!(
                    "A `{kind}` record: `type` and the fields of {name}."
                )));
            components
                .schemas
                .insert(kind.to_owned(), Schema::AllOf(with_type.build()).into());
            any = any.item(Ref::from_schema_name(kind));
        }
        components
            .schemas
            .insert("RecordInput".into(), RefOr::T(Schema::OneOf(any.build())));
        let batch = ObjectBuilder::new()
            .property(
                "records",
                ArrayBuilder::new()
                    .items(Ref::from_schema_name("RecordInput"))
                    .min_items(Some(1))
                    .max_items(Some(crate::http::MAX_RECORDS_PER_REQUEST)),
            )
            .required("records")
            .description(Some("Records appended together, all or none."));
        components.schemas.insert(
            "RecordBatch".into(),
            RefOr::T(Schema::Object(batch.build())),
        );
    }
}

/// The OpenAPI document as JSON, built once.
pub fn document() -> Bytes {
    static DOCUMENT: OnceLock<Bytes> = OnceLock::new();
    DOCUMENT
        .get_or_init(|| Bytes::from(ApiDoc::openapi().to_json().unwrap_or_else(|_| "{}".into())))
        .clone()
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "service", responses((status = 200, description = "This document")))]
pub(crate) async fn serve() -> Response {
    crate::http::json_response(StatusCode::OK, document())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::Record;

    #[test]
    fn the_document_lists_every_record_kind() {
        let document: serde_json::Value = serde_json::from_slice(&document()).unwrap();
        let schemas = &document["components"]["schemas"];
        let any = schemas["RecordInput"]["oneOf"].as_array().unwrap();
        let kinds: Vec<&str> = crate::input::input_kinds().collect();
        assert_eq!(any.len(), kinds.len());
        assert_eq!(
            kinds.len(),
            Record::KINDS.len() - 5,
            "all but the five kinds only the server writes"
        );
        for kind in kinds {
            let named = any.iter().any(|item| {
                let name = item["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
                schemas[name]["allOf"][0]["properties"]["type"]["enum"][0] == *kind
            });
            assert!(named, "{kind}");
        }
        // The hand-written shapes are the ones documented for their kinds.
        assert!(schemas["SignatureInput"]["properties"]["email"].is_object());
        assert!(schemas["PetitionOpenedInput"]["properties"]["text_hash"].is_object());
        for answer in [
            "InclusionProof",
            "ConsistencyProof",
            "AppendAnswer",
            "SignerRequest",
            "Hash",
            "Id",
        ] {
            assert!(schemas[answer].is_object(), "{answer}");
        }
    }
}
