//! `portcullis client ...`

use clap::Subcommand;
use serde_json::json;

mod describe;

use super::context::now;
use crate::config::Profile;
use crate::escape::{inert, json_inert};
use crate::keys::KeyAlg;
use crate::oauth::clients::registrar;
use crate::oauth::clients::{Client, ClientRequest, GrantType};
use crate::store::audit::{self, Event};
use crate::store::{AnyConnection, clients, outbox};
#[cfg(test)]
use describe::describe;
use describe::{json_line, kids, last_delivery_json, last_delivery_text, print_human, to_json};

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client. A confidential client's secret is printed this once.
    Create(Box<CreateArgs>),
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a client.
    Delete { id: String },
    /// Disable a client: it can no longer authenticate or sign anyone in, and its access
    /// tokens are inactive at introspection, until `client enable`.
    Disable { id: String },
    /// Enable a disabled client again.
    Enable { id: String },
    /// Replace a private_key_jwt client's registered JWK Set (a client with a jwks_uri
    /// publishes its own).
    SetJwks {
        id: String,
        #[arg(long = "jwks-file", value_name = "PATH")]
        jwks_file: std::path::PathBuf,
    },
    /// Replace a confidential client's secret; the new one is printed this once.
    RotateSecret {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

/// `client create`'s flags.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[arg(long)]
    pub name: String,
    /// Repeat for several (default: client_credentials).
    #[arg(long = "grant-type", value_name = "T")]
    pub grant_types: Vec<String>,
    /// Repeat for several; matched exactly at the authorization endpoint.
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// Space-separated scopes the client may ask for.
    #[arg(long)]
    pub scope: Option<String>,
    /// A public client (no secret; authenticates with 'none').
    #[arg(long)]
    pub public: bool,
    /// client_secret_basic, client_secret_post, private_key_jwt or none; repeat to
    /// allow several (default: both secret methods; private_key_jwt when keys are
    /// given).
    #[arg(long = "auth-method", value_name = "METHOD")]
    pub auth_methods: Vec<String>,
    /// private_key_jwt: a JWK Set file of the client's public keys.
    #[arg(long = "jwks-file", value_name = "PATH", conflicts_with = "jwks_uri")]
    pub jwks_file: Option<std::path::PathBuf>,
    /// private_key_jwt: where the client publishes its JWK Set (https; http only on
    /// loopback), fetched when needed and again on an unknown kid.
    #[arg(long = "jwks-uri", value_name = "URL")]
    pub jwks_uri: Option<String>,
    /// Every token request must carry a DPoP proof (dpop_bound_access_tokens,
    /// RFC 9449 §5.2).
    #[arg(long)]
    pub dpop_bound: bool,
    /// Authorization requests must be pushed first (PAR, RFC 9126).
    #[arg(long)]
    pub require_par: bool,
    /// RFC 8707 resource the client may ask tokens for (repeat for several).
    #[arg(long = "resource", value_name = "URI")]
    pub resources: Vec<String>,
    /// Where sign-out (RP-initiated logout) may send people afterwards; matched
    /// exactly (repeat for several).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Algorithm of this client's ID tokens (id_token_signed_response_alg): RS256
    /// (default), ES256 or EdDSA; the key set needs an active key of it.
    #[arg(long = "id-token-signed-response-alg", value_name = "ALG")]
    pub id_token_alg: Option<String>,
    /// Where the client hears that a session it signed in ended (OpenID Connect
    /// Back-Channel Logout): https, or http on loopback.
    #[arg(long = "backchannel-logout-uri", value_name = "URL")]
    pub backchannel_logout_uri: Option<String>,
    /// Whether the client needs `sid` in logout tokens (default true; it is always
    /// sent).
    #[arg(
        long = "backchannel-logout-session-required",
        value_name = "true|false",
        requires = "backchannel_logout_uri"
    )]
    pub backchannel_logout_session_required: Option<bool>,
    #[arg(long)]
    pub json: bool,
}

/// Operator actions go to the audit trail too; a failure to write it is reported, not fatal.
fn record(conn: &mut AnyConnection, e: Event) {
    if let Err(err) = audit::record(conn, &e.detail("by", "operator"), now()) {
        eprintln!("portcullis: warning: cannot write the audit event: {err}");
    }
}

