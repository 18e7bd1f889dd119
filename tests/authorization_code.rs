//! Browser sign-in: the authorization-code grant with PKCE through the login and
//! consent pages, driven with the `oauth2` crate and a cookie-keeping HTTP client, and
//! every refusal of RFC 6749 §4.1, RFC 7636 and OpenID Connect Core.

mod common;

use std::collections::HashMap;

use common::{TestServer, create_user, field, location_params, oauth_error, spawn, spawn_with};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use portcullis::oauth::client::ClientRequest;
use serde::{Deserialize, Serialize};

const REDIRECT: &str = "http://127.0.0.1:9999/callback";
const PASSWORD: &str = "correct horse battery staple";
const AFTER_LOGOUT: &str = "https://photo.example/signed-out";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdTokenField {
    id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}

type OidcTokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;
type OidcClient = oauth2::Client<
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

struct App {
    id: String,
    secret: Option<String>,
    oauth: OidcClient,
}

fn app(srv: &TestServer, public: bool, scope: &str) -> App {
    let (id, secret) = srv.register(ClientRequest {
        name: "Photo Printer".into(),
        redirect_uris: vec![REDIRECT.into()],
        post_logout_redirect_uris: vec![AFTER_LOGOUT.into()],
        scope: Some(scope.into()),
        public,
        ..Default::default()
    });
    let mut oauth = oauth2::Client::new(ClientId::new(id.clone()))
        .set_auth_uri(AuthUrl::new(srv.url("/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(srv.url("/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap());
    if let Some(s) = &secret {
        oauth = oauth.set_client_secret(ClientSecret::new(s.clone()));
    }
    App { id, secret, oauth }
}

/// A browser: keeps cookies, does not follow redirects.
struct Browser {
    http: reqwest::Client,
}

impl Browser {
    fn new() -> Browser {
        Browser {
            http: common::http_client(),
        }
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    async fn post(&self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http.post(url).form(form).send().await.unwrap()
    }

    /// Submit the login form found on `page`.
    async fn login(&self, srv: &TestServer, page: &str, user: &str, pw: &str) -> reqwest::Response {
        let csrf = field(page, "csrf").expect("csrf field");
        let mut form = vec![
            ("csrf", csrf.as_str()),
            ("username", user),
            ("password", pw),
        ];
        let authz = field(page, "authz");
        if let Some(a) = &authz {
            form.push(("authz", a));
        }
        self.post(&srv.url("/login"), &form).await
    }

    async fn consent(&self, srv: &TestServer, page: &str, decision: &str) -> reqwest::Response {
        let csrf = field(page, "csrf").expect("csrf field");
        let authz = field(page, "authz").expect("authz field");
        self.post(
            &srv.url("/consent"),
            &[("csrf", &csrf), ("authz", &authz), ("decision", decision)],
        )
        .await
    }
}

struct Started {
    url: String,
    state: String,
    verifier: PkceCodeVerifier,
}

fn start(app: &App, scopes: &[&str], extra: &[(&str, &str)]) -> Started {
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
async fn sign_in_and_allow(
    srv: &TestServer,
    browser: &Browser,
    started: &Started,
) -> HashMap<String, String> {
    let res = browser.get(&started.url).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("name=\"username\"") && page.contains("name=\"password\""));
    let res = browser.login(srv, &page, "alice", PASSWORD).await;
    assert_eq!(res.status(), 200, "consent page after sign-in");
    let page = res.text().await.unwrap();
    assert!(page.contains("Photo Printer"));
    assert!(page.contains("value=\"allow\"") && page.contains("value=\"deny\""));
    let res = browser.consent(srv, &page, "allow").await;
    assert_eq!(res.status(), 303);
    let (loc, params) = location_params(&res);
    assert!(loc.starts_with(REDIRECT), "{loc}");
    params
}

async fn exchange(
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

#[actix_web::test]
async fn full_flow_login_consent_exchange_id_token_and_userinfo() {
    let srv = spawn().await;
    let user_id = create_user(&srv, "alice", PASSWORD, Some("alice@example.com"));
    let app = app(&srv, false, "openid profile email");
    let browser = Browser::new();
    let started = start(
        &app,
        &["openid", "profile", "email"],
        &[("nonce", "n-0S6_WzA2Mj")],
    );
    let params = sign_in_and_allow(&srv, &browser, &started).await;
    assert_eq!(params["state"], started.state);
    assert_eq!(params["iss"], srv.base, "RFC 9207");
    let code = params["code"].clone();
    assert!(code.len() >= 43, "256-bit code");

    let token = exchange(&srv, &app, &code, started.verifier).await;
    let access = token.access_token().secret().clone();
    let claims = srv
        .verify(&access, &srv.base)
        .await
        .expect("access token verifies");
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["client_id"], app.id.as_str());
    assert!(token.refresh_token().is_none());

    // The ID token: signature against the JWKS, audience, nonce, at_hash.
    let id_token = token
        .extra_fields()
        .id_token
        .clone()
        .expect("id_token for openid");
    let header = jsonwebtoken::decode_header(&id_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let jwks = srv.jwks().await;
    let key =
        jsonwebtoken::DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap())
            .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[&app.id]);
    v.set_issuer(&[&srv.base]);
    let id = jsonwebtoken::decode::<serde_json::Value>(&id_token, &key, &v)
        .expect("ID token verifies")
        .claims;
    assert_eq!(id["sub"], user_id.as_str());
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert!(id["auth_time"].as_i64().is_some());
    assert!(id["sid"].as_str().is_some());
    assert_eq!(
        id["at_hash"],
        portcullis::oauth::tokens::at_hash(portcullis::keys::KeyAlg::RS256, &access)
    );
    // at_hash computed independently: left half of SHA-256, base64url.
    {
        use base64::Engine;
        use sha2::Digest;
        let d = sha2::Sha256::digest(access.as_bytes());
        assert_eq!(
            id["at_hash"],
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d[..16])
        );
    }

    // userinfo, header and form body.
    let res = srv
        .http
        .get(srv.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let info: serde_json::Value = res.json().await.unwrap();
    assert_eq!(info["sub"], user_id.as_str());
    assert_eq!(info["preferred_username"], "alice");
    assert_eq!(info["name"], "alice Example");
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["email_verified"], true);
    let res = srv
        .http
        .post(srv.url("/userinfo"))
        .form(&[("access_token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // A returning user with remembered consent goes straight back with a code.
    let again = start(&app, &["openid", "profile"], &[]);
    let res = browser.get(&again.url).await;
    assert_eq!(res.status(), 302);
    let (_, p) = location_params(&res);
    assert!(p.contains_key("code"));
    assert_eq!(p["state"], again.state);
    exchange(&srv, &app, &p["code"], again.verifier).await;
    srv.stop().await;
}

#[actix_web::test]
async fn public_clients_use_pkce_without_a_secret() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, true, "openid");
    let browser = Browser::new();
    let started = start(&app, &["openid"], &[]);
    let params = sign_in_and_allow(&srv, &browser, &started).await;
    let token = exchange(&srv, &app, &params["code"], started.verifier).await;
    assert!(token.extra_fields().id_token.is_some());
    srv.stop().await;
}

#[actix_web::test]
async fn unknown_client_and_redirect_uri_look_alikes_get_a_page_never_a_redirect() {
    let srv = spawn().await;
    let app = app(&srv, false, "openid");
    let browser = Browser::new();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let base = format!(
        "{}?response_type=code&scope=openid&state=xyz&code_challenge_method=S256&code_challenge={}",
        srv.url("/authorize"),
        challenge.as_str()
    );
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut cases = vec![format!(
        "{base}&client_id=nope&redirect_uri={}",
        enc(REDIRECT)
    )];
    for evil in [
        "http://127.0.0.1:9999/callback/../evil",
        "http://127.0.0.1:9999/callback?x=1",
        "http://127.0.0.1:9999/callback.evil.com",
        "http://127.0.0.1:9999/Callback",
        "http://127.0.0.1:9999/callback/",
        "http://127.0.0.1:9999/callback#frag",
        "http://127.0.0.1:99999/callback",
        "http://evil.example/callback",
        "https://127.0.0.1:9999/callback",
    ] {
        cases.push(format!(
            "{base}&client_id={}&redirect_uri={}",
            app.id,
            enc(evil)
        ));
    }
    // No client_id at all, and a repeated client_id.
    cases.push(format!("{base}&redirect_uri={}", enc(REDIRECT)));
    cases.push(format!(
        "{base}&client_id={}&client_id={}&redirect_uri={}",
        app.id,
        app.id,
        enc(REDIRECT)
    ));
    for url in cases {
        let res = browser.get(&url).await;
        assert_eq!(res.status(), 400, "{url}");
        assert!(
            res.headers().get("location").is_none(),
            "no redirect for {url}"
        );
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    srv.stop().await;
}

async fn expect_redirect_error(
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

#[actix_web::test]
async fn pkce_is_required_and_s256_only() {
    let srv = spawn().await;
    let app = app(&srv, false, "openid");
    let browser = Browser::new();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let base = format!(
        "{}?response_type=code&scope=openid&state=st&client_id={}&redirect_uri={}",
        srv.url("/authorize"),
        app.id,
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
    );
    expect_redirect_error(&browser, &base, "invalid_request", Some("st"), &srv.base).await;
    let plain = format!(
        "{base}&code_challenge={}&code_challenge_method=plain",
        "a".repeat(43)
    );
    expect_redirect_error(&browser, &plain, "invalid_request", Some("st"), &srv.base).await;
    let no_method = format!("{base}&code_challenge={}", challenge.as_str());
    expect_redirect_error(
        &browser,
        &no_method,
        "invalid_request",
        Some("st"),
        &srv.base,
    )
    .await;
    let bad = format!("{base}&code_challenge=short&code_challenge_method=S256");
    expect_redirect_error(&browser, &bad, "invalid_request", Some("st"), &srv.base).await;
    let token = format!(
        "{base}&code_challenge={}&code_challenge_method=S256",
        challenge.as_str()
    )
    .replace("response_type=code", "response_type=token");
    expect_redirect_error(
        &browser,
        &token,
        "unsupported_response_type",
        Some("st"),
        &srv.base,
    )
    .await;
    let scope = format!(
        "{base}&code_challenge={}&code_challenge_method=S256",
        challenge.as_str()
    )
    .replace("scope=openid", "scope=openid+admin");
    expect_redirect_error(&browser, &scope, "invalid_scope", Some("st"), &srv.base).await;
    srv.stop().await;
}

async fn token_post(srv: &TestServer, app: &App, form: &[(&str, &str)]) -> reqwest::Response {
    let secret = app.secret.clone().unwrap_or_default();
    srv.post_form("/token", Some((&app.id, &secret)), form)
        .await
}

#[actix_web::test]
async fn wrong_or_missing_verifier_is_invalid_grant() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new();
    let s = start(&app, &["openid"], &[]);
    let p = sign_in_and_allow(&srv, &browser, &s).await;
    let err = app
        .oauth
        .exchange_code(AuthorizationCode::new(p["code"].clone()))
        .set_pkce_verifier(PkceCodeVerifier::new("x".repeat(43)))
        .request_async(&srv.http)
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("invalid_grant"), "{err:?}");
    // PKCE downgrade: the verifier left out.
    let res = token_post(
        &srv,
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &p["code"]),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    let (status, code, _) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (400, "invalid_grant"));
    // The right verifier still works: failed attempts do not consume the code.
    exchange(&srv, &app, &p["code"], s.verifier).await;
    srv.stop().await;
}

#[actix_web::test]
async fn a_reused_code_fails_and_revokes_what_the_first_use_issued() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new();
    let s = start(&app, &["openid"], &[]);
    let p = sign_in_and_allow(&srv, &browser, &s).await;
    let verifier = s.verifier.secret().clone();
    let token = exchange(
        &srv,
        &app,
        &p["code"],
        PkceCodeVerifier::new(verifier.clone()),
    )
    .await;
    let access = token.access_token().secret().clone();
    let ok = srv
        .http
        .get(srv.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    let res = token_post(
        &srv,
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &p["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let (status, code, _) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (400, "invalid_grant"));
    let res = srv
        .http
        .get(srv.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the first token is revoked");
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    srv.stop().await;
}

#[actix_web::test]
async fn codes_expire_after_a_minute() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new();
    let s = start(&app, &["openid"], &[]);
    let p = sign_in_and_allow(&srv, &browser, &s).await;
    srv.clock.advance(61);
    let res = token_post(
        &srv,
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &p["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", s.verifier.secret()),
        ],
    )
    .await;
    assert_eq!(oauth_error(res).await.1, "invalid_grant");
    srv.stop().await;
}

#[actix_web::test]
async fn a_code_is_bound_to_its_client_and_redirect_uri() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app1 = app(&srv, false, "openid");
    let app2 = app(&srv, false, "openid");
    let browser = Browser::new();
    let s = start(&app1, &["openid"], &[]);
    let p = sign_in_and_allow(&srv, &browser, &s).await;
    let v = s.verifier.secret().clone();
    let res = token_post(
        &srv,
        &app2,
        &[
            ("grant_type", "authorization_code"),
            ("code", &p["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &v),
        ],
    )
    .await;
    assert_eq!(
        oauth_error(res).await.1,
        "invalid_grant",
        "another client's code"
    );
    let res = token_post(
        &srv,
        &app1,
        &[
            ("grant_type", "authorization_code"),
            ("code", &p["code"]),
            ("redirect_uri", "http://127.0.0.1:9999/other"),
            ("code_verifier", &v),
        ],
    )
    .await;
    assert_eq!(
        oauth_error(res).await.1,
        "invalid_grant",
        "redirect_uri mismatch"
    );
    let res = token_post(
        &srv,
        &app1,
        &[
            ("grant_type", "authorization_code"),
            ("code", &p["code"]),
            ("code_verifier", &v),
        ],
    )
    .await;
    assert_eq!(
        oauth_error(res).await.1,
        "invalid_grant",
        "redirect_uri was in the request, so it is required"
    );
    let res = token_post(
        &srv,
        &app1,
        &[
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &v),
        ],
    )
    .await;
    assert_eq!(oauth_error(res).await.1, "invalid_request", "no code");
    // A service client may not use the grant at all.
    let (sid, ssecret) = srv.service_client("openid");
    let res = srv
        .post_form(
            "/token",
            Some((&sid, &ssecret)),
            &[("grant_type", "authorization_code"), ("code", &p["code"])],
        )
        .await;
    assert_eq!(oauth_error(res).await.1, "unauthorized_client");
    // Untouched by all of that, the code still works for its client.
    exchange(&srv, &app1, &p["code"], s.verifier).await;
    srv.stop().await;
}

#[actix_web::test]
async fn forms_without_a_csrf_token_are_refused() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new();
    let s = start(&app, &["openid"], &[]);
    let page = browser.get(&s.url).await.text().await.unwrap();
    let authz = field(&page, "authz").unwrap();
    let res = browser
        .post(
            &srv.url("/login"),
            &[
                ("authz", &authz),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(
        res.headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().contains("session"))
    );
    // A token from another browser does not match this one's cookie.
    let other = Browser::new();
    let other_page = other.get(&s.url).await.text().await.unwrap();
    let foreign = field(&other_page, "csrf").unwrap();
    let res = browser
        .post(
            &srv.url("/login"),
            &[
                ("csrf", &foreign),
                ("authz", &authz),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    srv.stop().await;
}

/// The value of cookie `name` among a response's Set-Cookie headers.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
}

/// Cookie injection (a sibling subdomain, or a man in the middle on http) can plant a
/// double-submit pair of the attacker's choosing; once signed in, the token is bound to
/// the session instead, which the attacker cannot know, and it changes at sign-in.
#[actix_web::test]
async fn a_planted_csrf_cookie_does_not_pass_for_a_signed_in_browser() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let s = start(&app, &["openid"], &[]);
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = raw.get(&s.url).send().await.unwrap();
    let pre = set_cookie(&res, "portcullis_csrf").expect("a double-submit cookie");
    let page = res.text().await.unwrap();
    assert_eq!(field(&page, "csrf").as_deref(), Some(pre.as_str()));
    let res = raw
        .post(srv.url("/login"))
        .header("cookie", format!("portcullis_csrf={pre}"))
        .form(&[
            ("csrf", pre.as_str()),
            ("authz", &field(&page, "authz").unwrap()),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the consent page");
    let session = set_cookie(&res, "portcullis_session").expect("a session");
    let page = res.text().await.unwrap();
    let bound = field(&page, "csrf").unwrap();
    assert_ne!(bound, pre, "a new token once signed in");
    let authz = field(&page, "authz").unwrap();

    let planted = "A".repeat(43);
    let consent = |csrf: &str, cookie: String| {
        raw.post(srv.url("/consent"))
            .header("cookie", cookie)
            .form(&[("csrf", csrf), ("authz", &authz), ("decision", "allow")])
            .send()
    };
    for (csrf, cookie) in [
        (
            planted.as_str(),
            format!("portcullis_session={session}; portcullis_csrf={planted}"),
        ),
        (
            pre.as_str(),
            format!("portcullis_session={session}; portcullis_csrf={pre}"),
        ),
    ] {
        let res = consent(csrf, cookie).await.unwrap();
        assert_eq!(res.status(), 403, "{csrf}");
    }
    let res = consent(&bound, format!("portcullis_session={session}"))
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    srv.stop().await;
}

#[actix_web::test]
async fn prompt_none_without_a_session_is_login_required() {
    let srv = spawn().await;
    let app = app(&srv, false, "openid");
    let browser = Browser::new();
    let s = start(&app, &["openid"], &[("prompt", "none")]);
    expect_redirect_error(
        &browser,
        &s.url,
        "login_required",
        Some(&s.state),
        &srv.base,
    )
    .await;
    srv.stop().await;
}

#[actix_web::test]
async fn denied_consent_is_access_denied_and_not_remembered() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new();
    let s = start(&app, &["openid"], &[]);
    let page = browser.get(&s.url).await.text().await.unwrap();
    let page = browser
        .login(&srv, &page, "alice", PASSWORD)
        .await
        .text()
        .await
        .unwrap();
    let res = browser.consent(&srv, &page, "deny").await;
    assert_eq!(res.status(), 303);
    let (_, p) = location_params(&res);
    assert_eq!(p["error"], "access_denied");
    assert_eq!(p["state"], s.state);
    assert_eq!(p["iss"], srv.base);
    // Asked again next time, and prompt=none says so.
    let again = start(&app, &["openid"], &[("prompt", "none")]);
    expect_redirect_error(
        &browser,
        &again.url,
        "consent_required",
        Some(&again.state),
        &srv.base,
    )
    .await;
    srv.stop().await;
}

#[actix_web::test]
async fn consent_is_asked_again_for_new_scopes_and_with_prompt_consent() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, Some("a@example.com"));
    let app = app(&srv, false, "openid profile email");
    let browser = Browser::new();
    let s = start(&app, &["openid"], &[]);
    sign_in_and_allow(&srv, &browser, &s).await;
    let more = start(&app, &["openid", "email"], &[]);
    let res = browser.get(&more.url).await;
    assert_eq!(res.status(), 200, "new scope: consent page");
    assert!(res.text().await.unwrap().contains("email"));
    let forced = start(&app, &["openid"], &[("prompt", "consent")]);
    assert_eq!(browser.get(&forced.url).await.status(), 200);
    let silent = start(&app, &["openid"], &[("prompt", "none")]);
    let res = browser.get(&silent.url).await;
    assert_eq!(res.status(), 302);
    assert!(location_params(&res).1.contains_key("code"));
    srv.stop().await;
}

#[actix_web::test]
async fn prompt_login_and_max_age_zero_ask_for_the_password_again() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new();
    let s = start(&app, &["openid"], &[]);
    sign_in_and_allow(&srv, &browser, &s).await;
    srv.clock.advance(5);
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let again = start(&app, &["openid"], &[extra]);
        let res = browser.get(&again.url).await;
        assert_eq!(res.status(), 200, "{extra:?}");
        let page = res.text().await.unwrap();
        assert!(page.contains("name=\"password\""));
        let res = browser.login(&srv, &page, "alice", PASSWORD).await;
        assert_eq!(res.status(), 303, "{extra:?}: code after the fresh sign-in");
        let (_, p) = location_params(&res);
        let token = exchange(&srv, &app, &p["code"], again.verifier).await;
        let id_token = token.extra_fields().id_token.clone().unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                id_token.split('.').nth(1).unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            claims["auth_time"].as_i64().unwrap(),
            srv.clock_now(),
            "auth_time is the new sign-in"
        );
    }
    srv.stop().await;
}

