//! Guessing limits under bursts: every throttle counts an attempt before it checks it,
//! so a burst of concurrent wrong attempts gets at most the limit checked and the rest
//! refused with 429 and `Retry-After`, on one instance or across several.

mod common;

use common::people::{PW, Person, enrolled, sign_in_password};
use common::{TestServer, create_user, field, http_client, spawn, spawn_with};
use futures_util::future::join_all;

const BURST: usize = 50;
/// The default per-username limit (PORTCULLIS_LOGIN_MAX_FAILURES) and the per-person
/// second-factor limit.
const LIMIT: usize = 5;
/// `enrolled` tries one wrong code before the right one.
const SPENT_BY_ENROLMENT: usize = 1;

/// How the answers of a burst split: checked and refused (200 or 400), throttled (429).
#[derive(Debug, Default)]
struct Tally {
    checked: usize,
    throttled: usize,
    other: Vec<u16>,
}

async fn tally(responses: Vec<reqwest::Response>, refused_marker: &str) -> Tally {
    let mut t = Tally::default();
    for res in responses {
        let status = res.status().as_u16();
        let retry_after = res.headers().get("retry-after").is_some();
        let body = res.text().await.unwrap();
        match status {
            429 => {
                assert!(retry_after, "429 comes with Retry-After");
                t.throttled += 1;
            }
            200 | 400 if body.contains(refused_marker) => t.checked += 1,
            s => t.other.push(s),
        }
    }
    t
}

async fn login_page_csrf(srv: &TestServer, http: &reqwest::Client) -> String {
    let page = http
        .get(srv.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    field(&page, "csrf").unwrap()
}

async fn failures_recorded(srv: &TestServer, reason: &str) -> usize {
    let out = srv.cli(&["audit", "list", "--kind", "signin.failure", "--json"]);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains(reason))
        .count()
}

/// `BURST` wrong passwords sent together from one browser, the i-th for `username(i)`.
async fn wrong_passwords_together<'a>(
    srv: &TestServer,
    username: impl Fn(usize) -> &'a str,
) -> Tally {
    let http = http_client();
    let csrf = login_page_csrf(srv, &http).await;
    let burst = (0..BURST).map(|i| {
        let pw = format!("wrong password {i}");
        http.post(srv.url("/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", username(i)),
                ("password", pw.as_str()),
            ])
            .send()
    });
    let responses = join_all(burst)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    tally(responses, "Incorrect username or password").await
}

#[actix_web::test]
async fn a_burst_of_wrong_passwords_for_one_username_gets_the_limit_checked() {
    let srv = spawn().await;
    create_user(&srv, "alice", PW, None);
    let t = wrong_passwords_together(&srv, |_| "alice").await;
    assert_eq!(t.checked, LIMIT, "{t:?}");
    assert_eq!(t.throttled, BURST - LIMIT, "{t:?}");
    assert!(t.other.is_empty(), "{t:?}");
    assert_eq!(failures_recorded(&srv, "bad_credentials").await, LIMIT);
    // The right password waits too: nothing is checked until the window ends.
    let res = sign_in_password(&srv, &http_client(), "alice").await;
    assert_eq!(res.status(), 429);
    // The wrong passwords are on alice's account (her Activity page shows them).
    let out = srv.cli(&[
        "audit",
        "list",
        "--kind",
        "signin.failure",
        "--user",
        "alice",
        "--json",
    ]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        LIMIT
    );
    // The refusals are in the audit trail once per limit that held and window, not once
    // per request: the username's on alice's account; the address's (the burst also
    // runs into it) without one.
    let out = srv.cli(&["audit", "list", "--kind", "signin.throttled", "--json"]);
    let refused = String::from_utf8(out.stdout).unwrap();
    assert_eq!(refused.lines().count(), 2, "{refused}");
    let on_alice = refused
        .lines()
        .filter(|l| l.contains("\"limit\":\"username\""))
        .count();
    assert_eq!(on_alice, 1, "{refused}");
    let out = srv.cli(&[
        "audit",
        "list",
        "--kind",
        "signin.throttled",
        "--user",
        "alice",
        "--json",
    ]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        on_alice
    );
    srv.clock.advance(15 * 60);
    let res = sign_in_password(&srv, &http_client(), "alice").await;
    assert_eq!(res.status(), 303, "a new window");
    srv.stop().await;
}

/// A username signs in whatever its case, so every spelling shares one budget: a burst
/// spread over "alice", "ALICE", "Alice"... gets the limit checked, not the limit per
/// spelling.
#[actix_web::test]
async fn any_spelling_of_a_username_signs_in_and_shares_its_limit() {
    let srv = spawn().await;
    create_user(&srv, "alice", PW, None);
    assert_eq!(
        sign_in_password(&srv, &http_client(), "ALICE")
            .await
            .status(),
        303
    );
    // By Unicode's rules, on SQLite as on PostgreSQL.
    create_user(&srv, "straße", PW, None);
    assert_eq!(
        sign_in_password(&srv, &http_client(), "STRAẞE")
            .await
            .status(),
        303
    );
    let spellings = ["alice", "ALICE", "Alice", "aLICE", "alIce", "ALice"];
    let t = wrong_passwords_together(&srv, |i| spellings[i % spellings.len()]).await;
    assert_eq!(t.checked, LIMIT, "{t:?}");
    assert_eq!(t.throttled, BURST - LIMIT, "{t:?}");
    srv.stop().await;
}

