//! Passkeys in the browser: the options a ceremony starts from (`options_post`, asked
//! for by our script), signing in with one (`sign_in`), and adding and removing them on
//! the security page (`manage`).
//!
//! A ceremony's server half is kept in the database (`store::passkeys`), single use and
//! short-lived, and bound to the browser that began it: the hash of the browser's flow
//! cookie (the one that binds authorization transactions) is stored with it, and the
//! answer is refused from any other browser.

pub mod manage;
pub mod sign_in;

use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::extract::CsrfForm;
use super::{PageError, authorize, session};
use crate::mfa::passkeys::{CEREMONY_TTL, RelyingParty};
use crate::secret;
use crate::state::AppState;
use crate::store::id::Id;
use crate::store::passkeys::{self as store, CeremonyRow};
use crate::store::sessions;
use crate::web::origin;

/// What a ceremony is for; a ceremony answers only for its own purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Signing in without a username (a button, or the username field's autofill).
    SignIn,
    /// The step after a password, instead of a code.
    SecondStep,
    /// Confirming it is you before a sensitive change.
    Reauth,
    /// Creating a passkey.
    Register,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::SecondStep => "second_step",
            Purpose::Reauth => "reauth",
            Purpose::Register => "register",
        }
    }
}

/// The relying party, when passkeys are on (an issuer with a host name).
pub fn relying_party(state: &AppState) -> Option<&RelyingParty> {
    state.passkeys.as_deref()
}

/// Keep the server half of a new ceremony; its id, and the flow cookie when the browser
/// had none yet.
pub async fn begin(
    state: &AppState,
    req: &HttpRequest,
    purpose: Purpose,
    who: Option<(Id, Option<Id>)>,
    server_half: String,
) -> Result<(String, Option<Cookie<'static>>), PageError> {
    let (binding, cookie) = authorize::binding(state, req);
    let id = secret::random_token("", 32);
    let row = CeremonyRow {
        id: id.clone(),
        binding_hash: secret::hash(&binding),
        purpose: purpose.as_str().to_string(),
        user_id: who.map(|(u, _)| u),
        session_id: who.and_then(|(_, s)| s),
        state: server_half,
        expires_at: state.clock.now() + CEREMONY_TTL,
    };
    state.db.run(move |conn| store::begin(conn, &row)).await?;
    Ok((id, cookie))
}

/// Take ceremony `id` for `purpose` (single use: whatever happens next, it is gone).
/// None when it is unknown, used, expired, for another purpose, or was begun in another
/// browser.
pub async fn take(
    state: &AppState,
    req: &HttpRequest,
    id: &str,
    purpose: Purpose,
) -> Result<Option<CeremonyRow>, PageError> {
    if id.is_empty() || id.len() > 64 {
        return Ok(None);
    }
    let (id, now) = (id.to_string(), state.clock.now());
    let Some(row) = state
        .db
        .run(move |conn| store::take(conn, &id, now))
        .await?
    else {
        return Ok(None);
    };
    let presented = authorize::binding_value(state, req)
        .map(|b| secret::hash(&b))
        .unwrap_or_default();
    let same_browser = secret::ct_eq(presented.as_bytes(), row.binding_hash.as_bytes());
    Ok((same_browser && row.purpose == purpose.as_str()).then_some(row))
}

#[derive(Serialize)]
struct Started<T: Serialize> {
    ceremony: String,
    #[serde(flatten)]
    options: T,
}

/// Ceremonies begun per client address and window: each one is a row until it expires,
/// and beginning one needs nobody signed in.
pub const PER_ADDRESS: u32 = 60;
pub const WINDOW: i64 = 15 * 60;

fn refusal(status: StatusCode, error: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": error }))
}

/// `POST /passkeys/options`: the options for `navigator.credentials.get`, for the
/// ceremony the form's `purpose` names: `sign_in` (`autofill` for the username field's
/// conditional mediation), `second_step` (the person whose password was just right), or
/// `reauth` (the signed-in person). JSON, for our script.
pub async fn options_post(
    req: HttpRequest,
    CsrfForm(form): CsrfForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let Some(rp) = relying_party(&state) else {
        return Ok(refusal(StatusCode::NOT_FOUND, "passkeys_off"));
    };
    let now = state.clock.now();
    let key = origin::address_key(&req, &state.settings.trusted_proxies);
    if let Err(wait) = state.ceremonies_by_ip.reserve(&key, now) {
        crate::metrics::throttled("passkey_ceremony");
        return Ok(super::too_many(
            refusal(StatusCode::TOO_MANY_REQUESTS, "slow_down"),
            wait,
        ));
    }
    let (purpose, started) = match form.get("purpose").unwrap_or("") {
        p @ ("sign_in" | "autofill") => (Purpose::SignIn, rp.start_discoverable(p == "autofill")),
        "second_step" => {
            let Some(pending) = pending_session(&state, &req).await? else {
                return Ok(refusal(StatusCode::UNAUTHORIZED, "sign_in_again"));
            };
            return for_person(&state, &req, rp, Purpose::SecondStep, pending).await;
        }
        "reauth" => {
            let Some((s, _)) = session::current(&state, &req).await? else {
                return Ok(refusal(StatusCode::UNAUTHORIZED, "sign_in_again"));
            };
            return for_person(&state, &req, rp, Purpose::Reauth, s).await;
        }
        _ => return Ok(refusal(StatusCode::BAD_REQUEST, "unknown_purpose")),
    };
    let (options, server_half) = started.map_err(|_| PageError::Unavailable)?;
    let (ceremony, cookie) = begin(&state, &req, purpose, None, server_half).await?;
    Ok(started_response(ceremony, options, cookie))
}

/// Options naming the passkeys of the person of `session`.
async fn for_person(
    state: &AppState,
    req: &HttpRequest,
    rp: &RelyingParty,
    purpose: Purpose,
    session: sessions::Session,
) -> Result<HttpResponse, PageError> {
    let uid = session.user_id;
    let rows = state.db.run(move |conn| store::of_user(conn, uid)).await?;
    if rows.is_empty() {
        return Ok(refusal(StatusCode::NOT_FOUND, "no_passkeys"));
    }
    let (options, server_half) = rp.start_for(&rows).map_err(|_| PageError::Unavailable)?;
    let who = Some((uid, Some(session.id)));
    let (ceremony, cookie) = begin(state, req, purpose, who, server_half).await?;
    Ok(started_response(ceremony, options, cookie))
}

fn started_response<T: Serialize>(
    ceremony: String,
    options: T,
    cookie: Option<Cookie<'static>>,
) -> HttpResponse {
    let mut b = HttpResponse::Ok();
    b.insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"));
    if let Some(c) = cookie {
        b.cookie(c);
    }
    b.json(Started { ceremony, options })
}

/// The session of this browser that waits for its second step, if any.
pub async fn pending_session(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<sessions::Session>, PageError> {
    let Some(token) = session::cookie_token(req, state.settings.secure_cookies()) else {
        return Ok(None);
    };
    let (hash, now) = (secret::hash(&token), state.clock.now());
    Ok(state
        .db
        .run(move |conn| sessions::find_pending(conn, &hash, now))
        .await?)
}

/// `GET /assets/passkeys.js`: the one script we serve, for the pages that offer passkeys.
pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            "public, max-age=3600",
        ))
        .body(include_str!("../../../templates/passkeys.js"))
}
