//! Passkeys (WebAuthn L3) with a software authenticator: registered on one instance and
//! used on another over the same database; ceremonies single use, short-lived and bound
//! to the browser that began them; replays and counters that go backwards refused.

mod common;

use common::browser::Browser;
use common::passkey::{self, Authenticator, spawn_at_localhost};
use common::people::{PW, sign_in_password};
use common::{create_user, field, http_client, location_params};
use serde_json::Value;

/// A person signed in with a password at `srv`, with one passkey added.
async fn with_passkey(srv: &common::TestServer, user: &str) -> (reqwest::Client, Authenticator) {
    create_user(srv, user, PW, None);
    let http = http_client();
    assert_eq!(sign_in_password(srv, &http, user).await.status(), 303);
    let mut auth = Authenticator::new(&srv.base);
    let res = passkey::add(&srv.base, &http, &mut auth, "Laptop").await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("Passkey added."), "{page}");
    assert!(page.contains("Laptop"));
    (http, auth)
}

async fn signed_in_as(base: &str, http: &reqwest::Client) -> Option<String> {
    let res = http.get(format!("{base}/account")).send().await.unwrap();
    if res.status() != 200 {
        return None;
    }
    Some(res.text().await.unwrap())
}

#[actix_web::test]
async fn a_passkey_added_on_one_instance_signs_in_on_another_without_a_username() {
    let srv = spawn_at_localhost().await;
    let (_, mut auth) = with_passkey(&srv, "alice").await;
    // Instance B: same database and issuer (behind one front door), its own port.
    let issuer = srv.base.clone();
    let b = srv
        .sibling_with(|a| {
            a.bind = Some("127.0.0.1:0".into());
            a.issuer = Some(issuer);
        })
        .await;
    // Cookies are per host, not per port: one browser, as behind one front door.
    let b_base = format!("http://localhost:{}", b.addr.port());
    let http = http_client();
    let page = passkey::text(&http, &format!("{b_base}/login")).await;
    assert!(page.contains("Sign in with a passkey"));
    assert!(page.contains("autocomplete=\"username webauthn\""));
    // The ceremony begins on A and finishes on B.
    let o = passkey::options_json(&srv.base, &http, &page, "sign_in").await;
    let credential = auth.get(&o);
    let ceremony = o["ceremony"].as_str().unwrap();
    let res = passkey::post_sign_in(&b_base, &http, &page, ceremony, &credential, &[]).await;
    assert_eq!(res.status(), 303, "{:?}", res.text().await);
    let account = signed_in_as(&b_base, &http).await.expect("signed in on B");
    assert!(account.contains("alice"));
    // The use is recorded: last used, and the counter moved.
    let mut conn = srv.state().db.pool().get().unwrap();
    let uid = portcullis::store::users::find_by_username(&mut conn, "alice")
        .unwrap()
        .unwrap()
        .id;
    let rows = portcullis::store::passkeys::of_user(&mut conn, uid).unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].last_used_at.is_some());
    assert!(rows[0].sign_count > 0);
    b.stop().await;
}

#[actix_web::test]
async fn a_ceremony_answers_once_even_to_a_burst() {
    let srv = spawn_at_localhost().await;
    let (_, mut auth) = with_passkey(&srv, "alice").await;
    let http = http_client();
    let page = passkey::text(&http, &srv.url("/login")).await;
    let o = passkey::options_json(&srv.base, &http, &page, "sign_in").await;
    let credential = auth.get(&o);
    let ceremony = o["ceremony"].as_str().unwrap().to_string();
    // Eight copies at once, from the same browser: one signs in.
    let posts = (0..8).map(|_| {
        let (http, page, c, cred, base) = (
            http.clone(),
            page.clone(),
            ceremony.clone(),
            credential.clone(),
            srv.base.clone(),
        );
        async move {
            passkey::post_sign_in(&base, &http, &page, &c, &cred, &[])
                .await
                .status()
                .as_u16()
        }
    });
    let statuses: Vec<u16> = futures_util::future::join_all(posts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 303 || *s == 400),
        "{statuses:?}"
    );
    // The same answer against a new ceremony is a replay: its challenge is another.
    let fresh = http_client();
    let page = passkey::text(&fresh, &srv.url("/login")).await;
    let o = passkey::options_json(&srv.base, &fresh, &page, "sign_in").await;
    let res = passkey::post_sign_in(
        &srv.base,
        &fresh,
        &page,
        o["ceremony"].as_str().unwrap(),
        &credential,
        &[],
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(signed_in_as(&srv.base, &fresh).await.is_none());
}

