//! Liveness and readiness for orchestrators.

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection;

use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// How long readiness waits for a database connection: well inside the probe timeouts
/// of orchestrators (a request waits the pool's full 10 s).
const READY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Ready when the database answers a trivial query within `READY_WAIT`.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.db.pool().clone();
    let answered = web::block(move || {
        pool.get_timeout(READY_WAIT)
            .ok()
            .is_some_and(|mut c| c.batch_execute("SELECT 1").is_ok())
    })
    .await
    .unwrap_or(false);
    if answered {
        HttpResponse::Ok().json(serde_json::json!({ "status": "ready" }))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "unavailable", "reason": "database" }))
    }
}