#[actix_web::test]
async fn failed_sign_ins_are_throttled_with_retry_after_and_say_nothing_about_users() {
    let srv = spawn_with(|a| a.login_max_failures = Some(3)).await;
    create_user(&srv, "alice", PASSWORD, None);
    let browser = Browser::new();
    let page = browser.get(&srv.url("/login")).await.text().await.unwrap();
    let wrong_pw = browser
        .login(&srv, &page, "alice", "wrong password")
        .await
        .text()
        .await
        .unwrap();
    let no_user = browser
        .login(&srv, &page, "mallory", "wrong password")
        .await
        .text()
        .await
        .unwrap();
    let msg = |p: &str| {
        p.split("id=\"login-error\">")
            .nth(1)
            .map(|r| r.split('<').next().unwrap().to_string())
    };
    assert!(msg(&wrong_pw).is_some());
    assert_eq!(
        msg(&wrong_pw),
        msg(&no_user),
        "same message for unknown user and wrong password"
    );
    browser.login(&srv, &page, "alice", "wrong again").await;
    browser.login(&srv, &page, "alice", "and again").await;
    let res = browser.login(&srv, &page, "alice", PASSWORD).await;
    assert_eq!(res.status(), 429, "even the right password waits");
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900);
    srv.clock.advance(901);
    let res = browser.login(&srv, &page, "alice", PASSWORD).await;
    assert_eq!(res.status(), 303, "signed in after the window");
    srv.stop().await;
}

