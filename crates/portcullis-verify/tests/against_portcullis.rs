//! The verifier against a real Portcullis, started in this process on port 0 over a
//! temporary SQLite file (or PostgreSQL when PORTCULLIS_TEST_DATABASE_URL names one: the
//! server's own harness is not shared with this crate, so SQLite is used here always).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, Header, encode};
use portcullis::clock::SystemClock;
use portcullis::config::{Settings, SettingsArgs};
use portcullis::keys::{KeyAlg, Material, material};
use portcullis::oauth::clients::{ClientRequest, registrar};
use portcullis::server::{self, RunningServer};
use portcullis_verify::{Presented, Rejection, Verifier, require_scope, require_sign_in};
use serde_json::{Value, json};

struct Issuer {
    srv: Option<RunningServer>,
    base: String,
    _dir: tempfile::TempDir,
}

impl Issuer {
    async fn start() -> Issuer {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        std::fs::create_dir(&keys).unwrap();
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700)).unwrap();
        let args = SettingsArgs {
            bind: Some("127.0.0.1:0".into()),
            database_url: Some(format!("sqlite://{}", dir.path().join("p.db").display())),
            keys_dir: Some(keys),
            db_pool_size: Some(4),
            workers: Some(1),
            ..Default::default()
        };
        let settings = Settings::from_args(&args).unwrap();
        let srv = server::start(settings, Arc::new(SystemClock))
            .await
            .unwrap();
        Issuer {
            base: srv.issuer.clone(),
            srv: Some(srv),
            _dir: dir,
        }
    }

    fn state(&self) -> &portcullis::state::AppState {
        &self.srv.as_ref().unwrap().state
    }

    /// A service client with `scope`: its id and secret.
    fn client(&self, scope: &str) -> (String, String) {
        let req = ClientRequest {
            name: "api caller".into(),
            scope: Some(scope.into()),
            ..Default::default()
        }
        .validate()
        .unwrap();
        let mut conn = self.state().db.pool().get().unwrap();
        let (c, s) = registrar::register(&mut conn, &req, now()).unwrap();
        (c.client_id, s.unwrap().0)
    }

    /// A client-credentials token; bound to `dpop_key` when given.
    async fn token(&self, client: &(String, String), dpop_key: Option<&Key>) -> String {
        let url = format!("{}/token", self.base);
        let mut req = reqwest::Client::new()
            .post(&url)
            .basic_auth(&client.0, Some(&client.1))
            .form(&[("grant_type", "client_credentials")]);
        if let Some(k) = dpop_key {
            req = req.header("DPoP", k.proof("POST", &url, None, |_| {}));
        }
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        res["access_token"].as_str().expect("a token").to_string()
    }

    async fn stop(mut self) {
        if let Some(s) = self.srv.take() {
            s.stop().await;
        }
    }
}

/// A client's DPoP key.
struct Key(Material);

impl Key {
    fn new() -> Key {
        let pem = material::generate(KeyAlg::ES256).unwrap();
        Key(material::from_pem(KeyAlg::ES256, &pem).unwrap())
    }

    fn proof(
        &self,
        htm: &str,
        htu: &str,
        token: Option<&str>,
        adjust: impl FnOnce(&mut Value),
    ) -> String {
        let mut claims = json!({
            "jti": format!("{}", now() as u128 * 1_000_000 + rand_u32() as u128),
            "htm": htm,
            "htu": htu,
            "iat": now(),
        });
        if let Some(t) = token {
            claims["ath"] = portcullis_verify::dpop::ath(t).into();
        }
        adjust(&mut claims);
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(serde_json::from_value(self.0.public_jwk.clone()).unwrap());
        encode(&header, &claims, &self.0.encoding).unwrap()
    }
}

fn rand_u32() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

async fn check(v: &Verifier, authorization: &str) -> Result<portcullis_verify::Claims, Rejection> {
    v.verify(&Presented {
        authorization: Some(authorization),
        dpop: None,
        method: "GET",
        url: "https://api.example/orders",
    })
    .await
}

