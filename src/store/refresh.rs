//! Refresh-token families and their tokens (RFC 9700 §4.14.2: rotation with reuse
//! detection).

use diesel::prelude::*;

use super::db::AnyConnection;
use super::id::Id;
use super::revoked;
use super::schema::{refresh_tokens, token_families};
use crate::domain::scope::Scope;
use crate::domain::signin::SignInMethod;

#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = token_families)]
pub struct Family {
    pub id: Id,
    pub client_id: String,
    pub user_id: Id,
    /// The scope of the original grant: a refresh can narrow it, never widen it.
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub scope: Scope,
    pub auth_time: i64,
    pub created_at: i64,
    /// The absolute end of the family.
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
    /// RFC 9449 §5: a public client's family is bound to the DPoP key it began with.
    pub dpop_jkt: Option<String>,
    /// RFC 8707 §2.2: the resources of the original grant, space-separated ("" for the
    /// default audience).
    pub resources: String,
    /// How the person signed in for the original grant.
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub amr: SignInMethod,
}

#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshRow {
    pub token_hash: String,
    pub family_id: Id,
    pub created_at: i64,
    /// The idle end of this token (never past the family's end).
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub access_jti: String,
    pub access_exp: i64,
}

pub fn create_family(conn: &mut AnyConnection, f: &Family) -> QueryResult<()> {
    diesel::insert_into(token_families::table)
        .values(f.clone())
        .execute(conn)
        .map(|_| ())
}

pub fn insert_token(conn: &mut AnyConnection, r: &RefreshRow) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(r)
        .execute(conn)
        .map(|_| ())
}

