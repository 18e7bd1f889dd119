//! Persistence of registered clients, as stored: lists are space-separated text. The
//! protocol layer (`oauth::clients::registrar`) turns a row into a `Client`, refusing one whose
//! values no longer parse.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::schema::clients;

#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = clients)]
pub struct ClientRow {
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub auth_methods: String,
    pub grant_types: String,
    pub redirect_uris: String,
    pub scopes: String,
    pub resources: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub post_logout_redirect_uris: String,
    pub id_token_alg: String,
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub dpop_bound: bool,
    pub require_par: bool,
    pub registered_by: String,
    pub registration_token_hash: Option<String>,
    /// Descriptive metadata of a self-registered client, as JSON.
    pub metadata: String,
    pub last_sign_in_at: Option<i64>,
    /// When an operator disabled it (`client disable`); `None` while it is enabled.
    pub disabled_at: Option<i64>,
    /// Access tokens issued at or before this moment (its last disabling) are dead.
    pub tokens_not_before: Option<i64>,
    /// May introspect any token (else only its own).
    pub introspects_any: bool,
    /// Back-Channel Logout 1.0 §2.2 `backchannel_logout_uri`.
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: bool,
    /// When its secret was reported as leaked: it no longer authenticates.
    pub secret_reported_at: Option<i64>,
}

