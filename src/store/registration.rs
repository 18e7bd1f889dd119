//! Initial access tokens for dynamic client registration (RFC 7591 §3): who may
//! register. Stored as hashes; a use is counted with one conditional update, so a token
//! limited to N uses registers at most N clients however many requests arrive together,
//! on however many instances.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::schema::registration_tokens as rt;

#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = rt)]
pub struct RegistrationTokenRow {
    pub id: String,
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub max_uses: Option<i64>,
    pub uses: i64,
    pub revoked_at: Option<i64>,
    /// Clients it registers may introspect any token (RFC 7662 §4).
    pub allow_introspection: bool,
}

pub fn insert(conn: &mut AnyConnection, row: &RegistrationTokenRow) -> QueryResult<()> {
    diesel::insert_into(rt::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<RegistrationTokenRow>> {
    rt::table
        .order(rt::created_at.asc())
        .select(RegistrationTokenRow::as_select())
        .load(conn)
}

/// Revoke by id; false when there is no such live token.
pub fn revoke(conn: &mut AnyConnection, id: &str, now: i64) -> QueryResult<bool> {
    diesel::update(rt::table.find(id).filter(rt::revoked_at.is_null()))
        .set(rt::revoked_at.eq(now))
        .execute(conn)
        .map(|n| n == 1)
}

/// Whether the token with this hash is live with a use left (checked again, atomically,
/// when it is spent).
pub fn live(conn: &mut AnyConnection, token_hash: &str, now: i64) -> QueryResult<bool> {
    use diesel::dsl::{exists, select};
    select(exists(
        rt::table
            .filter(rt::token_hash.eq(token_hash))
            .filter(rt::revoked_at.is_null())
            .filter(rt::expires_at.is_null().or(rt::expires_at.gt(now)))
            .filter(
                rt::max_uses
                    .is_null()
                    .or(rt::uses.lt(rt::max_uses.assume_not_null())),
            ),
    ))
    .get_result(conn)
}

/// Spend one use of the token with this hash, if it is live and has a use left: its id
/// and whether its clients may introspect any token.
pub fn spend(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> QueryResult<Option<(String, bool)>> {
    // One conditional UPDATE: racing spenders of the last use cannot both match. The
    // caller holds the write transaction (the client it registers is in it too); this
    // does not open one, as the SQLite writer lock is not re-entrant.
    let spent = diesel::update(
        rt::table
            .filter(rt::token_hash.eq(token_hash))
            .filter(rt::revoked_at.is_null())
            .filter(rt::expires_at.is_null().or(rt::expires_at.gt(now)))
            .filter(
                rt::max_uses
                    .is_null()
                    .or(rt::uses.lt(rt::max_uses.assume_not_null())),
            ),
    )
    .set(rt::uses.eq(rt::uses + 1))
    .execute(conn)?;
    if spent != 1 {
        return Ok(None);
    }
    rt::table
        .filter(rt::token_hash.eq(token_hash))
        .select((rt::id, rt::allow_introspection))
        .first::<(String, bool)>(conn)
        .optional()
}

/// Revoke the live initial access tokens among `hashes` (reported as leaked): their ids.
pub fn revoke_reported(
    conn: &mut AnyConnection,
    hashes: &[String],
    now: i64,
) -> QueryResult<Vec<String>> {
    let q = diesel::update(
        rt::table
            .filter(rt::token_hash.eq_any(hashes))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::revoked_at.eq(now))
    .returning(rt::id);
    match conn {
        AnyConnection::Postgresql(c) => q.get_results(c),
        AnyConnection::Sqlite(c) => q.get_results(c),
    }
}
