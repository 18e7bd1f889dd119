//! Browser sessions: a server-side record referenced by a random cookie.

use diesel::prelude::*;

use super::db::{self, AnyConnection};
use super::id::Id;
use super::outbox::{self, Kind, NewMessage};
use super::schema::{clients, session_clients, sessions};
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
        end(conn, vec![(s.id, s.user_id)], now)?;
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

pub fn delete_by_hash(conn: &mut AnyConnection, token_hash: &str, now: i64) -> QueryResult<()> {
    let found = sessions::table
        .filter(sessions::token_hash.eq(token_hash))
        .select(WHO)
        .load::<(Id, Id)>(conn)?;
    end(conn, found, now).map(|_| ())
}

/// End session `id` if it is `user_id`'s. Returns whether one was ended.
pub fn delete_for(conn: &mut AnyConnection, id: Id, user_id: Id, now: i64) -> QueryResult<bool> {
    let found = sessions::table
        .find(id)
        .filter(sessions::user_id.eq(user_id))
        .select(WHO)
        .load::<(Id, Id)>(conn)?;
    end(conn, found, now).map(|n| n == 1)
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
pub fn delete_others(
    conn: &mut AnyConnection,
    user_id: Id,
    keep: Id,
    now: i64,
) -> QueryResult<usize> {
    let found = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::id.ne(keep))
        .select(WHO)
        .load::<(Id, Id)>(conn)?;
    end(conn, found, now)
}

pub fn delete_for_user(conn: &mut AnyConnection, user_id: Id, now: i64) -> QueryResult<usize> {
    let found = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .select(WHO)
        .load::<(Id, Id)>(conn)?;
    end(conn, found, now)
}

/// End the sessions past their absolute lifetime or idle for `idle` seconds.
pub fn purge_expired(conn: &mut AnyConnection, idle: i64, now: i64) -> QueryResult<usize> {
    let found = sessions::table
        .filter(
            sessions::expires_at
                .le(now)
                .or(sessions::last_seen_at.le(now - idle)),
        )
        .select(WHO)
        .load::<(Id, Id)>(conn)?;
    end(conn, found, now)
}

/// Note that `client_id` was signed in through session `session` (a code was issued to
/// it there): it hears when the session ends.
pub fn note_client(conn: &mut AnyConnection, session: Id, client_id: &str) -> QueryResult<()> {
    let q = diesel::insert_into(session_clients::table).values((
        session_clients::session_id.eq(session),
        session_clients::client_id.eq(client_id),
    ));
    match conn {
        AnyConnection::Postgresql(c) => q.on_conflict_do_nothing().execute(c),
        AnyConnection::Sqlite(c) => q.on_conflict_do_nothing().execute(c),
    }
    .map(|_| ())
}

/// Who a session is: (id, person).
const WHO: (sessions::id, sessions::user_id) = (sessions::id, sessions::user_id);

/// End `found` sessions: each app that signed in through one of them and has a
/// back-channel logout URI gets a logout token (OpenID Connect Back-Channel Logout 1.0
/// §2.5), written to the outbox in the same transaction as the deletion, so that the
/// ending and its announcement exist together or not at all. Returns how many ended.
fn end(conn: &mut AnyConnection, found: Vec<(Id, Id)>, now: i64) -> QueryResult<usize> {
    if found.is_empty() {
        return Ok(0);
    }
    db::write_transaction(conn, |conn| {
        let mut ended = 0;
        // (Bounded statements: a purge may end many sessions at once.)
        for chunk in found.chunks(500) {
            announce(conn, chunk, now)?;
            let ids: Vec<Id> = chunk.iter().map(|(id, _)| *id).collect();
            diesel::delete(session_clients::table.filter(session_clients::session_id.eq_any(&ids)))
                .execute(conn)?;
            ended +=
                diesel::delete(sessions::table.filter(sessions::id.eq_any(&ids))).execute(conn)?;
        }
        Ok(ended)
    })
}

/// The logout messages for the ending of `sessions`: one per (app, session), whichever
/// path ends it (the dedupe key), and only to the apps that took part.
fn announce(conn: &mut AnyConnection, ending: &[(Id, Id)], now: i64) -> QueryResult<()> {
    let ids: Vec<Id> = ending.iter().map(|(id, _)| *id).collect();
    let took_part: Vec<(Id, String)> = session_clients::table
        .filter(session_clients::session_id.eq_any(&ids))
        .select((session_clients::session_id, session_clients::client_id))
        .load(conn)?;
    if took_part.is_empty() {
        return Ok(());
    }
    let names: Vec<&String> = took_part.iter().map(|(_, c)| c).collect();
    let listening: std::collections::HashSet<String> = clients::table
        .filter(clients::client_id.eq_any(names))
        .filter(clients::backchannel_logout_uri.is_not_null())
        .select(clients::client_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    for (sid, client_id) in took_part.iter().filter(|(_, c)| listening.contains(c)) {
        let Some((_, sub)) = ending.iter().find(|(id, _)| id == sid) else {
            continue;
        };
        let payload = serde_json::json!({ "sid": sid.to_string(), "sub": sub.to_string() });
        let m = NewMessage {
            kind: Kind::BackchannelLogout,
            dedupe_key: format!("backchannel_logout {client_id} {sid}"),
            target: client_id.clone(),
            payload: payload.to_string(),
        };
        outbox::enqueue(conn, &m, now)?;
    }
    Ok(())
}
