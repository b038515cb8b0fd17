//! The OpenAPI 3.1 description of the public API, served at `GET /openapi.json`. The body types
//! below are the ones the handlers serialize, so the document cannot drift from the responses;
//! `tests/drills/openapi_fuzz.rs` still holds the running service to it with schemathesis.

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::build_info::BuildInfo;
pub use crate::error::Problem;
use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "greeter",
        description = "A greeting, a visit counter in Redis and a protected message."
    ),
    paths(
        routes::greet::greet,
        routes::visits::record_visit,
        routes::visits::count_visits,
        routes::secret::secret,
        routes::health::healthz,
        routes::health::readyz,
        routes::version::version,
    ),
    components(schemas(Greeting, Visits, SecretMessage, Status, BuildInfo, Problem)),
    modifiers(&SecuritySchemes)
)]
pub struct ApiDoc;

/// `GET /openapi.json`.
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// `GET /`.
#[derive(Serialize, ToSchema)]
pub struct Greeting<'a> {
    /// The configured greeting.
    pub message: &'a str,
    /// Now, in the configured offset (RFC 3339, milliseconds).
    #[schema(format = DateTime)]
    pub time: String,
}

/// The visit counter.
#[derive(Serialize, ToSchema)]
pub struct Visits {
    #[schema(minimum = 0)]
    pub visits: u64,
}

/// `GET /secret`.
#[derive(Serialize, ToSchema)]
pub struct SecretMessage<'a> {
    pub message: &'a str,
}

/// `GET /healthz`, `GET /readyz`.
#[derive(Serialize, ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    pub status: &'static str,
}
