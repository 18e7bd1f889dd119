//! The issuer: who we are in tokens (`iss`, the default audience), and the signing of
//! access tokens (RFC 9068) and ID tokens (OpenID Connect Core §2) with the live key set.
//! Grants decide what a token says; this is where it is written and signed, and where
//! the token response (RFC 6749 §5.1) is put together.

use crate::domain::signin::SignInMethod;
use std::sync::Arc;

use serde::Serialize;

use super::clients::Client;
use super::error::{ErrorCode, OAuthError};
use super::tokens::{
    AccessClaims, Audience, Confirmation, IdClaims, sign_access_token, sign_id_token,
};
use crate::domain::resource;
use crate::domain::scope::Scope;
use crate::keys::{KeySet, Keys, Material};

pub struct Issuer {
    /// The issuer identifier (RFC 8414 §2).
    pub id: String,
    /// `aud` of tokens asked for without a resource indicator.
    pub default_audience: String,
    keys: Arc<Keys>,
}

/// A signed access token and what the response says about it.
pub struct Minted {
    pub token: String,
    pub expires_in: i64,
    pub scope: Option<String>,
    /// `Bearer`, or `DPoP` for a token bound to a key (RFC 9449 §5).
    pub token_type: &'static str,
}

/// RFC 6749 §5.1 (and RFC 8693 §2.2.1 for exchanges). `Debug` is not derived: it holds
/// the tokens.
#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

impl From<Minted> for TokenResponse {
    fn from(m: Minted) -> TokenResponse {
        TokenResponse {
            access_token: m.token,
            token_type: m.token_type,
            expires_in: m.expires_in,
            scope: m.scope,
            refresh_token: None,
            id_token: None,
            issued_token_type: None,
        }
    }
}

/// What an access token says, before it is signed.
pub struct AccessToken<'a> {
    pub client_id: &'a str,
    pub subject: &'a str,
    pub scope: &'a Scope,
    pub aud: Audience,
    pub jti: String,
    pub now: i64,
    pub ttl: i64,
    /// The DPoP key to bind the token to (`cnf.jkt`).
    pub jkt: Option<String>,
    /// When and how the person signed in, for a token that acts for one (RFC 9068
    /// §2.2.1: `auth_time` and `acr`).
    pub sign_in: Option<(i64, SignInMethod)>,
}

/// What an ID token says about the sign-in (OpenID Connect Core §2).
pub struct IdToken {
    pub subject: String,
    pub auth_time: i64,
    /// How the person signed in (`amr` and `acr`).
    pub method: SignInMethod,
    pub nonce: Option<String>,
    /// The browser session, for logout (`sid`).
    pub sid: Option<String>,
    pub now: i64,
    pub ttl: i64,
}

impl Issuer {
    pub fn new(id: String, default_audience: String, keys: Arc<Keys>) -> Issuer {
        Issuer {
            id,
            default_audience,
            keys,
        }
    }

    /// The key set as it is now (rotations swap it whole).
    pub fn keys(&self) -> Arc<KeySet> {
        self.keys.current()
    }

    /// RFC 8707 §2: the token is for the resources asked for, each of which the client
    /// must be registered for; otherwise for the default audience.
    pub fn audience(&self, client: &Client, resources: &[String]) -> Result<Audience, OAuthError> {
        if resources.is_empty() {
            return Ok(Audience::One(self.default_audience.clone()));
        }
        for r in resources {
            if !resource::is_valid(r) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidTarget,
                    "resource must be an absolute URI without a fragment",
                ));
            }
            if !client.resources.iter().any(|c| c == r) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidTarget,
                    "the client is not registered for the requested resource",
                ));
            }
        }
        Ok(Audience::from_vec(resources.to_vec()))
    }

    /// Sign an access token with the access-token key.
    pub fn access_token(&self, t: AccessToken<'_>) -> Result<Minted, OAuthError> {
        // Our UserInfo endpoint accepts only tokens naming the issuer (RFC 9068 §4). An
        // `openid` token for the default audience is for it too; a token asked for other
        // resources (RFC 8707) stays limited to them, so they cannot replay it there.
        let aud = if t.scope.contains("openid") && t.aud.contains(&self.default_audience) {
            t.aud.with(&self.id)
        } else {
            t.aud
        };
        let scope = (!t.scope.is_empty()).then(|| t.scope.to_string());
        let claims = AccessClaims {
            iss: self.id.clone(),
            sub: t.subject.to_string(),
            aud,
            exp: t.now + t.ttl,
            iat: t.now,
            jti: t.jti,
            client_id: t.client_id.to_string(),
            scope: scope.clone(),
            nbf: None,
            cnf: t.jkt.clone().map(|jkt| Confirmation { jkt }),
            auth_time: t.sign_in.map(|(at, _)| at),
            acr: t.sign_in.map(|(_, m)| m.acr().as_str().to_string()),
        };
        let keys = self.keys.current();
        let token = sign_access_token(keys.signing(), &claims).map_err(OAuthError::server)?;
        Ok(Minted {
            token,
            expires_in: t.ttl,
            scope,
            token_type: if t.jkt.is_some() { "DPoP" } else { "Bearer" },
        })
    }

    /// The active key of the client's ID-token algorithm (`id_token_signed_response_alg`).
    /// Checked before a code is spent: a client whose algorithm has no active key cannot be
    /// served now, and should be able to retry with the same code once an operator adds
    /// one (`keys rotate --alg`).
    pub fn id_token_key<'k>(keys: &'k KeySet, client: &Client) -> Result<&'k Material, OAuthError> {
        let alg = client.id_token_alg;
        keys.active(alg).ok_or_else(|| {
            OAuthError::server(format!(
                "no active {} key for this client's ID tokens",
                alg.as_str()
            ))
        })
    }

    /// Sign an ID token for `client` that accompanies `access_token`; `at_hash` uses the
    /// hash of the signing key's algorithm.
    pub fn id_token(
        &self,
        client: &Client,
        access_token: &str,
        t: IdToken,
    ) -> Result<String, OAuthError> {
        let keys = self.keys.current();
        let key = Self::id_token_key(&keys, client)?;
        let claims = IdClaims {
            iss: self.id.clone(),
            sub: t.subject,
            aud: client.client_id.clone(),
            exp: t.now + t.ttl,
            iat: t.now,
            auth_time: t.auth_time,
            nonce: t.nonce,
            at_hash: super::tokens::at_hash(key.alg, access_token),
            sid: t.sid,
            amr: t.method.amr().into_iter().map(str::to_string).collect(),
            acr: Some(t.method.acr().as_str().to_string()),
        };
        sign_id_token(key, &claims).map_err(OAuthError::server)
    }
}
