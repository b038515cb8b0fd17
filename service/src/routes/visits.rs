use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::traffic::TrafficClass;
use crate::visit_store::WorkerVisitStore;

/// The visit counter.
#[derive(Serialize, ToSchema)]
pub struct Visits {
    #[schema(minimum = 0)]
    pub visits: u64,
}

/// `POST /visits`: atomically adds one visit. It takes no input; a body, when sent, must be JSON
/// (and is ignored), so garbage is refused instead of silently counted. Synthetic requests count
/// on a counter of their own (`crate::traffic`).
#[utoipa::path(post, path = "/visits", tag = "visits", responses(
    (status = 200, description = "The count including this visit", body = Visits),
    (status = 400, description = "The body is neither empty nor JSON", body = Problem, content_type = "application/problem+json"),
    (status = 413, description = "The body is larger than REQUEST_BODY_LIMIT_BYTES", body = Problem, content_type = "application/problem+json"),
    (status = 503, description = "The visit store did not answer in time (Retry-After: 1)", body = Problem, content_type = "application/problem+json"),
))]
pub async fn record_visit(
    store: web::Data<WorkerVisitStore>,
    traffic: TrafficClass,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if !body.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_err() {
        return Err(ApiError::BadRequest(
            "the body must be empty or a JSON document",
        ));
    }
    let visits = store.increment(traffic).await?;
    Ok(HttpResponse::Ok().json(Visits { visits }))
}

/// `GET /visits`: the current count (of synthetic visits, for a synthetic request).
#[utoipa::path(get, path = "/visits", tag = "visits", responses(
    (status = 200, description = "The current count", body = Visits),
    (status = 503, description = "The visit store did not answer in time (Retry-After: 1)", body = Problem, content_type = "application/problem+json"),
))]
pub async fn count_visits(
    store: web::Data<WorkerVisitStore>,
    traffic: TrafficClass,
) -> Result<HttpResponse, ApiError> {
    let visits = store.count(traffic).await?;
    Ok(HttpResponse::Ok().json(Visits { visits }))
}
