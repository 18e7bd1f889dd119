//! Public keys that others present to us: the `jwk` header of a DPoP proof (RFC 9449
//! §4.2) and the JWK Sets of clients that authenticate with `private_key_jwt` (RFC 7523).
//!
//! Only asymmetric signature keys of the algorithms we accept: RSA (2048 bits or more)
//! for RS256 and PS256, P-256 for ES256, Ed25519 for EdDSA. A key carrying any private
//! member is refused outright: the party that sent it has exposed its private key, and
//! the JWK parser would otherwise drop those members silently (RFC 9449 §4.3 point 7).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

/// The signature algorithms we verify, strongest-first as advertised in discovery.
pub const SIGNING_ALGS: &[&str] = &["ES256", "EdDSA", "PS256", "RS256"];

/// Members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4;
/// RFC 8037 §2).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The most keys a client's set may hold.
pub const MAX_KEYS: usize = 20;

/// An accepted signature algorithm, by its JOSE name; `none`, HMAC and anything else is
/// `None`.
pub fn parse_alg(name: &str) -> Option<Algorithm> {
    match name {
        "ES256" => Some(Algorithm::ES256),
        "EdDSA" => Some(Algorithm::EdDSA),
        "PS256" => Some(Algorithm::PS256),
        "RS256" => Some(Algorithm::RS256),
        _ => None,
    }
}

/// `parse_alg`, narrowed under the FAPI 2.0 profile (§5.4.1: PS256, ES256 or EdDSA;
/// no RS256).
pub fn parse_alg_for(name: &str, fapi2: bool) -> Option<Algorithm> {
    parse_alg(name).filter(|a| !(fapi2 && *a == Algorithm::RS256))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rsa,
    P256,
    Ed25519,
}

/// A public signature key, checked.
#[derive(Clone)]
pub struct PublicKey {
    kind: Kind,
    pub kid: Option<String>,
    /// `alg` of the JWK, when it names one: the key is then for that algorithm only.
    alg: Option<Algorithm>,
    /// RFC 7638 thumbprint (SHA-256, base64url).
    pub thumbprint: String,
    pub key: DecodingKey,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("kind", &self.kind)
            .field("kid", &self.kid)
            .field("thumbprint", &self.thumbprint)
            .finish()
    }
}

impl PublicKey {
    /// A public key from its JSON. The error says what is wrong, without echoing key
    /// material.
    pub fn from_json(v: &Value) -> Result<PublicKey, String> {
        let obj = v.as_object().ok_or("a JWK must be a JSON object")?;
        if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
            return Err(format!(
                "the key has the private member {m:?}: only public keys are accepted"
            ));
        }
        if let Some(u) = obj.get("use")
            && u != "sig"
        {
            return Err("the key's \"use\" is not \"sig\"".into());
        }
        let jwk: Jwk =
            serde_json::from_value(v.clone()).map_err(|_| "not a valid JWK".to_string())?;
        let kind = match &jwk.algorithm {
            AlgorithmParameters::RSA(p) => {
                let n = URL_SAFE_NO_PAD
                    .decode(&p.n)
                    .map_err(|_| "the RSA modulus is not base64url")?;
                let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
                if bits < 2048 {
                    return Err("RSA keys must have at least 2048 bits".into());
                }
                Kind::Rsa
            }
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Kind::P256,
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                Kind::Ed25519
            }
            _ => {
                return Err("unsupported key type: use RSA, EC P-256 or OKP Ed25519".into());
            }
        };
        let alg = match obj.get("alg") {
            None => None,
            Some(a) => {
                let a = a
                    .as_str()
                    .and_then(parse_alg)
                    .ok_or("the key's \"alg\" is not one of ES256, EdDSA, PS256, RS256")?;
                Some(a)
            }
        };
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| "the key does not parse".to_string())?;
        let thumbprint = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| "the key has no thumbprint".to_string())?;
        let pk = PublicKey {
            kind,
            kid: jwk.common.key_id.clone(),
            alg,
            thumbprint,
            key,
        };
        if let Some(a) = alg
            && !pk.kind_fits(a)
        {
            return Err("the key's \"alg\" does not fit its type".into());
        }
        Ok(pk)
    }

    fn kind_fits(&self, alg: Algorithm) -> bool {
        matches!(
            (self.kind, alg),
            (Kind::Rsa, Algorithm::RS256 | Algorithm::PS256)
                | (Kind::P256, Algorithm::ES256)
                | (Kind::Ed25519, Algorithm::EdDSA)
        )
    }

    /// Whether this key may verify a signature made with `alg`.
    pub fn verifies(&self, alg: Algorithm) -> bool {
        self.kind_fits(alg) && self.alg.is_none_or(|a| a == alg)
    }
}

