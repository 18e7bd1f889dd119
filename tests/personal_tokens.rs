//! Personal API tokens (create, introspect, exchange, revoke) and their audit trail,
//! driven as a person, a script and a resource server would.

mod common;

use common::people::{PW, enrolled, post_page, sign_in_password};
use common::{TestServer, create_user, field, http_client, oauth_error, spawn, spawn_with};
use portcullis::oauth::clients::ClientRequest;
use serde_json::Value;

async fn introspect(
    srv: &TestServer,
    rs: &(String, String),
    token: &str,
    ip: Option<&str>,
) -> Value {
    let mut form = vec![("token", token)];
    if let Some(ip) = ip {
        form.push(("client_ip", ip));
    }
    let res = srv
        .post_form("/introspect", Some((&rs.0, &rs.1)), &form)
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn exchange(srv: &TestServer, token: &str, scope: Option<&str>) -> reqwest::Response {
    exchange_via(srv, token, scope, None).await
}

/// The exchange as sent through a reverse proxy that appends `forwarded_for`.
async fn exchange_via(
    srv: &TestServer,
    token: &str,
    scope: Option<&str>,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("subject_token", token),
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
    ];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    let mut req = srv.http.post(srv.url("/token")).form(&form);
    if let Some(f) = forwarded_for {
        req = req.header("x-forwarded-for", f);
    }
    req.send().await.unwrap()
}

