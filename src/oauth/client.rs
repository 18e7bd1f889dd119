//! Registered clients: what a client is allowed to do, validated once at registration.

use std::fmt;
use std::str::FromStr;

use std::sync::Arc;

use super::jwk::{self, PublicKey};
use super::redirect_uri::{self, RedirectUriError};
use crate::domain::resource;
use crate::domain::scope::{Scope, ScopeSyntaxError};
use crate::keys::KeyAlg;

/// Grant types this server implements. Registration refuses anything else, and
/// discovery advertises exactly this list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
    RefreshToken,
    /// RFC 8693, for personal tokens. Open to callers without a client; a client that
    /// identifies itself must be registered for it.
    TokenExchange,
}

impl GrantType {
    /// RFC 8693 §2.1.
    pub const TOKEN_EXCHANGE_URN: &'static str = "urn:ietf:params:oauth:grant-type:token-exchange";

    pub const ALL: &'static [GrantType] = &[
        GrantType::AuthorizationCode,
        GrantType::ClientCredentials,
        GrantType::RefreshToken,
        GrantType::TokenExchange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::RefreshToken => "refresh_token",
            GrantType::TokenExchange => GrantType::TOKEN_EXCHANGE_URN,
        }
    }
}

impl FromStr for GrantType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        GrantType::ALL
            .iter()
            .copied()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
                format!(
                    "unsupported grant type {s:?} (supported: {})",
                    known.join(", ")
                )
            })
    }
}

/// Token endpoint authentication methods (RFC 7591 §2, `token_endpoint_auth_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// RFC 7523 §2.2, OpenID Connect Core §9: a JWT signed with the client's key.
    PrivateKeyJwt,
    None,
}

impl AuthMethod {
    pub const ALL: &'static [AuthMethod] = &[
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
        AuthMethod::None,
    ];
    /// The methods that prove a confidential client (introspection, revocation).
    pub const CONFIDENTIAL: &'static [AuthMethod] = &[
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
    ];
    /// The methods a confidential client may use.
    pub const SECRET: &'static [AuthMethod] =
        &[AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost];

    /// How much a method proves: none, a shared secret, a private key. A client that
    /// registered itself may move up, never down (RFC 7592 updates, `registration`).
    pub fn strength(self) -> u8 {
        match self {
            AuthMethod::None => 0,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => 1,
            AuthMethod::PrivateKeyJwt => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
        }
    }
}

impl FromStr for AuthMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        AuthMethod::ALL
            .iter()
            .copied()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unsupported auth method {s:?}"))
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a `private_key_jwt` client's public keys are.
#[derive(Debug, Clone)]
pub enum ClientKeys {
    /// No keys: the client uses a secret, or none.
    None,
    /// Registered with the client (`--jwks-file`), parsed and checked.
    Set(Arc<Vec<PublicKey>>),
    /// Published by the client at this URL (`--jwks-uri`), fetched when needed.
    Uri(String),
}

/// What a client says about itself (RFC 7591 §2): shown to people as text, never
/// fetched. Every URL is https.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientMetadata {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tos_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub contacts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub software_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub software_version: Option<String>,
}

/// Whose tokens a client may introspect (RFC 7662 §4: the server decides which
/// protected resources may learn about which tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Introspection {
    /// Any token: the operator's clients (resource servers), and clients registered with
    /// an initial access token that allows it.
    Any,
    /// Only tokens issued to itself; any other is `active: false`.
    Own,
}

/// How a client came to be.
pub const BY_OPERATOR: &str = "operator";
pub const BY_OPEN_REGISTRATION: &str = "open";

/// A registered client as the protocol sees it.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    /// SHA-256 of the secret; `None` for public clients and `private_key_jwt` ones.
    pub secret_hash: Option<String>,
    /// The keys of a `private_key_jwt` client.
    pub keys: ClientKeys,
    /// RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request needs a proof.
    pub dpop_bound: bool,
    /// RFC 9126 §6 `require_pushed_authorization_requests`.
    pub require_par: bool,
    /// `operator`, `registration-token <id>` or `open`.
    pub registered_by: String,
    /// Hash of the registration access token of a self-registered client (RFC 7592).
    pub registration_token_hash: Option<String>,
    pub metadata: ClientMetadata,
    /// Set by `client disable`: the protocol treats the client as unknown.
    pub disabled_at: Option<i64>,
    /// Access tokens issued at or before this moment are dead (it was disabled then).
    pub tokens_not_before: Option<i64>,
    pub introspection: Introspection,
    pub auth_methods: Vec<AuthMethod>,
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<String>,
    pub scope: Scope,
    /// RFC 8707 resource indicators this client may ask tokens for.
    pub resources: Vec<String>,
    /// Where RP-initiated logout may send people afterwards (exact match).
    pub post_logout_redirect_uris: Vec<String>,
    /// `id_token_signed_response_alg` (OpenID Connect Registration §2); RS256 by default.
    pub id_token_alg: KeyAlg,
    pub created_at: i64,
}

