//! Dynamic client registration (RFC 7591) and its management (RFC 7592): client
//! metadata as JSON in, the registered client as JSON out. Validation is the operator's
//! (`ClientRequest::validate`), with the registration policy on top: what a client that
//! registers itself may ask for.

use serde::Deserialize;
use serde_json::{Value, json};

use super::model::{AuthMethod, Client, ClientKeys, ClientMetadata};
use super::redirect_uri::RedirectUriError;
use super::request::{ClientRequest, RegistrationError, ValidClientRequest};
use crate::domain::scope::Scope;

/// What may register, and with which scopes.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Open registration (anyone): scopes limited to `open_scopes`, keys only inline.
    pub open: bool,
    pub open_scopes: Scope,
}

/// An RFC 7591 §3.2.2 error: `invalid_redirect_uri` or `invalid_client_metadata`, with a
/// description naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataError {
    pub error: &'static str,
    pub description: String,
}

fn invalid(description: impl Into<String>) -> MetadataError {
    MetadataError {
        error: "invalid_client_metadata",
        description: description.into(),
    }
}

/// The name shown for a client that registered without `client_name`.
pub const UNNAMED: &str = "Unnamed app";

/// The metadata a client sends (RFC 7591 §2; OpenID Connect Registration §2 for
/// `id_token_signed_response_alg` and `post_logout_redirect_uris`). Fields we do not
/// know are ignored, never echoed.
#[derive(Debug, Default, Deserialize)]
pub struct Submitted {
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(default)]
    pub client_name: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub jwks: Option<Value>,
    #[serde(default)]
    pub jwks_uri: Option<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    #[serde(default)]
    pub backchannel_logout_uri: Option<String>,
    #[serde(default)]
    pub backchannel_logout_session_required: Option<bool>,
    // (Named one by one rather than flattened: a flattened field's type error would not
    // say which field it was.)
    #[serde(default)]
    pub client_uri: Option<String>,
    #[serde(default)]
    pub logo_uri: Option<String>,
    #[serde(default)]
    pub tos_uri: Option<String>,
    #[serde(default)]
    pub policy_uri: Option<String>,
    #[serde(default)]
    pub contacts: Vec<String>,
    #[serde(default)]
    pub software_id: Option<String>,
    #[serde(default)]
    pub software_version: Option<String>,
    /// RFC 7592 §2.2: a PUT repeats the client id (and may repeat the secret).
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
}

/// Parse the body: a JSON object, or an error naming what is wrong.
pub fn parse(body: &[u8]) -> Result<Submitted, MetadataError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| invalid("the body is not JSON"))?;
    if !v.is_object() {
        return Err(invalid("the body must be a JSON object"));
    }
    // With the path of the field at fault, so that the description names it.
    serde_path_to_error::deserialize(v)
        .map_err(|e| invalid(format!("{}: wrong type ({})", e.path(), e.inner())))
}