fn read_jwks(path: &std::path::Path) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| anyhow::anyhow!("jwks file {}: {e}", path.display()))?;
    if meta.len() > 64 * 1024 {
        anyhow::bail!("jwks file {}: larger than 64 KB", path.display());
    }
    std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("jwks file {}: {e}", path.display()))
}

/// `profile`: the security profile the servers run under (`PORTCULLIS_PROFILE`).
pub fn run(cmd: ClientCommand, conn: &mut AnyConnection, profile: Profile) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Create(args) => create(*args, conn, profile),
        ClientCommand::List { json } => list(conn, json),
        ClientCommand::Show { id, json } => show(conn, &id, json),
        ClientCommand::Delete { id } => delete(conn, &id),
        ClientCommand::Disable { id } => disable(conn, &id),
        ClientCommand::Enable { id } => enable(conn, &id),
        ClientCommand::SetJwks { id, jwks_file } => set_jwks(conn, &id, &jwks_file),
        ClientCommand::RotateSecret { id, json } => rotate_secret(conn, &id, json),
    }
}

fn create(a: CreateArgs, conn: &mut AnyConnection, profile: Profile) -> anyhow::Result<()> {
    let jwks = a.jwks_file.as_deref().map(read_jwks).transpose()?;
    let req = ClientRequest {
        name: a.name,
        grant_types: a.grant_types,
        redirect_uris: a.redirect_uris,
        scope: a.scope,
        public: a.public,
        auth_methods: a.auth_methods,
        resources: a.resources,
        post_logout_redirect_uris: a.post_logout_redirect_uris,
        id_token_alg: a.id_token_alg,
        jwks,
        jwks_uri: a.jwks_uri,
        dpop_bound: a.dpop_bound,
        require_par: a.require_par,
        backchannel_logout_uri: a.backchannel_logout_uri,
        backchannel_logout_session_required: a.backchannel_logout_session_required,
        metadata: Default::default(),
    }
    .validate()?;
    if profile == Profile::Fapi2
        && req.id_token_alg == KeyAlg::RS256
        && req.grant_types.contains(&GrantType::AuthorizationCode)
    {
        // FAPI 2.0 §5.4.1; its sign-ins would be refused anyway.
        anyhow::bail!(
            "the FAPI 2.0 profile does not sign ID tokens with RS256: give --id-token-signed-response-alg ES256 (or EdDSA)"
        );
    }
    let (client, secret) = registrar::register(conn, &req, now())?;
    warn_without_id_token_key(conn, &client)?;
    record(
        conn,
        Event::new("client.created", "success").client(client.client_id.clone()),
    );
    if a.json {
        say!("{}", json_line(&client, secret.as_ref()));
    } else {
        print_human(&client, secret.as_ref());
    }
    Ok(())
}

/// Its ID tokens need an active key of its algorithm (a key set made with `keys rotate
/// --alg EdDSA` alone has no RS256 key, the default).
fn warn_without_id_token_key(conn: &mut AnyConnection, client: &Client) -> anyhow::Result<()> {
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Ok(());
    }
    let keys = crate::keys::ring::records(conn)?;
    let alg = client.id_token_alg;
    if !keys.is_empty()
        && !keys
            .iter()
            .any(|k| k.alg == alg && k.state == crate::keys::KeyState::Active)
    {
        eprintln!(
            "portcullis: warning: no active {0} key signs this client's ID tokens yet: run `portcullis keys rotate --alg {0}` (or register it with --id-token-signed-response-alg)",
            alg.as_str()
        );
    }
    Ok(())
}

fn list(conn: &mut AnyConnection, json: bool) -> anyhow::Result<()> {
    let all = registrar::load_all(conn)?;
    if json {
        for c in &all {
            say!("{}", json_line(c, None));
        }
    } else if all.is_empty() {
        say!("no clients");
    }
    for c in all.iter().filter(|_| !json) {
        let kind = if c.is_public() {
            "public"
        } else {
            "confidential"
        };
        let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
        let disabled = if c.disabled_at.is_some() {
            "  DISABLED"
        } else {
            ""
        };
        say!(
            "{}  {kind:<12}  {}  [{}]  by {}{disabled}",
            c.client_id,
            inert(&c.name),
            grants.join(" "),
            inert(&c.registered_by.to_string()),
        );
    }
    Ok(())
}

