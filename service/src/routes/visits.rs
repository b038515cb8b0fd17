use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::ApiError;
use crate::visit_store::WorkerVisitStore;

/// `POST /visits`: atomically adds one visit.
pub async fn record_visit(store: web::Data<WorkerVisitStore>) -> Result<HttpResponse, ApiError> {
    let visits = store.increment().await?;
    Ok(HttpResponse::Ok().json(json!({ "visits": visits })))
}

/// `GET /visits`: the current count.
pub async fn count_visits(store: web::Data<WorkerVisitStore>) -> Result<HttpResponse, ApiError> {
    let visits = store.count().await?;
    Ok(HttpResponse::Ok().json(json!({ "visits": visits })))
}
