//! Authorization requests: which get an error page (never a redirect), which an error
//! back at the client, and what a valid one must carry (RFC 6749 §4.1.1, RFC 7636,
//! OpenID Connect Core §3.1.2.1, RFC 8707).

mod common;

use common::browser::Browser;
use common::oidc::*;
use common::{location_params, spawn};
use portcullis::oauth::clients::ClientRequest;

#[actix_web::test]
async fn unknown_client_and_redirect_uri_look_alikes_get_a_page_never_a_redirect() {
    let srv = spawn().await;
    let app = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
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

#[actix_web::test]
async fn pkce_is_required_and_s256_only() {
    let srv = spawn().await;
    let app = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
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

#[actix_web::test]
async fn prompt_none_without_a_session_is_login_required() {
    let srv = spawn().await;
    let app = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
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
    let browser = Browser::new(&srv);
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
    let browser = Browser::new(&srv);
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

/// OpenID Connect Core §3.1.2.1: `id_token_hint` names the person the client expects. A
/// browser signed in as someone else is not given a code for them: `prompt=none` gets
/// `login_required`, otherwise the person signs in again, and a sign-in as someone else
/// then is refused too. A hint that is not one of our ID tokens is `invalid_request`.
#[actix_web::test]
async fn an_id_token_hint_for_someone_else_gets_no_code() {
    let srv = spawn().await;
    common::create_user(&srv, "alice", PASSWORD, None);
    common::create_user(&srv, "bob", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
    let s = start(&app, &["openid"], &[]);
    let params = sign_in_and_allow(&srv, &browser, &s).await;
    let t = exchange(&srv, &app, &params["code"], s.verifier).await;
    let alice_hint = t.extra_fields().id_token.clone().unwrap();
    // The same browser, now bob's.
    let res = browser.get(&srv.url("/logout")).await;
    let page = res.text().await.unwrap();
    browser.submit(&page, "/logout", &[]).await;
    assert_eq!(browser.sign_in("bob", PASSWORD).await.status(), 303);

    let s = start(
        &app,
        &["openid"],
        &[("prompt", "none"), ("id_token_hint", &alice_hint)],
    );
    expect_redirect_error(
        &browser,
        &s.url,
        "login_required",
        Some(&s.state),
        &srv.base,
    )
    .await;
    // Interactive: the sign-in page; bob signing in there gets no code for alice's hint.
    let s = start(&app, &["openid"], &[("id_token_hint", &alice_hint)]);
    let page = browser.get(&s.url).await.text().await.unwrap();
    assert!(page.contains("name=\"password\""), "asked to sign in again");
    let res = browser.login(&page, "bob", PASSWORD).await;
    assert_eq!(res.status(), 303);
    let (loc, p) = location_params(&res);
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert_eq!(p.get("error").map(String::as_str), Some("login_required"));
    assert!(!p.contains_key("code"));
    // Garbage, or an access token, is not a hint.
    let s = start(&app, &["openid"], &[("id_token_hint", "e30.e30.e30")]);
    expect_redirect_error(
        &browser,
        &s.url,
        "invalid_request",
        Some(&s.state),
        &srv.base,
    )
    .await;
    let access = t.access_token().secret().clone();
    let s = start(
        &app,
        &["openid"],
        &[("prompt", "none"), ("id_token_hint", &access)],
    );
    expect_redirect_error(
        &browser,
        &s.url,
        "invalid_request",
        Some(&s.state),
        &srv.base,
    )
    .await;
    srv.stop().await;
}
