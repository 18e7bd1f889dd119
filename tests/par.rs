//! Pushed authorization requests (RFC 9126), resources bound to the code (RFC 8707
//! §2.2), and a code bound to a DPoP key through the push (RFC 9449 §10.1).

mod common;

use common::browser::Browser;
use common::flow::{REDIRECT, finish_sign_in};
use common::jose::ClientKey;
use common::{TestServer, create_user, spawn, spawn_with};
use portcullis::oauth::clients::ClientRequest;
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";
const API: &str = "https://api.example/";
const OTHER_API: &str = "https://other-api.example/";

fn web_app(srv: &TestServer, require_par: bool) -> (String, String) {
    let (id, secret) = srv.register(ClientRequest {
        name: "Web app".into(),
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec!["authorization_code".into()],
        scope: Some("openid".into()),
        resources: vec![API.into(), OTHER_API.into()],
        require_par,
        ..Default::default()
    });
    (id, secret.unwrap())
}

/// The authorization request's parameters, with a fresh PKCE pair.
fn request(client_id: &str, extra: &[(&str, &str)]) -> (Vec<(String, String)>, String) {
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let mut p: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "st"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    p.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    (p, verifier.secret().clone())
}

async fn push(
    srv: &TestServer,
    app: &(String, String),
    params: &[(String, String)],
) -> reqwest::Response {
    srv.http
        .post(srv.url("/par"))
        .basic_auth(&app.0, Some(&app.1))
        .form(params)
        .send()
        .await
        .unwrap()
}

fn authorize_url(srv: &TestServer, client_id: &str, request_uri: &str) -> String {
    url::Url::parse_with_params(
        &srv.url("/authorize"),
        &[("client_id", client_id), ("request_uri", request_uri)],
    )
    .unwrap()
    .to_string()
}

async fn exchange(
    srv: &TestServer,
    app: &(String, String),
    code: &str,
    verifier: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    form.extend_from_slice(extra);
    srv.http
        .post(srv.url("/token"))
        .basic_auth(&app.0, Some(&app.1))
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_pushed_request_is_used_once_by_its_client() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = web_app(&srv, false);
    let (params, verifier) = request(&app.0, &[]);
    let res = push(&srv, &app, &params).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    let uri = body["request_uri"].as_str().unwrap().to_string();
    assert!(uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert_eq!(body["expires_in"], 60);

    // Another client cannot use it, and nothing else of the request counts.
    let other = web_app(&srv, false);
    let browser = Browser::new(&srv);
    let res = browser.get(&authorize_url(&srv, &other.0, &uri)).await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());

    let page = browser.text(&authorize_url(&srv, &app.0, &uri)).await;
    let code = finish_sign_in(&browser, &page, "alice", PASSWORD).await;
    let res = exchange(&srv, &app, &code, &verifier, &[]).await;
    assert_eq!(res.status(), 200);
    // Used once.
    let res = browser.get(&authorize_url(&srv, &app.0, &uri)).await;
    assert_eq!(res.status(), 400);
    // Expired.
    let (params, _) = request(&app.0, &[]);
    let body: Value = push(&srv, &app, &params).await.json().await.unwrap();
    srv.clock.advance(61);
    let res = browser
        .get(&authorize_url(
            &srv,
            &app.0,
            body["request_uri"].as_str().unwrap(),
        ))
        .await;
    assert_eq!(res.status(), 400);
    // Discovery.
    let meta: Value = srv
        .http
        .get(srv.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["pushed_authorization_request_endpoint"],
        srv.url("/par")
    );
    assert_eq!(meta["require_pushed_authorization_requests"], false);
    srv.stop().await;
}

/// RFC 9126 §2.3: a bad pushed request is a 400 JSON error, never a redirect; an
/// unauthenticated push is 401.
#[actix_web::test]
async fn a_bad_push_is_a_json_error() {
    let srv = spawn().await;
    let app = web_app(&srv, false);
    let (good, _) = request(&app.0, &[]);
    let without = |name: &str| -> Vec<(String, String)> {
        good.iter().filter(|(k, _)| k != name).cloned().collect()
    };
    let with = |name: &str, value: &str| -> Vec<(String, String)> {
        let mut p = without(name);
        p.push((name.into(), value.into()));
        p
    };
    type Case<'a> = (&'a str, Vec<(String, String)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "unregistered redirect",
            with("redirect_uri", "https://evil.example/cb"),
            "invalid_request",
        ),
        ("no PKCE", without("code_challenge"), "invalid_request"),
        (
            "plain PKCE",
            with("code_challenge_method", "plain"),
            "invalid_request",
        ),
        (
            "scope not allowed",
            with("scope", "openid admin"),
            "invalid_scope",
        ),
        (
            "unknown resource",
            with("resource", "https://evil.example/"),
            "invalid_target",
        ),
        (
            "a request_uri inside",
            with("request_uri", "urn:x"),
            "invalid_request",
        ),
        (
            "a bad dpop_jkt",
            with("dpop_jkt", "short"),
            "invalid_request",
        ),
        (
            "another client's id",
            with("client_id", "someone-else"),
            "invalid_request",
        ),
    ];
    for (what, params, error) in cases {
        let res = push(&srv, &app, &params).await;
        assert_eq!(res.status(), 400, "{what}");
        assert!(res.headers().get("location").is_none());
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], error, "{what}");
    }
    let res = srv
        .http
        .post(srv.url("/par"))
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    srv.stop().await;
}

