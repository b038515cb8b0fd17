use actix_web::http::header::{CacheControl, CacheDirective};
use actix_web::{web, HttpRequest, HttpResponse};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Authenticator;
use crate::configuration::AuthSettings;
use crate::error::{ApiError, Problem};
use crate::startup::AppState;

/// `GET /secret`.
#[derive(Serialize, ToSchema)]
pub struct SecretMessage<'a> {
    pub message: &'a str,
}

/// What `/secret` checks and answers. Rebuilt whole when the secret files change; a request
/// uses the one it took first.
pub struct SecretState {
    pub authenticator: Authenticator,
    pub message: Option<SecretString>,
}

impl SecretState {
    pub fn new(auth: &AuthSettings) -> Self {
        Self {
            authenticator: Authenticator::new(auth),
            message: auth.secret_message.clone(),
        }
    }
}

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
    let secret = state.secret.current();
    let (scheme, decision) = secret.authenticator.authenticate(req.headers());
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
    let message = secret.message.as_ref().ok_or(ApiError::AuthNotConfigured)?;
    Ok(HttpResponse::Ok()
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(SecretMessage {
            message: message.expose_secret(),
        }))
}
