//! `portcullis user ...`

use std::io::Read;

use clap::Subcommand;
use serde_json::json;

use super::context::now;
use crate::accounts::Actor;
use crate::accounts::users as accounts;
use crate::clock::rfc3339;
use crate::domain::scope::Scope;
use crate::password;
use crate::store::id::Id;
use crate::store::{AnyConnection, db, users};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create(Box<CreateArgs>),
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a user.
    Delete { username: String },
    /// Limit the API scopes a person may give personal tokens (space-separated, "" for
    /// none), or give back the whole catalogue with --all. Their live tokens are narrowed
    /// to match; a token left with no scope is revoked.
    SetApiScopes {
        username: String,
        #[arg(value_name = "SCOPES", required_unless_present = "all")]
        scopes: Option<String>,
        #[arg(long, conflicts_with = "scopes")]
        all: bool,
    },
    /// Set a user's password, read from standard input.
    SetPassword {
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Turn off a person's two-factor sign-in (authenticator app and recovery codes) and
    /// remove their passkeys, for someone who lost them: make sure it is them first. Ends all their sessions; they
    /// sign in with their password and can turn it on again. Audited.
    #[command(name = "reset-2fa")]
    Reset2fa { username: String },
    /// Print a single-use link where the person sets a new password (there is no mail
    /// server: give it to them yourself). Using it ends all their sessions and app
    /// sign-ins.
    ResetLink {
        username: String,
        /// Lifetime in seconds (default 900, at most a week).
        #[arg(long, value_name = "SECONDS", default_value_t = 900)]
        expires_in: i64,
        #[arg(long)]
        json: bool,
    },
}

/// `user create`'s flags.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[arg(long)]
    pub username: String,
    #[arg(long)]
    pub email: Option<String>,
    /// The operator vouches for the email address (`email_verified` in userinfo).
    #[arg(long)]
    pub email_verified: bool,
    /// Full name (the OpenID Connect `name` claim).
    #[arg(long)]
    pub name: Option<String>,
    /// API scopes the person may give personal tokens, space-separated, from the
    /// catalogue (the server's --api-scopes); default: the whole catalogue. (Not
    /// `--api-scopes`: that global flag sets the catalogue itself.)
    #[arg(long = "allowed-api-scopes", value_name = "SCOPES")]
    pub allowed_api_scopes: Option<String>,
    /// Read the password from standard input (the only way: never on the command line).
    #[arg(long, required = true)]
    pub password_stdin: bool,
    #[arg(long)]
    pub json: bool,
}

/// The password from standard input: piped, or typed at a prompt that does not echo
/// when standard input is a terminal (twice, to catch a typo).
///
/// NIST SP 800-63B §5.1.1.2: at least 8 characters; we also cap the length so that a
/// huge input cannot make hashing expensive.
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal;
    let pw = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password (again): ")?;
        if first != again {
            anyhow::bail!("password: the two entries differ");
        }
        first
    } else {
        let mut buf = String::new();
        std::io::stdin().take(4096).read_to_string(&mut buf)?;
        buf.strip_suffix("\r\n")
            .or_else(|| buf.strip_suffix('\n'))
            .unwrap_or(&buf)
            .to_string()
    };
    let chars = pw.chars().count();
    if chars == 0 {
        anyhow::bail!(
            "password: no password on standard input (pipe it in, e.g. `printf '%s' \"$PASSWORD\" | portcullis user create ...`)"
        );
    }
    if chars < 8 {
        anyhow::bail!("password: must be at least 8 characters");
    }
    if chars > 1024 {
        anyhow::bail!("password: must be at most 1024 characters");
    }
    Ok(pw)
}

/// Characters that change how text around them is shown without being seen (bidi
/// overrides and isolates, zero-width spaces and joiners, the BOM: `escape::dangerous`),
/// and the soft hyphen. A name with one could pass for another on the consent page.
fn invisible(c: char) -> bool {
    crate::escape::dangerous(c) || c == '\u{00AD}'
}

fn validate_username(u: &str) -> anyhow::Result<()> {
    if u.is_empty()
        || u.chars().count() > 64
        || u.chars()
            .any(|c| c.is_whitespace() || c.is_control() || invisible(c))
    {
        anyhow::bail!(
            "username: 1 to 64 characters, no spaces, control or invisible formatting characters"
        );
    }
    Ok(())
}

fn validate_email(e: &str) -> anyhow::Result<()> {
    let ok = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'))
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if !ok {
        anyhow::bail!("email: {e:?} is not an email address");
    }
    Ok(())
}

