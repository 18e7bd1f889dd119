//! Signing rates for `scripts/bench.sh`, and a JWKS verifier for the tokens it samples.
//!
//! ```text
//! sign_rate rate [--seconds S] [--alg RS256|ES256|EdDSA]...
//! sign_rate verify --jwks FILE --issuer URL --audience AUD TOKENS_FILE
//! ```
//!
//! `rate` signs RFC 9068-sized access-token claims in one thread for S seconds per
//! algorithm, two ways, and prints one line per algorithm:
//! `alg=RS256 ours=... raw=...` (signatures per second)
//! - `ours`: `portcullis::oauth::tokens::sign_access_token`, the server's path (the
//!   cached-key signer installed, header + claims serialised and base64url-encoded);
//! - `raw`: aws-lc alone on the same signing input, the key parsed once.
//!
//! Keys are made and loaded as the server makes and loads them (`keys::material`).
//! Run it pinned to the server's core (`taskset -c 0`) so the ratio means something.
//!
//! `verify` checks every JWT in TOKENS_FILE (one per line) against a JWKS document the
//! way a resource server does: the key by `kid`, the algorithm of that key, `iss`, `exp`,
//! and for access tokens (`typ: at+jwt`) the audience. Exits 1 if any token fails.

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use portcullis::keys::material::{KeyAlg, Material, from_pem, generate};
use portcullis::keys::signer;
use portcullis::oauth::tokens::{AccessClaims, Audience, new_jti, sign_access_token};

