//! Re-authentication before credential changes: a session cookie alone, once the sign-in
//! is older than PORTCULLIS_SUDO_TTL, can neither enrol an authenticator nor mint a token.

mod common;

use common::people::{PW, between, enrolled, sign_in_password};
use common::{TestServer, create_user, field, http_client, spawn};

const SUDO_TTL: i64 = 900;

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

async fn page(srv: &TestServer, http: &reqwest::Client, path: &str) -> String {
    http.get(srv.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_stale_session_must_confirm_the_password_before_enrolling() {
    let srv = spawn().await;
    create_user(&srv, "alice", PW, None);
    let http = http_client();
    assert_eq!(sign_in_password(&srv, &http, "alice").await.status(), 303);
    srv.clock.advance(SUDO_TTL + 1);
    let csrf = field(&page(&srv, &http, "/account/security").await, "csrf").unwrap();
    let res = http
        .post(srv.url("/account/security/enroll"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("Confirm it&#39;s you") || body.contains("Confirm it's you"));
    assert!(
        !body.contains("totp-secret"),
        "no enrolment without the password"
    );
    assert!(body.contains("action=\"/account/security/enroll\""));

    // A wrong password: refused, recorded.
    let res = http
        .post(srv.url("/account/security/enroll"))
        .form(&[("csrf", csrf.as_str()), ("sudo_password", "not it")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(!res.text().await.unwrap().contains("totp-secret"));

    // The right one: the enrolment goes ahead in the same request, under a new session
    // token (and with it a new form token).
    let res = http
        .post(srv.url("/account/security/enroll"))
        .form(&[("csrf", csrf.as_str()), ("sudo_password", PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookies = set_cookies(&res);
    assert!(
        cookies.iter().any(|c| c.starts_with("portcullis_session=")),
        "the session token is renewed: {cookies:?}"
    );
    let body = res.text().await.unwrap();
    assert!(body.contains("totp-secret"), "the enrolment started");
    let new_csrf = field(&body, "csrf").unwrap();
    assert_ne!(new_csrf, csrf, "the form token follows the session");

    // Within the window, no more questions.
    let res = http
        .post(srv.url("/account/security/enroll"))
        .form(&[("csrf", new_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("totp-secret"));

    let out = srv.cli(&["audit", "list", "--json"]);
    let trail = String::from_utf8(out.stdout).unwrap();
    assert!(trail.contains("\"sudo.confirmed\""), "{trail}");
    assert!(trail.contains("\"sudo.failed\""), "{trail}");
    srv.stop().await;
}

#[actix_web::test]
async fn the_old_session_token_stops_working_after_re_authentication() {
    let srv = spawn().await;
    create_user(&srv, "alice", PW, None);
    let http = http_client();
    let res = sign_in_password(&srv, &http, "alice").await;
    let old = set_cookies(&res)
        .into_iter()
        .find(|c| c.starts_with("portcullis_session="))
        .unwrap();
    let old = old.split(';').next().unwrap().to_string();
    srv.clock.advance(SUDO_TTL + 1);
    let csrf = field(&page(&srv, &http, "/account/security").await, "csrf").unwrap();
    let res = http
        .post(srv.url("/account/security/enroll"))
        .form(&[("csrf", csrf.as_str()), ("sudo_password", PW)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A copy of the old cookie (stolen before) no longer signs anyone in.
    let thief = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = thief
        .get(srv.url("/account"))
        .header("cookie", &old)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "sent to sign in");
    srv.stop().await;
}

#[actix_web::test]
async fn creating_a_token_after_the_window_asks_again_and_keeps_the_form() {
    let srv = spawn().await;
    let p = enrolled(&srv, "alice").await;
    srv.clock.advance(SUDO_TTL + 1);
    let csrf = field(&page(&srv, &p.http, "/account/tokens").await, "csrf").unwrap();
    let code = p.code(&srv);
    let res = p
        .http
        .post(srv.url("/account/tokens"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "nightly backup"),
            ("scope.api:read", "on"),
            ("expires", "90"),
            ("allowed_ips", "10.0.0.0/8"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(!body.contains("pcp_"), "no token without re-authentication");
    // What was typed rides along; the code is never echoed into the page.
    assert_eq!(field(&body, "name").as_deref(), Some("nightly backup"));
    assert_eq!(field(&body, "scope.api:read").as_deref(), Some("on"));
    assert_eq!(field(&body, "expires").as_deref(), Some("90"));
    assert_eq!(field(&body, "allowed_ips").as_deref(), Some("10.0.0.0/8"));
    assert!(!body.contains(&code));
    assert!(
        body.contains("name=\"sudo_code\""),
        "two-factor people confirm with a code"
    );

    // The password alone is not enough for an enrolled person.
    let mut form: Vec<(String, String)> = ["name", "scope.api:read", "expires", "allowed_ips"]
        .iter()
        .map(|n| (n.to_string(), field(&body, n).unwrap()))
        .collect();
    form.push(("csrf".into(), csrf.clone()));
    let mut wrong = form.clone();
    wrong.push(("sudo_password".into(), PW.into()));
    wrong.push(("sudo_code".into(), "000000".into()));
    let res = p
        .http
        .post(srv.url("/account/tokens"))
        .form(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(!res.text().await.unwrap().contains("pcp_"));

    // Password and a fresh code: the token is created at once, without a second code.
    srv.clock.advance(30);
    form.push(("sudo_password".into(), PW.into()));
    form.push(("sudo_code".into(), p.code(&srv)));
    let res = p
        .http
        .post(srv.url("/account/tokens"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let token = between(&body, "readonly value=\"", "\"").expect("the token, shown once");
    assert!(token.starts_with("pcp_"));
    let listed = page(&srv, &p.http, "/account/tokens").await;
    assert!(listed.contains("nightly backup") && listed.contains("10.0.0.0/8"));
    srv.stop().await;
}

#[actix_web::test]
async fn turning_two_factor_off_or_new_recovery_codes_need_a_recent_sign_in() {
    let srv = spawn().await;
    let p = enrolled(&srv, "alice").await;
    srv.clock.advance(SUDO_TTL + 1);
    for path in [
        "/account/security/disable",
        "/account/security/recovery-codes",
    ] {
        let csrf = field(&page(&srv, &p.http, "/account/security").await, "csrf").unwrap();
        let code = p.code(&srv);
        let res = p
            .http
            .post(srv.url(path))
            .form(&[("csrf", csrf.as_str()), ("code", code.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let body = res.text().await.unwrap();
        assert!(body.contains("sudo_password"), "{path} asks to confirm");
        assert!(!body.contains("Two-factor sign-in is <strong>off</strong>"));
    }
    // Confirmed: new recovery codes, shown once; the old ones stop working.
    let csrf = field(&page(&srv, &p.http, "/account/security").await, "csrf").unwrap();
    srv.clock.advance(30);
    let res = p
        .http
        .post(srv.url("/account/security/recovery-codes"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("sudo_password", PW),
            ("sudo_code", p.code(&srv).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert_eq!(body.matches("<li><code>").count(), 10, "ten new codes");
    let http = http_client();
    let step = sign_in_password(&srv, &http, "alice")
        .await
        .text()
        .await
        .unwrap();
    let res = http
        .post(srv.url("/login/mfa"))
        .form(&[
            ("csrf", field(&step, "csrf").unwrap().as_str()),
            ("code", p.recovery[0].as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "an old recovery code no longer works");
    srv.stop().await;
}

#[actix_web::test]
async fn the_second_sign_in_step_renews_the_session_token() {
    let srv = spawn().await;
    let p = enrolled(&srv, "alice").await;
    let http = http_client();
    let res = sign_in_password(&srv, &http, "alice").await;
    let pending = set_cookies(&res)
        .into_iter()
        .find(|c| c.starts_with("portcullis_session="))
        .unwrap();
    let pending = pending.split(';').next().unwrap().to_string();
    let step = res.text().await.unwrap();
    let res = http
        .post(srv.url("/login/mfa"))
        .form(&[
            ("csrf", field(&step, "csrf").unwrap().as_str()),
            ("code", p.code(&srv).as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let renewed = set_cookies(&res)
        .into_iter()
        .find(|c| c.starts_with("portcullis_session="))
        .expect("a new session cookie");
    assert_ne!(renewed.split(';').next().unwrap(), pending);
    // Whoever saw the pending cookie holds nothing.
    let thief = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = thief
        .get(srv.url("/account"))
        .header("cookie", &pending)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        http.get(srv.url("/account")).send().await.unwrap().status(),
        200
    );
    srv.stop().await;
}

/// A sign-in factor changes only within PORTCULLIS_SUDO_TTL_FACTORS (300 s) of a
/// sign-in: a cookie stolen six minutes after sign-in cannot enrol the thief's
/// authenticator, although the longer window for tokens is still open.
#[actix_web::test]
async fn enrolling_a_factor_needs_a_sign_in_within_five_minutes() {
    let srv = spawn().await;
    let enrol = |http: reqwest::Client| {
        let srv = &srv;
        async move {
            let csrf = field(&page(srv, &http, "/account/security").await, "csrf").unwrap();
            let res = http
                .post(srv.url("/account/security/enroll"))
                .form(&[("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        }
    };
    create_user(&srv, "alice", PW, None);
    create_user(&srv, "bob", PW, None);
    let (alice, bob) = (http_client(), http_client());
    assert_eq!(sign_in_password(&srv, &alice, "alice").await.status(), 303);
    assert_eq!(sign_in_password(&srv, &bob, "bob").await.status(), 303);
    srv.clock.advance(299);
    // The control: inside the window, enrolment starts.
    assert!(enrol(bob).await.contains("totp-secret"));
    srv.clock.advance(61);
    let body = enrol(alice.clone()).await;
    assert!(body.contains("sudo_password"), "asks to confirm");
    assert!(!body.contains("totp-secret"), "no enrolment without it");
    assert!(body.contains("5 minutes"), "says which window");
    // API tokens keep the 15-minute window: no confirmation asked (the form goes on to
    // its own rule: tokens need two-factor sign-in, which alice has not turned on).
    let tokens = page(&srv, &alice, "/account/tokens").await;
    let res = alice
        .post(srv.url("/account/tokens"))
        .form(&[
            ("csrf", field(&tokens, "csrf").unwrap().as_str()),
            ("name", "ci"),
            ("scope.api:read", "on"),
            ("expires", "30"),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(!body.contains("sudo_password"), "{body}");
    assert!(body.contains("needs two-factor sign-in"), "{body}");
    srv.stop().await;
}
