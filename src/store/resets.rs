//! Password reset links (`user reset-link`): a random token shown once, stored as a
//! hash, for one person, single use, short-lived.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::id::Id;
use super::schema::reset_tokens as rt;

#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = rt)]
pub struct ResetRow {
    pub id: String,
    pub token_hash: String,
    pub user_id: Id,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub fn insert(conn: &mut AnyConnection, row: &ResetRow) -> QueryResult<()> {
    diesel::insert_into(rt::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// The person a live, unused token is for (it is not spent).
pub fn peek(conn: &mut AnyConnection, token_hash: &str, now: i64) -> QueryResult<Option<Id>> {
    rt::table
        .filter(rt::token_hash.eq(token_hash))
        .filter(rt::used_at.is_null())
        .filter(rt::expires_at.gt(now))
        .select(rt::user_id)
        .first(conn)
        .optional()
}

/// Spend the token: one conditional update, so of concurrent uses exactly one gets the
/// person; the others get `None`. Call inside the write transaction that sets the
/// password, so that a failed change spends nothing.
pub fn spend(conn: &mut AnyConnection, token_hash: &str, now: i64) -> QueryResult<Option<Id>> {
    let n = diesel::update(
        rt::table
            .filter(rt::token_hash.eq(token_hash))
            .filter(rt::used_at.is_null())
            .filter(rt::expires_at.gt(now)),
    )
    .set(rt::used_at.eq(now))
    .execute(conn)?;
    if n != 1 {
        return Ok(None);
    }
    rt::table
        .filter(rt::token_hash.eq(token_hash))
        .select(rt::user_id)
        .first(conn)
        .optional()
}

/// Cancel every outstanding link of `user` (a password was set some other way, or a new
/// link replaces them).
pub fn cancel_for_user(conn: &mut AnyConnection, user: Id, now: i64) -> QueryResult<usize> {
    diesel::update(
        rt::table
            .filter(rt::user_id.eq(user))
            .filter(rt::used_at.is_null()),
    )
    .set(rt::used_at.eq(now))
    .execute(conn)
}

/// Tokens used or expired before `before`.
pub fn purge(conn: &mut AnyConnection, before: i64) -> QueryResult<usize> {
    diesel::delete(rt::table.filter(rt::expires_at.lt(before))).execute(conn)
}

/// Cancel the unused reset links among `hashes` (reported as leaked): their people.
pub fn cancel_reported(
    conn: &mut AnyConnection,
    hashes: &[String],
    now: i64,
) -> QueryResult<Vec<Id>> {
    let q = diesel::update(
        rt::table
            .filter(rt::token_hash.eq_any(hashes))
            .filter(rt::used_at.is_null()),
    )
    .set(rt::used_at.eq(now))
    .returning(rt::user_id);
    match conn {
        AnyConnection::Postgresql(c) => q.get_results(c),
        AnyConnection::Sqlite(c) => q.get_results(c),
    }
}