fn main() {
    if let Err(e) = run() {
        eprintln!("sign_rate: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("rate") => rate(&args[1..]),
        Some("verify") => verify(&args[1..]),
        _ => bail!(
            "usage: sign_rate rate [--seconds S] [--alg A]... | \
             sign_rate verify --jwks FILE --issuer URL --audience AUD TOKENS_FILE"
        ),
    }
}

/// The value after `name` in `args`.
fn opt<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn claims() -> AccessClaims {
    // The shape and sizes of a client-credentials token from a server on loopback.
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

enum Raw {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl Raw {
    /// Parse once, from the same DER bytes the server's signer parses.
    fn parse(m: &Material) -> anyhow::Result<Raw> {
        let der = m.encoding.as_bytes();
        Ok(match m.alg {
            KeyAlg::RS256 => Raw::Rsa(RsaKeyPair::from_der(der).map_err(|e| anyhow!("{e}"))?),
            KeyAlg::ES256 => Raw::Ec(
                EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|e| anyhow!("{e}"))?,
            ),
            KeyAlg::EdDSA => Raw::Ed(Ed25519KeyPair::from_pkcs8(der).map_err(|e| anyhow!("{e}"))?),
        })
    }

    fn sign(&self, rng: &SystemRandom, msg: &[u8], out: &mut [u8]) -> usize {
        match self {
            Raw::Rsa(kp) => {
                let n = kp.public_modulus_len();
                kp.sign(&sig::RSA_PKCS1_SHA256, rng, msg, &mut out[..n])
                    .expect("RSA sign");
                n
            }
            Raw::Ec(kp) => kp.sign(rng, msg).expect("ECDSA sign").as_ref().len(),
            Raw::Ed(kp) => kp.sign(msg).as_ref().len(),
        }
    }
}

/// Nanoseconds this thread has run, and waited runnable for a CPU (another task held
/// it): the first two fields of /proc/thread-self/schedstat. Zeros where unavailable.
fn schedstat() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let mut f = text
        .split_whitespace()
        .map(|v| v.parse::<u64>().unwrap_or(0));
    (f.next().unwrap_or(0), f.next().unwrap_or(0))
}

/// Run `f` for `d` and return calls per second.
fn per_second(d: Duration, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n: u64 = 0;
    loop {
        for _ in 0..8 {
            f();
        }
        n += 8;
        let el = start.elapsed();
        if el >= d {
            return n as f64 / el.as_secs_f64();
        }
    }
}

fn rate(args: &[String]) -> anyhow::Result<()> {
    signer::install();
    let seconds: f64 = opt(args, "--seconds")
        .unwrap_or("5")
        .parse()
        .context("--seconds")?;
    let mut algs: Vec<KeyAlg> = args
        .windows(2)
        .filter(|w| w[0] == "--alg")
        .map(|w| w[1].parse().map_err(|e: String| anyhow!(e)))
        .collect::<anyhow::Result<_>>()?;
    if algs.is_empty() {
        algs = vec![KeyAlg::RS256, KeyAlg::ES256, KeyAlg::EdDSA];
    }
    // Two alternating halves each, so that a burst of noise hits both ways alike.
    let half = Duration::from_secs_f64(seconds / 4.0);
    for alg in algs {
        let m = from_pem(alg, &generate(alg)?).map_err(|e| anyhow!(e))?;
        let c = claims();
        let token = sign_access_token(&m, &c)?;
        let input = token.as_bytes()[..token.rfind('.').expect("a JWT")].to_vec();
        let raw = Raw::parse(&m)?;
        let rng = SystemRandom::new();
        let mut out = vec![0u8; 1024];
        let (mut ours, mut rawr) = (0.0, 0.0);
        let (start, (run0, wait0)) = (Instant::now(), schedstat());
        for _ in 0..2 {
            ours += per_second(half, || {
                std::hint::black_box(sign_access_token(&m, std::hint::black_box(&c)).unwrap());
            });
            rawr += per_second(half, || {
                std::hint::black_box(raw.sign(&rng, std::hint::black_box(&input), &mut out));
            });
        }
        let wall = start.elapsed().as_nanos() as f64;
        let (run1, wait1) = schedstat();
        // On a core of its own, the thread runs ~100% of the time and waits ~0%.
        println!(
            "alg={} ours={:.1} raw={:.1} token_bytes={} oncpu_pct={:.1} waited_pct={:.1}",
            alg.as_str(),
            ours / 2.0,
            rawr / 2.0,
            token.len(),
            100.0 * (run1 - run0) as f64 / wall,
            100.0 * (wait1 - wait0) as f64 / wall,
        );
    }
    Ok(())
}

fn verify(args: &[String]) -> anyhow::Result<()> {
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};

    signer::install();
    let jwks_file = opt(args, "--jwks").context("--jwks FILE")?;
    let issuer = opt(args, "--issuer").context("--issuer URL")?;
    let audience = opt(args, "--audience").context("--audience AUD")?;
    let tokens_file = args.last().context("TOKENS_FILE")?;
    let jwks: JwkSet = serde_json::from_slice(&std::fs::read(jwks_file)?).context("JWKS")?;
    let text = std::fs::read_to_string(tokens_file)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let (mut ok, mut failed) = (0, 0);
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for token in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let check = || -> anyhow::Result<String> {
            let header = decode_header(token)?;
            let kid = header.kid.as_deref().context("no kid")?;
            let jwk = jwks.find(kid).context("kid not in the JWKS")?;
            let alg = jwk
                .common
                .key_algorithm
                .context("JWK without alg")?
                .to_string()
                .parse::<jsonwebtoken::Algorithm>()?;
            if header.alg != alg {
                bail!("header alg {:?} is not the key's {alg:?}", header.alg);
            }
            let key = DecodingKey::from_jwk(jwk)?;
            let mut v = Validation::new(alg);
            v.set_issuer(&[issuer]);
            v.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
            let typ = header.typ.clone().unwrap_or_default();
            let kind = if typ.eq_ignore_ascii_case("at+jwt") {
                v.set_audience(&[audience]);
                "access"
            } else {
                // ID tokens: the audience is the client.
                v.validate_aud = false;
                "id"
            };
            let data = decode::<serde_json::Value>(token, &key, &v)?;
            if data.claims["exp"].as_i64().unwrap_or(0) <= now {
                bail!("expired");
            }
            Ok(format!("{kind}/{alg:?}"))
        };
        match check() {
            Ok(kind) => {
                ok += 1;
                *counts.entry(kind).or_default() += 1;
            }
            Err(e) => {
                failed += 1;
                let head: String = token.chars().take(24).collect();
                eprintln!("token {head}...: does not verify: {e:#}");
            }
        }
    }
    let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{k}={n}")).collect();
    println!(
        "verified={ok} failed={failed} ({})",
        if summary.is_empty() {
            "none".to_string()
        } else {
            summary.join(" ")
        }
    );
    if failed > 0 || ok == 0 {
        bail!("{failed} of {} token(s) did not verify", ok + failed);
    }
    Ok(())
}
