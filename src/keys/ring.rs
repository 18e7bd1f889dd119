//! The key ring in the database: every signing key, sealed with the data key, with its
//! state. Instances share it through the database alone.
//!
//! The life of a key: published before use (`next`), signing (`active`), then `retired`:
//! no longer signing, published until every token it signed has expired
//! (`published_until`), and kept unpublished to verify logout hints for as long as
//! sessions live (`hints_until`). Both times are fixed when the key retires, from the
//! longest lifetimes the serving instances declared (`declare`), so that neither the
//! JWKS nor `keys prune` depends on the settings of whoever runs the command line.
//!
//! Every change runs in one write transaction under a lock (`store::keys::lock`) and
//! bumps the set's version, which running instances poll.

use std::path::Path;

use super::dir::KeyDir;
use super::keyset::KeySet;
use super::material::{self, KeyAlg};
pub use super::record::{KeyError, KeyRecord, KeyState, Lifetimes};
use crate::sealed::DataKeys;
use crate::store::AnyConnection;
use crate::store::db::write_transaction;
use crate::store::keys::{self as store, KeyRow};

/// Seconds of clock difference allowed between us and those who verify our tokens.
pub const CLOCK_SKEW: i64 = 60;

fn record(row: &KeyRow) -> Result<KeyRecord, KeyError> {
    let bad = |msg: String| KeyError::Key {
        kid: row.kid.clone(),
        msg,
    };
    Ok(KeyRecord {
        kid: row.kid.clone(),
        alg: row.alg.parse().map_err(bad)?,
        state: row.state.parse().map_err(bad)?,
        created_at: row.created_at,
        activated_at: row.activated_at,
        retired_at: row.retired_at,
        published_until: row.published_until,
        hints_until: row.hints_until,
    })
}

fn row(rec: &KeyRecord, sealed_key: String) -> KeyRow {
    KeyRow {
        kid: rec.kid.clone(),
        alg: rec.alg.as_str().to_string(),
        state: rec.state.as_str().to_string(),
        sealed_key,
        created_at: rec.created_at,
        activated_at: rec.activated_at,
        retired_at: rec.retired_at,
        published_until: rec.published_until,
        hints_until: rec.hints_until,
    }
}

/// Every key's record, oldest first.
pub fn records(conn: &mut AnyConnection) -> Result<Vec<KeyRecord>, KeyError> {
    store::all(conn)?.iter().map(record).collect()
}

/// A new key of `alg` in `state`, sealed and stored.
fn create(
    conn: &mut AnyConnection,
    data_keys: &DataKeys,
    alg: KeyAlg,
    state: KeyState,
    now: i64,
) -> Result<KeyRecord, KeyError> {
    let pem = material::generate(alg)?;
    let m = material::from_pem(alg, &pem).map_err(|msg| KeyError::Key {
        kid: "(new)".into(),
        msg,
    })?;
    let rec = KeyRecord {
        kid: m.kid,
        alg,
        state,
        created_at: now,
        activated_at: (state == KeyState::Active).then_some(now),
        retired_at: None,
        published_until: None,
        hints_until: None,
    };
    store::insert(conn, &row(&rec, data_keys.seal(pem.as_bytes())?))?;
    Ok(rec)
}

/// Retire `rec` now, keeping it as long as what it signed may still be shown to us.
fn retire(rec: &mut KeyRecord, declared: Lifetimes, now: i64) {
    rec.state = KeyState::Retired;
    rec.retired_at = Some(now);
    rec.published_until = Some(now + declared.token + CLOCK_SKEW);
    rec.hints_until = Some(now + declared.session + CLOCK_SKEW);
}

/// The lifetimes to keep a retiring key for: the longest any instance declared, and the
/// caller's own (a command line run with longer settings than the servers).
fn declared(conn: &mut AnyConnection, own: Lifetimes) -> Result<Lifetimes, KeyError> {
    let (token, session) = store::lifetimes(conn)?;
    Ok(Lifetimes {
        token: token.max(own.token),
        session: session.max(own.session),
    })
}

/// What `initialize` did.
#[derive(Debug, Default)]
pub struct Setup {
    /// The first key, when this start made it.
    pub created: Option<String>,
    /// Keys imported from an existing keys directory.
    pub imported: usize,
    /// Keys sealed again under the current data key.
    pub resealed: usize,
}