#[actix_web::test]
async fn a_ceremony_begun_in_another_browser_is_refused() {
    let srv = spawn_at_localhost().await;
    let (_, mut auth) = with_passkey(&srv, "alice").await;
    let victim = http_client();
    let page = passkey::text(&victim, &srv.url("/login")).await;
    let o = passkey::options_json(&srv.base, &victim, &page, "sign_in").await;
    let credential = auth.get(&o);
    // Another browser presents the ceremony and a valid answer to it.
    let other = http_client();
    let other_page = passkey::text(&other, &srv.url("/login")).await;
    let ceremony = o["ceremony"].as_str().unwrap();
    let res =
        passkey::post_sign_in(&srv.base, &other, &other_page, ceremony, &credential, &[]).await;
    assert_eq!(res.status(), 400);
    assert!(signed_in_as(&srv.base, &other).await.is_none());
    // It was spent by the attempt: the browser that began it cannot use it either.
    let res = passkey::post_sign_in(&srv.base, &victim, &page, ceremony, &credential, &[]).await;
    assert_eq!(res.status(), 400);
}

#[actix_web::test]
async fn a_counter_that_goes_backwards_refuses_the_sign_in_and_is_audited() {
    let srv = spawn_at_localhost().await;
    let (_, mut auth) = with_passkey(&srv, "alice").await;
    let http = http_client();
    let page = passkey::text(&http, &srv.url("/login")).await;
    assert_eq!(
        passkey::sign_in(&srv.base, &http, &page, &mut auth)
            .await
            .status(),
        303
    );
    // Another copy of the authenticator has signed 100 times meanwhile.
    {
        use diesel::prelude::*;
        use portcullis::store::schema::passkeys::dsl;
        let mut conn = srv.state().db.pool().get().unwrap();
        diesel::update(dsl::passkeys)
            .set(dsl::sign_count.eq(100i64))
            .execute(&mut conn)
            .unwrap();
    }
    let http = http_client();
    let page = passkey::text(&http, &srv.url("/login")).await;
    let res = passkey::sign_in(&srv.base, &http, &page, &mut auth).await;
    assert_eq!(res.status(), 400);
    assert!(signed_in_as(&srv.base, &http).await.is_none());
    let mut conn = srv.state().db.pool().get().unwrap();
    let filter = portcullis::store::audit::Filter {
        limit: 50,
        ..Default::default()
    };
    let events = portcullis::store::audit::list(&mut conn, &filter).unwrap();
    assert!(
        events.iter().any(|e| e.kind == "passkey.counter_went_back"),
        "{:?}",
        events.iter().map(|e| &e.kind).collect::<Vec<_>>()
    );
}