impl Submitted {
    /// Validate under `policy`, as `client create` validates an operator's request.
    pub fn validate(self, policy: &Policy) -> Result<ValidClientRequest, MetadataError> {
        if let Some(rt) = &self.response_types
            && rt.iter().any(|t| t != "code")
        {
            return Err(invalid("response_types: only \"code\" is supported"));
        }
        let method = self
            .token_endpoint_auth_method
            .clone()
            .unwrap_or_else(|| AuthMethod::ClientSecretBasic.as_str().to_string());
        let public = method == AuthMethod::None.as_str();
        if policy.open && self.jwks_uri.is_some() {
            // Anyone may register: we do not fetch URLs that anyone names.
            return Err(invalid(
                "jwks_uri: not accepted from open registration; send jwks",
            ));
        }
        if let Some(u) = &self.jwks_uri {
            // Fetched later from public addresses only (see jwks_fetch); refused now if it
            // cannot be: https, and a host name rather than an address.
            if !public_https_host(u) {
                return Err(invalid(
                    "jwks_uri: must be an https URL with a public host name",
                ));
            }
        }
        if policy.open
            && let Some(u) = &self.backchannel_logout_uri
            && !public_https_host(u)
        {
            // Anyone may register: we post only to names that resolve to public addresses
            // (checked again when connecting), never to an address someone typed.
            return Err(invalid(
                "backchannel_logout_uri: must be an https URL with a public host name",
            ));
        }
        let jwks = match &self.jwks {
            None => None,
            Some(v) if v.is_object() => Some(v.to_string()),
            Some(_) => return Err(invalid("jwks: must be a JWK Set object")),
        };
        let scope = match (&self.scope, policy.open) {
            (Some(s), _) => Some(s.clone()),
            (None, true) => Some(policy.open_scopes.to_string()),
            (None, false) => None,
        };
        if policy.open
            && let Some(s) = &scope
        {
            let asked = Scope::parse(s).map_err(|e| invalid(format!("scope: {e}")))?;
            if let Some(extra) = asked.excess_over(&policy.open_scopes).next() {
                return Err(invalid(format!(
                    "scope: {extra:?} is not open to self-registered clients"
                )));
            }
        }
        if self.redirect_uris.len() + self.post_logout_redirect_uris.len() > 20 {
            return Err(invalid(
                "redirect_uris: at most 20, with post_logout_redirect_uris",
            ));
        }
        for u in self
            .redirect_uris
            .iter()
            .chain(&self.post_logout_redirect_uris)
        {
            if u.len() > 2048 {
                return Err(MetadataError {
                    error: "invalid_redirect_uri",
                    description: "redirect_uris: at most 2048 characters each".into(),
                });
            }
            // RFC 8252 §7.1: a native app's private-use scheme is a domain name it controls,
            // reversed (`com.example.app:`); a bare `x:` or `intent:` names no owner, and
            // the consent page could not say which app receives the code.
            let scheme = u.split(':').next().unwrap_or("");
            if !scheme.eq_ignore_ascii_case("https")
                && !scheme.eq_ignore_ascii_case("http")
                && !scheme.contains('.')
            {
                return Err(MetadataError {
                    error: "invalid_redirect_uri",
                    description: format!(
                        "redirect_uris: a private-use scheme must be a reversed domain name (com.example.app:/...), not {scheme:?}"
                    ),
                });
            }
        }
        // RFC 7591 §2: client_name is optional; people are shown this in its place.
        let name = self
            .client_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| UNNAMED.to_string());
        if name.chars().count() > 100 || name.chars().any(crate::escape::dangerous) {
            return Err(invalid(
                "client_name: at most 100 characters, none of them control or invisible formatting characters",
            ));
        }
        let grant_types = self.grant_types.clone().unwrap_or_else(|| {
            // RFC 7591 §2: the default is authorization_code.
            vec!["authorization_code".into()]
        });
        // Self-registered clients sign people in (and, with an initial access token,
        // may run as services); exchanging people's tokens stays with operators'
        // clients. Open registration: people's sign-in only.
        let allowed: &[&str] = if policy.open {
            &["authorization_code", "refresh_token"]
        } else {
            &["authorization_code", "refresh_token", "client_credentials"]
        };
        if let Some(g) = grant_types.iter().find(|g| !allowed.contains(&g.as_str())) {
            return Err(invalid(format!(
                "grant_types: {g:?} is not open to self-registered clients"
            )));
        }
        let req = ClientRequest {
            name,
            grant_types,
            redirect_uris: self.redirect_uris,
            scope,
            public,
            auth_methods: vec![method],
            resources: Vec::new(),
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            id_token_alg: self.id_token_signed_response_alg,
            jwks,
            jwks_uri: self.jwks_uri,
            dpop_bound: self.dpop_bound_access_tokens,
            require_par: self.require_pushed_authorization_requests,
            backchannel_logout_uri: self.backchannel_logout_uri,
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            metadata: ClientMetadata {
                client_uri: self.client_uri,
                logo_uri: self.logo_uri,
                tos_uri: self.tos_uri,
                policy_uri: self.policy_uri,
                contacts: self.contacts,
                software_id: self.software_id,
                software_version: self.software_version,
            },
        };
        req.validate().map_err(|e| match e {
            RegistrationError::RedirectUri(r) => MetadataError {
                error: "invalid_redirect_uri",
                description: redirect_description(&r),
            },
            other => invalid(describe(&other)),
        })
    }
}

/// An https URL naming a public host (not an address, not a local name): what we call on
/// behalf of a client that registered itself. Calls go through a resolver that connects
/// to public addresses only, whatever the name; this refuses up front the names that
/// cannot be public, so that the client hears why now rather than never being called.
fn public_https_host(u: &str) -> bool {
    url::Url::parse(u).ok().is_some_and(|p| {
        p.scheme() == "https" && matches!(p.host(), Some(url::Host::Domain(h)) if publicly_named(h))
    })
}

