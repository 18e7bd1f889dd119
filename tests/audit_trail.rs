//! The audit trail holds what callers typed; it must not let them forge lines, move a
//! terminal's cursor, or grow without bound.

mod common;

use common::people::{PW, enrolled, sign_in_password};
use common::{create_user, field, http_client, oauth_error, spawn};

#[actix_web::test]
async fn removing_access_to_an_app_never_allowed_is_refused_without_an_event() {
    let srv = spawn().await;
    create_user(&srv, "mallory", PW, None);
    let http = http_client();
    assert_eq!(sign_in_password(&srv, &http, "mallory").await.status(), 303);
    let page = http
        .get(srv.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field(&page, "csrf").unwrap();
    let forged =
        "x\n2026-11-30T00:00:00Z  signin.success           success    user=alice \u{1b}[2J\u{1b}[H";
    let res = http
        .post(srv.url("/account/revoke"))
        .form(&[("csrf", csrf.as_str()), ("client_id", forged)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let out = srv.cli(&["audit", "list", "--kind", "consent.revoked", "--json"]);
    assert!(out.stdout.is_empty(), "no event for an app never allowed");
    srv.stop().await;
}

#[actix_web::test]
async fn audit_list_prints_one_inert_line_per_event() {
    let srv = spawn().await;
    // A sign-in failure records the username as typed: newlines, escapes and all.
    let http = http_client();
    let page = http
        .get(srv.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let typed = "bob\n2026-11-30T00:00:00Z  signin.success  success user=alice\u{1b}[31m\u{9b}2J\u{9d}0;t\u{9c}\u{202e}\u{2028}\u{61c}\u{200b}";
    let res = http
        .post(srv.url("/login"))
        .form(&[
            ("csrf", field(&page, "csrf").unwrap().as_str()),
            ("username", typed),
            ("password", "whatever it is"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A user agent can carry control characters too (as far as HTTP lets it).
    let out = srv.cli(&["audit", "list"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "no ESC byte reaches the terminal: {text:?}"
    );
    assert!(!text.contains('\u{202e}'), "no bidi override either");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one event, one line: {lines:?}");
    assert!(lines[0].contains("signin.failure"));
    for bad in ['\u{9b}', '\u{9d}', '\u{2028}', '\u{61c}', '\u{200b}'] {
        assert!(!text.contains(bad), "{bad:?} reached the terminal");
    }
    // --json stays faithful to what was stored, with no raw control character either.
    let out = srv.cli(&["audit", "list", "--json"]);
    let json = String::from_utf8(out.stdout).unwrap();
    let raw =
        |c: char| (c.is_control() && c != '\n') || "\u{202e}\u{2028}\u{61c}\u{200b}".contains(c);
    assert!(!json.chars().any(raw), "{json:?}");
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["details"]["username"], typed);
    srv.stop().await;
}

#[actix_web::test]
async fn free_text_in_events_is_bounded() {
    let srv = spawn().await;
    let http = http_client();
    let page = http
        .get(srv.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let long = "a".repeat(5000);
    http.post(srv.url("/login"))
        .form(&[
            ("csrf", field(&page, "csrf").unwrap().as_str()),
            ("username", long.as_str()),
            ("password", "whatever it is"),
        ])
        .send()
        .await
        .unwrap();
    let out = srv.cli(&["audit", "list", "--json"]);
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8(out.stdout).unwrap().trim()).unwrap();
    let kept = v["details"]["username"].as_str().unwrap();
    assert_eq!(kept.chars().count(), 256);
    srv.stop().await;
}

#[actix_web::test]
async fn client_ip_at_introspection_must_be_an_address() {
    let srv = spawn().await;
    let rs = srv.service_client("");
    for bad in [
        "A".repeat(5000),
        "10.0.0.1\r\nX-Injected: 1".to_string(),
        "10.0.0.0/8".to_string(),
        "localhost".to_string(),
    ] {
        let res = srv
            .post_form(
                "/introspect",
                Some((&rs.0, &rs.1)),
                &[("token", "pcp_whatever"), ("client_ip", bad.as_str())],
            )
            .await;
        let (status, code, _) = oauth_error(res).await;
        assert_eq!((status, code.as_str()), (400, "invalid_request"), "{bad:?}");
    }
    for good in ["203.0.113.7", "2001:db8::1", "::ffff:192.0.2.1"] {
        let res = srv
            .post_form(
                "/introspect",
                Some((&rs.0, &rs.1)),
                &[("token", "pcp_whatever"), ("client_ip", good)],
            )
            .await;
        assert_eq!(res.status(), 200, "{good}");
    }
    srv.stop().await;
}

#[actix_web::test]
async fn uses_of_a_personal_token_are_one_event_per_address_and_minute() {
    let srv = spawn().await;
    let p = enrolled(&srv, "alice").await;
    let token = p.new_token(&srv, "ci", &["api:read"], "").await;
    let rs = srv.service_client("");
    let introspect = |ip: &'static str| {
        let (rs, token) = (rs.clone(), token.clone());
        let srv = &srv;
        async move {
            let res = srv
                .post_form(
                    "/introspect",
                    Some((&rs.0, &rs.1)),
                    &[("token", token.as_str()), ("client_ip", ip)],
                )
                .await;
            let v: serde_json::Value = res.json().await.unwrap();
            assert_eq!(v["active"], true);
        }
    };
    // Two addresses taking turns within a minute: one event each (an IPv4 address written
    // as IPv4-mapped IPv6 is the same address).
    for ip in [
        "198.51.100.1",
        "198.51.100.2",
        "::ffff:198.51.100.1",
        "198.51.100.2",
        "198.51.100.1",
    ] {
        introspect(ip).await;
    }
    let used = || {
        let out = srv.cli(&["audit", "list", "--kind", "pat.used", "--json"]);
        String::from_utf8(out.stdout).unwrap().lines().count()
    };
    assert_eq!(used(), 2);
    // A minute later, each address gets one more.
    srv.clock.advance(60);
    for ip in ["198.51.100.2", "198.51.100.1", "198.51.100.2"] {
        introspect(ip).await;
    }
    assert_eq!(used(), 4);
    srv.stop().await;
}
