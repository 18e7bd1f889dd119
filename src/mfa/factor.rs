//! Checking a second-factor code: TOTP (each code once) or a recovery code (each once).

use crate::mfa::{recovery, sealing, totp as otp};
use crate::sealed::DataKeys;
use crate::secret;
use crate::store::AnyConnection;
use crate::store::id::Id;
use crate::store::totp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Totp,
    Recovery,
}

impl Factor {
    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Totp => "totp",
            Factor::Recovery => "recovery_code",
        }
    }
}

/// What a code check accepts.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// A recovery code is as good as an app code (only for signing in: the way back in
    /// after losing the app).
    pub recovery_codes: bool,
    /// The enrolment must be finished (false: the code confirms a pending enrolment).
    pub enrolled: bool,
}

impl Options {
    /// The second sign-in step.
    pub const SIGN_IN: Options = Options {
        recovery_codes: true,
        enrolled: true,
    };
    /// A fresh code from the app, before a sensitive change.
    pub const APP_CODE: Options = Options {
        recovery_codes: false,
        enrolled: true,
    };
    /// The code that confirms a new enrolment.
    pub const CONFIRM_ENROLMENT: Options = Options {
        recovery_codes: false,
        enrolled: false,
    };
}

/// Check `code` for `user` inside the caller's unit of work. A TOTP code is accepted only
/// for a time step later than the last one used, so it never works twice.
pub fn check(
    conn: &mut AnyConnection,
    keys: &DataKeys,
    user: Id,
    code: &str,
    opts: Options,
    now: i64,
) -> diesel::QueryResult<Option<Factor>> {
    let Some(t) = totp::find(conn, user)? else {
        return Ok(None);
    };
    if t.enabled_at.is_some() != opts.enrolled {
        return Ok(None);
    }
    if let Some(secret) = sealing::open(keys, user, &t.secret_sealed)
        && let Some(step) = otp::verify(&secret, code, now, t.last_used_step)
        && totp::use_step(conn, user, step)?
    {
        // Data-key rotation: a secret sealed under an old key moves to the current one.
        if keys.needs_reseal(&t.secret_sealed)
            && let Ok(sealed) = sealing::seal(keys, user, &secret)
        {
            totp::reseal(conn, user, &t.secret_sealed, &sealed)?;
        }
        return Ok(Some(Factor::Totp));
    }
    if opts.recovery_codes
        && let Some(normal) = recovery::normalize(code)
        && totp::use_recovery_code(conn, user, &secret::hash(&normal), now)?
    {
        return Ok(Some(Factor::Recovery));
    }
    Ok(None)
}

/// Whether the user has finished enrolling.
pub fn enabled(conn: &mut AnyConnection, user: Id) -> diesel::QueryResult<bool> {
    Ok(totp::find(conn, user)?.is_some_and(|t| t.enabled_at.is_some()))
}
