//! The client-credentials grant driven by the `oauth2` crate, and every refusal of
//! the token endpoint checked against RFC 6749 §5.2.

mod common;

use common::{oauth_error, spawn, spawn_with};
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use portcullis::oauth::clients::ClientRequest;

fn oauth_client(
    srv: &common::TestServer,
    id: &str,
    secret: &str,
    auth: AuthType,
) -> oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
> {
    BasicClient::new(ClientId::new(id.into()))
        .set_client_secret(ClientSecret::new(secret.into()))
        .set_token_uri(TokenUrl::new(srv.url("/token")).unwrap())
        .set_auth_type(auth)
}

#[actix_web::test]
async fn both_auth_methods_yield_a_token_that_verifies_against_the_jwks() {
    let srv = spawn().await;
    let (id, secret) = srv.service_client("read write");
    for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
        let client = oauth_client(&srv, &id, &secret, auth);
        let token = client
            .exchange_client_credentials()
            .add_scope(Scope::new("read".into()))
            .request_async(&srv.http)
            .await
            .expect("token");
        assert_eq!(token.token_type(), &oauth2::basic::BasicTokenType::Bearer);
        assert!(
            token.refresh_token().is_none(),
            "no refresh token for this grant"
        );
        let expires = token.expires_in().expect("expires_in").as_secs();
        assert_eq!(expires, 600);
        let scopes: Vec<String> = token
            .scopes()
            .expect("scope")
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(scopes, vec!["read"]);

        let jwt = token.access_token().secret();
        let header = jsonwebtoken::decode_header(jwt).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"), "RFC 9068 §2.1");
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        let claims = srv.verify(jwt, &srv.base).await.expect("verifies");
        assert_eq!(claims["sub"], id.as_str());
        assert_eq!(claims["client_id"], id.as_str());
        assert_eq!(claims["scope"], "read");
        assert_eq!(claims["iss"], srv.base.as_str());
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            600
        );
        assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 32));
    }
    srv.stop().await;
}

#[actix_web::test]
async fn omitted_scope_means_the_registered_scope_and_jti_is_unique() {
    let srv = spawn().await;
    let (id, secret) = srv.service_client("read write");
    let form = [("grant_type", "client_credentials")];
    let a: serde_json::Value = srv
        .post_form("/token", Some((&id, &secret)), &form)
        .await
        .json()
        .await
        .unwrap();
    let b: serde_json::Value = srv
        .post_form("/token", Some((&id, &secret)), &form)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["scope"], "read write");
    let ca = srv
        .verify(a["access_token"].as_str().unwrap(), &srv.base)
        .await
        .unwrap();
    let cb = srv
        .verify(b["access_token"].as_str().unwrap(), &srv.base)
        .await
        .unwrap();
    assert_ne!(ca["jti"], cb["jti"]);
    srv.stop().await;
}

#[actix_web::test]
async fn success_responses_are_not_cached() {
    let srv = spawn().await;
    let (id, secret) = srv.service_client("read");
    let res = srv
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["pragma"], "no-cache");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    srv.stop().await;
}

#[actix_web::test]
async fn client_authentication_failures_are_401_invalid_client_with_a_basic_challenge() {
    let srv = spawn().await;
    let (id, secret) = srv.service_client("read");
    let cc = [("grant_type", "client_credentials")];

    let res = srv.post_form("/token", Some((&id, "pcs_wrong")), &cc).await;
    let (status, code, headers) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (401, "invalid_client"));
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=")
    );

    let res = srv
        .post_form("/token", Some(("no-such-client", &secret)), &cc)
        .await;
    assert_eq!(oauth_error(res).await.1, "invalid_client");

    let res = srv
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", "pcs_wrong"),
            ],
        )
        .await;
    let (status, code, _) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (401, "invalid_client"));

    // No credentials at all.
    let res = srv.post_form("/token", None, &cc).await;
    assert_eq!(oauth_error(res).await.0, 401);

    // A confidential client naming itself without a secret.
    let res = srv
        .post_form(
            "/token",
            None,
            &[("grant_type", "client_credentials"), ("client_id", &id)],
        )
        .await;
    assert_eq!(oauth_error(res).await.1, "invalid_client");

    // A scheme other than Basic.
    let res = srv
        .http
        .post(srv.url("/token"))
        .bearer_auth("abc")
        .form(&cc)
        .send()
        .await
        .unwrap();
    assert_eq!(oauth_error(res).await.1, "invalid_client");
    srv.stop().await;
}

