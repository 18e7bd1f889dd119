//! Passkeys (WebAuthn credentials) and the ceremonies in flight that create and use them.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::id::Id;
use super::schema::{passkeys, webauthn_ceremonies as ceremonies};

#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    pub id: Id,
    pub user_id: Id,
    /// The credential id, base64url without padding.
    pub credential_id: String,
    pub name: String,
    /// webauthn-rs's `Passkey`, as JSON.
    pub passkey: String,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// False when the credential is registered already (to anyone: WebAuthn L3 §7.1 step 26
/// says to refuse it).
pub fn insert(conn: &mut AnyConnection, row: &PasskeyRow) -> QueryResult<bool> {
    match diesel::insert_into(passkeys::table)
        .values(row)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn of_user(conn: &mut AnyConnection, user: Id) -> QueryResult<Vec<PasskeyRow>> {
    passkeys::table
        .filter(passkeys::user_id.eq(user))
        .order(passkeys::created_at.asc())
        .load(conn)
}

/// How many passkeys `user` has. Inside a write transaction that will add one, it first
/// locks the person's row (PostgreSQL; SQLite's write transaction is already the only
/// writer), so that of concurrent additions each counts the ones before it and the cap
/// holds.
pub fn count_of_user(conn: &mut AnyConnection, user: Id) -> QueryResult<i64> {
    if let AnyConnection::Postgresql(c) = conn {
        use super::schema::users;
        users::table
            .find(user)
            .select(users::id)
            .for_update()
            .load::<Id>(c)?;
    }
    passkeys::table
        .filter(passkeys::user_id.eq(user))
        .count()
        .get_result(conn)
}

pub fn by_credential(
    conn: &mut AnyConnection,
    credential_id: &str,
) -> QueryResult<Option<PasskeyRow>> {
    passkeys::table
        .filter(passkeys::credential_id.eq(credential_id))
        .first(conn)
        .optional()
}

/// Record a use. The counter check and the write are one statement: of two assertions
/// racing with the same counter (a cloned authenticator, or a replay on another
/// instance), exactly one moves it. A counter of zero on both sides means the
/// authenticator keeps none (synced passkeys), which WebAuthn L3 §7.2 step 22 allows.
pub fn record_use(
    conn: &mut AnyConnection,
    id: Id,
    passkey_json: &str,
    counter: i64,
    backed_up: bool,
    now: i64,
) -> QueryResult<bool> {
    let target = passkeys::table.find(id);
    let set = (
        passkeys::passkey.eq(passkey_json),
        passkeys::sign_count.eq(counter),
        passkeys::backed_up.eq(backed_up),
        passkeys::last_used_at.eq(now),
    );
    let n = if counter == 0 {
        diesel::update(target.filter(passkeys::sign_count.eq(0)))
            .set(set)
            .execute(conn)?
    } else {
        diesel::update(target.filter(passkeys::sign_count.lt(counter)))
            .set(set)
            .execute(conn)?
    };
    Ok(n == 1)
}

pub fn rename(conn: &mut AnyConnection, user: Id, id: Id, name: &str) -> QueryResult<bool> {
    diesel::update(passkeys::table.find(id).filter(passkeys::user_id.eq(user)))
        .set(passkeys::name.eq(name))
        .execute(conn)
        .map(|n| n == 1)
}

/// Remove one of the person's passkeys; None when it is not theirs (or gone).
pub fn remove(conn: &mut AnyConnection, user: Id, id: Id) -> QueryResult<Option<PasskeyRow>> {
    let Some(row) = passkeys::table
        .find(id)
        .filter(passkeys::user_id.eq(user))
        .first::<PasskeyRow>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let n = diesel::delete(passkeys::table.find(id).filter(passkeys::user_id.eq(user)))
        .execute(conn)?;
    Ok((n == 1).then_some(row))
}

pub fn remove_all(conn: &mut AnyConnection, user: Id) -> QueryResult<usize> {
    diesel::delete(passkeys::table.filter(passkeys::user_id.eq(user))).execute(conn)
}

#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = ceremonies)]
pub struct CeremonyRow {
    pub id: String,
    pub binding_hash: String,
    pub purpose: String,
    pub user_id: Option<Id>,
    pub session_id: Option<Id>,
    /// webauthn-rs's half of the ceremony, as JSON.
    pub state: String,
    pub expires_at: i64,
}

pub fn begin(conn: &mut AnyConnection, row: &CeremonyRow) -> QueryResult<()> {
    diesel::insert_into(ceremonies::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Take the ceremony `id` out of the store: read and deleted in one step, so that of any
/// number of requests presenting it, on any instance, exactly one gets it. Whatever
/// then fails, it cannot be tried again. Expired ones are taken and refused alike.
pub fn take(conn: &mut AnyConnection, id: &str, now: i64) -> QueryResult<Option<CeremonyRow>> {
    super::db::write_transaction(conn, |conn| {
        let Some(row) = ceremonies::table
            .find(id)
            .first::<CeremonyRow>(conn)
            .optional()?
        else {
            return Ok(None);
        };
        let n = diesel::delete(ceremonies::table.find(id)).execute(conn)?;
        Ok((n == 1 && row.expires_at > now).then_some(row))
    })
}

pub fn purge(conn: &mut AnyConnection, now: i64) -> QueryResult<usize> {
    diesel::delete(ceremonies::table.filter(ceremonies::expires_at.le(now))).execute(conn)
}
