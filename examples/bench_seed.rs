//! Seed single-use credentials for `scripts/bench.sh`: authorization codes or
//! refresh tokens, written in plain text one per line, for a load generator that uses
//! each exactly once.
//!
//! ```text
//! bench_seed codes   --database-url URL --client-id ID --count N --out FILE
//! bench_seed refresh --database-url URL --client-id ID --count N --out FILE
//! ```
//!
//! The client must be registered with the authorization_code and refresh_token grants,
//! the scope `openid offline_access` and the redirect URI [`REDIRECT_URI`]. Rows are
//! written as the server writes them (`store::codes`, `store::refresh`,
//! `grants::refresh_token::issue_refresh`), for a user `bench-user` made here if missing.
//! Codes live for [`SEED_TTL`] seconds instead of the server's 60, so that a long run
//! can use them all. For codes, the PKCE verifier (the same for every code) is printed
//! on standard output as `verifier=...`; `count=N` follows in both modes.

use std::io::Write;

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use portcullis::clock::{Clock, SystemClock};
use portcullis::domain::scope::Scope;
use portcullis::domain::signin::SignInMethod;
use portcullis::oauth::grants::refresh_token::issue_refresh;
use portcullis::oauth::tokens::new_jti;
use portcullis::store::codes::{self, CodeRow};
use portcullis::store::db;
use portcullis::store::id::Id;
use portcullis::store::refresh::{Family, create_family};
use portcullis::store::users::{self, User};
use portcullis::{password, secret};
use sha2::{Digest, Sha256};

const REDIRECT_URI: &str = "http://127.0.0.1:9/cb";
const SCOPE: &str = "openid offline_access";
/// How long seeded codes and refresh tokens stay valid.
const SEED_TTL: i64 = 3600;

fn main() {
    if let Err(e) = run() {
        eprintln!("bench_seed: {e:#}");
        std::process::exit(1);
    }
}

fn opt<'a>(args: &'a [String], name: &str) -> anyhow::Result<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
        .with_context(|| format!("{name} is required"))
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = args.first().map(String::as_str).unwrap_or_default();
    if !matches!(kind, "codes" | "refresh") {
        bail!(
            "usage: bench_seed codes|refresh --database-url URL --client-id ID --count N --out FILE"
        );
    }
    let url = opt(&args, "--database-url")?;
    let client_id = opt(&args, "--client-id")?.to_string();
    let count: usize = opt(&args, "--count")?.parse().context("--count")?;
    let out_path = opt(&args, "--out")?;

    let mut conn = db::connect(url).map_err(|e| anyhow!("{e}"))?;
    db::migrate_conn(&mut conn).map_err(|e| anyhow!("{e}"))?;
    let now = SystemClock.now();
    let user = bench_user(&mut conn, now)?;

    let mut out = std::io::BufWriter::new(
        std::fs::File::create(out_path).with_context(|| out_path.to_string())?,
    );
    // A verifier of 64 unreserved characters (RFC 7636 §4.1) and its S256 challenge.
    let verifier = secret::random_token("", 48);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));

    let values = db::write_transaction(&mut conn, |conn| -> anyhow::Result<Vec<String>> {
        let mut values = Vec::with_capacity(count);
        for _ in 0..count {
            let value = match kind {
                "codes" => {
                    let code = secret::random_token("", 32);
                    codes::insert(
                        conn,
                        &CodeRow {
                            code_hash: secret::hash(&code),
                            client_id: client_id.clone(),
                            user_id: user.id,
                            session_id: None,
                            redirect_uri: REDIRECT_URI.into(),
                            redirect_uri_given: true,
                            scope: Scope::parse(SCOPE)?,
                            nonce: None,
                            code_challenge: challenge.clone(),
                            auth_time: now,
                            created_at: now,
                            expires_at: now + SEED_TTL,
                            consumed_at: None,
                            issued_jti: None,
                            issued_exp: None,
                            family_id: None,
                            dpop_jkt: None,
                            resources: String::new(),
                            amr: SignInMethod::Password,
                        },
                    )?;
                    code
                }
                _ => {
                    let family = Family {
                        id: Id::new_v7(),
                        client_id: client_id.clone(),
                        user_id: user.id,
                        scope: Scope::parse(SCOPE)?,
                        auth_time: now,
                        created_at: now,
                        expires_at: now + SEED_TTL,
                        revoked_at: None,
                        revoked_reason: None,
                        dpop_jkt: None,
                        resources: String::new(),
                        amr: SignInMethod::Password,
                    };
                    create_family(conn, &family)?;
                    issue_refresh(conn, &family, &new_jti(), now + 600, SEED_TTL, now)?
                }
            };
            values.push(value);
        }
        Ok(values)
    })?;
    for v in &values {
        writeln!(out, "{v}")?;
    }
    out.flush()?;
    if kind == "codes" {
        println!("verifier={verifier}");
    }
    println!("count={}", values.len());
    Ok(())
}

fn bench_user(conn: &mut db::AnyConnection, now: i64) -> anyhow::Result<User> {
    if let Some(u) = users::find_by_username(conn, "bench-user")? {
        return Ok(u);
    }
    let user = User {
        id: Id::new_v7(),
        username: "bench-user".into(),
        email: Some("bench-user@example.com".into()),
        password_hash: password::hash(&secret::random_token("", 16))
            .map_err(|e| anyhow!("password hash: {e}"))?,
        created_at: now,
        updated_at: now,
        name: Some("Bench User".into()),
        email_verified: true,
        api_scopes: None,
    };
    users::insert(conn, &user)?;
    Ok(user)
}