#[actix_web::test]
async fn a_client_registered_for_one_method_cannot_use_the_other() {
    let srv = spawn().await;
    let (id, secret) = srv.register(ClientRequest {
        name: "basic only".into(),
        scope: Some("read".into()),
        auth_methods: vec!["client_secret_basic".into()],
        ..Default::default()
    });
    let secret = secret.unwrap();
    let res = srv
        .post_form(
            "/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(oauth_error(res).await.1, "invalid_client");
    let res = srv
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(res.status(), 200);
    srv.stop().await;
}

#[actix_web::test]
async fn malformed_requests_are_400_invalid_request() {
    let srv = spawn().await;
    let (id, secret) = srv.service_client("read");
    let basic = Some((id.as_str(), secret.as_str()));

    // Two authentication methods at once (RFC 6749 §2.3).
    let res = srv
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    let (status, code, _) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (400, "invalid_request"));

    // No grant_type.
    let res = srv.post_form("/token", basic, &[("scope", "read")]).await;
    let (status, code, _) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (400, "invalid_request"));

    // A repeated parameter (RFC 6749 §3.2).
    let res = srv
        .http
        .post(srv.url("/token"))
        .basic_auth(&id, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=read&scope=read")
        .send()
        .await
        .unwrap();
    let (status, code, _) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (400, "invalid_request"));

    // Not a form.
    let res = srv
        .http
        .post(srv.url("/token"))
        .basic_auth(&id, Some(&secret))
        .json(&serde_json::json!({ "grant_type": "client_credentials" }))
        .send()
        .await
        .unwrap();
    let (status, code, _) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (400, "invalid_request"));
    srv.stop().await;
}

#[actix_web::test]
async fn unknown_grant_types_and_scopes_are_refused() {
    let srv = spawn().await;
    let (id, secret) = srv.service_client("read");
    let basic = Some((id.as_str(), secret.as_str()));

    let res = srv
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "password"),
                ("username", "a"),
                ("password", "b"),
            ],
        )
        .await;
    let (status, code, _) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (400, "unsupported_grant_type"));

    let res = srv
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "read admin"),
            ],
        )
        .await;
    let (status, code, _) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (400, "invalid_scope"));

    let res = srv
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "bad\\scope"),
            ],
        )
        .await;
    assert_eq!(oauth_error(res).await.1, "invalid_scope");
    srv.stop().await;
}

#[actix_web::test]
async fn oversized_bodies_get_413_and_other_methods_405() {
    let srv = spawn().await;
    let (id, secret) = srv.service_client("read");
    let big = "x".repeat(64 * 1024);
    let res = srv
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "client_credentials"), ("padding", &big)],
        )
        .await;
    assert_eq!(res.status(), 413);

    let res = srv.http.get(srv.url("/token")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    srv.stop().await;
}