#[actix_web::test]
async fn a_removed_passkey_signs_nobody_in() {
    let srv = spawn_at_localhost().await;
    let (http, mut auth) = with_passkey(&srv, "alice").await;
    let page = passkey::text(&http, &srv.url("/account/security")).await;
    let id = common::people::between(&page, "name=\"id\" value=\"", "\"")
        .expect("a remove form")
        .to_string();
    let csrf = field(&page, "csrf").unwrap();
    let res = http
        .post(srv.url("/account/security/passkeys/remove"))
        .form(&[("csrf", csrf.as_str()), ("id", id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("You have no passkeys."));
    let other = http_client();
    let page = passkey::text(&other, &srv.url("/login")).await;
    let res = passkey::sign_in(&srv.base, &other, &page, &mut auth).await;
    assert_eq!(res.status(), 400);
    assert!(signed_in_as(&srv.base, &other).await.is_none());
}

#[actix_web::test]
async fn with_two_factor_on_a_passkey_is_the_second_step_or_the_whole_sign_in() {
    let srv = spawn_at_localhost().await;
    let person = common::people::enrolled(&srv, "alice").await;
    let mut auth = Authenticator::new(&srv.base);
    let res = passkey::add(&srv.base, &person.http, &mut auth, "Phone").await;
    assert_eq!(res.status(), 200);
    // On its own: no code is asked.
    let http = http_client();
    let page = passkey::text(&http, &srv.url("/login")).await;
    let res = passkey::sign_in(&srv.base, &http, &page, &mut auth).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/account");
    // After a password, instead of the code.
    let http = http_client();
    let res = Browser::with(&srv, &http).sign_in("alice", PW).await;
    assert_eq!(res.status(), 200);
    let step = res.text().await.unwrap();
    assert!(step.contains("Use a passkey instead"));
    let o = passkey::options_json(&srv.base, &http, &step, "second_step").await;
    assert!(
        !o["publicKey"]["allowCredentials"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let credential = auth.get(&o);
    let ceremony = o["ceremony"].as_str().unwrap();
    let res = passkey::post_sign_in(
        &srv.base,
        &http,
        &step,
        ceremony,
        &credential,
        &[("step", "second")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(signed_in_as(&srv.base, &http).await.is_some());
}

#[actix_web::test]
async fn id_tokens_say_how_the_person_signed_in() {
    use common::oidc;
    let srv = spawn_at_localhost().await;
    let (_, mut auth) = with_passkey(&srv, "alice").await;
    let app = oidc::app(&srv, false, "openid");
    let id_token = |t: &oidc::OidcTokenResponse| {
        common::jose::claims(t.extra_fields().id_token.as_deref().unwrap())
    };
    // With a password.
    let browser = Browser::new(&srv);
    let started = oidc::start(&app, &["openid"], &[]);
    let params = oidc::sign_in_and_allow(&srv, &browser, &started).await;
    let t = oidc::exchange(&srv, &app, &params["code"], started.verifier).await;
    let claims = id_token(&t);
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert_eq!(claims["acr"], "urn:portcullis:acr:pwd");
    // acr_values asking for a phishing-resistant sign-in: the password session is not
    // enough, so the sign-in page comes back; a passkey there reaches it.
    let started = oidc::start(
        &app,
        &["openid"],
        &[("acr_values", "urn:portcullis:acr:phr")],
    );
    let res = browser.get(&started.url).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Sign in with a passkey"),
        "the sign-in page again"
    );
    let res = passkey::sign_in(&srv.base, &browser.http, &page, &mut auth).await;
    let res = match res.status().as_u16() {
        200 => browser.consent(&res.text().await.unwrap(), "allow").await,
        _ => res,
    };
    assert_eq!(res.status(), 303);
    let (_, params) = location_params(&res);
    let t = oidc::exchange(&srv, &app, &params["code"], started.verifier).await;
    let claims = id_token(&t);
    let amr: Vec<String> = serde_json::from_value(claims["amr"].clone()).unwrap();
    assert!(!amr.contains(&"pwd".to_string()), "{amr:?}");
    assert!(amr.contains(&"hwk".to_string()) || amr.contains(&"swk".to_string()));
    assert!(amr.contains(&"mfa".to_string()));
    assert_eq!(claims["acr"], "urn:portcullis:acr:phr");
    assert!(claims["auth_time"].as_i64().is_some());
    // Discovery says which levels exist.
    let doc: Value = srv
        .http
        .get(srv.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["acr_values_supported"][2], "urn:portcullis:acr:phr");
}

#[actix_web::test]
async fn passkeys_are_off_for_an_issuer_at_an_ip_address() {
    let srv = common::spawn().await;
    let http = http_client();
    let page = passkey::text(&http, &srv.url("/login")).await;
    assert!(!page.contains("passkey"), "no passkey controls");
    let res = passkey::options(&srv.base, &http, &page, "sign_in").await;
    assert_eq!(res.status(), 404);
    let csp =
        http.get(srv.url("/login")).send().await.unwrap().headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
    assert!(!csp.contains("script-src"), "{csp}");
}

#[actix_web::test]
async fn a_passkey_confirms_it_is_you_before_a_sensitive_change() {
    let srv = spawn_at_localhost().await;
    let (http, mut auth) = with_passkey(&srv, "alice").await;
    // Past the re-authentication window for factors.
    srv.clock.advance(600);
    let page = passkey::text(&http, &srv.url("/account/security")).await;
    let csrf = field(&page, "csrf").unwrap();
    let res = http
        .post(srv.url("/account/security/passkeys/new"))
        .form(&[("csrf", csrf.as_str()), ("name", "Second")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let reauth = res.text().await.unwrap();
    assert!(reauth.contains("Confirm with a passkey"), "{reauth}");
    let o = passkey::options_json(&srv.base, &http, &reauth, "reauth").await;
    let credential = auth.get(&o);
    let hidden = common::browser::hidden_fields(&reauth, "/account/security/passkeys/new");
    let mut form: Vec<(String, String)> = hidden
        .into_iter()
        .filter(|(k, _)| k != "sudo_ceremony" && k != "sudo_credential")
        .collect();
    form.push((
        "sudo_ceremony".into(),
        o["ceremony"].as_str().unwrap().into(),
    ));
    form.push(("sudo_credential".into(), credential));
    let res = http
        .post(srv.url("/account/security/passkeys/new"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("data-options="),
        "the creation page after confirming"
    );
}

fn passkeys_of(srv: &common::TestServer, user: &str) -> usize {
    let mut conn = srv.state().db.pool().get().unwrap();
    let uid = portcullis::store::users::find_by_username(&mut conn, user)
        .unwrap()
        .unwrap()
        .id;
    portcullis::store::passkeys::of_user(&mut conn, uid)
        .unwrap()
        .len()
}

/// Whoever had the account may have added a passkey: an operator's `user reset-2fa` and
/// a password set with a reset link remove them all, and the passkey signs nobody in.
#[actix_web::test]
async fn a_factor_reset_and_a_reset_link_remove_passkeys() {
    let srv = spawn_at_localhost().await;
    let (_, mut auth) = with_passkey(&srv, "alice").await;
    let out = srv.cli(&["user", "reset-2fa", "alice"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("1 passkey(s) removed"),
        "{said}"
    );
    assert_eq!(passkeys_of(&srv, "alice"), 0);
    let http = http_client();
    let page = passkey::text(&http, &srv.url("/login")).await;
    assert_eq!(
        passkey::sign_in(&srv.base, &http, &page, &mut auth)
            .await
            .status(),
        400
    );
    // Nothing left to reset.
    assert!(!srv.cli(&["user", "reset-2fa", "alice"]).status.success());

    let (_, _) = with_passkey_again(&srv, "alice").await;
    assert_eq!(passkeys_of(&srv, "alice"), 1);
    let out = srv.cli(&["user", "reset-link", "alice", "--json"]);
    let link: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, query) = link["url"].as_str().unwrap().split_once("/reset").unwrap();
    let person = Browser::new(&srv);
    let page = person.text(&srv.url(&format!("/reset{query}"))).await;
    let new = "violet tundra spoon orchestra";
    let res = person
        .submit(
            &page,
            "/reset",
            &[("new_password", new), ("new_password_again", new)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(passkeys_of(&srv, "alice"), 0);
}

/// Sign in again with the password and add another passkey.
async fn with_passkey_again(
    srv: &common::TestServer,
    user: &str,
) -> (reqwest::Client, Authenticator) {
    let http = http_client();
    assert_eq!(sign_in_password(srv, &http, user).await.status(), 303);
    let mut auth = Authenticator::new(&srv.base);
    let res = passkey::add(&srv.base, &http, &mut auth, "Again").await;
    assert_eq!(res.status(), 200);
    (http, auth)
}
