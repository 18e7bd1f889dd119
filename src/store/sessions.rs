//! Browser sessions: a server-side record referenced by a random cookie.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::id::Id;
use super::schema::sessions;
use crate::domain::signin::SignInMethod;

#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: Id,
    pub token_hash: String,
    pub user_id: Id,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// The absolute end of the session, whatever its activity.
    pub expires_at: i64,
    /// The password was right but the second factor is still owed.
    pub mfa_pending: bool,
    /// Where the sign-in came from (shown to the person in their list of sessions).
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// How the session signed in (its `amr`), for the ID tokens it leads to.
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub amr: SignInMethod,
}

pub fn insert(conn: &mut AnyConnection, s: &Session) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(s.clone())
        .execute(conn)
        .map(|_| ())
}

/// The live session with this token hash: not past its absolute end and used within
/// `idle` seconds. Every use moves `last_seen_at` (at most one write a second): with a
/// coarser step the recorded activity lags the real one, and a short idle limit (60 s,
/// say) ended sessions that were in use.
pub fn find_live(
    conn: &mut AnyConnection,
    token_hash: &str,
    idle: i64,
    now: i64,
) -> QueryResult<Option<Session>> {
    Ok(find_any(conn, token_hash, idle, now)?.filter(|s| !s.mfa_pending))
}

/// A session waiting for its second factor (kept short: the idle limit is 5 minutes).
pub fn find_pending(
    conn: &mut AnyConnection,
    token_hash: &str,
    now: i64,
) -> QueryResult<Option<Session>> {
    Ok(find_any(conn, token_hash, 300, now)?.filter(|s| s.mfa_pending))
}

/// The second factor was given: the session becomes a real one, signed in now, under a
/// new token (the privilege changed, so the identifier changes: no fixation).
pub fn complete_mfa(
    conn: &mut AnyConnection,
    id: Id,
    new_token_hash: &str,
    method: SignInMethod,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::mfa_pending.eq(true)),
    )
    .set((
        sessions::mfa_pending.eq(false),
        sessions::token_hash.eq(new_token_hash),
        sessions::auth_time.eq(now),
        sessions::last_seen_at.eq(now),
        sessions::amr.eq(method.to_string()),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// The person authenticated again (re-authentication before a sensitive change): the
/// session counts as signed in now, under a new token. Only from the token the request
/// presented (`old_token_hash`): of concurrent re-authentications with one token,
/// exactly one renews it, and the others find it gone (false).
pub fn reauthenticated(
    conn: &mut AnyConnection,
    id: Id,
    old_token_hash: &str,
    new_token_hash: &str,
    method: SignInMethod,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        sessions::table
            .find(id)
            .filter(sessions::mfa_pending.eq(false))
            .filter(sessions::token_hash.eq(old_token_hash)),
    )
    .set((
        sessions::token_hash.eq(new_token_hash),
        sessions::auth_time.eq(now),
        sessions::last_seen_at.eq(now),
        sessions::amr.eq(method.to_string()),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

fn find_any(
    conn: &mut AnyConnection,
    token_hash: &str,
    idle: i64,
    now: i64,
) -> QueryResult<Option<Session>> {
    let Some(s) = sessions::table
        .filter(sessions::token_hash.eq(token_hash))
        .first::<Session>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    if s.expires_at <= now || s.last_seen_at + idle <= now {
        diesel::delete(sessions::table.find(s.id)).execute(conn)?;
        return Ok(None);
    }
    if now > s.last_seen_at {
        diesel::update(sessions::table.find(s.id))
            .set(sessions::last_seen_at.eq(now))
            .execute(conn)?;
    }
    Ok(Some(s))
}

/// Whether session `id` still stands (not ended, not past its absolute lifetime).
pub fn is_live(conn: &mut AnyConnection, id: Id, now: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        sessions::table
            .find(id)
            .filter(sessions::expires_at.gt(now)),
    ))
    .get_result(conn)
}

pub fn delete_by_hash(conn: &mut AnyConnection, token_hash: &str) -> QueryResult<()> {
    diesel::delete(sessions::table.filter(sessions::token_hash.eq(token_hash)))
        .execute(conn)
        .map(|_| ())
}

/// End session `id` if it is `user_id`'s. Returns whether one was ended.
pub fn delete_for(conn: &mut AnyConnection, id: Id, user_id: Id) -> QueryResult<bool> {
    diesel::delete(
        sessions::table
            .find(id)
            .filter(sessions::user_id.eq(user_id)),
    )
    .execute(conn)
    .map(|n| n == 1)
}

/// The person's live, fully signed-in sessions, most recently active first.
pub fn list_live(
    conn: &mut AnyConnection,
    user_id: Id,
    idle: i64,
    now: i64,
) -> QueryResult<Vec<Session>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::mfa_pending.eq(false))
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::last_seen_at.gt(now - idle))
        .order(sessions::last_seen_at.desc())
        .select(Session::as_select())
        .load(conn)
}

/// End every session of `user_id` but `keep` (the browser that asked).
pub fn delete_others(conn: &mut AnyConnection, user_id: Id, keep: Id) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::id.ne(keep)),
    )
    .execute(conn)
}

pub fn delete_for_user(conn: &mut AnyConnection, user_id: Id) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)
}

pub fn purge_expired(conn: &mut AnyConnection, idle: i64, now: i64) -> QueryResult<usize> {
    diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(now)
                .or(sessions::last_seen_at.le(now - idle)),
        ),
    )
    .execute(conn)
}
