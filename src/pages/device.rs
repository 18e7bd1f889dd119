//! Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies").
//!
//! Failed passwords for a username are counted, and past the limit that username is
//! refused for a while: without more, anyone who knows a username could lock its owner
//! out by failing on purpose. So a browser that completed a sign-in for a person gets a
//! device cookie naming that person, signed with a key derived from the data key; a
//! later attempt for that username from that browser is counted against the cookie's own
//! counter, not the username's. Guessers have no such cookie and share the username's
//! counter; the owner, on a browser they used before, is not locked out by them.
//!
//! Format: `<base64url(username)>.<nonce>.<tag>`, tag = HMAC-SHA-256 over the first two
//! parts with a label. Nothing secret is in it; it proves only "this browser signed in as
//! this person before".

use actix_web::HttpRequest;
use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::secret::{self, MacKey};

/// The label under which the device-cookie key is derived from the data key.
pub const KEY_LABEL: &str = "portcullis device cookie v1";

/// A device cookie lasts a year (renewed at every sign-in).
const LIFETIME_DAYS: i64 = 365;

fn name(secure: bool) -> &'static str {
    if secure {
        "__Host-portcullis_device"
    } else {
        "portcullis_device"
    }
}

fn signed_part(user_b64: &str, nonce: &str) -> Vec<u8> {
    format!("device\0{user_b64}.{nonce}").into_bytes()
}

/// A new device cookie for `username`.
pub fn issue(key: &MacKey, username: &str, secure: bool) -> Cookie<'static> {
    let user = URL_SAFE_NO_PAD.encode(username.as_bytes());
    let nonce = secret::random_token("", 16);
    let tag = key.tag(&signed_part(&user, &nonce));
    Cookie::build(name(secure), format!("{user}.{nonce}.{tag}"))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(Duration::days(LIFETIME_DAYS))
        .finish()
}

/// The id of this browser's device cookie, if it carries a valid one for `username`.
pub fn recognised(req: &HttpRequest, key: &MacKey, secure: bool, username: &str) -> Option<String> {
    let cookie = req.cookie(name(secure))?;
    let mut parts = cookie.value().split('.');
    let (user, nonce, tag) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !key.verify(&signed_part(user, nonce), tag) {
        return None;
    }
    let named = URL_SAFE_NO_PAD.decode(user).ok()?;
    secret::ct_eq(&named, username.as_bytes()).then(|| nonce.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn with(cookie: &Cookie<'static>) -> HttpRequest {
        TestRequest::default()
            .cookie(cookie.clone())
            .to_http_request()
    }

    #[test]
    fn a_cookie_vouches_only_for_its_own_user_and_key() {
        let key = MacKey::new([3; 32]);
        let c = issue(&key, "alice", false);
        assert!(recognised(&with(&c), &key, false, "alice").is_some());
        assert!(recognised(&with(&c), &key, false, "bob").is_none());
        assert!(recognised(&with(&c), &MacKey::new([4; 32]), false, "alice").is_none());
        // A cookie edited to name someone else fails its tag.
        let mut forged = c.clone();
        let v = c.value().to_string();
        let rest = v.split_once('.').unwrap().1;
        forged.set_value(format!("{}.{rest}", URL_SAFE_NO_PAD.encode("bob")));
        assert!(recognised(&with(&forged), &key, false, "bob").is_none());
    }
}