/// A name with at least two labels, no trailing dot, outside the names reserved for
/// local use (RFC 6761 `localhost`, RFC 6762 `local`, RFC 8375 `home.arpa`, ICANN's
/// `internal`) and the common private `lan`.
fn publicly_named(host: &str) -> bool {
    const LOCAL: &[&str] = &["localhost", "local", "internal", "home.arpa", "lan"];
    let h = host.to_ascii_lowercase();
    h.contains('.')
        && !h.ends_with('.')
        && !LOCAL
            .iter()
            .any(|l| h == *l || h.ends_with(&format!(".{l}")))
}

/// RFC 7592 §2.2 leaves it to the server what an update may change. Ours may narrow what
/// the client registered with, never widen or weaken it: the registration access token
/// is not a standing licence to grow (revoking the initial access token would otherwise
/// limit nothing), and whoever holds it must not be able to switch off what protects the
/// client's tokens (its key, DPoP, PAR). An operator can still change these with the CLI.
pub fn never_weaker(current: &Client, update: &ValidClientRequest) -> Result<(), MetadataError> {
    if let Some(extra) = update.scope.excess_over(&current.scope).next() {
        return Err(invalid(format!(
            "scope: {extra:?} was not registered; an update cannot widen the scope (register again)"
        )));
    }
    if let Some(g) = update
        .grant_types
        .iter()
        .find(|g| !current.grant_types.contains(g))
    {
        return Err(invalid(format!(
            "grant_types: {:?} was not registered; an update cannot add grant types (register again)",
            g.as_str()
        )));
    }
    let weakest = |m: &[AuthMethod]| m.iter().map(|m| m.strength()).min().unwrap_or(0);
    if weakest(&update.auth_methods) < weakest(&current.auth_methods) {
        return Err(invalid(format!(
            "token_endpoint_auth_method: an update cannot move from {} to a weaker method",
            current.auth_methods.first().map_or("none", |m| m.as_str())
        )));
    }
    if current.dpop_bound && !update.dpop_bound {
        return Err(invalid(
            "dpop_bound_access_tokens: an update cannot turn it off",
        ));
    }
    if current.require_par && !update.require_par {
        return Err(invalid(
            "require_pushed_authorization_requests: an update cannot turn it off",
        ));
    }
    Ok(())
}

/// The refusal in the API's words: the metadata field first (RFC 7591 §3.2.2), never the
/// CLI's flags.
fn describe(e: &RegistrationError) -> String {
    use RegistrationError as E;
    match e {
        E::EmptyName => "client_name: must not be empty".into(),
        E::NameText => "client_name: at most 100 characters, none of them control or invisible formatting characters".into(),
        E::GrantType(s) => format!("grant_types: {s}"),
        E::AuthMethod(s) => format!("token_endpoint_auth_method: {s}"),
        E::RedirectUri(r) => format!("redirect_uris: {r}"),
        E::Scope(s) => format!("scope: {s}"),
        E::Resource(r) => format!("resource {r:?}: not accepted"),
        E::PublicWithSecretMethod | E::ConfidentialWithNone | E::PrivateKeyJwtWithSecret => {
            "token_endpoint_auth_method: one method only: none, client_secret_basic, client_secret_post or private_key_jwt".into()
        }
        E::MissingRedirectUri(g) => {
            format!("redirect_uris: the {g} grant needs at least one redirect URI")
        }
        E::PublicClientCredentials => {
            "grant_types: client_credentials needs a client that authenticates (not token_endpoint_auth_method none)".into()
        }
        E::IdTokenAlg(a) => {
            format!("id_token_signed_response_alg: {a:?} is not supported; use RS256, ES256 or EdDSA")
        }
        E::PublicTokenExchange => {
            "grant_types: token exchange needs a client that authenticates".into()
        }
        E::RefreshWithoutCode => {
            "grant_types: refresh_token needs authorization_code too".into()
        }
        E::MissingKeys => "jwks: private_key_jwt needs the client's public keys in jwks or jwks_uri".into(),
        E::KeysWithoutPrivateKeyJwt => {
            "jwks: keys are only for token_endpoint_auth_method private_key_jwt".into()
        }
        E::Jwks(s) => format!("jwks: {s}"),
        E::JwksUri(_) => "jwks_uri: must be an https URL written as it is called (no spaces, no escapes in the host), without fragment or credentials, at most 2048 characters".into(),
        E::BackchannelLogoutUri(_) => {
            "backchannel_logout_uri: must be an https URL (http only for a loopback host) written as it is called (no spaces, no escapes in the host), without fragment or credentials, at most 2048 characters".into()
        }
        E::MetadataUrl(f) => format!("{f}: must be an https URL with a host, without credentials or fragment"),
        E::MetadataText(f) => format!("{f}: too long, or not printable text"),
    }
}