#[actix_web::test]
async fn a_burst_from_one_address_over_many_usernames_gets_four_times_the_limit() {
    let srv = spawn().await;
    let http = http_client();
    let csrf = login_page_csrf(&srv, &http).await;
    let burst = (0..BURST).map(|i| {
        let user = format!("user{i}");
        http.post(srv.url("/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", user.as_str()),
                ("password", "wrong password"),
            ])
            .send()
    });
    let responses = join_all(burst)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let t = tally(responses, "Incorrect username or password").await;
    assert_eq!(t.checked, 4 * LIMIT, "{t:?}");
    assert_eq!(t.throttled, BURST - 4 * LIMIT, "{t:?}");
    srv.stop().await;
}

#[actix_web::test]
async fn the_username_limit_is_shared_by_every_instance() {
    let srv = spawn().await;
    let other = srv.sibling().await;
    let other_base = format!("http://{}", other.addr);
    create_user(&srv, "alice", PW, None);
    // Half the burst at each instance, each from its own browser.
    let (a, b) = (http_client(), http_client());
    let csrf_a = login_page_csrf(&srv, &a).await;
    let page_b = b
        .get(format!("{other_base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf_b = field(&page_b, "csrf").unwrap();
    let burst = (0..BURST).map(|i| {
        let (http, url, csrf) = if i % 2 == 0 {
            (&a, srv.url("/login"), &csrf_a)
        } else {
            (&b, format!("{other_base}/login"), &csrf_b)
        };
        http.post(url)
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "alice"),
                ("password", "wrong password"),
            ])
            .send()
    });
    let responses = join_all(burst)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let t = tally(responses, "Incorrect username or password").await;
    assert_eq!(t.checked, LIMIT, "two instances, one budget: {t:?}");
    other.stop().await;
    srv.stop().await;
}

