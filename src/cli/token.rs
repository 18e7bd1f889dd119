//! `portcullis token ...`: personal API tokens, for operators.

use clap::Subcommand;
use serde_json::json;

use super::context::now;
use crate::accounts::Actor;
use crate::accounts::tokens;
use crate::clock::rfc3339;
use crate::store::db::write_transaction;
use crate::store::id::Id;
use crate::store::{AnyConnection, pat, users};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// List a person's personal API tokens (never the token values).
    List {
        #[arg(long)]
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a personal API token by id.
    Revoke { id: String },
    /// Say which kind of our credentials a string is and whether its checksum holds,
    /// without a database (`-` reads the string from standard input, out of the shell's
    /// history). Exits 1 when it is not one of ours.
    Check {
        value: String,
        #[arg(long)]
        json: bool,
    },
}

/// `token check`: the format alone (`credential::recognise`), no lookup.
pub fn check(value: &str, json: bool) -> anyhow::Result<()> {
    let value = if value == "-" {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim().to_string()
    } else {
        value.trim().to_string()
    };
    let kind = crate::credential::recognise(&value);
    // What its prefix claims, when the rest does not hold.
    let claimed = crate::credential::Kind::ALL
        .iter()
        .find(|k| value.starts_with(k.prefix()));
    if json {
        say!(
            "{}",
            json!({
                "ours": kind.is_some(),
                "kind": kind.map(|k| k.label()),
                "prefix_of": claimed.map(|k| k.label()),
                "checksum_holds": kind.is_some(),
            })
        );
    } else {
        match kind {
            Some(k) => say!(
                "a {} ({}…) of this server's format; its checksum holds (whether it is live, only the server knows: report it at POST /credentials/revoke)",
                k.describe(),
                k.prefix()
            ),
            None => match claimed {
                Some(k) => say!(
                    "not one of ours: it starts like a {} ({}…), but its length, characters or checksum do not hold (a typo, or a truncated copy)",
                    k.describe(),
                    k.prefix()
                ),
                None => say!("not a credential of this server's format (no known prefix)"),
            },
        }
    }
    if kind.is_none() {
        std::process::exit(1);
    }
    Ok(())
}

pub fn run(cmd: TokenCommand, conn: &mut AnyConnection) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Check { value, json } => check(&value, json)?,
        TokenCommand::List { user, json } => {
            let u = users::find_by_username(conn, &user)?
                .ok_or_else(|| anyhow::anyhow!("no user {user:?}"))?;
            let t = now();
            for p in pat::list_for_user(conn, u.id)? {
                let state = if p.revoked_at.is_some() {
                    "revoked"
                } else if !p.is_live(t) {
                    "expired"
                } else {
                    "active"
                };
                if json {
                    say!(
                        "{}",
                        json!({
                            "id": p.id.to_string(), "name": p.name, "scope": p.scope.to_string(),
                            "state": state, "created_at": p.created_at, "expires_at": p.expires_at,
                            "revoked_at": p.revoked_at, "last_used_at": p.last_used_at,
                            "last_used_ip": p.last_used_ip, "allowed_ips": p.allowed_ips.to_string(),
                        })
                    );
                } else {
                    say!(
                        "{}  {:<8} {:<24} {:<24} expires {}",
                        p.id,
                        state,
                        p.name,
                        p.scope.to_string(),
                        p.expires_at.map_or_else(|| "never".into(), rfc3339)
                    );
                }
            }
        }
        TokenCommand::Revoke { id } => {
            let parsed = uuid::Uuid::parse_str(&id)
                .map(Id)
                .map_err(|_| anyhow::anyhow!("{id:?} is not a token id"))?;
            let revoked = write_transaction(conn, |conn| {
                tokens::revoke(conn, parsed, None, &Actor::Operator, now())
            })?;
            if !revoked {
                anyhow::bail!("no active token with id {id}");
            }
            say!("revoked token {id}");
        }
    }
    Ok(())
}
