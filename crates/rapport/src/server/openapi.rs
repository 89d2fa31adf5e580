//! The OpenAPI 3.1 document, generated from the handlers themselves (`utoipa`), and the
//! browsable reference page, served from assets compiled into the binary.

use std::sync::Arc;

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::{care, customers, events, keys, reports, surveys, webhooks};
use super::{AppState, auth, idempotency};

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";
/// Where the reference page is served.
pub const REFERENCE_PATH: &str = "/api/docs";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Rapport API",
        description = "Customers, their events, lifecycle funnel and defection scores. Every route needs an API key \
                       (`rapport keys create`) sent as `Authorization: Bearer KEY`: viewer keys read, staff keys also \
                       write, admin keys also manage keys, webhooks and care plans. Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`."
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::store::CustomerSort, crate::domain::Stage, super::api::EventKindName, crate::care::DueWindow)),
    security(("bearer" = [])),
    tags(
        (name = "customers", description = "Profiles, scores, timeline and stage"),
        (name = "events", description = "Purchases, interactions, notes and referrals as they happen"),
        (name = "reports", description = "Funnel"),
        (name = "models", description = "The defection radar's model versions"),
        (name = "keys", description = "API keys (admin)"),
        (name = "webhooks", description = "Signed webhooks (admin): subscriptions, deliveries and attempts"),
        (name = "care", description = "Care plans (changed by admins) and the staff's tasks"),
        (name = "surveys", description = "Surveys (changed by admins), their sends and customers' answers"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("rk_...")
                    .build(),
            ),
        );
    }
}

/// The answers every `/api/v1` operation can give besides its own: the middleware's (401, 403,
/// 413, 415), the extractors' (400, 422) and a fault's (500), all with the error body.
fn add_common_responses(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let common = [
        ("400", "The request is malformed (JSON syntax, query or path parameter)"),
        ("401", "No API key, or one that is unknown or revoked"),
        ("403", "The key's role does not allow this"),
        ("413", "The body is larger than 16 MiB"),
        ("415", "The body is not sent as application/json"),
        ("422", "A field's value is not acceptable; `field` names it"),
        ("500", "The server failed; the message holds a reference to its log"),
    ];
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, description) in common {
                operation
                    .responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(description)
                            .content(
                                "application/json",
                                ContentBuilder::new()
                                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                                    .build(),
                            )
                            .build()
                            .into()
                    });
            }
        }
    }
}

/// The `/api/v1` routes behind authentication, and the OpenAPI document describing them.
pub fn api_router(state: AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::new()
        .routes(routes!(customers::list, customers::create))
        .routes(routes!(customers::get, customers::update))
        .routes(routes!(customers::timeline))
        .routes(routes!(customers::set_stage))
        .routes(routes!(events::create))
        .routes(routes!(events::batch))
        .routes(routes!(reports::get_funnel))
        .routes(routes!(reports::current_model))
        .routes(routes!(reports::fit))
        .routes(routes!(reports::score))
        .routes(routes!(keys::list, keys::create))
        .routes(routes!(keys::revoke))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::get, webhooks::delete))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::resend))
        .routes(routes!(care::list_plans, care::apply_plans))
        .routes(routes!(care::get_plan))
        .routes(routes!(care::plan_report))
        .routes(routes!(care::pause_plan))
        .routes(routes!(care::resume_plan))
        .routes(routes!(care::list_tasks))
        .routes(routes!(care::get_task))
        .routes(routes!(care::complete_task))
        .routes(routes!(care::snooze_task))
        .routes(routes!(care::reassign_task))
        .routes(routes!(surveys::list_surveys, surveys::apply_surveys))
        .routes(routes!(surveys::get_survey))
        .routes(routes!(surveys::list_sends))
        .routes(routes!(surveys::record_response))
        // Outermost last: the key is checked before the idempotency store is consulted.
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::replay))
        .route_layer(axum::middleware::from_fn_with_state(state, auth::require_key));
    let (router, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", v1)
        .split_for_parts();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    add_common_responses(&mut document);
    (router, document)
}

/// The document and the reference page (Swagger UI, vendored into the binary at build time).
pub fn reference(document: Arc<utoipa::openapi::OpenApi>) -> Router<AppState> {
    let swagger: Router = utoipa_swagger_ui::SwaggerUi::new(REFERENCE_PATH)
        .url(DOCUMENT_PATH, (*document).clone())
        // "none": Swagger UI would otherwise offer to send the document to an online validator.
        .config(
            utoipa_swagger_ui::Config::default()
                .validator_url("none")
                .try_it_out_enabled(true),
        )
        .into();
    Router::new().merge(swagger.with_state(()))
}
