//! `portcullis registration-token ...`: initial access tokens for dynamic client
//! registration (RFC 7591 §3), given to whoever may register clients.

use clap::Subcommand;
use serde_json::json;

use super::context::now;
use crate::clock::rfc3339;
use crate::secret;
use crate::store::AnyConnection;
use crate::store::audit::{self, Event};
use crate::store::id::Id;
use crate::store::registration::{self as tokens, RegistrationTokenRow};

#[derive(Debug, Subcommand)]
pub enum RegistrationCommand {
    /// Make a token that lets its holder register clients (`POST /register` with
    /// `Authorization: Bearer ...`); it is printed this once.
    Create {
        /// Lifetime in seconds (default: does not expire).
        #[arg(long, value_name = "SECONDS")]
        expires_in: Option<i64>,
        /// How many clients it may register (default: no limit).
        #[arg(long, value_name = "N")]
        max_uses: Option<i64>,
        /// Clients it registers may introspect any token (resource servers); without
        /// it, a self-registered client introspects only its own tokens.
        #[arg(long)]
        allow_introspection: bool,
        #[arg(long)]
        json: bool,
    },
    /// List the tokens (never their values).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id; clients it registered stay.
    Revoke { id: String },
}

fn state(t: &RegistrationTokenRow, now: i64) -> &'static str {
    if t.revoked_at.is_some() {
        "revoked"
    } else if t.expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else if t.max_uses.is_some_and(|m| t.uses >= m) {
        "used up"
    } else {
        "active"
    }
}

pub fn run(cmd: RegistrationCommand, conn: &mut AnyConnection) -> anyhow::Result<()> {
    let t = now();
    match cmd {
        RegistrationCommand::Create {
            expires_in,
            max_uses,
            allow_introspection,
            json,
        } => {
            // At most ten years: beyond that a lifetime means "never", and the sum must not
            // overflow.
            if expires_in.is_some_and(|e| !(1..=315_360_000).contains(&e)) {
                anyhow::bail!("--expires-in: 1 second to 10 years (315360000)");
            }
            if max_uses.is_some_and(|m| m < 1) {
                anyhow::bail!("--max-uses: at least 1");
            }
            let token = crate::credential::generate(crate::credential::Kind::InitialAccess);
            let row = RegistrationTokenRow {
                id: Id::new_v7().to_string(),
                token_hash: secret::hash(&token),
                created_at: t,
                expires_at: expires_in.map(|e| t + e),
                max_uses,
                uses: 0,
                revoked_at: None,
                allow_introspection,
            };
            tokens::insert(conn, &row)?;
            let e = Event::new("registration_token.created", "success")
                .detail("id", row.id.clone())
                .detail("by", "operator");
            if let Err(err) = audit::record(conn, &e, t) {
                eprintln!("portcullis: warning: cannot write the audit event: {err}");
            }
            print_created(&token, &row, json);
        }
        RegistrationCommand::List { json } => {
            let all = tokens::list(conn)?;
            if all.is_empty() && !json {
                say!("no registration tokens");
            }
            for r in all {
                if json {
                    say!(
                        "{}",
                        json!({
                            "id": r.id, "created_at": r.created_at, "expires_at": r.expires_at,
                            "max_uses": r.max_uses, "uses": r.uses, "revoked_at": r.revoked_at,
                            "allow_introspection": r.allow_introspection,
                            "state": state(&r, t),
                        })
                    );
                } else {
                    say!(
                        "{}  {:<8}  used {}{}  created {}",
                        r.id,
                        state(&r, t),
                        r.uses,
                        r.max_uses.map(|m| format!(" of {m}")).unwrap_or_default(),
                        rfc3339(r.created_at)
                    );
                }
            }
        }
        RegistrationCommand::Revoke { id } => {
            if !tokens::revoke(conn, &id, t)? {
                anyhow::bail!("no live registration token with id {id:?}");
            }
            let e = Event::new("registration_token.revoked", "success")
                .detail("id", id.clone())
                .detail("by", "operator");
            if let Err(err) = audit::record(conn, &e, t) {
                eprintln!("portcullis: warning: cannot write the audit event: {err}");
            }
            say!("revoked registration token {id}");
        }
    }
    Ok(())
}

/// The new token, shown this once, and what it allows.
fn print_created(token: &str, row: &RegistrationTokenRow, json: bool) {
    if json {
        say!(
            "{}",
            json!({ "token": token, "id": row.id, "expires_at": row.expires_at, "max_uses": row.max_uses,
                    "allow_introspection": row.allow_introspection })
        );
    } else {
        say!("token:   {token}");
        say!("         (shown only now: give it to whoever may register clients)");
        say!("id:      {}", row.id);
        match row.expires_at {
            Some(e) => say!("expires: {}", rfc3339(e)),
            None => say!("expires: never"),
        }
        match row.max_uses {
            Some(m) => say!("uses:    at most {m}"),
            None => say!("uses:    no limit"),
        }
        if row.allow_introspection {
            say!("clients: may introspect any token");
        }
    }
}