/// A space-separated list of API scopes, each from the catalogue.
fn api_scope_list(s: &str, catalogue: &[(String, String)]) -> anyhow::Result<Scope> {
    let scope = Scope::parse(&s.split_whitespace().collect::<Vec<_>>().join(" "))
        .map_err(|e| anyhow::anyhow!("api scopes: {e}"))?;
    if let Some(w) = scope
        .iter()
        .find(|w| !catalogue.iter().any(|(n, _)| n == w))
    {
        let known: Vec<&str> = catalogue.iter().map(|(n, _)| n.as_str()).collect();
        anyhow::bail!(
            "api scopes: {w:?} is not in the API scope catalogue ({})",
            known.join(" ")
        );
    }
    Ok(scope)
}

/// `catalogue`: the API scopes of the configuration (`--api-scopes`).
pub fn run(
    cmd: UserCommand,
    conn: &mut AnyConnection,
    catalogue: &[(String, String)],
    base: &super::context::Base,
) -> anyhow::Result<()> {
    match cmd {
        UserCommand::ResetLink {
            username,
            expires_in,
            json,
        } => reset_link(conn, base, &username, expires_in, json),
        UserCommand::Create(a) => create(conn, catalogue, *a),
        UserCommand::List { json } => list(conn, json),
        UserCommand::Delete { username } => {
            let ended = for_user(conn, &username, |conn, user| {
                accounts::delete(conn, user, &Actor::Operator, now())
            })?;
            say!("deleted user {username}; ended {ended} session(s)");
            Ok(())
        }
        UserCommand::SetApiScopes {
            username,
            scopes,
            all,
        } => set_api_scopes(conn, catalogue, &username, scopes, all),
        UserCommand::Reset2fa { username } => reset_2fa(conn, &username),
        UserCommand::SetPassword { username, .. } => set_password(conn, &username),
    }
}

/// `f` on `username`'s account, in one write transaction.
fn for_user<T>(
    conn: &mut AnyConnection,
    username: &str,
    f: impl FnOnce(&mut AnyConnection, Id) -> diesel::QueryResult<T>,
) -> anyhow::Result<T> {
    db::write_transaction(conn, |conn| -> anyhow::Result<_> {
        let Some(user) = users::find_by_username(conn, username)? else {
            anyhow::bail!("no user {username:?}");
        };
        Ok(f(conn, user.id)?)
    })
}

fn list(conn: &mut AnyConnection, json: bool) -> anyhow::Result<()> {
    for u in users::list(conn)? {
        if json {
            say!(
                "{}",
                json!({
                    "id": u.id.to_string(),
                    "username": u.username,
                    "email": u.email,
                    "created_at": u.created_at,
                    // null: every scope of the catalogue.
                    "api_scopes": u.api_scopes.as_ref().map(Scope::to_string),
                })
            );
        } else {
            say!(
                "{}  {:<24} {:<32} {}",
                u.id,
                u.username,
                u.email.as_deref().unwrap_or("-"),
                rfc3339(u.created_at)
            );
        }
    }
    Ok(())
}

fn reset_2fa(conn: &mut AnyConnection, username: &str) -> anyhow::Result<()> {
    let ended = for_user(conn, username, |conn, user| {
        accounts::reset_second_factor(conn, user, &Actor::Operator, now())
    })?;
    match ended {
        Some(r) => say!(
            "two-factor sign-in is off for {username}{}; ended {} session(s). They sign in with their password and can turn it on again.",
            match r.passkeys {
                0 => String::new(),
                n => format!(", {n} passkey(s) removed"),
            },
            r.sessions
        ),
        None => anyhow::bail!("{username} has no two-factor sign-in or passkey to reset"),
    }
    Ok(())
}

fn set_password(conn: &mut AnyConnection, username: &str) -> anyhow::Result<()> {
    let Some(found) = users::find_by_username(conn, username)? else {
        anyhow::bail!("no user {username:?}");
    };
    let pw = read_password()?;
    let known = password::Known {
        username: &found.username,
        email: found.email.as_deref(),
        name: found.name.as_deref(),
    };
    password::acceptable(&pw, &known).map_err(|why| anyhow::anyhow!("password: {why}"))?;
    let hash = password::hash(&pw).map_err(|e| anyhow::anyhow!("password hashing: {e}"))?;
    let ended = for_user(conn, username, |conn, user| {
        accounts::set_password(conn, user, &hash, &Actor::Operator, now())
    })?;
    say!(
        "password changed for {username}; ended {} session(s) and {} refresh-token famil(ies)",
        ended.sessions,
        ended.families
    );
    Ok(())
}

