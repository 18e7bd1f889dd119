//! DPoP proofs at a resource server (RFC 9449 §4.3 and §7.1): the proof that comes with
//! a DPoP-bound token must be signed by the key the token is bound to, for this request,
//! now, once. (The server checks proofs at its token endpoint with code of its own: a
//! resource server must not link the authorization server to verify its tokens.)

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::rejection::Rejection;

/// A proof's `iat` may be this far from our clock, either way (§11.1).
pub const IAT_WINDOW: i64 = 60;
/// The largest proof read.
const MAX_PROOF_BYTES: usize = 8 * 1024;

/// Remembers the proofs already used, so that each is accepted once (§11.1). The
/// in-memory store (`MemoryReplay`) serves one process; several instances of an API
/// behind one load balancer share one through this trait (a database, Redis).
pub trait ReplayStore: Send + Sync {
    /// Record `key` until `until` (Unix seconds). True the first time; false when it was
    /// seen before, or cannot be recorded (fail closed).
    fn first_use(&self, key: &str, until: i64, now: i64) -> bool;
}

/// The in-memory replay store: bounded; expired entries are dropped as it fills, and
/// when it is full of live ones, proofs are refused rather than forgotten.
pub struct MemoryReplay {
    seen: Mutex<HashMap<String, i64>>,
    capacity: usize,
}

impl MemoryReplay {
    pub fn new(capacity: usize) -> MemoryReplay {
        MemoryReplay {
            seen: Mutex::new(HashMap::new()),
            capacity,
        }
    }
}

impl Default for MemoryReplay {
    fn default() -> MemoryReplay {
        MemoryReplay::new(100_000)
    }
}

impl ReplayStore for MemoryReplay {
    fn first_use(&self, key: &str, until: i64, now: i64) -> bool {
        let mut seen = self.seen.lock();
        if seen.get(key).is_some_and(|t| *t >= now) {
            return false;
        }
        if seen.len() >= self.capacity {
            seen.retain(|_, t| *t >= now);
            if seen.len() >= self.capacity {
                return false;
            }
        }
        seen.insert(key.to_string(), until);
        true
    }
}

/// What the proof must match.
pub struct Expect<'a> {
    pub method: &'a str,
    /// The URL of this request as the client addressed it.
    pub url: &'a str,
    pub access_token: &'a str,
    /// The token's `cnf.jkt`.
    pub jkt: &'a str,
    pub now: i64,
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
}

fn refuse(why: &'static str) -> Rejection {
    Rejection::InvalidDpopProof(why)
}

/// Check `proof` (the `DPoP` header) against the request, then spend it in `replay`.
pub fn verify(proof: &str, expect: &Expect<'_>, replay: &dyn ReplayStore) -> Result<(), Rejection> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(refuse("the proof is too large"));
    }
    let header = raw_header(proof).ok_or(refuse("the proof is not a JWT"))?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(refuse("the proof's typ is not dpop+jwt"));
    }
    let alg: Algorithm = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(|a| a.parse().ok())
        .filter(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        .ok_or(refuse(
            "the proof's alg is not an accepted asymmetric algorithm",
        ))?;
    let jwk = header.get("jwk").ok_or(refuse("the proof has no jwk"))?;
    // §4.3 point 7: a public key; a private member would mean the client leaked it.
    let private = ["d", "p", "q", "dp", "dq", "qi", "k"];
    if private.iter().any(|m| jwk.get(m).is_some()) {
        return Err(refuse("the proof's jwk holds a private key"));
    }
    let thumbprint = thumbprint(jwk).ok_or(refuse("the proof's jwk is not an accepted key"))?;
    if thumbprint != expect.jkt {
        return Err(refuse(
            "the proof is not signed by the key the token is bound to",
        ));
    }
    let parsed: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone())
        .map_err(|_| refuse("the proof's jwk is not an accepted key"))?;
    let key = DecodingKey::from_jwk(&parsed)
        .map_err(|_| refuse("the proof's jwk is not an accepted key"))?;
    let mut v = Validation::new(alg);
    v.validate_exp = false;
    v.validate_aud = false;
    v.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &v)
        .map_err(|_| refuse("the proof's signature or claims are invalid"))?
        .claims;
    if claims.htm != expect.method {
        return Err(refuse("the proof's htm is not this request's method"));
    }
    let target = normalize_htu(expect.url).ok_or(refuse("the request URL is not absolute"))?;
    if normalize_htu(&claims.htu).as_deref() != Some(target.as_str()) {
        return Err(refuse("the proof's htu is not this request's URL"));
    }
    if claims.iat.abs_diff(expect.now) > IAT_WINDOW.unsigned_abs() {
        return Err(refuse("the proof's iat is not within the accepted window"));
    }
    if claims.ath.as_deref() != Some(ath(expect.access_token).as_str()) {
        return Err(refuse(
            "the proof's ath is not the hash of this access token",
        ));
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(refuse("the proof's jti is missing or too long"));
    }
    let key = format!("{thumbprint} {target} {}", claims.jti);
    if !replay.first_use(&key, claims.iat + IAT_WINDOW + 1, expect.now) {
        return Err(refuse("the proof was already used"));
    }
    Ok(())
}

/// base64url(SHA-256(access token)): a proof's `ath` (§4.2).
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// The JOSE header as JSON (the typed header drops members we must inspect).
fn raw_header(jwt: &str) -> Option<Value> {
    let first = jwt.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(first).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.is_object().then_some(v)
}

/// RFC 7638: SHA-256 over the key's required members in lexicographic order, base64url.
pub fn thumbprint(jwk: &Value) -> Option<String> {
    let s = |m: &str| {
        jwk.get(m)
            .and_then(Value::as_str)
            .and_then(|v| serde_json::to_string(v).ok())
    };
    let canonical = match jwk.get("kty").and_then(Value::as_str)? {
        "EC" => format!(
            "{{\"crv\":{},\"kty\":\"EC\",\"x\":{},\"y\":{}}}",
            s("crv")?,
            s("x")?,
            s("y")?
        ),
        "RSA" => format!("{{\"e\":{},\"kty\":\"RSA\",\"n\":{}}}", s("e")?, s("n")?),
        "OKP" => format!(
            "{{\"crv\":{},\"kty\":\"OKP\",\"x\":{}}}",
            s("crv")?,
            s("x")?
        ),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// The `htu` comparison of §4.3 point 9: scheme and host compared without case, the
/// default port dropped, no query or fragment.
pub fn normalize_htu(u: &str) -> Option<String> {
    let url = url::Url::parse(u.trim()).ok()?;
    if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
        return None;
    }
    Some(format!(
        "{}{}",
        url.origin().ascii_serialization(),
        url.path()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1's example key and thumbprint.
    #[test]
    fn thumbprint_matches_rfc_7638() {
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(&jwk).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn htu_ignores_case_default_port_query_and_fragment() {
        let a = normalize_htu("HTTPS://API.example.com:443/orders?x=1#f").unwrap();
        assert_eq!(a, "https://api.example.com/orders");
        assert_ne!(normalize_htu("https://api.example.com/other"), Some(a));
        assert_eq!(normalize_htu("/orders"), None);
    }

    #[test]
    fn the_memory_store_accepts_each_key_once_and_fails_closed_when_full() {
        let r = MemoryReplay::new(2);
        assert!(r.first_use("a", 100, 10));
        assert!(!r.first_use("a", 100, 10));
        assert!(r.first_use("b", 100, 10));
        assert!(!r.first_use("c", 100, 10), "full of live entries");
        assert!(r.first_use("c", 300, 200), "expired entries make room");
    }
}
