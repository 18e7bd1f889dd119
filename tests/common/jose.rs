//! Keys held by a client in the tests, and what it signs with them: DPoP proofs
//! (RFC 9449 §4.2) and `private_key_jwt` assertions (RFC 7523 §2.2), built with
//! jsonwebtoken as a client library would.
#![allow(dead_code)]

use jsonwebtoken::{Algorithm, Header, encode};
use portcullis::keys::{KeyAlg, Material, material};
use serde_json::{Value, json};

pub struct ClientKey {
    pub m: Material,
}

impl ClientKey {
    pub fn new(alg: KeyAlg) -> ClientKey {
        let pem = material::generate(alg).expect("key");
        ClientKey {
            m: material::from_pem(alg, &pem).expect("parses"),
        }
    }

    pub fn es256() -> ClientKey {
        ClientKey::new(KeyAlg::ES256)
    }

    pub fn alg(&self) -> Algorithm {
        self.m.alg.jwt()
    }

    /// The public JWK (kty, kid, use, alg and the key parameters).
    pub fn jwk(&self) -> Value {
        self.m.public_jwk.clone()
    }

    /// RFC 7638 thumbprint: what a DPoP-bound token's `cnf.jkt` names.
    pub fn jkt(&self) -> String {
        self.m.kid.clone()
    }

    pub fn kid(&self) -> String {
        self.m.kid.clone()
    }

    /// A JWK Set of this key alone.
    pub fn jwks(&self) -> String {
        json!({ "keys": [self.jwk()] }).to_string()
    }

    pub fn sign(&self, header: &Header, claims: &Value) -> String {
        encode(header, claims, &self.m.encoding).expect("signs")
    }

    /// A DPoP proof for `htm` `htu` at `iat`, with `ath` for `access_token`.
    pub fn dpop(&self, htm: &str, htu: &str, iat: i64, access_token: Option<&str>) -> String {
        let mut claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": htm,
            "htu": htu,
            "iat": iat,
        });
        if let Some(t) = access_token {
            claims["ath"] = portcullis::oauth::dpop::ath(t).into();
        }
        self.dpop_with(&claims, |_| {})
    }

    /// A DPoP proof with these claims, its header adjusted by `adjust`.
    pub fn dpop_with(&self, claims: &Value, adjust: impl FnOnce(&mut Header)) -> String {
        let mut header = Header::new(self.alg());
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(serde_json::from_value(self.jwk()).expect("jwk"));
        adjust(&mut header);
        self.sign(&header, claims)
    }

    /// A client assertion for `client_id`, addressed to `aud`, valid from `now` for
    /// 60 seconds.
    pub fn assertion(&self, client_id: &str, aud: Value, now: i64) -> String {
        self.assertion_with(&json!({
            "iss": client_id,
            "sub": client_id,
            "aud": aud,
            "iat": now,
            "exp": now + 60,
            "jti": uuid::Uuid::new_v4().to_string(),
        }))
    }

    pub fn assertion_with(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg());
        header.kid = Some(self.kid());
        self.sign(&header, claims)
    }
}

/// The form fields of `private_key_jwt` authentication.
pub fn assertion_fields(assertion: &str) -> [(&'static str, String); 2] {
    [
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
        ),
        ("client_assertion", assertion.to_string()),
    ]
}

/// The claims of a JWT, unverified (for asserting what we issued).
pub fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}