/// At start: declare this instance's lifetimes; import the keys directory of an earlier
/// version once; else make the first key, of `first_alg` (exactly once, however many
/// instances start together); and reseal keys sealed under an older data key.
pub fn initialize(
    conn: &mut AnyConnection,
    data_keys: &DataKeys,
    import_from: &Path,
    lifetimes: Lifetimes,
    first_alg: KeyAlg,
    now: i64,
) -> Result<Setup, KeyError> {
    write_transaction(conn, |conn| {
        store::lock(conn)?;
        store::declare_lifetimes(conn, lifetimes.token, lifetimes.session)?;
        let mut setup = Setup::default();
        let rows = store::all(conn)?;
        if rows.is_empty() {
            let declared = declared(conn, lifetimes)?;
            setup.imported = import(conn, data_keys, import_from, declared)?;
        }
        for r in rows
            .iter()
            .filter(|r| data_keys.needs_reseal(&r.sealed_key))
        {
            let pem = data_keys.open(&r.sealed_key).ok_or_else(|| KeyError::Key {
                kid: r.kid.clone(),
                msg: "cannot be opened with the data keys given".into(),
            })?;
            let resealed = KeyRow {
                sealed_key: data_keys.seal(&pem)?,
                ..r.clone()
            };
            store::save(conn, &resealed)?;
            setup.resealed += 1;
        }
        let any_active = records(conn)?.iter().any(|r| r.state == KeyState::Active);
        if !any_active {
            let rec = create(conn, data_keys, first_alg, KeyState::Active, now)?;
            store::set_access_alg(conn, rec.alg.as_str())?;
            setup.created = Some(rec.kid);
        }
        if setup.created.is_some() || setup.imported > 0 || setup.resealed > 0 {
            store::bump(conn)?;
        }
        Ok(setup)
    })
}

/// Bring the keys of an earlier version's keys directory into the database: the same
/// keys, kids and states; a retired key keeps being published as long as the
/// directory's rules promised, or longer. Returns how many were imported.
fn import(
    conn: &mut AnyConnection,
    data_keys: &DataKeys,
    dir: &Path,
    declared: Lifetimes,
) -> Result<usize, KeyError> {
    let dir = KeyDir::new(dir);
    let manifest = dir
        .read_manifest()
        .map_err(|e| KeyError::Import(e.to_string()))?;
    for old in &manifest.keys {
        let pem = dir
            .read_pem(old)
            .map_err(|e| KeyError::Import(e.to_string()))?;
        // The file must hold the key its manifest names; anything else aborts the whole
        // import (the transaction rolls back), so nothing half-imported is kept.
        let m = material::from_pem(old.alg, &pem)
            .map_err(|msg| KeyError::Import(format!("key {}: {msg}", old.kid)))?;
        if m.kid != old.kid {
            return Err(KeyError::Import(format!(
                "key {}: its file holds key {}",
                old.kid, m.kid
            )));
        }
        let mut rec = KeyRecord {
            kid: old.kid.clone(),
            alg: old.alg,
            state: old.state,
            created_at: old.created_at,
            activated_at: old.activated_at,
            retired_at: old.retired_at,
            published_until: None,
            hints_until: None,
        };
        if rec.state == KeyState::Retired {
            let at = old.retired_at.unwrap_or(0);
            rec.published_until = Some(at + declared.token + CLOCK_SKEW);
            rec.hints_until = Some(at + declared.session + CLOCK_SKEW);
        }
        store::insert(conn, &row(&rec, data_keys.seal(pem.as_bytes())?))?;
    }
    // Access tokens stay with the algorithm that signed them before: the newest
    // active key's.
    if let Some(newest) = manifest
        .keys
        .iter()
        .filter(|k| k.state == KeyState::Active)
        .max_by_key(|k| (k.activated_at.unwrap_or(k.created_at), k.kid.clone()))
    {
        store::set_access_alg(conn, newest.alg.as_str())?;
    }
    Ok(manifest.keys.len())
}

