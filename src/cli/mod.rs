//! The command line: `serve` and the admin commands. Every command reads the same
//! settings (flags > environment > config file > defaults).

mod audit;
mod client;
mod keys;
mod token;
mod user;

use clap::{Parser, Subcommand};

use crate::clock::{Clock, SystemClock};
use crate::config::{Settings, SettingsArgs};
use crate::store::{AnyConnection, db};

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "OAuth 2.0 and OpenID Connect authorization server"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Manage personal API tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Read the audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Delete expired codes, sessions, revocation records and refresh-token families
    /// (`serve` also does this every 10 minutes).
    Purge,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_args(&cli.settings)?;
    match cli.command {
        Command::Serve => serve(settings),
        Command::Migrate => {
            let mut conn = open_db(&settings)?;
            let n = db::migrate_conn(&mut conn)?;
            println!("applied {n} migration(s)");
            Ok(())
        }
        Command::Client(c) => client::run(c, &mut open_migrated(&settings)?),
        Command::User(c) => user::run(c, &mut open_migrated(&settings)?, &settings.api_scopes),
        Command::Keys(c) => keys::run(c, &settings),
        Command::Token(c) => token::run(c, &mut open_migrated(&settings)?),
        Command::Audit(c) => audit::run(c, &mut open_migrated(&settings)?),
        Command::Purge => {
            let mut conn = open_migrated(&settings)?;
            let p = crate::store::purge::run(
                &mut conn,
                now(),
                settings.access_token_ttl,
                settings.session_idle_ttl,
                settings.audit_retention_days,
            )?;
            println!(
                "purged {} code(s), {} session(s), {} revocation record(s), {} refresh-token famil(ies), {} audit event(s)",
                p.codes, p.sessions, p.revoked, p.families, p.audit_events
            );
            Ok(())
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let running = crate::server::start(settings, std::sync::Arc::new(SystemClock)).await?;
        running.wait().await?;
        Ok(())
    })
}

fn open_db(settings: &Settings) -> anyhow::Result<AnyConnection> {
    db::connect(&settings.database_url)
        .map_err(|e| anyhow::anyhow!("database (--database-url / DATABASE_URL): {e}"))
}

fn open_migrated(settings: &Settings) -> anyhow::Result<AnyConnection> {
    let mut conn = open_db(settings)?;
    db::migrate_conn(&mut conn).map_err(|e| anyhow::anyhow!("database: {e}"))?;
    Ok(conn)
}

fn now() -> i64 {
    SystemClock.now()
}

/// RFC 3339 for people reading CLI output.
pub fn human_time(t: i64) -> String {
    let secs = t.rem_euclid(86_400);
    let days = t.div_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm), to avoid a date crate for one line.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Unix seconds of `YYYY-MM-DD` (00:00 UTC) or `YYYY-MM-DDTHH:MM:SSZ`, or plain seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z')?)),
        None => (s, None),
    };
    let mut it = date.split('-');
    let (y, m, d): (i64, i64, i64) = (
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    );
    if it.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil (Howard Hinnant), the inverse of `human_time`.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = match time {
        None => 0,
        Some(t) => {
            let p: Vec<i64> = t
                .split(':')
                .map(|x| x.parse().ok())
                .collect::<Option<_>>()?;
            match p.as_slice() {
                [h, mi, s] if *h < 24 && *mi < 60 && *s < 61 => h * 3600 + mi * 60 + s,
                _ => return None,
            }
        }
    };
    Some(days * 86_400 + secs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parse_time_inverts_human_time() {
        for t in [0, 1_795_000_000, 951_782_400] {
            assert_eq!(super::parse_time(&super::human_time(t)), Some(t));
        }
        assert_eq!(
            super::parse_time("2026-11-18"),
            Some(1_795_000_000 - 40_000)
        );
        assert_eq!(super::parse_time("2026-13-01"), None);
        assert_eq!(super::parse_time("yesterday"), None);
    }

    #[test]
    fn human_time_is_rfc3339() {
        assert_eq!(super::human_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::human_time(1_795_000_000), "2026-11-18T11:06:40Z");
    }
}