impl Client {
    /// Whether it registered itself (RFC 7591) rather than being created by an operator.
    pub fn self_registered(&self) -> bool {
        self.registered_by != BY_OPERATOR
    }

    /// A client without credentials (`token_endpoint_auth_method=none`), relying on PKCE.
    pub fn is_public(&self) -> bool {
        self.auth_methods.contains(&AuthMethod::None)
    }

    pub fn allows_grant(&self, g: GrantType) -> bool {
        self.grant_types.contains(&g)
    }

    pub fn allows_auth_method(&self, m: AuthMethod) -> bool {
        self.auth_methods.contains(&m)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("the client name must not be empty")]
    EmptyName,
    #[error(
        "the client name: at most 100 characters, none of them control or invisible formatting characters"
    )]
    NameText,
    #[error("{0}")]
    GrantType(String),
    #[error("{0}")]
    AuthMethod(String),
    #[error(transparent)]
    RedirectUri(#[from] RedirectUriError),
    #[error(transparent)]
    Scope(#[from] ScopeSyntaxError),
    #[error("resource {0:?} must be an absolute URI without a fragment (RFC 8707 §2)")]
    Resource(String),
    #[error("a public client authenticates with 'none' only")]
    PublicWithSecretMethod,
    #[error("auth method 'none' is only for public clients (--public)")]
    ConfidentialWithNone,
    #[error(
        "the {0} grant needs at least one --redirect-uri (a public client signs people in: give the URI they return to)"
    )]
    MissingRedirectUri(&'static str),
    #[error("client_credentials is only for confidential clients")]
    PublicClientCredentials,
    #[error("ID token algorithm {0:?}: use RS256, ES256 or EdDSA")]
    IdTokenAlg(String),
    #[error("a client named in a token exchange must authenticate: not for --public clients")]
    PublicTokenExchange,
    #[error(
        "refresh_token needs the authorization_code grant too (refresh tokens come from sign-ins)"
    )]
    RefreshWithoutCode,
    #[error(
        "private_key_jwt needs the client's public keys: --jwks-file or --jwks-uri (one of them)"
    )]
    MissingKeys,
    #[error(
        "keys (--jwks-file, --jwks-uri) are for private_key_jwt clients (--auth-method private_key_jwt)"
    )]
    KeysWithoutPrivateKeyJwt,
    #[error("private_key_jwt cannot be combined with a client secret method")]
    PrivateKeyJwtWithSecret,
    #[error("JWK Set: {0}")]
    Jwks(String),
    #[error(
        "jwks_uri {0:?}: must be an https URL (http only for loopback hosts), without fragment or credentials"
    )]
    JwksUri(String),
    #[error("{0}: must be an https URL without credentials")]
    MetadataUrl(&'static str),
    #[error("{0}: too long or not printable text")]
    MetadataText(&'static str),
}

/// What an operator asks for at `client create`, before validation.
#[derive(Debug, Clone, Default)]
pub struct ClientRequest {
    pub name: String,
    pub grant_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub scope: Option<String>,
    pub public: bool,
    pub auth_methods: Vec<String>,
    pub resources: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// `RS256` (the default), `ES256` or `EdDSA`.
    pub id_token_alg: Option<String>,
    /// A JWK Set of public keys, as JSON text (`private_key_jwt`).
    pub jwks: Option<String>,
    /// Where the client publishes its JWK Set (`private_key_jwt`).
    pub jwks_uri: Option<String>,
    pub dpop_bound: bool,
    pub require_par: bool,
    /// Self-description (dynamic registration); URLs must be https.
    pub metadata: ClientMetadata,
}

/// A validated registration, ready to be stored.
#[derive(Debug, Clone)]
pub struct ValidClientRequest {
    pub name: String,
    pub public: bool,
    pub auth_methods: Vec<AuthMethod>,
    pub grant_types: Vec<GrantType>,
    pub redirect_uris: Vec<String>,
    pub scope: Scope,
    pub resources: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub id_token_alg: KeyAlg,
    /// The JWK Set as stored (compact JSON), checked.
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub dpop_bound: bool,
    pub require_par: bool,
    pub metadata: ClientMetadata,
}

/// Descriptive metadata, checked: https URLs without credentials (never fetched, shown
/// as text), short printable strings.
fn validate_metadata(m: ClientMetadata) -> Result<ClientMetadata, RegistrationError> {
    let url = |field: &'static str, v: &Option<String>| -> Result<(), RegistrationError> {
        if let Some(u) = v {
            // As typed, not only as parsed: the parser reads `https:///x` as host `x`,
            // which a person would not see in the text.
            let ok = u.len() <= 2048
                && !u.chars().any(crate::escape::dangerous)
                && u.get(..8)
                    .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
                && !u[8..].starts_with('/')
                && !u.contains('#')
                && url::Url::parse(u).is_ok_and(|p| {
                    p.scheme() == "https"
                        && p.host().is_some()
                        && p.username().is_empty()
                        && p.password().is_none()
                });
            if !ok {
                return Err(RegistrationError::MetadataUrl(field));
            }
        }
        Ok(())
    };
    url("client_uri", &m.client_uri)?;
    url("logo_uri", &m.logo_uri)?;
    url("tos_uri", &m.tos_uri)?;
    url("policy_uri", &m.policy_uri)?;
    let text = |field: &'static str, v: &str| -> Result<(), RegistrationError> {
        if v.len() > 256 || v.chars().any(crate::escape::dangerous) {
            return Err(RegistrationError::MetadataText(field));
        }
        Ok(())
    };
    if m.contacts.len() > 10 {
        return Err(RegistrationError::MetadataText("contacts"));
    }
    for c in &m.contacts {
        text("contacts", c)?;
    }
    if let Some(v) = &m.software_id {
        text("software_id", v)?;
    }
    if let Some(v) = &m.software_version {
        text("software_version", v)?;
    }
    Ok(m)
}

