//! The sign-in and consent pages: CSRF, prompts, throttling, headers, connected apps.

mod common;

use common::browser::Browser;
use common::oidc::*;
use common::{create_user, field, location_params, spawn, spawn_with};
use portcullis::oauth::clients::ClientRequest;

#[actix_web::test]
async fn forms_without_a_csrf_token_are_refused() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
    let s = start(&app, &["openid"], &[]);
    let page = browser.get(&s.url).await.text().await.unwrap();
    let txn = field(&page, "txn").unwrap();
    let res = browser
        .post(
            &srv.url("/login"),
            &[("txn", &txn), ("username", "alice"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(
        res.headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().contains("session"))
    );
    // A token from another browser does not match this one's cookie.
    let other = Browser::new(&srv);
    let other_page = other.get(&s.url).await.text().await.unwrap();
    let foreign = field(&other_page, "csrf").unwrap();
    let res = browser
        .post(
            &srv.url("/login"),
            &[
                ("csrf", &foreign),
                ("txn", &txn),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    srv.stop().await;
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
    let flow = set_cookie(&res, "portcullis_flow").expect("the transaction's binding");
    let page = res.text().await.unwrap();
    // Signed double-submit: the form's token is a MAC of the cookie, never the cookie.
    let pre_field = field(&page, "csrf").unwrap();
    assert_ne!(pre_field, pre);
    let txn = field(&page, "txn").unwrap();
    // A cookie the attacker planted, repeated in the form, is refused: the naive
    // double-submit accepted any equal pair.
    let planted = "A".repeat(43);
    let res = raw
        .post(srv.url("/login"))
        .header(
            "cookie",
            format!("portcullis_csrf={planted}; portcullis_flow={flow}"),
        )
        .form(&[
            ("csrf", planted.as_str()),
            ("txn", &txn),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = raw
        .post(srv.url("/login"))
        .header(
            "cookie",
            format!("portcullis_csrf={pre}; portcullis_flow={flow}"),
        )
        .form(&[
            ("csrf", pre_field.as_str()),
            ("txn", &txn),
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
    assert_ne!(bound, pre_field, "a new token once signed in");

    let consent = |csrf: &str, cookie: String| {
        raw.post(srv.url("/consent"))
            .header("cookie", cookie)
            .form(&[("csrf", csrf), ("txn", &txn), ("decision", "allow")])
            .send()
    };
    for (csrf, cookie) in [
        (
            planted.as_str(),
            format!(
                "portcullis_session={session}; portcullis_csrf={planted}; portcullis_flow={flow}"
            ),
        ),
        (
            pre_field.as_str(),
            format!("portcullis_session={session}; portcullis_csrf={pre}; portcullis_flow={flow}"),
        ),
    ] {
        let res = consent(csrf, cookie).await.unwrap();
        assert_eq!(res.status(), 403, "{csrf}");
    }
    let res = consent(
        &bound,
        format!("portcullis_session={session}; portcullis_flow={flow}"),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    srv.stop().await;
}

#[actix_web::test]
async fn denied_consent_is_access_denied_and_not_remembered() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
    let s = start(&app, &["openid"], &[]);
    let page = browser.get(&s.url).await.text().await.unwrap();
    let page = browser
        .login(&page, "alice", PASSWORD)
        .await
        .text()
        .await
        .unwrap();
    let res = browser.consent(&page, "deny").await;
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
    let browser = Browser::new(&srv);
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
    let browser = Browser::new(&srv);
    let s = start(&app, &["openid"], &[]);
    sign_in_and_allow(&srv, &browser, &s).await;
    srv.clock.advance(5);
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let again = start(&app, &["openid"], &[extra]);
        let res = browser.get(&again.url).await;
        assert_eq!(res.status(), 200, "{extra:?}");
        let page = res.text().await.unwrap();
        assert!(page.contains("name=\"password\""));
        let res = browser.login(&page, "alice", PASSWORD).await;
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
    let browser = Browser::new(&srv);
    let page = browser.get(&srv.url("/login")).await.text().await.unwrap();
    let wrong_pw = browser
        .login(&page, "alice", "wrong password")
        .await
        .text()
        .await
        .unwrap();
    let no_user = browser
        .login(&page, "mallory", "wrong password")
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
    browser.login(&page, "alice", "wrong again").await;
    browser.login(&page, "alice", "and again").await;
    let res = browser.login(&page, "alice", PASSWORD).await;
    assert_eq!(res.status(), 429, "even the right password waits");
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 900);
    srv.clock.advance(901);
    let res = browser.login(&page, "alice", PASSWORD).await;
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
    let browser = Browser::new(&srv);
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
    let browser = Browser::new(&srv);
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

/// The consent form carries only the transaction's id: a request that asked for a fresh
/// sign-in (`prompt=login`, `max_age=0`) cannot be answered by posting consent from an
/// older session; the person signs in first, and the code carries the new auth_time.
#[actix_web::test]
async fn consent_cannot_skip_a_sign_in_the_request_asked_for() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
    // Signed in, and consented, a while ago.
    let first = start(&app, &["openid"], &[]);
    sign_in_and_allow(&srv, &browser, &first).await;
    srv.clock.advance(600);
    for extra in [[("prompt", "login")], [("max_age", "0")]] {
        let s = start(&app, &["openid"], &extra);
        let page = browser.get(&s.url).await.text().await.unwrap();
        assert!(
            page.contains("name=\"password\""),
            "{extra:?}: asked to sign in"
        );
        // Straight to consent with the transaction (and the session's form token).
        let account = browser.text(&srv.url("/account")).await;
        let csrf = field(&account, "csrf").unwrap();
        let txn = field(&page, "txn").unwrap();
        let res = browser
            .post(
                &srv.url("/consent"),
                &[("csrf", &csrf), ("txn", &txn), ("decision", "allow")],
            )
            .await;
        assert_eq!(res.status(), 200, "{extra:?}: no code");
        let page = res.text().await.unwrap();
        assert!(
            page.contains("name=\"password\""),
            "{extra:?}: the sign-in page"
        );
        // Signing in then completes the request, with the new sign-in time.
        srv.clock.advance(5);
        let res = browser.login(&page, "alice", PASSWORD).await;
        assert_eq!(res.status(), 303, "{extra:?}");
        let (_, params) = location_params(&res);
        let t = exchange(&srv, &app, &params["code"], s.verifier).await;
        let id_token = t.extra_fields().id_token.clone().unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                id_token.split('.').nth(1).unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            claims["auth_time"],
            srv.clock_now(),
            "{extra:?}: a fresh auth_time"
        );
    }
    srv.stop().await;
}

/// A large authorization request (here a 20 KB `claims`) stays on the server; the forms
/// that follow carry only its id, so sign-in completes.
#[actix_web::test]
async fn a_large_authorization_request_completes_sign_in() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
    let claims = format!("{{\"userinfo\":{{\"x\":\"{}\"}}}}", "a".repeat(20_000));
    let s = start(&app, &["openid"], &[("claims", &claims)]);
    assert!(s.url.len() > 20_000);
    let params = sign_in_and_allow(&srv, &browser, &s).await;
    exchange(&srv, &app, &params["code"], s.verifier).await;
    srv.stop().await;
}

/// A transaction is used once, expires, and belongs to the browser that started it:
/// anything else gets an error page, never a redirect.
#[actix_web::test]
async fn a_replayed_expired_or_foreign_transaction_gets_an_error_page() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
    let s = start(&app, &["openid"], &[]);
    let page = browser.text(&s.url).await;
    let consent = browser.login(&page, "alice", PASSWORD).await;
    let consent = consent.text().await.unwrap();
    assert_eq!(browser.consent(&consent, "allow").await.status(), 303);
    // Replayed.
    let res = browser.consent(&consent, "allow").await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());

    // Expired.
    let s = start(&app, &["openid"], &[("prompt", "consent")]);
    let page = browser.text(&s.url).await;
    assert!(page.contains("value=\"allow\""));
    srv.clock.advance(16 * 60);
    let res = browser.consent(&page, "allow").await;
    assert_eq!(res.status(), 400, "expired");
    assert!(res.headers().get("location").is_none());

    // Another browser's transaction, with this browser's own form token.
    let s = start(&app, &["openid"], &[("prompt", "login")]);
    let foreign = field(&Browser::new(&srv).text(&s.url).await, "txn").unwrap();
    let own = field(&browser.text(&srv.url("/account")).await, "csrf").unwrap();
    let res = browser
        .post(
            &srv.url("/login"),
            &[
                ("csrf", own.as_str()),
                ("txn", foreign.as_str()),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), 400, "not this browser's transaction");
    assert!(res.headers().get("location").is_none());
    srv.stop().await;
}

/// Two answers to one consent page sent together (a double click, or an attacker's
/// replay racing the person): exactly one reaches the client, allow or deny; the other
/// gets an error page.
#[actix_web::test]
async fn answers_sent_together_reach_the_client_once() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    for decisions in [["deny", "deny"], ["allow", "deny"]] {
        let browser = Browser::new(&srv);
        let s = start(&app, &["openid"], &[("prompt", "consent")]);
        let page = browser.text(&s.url).await;
        let page = browser
            .login(&page, "alice", PASSWORD)
            .await
            .text()
            .await
            .unwrap();
        let answers =
            futures_util::future::join_all(decisions.iter().map(|d| browser.consent(&page, d)))
                .await;
        let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
        let redirects = answers
            .iter()
            .filter(|r| r.headers().get("location").is_some())
            .count();
        assert_eq!(redirects, 1, "{decisions:?}: {statuses:?}");
        assert!(
            statuses.contains(&303) && statuses.contains(&400),
            "{statuses:?}"
        );
    }
    srv.stop().await;
}

/// An authorization request by POST (OpenID Connect Core §3.1.2.1) may be as large as
/// one by GET; beyond what a transaction keeps, it is refused with 413, not stored.
#[actix_web::test]
async fn a_large_posted_authorization_request_is_kept_up_to_the_limit() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
    let s = start(&app, &["openid"], &[]);
    let url = url::Url::parse(&s.url).unwrap();
    let mut params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let claims = |n: usize| format!("{{\"userinfo\":{{\"x\":\"{}\"}}}}", "a".repeat(n));
    params.push(("claims".into(), claims(40_000)));
    let form: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = browser.post(&srv.url("/authorize"), &form).await;
    assert_eq!(res.status(), 200, "40 KB is kept");
    assert!(res.text().await.unwrap().contains("name=\"txn\""));
    params.pop();
    params.push(("claims".into(), claims(70_000)));
    let form: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = browser.post(&srv.url("/authorize"), &form).await;
    assert_eq!(res.status(), 413);
    srv.stop().await;
}

