use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::startup::AppState;

/// The kubelet's probes: never counted in the HTTP metrics, never failed by fault injection.
pub const PROBES: [&str; 2] = ["/healthz", "/readyz"];

/// `GET /healthz`, `GET /readyz`.
#[derive(Serialize, ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// `GET /healthz`: liveness. The process serves, so it is alive, draining or not.
#[utoipa::path(get, path = "/healthz", tag = "probes", responses(
    (status = 200, description = "Alive", body = Status),
))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// `GET /readyz`: this process takes traffic, until it starts draining. Redis is deliberately not
/// checked: an outage must not empty every Service at once; the routes that need Redis answer a
/// fast 503 themselves (docs/architecture.md, "Health vs readiness").
#[utoipa::path(get, path = "/readyz", tag = "probes", responses(
    (status = 200, description = "Ready for traffic", body = Status),
    (status = 503, description = "Draining after SIGTERM", body = Problem, content_type = "application/problem+json"),
))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if state.lifecycle.is_draining() {
        return Err(ApiError::ShuttingDown);
    }
    Ok(HttpResponse::Ok().json(Status { status: "ready" }))
}
