//! The code exchange (RFC 6749 §4.1.3, RFC 7636 §4.6) and what it returns: access,
//! refresh and ID tokens, driven with the `oauth2` crate as a client library would.

mod common;

use common::browser::Browser;
use common::oidc::*;
use common::{create_user, location_params, oauth_error, spawn};
use portcullis::oauth::clients::ClientRequest;

#[actix_web::test]
async fn full_flow_login_consent_exchange_id_token_and_userinfo() {
    let srv = spawn().await;
    let user_id = create_user(&srv, "alice", PASSWORD, Some("alice@example.com"));
    let app = app(&srv, false, "openid profile email");
    let browser = Browser::new(&srv);
    let started = start(
        &app,
        &["openid", "profile", "email"],
        &[("nonce", "n-0S6_WzA2Mj")],
    );
    let params = sign_in_and_allow(&srv, &browser, &started).await;
    assert_eq!(params["state"], started.state);
    assert_eq!(params["iss"], srv.base, "RFC 9207");
    let code = params["code"].clone();
    assert!(code.len() >= 43, "256-bit code");

    let token = exchange(&srv, &app, &code, started.verifier).await;
    let access = token.access_token().secret().clone();
    let claims = srv
        .verify(&access, &srv.base)
        .await
        .expect("access token verifies");
    assert_eq!(claims["sub"], user_id.as_str());
    assert_eq!(claims["client_id"], app.id.as_str());
    assert!(token.refresh_token().is_none());

    // The ID token: signature against the JWKS, audience, nonce, at_hash.
    let id_token = token
        .extra_fields()
        .id_token
        .clone()
        .expect("id_token for openid");
    let header = jsonwebtoken::decode_header(&id_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let jwks = srv.jwks().await;
    let key =
        jsonwebtoken::DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap())
            .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[&app.id]);
    v.set_issuer(&[&srv.base]);
    let id = jsonwebtoken::decode::<serde_json::Value>(&id_token, &key, &v)
        .expect("ID token verifies")
        .claims;
    assert_eq!(id["sub"], user_id.as_str());
    assert_eq!(id["nonce"], "n-0S6_WzA2Mj");
    assert!(id["auth_time"].as_i64().is_some());
    assert!(id["sid"].as_str().is_some());
    assert_eq!(
        id["at_hash"],
        portcullis::oauth::tokens::at_hash(portcullis::keys::KeyAlg::RS256, &access)
    );
    // at_hash computed independently: left half of SHA-256, base64url.
    {
        use base64::Engine;
        use sha2::Digest;
        let d = sha2::Sha256::digest(access.as_bytes());
        assert_eq!(
            id["at_hash"],
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&d[..16])
        );
    }

    // userinfo, header and form body.
    let res = srv
        .http
        .get(srv.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let info: serde_json::Value = res.json().await.unwrap();
    assert_eq!(info["sub"], user_id.as_str());
    assert_eq!(info["preferred_username"], "alice");
    assert_eq!(info["name"], "alice Example");
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["email_verified"], true);
    let res = srv
        .http
        .post(srv.url("/userinfo"))
        .form(&[("access_token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // A returning user with remembered consent goes straight back with a code.
    let again = start(&app, &["openid", "profile"], &[]);
    let res = browser.get(&again.url).await;
    assert_eq!(res.status(), 302);
    let (_, p) = location_params(&res);
    assert!(p.contains_key("code"));
    assert_eq!(p["state"], again.state);
    exchange(&srv, &app, &p["code"], again.verifier).await;
    srv.stop().await;
}

#[actix_web::test]
async fn public_clients_use_pkce_without_a_secret() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, true, "openid");
    let browser = Browser::new(&srv);
    let started = start(&app, &["openid"], &[]);
    let params = sign_in_and_allow(&srv, &browser, &started).await;
    let token = exchange(&srv, &app, &params["code"], started.verifier).await;
    assert!(token.extra_fields().id_token.is_some());
    srv.stop().await;
}

