//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OpenID Connect Core
//! §9): a client proves itself with a JWT signed by its own key, at every endpoint that
//! authenticates clients; every refusal is `invalid_client`.

mod common;

use common::jose::{ClientKey, assertion_fields};
use common::{TestServer, spawn};
use portcullis::keys::KeyAlg;
use portcullis::oauth::clients::ClientRequest;
use serde_json::{Value, json};

fn key_client(srv: &TestServer, key: &ClientKey) -> String {
    let (id, secret) = srv.register(ClientRequest {
        name: "signed service".into(),
        scope: Some("inventory:read".into()),
        jwks: Some(key.jwks()),
        ..Default::default()
    });
    assert!(secret.is_none(), "a key-based client has no secret");
    id
}

async fn post(srv: &TestServer, path: &str, form: &[(&str, String)]) -> reqwest::Response {
    srv.http
        .post(srv.url(path))
        .form(form)
        .send()
        .await
        .unwrap()
}

async fn token(srv: &TestServer, assertion: &str) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials".to_string())];
    form.extend(assertion_fields(assertion));
    post(srv, "/token", &form).await
}

async fn error_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    (status, body["error"].as_str().unwrap_or("").to_string())
}

#[actix_web::test]
async fn a_signed_assertion_authenticates_at_every_endpoint() {
    let srv = spawn().await;
    let key = ClientKey::es256();
    let id = key_client(&srv, &key);
    let now = srv.clock_now();
    let res = token(&srv, &key.assertion(&id, json!(srv.base), now)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let access = body["access_token"].as_str().unwrap().to_string();
    // The token endpoint URL is accepted as the audience too.
    let res = token(&srv, &key.assertion(&id, json!(srv.url("/token")), now)).await;
    assert_eq!(res.status(), 200);
    // Introspection and revocation.
    let mut form = vec![("token", access.clone())];
    form.extend(assertion_fields(&key.assertion(&id, json!(srv.base), now)));
    let res = post(&srv, "/introspect", &form).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["active"], true);
    let mut form = vec![("token", access)];
    form.extend(assertion_fields(&key.assertion(&id, json!(srv.base), now)));
    assert_eq!(post(&srv, "/revoke", &form).await.status(), 200);
    // Every accepted algorithm.
    for alg in [KeyAlg::RS256, KeyAlg::EdDSA] {
        let k = ClientKey::new(alg);
        let id = key_client(&srv, &k);
        let res = token(&srv, &k.assertion(&id, json!(srv.base), now)).await;
        assert_eq!(res.status(), 200, "{alg:?}");
    }
    // Discovery advertises it, with the algorithms.
    let meta: Value = srv
        .http
        .get(srv.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for field in [
        "token_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        assert!(
            meta[field]
                .as_array()
                .unwrap()
                .contains(&json!("private_key_jwt")),
            "{field}"
        );
    }
    assert!(
        !meta["token_endpoint_auth_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("HS256"))
    );
    srv.stop().await;
}

#[actix_web::test]
async fn every_bad_assertion_is_invalid_client() {
    let srv = spawn().await;
    let key = ClientKey::es256();
    let other = ClientKey::es256();
    let id = key_client(&srv, &key);
    let (secret_id, _) = srv.service_client("");
    let now = srv.clock_now();
    let aud = json!(srv.base);
    let claims = |f: &dyn Fn(&mut Value)| {
        let mut c = json!({
            "iss": id, "sub": id, "aud": srv.base, "iat": now, "exp": now + 60,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        f(&mut c);
        c
    };
    // (Signed by hand: the process's signing provider makes asymmetric signatures only;
    // what matters is that the alg alone gets it refused.)
    let hs256 = {
        use base64::Engine;
        let e = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.{}",
            e.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string()),
            e.encode(claims(&|_| {}).to_string()),
            e.encode([7u8; 32])
        )
    };
    let unsigned = {
        use base64::Engine;
        let e = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.",
            e.encode(json!({"alg": "none"}).to_string()),
            e.encode(claims(&|_| {}).to_string())
        )
    };
    let cases: Vec<(&str, String)> = vec![
        ("another key", other.assertion(&id, aud.clone(), now)),
        ("HS256", hs256),
        ("alg none", unsigned),
        (
            "expired",
            key.assertion_with(&claims(&|c| c["exp"] = json!(now - 1))),
        ),
        (
            "exp too far ahead",
            key.assertion_with(&claims(&|c| c["exp"] = json!(now + 3600))),
        ),
        (
            "no exp",
            key.assertion_with(&claims(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
        ),
        (
            "no jti",
            key.assertion_with(&claims(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            })),
        ),
        (
            "iss differs",
            key.assertion_with(&claims(&|c| c["iss"] = json!("someone"))),
        ),
        (
            "aud another server",
            key.assertion(&id, json!("https://other.example"), now),
        ),
        (
            "aud our PAR endpoint",
            key.assertion(&id, json!(srv.url("/par")), now),
        ),
        (
            "aud of two values",
            key.assertion(&id, json!([srv.base, "https://other.example"]), now),
        ),
        (
            "not yet valid",
            key.assertion_with(&claims(&|c| c["nbf"] = json!(now + 600))),
        ),
        (
            "a client with a secret",
            key.assertion(&secret_id, aud.clone(), now),
        ),
        (
            "an unknown client",
            key.assertion("nobody", aud.clone(), now),
        ),
    ];
    for (what, assertion) in &cases {
        let res = token(&srv, assertion).await;
        let (status, error) = error_of(res).await;
        assert_eq!((status, error.as_str()), (401, "invalid_client"), "{what}");
    }
    // A replayed assertion: the same one sent together, to two instances, authenticates
    // exactly once.
    // One issuer for both, as behind a load balancer: one `aud` fits both.
    let other_instance = srv
        .sibling_with(|a| a.issuer = Some(srv.base.clone()))
        .await;
    // The control: the other instance takes an assertion of its own.
    let mut form = vec![("grant_type", "client_credentials".to_string())];
    form.extend(assertion_fields(&key.assertion(&id, aud.clone(), now)));
    let res = srv
        .http
        .post(format!("http://{}/token", other_instance.addr))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let assertion = key.assertion(&id, aud.clone(), now);
    let bases = [srv.base.clone(), format!("http://{}", other_instance.addr)];
    let sends = (0..10).map(|i| {
        let (http, base, assertion) = (srv.http.clone(), bases[i % 2].clone(), assertion.clone());
        async move {
            let mut form = vec![("grant_type", "client_credentials".to_string())];
            form.extend(assertion_fields(&assertion));
            http.post(format!("{base}/token"))
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(sends).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        9,
        "{statuses:?}"
    );
    other_instance.stop().await;
    // A secret and an assertion at once.
    let mut form = vec![
        ("grant_type", "client_credentials".to_string()),
        ("client_secret", "pcs_x".to_string()),
    ];
    form.extend(assertion_fields(&key.assertion(&id, aud.clone(), now)));
    assert_eq!(
        error_of(post(&srv, "/token", &form).await).await.1,
        "invalid_request"
    );
    // The key-based client cannot fall back to a secret or to naming itself.
    let res = srv
        .http
        .post(srv.url("/token"))
        .basic_auth(&id, Some("pcs_guess"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(res).await.1, "invalid_client");
    // Refusals are in the audit trail with their reason, never the assertion.
    let out = srv.cli(&[
        "audit",
        "list",
        "--kind",
        "client.assertion_refused",
        "--json",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("has expired") && text.contains("already used"),
        "{text}"
    );
    assert!(!text.contains(&cases[0].1));
    srv.stop().await;
}

/// A client that publishes its keys at a jwks_uri: fetched, and fetched again when an
/// assertion names a key we have not seen (the client rotated).
#[actix_web::test]
async fn keys_published_at_a_jwks_uri_are_fetched_and_refetched_on_rotation() {
    use std::sync::{Arc, Mutex};
    let srv = spawn().await;
    let first = ClientKey::es256();
    let second = ClientKey::es256();
    let published = Arc::new(Mutex::new(first.jwks()));
    let served = published.clone();
    let jwks_server = actix_web::HttpServer::new(move || {
        let served = served.clone();
        actix_web::App::new().route(
            "/jwks.json",
            actix_web::web::get().to(move || {
                let body = served.lock().unwrap().clone();
                async move {
                    actix_web::HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = jwks_server.addrs()[0];
    let running = jwks_server.run();
    let handle = running.handle();
    actix_web::rt::spawn(running);

    let (id, secret) = srv.register(ClientRequest {
        name: "publishes keys".into(),
        jwks_uri: Some(format!("http://{addr}/jwks.json")),
        ..Default::default()
    });
    assert!(secret.is_none());
    let now = srv.clock_now();
    let res = token(&srv, &first.assertion(&id, json!(srv.base), now)).await;
    assert_eq!(res.status(), 200);
    // The client rotates: the new kid is unknown, so the set is fetched again (no more
    // often than every 10 seconds per URL, so a stream of made-up kids cannot make us
    // hammer the client's server).
    *published.lock().unwrap() = second.jwks();
    let res = token(&srv, &second.assertion(&id, json!(srv.base), now)).await;
    assert_eq!(res.status(), 401, "within 10 s of the last fetch");
    srv.clock.advance(11);
    let now = srv.clock_now();
    let res = token(&srv, &second.assertion(&id, json!(srv.base), now)).await;
    assert_eq!(res.status(), 200, "refetched on an unknown kid");
    // The old key is gone from the published set.
    let res = token(&srv, &first.assertion(&id, json!(srv.base), now)).await;
    assert_eq!(res.status(), 401);
    handle.stop(true).await;
    srv.stop().await;
}

/// The command line: a JWK Set with a private key is refused; `client show` names the
/// keys; `client set-jwks` replaces them.
#[actix_web::test]
async fn the_command_line_registers_and_replaces_keys() {
    let srv = spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let key = ClientKey::es256();
    let mut private = key.jwk();
    private["d"] = json!("AAAA");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, json!({"keys": [private]}).to_string()).unwrap();
    let out = srv.cli(&[
        "client",
        "create",
        "--name",
        "x",
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("private member"));

    let good = dir.path().join("good.json");
    std::fs::write(&good, key.jwks()).unwrap();
    let out = srv.cli(&[
        "client",
        "create",
        "--name",
        "x",
        "--jwks-file",
        good.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(created.get("client_secret").is_none());
    assert_eq!(created["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(created["jwks_kids"], json!([key.kid()]));
    let id = created["client_id"].as_str().unwrap().to_string();

    let next = ClientKey::es256();
    let newer = dir.path().join("next.json");
    std::fs::write(&newer, next.jwks()).unwrap();
    let out = srv.cli(&[
        "client",
        "set-jwks",
        &id,
        "--jwks-file",
        newer.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = srv.cli(&["client", "show", &id]);
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(
        shown.contains(&next.kid()) && !shown.contains(&key.kid()),
        "{shown}"
    );
    srv.stop().await;
}
