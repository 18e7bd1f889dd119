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
//! Format: `<user id>.<nonce>.<tag>`, tag = HMAC-SHA-256 over the id, the nonce and a
//! fingerprint of the person's current password hash. Nothing secret is in it; it proves
//! only "this browser signed in as this person, with the password they have now": a new
//! password (or a deleted and re-created account) ends every device cookie at once, so
//! cookies collected while a password was known give no guesses against the next one.

use actix_web::HttpRequest;
use actix_web::cookie::time::Duration;
use actix_web::cookie::{Cookie, SameSite};

use crate::secret::{self, MacKey};
use crate::store::users::User;

/// The label under which the device-cookie key is derived from the data key.
pub const KEY_LABEL: &str = "portcullis device cookie v2";

/// A device cookie lasts a year (renewed at every sign-in).
const LIFETIME_DAYS: i64 = 365;

fn name(secure: bool) -> &'static str {
    if secure {
        "__Host-portcullis_device"
    } else {
        "portcullis_device"
    }
}

fn signed_part(user_id: &str, nonce: &str, user: &User) -> Vec<u8> {
    format!(
        "device\0{user_id}.{nonce}\0{}",
        secret::hash(&user.password_hash)
    )
    .into_bytes()
}

/// A new device cookie for `user`.
pub fn issue(key: &MacKey, user: &User, secure: bool) -> Cookie<'static> {
    let id = user.id.to_string();
    let nonce = secret::random_token("", 16);
    let tag = key.tag(&signed_part(&id, &nonce, user));
    Cookie::build(name(secure), format!("{id}.{nonce}.{tag}"))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(Duration::days(LIFETIME_DAYS))
        .finish()
}

/// A device cookie as the browser presented it, not yet checked.
#[derive(Debug, Clone)]
pub struct Presented {
    user_id: String,
    nonce: String,
    tag: String,
}

/// The browser's device cookie, if it has one of the right shape.
pub fn presented(req: &HttpRequest, secure: bool) -> Option<Presented> {
    let cookie = req.cookie(name(secure))?;
    let mut parts = cookie.value().split('.');
    let (user_id, nonce, tag) = (parts.next()?, parts.next()?, parts.next()?);
    parts.next().is_none().then(|| Presented {
        user_id: user_id.to_string(),
        nonce: nonce.to_string(),
        tag: tag.to_string(),
    })
}

impl Presented {
    /// The cookie's id, when it vouches for `user` as they are now.
    pub fn vouches_for(&self, key: &MacKey, user: &User) -> Option<&str> {
        let signed = signed_part(&self.user_id, &self.nonce, user);
        (self.user_id == user.id.to_string() && key.verify(&signed, &self.tag))
            .then_some(self.nonce.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::id::Id;
    use actix_web::test::TestRequest;

    fn person(name: &str, hash: &str) -> User {
        User {
            id: Id::new_v7(),
            username: name.into(),
            email: None,
            password_hash: hash.into(),
            created_at: 0,
            updated_at: 0,
            name: None,
            email_verified: false,
            api_scopes: None,
        }
    }

    fn presented_by(cookie: &Cookie<'static>) -> Presented {
        let req = TestRequest::default()
            .cookie(cookie.clone())
            .to_http_request();
        presented(&req, false).expect("a device cookie")
    }

    #[test]
    fn a_cookie_vouches_only_for_its_user_key_and_password() {
        let key = MacKey::new([3; 32]);
        let alice = person("alice", "$argon2id$one");
        let c = presented_by(&issue(&key, &alice, false));
        assert!(c.vouches_for(&key, &alice).is_some());
        assert!(
            c.vouches_for(&key, &person("bob", "$argon2id$one"))
                .is_none()
        );
        assert!(c.vouches_for(&MacKey::new([4; 32]), &alice).is_none());
        // A new password ends it.
        let changed = User {
            password_hash: "$argon2id$two".into(),
            ..alice.clone()
        };
        assert!(c.vouches_for(&key, &changed).is_none());
    }
}