#[actix_web::test]
async fn pages_send_anti_framing_headers_and_escape_what_they_reflect() {
    let srv = spawn().await;
    let (id, _) = srv.register(ClientRequest {
        name: "<script>alert(1)</script>".into(),
        redirect_uris: vec![REDIRECT.into()],
        scope: Some("openid".into()),
        ..Default::default()
    });
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let url = format!(
        "{}?response_type=code&client_id={id}&redirect_uri={}&scope=openid&code_challenge_method=S256&code_challenge={}&state=%22%3E%3Cscript%3Ex%3C%2Fscript%3E&login_hint=%22%3E%3Cimg%20src%3Dx%3E",
        srv.url("/authorize"),
        url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
        challenge.as_str()
    );
    let browser = Browser::new();
    let res = browser.get(&url).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["x-frame-options"], "DENY");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("script-src"));
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let page = res.text().await.unwrap();
    assert!(
        !page.contains("<script"),
        "client name and state are escaped"
    );
    assert!(!page.contains("<img"), "login_hint is escaped");
    assert!(page.contains("&#60;script&#62;") || page.contains("&lt;script&gt;"));
    for path in ["/login", "/logout"] {
        let res = browser.get(&srv.url(path)).await;
        assert_eq!(res.headers()["x-frame-options"], "DENY", "{path}");
    }
    srv.stop().await;
}

