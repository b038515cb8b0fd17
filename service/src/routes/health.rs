use actix_web::{web, HttpResponse};

use crate::error::ApiError;
use crate::openapi::{Problem, Status};
use crate::startup::AppState;
use crate::visit_store::WorkerVisitStore;

/// `GET /healthz`: liveness. The process serves, so it is alive, draining or not.
#[utoipa::path(get, path = "/healthz", tag = "probes", responses(
    (status = 200, description = "Alive", body = Status),
))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// `GET /readyz`: ready only when not draining and the visit store answers a ping in time.
#[utoipa::path(get, path = "/readyz", tag = "probes", responses(
    (status = 200, description = "Ready for traffic", body = Status),
    (status = 503, description = "Draining, or the visit store did not answer in time", body = Problem, content_type = "application/problem+json"),
))]
pub async fn readyz(
    state: web::Data<AppState>,
    store: web::Data<WorkerVisitStore>,
) -> Result<HttpResponse, ApiError> {
    if state.lifecycle.is_draining() {
        return Err(ApiError::NotReady("shutting down".into()));
    }
    store
        .ping()
        .await
        .map_err(|e| ApiError::NotReady(format!("visit store: {e}")))?;
    Ok(HttpResponse::Ok().json(Status { status: "ready" }))
}
