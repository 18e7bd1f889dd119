//! OpenID Connect Back-Channel Logout 1.0: when a session ends, every app that signed in
//! through it hears about it, at its `backchannel_logout_uri`, from the outbox worker;
//! apps that did not take part hear nothing; the person's answer never waits for an app.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::browser::Browser;
use common::oidc::{App, PASSWORD, app_request, app_with, exchange, start};
use common::receiver::{Receiver, Reply, claims};
use common::{TestServer, create_user, location_params, spawn, spawn_with};
use portcullis::oauth::clients::ClientRequest;
use serde_json::{Value, json};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Long enough for a worker that polls every second, on a busy machine.
const SOON: Duration = Duration::from_secs(10);

/// An app that hears about ended sessions at `r.uri(path)`.
fn listening(srv: &TestServer, r: &Receiver, path: &str) -> App {
    app_with(
        srv,
        ClientRequest {
            scope: Some("openid".into()),
            backchannel_logout_uri: Some(r.uri(path)),
            ..app_request()
        },
    )
}

/// Sign `user` in to `app` in `browser` (signing in first if the browser is not), and
/// return the session's `sid` and the person's `sub`, from the ID token.
async fn allow(srv: &TestServer, browser: &Browser, app: &App, user: &str) -> (String, String) {
    let s = start(app, &["openid"], &[]);
    let mut res = browser.get(&s.url).await;
    if res.status() == 200 {
        let page = res.text().await.unwrap();
        res = if page.contains("name=\"password\"") {
            browser.login(&page, user, PASSWORD).await
        } else {
            browser.consent(&page, "allow").await
        };
    }
    if res.status() == 200 {
        let page = res.text().await.unwrap();
        res = browser.consent(&page, "allow").await;
    }
    assert!(res.status().is_redirection(), "{}", res.status());
    let (_, params) = location_params(&res);
    let tokens = exchange(srv, app, &params["code"], s.verifier).await;
    let id = claims(tokens.extra_fields().id_token.as_deref().expect("ID token"));
    let sid = id["sid"].as_str().expect("the ID token carries sid");
    (sid.to_string(), id["sub"].as_str().unwrap().to_string())
}

/// "Sign out" on the account pages.
async fn sign_out(browser: &Browser) {
    let page = browser.text(&format!("{}/account", browser.base)).await;
    let res = browser.submit(&page, "/logout", &[]).await;
    assert_eq!(res.status(), 200);
}

