//! The command line: `serve` and the admin commands. Every command reads the same
//! settings (flags > environment > config file > defaults).

/// `println!` for command output, except that a closed pipe (`portcullis ... | head`)
/// ends the command quietly, as Unix tools do, instead of panicking.
macro_rules! say {
    () => {
        $crate::cli::write_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_line(format_args!($($arg)*))
    };
}

mod audit;
mod client;
mod context;
mod keys;
mod registration;
mod token;
mod user;

use clap::{Parser, Subcommand};

use crate::config::{CommonArgs, Settings, SettingsArgs};
use crate::store::{AnyConnection, db};
use context::{Base, now};

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "OAuth 2.0 and OpenID Connect authorization server"
)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies pending migrations first). Every setting has a flag
    /// here, an environment variable and a config-file key.
    Serve(Box<SettingsArgs>),
    #[command(flatten)]
    Admin(Admin),
}

impl Cli {
    /// The settings of the command given, before validation.
    pub fn settings(&self) -> Result<SettingsArgs, crate::config::ConfigError> {
        match &self.command {
            Command::Serve(args) => Ok((**args).clone().with_common(&self.common)),
            Command::Admin(_) => SettingsArgs::for_admin(&self.common),
        }
    }
}

/// The administration commands, run against the same database and keys as the server.
#[derive(Debug, Subcommand)]
pub enum Admin {
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(Box<client::ClientCommand>),
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
    /// Initial access tokens for dynamic client registration (PORTCULLIS_REGISTRATION).
    #[command(subcommand, name = "registration-token")]
    RegistrationToken(registration::RegistrationCommand),
    /// Delete what has expired: codes, sessions, revocation records, refresh-token
    /// families, sign-in requests in progress (and pushed ones), attempt counters, used
    /// DPoP proof and client assertion ids, openly registered clients that signed nobody
    /// in within PORTCULLIS_REGISTRATION_UNUSED_DAYS (30), and audit events older
    /// than PORTCULLIS_AUDIT_RETENTION_DAYS, 365 by default (`serve` also does this
    /// every 10 minutes).
    Purge,
}

/// Run an admin command (`serve` is the server's: `server::serve`).
pub fn run(command: Admin, settings: Settings) -> anyhow::Result<()> {
    // The format alone: no database.
    if let Admin::Token(token::TokenCommand::Check { value, json }) = &command {
        return token::check(value, *json);
    }
    if command.only_reads() {
        refuse_missing_sqlite(&settings)?;
    }
    match command {
        Admin::Migrate => {
            let mut conn = open_db(&settings)?;
            let n = crate::store::upgrade::migrate(&mut conn)?;
            say!("applied {n} migration(s)");
            Ok(())
        }
        Admin::Client(c) => client::run(*c, &mut open_migrated(&settings)?, settings.profile),
        Admin::User(c) => {
            let base = match &settings.issuer {
                Some(issuer) => Base::Issuer(issuer.clone()),
                None => Base::Default(format!("http://{}", settings.bind)),
            };
            user::run(
                c,
                &mut open_migrated(&settings)?,
                &settings.api_scopes,
                &base,
            )
        }
        Admin::Keys(c) => keys::run(c, &mut open_migrated(&settings)?, &settings),
        Admin::Token(c) => token::run(c, &mut open_migrated(&settings)?),
        Admin::Audit(c) => audit::run(c, &mut open_migrated(&settings)?),
        Admin::RegistrationToken(c) => registration::run(c, &mut open_migrated(&settings)?),
        Admin::Purge => {
            let mut conn = open_migrated(&settings)?;
            let p = crate::store::purge::run(
                &mut conn,
                now(),
                settings.access_token_ttl,
                settings.session_idle_ttl,
                settings.audit_retention_days,
                settings.registration_unused_days,
            )?;
            say!(
                "purged {} code(s), {} session(s), {} revocation record(s), {} refresh-token famil(ies), {} sign-in request(s), {} attempt window(s), {} used proof/assertion id(s) and pushed request(s), {} unused open registration(s), {} audit event(s)",
                p.codes,
                p.sessions,
                p.revoked,
                p.families,
                p.transactions,
                p.throttle_windows,
                p.single_use,
                p.unused_clients,
                p.audit_events
            );
            Ok(())
        }
    }
}

impl Admin {
    /// Commands that only look: run against a SQLite file that is not there (from
    /// another directory, say), they must not create an empty database and report it.
    fn only_reads(&self) -> bool {
        match self {
            Admin::Client(c) => matches!(
                **c,
                client::ClientCommand::List { .. } | client::ClientCommand::Show { .. }
            ),
            Admin::User(c) => matches!(c, user::UserCommand::List { .. }),
            Admin::Keys(c) => matches!(c, keys::KeysCommand::List { .. }),
            Admin::Token(c) => matches!(c, token::TokenCommand::List { .. }),
            Admin::Audit(_) => true,
            Admin::RegistrationToken(c) => {
                matches!(c, registration::RegistrationCommand::List { .. })
            }
            _ => false,
        }
    }
}

fn refuse_missing_sqlite(settings: &Settings) -> anyhow::Result<()> {
    let url = &settings.database_url;
    if db::Backend::of(url) == db::Backend::Sqlite {
        let path = db::sqlite_path(url);
        // (an unknown scheme is named by the connection, not here)
        if !path.starts_with(':')
            && !path.starts_with("file:")
            && !path.contains("://")
            && !std::path::Path::new(path).exists()
        {
            anyhow::bail!(
                "database (--database-url / DATABASE_URL): {path} does not exist; run this where `portcullis serve` runs, or set DATABASE_URL"
            );
        }
    }
    Ok(())
}

fn open_db(settings: &Settings) -> anyhow::Result<AnyConnection> {
    db::connect(&settings.database_url)
        .map_err(|e| anyhow::anyhow!("database (--database-url / DATABASE_URL): {e}"))
}

fn open_migrated(settings: &Settings) -> anyhow::Result<AnyConnection> {
    let mut conn = open_db(settings)?;
    crate::store::upgrade::migrate(&mut conn).map_err(|e| anyhow::anyhow!("database: {e}"))?;
    Ok(conn)
}

/// One line of command output (`say!`). A reader that went away (broken pipe) ends the
/// command with the status a shell gives a process killed by SIGPIPE (128 + 13); any
/// other failure to write is reported and is an error.
pub(crate) fn write_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("portcullis: cannot write the output: {e}");
        std::process::exit(1);
    }
}
