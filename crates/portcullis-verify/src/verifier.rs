//! `Verifier`: from an `Authorization` header (and a `DPoP` header) to typed claims, or
//! the refusal to answer with.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};

use crate::claims::Claims;
use crate::dpop::{self, MemoryReplay, ReplayStore};
use crate::keys::KeyCache;
use crate::rejection::Rejection;

/// Why a `Verifier` could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the issuer's discovery document cannot be read: {0}")]
    Discovery(String),
    #[error("the discovery document names issuer {found:?}, not {expected:?}")]
    IssuerMismatch { expected: String, found: String },
}

/// What a request presented: its `Authorization` and `DPoP` headers, its method, and its
/// URL as the client addressed it (behind a proxy: the public URL, not the Host header).
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub authorization: Option<&'a str>,
    pub dpop: Option<&'a str>,
    pub method: &'a str,
    pub url: &'a str,
}

/// Verifies the access tokens of one issuer for one audience (this API).
pub struct Verifier {
    issuer: String,
    audience: String,
    keys: KeyCache,
    leeway: u64,
    replay: Arc<dyn ReplayStore>,
}

impl Verifier {
    /// Read the issuer's discovery document (OpenID Connect Discovery / RFC 8414) for its
    /// `jwks_uri`; the document must name this issuer exactly.
    pub async fn discover(issuer: &str, audience: &str) -> Result<Verifier, SetupError> {
        let http = http();
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let doc: serde_json::Value = http
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| SetupError::Discovery(e.to_string()))?
            .json()
            .await
            .map_err(|e| SetupError::Discovery(e.to_string()))?;
        let found = doc["issuer"].as_str().unwrap_or_default();
        if found != issuer {
            return Err(SetupError::IssuerMismatch {
                expected: issuer.to_string(),
                found: found.to_string(),
            });
        }
        let jwks_uri = doc["jwks_uri"]
            .as_str()
            .ok_or_else(|| SetupError::Discovery("no jwks_uri".into()))?;
        Ok(Verifier::with_jwks_uri(issuer, jwks_uri, audience))
    }

    /// A verifier that reads the issuer's keys at `jwks_uri` (no discovery).
    pub fn with_jwks_uri(issuer: &str, jwks_uri: &str, audience: &str) -> Verifier {
        Verifier {
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            keys: KeyCache::new(http(), jwks_uri.to_string()),
            leeway: 30,
            replay: Arc::new(MemoryReplay::default()),
        }
    }

    /// How far `exp`, `nbf` and `iat` may be off (seconds; 30 by default).
    pub fn leeway(mut self, seconds: u64) -> Verifier {
        self.leeway = seconds;
        self
    }

    /// Remember used DPoP proofs in `store` (shared by several instances of the API)
    /// rather than in this process's memory.
    pub fn replay_store(mut self, store: Arc<dyn ReplayStore>) -> Verifier {
        self.replay = store;
        self
    }

    /// How many times the key set was fetched.
    pub fn key_fetches(&self) -> u64 {
        self.keys.fetches()
    }

    /// Verify a request's credentials: a Bearer token, or a DPoP-bound token with its
    /// proof (RFC 9449 §7.1). A token bound to a key is refused as Bearer; a proof must
    /// accompany it, for this method and URL.
    pub async fn verify(&self, req: &Presented<'_>) -> Result<Claims, Rejection> {
        let header = req.authorization.ok_or(Rejection::Missing)?;
        let (scheme, token) = header.split_once(' ').ok_or(Rejection::InvalidRequest(
            "the Authorization header is malformed",
        ))?;
        let token = token.trim();
        let dpop_scheme = scheme.eq_ignore_ascii_case("DPoP");
        if !dpop_scheme && !scheme.eq_ignore_ascii_case("Bearer") {
            return Err(Rejection::Missing);
        }
        let claims = self.verify_jwt(token).await?;
        match (claims.jkt(), dpop_scheme) {
            (None, false) => Ok(claims),
            (None, true) => Err(Rejection::InvalidToken(
                "the token is not bound to a key: send it as Bearer",
            )),
            (Some(_), false) => Err(Rejection::InvalidToken(
                "the token is bound to a key: send it with the DPoP scheme and a proof",
            )),
            (Some(jkt), true) => {
                let proof = req
                    .dpop
                    .ok_or(Rejection::InvalidDpopProof("a DPoP proof is required"))?;
                let expect = dpop::Expect {
                    method: req.method,
                    url: req.url,
                    access_token: token,
                    jkt,
                    now: now(),
                };
                dpop::verify(proof, &expect, self.replay.as_ref())?;
                Ok(claims)
            }
        }
    }

    /// Verify an access token alone (RFC 9068): its type, our issuer, this audience,
    /// its times, its signature with the algorithm of the key that signed it.
    pub async fn verify_jwt(&self, token: &str) -> Result<Claims, Rejection> {
        let header =
            decode_header(token).map_err(|_| Rejection::InvalidToken("the token is not a JWT"))?;
        // RFC 9068 §4: only `at+jwt` (an ID token is no access token).
        let typ = header.typ.as_deref().unwrap_or("");
        if !typ.eq_ignore_ascii_case("at+jwt") && !typ.eq_ignore_ascii_case("application/at+jwt") {
            return Err(Rejection::InvalidToken(
                "the token is not an access token (typ at+jwt)",
            ));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or(Rejection::InvalidToken("the token names no key"))?;
        let key = self
            .keys
            .get(kid)
            .await
            .map_err(|()| Rejection::Unavailable)?
            .ok_or(Rejection::InvalidToken(
                "the token's key is not the issuer's",
            ))?;
        // The key says which algorithm; the token's header must agree (never the other
        // way round: `none`, or HMAC with the public key as secret).
        if header.alg != key.alg {
            return Err(Rejection::InvalidToken(
                "the token's algorithm is not its key's",
            ));
        }
        let mut v = Validation::new(key.alg);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.leeway = self.leeway;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let claims = decode::<Claims>(token, &key.key, &v)
            .map_err(|e| {
                Rejection::InvalidToken(match e.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::ImmatureSignature => "the token is not valid yet",
                    ErrorKind::InvalidAudience => "the token is for another audience",
                    ErrorKind::InvalidIssuer => "the token is from another issuer",
                    ErrorKind::InvalidSignature => "the token's signature is invalid",
                    _ => "the token is malformed",
                })
            })?
            .claims;
        if claims.iat > now() + self.leeway as i64 {
            return Err(Rejection::InvalidToken(
                "the token was issued in the future",
            ));
        }
        Ok(claims)
    }
}

