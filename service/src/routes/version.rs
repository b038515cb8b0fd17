use actix_web::HttpResponse;

use crate::build_info::BUILD;

/// `GET /version`: crate (or image) version and git revision.
pub async fn version() -> HttpResponse {
    HttpResponse::Ok().json(BUILD)
}
