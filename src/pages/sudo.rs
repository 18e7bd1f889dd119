//! Re-authentication before credential changes ("sudo mode").
//!
//! A session cookie alone must not be enough to change how an account is protected:
//! whoever holds a stolen cookie could otherwise enrol their own authenticator or mint
//! a year-long API token. Creating a personal token therefore needs a sign-in (the
//! password, and the second factor when enrolled) within the last `PORTCULLIS_SUDO_TTL`
//! seconds; enrolling or turning off two-factor sign-in and new recovery codes within
//! the shorter `PORTCULLIS_SUDO_TTL_FACTORS` (see `Window`). Past that,
//! the page asks for them again, carrying the person's form along in hidden fields, and
//! the same POST then carries on with the action: nothing typed is lost.
//!
//! Confirming is a privilege change: the session gets a new token (and with it a new
//! CSRF token), and counts as signed in now. Attempts are limited like sign-in.

use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::cookie::Cookie;
use actix_web::http::StatusCode;

use super::extract::SignedInForm;
use super::limits::{self, Checked};
use super::passkeys::{self as ceremonies, Purpose};
use super::templates::{Layout, ReauthPage};
use super::{PageError, csrf, session};
use crate::domain::signin::{KeyStorage, SignInMethod};
use crate::mfa::factor::{self, Options};
use crate::mfa::guard::{self, Proof};
use crate::mfa::passkeys as mfa_passkeys;
use crate::sealed::DataKeys;
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::db::write_transaction;
use crate::store::{passkeys, sessions};
use crate::web::form::Form;
use crate::web::origin;

/// Fields that never ride along: the CSRF token is rendered afresh, and credentials are
/// never echoed into a page.
const NOT_CARRIED: &[&str] = &["csrf", "sudo_password", "sudo_code", "code"];

/// Why the action may go ahead.
pub enum Sudo {
    /// The last sign-in is recent enough.
    Fresh,
    /// The person confirmed in this very request. The session has a new token: the
    /// response must set `cookie`, and forms it renders must carry `csrf`.
    Confirmed {
        cookie: Cookie<'static>,
        csrf: String,
        /// A code from the authenticator app was checked here too, so the action need
        /// not ask for another (it would have to wait for the app's next one).
        second_factor: bool,
    },
}

impl Sudo {
    /// The CSRF token for the forms of the page this request renders.
    pub fn csrf(&self, state: &AppState, req: &HttpRequest) -> csrf::Csrf {
        match self {
            Sudo::Fresh => csrf::ensure(state, req),
            Sudo::Confirmed { csrf, .. } => csrf::Csrf {
                token: csrf.clone(),
                new_cookie: None,
            },
        }
    }

    /// Add the renewed session cookie, if any, to `res`.
    pub fn finish(&self, mut res: HttpResponse) -> HttpResponse {
        if let Sudo::Confirmed { cookie, .. } = self {
            let _ = res.add_cookie(cookie);
        }
        res
    }

    /// How the action proves the second factor: the `code` field of its own form,
    /// unless the re-authentication of this request checked one just now.
    pub fn proof(&self, form: &Form) -> Proof {
        match self {
            Sudo::Confirmed {
                second_factor: true,
                ..
            } => Proof::Reauthenticated,
            _ => Proof::Code(form.get("code").unwrap_or("").to_string()),
        }
    }
}

/// What the page says the confirmation is for, where the form goes, and how recent the
/// last sign-in must be.
pub struct Action {
    pub path: &'static str,
    pub purpose: &'static str,
    pub window: Window,
}

/// How long after a sign-in an action needs no re-authentication.
#[derive(Clone, Copy)]
pub enum Window {
    /// Credentials that act for the person (API tokens): `PORTCULLIS_SUDO_TTL`.
    Credentials,
    /// The factors that sign the person in (authenticator, recovery codes): the shorter
    /// `PORTCULLIS_SUDO_TTL_FACTORS`. A cookie stolen soon after sign-in must not be
    /// able to enrol the thief's authenticator and lock the owner out.
    Factors,
}

impl Window {
    fn seconds(self, state: &AppState) -> i64 {
        match self {
            Window::Credentials => state.settings.sudo_ttl,
            Window::Factors => state.settings.sudo_ttl_factors,
        }
    }
}

