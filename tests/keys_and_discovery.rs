//! Key rotation lifecycle, the JWKS and discovery documents, and health checks.

mod common;

use std::time::Duration;

use common::{TestServer, spawn};
use portcullis::keys::{KeyAlg, KeyRecord, ring};

async fn token(srv: &common::TestServer, id: &str, secret: &str) -> String {
    let res = srv
        .post_form(
            "/token",
            Some((id, secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

fn kid_of(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

/// Wait until the server has picked up a change in the keys directory (it looks every
/// couple of seconds); fails after 15 s.
async fn wait_for(srv: &common::TestServer, pred: impl Fn(&jsonwebtoken::jwk::JwkSet) -> bool) {
    for _ in 0..150 {
        if pred(&srv.jwks().await) {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not pick up the key change");
}

#[actix_web::test]
async fn jwks_publishes_public_members_only_and_is_cacheable() {
    let srv = spawn().await;
    let res = srv.http.get(srv.url("/jwks.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cc = res.headers()["cache-control"].to_str().unwrap().to_string();
    assert!(cc.starts_with("public, max-age="), "{cc}");
    let body: serde_json::Value = res.json().await.unwrap();
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let mut members: Vec<&str> = keys[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"]);
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["use"], "sig");
    srv.stop().await;
}

/// `keys rotate` as the command line does it, against this server's database.
fn rotate(srv: &TestServer, alg: Option<KeyAlg>, stage: bool, now: i64) -> KeyRecord {
    let mut conn = srv.state().db.pool().get().unwrap();
    let lifetimes = srv.settings.signing_lifetimes();
    ring::rotate(
        &mut conn,
        &srv.state().data_keys,
        alg,
        stage,
        lifetimes,
        now,
    )
    .unwrap()
    .remove(0)
}

#[actix_web::test]
async fn key_rotation_keeps_old_tokens_verifiable_until_they_expire() {
    let srv = spawn().await;
    let (id, secret) = srv.service_client("read");
    let before = token(&srv, &id, &secret).await;
    let old_kid = kid_of(&before);

    let new = rotate(&srv, None, false, srv.clock_now());
    assert_ne!(new.kid, old_kid);
    let new_kid = new.kid.clone();
    wait_for(&srv, |j| j.find(&new_kid).is_some()).await;

    // New tokens carry the new kid; the old token still verifies offline.
    let after = token(&srv, &id, &secret).await;
    assert_eq!(kid_of(&after), new.kid);
    srv.verify(&before, &srv.base)
        .await
        .expect("old token verifies after rotation");
    srv.verify(&after, &srv.base)
        .await
        .expect("new token verifies");
    assert!(srv.jwks().await.find(&old_kid).is_some());

    // Once every token of the old key has expired, the key leaves the JWKS.
    srv.clock.advance(srv.settings.access_token_ttl + 60 + 1);
    wait_for(&srv, |j| j.find(&old_kid).is_none()).await;
    assert!(srv.jwks().await.find(&new.kid).is_some());
    srv.stop().await;
}

#[actix_web::test]
async fn a_staged_key_is_published_before_it_signs() {
    let srv = spawn().await;
    let (id, secret) = srv.service_client("read");
    let staged = rotate(&srv, Some(KeyAlg::RS256), true, srv.clock_now());
    let staged_kid = staged.kid.clone();
    wait_for(&srv, |j| j.find(&staged_kid).is_some()).await;
    assert_ne!(
        kid_of(&token(&srv, &id, &secret).await),
        staged.kid,
        "next keys do not sign"
    );

    let promoted = rotate(&srv, None, false, srv.clock_now());
    assert_eq!(promoted.kid, staged.kid, "rotate promotes the staged key");
    for _ in 0..150 {
        if kid_of(&token(&srv, &id, &secret).await) == staged.kid {
            srv.stop().await;
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the promoted key never signed");
}

#[actix_web::test]
async fn es256_and_eddsa_keys_sign_tokens_that_verify() {
    let srv = spawn().await;
    let (id, secret) = srv.service_client("read");
    for alg in [KeyAlg::ES256, KeyAlg::EdDSA] {
        let rec = rotate(&srv, Some(alg), false, srv.clock_now() + 1);
        srv.clock.advance(1);
        let kid = rec.kid.clone();
        wait_for(&srv, |j| j.find(&kid).is_some()).await;
        let jwt = token(&srv, &id, &secret).await;
        assert_eq!(kid_of(&jwt), rec.kid);
        assert_eq!(jsonwebtoken::decode_header(&jwt).unwrap().alg, alg.jwt());
        srv.verify(&jwt, &srv.base).await.expect("verifies");
    }
    srv.stop().await;
}

#[actix_web::test]
async fn discovery_documents_come_from_the_configured_issuer() {
    let srv = spawn().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        // A forged Host header must not change any URL (Host-header poisoning).
        let res = srv
            .http
            .get(srv.url(path))
            .header("host", "evil.example.com")
            .header("x-forwarded-host", "evil.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let doc: serde_json::Value = res.json().await.unwrap();
        assert_eq!(doc["issuer"], srv.base.as_str());
        assert_eq!(doc["token_endpoint"], format!("{}/token", srv.base));
        assert_eq!(doc["jwks_uri"], format!("{}/jwks.json", srv.base));
        assert_eq!(
            doc["grant_types_supported"],
            serde_json::json!([
                "authorization_code",
                "client_credentials",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:token-exchange"
            ])
        );
        for (k, p) in [
            ("authorization_endpoint", "/authorize"),
            ("userinfo_endpoint", "/userinfo"),
            ("revocation_endpoint", "/revoke"),
            ("introspection_endpoint", "/introspect"),
        ] {
            assert_eq!(doc[k], format!("{}{p}", srv.base), "{k}");
        }
        assert_eq!(
            doc["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        let methods = doc["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap();
        assert!(methods.contains(&"client_secret_basic".into()));
        assert!(methods.contains(&"client_secret_post".into()));
        assert!(!doc.to_string().contains("evil.example.com"));
    }
    srv.stop().await;
}

#[actix_web::test]
async fn health_and_readiness() {
    let srv = spawn().await;
    let res = srv.http.get(srv.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = srv.http.get(srv.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = srv.http.get(srv.url("/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    // RFC 9110 §9.1: HEAD wherever GET is served, with the headers and no body.
    for path in [
        "/healthz",
        "/readyz",
        "/jwks.json",
        "/.well-known/openid-configuration",
        "/assets/portcullis.css",
        "/login",
        "/logout",
    ] {
        let res = srv.http.head(srv.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "HEAD {path}");
        assert!(
            res.bytes().await.unwrap().is_empty(),
            "HEAD {path} has no body"
        );
    }
    srv.stop().await;
}