/// Refuse unless the token grants `scope` (403 `insufficient_scope`, RFC 6750 §3.1).
pub fn require_scope(claims: &Claims, scope: &str) -> Result<(), Rejection> {
    if claims.has_scope(scope) {
        Ok(())
    } else {
        Err(Rejection::InsufficientScope(scope.to_string()))
    }
}

/// Refuse unless the person signed in with one of `acr_values` (any, when empty) no more
/// than `max_age` seconds ago (RFC 9470 §3: 401 `insufficient_user_authentication`, and
/// the client sends the person to sign in again with these in the request).
pub fn require_sign_in(
    claims: &Claims,
    acr_values: &[&str],
    max_age: Option<Duration>,
) -> Result<(), Rejection> {
    let acr_ok = acr_values.is_empty()
        || claims
            .acr
            .as_deref()
            .is_some_and(|a| acr_values.contains(&a));
    let fresh = match max_age {
        None => true,
        Some(m) => claims
            .auth_time
            .is_some_and(|t| now() - t <= m.as_secs() as i64),
    };
    if acr_ok && fresh {
        return Ok(());
    }
    Err(Rejection::InsufficientUserAuthentication {
        acr_values: (!acr_values.is_empty()).then(|| acr_values.join(" ")),
        max_age: max_age.map(|m| m.as_secs() as i64),
    })
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("portcullis-verify/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