/// A client (or the server) that requires PAR gets an error for a plain request.
#[actix_web::test]
async fn required_par_refuses_plain_requests() {
    let srv = spawn().await;
    let app = web_app(&srv, true);
    let (params, _) = request(&app.0, &[]);
    let url = url::Url::parse_with_params(&srv.url("/authorize"), &params).unwrap();
    let res = Browser::new(&srv).get(url.as_str()).await;
    let (loc, p) = common::location_params(&res);
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert_eq!(p["error"], "invalid_request");
    srv.stop().await;

    let srv = spawn_with(|a| a.require_par = Some(true)).await;
    let app = web_app(&srv, false);
    let (params, _) = request(&app.0, &[]);
    let url = url::Url::parse_with_params(&srv.url("/authorize"), &params).unwrap();
    let res = Browser::new(&srv).get(url.as_str()).await;
    let (_, p) = common::location_params(&res);
    assert_eq!(p["error"], "invalid_request");
    let meta: Value = srv
        .http
        .get(srv.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["require_pushed_authorization_requests"], true);
    // Pushed, it works.
    let res = push(&srv, &app, &params).await;
    assert_eq!(res.status(), 201);
    srv.stop().await;
}

/// RFC 8707 §2.2: the resources named at authorization are bound to the code; the
/// token request may narrow them, never name another.
#[actix_web::test]
async fn the_code_keeps_the_resources_it_was_asked_for() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = web_app(&srv, false);
    let run = |extra: Vec<(&'static str, &'static str)>| {
        let (srv, app) = (&srv, &app);
        async move {
            let (params, verifier) = request(&app.0, &extra);
            let body: Value = push(srv, app, &params).await.json().await.unwrap();
            let browser = Browser::new(srv);
            let page = browser
                .text(&authorize_url(
                    srv,
                    &app.0,
                    body["request_uri"].as_str().unwrap(),
                ))
                .await;
            (
                finish_sign_in(&browser, &page, "alice", PASSWORD).await,
                verifier,
            )
        }
    };
    let (code, verifier) = run(vec![("resource", API)]).await;
    let res = exchange(&srv, &app, &code, &verifier, &[("resource", OTHER_API)]).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_target");
    // The refusal did not spend the code: asked for what it was issued for, it works,
    // and the token is for that resource.
    let res = exchange(&srv, &app, &code, &verifier, &[]).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let claims = common::jose::claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], API);
    srv.stop().await;
}

/// A DPoP proof at the push binds the code to its key (RFC 9449 §10.1).
#[actix_web::test]
async fn a_proof_at_the_push_binds_the_code() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = web_app(&srv, false);
    let key = ClientKey::es256();
    let thief = ClientKey::es256();
    let (params, verifier) = request(&app.0, &[]);
    let now = srv.clock_now();
    let res = srv
        .http
        .post(srv.url("/par"))
        .basic_auth(&app.0, Some(&app.1))
        .header("DPoP", key.dpop("POST", &srv.url("/par"), now, None))
        .form(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let browser = Browser::new(&srv);
    let page = browser
        .text(&authorize_url(
            &srv,
            &app.0,
            body["request_uri"].as_str().unwrap(),
        ))
        .await;
    let code = finish_sign_in(&browser, &page, "alice", PASSWORD).await;
    let with = |k: &ClientKey| {
        let proof = k.dpop("POST", &srv.url("/token"), now, None);
        let (http, url, app, code, verifier) = (
            srv.http.clone(),
            srv.url("/token"),
            app.clone(),
            code.clone(),
            verifier.clone(),
        );
        async move {
            http.post(url)
                .basic_auth(&app.0, Some(&app.1))
                .header("DPoP", proof)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", verifier.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let res = with(&thief).await;
    assert_eq!(res.status(), 400);
    let res = with(&key).await;
    assert_eq!(res.status(), 200);
    srv.stop().await;
}

/// RFC 8707 §2.2: a refresh may narrow to one of the resources the grant was for, never
/// switch to another the client may ask for.
#[actix_web::test]
async fn a_refresh_stays_within_the_resources_of_its_grant() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let (id, secret) = srv.register(ClientRequest {
        name: "Web app".into(),
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scope: Some("openid offline_access".into()),
        resources: vec![API.into(), OTHER_API.into()],
        ..Default::default()
    });
    let app = (id, secret.unwrap());
    let (code, verifier) = common::flow::authorize(
        &srv,
        &app.0,
        "openid offline_access",
        &[("resource", API)],
        "alice",
        PASSWORD,
    )
    .await;
    let res = exchange(&srv, &app, &code, &verifier, &[]).await;
    assert_eq!(res.status(), 200);
    let refresh = res.json::<Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let refresh_for = |resource: Option<&'static str>| {
        let (srv, app, refresh) = (&srv, &app, refresh.clone());
        async move {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
            ];
            if let Some(r) = resource {
                form.push(("resource", r));
            }
            srv.http
                .post(srv.url("/token"))
                .basic_auth(&app.0, Some(&app.1))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let res = refresh_for(Some(OTHER_API)).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_target"
    );
    // The refusal spent nothing; the grant's own resource is served.
    let res = refresh_for(Some(API)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        common::jose::claims(body["access_token"].as_str().unwrap())["aud"],
        API
    );
    srv.stop().await;
}
