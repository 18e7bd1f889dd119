//! CSRF protection for our forms. Every form carries a token in a hidden field, and a
//! POST is accepted only when it matches (constant-time) the token of the browser:
//!
//! - A browser with a session cookie has a token derived from that session (a hash of
//!   the session token's hash, with its own label). It cannot be planted: an attacker
//!   who can set cookies on our host still cannot know the victim's session, and it
//!   changes at sign-in, when the session is replaced.
//! - Before any session (the sign-in form), a double-submit cookie: a random token in a
//!   cookie, repeated in the form. Another site can make the browser send the cookie but
//!   cannot read it. On https the cookie has the `__Host-` prefix so that a sibling
//!   subdomain cannot plant one (OWASP CSRF cheat sheet: naive double-submit falls to
//!   cookie injection, which this prefix and the session binding above close).

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};

use super::session;
use crate::secret;

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
pub fn for_session(session_token_hash: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"portcullis csrf v1\0")
        .chain_update(session_token_hash.as_bytes())
        .finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// The session-bound token, when the browser presents a session cookie.
fn session_bound(req: &HttpRequest, secure: bool) -> Option<String> {
    session::cookie_token(req, secure).map(|raw| for_session(&secret::hash(&raw)))
}

/// The browser's token, or a new one to set.
pub fn ensure(req: &HttpRequest, secure: bool) -> Csrf {
    if let Some(token) = session_bound(req, secure) {
        return Csrf {
            token,
            new_cookie: None,
        };
    }
    if let Some(c) = req.cookie(name(secure))
        && well_formed(c.value())
    {
        return Csrf {
            token: c.value().to_string(),
            new_cookie: None,
        };
    }
    let token = secret::random_token("", 32);
    let cookie = Cookie::build(name(secure), token.clone())
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

/// Does the form's token match the browser's?
pub fn verify(req: &HttpRequest, secure: bool, form_token: Option<&str>) -> bool {
    if let Some(expected) = session_bound(req, secure) {
        return form_token.is_some_and(|f| secret::ct_eq(expected.as_bytes(), f.as_bytes()));
    }
    match (req.cookie(name(secure)), form_token) {
        (Some(c), Some(f)) => well_formed(f) && secret::ct_eq(c.value().as_bytes(), f.as_bytes()),
        _ => false,
    }
}
