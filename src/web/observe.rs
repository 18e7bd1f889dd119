//! What every request carries for the people who run us: a request id (`X-Request-Id`
//! on every answer, in every log line of the request, and the reference of internal
//! errors), and its latency per route.

use std::sync::Arc;
use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use crate::domain::net::Net;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the task serving a request knows of it, for log lines and audit events written
/// far from the handler (a refused assertion in the registrar, say).
#[derive(Clone)]
struct Current {
    id: String,
    ip: Option<String>,
    user_agent: Option<String>,
}

tokio::task_local! {
    static CURRENT: Current;
}

/// The id of the request being served, when called from its task.
pub fn current_request_id() -> Option<String> {
    CURRENT.try_with(|c| c.id.clone()).ok()
}

/// The caller's address and user agent (as `origin::origin` reads them), when called
/// from a request's task.
pub fn current_origin() -> (Option<String>, Option<String>) {
    CURRENT
        .try_with(|c| (c.ip.clone(), c.user_agent.clone()))
        .unwrap_or((None, None))
}

/// An id a trusted proxy set is kept (so one id follows the request through both), if
/// it is a plausible one: 1 to 128 characters of letters, digits, `.`, `_`, `:`, `-`.
fn forwarded_id(req: &ServiceRequest, trusted: &[Net]) -> Option<String> {
    let peer = req.peer_addr()?.ip().to_canonical();
    if !trusted.iter().any(|n| n.contains(peer)) {
        return None;
    }
    let id = req.headers().get(&REQUEST_ID)?.to_str().ok()?;
    let plausible = (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    plausible.then(|| id.to_string())
}

/// The middleware: give the request its id, serve it inside a span and a task-local that
/// carry the id, time it, and put the id on the answer.
pub async fn observe(
    trusted: Arc<Vec<Net>>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = forwarded_id(&req, &trusted).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %id);
    let (ip, user_agent) = super::origin::origin(req.request(), &trusted);
    let current = Current {
        id: id.clone(),
        ip,
        user_agent,
    };
    let served = CURRENT
        .scope(current, next.call(req))
        .instrument(span)
        .await;
    let mut res = served?;
    // The route pattern is known once the router has matched: a bounded label.
    let endpoint = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "other".to_string());
    crate::metrics::http_request(endpoint, started.elapsed().as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    Ok(res)
}
