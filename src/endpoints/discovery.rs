//! Authorization server metadata (RFC 8414), OpenID Connect Discovery 1.0 and the JWKS:
//! rendered once per key-set change (`state::Precomputed`), served as bytes.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::state::AppState;

pub async fn metadata(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(state.precomputed.load().discovery.clone())
}

pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        // Resource servers cache the set; a kid they do not know makes them fetch it
        // again, and a rotated-out key stays published past its tokens' lifetime.
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .body(state.precomputed.load().jwks.clone())
}
