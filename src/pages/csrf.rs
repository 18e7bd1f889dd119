//! CSRF protection for our forms: a double-submit cookie. The cookie holds a random
//! token, every form repeats it in a hidden field, and a POST is accepted only when the
//! two match (constant-time). Another site can make a browser send the cookie but
//! cannot read it to fill the field. On https the cookie has the `__Host-` prefix so a
//! sibling subdomain cannot plant one.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};

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

/// The browser's token, or a new one to set.
pub fn ensure(req: &HttpRequest, secure: bool) -> Csrf {
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

/// Does the form's token match the cookie?
pub fn verify(req: &HttpRequest, secure: bool, form_token: Option<&str>) -> bool {
    match (req.cookie(name(secure)), form_token) {
        (Some(c), Some(f)) => well_formed(f) && secret::ct_eq(c.value().as_bytes(), f.as_bytes()),
        _ => false,
    }
}
