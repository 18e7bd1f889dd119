//! Attempt counters in the database, shared by every instance: one fixed window per key.
//!
//! `reserve` counts the attempt *before* it is checked, in one atomic statement, and
//! says whether it is within the limit; `release` gives a reserved attempt back when it
//! turned out to be a success. A burst of concurrent attempts, on one instance or many,
//! is therefore counted attempt by attempt: no request can pass between a check and its
//! bookkeeping (the flaw of "check, then count the failure").

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::db::AnyConnection;
use super::schema::throttle_counters as tc;

/// The result of a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    /// Within the limit: go ahead and check it. Carries the window, for `release`.
    Granted { window_start: i64 },
    /// Over the limit: refuse without checking; retry after this many seconds.
    Refused { retry_after: i64 },
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    attempts: i64,
    #[diesel(sql_type = BigInt)]
    window_start: i64,
}

/// The upsert is the same text on both backends (SQLite ≥ 3.35 has `RETURNING`); in
/// `SET`, column names read the row as it was before the update, on both.
const RESERVE: &str = "INSERT INTO throttle_counters (key, window_start, attempts) VALUES ($1, $2, 1) \
     ON CONFLICT (key) DO UPDATE SET \
       attempts = CASE WHEN throttle_counters.window_start <= $2 - $3 THEN 1 \
                       ELSE throttle_counters.attempts + 1 END, \
       window_start = CASE WHEN throttle_counters.window_start <= $2 - $3 THEN $2 \
                           ELSE throttle_counters.window_start END \
     RETURNING attempts, window_start";

/// Count one attempt for `key` in a window of `window` seconds with `limit` attempts.
pub fn reserve(
    conn: &mut AnyConnection,
    key: &str,
    limit: u32,
    window: i64,
    now: i64,
) -> QueryResult<Reserved> {
    let q = diesel::sql_query(RESERVE)
        .bind::<Text, _>(key)
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(window);
    let c: Counted = match conn {
        AnyConnection::Postgresql(c) => q.get_result(c)?,
        AnyConnection::Sqlite(c) => q.get_result(c)?,
    };
    Ok(if c.attempts <= i64::from(limit) {
        Reserved::Granted {
            window_start: c.window_start,
        }
    } else {
        Reserved::Refused {
            retry_after: (c.window_start + window - now).max(1),
        }
    })
}

/// Give back an attempt reserved in `window_start` (a success does not count). Nothing
/// happens when that window has already been replaced by a new one.
pub fn release(conn: &mut AnyConnection, key: &str, window_start: i64) -> QueryResult<()> {
    diesel::update(
        tc::table
            .find(key)
            .filter(tc::window_start.eq(window_start))
            .filter(tc::attempts.gt(0)),
    )
    .set(tc::attempts.eq(tc::attempts - 1))
    .execute(conn)
    .map(|_| ())
}

/// Forget windows that ended before `before`.
pub fn purge(conn: &mut AnyConnection, before: i64) -> QueryResult<usize> {
    diesel::delete(tc::table.filter(tc::window_start.lt(before))).execute(conn)
}
