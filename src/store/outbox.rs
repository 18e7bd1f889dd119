//! The outbox: messages that must leave this server (logout tokens now, mail later).
//! A message is written in the same transaction as the change it reports, so it exists
//! exactly when the change does, and survives any crash after the commit. Each instance
//! runs a worker that claims due messages with a lease: while the lease holds, no other
//! instance takes the message, and a worker killed mid-send loses only its lease.

use diesel::prelude::*;

use super::db::{self, AnyConnection};
use super::id::Id;
use super::schema::outbox;

/// What a message is, and so who delivers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// OpenID Connect Back-Channel Logout 1.0: `target` is the client id.
    BackchannelLogout,
}

impl Kind {
    pub const ALL: &'static [Kind] = &[Kind::BackchannelLogout];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::BackchannelLogout => "backchannel_logout",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// A message to send.
pub struct NewMessage {
    pub kind: Kind,
    /// One row per key: the same message reported twice (two paths ending one session
    /// together) is sent once.
    pub dedupe_key: String,
    /// Who it goes to (a client id, an address).
    pub target: String,
    /// What the worker needs to build it, as JSON.
    pub payload: String,
}

/// Add `m`, due now. Returns false when a message with its key exists already.
pub fn enqueue(conn: &mut AnyConnection, m: &NewMessage, now: i64) -> QueryResult<bool> {
    let q = diesel::insert_into(outbox::table).values((
        outbox::id.eq(Id::new_v7()),
        outbox::kind.eq(m.kind.as_str()),
        outbox::dedupe_key.eq(&m.dedupe_key),
        outbox::target.eq(&m.target),
        outbox::payload.eq(&m.payload),
        outbox::created_at.eq(now),
        outbox::next_attempt_at.eq(now),
        outbox::attempts.eq(0_i64),
    ));
    // A conflict writes nothing and aborts nothing (the surrounding transaction goes on).
    let n = match conn {
        AnyConnection::Postgresql(c) => q.on_conflict_do_nothing().execute(c),
        AnyConnection::Sqlite(c) => q.on_conflict_do_nothing().execute(c),
    }?;
    Ok(n == 1)
}

/// A message this instance holds the lease of.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct Claimed {
    pub id: Id,
    #[diesel(deserialize_as = String)]
    pub kind: KindColumn,
    pub target: String,
    pub payload: String,
    pub created_at: i64,
    /// Including this one.
    pub attempts: i64,
}

/// A stored kind: one this version does not know is `None` (left for the version that
/// wrote it, never sent as something else).
#[derive(Debug, Clone, Copy)]
pub struct KindColumn(pub Option<Kind>);

impl From<String> for KindColumn {
    fn from(s: String) -> KindColumn {
        KindColumn(Kind::parse(&s))
    }
}

#[diesel::dsl::auto_type]
fn due(now: i64) -> _ {
    outbox::finished_at
        .is_null()
        .and(outbox::next_attempt_at.le(now))
        .and(
            outbox::lease_until
                .is_null()
                .or(outbox::lease_until.le(now)),
        )
}

/// Whether any message is due (a cheap read before the claiming transaction).
pub fn any_due(conn: &mut AnyConnection, now: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(outbox::table.filter(due(now)))).get_result(conn)
}

/// Take up to `limit` due messages for `lease` seconds. On PostgreSQL the rows are
/// locked with `FOR UPDATE SKIP LOCKED`, so instances claiming together take different
/// rows rather than waiting for each other; SQLite has one writer at a time. Either way
/// the update repeats the due condition, so a row is claimed by one instance only.
pub fn claim(
    conn: &mut AnyConnection,
    now: i64,
    lease: i64,
    limit: i64,
) -> QueryResult<Vec<Claimed>> {
    db::write_transaction(conn, |conn| {
        let candidates = outbox::table
            .filter(due(now))
            .order(outbox::next_attempt_at.asc())
            .limit(limit)
            .select(outbox::id);
        let ids: Vec<Id> = match conn {
            AnyConnection::Postgresql(c) => candidates.for_update().skip_locked().load(c)?,
            AnyConnection::Sqlite(c) => candidates.load(c)?,
        };
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        diesel::update(
            outbox::table
                .filter(outbox::id.eq_any(&ids))
                .filter(due(now)),
        )
        .set((
            outbox::lease_until.eq(now + lease),
            outbox::attempts.eq(outbox::attempts + 1),
        ))
        .execute(conn)?;
        outbox::table
            .filter(outbox::id.eq_any(&ids))
            .filter(outbox::lease_until.eq(now + lease))
            .select(Claimed::as_select())
            .load(conn)
    })
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Done: `outcome` says how (delivered, refused, gave up...).
    Done(&'static str),
    /// Try again at this time.
    RetryAt(i64),
}

/// Record the end of an attempt on a message this instance claimed. `error` is what
/// went wrong, for `client show` (never a token).
pub fn finish(
    conn: &mut AnyConnection,
    id: Id,
    how: Finish,
    error: Option<&str>,
    now: i64,
) -> QueryResult<()> {
    let q = diesel::update(outbox::table.find(id));
    match how {
        Finish::Done(outcome) => q
            .set((
                outbox::finished_at.eq(now),
                outbox::outcome.eq(outcome),
                outbox::lease_until.eq(None::<i64>),
                outbox::last_error.eq(error),
            ))
            .execute(conn),
        Finish::RetryAt(at) => q
            .set((
                outbox::next_attempt_at.eq(at),
                outbox::lease_until.eq(None::<i64>),
                outbox::last_error.eq(error),
            ))
            .execute(conn),
    }
    .map(|_| ())
}

/// The messages of `kind` still to send, and when the oldest was written.
pub fn pending(conn: &mut AnyConnection, kind: Kind) -> QueryResult<(i64, Option<i64>)> {
    let q = outbox::table
        .filter(outbox::kind.eq(kind.as_str()))
        .filter(outbox::finished_at.is_null());
    let n = q.count().get_result(conn)?;
    let oldest = q.select(diesel::dsl::min(outbox::created_at)).first(conn)?;
    Ok((n, oldest))
}

/// The last message of `kind` to `target` that an attempt was made on.
#[derive(Debug, Clone, Queryable)]
pub struct LastAttempt {
    pub created_at: i64,
    pub attempts: i64,
    pub finished_at: Option<i64>,
    pub outcome: Option<String>,
    pub last_error: Option<String>,
}

pub fn last_for(
    conn: &mut AnyConnection,
    kind: Kind,
    target: &str,
) -> QueryResult<Option<LastAttempt>> {
    outbox::table
        .filter(outbox::kind.eq(kind.as_str()))
        .filter(outbox::target.eq(target))
        .filter(outbox::attempts.gt(0))
        .order((outbox::created_at.desc(), outbox::id.desc()))
        .select((
            outbox::created_at,
            outbox::attempts,
            outbox::finished_at,
            outbox::outcome,
            outbox::last_error,
        ))
        .first(conn)
        .optional()
}

/// Finished messages are kept a week (for `client show`), then deleted.
pub fn purge(conn: &mut AnyConnection, now: i64) -> QueryResult<usize> {
    diesel::delete(outbox::table.filter(outbox::finished_at.le(now - 7 * 86_400))).execute(conn)
}
