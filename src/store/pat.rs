//! Personal access tokens: owned by a person, scoped, expiring, optionally bound to
//! client addresses. Stored only as hashes.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::id::Id;
use super::schema::personal_tokens as pt;
use crate::domain::net::AllowList;
use crate::domain::scope::Scope;

/// A personal token as read back: its scope and allow-list parsed. A row whose stored
/// values do not parse is an error, never a token with an empty (open) list.
#[derive(Debug, Clone)]
pub struct PersonalToken {
    pub id: Id,
    pub user_id: Id,
    pub name: String,
    pub token_hash: String,
    pub scope: Scope,
    /// Empty means any address.
    pub allowed_ips: AllowList,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
}

#[derive(Queryable, Insertable, Selectable)]
#[diesel(table_name = pt)]
struct Row {
    id: Id,
    user_id: Id,
    name: String,
    token_hash: String,
    scope: String,
    allowed_ips: String,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
    last_used_ip: Option<String>,
    /// The name while the token holds it (see the migration): unique per person.
    live_name: Option<String>,
}

impl TryFrom<Row> for PersonalToken {
    type Error = diesel::result::Error;

    fn try_from(r: Row) -> QueryResult<PersonalToken> {
        let scope =
            Scope::parse(&r.scope).map_err(|e| super::corrupt("personal token scope", e))?;
        let allowed_ips = AllowList::from_stored(&r.allowed_ips)
            .map_err(|e| super::corrupt("personal token allow-list", e))?;
        Ok(PersonalToken {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            token_hash: r.token_hash,
            scope,
            allowed_ips,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
            last_used_ip: r.last_used_ip,
        })
    }
}

impl PersonalToken {
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

/// Store a new token. Its name must be free among the person's live tokens: an expired
/// token with the same name gives it up here. `false` when a live token holds the name
/// (also when a concurrent request took it first).
pub fn insert(conn: &mut AnyConnection, t: &PersonalToken, now: i64) -> QueryResult<bool> {
    if name_taken(conn, t.user_id, &t.name, now)? {
        return Ok(false);
    }
    diesel::update(
        pt::table
            .filter(pt::user_id.eq(t.user_id))
            .filter(pt::live_name.eq(&t.name))
            .filter(pt::expires_at.le(now)),
    )
    .set(pt::live_name.eq(None::<String>))
    .execute(conn)?;
    let row = Row {
        id: t.id,
        user_id: t.user_id,
        name: t.name.clone(),
        token_hash: t.token_hash.clone(),
        scope: t.scope.to_string(),
        allowed_ips: t.allowed_ips.to_string(),
        created_at: t.created_at,
        expires_at: t.expires_at,
        revoked_at: None,
        last_used_at: None,
        last_used_ip: None,
        live_name: Some(t.name.clone()),
    };
    // A concurrent request that took the name first makes this insert conflict on the
    // unique (user, live name) index: nothing is written (no aborted transaction).
    let q = diesel::insert_into(pt::table).values(&row);
    let inserted = match conn {
        AnyConnection::Postgresql(c) => q.on_conflict_do_nothing().execute(c),
        AnyConnection::Sqlite(c) => q.on_conflict_do_nothing().execute(c),
    }?;
    Ok(inserted == 1)
}

fn convert(rows: Vec<Row>) -> QueryResult<Vec<PersonalToken>> {
    rows.into_iter().map(PersonalToken::try_from).collect()
}

pub fn find_by_hash(conn: &mut AnyConnection, hash: &str) -> QueryResult<Option<PersonalToken>> {
    pt::table
        .filter(pt::token_hash.eq(hash))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(PersonalToken::try_from)
        .transpose()
}

pub fn list_for_user(conn: &mut AnyConnection, user: Id) -> QueryResult<Vec<PersonalToken>> {
    convert(
        pt::table
            .filter(pt::user_id.eq(user))
            .order(pt::created_at.desc())
            .select(Row::as_select())
            .load(conn)?,
    )
}

/// Whether a live token of the person (not revoked, not expired) has this name.
pub fn name_taken(conn: &mut AnyConnection, user: Id, name: &str, now: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        pt::table
            .filter(pt::user_id.eq(user))
            .filter(pt::live_name.eq(name))
            .filter(pt::expires_at.is_null().or(pt::expires_at.gt(now))),
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
        .select(Row::as_select())
        .into_boxed();
    if let Some(o) = owner {
        q = q.filter(pt::user_id.eq(o));
    }
    let Some(t) = q.first::<Row>(conn).optional()? else {
        return Ok(None);
    };
    diesel::update(pt::table.find(id).filter(pt::revoked_at.is_null()))
        .set((pt::revoked_at.eq(now), pt::live_name.eq(None::<String>)))
        .execute(conn)?;
    PersonalToken::try_from(t).map(Some)
}

/// The scope of the token if it is still there and not revoked. (Expiry is the
/// caller's to check.)
pub fn unrevoked_scope(conn: &mut AnyConnection, id: Id) -> QueryResult<Option<Scope>> {
    pt::table
        .filter(pt::id.eq(id))
        .filter(pt::revoked_at.is_null())
        .select(pt::scope)
        .first::<String>(conn)
        .optional()?
        .map(|s| Scope::parse(&s).map_err(|e| super::corrupt("personal token scope", e)))
        .transpose()
}

/// Revoke every live token of `user` (a reset, or the person's own choice at a password
/// change). Returns how many were live.
pub fn revoke_for_user(conn: &mut AnyConnection, user: Id, now: i64) -> QueryResult<usize> {
    diesel::update(
        pt::table
            .filter(pt::user_id.eq(user))
            .filter(pt::revoked_at.is_null())
            .filter(pt::expires_at.is_null().or(pt::expires_at.gt(now))),
    )
    .set((pt::revoked_at.eq(now), pt::live_name.eq(None::<String>)))
    .execute(conn)
}

/// Narrow the person's live tokens to the `allowed` scopes: each keeps what it has that
/// is still allowed, and one left with nothing is revoked. Returns (narrowed, revoked).
pub fn narrow_for_user(
    conn: &mut AnyConnection,
    user: Id,
    allowed: &Scope,
    now: i64,
) -> QueryResult<(usize, usize)> {
    let (mut narrowed, mut revoked) = (0, 0);
    for t in list_for_user(conn, user)? {
        if !t.is_live(now) {
            continue;
        }
        let kept = t.scope.intersection(allowed);
        if kept.is_empty() {
            diesel::update(pt::table.find(t.id))
                .set((pt::revoked_at.eq(now), pt::live_name.eq(None::<String>)))
                .execute(conn)?;
            revoked += 1;
        } else if kept != t.scope {
            diesel::update(pt::table.find(t.id))
                .set(pt::scope.eq(kept.to_string()))
                .execute(conn)?;
            narrowed += 1;
        }
    }
    Ok((narrowed, revoked))
}

/// A use of the token from `ip`, as the audit trail should see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Use {
    /// The first use from this address ever.
    pub new_address: bool,
    /// No use from this address was recorded in the last `coalesce` seconds: this one
    /// gets an event (one per token, address and minute, however addresses alternate).
    pub record: bool,
}

