//! The account pages as a person uses them: one layout with navigation and sign-out on
//! every page, readable times, and changing one's own password (strength rule, the
//! current password checked, other sessions ended on request).

mod common;

use common::browser::Browser;
use common::{create_user, spawn};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "violet tundra spoon orchestra";

#[actix_web::test]
async fn every_account_page_shares_one_layout() {
    let srv = spawn().await;
    create_user(&srv, "ada", PASSWORD, None);
    let browser = Browser::new(&srv);
    browser.sign_in("ada", PASSWORD).await;
    for (path, current) in [
        ("/account", "Connected apps"),
        ("/account/security", "Security"),
        ("/account/tokens", "API tokens"),
        ("/account/activity", "Activity"),
    ] {
        let res = browser.get(&srv.url(path)).await;
        assert_eq!(res.status(), 200, "{path}");
        let page = res.text().await.unwrap();
        // Who is signed in (the name, else the username), and a way out.
        assert!(
            page.contains("Signed in as <strong>ada Example</strong>"),
            "{path}"
        );
        assert!(page.contains("action=\"/logout\""), "{path}: sign out");
        for link in [
            "/account\"",
            "/account/security\"",
            "/account/tokens\"",
            "/account/activity\"",
        ] {
            assert!(
                page.contains(&format!("href=\"{link}")),
                "{path}: link {link}"
            );
        }
        // Exactly the current page is marked.
        assert_eq!(page.matches("aria-current=\"page\"").count(), 1, "{path}");
        assert!(
            page.contains(&format!("aria-current=\"page\">{current}</a>")),
            "{path}"
        );
    }
    // Times as people read them, the exact value kept for machines.
    let page = browser.text(&srv.url("/account/activity")).await;
    assert!(page.contains("<time datetime=\""), "{page}");
    assert!(page.contains(" UTC</time>"), "{page}");
    srv.stop().await;
}

/// The `name=value` of the session cookie a response sets.
fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| {
            c.starts_with("portcullis_session=") || c.starts_with("__Host-portcullis_session=")
        })
        .and_then(|c| c.split(';').next())
        .map(str::to_string)
}

#[actix_web::test]
async fn a_person_changes_their_password_and_signs_out_elsewhere() {
    let srv = spawn().await;
    create_user(&srv, "ada", PASSWORD, Some("ada@example.com"));
    let here = Browser::new(&srv);
    let elsewhere = Browser::new(&srv);
    let old_cookie = session_cookie(&here.sign_in("ada", PASSWORD).await).unwrap();
    elsewhere.sign_in("ada", PASSWORD).await;
    let change = |current: &'static str, new: &'static str, again: &'static str| {
        let here = &here;
        let srv = &srv;
        async move {
            let page = here.text(&srv.url("/account/security")).await;
            here.submit(
                &page,
                "/account/security/password",
                &[
                    ("current_password", current),
                    ("new_password", new),
                    ("new_password_again", again),
                    ("sign_out_others", "on"),
                ],
            )
            .await
        }
    };
    // Refused, each with its reason, and nothing changes.
    for (current, new, again, why) in [
        (PASSWORD, "password1", "password1", "not strong enough"),
        (
            PASSWORD,
            "ada@example.com",
            "ada@example.com",
            "not strong enough",
        ),
        (
            PASSWORD,
            "EXAMPLE violet tundra orchestra",
            "EXAMPLE violet tundra orchestra",
            "a word of your name",
        ),
        (PASSWORD, NEW_PASSWORD, "violet tundra spoon", "differ"),
        (
            "not my password at all",
            NEW_PASSWORD,
            NEW_PASSWORD,
            "not right",
        ),
    ] {
        let res = change(current, new, again).await;
        assert_eq!(res.status(), 400, "{why}");
        let page = res.text().await.unwrap();
        assert!(page.contains(why), "{why}: {page}");
        assert!(page.contains("aria-describedby=\"password-error\"") || why != "not right");
    }
    assert_eq!(elsewhere.get(&srv.url("/account")).await.status(), 200);

    let res = change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(res.status(), 200);
    // This browser's session goes on under a new cookie; the old value is dead.
    let new_cookie = session_cookie(&res).expect("a renewed session cookie");
    assert_ne!(new_cookie, old_cookie);
    let res_old = common::http_client()
        .get(srv.url("/account"))
        .header("Cookie", old_cookie.as_str())
        .send()
        .await
        .unwrap();
    assert!(res_old.status().is_redirection(), "{}", res_old.status());
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Your password is changed. 1 other session(s)"),
        "{page}"
    );
    // This browser stays signed in; the other one is signed out at once.
    assert_eq!(here.get(&srv.url("/account")).await.status(), 200);
    let res = elsewhere.get(&srv.url("/account")).await;
    assert!(res.status().is_redirection(), "{}", res.status());
    // The new password signs in, the old one does not.
    let fresh = Browser::new(&srv);
    let res = fresh.sign_in("ada", PASSWORD).await;
    assert!(!res.status().is_redirection(), "{}", res.status());
    assert!(res.text().await.unwrap().contains("login-error"));
    assert!(
        fresh
            .sign_in("ada", NEW_PASSWORD)
            .await
            .status()
            .is_redirection()
    );
    let page = here.text(&srv.url("/account/activity")).await;
    assert!(page.contains("Password changed"), "{page}");
    assert!(page.contains("Password change refused"), "{page}");
    assert_no_event_codes(&page);
    // The audit trail says who did it.
    let out = srv.cli(&["audit", "list", "--user", "ada", "--json"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("user.password_changed"), "{text}");
    assert!(text.contains("user.password_change_failed"), "{text}");
    srv.stop().await;
}

