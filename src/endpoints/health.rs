//! Liveness and readiness for orchestrators.

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;

use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Ready when the database answers a trivial query.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.db.run(|conn| conn.batch_execute("SELECT 1")).await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "unavailable", "reason": "database" })),
    }
}
