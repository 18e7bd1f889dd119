//! `portcullis keys ...`

use clap::Subcommand;
use serde_json::json;

use super::now;
use crate::clock::rfc3339;
use crate::config::Settings;
use crate::keys::{KeyAlg, KeyDir, KeyState};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List keys with their states.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Switch signing to a new key (or the staged one). The old key stays published
    /// until the tokens it signed have expired. Running servers pick it up within seconds.
    Rotate {
        /// RS256, ES256 or EdDSA (default: the algorithm of the current signing key).
        #[arg(long)]
        alg: Option<KeyAlg>,
        /// Only publish a new key as `next`; the following `rotate` starts using it.
        #[arg(long)]
        stage: bool,
        #[arg(long)]
        json: bool,
    },
    /// Delete retired keys whose tokens have all expired.
    Prune,
}

pub fn run(cmd: KeysCommand, settings: &Settings) -> anyhow::Result<()> {
    let dir = KeyDir::new(&settings.keys_dir);
    let retain = settings.key_retention();
    match cmd {
        KeysCommand::List { json } => {
            let m = dir.read_manifest()?;
            if m.keys.is_empty() && !json {
                println!("no keys yet: `portcullis serve` creates one on first start");
            }
            for k in &m.keys {
                let until = match (k.state, k.retired_at) {
                    (KeyState::Retired, Some(t)) => Some(t + retain),
                    _ => None,
                };
                if json {
                    println!(
                        "{}",
                        json!({
                            "kid": k.kid, "alg": k.alg.as_str(), "state": k.state.as_str(),
                            "created_at": k.created_at, "activated_at": k.activated_at,
                            "retired_at": k.retired_at, "published_until": until,
                        })
                    );
                } else {
                    let note = match until {
                        Some(t) if t <= now() => {
                            "  (unpublished; `keys prune` deletes it)".to_string()
                        }
                        Some(t) => format!("  (published until {})", rfc3339(t)),
                        None => String::new(),
                    };
                    println!(
                        "{}  {:<5}  {:<7}  created {}{}",
                        k.kid,
                        k.alg.as_str(),
                        k.state.as_str(),
                        rfc3339(k.created_at),
                        note
                    );
                }
            }
        }
        KeysCommand::Rotate { alg, stage, json } => {
            let rec = dir.rotate(alg, stage, now())?;
            // The keys live in the directory; the audit trail in the database, if reachable.
            if let Ok(mut conn) = crate::store::db::connect(&settings.database_url)
                && crate::store::db::migrate_conn(&mut conn).is_ok()
            {
                let e = crate::store::audit::Event::new(
                    if stage { "key.staged" } else { "key.rotated" },
                    "success",
                )
                .detail("kid", rec.kid.clone())
                .detail("alg", rec.alg.as_str())
                .detail("by", "operator");
                let _ = crate::store::audit::record(&mut conn, &e, now());
            }
            if json {
                println!(
                    "{}",
                    json!({ "kid": rec.kid, "alg": rec.alg.as_str(), "state": rec.state.as_str() })
                );
            } else if stage {
                println!(
                    "staged key {} ({}): published now, signing from the next rotate",
                    rec.kid,
                    rec.alg.as_str()
                );
            } else {
                println!(
                    "key {} ({}) now signs new tokens",
                    rec.kid,
                    rec.alg.as_str()
                );
            }
        }
        KeysCommand::Prune => {
            let gone = dir.prune(retain, now())?;
            println!("pruned {} key(s)", gone.len());
            for kid in gone {
                println!("  {kid}");
            }
        }
    }
    Ok(())
}
