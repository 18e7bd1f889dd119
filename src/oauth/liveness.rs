//! Whether one of our access tokens still stands once its signature and expiry check
//! out: the checks that need our records. Introspection and UserInfo both ask here, so
//! that the two never disagree about a token.

use diesel::QueryResult;

use super::clients::registrar::Registrar;
use super::error::OAuthError;
use super::personal::{self, PAT_CLIENT_ID};
use super::tokens::AccessClaims;
use crate::domain::scope::Scope;
use crate::store::id::Id;
use crate::store::{AnyConnection, pat, revoked, users};

/// The database's part, run inside `state.db`: the token was not revoked (by itself,
/// with its refresh-token family, or by a code replay); the personal token it was
/// exchanged from, if any, was not revoked and still has every scope it carries (within
/// the current API scope catalogue); the
/// person it was issued to still exists.
pub fn recorded_live(
    conn: &mut AnyConnection,
    claims: &AccessClaims,
    catalogue: &Scope,
) -> QueryResult<bool> {
    if revoked::is_revoked(conn, &claims.jti)? {
        return Ok(false);
    }
    if let Some(from) = personal::exchanged_from(&claims.jti) {
        let Some(now_allowed) = pat::unrevoked_scope(conn, from)? else {
            return Ok(false);
        };
        // The personal token may have been narrowed since (`user set-api-scopes`): the
        // JWT must not carry more than it has now.
        let carried = Scope::parse(claims.scope.as_deref().unwrap_or(""));
        if !carried.is_ok_and(|c| c.is_subset_of(&now_allowed.intersection(catalogue))) {
            return Ok(false);
        }
    }
    // Client-credentials tokens name the client (not a UUID); the others a person.
    match uuid::Uuid::try_parse(&claims.sub) {
        Ok(user) => users::find(conn, Id(user)).map(|u| u.is_some()),
        Err(_) => Ok(true),
    }
}

/// The client's part, from the client cache: a deleted or disabled client's tokens end
/// with it (within the cache lifetime), and those it had when it was disabled stay dead
/// once it is enabled again. Exchanged personal tokens name no registered client.
pub async fn client_live(registrar: &Registrar, claims: &AccessClaims) -> Result<bool, OAuthError> {
    if claims.client_id == PAT_CLIENT_ID {
        return Ok(true);
    }
    Ok(registrar
        .find(&claims.client_id)
        .await?
        .is_some_and(|c| c.tokens_not_before.is_none_or(|t| claims.iat > t)))
}