#[actix_web::test]
async fn connected_apps_can_be_listed_and_revoked_and_sign_out_ends_the_session() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new();
    let s = start(&app, &["openid"], &[]);
    sign_in_and_allow(&srv, &browser, &s).await;
    let page = browser
        .get(&srv.url("/account"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Photo Printer"));
    let csrf = field(&page, "csrf").unwrap();
    let res = browser
        .post(
            &srv.url("/account/revoke"),
            &[("csrf", &csrf), ("client_id", &app.id)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = browser
        .get(&srv.url("/account"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("Photo Printer"));
    // Consent is gone: the next request asks again.
    let again = start(&app, &["openid"], &[]);
    let res = browser.get(&again.url).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("value=\"allow\""));
    // Sign out.
    let res = browser.post(&srv.url("/logout"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 200);
    let res = browser.get(&srv.url("/account")).await;
    assert_eq!(res.status(), 303, "signed out: back to the sign-in page");
    srv.stop().await;
}

#[actix_web::test]
async fn userinfo_answers_bearer_errors_per_rfc6750() {
    let srv = spawn().await;
    let res = srv.http.get(srv.url("/userinfo")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"portcullis\""
    );
    let res = srv
        .http
        .get(srv.url("/userinfo"))
        .bearer_auth("not-a-jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    // A token without openid: 403 insufficient_scope naming the scope.
    let (id, secret) = srv.service_client("read");
    let body: serde_json::Value = srv
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await
        .json()
        .await
        .unwrap();
    let res = srv
        .http
        .get(srv.url("/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"openid\""),
        "{challenge}"
    );
    // A forged token: alg none, and HS256 signed with the public key's bytes.
    let header = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"alg":"none","typ":"at+jwt"}"#,
    );
    let claims = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        format!(
            r#"{{"iss":"{}","sub":"x","exp":9999999999,"iat":1,"scope":"openid","jti":"j","client_id":"c","aud":"a"}}"#,
            srv.base
        ),
    );
    let res = srv
        .http
        .get(srv.url("/userinfo"))
        .bearer_auth(format!("{header}.{claims}."))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let kid = srv.jwks().await.keys[0].common.key_id.clone().unwrap();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = Some(kid);
    h.typ = Some("at+jwt".into());
    let forged = jsonwebtoken::encode(
        &h,
        &serde_json::json!({"iss": srv.base, "sub": "x", "exp": 9999999999i64, "iat": 1, "scope": "openid", "jti": "j", "client_id": "c", "aud": "a"}),
        &jsonwebtoken::EncodingKey::from_secret(b"guess"),
    );
    if let Ok(forged) = forged {
        let res = srv
            .http
            .get(srv.url("/userinfo"))
            .bearer_auth(forged)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    srv.stop().await;
}

/// OpenID Connect RP-Initiated Logout 1.0: the app sends the person to the end-session
/// endpoint; they confirm, and only then are signed out and sent back, only to a URI the
/// app registered for that.
#[actix_web::test]
async fn an_app_signs_the_person_out_and_gets_them_back_only_to_a_registered_uri() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let printer = app(&srv, false, "openid");
    let other = app(&srv, false, "openid");
    let browser = Browser::new();
    let s = start(&printer, &["openid"], &[]);
    let params = sign_in_and_allow(&srv, &browser, &s).await;
    let tokens = exchange(&srv, &printer, &params["code"], s.verifier).await;
    let id_token = tokens.extra_fields().id_token.clone().expect("an ID token");

    let meta: serde_json::Value = srv
        .http
        .get(srv.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["end_session_endpoint"], srv.url("/logout"));
    let logout = |q: &[(&str, &str)]| {
        url::Url::parse_with_params(&srv.url("/logout"), q)
            .unwrap()
            .to_string()
    };

    // Look-alikes, an unknown audience, a forged hint: an error page, never a redirect,
    // and the person stays signed in.
    let forged = format!("{}x", &id_token[..id_token.len() - 1]);
    let bad: Vec<Vec<(&str, &str)>> = vec![
        vec![
            ("client_id", &printer.id),
            (
                "post_logout_redirect_uri",
                "https://photo.example/signed-out/",
            ),
        ],
        vec![
            ("client_id", &printer.id),
            (
                "post_logout_redirect_uri",
                "https://evil.example/signed-out",
            ),
        ],
        vec![("post_logout_redirect_uri", AFTER_LOGOUT)],
        vec![
            ("id_token_hint", &id_token),
            ("client_id", &other.id),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ],
        vec![
            ("id_token_hint", &forged),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ],
        vec![
            ("id_token_hint", tokens.access_token().secret()),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ],
    ];
    for q in &bad {
        let res = browser.get(&logout(q)).await;
        assert_eq!(res.status(), 400, "{q:?}");
        assert!(res.headers().get("location").is_none(), "{q:?}");
    }
    assert_eq!(browser.get(&srv.url("/account")).await.status(), 200);

    // A valid request asks first: following the link alone signs nobody out.
    let res = browser
        .get(&logout(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
            ("state", "s-42"),
        ]))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    let page = res.text().await.unwrap();
    assert!(page.contains("Photo Printer"), "names the app");
    assert_eq!(browser.get(&srv.url("/account")).await.status(), 200);
    let form: Vec<(&str, String)> = ["csrf", "client_id", "post_logout_redirect_uri", "state"]
        .into_iter()
        .map(|n| {
            (
                n,
                field(&page, n).unwrap_or_else(|| panic!("{n} in the form")),
            )
        })
        .collect();
    let form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();

    // The hidden fields come back through the browser: a tampered one is refused.
    let mut tampered = form.clone();
    tampered[2].1 = "https://evil.example/";
    let res = browser.post(&srv.url("/logout"), &tampered).await;
    assert_eq!(res.status(), 400);
    assert_eq!(browser.get(&srv.url("/account")).await.status(), 200);

    let res = browser.post(&srv.url("/logout"), &form).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        format!("{AFTER_LOGOUT}?state=s-42").as_str()
    );
    assert_eq!(browser.get(&srv.url("/account")).await.status(), 303);

    // Nobody signed in: a valid request goes straight back.
    let res = browser
        .get(&logout(&[
            ("client_id", &printer.id),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ]))
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], AFTER_LOGOUT);
    srv.stop().await;
}