/// `Ok` when the action of `f` may go ahead; `Err` is the page to send instead (asking to
/// confirm, or saying why the confirmation failed).
pub async fn require(
    state: &AppState,
    req: &HttpRequest,
    f: &SignedInForm,
    action: &Action,
) -> Result<Sudo, PageError> {
    let now = state.clock.now();
    if now - f.session.auth_time < action.window.seconds(state) {
        return Ok(Sudo::Fresh);
    }
    let uid = f.user.id;
    let (enrolled, has_passkeys) = state
        .db
        .run(move |conn| {
            Ok((
                factor::enabled(conn, uid)?,
                passkeys::count_of_user(conn, uid)? > 0,
            ))
        })
        .await?;
    let asking = Asking {
        state,
        req,
        f,
        action,
        enrolled,
        passkeys: has_passkeys && state.passkeys.is_some(),
    };
    let form = &f.form;
    if let (Some(ceremony), Some(answer)) = (form.get("sudo_ceremony"), form.get("sudo_credential"))
    {
        return match by_passkey(state, req, &f.session, ceremony, answer).await? {
            Some(sudo) => Ok(sudo),
            None => Err(asking.page(Some(BAD_PASSKEY), StatusCode::BAD_REQUEST, None)),
        };
    }
    let Some(password) = form.get("sudo_password") else {
        return Err(asking.page(None, StatusCode::OK, None));
    };
    match by_password(state, req, f, enrolled, password).await? {
        Ok(sudo) => Ok(sudo),
        Err(Refusal(message, status, wait)) => Err(asking.page(Some(message), status, wait)),
    }
}

/// The page that asks the person to confirm it is them, with what they sent riding along.
struct Asking<'a> {
    state: &'a AppState,
    req: &'a HttpRequest,
    f: &'a SignedInForm,
    action: &'a Action,
    /// Two-factor sign-in is on: the page asks for a code too.
    enrolled: bool,
    /// The person has passkeys (and they are on): the page offers them.
    passkeys: bool,
}

impl Asking<'_> {
    fn page(
        &self,
        error: Option<&'static str>,
        status: StatusCode,
        wait: Option<i64>,
    ) -> PageError {
        let token = csrf::ensure(self.state, self.req);
        let carried = self
            .f
            .form
            .pairs()
            .filter(|(k, _)| !NOT_CARRIED.contains(k))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let current = if self.action.path.starts_with("/account/tokens") {
            "tokens"
        } else {
            "security"
        };
        let page = ReauthPage {
            layout: Layout::new(&self.f.user, current, &token.token),
            csrf: &token.token,
            action: self.action.path,
            purpose: self.action.purpose,
            carried,
            second_factor: self.enrolled,
            minutes: (self.action.window.seconds(self.state) / 60).max(1),
            error,
            passkeys: self.passkeys,
        };
        PageError::prompt(status, &page, token.new_cookie, wait).with_script(self.passkeys)
    }
}

