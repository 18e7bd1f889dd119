//! What an operator asks for at `client create`, and a self-registration after its own
//! policy (`registration`): checked rule by rule into a `ValidClientRequest`.

use super::model::{AuthMethod, BackchannelLogout, ClientMetadata, GrantType};
use super::redirect_uri::{self, RedirectUriError};
use crate::domain::resource;
use crate::domain::scope::{Scope, ScopeSyntaxError};
use crate::keys::KeyAlg;
use crate::oauth::jwk;

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
        "jwks_uri {0:?}: must be an https URL (http only for loopback hosts) written as it is called (no spaces or escapes in the host), without fragment or credentials, at most 2048 characters"
    )]
    JwksUri(String),
    #[error(
        "backchannel_logout_uri {0:?}: must be an https URL (http only for loopback hosts) written as it is called (no spaces or escapes in the host), without fragment or credentials, at most 2048 characters"
    )]
    BackchannelLogoutUri(String),
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
    /// Back-Channel Logout 1.0 §2.2 `backchannel_logout_uri`.
    pub backchannel_logout_uri: Option<String>,
    /// `backchannel_logout_session_required` (true unless said otherwise).
    pub backchannel_logout_session_required: Option<bool>,
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
    pub backchannel_logout: Option<BackchannelLogout>,
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
    outbound_uri(u, RegistrationError::JwksUri)
}

/// A `backchannel_logout_uri` we will post to, under the rules of a `jwks_uri`
/// (Back-Channel Logout 1.0 §2.2 also forbids a fragment; a query is allowed).
pub fn validate_backchannel_logout_uri(u: &str) -> Result<(), RegistrationError> {
    outbound_uri(u, RegistrationError::BackchannelLogoutUri)
}

/// A URL this server calls: https, or http to a loopback host (tests, a local proxy);
/// no fragment, no credentials in it.
fn outbound_uri(u: &str, error: fn(String) -> RegistrationError) -> Result<(), RegistrationError> {
    let bad = || error(u.to_string());
    // As for redirect URIs: nothing a terminal or a log line would act on.
    if u.len() > 2048 || u.chars().any(crate::escape::dangerous) {
        return Err(bad());
    }
    let url = url::Url::parse(u).map_err(|_| bad())?;
    // Stored and shown as the URL we call, never something the parser reads otherwise:
    // spaces, `https:host`, a backslash, an escaped host all differ from their parse. (An
    // empty path is the one difference allowed: it is the same request.)
    if url.as_str() != u && url.as_str() != format!("{u}/") {
        return Err(bad());
    }
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
    /// Check an operator's request (and, through `registration`, a self-registration):
    /// each step below is one rule, in the order their refusals are reported.
    pub fn validate(self) -> Result<ValidClientRequest, RegistrationError> {
        let name = checked_name(&self.name)?;
        let backchannel_logout = self.checked_backchannel_logout()?;
        let grant_types = self.grant_types_or_default()?;
        let auth_methods = self.auth_methods_or_default()?;
        check_client_type(self.public, &grant_types, &auth_methods)?;
        let jwks = self.checked_keys(&auth_methods)?;
        let redirect_uris = unique_redirect_uris(
            self.redirect_uris,
            redirect_uri::AUTHORIZATION_RESPONSE_PARAMETERS,
        )?;
        // Same rules as redirect URIs: absolute, no fragment, https except loopback.
        let post_logout_redirect_uris = unique_redirect_uris(
            self.post_logout_redirect_uris,
            redirect_uri::LOGOUT_RESPONSE_PARAMETERS,
        )?;
        check_grants_have_what_they_need(&grant_types, &redirect_uris)?;
        Ok(ValidClientRequest {
            backchannel_logout,
            scope: Scope::parse(self.scope.as_deref().unwrap_or(""))?,
            resources: unique_resources(self.resources)?,
            id_token_alg: id_token_alg(self.id_token_alg.as_deref())?,
            metadata: validate_metadata(self.metadata)?,
            jwks,
            jwks_uri: self.jwks_uri,
            dpop_bound: self.dpop_bound,
            require_par: self.require_par,
            name,
            public: self.public,
            auth_methods,
            grant_types,
            redirect_uris,
            post_logout_redirect_uris,
        })
    }

    /// Where the client hears of ended sessions, if it asked to.
    fn checked_backchannel_logout(&self) -> Result<Option<BackchannelLogout>, RegistrationError> {
        let Some(uri) = &self.backchannel_logout_uri else {
            return Ok(None);
        };
        validate_backchannel_logout_uri(uri)?;
        Ok(Some(BackchannelLogout {
            uri: uri.clone(),
            session_required: self.backchannel_logout_session_required.unwrap_or(true),
        }))
    }

    /// The grant types asked for, without repeats; none means the usual one: a client
    /// with redirect URIs signs people in, one without is a service.
    fn grant_types_or_default(&self) -> Result<Vec<GrantType>, RegistrationError> {
        let mut grant_types = Vec::new();
        for g in &self.grant_types {
            let g: GrantType = g.parse().map_err(RegistrationError::GrantType)?;
            if !grant_types.contains(&g) {
                grant_types.push(g);
            }
        }
        if !grant_types.is_empty() {
            return Ok(grant_types);
        }
        if self.public && self.redirect_uris.is_empty() {
            // A public client can only sign people in, which needs somewhere to return.
            return Err(RegistrationError::MissingRedirectUri("authorization_code"));
        }
        Ok(vec![if self.redirect_uris.is_empty() {
            GrantType::ClientCredentials
        } else {
            GrantType::AuthorizationCode
        }])
    }

    /// The authentication methods asked for, without repeats, or the default.
    fn auth_methods_or_default(&self) -> Result<Vec<AuthMethod>, RegistrationError> {
        let mut auth_methods = Vec::new();
        for m in &self.auth_methods {
            let m: AuthMethod = m.parse().map_err(RegistrationError::AuthMethod)?;
            if !auth_methods.contains(&m) {
                auth_methods.push(m);
            }
        }
        if !auth_methods.is_empty() {
            return Ok(auth_methods);
        }
        // RFC 7591 §2 makes client_secret_basic the default; we also accept
        // client_secret_post unless the operator narrows it with --auth-method.
        Ok(if self.public {
            vec![AuthMethod::None]
        } else if self.jwks.is_some() || self.jwks_uri.is_some() {
            // Keys given: they are how the client authenticates.
            vec![AuthMethod::PrivateKeyJwt]
        } else {
            AuthMethod::SECRET.to_vec()
        })
    }

    /// The keys of a `private_key_jwt` client (exactly one of `jwks` and `jwks_uri`),
    /// and none for any other: the JWK Set as stored (compact JSON), if inline.
    fn checked_keys(&self, methods: &[AuthMethod]) -> Result<Option<String>, RegistrationError> {
        let key_based = methods.contains(&AuthMethod::PrivateKeyJwt);
        if key_based && methods.iter().any(|m| AuthMethod::SECRET.contains(m)) {
            return Err(RegistrationError::PrivateKeyJwtWithSecret);
        }
        match (&self.jwks, &self.jwks_uri, key_based) {
            (Some(_), Some(_), _) | (None, None, true) => Err(RegistrationError::MissingKeys),
            (Some(_), None, false) | (None, Some(_), false) => {
                Err(RegistrationError::KeysWithoutPrivateKeyJwt)
            }
            (Some(text), None, true) => {
                jwk::parse_set(text).map_err(RegistrationError::Jwks)?;
                // Stored compact, as parsed.
                let v: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| RegistrationError::Jwks(e.to_string()))?;
                Ok(Some(v.to_string()))
            }
            (None, Some(uri), true) => validate_jwks_uri(uri).map(|()| None),
            (None, None, false) => Ok(None),
        }
    }
}