#[actix_web::test]
async fn wrong_or_missing_verifier_is_invalid_grant() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
    let s = start(&app, &["openid"], &[]);
    let p = sign_in_and_allow(&srv, &browser, &s).await;
    let err = app
        .oauth
        .exchange_code(AuthorizationCode::new(p["code"].clone()))
        .set_pkce_verifier(PkceCodeVerifier::new("x".repeat(43)))
        .request_async(&srv.http)
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("invalid_grant"), "{err:?}");
    // PKCE downgrade: the verifier left out.
    let res = token_post(
        &srv,
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &p["code"]),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    let (status, code, _) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (400, "invalid_grant"));
    // The right verifier still works: failed attempts do not consume the code.
    exchange(&srv, &app, &p["code"], s.verifier).await;
    srv.stop().await;
}

#[actix_web::test]
async fn a_reused_code_fails_and_revokes_what_the_first_use_issued() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
    let s = start(&app, &["openid"], &[]);
    let p = sign_in_and_allow(&srv, &browser, &s).await;
    let verifier = s.verifier.secret().clone();
    let token = exchange(
        &srv,
        &app,
        &p["code"],
        PkceCodeVerifier::new(verifier.clone()),
    )
    .await;
    let access = token.access_token().secret().clone();
    let ok = srv
        .http
        .get(srv.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    let res = token_post(
        &srv,
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &p["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    let (status, code, _) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (400, "invalid_grant"));
    let res = srv
        .http
        .get(srv.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the first token is revoked");
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    srv.stop().await;
}

#[actix_web::test]
async fn codes_expire_after_a_minute() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
    let s = start(&app, &["openid"], &[]);
    let p = sign_in_and_allow(&srv, &browser, &s).await;
    srv.clock.advance(61);
    let res = token_post(
        &srv,
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &p["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", s.verifier.secret()),
        ],
    )
    .await;
    assert_eq!(oauth_error(res).await.1, "invalid_grant");
    srv.stop().await;
}

#[actix_web::test]
async fn a_code_is_bound_to_its_client_and_redirect_uri() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let app1 = app(&srv, false, "openid");
    let app2 = app(&srv, false, "openid");
    let browser = Browser::new(&srv);
    let s = start(&app1, &["openid"], &[]);
    let p = sign_in_and_allow(&srv, &browser, &s).await;
    let v = s.verifier.secret().clone();
    let code = p["code"].as_str();
    // (client, redirect_uri sent, code sent, the error, why)
    type Case<'a> = (&'a App, Option<&'a str>, Option<&'a str>, &'a str, &'a str);
    let refusals: [Case; 4] = [
        (
            &app2,
            Some(REDIRECT),
            Some(code),
            "invalid_grant",
            "another client's code",
        ),
        (
            &app1,
            Some("http://127.0.0.1:9999/other"),
            Some(code),
            "invalid_grant",
            "redirect_uri mismatch",
        ),
        (
            &app1,
            None,
            Some(code),
            "invalid_grant",
            "redirect_uri was in the request, so it is required",
        ),
        (&app1, Some(REDIRECT), None, "invalid_request", "no code"),
    ];
    for (client, redirect_uri, code, error, why) in refusals {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code_verifier", v.as_str()),
        ];
        form.extend(redirect_uri.map(|r| ("redirect_uri", r)));
        form.extend(code.map(|c| ("code", c)));
        let res = token_post(&srv, client, &form).await;
        assert_eq!(oauth_error(res).await.1, error, "{why}");
    }
    // A service client may not use the grant at all.
    let (sid, ssecret) = srv.service_client("openid");
    let res = srv
        .post_form(
            "/token",
            Some((&sid, &ssecret)),
            &[("grant_type", "authorization_code"), ("code", &p["code"])],
        )
        .await;
    assert_eq!(oauth_error(res).await.1, "unauthorized_client");
    // Untouched by all of that, the code still works for its client.
    exchange(&srv, &app1, &p["code"], s.verifier).await;
    srv.stop().await;
}

