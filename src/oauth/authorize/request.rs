//! Validation of authorization requests (RFC 6749 §4.1.1, RFC 7636, OpenID Connect
//! Core §3.1.2.1), independent of the web framework.
//!
//! Order matters (RFC 6749 §4.1.2.1, RFC 9700 §4.1): the client and redirect URI are
//! checked first, and while either is in doubt nothing is sent to any URI: the person
//! sees an error page. Only then do errors go back to the client's redirect URI.

use crate::domain::signin::Acr;
use std::sync::Arc;

use crate::domain::scope::Scope;
use crate::keys::KeyAlg;
use crate::oauth::clients::{Client, GrantType};
use crate::oauth::pkce::CodeChallenge;
use crate::web::form::Form;

/// The `request_uri` scheme of RFC 9126 §2.2: a pushed request, read from storage in
/// place of parameters.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// The request's parameters, from the query (GET) or the form body (POST): parsed
/// without judging, so that a repeated parameter gets an error page here.
pub type Params = Form;

/// A validated authorization request. Holding one means every check has passed.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    pub client: Arc<Client>,
    pub redirect_uri: String,
    /// Whether `redirect_uri` was in the request: then the token request must repeat it.
    pub redirect_uri_given: bool,
    pub scope: Scope,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: CodeChallenge,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// OpenID Connect Core §3.1.2.1 `acr_values`: the weakest of our levels it names
    /// (any one of them will do); values we do not know are ignored.
    pub acr: Option<Acr>,
    /// The subject of a verified `id_token_hint` (set by `Authorizer::validate_as`).
    pub hint_subject: Option<String>,
    /// RFC 8707 §2: the resources the code will be bound to.
    pub resources: Vec<String>,
    /// RFC 9449 §10: the DPoP key the code will be bound to.
    pub dpop_jkt: Option<String>,
    /// Whether the request came through the pushed authorization request endpoint.
    pub pushed: bool,
    pub params: Params,
}

/// How a request must have arrived, and the profile it is held to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    /// It came through the PAR endpoint (RFC 9126).
    pub pushed: bool,
    /// Every request must have been pushed (the server's setting).
    pub require_par: bool,
    /// The FAPI 2.0 Security Profile.
    pub fapi2: bool,
}

