//! Revoked access tokens, by `jti`, kept until the token would have expired anyway.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::schema::revoked_tokens;

/// Record a revocation; revoking twice is not an error. `ON CONFLICT DO NOTHING`
/// rather than catching the violation: on PostgreSQL a failed statement aborts the
/// surrounding transaction.
pub fn revoke(conn: &mut AnyConnection, jti: &str, expires_at: i64, now: i64) -> QueryResult<()> {
    revoke_first(conn, jti, expires_at, now).map(|_| ())
}

/// `revoke`, saying whether this call was the one that revoked it.
pub fn revoke_first(
    conn: &mut AnyConnection,
    jti: &str,
    expires_at: i64,
    now: i64,
) -> QueryResult<bool> {
    let row = (
        revoked_tokens::jti.eq(jti),
        revoked_tokens::expires_at.eq(expires_at),
        revoked_tokens::revoked_at.eq(now),
    );
    let q = diesel::insert_into(revoked_tokens::table).values(row);
    // MultiConnection has no upsert support: the same statement, once per backend.
    match conn {
        AnyConnection::Postgresql(c) => q.on_conflict_do_nothing().execute(c),
        AnyConnection::Sqlite(c) => q.on_conflict_do_nothing().execute(c),
    }
    .map(|n| n == 1)
}

pub fn is_revoked(conn: &mut AnyConnection, jti: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        revoked_tokens::table.filter(revoked_tokens::jti.eq(jti)),
    ))
    .get_result(conn)
}

pub fn purge(conn: &mut AnyConnection, now: i64) -> QueryResult<usize> {
    diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.lt(now))).execute(conn)
}
