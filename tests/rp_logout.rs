//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

mod common;

use common::browser::Browser;
use common::oidc::*;
use common::{create_user, field, spawn};

/// OpenID Connect RP-Initiated Logout 1.0: the app sends the person to the end-session
/// endpoint; they confirm, and only then are signed out and sent back, only to a URI the
/// app registered for that.
#[actix_web::test]
async fn an_app_signs_the_person_out_and_gets_them_back_only_to_a_registered_uri() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let printer = app(&srv, false, "openid");
    let other = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
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

/// An ID token hint for another person than the one signed in signs nobody out; a hint
/// whose `sid` names a session ends that session.
#[actix_web::test]
async fn a_hint_for_someone_else_signs_nobody_out_and_a_sid_ends_its_session() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    create_user(&srv, "bob", PASSWORD, None);
    let printer = app(&srv, false, "openid");
    // Bob's ID token, from his own browser.
    let bobs = Browser::new(&srv);
    let s = start(&printer, &["openid"], &[]);
    let page = bobs.text(&s.url).await;
    let page = bobs
        .login(&page, "bob", PASSWORD)
        .await
        .text()
        .await
        .unwrap();
    let res = bobs.consent(&page, "allow").await;
    let (_, params) = common::location_params(&res);
    let tokens = exchange(&srv, &printer, &params["code"], s.verifier).await;
    let bob_hint = tokens.extra_fields().id_token.clone().unwrap();

    // Alice is signed in here; an app sends her browser Bob's hint.
    let alice = Browser::new(&srv);
    let s = start(&printer, &["openid"], &[]);
    sign_in_and_allow(&srv, &alice, &s).await;
    let url =
        url::Url::parse_with_params(&srv.url("/logout"), &[("id_token_hint", &bob_hint)]).unwrap();
    let res = alice.get(url.as_str()).await;
    assert_eq!(res.status(), 400, "nobody is signed out");
    assert!(res.text().await.unwrap().contains("Nobody was signed out"));
    // Nor does posting a confirmation with that hint sign her out.
    let csrf = field(&alice.text(&srv.url("/account")).await, "csrf").unwrap();
    let res = alice
        .post(
            &srv.url("/logout"),
            &[("csrf", &csrf), ("id_token_hint", &bob_hint)],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        alice.get(&srv.url("/account")).await.status(),
        200,
        "still signed in"
    );

    // Bob's own browser, with his hint: the session it names ends.
    let url =
        url::Url::parse_with_params(&srv.url("/logout"), &[("id_token_hint", &bob_hint)]).unwrap();
    let page = bobs.text(url.as_str()).await;
    let res = bobs.submit(&page, "/logout", &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        bobs.get(&srv.url("/account")).await.status(),
        303,
        "signed out"
    );
    assert_eq!(alice.get(&srv.url("/account")).await.status(), 200);
    srv.stop().await;
}

/// A hint whose `sid` names another of the person's sessions (the app signed them in
/// in another browser) ends that session and this browser's too: they asked to sign out
/// here.
#[actix_web::test]
async fn a_sid_of_another_browser_ends_that_session_and_this_one() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let printer = app(&srv, false, "openid");
    let laptop = Browser::new(&srv);
    let s = start(&printer, &["openid"], &[]);
    let params = sign_in_and_allow(&srv, &laptop, &s).await;
    let tokens = exchange(&srv, &printer, &params["code"], s.verifier).await;
    let laptop_hint = tokens.extra_fields().id_token.clone().unwrap();

    let (phone, third) = (Browser::new(&srv), Browser::new(&srv));
    for b in [&phone, &third] {
        b.sign_in("alice", PASSWORD).await;
        assert_eq!(b.get(&srv.url("/account")).await.status(), 200);
    }

    let url = url::Url::parse_with_params(&srv.url("/logout"), &[("id_token_hint", &laptop_hint)])
        .unwrap();
    let page = phone.text(url.as_str()).await;
    let res = phone.submit(&page, "/logout", &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        phone.get(&srv.url("/account")).await.status(),
        303,
        "this browser"
    );
    assert_eq!(
        laptop.get(&srv.url("/account")).await.status(),
        303,
        "the named session"
    );
    assert_eq!(
        third.get(&srv.url("/account")).await.status(),
        200,
        "a session nobody named stays"
    );
    srv.stop().await;
}
