//! Refresh-token rotation and reuse detection (RFC 9700 §4.14.2), revocation
//! (RFC 7009) and introspection (RFC 7662).

mod common;

use common::flow::{REDIRECT, sign_in};
use common::{TestServer, create_user, oauth_error, spawn, spawn_with};
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, RefreshToken, TokenResponse, TokenUrl};
use portcullis::oauth::clients::ClientRequest;
use serde_json::Value;

const PW: &str = "correct horse battery staple";

struct App {
    id: String,
    secret: String,
}

fn app(srv: &TestServer, grants: &[&str]) -> App {
    let (id, secret) = srv.register(ClientRequest {
        name: "Notes".into(),
        redirect_uris: vec![REDIRECT.into()],
        grant_types: grants.iter().map(|g| g.to_string()).collect(),
        scope: Some("openid profile offline_access".into()),
        ..Default::default()
    });
    App {
        id,
        secret: secret.unwrap(),
    }
}

fn refreshing_app(srv: &TestServer) -> App {
    app(srv, &["authorization_code", "refresh_token"])
}

async fn refresh(
    srv: &TestServer,
    app: &App,
    token: &str,
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    srv.post_form("/token", Some((&app.id, &app.secret)), &form)
        .await
}

async fn introspect(srv: &TestServer, caller: &App, token: &str) -> Value {
    let res = srv
        .post_form(
            "/introspect",
            Some((&caller.id, &caller.secret)),
            &[("token", token)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json().await.unwrap()
}

async fn setup() -> (TestServer, App, Value) {
    let srv = spawn().await;
    create_user(&srv, "alice", PW, None);
    let app = refreshing_app(&srv);
    let tokens = sign_in(
        &srv,
        &app.id,
        Some(&app.secret),
        "openid offline_access",
        "alice",
        PW,
    )
    .await;
    (srv, app, tokens)
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} in {v}"))
        .to_string()
}

#[actix_web::test]
async fn rotation_with_the_oauth2_crate_issues_a_new_refresh_token_each_time() {
    let (srv, app, tokens) = setup().await;
    let first = s(&tokens, "refresh_token");
    assert!(first.starts_with("pcr_") && first.len() >= 4 + 43);
    let client = BasicClient::new(ClientId::new(app.id.clone()))
        .set_client_secret(ClientSecret::new(app.secret.clone()))
        .set_token_uri(TokenUrl::new(srv.url("/token")).unwrap());
    let rotated = client
        .exchange_refresh_token(&RefreshToken::new(first.clone()))
        .request_async(&srv.http)
        .await
        .expect("refresh");
    let second = rotated
        .refresh_token()
        .expect("a new refresh token")
        .secret()
        .clone();
    assert_ne!(second, first);
    let access = rotated.access_token().secret();
    let claims = srv.verify(access, &srv.base).await.unwrap();
    assert_eq!(claims["scope"], "offline_access openid");
    let third = client
        .exchange_refresh_token(&RefreshToken::new(second))
        .request_async(&srv.http)
        .await
        .expect("refresh again");
    assert!(third.refresh_token().is_some());
    srv.stop().await;
}

#[actix_web::test]
async fn reuse_revokes_the_whole_family_including_the_newest_token() {
    let (srv, app, tokens) = setup().await;
    let first = s(&tokens, "refresh_token");
    let first_access = s(&tokens, "access_token");
    let r: Value = refresh(&srv, &app, &first, None)
        .await
        .json()
        .await
        .unwrap();
    let newest = s(&r, "refresh_token");
    let newest_access = s(&r, "access_token");
    assert_eq!(introspect(&srv, &app, &newest_access).await["active"], true);

    // The old token comes back: someone has a copy.
    let res = refresh(&srv, &app, &first, None).await;
    let (status, code, _) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (400, "invalid_grant"));
    let res = refresh(&srv, &app, &newest, None).await;
    assert_eq!(
        oauth_error(res).await.1,
        "invalid_grant",
        "the newest token is dead too"
    );
    for t in [&first_access, &newest_access] {
        assert_eq!(
            introspect(&srv, &app, t).await["active"],
            false,
            "access tokens of the family"
        );
    }
    assert_eq!(introspect(&srv, &app, &newest).await["active"], false);
    srv.stop().await;
}

