//! The metrics listener's answers: `/metrics` in the Prometheus text format, with the
//! gauges that are read at scrape time (database pool, signing-key age) brought up to
//! date first.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::keys::KeyState;
use crate::metrics;
use crate::state::AppState;

pub async fn metrics_get(
    state: web::Data<AppState>,
    handle: web::Data<PrometheusHandle>,
) -> HttpResponse {
    let pool = state.db.pool().state();
    metrics::db_connections(
        pool.connections - pool.idle_connections,
        pool.idle_connections,
    );
    let now = state.clock.now();
    for k in state.keys.current().records() {
        if k.state == KeyState::Active {
            let since = k.activated_at.unwrap_or(k.created_at);
            metrics::signing_key_age(k.alg.as_str(), now - since);
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(handle.render())
}
