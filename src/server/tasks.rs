//! What a server does besides answering: picks up key-set changes, deletes what has
//! expired, and writes the coalesced `token.issued` counts.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use crate::state::{AppState, Precomputed};

/// Start the background tasks of `state`'s server.
pub fn spawn(state: &Arc<AppState>) {
    actix_web::rt::spawn(watch_keys(state.clone()));
    actix_web::rt::spawn(purge_periodically(state.clone()));
    actix_web::rt::spawn(flush_issued_periodically(state.clone()));
    super::outbox::spawn(state);
}

/// How often each instance looks for key-set changes made by the CLI or another instance.
pub const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(2);

/// Reload the key set if it changed (or a retired key's window ended), and with it the
/// JWKS. Blocking database work: call from a blocking context. Returns whether it
/// changed.
pub fn reload_keys(state: &AppState, now: i64) -> Result<bool, crate::keys::KeyError> {
    let mut conn = state
        .db
        .pool()
        .get()
        .map_err(|e| crate::keys::KeyError::Import(format!("no database connection: {e}")))?;
    if !state.keys.refresh(&mut conn, &state.data_keys, now)? {
        return Ok(false);
    }
    let current = state.keys.current();
    state.precomputed.store(Arc::new(Precomputed::of(
        &state.issuer.id,
        &state.settings,
        &current,
    )));
    tracing::info!(kid = %current.signing().kid, "key set reloaded");
    Ok(true)
}

/// Pick up key rotations made elsewhere and drop retired keys whose time has come.
async fn watch_keys(state: Arc<AppState>) {
    loop {
        actix_web::rt::time::sleep(KEY_REFRESH_INTERVAL).await;
        let s = state.clone();
        let now = state.clock.now();
        match web::block(move || reload_keys(&s, now)).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot reload the key set; keeping the current one")
            }
            Err(e) => tracing::error!(error = %e, "key refresh task failed"),
        }
    }
}

/// How often `serve` deletes expired codes, sessions, revocation records and families.
pub const PURGE_INTERVAL: Duration = Duration::from_secs(600);

/// How often the coalesced `token.issued` counts are written to the audit trail.
pub const ISSUED_FLUSH_INTERVAL: Duration = Duration::from_secs(60);

async fn flush_issued_periodically(state: Arc<AppState>) {
    loop {
        actix_web::rt::time::sleep(ISSUED_FLUSH_INTERVAL).await;
        flush_issued(&state).await;
    }
}

pub async fn flush_issued(state: &Arc<AppState>) {
    let now = state.clock.now();
    let s = state.clone();
    if let Err(e) = state.db.run(move |conn| s.issued.flush(conn, now)).await {
        tracing::warn!(error = %e, "cannot write issued-token counts; will retry");
    }
}

async fn purge_periodically(state: Arc<AppState>) {
    loop {
        actix_web::rt::time::sleep(PURGE_INTERVAL).await;
        let now = state.clock.now();
        let (ttl, idle) = (
            state.settings.access_token_ttl,
            state.settings.session_idle_ttl,
        );
        let keep = state.settings.audit_retention_days;
        let unused = state.settings.registration_unused_days;
        match state
            .db
            .run(move |conn| crate::store::purge::run(conn, now, ttl, idle, keep, unused))
            .await
        {
            Ok(p) => tracing::debug!(?p, "purged"),
            Err(e) => tracing::warn!(error = %e, "purge failed; will retry"),
        }
    }
}