#[actix_web::test]
async fn resource_indicators_set_the_audience() {
    let srv = spawn().await;
    let (id, secret) = srv.register(ClientRequest {
        name: "api caller".into(),
        scope: Some("read".into()),
        resources: vec![
            "https://api.example.com".into(),
            "https://billing.example.com".into(),
        ],
        ..Default::default()
    });
    let secret = secret.unwrap();
    let basic = Some((id.as_str(), secret.as_str()));

    let res = srv
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://api.example.com"),
            ],
        )
        .await;
    let body: serde_json::Value = res.json().await.unwrap();
    let claims = srv
        .verify(
            body["access_token"].as_str().unwrap(),
            "https://api.example.com",
        )
        .await
        .expect("aud is the resource");
    assert_eq!(claims["aud"], "https://api.example.com");

    let res = srv
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://api.example.com"),
                ("resource", "https://billing.example.com"),
            ],
        )
        .await;
    let body: serde_json::Value = res.json().await.unwrap();
    let claims = srv
        .verify(
            body["access_token"].as_str().unwrap(),
            "https://billing.example.com",
        )
        .await
        .unwrap();
    assert_eq!(claims["aud"].as_array().map(Vec::len), Some(2));

    let res = srv
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://evil.example.com"),
            ],
        )
        .await;
    let (status, code, _) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (400, "invalid_target"));

    // A token for a resource does not verify for another audience.
    let res = srv
        .post_form(
            "/token",
            basic,
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://api.example.com"),
            ],
        )
        .await;
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(
        srv.verify(body["access_token"].as_str().unwrap(), &srv.base)
            .await
            .is_err()
    );
    srv.stop().await;
}

/// A rotated secret works at once and the old one stops, with the client cache off and
/// on (then the cached record has the old hash: a secret that does not match it is
/// checked again against the database, and the refreshed record refuses the old one).
#[actix_web::test]
async fn a_rotated_secret_works_at_once_and_the_old_one_stops() {
    for cache_ttl in [Some(0), None] {
        let srv = spawn_with(|a| a.client_cache_ttl = cache_ttl).await;
        let (id, old) = srv.service_client("read");
        let cc = [("grant_type", "client_credentials")];
        let status = |secret: String| {
            let (srv, id) = (&srv, id.clone());
            async move {
                srv.post_form("/token", Some((&id, &secret)), &cc)
                    .await
                    .status()
            }
        };
        assert_eq!(status(old.clone()).await, 200, "{cache_ttl:?}");
        let new = {
            let mut conn = srv.state().db.pool().get().unwrap();
            portcullis::oauth::clients::registrar::rotate_secret(&mut conn, &id, srv.clock_now())
                .unwrap()
                .unwrap()
                .0
        };
        assert_eq!(
            status(new).await,
            200,
            "{cache_ttl:?}: the new secret at once"
        );
        assert_eq!(status(old).await, 401, "{cache_ttl:?}: the old one no more");
        srv.stop().await;
    }
}

/// A client that declares a body and never sends it is cut off (408) instead of holding
/// a connection for good; actix itself only times out slow headers.
#[actix_web::test]
async fn a_body_that_never_arrives_gets_408() {
    let srv = spawn().await;
    let addr = srv.base.trim_start_matches("http://").to_string();
    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        s.write_all(
            b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type",
        )
        .unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).to_string()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    srv.stop().await;
}

/// Tokens signed with our own key but not valid yet (`nbf`), or issued in the future,
/// are refused (RFC 7519 §4.1.5-6); the same token without them is accepted.
#[actix_web::test]
async fn tokens_not_yet_valid_are_inactive() {
    let srv = spawn().await;
    let (rs, rs_secret) = srv.service_client("introspect");
    let signing = srv.state().keys.current().signing().clone();
    let (kid, key) = (signing.kid, signing.encoding);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid);
    header.typ = Some("at+jwt".into());
    let now = srv.clock_now();
    let sign = |extra: serde_json::Value| {
        let mut claims = serde_json::json!({
            "iss": srv.base, "sub": "svc", "aud": srv.base, "exp": now + 300,
            "iat": now, "jti": format!("j{}", extra), "client_id": rs,
        });
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    };
    for (extra, active) in [
        (serde_json::json!({}), true),
        (serde_json::json!({ "nbf": now + 3600 }), false),
        (serde_json::json!({ "iat": now + 3600 }), false),
    ] {
        let res = srv
            .post_form(
                "/introspect",
                Some((&rs, &rs_secret)),
                &[("token", &sign(extra.clone()))],
            )
            .await;
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["active"], active, "{extra}");
    }
    srv.stop().await;
}