pub fn find(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> QueryResult<Option<(RefreshRow, Family)>> {
    refresh_tokens::table
        .inner_join(token_families::table)
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select((RefreshRow::as_select(), Family::as_select()))
        .first(conn)
        .optional()
}

/// Mark a token used. `used_at IS NULL` in the condition makes exactly one of any
/// number of concurrent requests (on any instance) the winner: the others update
/// nothing and get `false`.
pub fn mark_used(conn: &mut AnyConnection, token_hash: &str, now: i64) -> QueryResult<bool> {
    diesel::update(
        refresh_tokens::table
            .find(token_hash)
            .filter(refresh_tokens::used_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
}

/// Bind a family to the DPoP key first used with it (a public client that began to use
/// DPoP at a refresh). Only an unbound family is bound.
pub fn bind_dpop(conn: &mut AnyConnection, family: Id, jkt: &str) -> QueryResult<()> {
    diesel::update(
        token_families::table
            .find(family)
            .filter(token_families::dpop_jkt.is_null()),
    )
    .set(token_families::dpop_jkt.eq(jkt))
    .execute(conn)
    .map(|_| ())
}

/// Narrow a family's grant to `scope` (its client's registration was narrowed since).
pub fn narrow_scope(conn: &mut AnyConnection, family: Id, scope: &Scope) -> QueryResult<()> {
    diesel::update(token_families::table.find(family))
        .set(token_families::scope.eq(scope.to_string()))
        .execute(conn)
        .map(|_| ())
}

/// Note that `family` was just refreshed, by an app at `ip`: the person's list of
/// connected apps says when and from where.
pub fn touch(conn: &mut AnyConnection, family: Id, ip: Option<&str>, now: i64) -> QueryResult<()> {
    diesel::update(token_families::table.find(family))
        .set((
            token_families::last_used_at.eq(now),
            token_families::last_used_ip.eq(ip),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Per app, the last refresh among `user`'s live families: (client id, when, address),
/// the most recent first.
pub fn last_uses(
    conn: &mut AnyConnection,
    user: Id,
    now: i64,
) -> QueryResult<Vec<(String, i64, Option<String>)>> {
    let rows: Vec<(String, Option<i64>, Option<String>)> = token_families::table
        .filter(token_families::user_id.eq(user))
        .filter(token_families::revoked_at.is_null())
        .filter(token_families::expires_at.gt(now))
        .filter(token_families::last_used_at.is_not_null())
        .order(token_families::last_used_at.desc())
        .select((
            token_families::client_id,
            token_families::last_used_at,
            token_families::last_used_ip,
        ))
        .load(conn)?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows
        .into_iter()
        .filter_map(|(client, at, ip)| Some((client, at?, ip)))
        .filter(|(client, _, _)| seen.insert(client.clone()))
        .collect())
}

/// Without rotation (the FAPI 2.0 profile): the token stays, its idle end moves on.
pub fn extend(conn: &mut AnyConnection, token_hash: &str, until: i64) -> QueryResult<()> {
    diesel::update(refresh_tokens::table.find(token_hash))
        .set(refresh_tokens::expires_at.eq(until))
        .execute(conn)
        .map(|_| ())
}

/// Record an access token issued from `family` without a new refresh token, so that
/// ending the family revokes it too: a row that no presented token can match (its key
/// is not a hash), already used, carrying the access token's id and expiry.
pub fn record_access(
    conn: &mut AnyConnection,
    family: Id,
    jti: &str,
    exp: i64,
    now: i64,
) -> QueryResult<()> {
    insert_token(
        conn,
        &RefreshRow {
            token_hash: format!("access:{jti}"),
            family_id: family,
            created_at: now,
            expires_at: now,
            used_at: Some(now),
            access_jti: jti.to_string(),
            access_exp: exp,
        },
    )
}

/// End a family: every refresh token in it, and every access token issued with one
/// of them (recorded as revoked until it expires, so introspection reports it). Returns
/// whether this call ended it (false: it had ended already).
pub fn revoke_family(
    conn: &mut AnyConnection,
    family: Id,
    reason: &str,
    now: i64,
) -> QueryResult<bool> {
    let ended = diesel::update(
        token_families::table
            .find(family)
            .filter(token_families::revoked_at.is_null()),
    )
    .set((
        token_families::revoked_at.eq(now),
        token_families::revoked_reason.eq(reason),
    ))
    .execute(conn)?;
    let live: Vec<(String, i64)> = refresh_tokens::table
        .filter(refresh_tokens::family_id.eq(family))
        .filter(refresh_tokens::access_exp.gt(now))
        .select((refresh_tokens::access_jti, refresh_tokens::access_exp))
        .load(conn)?;
    for (jti, exp) in live {
        revoked::revoke(conn, &jti, exp, now)?;
    }
    Ok(ended == 1)
}

/// End every live family of a user (with one client, or with all of them).
pub fn revoke_for_user(
    conn: &mut AnyConnection,
    user: Id,
    client_id: Option<&str>,
    reason: &str,
    now: i64,
) -> QueryResult<usize> {
    let mut q = token_families::table
        .filter(token_families::user_id.eq(user))
        .filter(token_families::revoked_at.is_null())
        .select(token_families::id)
        .into_boxed();
    if let Some(c) = client_id {
        q = q.filter(token_families::client_id.eq(c.to_string()));
    }
    let ids: Vec<Id> = q.load(conn)?;
    for id in &ids {
        revoke_family(conn, *id, reason, now)?;
    }
    Ok(ids.len())
}

/// End every live family of a client (an operator disabled it).
pub fn revoke_for_client(
    conn: &mut AnyConnection,
    client_id: &str,
    reason: &str,
    now: i64,
) -> QueryResult<usize> {
    let ids: Vec<Id> = token_families::table
        .filter(token_families::client_id.eq(client_id))
        .filter(token_families::revoked_at.is_null())
        .select(token_families::id)
        .load(conn)?;
    for id in &ids {
        revoke_family(conn, *id, reason, now)?;
    }
    Ok(ids.len())
}

/// Delete families whose absolute lifetime is over, and revoked ones once every access
/// token they issued has expired (their jtis stay in `revoked_tokens` until then).
/// A live family keeps all its used tokens: reuse detection needs them.
pub fn purge(conn: &mut AnyConnection, now: i64, access_ttl: i64) -> QueryResult<usize> {
    diesel::delete(
        token_families::table.filter(
            token_families::expires_at
                .lt(now)
                .or(token_families::revoked_at.lt(now - access_ttl)),
        ),
    )
    .execute(conn)
}

/// End the live families that the refresh tokens among `hashes` belong to (a token
/// reported as leaked: whoever holds any token of the family is cut off). Their (family,
/// person, client).
pub fn revoke_reported(
    conn: &mut AnyConnection,
    hashes: &[String],
    now: i64,
) -> QueryResult<Vec<(Id, Id, String)>> {
    let families: Vec<(Id, Id, String)> = refresh_tokens::table
        .inner_join(token_families::table)
        .filter(refresh_tokens::token_hash.eq_any(hashes))
        .filter(token_families::revoked_at.is_null())
        .select((
            token_families::id,
            token_families::user_id,
            token_families::client_id,
        ))
        .distinct()
        .load(conn)?;
    // Only the families this call ended: of concurrent reports, one records each.
    let mut ended = Vec::new();
    for f in families {
        if revoke_family(conn, f.0, "reported as leaked", now)? {
            ended.push(f);
        }
    }
    Ok(ended)
}
