//! Authorization codes (RFC 6749 §4.1.2): stored as hashes, consumed at most once.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::id::Id;
use super::schema::authorization_codes as codes;
use crate::domain::scope::Scope;
use crate::domain::signin::SignInMethod;

#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = codes)]
pub struct CodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: Id,
    pub session_id: Option<Id>,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub scope: Scope,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    pub issued_jti: Option<String>,
    pub issued_exp: Option<i64>,
    /// The refresh-token family started by this code, if any.
    pub family_id: Option<Id>,
    /// RFC 9449 §10: the DPoP key the authorization request bound the code to.
    pub dpop_jkt: Option<String>,
    /// RFC 8707 §2.2: the resources the authorization request named, space-separated.
    pub resources: String,
    /// How the session that authorised the code signed in.
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub amr: SignInMethod,
}

pub fn insert(conn: &mut AnyConnection, row: &CodeRow) -> QueryResult<()> {
    diesel::insert_into(codes::table)
        .values(row.clone())
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut AnyConnection, code_hash: &str) -> QueryResult<Option<CodeRow>> {
    codes::table
        .find(code_hash)
        .first::<CodeRow>(conn)
        .optional()
}

/// Mark the code used, recording the access token issued from it. The condition
/// `consumed_at IS NULL` makes this the single winner among concurrent exchanges:
/// returns false when another request consumed the code first.
pub fn consume(
    conn: &mut AnyConnection,
    code_hash: &str,
    jti: &str,
    token_exp: i64,
    family: Option<Id>,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        codes::table
            .find(code_hash)
            .filter(codes::consumed_at.is_null()),
    )
    .set((
        codes::consumed_at.eq(now),
        codes::issued_jti.eq(jti),
        codes::issued_exp.eq(token_exp),
        codes::family_id.eq(family),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Codes are kept a while after expiry so that a late replay is still recognised as
/// reuse (and revokes what the code issued) rather than as an unknown code.
pub fn purge(conn: &mut AnyConnection, older_than: i64) -> QueryResult<usize> {
    diesel::delete(codes::table.filter(codes::expires_at.lt(older_than))).execute(conn)
}