/// Every browser the person is signed in with, named from its user agent; signing one
/// out ends it on the server at once, and "everywhere else" keeps only this one.
#[actix_web::test]
async fn a_person_sees_their_sessions_and_signs_them_out() {
    let srv = spawn().await;
    create_user(&srv, "ada", PASSWORD, None);
    let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    let with_agent = |ua: &str| {
        Browser::with(
            &srv,
            &reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .user_agent(ua)
                .build()
                .unwrap(),
        )
    };
    let here = with_agent(firefox);
    let phone = with_agent(
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36",
    );
    let laptop = Browser::new(&srv);
    for b in [&here, &phone, &laptop] {
        assert!(b.sign_in("ada", PASSWORD).await.status().is_redirection());
    }
    let page = here.text(&srv.url("/account/security/sessions")).await;
    assert_eq!(
        page.matches("action=\"/account/security/sessions/end\"")
            .count(),
        3,
        "{page}"
    );
    assert!(page.contains("Firefox on Linux"), "{page}");
    assert!(page.contains("from 127.0.0.1"));
    assert_eq!(page.matches("this browser</span>").count(), 1);

    // Sign out the phone (its own page marks its session): it ends at once.
    let phone_page = phone.text(&srv.url("/account/security/sessions")).await;
    let mine = phone_page
        .split("<li>")
        .find(|item| item.contains("this browser</span>"))
        .expect("the phone's own session");
    let phone_id = common::field(mine, "id").expect("its id");
    let token = common::field(&page, "csrf").unwrap();
    let res = here
        .post(
            &srv.url("/account/security/sessions/end"),
            &[("csrf", token.as_str()), ("id", phone_id.as_str())],
        )
        .await;
    assert!(res.status().is_redirection());
    assert!(
        phone
            .get(&srv.url("/account"))
            .await
            .status()
            .is_redirection()
    );

    // Everywhere else: only this browser stays.
    let page = here.text(&srv.url("/account/security/sessions")).await;
    let res = here
        .submit(&page, "/account/security/sessions/end-others", &[])
        .await;
    assert!(res.status().is_redirection());
    assert!(
        laptop
            .get(&srv.url("/account"))
            .await
            .status()
            .is_redirection()
    );
    assert_eq!(here.get(&srv.url("/account")).await.status(), 200);
    let page = here.text(&srv.url("/account/security/sessions")).await;
    assert_eq!(
        page.matches("action=\"/account/security/sessions/end\"")
            .count(),
        1
    );
    // Another person's session id ends nothing.
    let res = here
        .post(
            &srv.url("/account/security/sessions/end"),
            &[
                ("csrf", token.as_str()),
                ("id", "01a22c6a-1b0f-7485-ad5e-076f3941c7b1"),
            ],
        )
        .await;
    assert!(res.status().is_redirection());
    assert_eq!(here.get(&srv.url("/account")).await.status(), 200);

    // The activity page names each of these events in words, never by its code.
    let page = here.text(&srv.url("/account/activity")).await;
    assert!(
        page.contains("Browser signed out from the sessions list"),
        "{page}"
    );
    assert_no_event_codes(&page);

    // Ending this very session signs this browser out, and clears its cookie.
    let page = here.text(&srv.url("/account/security/sessions")).await;
    let mine = page
        .split("<li>")
        .find(|item| item.contains("this browser</span>"))
        .expect("this browser's session");
    let my_id = common::field(mine, "id").unwrap();
    let token = common::field(&page, "csrf").unwrap();
    let res = here
        .post(
            &srv.url("/account/security/sessions/end"),
            &[("csrf", token.as_str()), ("id", my_id.as_str())],
        )
        .await;
    assert!(res.status().is_redirection());
    let cleared = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| c.starts_with("portcullis_session=;") && c.contains("Max-Age=0"));
    assert!(cleared, "{:?}", res.headers());
    assert!(
        here.get(&srv.url("/account"))
            .await
            .status()
            .is_redirection()
    );
    srv.stop().await;
}

