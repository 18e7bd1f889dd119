//! Stored values are parsed where they are read; one that does not parse refuses the
//! request (and is logged) instead of turning into a default. An allow-list that fails to
//! parse once meant "allow everyone".

mod common;

use common::people::enrolled;
use common::{TestServer, oauth_error, spawn};
use diesel::RunQueryDsl;

fn exec(srv: &TestServer, sql: &str) {
    let mut conn = srv.state().db.pool().get().expect("db");
    diesel::sql_query(sql).execute(&mut *conn).expect(sql);
}

#[actix_web::test]
async fn a_stored_allow_list_that_does_not_parse_refuses_the_token() {
    let srv = spawn().await;
    let p = enrolled(&srv, "alice").await;
    let token = p.new_token(&srv, "ci", &["api:read"], "10.0.0.0/8").await;
    let rs = srv.service_client("");
    let introspect = |ip: &'static str| {
        let (rs, token) = (rs.clone(), token.clone());
        let srv = &srv;
        async move {
            srv.post_form(
                "/introspect",
                Some((&rs.0, &rs.1)),
                &[("token", token.as_str()), ("client_ip", ip)],
            )
            .await
        }
    };
    let v: serde_json::Value = introspect("10.1.2.3").await.json().await.unwrap();
    assert_eq!(v["active"], true);
    // Not an address; only separators (which would read as "any address"); not the
    // canonical form we write.
    for stored in [
        "10.0.0.0/8 not-an-address",
        " ",
        ",",
        "10.0.0.0/8,10.1.0.0/16",
    ] {
        exec(
            &srv,
            &format!("UPDATE personal_tokens SET allowed_ips = '{stored}'"),
        );
        let res = introspect("203.0.113.9").await;
        let (status, code, _) = oauth_error(res).await;
        assert_eq!((status, code.as_str()), (500, "server_error"), "{stored:?}");
    }
    // Nor may it be exchanged.
    let res = srv
        .post_form(
            "/token",
            None,
            &[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", token.as_str()),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token",
                ),
            ],
        )
        .await;
    assert_ne!(res.status(), 200);
    srv.stop().await;
}

#[actix_web::test]
async fn a_client_row_that_does_not_parse_cannot_get_tokens() {
    let srv = spawn_without_cache().await;
    let (id, secret) = srv.service_client("inventory:read");
    let res = srv
        .post_form(
            "/token",
            Some((&id, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(res.status(), 200);
    for corruption in [
        "UPDATE clients SET grant_types = 'client_credentials password'",
        "UPDATE clients SET grant_types = 'client_credentials', scopes = 'inventory:read bad\"scope'",
        "UPDATE clients SET scopes = 'inventory:read', id_token_alg = 'HS256'",
    ] {
        exec(&srv, corruption);
        let res = srv
            .post_form(
                "/token",
                Some((&id, &secret)),
                &[("grant_type", "client_credentials")],
            )
            .await;
        let (status, code, _) = oauth_error(res).await;
        assert_eq!(
            (status, code.as_str()),
            (500, "server_error"),
            "{corruption}"
        );
    }
    srv.stop().await;
}

async fn spawn_without_cache() -> TestServer {
    common::spawn_with(|a| a.client_cache_ttl = Some(0)).await
}

#[actix_web::test]
async fn a_stored_scope_that_does_not_parse_refuses_the_refresh() {
    let srv = spawn().await;
    let (client_id, secret) = srv.register(portcullis::oauth::clients::ClientRequest {
        name: "app".into(),
        redirect_uris: vec![common::flow::REDIRECT.into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scope: Some("openid offline_access".into()),
        ..Default::default()
    });
    common::create_user(&srv, "alice", common::people::PW, None);
    let tokens = common::flow::sign_in(
        &srv,
        &client_id,
        secret.as_deref(),
        "openid offline_access",
        "alice",
        common::people::PW,
    )
    .await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    exec(
        &srv,
        "UPDATE token_families SET scope = 'openid \"offline_access'",
    );
    let res = srv
        .post_form(
            "/token",
            Some((&client_id, secret.as_deref().unwrap())),
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
    let (status, code, _) = oauth_error(res).await;
    assert_eq!((status, code.as_str()), (500, "server_error"));
    srv.stop().await;
}

#[test]
fn redirect_uris_may_not_name_response_parameters() {
    let db = common::TestDb::new();
    let keys = common::keys_dir();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .env("DATABASE_URL", &db.url)
            .env("PORTCULLIS_KEYS_DIR", keys.path())
            .output()
            .unwrap()
    };
    for uri in [
        "https://app.example/cb?code=x",
        "https://app.example/cb?x=1;code=2",
        "https://app.example/cb?%20state=1",
        "https://app.example/cb?tenant=1&state=2",
        "https://app.example/cb?iss=https://evil.example",
        "https://app.example/cb?error=access_denied",
        "https://app.example/cb?session_state=1",
    ] {
        let out = run(&["client", "create", "--name", "a", "--redirect-uri", uri]);
        assert!(!out.status.success(), "{uri} was accepted");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("query parameter"), "{err}");
    }
    let ok = run(&[
        "client",
        "create",
        "--name",
        "a",
        "--redirect-uri",
        "https://app.example/cb?tenant=1",
        "--post-logout-redirect-uri",
        "https://app.example/bye?code=fine",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let out = run(&[
        "client",
        "create",
        "--name",
        "a",
        "--redirect-uri",
        "https://app.example/cb",
        "--post-logout-redirect-uri",
        "https://app.example/bye?state=1",
    ]);
    assert!(
        !out.status.success(),
        "a post-logout URI may not name state"
    );
}
