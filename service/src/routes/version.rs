use actix_web::HttpResponse;

use crate::build_info::{BuildInfo, BUILD};

/// `GET /version`: crate (or image) version and git revision.
#[utoipa::path(get, path = "/version", tag = "version", responses(
    (status = 200, description = "Version and git revision", body = BuildInfo),
))]
pub async fn version() -> HttpResponse {
    HttpResponse::Ok().json(BUILD)
}
