//! Housekeeping: delete what no check needs any more.

use super::db::AnyConnection;
use super::{
    audit, clients, codes, outbox, passkeys, pushed, refresh, replay, resets, revoked, sessions,
    throttle, transactions,
};

#[derive(Debug, Default)]
pub struct Purged {
    pub codes: usize,
    pub sessions: usize,
    pub revoked: usize,
    pub families: usize,
    pub audit_events: usize,
    pub throttle_windows: usize,
    pub transactions: usize,
    /// Used DPoP proof and assertion ids, and pushed requests, past their time.
    pub single_use: usize,
    /// Openly registered clients that signed nobody in.
    pub unused_clients: usize,
}

/// Codes stay an hour past expiry, longer than any access token they could have
/// issued, so a late replay is still caught as reuse. Families go when their absolute
/// lifetime ends or their revocation has outlived their access tokens.
pub fn run(
    conn: &mut AnyConnection,
    now: i64,
    access_ttl: i64,
    session_idle: i64,
    audit_retention_days: i64,
    registration_unused_days: i64,
) -> diesel::QueryResult<Purged> {
    Ok(Purged {
        codes: codes::purge(conn, now - 3600.max(access_ttl))?,
        sessions: sessions::purge_expired(conn, session_idle, now)?,
        revoked: revoked::purge(conn, now)?,
        families: refresh::purge(conn, now, access_ttl)?,
        audit_events: audit::purge(conn, now - audit_retention_days * 86_400)?,
        // Attempt windows last minutes; a day-old one counts for nothing.
        throttle_windows: throttle::purge(conn, now - 86_400)?,
        transactions: transactions::purge(conn, now)?,
        single_use: replay::purge(conn, now)?
            + pushed::purge(conn, now)?
            + resets::purge(conn, now)?
            + passkeys::purge(conn, now)?
            + outbox::purge(conn, now)?,
        unused_clients: clients::purge_unused_open(conn, now - registration_unused_days * 86_400)?,
    })
}
