//! Authorization requests in progress (see `oauth::authorize::transaction`): stored by
//! the hash of their id, completed at most once.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::id::Id;
use super::schema::authorization_transactions as tx;

#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = tx)]
pub struct TransactionRow {
    pub id_hash: String,
    /// Hash of the browser's binding cookie.
    pub binding_hash: String,
    pub client_id: String,
    /// The authorization request's parameters, form-encoded, as validated.
    pub params: String,
    /// The session that signed in during this transaction.
    pub session_id: Option<Id>,
    /// When that session completed its sign-in (password, and second factor if any).
    pub authenticated_at: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub completed_at: Option<i64>,
    /// It began as a pushed authorization request (RFC 9126).
    pub pushed: bool,
}

pub fn insert(conn: &mut AnyConnection, row: &TransactionRow) -> QueryResult<()> {
    diesel::insert_into(tx::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// The open transaction with this id hash: not completed, not expired.
pub fn find_open(
    conn: &mut AnyConnection,
    id_hash: &str,
    now: i64,
) -> QueryResult<Option<TransactionRow>> {
    tx::table
        .find(id_hash)
        .filter(tx::completed_at.is_null())
        .filter(tx::expires_at.gt(now))
        .select(TransactionRow::as_select())
        .first(conn)
        .optional()
}

/// Note which session is signing in for this transaction (the password step).
pub fn signing_in(conn: &mut AnyConnection, id_hash: &str, session: Id) -> QueryResult<()> {
    diesel::update(tx::table.find(id_hash).filter(tx::completed_at.is_null()))
        .set((
            tx::session_id.eq(Some(session)),
            tx::authenticated_at.eq(None::<i64>),
        ))
        .execute(conn)
        .map(|_| ())
}

/// The session finished signing in (with its second factor, if any) at `at`.
pub fn authenticated(
    conn: &mut AnyConnection,
    id_hash: &str,
    session: Id,
    at: i64,
) -> QueryResult<()> {
    diesel::update(
        tx::table
            .find(id_hash)
            .filter(tx::completed_at.is_null())
            .filter(tx::session_id.eq(session)),
    )
    .set(tx::authenticated_at.eq(Some(at)))
    .execute(conn)
    .map(|_| ())
}

/// Complete the transaction. `false` when another request completed it first: a
/// transaction yields at most one code (or one error sent to the client).
pub fn complete(conn: &mut AnyConnection, id_hash: &str, now: i64) -> QueryResult<bool> {
    diesel::update(
        tx::table
            .find(id_hash)
            .filter(tx::completed_at.is_null())
            .filter(tx::expires_at.gt(now)),
    )
    .set(tx::completed_at.eq(Some(now)))
    .execute(conn)
    .map(|n| n == 1)
}

/// Forget transactions that ended before `before`.
pub fn purge(conn: &mut AnyConnection, before: i64) -> QueryResult<usize> {
    diesel::delete(tx::table.filter(tx::expires_at.lt(before))).execute(conn)
}