/// Every sign-in started keeps its request until it expires: one address may have only
/// so much kept, and the rest get 429 with Retry-After, even when they arrive together.
#[actix_web::test]
async fn one_address_can_keep_only_so_much_in_sign_ins() {
    let srv = spawn().await;
    let app = app(&srv, false, "openid");
    // Requests of about 60 KB each: the budget holds a known number of them.
    let budget = portcullis::pages::limits::FLOW_KB_PER_ADDRESS as usize;
    let claims = format!("{{\"userinfo\":{{\"x\":\"{}\"}}}}", "a".repeat(60 * 1024));
    let per_request = 61; // KB, counted in whole kilobytes, rounded up
    let fit = budget / per_request;
    let urls: Vec<String> = (0..fit + 10)
        .map(|_| start(&app, &["openid"], &[("claims", &claims)]).url)
        .collect();
    let answers = futures_util::future::join_all(urls.iter().map(|u| srv.http.get(u).send())).await;
    let (mut ok, mut refused) = (0, 0);
    for res in answers {
        let res = res.unwrap();
        match res.status().as_u16() {
            200 => ok += 1,
            429 => {
                assert!(res.headers().get("retry-after").is_some());
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((ok, refused), (fit, 10));
    srv.stop().await;
}

/// The server's address sends people to their account (the sign-in page first); their
/// activity names the apps they allowed by name.
#[actix_web::test]
async fn the_root_leads_to_the_account_whose_activity_names_apps() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
    let res = browser.get(&srv.url("/")).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account");
    let s = start(&app, &["openid"], &[]);
    sign_in_and_allow(&srv, &browser, &s).await;
    let page = browser.text(&srv.url("/account/activity")).await;
    assert!(page.contains("App allowed"), "{page}");
    assert!(page.contains("Photo Printer"), "{page}");
    assert!(!page.contains(&format!("app {}", app.id)), "{page}");
    srv.stop().await;
}

/// Whoever can plant a cookie can also fetch the sign-in page with it and read the token
/// that goes with it: what stops them signing a victim in as themselves (login CSRF) is
/// that a browser says where a form was posted from, and a post from another site is
/// refused whatever it carries. The control: the same pair posted from our own origin.
#[actix_web::test]
async fn a_form_posted_from_another_site_is_refused_whatever_it_carries() {
    let srv = spawn().await;
    create_user(&srv, "mallory", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let s = start(&app, &["openid"], &[]);
    let raw = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let planted = "A".repeat(43);
    let res = raw
        .get(&s.url)
        .header("cookie", format!("portcullis_csrf={planted}"))
        .send()
        .await
        .unwrap();
    let flow = set_cookie(&res, "portcullis_flow").expect("flow");
    let page = res.text().await.unwrap();
    let token = field(&page, "csrf").unwrap();
    let txn = field(&page, "txn").unwrap();
    let ours = srv.base.clone();
    let post = |headers: Vec<(&'static str, String)>| {
        let mut req = raw.post(srv.url("/login")).header(
            "cookie",
            format!("portcullis_csrf={planted}; portcullis_flow={flow}"),
        );
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.form(&[
            ("csrf", token.as_str()),
            ("txn", txn.as_str()),
            ("username", "mallory"),
            ("password", PASSWORD),
        ])
        .send()
    };
    for headers in [
        vec![("origin", "http://evil.example".to_string())],
        vec![
            ("origin", "null".to_string()),
            ("sec-fetch-site", "cross-site".to_string()),
        ],
        vec![("sec-fetch-site", "cross-site".to_string())],
        vec![("sec-fetch-site", "same-site".to_string())],
        vec![
            ("origin", ours.clone()),
            ("sec-fetch-site", "cross-site".to_string()),
        ],
    ] {
        let res = post(headers.clone()).await.unwrap();
        assert_eq!(res.status(), 403, "{headers:?}");
        assert!(set_cookie(&res, "portcullis_session").is_none());
    }
    let res = post(vec![
        ("origin", ours),
        ("sec-fetch-site", "same-origin".to_string()),
    ])
    .await
    .unwrap();
    assert_eq!(res.status(), 200, "the consent page");
    assert!(set_cookie(&res, "portcullis_session").is_some());
    srv.stop().await;
}
