//! What a client signs, from the shell: a key pair, its public JWK Set, DPoP proofs
//! (RFC 9449 §4.2) and `private_key_jwt` client assertions (RFC 7523 §2.2). For the
//! README's walk-throughs and for trying the server by hand; a real client uses its own
//! JOSE library.
//!
//! ```text
//! client_jose keygen [ES256|EdDSA|RS256]          > client-key.pem
//! client_jose jwks KEY.pem                        > client-jwks.json
//! client_jose thumbprint KEY.pem                  (the RFC 7638 jkt of the key)
//! client_jose dpop KEY.pem METHOD URL [ACCESS_TOKEN]
//! client_jose assertion KEY.pem CLIENT_ID AUDIENCE
//! client_jose dpops N KEY.pem METHOD URL          (N proofs, one per line: benchmarks)
//! client_jose assertions N KEY.pem CLIENT_ID AUDIENCE
//! ```
//!
//! The algorithm of a key is read from its PEM (PKCS#8): EC P-256 is ES256, Ed25519 is
//! EdDSA, RSA is RS256.

use anyhow::{Context, bail};
use jsonwebtoken::{Header, encode};
use portcullis::keys::material::{KeyAlg, Material, from_pem, generate};
use serde_json::json;

fn load(path: &str) -> anyhow::Result<Material> {
    let pem = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    for alg in [KeyAlg::ES256, KeyAlg::EdDSA, KeyAlg::RS256] {
        if let Ok(m) = from_pem(alg, &pem) {
            return Ok(m);
        }
    }
    bail!("{path}: not a PKCS#8 EC P-256, Ed25519 or RSA private key")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn dpop(
    m: &Material,
    method: &str,
    url: &str,
    access_token: Option<&str>,
) -> anyhow::Result<String> {
    let mut claims = json!({
        "jti": uuid::Uuid::new_v4().to_string(),
        "htm": method,
        "htu": url,
        "iat": now(),
    });
    if let Some(token) = access_token {
        claims["ath"] = portcullis::oauth::dpop::ath(token).into();
    }
    let mut header = Header::new(m.alg.jwt());
    header.typ = Some("dpop+jwt".into());
    header.jwk = Some(serde_json::from_value(m.public_jwk.clone())?);
    Ok(encode(&header, &claims, &m.encoding)?)
}

fn assertion(m: &Material, client_id: &str, audience: &str) -> anyhow::Result<String> {
    let t = now();
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": t,
        "exp": t + 60,
        "jti": uuid::Uuid::new_v4().to_string(),
    });
    let mut header = Header::new(m.alg.jwt());
    header.kid = Some(m.kid.clone());
    Ok(encode(&header, &claims, &m.encoding)?)
}

fn count(arg: &str) -> anyhow::Result<usize> {
    arg.parse().with_context(|| format!("{arg}: not a count"))
}

fn main() -> anyhow::Result<()> {
    portcullis::keys::signer::install();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    match (arg(0), args.len()) {
        (Some("keygen"), 1 | 2) => {
            let alg = match arg(1).unwrap_or("ES256") {
                "ES256" => KeyAlg::ES256,
                "EdDSA" => KeyAlg::EdDSA,
                "RS256" => KeyAlg::RS256,
                other => bail!("unknown algorithm {other}: ES256, EdDSA or RS256"),
            };
            print!("{}", generate(alg)?);
        }
        (Some("jwks"), 2) => {
            let m = load(&args[1])?;
            println!("{}", json!({ "keys": [m.public_jwk] }));
        }
        (Some("thumbprint"), 2) => println!("{}", load(&args[1])?.kid),
        (Some("dpop"), 4 | 5) => {
            println!("{}", dpop(&load(&args[1])?, &args[2], &args[3], arg(4))?);
        }
        (Some("assertion"), 4) => {
            println!("{}", assertion(&load(&args[1])?, &args[2], &args[3])?);
        }
        (Some("dpops"), 5) => {
            let m = load(&args[2])?;
            let mut out = String::new();
            for _ in 0..count(&args[1])? {
                out.push_str(&dpop(&m, &args[3], &args[4], None)?);
                out.push('\n');
            }
            print!("{out}");
        }
        (Some("assertions"), 5) => {
            let m = load(&args[2])?;
            let mut out = String::new();
            for _ in 0..count(&args[1])? {
                out.push_str(&assertion(&m, &args[3], &args[4])?);
                out.push('\n');
            }
            print!("{out}");
        }
        _ => bail!(
            "usage: client_jose keygen [ES256|EdDSA|RS256] | jwks KEY | thumbprint KEY | dpop KEY METHOD URL [ACCESS_TOKEN] | assertion KEY CLIENT_ID AUDIENCE | dpops N KEY METHOD URL | assertions N KEY CLIENT_ID AUDIENCE"
        ),
    }
    Ok(())
}