#[actix_web::test]
async fn refresh_tokens_need_offline_access_and_the_grant() {
    let srv = spawn().await;
    create_user(&srv, "alice", PW, None);
    let with = refreshing_app(&srv);
    let t = sign_in(&srv, &with.id, Some(&with.secret), "openid", "alice", PW).await;
    assert!(
        t.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    let without = app(&srv, &["authorization_code"]);
    let t = sign_in(
        &srv,
        &without.id,
        Some(&without.secret),
        "openid offline_access",
        "alice",
        PW,
    )
    .await;
    assert!(
        t.get("refresh_token").is_none(),
        "client without the refresh_token grant"
    );
    let res = refresh(&srv, &without, "pcr_whatever", None).await;
    assert_eq!(oauth_error(res).await.1, "unauthorized_client");
    srv.stop().await;
}

#[actix_web::test]
async fn scope_may_narrow_but_never_grow() {
    let (srv, app, tokens) = setup().await;
    let rt = s(&tokens, "refresh_token");
    let res = refresh(&srv, &app, &rt, Some("openid profile")).await;
    let (status, code, _) = oauth_error(res).await;
    assert_eq!(
        (status, code.as_str()),
        (400, "invalid_scope"),
        "profile was not granted"
    );
    // The refused request did not consume the token.
    let narrowed: Value = refresh(&srv, &app, &rt, Some("openid"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(narrowed["scope"], "openid");
    // The new refresh token keeps the original grant (RFC 6749 §6).
    let wide: Value = refresh(&srv, &app, &s(&narrowed, "refresh_token"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wide["scope"], "offline_access openid");
    srv.stop().await;
}

#[actix_web::test]
async fn another_client_cannot_use_the_token() {
    let (srv, app, tokens) = setup().await;
    let other = refreshing_app(&srv);
    let rt = s(&tokens, "refresh_token");
    let res = refresh(&srv, &other, &rt, None).await;
    assert_eq!(oauth_error(res).await.1, "invalid_grant");
    assert_eq!(
        refresh(&srv, &app, &rt, None).await.status(),
        200,
        "still good for its owner"
    );
    let res = refresh(&srv, &app, "pcr_not-a-token", None).await;
    assert_eq!(oauth_error(res).await.1, "invalid_grant");
    srv.stop().await;
}

#[actix_web::test]
async fn idle_and_absolute_expiry() {
    let srv = spawn_with(|a| {
        a.refresh_idle_ttl = Some(100);
        a.refresh_absolute_ttl = Some(250);
    })
    .await;
    create_user(&srv, "alice", PW, None);
    let app = refreshing_app(&srv);
    let tokens = sign_in(
        &srv,
        &app.id,
        Some(&app.secret),
        "openid offline_access",
        "alice",
        PW,
    )
    .await;

    // Idle: unused for longer than 100 s.
    let rt = s(&tokens, "refresh_token");
    srv.clock.advance(101);
    assert_eq!(
        oauth_error(refresh(&srv, &app, &rt, None).await).await.1,
        "invalid_grant"
    );

    // Absolute: used every 90 s, the family still ends 250 s after sign-in.
    let tokens = sign_in(
        &srv,
        &app.id,
        Some(&app.secret),
        "openid offline_access",
        "alice",
        PW,
    )
    .await;
    let mut rt = s(&tokens, "refresh_token");
    for _ in 0..2 {
        srv.clock.advance(90);
        let r: Value = refresh(&srv, &app, &rt, None).await.json().await.unwrap();
        rt = s(&r, "refresh_token");
    }
    assert_eq!(introspect(&srv, &app, &rt).await["active"], true);
    srv.clock.advance(71);
    assert_eq!(introspect(&srv, &app, &rt).await["active"], false);
    assert_eq!(
        oauth_error(refresh(&srv, &app, &rt, None).await).await.1,
        "invalid_grant"
    );
    srv.stop().await;
}

#[actix_web::test]
async fn revoking_a_refresh_token_ends_its_family() {
    let (srv, app, tokens) = setup().await;
    let rt = s(&tokens, "refresh_token");
    let at = s(&tokens, "access_token");
    let res = srv
        .post_form(
            "/revoke",
            Some((&app.id, &app.secret)),
            &[("token", &rt), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        oauth_error(refresh(&srv, &app, &rt, None).await).await.1,
        "invalid_grant"
    );
    assert_eq!(
        introspect(&srv, &app, &at).await["active"],
        false,
        "its access token too"
    );
    srv.stop().await;
}

#[actix_web::test]
async fn revoking_an_access_token_and_the_refusals() {
    let (srv, app, tokens) = setup().await;
    let at = s(&tokens, "access_token");
    let rt = s(&tokens, "refresh_token");
    let other = refreshing_app(&srv);

    // Another client cannot revoke it (and learns nothing: still 200).
    let res = srv
        .post_form(
            "/revoke",
            Some((&other.id, &other.secret)),
            &[("token", &at)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = srv
        .post_form(
            "/revoke",
            Some((&other.id, &other.secret)),
            &[("token", &rt)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(introspect(&srv, &app, &at).await["active"], true);
    assert_eq!(introspect(&srv, &app, &rt).await["active"], true);

    // The owner can; a wrong hint does not stop it (RFC 7009 §2.1).
    let res = srv
        .post_form(
            "/revoke",
            Some((&app.id, &app.secret)),
            &[("token", &at), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(introspect(&srv, &app, &at).await["active"], false);
    let res = srv
        .http
        .get(srv.url("/userinfo"))
        .bearer_auth(&at)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // Unknown tokens: 200. Missing token: invalid_request. No client: 401.
    let res = srv
        .post_form(
            "/revoke",
            Some((&app.id, &app.secret)),
            &[("token", "garbage")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = srv
        .post_form(
            "/revoke",
            Some((&app.id, &app.secret)),
            &[("token_type_hint", "access_token")],
        )
        .await;
    assert_eq!(oauth_error(res).await.1, "invalid_request");
    let res = srv.post_form("/revoke", None, &[("token", &rt)]).await;
    let (status, code, headers) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (401, "invalid_client"));
    assert!(headers.contains_key("www-authenticate"));
    srv.stop().await;
}

#[actix_web::test]
async fn introspection_reports_each_state() {
    let (srv, app, tokens) = setup().await;
    let at = s(&tokens, "access_token");
    let rt = s(&tokens, "refresh_token");
    let rs = {
        let (id, secret) = srv.service_client("introspect");
        App { id, secret }
    };
    let v = introspect(&srv, &rs, &at).await;
    assert_eq!(v["active"], true);
    for k in [
        "scope",
        "client_id",
        "sub",
        "exp",
        "iat",
        "aud",
        "iss",
        "token_type",
        "jti",
    ] {
        assert!(v.get(k).is_some(), "{k} in {v}");
    }
    assert_eq!(v["client_id"], app.id.as_str());
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["iss"], srv.base.as_str());

    let v = introspect(&srv, &app, &rt).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["token_type"], "refresh_token");
    assert_eq!(
        introspect(&srv, &rs, &rt).await["active"],
        false,
        "refresh tokens only to their client"
    );

    for junk in ["garbage", "eyJhbGciOiJub25lIn0.e30.", ""] {
        if !junk.is_empty() {
            assert_eq!(
                introspect(&srv, &rs, junk).await,
                serde_json::json!({"active": false})
            );
        }
    }
    // Expired access token.
    srv.clock.advance(601);
    assert_eq!(introspect(&srv, &rs, &at).await["active"], false);

    // The endpoint is protected.
    let res = srv.post_form("/introspect", None, &[("token", &at)]).await;
    assert_eq!(oauth_error(res).await.0, 401);
    let res = srv
        .post_form("/introspect", Some((&rs.id, &rs.secret)), &[])
        .await;
    assert_eq!(oauth_error(res).await.1, "invalid_request");
    srv.stop().await;
}

#[actix_web::test]
async fn withdrawing_consent_ends_the_family() {
    let (srv, app, tokens) = setup().await;
    let rt = s(&tokens, "refresh_token");
    let user = {
        let mut conn = srv.state().db.pool().get().unwrap();
        portcullis::store::users::find_by_username(&mut conn, "alice")
            .unwrap()
            .unwrap()
    };
    {
        let mut conn = srv.state().db.pool().get().unwrap();
        portcullis::store::refresh::revoke_for_user(
            &mut conn,
            user.id,
            Some(&app.id),
            "test",
            srv.clock_now(),
        )
        .unwrap();
    }
    assert_eq!(
        oauth_error(refresh(&srv, &app, &rt, None).await).await.1,
        "invalid_grant"
    );
    srv.stop().await;
}

#[actix_web::test]
async fn fifty_concurrent_refreshes_exactly_one_wins() {
    let (srv, app, tokens) = setup().await;
    let rt = s(&tokens, "refresh_token");
    let requests = (0..50).map(|_| refresh(&srv, &app, &rt, None));
    let responses = futures_util::future::join_all(requests).await;
    let mut winners = Vec::new();
    let mut losers = 0;
    for res in responses {
        match res.status().as_u16() {
            200 => winners.push(res.json::<Value>().await.unwrap()),
            400 => {
                let v: Value = res.json().await.unwrap();
                assert_eq!(v["error"], "invalid_grant");
                losers += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation");
    assert_eq!(losers, 49);
    // The losers presented a used token: reuse, so the family is revoked, and the
    // winner's new token is dead too. Consistent: nothing in the family is usable.
    let newest = s(&winners[0], "refresh_token");
    assert_eq!(introspect(&srv, &app, &newest).await["active"], false);
    assert_eq!(
        oauth_error(refresh(&srv, &app, &newest, None).await)
            .await
            .1,
        "invalid_grant"
    );
    srv.stop().await;
}
