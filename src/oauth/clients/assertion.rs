//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OpenID Connect Core
//! §9): the client signs a short-lived JWT about itself with one of its registered keys.
//!
//! The audience is our issuer identifier, or our token endpoint URL, as the only value:
//! the 2025 audience-injection advisory (behind draft-ietf-oauth-rfc7523bis) showed
//! that accepting any of several endpoint URLs, or an array naming others too, lets an
//! assertion meant for one server be replayed at another. Each `jti` is accepted once,
//! across every instance (the caller spends it in `store::replay`).

use jsonwebtoken::{Validation, decode};
use serde_json::Value;

use crate::oauth::jwk::{self, PublicKey};
use crate::secret;

/// `client_assertion_type` for JWT assertions (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The largest assertion we read.
pub const MAX_ASSERTION_BYTES: usize = 8 * 1024;
/// How far ahead `exp` may be: an assertion is for one request, not a credential.
pub const MAX_LIFETIME: i64 = 300;
/// Clock difference tolerated on `exp`, `nbf` and `iat`.
pub const SKEW: i64 = 60;

/// Where an assertion may be addressed: our identifiers.
#[derive(Debug, Clone)]
pub struct Audiences {
    pub issuer: String,
    pub token_endpoint: String,
    /// FAPI 2.0 §5.3.2.1: the issuer identifier only, as a JSON string.
    pub issuer_string_only: bool,
}

impl Audiences {
    pub fn for_issuer(issuer: &str, issuer_string_only: bool) -> Audiences {
        Audiences {
            issuer: issuer.to_string(),
            token_endpoint: format!("{issuer}/token"),
            issuer_string_only,
        }
    }

    /// Whether `aud` addresses us: a string (or, outside FAPI 2.0, an array of exactly
    /// one string) naming our issuer (or, outside FAPI 2.0, our token endpoint).
    fn accepts(&self, aud: &Value) -> bool {
        let single = match aud {
            Value::String(a) => Some(a.as_str()),
            Value::Array(v) if v.len() == 1 && !self.issuer_string_only => v[0].as_str(),
            _ => None,
        };
        single.is_some_and(|a| {
            a == self.issuer || (!self.issuer_string_only && a == self.token_endpoint)
        })
    }
}

/// Why an assertion was refused, in a phrase safe to return and to audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No registered key has the assertion's `kid`: a `jwks_uri` may be worth fetching
    /// again.
    UnknownKid,
    Invalid(&'static str),
}

impl Refused {
    pub fn reason(self) -> &'static str {
        match self {
            Refused::UnknownKid => "no registered key has the assertion's kid",
            Refused::Invalid(r) => r,
        }
    }
}

/// An assertion that verified; its `jti` still has to be spent.
#[derive(Debug, Clone)]
pub struct Verified {
    pub replay_key: String,
    /// Until when the `jti` must be remembered.
    pub until: i64,
}

/// The claims we check, each read with its own refusal (a missing `exp` is said to be
/// missing, not a bad signature).
struct Claims {
    iss: String,
    sub: String,
    aud: Value,
    exp: i64,
    nbf: Option<i64>,
    iat: Option<i64>,
    jti: String,
}

/// A NumericDate (RFC 7519 §2): seconds, possibly fractional; whole seconds here.
fn numeric_date(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite())
            .map(|f| f.floor() as i64)
    })
}

impl Claims {
    fn from(v: &Value) -> Result<Claims, Refused> {
        let text = |name: &str, missing: &'static str| {
            v.get(name)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or(Refused::Invalid(missing))
        };
        let date = |name: &str, bad: &'static str| match v.get(name) {
            None => Ok(None),
            Some(d) => numeric_date(d).map(Some).ok_or(Refused::Invalid(bad)),
        };
        Ok(Claims {
            iss: text("iss", "the assertion has no iss")?,
            sub: text("sub", "the assertion has no sub")?,
            aud: v
                .get("aud")
                .cloned()
                .ok_or(Refused::Invalid("the assertion has no aud"))?,
            exp: date("exp", "the assertion's exp is not a date")?
                .ok_or(Refused::Invalid("the assertion has no exp"))?,
            nbf: date("nbf", "the assertion's nbf is not a date")?,
            iat: date("iat", "the assertion's iat is not a date")?,
            jti: text("jti", "the assertion's jti is missing or too long")?,
        })
    }
}

