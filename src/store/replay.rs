//! Values that may be used once, across every instance: DPoP proof `jti`s (RFC 9449
//! §11.1) and client assertion `jti`s (RFC 7523 §3). The key's primary key decides: of
//! any number of concurrent first uses, on any instance, exactly one insert succeeds.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::db::{AnyConnection, write_transaction};
use super::schema::used_jtis;

/// The same text on both backends.
const FIRST_USE: &str =
    "INSERT INTO used_jtis (key, expires_at) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";

/// Record `key` as used until `expires_at` (after which whatever carried it is refused
/// for its age anyway). True only for the first use.
pub fn first_use(conn: &mut AnyConnection, key: &str, expires_at: i64) -> QueryResult<bool> {
    write_transaction(conn, |conn| {
        diesel::sql_query(FIRST_USE)
            .bind::<Text, _>(key)
            .bind::<BigInt, _>(expires_at)
            .execute(conn)
            .map(|n| n == 1)
    })
}

pub fn purge(conn: &mut AnyConnection, now: i64) -> QueryResult<usize> {
    diesel::delete(used_jtis::table.filter(used_jtis::expires_at.le(now))).execute(conn)
}
