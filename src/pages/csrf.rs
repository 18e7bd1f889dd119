//! CSRF protection for our forms. Every form carries a token in a hidden field, and a
//! POST is accepted only when it matches (constant-time) the token of the browser:
//!
//! - A browser with a session cookie has a token derived from that session: an HMAC of
//!   the session token's hash under a key derived from the data key. It cannot be
//!   planted (an attacker who can set cookies on our host still cannot know the victim's
//!   session), it changes whenever the session token does, and a copy of the database
//!   alone (which holds the hashes) does not yield it.
//! - Before any session (the sign-in form), a signed double-submit cookie: a random value
//!   in a cookie, and in the form an HMAC of that value under the same key, so an equal
//!   cookie and field made up by someone else do not pass. That alone does not stop
//!   whoever can plant a cookie (a sibling subdomain over http, a man in the middle of a
//!   plain-http request): they can fetch the sign-in page with a value of their choosing
//!   and read its token. On https the cookie has the `__Host-` prefix, which no other
//!   host can set, and every form post must also come from our own origin (below).
//!
//! Browsers say where a form was posted from (`Sec-Fetch-Site`, or `Origin` in older
//! ones): a post from another site, a sibling subdomain included, is refused whatever
//! token it carries (OWASP CSRF cheat sheet, "verifying origin with standard headers").
//! Clients that send neither header are not browsers that another site could drive, and
//! rely on the token.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};

use super::session;
use crate::secret::{self, MacKey};
use crate::state::AppState;

/// The label under which the CSRF key is derived from the data key.
pub const KEY_LABEL: &str = "portcullis csrf v2";

#[derive(Clone)]
pub struct Csrf {
    pub token: String,
    /// Set when the browser had no valid token yet.
    pub new_cookie: Option<Cookie<'static>>,
}

fn name(secure: bool) -> &'static str {
    if secure {
        "__Host-portcullis_csrf"
    } else {
        "portcullis_csrf"
    }
}

fn well_formed(t: &str) -> bool {
    t.len() == 43
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The token of a browser whose session token hashes to `session_token_hash`.
pub fn for_session(state: &AppState, session_token_hash: &str) -> String {
    bound(&state.csrf_key, session_token_hash)
}

fn bound(key: &MacKey, session_token_hash: &str) -> String {
    key.tag(session_token_hash.as_bytes())
}

/// The session-bound token, when the browser presents a session cookie.
fn session_bound(state: &AppState, req: &HttpRequest) -> Option<String> {
    session::cookie_token(req, state.settings.secure_cookies())
        .map(|raw| bound(&state.csrf_key, &secret::hash(&raw)))
}

/// The browser's token, or a new one to set.
pub fn ensure(state: &AppState, req: &HttpRequest) -> Csrf {
    let secure = state.settings.secure_cookies();
    if let Some(token) = session_bound(state, req) {
        return Csrf {
            token,
            new_cookie: None,
        };
    }
    if let Some(c) = req.cookie(name(secure))
        && well_formed(c.value())
    {
        return Csrf {
            token: signed(&state.csrf_key, c.value()),
            new_cookie: None,
        };
    }
    let value = secret::random_token("", 32);
    let token = signed(&state.csrf_key, &value);
    let cookie = Cookie::build(name(secure), value)
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .finish();
    Csrf {
        token,
        new_cookie: Some(cookie),
    }
}

/// Does the form's token match the browser's, and was it posted from our own pages?
pub fn verify(state: &AppState, req: &HttpRequest, form_token: Option<&str>) -> bool {
    if !from_our_origin(state, req) {
        return false;
    }
    if let Some(expected) = session_bound(state, req) {
        return form_token.is_some_and(|f| secret::ct_eq(expected.as_bytes(), f.as_bytes()));
    }
    match (
        req.cookie(name(state.settings.secure_cookies())),
        form_token,
    ) {
        (Some(c), Some(f)) => {
            well_formed(c.value())
                && secret::ct_eq(signed(&state.csrf_key, c.value()).as_bytes(), f.as_bytes())
        }
        _ => false,
    }
}

/// The form's token for the cookie value `cookie`: under its own label, so that it can
/// never equal a session-bound token.
fn signed(key: &MacKey, cookie: &str) -> String {
    key.tag(format!("cookie:{cookie}").as_bytes())
}

/// Whether the browser says the request comes from our own origin (the issuer's), or says
/// nothing. `Sec-Fetch-Site` (every current browser sends it) must be `same-origin` or
/// `none` (typed, bookmarked). Without it, an `Origin` header must be the issuer's origin,
/// or `null`: our pages send `Referrer-Policy: no-referrer`, under which a browser posts
/// even our own forms with `Origin: null`.
fn from_our_origin(state: &AppState, req: &HttpRequest) -> bool {
    if let Some(site) = req.headers().get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    match req.headers().get(actix_web::http::header::ORIGIN) {
        None => true,
        Some(origin) if origin.as_bytes() == b"null" => true,
        Some(origin) => url::Url::parse(&state.issuer.id)
            .is_ok_and(|u| u.origin().ascii_serialization().as_bytes() == origin.as_bytes()),
    }
}
