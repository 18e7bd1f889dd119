//! Changes to a person's account that end what they had: a new password ends every
//! session and refresh-token family; narrower API scopes narrow their tokens.

use diesel::QueryResult;

use super::Actor;
use crate::domain::scope::Scope;
use crate::domain::signin::SignInMethod;
use crate::store::audit::{self, Event};
use crate::store::id::Id;
use crate::store::{AnyConnection, passkeys, pat, refresh, resets, sessions, totp, users};

/// What a password change ended.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ended {
    pub sessions: usize,
    pub families: usize,
    /// Personal API tokens revoked.
    pub tokens: usize,
}

impl Ended {
    /// The audit event `kind` for `user`, counting what ended.
    fn event(&self, kind: &'static str, user: Id) -> Event {
        Event::new(kind, "success")
            .user(user)
            .detail("sessions_ended", self.sessions)
            .detail("families_revoked", self.families)
            .detail("tokens_revoked", self.tokens)
    }
}

/// Set `user`'s password hash. Every sign-in and every refresh-token family ends with
/// the old password.
pub fn set_password(
    conn: &mut AnyConnection,
    user: Id,
    hash: &str,
    by: &Actor,
    now: i64,
) -> QueryResult<Ended> {
    users::set_password_hash(conn, user, hash, now)?;
    // A reset link given out before no longer resets anything.
    resets::cancel_for_user(conn, user, now)?;
    let ended = Ended {
        sessions: sessions::delete_for_user(conn, user, now)?,
        families: refresh::revoke_for_user(conn, user, None, "password changed", now)?,
        tokens: 0,
    };
    let e = ended.event("user.password_changed", user);
    audit::record(conn, &by.stamp(e), now)?;
    Ok(ended)
}

/// A password set with a reset link: whoever may have had the account loses all of it,
/// sessions, app sign-ins, passkeys and personal API tokens alike (a token minted by someone who
/// had the old password would otherwise outlive the reset).
pub fn reset_password(
    conn: &mut AnyConnection,
    user: Id,
    hash: &str,
    by: &Actor,
    now: i64,
) -> QueryResult<Ended> {
    let mut ended = set_password(conn, user, hash, by, now)?;
    ended.tokens = pat::revoke_for_user(conn, user, now)?;
    // A passkey added by whoever had the password would outlive the reset too.
    let removed = passkeys::remove_all(conn, user)?;
    let e = ended
        .event("user.password_reset", user)
        .detail("passkeys_removed", removed);
    audit::record(conn, &by.stamp(e), now)?;
    Ok(ended)
}

/// Delete `user`. Their sessions end first, so that the apps they signed in to hear
/// about it (the deletion would otherwise remove the sessions silently). Returns how
/// many sessions ended.
pub fn delete(conn: &mut AnyConnection, user: Id, by: &Actor, now: i64) -> QueryResult<usize> {
    let ended = sessions::delete_for_user(conn, user, now)?;
    users::delete(conn, user)?;
    let e = Event::new("user.deleted", "success")
        .user(user)
        .detail("sessions_ended", ended);
    audit::record(conn, &by.stamp(e), now)?;
    Ok(ended)
}

/// What an operator's reset of a person's second factors removed.
#[derive(Debug, Clone, Copy)]
pub struct FactorsReset {
    pub totp: bool,
    pub passkeys: usize,
    pub sessions: usize,
}

