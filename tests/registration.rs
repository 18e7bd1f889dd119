//! Dynamic client registration (RFC 7591) and its management (RFC 7592): off by
//! default, behind initial access tokens, or open within limits; a registered client
//! signs people in like any other; its registration access token reads, replaces and
//! deletes it, and is replaced at every update.

mod common;

use common::browser::Browser;
use common::flow::REDIRECT;
use common::{TestServer, create_user, oauth_error, spawn, spawn_with};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

async fn spawn_mode(mode: &str) -> TestServer {
    let mode = mode.to_string();
    spawn_with(move |a| a.registration = Some(mode)).await
}

async fn discovery(srv: &TestServer) -> Value {
    srv.http
        .get(srv.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn post(
    srv: &TestServer,
    base: &str,
    token: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = srv.http.post(format!("{base}/register")).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

fn initial_token(srv: &TestServer, args: &[&str]) -> Value {
    let mut all = vec!["registration-token", "create", "--json"];
    all.extend_from_slice(args);
    let out = srv.cli(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn web_app() -> Value {
    json!({
        "client_name": "Calendar Sync",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "scope": "openid profile offline_access",
        "client_uri": "https://calendar.example/",
        "tos_uri": "https://calendar.example/terms",
        "software_id": "4NRB1-0XZABZI9E6-5SM3R",
        "made_up_field": "never echoed",
    })
}

#[actix_web::test]
async fn registration_is_off_by_default_and_advertised_when_on() {
    let srv = spawn().await;
    assert!(discovery(&srv).await.get("registration_endpoint").is_none());
    let res = post(&srv, &srv.base, None, &web_app()).await;
    assert_eq!(res.status(), 404);
    srv.stop().await;

    let srv = spawn_mode("token").await;
    assert_eq!(
        discovery(&srv).await["registration_endpoint"],
        json!(srv.url("/register"))
    );
    srv.stop().await;
}

#[actix_web::test]
async fn a_client_registered_with_an_initial_access_token_signs_people_in() {
    let srv = spawn_mode("token").await;
    create_user(&srv, "ada", PASSWORD, None);

    // RFC 7591 §3 / RFC 6750 §3: without the token, a Bearer challenge.
    let res = post(&srv, &srv.base, None, &web_app()).await;
    assert_eq!(res.status(), 401);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    let (_, code, _) = oauth_error(res).await;
    assert_eq!(code, "invalid_token");
    let res = post(&srv, &srv.base, Some("pci_not-a-token"), &web_app()).await;
    assert_eq!(res.status(), 401);

    let issued = initial_token(&srv, &["--max-uses", "3"]);
    let token = issued["token"].as_str().unwrap();
    assert!(token.starts_with("pci_"));
    let res = post(&srv, &srv.base, Some(token), &web_app()).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let reg: Value = res.json().await.unwrap();
    let client_id = reg["client_id"].as_str().unwrap().to_string();
    let secret = reg["client_secret"].as_str().unwrap().to_string();
    assert_eq!(reg["client_secret_expires_at"], 0);
    assert!(reg["client_id_issued_at"].as_i64().unwrap() > 0);
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(reg["redirect_uris"], json!([REDIRECT]));
    assert_eq!(reg["software_id"], "4NRB1-0XZABZI9E6-5SM3R");
    assert_eq!(reg["tos_uri"], "https://calendar.example/terms");
    assert!(
        reg.get("made_up_field").is_none(),
        "unknown fields are not echoed"
    );
    assert!(
        reg["registration_access_token"]
            .as_str()
            .unwrap()
            .starts_with("pcm_")
    );
    assert_eq!(
        reg["registration_client_uri"],
        json!(srv.url(&format!("/register/{client_id}")))
    );

    // The whole code flow with PKCE; the consent page says the app named itself and
    // where the answer goes.
    let browser = Browser::new(&srv);
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", "openid profile offline_access")
        .append_pair("state", "s")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256")
        .finish();
    let page = browser.text(&srv.url(&format!("/authorize?{query}"))).await;
    let res = browser.login(&page, "ada", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let consent = res.text().await.unwrap();
    assert!(consent.contains("This app registered itself"), "{consent}");
    assert!(consent.contains("an app on this device"));
    assert!(consent.contains("https://calendar.example/terms"));
    let res = browser.consent(&consent, "allow").await;
    let (_, params) = common::location_params(&res);
    let code = params.get("code").expect("a code").clone();
    let res = srv
        .http
        .post(srv.url("/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    assert!(tokens["id_token"].is_string() && tokens["refresh_token"].is_string());

    // The operator sees who registered it.
    let out = srv.cli(&["client", "show", &client_id, "--json"]);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        shown["registered_by"],
        json!(format!(
            "registration-token {}",
            issued["id"].as_str().unwrap()
        ))
    );
    srv.stop().await;
}

#[actix_web::test]
async fn the_registration_access_token_reads_replaces_and_deletes_its_client_only() {
    let srv = spawn_mode("token").await;
    let issued = initial_token(&srv, &[]);
    let token = issued["token"].as_str().unwrap();
    let service = json!({
        "client_name": "Nightly export",
        "grant_types": ["client_credentials"],
        "scope": "",
    });
    let reg: Value = post(&srv, &srv.base, Some(token), &service)
        .await
        .json()
        .await
        .unwrap();
    let id = reg["client_id"].as_str().unwrap().to_string();
    let secret = reg["client_secret"].as_str().unwrap().to_string();
    let rat = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let uri = reg["registration_client_uri"].as_str().unwrap().to_string();
    let other: Value = post(&srv, &srv.base, Some(token), &web_app())
        .await
        .json()
        .await
        .unwrap();
    let other_uri = other["registration_client_uri"]
        .as_str()
        .unwrap()
        .to_string();

    // Read: the metadata, never the secret; another client's token, a wrong one or
    // none: the same 401 (RFC 7592 §2).
    let res = srv.http.get(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let read: Value = res.json().await.unwrap();
    assert_eq!(read["client_name"], "Nightly export");
    assert!(read.get("client_secret").is_none());
    assert!(read.get("registration_access_token").is_none());
    for (u, t) in [
        (&other_uri, Some(rat.as_str())),
        (
            &uri,
            Some(other["registration_access_token"].as_str().unwrap()),
        ),
        (&uri, Some("pcm_wrong")),
        (&uri, None),
    ] {
        let mut req = srv.http.get(u);
        if let Some(t) = t {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{u} {t:?}");
        assert!(res.headers().contains_key("www-authenticate"));
    }

    // A token from the client as it stands.
    let res = srv
        .http
        .post(srv.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let access: Value = res.json().await.unwrap();
    let access = access["access_token"].as_str().unwrap().to_string();

    // Replace: the client id must be repeated; the answer carries a new registration
    // access token and the old one is spent; the secret stays.
    let mut changed = service.clone();
    changed["client_name"] = json!("Nightly export v2");
    let res = srv
        .http
        .put(&uri)
        .bearer_auth(&rat)
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "PUT without client_id");
    changed["client_id"] = json!(id);
    let res = srv
        .http
        .put(&uri)
        .bearer_auth(&rat)
        .json(&changed)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["client_name"], "Nightly export v2");
    assert!(
        updated.get("client_secret").is_none(),
        "the secret is unchanged"
    );
    let new_rat = updated["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_rat, rat);
    let res = srv.http.get(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(
        res.status(),
        401,
        "the old registration access token is spent"
    );
    let res = srv
        .http
        .post(srv.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the secret still works");

    // Delete: gone, and its tokens are inactive at once.
    let res = srv
        .http
        .delete(&uri)
        .bearer_auth(&new_rat)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = srv
        .http
        .get(&uri)
        .bearer_auth(&new_rat)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let rs = srv.service_client("");
    let intro: Value = srv
        .http
        .post(srv.url("/introspect"))
        .basic_auth(&rs.0, Some(&rs.1))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(intro["active"], false);
    let res = srv
        .http
        .post(srv.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    srv.stop().await;
}

/// Two updates racing with one registration access token: one wins, and only the
/// winner's new token works.
#[actix_web::test]
async fn updates_racing_with_one_registration_access_token_succeed_once() {
    let srv = spawn_mode("token").await;
    let issued = initial_token(&srv, &[]);
    let reg: Value = post(
        &srv,
        &srv.base,
        Some(issued["token"].as_str().unwrap()),
        &web_app(),
    )
    .await
    .json()
    .await
    .unwrap();
    let uri = reg["registration_client_uri"].as_str().unwrap().to_string();
    let rat = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut body = web_app();
    body["client_id"] = reg["client_id"].clone();
    let sends = (0..8).map(|_| srv.http.put(&uri).bearer_auth(&rat).json(&body).send());
    let results = futures_util::future::join_all(sends).await;
    let ok: Vec<_> = results
        .into_iter()
        .map(|r| r.unwrap())
        .filter(|r| r.status() == 200)
        .collect();
    assert_eq!(ok.len(), 1, "exactly one update wins");
    srv.stop().await;
}

#[actix_web::test]
async fn bad_metadata_is_refused_naming_the_field() {
    let srv = spawn_mode("token").await;
    let token = initial_token(&srv, &[]);
    let token = token["token"].as_str().unwrap();
    let with = |k: &str, v: Value| {
        let mut b = web_app();
        b[k] = v;
        b
    };
    let cases = [
        (
            with("redirect_uris", json!(["http://calendar.example/cb"])),
            "invalid_redirect_uri",
        ),
        (
            with("redirect_uris", json!(["https://calendar.example/cb#x"])),
            "invalid_redirect_uri",
        ),
        (
            with("redirect_uris", json!(["/relative"])),
            "invalid_redirect_uri",
        ),
        (
            with("response_types", json!(["token"])),
            "invalid_client_metadata",
        ),
        (
            with("grant_types", json!(["password"])),
            "invalid_client_metadata",
        ),
        (
            with(
                "grant_types",
                json!(["urn:ietf:params:oauth:grant-type:token-exchange"]),
            ),
            "invalid_client_metadata",
        ),
        (
            with("token_endpoint_auth_method", json!("tls_client_auth")),
            "invalid_client_metadata",
        ),
        (
            with("logo_uri", json!("http://calendar.example/logo.png")),
            "invalid_client_metadata",
        ),
        (
            with("redirect_uris", json!("https://calendar.example/cb")),
            "invalid_client_metadata",
        ),
        (
            with("token_endpoint_auth_method", json!("private_key_jwt")),
            "invalid_client_metadata",
        ),
    ];
    for (body, expected) in cases {
        let res = post(&srv, &srv.base, Some(token), &body).await;
        let (status, code, _) = oauth_error(res).await;
        assert_eq!((status, code.as_str()), (400, expected), "{body}");
    }
    // Not JSON, or not an object.
    for raw in ["client_name=x", "[1,2]"] {
        let res = srv
            .http
            .post(srv.url("/register"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let (status, code, _) = oauth_error(res).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_client_metadata"),
            "{raw}"
        );
    }
    // Nothing refused was registered.
    let out = srv.cli(&["client", "list", "--json"]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Calendar Sync"));
    srv.stop().await;
}

#[actix_web::test]
async fn open_registration_stays_in_its_scopes_and_is_throttled_per_address() {
    let srv = spawn_mode("open").await;
    // Beyond the open scopes, a service grant, or a key URL we would have to fetch:
    // refused.
    let mut admin = web_app();
    admin["scope"] = json!("openid admin:all");
    let mut service = web_app();
    service["grant_types"] = json!(["client_credentials"]);
    let mut fetch = web_app();
    fetch["token_endpoint_auth_method"] = json!("private_key_jwt");
    fetch["jwks_uri"] = json!("https://calendar.example/jwks.json");
    for body in [admin, service, fetch] {
        let (status, code, _) = oauth_error(post(&srv, &srv.base, None, &body).await).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_client_metadata"),
            "{body}"
        );
    }
    // A public client without a scope gets the open scopes.
    let mut public = web_app();
    public["token_endpoint_auth_method"] = json!("none");
    public.as_object_mut().unwrap().remove("scope");
    let res = post(&srv, &srv.base, None, &public).await;
    assert_eq!(res.status(), 201);
    let reg: Value = res.json().await.unwrap();
    assert!(reg.get("client_secret").is_none());
    let mut scope: Vec<&str> = reg["scope"].as_str().unwrap().split(' ').collect();
    scope.sort();
    assert_eq!(scope, ["email", "offline_access", "openid", "profile"]);

    // A burst from one address: the limit is held (4 refused above count too, as
    // attempts are reserved before they are checked).
    let sends = (0..30).map(|_| post(&srv, &srv.base, None, &public));
    let results = futures_util::future::join_all(sends).await;
    let mut created = 1 + 3;
    let mut refused = 0;
    for r in results {
        match r.status().as_u16() {
            201 => created += 1,
            429 => {
                assert!(r.headers().contains_key("retry-after"));
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 20, "per-address limit");
    assert_eq!(refused, 14);
    srv.stop().await;
}

/// An initial access token for one use registers one client, however many requests
/// race, across two instances.
#[actix_web::test]
async fn a_single_use_initial_access_token_registers_one_client_across_instances() {
    let srv = spawn_mode("token").await;
    let sibling = srv
        .sibling_with(|a| a.registration = Some("token".into()))
        .await;
    let issued = initial_token(&srv, &["--max-uses", "1"]);
    let token = issued["token"].as_str().unwrap().to_string();
    let body = web_app();
    let sends = (0..12).map(|i| {
        let base = if i % 2 == 0 {
            &srv.base
        } else {
            &sibling.issuer
        };
        post(&srv, base, Some(&token), &body)
    });
    let results = futures_util::future::join_all(sends).await;
    let statuses: Vec<u16> = results.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 401),
        "{statuses:?}"
    );

    // Listed as used up; a revoked token registers nothing.
    let out = srv.cli(&["registration-token", "list", "--json"]);
    let listed: Value =
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(listed["state"], "used up");
    let again = initial_token(&srv, &[]);
    let id = again["id"].as_str().unwrap();
    let out = srv.cli(&["registration-token", "revoke", id]);
    assert!(out.status.success());
    let res = post(
        &srv,
        &srv.base,
        Some(again["token"].as_str().unwrap()),
        &body,
    )
    .await;
    assert_eq!(res.status(), 401);
    srv.stop().await;
}

/// The code flow with a self-registered public client, through the helper the other
/// tests use.
#[actix_web::test]
async fn an_open_public_client_completes_the_code_flow() {
    let srv = spawn_mode("open").await;
    create_user(&srv, "grace", PASSWORD, None);
    let mut public = web_app();
    public["token_endpoint_auth_method"] = json!("none");
    let reg: Value = post(&srv, &srv.base, None, &public)
        .await
        .json()
        .await
        .unwrap();
    let client_id = reg["client_id"].as_str().unwrap();
    let (code, verifier) = common::flow::authorize(
        &srv,
        client_id,
        "openid offline_access",
        &[],
        "grace",
        PASSWORD,
    )
    .await;
    let res = srv
        .http
        .post(srv.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    srv.stop().await;
}

/// Operators can disable any client, self-registered or not: it is unknown to the
/// protocol until enabled again, on every instance once the client cache has expired,
/// and the tokens it had when disabled never come back.
#[actix_web::test]
async fn an_operator_disables_and_enables_a_self_registered_client() {
    let srv = spawn_mode("token").await;
    let issued = initial_token(&srv, &[]);
    let service =
        json!({"client_name": "Exporter", "grant_types": ["client_credentials"], "scope": ""});
    let reg: Value = post(
        &srv,
        &srv.base,
        Some(issued["token"].as_str().unwrap()),
        &service,
    )
    .await
    .json()
    .await
    .unwrap();
    let id = reg["client_id"].as_str().unwrap().to_string();
    let secret = reg["client_secret"].as_str().unwrap().to_string();
    let token = || async {
        srv.http
            .post(srv.url("/token"))
            .basic_auth(&id, Some(&secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
    };
    let res = token().await;
    assert_eq!(res.status(), 200);
    let access = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let rs = srv.service_client("");
    let active_token = |access: String| {
        let (srv, rs) = (&srv, &rs);
        async move {
            srv.http
                .post(srv.url("/introspect"))
                .basic_auth(&rs.0, Some(&rs.1))
                .form(&[("token", access.as_str())])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["active"]
                .clone()
        }
    };
    let active = || active_token(access.clone());
    assert_eq!(active().await, true);

    let out = srv.cli(&["client", "disable", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Until the cached record expires the running server still serves the client: what
    // it gets in that time must not come back when the client is enabled again.
    let res = token().await;
    assert_eq!(res.status(), 200);
    let in_the_window = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let shown: Value =
        serde_json::from_slice(&srv.cli(&["client", "show", &id, "--json"]).stdout).unwrap();
    assert!(shown["disabled_at"].is_i64());
    srv.clock.advance(srv.settings.client_cache_ttl as i64 + 1);
    let (status, code, _) = oauth_error(token().await).await;
    assert_eq!((status, code.as_str()), (401, "invalid_client"));
    assert_eq!(active().await, false);
    let out = srv.cli(&["client", "disable", &id]);
    assert!(!out.status.success(), "already disabled");

    let out = srv.cli(&["client", "enable", &id]);
    assert!(out.status.success());
    srv.clock.advance(srv.settings.client_cache_ttl as i64 + 1);
    let res = token().await;
    assert_eq!(res.status(), 200);
    let fresh = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(active_token(fresh).await, true);
    // Disabling ended what it held: the token from before stays dead.
    assert_eq!(active().await, false);
    assert_eq!(active_token(in_the_window).await, false);
    srv.stop().await;
}

fn authorize_url(srv: &TestServer, client_id: &str, redirect: &str) -> String {
    let (challenge, _) = oauth2::PkceCodeChallenge::new_random_sha256();
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", "openid")
        .append_pair("state", "s")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256")
        .finish();
    srv.url(&format!("/authorize?{q}"))
}

/// People allowed an app by its name and where it sends them: when an update changes
/// either, they are asked again instead of being sent to the new address at once.
#[actix_web::test]
async fn an_update_of_name_or_redirect_uris_asks_people_again() {
    let srv = spawn_mode("open").await;
    create_user(&srv, "ada", PASSWORD, None);
    let other = "http://127.0.0.1:9999/elsewhere";
    let mut body = web_app();
    body["token_endpoint_auth_method"] = json!("none");
    body["redirect_uris"] = json!([REDIRECT, other]);
    let reg: Value = post(&srv, &srv.base, None, &body)
        .await
        .json()
        .await
        .unwrap();
    let id = reg["client_id"].as_str().unwrap().to_string();
    let browser = Browser::new(&srv);
    let page = browser.text(&authorize_url(&srv, &id, REDIRECT)).await;
    let consent = browser
        .login(&page, "ada", PASSWORD)
        .await
        .text()
        .await
        .unwrap();
    // A loopback redirect URI is an app on this device, whatever host it names.
    assert!(consent.contains("an app on this device"), "{consent}");
    let res = browser.consent(&consent, "allow").await;
    assert!(res.status().is_redirection());
    // Allowed: the next request goes straight back to the app.
    let res = browser.get(&authorize_url(&srv, &id, other)).await;
    assert!(res.status().is_redirection(), "remembered consent");

    // The same name and URIs again: still remembered.
    let mut same = body.clone();
    same["client_id"] = json!(id);
    let uri = reg["registration_client_uri"].as_str().unwrap();
    let res = srv
        .http
        .put(uri)
        .bearer_auth(reg["registration_access_token"].as_str().unwrap())
        .json(&same)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let rat = res.json::<Value>().await.unwrap()["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let res = browser.get(&authorize_url(&srv, &id, REDIRECT)).await;
    assert!(res.status().is_redirection());

    // Another name: asked again.
    let mut renamed = same.clone();
    renamed["client_name"] = json!("Calendar Sync Pro");
    let res = srv
        .http
        .put(uri)
        .bearer_auth(&rat)
        .json(&renamed)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = browser.get(&authorize_url(&srv, &id, REDIRECT)).await;
    assert_eq!(res.status(), 200, "the consent page again");
    assert!(res.text().await.unwrap().contains("Calendar Sync Pro"));
    srv.stop().await;
}

#[actix_web::test]
async fn what_a_registration_cannot_do() {
    let srv = spawn_mode("token").await;
    let issued = initial_token(&srv, &[]);
    let token = issued["token"].as_str().unwrap();
    let with = |k: &str, v: Value| {
        let mut b = web_app();
        b[k] = v;
        b
    };
    let cases = [
        // RFC 8252 §7.1: private-use schemes are reversed domain names.
        (
            with("redirect_uris", json!(["x://good-bank.example/cb"])),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            with("redirect_uris", json!(["urn:ietf:wg:oauth:2.0:oob"])),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        (
            with(
                "redirect_uris",
                json!([format!("https://calendar.example/{}", "a".repeat(3000))]),
            ),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
        // A key URL that names our own network, or an address: never fetched.
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                   "jwks_uri": "http://127.0.0.1:19999/admin"}),
            "invalid_client_metadata",
            "jwks_uri",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                   "jwks_uri": "https://169.254.169.254/latest"}),
            "invalid_client_metadata",
            "jwks_uri",
        ),
        // An ID-token algorithm without a key here.
        (
            with("id_token_signed_response_alg", json!("EdDSA")),
            "invalid_client_metadata",
            "id_token_signed_response_alg",
        ),
        // Names that hide or reorder text; URLs whose host a person would not see.
        (
            with("client_name", json!("Good\u{202e}Bank")),
            "invalid_client_metadata",
            "client_name",
        ),
        (
            with("tos_uri", json!("https:///evil.example")),
            "invalid_client_metadata",
            "tos_uri",
        ),
        (
            with("policy_uri", json!("https://calendar.example/p#x")),
            "invalid_client_metadata",
            "policy_uri",
        ),
        // Wrong types: the description names the field.
        (
            with("redirect_uris", Value::Null),
            "invalid_client_metadata",
            "redirect_uris",
        ),
        (
            with("contacts", json!("a@b.example")),
            "invalid_client_metadata",
            "contacts",
        ),
        (
            with("grant_types", json!(["refresh_token"])),
            "invalid_client_metadata",
            "grant_types",
        ),
    ];
    for (body, error, field) in cases {
        let res = post(&srv, &srv.base, Some(token), &body).await;
        assert_eq!(res.status(), 400, "{body}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"], error, "{body}");
        let d = v["error_description"].as_str().unwrap();
        assert!(d.starts_with(field) && !d.contains("--"), "{body}: {d}");
    }
    // A reversed-domain scheme is an app's own.
    let res = post(
        &srv,
        &srv.base,
        Some(token),
        &with("redirect_uris", json!(["com.example.calendar:/cb"])),
    )
    .await;
    assert_eq!(res.status(), 201);

    // The token is checked before the body, and no token gets the bare challenge.
    let res = post(&srv, &srv.base, Some("pci_bogus"), &json!({})).await;
    assert_eq!(res.status(), 401);
    let res = post(&srv, &srv.base, None, &json!({})).await;
    assert_eq!(res.status(), 401);
    let challenge = res.headers()["www-authenticate"].to_str().unwrap();
    assert!(!challenge.contains("error="), "{challenge}");

    // An update narrows, never widens.
    let reg: Value = post(&srv, &srv.base, Some(token), &web_app())
        .await
        .json()
        .await
        .unwrap();
    let uri = reg["registration_client_uri"].as_str().unwrap();
    let rat = reg["registration_access_token"].as_str().unwrap();
    for (k, v) in [
        ("scope", json!("openid profile offline_access admin:all")),
        (
            "grant_types",
            json!(["authorization_code", "refresh_token", "client_credentials"]),
        ),
    ] {
        let mut wider = web_app();
        wider["client_id"] = reg["client_id"].clone();
        wider[k] = v;
        let res = srv
            .http
            .put(uri)
            .bearer_auth(rat)
            .json(&wider)
            .send()
            .await
            .unwrap();
        let (status, code, _) = oauth_error(res).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_client_metadata"),
            "{k}"
        );
    }
    srv.stop().await;
}

/// Registered values reach the operator's terminal (`client show`) and the text logs:
/// none may carry a control or BiDi-formatting character, from open registration, from
/// an initial-access-token holder, or from `client create`.
#[actix_web::test]
async fn control_characters_are_refused_in_every_registered_uri_and_name() {
    let srv = spawn_mode("open").await;
    let osc52 = "https://calendar.example/cb\u{1b}]52;c;ZXZpbA==\u{7}";
    let cases = [
        ("redirect_uris", json!([osc52])),
        ("redirect_uris", json!(["https://calendar.example/cb\u{0}"])),
        (
            "redirect_uris",
            json!(["https://calendar.example/\u{202e}bc"]),
        ),
        ("redirect_uris", json!(["https://calendar.example/cb\r\nX"])),
        ("post_logout_redirect_uris", json!([osc52])),
        (
            "post_logout_redirect_uris",
            json!(["https://calendar.example/bye\u{2028}"]),
        ),
        // Characters that render as nothing (Unicode's default-ignorable ones).
        (
            "redirect_uris",
            json!(["https://calendar.example/c\u{ad}b"]),
        ),
        (
            "redirect_uris",
            json!(["https://calendar.example/c\u{e0041}b"]),
        ),
        (
            "redirect_uris",
            json!(["https://calendar.example/c\u{3164}b"]),
        ),
    ];
    for (field, value) in cases {
        let mut body = web_app();
        body["scope"] = json!("openid profile");
        body[field] = value;
        let res = post(&srv, &srv.base, None, &body).await;
        let (status, code, _) = oauth_error(res).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_redirect_uri"),
            "{body}"
        );
    }
    srv.stop().await;

    let srv = spawn_mode("token").await;
    let token = initial_token(&srv, &[])["token"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt",
                      "jwks_uri": "https://keys.example/jwks\u{1b}[2J\u{85}"});
    let (status, code, _) = oauth_error(post(&srv, &srv.base, Some(&token), &body).await).await;
    assert_eq!((status, code.as_str()), (400, "invalid_client_metadata"));
    for field in ["client_uri", "logo_uri", "tos_uri", "policy_uri"] {
        let mut body = web_app();
        body[field] = json!("https://calendar.example/\u{1b}]8;;https://evil.example\u{7}");
        let res = post(&srv, &srv.base, Some(&token), &body).await;
        let (status, code, _) = oauth_error(res).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "invalid_client_metadata"),
            "{field}"
        );
    }

    // The operator's own commands refuse them too, naming what is wrong.
    for args in [
        vec!["--name", "ok", "--redirect-uri", osc52],
        vec!["--name", "Good\u{202e}Bank", "--redirect-uri", REDIRECT],
        vec!["--name", "svc\u{1b}[31m"],
        vec!["--name", "svc", "--resource", "https://api.example/\u{7}"],
    ] {
        let mut all = vec!["client", "create"];
        all.extend(args.iter().copied());
        let out = srv.cli(&all);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("control") || err.contains("resource"), "{err}");
    }
    let out = srv.cli(&["client", "list", "--json"]);
    assert!(out.stdout.is_empty(), "nothing was registered");
    srv.stop().await;
}

/// RFC 7592 §2.2 leaves it to the server what an update may change. The registration
/// access token alone may not weaken how the client proves itself or switch off what
/// binds its tokens; the same body with the registered values is accepted (the control).
#[actix_web::test]
async fn an_update_cannot_weaken_its_client() {
    let srv = spawn_mode("token").await;
    let token = initial_token(&srv, &[])["token"]
        .as_str()
        .unwrap()
        .to_string();
    let key = common::jose::ClientKey::es256();
    let mut strong = web_app();
    strong["token_endpoint_auth_method"] = json!("private_key_jwt");
    strong["jwks"] = json!({"keys": [key.jwk()]});
    strong["dpop_bound_access_tokens"] = json!(true);
    strong["require_pushed_authorization_requests"] = json!(true);
    let res = post(&srv, &srv.base, Some(&token), &strong).await;
    assert_eq!(res.status(), 201);
    let reg: Value = res.json().await.unwrap();
    let uri = reg["registration_client_uri"].as_str().unwrap().to_string();
    let rat = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    strong["client_id"] = reg["client_id"].clone();
    let put = |rat: String, body: Value| {
        let req = srv.http.put(&uri).bearer_auth(rat).json(&body);
        async move { req.send().await.unwrap() }
    };
    let weaker = |k: &str, v: Value| {
        let mut b = strong.clone();
        b[k] = v;
        if k == "token_endpoint_auth_method" {
            b.as_object_mut().unwrap().remove("jwks");
        }
        b
    };
    for (body, field) in [
        (
            weaker("token_endpoint_auth_method", json!("client_secret_basic")),
            "token_endpoint_auth_method",
        ),
        (
            weaker("token_endpoint_auth_method", json!("none")),
            "token_endpoint_auth_method",
        ),
        (
            weaker("dpop_bound_access_tokens", json!(false)),
            "dpop_bound_access_tokens",
        ),
        (
            weaker("require_pushed_authorization_requests", json!(false)),
            "require_pushed_authorization_requests",
        ),
    ] {
        let res = put(rat.clone(), body).await;
        assert_eq!(res.status(), 400, "{field}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"], "invalid_client_metadata");
        assert!(
            v["error_description"].as_str().unwrap().starts_with(field),
            "{v}"
        );
    }
    // Nothing changed, and the same registration passes as an update.
    let res = put(rat.clone(), strong.clone()).await;
    assert_eq!(res.status(), 200);
    let now: Value = res.json().await.unwrap();
    assert_eq!(now["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(now["dpop_bound_access_tokens"], true);
    assert!(now.get("client_secret").is_none());
    srv.stop().await;
}

/// A grant is never wider than its client's registration: after an update drops
/// `profile`, the next refresh answers without it; after one drops `offline_access`,
/// the refresh tokens end (they exist for it).
#[actix_web::test]
async fn narrowing_the_registered_scope_narrows_grants_at_their_next_refresh() {
    let srv = spawn_mode("token").await;
    create_user(&srv, "ada", PASSWORD, None);
    let token = initial_token(&srv, &[])["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut reg: Value = post(&srv, &srv.base, Some(&token), &web_app())
        .await
        .json()
        .await
        .unwrap();
    let client_id = reg["client_id"].as_str().unwrap().to_string();
    let secret = reg["client_secret"].as_str().unwrap().to_string();
    let tokens = common::flow::sign_in(
        &srv,
        &client_id,
        Some(&secret),
        "openid profile offline_access",
        "ada",
        PASSWORD,
    )
    .await;
    assert_eq!(tokens["scope"], "offline_access openid profile");
    let mut refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    for (registered, expected) in [
        ("openid offline_access", Some("offline_access openid")),
        ("openid offline_access", Some("offline_access openid")),
        ("openid", None),
    ] {
        let mut narrower = web_app();
        narrower["client_id"] = json!(client_id);
        narrower["client_secret"] = json!(secret);
        narrower["scope"] = json!(registered);
        let res = srv
            .http
            .put(reg["registration_client_uri"].as_str().unwrap())
            .bearer_auth(reg["registration_access_token"].as_str().unwrap())
            .json(&narrower)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        reg = res.json().await.unwrap();
        let res = srv
            .http
            .post(srv.url("/token"))
            .basic_auth(&client_id, Some(&secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
            .send()
            .await
            .unwrap();
        let Some(expected) = expected else {
            let (status, code, _) = oauth_error(res).await;
            assert_eq!((status, code.as_str()), (400, "invalid_grant"));
            continue;
        };
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["scope"], expected, "{v}");
        let claims = srv
            .verify(v["access_token"].as_str().unwrap(), &srv.base)
            .await
            .unwrap();
        assert_eq!(claims["scope"], expected);
        refresh = v["refresh_token"].as_str().unwrap().to_string();
    }
    srv.stop().await;
}

/// RFC 7662 §4: a client that registered itself introspects its own tokens only (any
/// other answers `active: false`), unless its initial access token allowed more; the
/// operator's clients (resource servers) introspect any token, as before.
#[actix_web::test]
async fn a_self_registered_client_introspects_only_its_own_tokens() {
    let srv = spawn_mode("token").await;
    let person = common::people::enrolled(&srv, "ada").await;
    let personal = person.new_token(&srv, "ci", &["api:read"], "").await;
    let (svc, svc_secret) = srv.service_client("");
    let service_token: Value = srv
        .post_form(
            "/token",
            Some((&svc, &svc_secret)),
            &[("grant_type", "client_credentials")],
        )
        .await
        .json()
        .await
        .unwrap();
    let service_token = service_token["access_token"].as_str().unwrap().to_string();
    let register = |args: &[&str]| {
        let token = initial_token(&srv, args)["token"]
            .as_str()
            .unwrap()
            .to_string();
        let srv = &srv;
        async move {
            let reg: Value = post(srv, &srv.base, Some(&token), &web_app())
                .await
                .json()
                .await
                .unwrap();
            (
                reg["client_id"].as_str().unwrap().to_string(),
                reg["client_secret"].as_str().unwrap().to_string(),
            )
        }
    };
    let (own_id, own_secret) = register(&[]).await;
    let (rs_id, rs_secret) = register(&["--allow-introspection"]).await;
    create_user(&srv, "grace", PASSWORD, None);
    let its_own = common::flow::sign_in(
        &srv,
        &own_id,
        Some(&own_secret),
        "openid",
        "grace",
        PASSWORD,
    )
    .await;
    let its_own = its_own["access_token"].as_str().unwrap().to_string();
    let active = |caller: (&str, &str), token: &str| {
        let form = [("token", token.to_string())];
        let (id, secret) = (caller.0.to_string(), caller.1.to_string());
        let srv = &srv;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let v: Value = srv
                .post_form("/introspect", Some((&id, &secret)), &form)
                .await
                .json()
                .await
                .unwrap();
            v["active"].as_bool().unwrap()
        }
    };
    let own = (own_id.as_str(), own_secret.as_str());
    assert!(active(own, &its_own).await, "its own token");
    assert!(!active(own, &service_token).await, "another client's token");
    assert!(!active(own, &personal).await, "a person's personal token");
    let rs = (rs_id.as_str(), rs_secret.as_str());
    assert!(active(rs, &service_token).await);
    assert!(active(rs, &personal).await);
    let operator = (svc.as_str(), svc_secret.as_str());
    assert!(active(operator, &its_own).await);
    assert!(active(operator, &personal).await);
    srv.stop().await;
}
