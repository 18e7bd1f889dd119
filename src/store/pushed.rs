//! Pushed authorization requests (RFC 9126): stored by their `request_uri`'s hash, for
//! one client, used at most once before they expire.

use diesel::prelude::*;

use super::db::{AnyConnection, write_transaction};
use super::schema::pushed_requests as pr;

#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = pr)]
pub struct PushedRow {
    pub uri_hash: String,
    pub client_id: String,
    /// The request's parameters, form-encoded.
    pub params: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

pub fn insert(conn: &mut AnyConnection, row: &PushedRow) -> QueryResult<()> {
    diesel::insert_into(pr::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

/// The parameters of the live request `uri_hash` pushed by `client_id`, marking it
/// used: the conditional update lets exactly one of concurrent requests have it.
pub fn take(
    conn: &mut AnyConnection,
    uri_hash: &str,
    client_id: &str,
    now: i64,
) -> QueryResult<Option<String>> {
    write_transaction(conn, |conn| {
        let taken = diesel::update(
            pr::table
                .find(uri_hash)
                .filter(pr::client_id.eq(client_id))
                .filter(pr::used_at.is_null())
                .filter(pr::expires_at.gt(now)),
        )
        .set(pr::used_at.eq(now))
        .execute(conn)?;
        if taken != 1 {
            return Ok(None);
        }
        pr::table
            .find(uri_hash)
            .select(pr::params)
            .first::<String>(conn)
            .optional()
    })
}

pub fn purge(conn: &mut AnyConnection, now: i64) -> QueryResult<usize> {
    diesel::delete(pr::table.filter(pr::expires_at.le(now))).execute(conn)
}
