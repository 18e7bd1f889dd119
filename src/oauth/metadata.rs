//! Authorization server metadata (RFC 8414) and OpenID Connect Discovery 1.0, from
//! the configured issuer only (never from the Host header), and advertising only what
//! is implemented.

use serde_json::json;

use super::clients::{AuthMethod, GrantType};
use super::jwk;

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
    "amr",
    "acr",
    "preferred_username",
    "name",
    "email",
    "email_verified",
];

/// What the server enforces that the document must say.
#[derive(Debug, Clone, Copy, Default)]
pub struct Served {
    /// Every authorization request must be pushed (RFC 9126 §5).
    pub require_par: bool,
    /// The FAPI 2.0 profile: private_key_jwt only, no RS256.
    pub fapi2: bool,
    /// Dynamic client registration is on (RFC 7591 §3, RFC 8414 §2).
    pub registration: bool,
}

/// The metadata document for `issuer`, as JSON bytes (rendered once, served often).
pub fn render(issuer: &str, served: Served) -> Vec<u8> {
    let grants: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
    let (auth, confidential_auth, signing_algs): (Vec<&str>, Vec<&str>, Vec<&str>) = if served.fapi2
    {
        // FAPI 2.0 §5.3.2.1 and §5.4.1: key-based client authentication; PS256,
        // ES256 or EdDSA.
        (
            vec![AuthMethod::PrivateKeyJwt.as_str()],
            vec![AuthMethod::PrivateKeyJwt.as_str()],
            vec!["ES256", "EdDSA", "PS256"],
        )
    } else {
        (
            AuthMethod::ALL.iter().map(|m| m.as_str()).collect(),
            AuthMethod::CONFIDENTIAL
                .iter()
                .map(|m| m.as_str())
                .collect(),
            jwk::SIGNING_ALGS.to_vec(),
        )
    };
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        // OpenID Connect RP-Initiated Logout 1.0 §2.1.
        "end_session_endpoint": format!("{issuer}/logout"),
        // Back-Channel Logout 1.0 §2.1: logout tokens, always with `sid`.
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "revocation_endpoint_auth_methods_supported": auth,
        "revocation_endpoint_auth_signing_alg_values_supported": signing_algs,
        "introspection_endpoint": format!("{issuer}/introspect"),
        "introspection_endpoint_auth_methods_supported": confidential_auth,
        "introspection_endpoint_auth_signing_alg_values_supported": signing_algs,
        // RFC 9126 §5.
        "pushed_authorization_request_endpoint": format!("{issuer}/par"),
        "require_pushed_authorization_requests": served.require_par || served.fapi2,
        // RFC 9449 §5.1.
        "dpop_signing_alg_values_supported": signing_algs,
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grants,
        "subject_types_supported": ["public"],
        // Per client (id_token_signed_response_alg); RS256 unless registered otherwise.
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "token_endpoint_auth_methods_supported": auth,
        "token_endpoint_auth_signing_alg_values_supported": signing_algs,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS,
        // OpenID Connect Discovery §3: how strongly a sign-in can have been made.
        "acr_values_supported": crate::domain::signin::ACR_VALUES,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        // RFC 9207: authorization responses carry `iss`.
        "authorization_response_iss_parameter_supported": true,
    });
    if served.registration {
        doc["registration_endpoint"] = json!(format!("{issuer}/register"));
    }
    serde_json::to_vec(&doc).unwrap_or_default()
}
