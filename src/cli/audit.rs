//! `portcullis audit list`: the security event trail, for operators.

use clap::Subcommand;

use crate::clock::{parse_time, rfc3339};
use crate::escape::{inert, json_inert};
use crate::store::audit::{self, Filter};
use crate::store::{AnyConnection, users};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Events, newest first.
    List {
        /// Only this user's events (username).
        #[arg(long)]
        user: Option<String>,
        /// Only this client's events (client_id).
        #[arg(long)]
        client: Option<String>,
        /// Only events of this kind, e.g. pat.used, signin.failure.
        #[arg(long)]
        kind: Option<String>,
        /// Only events at or after this time: unix seconds, YYYY-MM-DD or RFC 3339 (UTC).
        #[arg(long)]
        since: Option<String>,
        /// At most this many events.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: AuditCommand, conn: &mut AnyConnection) -> anyhow::Result<()> {
    let AuditCommand::List {
        user,
        client,
        kind,
        since,
        limit,
        json,
    } = cmd;
    let user_id = match user {
        Some(u) => Some(
            users::find_by_username(conn, &u)?
                .ok_or_else(|| anyhow::anyhow!("no user {u:?}"))?
                .id,
        ),
        None => None,
    };
    let since = match since {
        Some(s) => Some(parse_time(&s).ok_or_else(|| {
            anyhow::anyhow!(
                "--since: {s:?} is not unix seconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"
            )
        })?),
        None => None,
    };
    let filter = Filter {
        user_id,
        client_id: client,
        kind,
        since,
        limit: limit.clamp(1, 100_000),
        offset: 0,
    };
    for e in audit::list(conn, &filter)? {
        if json {
            let mut v = serde_json::to_value(&e)?;
            // Details are stored as JSON text: show them as an object.
            v["details"] = serde_json::from_str(&e.details).unwrap_or(serde_json::Value::Null);
            // Valid JSON, the same values, but no raw control character in the output.
            say!("{}", json_inert(&v.to_string()));
        } else {
            // Every field may hold what a caller typed: one event stays one line, and
            // no control character (a newline, an ESC sequence) reaches the terminal.
            say!(
                "{}  {:<24} {:<10} user={} client={} ip={} {}",
                rfc3339(e.at),
                inert(&e.kind),
                inert(&e.outcome),
                e.user_id
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| "-".into()),
                inert(e.client_id.as_deref().unwrap_or("-")),
                inert(e.ip.as_deref().unwrap_or("-")),
                inert(&e.details)
            );
        }
    }
    Ok(())
}