/// Why a confirmation was refused: the message, the status and the `Retry-After` of the
/// page that asks again.
struct Refusal(&'static str, StatusCode, Option<i64>);

/// Confirm with the password, and a fresh code from the app when `enrolled`.
async fn by_password(
    state: &AppState,
    req: &HttpRequest,
    f: &SignedInForm,
    enrolled: bool,
    password: &str,
) -> Result<Result<Sudo, Refusal>, PageError> {
    let (session, user, now) = (&f.session, &f.user, state.clock.now());
    let uid = user.id;
    let (ip, ua) = origin::origin(req, &state.settings.trusted_proxies);
    let failed = |reason: &'static str| {
        Event::new("sudo.failed", "failure")
            .user(uid)
            .from_addr(ip.clone(), ua.clone())
            .detail("reason", reason)
    };
    match limits::password(state, req, &user.username, password.to_string(), None).await? {
        Checked::Passed(u) if u.id == uid => {}
        Checked::TooMany(wait) => {
            return Ok(Err(Refusal(
                TOO_MANY,
                StatusCode::TOO_MANY_REQUESTS,
                Some(wait),
            )));
        }
        _ => {
            crate::audit::record(&state.db, failed("bad_password"), now).await;
            return Ok(Err(Refusal(BAD_PASSWORD, StatusCode::BAD_REQUEST, None)));
        }
    }
    let code = f.form.get("sudo_code").unwrap_or("").to_string();
    let keys: std::sync::Arc<DataKeys> = state.data_keys.clone();
    let (new_hash, cookie) = session::new_token(state, session, now);
    let (sid, presented) = (session.id, session.token_hash.clone());
    let event_failed = failed("bad_second_factor");
    let confirmed = Event::new("sudo.confirmed", "success")
        .user(uid)
        .from_addr(ip, ua)
        .detail("second_factor", enrolled);
    let hash = new_hash.clone();
    let method = match enrolled {
        true => SignInMethod::PasswordAndCode,
        false => SignInMethod::Password,
    };
    let outcome = state
        .db
        .run(move |conn| {
            let renew = |conn: &mut _| -> diesel::QueryResult<Option<()>> {
                if !sessions::reauthenticated(conn, sid, &presented, &hash, method, now)? {
                    return Ok(None);
                }
                audit::record(conn, &confirmed, now)?;
                Ok(Some(()))
            };
            if !enrolled {
                return write_transaction(conn, renew).map(|r| match r {
                    Some(()) => Checked::Passed(()),
                    None => Checked::Failed,
                });
            }
            // A fresh code from the app (recovery codes are for signing in).
            let checked = guard::second_factor(conn, uid, now, |conn| {
                write_transaction(conn, |conn| {
                    if factor::check(conn, &keys, uid, &code, Options::APP_CODE, now)?.is_none() {
                        return Ok(None);
                    }
                    renew(conn)
                })
            })?;
            if matches!(checked, Checked::Failed) {
                audit::record(conn, &event_failed, now)?;
            }
            Ok(checked)
        })
        .await?;
    Ok(match outcome {
        Checked::Passed(()) => Ok(Sudo::Confirmed {
            cookie,
            csrf: csrf::for_session(state, &new_hash),
            second_factor: enrolled,
        }),
        Checked::Failed => Err(Refusal(BAD_CODE, StatusCode::BAD_REQUEST, None)),
        Checked::TooMany(wait) => Err(Refusal(TOO_MANY, StatusCode::TOO_MANY_REQUESTS, Some(wait))),
    })
}

/// Confirm with one of the person's passkeys (user verification makes it both factors).
/// None when the ceremony or the assertion is refused.
async fn by_passkey(
    state: &AppState,
    req: &HttpRequest,
    session: &sessions::Session,
    ceremony: &str,
    answer: &str,
) -> Result<Option<Sudo>, PageError> {
    let Some(rp) = ceremonies::relying_party(state) else {
        return Ok(None);
    };
    let begun = ceremonies::take(state, req, ceremony, Purpose::Reauth)
        .await?
        .filter(|c| c.session_id == Some(session.id));
    let (Some(c), Ok(credential)) = (begun, mfa_passkeys::credential_of(answer)) else {
        return Ok(None);
    };
    let uid = session.user_id;
    let row = state
        .db
        .run(move |conn| passkeys::by_credential(conn, &credential))
        .await?
        .filter(|r| r.user_id == uid);
    let Some(row) = row else {
        return Ok(None);
    };
    let Ok(used) = rp.finish_for(answer, &c.state, &row) else {
        return Ok(None);
    };
    let now = state.clock.now();
    let (new_hash, cookie) = session::new_token(state, session, now);
    let (sid, presented, hash) = (session.id, session.token_hash.clone(), new_hash.clone());
    let (ip, ua) = origin::origin(req, &state.settings.trusted_proxies);
    let confirmed = Event::new("sudo.confirmed", "success")
        .user(uid)
        .from_addr(ip, ua)
        .detail("second_factor", "passkey")
        .detail("passkey", row.name.clone());
    let id = row.id;
    let method = SignInMethod::Passkey(KeyStorage::from_backup_eligible(used.backup_eligible));
    let done = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let ok =
                    passkeys::record_use(
                        conn,
                        id,
                        &used.passkey_json,
                        used.sign_count,
                        used.backed_up,
                        now,
                    )? && sessions::reauthenticated(conn, sid, &presented, &hash, method, now)?;
                if ok {
                    audit::record(conn, &confirmed, now)?;
                }
                Ok(ok)
            })
        })
        .await?;
    Ok(done.then(|| Sudo::Confirmed {
        cookie,
        csrf: csrf::for_session(state, &new_hash),
        second_factor: true,
    }))
}

const BAD_PASSKEY: &str = "That passkey did not work. Try again, or use your password.";
const BAD_PASSWORD: &str = "That password is not right.";
const BAD_CODE: &str = "That code did not work, or was already used. Wait for the next one.";
const TOO_MANY: &str = "Too many failed attempts. Please wait a few minutes and try again.";
