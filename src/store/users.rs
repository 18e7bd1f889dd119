//! Persistence of user accounts.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::id::Id;
use super::schema::users;
use crate::domain::scope::Scope;

#[derive(Debug, Clone)]
pub struct User {
    pub id: Id,
    pub username: String,
    pub email: Option<String>,
    pub password_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub name: Option<String>,
    pub email_verified: bool,
    /// API scopes this person may give personal tokens; `None`: the whole catalogue
    /// (see `oauth::personal::entitled`).
    pub api_scopes: Option<Scope>,
}

#[derive(Queryable, Insertable, Selectable)]
#[diesel(table_name = users)]
struct Row {
    id: Id,
    username: String,
    email: Option<String>,
    password_hash: String,
    created_at: i64,
    updated_at: i64,
    name: Option<String>,
    email_verified: bool,
    api_scopes: Option<String>,
}

impl TryFrom<Row> for User {
    type Error = diesel::result::Error;

    fn try_from(r: Row) -> QueryResult<User> {
        let api_scopes = r
            .api_scopes
            .map(|s| Scope::parse(&s).map_err(|e| super::corrupt("user API scopes", e)))
            .transpose()?;
        Ok(User {
            id: r.id,
            username: r.username,
            email: r.email,
            password_hash: r.password_hash,
            created_at: r.created_at,
            updated_at: r.updated_at,
            name: r.name,
            email_verified: r.email_verified,
            api_scopes,
        })
    }
}

pub fn insert(conn: &mut AnyConnection, user: &User) -> QueryResult<()> {
    let row = Row {
        id: user.id,
        username: user.username.clone(),
        email: user.email.clone(),
        password_hash: user.password_hash.clone(),
        created_at: user.created_at,
        updated_at: user.updated_at,
        name: user.name.clone(),
        email_verified: user.email_verified,
        api_scopes: user.api_scopes.as_ref().map(Scope::to_string),
    };
    diesel::insert_into(users::table)
        .values(&row)
        .execute(conn)
        .map(|_| ())
}

fn one(row: Option<Row>) -> QueryResult<Option<User>> {
    row.map(User::try_from).transpose()
}

/// The person named `username`, ignoring case as the database's `lower` does (its
/// unique index on `lower(username)` allows one such person).
pub fn find_by_username(conn: &mut AnyConnection, username: &str) -> QueryResult<Option<User>> {
    one(users::table
        .filter(lower(users::username).eq(lower(username)))
        .select(Row::as_select())
        .first(conn)
        .optional()?)
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Whether a user has this name, ignoring case (the database's `lower`, as the unique
/// index on it does).
pub fn username_taken(conn: &mut AnyConnection, username: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(lower(users::username).eq(lower(username))),
    ))
    .get_result(conn)
}

pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<User>> {
    users::table
        .order(users::created_at.asc())
        .select(Row::as_select())
        .load(conn)?
        .into_iter()
        .map(User::try_from)
        .collect()
}

pub fn delete_by_username(conn: &mut AnyConnection, username: &str) -> QueryResult<bool> {
    diesel::delete(users::table.filter(users::username.eq(username)))
        .execute(conn)
        .map(|n| n > 0)
}

pub fn set_password_hash(
    conn: &mut AnyConnection,
    id: Id,
    hash: &str,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(users::table.find(id))
        .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
        .execute(conn)
        .map(|n| n > 0)
}

pub fn find(conn: &mut AnyConnection, id: Id) -> QueryResult<Option<User>> {
    one(users::table
        .find(id)
        .select(Row::as_select())
        .first(conn)
        .optional()?)
}

/// Set what the person may give personal tokens (`None`: the whole catalogue).
pub fn set_api_scopes(
    conn: &mut AnyConnection,
    id: Id,
    scopes: Option<&Scope>,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(users::table.find(id))
        .set((
            users::api_scopes.eq(scopes.map(Scope::to_string)),
            users::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n == 1)
}
