//! Access tokens: JWTs in the RFC 9068 profile, signed with the active key.

use jsonwebtoken::{Header, encode};
use serde::{Deserialize, Serialize};

use crate::keys::{KeyAlg, KeySet, Material};

/// `aud` is a string for one audience and an array for several (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn from_vec(mut v: Vec<String>) -> Audience {
        if v.len() == 1 {
            Audience::One(v.remove(0))
        } else {
            Audience::Many(v)
        }
    }

    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(a) => a == aud,
            Audience::Many(v) => v.iter().any(|a| a == aud),
        }
    }

    /// This audience and `aud`, unless it already has it.
    pub fn with(self, aud: &str) -> Audience {
        if self.contains(aud) {
            return self;
        }
        match self {
            Audience::One(a) => Audience::Many(vec![a, aud.to_string()]),
            Audience::Many(mut v) => {
                v.push(aud.to_string());
                Audience::from_vec(v)
            }
        }
    }
}

/// RFC 9068 §2.2 claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scope: Option<String>,
    /// Never set by us; read so that a token carrying one is held to it (RFC 7519 §4.1.5).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nbf: Option<i64>,
    /// RFC 9449 §6.1: the DPoP key the token is bound to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cnf: Option<Confirmation>,
    /// RFC 9068 §2.2.1: when the person signed in, for a token that acts for one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub auth_time: Option<i64>,
    /// RFC 9068 §2.2.1: the authentication context class of that sign-in.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acr: Option<String>,
}

/// RFC 7800 `cnf`, with the RFC 9449 §6.1 member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

impl AccessClaims {
    /// The thumbprint of the DPoP key this token is bound to, if it is.
    pub fn jkt(&self) -> Option<&str> {
        self.cnf.as_ref().map(|c| c.jkt.as_str())
    }
}

/// RFC 9068 §2.1: the `typ` header of an access token.
pub const AT_JWT: &str = "at+jwt";

pub fn sign_access_token(
    key: &Material,
    claims: &AccessClaims,
) -> jsonwebtoken::errors::Result<String> {
    let mut header = Header::new(key.alg.jwt());
    header.typ = Some(AT_JWT.into());
    header.kid = Some(key.kid.clone());
    encode(&header, claims, &key.encoding)
}

/// A unique token id: 122 random bits.
pub fn new_jti() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// OpenID Connect Core §2 ID token claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub nonce: Option<String>,
    pub at_hash: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sid: Option<String>,
    /// RFC 8176 method references: how the person signed in.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub amr: Vec<String>,
    /// The authentication context class the sign-in reached (`urn:portcullis:acr:…`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acr: Option<String>,
}

pub fn sign_id_token(key: &Material, claims: &IdClaims) -> jsonwebtoken::errors::Result<String> {
    let mut header = Header::new(key.alg.jwt());
    header.typ = Some("JWT".into());
    header.kid = Some(key.kid.clone());
    encode(&header, claims, &key.encoding)
}

/// An ID token we issued, presented back as `id_token_hint` (RP-Initiated Logout 1.0
/// §2): our key by `kid` with that key's algorithm, our issuer. Expiry is not checked,
/// since the spec expects hints from sessions whose ID token has long expired; a retired
/// key keeps verifying hints (unpublished) for as long as sessions live.
pub fn verify_id_token_hint(keys: &KeySet, issuer: &str, token: &str) -> Option<IdClaims> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let key = keys.find_for_hint(header.kid.as_deref()?)?;
    // An access token (`at+jwt`) is not an ID token.
    if header.alg != key.alg.jwt() || header.typ.as_deref() != Some("JWT") {
        return None;
    }
    let mut v = jsonwebtoken::Validation::new(key.alg.jwt());
    v.set_issuer(&[issuer]);
    v.validate_aud = false;
    v.validate_exp = false;
    v.set_required_spec_claims(&["iss", "sub", "aud"]);
    jsonwebtoken::decode::<IdClaims>(token, &key.decoding, &v)
        .ok()
        .map(|d| d.claims)
}

/// OpenID Connect Core §3.1.3.6: the left half of the hash of the access token,
/// base64url-encoded, with the hash of the ID token's algorithm: SHA-256 for RS256 and
/// ES256; SHA-512 for EdDSA over Ed25519 (OpenID's convention for that curve).
pub fn at_hash(alg: KeyAlg, access_token: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256, Sha512};
    let enc = |half: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(half);
    match alg {
        KeyAlg::EdDSA => enc(&Sha512::digest(access_token.as_bytes())[..32]),
        KeyAlg::RS256 | KeyAlg::ES256 => enc(&Sha256::digest(access_token.as_bytes())[..16]),
    }
}