/// An operator turns off `user`'s second factors (authenticator, recovery codes and
/// passkeys), for a person who lost them: every session ends, so nobody stays signed in
/// on the strength of a factor that is gone. `None` when there was nothing to reset.
pub fn reset_second_factor(
    conn: &mut AnyConnection,
    user: Id,
    by: &Actor,
    now: i64,
) -> QueryResult<Option<FactorsReset>> {
    let totp_on = totp::find(conn, user)?.is_some_and(|t| t.enabled_at.is_some());
    let removed = passkeys::remove_all(conn, user)?;
    if !totp_on && removed == 0 {
        return Ok(None);
    }
    if totp_on {
        totp::disable(conn, user)?;
    }
    let ended = sessions::delete_for_user(conn, user, now)?;
    let e = Event::new("mfa.reset", "success")
        .user(user)
        .detail("sessions_ended", ended)
        .detail("passkeys_removed", removed);
    audit::record(conn, &by.stamp(e), now)?;
    Ok(Some(FactorsReset {
        totp: totp_on,
        passkeys: removed,
        sessions: ended,
    }))
}

/// A person's change of their own password, made from the browser session `session`.
pub struct OwnPasswordChange<'a> {
    /// The new password's hash.
    pub hash: &'a str,
    pub session: Id,
    /// The hash of the token the request presented, and of the session's new one
    /// (`pages::session::new_token`).
    pub presented_token_hash: &'a str,
    pub session_token_hash: &'a str,
    /// How the change proved the person (their session counts as signed in that way).
    pub method: SignInMethod,
    /// End every other session and refresh family of the person.
    pub sign_out_others: bool,
    /// Revoke the person's personal API tokens too.
    pub revoke_tokens: bool,
}

/// A person changes their own password from `session`. With `sign_out_others`, every
/// other session and every refresh-token family end (what a leaked password let
/// someone start); without, only the password changes; with `revoke_tokens`, the person's
/// personal API tokens are revoked too.
pub fn change_own_password(
    conn: &mut AnyConnection,
    user: Id,
    change: &OwnPasswordChange<'_>,
    by: &Actor,
    now: i64,
) -> QueryResult<Option<Ended>> {
    let &OwnPasswordChange {
        hash,
        session,
        presented_token_hash,
        session_token_hash,
        method,
        sign_out_others,
        revoke_tokens,
    } = change;
    // The form was a re-authentication, and the credential behind the session changes:
    // the session carries on under a new token (OWASP session management: renew the
    // identifier on any privilege change), counted as signed in now. First, and only
    // from the token presented: of concurrent changes sent with one session, exactly one
    // goes through; the rest change nothing (None).
    if !sessions::reauthenticated(
        conn,
        session,
        presented_token_hash,
        session_token_hash,
        method,
        now,
    )? {
        return Ok(None);
    }
    users::set_password_hash(conn, user, hash, now)?;
    resets::cancel_for_user(conn, user, now)?;
    let mut ended = Ended::default();
    if sign_out_others {
        ended.sessions = sessions::delete_others(conn, user, session, now)?;
        ended.families = refresh::revoke_for_user(conn, user, None, "password changed", now)?;
    }
    if revoke_tokens {
        ended.tokens = pat::revoke_for_user(conn, user, now)?;
    }
    let e = ended
        .event("user.password_changed", user)
        .detail("by", "self");
    audit::record(conn, &by.stamp(e), now)?;
    Ok(Some(ended))
}

/// Limit the API scopes `user` may give personal tokens (`None`: the whole catalogue).
/// Their live tokens are narrowed to match; one left with no scope is revoked. Returns
/// (narrowed, revoked).
pub fn set_api_scopes(
    conn: &mut AnyConnection,
    user: Id,
    granted: Option<&Scope>,
    by: &Actor,
    now: i64,
) -> QueryResult<(usize, usize)> {
    users::set_api_scopes(conn, user, granted, now)?;
    let changed = match granted {
        Some(g) => pat::narrow_for_user(conn, user, g, now)?,
        None => (0, 0),
    };
    let e = Event::new("user.api_scopes_changed", "success")
        .user(user)
        .detail(
            "api_scopes",
            granted.map_or_else(|| "*".to_string(), Scope::to_string),
        )
        .detail("tokens_narrowed", changed.0)
        .detail("tokens_revoked", changed.1);
    audit::record(conn, &by.stamp(e), now)?;
    Ok(changed)
}
