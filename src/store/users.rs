//! Persistence of user accounts.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::id::Id;
use super::schema::users;

#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: Id,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub name: Option<String>,
    pub email_verified: bool,
    /// API scopes this person may give personal tokens, space-separated; `None`: the
    /// whole catalogue (see `oauth::personal::entitled`).
    pub api_scopes: Option<String>,
}

pub fn insert(conn: &mut AnyConnection, user: &User) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)
        .map(|_| ())
}

pub fn find_by_username(conn: &mut AnyConnection, username: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username.eq(username))
        .first::<User>(conn)
        .optional()
}

pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<User>> {
    users::table
        .order(users::created_at.asc())
        .load::<User>(conn)
}

pub fn delete_by_username(conn: &mut AnyConnection, username: &str) -> QueryResult<bool> {
    diesel::delete(users::table.filter(users::username.eq(username)))
        .execute(conn)
        .map(|n| n > 0)
}

pub fn set_password_hash(
    conn: &mut AnyConnection,
    username: &str,
    hash: &str,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(users::table.filter(users::username.eq(username)))
        .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
        .execute(conn)
        .map(|n| n > 0)
}

pub fn find(conn: &mut AnyConnection, id: Id) -> QueryResult<Option<User>> {
    users::table.find(id).first::<User>(conn).optional()
}

/// Set what the person may give personal tokens (`None`: the whole catalogue).
pub fn set_api_scopes(
    conn: &mut AnyConnection,
    id: Id,
    scopes: Option<&str>,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(users::table.find(id))
        .set((users::api_scopes.eq(scopes), users::updated_at.eq(now)))
        .execute(conn)
        .map(|n| n == 1)
}
