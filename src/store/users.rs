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
    /// `key(username)`: what sign-in looks people up by.
    username_key: Option<String>,
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
        username_key: Some(key(&user.username)),
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

/// What a username is looked up by: the name in lower case, by Unicode's rules (`ADA`,
/// `Ada` and `ada` are one name, and so are `STRAẞE` and `straße`), the same on every
/// database.
pub fn key(username: &str) -> String {
    username.to_lowercase()
}

/// The person named `username`, in any case (`key`; a unique index on the key allows
/// one such person).
pub fn find_by_username(conn: &mut AnyConnection, username: &str) -> QueryResult<Option<User>> {
    one(users::table
        .filter(users::username_key.eq(key(username)))
        .select(Row::as_select())
        .first(conn)
        .optional()?)
}

/// Whether a user has this name, in any case.
pub fn username_taken(conn: &mut AnyConnection, username: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::username_key.eq(key(username))),
    ))
    .get_result(conn)
}

/// Write `key` of every username whose stored key differs (the migration filled keys
/// with the database's `lower`, which on SQLite folds ASCII only). Returns the ids of
/// people whose key is taken by another spelling of their name: they cannot sign in
/// until an operator renames or deletes one of the two.
pub fn fold_keys(conn: &mut AnyConnection) -> QueryResult<Vec<Id>> {
    let rows: Vec<(Id, String, Option<String>)> = users::table
        .select((users::id, users::username, users::username_key))
        .load(conn)?;
    let mut clashes = Vec::new();
    for (id, name, stored) in rows {
        let folded = key(&name);
        if stored.as_deref() == Some(folded.as_str()) {
            continue;
        }
        let written = diesel::update(users::table.find(id))
            .set(users::username_key.eq(&folded))
            .execute(conn);
        match written {
            Ok(_) => {}
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => clashes.push(id),
            Err(e) => return Err(e),
        }
    }
    Ok(clashes)
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

/// Delete the person named `username`, in any case (as `find_by_username`).
pub fn delete(conn: &mut AnyConnection, id: Id) -> QueryResult<bool> {
    diesel::delete(users::table.find(id))
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
