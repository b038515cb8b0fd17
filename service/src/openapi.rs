//! The OpenAPI 3.1 description of the public API, served at `GET /openapi.json`. It only gathers:
//! the path items and body types live with their handlers in `routes/` (the types the handlers
//! serialize, so the document cannot drift from the responses), and nothing there imports this
//! module. `tests/drills/openapi_fuzz.rs` still holds the running service to it with schemathesis.

use actix_web::HttpResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::build_info::BuildInfo;
use crate::error::Problem;
use crate::routes::{self, greet::Greeting, health::Status, secret::SecretMessage, visits::Visits};

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

#[cfg(test)]
mod tests {
    /// The dependency runs one way: the document gathers the routes, the routes never reach back.
    #[test]
    fn no_route_imports_the_document() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let source = std::fs::read_to_string(&path).unwrap();
            assert!(
                !["crate::openapi::", "crate::openapi;"]
                    .iter()
                    .any(|import| source.contains(import)),
                "{} imports from crate::openapi",
                path.display()
            );
        }
    }
}