/// A `jwks_uri` we will fetch: https, or http to a loopback host (tests, a local
/// proxy); no fragment, no credentials in it.
pub fn validate_jwks_uri(u: &str) -> Result<(), RegistrationError> {
    let bad = || RegistrationError::JwksUri(u.to_string());
    // As for redirect URIs: nothing a terminal or a log line would act on.
    if u.len() > 2048 || u.chars().any(crate::escape::dangerous) {
        return Err(bad());
    }
    let url = url::Url::parse(u).map_err(|_| bad())?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !scheme_ok
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(bad());
    }
    Ok(())
}

impl ClientRequest {
    pub fn validate(self) -> Result<ValidClientRequest, RegistrationError> {
        let name = self.name.trim().to_string();
        if name.is_empty() {
            return Err(RegistrationError::EmptyName);
        }
        // People read it on the consent page and operators in `client show`.
        if name.chars().count() > 100 || name.chars().any(crate::escape::dangerous) {
            return Err(RegistrationError::NameText);
        }
        let mut grant_types = Vec::new();
        for g in &self.grant_types {
            let g: GrantType = g.parse().map_err(RegistrationError::GrantType)?;
            if !grant_types.contains(&g) {
                grant_types.push(g);
            }
        }
        if grant_types.is_empty() && self.public && self.redirect_uris.is_empty() {
            // A public client can only sign people in, which needs somewhere to return.
            return Err(RegistrationError::MissingRedirectUri("authorization_code"));
        }
        if grant_types.is_empty() {
            // A client with redirect URIs signs people in; one without is a service.
            grant_types.push(if self.redirect_uris.is_empty() {
                GrantType::ClientCredentials
            } else {
                GrantType::AuthorizationCode
            });
        }
        let mut auth_methods = Vec::new();
        for m in &self.auth_methods {
            let m: AuthMethod = m.parse().map_err(RegistrationError::AuthMethod)?;
            if !auth_methods.contains(&m) {
                auth_methods.push(m);
            }
        }
        if auth_methods.is_empty() {
            // RFC 7591 §2 makes client_secret_basic the default; we also accept
            // client_secret_post unless the operator narrows it with --auth-method.
            auth_methods = if self.public {
                vec![AuthMethod::None]
            } else if self.jwks.is_some() || self.jwks_uri.is_some() {
                // Keys given: they are how the client authenticates.
                vec![AuthMethod::PrivateKeyJwt]
            } else {
                AuthMethod::SECRET.to_vec()
            };
        }
        if self.public && auth_methods.iter().any(|m| *m != AuthMethod::None) {
            return Err(RegistrationError::PublicWithSecretMethod);
        }
        if !self.public && auth_methods.contains(&AuthMethod::None) {
            return Err(RegistrationError::ConfidentialWithNone);
        }
        if self.public && grant_types.contains(&GrantType::ClientCredentials) {
            return Err(RegistrationError::PublicClientCredentials);
        }
        if self.public && grant_types.contains(&GrantType::TokenExchange) {
            return Err(RegistrationError::PublicTokenExchange);
        }
        let key_based = auth_methods.contains(&AuthMethod::PrivateKeyJwt);
        if key_based && auth_methods.iter().any(|m| AuthMethod::SECRET.contains(m)) {
            return Err(RegistrationError::PrivateKeyJwtWithSecret);
        }
        let jwks = match (&self.jwks, &self.jwks_uri, key_based) {
            (Some(_), Some(_), _) | (None, None, true) => {
                return Err(RegistrationError::MissingKeys);
            }
            (Some(_), None, false) | (None, Some(_), false) => {
                return Err(RegistrationError::KeysWithoutPrivateKeyJwt);
            }
            (Some(text), None, true) => {
                jwk::parse_set(text).map_err(RegistrationError::Jwks)?;
                // Stored compact, as parsed.
                let v: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| RegistrationError::Jwks(e.to_string()))?;
                Some(v.to_string())
            }
            (None, Some(uri), true) => {
                validate_jwks_uri(uri)?;
                None
            }
            (None, None, false) => None,
        };
        let redirect_uris = unique_redirect_uris(
            self.redirect_uris,
            redirect_uri::AUTHORIZATION_RESPONSE_PARAMETERS,
        )?;
        // Same rules as redirect URIs: absolute, no fragment, https except loopback.
        let post_logout_redirect_uris = unique_redirect_uris(
            self.post_logout_redirect_uris,
            redirect_uri::LOGOUT_RESPONSE_PARAMETERS,
        )?;
        if grant_types.contains(&GrantType::RefreshToken)
            && !grant_types.contains(&GrantType::AuthorizationCode)
        {
            return Err(RegistrationError::RefreshWithoutCode);
        }
        if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
            return Err(RegistrationError::MissingRedirectUri("authorization_code"));
        }
        let scope = Scope::parse(self.scope.as_deref().unwrap_or(""))?;
        let mut resources = Vec::new();
        for r in self.resources {
            if !resource::is_valid(&r) {
                return Err(RegistrationError::Resource(r));
            }
            if !resources.contains(&r) {
                resources.push(r);
            }
        }
        let id_token_alg = match self.id_token_alg.as_deref() {
            None => KeyAlg::RS256,
            Some(a) => a
                .parse()
                .map_err(|_| RegistrationError::IdTokenAlg(a.to_string()))?,
        };
        let metadata = validate_metadata(self.metadata)?;
        Ok(ValidClientRequest {
            metadata,
            jwks,
            jwks_uri: self.jwks_uri,
            dpop_bound: self.dpop_bound,
            require_par: self.require_par,
            id_token_alg,
            name,
            public: self.public,
            auth_methods,
            grant_types,
            redirect_uris,
            scope,
            resources,
            post_logout_redirect_uris,
        })
    }
}

fn unique_redirect_uris(
    uris: Vec<String>,
    reserved: &[&str],
) -> Result<Vec<String>, RedirectUriError> {
    let mut out = Vec::new();
    for u in uris {
        redirect_uri::validate_for(&u, reserved)?;
        if !out.contains(&u) {
            out.push(u);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> ClientRequest {
        ClientRequest {
            name: "svc".into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_to_client_credentials_with_both_secret_methods() {
        let v = req().validate().unwrap();
        assert_eq!(v.grant_types, vec![GrantType::ClientCredentials]);
        assert_eq!(v.auth_methods, AuthMethod::SECRET.to_vec());
    }

    #[test]
    fn refuses_inconsistent_registrations() {
        let mut r = req();
        r.public = true;
        assert!(r.validate().is_err(), "public client_credentials client");
        let mut r = req();
        r.auth_methods = vec!["none".into()];
        assert!(r.validate().is_err());
        let mut r = req();
        r.grant_types = vec!["password".into()];
        assert!(r.validate().is_err());
        let mut r = req();
        r.resources = vec!["not a uri".into()];
        assert!(r.validate().is_err());
        let mut r = req();
        r.name = "  ".into();
        assert!(r.validate().is_err());
    }
}