/// Note a use from `ip` and say whether it deserves an event. Each step is one
/// conditional write, so concurrent uses agree on which one records.
pub fn note_use(
    conn: &mut AnyConnection,
    id: Id,
    ip: &str,
    coalesce: i64,
    now: i64,
) -> QueryResult<Use> {
    use super::schema::personal_token_addresses as a;
    // The common case first: a known address whose last event is over a minute old
    // (recorded now), or recent (nothing to write).
    let refreshed = diesel::update(
        a::table
            .find((id, ip))
            .filter(a::last_event_at.le(now - coalesce)),
    )
    .set(a::last_event_at.eq(now))
    .execute(conn)?
        == 1;
    let new_address = !refreshed && {
        let q = diesel::insert_into(a::table).values((
            a::token_id.eq(id),
            a::ip.eq(ip),
            a::first_seen_at.eq(now),
            a::last_event_at.eq(now),
        ));
        match conn {
            AnyConnection::Postgresql(c) => q.on_conflict_do_nothing().execute(c),
            AnyConnection::Sqlite(c) => q.on_conflict_do_nothing().execute(c),
        }? == 1
    };
    let record = refreshed || new_address;
    if record {
        diesel::update(pt::table.find(id))
            .set((pt::last_used_at.eq(now), pt::last_used_ip.eq(ip)))
            .execute(conn)?;
    }
    Ok(Use {
        new_address,
        record,
    })
}

/// Revoke the live tokens among `hashes` (reported as leaked): their (id, owner, name).
pub fn revoke_reported(
    conn: &mut AnyConnection,
    hashes: &[String],
    now: i64,
) -> QueryResult<Vec<(Id, Id, String)>> {
    // One statement: of concurrent reports of one token, only the one that revoked it
    // gets it back (and records it).
    let q = diesel::update(
        pt::table
            .filter(pt::token_hash.eq_any(hashes))
            .filter(pt::revoked_at.is_null()),
    )
    .set((pt::revoked_at.eq(now), pt::live_name.eq(None::<String>)))
    .returning((pt::id, pt::user_id, pt::name));
    match conn {
        AnyConnection::Postgresql(c) => q.get_results(c),
        AnyConnection::Sqlite(c) => q.get_results(c),
    }
}