/// Wait for the logout token about `sid` at `app`'s URI; its claims.
async fn token_about(r: &Receiver, app: &str, sid: &str, path: &str) -> Value {
    let until = Instant::now() + SOON;
    loop {
        if let Some(c) = r
            .got(app)
            .iter()
            .map(|g| claims(&g.token))
            .find(|c| c["sid"] == sid)
        {
            return c;
        }
        assert!(Instant::now() < until, "{path}: no logout token for {sid}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `client show --json`'s account of the last logout token sent to `id`.
fn last_delivery(srv: &TestServer, id: &str) -> Value {
    let out = srv.cli(&["client", "show", id, "--json"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["backchannel_logout_last_delivery"].clone()
}

/// Two apps signed in through one session both get a logout token that verifies against
/// the JWKS and says what §2.4 asks; an app registered to listen that took no part in the
/// session hears nothing.
#[actix_web::test]
async fn each_app_of_the_session_gets_one_logout_token_that_verifies() {
    let srv = spawn().await;
    let r = Receiver::start().await;
    create_user(&srv, "alice", PASSWORD, None);
    let a = listening(&srv, &r, "a");
    let b = listening(&srv, &r, "b");
    let _bystander = listening(&srv, &r, "c");
    let browser = Browser::new(&srv);
    let (sid, sub) = allow(&srv, &browser, &a, "alice").await;
    let (sid_b, _) = allow(&srv, &browser, &b, "alice").await;
    assert_eq!(sid, sid_b, "one session");

    let meta: Value = srv
        .http
        .get(srv.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["backchannel_logout_supported"], true);
    assert_eq!(meta["backchannel_logout_session_supported"], true);

    sign_out(&browser).await;
    for (app, client) in [("a", &a), ("b", &b)] {
        let got = r.wait_for(app, 1, SOON).await;
        assert_eq!(got[0].content_type, "application/x-www-form-urlencoded");
        let token = &got[0].token;
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
        let c = srv.verify(token, &client.id).await.expect("verifies");
        assert_eq!(c["iss"], srv.base);
        assert_eq!(c["aud"], client.id);
        assert_eq!(c["sid"], sid);
        assert_eq!(c["sub"], sub);
        assert_eq!(c["events"], json!({ EVENT: {} }));
        assert!(c.get("nonce").is_none(), "§2.4: no nonce");
        assert!(!c["jti"].as_str().unwrap().is_empty());
        let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
        assert!((iat - srv.clock_now()).abs() <= 5);
        assert!(exp > iat && exp - iat <= 120, "at most two minutes");
    }
    // Nothing more comes: one token per app, none to the bystander.
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(r.got("a").len(), 1);
    assert_eq!(r.got("b").len(), 1);
    assert!(
        r.got("c").is_empty(),
        "an app that took no part hears nothing"
    );
    let last = last_delivery(&srv, &a.id);
    assert_eq!(last["outcome"], "delivered", "{last}");
    assert_eq!(last["attempts"], 1);
    assert!(last_delivery(&srv, &_bystander.id).is_null());
    r.stop().await;
    srv.stop().await;
}

/// A receiver that fails is tried again: 5 s after the first attempt, then 10 s after
/// the second (the test moves the server's clock), never sooner.
#[actix_web::test]
async fn a_receiver_answering_503_twice_gets_the_third_attempt() {
    let srv = spawn().await;
    let r = Receiver::start().await;
    create_user(&srv, "alice", PASSWORD, None);
    let a = listening(&srv, &r, "a");
    let browser = Browser::new(&srv);
    let (sid, _) = allow(&srv, &browser, &a, "alice").await;
    r.answer(&[Reply::Status(503), Reply::Status(503)]);
    sign_out(&browser).await;
    r.wait_for("a", 1, SOON).await;
    // Not before its time.
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(r.got("a").len(), 1, "no retry before the backoff");
    let last = last_delivery(&srv, &a.id);
    assert_eq!(last["outcome"], "pending", "{last}");
    assert_eq!(last["error"], "status 503 Service Unavailable");
    srv.clock.advance(5);
    r.wait_for("a", 2, SOON).await;
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    srv.clock.advance(5);
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(r.got("a").len(), 2, "the second wait is twice the first");
    srv.clock.advance(5);
    let got = r.wait_for("a", 3, SOON).await;
    for g in &got {
        assert_eq!(claims(&g.token)["sid"], sid);
    }
    let until = Instant::now() + SOON;
    while last_delivery(&srv, &a.id)["outcome"] != "delivered" {
        assert!(Instant::now() < until);
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last_delivery(&srv, &a.id)["attempts"], 3);
    r.stop().await;
    srv.stop().await;
}

/// The person's sign-out never waits for an app: one that takes the request and never
/// answers holds up neither the answer nor another app's token.
#[actix_web::test]
async fn a_receiver_that_never_answers_slows_nothing() {
    let srv = spawn().await;
    let r = Receiver::start().await;
    create_user(&srv, "alice", PASSWORD, None);
    let silent = listening(&srv, &r, "silent");
    let other = listening(&srv, &r, "other");
    let browser = Browser::new(&srv);
    allow(&srv, &browser, &silent, "alice").await;
    allow(&srv, &browser, &other, "alice").await;
    // Every request to either app: the silent one's first takes the first reply.
    r.answer(&[Reply::Silence]);
    let asked = Instant::now();
    sign_out(&browser).await;
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );
    let both = Instant::now();
    let (s, o) =
        futures_util::future::join(r.wait_for("silent", 1, SOON), r.wait_for("other", 1, SOON))
            .await;
    assert_eq!((s.len(), o.len()), (1, 1));
    assert!(both.elapsed() < Duration::from_secs(5));
    r.stop().await;
    srv.stop().await;
}

/// `portcullis user ...` with `input` on standard input.
fn cli_stdin(srv: &TestServer, args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .env("DATABASE_URL", &srv.db.url)
        .env("PORTCULLIS_KEYS_DIR", srv.keys_dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The CLI writes by the system clock, the test server runs on the test's: bring the
/// server's up to the system's, so that what the CLI wrote is due.
fn catch_up(srv: &TestServer) {
    let real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if real > srv.clock_now() {
        srv.clock.advance(real - srv.clock_now());
    }
}

const NEW_PASSWORD: &str = "marmalade violet tundra orchestra";

/// Every way a session ends reaches the apps signed in through it: the account pages'
/// sign-out, the sessions list (one, everywhere else), a password change that signs out
/// elsewhere, a reset link, the operator's `user set-password`, `user reset-2fa` and
/// `user delete`, and the purge of sessions past their idle limit. (RP-initiated logout
/// is in `rp_initiated_logout_tells_the_other_apps`.)
#[actix_web::test]
async fn every_way_a_session_ends_tells_its_apps() {
    let srv = spawn().await;
    let r = Receiver::start().await;
    let app = listening(&srv, &r, "app");
    for u in ["ann", "bob", "cal", "dee", "eve", "fay", "gus", "ivy"] {
        create_user(&srv, u, PASSWORD, None);
    }
    let fresh = || Browser::new(&srv);

    // The account pages' "Sign out".
    let b = fresh();
    let (sid, _) = allow(&srv, &b, &app, "ann").await;
    sign_out(&b).await;
    token_about(&r, "app", &sid, "sign out").await;

    // The sessions list: one session, then everywhere else.
    let (here, there, yonder) = (fresh(), fresh(), fresh());
    here.sign_in("bob", PASSWORD).await;
    let (sid_there, _) = allow(&srv, &there, &app, "bob").await;
    let (sid_yonder, _) = allow(&srv, &yonder, &app, "bob").await;
    let page = here.text(&srv.url("/account/security/sessions")).await;
    let csrf = common::field(&page, "csrf").unwrap();
    let res = here
        .post(
            &srv.url("/account/security/sessions/end"),
            &[("csrf", csrf.as_str()), ("id", sid_there.as_str())],
        )
        .await;
    assert!(res.status().is_redirection());
    token_about(&r, "app", &sid_there, "end one session").await;
    let page = here.text(&srv.url("/account/security/sessions")).await;
    here.submit(&page, "/account/security/sessions/end-others", &[])
        .await;
    token_about(&r, "app", &sid_yonder, "everywhere else").await;

    // A password change that signs out everywhere else.
    let (here, there) = (fresh(), fresh());
    here.sign_in("cal", PASSWORD).await;
    let (sid, _) = allow(&srv, &there, &app, "cal").await;
    let page = here.text(&srv.url("/account/security")).await;
    let res = here
        .submit(
            &page,
            "/account/security/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
                ("sign_out_others", "on"),
            ],
        )
        .await;
    assert!(res.status().is_success() || res.status().is_redirection());
    token_about(&r, "app", &sid, "password change").await;

    // A reset link.
    let b = fresh();
    let (sid, _) = allow(&srv, &b, &app, "dee").await;
    let out = srv.cli(&["user", "reset-link", "dee", "--json"]);
    let link: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, query) = link["url"].as_str().unwrap().split_once("/reset").unwrap();
    let person = fresh();
    let page = person.text(&srv.url(&format!("/reset{query}"))).await;
    let res = person
        .submit(
            &page,
            "/reset",
            &[
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
        .await;
    assert!(res.status().is_success() || res.status().is_redirection());
    token_about(&r, "app", &sid, "reset link").await;

    // The operator's commands.
    let b = fresh();
    let (sid, _) = allow(&srv, &b, &app, "eve").await;
    let out = cli_stdin(
        &srv,
        &["user", "set-password", "eve", "--password-stdin"],
        &format!("{NEW_PASSWORD}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    catch_up(&srv);
    token_about(&r, "app", &sid, "user set-password").await;

    let b = fresh();
    let (sid, _) = allow(&srv, &b, &app, "fay").await;
    assert!(srv.cli(&["user", "delete", "fay"]).status.success());
    catch_up(&srv);
    token_about(&r, "app", &sid, "user delete").await;

    let person = common::people::enrolled(&srv, "hal").await;
    let b = Browser::with(&srv, &person.http);
    let (sid, _) = allow(&srv, &b, &app, "hal").await;
    assert!(srv.cli(&["user", "reset-2fa", "hal"]).status.success());
    catch_up(&srv);
    token_about(&r, "app", &sid, "user reset-2fa").await;

    // Idle past the limit, found by the purge.
    let b = fresh();
    let (sid, _) = allow(&srv, &b, &app, "gus").await;
    srv.clock.advance(srv.settings.session_idle_ttl + 1);
    let mut conn = srv.state().db.pool().get().unwrap();
    let p = portcullis::store::purge::run(&mut conn, srv.clock_now(), 300, 3600, 90, 30).unwrap();
    assert!(p.sessions >= 1);
    drop(conn);
    token_about(&r, "app", &sid, "purge").await;

    // Each session was announced once.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    let sids: Vec<String> = r
        .got("app")
        .iter()
        .map(|g| claims(&g.token)["sid"].as_str().unwrap().to_string())
        .collect();
    let unique: HashSet<&String> = sids.iter().collect();
    assert_eq!(unique.len(), sids.len(), "{sids:?}");
    r.stop().await;
    srv.stop().await;
}

/// RP-initiated logout by one app: every app of the session hears, the one that asked
/// included (it may have other tabs or devices bound to the session).
#[actix_web::test]
async fn rp_initiated_logout_tells_the_other_apps() {
    let srv = spawn().await;
    let r = Receiver::start().await;
    create_user(&srv, "alice", PASSWORD, None);
    let a = listening(&srv, &r, "a");
    let b = listening(&srv, &r, "b");
    let browser = Browser::new(&srv);
    let s = start(&a, &["openid"], &[]);
    let (sid, _) = allow(&srv, &browser, &b, "alice").await;
    let res = browser.get(&s.url).await;
    let page = res.text().await.unwrap();
    let res = browser.consent(&page, "allow").await;
    let (_, params) = location_params(&res);
    let tokens = exchange(&srv, &a, &params["code"], s.verifier).await;
    let hint = tokens.extra_fields().id_token.clone().unwrap();
    let url = url::Url::parse_with_params(&srv.url("/logout"), &[("id_token_hint", &hint)])
        .unwrap()
        .to_string();
    let page = browser.text(&url).await;
    let res = browser.submit(&page, "/logout", &[]).await;
    assert_eq!(res.status(), 200);
    token_about(&r, "a", &sid, "RP-initiated logout").await;
    token_about(&r, "b", &sid, "RP-initiated logout").await;
    r.stop().await;
    srv.stop().await;
}

/// A client that registered itself hears too. Open registration may not point us at an
/// address (ours or anyone's network): only https with a public host name; with an
/// initial access token, a loopback or private address is accepted.
#[actix_web::test]
async fn a_dynamically_registered_app_hears_and_open_registration_names_public_hosts_only() {
    let srv = spawn_with(|a| a.registration = Some("open".into())).await;
    let r = Receiver::start().await;
    create_user(&srv, "alice", PASSWORD, None);
    let body = |uri: &str| {
        json!({
            "redirect_uris": [common::oidc::REDIRECT],
            "client_name": "Photo Printer",
            "scope": "openid",
            "backchannel_logout_uri": uri,
        })
    };
    for bad in [
        r.uri("open"),
        "https://127.0.0.1/logout".to_string(),
        "https://localhost/logout".to_string(),
        "https://localhost./logout".to_string(),
        "https://metadata.google.internal/logout".to_string(),
        "https://app.example\\@127.0.0.1/logout".to_string(),
        " https://app.example/logout".to_string(),
        "https://app.example/logout#frag".to_string(),
        "ftp://app.example/logout".to_string(),
    ] {
        let res = srv
            .http
            .post(srv.url("/register"))
            .json(&body(&bad))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{bad}");
        let e: Value = res.json().await.unwrap();
        assert_eq!(e["error"], "invalid_client_metadata", "{bad}");
    }
    let out = srv.cli(&["registration-token", "create", "--json"]);
    let iat: Value = serde_json::from_slice(&out.stdout).unwrap();
    let res = srv
        .http
        .post(srv.url("/register"))
        .bearer_auth(iat["token"].as_str().unwrap())
        .json(&body(&r.uri("dyn")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let reg: Value = res.json().await.unwrap();
    assert_eq!(reg["backchannel_logout_uri"], r.uri("dyn"));
    assert_eq!(reg["backchannel_logout_session_required"], true);
    let id = reg["client_id"].as_str().unwrap();
    let secret = reg["client_secret"].as_str().unwrap();
    let dynamic = common::oidc::registered_app(&srv, id.into(), Some(secret.into()));
    let browser = Browser::new(&srv);
    let (sid, _) = allow(&srv, &browser, &dynamic, "alice").await;
    sign_out(&browser).await;
    let c = token_about(&r, "dyn", &sid, "dynamic client").await;
    assert_eq!(c["aud"], id);
    r.stop().await;
    srv.stop().await;
}

/// Two instances over one database, 50 people signing out at once, half on each: each
/// session's token reaches the app exactly once.
#[actix_web::test]
async fn two_instances_deliver_each_token_exactly_once() {
    let srv = spawn().await;
    let sibling = srv.sibling().await;
    let r = Receiver::start().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = listening(&srv, &r, "app");
    let mut browsers = Vec::new();
    let mut sids = HashSet::new();
    for i in 0..50 {
        let b = Browser::new(&srv);
        let (sid, _) = allow(&srv, &b, &app, "alice").await;
        sids.insert(sid);
        // Half of them sign out on the other instance.
        let b = if i % 2 == 1 {
            Browser {
                http: b.http.clone(),
                base: sibling.issuer.clone(),
            }
        } else {
            b
        };
        browsers.push(b);
    }
    futures_util::future::join_all(browsers.iter().map(sign_out)).await;
    r.wait_for("app", 50, Duration::from_secs(30)).await;
    actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    let got: Vec<String> = r
        .got("app")
        .iter()
        .map(|g| claims(&g.token)["sid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got.len(), 50, "each once");
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), sids);
    sibling.stop().await;
    r.stop().await;
    srv.stop().await;
}
