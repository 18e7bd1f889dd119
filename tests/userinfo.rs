//! UserInfo (OpenID Connect Core §5.3) as a protected resource: RFC 6750 errors, and
//! the same view of a token as introspection.

mod common;

use common::browser::Browser;
use common::oidc::*;
use common::{create_user, location_params, spawn, spawn_with};
use portcullis::oauth::clients::ClientRequest;

#[actix_web::test]
async fn userinfo_answers_bearer_errors_per_rfc6750() {
    let srv = spawn().await;
    let res = srv.http.get(srv.url("/userinfo")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"portcullis\""
    );
    let res = srv
        .http
        .get(srv.url("/userinfo"))
        .bearer_auth("not-a-jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    // A token without openid: 403 insufficient_scope naming the scope.
    let (id, secret) = srv.service_client("read");
    let body: serde_json::Value = srv
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await
        .json()
        .await
        .unwrap();
    let res = srv
        .http
        .get(srv.url("/userinfo"))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"openid\""),
        "{challenge}"
    );
    // A forged token: alg none, and HS256 signed with the public key's bytes.
    let header = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"alg":"none","typ":"at+jwt"}"#,
    );
    let claims = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        format!(
            r#"{{"iss":"{}","sub":"x","exp":9999999999,"iat":1,"scope":"openid","jti":"j","client_id":"c","aud":"a"}}"#,
            srv.base
        ),
    );
    let res = srv
        .http
        .get(srv.url("/userinfo"))
        .bearer_auth(format!("{header}.{claims}."))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let kid = srv.jwks().await.keys[0].common.key_id.clone().unwrap();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = Some(kid);
    h.typ = Some("at+jwt".into());
    let forged = jsonwebtoken::encode(
        &h,
        &serde_json::json!({"iss": srv.base, "sub": "x", "exp": 9999999999i64, "iat": 1, "scope": "openid", "jti": "j", "client_id": "c", "aud": "a"}),
        &jsonwebtoken::EncodingKey::from_secret(b"guess"),
    );
    if let Ok(forged) = forged {
        let res = srv
            .http
            .get(srv.url("/userinfo"))
            .bearer_auth(forged)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    srv.stop().await;
}

/// UserInfo and introspection agree on which tokens still stand: a token asked for
/// another resource is not for UserInfo (RFC 9068 §4, RFC 8707), and tokens of a
/// deleted person or a deleted client end for both.
#[actix_web::test]
async fn userinfo_and_introspection_agree_on_audience_deleted_users_and_clients() {
    let srv = spawn_with(|a| a.client_cache_ttl = Some(0)).await;
    create_user(&srv, "alice", PASSWORD, None);
    let (id, secret) = srv.register(ClientRequest {
        name: "Photo Printer".into(),
        redirect_uris: vec![REDIRECT.into()],
        scope: Some("openid profile".into()),
        resources: vec!["https://api.example".into()],
        ..Default::default()
    });
    let app = App {
        oauth: oauth2::Client::new(ClientId::new(id.clone()))
            .set_client_secret(ClientSecret::new(secret.clone().unwrap()))
            .set_auth_uri(AuthUrl::new(srv.url("/authorize")).unwrap())
            .set_token_uri(TokenUrl::new(srv.url("/token")).unwrap())
            .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap()),
        id,
        secret,
    };
    let rs = srv.service_client("introspect");
    let browser = Browser::new(&srv);
    let mut tokens = Vec::new();
    for resource in [None, Some("https://api.example")] {
        let s = start(&app, &["openid", "profile"], &[]);
        let params = if resource.is_none() {
            sign_in_and_allow(&srv, &browser, &s).await
        } else {
            // Signed in, consent remembered: straight back with a code.
            location_params(&browser.get(&s.url).await).1
        };
        let mut req = app
            .oauth
            .exchange_code(AuthorizationCode::new(params["code"].clone()))
            .set_pkce_verifier(s.verifier);
        if let Some(r) = resource {
            req = req.add_extra_param("resource", r);
        }
        let t = req.request_async(&srv.http).await.expect("code exchange");
        tokens.push(t.access_token().secret().clone());
    }
    let userinfo = |t: &str| srv.http.get(srv.url("/userinfo")).bearer_auth(t).send();
    let introspect = |t: String| active_at_introspection(&srv, &rs, t);
    let (for_us, for_api) = (&tokens[0], &tokens[1]);
    assert_eq!(userinfo(for_us).await.unwrap().status(), 200);
    let res = userinfo(for_api).await.unwrap();
    assert_eq!(res.status(), 401, "a token for https://api.example only");
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(
        introspect(for_api.clone()).await,
        true,
        "still good for its API"
    );

    // A deleted client: both endpoints refuse its tokens.
    let other = app_with_token(&srv, &browser).await;
    assert_eq!(userinfo(&other.1).await.unwrap().status(), 200);
    let out = srv.cli(&["client", "delete", &other.0]);
    assert!(out.status.success());
    assert_eq!(userinfo(&other.1).await.unwrap().status(), 401);
    assert_eq!(introspect(other.1.clone()).await, false);

    // A deleted person: both endpoints refuse their tokens.
    let out = srv.cli(&["user", "delete", "alice"]);
    assert!(out.status.success());
    assert_eq!(userinfo(for_us).await.unwrap().status(), 401);
    assert_eq!(introspect(for_us.clone()).await, false);
    assert_eq!(introspect(for_api.clone()).await, false);
    srv.stop().await;
}