pub fn insert(conn: &mut AnyConnection, row: &ClientRow) -> QueryResult<()> {
    diesel::insert_into(clients::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut AnyConnection, client_id: &str) -> QueryResult<Option<ClientRow>> {
    clients::table
        .find(client_id)
        .select(ClientRow::as_select())
        .first(conn)
        .optional()
}

/// The names of the clients among `ids` that still exist.
pub fn names(
    conn: &mut AnyConnection,
    ids: &[String],
) -> QueryResult<std::collections::HashMap<String, String>> {
    Ok(clients::table
        .filter(clients::client_id.eq_any(ids))
        .select((clients::client_id, clients::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect())
}

pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<ClientRow>> {
    clients::table
        .order(clients::created_at.asc())
        .select(ClientRow::as_select())
        .load(conn)
}

/// Returns whether a client was deleted.
pub fn delete(conn: &mut AnyConnection, client_id: &str) -> QueryResult<bool> {
    diesel::delete(clients::table.find(client_id))
        .execute(conn)
        .map(|n| n > 0)
}

/// Delete a self-registered client while its registration access token is still
/// `current_rat` (a DELETE racing a PUT that replaced the token deletes nothing).
pub fn delete_registered(
    conn: &mut AnyConnection,
    client_id: &str,
    current_rat: &str,
) -> QueryResult<bool> {
    diesel::delete(
        clients::table
            .find(client_id)
            .filter(clients::registration_token_hash.eq(current_rat)),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// Replace a `private_key_jwt` client's registered JWK Set. False when there is no
/// such client.
pub fn set_jwks(
    conn: &mut AnyConnection,
    client_id: &str,
    jwks: &str,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        clients::table
            .find(client_id)
            .filter(clients::jwks.is_not_null()),
    )
    .set((clients::jwks.eq(jwks), clients::updated_at.eq(now)))
    .execute(conn)
    .map(|n| n == 1)
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
        clients::secret_reported_at.eq(None::<i64>),
        clients::updated_at.eq(now),
    ))
    .execute(conn)
    .map(|n| n > 0)
}

/// Replace a self-registered client's registration (RFC 7592 §2.2): every field of the
/// row but its id, creation, origin and last sign-in; the secret hash only when given.
/// Only while its registration access token is still `current_rat`: of two updates
/// racing with one token, one wins and the other's token is spent.
pub fn replace(conn: &mut AnyConnection, row: &ClientRow, current_rat: &str) -> QueryResult<bool> {
    diesel::update(
        clients::table
            .find(&row.client_id)
            .filter(clients::registration_token_hash.eq(current_rat)),
    )
    .set((
        clients::name.eq(&row.name),
        clients::auth_methods.eq(&row.auth_methods),
        clients::grant_types.eq(&row.grant_types),
        clients::redirect_uris.eq(&row.redirect_uris),
        clients::scopes.eq(&row.scopes),
        clients::resources.eq(&row.resources),
        clients::updated_at.eq(row.updated_at),
        clients::post_logout_redirect_uris.eq(&row.post_logout_redirect_uris),
        clients::id_token_alg.eq(&row.id_token_alg),
        clients::jwks.eq(&row.jwks),
        clients::jwks_uri.eq(&row.jwks_uri),
        clients::dpop_bound.eq(row.dpop_bound),
        clients::require_par.eq(row.require_par),
        clients::registration_token_hash.eq(&row.registration_token_hash),
        clients::metadata.eq(&row.metadata),
        clients::secret_hash.eq(&row.secret_hash),
        clients::backchannel_logout_uri.eq(&row.backchannel_logout_uri),
        clients::backchannel_logout_session_required.eq(row.backchannel_logout_session_required),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Disable (`Some(now)`) or enable (`None`) a client; false when there is no such client
/// or it already is.
pub fn set_disabled(
    conn: &mut AnyConnection,
    client_id: &str,
    at: Option<i64>,
    now: i64,
) -> QueryResult<bool> {
    let target = clients::table.find(client_id);
    let n = match at {
        // Disabling ends what the client holds: its tokens stay dead when it is
        // enabled again.
        Some(t) => diesel::update(target.filter(clients::disabled_at.is_null()))
            .set((clients::disabled_at.eq(t), clients::tokens_not_before.eq(t)))
            .execute(conn)?,
        // And whatever it was still given while running servers had it cached (up to
        // the client cache's lifetime after the disabling) stays dead too.
        None => diesel::update(target.filter(clients::disabled_at.is_not_null()))
            .set((
                clients::disabled_at.eq(None::<i64>),
                clients::tokens_not_before.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(n == 1)
}

/// The client signed someone in (a code was issued for it).
pub fn note_sign_in(conn: &mut AnyConnection, client_id: &str, now: i64) -> QueryResult<()> {
    diesel::update(clients::table.find(client_id))
        .set(clients::last_sign_in_at.eq(now))
        .execute(conn)
        .map(|_| ())
}

/// Delete openly registered clients created before `created_before` that never
/// completed a sign-in.
pub fn purge_unused_open(conn: &mut AnyConnection, created_before: i64) -> QueryResult<usize> {
    diesel::delete(
        clients::table
            .filter(clients::registered_by.eq("open"))
            .filter(clients::last_sign_in_at.is_null())
            .filter(clients::created_at.lt(created_before)),
    )
    .execute(conn)
}

/// The clients whose secret hashes are among `hashes`: each secret stops authenticating
/// (reported as leaked) until it is rotated. Returns their ids (those not yet reported).
pub fn secrets_reported(
    conn: &mut AnyConnection,
    hashes: &[String],
    now: i64,
) -> QueryResult<Vec<String>> {
    // One statement: of concurrent reports, only the one that marked it gets it back.
    let q = diesel::update(
        clients::table
            .filter(clients::secret_hash.eq_any(hashes))
            .filter(clients::secret_reported_at.is_null()),
    )
    .set((
        clients::secret_reported_at.eq(now),
        clients::updated_at.eq(now),
    ))
    .returning(clients::client_id);
    match conn {
        AnyConnection::Postgresql(c) => q.get_results(c),
        AnyConnection::Sqlite(c) => q.get_results(c),
    }
}

/// Revoke the registration access tokens among `hashes` (RFC 7592): their clients can
/// no longer be read, changed or deleted with them. Returns the clients' ids.
pub fn registration_tokens_reported(
    conn: &mut AnyConnection,
    hashes: &[String],
    now: i64,
) -> QueryResult<Vec<String>> {
    let q = diesel::update(clients::table.filter(clients::registration_token_hash.eq_any(hashes)))
        .set((
            clients::registration_token_hash.eq(None::<String>),
            clients::updated_at.eq(now),
        ))
        .returning(clients::client_id);
    match conn {
        AnyConnection::Postgresql(c) => q.get_results(c),
        AnyConnection::Sqlite(c) => q.get_results(c),
    }
}
