//! Two-factor sign-in (TOTP, RFC 6238) as a person meets it: the second step, codes
//! that work once, recovery codes, and the limit on guesses.

mod common;

use common::people::{PW, enrolled, sign_in_password};
use common::{field, http_client, spawn};

#[actix_web::test]
async fn sign_in_asks_for_the_second_factor_and_codes_work_once() {
    let srv = spawn().await;
    let p = enrolled(&srv, "alice").await;
    let http = http_client();
    let res = sign_in_password(&srv, &http, "alice").await;
    assert_eq!(res.status(), 200, "password right: second step page");
    let page = res.text().await.unwrap();
    assert!(page.contains("name=\"code\""));
    // Not signed in yet.
    assert_eq!(
        http.get(srv.url("/account")).send().await.unwrap().status(),
        303
    );
    let csrf = field(&page, "csrf").unwrap();
    let code = p.code(&srv);
    let res = http
        .post(srv.url("/login/mfa"))
        .form(&[("csrf", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        http.get(srv.url("/account")).send().await.unwrap().status(),
        200
    );

    // The same code again, in another browser: refused (never accepted twice).
    let other = http_client();
    let page = sign_in_password(&srv, &other, "alice")
        .await
        .text()
        .await
        .unwrap();
    let csrf = field(&page, "csrf").unwrap();
    let res = other
        .post(srv.url("/login/mfa"))
        .form(&[("csrf", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("did not work"));

    // A recovery code works once.
    let rc = p.recovery[0].clone();
    let res = other
        .post(srv.url("/login/mfa"))
        .form(&[("csrf", csrf.as_str()), ("code", rc.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "recovery code accepted");
    let third = http_client();
    let page = sign_in_password(&srv, &third, "alice")
        .await
        .text()
        .await
        .unwrap();
    let csrf3 = field(&page, "csrf").unwrap();
    let res = third
        .post(srv.url("/login/mfa"))
        .form(&[("csrf", csrf3.as_str()), ("code", rc.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a recovery code is single use");
    srv.stop().await;
}

#[actix_web::test]
async fn guessing_codes_is_throttled() {
    let srv = spawn().await;
    let p = enrolled(&srv, "alice").await;
    let http = http_client();
    let page = sign_in_password(&srv, &http, "alice")
        .await
        .text()
        .await
        .unwrap();
    let csrf = field(&page, "csrf").unwrap();
    let mut last = 0;
    for i in 0..6 {
        let res = http
            .post(srv.url("/login/mfa"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("code", format!("{:06}", 123_450 + i).as_str()),
            ])
            .send()
            .await
            .unwrap();
        last = res.status().as_u16();
        if last == 429 {
            assert!(res.headers().get("retry-after").is_some());
            break;
        }
    }
    assert_eq!(last, 429);
    // Even the right code waits.
    let code = p.code(&srv);
    let res = http
        .post(srv.url("/login/mfa"))
        .form(&[("csrf", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    srv.stop().await;
}

/// A person who lost both their authenticator and their recovery codes: the second step
/// says what to do, and an operator's `user reset-2fa` turns two-factor off, ends their
/// sessions and leaves a line on their Activity page.
#[actix_web::test]
async fn an_operator_resets_a_lost_second_factor() {
    let srv = spawn().await;
    let p = enrolled(&srv, "alice").await;
    let page = sign_in_password(&srv, &http_client(), "alice")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Can't use your code?"), "{page}");
    assert!(page.contains("reset your two-factor sign-in"));

    let out = srv.cli(&["user", "reset-2fa", "alice"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("two-factor sign-in is off for alice"));
    // The session signed in with the old factor is over.
    let res = p.http.get(srv.url("/account")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    // The password alone signs in now, and Activity says who turned it off.
    let http = http_client();
    assert_eq!(sign_in_password(&srv, &http, "alice").await.status(), 303);
    let activity = http
        .get(srv.url("/account/activity"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        activity.contains("Two-factor sign-in reset by an administrator"),
        "{activity}"
    );
    // Nothing left to reset; nobody to reset.
    for who in ["alice", "nobody"] {
        let out = srv.cli(&["user", "reset-2fa", who]);
        assert!(!out.status.success(), "{who}");
    }
    srv.stop().await;
}

/// A TOTP secret is sealed for its person: copied to another person's row it does not
/// open (their codes are not the copier's way in); one sealed before that binding is
/// bound at the next start and keeps working.
#[actix_web::test]
async fn a_sealed_secret_opens_only_for_its_person() {
    use portcullis::store::{totp, users};
    let srv = spawn().await;
    let alice = enrolled(&srv, "alice").await;
    enrolled(&srv, "bob").await;
    let mut conn = srv.state().db.pool().get().unwrap();
    let mut id = |name| {
        users::find_by_username(&mut conn, name)
            .unwrap()
            .unwrap()
            .id
    };
    let (a, b) = (id("alice"), id("bob"));
    let sealed = totp::find(&mut conn, a).unwrap().unwrap().secret_sealed;
    assert!(sealed.starts_with("v2."), "{sealed}");
    let bobs = totp::find(&mut conn, b).unwrap().unwrap().secret_sealed;
    assert!(totp::reseal(&mut conn, b, &bobs, &sealed).unwrap());
    let second_step = |base: String, user: &'static str, code: String| async move {
        let browser = common::browser::Browser::at(&base);
        let page = browser.sign_in(user, PW).await.text().await.unwrap();
        let csrf = field(&page, "csrf").unwrap();
        let url = format!("{base}/login/mfa");
        let form = [("csrf", csrf.as_str()), ("code", code.as_str())];
        browser.post(&url, &form).await.status()
    };
    let status = second_step(srv.base.clone(), "bob", alice.code(&srv)).await;
    assert_eq!(status, 200, "alice's code does not open bob's account");

    let legacy = srv.state().data_keys.seal(&alice.secret).unwrap();
    assert!(totp::reseal(&mut conn, a, &sealed, &legacy).unwrap());
    drop(conn);
    let sibling = srv.sibling().await;
    let mut conn = srv.state().db.pool().get().unwrap();
    let bound = totp::find(&mut conn, a).unwrap().unwrap().secret_sealed;
    assert!(bound.starts_with("v2."), "bound at start: {bound}");
    srv.clock.advance(30);
    let base = format!("http://{}", sibling.addr);
    let status = second_step(base, "alice", alice.code(&srv)).await;
    assert_eq!(status, 303, "the bound secret works");
    sibling.stop().await;
    srv.stop().await;
}

/// Enrolments started together from one session each answer a page (the set-up, or a
/// conflict that says what happened), never an outage.
#[actix_web::test]
async fn enrolments_started_together_answer_pages() {
    let srv = spawn().await;
    common::create_user(&srv, "alice", PW, None);
    let http = http_client();
    assert_eq!(sign_in_password(&srv, &http, "alice").await.status(), 303);
    let page = http
        .get(srv.url("/account/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field(&page, "csrf").unwrap();
    let burst = (0..12).map(|_| {
        http.post(srv.url("/account/security/enroll"))
            .form(&[("csrf", csrf.as_str())])
            .send()
    });
    let mut started = 0;
    for res in futures_util::future::join_all(burst).await {
        let res = res.unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        match status {
            200 if body.contains("totp-secret") => started += 1,
            409 if body.contains("started twice at the same moment") => {}
            s => panic!("{s}: {body}"),
        }
    }
    assert!(started >= 1);
    srv.stop().await;
}
