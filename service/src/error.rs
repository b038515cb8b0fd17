//! Every error the API answers, and its one mapping to HTTP: RFC 9457 `application/problem+json`.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::visit_store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("no resource at this path")]
    NotFound,
    #[error("method not allowed; allowed: {allowed}")]
    MethodNotAllowed { allowed: &'static str },
    /// `challenge` is the full `WWW-Authenticate` value (RFC 6750).
    #[error("{detail}")]
    Unauthorized {
        detail: &'static str,
        challenge: &'static str,
    },
    #[error("authentication not configured")]
    AuthNotConfigured,
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("request headers larger than {limit} bytes")]
    HeadersTooLarge { limit: usize },
    #[error("visit store unavailable: {0}")]
    StoreUnavailable(#[from] StoreError),
    #[error("shutting down")]
    ShuttingDown,
    /// `FAULT_ERROR_RATIO` (`crate::faults`).
    #[error("injected fault (FAULT_ERROR_RATIO)")]
    InjectedFault,
}

/// RFC 9457 problem details (`application/problem+json`): every error body.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(example = "about:blank")]
    pub kind: &'static str,
    pub title: String,
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
        }
    }

    pub fn response(&self) -> HttpResponse {
        HttpResponse::build(
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        )
        .content_type(PROBLEM_JSON)
        .json(self)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::InjectedFault => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::AuthNotConfigured
            | ApiError::StoreUnavailable(_)
            | ApiError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = Problem::new(self.status_code(), self.to_string()).response();
        let headers = response.headers_mut();
        match self {
            ApiError::MethodNotAllowed { allowed } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allowed));
            }
            ApiError::Unauthorized { challenge, .. } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
            ApiError::StoreUnavailable(_)
            | ApiError::ShuttingDown
            | ApiError::AuthNotConfigured => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}
