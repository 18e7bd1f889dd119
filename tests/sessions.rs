//! Browser sessions and the headers every response carries.

mod common;

use common::people::{PW, sign_in_password};
use common::{create_user, http_client, spawn_with};

#[actix_web::test]
async fn a_short_idle_limit_holds_while_the_session_is_in_use() {
    let srv = spawn_with(|a| a.session_idle_ttl = Some(60)).await;
    create_user(&srv, "alice", PW, None);
    let http = http_client();
    assert_eq!(sign_in_password(&srv, &http, "alice").await.status(), 303);
    // Active every 20 seconds for five minutes: never signed out.
    for _ in 0..15 {
        srv.clock.advance(20);
        let res = http.get(srv.url("/account")).send().await.unwrap();
        assert_eq!(res.status(), 200, "still signed in");
    }
    // Then idle for the limit: signed out.
    srv.clock.advance(60);
    let res = http.get(srv.url("/account")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    srv.stop().await;
}

#[actix_web::test]
async fn an_https_issuer_gets_strict_transport_security_on_every_response() {
    let srv = spawn_with(|a| a.issuer = Some("https://id.example".into())).await;
    // The issuer is a name; the test talks to the bound address.
    let addr = srv.running.as_ref().unwrap().addr;
    let http = http_client();
    for path in ["/jwks.json", "/login", "/no/such/page", "/token"] {
        let res = http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.headers()
                .get("strict-transport-security")
                .map(|v| v.to_str().unwrap()),
            Some("max-age=31536000"),
            "{path}"
        );
    }
    srv.stop().await;
    // Without TLS, browsers must not be told so.
    let plain = spawn_with(|_| {}).await;
    let res = http.get(plain.url("/jwks.json")).send().await.unwrap();
    assert!(res.headers().get("strict-transport-security").is_none());
    plain.stop().await;
}
