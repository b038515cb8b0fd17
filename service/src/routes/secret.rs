use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{web, HttpRequest, HttpResponse};
use secrecy::ExposeSecret;

use crate::error::ApiError;
use crate::openapi::{Problem, SecretMessage};
use crate::startup::AppState;

/// `GET /secret`: the secret message, for an API key or a valid Bearer JWT only.
#[utoipa::path(get, path = "/secret", tag = "secret",
    security(("api_key" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The secret message", body = SecretMessage),
        (status = 401, description = "Missing or invalid credentials (WWW-Authenticate: Bearer)", body = Problem, content_type = "application/problem+json"),
        (status = 431, description = "Request headers above 16 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Authentication is not configured", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn secret(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (scheme, decision) = state.authenticator.authenticate(req.headers());
    let outcome = if decision.is_ok() {
        "accepted"
    } else {
        "rejected"
    };
    state
        .metrics
        .auth_attempts
        .with_label_values(&[scheme.label(), outcome])
        .inc();
    decision?;
    // Configuration guarantees a message whenever authentication is configured.
    let message = state
        .secret_message
        .as_ref()
        .ok_or(ApiError::AuthNotConfigured)?;
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(SecretMessage {
            message: message.expose_secret(),
        }))
}
