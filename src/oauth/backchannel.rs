//! OpenID Connect Back-Channel Logout 1.0: the logout token (§2.4) that tells an app a
//! session it took part in ended, and its delivery to the app's `backchannel_logout_uri`
//! (§2.5). Tokens are made at each attempt, so each lives two minutes from when it is
//! sent, however long the app was unreachable.

use jsonwebtoken::{Header, encode};
use serde::{Deserialize, Serialize};

use super::clients::{BackchannelLogout, Client, RegisteredBy};
use crate::keys::KeySet;
use crate::oauth::issuer::Issuer;
use crate::web::outbound::{NotPublic, Outbound};

/// §2.4: the one event a logout token carries.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long a logout token is valid: long enough for clock skew, short enough that a
/// captured one is soon useless.
pub const TOKEN_TTL: i64 = 120;
/// §2.5 leaves the wait to us: an app that takes longer is tried again later.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// What the outbox holds for one logout: the session and its person.
#[derive(Debug, Serialize, Deserialize)]
pub struct Ended {
    pub sid: String,
    pub sub: String,
}

/// §2.4. No `nonce` (§2.4 forbids it, so that a logout token is never taken for an ID
/// token), and the header says `logout+jwt` (§2.4, RFC 8725 §3.11) for the same reason.
#[derive(Debug, Serialize, Deserialize)]
pub struct LogoutClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub events: serde_json::Value,
    pub sid: String,
    pub sub: String,
}

/// The logout token for `client`, signed with the key and algorithm of its ID tokens
/// (§2.4: as an ID token would be).
pub fn token(
    issuer: &str,
    keys: &KeySet,
    client: &Client,
    ended: &Ended,
    now: i64,
) -> Result<String, String> {
    let key = Issuer::id_token_key(keys, client).map_err(|e| e.to_string())?;
    let claims = LogoutClaims {
        iss: issuer.to_string(),
        aud: client.client_id.clone(),
        iat: now,
        exp: now + TOKEN_TTL,
        jti: uuid::Uuid::new_v4().to_string(),
        events: serde_json::json!({ EVENT: {} }),
        sid: ended.sid.clone(),
        sub: ended.sub.clone(),
    };
    let mut header = Header::new(key.alg.jwt());
    header.typ = Some("logout+jwt".into());
    header.kid = Some(key.kid.clone());
    encode(&header, &claims, &key.encoding).map_err(|e| e.to_string())
}

/// How a delivery attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    /// §2.8: the app answered 200 (any 2xx is taken as success).
    Delivered,
    /// No answer, or one that says "later" (5xx, 408, 429): worth trying again.
    Retry(String),
    /// Any other answer (§2.8: 400 means the app refused the token); trying the same
    /// again would not change it.
    Refused(String),
}

/// POST the token to the app (§2.5): a form with `logout_token`, no redirect followed.
pub async fn deliver(
    http: &Outbound,
    client: &Client,
    to: &BackchannelLogout,
    token: &str,
) -> Delivery {
    // Openly registered clients are reached at public addresses only.
    let public_only = client.registered_by == RegisteredBy::Open;
    let http = match http.for_url(&to.uri, public_only) {
        Ok(h) => h,
        Err(e) => return Delivery::Refused(e),
    };
    let sent = http
        .post(&to.uri)
        .form(&[("logout_token", token)])
        .header("cache-control", "no-store")
        .send()
        .await;
    let status = match sent {
        Ok(res) => res.status(),
        // Its name leads only to private addresses: that will not change by retrying.
        Err(e) if NotPublic::caused(&e) => {
            return Delivery::Refused("the host has no public address".into());
        }
        // (Without the URL: reqwest's message would repeat it.)
        Err(e) => return Delivery::Retry(describe(&e)),
    };
    match status.as_u16() {
        200..=299 => Delivery::Delivered,
        408 | 425 | 429 | 500..=599 => Delivery::Retry(format!("status {status}")),
        _ => Delivery::Refused(format!("status {status}")),
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer in time".into()
    } else if e.is_connect() {
        "cannot connect (no connection, or no TLS handshake)".into()
    } else {
        "request failed".into()
    }
}
