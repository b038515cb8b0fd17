//! `/secret` authentication: `X-API-Key` (constant-time) or a Bearer JWT whose algorithm is pinned
//! by the configured key (no `alg: none`, no HS/RS confusion).

use actix_web::http::header::{HeaderMap, AUTHORIZATION};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, Validation};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::configuration::{AuthSettings, JwtSettings};
use crate::error::ApiError;

pub const API_KEY_HEADER: &str = "x-api-key";
const CHALLENGE: &str = r#"Bearer realm="greeter""#;
const CHALLENGE_INVALID: &str = r#"Bearer realm="greeter", error="invalid_token""#;

pub struct Authenticator {
    api_key_digest: Option<[u8; 32]>,
    jwt: Option<(JwtSettings, Validation)>,
}

/// How a request was authenticated (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    ApiKey,
    Bearer,
    None,
}

impl Scheme {
    pub fn label(self) -> &'static str {
        match self {
            Scheme::ApiKey => "api_key",
            Scheme::Bearer => "bearer",
            Scheme::None => "none",
        }
    }
}

impl Authenticator {
    pub fn new(settings: &AuthSettings) -> Self {
        Self {
            api_key_digest: settings.api_key.as_ref().map(digest),
            jwt: settings.jwt.clone().map(|jwt| {
                let validation = validation(&jwt);
                (jwt, validation)
            }),
        }
    }

    pub fn is_configured(&self) -> bool {
        self.api_key_digest.is_some() || self.jwt.is_some()
    }

    /// Checks the request's credentials. The error says why, never echoing what was sent.
    pub fn authenticate(&self, headers: &HeaderMap) -> (Scheme, Result<(), ApiError>) {
        if !self.is_configured() {
            return (Scheme::None, Err(ApiError::AuthNotConfigured));
        }
        if let Some(key) = headers.get(API_KEY_HEADER) {
            return (Scheme::ApiKey, self.check_api_key(key.as_bytes()));
        }
        if let Some(value) = headers.get(AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map(str::trim);
            return match token {
                Some(token) => (Scheme::Bearer, self.check_jwt(token)),
                None => (
                    Scheme::None,
                    Err(unauthorized(
                        "Authorization must be a Bearer token",
                        CHALLENGE_INVALID,
                    )),
                ),
            };
        }
        (
            Scheme::None,
            Err(unauthorized(
                "credentials required: X-API-Key or Bearer token",
                CHALLENGE,
            )),
        )
    }

    fn check_api_key(&self, presented: &[u8]) -> Result<(), ApiError> {
        let Some(expected) = &self.api_key_digest else {
            return Err(unauthorized("API keys are not accepted", CHALLENGE));
        };
        // Comparing fixed-size digests keeps the comparison constant-time whatever the lengths.
        let presented: [u8; 32] = Sha256::digest(presented).into();
        if bool::from(presented.ct_eq(expected)) {
            Ok(())
        } else {
            Err(unauthorized("invalid API key", CHALLENGE))
        }
    }

    fn check_jwt(&self, token: &str) -> Result<(), ApiError> {
        let Some((jwt, validation)) = &self.jwt else {
            return Err(unauthorized(
                "Bearer tokens are not accepted",
                CHALLENGE_INVALID,
            ));
        };
        // Bound work on hostile input before any base64 or crypto.
        if token.len() > 8192 {
            return Err(unauthorized("invalid token: too large", CHALLENGE_INVALID));
        }
        decode::<serde_json::Value>(token, &jwt.key, validation)
            .map(|_| ())
            .map_err(|e| {
                let detail = match e.kind() {
                    ErrorKind::ExpiredSignature => "invalid token: expired",
                    ErrorKind::ImmatureSignature => "invalid token: not yet valid",
                    ErrorKind::InvalidIssuer => "invalid token: wrong issuer",
                    ErrorKind::InvalidAudience => "invalid token: wrong audience",
                    ErrorKind::InvalidSignature => "invalid token: bad signature",
                    ErrorKind::InvalidAlgorithm => "invalid token: algorithm not accepted",
                    ErrorKind::MissingRequiredClaim(_) => "invalid token: missing required claim",
                    _ => "invalid token: malformed",
                };
                unauthorized(detail, CHALLENGE_INVALID)
            })
    }
}

fn unauthorized(detail: &'static str, challenge: &'static str) -> ApiError {
    ApiError::Unauthorized { detail, challenge }
}

fn digest(secret: &SecretString) -> [u8; 32] {
    Sha256::digest(secret.expose_secret().as_bytes()).into()
}

fn validation(jwt: &JwtSettings) -> Validation {
    let mut validation = Validation::new(jwt.algorithm);
    validation.algorithms = vec![jwt.algorithm];
    validation.leeway = jwt.leeway.as_secs();
    validation.validate_exp = true;
    validation.validate_nbf = true;
    let mut required = vec!["exp"];
    required.extend(jwt.issuer.as_ref().map(|_| "iss"));
    required.extend(jwt.audience.as_ref().map(|_| "aud"));
    validation.set_required_spec_claims(&required);
    match &jwt.issuer {
        Some(issuer) => validation.set_issuer(&[issuer]),
        None => validation.iss = None,
    }
    match &jwt.audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    validation
}
