//! DPoP (RFC 9449): tokens bound to a key the client proves it holds, request by
//! request; every refusal of §4.3, once-only proofs across instances, bound refresh
//! tokens and codes, and the DPoP scheme at UserInfo.

mod common;

use common::flow::REDIRECT;
use common::jose::{ClientKey, claims};
use common::{TestServer, create_user, spawn};
use portcullis::keys::KeyAlg;
use portcullis::oauth::clients::ClientRequest;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

async fn token_with(
    srv: &TestServer,
    client: &(String, String),
    proofs: &[&str],
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = srv
        .http
        .post(srv.url("/token"))
        .basic_auth(&client.0, Some(&client.1))
        .form(form);
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    req.send().await.unwrap()
}

async fn error_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    (status, body["error"].as_str().unwrap_or("").to_string())
}

#[actix_web::test]
async fn a_proof_binds_the_access_token_to_its_key() {
    let srv = spawn().await;
    let client = srv.service_client("inventory:read");
    let key = ClientKey::es256();
    let proof = key.dpop("POST", &srv.url("/token"), srv.clock_now(), None);
    let res = token_with(
        &srv,
        &client,
        &[&proof],
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(claims(token)["cnf"]["jkt"], key.jkt());
    // Resource servers learn the binding from introspection too (§6.2).
    let res = srv
        .http
        .post(srv.url("/introspect"))
        .basic_auth(&client.0, Some(&client.1))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    let intro: Value = res.json().await.unwrap();
    assert_eq!(intro["active"], true);
    assert_eq!(intro["cnf"]["jkt"], key.jkt());
    assert_eq!(intro["token_type"], "DPoP");
    // Every accepted algorithm, and discovery says which.
    for alg in [KeyAlg::RS256, KeyAlg::EdDSA] {
        let k = ClientKey::new(alg);
        let proof = k.dpop("POST", &srv.url("/token"), srv.clock_now(), None);
        let res = token_with(
            &srv,
            &client,
            &[&proof],
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(res.status(), 200, "{alg:?}");
    }
    let meta: Value = srv
        .http
        .get(srv.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let algs = meta["dpop_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.contains(&json!("ES256")) && !algs.contains(&json!("HS256")));
    srv.stop().await;
}

/// RFC 9449 §4.3: each check, failed alone, is `invalid_dpop_proof` and issues nothing.
#[actix_web::test]
async fn every_bad_proof_is_refused() {
    let srv = spawn().await;
    let client = srv.service_client("");
    let key = ClientKey::es256();
    let other = ClientKey::es256();
    let now = srv.clock_now();
    let url = srv.url("/token");
    let base = |htm: &str, htu: &str, iat: i64| json!({"jti": uuid::Uuid::new_v4().to_string(), "htm": htm, "htu": htu, "iat": iat});
    let mut private_jwk = key.jwk();
    private_jwk["d"] = json!("AAAA");
    let signed_by_other = {
        // The header names one key, the signature is another's.
        let claims = base("POST", &url, now);
        other.dpop_with(&claims, |h| {
            h.jwk = Some(serde_json::from_value(key.jwk()).unwrap());
        })
    };
    // (Signed by hand: the process's signing provider makes asymmetric signatures only;
    // what matters is that the alg alone gets it refused.)
    let by_hand = |alg: &str| {
        use base64::Engine;
        let e = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let h = json!({"typ": "dpop+jwt", "alg": alg, "jwk": key.jwk()});
        format!(
            "{}.{}.{}",
            e.encode(h.to_string()),
            e.encode(base("POST", &url, now).to_string()),
            e.encode([7u8; 32])
        )
    };
    let hs256 = by_hand("HS256");
    let unsigned = {
        use base64::Engine;
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let h = json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk()});
        format!("{}.{}.", b64(&h), b64(&base("POST", &url, now)))
    };
    let cases: Vec<(&str, String)> = vec![
        ("wrong htm", key.dpop("GET", &url, now, None)),
        (
            "wrong htu",
            key.dpop("POST", &srv.url("/introspect"), now, None),
        ),
        (
            "another host",
            key.dpop("POST", "https://evil.example/token", now, None),
        ),
        ("stale iat", key.dpop("POST", &url, now - 120, None)),
        ("future iat", key.dpop("POST", &url, now + 120, None)),
        (
            "no jti",
            key.dpop_with(&json!({"htm": "POST", "htu": url, "iat": now}), |_| {}),
        ),
        (
            "wrong typ",
            key.dpop_with(&base("POST", &url, now), |h| h.typ = Some("JWT".into())),
        ),
        (
            "no jwk",
            key.dpop_with(&base("POST", &url, now), |h| h.jwk = None),
        ),
        ("signed by another key", signed_by_other),
        ("HS256", hs256),
        ("alg none", unsigned),
        ("not a JWT", "abc.def".into()),
    ];
    for (what, proof) in &cases {
        let res = token_with(
            &srv,
            &client,
            &[proof],
            &[("grant_type", "client_credentials")],
        )
        .await;
        assert_eq!(
            error_of(res).await,
            (400, "invalid_dpop_proof".into()),
            "{what}"
        );
    }
    // A private key in the header: refused, whatever the signature.
    let with_private = key.dpop_with(&base("POST", &url, now), |h| {
        h.jwk = serde_json::from_value(private_jwk.clone()).ok();
    });
    // (jsonwebtoken drops unknown members when it serialises a Jwk; write the header
    // by hand so that the private member really is there.)
    let with_private = {
        use base64::Engine;
        let e = &base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let h = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private_jwk});
        let mut parts = with_private.splitn(2, '.');
        let _ = parts.next();
        format!("{}.{}", e.encode(h.to_string()), parts.next().unwrap())
    };
    let res = token_with(
        &srv,
        &client,
        &[&with_private],
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(error_of(res).await, (400, "invalid_dpop_proof".into()));
    // Two DPoP headers.
    let (a, b) = (
        key.dpop("POST", &url, now, None),
        key.dpop("POST", &url, now, None),
    );
    let res = token_with(
        &srv,
        &client,
        &[&a, &b],
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(error_of(res).await, (400, "invalid_dpop_proof".into()));
    // Refusals are audited with their reason, never the proof.
    let out = srv.cli(&["audit", "list", "--kind", "dpop.refused", "--json"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().count() >= cases.len(), "{text}");
    assert!(text.contains("htm does not match"), "{text}");
    assert!(
        !text.contains(&cases[0].1),
        "the proof itself is not in the trail"
    );
    srv.stop().await;
}

/// A proof is accepted once: the same proof sent together, to one instance and to
/// another over the same database, gets exactly one token.
#[actix_web::test]
async fn a_proof_is_used_once_across_instances() {
    let srv = spawn().await;
    // Both instances serve one issuer, as behind a load balancer: one htu fits both.
    let other = srv
        .sibling_with(|a| a.issuer = Some(srv.base.clone()))
        .await;
    let client = srv.service_client("");
    let key = ClientKey::es256();
    // The control: the other instance takes a proof of its own.
    let fresh = key.dpop("POST", &srv.url("/token"), srv.clock_now(), None);
    let res = srv
        .http
        .post(format!("http://{}/token", other.addr))
        .basic_auth(&client.0, Some(&client.1))
        .header("DPoP", fresh)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let proof = key.dpop("POST", &srv.url("/token"), srv.clock_now(), None);
    let bases = [srv.base.clone(), format!("http://{}", other.addr)];
    let sends = (0..12).map(|i| {
        let base = bases[i % 2].clone();
        let (http, proof, client) = (srv.http.clone(), proof.clone(), client.clone());
        async move {
            http.post(format!("{base}/token"))
                .basic_auth(&client.0, Some(&client.1))
                .header("DPoP", proof)
                .form(&[("grant_type", "client_credentials")])
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
        statuses.iter().filter(|s| **s == 400).count(),
        11,
        "{statuses:?}"
    );
    other.stop().await;
    srv.stop().await;
}

/// RFC 9449 §5.2: a client registered for DPoP-bound tokens gets none without a proof.
#[actix_web::test]
async fn a_dpop_bound_client_needs_a_proof() {
    let srv = spawn().await;
    let (id, secret) = srv.register(ClientRequest {
        name: "bound".into(),
        dpop_bound: true,
        ..Default::default()
    });
    let client = (id, secret.unwrap());
    let res = token_with(&srv, &client, &[], &[("grant_type", "client_credentials")]).await;
    assert_eq!(error_of(res).await, (400, "invalid_request".into()));
    let key = ClientKey::es256();
    let proof = key.dpop("POST", &srv.url("/token"), srv.clock_now(), None);
    let res = token_with(
        &srv,
        &client,
        &[&proof],
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(res.status(), 200);
    srv.stop().await;
}

/// A public client's code flow with DPoP: `dpop_jkt` binds the code, the refresh tokens
/// are bound to the key (§5), UserInfo takes the token with the DPoP scheme only (§7).
#[actix_web::test]
async fn a_public_clients_code_and_refresh_tokens_are_bound_to_its_key() {
    let srv = spawn().await;
    create_user(&srv, "alice", PASSWORD, None);
    let (id, _) = srv.register(ClientRequest {
        name: "Phone app".into(),
        public: true,
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scope: Some("openid offline_access".into()),
        ..Default::default()
    });
    let key = ClientKey::es256();
    let thief = ClientKey::es256();
    let token_url = srv.url("/token");
    let now = srv.clock_now();

    // The code is bound to the key by dpop_jkt: another key cannot exchange it.
    let (code, verifier) = common::flow::authorize(
        &srv,
        &id,
        "openid offline_access",
        &[("dpop_jkt", &key.jkt())],
        "alice",
        PASSWORD,
    )
    .await;
    let exchange = |proof: Option<String>| {
        let (http, id, code, verifier, url) = (
            srv.http.clone(),
            id.clone(),
            code.clone(),
            verifier.clone(),
            token_url.clone(),
        );
        async move {
            let mut req = http.post(url).form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier.as_str()),
                ("client_id", id.as_str()),
            ]);
            if let Some(p) = proof {
                req = req.header("DPoP", p);
            }
            req.send().await.unwrap()
        }
    };
    let res = exchange(Some(thief.dpop("POST", &token_url, now, None))).await;
    assert_eq!(
        error_of(res).await,
        (400, "invalid_grant".into()),
        "another key"
    );
    let res = exchange(None).await;
    assert_eq!(
        error_of(res).await,
        (400, "invalid_grant".into()),
        "no proof"
    );
    let res = exchange(Some(key.dpop("POST", &token_url, now, None))).await;
    assert_eq!(res.status(), 200, "its own key");
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    // The refresh token works with that key only; the refusals do not spend it.
    let refresh_with = |proof: Option<String>| {
        let (http, id, refresh, url) = (
            srv.http.clone(),
            id.clone(),
            refresh.clone(),
            token_url.clone(),
        );
        async move {
            let mut req = http.post(url).form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
                ("client_id", id.as_str()),
            ]);
            if let Some(p) = proof {
                req = req.header("DPoP", p);
            }
            req.send().await.unwrap()
        }
    };
    let res = refresh_with(Some(thief.dpop("POST", &token_url, now, None))).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
    let res = refresh_with(None).await;
    assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
    let res = refresh_with(Some(key.dpop("POST", &token_url, now, None))).await;
    assert_eq!(res.status(), 200);

    // UserInfo: the DPoP scheme with a proof carrying ath.
    let userinfo = srv.url("/userinfo");
    let res = srv
        .http
        .get(&userinfo)
        .header("Authorization", format!("DPoP {access}"))
        .header("DPoP", key.dpop("GET", &userinfo, now, Some(&access)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // As a bearer token: refused, with a DPoP challenge.
    let res = srv
        .http
        .get(&userinfo)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let challenge = res.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains("invalid_token"),
        "{challenge}"
    );
    // A proof without ath, of another key, or without any proof.
    for proof in [
        Some(key.dpop("GET", &userinfo, now, None)),
        Some(thief.dpop("GET", &userinfo, now, Some(&access))),
        None,
    ] {
        let mut req = srv
            .http
            .get(&userinfo)
            .header("Authorization", format!("DPoP {access}"));
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401);
        let challenge = res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(challenge.contains("invalid_dpop_proof"), "{challenge}");
        assert!(challenge.contains("algs="), "{challenge}");
    }
    // No token at all: both schemes are offered.
    let res = srv.http.get(&userinfo).send().await.unwrap();
    let schemes: Vec<String> = res
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(schemes, vec!["Bearer", "DPoP"]);
    srv.stop().await;
}

/// A public client that began without DPoP binds its refresh token at the first refresh
/// with a proof; from then on only that key refreshes (RFC 9449 §5).
#[actix_web::test]
async fn a_public_clients_refresh_token_binds_at_its_first_proof() {
    let srv = spawn().await;
    create_user(&srv, "bob", PASSWORD, None);
    let (id, _) = srv.register(ClientRequest {
        name: "Desktop app".into(),
        public: true,
        redirect_uris: vec![REDIRECT.into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scope: Some("openid offline_access".into()),
        ..Default::default()
    });
    let (code, verifier) =
        common::flow::authorize(&srv, &id, "openid offline_access", &[], "bob", PASSWORD).await;
    let token_url = srv.url("/token");
    let res = srv
        .http
        .post(&token_url)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
            ("client_id", id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    let mut refresh = tokens["refresh_token"].as_str().unwrap().to_string();
    let key = ClientKey::es256();
    let thief = ClientKey::es256();
    let now = srv.clock_now();
    let refresh_with = |token: String, proof: Option<String>| {
        let (http, id, url) = (srv.http.clone(), id.clone(), token_url.clone());
        async move {
            let mut req = http.post(url).form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", token.as_str()),
                ("client_id", id.as_str()),
            ]);
            if let Some(p) = proof {
                req = req.header("DPoP", p);
            }
            req.send().await.unwrap()
        }
    };
    let res = refresh_with(
        refresh.clone(),
        Some(key.dpop("POST", &token_url, now, None)),
    )
    .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        claims(body["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.jkt()
    );
    refresh = body["refresh_token"].as_str().unwrap().to_string();
    for proof in [None, Some(thief.dpop("POST", &token_url, now, None))] {
        let res = refresh_with(refresh.clone(), proof).await;
        assert_eq!(error_of(res).await, (400, "invalid_grant".into()));
    }
    let res = refresh_with(
        refresh.clone(),
        Some(key.dpop("POST", &token_url, now, None)),
    )
    .await;
    assert_eq!(res.status(), 200, "its key still refreshes");
    srv.stop().await;
}

/// A POST proof carrying `nonce`, for `htu`, made now.
fn proof_with_nonce(srv: &TestServer, key: &ClientKey, htu: &str, nonce: Option<&str>) -> String {
    proof_for(srv, key, "POST", htu, nonce, None)
}

/// A proof for `htm` `htu`, made now, with `nonce` and the `ath` of `access_token`.
fn proof_for(
    srv: &TestServer,
    key: &ClientKey,
    htm: &str,
    htu: &str,
    nonce: Option<&str>,
    access_token: Option<&str>,
) -> String {
    let mut c = json!({
        "jti": uuid::Uuid::new_v4().to_string(),
        "htm": htm,
        "htu": htu,
        "iat": srv.clock_now(),
    });
    if let Some(n) = nonce {
        c["nonce"] = json!(n);
    }
    if let Some(t) = access_token {
        c["ath"] = json!(portcullis::oauth::dpop::ath(t));
    }
    key.dpop_with(&c, |_| {})
}

/// RFC 9449 §8: with `--dpop-nonce`, a proof without a nonce of ours is answered
/// `use_dpop_nonce` with one in `DPoP-Nonce`; with it, the request goes through, at
/// either instance; once its windows are over, or if it was never ours, it is refused
/// again with a fresh one. The same holds at the PAR endpoint.
#[actix_web::test]
async fn with_nonces_on_a_proof_needs_a_current_one_from_any_instance() {
    let srv = common::spawn_with(|a| a.dpop_nonce = Some(true)).await;
    let other = srv
        .sibling_with(|a| {
            a.dpop_nonce = Some(true);
            a.issuer = Some(srv.base.clone());
        })
        .await;
    let client = srv.service_client("inventory:read");
    let key = ClientKey::es256();
    let token_url = srv.url("/token");
    let cc = [("grant_type", "client_credentials")];

    let proof = proof_with_nonce(&srv, &key, &token_url, None);
    let res = token_with(&srv, &client, &[&proof], &cc).await;
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_string();
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(error_of(res).await, (400, "use_dpop_nonce".into()));

    let proof = proof_with_nonce(&srv, &key, &token_url, Some(&nonce));
    let res = token_with(&srv, &client, &[&proof], &cc).await;
    assert_eq!(res.status(), 200);
    // §8.2: the answer names the nonce to use next.
    assert_eq!(res.headers()["dpop-nonce"], nonce.as_str());
    // The other instance takes the nonce this one gave out.
    let proof = proof_with_nonce(&srv, &key, &token_url, Some(&nonce));
    let res = srv
        .http
        .post(format!("http://{}/token", other.addr))
        .basic_auth(&client.0, Some(&client.1))
        .header("DPoP", proof)
        .form(&cc)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);

    // Not ours: refused, with ours.
    let (window, _) = nonce.split_once('.').unwrap();
    let forged = format!("{window}.{}", "A".repeat(43));
    let proof = proof_with_nonce(&srv, &key, &token_url, Some(&forged));
    let res = token_with(&srv, &client, &[&proof], &cc).await;
    assert_eq!(res.headers()["dpop-nonce"], nonce.as_str());
    assert_eq!(error_of(res).await, (400, "use_dpop_nonce".into()));

    // Ten minutes on, the nonce is stale; the fresh one works.
    srv.clock.advance(2 * portcullis::oauth::dpop::NONCE_WINDOW);
    let proof = proof_with_nonce(&srv, &key, &token_url, Some(&nonce));
    let res = token_with(&srv, &client, &[&proof], &cc).await;
    let fresh = res.headers()["dpop-nonce"].to_str().unwrap().to_string();
    assert_ne!(fresh, nonce);
    assert_eq!(error_of(res).await, (400, "use_dpop_nonce".into()));
    let proof = proof_with_nonce(&srv, &key, &token_url, Some(&fresh));
    assert_eq!(
        token_with(&srv, &client, &[&proof], &cc).await.status(),
        200
    );

    // PAR asks the same way.
    let (id, secret) = srv.register(ClientRequest {
        name: "Pusher".into(),
        redirect_uris: vec![REDIRECT.into()],
        scope: Some("openid".into()),
        ..Default::default()
    });
    let push = |proof: String| {
        let (srv, id, secret) = (&srv, &id, &secret);
        async move {
            srv.http
                .post(srv.url("/par"))
                .basic_auth(id, secret.as_deref())
                .header("DPoP", proof)
                .form(&[
                    ("response_type", "code"),
                    ("redirect_uri", REDIRECT),
                    ("scope", "openid"),
                    (
                        "code_challenge",
                        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URW9kVWQi3Tqsc",
                    ),
                    ("code_challenge_method", "S256"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let res = push(proof_with_nonce(&srv, &key, &srv.url("/par"), None)).await;
    assert_eq!(res.headers()["dpop-nonce"], fresh.as_str());
    assert_eq!(error_of(res).await, (400, "use_dpop_nonce".into()));
    let res = push(proof_with_nonce(&srv, &key, &srv.url("/par"), Some(&fresh))).await;
    assert_eq!(res.headers()["dpop-nonce"], fresh.as_str());
    assert_eq!(res.status(), 201, "{:?}", res.text().await);
    other.stop().await;
    srv.stop().await;
}

/// RFC 9449 §9: UserInfo, a protected resource, asks for a nonce the same way, with a
/// 401 and a DPoP challenge naming `use_dpop_nonce`.
#[actix_web::test]
async fn with_nonces_on_userinfo_asks_for_one_too() {
    let srv = common::spawn_with(|a| a.dpop_nonce = Some(true)).await;
    create_user(&srv, "alice", PASSWORD, None);
    let (id, _) = srv.register(ClientRequest {
        name: "Phone app".into(),
        public: true,
        redirect_uris: vec![REDIRECT.into()],
        scope: Some("openid".into()),
        ..Default::default()
    });
    let key = ClientKey::es256();
    let (code, verifier) = common::flow::authorize(
        &srv,
        &id,
        "openid",
        &[("dpop_jkt", &key.jkt())],
        "alice",
        PASSWORD,
    )
    .await;
    let token_url = srv.url("/token");
    let exchange = |proof: String| {
        let (srv, id, code, verifier, url) = (&srv, &id, &code, &verifier, &token_url);
        async move {
            srv.http
                .post(url)
                .header("DPoP", proof)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", verifier.as_str()),
                    ("client_id", id.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    // Asked for a nonce: the code is not spent by that.
    let res = exchange(proof_with_nonce(&srv, &key, &token_url, None)).await;
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_string();
    assert_eq!(error_of(res).await, (400, "use_dpop_nonce".into()));
    let res = exchange(proof_with_nonce(&srv, &key, &token_url, Some(&nonce))).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_string();

    let userinfo = srv.url("/userinfo");
    let get = |proof: String| {
        let (srv, userinfo, access) = (&srv, &userinfo, &access);
        async move {
            srv.http
                .get(userinfo)
                .header("Authorization", format!("DPoP {access}"))
                .header("DPoP", proof)
                .send()
                .await
                .unwrap()
        }
    };
    let res = get(proof_for(&srv, &key, "GET", &userinfo, None, Some(&access))).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["dpop-nonce"], nonce.as_str());
    let challenge = res.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("DPoP ") && challenge.contains("error=\"use_dpop_nonce\""),
        "{challenge}"
    );
    let res = get(proof_for(
        &srv,
        &key,
        "GET",
        &userinfo,
        Some(&nonce),
        Some(&access),
    ))
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["dpop-nonce"], nonce.as_str());
    srv.stop().await;
}
