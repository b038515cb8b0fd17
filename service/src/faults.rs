//! Failures on purpose, for game days: a release that fails a share of its requests
//! (`FAULT_ERROR_RATIO`, this middleware) or whose Redis stalls (`FAULT_VISIT_STORE_DELAY_MS`,
//! in `crate::visit_store`). Like podinfo's `--random-error` and `--random-delay`, which Flagger's
//! canary demos use: the canary gate must abort such a release (docs/configuration.md).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use crate::error::ApiError;
use crate::routes::PROBES;
use crate::startup::AppState;

/// Answers that share of the requests to the app routes with a 500 problem, at random, as a
/// broken handler would; the probes always pass (the pod stays ready, as a buggy release does),
/// and so do requests that match no route. Only in the chain while the ratio is above 0.
pub async fn inject_errors(
    state: web::Data<AppState>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let app_route = req
        .match_pattern()
        .is_some_and(|route| !PROBES.contains(&route.as_str()));
    if app_route && rand::random_bool(state.faults.error_ratio) {
        let response = HttpResponse::from_error(ApiError::InjectedFault);
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}
