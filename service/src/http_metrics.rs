//! Records every request the public port answers in `greeter_http_requests_total` and
//! `greeter_http_requests_duration_seconds` (docs/metrics.md). Our own middleware because the
//! `traffic` label comes from the request, and actix-web-prom 0.10 labels only by route, method,
//! status (and HTTP version), plus constants.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use crate::routes::PROBES;
use crate::startup::AppState;
use crate::traffic::TrafficClass;

/// The `endpoint` of requests that matched no route: scanners create no new series.
const UNMATCHED: &str = "UNKNOWN";

/// Labels each request by its route pattern, never the raw path. The probes are not counted:
/// kubelet traffic would inflate the success ratio that the SLOs and the canary analysis read.
/// An error that a middleware returns instead of a response (413, 431) counts with the status it
/// is answered with.
pub async fn record_requests(
    state: web::Data<AppState>,
    traffic: TrafficClass,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let endpoint = req.match_pattern();
    if endpoint
        .as_deref()
        .is_some_and(|endpoint| PROBES.contains(&endpoint))
    {
        return next.call(req).await;
    }
    let method = req.method().clone();
    let result = next.call(req).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    let labels = [
        endpoint.as_deref().unwrap_or(UNMATCHED),
        method.as_str(),
        status.as_str(),
        traffic.label(),
    ];
    let http = &state.metrics.http;
    http.duration
        .with_label_values(&labels)
        .observe(started.elapsed().as_secs_f64());
    http.requests.with_label_values(&labels).inc();
    result
}