/// UserInfo and introspection agree on which tokens still stand: a token asked for
/// another resource is not for UserInfo (RFC 9068 §4, RFC 8707), and tokens of a
/// deleted person or a deleted client end for both.
#[actix_web::test]
async fn userinfo_and_introspection_agree_on_audience_deleted_users_and_clients() {
    let srv = spawn_with(|a| a.client_cache_ttl = Some(0)).await;
    create_user(&srv, "alice", PASSWORD, None);
    let (id, secret) = srv.register(ClientRequest {
        name: "Photo Printer".into(),
        redirect_uris: vec![REDIRECT.into()],
        scope: Some("openid profile".into()),
        resources: vec!["https://api.example".into()],
        ..Default::default()
    });
    let app = App {
        oauth: oauth2::Client::new(ClientId::new(id.clone()))
            .set_client_secret(ClientSecret::new(secret.clone().unwrap()))
            .set_auth_uri(AuthUrl::new(srv.url("/authorize")).unwrap())
            .set_token_uri(TokenUrl::new(srv.url("/token")).unwrap())
            .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap()),
        id,
        secret,
    };
    let rs = srv.service_client("introspect");
    let browser = Browser::new();
    let mut tokens = Vec::new();
    for resource in [None, Some("https://api.example")] {
        let s = start(&app, &["openid", "profile"], &[]);
        let params = if resource.is_none() {
            sign_in_and_allow(&srv, &browser, &s).await
        } else {
            // Signed in, consent remembered: straight back with a code.
            location_params(&browser.get(&s.url).await).1
        };
        let mut req = app
            .oauth
            .exchange_code(AuthorizationCode::new(params["code"].clone()))
            .set_pkce_verifier(s.verifier);
        if let Some(r) = resource {
            req = req.add_extra_param("resource", r);
        }
        let t = req.request_async(&srv.http).await.expect("code exchange");
        tokens.push(t.access_token().secret().clone());
    }
    let userinfo = |t: &str| srv.http.get(srv.url("/userinfo")).bearer_auth(t).send();
    let introspect = |t: String| active_at_introspection(&srv, &rs, t);
    let (for_us, for_api) = (&tokens[0], &tokens[1]);
    assert_eq!(userinfo(for_us).await.unwrap().status(), 200);
    let res = userinfo(for_api).await.unwrap();
    assert_eq!(res.status(), 401, "a token for https://api.example only");
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(
        introspect(for_api.clone()).await,
        true,
        "still good for its API"
    );

    // A deleted client: both endpoints refuse its tokens.
    let other = app_with_token(&srv, &browser).await;
    assert_eq!(userinfo(&other.1).await.unwrap().status(), 200);
    let out = srv.cli(&["client", "delete", &other.0]);
    assert!(out.status.success());
    assert_eq!(userinfo(&other.1).await.unwrap().status(), 401);
    assert_eq!(introspect(other.1.clone()).await, false);

    // A deleted person: both endpoints refuse their tokens.
    let out = srv.cli(&["user", "delete", "alice"]);
    assert!(out.status.success());
    assert_eq!(userinfo(for_us).await.unwrap().status(), 401);
    assert_eq!(introspect(for_us.clone()).await, false);
    assert_eq!(introspect(for_api.clone()).await, false);
    srv.stop().await;
}