/// No event on the activity page is shown by its code (`user.password_changed`).
fn assert_no_event_codes(page: &str) {
    for title in page.split("<strong>").skip(1) {
        let title = title.split('<').next().unwrap_or("");
        assert!(
            !title.contains('.') || title.contains(' '),
            "an event shown by its code: {title}"
        );
    }
}

/// `portcullis user reset-link ada --json [extra...]`: the link, on the test server
/// (the CLI has no issuer here), and when it expires.
fn reset_link(srv: &common::TestServer, extra: &[&str]) -> (String, i64) {
    let mut args = vec!["user", "reset-link", "ada", "--json"];
    args.extend_from_slice(extra);
    let out = srv.cli(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, query) = link["url"].as_str().unwrap().split_once("/reset").unwrap();
    assert!(query.starts_with("?token=pcw_"), "{link}");
    (
        srv.url(&format!("/reset{query}")),
        link["expires_at"].as_i64().unwrap(),
    )
}

/// Of requests sent together, exactly one got 200 and every other one `loser`.
fn assert_one_wins(responses: &[reqwest::Response], loser: u16) {
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == loser),
        "{statuses:?}"
    );
}

/// An operator's reset link: the person sets a strong password once, everything signed
/// in ends, and the link does not work again, however many tries race.
#[actix_web::test]
async fn a_reset_link_sets_a_password_once() {
    let srv = spawn().await;
    create_user(&srv, "ada", PASSWORD, None);
    let signed_in = Browser::new(&srv);
    signed_in.sign_in("ada", PASSWORD).await;
    let (url, _) = reset_link(&srv, &[]);

    let person = Browser::new(&srv);
    let res = person.get(&url).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    // Weak: refused with the reason, and the link still works.
    let res = person
        .submit(
            &page,
            "/reset",
            &[
                ("new_password", "password1"),
                ("new_password_again", "password1"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("not strong enough"));
    // Five tries at once: one sets the password.
    let tries = (0..5).map(|_| {
        person.submit(
            &page,
            "/reset",
            &[
                ("new_password", NEW_PASSWORD),
                ("new_password_again", NEW_PASSWORD),
            ],
        )
    });
    assert_one_wins(&futures_util::future::join_all(tries).await, 410);
    // Used: gone. The other browser is signed out; the new password signs in.
    assert_eq!(person.get(&url).await.status(), 410);
    assert!(
        signed_in
            .get(&srv.url("/account"))
            .await
            .status()
            .is_redirection()
    );
    assert!(
        Browser::new(&srv)
            .sign_in("ada", NEW_PASSWORD)
            .await
            .status()
            .is_redirection()
    );

    // An expired link is gone too.
    let (url, expires_at) = reset_link(&srv, &["--expires-in", "60"]);
    // The CLI stamps the link by the system clock; the server runs on the test's.
    srv.clock.advance(expires_at + 1 - srv.clock_now());
    assert_eq!(person.get(&url).await.status(), 410);
    assert_eq!(
        person
            .get(&srv.url("/reset?token=pcw_made_up"))
            .await
            .status(),
        410
    );
    srv.stop().await;
}

/// The password form is its own re-authentication (the current password, checked and
/// throttled as at sign-in): it works however old the sign-in is, it never echoes a
/// password, an unchanged password is refused, and a password set here cancels reset
/// links given out before.
#[actix_web::test]
async fn the_password_form_needs_no_separate_confirmation() {
    let srv = common::spawn_with(|a| a.sudo_ttl = Some(0)).await;
    create_user(&srv, "ada", PASSWORD, None);
    let here = Browser::new(&srv);
    here.sign_in("ada", PASSWORD).await;
    let (url, _) = reset_link(&srv, &[]);
    let change = |new: &'static str| {
        let (here, srv) = (&here, &srv);
        async move {
            let page = here.text(&srv.url("/account/security")).await;
            here.submit(
                &page,
                "/account/security/password",
                &[
                    ("current_password", PASSWORD),
                    ("new_password", new),
                    ("new_password_again", new),
                ],
            )
            .await
        }
    };
    let res = change(PASSWORD).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("your current one"));
    let res = change(NEW_PASSWORD).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("Your password is changed."), "{page}");
    assert!(!page.contains(PASSWORD) && !page.contains(NEW_PASSWORD));
    // The link given out before no longer works.
    assert_eq!(here.get(&url).await.status(), 410);
    srv.stop().await;
}

