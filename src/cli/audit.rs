//! `portcullis audit list`: the security event trail, for operators.

use clap::Subcommand;

use crate::clock::{parse_time, rfc3339};
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
            println!("{v}");
        } else {
            // Every field may hold what a caller typed: one event stays one line, and
            // no control character (a newline, an ESC sequence) reaches the terminal.
            println!(
                "{}  {:<24} {:<10} user={} client={} ip={} {}",
                rfc3339(e.at),
                escape(&e.kind),
                escape(&e.outcome),
                e.user_id
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| "-".into()),
                escape(e.client_id.as_deref().unwrap_or("-")),
                escape(e.ip.as_deref().unwrap_or("-")),
                escape(&e.details)
            );
        }
    }
    Ok(())
}

/// `s` with every control character (C0, DEL, C1) and every bidirectional formatting
/// character written as a `\u{..}` escape, so that it prints as one inert line.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi || c == '\\' {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_never_reach_the_terminal() {
        let forged = "x\n2026-11-30T00:00:00Z  signin.success \u{1b}[2J\u{202e}\r";
        let out = super::escape(forged);
        assert!(
            !out.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{out}"
        );
        assert!(out.contains("\\u{a}") && out.contains("\\u{1b}"));
        assert_eq!(super::escape("plain text"), "plain text");
    }
}
