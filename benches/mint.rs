//! Micro-benchmarks of the minting path of the token endpoint:
//! - `sign_access_token/{RS256,ES256,EdDSA}`: our JWT path (cached aws-lc key);
//! - `raw_sign/{RS256,ES256,EdDSA}`: aws-lc alone on the same signing input, the
//!   floor the first group can approach;
//! - `client_auth`: `secret::hash` of a client secret, and `clients::auth::authenticate`
//!   of Basic credentials against a cached client record (what every token request
//!   pays before the grant), plus `extract` of the Basic header;
//! - `sha256_only`: the digest inside `secret_hash`, to show what the hex costs;
//! - `new_jti`.
//!
//! `cargo bench --bench mint` (add `-- --quick` for a short run). scripts/bench.sh
//! measures the same signing rates end to end.

use std::hint::black_box;
use std::sync::Arc;

use actix_web::http::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use portcullis::domain::scope::Scope;
use portcullis::endpoints::credentials;
use portcullis::keys::material::{KeyAlg, Material, from_pem, generate};
use portcullis::keys::signer;
use portcullis::oauth::clients::auth::{self as client_auth, Presented};
use portcullis::oauth::clients::{AuthMethod, Client, GrantType, Introspection};
use portcullis::oauth::tokens::{AccessClaims, Audience, new_jti, sign_access_token};
use portcullis::secret;
use sha2::{Digest, Sha256};

fn claims() -> AccessClaims {
    let issuer = "http://127.0.0.1:18480".to_string();
    AccessClaims {
        iss: issuer.clone(),
        sub: "Vd1qk3fG7mQ2xYp9sL0aBw".into(),
        aud: Audience::One(issuer),
        exp: 1_800_000_600,
        iat: 1_800_000_000,
        jti: new_jti(),
        client_id: "Vd1qk3fG7mQ2xYp9sL0aBw".into(),
        scope: Some("bench:read".into()),
        nbf: None,
        cnf: None,
        auth_time: None,
        acr: None,
    }
}

fn key(alg: KeyAlg) -> Material {
    from_pem(alg, &generate(alg).expect("generate")).expect("parse")
}

fn signing(c: &mut Criterion) {
    signer::install();
    let claims = claims();
    let rng = SystemRandom::new();
    for alg in [KeyAlg::RS256, KeyAlg::ES256, KeyAlg::EdDSA] {
        let m = key(alg);
        let token = sign_access_token(&m, &claims).expect("sign");
        let input = token.as_bytes()[..token.rfind('.').expect("a JWT")].to_vec();
        c.bench_function(&format!("sign_access_token/{}", alg.as_str()), |b| {
            b.iter(|| sign_access_token(black_box(&m), black_box(&claims)).expect("sign"))
        });
        let der = m.encoding.as_bytes();
        let name = format!("raw_sign/{}", alg.as_str());
        match alg {
            KeyAlg::RS256 => {
                let kp = RsaKeyPair::from_der(der).expect("rsa");
                let mut out = vec![0; kp.public_modulus_len()];
                c.bench_function(&name, |b| {
                    b.iter(|| {
                        kp.sign(&sig::RSA_PKCS1_SHA256, &rng, black_box(&input), &mut out)
                            .expect("sign")
                    })
                });
            }
            KeyAlg::ES256 => {
                let kp = EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .expect("ec");
                c.bench_function(&name, |b| {
                    b.iter(|| kp.sign(&rng, black_box(&input)).expect("sign"))
                });
            }
            KeyAlg::EdDSA => {
                let kp = Ed25519KeyPair::from_pkcs8(der).expect("ed");
                c.bench_function(&name, |b| b.iter(|| kp.sign(black_box(&input))));
            }
        }
    }
}

fn client_authentication(c: &mut Criterion) {
    let client_id = "Vd1qk3fG7mQ2xYp9sL0aBw".to_string();
    let secret = secret::random_token("pcs_", 32);
    let client = Arc::new(Client {
        client_id: client_id.clone(),
        name: "bench".into(),
        secret_hash: Some(secret::hash(&secret)),
        auth_methods: vec![AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost],
        grant_types: vec![GrantType::ClientCredentials],
        redirect_uris: vec![],
        scope: Scope::parse("bench:read").expect("scope"),
        resources: vec![],
        post_logout_redirect_uris: vec![],
        id_token_alg: portcullis::keys::KeyAlg::RS256,
        backchannel_logout: None,
        secret_reported_at: None,
        created_at: 0,
        keys: portcullis::oauth::clients::ClientKeys::None,
        dpop_bound: false,
        require_par: false,
        registered_by: portcullis::oauth::clients::RegisteredBy::Operator,
        registration_token_hash: None,
        metadata: Default::default(),
        disabled_at: None,
        tokens_not_before: None,
        introspection: Introspection::Any,
    });
    let presented = Presented::Basic {
        client_id: client_id.clone(),
        secret: secret.clone(),
    };
    let mut headers = HeaderMap::new();
    let basic = format!("Basic {}", STANDARD.encode(format!("{client_id}:{secret}")));
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&basic).expect("header"),
    );

    c.bench_function("secret_hash", |b| {
        b.iter(|| secret::hash(black_box(&secret)))
    });
    // The SHA-256 alone: the rest of `secret_hash` is hex formatting.
    c.bench_function("sha256_only", |b| {
        b.iter(|| Sha256::digest(black_box(secret.as_bytes())))
    });
    c.bench_function("client_auth/authenticate_cached", |b| {
        b.iter(|| {
            client_auth::authenticate(black_box(&presented), Some(client.clone()))
                .expect("authenticated")
        })
    });
    let empty = portcullis::web::form::parse(b"");
    c.bench_function("client_auth/extract_basic", |b| {
        b.iter(|| credentials::presented(black_box(&headers), &empty).expect("basic"))
    });
    c.bench_function("new_jti", |b| b.iter(new_jti));
}

criterion_group!(benches, signing, client_authentication);
criterion_main!(benches);
