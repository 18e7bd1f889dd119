//! Browser sessions: a random cookie naming a server-side record (stored by hash), with
//! an idle and an absolute lifetime.

use actix_web::HttpRequest;
use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};

use crate::domain::signin::SignInMethod;
use crate::secret;
use crate::state::AppState;
use crate::store::DbError;
use crate::store::id::Id;
use crate::store::sessions::{self, Session};
use crate::store::users::{self, User};
use crate::web::origin;

fn name(secure: bool) -> &'static str {
    if secure {
        "__Host-portcullis_session"
    } else {
        "portcullis_session"
    }
}

pub fn cookie_token(req: &HttpRequest, secure: bool) -> Option<String> {
    req.cookie(name(secure)).map(|c| c.value().to_string())
}

/// The signed-in user of this browser, if the session is live.
pub async fn current(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<(Session, User)>, DbError> {
    let Some(token) = cookie_token(req, state.settings.secure_cookies()) else {
        return Ok(None);
    };
    let idle = state.settings.session_idle_ttl;
    let now = state.clock.now();
    state
        .db
        .run(move |conn| {
            let Some(s) = sessions::find_live(conn, &secret::hash(&token), idle, now)? else {
                return Ok(None);
            };
            Ok(users::find(conn, s.user_id)?.map(|u| (s, u)))
        })
        .await
}

/// Start a session for `user_id`, ending the browser's previous one (no fixation).
/// Returns the session and the cookie to set.
pub async fn start(
    state: &AppState,
    req: &HttpRequest,
    user_id: Id,
    mfa_pending: bool,
    method: SignInMethod,
) -> Result<(Session, Cookie<'static>), DbError> {
    let secure = state.settings.secure_cookies();
    let old = cookie_token(req, secure).map(|t| secret::hash(&t));
    let token = secret::random_token("", 32);
    let now = state.clock.now();
    let lifetime = state.settings.session_lifetime;
    let (ip, user_agent) = origin::origin(req, &state.settings.trusted_proxies);
    let session = Session {
        ip,
        user_agent: user_agent.map(|ua| ua.chars().take(512).collect()),
        id: Id::new_v7(),
        token_hash: secret::hash(&token),
        user_id,
        auth_time: now,
        created_at: now,
        last_seen_at: now,
        expires_at: now + lifetime,
        mfa_pending,
        amr: method,
    };
    let row = session.clone();
    state
        .db
        .run(move |conn| {
            if let Some(old) = old {
                sessions::delete_by_hash(conn, &old, now)?;
            }
            sessions::insert(conn, &row)
        })
        .await?;
    Ok((session, cookie(secure, token, lifetime)))
}

fn cookie(secure: bool, token: String, lifetime: i64) -> Cookie<'static> {
    Cookie::build(name(secure), token)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(Duration::seconds(lifetime))
        .finish()
}

/// A fresh token for a session whose privilege changes (the second sign-in step, or a
/// re-authentication): the stored hash to put in its place, and the cookie that carries
/// the token. The old token stops working when the hash is replaced.
pub fn new_token(state: &AppState, session: &Session, now: i64) -> (String, Cookie<'static>) {
    let token = secret::random_token("", 32);
    let hash = secret::hash(&token);
    // The cookie lives as long as the session may.
    let left = (session.expires_at - now).max(0);
    (hash, cookie(state.settings.secure_cookies(), token, left))
}

/// End the browser's session; returns the cookie that clears it.
pub async fn end(state: &AppState, req: &HttpRequest) -> Result<Cookie<'static>, DbError> {
    let secure = state.settings.secure_cookies();
    if let Some(t) = cookie_token(req, secure) {
        let h = secret::hash(&t);
        let now = state.clock.now();
        state
            .db
            .run(move |conn| sessions::delete_by_hash(conn, &h, now))
            .await?;
    }
    Ok(removal(state))
}

/// The cookie that clears the session cookie from the browser.
pub fn removal(state: &AppState) -> Cookie<'static> {
    let mut c = cookie(state.settings.secure_cookies(), String::new(), 0);
    c.make_removal();
    c
}
