//! Remembered consent, per user and client.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::id::Id;
use super::schema::{clients, consents};
use crate::domain::scope::Scope;

#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = consents)]
pub struct Consent {
    pub user_id: Id,
    pub client_id: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub scope: Scope,
    pub created_at: i64,
    pub updated_at: i64,
}

pub fn find(
    conn: &mut AnyConnection,
    user_id: Id,
    client_id: &str,
) -> QueryResult<Option<Consent>> {
    consents::table
        .find((user_id, client_id))
        .first::<Consent>(conn)
        .optional()
}

/// Record that the user allowed `scope` to the client (replacing what was there).
/// Portable upsert: update, else insert; a concurrent insert of the same pair loses the
/// race on the primary key and is retried as an update.
pub fn grant(
    conn: &mut AnyConnection,
    user_id: Id,
    client_id: &str,
    scope: &Scope,
    now: i64,
) -> QueryResult<()> {
    let text = scope.to_string();
    let update = |conn: &mut AnyConnection| {
        diesel::update(consents::table.find((user_id, client_id)))
            .set((consents::scope.eq(&text), consents::updated_at.eq(now)))
            .execute(conn)
    };
    if update(conn)? > 0 {
        return Ok(());
    }
    let row = Consent {
        user_id,
        client_id: client_id.to_string(),
        scope: scope.clone(),
        created_at: now,
        updated_at: now,
    };
    match diesel::insert_into(consents::table)
        .values(row)
        .execute(conn)
    {
        Ok(_) => Ok(()),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => update(conn).map(|_| ()),
        Err(e) => Err(e),
    }
}

/// The user's consents with the client names, newest first.
pub fn list_for_user(conn: &mut AnyConnection, user_id: Id) -> QueryResult<Vec<(Consent, String)>> {
    consents::table
        .inner_join(clients::table)
        .filter(consents::user_id.eq(user_id))
        .order(consents::updated_at.desc())
        .select((Consent::as_select(), clients::name))
        .load(conn)
}

/// Forget every person's consent to `client_id` (each is asked again at the next sign-in).
pub fn forget_client(conn: &mut AnyConnection, client_id: &str) -> QueryResult<usize> {
    diesel::delete(consents::table.filter(consents::client_id.eq(client_id))).execute(conn)
}

pub fn revoke(conn: &mut AnyConnection, user_id: Id, client_id: &str) -> QueryResult<bool> {
    diesel::delete(consents::table.find((user_id, client_id)))
        .execute(conn)
        .map(|n| n > 0)
}
