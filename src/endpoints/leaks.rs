//! `POST /credentials/revoke`: anyone who finds one of our secrets (a scanner, a
//! stranger) reports it, as to GitHub's credential revocation API: a JSON body
//! `{"credentials": ["...", ...]}`, no authentication. Each of ours stops working at
//! once (`accounts::leaks`). Every well-formed report gets the same 202, whether it held
//! live credentials, dead ones or noise: the endpoint is no oracle.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use crate::accounts::Actor;
use crate::accounts::leaks::{self, MAX_PER_REPORT};
use crate::state::AppState;
use crate::store::throttle::{self, Reserved};
use crate::web::{form, origin};

/// Reports one address may make per `WINDOW`, counted in the database (every instance).
pub const PER_ADDRESS: u32 = 60;
pub const WINDOW: i64 = 3600;
/// The longest string we look at: ours are 54 characters; anything far longer is not a
/// credential of ours, and bounds the work a report can cause.
const MAX_LEN: usize = 1024;
/// 1,000 strings of at most `MAX_LEN` characters, as JSON (4 bytes a character at most).
const MAX_BODY: usize = 4 * 1024 * 1024 + 4096;
/// Every well-formed report is answered no sooner than this after it arrived: revoking
/// live credentials costs writes that noise does not, and the answer must not tell which
/// a report held. Far above what 1,000 live credentials take here.
const ANSWER_FLOOR: std::time::Duration = std::time::Duration::from_millis(250);

#[derive(Deserialize)]
struct Report {
    credentials: Vec<String>,
}

fn error(status: StatusCode, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": "invalid_request", "error_description": description }))
}

/// The report's strings, or the 4xx that says what is wrong with it.
async fn read(req: &HttpRequest, payload: web::Payload) -> Result<Vec<String>, HttpResponse> {
    let bytes = form::read_json(req, payload, MAX_BODY).await.map_err(|e| {
        let status = match e {
            form::FormError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        error(status, &e.to_string())
    })?;
    let report: Report = serde_json::from_slice(&bytes).map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object with \"credentials\": an array of strings",
        )
    })?;
    if report.credentials.len() > MAX_PER_REPORT {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("at most {MAX_PER_REPORT} credentials per report"),
        ));
    }
    if report
        .credentials
        .iter()
        .any(|c| c.chars().count() > MAX_LEN)
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("each credential at most {MAX_LEN} characters"),
        ));
    }
    Ok(report.credentials)
}

/// Count this report against its address: `Err` is the 429 to answer.
async fn within_limit(req: &HttpRequest, state: &AppState, now: i64) -> Result<(), HttpResponse> {
    let key = format!(
        "leak-report:{}",
        origin::address_key(req, &state.settings.trusted_proxies)
    );
    let reserved = state
        .db
        .run(move |conn| throttle::reserve(conn, &key, PER_ADDRESS, WINDOW, now))
        .await;
    match reserved {
        Ok(Reserved::Granted { .. }) => Ok(()),
        Ok(Reserved::Refused { retry_after }) => {
            crate::metrics::throttled("leak_report");
            let mut res = error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many reports from this address; try again later",
            );
            if let Ok(v) = header::HeaderValue::from_str(&retry_after.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Err(res)
        }
        Err(e) => {
            tracing::error!(error = %e, "leak report throttle failed");
            Err(unavailable())
        }
    }
}

fn unavailable() -> HttpResponse {
    error(StatusCode::SERVICE_UNAVAILABLE, "try again in a moment")
}

/// `POST /credentials/revoke`.
pub async fn report(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let arrived = std::time::Instant::now();
    let now = state.clock.now();
    if let Err(res) = within_limit(&req, &state, now).await {
        return res;
    }
    let strings = match read(&req, payload).await {
        Ok(s) => s,
        Err(res) => return res,
    };
    let (ip, _) = origin::origin(&req, &state.settings.trusted_proxies);
    let by = Actor::Reporter { ip };
    let revoked = state
        .db
        .run(move |conn| leaks::report(conn, &strings, &by, now))
        .await;
    match revoked {
        Ok(revoked) => {
            for (kind, n) in revoked.by_kind {
                crate::metrics::leaked_report(kind.label(), n);
            }
            // This instance stops using them at once; the others' caches expire within
            // PORTCULLIS_CLIENT_CACHE_TTL.
            for id in revoked.clients {
                state.registrar.forget(&id);
            }
        }
        Err(e) => {
            // The reporter must be able to try again: nothing was revoked.
            tracing::error!(error = %e, "leak report failed");
            return unavailable();
        }
    }
    if let Some(left) = ANSWER_FLOOR.checked_sub(arrived.elapsed()) {
        actix_web::rt::time::sleep(left).await;
    }
    HttpResponse::Accepted()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "message": "Thank you. Any credential of ours in the report no longer works." }))
}
