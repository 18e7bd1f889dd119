//! `portcullis client ...`

use clap::Subcommand;
use serde_json::json;

use super::now;
use crate::clock::rfc3339;
use crate::oauth::client::{Client, ClientRequest};
use crate::oauth::registrar::{self, NewSecret};
use crate::store::audit::{self, Event};
use crate::store::{AnyConnection, clients};

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client. A confidential client's secret is printed this once.
    Create {
        #[arg(long)]
        name: String,
        /// Repeat for several (default: client_credentials).
        #[arg(long = "grant-type", value_name = "T")]
        grant_types: Vec<String>,
        /// Repeat for several; matched exactly at the authorization endpoint.
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// Space-separated scopes the client may ask for.
        #[arg(long)]
        scope: Option<String>,
        /// A public client (no secret; authenticates with 'none').
        #[arg(long)]
        public: bool,
        /// Repeat to allow several (default: client_secret_basic and client_secret_post).
        #[arg(long = "auth-method", value_name = "METHOD")]
        auth_methods: Vec<String>,
        /// RFC 8707 resource the client may ask tokens for (repeat for several).
        #[arg(long = "resource", value_name = "URI")]
        resources: Vec<String>,
        /// Where sign-out (RP-initiated logout) may send people afterwards; matched
        /// exactly (repeat for several).
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// Algorithm of this client's ID tokens (id_token_signed_response_alg): RS256
        /// (default), ES256 or EdDSA; the key set needs an active key of it.
        #[arg(long = "id-token-signed-response-alg", value_name = "ALG")]
        id_token_alg: Option<String>,
        #[arg(long)]
        json: bool,
    },
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
    /// Replace a confidential client's secret; the new one is printed this once.
    RotateSecret {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

/// Operator actions go to the audit trail too; a failure to write it is reported, not fatal.
fn record(conn: &mut AnyConnection, e: Event) {
    if let Err(err) = audit::record(conn, &e.detail("by", "operator"), now()) {
        eprintln!("portcullis: warning: cannot write the audit event: {err}");
    }
}

fn to_json(c: &Client, secret: Option<&NewSecret>) -> serde_json::Value {
    let methods: Vec<&str> = c.auth_methods.iter().map(|m| m.as_str()).collect();
    let mut v = json!({
        "client_id": c.client_id,
        "client_name": c.name,
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "redirect_uris": c.redirect_uris,
        "scope": c.scope.to_string(),
        "token_endpoint_auth_method": methods.first().copied().unwrap_or("none"),
        "token_endpoint_auth_methods": methods,
        "resources": c.resources,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "id_token_signed_response_alg": c.id_token_alg.as_str(),
        "public": c.is_public(),
        "client_id_issued_at": c.created_at,
    });
    if let Some(s) = secret {
        v["client_secret"] = s.0.clone().into();
        // RFC 7591 §3.2.1: 0 means the secret does not expire.
        v["client_secret_expires_at"] = 0.into();
    }
    v
}

fn print_human(c: &Client, secret: Option<&NewSecret>) {
    println!("client_id:     {}", c.client_id);
    if let Some(s) = secret {
        println!("client_secret: {}", s.0);
        println!("               (shown only now: store it safely)");
    }
    println!("name:          {}", c.name);
    println!(
        "type:          {}",
        if c.is_public() {
            "public"
        } else {
            "confidential"
        }
    );
    let join = |v: Vec<&str>| v.join(" ");
    println!(
        "grant types:   {}",
        join(c.grant_types.iter().map(|g| g.as_str()).collect())
    );
    println!(
        "auth methods:  {}",
        join(c.auth_methods.iter().map(|m| m.as_str()).collect())
    );
    println!("scope:         {}", c.scope);
    println!("redirect URIs: {}", c.redirect_uris.join(" "));
    println!("resources:     {}", c.resources.join(" "));
    println!("after sign-out: {}", c.post_logout_redirect_uris.join(" "));
    println!("ID token alg:  {}", c.id_token_alg.as_str());
    println!("created:       {}", rfc3339(c.created_at));
}

pub fn run(cmd: ClientCommand, conn: &mut AnyConnection) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Create {
            name,
            grant_types,
            redirect_uris,
            scope,
            public,
            auth_methods,
            resources,
            post_logout_redirect_uris,
            id_token_alg,
            json,
        } => {
            let req = ClientRequest {
                name,
                grant_types,
                redirect_uris,
                scope,
                public,
                auth_methods,
                resources,
                post_logout_redirect_uris,
                id_token_alg,
            }
            .validate()?;
            let (client, secret) = registrar::register(conn, &req, now())?;
            record(
                conn,
                Event::new("client.created", "success").client(client.client_id.clone()),
            );
            if json {
                println!("{}", to_json(&client, secret.as_ref()));
            } else {
                print_human(&client, secret.as_ref());
            }
        }
        ClientCommand::List { json } => {
            let all = registrar::load_all(conn)?;
            if json {
                for c in &all {
                    println!("{}", to_json(c, None));
                }
            } else if all.is_empty() {
                println!("no clients");
            } else {
                for c in &all {
                    println!(
                        "{}  {:<12}  {}  [{}]",
                        c.client_id,
                        if c.is_public() {
                            "public"
                        } else {
                            "confidential"
                        },
                        c.name,
                        c.grant_types
                            .iter()
                            .map(|g| g.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                }
            }
        }
        ClientCommand::Show { id, json } => {
            let c = registrar::load(conn, &id)?
                .ok_or_else(|| anyhow::anyhow!("no client with id {id:?}"))?;
            if json {
                println!("{}", to_json(&c, None));
            } else {
                print_human(&c, None);
            }
        }
        ClientCommand::Delete { id } => {
            if !clients::delete(conn, &id)? {
                anyhow::bail!("no client with id {id:?}");
            }
            record(
                conn,
                Event::new("client.deleted", "success").client(id.clone()),
            );
            println!("deleted client {id}");
        }
        ClientCommand::RotateSecret { id, json } => {
            let s = registrar::rotate_secret(conn, &id, now())?
                .ok_or_else(|| anyhow::anyhow!("no confidential client with id {id:?}"))?;
            record(
                conn,
                Event::new("client.secret_rotated", "success").client(id.clone()),
            );
            if json {
                println!("{}", json!({ "client_id": id, "client_secret": s.0 }));
            } else {
                println!("client_id:     {id}");
                println!("client_secret: {}", s.0);
                println!(
                    "               (shown only now; running servers stop accepting the old one within\n               PORTCULLIS_CLIENT_CACHE_TTL seconds, 5 by default)"
                );
            }
        }
    }
    Ok(())
}