fn redirect_description(e: &RedirectUriError) -> String {
    e.to_string()
}

/// The registered client as RFC 7591 §3.2.1 (and RFC 7592 §3) returns it. The secret and
/// the registration access token appear only when given (at registration, at an update).
pub fn to_json(
    c: &Client,
    jwks: Option<&str>,
    secret: Option<&str>,
    registration_access_token: Option<&str>,
    issuer: &str,
) -> Value {
    let method = c
        .auth_methods
        .first()
        .map_or("none", |m| m.as_str())
        .to_string();
    let mut v = json!({
        "client_id": c.client_id,
        "client_id_issued_at": c.created_at,
        "client_name": c.name,
        "redirect_uris": c.redirect_uris,
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "scope": c.scope.to_string(),
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "id_token_signed_response_alg": c.id_token_alg.as_str(),
        "dpop_bound_access_tokens": c.dpop_bound,
        "require_pushed_authorization_requests": c.require_par,
        "backchannel_logout_session_required": c.backchannel_logout.as_ref().is_none_or(|b| b.session_required),
        "registration_client_uri": format!("{issuer}/register/{}", c.client_id),
    });
    if let Value::Object(m) = serde_json::to_value(&c.metadata).unwrap_or(Value::Null)
        && let Value::Object(out) = &mut v
    {
        out.extend(m);
    }
    match &c.keys {
        ClientKeys::Set(_) => {
            // As registered (public keys only: private members are refused at parse).
            if let Some(set) = jwks.and_then(|t| serde_json::from_str::<Value>(t).ok()) {
                v["jwks"] = set;
            }
        }
        ClientKeys::Uri(u) => v["jwks_uri"] = json!(u),
        ClientKeys::None => {}
    }
    if let Some(b) = &c.backchannel_logout {
        v["backchannel_logout_uri"] = json!(b.uri);
    }
    if let Some(s) = secret {
        v["client_secret"] = json!(s);
        // RFC 7591 §3.2.1: 0, the secret does not expire.
        v["client_secret_expires_at"] = json!(0);
    }
    if let Some(t) = registration_access_token {
        v["registration_access_token"] = json!(t);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> Policy {
        Policy {
            open: true,
            open_scopes: Scope::parse("openid profile").unwrap(),
        }
    }

    /// Open registration names public hosts only: no single label, no trailing dot, no
    /// name reserved for local use.
    #[test]
    fn open_registration_calls_public_names_only() {
        for good in ["https://rp.example.com/logout", "https://app.example/x"] {
            assert!(public_https_host(good), "{good}");
        }
        for bad in [
            "https://localhost./x",
            "https://LOCALHOST/x",
            "https://vm:9443/x",
            "https://nodot/x",
            "https://metadata.google.internal/x",
            "https://printer.local/x",
            "https://nas.home.arpa/x",
            "https://router.lan/x",
            "https://a.localhost/x",
            "https://example.com./x",
            "https://10.0.0.1/x",
            "http://app.example/x",
        ] {
            assert!(!public_https_host(bad), "{bad}");
        }
    }

    #[test]
    fn open_registration_stays_within_its_scopes_and_fetches_nothing() {
        let body = br#"{"client_name":"x","redirect_uris":["https://a.example/cb"],"scope":"openid admin"}"#;
        let e = parse(body).unwrap().validate(&open()).unwrap_err();
        assert!(e.description.contains("admin"), "{e:?}");
        let body = br#"{"client_name":"x","redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://a.example/jwks"}"#;
        let e = parse(body).unwrap().validate(&open()).unwrap_err();
        assert!(e.description.contains("jwks_uri"), "{e:?}");
        let body = br#"{"client_name":"x","redirect_uris":["https://a.example/cb"]}"#;
        let v = parse(body).unwrap().validate(&open()).unwrap();
        assert_eq!(v.scope.to_string(), "openid profile");
    }

    #[test]
    fn redirect_uri_errors_have_their_own_code() {
        let body = br#"{"client_name":"x","redirect_uris":["http://evil.example/cb"]}"#;
        let e = parse(body).unwrap().validate(&open()).unwrap_err();
        assert_eq!(e.error, "invalid_redirect_uri");
        let e = parse(br#"{"client_name":"x","redirect_uris":["https://a.example/cb"],"logo_uri":"http://a.example/l.png"}"#)
            .unwrap()
            .validate(&open())
            .unwrap_err();
        assert_eq!(e.error, "invalid_client_metadata");
        assert!(e.description.contains("logo_uri"));
    }
}