fn show(conn: &mut AnyConnection, id: &str, json: bool) -> anyhow::Result<()> {
    let c =
        registrar::load(conn, id)?.ok_or_else(|| anyhow::anyhow!("no client with id {id:?}"))?;
    let last = outbox::last_for(conn, outbox::Kind::BackchannelLogout, &c.client_id)?;
    if json {
        let mut v = to_json(&c, None);
        if let Some(l) = &last {
            v["backchannel_logout_last_delivery"] = last_delivery_json(l);
        }
        say!("{}", json_inert(&v.to_string()));
    } else {
        print_human(&c, None);
        if let Some(l) = &last {
            say!("last logout:   {}", last_delivery_text(l));
        }
    }
    Ok(())
}

fn delete(conn: &mut AnyConnection, id: &str) -> anyhow::Result<()> {
    if !clients::delete(conn, id)? {
        anyhow::bail!("no client with id {id:?}");
    }
    record(conn, Event::new("client.deleted", "success").client(id));
    say!("deleted client {id}");
    Ok(())
}

fn disable(conn: &mut AnyConnection, id: &str) -> anyhow::Result<()> {
    let t = now();
    // Everything the client holds ends with it: its access tokens (by time) and its
    // refresh-token families, which stay ended if it is enabled again.
    let families = crate::store::db::write_transaction(conn, |conn| {
        if !clients::set_disabled(conn, id, Some(t), t)? {
            return Ok(None);
        }
        crate::store::refresh::revoke_for_client(conn, id, "client disabled", t).map(Some)
    })?;
    let Some(families) = families else {
        anyhow::bail!("no enabled client with id {id:?}");
    };
    record(conn, Event::new("client.disabled", "success").client(id));
    say!("disabled client {id}; ended its access tokens and {families} refresh-token famil(ies)");
    say!("(running servers refuse it within PORTCULLIS_CLIENT_CACHE_TTL seconds, 5 by default)");
    Ok(())
}

fn enable(conn: &mut AnyConnection, id: &str) -> anyhow::Result<()> {
    let t = now();
    // What it was given between the disabling and the moment every server saw it (the
    // client cache's lifetime) ends here too.
    let enabled = crate::store::db::write_transaction(conn, |conn| {
        if !clients::set_disabled(conn, id, None, t)? {
            return Ok(false);
        }
        crate::store::refresh::revoke_for_client(conn, id, "client disabled", t)?;
        Ok::<_, diesel::result::Error>(true)
    })?;
    if !enabled {
        anyhow::bail!("no disabled client with id {id:?}");
    }
    record(conn, Event::new("client.enabled", "success").client(id));
    say!("enabled client {id}");
    Ok(())
}

fn set_jwks(conn: &mut AnyConnection, id: &str, jwks_file: &std::path::Path) -> anyhow::Result<()> {
    let text = read_jwks(jwks_file)?;
    match registrar::set_jwks(conn, id, &text, now()) {
        Ok(true) => {}
        Ok(false) => anyhow::bail!("no client with id {id:?} registered with a JWK Set"),
        Err(e) => anyhow::bail!("JWK Set: {e}"),
    }
    record(
        conn,
        Event::new("client.keys_replaced", "success").client(id),
    );
    let c =
        registrar::load(conn, id)?.ok_or_else(|| anyhow::anyhow!("no client with id {id:?}"))?;
    say!("client {id} keys (kid): {}", kids(&c).join(" "));
    say!("(running servers use them within PORTCULLIS_CLIENT_CACHE_TTL seconds, 5 by default)");
    Ok(())
}

fn rotate_secret(conn: &mut AnyConnection, id: &str, json: bool) -> anyhow::Result<()> {
    let s = registrar::rotate_secret(conn, id, now())?
        .ok_or_else(|| anyhow::anyhow!("no confidential client with id {id:?}"))?;
    record(
        conn,
        Event::new("client.secret_rotated", "success").client(id),
    );
    if json {
        say!("{}", json!({ "client_id": id, "client_secret": s.0 }));
    } else {
        say!("client_id:     {id}");
        say!("client_secret: {}", s.0);
        say!(
            "               (shown only now; running servers stop accepting the old one within\n               PORTCULLIS_CLIENT_CACHE_TTL seconds, 5 by default)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
