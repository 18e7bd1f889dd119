//! The audit trail's services above storage (`store::audit` holds the events).

pub mod issued;

pub use issued::IssuedCounter;

use crate::store::Db;
use crate::store::audit::Event;

/// Record one event in a unit of work of its own (for events without a surrounding
/// transaction). A failure is logged, never shown to whoever caused the event.
///
/// An event without an address gets the request's (its caller's address and user agent),
/// when it is written while serving one.
pub async fn record(db: &Db, mut event: Event, now: i64) {
    if event.ip.is_none() {
        let (ip, ua) = crate::web::observe::current_origin();
        event = event.from_addr(ip, ua);
    }
    if let Err(e) = db
        .run(move |conn| crate::store::audit::record(conn, &event, now))
        .await
    {
        tracing::error!(error = %e, "cannot write an audit event");
        crate::metrics::audit_event("dropped");
    }
}

/// Refusals an address may add to the trail per minute. Refusals come from anyone,
/// unauthenticated (a bad DPoP proof, a bad assertion): beyond this, they are counted
/// (`portcullis_throttle_refusals_total{limit="audit"}`) but not written, so that a flood
/// of bad requests is not a flood of writes.
pub const REFUSALS_PER_ADDRESS: u32 = 120;

static REFUSALS: std::sync::LazyLock<crate::throttle::Throttle> =
    std::sync::LazyLock::new(|| crate::throttle::Throttle::new(REFUSALS_PER_ADDRESS, 60));

/// Whether a refusal from `address` may still be written this minute
/// (`REFUSALS_PER_ADDRESS`); beyond that it is counted, not written.
pub fn refusal_allowed(address: &str, now: i64) -> bool {
    if REFUSALS.reserve(address, now).is_err() {
        crate::metrics::throttled("audit");
        return false;
    }
    true
}

/// Write `event` only if it is the first under `key` in `window` seconds, on any
/// instance (a counter of the shared throttle table decides): a burst that a limit
/// refuses leaves one line per limit and window, not one per request. True if written.
pub fn record_once(
    conn: &mut crate::store::AnyConnection,
    key: &str,
    window: i64,
    event: &Event,
    now: i64,
) -> diesel::QueryResult<bool> {
    use crate::store::throttle::{self, Reserved};
    let key = format!("audit:{key}");
    if !matches!(
        throttle::reserve(conn, &key, 1, window, now)?,
        Reserved::Granted { .. }
    ) {
        return Ok(false);
    }
    crate::store::audit::record(conn, event, now)?;
    Ok(true)
}

/// `record_once` for a refusal, within `REFUSALS_PER_ADDRESS`, in a unit of work of its
/// own: one line per `key` and `window` however large the burst.
pub async fn record_refusal_once(db: &Db, key: String, window: i64, event: Event, now: i64) {
    let address = event.ip.clone().unwrap_or_else(|| "unknown".into());
    if !refusal_allowed(&address, now) {
        return;
    }
    if let Err(e) = db
        .run(move |conn| record_once(conn, &key, window, &event, now))
        .await
    {
        tracing::error!(error = %e, "cannot write an audit event");
        crate::metrics::audit_event("dropped");
    }
}

/// `record` for a refusal, within `REFUSALS_PER_ADDRESS`.
pub async fn record_refusal(db: &Db, mut event: Event, now: i64) {
    if event.ip.is_none() {
        let (ip, ua) = crate::web::observe::current_origin();
        event = event.from_addr(ip, ua);
    }
    let key = event.ip.clone().unwrap_or_else(|| "unknown".into());
    if refusal_allowed(&key, now) {
        record(db, event, now).await;
    }
}