async fn active_at_introspection(
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
async fn app_with_token(srv: &TestServer, browser: &Browser) -> (String, String) {
    let other = app(srv, false, "openid");
    let s = start(&other, &["openid"], &[]);
    let res = browser.get(&s.url).await;
    let page = res.text().await.unwrap();
    let res = browser.consent(srv, &page, "allow").await;
    let (_, params) = location_params(&res);
    let t = exchange(srv, &other, &params["code"], s.verifier).await;
    (other.id, t.access_token().secret().clone())
}

/// OpenID Connect Core §3.1.2.1 makes redirect_uri REQUIRED; plain OAuth may omit it
/// when the client registered exactly one (RFC 6749 §3.1.2.3).
#[actix_web::test]
async fn openid_requests_must_name_the_redirect_uri() {
    let srv = spawn().await;
    let app = app(&srv, false, "openid profile");
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let url = |scope: &str| {
        format!(
            "{}?response_type=code&client_id={}&scope={scope}&code_challenge_method=S256&code_challenge={}&state=st",
            srv.url("/authorize"),
            app.id,
            challenge.as_str()
        )
    };
    let browser = Browser::new();
    let res = browser.get(&url("openid")).await;
    assert_eq!(res.status(), 302);
    let (loc, params) = location_params(&res);
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert_eq!(params["error"], "invalid_request");
    assert_eq!(params["state"], "st");
    let res = browser.get(&url("profile")).await;
    assert_eq!(res.status(), 200, "OAuth without openid: the login page");
    srv.stop().await;
}

/// RFC 8707 §2 at the authorization endpoint: `resource` may repeat, and each must be a
/// resource the client is registered for.
#[actix_web::test]
async fn authorization_requests_check_resource_indicators() {
    let srv = spawn().await;
    let (id, _) = srv.register(ClientRequest {
        name: "Photo Printer".into(),
        redirect_uris: vec![REDIRECT.into()],
        scope: Some("profile".into()),
        resources: vec![
            "https://photos.example".into(),
            "https://prints.example".into(),
        ],
        ..Default::default()
    });
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let url = |resources: &[&str]| {
        let mut u = url::Url::parse(&srv.url("/authorize")).unwrap();
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &id)
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("scope", "profile")
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256");
        for r in resources {
            u.query_pairs_mut().append_pair("resource", r);
        }
        u.to_string()
    };
    let browser = Browser::new();
    let res = browser
        .get(&url(&["https://photos.example", "https://prints.example"]))
        .await;
    assert_eq!(
        res.status(),
        200,
        "two registered resources: the login page"
    );
    for bad in ["https://evil.example", "https://photos.example#x", "photos"] {
        let res = browser.get(&url(&["https://photos.example", bad])).await;
        assert_eq!(res.status(), 302, "{bad}");
        let (loc, params) = location_params(&res);
        assert!(loc.starts_with(REDIRECT));
        assert_eq!(params["error"], "invalid_target", "{bad}");
    }
    srv.stop().await;
}