/// A client registered with id_token_signed_response_alg ES256 gets ES256 ID tokens once
/// the key set has an ES256 key, and a clear server_error before; others stay RS256.
#[actix_web::test]
async fn id_tokens_use_the_algorithm_the_client_registered() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let (id, secret) = srv.register(ClientRequest {
        name: "Photo Printer".into(),
        redirect_uris: vec![REDIRECT.into()],
        scope: Some("openid".into()),
        id_token_alg: Some("ES256".into()),
        ..Default::default()
    });
    let es = App {
        oauth: oauth2::Client::new(ClientId::new(id.clone()))
            .set_client_secret(ClientSecret::new(secret.clone().unwrap()))
            .set_auth_uri(AuthUrl::new(srv.url("/authorize")).unwrap())
            .set_token_uri(TokenUrl::new(srv.url("/token")).unwrap())
            .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).unwrap()),
        id,
        secret,
    };
    let rs = app(&srv, false, "openid");
    let browser = Browser::new(&srv);

    let s = start(&es, &["openid"], &[]);
    let params = sign_in_and_allow(&srv, &browser, &s).await;
    let res = token_post(
        &srv,
        &es,
        &[
            ("grant_type", "authorization_code"),
            ("code", &params["code"]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", s.verifier.secret()),
        ],
    )
    .await;
    let (status, error, _) = oauth_error(res).await;
    assert_eq!(
        (status, error.as_str()),
        (500, "server_error"),
        "no ES256 key yet"
    );

    let out = srv.cli(&["keys", "rotate", "--alg", "ES256"]);
    assert!(out.status.success());
    // What the key watcher does every 2 s, now.
    portcullis::server::reload_keys(srv.state(), srv.clock_now()).unwrap();
    for (app, alg) in [(&es, "ES256"), (&rs, "RS256")] {
        let s = start(app, &["openid"], &[]);
        let res = browser.get(&s.url).await;
        let params = if res.status() == 302 {
            location_params(&res).1
        } else {
            let page = res.text().await.unwrap();
            let res = browser.consent(&page, "allow").await;
            location_params(&res).1
        };
        let t = exchange(&srv, app, &params["code"], s.verifier).await;
        let id_token = t.extra_fields().id_token.clone().unwrap();
        let header = jsonwebtoken::decode_header(&id_token).unwrap();
        assert_eq!(format!("{:?}", header.alg), alg);
        let claims = srv.verify(&id_token, &app.id).await.expect("verifies");
        assert_eq!(
            claims["at_hash"],
            portcullis::oauth::tokens::at_hash(alg.parse().unwrap(), t.access_token().secret())
        );
    }
    srv.stop().await;
}

/// A code belongs to the sign-in session that produced it: after that session ends (the
/// person signs out, or their password is changed) the code is `invalid_grant`.
#[actix_web::test]
async fn a_code_dies_with_its_session() {
    let srv = spawn().await;
    let uid = create_user(&srv, "alice", PASSWORD, None);
    let app = app(&srv, false, "openid");
    let browser = Browser::new(&srv);

    // Signed out before the code is redeemed.
    let s = start(&app, &["openid"], &[]);
    let params = sign_in_and_allow(&srv, &browser, &s).await;
    let page = browser.text(&srv.url("/logout")).await;
    let res = browser.submit(&page, "/logout", &[]).await;
    assert_eq!(res.status(), 200, "signed out");
    let v = s.verifier.secret().clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", params["code"].as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", v.as_str()),
    ];
    let (status, error, _) = oauth_error(token_post(&srv, &app, &form).await).await;
    assert_eq!(
        (status, error.as_str()),
        (400, "invalid_grant"),
        "after sign-out"
    );

    // A new password before the code is redeemed.
    let s = start(&app, &["openid"], &[("prompt", "consent")]);
    let params = sign_in_and_allow(&srv, &Browser::new(&srv), &s).await;
    {
        let mut conn = srv.state().db.pool().get().unwrap();
        let hash = portcullis::password::hash("a brand new passphrase").unwrap();
        let id = portcullis::store::id::Id(uid.parse().unwrap());
        let by = portcullis::accounts::Actor::Operator;
        portcullis::accounts::users::set_password(&mut conn, id, &hash, &by, srv.clock_now())
            .unwrap();
    }
    let v = s.verifier.secret().clone();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", params["code"].as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", v.as_str()),
    ];
    let (status, error, _) = oauth_error(token_post(&srv, &app, &form).await).await;
    assert_eq!(
        (status, error.as_str()),
        (400, "invalid_grant"),
        "after set-password"
    );
    srv.stop().await;
}
