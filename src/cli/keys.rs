//! `portcullis keys ...`: the signing keys, in the database, sealed with the data key.

use clap::Subcommand;
use serde_json::json;

use super::context::now;
use crate::clock::rfc3339;
use crate::config::Settings;
use crate::keys::{KeyAlg, KeyRecord, KeyState, ring};
use crate::oauth::clients::GrantType;
use crate::oauth::clients::registrar;
use crate::sealed::{DataKeys, Missing, ensure_private};
use crate::store::AnyConnection;
use crate::store::audit::{self, Event};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List keys with their states and what each active key signs.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Switch signing to new keys (or the staged ones): every active key by default,
    /// or the one of --alg. Old keys stay published until the tokens they signed have
    /// expired. Running servers pick the change up within seconds.
    Rotate {
        /// Only the key of this algorithm: RS256, ES256 or EdDSA (also to add an
        /// algorithm the set does not have yet).
        #[arg(long)]
        alg: Option<KeyAlg>,
        /// Only publish new keys as `next`; the following `rotate` starts using them.
        #[arg(long)]
        stage: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete retired keys that are neither published nor needed for logout hints.
    Prune,
}

/// The data keys, as a server would load them, except that a command never makes a
/// new key file for a database whose keys were sealed elsewhere (`ring::rotate` also
/// checks that every stored key opens before it changes anything).
fn data_keys(conn: &mut AnyConnection, settings: &Settings) -> anyhow::Result<DataKeys> {
    ensure_private(&settings.keys_dir)
        .map_err(|e| anyhow::anyhow!("keys (--keys-dir / PORTCULLIS_KEYS_DIR): {e}"))?;
    let missing = if ring::records(conn)?.is_empty() {
        Missing::Create
    } else {
        Missing::Refuse
    };
    Ok(DataKeys::load(
        settings.data_key.as_ref().map(|k| k.0.as_str()),
        settings.data_keys_old.as_ref().map(|k| k.0.as_str()),
        &settings.keys_dir,
        missing,
    )?)
}

/// What an active key signs: access tokens (the active key of the access-token
/// algorithm), and the ID tokens of the clients registered for its algorithm.
fn signs(rec: &KeyRecord, access_alg: KeyAlg, id_token_clients: usize) -> Vec<String> {
    let mut out = Vec::new();
    if rec.state != KeyState::Active {
        return out;
    }
    if rec.alg == access_alg {
        out.push("access tokens".to_string());
    }
    out.push(format!(
        "ID tokens of {id_token_clients} client(s) registered for {}",
        rec.alg.as_str()
    ));
    out
}

pub fn run(cmd: KeysCommand, conn: &mut AnyConnection, settings: &Settings) -> anyhow::Result<()> {
    let t = now();
    match cmd {
        KeysCommand::List { json } => {
            let keys = ring::records(conn)?;
            let clients = registrar::load_all(conn)?;
            let access_alg = ring::access_alg(conn)?;
            if keys.is_empty() && !json {
                say!("no keys yet: `portcullis serve` creates one on first start");
            }
            for k in &keys {
                // Only clients that sign people in receive ID tokens.
                let n = clients
                    .iter()
                    .filter(|c| c.id_token_alg == k.alg)
                    .filter(|c| c.allows_grant(GrantType::AuthorizationCode))
                    .count();
                let signs = signs(k, access_alg, n);
                if json {
                    say!(
                        "{}",
                        json!({
                            "kid": k.kid, "alg": k.alg.as_str(), "state": k.state.as_str(),
                            "created_at": k.created_at, "activated_at": k.activated_at,
                            "retired_at": k.retired_at, "published_until": k.published_until,
                            "hints_until": k.hints_until, "signs": signs,
                        })
                    );
                    continue;
                }
                let note = match (k.state, k.published_until, k.kept_until()) {
                    (KeyState::Retired, Some(p), _) if p > t => {
                        format!("  (published until {})", rfc3339(p))
                    }
                    (KeyState::Retired, _, Some(h)) if h > t => {
                        format!(
                            "  (unpublished; verifies logout hints until {})",
                            rfc3339(h)
                        )
                    }
                    (KeyState::Retired, _, _) => "  (`keys prune` deletes it)".to_string(),
                    _ if !signs.is_empty() => format!("  signs {}", signs.join("; ")),
                    _ => String::new(),
                };
                say!(
                    "{}  {:<5}  {:<7}  created {}{}",
                    k.kid,
                    k.alg.as_str(),
                    k.state.as_str(),
                    rfc3339(k.created_at),
                    note
                );
            }
        }
        KeysCommand::Rotate { alg, stage, json } => {
            let data_keys = data_keys(conn, settings)?;
            let lifetimes = settings.signing_lifetimes();
            let changed = ring::rotate(conn, &data_keys, alg, stage, lifetimes, t)?;
            for rec in &changed {
                let e = Event::new(if stage { "key.staged" } else { "key.rotated" }, "success")
                    .detail("kid", rec.kid.clone())
                    .detail("alg", rec.alg.as_str())
                    .detail("by", "operator");
                if let Err(err) = audit::record(conn, &e, t) {
                    eprintln!("portcullis: warning: cannot write the audit event: {err}");
                }
                if json {
                    say!(
                        "{}",
                        json!({ "kid": rec.kid, "alg": rec.alg.as_str(), "state": rec.state.as_str() })
                    );
                } else if stage {
                    say!(
                        "staged key {} ({}): published now, signing from the next rotate",
                        rec.kid,
                        rec.alg.as_str()
                    );
                } else {
                    say!("key {} ({}) now signs", rec.kid, rec.alg.as_str());
                }
            }
        }
        KeysCommand::Prune => {
            let gone = ring::prune(conn, t)?;
            say!("pruned {} key(s)", gone.len());
            for kid in gone {
                say!("  {kid}");
            }
        }
    }
    Ok(())
}