/// A JWK Set of public signature keys, as a client registers it: `{"keys": [...]}`, one
/// to `MAX_KEYS` keys, each as `PublicKey::from_json` accepts, `kid`s distinct.
pub fn parse_set(text: &str) -> Result<Vec<PublicKey>, String> {
    let v: Value = serde_json::from_str(text).map_err(|_| "not JSON".to_string())?;
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("a JWK Set is an object with a \"keys\" array")?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(format!("a JWK Set must hold 1 to {MAX_KEYS} keys"));
    }
    let mut out: Vec<PublicKey> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let pk = PublicKey::from_json(k).map_err(|e| format!("key {}: {e}", i + 1))?;
        if let Some(kid) = &pk.kid
            && out.iter().any(|o| o.kid.as_deref() == Some(kid))
        {
            return Err(format!("key {}: kid {kid:?} appears twice", i + 1));
        }
        out.push(pk);
    }
    Ok(out)
}

/// The JOSE header of a compact JWS, as raw JSON (the typed parser drops members it does
/// not know, and those are what must be checked here). At most `max` bytes of token; a
/// header with `crit` is refused.
pub fn raw_header(token: &str, max: usize) -> Option<serde_json::Map<String, Value>> {
    if token.len() > max || token.split('.').count() != 3 {
        return None;
    }
    let head = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(head).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        // RFC 7515 §4.1.11: we understand no extension, so a JWS that marks one critical
        // is invalid.
        Value::Object(m) if !m.contains_key("crit") => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ec() -> Value {
        // RFC 7638 §3.1's example is RSA; this is a fixed P-256 public key.
        json!({"kty":"EC","crv":"P-256",
               "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
               "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})
    }

    #[test]
    fn private_members_are_refused() {
        for m in PRIVATE_MEMBERS {
            let mut k = ec();
            k[*m] = json!("AAAA");
            let err = PublicKey::from_json(&k).unwrap_err();
            assert!(err.contains("private member"), "{m}: {err}");
        }
    }

    #[test]
    fn a_p256_key_verifies_es256_only() {
        let k = PublicKey::from_json(&ec()).unwrap();
        assert!(k.verifies(Algorithm::ES256));
        assert!(!k.verifies(Algorithm::RS256) && !k.verifies(Algorithm::EdDSA));
        assert_eq!(k.thumbprint.len(), 43);
    }

    #[test]
    fn symmetric_and_unknown_algorithms_are_not_accepted() {
        for a in ["none", "HS256", "RS384", "ES384", "", "es256"] {
            assert!(parse_alg(a).is_none(), "{a}");
        }
        let oct = json!({"kty":"oct","k":"c2VjcmV0"});
        assert!(PublicKey::from_json(&oct).is_err());
    }

    #[test]
    fn small_rsa_keys_are_refused() {
        let small = json!({"kty":"RSA","e":"AQAB","n": URL_SAFE_NO_PAD.encode([0xc5u8; 128])});
        let err = PublicKey::from_json(&small).unwrap_err();
        assert!(err.contains("2048"), "{err}");
    }

    #[test]
    fn sets_need_distinct_kids() {
        let mut a = ec();
        a["kid"] = json!("k1");
        let set = json!({"keys":[a.clone(), a]}).to_string();
        assert!(parse_set(&set).unwrap_err().contains("twice"));
        assert!(parse_set("{\"keys\":[]}").is_err());
    }
}
