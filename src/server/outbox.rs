//! The outbox worker: every instance runs one. It claims due messages with a lease (one
//! instance sends each), sends them concurrently (a slow receiver holds up only its own
//! message), and records each outcome: done, or due again after a backoff.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::oauth::backchannel::{self, Delivery, Ended};
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::id::Id;
use crate::store::outbox::{self, Claimed, Finish, Kind};

/// How often each instance looks for due messages.
pub const POLL: Duration = Duration::from_secs(1);
/// How long a claim holds: longer than any attempt (a delivery times out after 5 s), so
/// that a message is not sent twice while its first attempt is still under way. A worker
/// killed mid-attempt leaves the message to be claimed again once this passes.
pub const LEASE: i64 = 30;
/// The first retry comes this long after a failure; each next one waits twice as long,
/// up to `MAX_BACKOFF`.
pub const FIRST_BACKOFF: i64 = 5;
pub const MAX_BACKOFF: i64 = 3600;
/// A message still failing this long after it was written is given up (and audited).
pub const GIVE_UP_AFTER: i64 = 86_400;
/// Attempts in flight at once, per instance.
const IN_FLIGHT: usize = 16;
/// How often the queue gauges are refreshed (every this many polls).
const GAUGE_EVERY: u32 = 5;

/// Start the worker of `state`'s server.
pub fn spawn(state: &Arc<AppState>) {
    actix_web::rt::spawn(run(state.clone()));
}

async fn run(state: Arc<AppState>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut polls = 0u32;
    loop {
        actix_web::rt::time::sleep(POLL).await;
        if polls.is_multiple_of(GAUGE_EVERY) {
            gauges(&state).await;
        }
        polls = polls.wrapping_add(1);
        if let Err(e) = claim_and_send(&state, &slots).await {
            tracing::warn!(error = %e, "outbox: cannot claim messages; will retry");
        }
    }
}

/// Claim as many due messages as there are free slots, and start sending each.
async fn claim_and_send(
    state: &Arc<AppState>,
    slots: &Arc<Semaphore>,
) -> Result<(), crate::store::DbError> {
    let free = slots.available_permits();
    if free == 0 {
        return Ok(());
    }
    let now = state.clock.now();
    let claimed = state
        .db
        .run(move |conn| {
            if !outbox::any_due(conn, now)? {
                return Ok(Vec::new());
            }
            outbox::claim(conn, now, LEASE, free as i64)
        })
        .await?;
    for m in claimed {
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            break;
        };
        actix_web::rt::spawn(attempt(state.clone(), m, slot));
    }
    Ok(())
}

/// One attempt at one message, and its outcome recorded.
async fn attempt(state: Arc<AppState>, m: Claimed, _slot: OwnedSemaphorePermit) {
    let (how, error) = match m.kind.0 {
        Some(Kind::BackchannelLogout) => logout(&state, &m).await,
        // Written by a newer version: left for it, looked at again in an hour.
        None => (Finish::RetryAt(state.clock.now() + MAX_BACKOFF), None),
    };
    let now = state.clock.now();
    let how = match how {
        Finish::RetryAt(_) if now - m.created_at >= GIVE_UP_AFTER => Finish::Done("gave_up"),
        how => how,
    };
    if let Finish::Done(outcome) = how {
        crate::metrics::backchannel_delivery(outcome);
    } else {
        crate::metrics::backchannel_delivery("retry");
    }
    let id = m.id;
    log_outcome(&m, how, error.as_deref());
    let audited = event_for(&m, how, error.as_deref());
    let recorded = state
        .db
        .run(move |conn| {
            outbox::finish(conn, id, how, error.as_deref(), now)?;
            if let Some(e) = audited {
                audit::record(conn, &e, now)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = recorded {
        // The lease runs out and the message is tried again: at least once, never lost.
        tracing::warn!(error = %e, message = %id, "outbox: cannot record an attempt");
    }
}

/// Deliver a logout token (Back-Channel Logout 1.0 §2.5).
async fn logout(state: &AppState, m: &Claimed) -> (Finish, Option<String>) {
    let Ok(ended) = serde_json::from_str::<Ended>(&m.payload) else {
        return (Finish::Done("refused"), Some("unreadable message".into()));
    };
    // The client as it is now: one deleted, disabled or without a back-channel URI no
    // longer wants to hear.
    let client = match state.registrar.fresh(&m.target).await {
        Ok(Some(c)) => c,
        Ok(None) => return (Finish::Done("no_longer_wanted"), None),
        Err(_) => return (retry(state, m), Some("client lookup failed".into())),
    };
    let Some(to) = &client.backchannel_logout else {
        return (Finish::Done("no_longer_wanted"), None);
    };
    let now = state.clock.now();
    let keys = state.issuer.keys();
    let token = match backchannel::token(&state.issuer.id, &keys, &client, &ended, now) {
        Ok(t) => t,
        // No active key of the client's algorithm: an operator can add one; retry.
        Err(e) => return (retry(state, m), Some(e)),
    };
    match backchannel::deliver(&state.outbound, &client, to, &token).await {
        Delivery::Delivered => (Finish::Done("delivered"), None),
        Delivery::Retry(e) => (retry(state, m), Some(e)),
        Delivery::Refused(e) => (Finish::Done("refused"), Some(e)),
    }
}

/// Operators see in the log what did not go through (never the token: it is not here).
fn log_outcome(m: &Claimed, how: Finish, error: Option<&str>) {
    let (client, attempts) = (m.target.as_str(), m.attempts);
    let error = error.unwrap_or("");
    match how {
        Finish::Done("delivered") => {
            tracing::debug!(client, attempts, "logout token delivered")
        }
        Finish::Done(outcome) => {
            tracing::warn!(
                client,
                attempts,
                outcome,
                error,
                "logout token not delivered"
            )
        }
        Finish::RetryAt(at) => {
            tracing::info!(
                client,
                attempts,
                error,
                retry_at = at,
                "logout token: will retry"
            )
        }
    }
}

/// When to try `m` again: `FIRST_BACKOFF` after its first attempt, doubling each time,
/// never more than `MAX_BACKOFF` apart.
fn retry(state: &AppState, m: &Claimed) -> Finish {
    let doublings = (m.attempts - 1).clamp(0, 20) as u32;
    let wait = (FIRST_BACKOFF << doublings).min(MAX_BACKOFF);
    Finish::RetryAt(state.clock.now() + wait)
}

/// The audit event for an attempt that finished a logout message.
fn event_for(m: &Claimed, how: Finish, error: Option<&str>) -> Option<Event> {
    let Finish::Done(outcome) = how else {
        return None;
    };
    let ended = serde_json::from_str::<Ended>(&m.payload).ok();
    let result = if outcome == "delivered" {
        "success"
    } else {
        "failure"
    };
    let mut e = Event::new("backchannel_logout.finished", result)
        .client(m.target.clone())
        .detail("outcome", outcome)
        .detail("attempts", m.attempts);
    if let Some(u) = ended
        .as_ref()
        .and_then(|x| uuid::Uuid::parse_str(&x.sub).ok())
    {
        e = e.user(Id(u));
    }
    if let Some(err) = error {
        e = e.detail("error", err);
    }
    Some(e)
}

/// Refresh the queue gauges: how many messages wait, and for how long the oldest has.
async fn gauges(state: &Arc<AppState>) {
    let now = state.clock.now();
    let kind = Kind::BackchannelLogout;
    if let Ok((n, oldest)) = state.db.run(move |conn| outbox::pending(conn, kind)).await {
        crate::metrics::outbox(kind.as_str(), n, oldest.map_or(0, |t| (now - t).max(0)));
    }
}