fn b64(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

/// Valid tokens pass with their claims typed; every kind of forgery or misuse fails
/// with the challenge that says why.
#[actix_web::test]
async fn tokens_pass_and_forgeries_fail_with_the_right_challenge() {
    let iss = Issuer::start().await;
    let v = Verifier::discover(&iss.base, &iss.base).await.unwrap();
    let client = iss.client("orders:read orders:write");
    let token = iss.token(&client, None).await;
    let c = check(&v, &bearer(&token)).await.expect("a valid token");
    assert_eq!(c.client_id, client.0);
    assert!(c.has_scope("orders:read") && c.has_scope("orders:write"));
    assert!(require_scope(&c, "orders:read").is_ok());
    let e = require_scope(&c, "admin").unwrap_err();
    assert_eq!(e.status(), 403);
    assert_eq!(
        e.challenge(false).unwrap(),
        "Bearer, error=\"insufficient_scope\", scope=\"admin\""
    );
    let e = require_sign_in(&c, &["urn:portcullis:acr:phr"], None).unwrap_err();
    assert!(
        e.challenge(false)
            .unwrap()
            .contains("insufficient_user_authentication")
    );
    assert!(
        e.challenge(false)
            .unwrap()
            .contains("acr_values=\"urn:portcullis:acr:phr\"")
    );

    // No credentials: a bare challenge (RFC 6750 §3.1).
    let e = v
        .verify(&Presented {
            authorization: None,
            dpop: None,
            method: "GET",
            url: "https://api.example/",
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.status(), e.challenge(false).unwrap()),
        (401, "Bearer".to_string())
    );

    let (head, rest) = token.split_once('.').unwrap();
    let (payload, _sig) = rest.split_once('.').unwrap();
    let header: Value = serde_json::from_slice(&base64_decode(head)).unwrap();
    let claims: Value = serde_json::from_slice(&base64_decode(payload)).unwrap();
    let mut tampered_claims = claims.clone();
    tampered_claims["scope"] = "orders:read admin".into();
    let tampered = format!(
        "{head}.{}.{}",
        b64(&tampered_claims),
        rest.split_once('.').unwrap().1
    );
    let mut none_header = header.clone();
    none_header["alg"] = "none".into();
    let alg_none = format!("{}.{}.", b64(&none_header), payload);
    // HS256 with the issuer's public key as the secret (the classic confusion).
    let jwks: Value = reqwest::get(format!("{}/jwks.json", iss.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let public = jwks["keys"][0].to_string();
    let hs256 = {
        // By hand: the server's signer in this process signs with its own keys only.
        let mut h = header.clone();
        h["alg"] = "HS256".into();
        let input = format!("{}.{}", b64(&h), b64(&claims));
        let mac = hmac_sha256(public.as_bytes(), input.as_bytes());
        use base64::Engine;
        format!(
            "{input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac)
        )
    };
    let mut expired_claims = claims.clone();
    expired_claims["exp"] = (now() - 3600).into();
    let mut other_aud = claims.clone();
    other_aud["aud"] = "https://other.example".into();
    let mut other_iss = claims.clone();
    other_iss["iss"] = "https://evil.example".into();
    // Signed by the issuer's own key: only the claim at fault is wrong.
    let keys = iss.state().keys.current();
    let signing = keys.signing();
    let signed = |c: &Value| {
        let mut h = Header::new(signing.alg.jwt());
        h.typ = Some("at+jwt".into());
        h.kid = Some(signing.kid.clone());
        encode(&h, c, &signing.encoding).unwrap()
    };
    assert!(
        check(&v, &bearer(&signed(&claims))).await.is_ok(),
        "the signer works"
    );
    // Signed by another key under the issuer's kid.
    let impostor = {
        let k = Key::new();
        let mut h = Header::new(Algorithm::ES256);
        h.typ = Some("at+jwt".into());
        h.kid = header["kid"].as_str().map(str::to_string);
        encode(&h, &claims, &k.0.encoding).unwrap()
    };
    for (what, t) in [
        ("tampered", tampered),
        ("alg none", alg_none),
        ("HS256 with the public key", hs256),
        ("expired", signed(&expired_claims)),
        ("another audience", signed(&other_aud)),
        ("another issuer", signed(&other_iss)),
        ("another key", impostor),
        ("not a JWT", "abc".to_string()),
    ] {
        let e = check(&v, &bearer(&t)).await.unwrap_err();
        assert_eq!(e.status(), 401, "{what}");
        assert!(
            e.challenge(false)
                .unwrap()
                .starts_with("Bearer, error=\"invalid_token\""),
            "{what}: {e:?}"
        );
    }
    // The audience and issuer checks themselves, on tokens the issuer really signed.
    let other = Verifier::discover(&iss.base, "https://other-api.example")
        .await
        .unwrap();
    assert_eq!(
        check(&other, &bearer(&token)).await.unwrap_err(),
        Rejection::InvalidToken("the token is for another audience")
    );
    assert!(
        Verifier::discover(&format!("{}/", iss.base), &iss.base)
            .await
            .is_err()
    );
    iss.stop().await;
}

/// HMAC-SHA-256 (RFC 2104), for the forged HS256 token.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let hashed = Sha256::digest(key);
    let key = if key.len() > 64 { &hashed[..] } else { key };
    let mut k = [0u8; 64];
    k[..key.len()].copy_from_slice(key);
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .to_vec()
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

/// An ID token is no access token (RFC 9068 §4: `typ`).
#[actix_web::test]
async fn an_id_token_is_refused() {
    let iss = Issuer::start().await;
    let v = Verifier::discover(&iss.base, &iss.base).await.unwrap();
    let keys = iss.state().keys.current();
    let key = keys.signing();
    let mut h = Header::new(key.alg.jwt());
    h.typ = Some("JWT".into());
    h.kid = Some(key.kid.clone());
    let claims = json!({"iss": iss.base, "sub": "u", "aud": iss.base, "exp": now() + 60, "iat": now(), "jti": "x", "client_id": "c"});
    let id_token = encode(&h, &claims, &key.encoding).unwrap();
    let e = check(&v, &bearer(&id_token)).await.unwrap_err();
    assert_eq!(
        e,
        Rejection::InvalidToken("the token is not an access token (typ at+jwt)")
    );
    iss.stop().await;
}

/// DPoP-bound tokens need the DPoP scheme and a proof for this request, by the bound
/// key, fresh, once.
#[actix_web::test]
async fn dpop_bound_tokens_need_a_valid_proof() {
    let iss = Issuer::start().await;
    let v = Verifier::discover(&iss.base, &iss.base).await.unwrap();
    let client = iss.client("orders:read");
    let key = Key::new();
    let token = iss.token(&client, Some(&key)).await;
    let url = "https://api.example/orders";
    let dpop_auth = format!("DPoP {token}");
    let with = |proof: String| {
        let (auth, v) = (dpop_auth.clone(), &v);
        async move {
            v.verify(&Presented {
                authorization: Some(&auth),
                dpop: Some(&proof),
                method: "GET",
                url,
            })
            .await
        }
    };
    let c = with(key.proof("GET", url, Some(&token), |_| {}))
        .await
        .expect("a valid proof");
    assert!(c.jkt().is_some());

    // As Bearer: refused, and the challenge says why.
    let e = check(&v, &bearer(&token)).await.unwrap_err();
    assert!(matches!(e, Rejection::InvalidToken(_)), "{e:?}");
    // No proof.
    let e = v
        .verify(&Presented {
            authorization: Some(&dpop_auth),
            dpop: None,
            method: "GET",
            url,
        })
        .await
        .unwrap_err();
    assert!(
        e.challenge(true).unwrap().starts_with("DPoP algs=\""),
        "{e:?}"
    );
    let other_key = Key::new();
    let replayed = key.proof("GET", url, Some(&token), |_| {});
    assert!(with(replayed.clone()).await.is_ok());
    for (what, proof) in [
        ("wrong htm", key.proof("POST", url, Some(&token), |_| {})),
        (
            "wrong htu",
            key.proof("GET", "https://api.example/other", Some(&token), |_| {}),
        ),
        (
            "wrong ath",
            key.proof("GET", url, Some("another token"), |_| {}),
        ),
        ("no ath", key.proof("GET", url, None, |_| {})),
        (
            "another key",
            other_key.proof("GET", url, Some(&token), |_| {}),
        ),
        (
            "stale iat",
            key.proof("GET", url, Some(&token), |c| {
                c["iat"] = (now() - 300).into()
            }),
        ),
        ("replayed jti", replayed),
    ] {
        let e = with(proof).await.unwrap_err();
        assert!(matches!(e, Rejection::InvalidDpopProof(_)), "{what}: {e:?}");
        assert!(
            e.challenge(true)
                .unwrap()
                .contains("error=\"invalid_dpop_proof\""),
            "{what}"
        );
    }
    // An unbound token sent with the DPoP scheme is refused too.
    let plain = iss.token(&client, None).await;
    let auth = format!("DPoP {plain}");
    let proof = key.proof("GET", url, Some(&plain), |_| {});
    let e = v
        .verify(&Presented {
            authorization: Some(&auth),
            dpop: Some(&proof),
            method: "GET",
            url,
        })
        .await
        .unwrap_err();
    assert!(matches!(e, Rejection::InvalidToken(_)));
    iss.stop().await;
}

/// Keys rotate while tokens are verified without pause: no valid token fails. A flood
/// of unknown `kid`s makes at most one fetch. When the issuer goes away, known keys keep
/// working.
#[actix_web::test]
async fn rotation_unknown_kids_and_an_absent_issuer() {
    let iss = Issuer::start().await;
    let v = Verifier::discover(&iss.base, &iss.base).await.unwrap();
    let client = iss.client("orders:read");
    let before = iss.token(&client, None).await;
    check(&v, &bearer(&before)).await.unwrap();
    let fetches = v.key_fetches();
    // Verification goes on without pause (every 100 ms) while the key rotates: the first
    // token of the new key arrives once the verifier's last fetch is older than the
    // refetch gap, as it is in a verifier that runs for longer than ten seconds.
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(10_500) {
        check(&v, &bearer(&before))
            .await
            .expect("no valid token fails");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    {
        let state = iss.state();
        let mut conn = state.db.pool().get().unwrap();
        portcullis::keys::ring::rotate(
            &mut conn,
            &state.data_keys,
            None,
            false,
            state.settings.signing_lifetimes(),
            now(),
        )
        .unwrap();
        portcullis::server::reload_keys(state, now()).unwrap();
    }
    // Tokens of the old key still verify (it stays published while its tokens live).
    check(&v, &bearer(&before)).await.unwrap();
    let after = iss.token(&client, None).await;
    check(&v, &bearer(&after))
        .await
        .expect("the new key's first token");
    check(&v, &bearer(&before))
        .await
        .expect("and the old key's");
    assert_eq!(v.key_fetches(), fetches + 1, "one fetch for the new key");

    // A flood of unknown kids: at most one more fetch.
    let fetches = v.key_fetches();
    let (head, rest) = after.split_once('.').unwrap();
    let mut header: Value = serde_json::from_slice(&base64_decode(head)).unwrap();
    let floods = (0..50).map(|i| {
        header["kid"] = format!("unknown-{i}").into();
        format!("{}.{rest}", b64(&header))
    });
    for t in floods.collect::<Vec<_>>() {
        assert!(check(&v, &bearer(&t)).await.is_err());
    }
    assert!(
        v.key_fetches() <= fetches + 1,
        "{} fetches",
        v.key_fetches() - fetches
    );

    // The issuer goes away: known keys keep working.
    iss.stop().await;
    check(&v, &bearer(&after))
        .await
        .expect("a known key, the issuer away");
}

/// The actix-web extractor: the claims for a handler, and refusals as responses with
/// their status and challenge.
#[actix_web::test]
async fn the_actix_extractor_answers_as_the_rfcs_say() {
    use actix_web::{App, HttpResponse, test, web};
    use portcullis_verify::actix::{ResourceUrl, Verified};

    async fn orders(token: Verified) -> Result<HttpResponse, Rejection> {
        require_scope(&token.0, "orders:read")?;
        Ok(HttpResponse::Ok().body(token.0.client_id))
    }

    let iss = Issuer::start().await;
    let v = web::Data::new(Verifier::discover(&iss.base, &iss.base).await.unwrap());
    let app = test::init_service(
        App::new()
            .app_data(v)
            .app_data(web::Data::new(ResourceUrl("https://api.example".into())))
            .route("/orders", web::get().to(orders)),
    )
    .await;
    let reader = iss.client("orders:read");
    let other = iss.client("billing:read");
    let (good, wrong_scope) = (
        iss.token(&reader, None).await,
        iss.token(&other, None).await,
    );
    let challenge = |res: &actix_web::dev::ServiceResponse| {
        res.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let call = |auth: Option<String>| {
        let mut req = test::TestRequest::get().uri("/orders");
        if let Some(a) = auth {
            req = req.insert_header(("authorization", a));
        }
        req.to_request()
    };
    let res = test::call_service(&app, call(Some(bearer(&good)))).await;
    assert_eq!(res.status(), 200);
    assert_eq!(test::read_body(res).await, reader.0.as_bytes());
    let res = test::call_service(&app, call(None)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(challenge(&res), "Bearer");
    let res = test::call_service(&app, call(Some(bearer("garbage")))).await;
    assert_eq!(res.status(), 401);
    assert!(challenge(&res).starts_with("Bearer, error=\"invalid_token\""));
    let res = test::call_service(&app, call(Some(bearer(&wrong_scope)))).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        challenge(&res),
        "Bearer, error=\"insufficient_scope\", scope=\"orders:read\""
    );
    // A bound token with a proof for this API's public URL passes.
    let key = Key::new();
    let bound = iss.token(&reader, Some(&key)).await;
    let proof = key.proof("GET", "https://api.example/orders", Some(&bound), |_| {});
    let req = test::TestRequest::get()
        .uri("/orders")
        .insert_header(("authorization", format!("DPoP {bound}")))
        .insert_header(("dpop", proof))
        .to_request();
    assert_eq!(test::call_service(&app, req).await.status(), 200);
    iss.stop().await;
}