/// With two-factor sign-in on, the form also needs a current code from the app.
#[actix_web::test]
async fn with_two_factor_on_a_password_change_needs_a_code() {
    let srv = spawn().await;
    let p = common::people::enrolled(&srv, "grace").await;
    let change = |code: String| {
        let (p, srv) = (&p, &srv);
        async move {
            common::people::post_page(
                srv,
                &p.http,
                "/account/security",
                "/account/security/password",
                &[
                    ("current_password", common::people::PW),
                    ("new_password", NEW_PASSWORD),
                    ("new_password_again", NEW_PASSWORD),
                    ("code", code.as_str()),
                ],
            )
            .await
        }
    };
    let res = change("000000".into()).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("current code"));
    let res = change(p.code(&srv)).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Your password is changed.")
    );
    srv.stop().await;
}

/// Connected apps say when each app last refreshed its access, and from where (the
/// app's address, through a trusted proxy).
#[actix_web::test]
async fn connected_apps_show_the_last_refresh_and_its_address() {
    let srv = common::spawn_with(|a| a.trusted_proxies = Some("127.0.0.1/32".into())).await;
    create_user(&srv, "ada", PASSWORD, None);
    let (client_id, secret) = srv.register(portcullis::oauth::clients::ClientRequest {
        name: "Night Reader".into(),
        redirect_uris: vec![common::flow::REDIRECT.into()],
        scope: Some("openid offline_access".into()),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        ..Default::default()
    });
    let secret = secret.unwrap();
    let tokens = common::flow::sign_in(
        &srv,
        &client_id,
        Some(&secret),
        "openid offline_access",
        "ada",
        PASSWORD,
    )
    .await;
    let browser = Browser::new(&srv);
    browser.sign_in("ada", PASSWORD).await;
    let page = browser.text(&srv.url("/account")).await;
    assert!(page.contains("Night Reader"), "{page}");
    assert!(
        !page.contains("last refreshed"),
        "not refreshed yet: {page}"
    );

    srv.clock.advance(600);
    let res = srv
        .http
        .post(srv.url("/token"))
        .basic_auth(&client_id, Some(&secret))
        .header("X-Forwarded-For", "203.0.113.9")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    srv.clock.advance(20 * 60);
    let page = browser.text(&srv.url("/account")).await;
    assert!(
        page.contains(">20 minutes ago</time> from 203.0.113.9"),
        "{page}"
    );
    // "Remove access" without an app is refused, not silently ignored.
    let token = common::field(&page, "csrf").unwrap();
    for form in [
        vec![("csrf", token.as_str())],
        vec![("csrf", token.as_str()), ("client_id", "")],
    ] {
        let res = browser.post(&srv.url("/account/revoke"), &form).await;
        assert_eq!(res.status(), 400);
    }
    srv.stop().await;
}

