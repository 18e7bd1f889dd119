//! Leaked secrets: anyone reports one at `POST /credentials/revoke`; each of ours stops
//! working at once and its owner's trail says so; the answer is the same whatever the
//! report held; reports are limited per address across instances.

mod common;

use std::time::{Duration, Instant};

use common::browser::Browser;
use common::oidc::{
    PASSWORD, TokenResponse, active_at_introspection, app_request, app_with, exchange,
    sign_in_and_allow, start,
};
use common::people::enrolled;
use common::{TestServer, create_user, http_client, spawn_with};
use portcullis::oauth::clients::ClientRequest;
use serde_json::{Value, json};

async fn report(srv: &TestServer, base: &str, credentials: &[String]) -> reqwest::Response {
    srv.http
        .post(format!("{base}/credentials/revoke"))
        .json(&json!({ "credentials": credentials }))
        .send()
        .await
        .unwrap()
}

/// A 202 and its body.
async fn accepted(res: reqwest::Response) -> String {
    assert_eq!(res.status(), 202);
    res.text().await.unwrap()
}

async fn secret_works(srv: &TestServer, id: &str, secret: &str) -> bool {
    srv.post_form(
        "/token",
        Some((id, secret)),
        &[("grant_type", "client_credentials")],
    )
    .await
    .status()
        == 200
}

