//! Authorization server metadata (RFC 8414) and OpenID Connect Discovery 1.0, from
//! the configured issuer only (never from the Host header), and advertising only what
//! is implemented.

use serde_json::json;

use super::client::{AuthMethod, GrantType};

/// Claims we can put in ID tokens and userinfo answers.
const CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "sid",
    "preferred_username",
    "name",
    "email",
    "email_verified",
];

/// The metadata document for `issuer`, as JSON bytes (rendered once, served often).
pub fn render(issuer: &str) -> Vec<u8> {
    let grants: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
    let auth: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
    let secret_auth: Vec<&str> = AuthMethod::SECRET.iter().map(|m| m.as_str()).collect();
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        // OpenID Connect RP-Initiated Logout 1.0 §2.1.
        "end_session_endpoint": format!("{issuer}/logout"),
        "revocation_endpoint_auth_methods_supported": auth,
        "introspection_endpoint": format!("{issuer}/introspect"),
        "introspection_endpoint_auth_methods_supported": secret_auth,
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grants,
        "subject_types_supported": ["public"],
        // Per client (id_token_signed_response_alg); RS256 unless registered otherwise.
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "token_endpoint_auth_methods_supported": auth,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        // RFC 9207: authorization responses carry `iss`.
        "authorization_response_iss_parameter_supported": true,
    });
    serde_json::to_vec(&doc).unwrap_or_default()
}