/// A refusal names the field it is about: that field is marked invalid and described
/// by the message (WCAG 3.3.1), on the tokens form and the two-factor forms.
#[actix_web::test]
async fn refusals_are_tied_to_their_field() {
    let srv = spawn().await;
    let p = common::people::enrolled(&srv, "grace").await;
    let code = p.code(&srv);
    for (ips, name, field) in [
        ("10.0.0.300", "backup", "id=\"allowed_ips\""),
        ("", "", "id=\"name\""),
    ] {
        let res = p
            .create_token(&srv, name, &["api:read"], "30", ips, &code)
            .await;
        assert_eq!(res.status(), 400);
        let page = res.text().await.unwrap();
        let tag = page
            .split('<')
            .find(|t| t.contains(field))
            .unwrap_or_else(|| panic!("{field} in {page}"));
        assert!(
            tag.contains("aria-invalid=\"true\" aria-describedby=\"token-error\""),
            "{tag}"
        );
        assert_eq!(page.matches("aria-invalid").count(), 1, "{page}");
    }
    let res = common::people::post_page(
        &srv,
        &p.http,
        "/account/security",
        "/account/security/recovery-codes",
        &[("code", "000000")],
    )
    .await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    let tag = page
        .split('<')
        .find(|t| t.contains("id=\"recovery-code\""))
        .unwrap();
    assert!(
        tag.contains("aria-invalid=\"true\" aria-describedby=\"security-error\""),
        "{tag}"
    );
    assert!(page.contains("id=\"security-error\""));
    assert_eq!(page.matches("aria-invalid").count(), 1, "{page}");
    srv.stop().await;
}

