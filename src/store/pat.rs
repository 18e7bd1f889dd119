//! Personal access tokens: owned by a person, scoped, expiring, optionally bound to
//! client addresses. Stored only as hashes.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::id::Id;
use super::schema::personal_tokens as pt;

#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = pt)]
pub struct PersonalToken {
    pub id: Id,
    pub user_id: Id,
    pub name: String,
    pub token_hash: String,
    pub scope: String,
    /// Space-separated addresses and CIDR ranges; empty means any address.
    pub allowed_ips: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
}

impl PersonalToken {
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

pub fn insert(conn: &mut AnyConnection, t: &PersonalToken) -> QueryResult<()> {
    diesel::insert_into(pt::table)
        .values(t)
        .execute(conn)
        .map(|_| ())
}

pub fn find_by_hash(conn: &mut AnyConnection, hash: &str) -> QueryResult<Option<PersonalToken>> {
    pt::table
        .filter(pt::token_hash.eq(hash))
        .first(conn)
        .optional()
}

pub fn list_for_user(conn: &mut AnyConnection, user: Id) -> QueryResult<Vec<PersonalToken>> {
    pt::table
        .filter(pt::user_id.eq(user))
        .order(pt::created_at.desc())
        .load(conn)
}

pub fn name_taken(conn: &mut AnyConnection, user: Id, name: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        pt::table
            .filter(pt::user_id.eq(user))
            .filter(pt::name.eq(name))
            .filter(pt::revoked_at.is_null()),
    ))
    .get_result(conn)
}

/// Revoke one token; `owner` restricts it to that person's tokens.
pub fn revoke(
    conn: &mut AnyConnection,
    id: Id,
    owner: Option<Id>,
    now: i64,
) -> QueryResult<Option<PersonalToken>> {
    let mut q = pt::table
        .filter(pt::id.eq(id))
        .filter(pt::revoked_at.is_null())
        .into_boxed();
    if let Some(o) = owner {
        q = q.filter(pt::user_id.eq(o));
    }
    let Some(t) = q.first::<PersonalToken>(conn).optional()? else {
        return Ok(None);
    };
    diesel::update(pt::table.find(id))
        .set(pt::revoked_at.eq(now))
        .execute(conn)?;
    Ok(Some(t))
}

/// The scope of the token if it is still there and not revoked. (Expiry is the
/// caller's to check.)
pub fn unrevoked_scope(conn: &mut AnyConnection, id: Id) -> QueryResult<Option<String>> {
    pt::table
        .filter(pt::id.eq(id))
        .filter(pt::revoked_at.is_null())
        .select(pt::scope)
        .first(conn)
        .optional()
}

/// Narrow the person's live tokens to the `allowed` scopes: each keeps what it has that
/// is still allowed, and one left with nothing is revoked. Returns (narrowed, revoked).
pub fn narrow_for_user(
    conn: &mut AnyConnection,
    user: Id,
    allowed: &[&str],
    now: i64,
) -> QueryResult<(usize, usize)> {
    let (mut narrowed, mut revoked) = (0, 0);
    for t in list_for_user(conn, user)? {
        if !t.is_live(now) {
            continue;
        }
        let kept: Vec<&str> = t.scope.split(' ').filter(|s| allowed.contains(s)).collect();
        if kept.is_empty() {
            diesel::update(pt::table.find(t.id))
                .set(pt::revoked_at.eq(now))
                .execute(conn)?;
            revoked += 1;
        } else if kept.len() < t.scope.split(' ').count() {
            diesel::update(pt::table.find(t.id))
                .set(pt::scope.eq(kept.join(" ")))
                .execute(conn)?;
            narrowed += 1;
        }
    }
    Ok((narrowed, revoked))
}

/// Remember that the token was used from `ip`; true the first time for that address.
pub fn first_use_from(conn: &mut AnyConnection, id: Id, ip: &str, now: i64) -> QueryResult<bool> {
    use super::schema::personal_token_addresses as a;
    let q = diesel::insert_into(a::table).values((
        a::token_id.eq(id),
        a::ip.eq(ip),
        a::first_seen_at.eq(now),
    ));
    match conn {
        AnyConnection::Postgresql(c) => q.on_conflict_do_nothing().execute(c),
        AnyConnection::Sqlite(c) => q.on_conflict_do_nothing().execute(c),
    }
    .map(|n| n == 1)
}

/// Note a use: when and from which address.
pub fn touch(conn: &mut AnyConnection, id: Id, ip: &str, now: i64) -> QueryResult<()> {
    diesel::update(pt::table.find(id))
        .set((pt::last_used_at.eq(now), pt::last_used_ip.eq(ip)))
        .execute(conn)
        .map(|_| ())
}
