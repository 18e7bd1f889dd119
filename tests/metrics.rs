//! The metrics listener, scraped as Prometheus would: every metric moves by exactly what
//! the requests in between did. One test in this file: the recorder is process-wide, and
//! a test binary is a process of its own.

mod common;

use common::flow::{REDIRECT, sign_in};
use common::people::PW;
use common::scrape::{Scrape, delta};
use common::{create_user, spawn_with};
use portcullis::oauth::clients::ClientRequest;

#[actix_web::test]
async fn every_metric_moves_by_what_happened() {
    let srv = spawn_with(|a| a.metrics_bind = Some("127.0.0.1:0".into())).await;
    let (svc, secret) = srv.service_client("read");
    let (app, app_secret) = srv.register(ClientRequest {
        name: "app".into(),
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scope: Some("openid offline_access".into()),
        ..Default::default()
    });
    create_user(&srv, "alice", PW, None);
    let before = Scrape::take(&srv).await;
    // Replay counters exist at 0 before the first replay, so `increase()` sees it.
    for name in [
        "portcullis_refresh_reuse_detected_total",
        "portcullis_code_reuse_detected_total",
    ] {
        assert_eq!(before.0.get(name), Some(&0.0), "{name}");
    }
    // So do the token requests of every grant and outcome: alert rules on a fresh
    // instance never meet a missing series.
    for grant in portcullis::metrics::GRANT_LABELS {
        for outcome in portcullis::metrics::TOKEN_OUTCOMES {
            let name = format!(
                "portcullis_token_requests_total{{grant_type=\"{grant}\",outcome=\"{outcome}\"}}"
            );
            assert_eq!(before.0.get(&name), Some(&0.0), "{name}");
        }
    }
    let build = before
        .0
        .iter()
        .find(|(k, _)| k.starts_with("portcullis_build_info{"))
        .expect("build info");
    assert!(
        build.0.contains("version=\"") && build.0.contains("revision=\""),
        "{build:?}"
    );
    assert_eq!(*build.1, 1.0);

    // Token requests: two successes, a bad secret, an unknown grant type.
    let cc = [("grant_type", "client_credentials")];
    let mut service_token = String::new();
    for _ in 0..2 {
        let res = srv.post_form("/token", Some((&svc, &secret)), &cc).await;
        assert_eq!(res.status(), 200);
        let body: serde_json::Value = res.json().await.unwrap();
        service_token = body["access_token"].as_str().unwrap().to_string();
    }
    let res = srv.post_form("/token", Some((&svc, "wrong")), &cc).await;
    assert_eq!(res.status(), 401);
    let res = srv
        .post_form(
            "/token",
            Some((&svc, &secret)),
            &[("grant_type", "password\nx")],
        )
        .await;
    assert_eq!(res.status(), 400);
    // A sign-in (code flow), then a refresh replayed: reuse detected.
    let tokens = sign_in(
        &srv,
        &app,
        app_secret.as_deref(),
        "openid offline_access",
        "alice",
        PW,
    )
    .await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let secret_of_app = app_secret.clone().unwrap();
    assert_eq!(
        srv.post_form("/token", Some((&app, &secret_of_app)), &form)
            .await
            .status(),
        200
    );
    assert_eq!(
        srv.post_form("/token", Some((&app, &secret_of_app)), &form)
            .await
            .status(),
        400
    );
    // Revocation of an access token, twice: the second revokes nothing and counts
    // nothing (RFC 7009 §2.2 still answers 200). The app's token was revoked with its
    // family above: revoking it counts nothing either.
    for (client, token) in [
        ((&svc, &secret), service_token.as_str()),
        ((&svc, &secret), service_token.as_str()),
        (
            (&app, &secret_of_app),
            tokens["access_token"].as_str().unwrap(),
        ),
    ] {
        let res = srv
            .post_form("/revoke", Some((client.0, client.1)), &[("token", token)])
            .await;
        assert_eq!(res.status(), 200);
    }
    // A personal token that is not one.
    let res = srv
        .post_form(
            "/introspect",
            Some((&svc, &secret)),
            &[("token", "pcp_nothing")],
        )
        .await;
    assert_eq!(res.status(), 200);
    // Wrong passwords until the username's limit refuses one.
    let browser = common::browser::Browser::new(&srv);
    for _ in 0..6 {
        browser.sign_in("alice", "not the password").await;
    }

    let after = Scrape::take(&srv).await;
    let d = |k: &str| delta(&before, &after, k);
    let tr = |g: &str, o: &str| {
        d(&format!(
            "portcullis_token_requests_total{{grant_type=\"{g}\",outcome=\"{o}\"}}"
        ))
    };
    assert_eq!(tr("client_credentials", "success"), 2.0);
    assert_eq!(tr("client_credentials", "invalid_client"), 1.0);
    assert_eq!(
        tr("other", "unsupported_grant_type"),
        1.0,
        "an unknown grant is `other`"
    );
    assert_eq!(tr("authorization_code", "success"), 1.0);
    assert_eq!(tr("refresh_token", "success"), 1.0);
    assert_eq!(tr("refresh_token", "invalid_grant"), 1.0);
    assert_eq!(d("portcullis_refresh_reuse_detected_total"), 1.0);
    assert_eq!(
        d("portcullis_revocations_total{token_type=\"access_token\"}"),
        1.0
    );
    assert_eq!(
        d("portcullis_personal_token_checks_total{outcome=\"unknown\"}"),
        1.0
    );
    assert_eq!(d("portcullis_signins_total{outcome=\"success\"}"), 1.0);
    assert_eq!(d("portcullis_signins_total{outcome=\"failure\"}"), 5.0);
    assert_eq!(d("portcullis_signins_total{outcome=\"throttled\"}"), 1.0);
    assert_eq!(
        d("portcullis_throttle_refusals_total{limit=\"username\"}"),
        1.0
    );
    // Seven token requests in all, each timed under the /token route.
    assert_eq!(
        d("portcullis_http_request_duration_seconds_count{endpoint=\"/token\"}"),
        7.0
    );
    assert!(d("portcullis_audit_events_total{outcome=\"written\"}") >= 8.0);
    assert!(after.has_prefix("portcullis_db_connections{state=\"in_use\"}"));
    assert!(after.has_prefix("portcullis_db_connection_wait_seconds_count"));
    assert!(after.has_prefix("portcullis_signing_key_age_seconds{alg=\"RS256\"}"));
    // The shipped dashboard graphs only series the server exports.
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/grafana-dashboard.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    assert!(exprs.len() >= 15, "{exprs:?}");
    for expr in &exprs {
        let mut rest = expr.as_str();
        while let Some(i) = rest.find("portcullis_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                after.has_prefix(&format!("{name}{{"))
                    || after.has_prefix(&format!("{name} "))
                    || after.0.contains_key(&name),
                "the dashboard's {name} is not exported"
            );
            rest = &rest[i + name.len()..];
        }
    }

    // No label carries a username, a client id, a secret or a raw grant type.
    let addr = srv.running.as_ref().unwrap().metrics_addr.unwrap();
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for leak in [
        "alice",
        svc.as_str(),
        app.as_str(),
        secret.as_str(),
        "password",
    ] {
        assert!(!text.contains(leak), "{leak} in the exposition");
    }

    // /metrics is never on the public listener; every answer has a request id.
    let res = srv.http.get(srv.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.headers().get("x-request-id").is_some(), "404s too");
    let res = srv.http.get(srv.url("/token")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let id = res.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    srv.stop().await;
}