/// Addresses opened the wrong way get pages: a form's action opened with GET is 405
/// with `Allow: POST`; a query string that cannot be read is a 400 page, not the
/// framework's plain text.
#[actix_web::test]
async fn wrong_methods_and_unreadable_queries_get_pages() {
    let srv = spawn().await;
    create_user(&srv, "ada", PASSWORD, None);
    let browser = Browser::new(&srv);
    browser.sign_in("ada", PASSWORD).await;
    for path in [
        "/account/security/password",
        "/account/security/sessions/end",
        "/account/revoke",
        "/consent",
        "/login/mfa",
    ] {
        let res = browser.get(&srv.url(path)).await;
        assert_eq!(res.status(), 405, "{path}");
        assert_eq!(res.headers()["allow"], "POST", "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(
            res.headers().contains_key("content-security-policy"),
            "{path}"
        );
    }
    for path in [
        "/account/activity?page=abc",
        "/account/activity?page=1&page=2",
        "/reset?token=a&token=b",
    ] {
        let res = browser.get(&srv.url(path)).await;
        assert_eq!(res.status(), 400, "{path}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let page = res.text().await.unwrap();
        assert!(page.contains("This address is not right"), "{path}: {page}");
        assert!(!page.contains("deserialize"), "{path}");
    }
    srv.stop().await;
}

/// Password changes sent together from one session (a double submit, or a script): one
/// goes through, the others change nothing, so exactly one new password works.
#[actix_web::test]
async fn concurrent_password_changes_from_one_session_change_it_once() {
    let srv = spawn().await;
    create_user(&srv, "ada", PASSWORD, None);
    let here = Browser::new(&srv);
    here.sign_in("ada", PASSWORD).await;
    let page = here.text(&srv.url("/account/security")).await;
    // Four: under the sign-in limit (5), which counts each check until it passes.
    let candidates: Vec<String> = (0..4)
        .map(|i| format!("{NEW_PASSWORD} number {i}"))
        .collect();
    let tries = candidates.iter().map(|new| {
        let (here, page) = (&here, &page);
        async move {
            here.submit(
                page,
                "/account/security/password",
                &[
                    ("current_password", PASSWORD),
                    ("new_password", new.as_str()),
                    ("new_password_again", new.as_str()),
                ],
            )
            .await
        }
    });
    assert_one_wins(&futures_util::future::join_all(tries).await, 409);
    let out = srv.cli(&["audit", "list", "--kind", "user.password_changed", "--json"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    let works: Vec<&String> = {
        let mut works = Vec::new();
        for new in &candidates {
            if Browser::new(&srv)
                .sign_in("ada", new)
                .await
                .status()
                .is_redirection()
            {
                works.push(new);
            }
        }
        works
    };
    assert_eq!(works.len(), 1, "{works:?}");
    srv.stop().await;
}

/// API tokens are credentials too: the password form revokes them only when asked and
/// says which it did; a reset by link always revokes them, and its page counts what
/// ended.
#[actix_web::test]
async fn a_reset_revokes_api_tokens_and_the_password_form_does_on_request() {
    let srv = spawn().await;
    let p = common::people::enrolled(&srv, "ada").await;
    let (svc, secret) = srv.service_client("");
    let active = |token: String| {
        let (srv, svc, secret) = (&srv, &svc, &secret);
        async move {
            let res = srv
                .post_form("/introspect", Some((svc, secret)), &[("token", &token)])
                .await;
            let v: serde_json::Value = res.json().await.unwrap();
            v["active"].as_bool().unwrap()
        }
    };
    let me = Browser::with(&srv, &p.http);
    let change = |current: &'static str, new: &'static str, revoke: bool| {
        let (srv, me, p) = (&srv, &me, &p);
        async move {
            srv.clock.advance(30);
            let code = p.code(srv);
            let page = me.text(&srv.url("/account/security")).await;
            let mut fields = vec![
                ("current_password", current),
                ("new_password", new),
                ("new_password_again", new),
                ("code", code.as_str()),
            ];
            if revoke {
                fields.push(("revoke_tokens", "on"));
            }
            let res = me
                .submit(&page, "/account/security/password", &fields)
                .await;
            assert_eq!(res.status(), 200);
            res.text().await.unwrap()
        }
    };
    let one = p.new_token(&srv, "one", &["api:read"], "").await;
    assert!(active(one.clone()).await);
    let page = change(common::people::PW, NEW_PASSWORD, false).await;
    assert!(page.contains("Your API tokens still work."), "{page}");
    assert!(active(one.clone()).await);

    let two = p.new_token(&srv, "two", &["api:read"], "").await;
    let page = change(NEW_PASSWORD, PASSWORD, true).await;
    assert!(page.contains("2 API token(s) were revoked."), "{page}");
    assert!(!active(one).await && !active(two).await);

    let three = p.new_token(&srv, "three", &["api:read"], "").await;
    let (url, _) = reset_link(&srv, &[]);
    let person = Browser::new(&srv);
    let page = person.text(&url).await;
    assert!(page.contains("revokes your API tokens"), "{page}");
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
    assert_eq!(res.status(), 200);
    let done = res.text().await.unwrap();
    assert!(done.contains("1 API token(s) revoked"), "{done}");
    assert!(done.contains("1 browser session(s) ended"), "{done}");
    assert!(!active(three).await);
    srv.stop().await;
}
