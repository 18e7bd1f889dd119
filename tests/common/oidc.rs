//! The authorization-code flow as an OpenID Connect client drives it: an app registered
//! with the `oauth2` crate, started at /authorize, finished at /token.
#![allow(dead_code)]

use std::collections::HashMap;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    EndpointNotSet, EndpointSet, ExtraTokenFields, StandardRevocableToken, StandardTokenResponse,
};
// What the flow tests use of the client library, in one place.
pub use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use portcullis::oauth::clients::ClientRequest;
use serde::{Deserialize, Serialize};

use super::browser::Browser;
use super::{TestServer, location_params};

pub const REDIRECT: &str = "http://127.0.0.1:9999/callback";

pub const PASSWORD: &str = "correct horse battery staple";

pub const AFTER_LOGOUT: &str = "https://photo.example/signed-out";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    pub id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

pub type OidcTokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

pub type OidcClient = oauth2::Client<
    BasicErrorResponse,
    OidcTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

pub struct App {
    pub id: String,
    pub secret: Option<String>,
    pub oauth: OidcClient,
}

pub fn app(srv: &TestServer, public: bool, scope: &str) -> App {
    app_with(
        srv,
        ClientRequest {
            public,
            scope: Some(scope.into()),
            ..app_request()
        },
    )
}

/// What `app` registers: "Photo Printer", returning to `REDIRECT`.
pub fn app_request() -> ClientRequest {
    ClientRequest {
        name: "Photo Printer".into(),
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![AFTER_LOGOUT.into()],
        ..Default::default()
    }
}

/// An app registered as `req` says, driven by the `oauth2` client.
pub fn app_with(srv: &TestServer, req: ClientRequest) -> App {
    let (id, secret) = srv.register(req);
    registered_app(srv, id, secret)
}

/// The app registered as `id` (with `secret` if confidential), returning to `REDIRECT`.
pub fn registered_app(srv: &TestServer, id: String, secret: Option<String>) -> App {
    let mut oauth = oauth2::Client::new(ClientId::new(id.clone()))
        .set_auth_uri(AuthUrl::new(srv.url("/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(srv.url("/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    if let Some(s) = &secret {
        oauth = oauth.set_client_secret(ClientSecret::new(s.clone()));
    }
    App { id, secret, oauth }
}

pub struct Started {
    pub url: String,
    pub state: String,
    pub verifier: PkceCodeVerifier,
}

pub fn start(app: &App, scopes: &[&str], extra: &[(&str, &str)]) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = app
        .oauth
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge);
    for s in scopes {
        req = req.add_scope(Scope::new((*s).into()));
    }
    for (k, v) in extra {
        req = req.add_extra_param(*k, *v);
    }
    let (url, state) = req.url();
    Started {
        url: url.to_string(),
        state: state.secret().clone(),
        verifier,
    }
}

/// Log in and allow: returns the redirect's query parameters.
pub async fn sign_in_and_allow(
    _srv: &TestServer,
    browser: &Browser,
    started: &Started,
) -> HashMap<String, String> {
    let res = browser.get(&started.url).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("name=\"username\"") && page.contains("name=\"password\""));
    let res = browser.login(&page, "alice", PASSWORD).await;
    assert_eq!(res.status(), 200, "consent page after sign-in");
    let page = res.text().await.unwrap();
    assert!(page.contains("Photo Printer"));
    assert!(page.contains("value=\"allow\"") && page.contains("value=\"deny\""));
    let res = browser.consent(&page, "allow").await;
    assert_eq!(res.status(), 303);
    let (loc, params) = location_params(&res);
    assert!(loc.starts_with(REDIRECT), "{loc}");
    params
}

pub async fn exchange(
    srv: &TestServer,
    app: &App,
    code: &str,
    verifier: PkceCodeVerifier,
) -> OidcTokenResponse {
    app.oauth
        .exchange_code(AuthorizationCode::new(code.into()))
        .set_pkce_verifier(verifier)
        .request_async(&srv.http)
        .await
        .expect("code exchange")
}

pub async fn token_post(srv: &TestServer, app: &App, form: &[(&str, &str)]) -> reqwest::Response {
    let secret = app.secret.clone().unwrap_or_default();
    srv.post_form("/token", Some((&app.id, &secret)), form)
        .await
}

pub async fn expect_redirect_error(
    browser: &Browser,
    url: &str,
    error: &str,
    state: Option<&str>,
    iss: &str,
) {
    let res = browser.get(url).await;
    assert_eq!(res.status(), 302, "{url}");
    let (loc, p) = location_params(&res);
    assert!(loc.starts_with(REDIRECT));
    assert_eq!(p.get("error").map(String::as_str), Some(error), "{loc}");
    assert_eq!(p.get("state").map(String::as_str), state);
    assert_eq!(p["iss"], iss);
    assert!(!p.contains_key("code"));
}

/// The value of cookie `name` among a response's Set-Cookie headers.
pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
}

pub async fn active_at_introspection(
    srv: &TestServer,
    rs: &(String, String),
    token: String,
) -> serde_json::Value {
    let res = srv
        .post_form("/introspect", Some((&rs.0, &rs.1)), &[("token", &token)])
        .await;
    res.json::<serde_json::Value>().await.unwrap()["active"].clone()
}

/// A second app that alice signs in to; returns its client id and an access token.
pub async fn app_with_token(srv: &TestServer, browser: &Browser) -> (String, String) {
    let other = app(srv, false, "openid");
    let s = start(&other, &["openid"], &[]);
    let res = browser.get(&s.url).await;
    let page = res.text().await.unwrap();
    let res = browser.consent(&page, "allow").await;
    let (_, params) = location_params(&res);
    let t = exchange(srv, &other, &params["code"], s.verifier).await;
    (other.id, t.access_token().secret().clone())
}