#[actix_web::test]
async fn creating_a_token_needs_two_factor_and_a_fresh_code() {
    let srv = spawn().await;
    // Without two-factor: refused, and the page says how to turn it on.
    create_user(&srv, "bob", PW, None);
    let bob = http_client();
    sign_in_password(&srv, &bob, "bob").await;
    let page = bob
        .get(srv.url("/account/tokens"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("/account/security") && !page.contains("name=\"code\""));
    // Post the form anyway (a hand-made request), with a valid CSRF token.
    let account = bob
        .get(srv.url("/account"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field(&account, "csrf").unwrap();
    let res = bob
        .post(srv.url("/account/tokens"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "ci"),
            ("scope.api:read", "on"),
            ("expires", "30"),
            ("code", "123456"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(!res.text().await.unwrap().contains("pcp_"));

    let p = enrolled(&srv, "alice").await;
    let no_code = p
        .create_token(&srv, "ci", &["api:read"], "30", "", "")
        .await;
    assert_eq!(no_code.status(), 400);
    let code = p.code(&srv);
    let ok = p
        .create_token(&srv, "ci", &["api:read"], "30", "", &code)
        .await;
    assert_eq!(ok.status(), 200);
    let reused = p
        .create_token(&srv, "ci-2", &["api:read"], "30", "", &code)
        .await;
    assert_eq!(reused.status(), 400, "a code is never accepted twice");
    srv.clock.advance(30);
    let dup = p
        .create_token(&srv, "ci", &["api:read"], "30", "", &p.code(&srv))
        .await;
    assert_eq!(dup.status(), 400, "names are unique per person");
    srv.clock.advance(30);
    let bad_ip = p
        .create_token(&srv, "x", &["api:read"], "30", "10.0.0.0/33", &p.code(&srv))
        .await;
    assert_eq!(bad_ip.status(), 400);
    srv.clock.advance(30);
    let never = p
        .create_token(&srv, "y", &["api:read"], "never", "", &p.code(&srv))
        .await;
    assert_eq!(
        never.status(),
        400,
        "never-expiring tokens are off by default"
    );
    srv.clock.advance(30);
    let unknown_scope = p
        .create_token(&srv, "z", &["admin"], "30", "", &p.code(&srv))
        .await;
    assert_eq!(unknown_scope.status(), 400, "only catalogue scopes");
    srv.stop().await;
}

#[actix_web::test]
async fn tokens_work_at_introspection_and_exchange_within_their_allow_list_until_revoked() {
    let srv = spawn().await;
    let p = enrolled(&srv, "alice").await;
    let rs = srv.service_client("introspect");
    let listed = p
        .new_token(
            &srv,
            "deploy",
            &["api:read", "api:write"],
            "10.1.0.0/16\n2001:db8::/32",
        )
        .await;

    let v = introspect(&srv, &rs, &listed, Some("10.1.2.3")).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["scope"], "api:read api:write");
    assert_eq!(v["token_type"], "personal_access_token");
    assert!(
        v["sub"].as_str().is_some() && v["exp"].as_i64().is_some() && v["iat"].as_i64().is_some()
    );
    assert!(v.get("client_id").is_none());
    assert_eq!(
        introspect(&srv, &rs, &listed, Some("2001:db8::7")).await["active"],
        true
    );
    assert_eq!(
        introspect(&srv, &rs, &listed, Some("10.2.0.1")).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        introspect(&srv, &rs, &listed, None).await["active"],
        false,
        "an allow-list needs the address"
    );

    // One character changed: refused by the checksum.
    let mut typo = listed.clone().into_bytes();
    let i = typo.len() - 10;
    typo[i] = if typo[i] == b'a' { b'b' } else { b'a' };
    assert_eq!(
        introspect(
            &srv,
            &rs,
            &String::from_utf8(typo).unwrap(),
            Some("10.1.2.3")
        )
        .await["active"],
        false
    );

    // Exchange: the caller here is 127.0.0.1, outside this token's list.
    let res = exchange(&srv, &listed, None).await;
    assert_eq!(oauth_error(res).await.1, "invalid_grant");

    let local = p
        .new_token(&srv, "script", &["api:read", "api:write"], "127.0.0.1")
        .await;
    let res = exchange(&srv, &local, Some("api:read")).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(body["token_type"], "Bearer");
    let claims = srv
        .verify(body["access_token"].as_str().unwrap(), &srv.base)
        .await
        .expect("verifies offline");
    assert_eq!(claims["scope"], "api:read");
    assert_eq!(claims["sub"], v["sub"]);
    let exchanged = introspect(&srv, &rs, body["access_token"].as_str().unwrap(), None).await;
    assert_eq!(
        exchanged["active"], true,
        "exchanged tokens introspect as active"
    );
    assert_eq!(exchanged["client_id"], "portcullis:personal-token");
    let res = exchange(&srv, &local, Some("api:read admin")).await;
    assert_eq!(oauth_error(res).await.1, "invalid_scope");

    // Revoke on the page: inactive everywhere.
    let page = p
        .http
        .get(srv.url("/account/tokens"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("deploy") && !page.contains(&listed),
        "the list never shows a token"
    );
    let id = v["jti"].as_str().unwrap();
    let res = post_page(
        &srv,
        &p.http,
        "/account/tokens",
        "/account/tokens/revoke",
        &[("id", id)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        introspect(&srv, &rs, &listed, Some("10.1.2.3")).await["active"],
        false
    );

    // Revoking a personal token recalls, at introspection, the JWTs exchanged from it.
    let recalled = p.new_token(&srv, "recalled", &["api:read"], "").await;
    let res = exchange(&srv, &recalled, None).await;
    assert_eq!(res.status(), 200);
    let jwt = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(introspect(&srv, &rs, &jwt, None).await["active"], true);
    let id = introspect(&srv, &rs, &recalled, None).await["jti"]
        .as_str()
        .unwrap()
        .to_string();
    let res = post_page(
        &srv,
        &p.http,
        "/account/tokens",
        "/account/tokens/revoke",
        &[("id", &id)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(introspect(&srv, &rs, &jwt, None).await["active"], false);

    // Expiry (30 days), by the clock.
    assert_eq!(
        introspect(&srv, &rs, &local, Some("127.0.0.1")).await["active"],
        true
    );
    srv.clock.advance(31 * 86_400);
    assert_eq!(
        introspect(&srv, &rs, &local, Some("127.0.0.1")).await["active"],
        false
    );
    let res = exchange(&srv, &local, None).await;
    assert_eq!(oauth_error(res).await.1, "invalid_grant");
    srv.stop().await;
}

#[actix_web::test]
async fn every_step_is_in_the_audit_trail_and_on_the_activity_page() {
    let srv = spawn_with(|_| {}).await;
    let p = enrolled(&srv, "alice").await;
    let rs = srv.service_client("introspect");
    let t = p
        .new_token(&srv, "deploy", &["api:read"], "10.1.0.0/16")
        .await;
    introspect(&srv, &rs, &t, Some("10.1.2.3")).await;
    introspect(&srv, &rs, &t, Some("10.1.2.3")).await; // coalesced with the first
    introspect(&srv, &rs, &t, Some("10.9.9.9")).await; // refused

    let out = srv.cli(&["audit", "list", "--user", "alice", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for k in [
        "signin.success",
        "mfa.enrolled",
        "pat.created",
        "pat.used",
        "pat.refused",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    assert_eq!(
        kinds.iter().filter(|k| **k == "pat.used").count(),
        1,
        "uses from one address within a minute are one event"
    );
    let refused = events.iter().find(|e| e["kind"] == "pat.refused").unwrap();
    assert_eq!(refused["details"]["reason"], "address_not_allowed");
    assert_eq!(refused["ip"], "10.9.9.9");
    let text = serde_json::to_string(&events).unwrap();
    assert!(
        !text.contains(&t) && !text.contains(PW),
        "no secrets in the trail"
    );

    let page = p
        .http
        .get(srv.url("/account/activity"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("API token used") && page.contains("new address"));
    assert!(page.contains("API token refused"));

    // Operators list and revoke from the CLI.
    let out = srv.cli(&["token", "list", "--user", "alice", "--json"]);
    let row: Value = serde_json::from_str(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(row["name"], "deploy");
    let out = srv.cli(&["token", "revoke", row["id"].as_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(
        introspect(&srv, &rs, &t, Some("10.1.2.3")).await["active"],
        false
    );
    srv.stop().await;
}

/// Behind a reverse proxy the allow-list must see the person's address, not the proxy's;
/// but only a configured proxy may say what that address is.
#[actix_web::test]
async fn the_allow_list_believes_forwarded_addresses_only_from_trusted_proxies() {
    for (trusted, allowed_through_proxy) in [(None, false), (Some("127.0.0.0/8"), true)] {
        let srv = spawn_with(|a| a.trusted_proxies = trusted.map(str::to_string)).await;
        let p = enrolled(&srv, "alice").await;
        let t = p
            .new_token(&srv, "behind-proxy", &["api:read"], "198.51.100.0/24")
            .await;
        let res = exchange_via(&srv, &t, None, Some("198.51.100.7")).await;
        if allowed_through_proxy {
            assert_eq!(res.status(), 200, "the forwarded address is in the list");
        } else {
            assert_eq!(
                oauth_error(res).await.1,
                "invalid_grant",
                "no proxy trusted"
            );
        }
        // A client that prepends a forged entry gets nowhere: only the hop the proxy
        // appended counts.
        let res = exchange_via(&srv, &t, None, Some("198.51.100.7, 203.0.113.5")).await;
        assert_eq!(oauth_error(res).await.1, "invalid_grant");
        srv.stop().await;
    }
}

/// Least privilege per person: the operator limits which API scopes someone may give
/// tokens; the page offers only those, a forged form field adds nothing, and narrowing
/// the grant narrows (or revokes) the tokens they already have.
#[actix_web::test]
async fn a_person_gives_tokens_only_the_api_scopes_they_are_entitled_to() {
    let srv = spawn().await;
    let p = enrolled(&srv, "alice").await;
    let rs = srv.service_client("introspect");
    let both = p
        .new_token(&srv, "both", &["api:read", "api:write"], "")
        .await;
    let write_only = p.new_token(&srv, "write", &["api:write"], "").await;
    let res = exchange(&srv, &both, None).await;
    assert_eq!(res.status(), 200);
    let jwt = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(introspect(&srv, &rs, &jwt, None).await["active"], true);

    let out = srv.cli(&["user", "set-api-scopes", "alice", "api:read admin"]);
    assert!(!out.status.success(), "a scope outside the catalogue");
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"admin\""));
    let out = srv.cli(&["user", "set-api-scopes", "alice", "api:read"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let body = introspect(&srv, &rs, &both, None).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["scope"], "api:read", "narrowed to what alice may have");
    let body = introspect(&srv, &rs, &write_only, None).await;
    assert_eq!(body["active"], false, "nothing left: revoked");
    assert_eq!(
        introspect(&srv, &rs, &jwt, None).await["active"],
        false,
        "a JWT exchanged before carries api:write, which the token no longer has"
    );

    let page = p
        .http
        .get(srv.url("/account/tokens"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"scope.api:read\""));
    assert!(!page.contains("name=\"scope.api:write\""), "not offered");
    // The form is the person's to forge: api:write is dropped all the same.
    let forged = p
        .new_token(&srv, "forged", &["api:read", "api:write"], "")
        .await;
    let body = introspect(&srv, &rs, &forged, None).await;
    assert_eq!(body["scope"], "api:read");

    let out = srv.cli(&["user", "set-api-scopes", "alice", ""]);
    assert!(out.status.success());
    let page = p
        .http
        .get(srv.url("/account/tokens"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("no API permissions") && !page.contains("name=\"code\""));
    let out = srv.cli(&["user", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["api_scopes"], "");
    let out = srv.cli(&["user", "set-api-scopes", "alice", "--all"]);
    assert!(out.status.success());
    let out = srv.cli(&["user", "list", "--json"]);
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        listed["api_scopes"],
        Value::Null,
        "the whole catalogue again"
    );
    srv.stop().await;
}

/// A client named in an exchange becomes the JWT's client_id: it must authenticate and
/// be registered for the grant. RFC 8693 parameters we do not support are refused, not
/// ignored.
#[actix_web::test]
async fn the_exchange_names_only_authenticated_registered_clients() {
    let srv = spawn().await;
    let p = enrolled(&srv, "alice").await;
    let t = p.new_token(&srv, "script", &["api:read"], "").await;
    let form = |extra: &[(&'static str, &'static str)]| {
        let mut f = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange".to_string(),
            ),
            ("subject_token", t.clone()),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token".to_string(),
            ),
        ];
        f.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        f
    };
    let post = |creds: Option<(String, String)>, f: Vec<(&'static str, String)>| {
        let mut req = srv.http.post(srv.url("/token")).form(&f);
        if let Some((id, secret)) = creds {
            req = req.basic_auth(id, Some(secret));
        }
        req.send()
    };

    // A service registered for other grants only.
    let (svc, svc_secret) = srv.service_client("api:read");
    let res = post(Some((svc.clone(), svc_secret.clone())), form(&[]))
        .await
        .unwrap();
    assert_eq!(oauth_error(res).await.1, "unauthorized_client");
    // A public client proves nothing by sending its id.
    let (public, _) = srv.register(ClientRequest {
        name: "cli".into(),
        public: true,
        redirect_uris: vec!["http://127.0.0.1:9/cb".into()],
        scope: Some("api:read".into()),
        ..Default::default()
    });
    let mut f = form(&[]);
    f.push(("client_id", public));
    let res = post(None, f).await.unwrap();
    assert_eq!(oauth_error(res).await.1, "unauthorized_client");
    // Registered for the exchange: the JWT names it.
    let (named, named_secret) = srv.register(ClientRequest {
        name: "exchanger".into(),
        grant_types: vec!["urn:ietf:params:oauth:grant-type:token-exchange".into()],
        scope: Some("api:read".into()),
        ..Default::default()
    });
    let res = post(Some((named.clone(), named_secret.unwrap())), form(&[]))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let claims = srv
        .verify(body["access_token"].as_str().unwrap(), &srv.base)
        .await
        .unwrap();
    assert_eq!(claims["client_id"], named.as_str());

    let res = post(None, form(&[("audience", "https://evil.example")]))
        .await
        .unwrap();
    assert_eq!(oauth_error(res).await.1, "invalid_target");
    for extra in [
        ("actor_token", "garbage"),
        (
            "actor_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
    ] {
        let res = post(None, form(&[extra])).await.unwrap();
        assert_eq!(oauth_error(res).await.1, "invalid_request", "{extra:?}");
    }
    srv.stop().await;
}

#[actix_web::test]
async fn a_scope_removed_from_the_catalogue_stops_working_in_existing_tokens() {
    let srv = spawn().await;
    let p = enrolled(&srv, "alice").await;
    let token = p
        .new_token(&srv, "ci", &["api:read", "api:write"], "")
        .await;
    // The operator removes api:write from the catalogue (another instance, restarted).
    let narrowed = srv
        .sibling_with(|a| a.api_scopes = Some("api:read=Read your data".into()))
        .await;
    let base = format!("http://{}", narrowed.addr);
    let exchange = |scope: &'static str| {
        let (base, token) = (base.clone(), token.clone());
        let http = srv.http.clone();
        async move {
            http.post(format!("{base}/token"))
                .form(&[
                    (
                        "grant_type",
                        "urn:ietf:params:oauth:grant-type:token-exchange",
                    ),
                    ("subject_token", token.as_str()),
                    (
                        "subject_token_type",
                        "urn:ietf:params:oauth:token-type:access_token",
                    ),
                    ("scope", scope),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let (status, code, _) = oauth_error(exchange("api:write").await).await;
    assert_eq!((status, code.as_str()), (400, "invalid_scope"));
    assert_eq!(exchange("api:read").await.status(), 200);
    let rs = srv.service_client("");
    let res = srv
        .http
        .post(format!("{base}/introspect"))
        .basic_auth(&rs.0, Some(&rs.1))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["active"], true);
    assert_eq!(v["scope"], "api:read", "only what the catalogue still has");
    narrowed.stop().await;
    srv.stop().await;
}

#[actix_web::test]
async fn an_expired_token_frees_its_name_and_a_live_one_keeps_it() {
    let srv = spawn().await;
    let p = enrolled(&srv, "alice").await;
    p.new_token(&srv, "nightly", &["api:read"], "").await;
    srv.clock.advance(30);
    let res = p
        .create_token(&srv, "nightly", &["api:read"], "30", "", &p.code(&srv))
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("already have a token with that name")
    );
    // The first one expires (as if its 30 days had passed).
    {
        use diesel::RunQueryDsl;
        let mut conn = srv.state().db.pool().get().unwrap();
        diesel::sql_query(format!(
            "UPDATE personal_tokens SET expires_at = {}",
            srv.clock_now() - 1
        ))
        .execute(&mut *conn)
        .unwrap();
    }
    let again = p.new_token(&srv, "nightly", &["api:read"], "").await;
    assert!(again.starts_with("pcp_"));
    let page = p
        .http
        .get(srv.url("/account/tokens"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        page.matches("<strong>nightly</strong>").count(),
        2,
        "both listed"
    );
    assert!(page.contains("(expired)"));
    srv.stop().await;
}