/// The name people read on the consent page and operators in `client show`.
fn checked_name(name: &str) -> Result<String, RegistrationError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(RegistrationError::EmptyName);
    }
    if name.chars().count() > 100 || name.chars().any(crate::escape::dangerous) {
        return Err(RegistrationError::NameText);
    }
    Ok(name.to_string())
}

/// A public client authenticates with `none` and nothing else, a confidential one never
/// with `none`; a public client neither runs as a service nor exchanges tokens.
fn check_client_type(
    public: bool,
    grants: &[GrantType],
    methods: &[AuthMethod],
) -> Result<(), RegistrationError> {
    if public && methods.iter().any(|m| *m != AuthMethod::None) {
        return Err(RegistrationError::PublicWithSecretMethod);
    }
    if !public && methods.contains(&AuthMethod::None) {
        return Err(RegistrationError::ConfidentialWithNone);
    }
    if public && grants.contains(&GrantType::ClientCredentials) {
        return Err(RegistrationError::PublicClientCredentials);
    }
    if public && grants.contains(&GrantType::TokenExchange) {
        return Err(RegistrationError::PublicTokenExchange);
    }
    Ok(())
}

/// Refresh tokens come from sign-ins, and sign-ins return somewhere.
fn check_grants_have_what_they_need(
    grants: &[GrantType],
    redirect_uris: &[String],
) -> Result<(), RegistrationError> {
    if grants.contains(&GrantType::RefreshToken) && !grants.contains(&GrantType::AuthorizationCode)
    {
        return Err(RegistrationError::RefreshWithoutCode);
    }
    if grants.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        return Err(RegistrationError::MissingRedirectUri("authorization_code"));
    }
    Ok(())
}

/// RFC 8707 resource indicators, each an absolute URI without fragment, without repeats.
fn unique_resources(resources: Vec<String>) -> Result<Vec<String>, RegistrationError> {
    let mut out = Vec::new();
    for r in resources {
        if !resource::is_valid(&r) {
            return Err(RegistrationError::Resource(r));
        }
        if !out.contains(&r) {
            out.push(r);
        }
    }
    Ok(out)
}

/// `id_token_signed_response_alg`: RS256 unless named.
fn id_token_alg(alg: Option<&str>) -> Result<KeyAlg, RegistrationError> {
    match alg {
        None => Ok(KeyAlg::RS256),
        Some(a) => a
            .parse()
            .map_err(|_| RegistrationError::IdTokenAlg(a.to_string())),
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

    /// What is stored is the URL we call: anything the URL parser reads differently from
    /// how it is written is refused.
    #[test]
    fn outbound_uris_are_written_as_they_are_called() {
        for good in [
            "https://example.com",
            "https://example.com/x?a=b&c=%20d",
            "http://127.0.0.1:9001/logout",
            "http://localhost/logout",
        ] {
            assert!(validate_backchannel_logout_uri(good).is_ok(), "{good}");
        }
        let long = format!("https://example.com/{}", "a".repeat(3000));
        for bad in [
            " https://example.com/x",
            "https://example.com/x ",
            "https://example.com/x y",
            "https:example.com/x",
            "https://example.com\\@127.0.0.1/x",
            "https://exa%6dple.com/x",
            "https://EXAMPLE.com/x",
            "http:127.0.0.1:9001/x",
            "http://example.com/x",
            "https://user:pw@example.com/x",
            "https://example.com/x#f",
            long.as_str(),
        ] {
            assert!(validate_backchannel_logout_uri(bad).is_err(), "{bad}");
        }
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
