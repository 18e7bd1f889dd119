//! Limits on guessing second-factor codes: each person has one budget of code checks
//! per window (5 per 15 minutes), wherever a code is typed: the second sign-in step,
//! enrolment, turning it off, new recovery codes, token creation, re-authentication.
//! An attempt is counted before it is checked and given back only when it was right
//! (`store::throttle`), so bursts and extra instances gain nothing.

use super::factor::{self, Options};
use crate::metrics;
use crate::sealed::DataKeys;
use crate::store::AnyConnection;
use crate::store::db::write_transaction;
use crate::store::id::Id;
use crate::store::throttle::{self, Reserved};

/// Attempts are counted over this window.
pub const WINDOW: i64 = 15 * 60;
/// Second-factor codes checked per person per window.
pub const SECOND_FACTOR_LIMIT: u32 = 5;

/// The result of a guarded check.
#[derive(Debug)]
pub enum Checked<T> {
    Passed(T),
    Failed,
    /// Not checked: the limit is reached. Seconds until it may be tried again.
    TooMany(i64),
}

/// Check a second-factor code of `user` with `check`, inside the caller's unit of work
/// but outside its transaction: the attempt is reserved (and committed) first, so that
/// concurrent requests see it. `check` answers `Some` when the code was right.
pub fn second_factor<T, E>(
    conn: &mut AnyConnection,
    user: Id,
    now: i64,
    check: impl FnOnce(&mut AnyConnection) -> Result<Option<T>, E>,
) -> Result<Checked<T>, E>
where
    E: From<diesel::result::Error>,
{
    let key = format!("mfa:{user}");
    let window_start = match throttle::reserve(conn, &key, SECOND_FACTOR_LIMIT, WINDOW, now)? {
        Reserved::Granted { window_start } => window_start,
        Reserved::Refused { retry_after } => {
            metrics::throttled("second_factor");
            return Ok(Checked::TooMany(retry_after));
        }
    };
    match check(conn)? {
        Some(v) => {
            throttle::release(conn, &key, window_start)?;
            metrics::second_factor("success");
            Ok(Checked::Passed(v))
        }
        None => {
            metrics::second_factor("failure");
            Ok(Checked::Failed)
        }
    }
}

/// How a sensitive change proves the second factor.
pub enum Proof {
    /// A code typed into the change's own form, to be checked now.
    Code(String),
    /// The re-authentication of this same request checked a code already.
    Reauthenticated,
}

impl std::fmt::Debug for Proof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Proof::Code(_) => f.write_str("Code([redacted])"),
            Proof::Reauthenticated => f.write_str("Reauthenticated"),
        }
    }
}

/// Run `change` in one write transaction once the second factor is proven: a typed code
/// is checked (within the limit, spent even if `change` then refuses) in that same
/// transaction. `change` answers `None` to refuse without counting a failure.
pub fn with_second_factor<T>(
    conn: &mut AnyConnection,
    keys: &DataKeys,
    user: Id,
    proof: Proof,
    opts: Options,
    now: i64,
    change: impl FnOnce(&mut AnyConnection) -> diesel::QueryResult<T>,
) -> diesel::QueryResult<Checked<T>> {
    match proof {
        Proof::Reauthenticated => write_transaction(conn, change).map(Checked::Passed),
        Proof::Code(code) => second_factor(conn, user, now, |conn| {
            write_transaction(conn, |conn| {
                if factor::check(conn, keys, user, &code, opts, now)?.is_none() {
                    return Ok(None);
                }
                change(conn).map(Some)
            })
        }),
    }
}
