//! The audit trail's services above storage (`store::audit` holds the events).

pub mod issued;

pub use issued::IssuedCounter;

use crate::store::Db;
use crate::store::audit::Event;

/// Record one event in a unit of work of its own (for events without a surrounding
/// transaction). A failure is logged, never shown to whoever caused the event.
pub async fn record(db: &Db, event: Event, now: i64) {
    if let Err(e) = db
        .run(move |conn| crate::store::audit::record(conn, &event, now))
        .await
    {
        tracing::error!(error = %e, "cannot write an audit event");
        crate::metrics::audit_event("dropped");
    }
}
