use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiError;
use crate::startup::AppState;
use crate::visit_store::WorkerVisitStore;

/// `GET /healthz`: liveness. The process serves, so it is alive, draining or not.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// `GET /readyz`: ready only when not draining and the visit store answers a ping in time.
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
    Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
}
