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