impl AuthorizationRequest {
    /// An error for the client, sent to its (validated) redirect URI with `state`.
    pub fn error(&self, error: &'static str, description: &'static str) -> RedirectError {
        RedirectError {
            redirect_uri: self.redirect_uri.clone(),
            state: self.state.clone(),
            error,
            description,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A refusal that must not be sent to the redirect URI.
#[derive(Debug, Clone)]
pub struct PageError {
    pub title: &'static str,
    pub message: &'static str,
}

/// A refusal sent back to the client (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone)]
pub struct RedirectError {
    pub redirect_uri: String,
    pub state: Option<String>,
    pub error: &'static str,
    pub description: &'static str,
}

#[derive(Debug, Clone)]
pub enum AuthorizeError {
    Page(PageError),
    Redirect(RedirectError),
}

fn page(title: &'static str, message: &'static str) -> AuthorizeError {
    AuthorizeError::Page(PageError { title, message })
}

/// Step one: is the client known and the redirect URI one of its own, exactly?
pub fn resolve_redirect(
    params: &Params,
    client: Option<Arc<Client>>,
) -> Result<(Arc<Client>, String, bool), AuthorizeError> {
    if params.repeated().is_some() {
        return Err(page(
            "This sign-in link is not valid",
            "The request repeats a parameter. Go back to the application and try again.",
        ));
    }
    if params.get("client_id").is_none() {
        return Err(page(
            "This sign-in link is not valid",
            "The request does not say which application is asking.",
        ));
    }
    let Some(client) = client else {
        return Err(page(
            "Unknown application",
            "The application that sent you here is not registered with this server.",
        ));
    };
    let (uri, given) = match params.get("redirect_uri") {
        // RFC 9700 §4.1.3: exact string comparison, nothing else.
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => (uri.to_string(), true),
        Some(_) => {
            return Err(page(
                "This sign-in link is not valid",
                "The address the application asked us to send you back to is not registered for it.",
            ));
        }
        // RFC 6749 §3.1.2.3: the parameter may be omitted when exactly one is registered.
        None if client.redirect_uris.len() == 1 => (client.redirect_uris[0].clone(), false),
        None => {
            return Err(page(
                "This sign-in link is not valid",
                "The request does not say where to send you back to.",
            ));
        }
    };
    Ok((client, uri, given))
}

/// The longest `state` we send back to a client (here and at sign-out); a longer one
/// would make the redirect's Location header unbounded.
pub const MAX_STATE_LEN: usize = 2048;

/// Step two: everything else, with errors sent back to the (now trusted) redirect URI.
pub fn validate(
    params: Params,
    client: Arc<Client>,
    redirect_uri: String,
    redirect_uri_given: bool,
    rules: Rules,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let state = params.get("state").map(str::to_string);
    let fail = |error: &'static str, description: &'static str| {
        AuthorizeError::Redirect(RedirectError {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error,
            description,
        })
    };
    // OpenID Connect Core §6: request objects are not supported.
    if params.get("request").is_some() {
        return Err(fail(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    // A request_uri reaches here only inside a pushed request, where it may not be
    // (RFC 9126 §2.1); /authorize resolves its own before validating.
    if params.get("request_uri").is_some() {
        return Err(fail(
            "invalid_request",
            "request_uri is accepted only at /authorize, from the pushed authorization request endpoint",
        ));
    }
    // RFC 9126 §5-6: this server, or this client, takes pushed requests only.
    if !rules.pushed && (rules.require_par || client.require_par) {
        return Err(fail(
            "invalid_request",
            "authorization requests must be pushed first (PAR, RFC 9126): send request_uri",
        ));
    }
    if rules.fapi2 && client.is_public() {
        return Err(fail(
            "unauthorized_client",
            "the FAPI 2.0 profile serves confidential clients only",
        ));
    }
    if rules.fapi2 && !redirect_uri_given {
        return Err(fail(
            "invalid_request",
            "redirect_uri is required (FAPI 2.0)",
        ));
    }
    // RFC 9449 §10: the thumbprint of the key the code is to be bound to.
    let dpop_jkt = match params.get("dpop_jkt") {
        None => None,
        Some(j)
            if j.len() == 43
                && j.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Some(j.to_string())
        }
        Some(_) => {
            return Err(fail(
                "invalid_request",
                "dpop_jkt must be a base64url SHA-256 JWK thumbprint",
            ));
        }
    };
    match params.get("response_type") {
        None => return Err(fail("invalid_request", "response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "only the code response type is supported",
            ));
        }
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return Err(fail(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(fail(
            "unauthorized_client",
            "the client is not allowed the authorization code grant",
        ));
    }
    // RFC 9700 §2.1.1: PKCE for every client, S256 only.
    let challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, _) => return Err(fail("invalid_request", "code_challenge is required (PKCE)")),
        (Some(_), None) | (Some(_), Some("plain")) => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method must be S256; plain is not accepted",
            ));
        }
        (Some(c), Some("S256")) => CodeChallenge::parse(c).ok_or_else(|| {
            fail(
                "invalid_request",
                "code_challenge is not a base64url SHA-256 digest",
            )
        })?,
        (Some(_), Some(_)) => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
    };
    let scope = match params.get("scope") {
        None => client.scope.clone(),
        Some(s) => Scope::parse(s).map_err(|_| fail("invalid_scope", "the scope is malformed"))?,
    };
    if !scope.is_subset_of(&client.scope) {
        return Err(fail(
            "invalid_scope",
            "the requested scope exceeds what the client may ask for",
        ));
    }
    if scope.is_empty() {
        return Err(fail("invalid_scope", "no scope was requested"));
    }
    // FAPI 2.0 §5.4.1: ID tokens too are signed with PS256, ES256 or EdDSA.
    if rules.fapi2 && scope.contains("openid") && client.id_token_alg == KeyAlg::RS256 {
        return Err(fail(
            "unauthorized_client",
            "the FAPI 2.0 profile does not sign ID tokens with RS256: register the client for ES256 or EdDSA",
        ));
    }
    // OpenID Connect Core §3.1.2.1: redirect_uri is REQUIRED in an OpenID request (plain
    // OAuth may omit it when one is registered, RFC 6749 §3.1.2.3).
    if scope.contains("openid") && !redirect_uri_given {
        return Err(fail(
            "invalid_request",
            "redirect_uri is required in OpenID Connect requests",
        ));
    }
    // RFC 8707 §2: each resource an absolute URI without fragment that this client is
    // registered for; the token endpoint checks the same again when it sets `aud`.
    for r in &params.resources {
        if !crate::domain::resource::is_valid(r) || !client.resources.iter().any(|c| c == r) {
            return Err(fail(
                "invalid_target",
                "the client is not registered for the requested resource",
            ));
        }
    }
    let mut prompt = Prompt::default();
    if let Some(p) = params.get("prompt") {
        for v in p.split(' ').filter(|v| !v.is_empty()) {
            match v {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                // We have one account per browser session: choosing is signing in again.
                "select_account" => prompt.login = true,
                _ => return Err(fail("invalid_request", "unknown prompt value")),
            }
        }
        // OpenID Connect Core §3.1.2.1: none with any other value is an error.
        if prompt.none && (prompt.login || prompt.consent) {
            return Err(fail("invalid_request", "prompt=none cannot be combined"));
        }
    }
    let max_age =
        match params.get("max_age") {
            None => None,
            Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                fail("invalid_request", "max_age must be a non-negative integer")
            })?),
        };
    let nonce = params.get("nonce").map(str::to_string);
    if nonce.as_ref().is_some_and(|n| n.len() > 512) {
        return Err(fail("invalid_request", "nonce is too long"));
    }
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE_LEN) {
        // Not echoed: the redirect would carry all of it.
        return Err(AuthorizeError::Redirect(RedirectError {
            redirect_uri: redirect_uri.clone(),
            state: None,
            error: "invalid_request",
            description: "state is too long",
        }));
    }
    let login_hint = params
        .get("login_hint")
        .map(|h| h.chars().take(64).collect());
    Ok(AuthorizationRequest {
        client,
        redirect_uri,
        redirect_uri_given,
        scope,
        state,
        nonce,
        code_challenge: challenge,
        prompt,
        max_age,
        login_hint,
        acr: params.get("acr_values").and_then(Acr::requested),
        hint_subject: None,
        resources: params.resources.clone(),
        dpop_jkt,
        pushed: rules.pushed,
        params,
    })
}

/// The redirect URI with response parameters added to its query, keeping any query it
/// already had (RFC 6749 §3.1.2).
pub fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut q = url.query_pairs_mut();
                for (k, v) in pairs {
                    q.append_pair(k, v);
                }
            }
            url.to_string()
        }
        // Registered URIs were validated as absolute; this is unreachable in practice.
        Err(_) => redirect_uri.to_string(),
    }
}

impl RedirectError {
    /// RFC 6749 §4.1.2.1 plus RFC 9207 `iss`.
    pub fn location(&self, issuer: &str) -> String {
        let mut pairs = vec![
            ("error", self.error),
            ("error_description", self.description),
        ];
        if let Some(s) = &self.state {
            pairs.push(("state", s));
        }
        pairs.push(("iss", issuer));
        redirect_with(&self.redirect_uri, &pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_keeps_existing_query() {
        let u = redirect_with(
            "https://app.example/cb?x=1",
            &[("code", "abc"), ("state", "s t")],
        );
        assert_eq!(u, "https://app.example/cb?x=1&code=abc&state=s+t");
    }
}
