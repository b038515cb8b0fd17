use actix_web::{web, HttpResponse};
use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::startup::AppState;

/// `GET /`.
#[derive(Serialize, ToSchema)]
pub struct Greeting<'a> {
    /// The configured greeting.
    pub message: &'a str,
    /// Now, in the configured offset (RFC 3339, milliseconds).
    #[schema(format = DateTime)]
    pub time: String,
}

/// `GET /`: the configured greeting and the time in the configured offset.
#[utoipa::path(get, path = "/", tag = "greeting", responses(
    (status = 200, description = "The greeting", body = Greeting),
))]
pub async fn greet(state: web::Data<AppState>) -> HttpResponse {
    let now = Utc::now().with_timezone(&state.timezone);
    HttpResponse::Ok().json(Greeting {
        message: &state.greeting,
        time: now.to_rfc3339_opts(SecondsFormat::Millis, true),
    })
}