/// Rotate the active key of `alg`, or of every algorithm with an active key (default):
/// a staged `next` key of that algorithm is promoted, else a new one is made; the
/// previous active key retires. With `stage`, only publish a `next` key (of `alg`, or of
/// each active algorithm), used from the following rotation. Returns the keys that
/// now sign (or were staged).
pub fn rotate(
    conn: &mut AnyConnection,
    data_keys: &DataKeys,
    alg: Option<KeyAlg>,
    stage: bool,
    own: Lifetimes,
    now: i64,
) -> Result<Vec<KeyRecord>, KeyError> {
    write_transaction(conn, |conn| {
        store::lock(conn)?;
        check_opens(conn, data_keys)?;
        let declared = declared(conn, own)?;
        let mut all = records(conn)?;
        let mut algs: Vec<KeyAlg> = match alg {
            Some(a) => vec![a],
            None => all
                .iter()
                .filter(|k| k.state == KeyState::Active)
                .map(|k| k.alg)
                .collect(),
        };
        algs.sort_by_key(|a| a.as_str());
        algs.dedup();
        if algs.is_empty() {
            algs.push(KeyAlg::RS256);
        }
        let mut changed = Vec::new();
        for alg in algs.iter().copied() {
            let staged = all
                .iter()
                .position(|k| k.state == KeyState::Next && k.alg == alg);
            if stage {
                let rec = match staged {
                    Some(i) => all[i].clone(),
                    None => create(conn, data_keys, alg, KeyState::Next, now)?,
                };
                changed.push(rec);
                continue;
            }
            for k in all
                .iter_mut()
                .filter(|k| k.alg == alg && k.state == KeyState::Active)
            {
                retire(k, declared, now);
                save_record(conn, k)?;
            }
            let rec = match staged {
                Some(i) => {
                    let k = &mut all[i];
                    k.state = KeyState::Active;
                    k.activated_at = Some(now);
                    save_record(conn, k)?;
                    k.clone()
                }
                None => create(conn, data_keys, alg, KeyState::Active, now)?,
            };
            changed.push(rec);
        }
        // Rotating one algorithm by name makes it the access-token algorithm (the way
        // to move access tokens to ES256, say); rotating all keeps the current one.
        if let (Some(alg), false) = (alg, stage) {
            store::set_access_alg(conn, alg.as_str())?;
        }
        store::bump(conn)?;
        Ok(changed)
    })
}

/// Write back a record's state and times (its sealed key unchanged).
fn save_record(conn: &mut AnyConnection, rec: &KeyRecord) -> Result<(), KeyError> {
    store::set_state(
        conn,
        &rec.kid,
        rec.state.as_str(),
        rec.activated_at,
        rec.retired_at,
        rec.published_until,
        rec.hints_until,
    )?;
    Ok(())
}

/// Delete retired keys that are neither published nor kept for hints any more, by their
/// own records. Returns their kids.
pub fn prune(conn: &mut AnyConnection, now: i64) -> Result<Vec<String>, KeyError> {
    write_transaction(conn, |conn| {
        store::lock(conn)?;
        let gone: Vec<String> = records(conn)?
            .into_iter()
            .filter(|k| k.kept_until().is_some_and(|t| t <= now))
            .map(|k| k.kid)
            .collect();
        for kid in &gone {
            store::delete(conn, kid)?;
        }
        if !gone.is_empty() {
            store::bump(conn)?;
        }
        Ok(gone)
    })
}

/// The algorithm whose active key signs access tokens, as recorded.
pub fn access_alg(conn: &mut AnyConnection) -> Result<KeyAlg, KeyError> {
    let stored = store::access_alg(conn)?;
    stored.parse().map_err(|msg| KeyError::Key {
        kid: "(access-token algorithm)".into(),
        msg,
    })
}

/// Every stored key must open with `data_keys` before anything changes: a command run
/// with the wrong data key would otherwise add keys no server can read.
fn check_opens(conn: &mut AnyConnection, data_keys: &DataKeys) -> Result<(), KeyError> {
    for r in store::all(conn)? {
        if data_keys.open(&r.sealed_key).is_none() {
            return Err(KeyError::Key {
                kid: r.kid,
                msg: "cannot be opened with the data keys given (set PORTCULLIS_DATA_KEY and PORTCULLIS_DATA_KEYS_OLD as on the servers)".into(),
            });
        }
    }
    Ok(())
}

/// The key set as stored now, opened with the data keys, and its version.
pub fn load(
    conn: &mut AnyConnection,
    data_keys: &DataKeys,
    now: i64,
) -> Result<(KeySet, i64), KeyError> {
    let version = store::version(conn)?;
    let mut keys = Vec::new();
    for r in store::all(conn)? {
        let rec = record(&r)?;
        if !rec.verifies_hints(now) {
            continue;
        }
        let bad = |msg: String| KeyError::Key {
            kid: r.kid.clone(),
            msg,
        };
        let pem = data_keys
            .open(&r.sealed_key)
            .ok_or_else(|| bad("cannot be opened with the data keys given".into()))?;
        let pem = String::from_utf8(pem).map_err(|_| bad("not a PEM key".into()))?;
        let m = material::from_pem(rec.alg, &pem).map_err(bad)?;
        if m.kid != rec.kid {
            return Err(bad(format!("holds key {}, not the one recorded", m.kid)));
        }
        keys.push((rec, m));
    }
    let access_alg = access_alg(conn)?;
    Ok((KeySet::build(keys, access_alg, now)?, version))
}