fn audit(srv: &TestServer, kind: &str) -> Vec<Value> {
    let out = srv.cli(&["audit", "list", "--kind", kind, "--json"]);
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every kind we issue, reported in one report among noise: each stops working at once,
/// and each owner's trail names the report.
#[actix_web::test]
async fn each_kind_reported_stops_working_and_its_owner_is_told() {
    let srv = spawn_with(|a| a.registration = Some("token".into())).await;
    let rs = srv.service_client("read");
    // A personal token, a refresh token, a client secret.
    let ada = enrolled(&srv, "ada").await;
    let pat = ada.new_token(&srv, "deploy", &["api:read"], "").await;
    create_user(&srv, "alice", PASSWORD, None);
    let printer = app_with(
        &srv,
        ClientRequest {
            scope: Some("openid offline_access".into()),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            ..app_request()
        },
    );
    let browser = Browser::new(&srv);
    let s = start(&printer, &["openid", "offline_access"], &[]);
    let params = sign_in_and_allow(&srv, &browser, &s).await;
    let tokens = exchange(&srv, &printer, &params["code"], s.verifier).await;
    let refresh = tokens.refresh_token().unwrap().secret().clone();
    let (svc, svc_secret) = srv.service_client("read");
    assert!(secret_works(&srv, &svc, &svc_secret).await);
    // An initial access token, a client registered with another one, a reset link.
    let iat = |srv: &TestServer| {
        let out = srv.cli(&["registration-token", "create", "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["token"].as_str().unwrap().to_string()
    };
    let (leaked_iat, other_iat) = (iat(&srv), iat(&srv));
    let body = json!({"redirect_uris": [common::oidc::REDIRECT], "client_name": "x"});
    let reg: Value = srv
        .http
        .post(srv.url("/register"))
        .bearer_auth(&other_iat)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rat = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let reg_uri = reg["registration_client_uri"].as_str().unwrap().to_string();
    let out = srv.cli(&["user", "reset-link", "alice", "--json"]);
    let link: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, query) = link["url"].as_str().unwrap().split_once("/reset").unwrap();
    let reset = srv.url(&format!("/reset{query}"));
    let reset_token = query.trim_start_matches("?token=").to_string();
    assert_eq!(
        http_client().get(&reset).send().await.unwrap().status(),
        200
    );

    let leaked = vec![
        "not a token".to_string(),
        pat.clone(),
        refresh.clone(),
        format!("  {svc_secret}\n"),
        rat.clone(),
        leaked_iat.clone(),
        reset_token,
        "pcp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_000000".into(),
    ];
    let first = accepted(report(&srv, &srv.base, &leaked).await).await;

    let v = active_at_introspection(&srv, &rs, pat.clone()).await;
    assert_eq!(v, false, "the personal token");
    let res = srv
        .post_form(
            "/token",
            Some((&printer.id, printer.secret.as_deref().unwrap())),
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(res.status(), 400, "the refresh token");
    let v = active_at_introspection(&srv, &rs, tokens.access_token().secret().clone()).await;
    assert_eq!(v, false, "its family's access token too");
    assert!(
        !secret_works(&srv, &svc, &svc_secret).await,
        "the client secret"
    );
    let res = srv
        .http
        .get(&reg_uri)
        .bearer_auth(&rat)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the registration access token");
    let res = srv
        .http
        .post(srv.url("/register"))
        .bearer_auth(&leaked_iat)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the initial access token");
    assert_eq!(
        http_client().get(&reset).send().await.unwrap().status(),
        410,
        "the reset link"
    );

    // The owners are told: the person on Activity, everyone in the audit trail.
    let page = Browser::with(&srv, &ada.http)
        .text(&srv.url("/account/activity"))
        .await;
    assert!(page.contains("API token reported as leaked"), "{page}");
    assert!(page.contains("deploy"), "names the token");
    for kind in [
        "pat.reported_leaked",
        "refresh.reported_leaked",
        "client.secret_reported_leaked",
        "client.registration_token_reported_leaked",
        "registration_token.reported_leaked",
        "user.reset_link_reported_leaked",
    ] {
        let events = audit(&srv, kind);
        assert_eq!(events.len(), 1, "{kind}: {events:?}");
        assert_eq!(events[0]["ip"], "127.0.0.1", "{kind}");
    }
    // The client is there, says so, and a rotated secret works.
    let out = srv.cli(&["client", "show", &svc, "--json"]);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(shown["secret_reported_at"].is_i64(), "{shown}");
    let out = srv.cli(&["client", "rotate-secret", &svc, "--json"]);
    let rotated: Value = serde_json::from_slice(&out.stdout).unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while !secret_works(&srv, &svc, new_secret).await {
        assert!(Instant::now() < until, "the rotated secret works");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    // Reported again: the same answer, nothing new in the trail.
    let again = accepted(report(&srv, &srv.base, &leaked).await).await;
    assert_eq!(first, again);
    assert_eq!(audit(&srv, "pat.reported_leaked").len(), 1);
    srv.stop().await;
}

/// The endpoint is no oracle: noise, a forged checksum, a tampered token, a well-formed
/// token we never issued and an empty list get the answer a live token gets, and revoke
/// nothing. What is not a report at all is refused, saying why.
#[actix_web::test]
async fn the_answer_is_the_same_whatever_the_report_held() {
    let srv = spawn_with(|_| {}).await;
    let (svc, secret) = srv.service_client("read");
    let live = accepted(report(&srv, &srv.base, std::slice::from_ref(&secret)).await).await;
    let (svc2, secret2) = srv.service_client("read");
    let mut tampered = secret2.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let forged = format!("{}XXXXXX", &secret2[..secret2.len() - 6]);
    let never_issued = portcullis::credential::generate(portcullis::credential::Kind::ClientSecret);
    for noise in [
        vec![],
        vec!["hello".to_string()],
        vec![tampered],
        vec![forged],
        vec![never_issued],
        vec![secret.clone()],
    ] {
        let asked = Instant::now();
        let body = accepted(report(&srv, &srv.base, &noise).await).await;
        assert_eq!(body, live, "{noise:?}");
        // The answer waits for a floor, so that revoking (writes) and ignoring (none)
        // take the same time.
        assert!(asked.elapsed() >= Duration::from_millis(250), "{noise:?}");
    }
    assert!(
        secret_works(&srv, &svc2, &secret2).await,
        "nothing else revoked"
    );
    assert!(!secret_works(&srv, &svc, &secret).await);
    assert_eq!(audit(&srv, "client.secret_reported_leaked").len(), 1);

    let post = |body: &'static str, content_type: &'static str| {
        srv.http
            .post(srv.url("/credentials/revoke"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    for (body, ct) in [
        ("not json", "application/json"),
        ("[\"pcs_x\"]", "application/json"),
        ("{\"credentials\": \"pcs_x\"}", "application/json"),
        ("{\"credentials\": [1, 2]}", "application/json"),
        ("{}", "application/json"),
        ("{\"credentials\": []}", "text/plain"),
    ] {
        let res = post(body, ct).await.unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let e: Value = res.json().await.unwrap();
        assert_eq!(e["error"], "invalid_request", "{body}");
    }
    // 1,025 characters (each one byte more in UTF-8): too long, whatever the bytes.
    let res = report(&srv, &srv.base, &["€".repeat(1025)]).await;
    assert_eq!(res.status(), 400);
    accepted(report(&srv, &srv.base, &["€".repeat(1024)]).await).await;
    let too_many: Vec<String> = (0..1001).map(|i| format!("noise-{i}")).collect();
    let res = report(&srv, &srv.base, &too_many).await;
    assert_eq!(res.status(), 400);
    let e: Value = res.json().await.unwrap();
    assert!(
        e["error_description"].as_str().unwrap().contains("1000"),
        "{e}"
    );
    srv.stop().await;
}

/// One secret reported eight times at once, on two instances: revoked once, recorded
/// once.
#[actix_web::test]
async fn concurrent_reports_of_one_secret_record_it_once() {
    let srv = spawn_with(|_| {}).await;
    let sibling = srv.sibling().await;
    let (svc, secret) = srv.service_client("read");
    let sends = (0..8).map(|i| {
        let base = if i % 2 == 0 {
            srv.base.clone()
        } else {
            sibling.issuer.clone()
        };
        let (srv, leaked) = (&srv, vec![secret.clone()]);
        async move { report(srv, &base, &leaked).await.status() }
    });
    for status in futures_util::future::join_all(sends).await {
        assert_eq!(status, 202);
    }
    assert!(!secret_works(&srv, &svc, &secret).await);
    assert_eq!(audit(&srv, "client.secret_reported_leaked").len(), 1);
    sibling.stop().await;
    srv.stop().await;
}

/// A report of 1,000 strings, five of them live secrets among well-formed ones we never
/// issued, is answered in under two seconds, and the five stop working.
#[actix_web::test]
async fn a_thousand_strings_are_answered_at_once() {
    let srv = spawn_with(|_| {}).await;
    let real: Vec<(String, String)> = (0..5).map(|_| srv.service_client("read")).collect();
    let mut strings: Vec<String> = (0..995)
        .map(|_| portcullis::credential::generate(portcullis::credential::Kind::ClientSecret))
        .collect();
    for (i, (_, s)) in real.iter().enumerate() {
        strings.insert(i * 199, s.clone());
    }
    assert_eq!(strings.len(), 1000);
    let asked = Instant::now();
    accepted(report(&srv, &srv.base, &strings).await).await;
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    for (id, s) in &real {
        assert!(!secret_works(&srv, id, s).await);
    }
    srv.stop().await;
}

/// 70 reports from one address within a minute, half to each of two instances: 60 are
/// taken, the rest get 429 with Retry-After.
#[actix_web::test]
async fn reports_are_limited_per_address_across_instances() {
    let srv = spawn_with(|_| {}).await;
    let sibling = srv.sibling().await;
    let noise = vec!["noise".to_string()];
    let sends = (0..70).map(|i| {
        let base = if i % 2 == 0 {
            srv.base.clone()
        } else {
            sibling.issuer.clone()
        };
        let (srv, noise) = (&srv, &noise);
        async move { report(srv, &base, noise).await }
    });
    let answers = futures_util::future::join_all(sends).await;
    let taken = answers.iter().filter(|r| r.status() == 202).count();
    let refused: Vec<_> = answers.iter().filter(|r| r.status() == 429).collect();
    assert_eq!(taken, 60);
    assert_eq!(refused.len(), 10);
    for r in refused {
        let wait: i64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(wait > 0 && wait <= 3600);
    }
    sibling.stop().await;
    srv.stop().await;
}

/// `token check` knows every kind by its format alone, without a database, and says so
/// for anything else (exit 1).
#[actix_web::test]
async fn token_check_names_each_kind_without_a_database() {
    use portcullis::credential::{Kind, generate};
    let check = |s: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["token", "check", s, "--json"])
            .env("DATABASE_URL", "sqlite:///nonexistent/dir/portcullis.db")
            .output()
            .unwrap()
    };
    for kind in Kind::ALL {
        let out = check(&generate(*kind));
        assert!(out.status.success(), "{kind:?}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["kind"], kind.label());
        assert_eq!(v["checksum_holds"], true);
    }
    let good = generate(Kind::Personal);
    let bad = format!("{}x", &good[..good.len() - 1]);
    for (s, claimed) in [
        (bad.as_str(), json!("personal_token")),
        ("hello", Value::Null),
        ("pcs_short", json!("client_secret")),
    ] {
        let out = check(s);
        assert_eq!(out.status.code(), Some(1), "{s}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["ours"], false);
        assert_eq!(v["prefix_of"], claimed, "{s}");
    }
}

/// A personal token of the first format (a base64url body, before every secret took the
/// scanner-friendly form) keeps working.
#[actix_web::test]
async fn personal_tokens_of_the_old_format_still_work() {
    use diesel::prelude::*;
    use portcullis::store::schema::personal_tokens as pt;
    let srv = spawn_with(|_| {}).await;
    let rs = srv.service_client("read");
    let ada = enrolled(&srv, "ada").await;
    let new = ada.new_token(&srv, "deploy", &["api:read"], "").await;
    let head = "pcp_-_ECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    let old = format!("{head}_{}", portcullis::credential::checksum(head));
    {
        let mut conn = srv.state().db.pool().get().unwrap();
        let n = diesel::update(pt::table.filter(pt::token_hash.eq(portcullis::secret::hash(&new))))
            .set(pt::token_hash.eq(portcullis::secret::hash(&old)))
            .execute(&mut *conn)
            .unwrap();
        assert_eq!(n, 1);
    }
    let v = active_at_introspection(&srv, &rs, old.clone()).await;
    assert_eq!(v, true);
    // And it can be reported like a new one.
    accepted(report(&srv, &srv.base, std::slice::from_ref(&old)).await).await;
    let v = active_at_introspection(&srv, &rs, old).await;
    assert_eq!(v, false);
    srv.stop().await;
}
