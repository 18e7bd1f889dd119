//! Signing keys as stored: the private key sealed with the data key, the state and
//! its times as text and numbers. `keys::ring` turns rows into keys.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::schema::{key_set, signing_keys as sk};

#[derive(Debug, Clone, Queryable, Insertable, Selectable, AsChangeset)]
#[diesel(table_name = sk, treat_none_as_null = true)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub state: String,
    /// PKCS#8 PEM sealed with the data key (`crate::sealed`).
    pub sealed_key: String,
    pub created_at: i64,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub published_until: Option<i64>,
    pub hints_until: Option<i64>,
}

pub fn all(conn: &mut AnyConnection) -> QueryResult<Vec<KeyRow>> {
    sk::table
        .order(sk::created_at.asc())
        .select(KeyRow::as_select())
        .load(conn)
}

pub fn insert(conn: &mut AnyConnection, row: &KeyRow) -> QueryResult<()> {
    diesel::insert_into(sk::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Write back a key's state, times and sealed form.
pub fn save(conn: &mut AnyConnection, row: &KeyRow) -> QueryResult<()> {
    diesel::update(sk::table.find(&row.kid))
        .set(row)
        .execute(conn)
        .map(|_| ())
}

/// Write back a key's state and times.
#[allow(clippy::too_many_arguments)] // each is one column of the row
pub fn set_state(
    conn: &mut AnyConnection,
    kid: &str,
    state: &str,
    activated_at: Option<i64>,
    retired_at: Option<i64>,
    published_until: Option<i64>,
    hints_until: Option<i64>,
) -> QueryResult<()> {
    diesel::update(sk::table.find(kid))
        .set((
            sk::state.eq(state),
            sk::activated_at.eq(activated_at),
            sk::retired_at.eq(retired_at),
            sk::published_until.eq(published_until),
            sk::hints_until.eq(hints_until),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn delete(conn: &mut AnyConnection, kid: &str) -> QueryResult<()> {
    diesel::delete(sk::table.find(kid))
        .execute(conn)
        .map(|_| ())
}

/// The key set's version: any change bumps it, and instances reload when it moves.
pub fn version(conn: &mut AnyConnection) -> QueryResult<i64> {
    key_set::table.find(1).select(key_set::version).first(conn)
}

pub fn bump(conn: &mut AnyConnection) -> QueryResult<()> {
    diesel::update(key_set::table.find(1))
        .set(key_set::version.eq(key_set::version + 1))
        .execute(conn)
        .map(|_| ())
}

/// The longest token lifetime and session lifetime any serving instance declared.
pub fn lifetimes(conn: &mut AnyConnection) -> QueryResult<(i64, i64)> {
    key_set::table
        .find(1)
        .select((key_set::longest_token_ttl, key_set::longest_session))
        .first(conn)
}

/// Raise the declared lifetimes to at least these.
pub fn declare_lifetimes(conn: &mut AnyConnection, token: i64, session: i64) -> QueryResult<()> {
    let (t, s) = lifetimes(conn)?;
    if token > t || session > s {
        diesel::update(key_set::table.find(1))
            .set((
                key_set::longest_token_ttl.eq(token.max(t)),
                key_set::longest_session.eq(session.max(s)),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The algorithm whose active key signs access tokens.
pub fn access_alg(conn: &mut AnyConnection) -> QueryResult<String> {
    key_set::table
        .find(1)
        .select(key_set::access_alg)
        .first(conn)
}

pub fn set_access_alg(conn: &mut AnyConnection, alg: &str) -> QueryResult<()> {
    diesel::update(key_set::table.find(1))
        .set(key_set::access_alg.eq(alg))
        .execute(conn)
        .map(|_| ())
}

/// Serialise changes to the key set across instances: inside a write transaction, on
/// PostgreSQL, a transaction-scoped advisory lock (SQLite's `BEGIN IMMEDIATE` already
/// holds the one write lock).
pub fn lock(conn: &mut AnyConnection) -> QueryResult<()> {
    /// Arbitrary constant naming the lock ("PCKY").
    const KEYS_LOCK: i64 = 0x5043_4B59;
    if let AnyConnection::Postgresql(c) = conn {
        diesel::sql_query(format!("SELECT pg_advisory_xact_lock({KEYS_LOCK})")).execute(c)?;
    }
    Ok(())
}