/// A client registered with id_token_signed_response_alg ES256 gets ES256 ID tokens once
/// the key set has an ES256 key, and a clear server_error before; others stay RS256.
#[actix_web::test]
async fn id_tokens_use_the_algorithm_the_client_registered() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let (id, secret) = srv.register(ClientRequest {
        name: "Photo Printer".into(),
        redirect_uris: vec![REDIRECT.into()],
        scope: Some("openid".into()),
        id_token_alg: Some("ES256".into()),
        ..Default::default()
    });
    let es = App {
        oauth: oauth2::Client::new(ClientId::new(id.clone()))
            .set_client_secret(ClientSecret::new(secret.clone().unwrap()))
            .set_auth_uri(AuthUrl::new(srv.url("/authorize")).unwrap())
            .set_token_uri(TokenUrl::new(srv.url("/token")).unwrap())
            .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap()),
        id,
        secret,
    };
    let rs = app(&srv, false, "openid");
    let browser = Browser::new();

    let s = start(&es, &["openid"], &[]);
    let params = sign_in_and_allow(&srv, &browser, &s).await;
    let res = token_post(
        &srv,
        &es,
        &[
            ("grant_type", "authorization_code"),
            ("code", &params["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", s.verifier.secret()),
        ],
    )
    .await;
    let (status, error, _) = oauth_error(res).await;
    assert_eq!(
        (status, error.as_str()),
        (500, "server_error"),
        "no ES256 key yet"
    );

    let out = srv.cli(&["keys", "rotate", "--alg", "ES256"]);
    assert!(out.status.success());
    // What the key watcher does every 2 s, now.
    portcullis::server::reload_keys(srv.state(), srv.clock_now()).unwrap();
    for (app, alg) in [(&es, "ES256"), (&rs, "RS256")] {
        let s = start(app, &["openid"], &[]);
        let res = browser.get(&s.url).await;
        let params = if res.status() == 302 {
            location_params(&res).1
        } else {
            let page = res.text().await.unwrap();
            let res = browser.consent(&srv, &page, "allow").await;
            location_params(&res).1
        };
        let t = exchange(&srv, app, &params["code"], s.verifier).await;
        let id_token = t.extra_fields().id_token.clone().unwrap();
        let header = jsonwebtoken::decode_header(&id_token).unwrap();
        assert_eq!(format!("{:?}", header.alg), alg);
        let claims = srv.verify(&id_token, &app.id).await.expect("verifies");
        assert_eq!(
            claims["at_hash"],
            portcullis::oauth::tokens::at_hash(alg.parse().unwrap(), t.access_token().secret())
        );
    }
    srv.stop().await;
}

/// Pages answer an unreadable form with the status of why (RFC 9110 §15.5.14).
#[actix_web::test]
async fn an_oversized_form_gets_413_on_the_pages_too() {
    let srv = spawn().await;
    let big = format!("username={}", "a".repeat(64 * 1024));
    for path in ["/login", "/consent", "/logout", "/authorize"] {
        let res = srv
            .http
            .post(srv.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 413, "{path}");
        assert_eq!(res.headers()["x-frame-options"], "DENY", "{path}");
    }
    srv.stop().await;
}
