//! Persistence of registered clients.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::schema::clients;
use crate::keys::KeyAlg;
use crate::oauth::client::{Client, ValidClientRequest};
use crate::oauth::scope::Scope;

#[derive(Debug, Queryable, Insertable, Selectable)]
#[diesel(table_name = clients)]
struct ClientRow {
    client_id: String,
    name: String,
    secret_hash: Option<String>,
    auth_methods: String,
    grant_types: String,
    redirect_uris: String,
    scopes: String,
    resources: String,
    created_at: i64,
    updated_at: i64,
    post_logout_redirect_uris: String,
    id_token_alg: String,
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(' ').filter(|w| !w.is_empty())
}

fn join<T: AsRef<str>>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|s| s.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

impl ClientRow {
    /// Rows were validated when written; a value that no longer parses (say, a grant
    /// type removed from a later version) is dropped rather than trusted.
    fn into_client(self) -> Client {
        Client {
            client_id: self.client_id,
            name: self.name,
            secret_hash: self.secret_hash,
            auth_methods: words(&self.auth_methods)
                .filter_map(|m| m.parse().ok())
                .collect(),
            grant_types: words(&self.grant_types)
                .filter_map(|g| g.parse().ok())
                .collect(),
            redirect_uris: words(&self.redirect_uris).map(String::from).collect(),
            scope: Scope::parse(&self.scopes).unwrap_or_default(),
            resources: words(&self.resources).map(String::from).collect(),
            post_logout_redirect_uris: words(&self.post_logout_redirect_uris)
                .map(String::from)
                .collect(),
            id_token_alg: self.id_token_alg.parse().unwrap_or(KeyAlg::RS256),
            created_at: self.created_at,
        }
    }
}

pub fn insert(
    conn: &mut AnyConnection,
    client_id: &str,
    secret_hash: Option<String>,
    req: &ValidClientRequest,
    now: i64,
) -> QueryResult<Client> {
    let row = ClientRow {
        client_id: client_id.to_string(),
        name: req.name.clone(),
        secret_hash,
        auth_methods: join(req.auth_methods.iter().map(|m| m.as_str())),
        grant_types: join(req.grant_types.iter().map(|g| g.as_str())),
        redirect_uris: join(&req.redirect_uris),
        scopes: req.scope.to_string(),
        resources: join(&req.resources),
        created_at: now,
        updated_at: now,
        post_logout_redirect_uris: join(&req.post_logout_redirect_uris),
        id_token_alg: req.id_token_alg.as_str().to_string(),
    };
    diesel::insert_into(clients::table)
        .values(&row)
        .execute(conn)?;
    Ok(row.into_client())
}

pub fn find(conn: &mut AnyConnection, client_id: &str) -> QueryResult<Option<Client>> {
    clients::table
        .find(client_id)
        .first::<ClientRow>(conn)
        .optional()
        .map(|r| r.map(ClientRow::into_client))
}

pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<Client>> {
    clients::table
        .order(clients::created_at.asc())
        .load::<ClientRow>(conn)
        .map(|rows| rows.into_iter().map(ClientRow::into_client).collect())
}

/// Returns whether a client was deleted.
pub fn delete(conn: &mut AnyConnection, client_id: &str) -> QueryResult<bool> {
    diesel::delete(clients::table.find(client_id))
        .execute(conn)
        .map(|n| n > 0)
}

/// Replace the secret hash of a confidential client. Returns whether one was updated.
pub fn set_secret_hash(
    conn: &mut AnyConnection,
    client_id: &str,
    secret_hash: &str,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        clients::table
            .find(client_id)
            .filter(clients::secret_hash.is_not_null()),
    )
    .set((
        clients::secret_hash.eq(secret_hash),
        clients::updated_at.eq(now),
    ))
    .execute(conn)
    .map(|n| n > 0)
}
