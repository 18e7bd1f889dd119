//! The FAPI 2.0 Security Profile (`PORTCULLIS_PROFILE=fapi2`): confidential clients
//! with private_key_jwt only, pushed requests only, DPoP-bound tokens only, no RS256,
//! assertions addressed to the issuer as a string, refresh tokens that survive a lost
//! response.

mod common;

use common::browser::Browser;
use common::flow::{REDIRECT, finish_sign_in};
use common::jose::{ClientKey, assertion_fields, claims};
use common::{TestServer, create_user, spawn_with};
use portcullis::keys::KeyAlg;
use portcullis::oauth::clients::ClientRequest;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

async fn fapi2() -> TestServer {
    spawn_with(|a| a.profile = Some("fapi2".into())).await
}

fn bank_app(srv: &TestServer, key: &ClientKey) -> String {
    srv.register(ClientRequest {
        name: "Budget app".into(),
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec![
            "authorization_code".into(),
            "refresh_token".into(),
            "client_credentials".into(),
        ],
        scope: Some("openid offline_access accounts".into()),
        jwks: Some(key.jwks()),
        id_token_alg: Some("ES256".into()),
        ..Default::default()
    })
    .0
}

#[actix_web::test]
async fn discovery_and_client_authentication_follow_the_profile() {
    let srv = fapi2().await;
    let meta: Value = srv
        .http
        .get(srv.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt"])
    );
    assert_eq!(meta["require_pushed_authorization_requests"], true);
    assert!(
        !meta["dpop_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("RS256"))
    );

    let key = ClientKey::es256();
    let id = bank_app(&srv, &key);
    let now = srv.clock_now();
    let token = |assertion: String, proof: Option<String>| {
        let (http, url) = (srv.http.clone(), srv.url("/token"));
        async move {
            let mut form = vec![("grant_type", "client_credentials".to_string())];
            form.extend(assertion_fields(&assertion));
            let mut req = http.post(url).form(&form);
            if let Some(p) = proof {
                req = req.header("DPoP", p);
            }
            req.send().await.unwrap()
        }
    };
    let proof = || Some(key.dpop("POST", &srv.url("/token"), srv.clock_now(), None));
    // A secret is not enough.
    let (secret_id, secret) = srv.service_client("");
    let res = srv
        .http
        .post(srv.url("/token"))
        .basic_auth(&secret_id, Some(&secret))
        .header("DPoP", proof().unwrap())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // No DPoP proof: nothing.
    let res = token(key.assertion(&id, json!(srv.base), now), None).await;
    assert_eq!(res.status(), 400);
    // The audience is the issuer, as a string, only.
    for aud in [json!(srv.url("/token")), json!([srv.base])] {
        let res = token(key.assertion(&id, aud.clone(), now), proof()).await;
        assert_eq!(res.status(), 401, "{aud}");
    }
    // No RS256, in assertions or proofs.
    let rsa = ClientKey::new(KeyAlg::RS256);
    let rsa_id = bank_app(&srv, &rsa);
    let res = token(rsa.assertion(&rsa_id, json!(srv.base), now), proof()).await;
    assert_eq!(res.status(), 401);
    let rsa_proof = rsa.dpop("POST", &srv.url("/token"), now, None);
    let res = token(key.assertion(&id, json!(srv.base), now), Some(rsa_proof)).await;
    assert_eq!(res.status(), 400);
    // All in order: a DPoP-bound token, signed with ES256.
    let res = token(key.assertion(&id, json!(srv.base), now), proof()).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let header = jsonwebtoken::decode_header(body["access_token"].as_str().unwrap()).unwrap();
    assert_ne!(header.alg, jsonwebtoken::Algorithm::RS256);
    srv.stop().await;
}

#[actix_web::test]
async fn a_sign_in_goes_through_par_and_the_refresh_token_survives_a_lost_response() {
    let srv = fapi2().await;
    create_user(&srv, "alice", PASSWORD, None);
    let key = ClientKey::es256();
    let id = bank_app(&srv, &key);
    let now = srv.clock_now();
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let params = [
        ("response_type", "code"),
        ("client_id", id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid offline_access"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    // Not pushed: refused.
    let url = url::Url::parse_with_params(&srv.url("/authorize"), &params).unwrap();
    let res = Browser::new(&srv).get(url.as_str()).await;
    let (_, p) = common::location_params(&res);
    assert_eq!(p["error"], "invalid_request");
    // Pushed, with the client's assertion and a DPoP proof.
    let mut form: Vec<(&str, String)> = params.iter().map(|(k, v)| (*k, v.to_string())).collect();
    form.extend(assertion_fields(&key.assertion(&id, json!(srv.base), now)));
    let res = srv
        .http
        .post(srv.url("/par"))
        .header("DPoP", key.dpop("POST", &srv.url("/par"), now, None))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let uri = res.json::<Value>().await.unwrap()["request_uri"]
        .as_str()
        .unwrap()
        .to_string();
    let browser = Browser::new(&srv);
    let url = url::Url::parse_with_params(
        &srv.url("/authorize"),
        &[("client_id", id.as_str()), ("request_uri", uri.as_str())],
    )
    .unwrap();
    let page = browser.text(url.as_str()).await;
    let code = finish_sign_in(&browser, &page, "alice", PASSWORD).await;
    let token_request = |grant: Vec<(&'static str, String)>| {
        let (http, url, id) = (srv.http.clone(), srv.url("/token"), id.clone());
        let proof = key.dpop("POST", &srv.url("/token"), now, None);
        let assertion = key.assertion(&id, json!(srv.base), now);
        async move {
            let mut form = grant;
            form.extend(assertion_fields(&assertion));
            http.post(url)
                .header("DPoP", proof)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let res = token_request(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("redirect_uri", REDIRECT.into()),
        ("code_verifier", verifier.secret().clone()),
    ])
    .await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(id_token).unwrap().alg,
        jsonwebtoken::Algorithm::ES256
    );
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.jkt()
    );
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    // FAPI 2.0: a client whose response was lost retries with the same refresh token.
    for _ in 0..2 {
        let res = token_request(vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", refresh.clone()),
        ])
        .await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert!(body.get("refresh_token").is_none(), "not rotated");
    }
    // The family is bound to the DPoP key it began with: the client's own assertion with
    // another key's proof is refused (RFC 9449 §5 for a client that proves with DPoP at
    // every request under this profile).
    let other = ClientKey::es256();
    let mut form = vec![
        ("grant_type", "refresh_token".to_string()),
        ("refresh_token", refresh.clone()),
    ];
    form.extend(assertion_fields(&key.assertion(&id, json!(srv.base), now)));
    let res = srv
        .http
        .post(srv.url("/token"))
        .header("DPoP", other.dpop("POST", &srv.url("/token"), now, None))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    srv.stop().await;
}

/// A client left registered for RS256 ID tokens (from before the profile, or written by
/// other means) gets `invalid_grant` for a made-up code, not a server error; new
/// registrations of such clients are refused up front, by the CLI and by RFC 7591.
#[actix_web::test]
async fn an_rs256_id_token_client_is_refused_up_front_and_bogus_codes_are_invalid_grant() {
    let srv = spawn_with(|a| {
        a.profile = Some("fapi2".into());
        a.registration = Some("token".into());
    })
    .await;
    let key = ClientKey::es256();
    let (id, _) = srv.register(ClientRequest {
        name: "Old app".into(),
        redirect_uris: vec![REDIRECT.into()],
        scope: Some("openid".into()),
        jwks: Some(key.jwks()),
        ..Default::default()
    });
    let mut form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", "made-up".to_string()),
        ("redirect_uri", REDIRECT.to_string()),
        ("code_verifier", "a".repeat(43)),
    ];
    form.extend(assertion_fields(&key.assertion(
        &id,
        json!(srv.base),
        srv.clock_now(),
    )));
    let res = srv
        .http
        .post(srv.url("/token"))
        .header(
            "DPoP",
            key.dpop("POST", &srv.url("/token"), srv.clock_now(), None),
        )
        .form(&form)
        .send()
        .await
        .unwrap();
    let (status, code, _) = common::oauth_error(res).await;
    assert_eq!((status, code.as_str()), (400, "invalid_grant"));

    let out = srv.cli_env(
        &[
            "client",
            "create",
            "--name",
            "New app",
            "--redirect-uri",
            REDIRECT,
        ],
        &[("PORTCULLIS_PROFILE", "fapi2")],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("RS256"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = srv.cli(&["registration-token", "create", "--json"]);
    let token: Value = serde_json::from_slice(&out.stdout).unwrap();
    let res = srv
        .http
        .post(srv.url("/register"))
        .bearer_auth(token["token"].as_str().unwrap())
        .json(&json!({
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": {"keys": [key.jwk()]},
        }))
        .send()
        .await
        .unwrap();
    let (status, code, _) = common::oauth_error(res).await;
    assert_eq!((status, code.as_str()), (400, "invalid_client_metadata"));
    srv.stop().await;
}
