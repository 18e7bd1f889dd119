//! Second factors: TOTP enrolments and recovery codes.

use diesel::prelude::*;

use super::db::AnyConnection;
use super::id::Id;
use super::schema::{recovery_codes, user_totp};

#[derive(Debug, Clone, Queryable, Insertable, Selectable)]
#[diesel(table_name = user_totp)]
pub struct Totp {
    pub user_id: Id,
    /// Sealed with the data key; see `mfa::sealed`.
    pub secret_sealed: String,
    pub created_at: i64,
    pub enabled_at: Option<i64>,
    pub last_used_step: Option<i64>,
}

pub fn find(conn: &mut AnyConnection, user: Id) -> QueryResult<Option<Totp>> {
    user_totp::table.find(user).first(conn).optional()
}

/// The enrolments whose secret is sealed in the unbound form `v1.` (start-up
/// maintenance: only those need binding).
pub fn all_unbound(conn: &mut AnyConnection) -> QueryResult<Vec<Totp>> {
    user_totp::table
        .filter(user_totp::secret_sealed.like("v1.%"))
        .load(conn)
}

/// Start (or restart) an enrolment: a new secret, not yet enabled. False when another
/// enrolment of the person was written between this one's delete and insert (two
/// requests at once): that one stands.
pub fn begin(conn: &mut AnyConnection, user: Id, sealed: &str, now: i64) -> QueryResult<bool> {
    diesel::delete(
        user_totp::table
            .find(user)
            .filter(user_totp::enabled_at.is_null()),
    )
    .execute(conn)?;
    let inserted = diesel::insert_into(user_totp::table)
        .values(&Totp {
            user_id: user,
            secret_sealed: sealed.to_string(),
            created_at: now,
            enabled_at: None,
            last_used_step: None,
        })
        .execute(conn);
    match inserted {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Record that the code of `step` was used. Only a step later than every earlier one
/// is accepted, so one code never works twice, even in concurrent requests.
pub fn use_step(conn: &mut AnyConnection, user: Id, step: i64) -> QueryResult<bool> {
    diesel::update(
        user_totp::table.find(user).filter(
            user_totp::last_used_step
                .is_null()
                .or(user_totp::last_used_step.lt(step)),
        ),
    )
    .set(user_totp::last_used_step.eq(step))
    .execute(conn)
    .map(|n| n == 1)
}

/// Replace the sealed form of `user`'s secret, if it is still `was` (the value that was
/// opened): an enrolment that replaced it meanwhile, on any instance, stands.
pub fn reseal(conn: &mut AnyConnection, user: Id, was: &str, sealed: &str) -> QueryResult<bool> {
    diesel::update(
        user_totp::table
            .find(user)
            .filter(user_totp::secret_sealed.eq(was)),
    )
    .set(user_totp::secret_sealed.eq(sealed))
    .execute(conn)
    .map(|n| n == 1)
}

pub fn enable(conn: &mut AnyConnection, user: Id, now: i64) -> QueryResult<bool> {
    diesel::update(
        user_totp::table
            .find(user)
            .filter(user_totp::enabled_at.is_null()),
    )
    .set(user_totp::enabled_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
}

pub fn disable(conn: &mut AnyConnection, user: Id) -> QueryResult<()> {
    diesel::delete(user_totp::table.find(user)).execute(conn)?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user))).execute(conn)?;
    Ok(())
}

pub fn replace_recovery_codes(
    conn: &mut AnyConnection,
    user: Id,
    hashes: &[String],
    now: i64,
) -> QueryResult<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user))).execute(conn)?;
    for h in hashes {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::code_hash.eq(h),
                recovery_codes::user_id.eq(user),
                recovery_codes::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Spend a recovery code: true once, for an unused code of this user.
pub fn use_recovery_code(
    conn: &mut AnyConnection,
    user: Id,
    hash: &str,
    now: i64,
) -> QueryResult<bool> {
    diesel::update(
        recovery_codes::table
            .find(hash)
            .filter(recovery_codes::user_id.eq(user))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
}

pub fn recovery_codes_left(conn: &mut AnyConnection, user: Id) -> QueryResult<i64> {
    recovery_codes::table
        .filter(recovery_codes::user_id.eq(user))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)
}