#[actix_web::test]
async fn a_browser_that_signed_in_before_is_not_locked_out_by_a_guesser() {
    let srv = spawn().await;
    create_user(&srv, "alice", PW, None);
    // Alice signs in once: her browser now holds a device cookie for her.
    let alice = http_client();
    let res = sign_in_password(&srv, &alice, "alice").await;
    assert_eq!(res.status(), 303);
    let device_cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().unwrap().starts_with("portcullis_device="));
    assert!(device_cookie);
    // A guesser exhausts the username's budget.
    let mallory = http_client();
    let csrf = login_page_csrf(&srv, &mallory).await;
    for _ in 0..LIMIT {
        let res = mallory
            .post(srv.url("/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "alice"),
                ("password", "guess"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    assert_eq!(
        sign_in_password(&srv, &mallory, "alice").await.status(),
        429
    );
    assert_eq!(
        sign_in_password(&srv, &http_client(), "alice")
            .await
            .status(),
        429,
        "every browser without the cookie shares the username's counter"
    );
    // Alice's own browser is judged by its own counter. (It is still signed in, so its
    // form token is the session's.)
    let csrf = field(
        &alice
            .get(srv.url("/account"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "csrf",
    )
    .unwrap();
    let res = alice
        .post(srv.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", PW),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the owner's browser signs in");
    srv.stop().await;
}

#[actix_web::test]
async fn a_new_password_ends_the_device_cookies_of_the_old_one() {
    let srv = spawn().await;
    create_user(&srv, "alice", PW, None);
    let old_browser = http_client();
    assert_eq!(
        sign_in_password(&srv, &old_browser, "alice").await.status(),
        303
    );
    // The password is reset (say, after it leaked).
    let mut set = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["user", "set-password", "alice", "--password-stdin"])
        .env("DATABASE_URL", &srv.db.url)
        .env("PORTCULLIS_KEYS_DIR", srv.keys_dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    set.stdin
        .take()
        .unwrap()
        .write_all(b"an entirely new passphrase\n")
        .unwrap();
    assert!(set.wait().unwrap().success());
    // The old browser's cookie no longer has a budget of its own: once guessers have
    // used the username's, it waits like everyone else.
    let mallory = http_client();
    let csrf = login_page_csrf(&srv, &mallory).await;
    for _ in 0..LIMIT {
        mallory
            .post(srv.url("/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "alice"),
                ("password", "guess"),
            ])
            .send()
            .await
            .unwrap();
    }
    let csrf = login_page_csrf(&srv, &old_browser).await;
    let res = old_browser
        .post(srv.url("/login"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "alice"),
            ("password", "another guess"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        429,
        "the old device cookie vouches for nothing"
    );
    srv.stop().await;
}

/// Sign in with the password and stop at the second step: the browser, and the
/// second step's CSRF token.
async fn pending_second_step(srv: &TestServer, user: &str) -> (reqwest::Client, String) {
    let http = http_client();
    let res = sign_in_password(srv, &http, user).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    (http, field(&page, "csrf").unwrap())
}

async fn burst_of_codes(
    http: &reqwest::Client,
    url: &str,
    csrf: &str,
    extra: &[(&str, &str)],
) -> Vec<reqwest::Response> {
    let burst = (0..BURST).map(|i| {
        let code = format!("{:06}", 100_000 + i);
        let mut form = vec![("csrf", csrf.to_string()), ("code", code)];
        form.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        http.post(url).form(&form).send()
    });
    join_all(burst)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

#[actix_web::test]
async fn a_burst_of_wrong_second_step_codes_gets_the_limit_checked() {
    let srv = spawn().await;
    let p = enrolled(&srv, "alice").await;
    srv.clock.advance(15 * 60);
    let (http, csrf) = pending_second_step(&srv, "alice").await;
    let responses = burst_of_codes(&http, &srv.url("/login/mfa"), &csrf, &[]).await;
    let t = tally(responses, "That code did not work").await;
    assert_eq!(t.checked, LIMIT, "{t:?}");
    assert_eq!(t.throttled, BURST - LIMIT, "{t:?}");
    assert_eq!(failures_recorded(&srv, "bad_second_factor").await, LIMIT);
    let out = srv.cli(&[
        "audit",
        "list",
        "--kind",
        "signin.throttled",
        "--user",
        "alice",
        "--json",
    ]);
    let refused = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        refused.lines().count(),
        1,
        "one line for the burst: {refused}"
    );
    assert!(
        refused.lines().all(|l| l.contains("second_factor")),
        "{refused}"
    );
    // Even the right code waits for the window.
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

/// A signed-in person's page and its CSRF token.
async fn csrf_of(srv: &TestServer, p: &Person, path: &str) -> String {
    let page = p
        .http
        .get(srv.url(path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    field(&page, "csrf").unwrap()
}

#[actix_web::test]
async fn bursts_of_wrong_codes_on_the_account_pages_share_one_budget() {
    let srv = spawn().await;
    let p = enrolled(&srv, "alice").await;
    // Turning two-factor off.
    let csrf = csrf_of(&srv, &p, "/account/security").await;
    let responses =
        burst_of_codes(&p.http, &srv.url("/account/security/disable"), &csrf, &[]).await;
    let t = tally(responses, "That code did not work").await;
    let left = LIMIT - SPENT_BY_ENROLMENT;
    assert_eq!(t.checked, left, "disable: {t:?}");
    assert_eq!(t.throttled, BURST - left, "disable: {t:?}");
    // The budget is the person's: the other forms are throttled now too.
    let csrf = csrf_of(&srv, &p, "/account/security").await;
    let code = p.code(&srv);
    let res = p
        .http
        .post(srv.url("/account/security/recovery-codes"))
        .form(&[("csrf", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());

    // A new window: creating tokens, in a burst.
    srv.clock.advance(15 * 60);
    let bob = enrolled(&srv, "bob").await;
    let csrf = csrf_of(&srv, &bob, "/account/tokens").await;
    let extra = [
        ("name", "ci"),
        ("scope.api:read", "on"),
        ("expires", "30"),
        ("allowed_ips", ""),
    ];
    let responses = burst_of_codes(&bob.http, &srv.url("/account/tokens"), &csrf, &extra).await;
    let t = tally(responses, "That code did not work").await;
    assert_eq!(t.checked, left, "token creation: {t:?}");
    assert_eq!(t.throttled, BURST - left, "token creation: {t:?}");
    srv.stop().await;
}

#[actix_web::test]
async fn a_burst_of_wrong_codes_confirming_an_enrolment_gets_the_limit_checked() {
    let srv = spawn().await;
    create_user(&srv, "carol", PW, None);
    let http = http_client();
    assert_eq!(sign_in_password(&srv, &http, "carol").await.status(), 303);
    let page = http
        .get(srv.url("/account/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field(&page, "csrf").unwrap();
    let res = http
        .post(srv.url("/account/security/enroll"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let responses = burst_of_codes(&http, &srv.url("/account/security/confirm"), &csrf, &[]).await;
    let t = tally(responses, "That code did not work").await;
    assert_eq!(t.checked, LIMIT, "{t:?}");
    assert_eq!(t.throttled, BURST - LIMIT, "{t:?}");
    srv.stop().await;
}

#[actix_web::test]
async fn the_login_limit_setting_is_honoured() {
    let srv = spawn_with(|a| a.login_max_failures = Some(2)).await;
    create_user(&srv, "dave", PW, None);
    let http = http_client();
    let csrf = login_page_csrf(&srv, &http).await;
    let burst = (0..20).map(|_| {
        http.post(srv.url("/login"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("username", "dave"),
                ("password", "nope nope"),
            ])
            .send()
    });
    let responses = join_all(burst)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let t = tally(responses, "Incorrect username or password").await;
    assert_eq!(t.checked, 2, "{t:?}");
    srv.stop().await;
}