/// A single-use link where the person sets a new password.
fn reset_link(
    conn: &mut AnyConnection,
    base: &super::context::Base,
    username: &str,
    expires_in: i64,
    json: bool,
) -> anyhow::Result<()> {
    if !(60..=7 * 86_400).contains(&expires_in) {
        anyhow::bail!("--expires-in: 60 seconds to a week (604800)");
    }
    let Some(user) = users::find_by_username(conn, username)? else {
        anyhow::bail!("no user {username:?}");
    };
    let token = crate::credential::generate(crate::credential::Kind::ResetLink);
    let t = now();
    let row = crate::store::resets::ResetRow {
        id: Id::new_v7().to_string(),
        token_hash: crate::secret::hash(&token),
        user_id: user.id,
        created_at: t,
        expires_at: t + expires_in,
        used_at: None,
    };
    db::write_transaction(conn, |conn| -> anyhow::Result<()> {
        // One live link per person: a new one cancels the ones before.
        crate::store::resets::cancel_for_user(conn, user.id, t)?;
        crate::store::resets::insert(conn, &row)?;
        let e = crate::store::audit::Event::new("user.reset_link_created", "success")
            .user(user.id)
            .detail("expires_at", row.expires_at);
        crate::store::audit::record(conn, &Actor::Operator.stamp(e), t)?;
        Ok(())
    })?;
    let base_url = match base {
        super::context::Base::Issuer(issuer) => issuer,
        super::context::Base::Default(guess) => {
            eprintln!(
                "portcullis: note: no issuer given (--issuer / PORTCULLIS_ISSUER), so \
                 the link starts with {guess}; give this command the issuer your \
                 servers use"
            );
            guess
        }
    };
    let url = format!("{}/reset?token={token}", base_url.trim_end_matches('/'));
    if json {
        say!(
            "{}",
            serde_json::json!({ "url": url, "expires_at": row.expires_at })
        );
    } else {
        say!("{url}");
        say!(
            "(single use, until {}; give it to {username} yourself)",
            crate::clock::rfc3339(row.expires_at)
        );
    }
    Ok(())
}

fn create(
    conn: &mut AnyConnection,
    catalogue: &[(String, String)],
    a: CreateArgs,
) -> anyhow::Result<()> {
    let CreateArgs {
        username,
        email,
        email_verified,
        name,
        allowed_api_scopes,
        password_stdin: _,
        json,
    } = a;
    validate_username(&username)?;
    if let Some(n) = &name
        && (n.chars().count() > 100 || n.chars().any(invisible))
    {
        anyhow::bail!(
            "name: at most 100 characters, no control or invisible formatting characters"
        );
    }
    let api_scopes = allowed_api_scopes
        .map(|s| api_scope_list(&s, catalogue))
        .transpose()?;
    if let Some(e) = &email {
        validate_email(e)?;
    }
    // Names differing only in case would pass for one another.
    if users::username_taken(conn, &username)? {
        anyhow::bail!("username: {username:?} is taken (names are compared ignoring case)");
    }
    let pw = read_password()?;
    let known = password::Known {
        username: &username,
        email: email.as_deref(),
        name: name.as_deref(),
    };
    password::acceptable(&pw, &known).map_err(|why| anyhow::anyhow!("password: {why}"))?;
    let hash = password::hash(&pw).map_err(|e| anyhow::anyhow!("password hashing: {e}"))?;
    let t = now();
    let user = users::User {
        id: Id::new_v7(),
        username,
        email: email.clone(),
        password_hash: hash,
        created_at: t,
        updated_at: t,
        name: name.filter(|n| !n.trim().is_empty()),
        email_verified: email_verified && email.is_some(),
        api_scopes,
    };
    users::insert(conn, &user)?;
    if json {
        say!(
            "{}",
            json!({ "id": user.id.to_string(), "username": user.username, "email": user.email })
        );
    } else {
        say!("created user {} ({})", user.username, user.id);
    }
    Ok(())
}

fn set_api_scopes(
    conn: &mut AnyConnection,
    catalogue: &[(String, String)],
    username: &str,
    scopes: Option<String>,
    all: bool,
) -> anyhow::Result<()> {
    let granted = match (all, scopes) {
        (true, _) => None,
        (false, s) => Some(api_scope_list(s.as_deref().unwrap_or(""), catalogue)?),
    };
    let (narrowed, revoked) = db::write_transaction(conn, |conn| -> anyhow::Result<_> {
        let Some(user) = users::find_by_username(conn, username)? else {
            anyhow::bail!("no user {username:?}");
        };
        let by = Actor::Operator;
        Ok(accounts::set_api_scopes(
            conn,
            user.id,
            granted.as_ref(),
            &by,
            now(),
        )?)
    })?;
    let what = match &granted {
        None => "the whole catalogue".to_string(),
        Some(g) if g.is_empty() => "no API scopes".to_string(),
        Some(g) => g.to_string(),
    };
    say!("{username} may now use {what}; narrowed {narrowed} token(s), revoked {revoked}");
    Ok(())
}