/// The client an assertion claims to come from (its `sub`), read without verifying
/// anything: only to know whose keys to verify it with.
pub fn claimed_client(assertion: &str) -> Option<String> {
    if assertion.len() > MAX_ASSERTION_BYTES {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Claimed {
        sub: String,
    }
    jsonwebtoken::dangerous::insecure_decode_claims::<Claimed>(assertion)
        .ok()
        .map(|c| c.sub)
}

/// Verify `assertion` as client `client_id`'s, with its `keys`.
pub fn verify(
    assertion: &str,
    client_id: &str,
    keys: &[PublicKey],
    aud: &Audiences,
    now: i64,
) -> Result<Verified, Refused> {
    let header = jwk::raw_header(assertion, MAX_ASSERTION_BYTES).ok_or(Refused::Invalid(
        "the assertion is not a JWT of at most 8 KB without critical extensions",
    ))?;
    // Another kind of JWT (an access token, a DPoP proof) is not an assertion.
    if let Some(t) = header.get("typ") {
        let t = t.as_str().unwrap_or("");
        if !t.eq_ignore_ascii_case("JWT") && !t.eq_ignore_ascii_case("client-authentication+jwt") {
            return Err(Refused::Invalid("the assertion's typ is not JWT"));
        }
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(|a| jwk::parse_alg_for(a, aud.issuer_string_only))
        .ok_or(Refused::Invalid(
            "the assertion's alg is not an accepted asymmetric algorithm",
        ))?;
    let kid = header.get("kid").and_then(Value::as_str);
    let candidates: Vec<&PublicKey> = keys
        .iter()
        .filter(|k| k.verifies(alg))
        .filter(|k| kid.is_none_or(|id| k.kid.as_deref() == Some(id)))
        .collect();
    if candidates.is_empty() {
        return Err(match kid {
            Some(_) => Refused::UnknownKid,
            None => Refused::Invalid("no registered key fits the assertion's alg"),
        });
    }
    let mut v = Validation::new(alg);
    // Times are checked below against our clock, not the system's.
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let raw = candidates
        .iter()
        .find_map(|k| decode::<Value>(assertion, &k.key, &v).ok())
        .ok_or(Refused::Invalid(
            "the assertion's signature does not verify with the client's keys",
        ))?
        .claims;
    let claims = Claims::from(&raw)?;
    if claims.iss != client_id || claims.sub != client_id {
        return Err(Refused::Invalid("iss and sub must both be the client id"));
    }
    if !aud.accepts(&claims.aud) {
        return Err(Refused::Invalid(
            "aud is not this server's issuer identifier, as the only value",
        ));
    }
    if claims.exp <= now {
        return Err(Refused::Invalid("the assertion has expired"));
    }
    if claims.exp > now + MAX_LIFETIME + SKEW {
        return Err(Refused::Invalid(
            "the assertion's exp is too far ahead (at most 5 minutes)",
        ));
    }
    if claims.nbf.is_some_and(|t| t > now + SKEW) || claims.iat.is_some_and(|t| t > now + SKEW) {
        return Err(Refused::Invalid("the assertion is not valid yet"));
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(Refused::Invalid(
            "the assertion's jti is missing or too long",
        ));
    }
    Ok(Verified {
        replay_key: format!(
            "assertion:{}",
            secret::hash(&format!("{client_id} {}", claims.jti))
        ),
        until: claims.exp + SKEW,
    })
}
