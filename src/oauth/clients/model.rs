//! Registered clients: what a client is allowed to do (validated once at registration,
//! in `request`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::domain::scope::Scope;
use crate::keys::KeyAlg;
use crate::oauth::jwk::PublicKey;

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

    /// Its label in metrics and in the issued-token counts (one of
    /// `metrics::GRANT_LABELS`; a request naming no grant of ours is `other`).
    pub fn label(self) -> &'static str {
        match self {
            GrantType::TokenExchange => "token_exchange",
            g => g.as_str(),
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

/// Where and how a client hears that a session it took part in ended (OpenID Connect
/// Back-Channel Logout 1.0 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackchannelLogout {
    /// `backchannel_logout_uri`: https, or http to a loopback host.
    pub uri: String,
    /// `backchannel_logout_session_required`: the client needs `sid` in the logout
    /// token (we always send it, and `sub` too).
    pub session_required: bool,
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

/// How a client came to be; stored as `operator`, `open` or `registration-token <id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegisteredBy {
    /// `client create`.
    Operator,
    /// Open registration (RFC 7591 without an initial access token): anyone.
    Open,
    /// RFC 7591 with the initial access token of this id.
    RegistrationToken(String),
}

impl RegisteredBy {
    /// The stored form, or None for anything else (a row that does not parse is an
    /// error where it is read).
    pub fn parse(stored: &str) -> Option<RegisteredBy> {
        match stored {
            "operator" => Some(RegisteredBy::Operator),
            "open" => Some(RegisteredBy::Open),
            other => other
                .strip_prefix("registration-token ")
                .filter(|id| !id.is_empty())
                .map(|id| RegisteredBy::RegistrationToken(id.to_string())),
        }
    }
}

impl fmt::Display for RegisteredBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisteredBy::Operator => f.write_str("operator"),
            RegisteredBy::Open => f.write_str("open"),
            RegisteredBy::RegistrationToken(id) => write!(f, "registration-token {id}"),
        }
    }
}

/// A registered client as the protocol sees it.
#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    /// SHA-256 of the secret; `None` for public clients and `private_key_jwt` ones, and
    /// while a reported secret waits to be rotated (nothing authenticates then).
    pub secret_hash: Option<String>,
    /// When its secret was reported as leaked (`POST /credentials/revoke`).
    pub secret_reported_at: Option<i64>,
    /// The keys of a `private_key_jwt` client.
    pub keys: ClientKeys,
    /// RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request needs a proof.
    pub dpop_bound: bool,
    /// RFC 9126 §6 `require_pushed_authorization_requests`.
    pub require_par: bool,
    /// `operator`, `registration-token <id>` or `open`.
    pub registered_by: RegisteredBy,
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
    pub backchannel_logout: Option<BackchannelLogout>,
    pub created_at: i64,
}

impl Client {
    /// Whether it registered itself (RFC 7591) rather than being created by an operator.
    pub fn self_registered(&self) -> bool {
        self.registered_by != RegisteredBy::Operator
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

#[cfg(test)]
mod tests {
    use super::RegisteredBy;

    #[test]
    fn every_grant_has_a_metrics_label_exported_from_the_start() {
        for g in super::GrantType::ALL {
            assert!(crate::metrics::GRANT_LABELS.contains(&g.label()), "{g:?}");
        }
    }

    #[test]
    fn registered_by_round_trips_and_refuses_anything_else() {
        for by in [
            RegisteredBy::Operator,
            RegisteredBy::Open,
            RegisteredBy::RegistrationToken("0193".into()),
        ] {
            assert_eq!(RegisteredBy::parse(&by.to_string()), Some(by));
        }
        for bad in ["", "Operator", "opened", "registration-token ", "token 1"] {
            assert_eq!(RegisteredBy::parse(bad), None, "{bad:?}");
        }
    }
}
