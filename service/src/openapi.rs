//! The OpenAPI 3.1 description of the public API, served at `GET /openapi.json`. The schemas below
//! document the JSON the handlers build; `tests/drills/openapi_fuzz.rs` holds the running service
//! to them with schemathesis, so a drift between the two fails the drills. The structs only
//! describe bodies (the handlers build them with `json!`); `Serialize` makes serde renames apply.

use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

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
    components(schemas(Greeting, Visits, SecretMessage, Status, Version, Problem)),
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
pub struct Greeting {
    /// The configured greeting.
    pub message: String,
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
pub struct SecretMessage {
    pub message: String,
}

/// `GET /healthz`, `GET /readyz`.
#[derive(Serialize, ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    pub status: String,
}

/// `GET /version`.
#[derive(Serialize, ToSchema)]
pub struct Version {
    pub version: String,
    pub revision: String,
}

/// RFC 9457 problem details (`application/problem+json`): every error body.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    pub kind: String,
    pub title: String,
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    pub detail: String,
}
