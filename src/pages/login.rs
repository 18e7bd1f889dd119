//! The sign-in page: GET shows the form, POST checks the password, and the second step
//! checks a code when the person has two-factor sign-in on.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::authorize::{self as authz, login_page, login_page_with};
use super::extract::CsrfForm;
use super::limits::{self, Checked};
use super::templates::LoginMfaPage;
use super::{PageError, csrf, device, page_builder, render, see_other, session, with_script};
use crate::audit;
use crate::domain::signin::SignInMethod;
use crate::metrics;
use crate::mfa::factor::{self, Factor, Options};
use crate::mfa::guard;
use crate::oauth::authorize::transaction::Transaction;
use crate::state::AppState;
use crate::store::audit::{self as trail, Event};
use crate::store::db::write_transaction;
use crate::store::sessions::{self, Session};
use crate::store::users;
use crate::web::origin;

/// Same message for an unknown user and a wrong password: nothing to enumerate.
const BAD_CREDENTIALS: &str = "Incorrect username or password.";
const TOO_MANY: &str = "Too many failed attempts. Please wait a few minutes and try again.";

pub async fn login_get(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    Ok(match session::current(&state, &req).await? {
        Some(_) => see_other("/account", StatusCode::SEE_OTHER).finish(),
        None => login_page(&req, &state, None, None, StatusCode::OK),
    })
}

pub async fn login_post(
    req: HttpRequest,
    CsrfForm(form): CsrfForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let mut txn = authz::carried(&state, &req, &form).await?;
    let username = form.get("username").unwrap_or("").trim().to_string();
    let pw = form.get("password").unwrap_or("").to_string();
    let token = csrf::ensure(&state, &req);
    let for_page = txn.as_ref().map(|(id, t)| (id.as_str(), &t.request));
    let page = |token, error, status, username| {
        login_page_with(&state, token, for_page, Some(error), status, username)
    };
    if username.is_empty() || pw.is_empty() || pw.len() > 4096 {
        return Ok(page(token, BAD_CREDENTIALS, StatusCode::OK, username));
    }
    let (ip, ua) = origin::origin(&req, &state.settings.trusted_proxies);
    let wrong = Event::new("signin.failure", "failure")
        .from_addr(ip, ua)
        .detail("username", username.clone())
        .detail("reason", "bad_credentials");
    let user = match limits::password(&state, &req, &username, pw, Some(wrong)).await? {
        Checked::Passed(u) => {
            metrics::sign_in("success");
            u
        }
        Checked::TooMany(wait) => {
            metrics::sign_in("throttled");
            let res = page(token, TOO_MANY, StatusCode::TOO_MANY_REQUESTS, username);
            return Ok(super::too_many(res, wait));
        }
        Checked::Failed => {
            metrics::sign_in("failure");
            return Ok(page(token, BAD_CREDENTIALS, StatusCode::OK, username));
        }
    };
    let uid = user.id;
    let needs_mfa = state.db.run(move |conn| factor::enabled(conn, uid)).await?;
    let (session, cookie) =
        session::start(&state, &req, user.id, needs_mfa, SignInMethod::Password).await?;
    if let Some((_, t)) = &mut txn {
        authz::authorizer(&state).signing_in(t, session.id).await?;
    }
    if needs_mfa {
        // The password was right; the session stays pending until the second factor.
        // Its form is bound to the pending session this response starts.
        let token = csrf::Csrf {
            token: csrf::for_session(&state, &session.token_hash),
            new_cookie: Some(cookie),
        };
        let id = txn.as_ref().map(|(id, _)| id.as_str());
        return Ok(mfa_step_page(&state, token, id, None, StatusCode::OK));
    }
    let (ip, ua) = origin::origin(&req, &state.settings.trusted_proxies);
    let now = state.clock.now();
    let e = Event::new("signin.success", "success")
        .user(user.id)
        .from_addr(ip, ua)
        .detail("second_factor", false);
    audit::record(&state.db, e, now).await;
    let device = device::issue(&state.device_key, &user, state.settings.secure_cookies());
    signed_in(&req, &state, txn, session, user, &[cookie, device]).await
}

/// Signed in: carry on with the authorization request, or go to the account pages.
pub(super) async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
    txn: Option<(String, Transaction)>,
    session: Session,
    user: users::User,
    cookies: &[actix_web::cookie::Cookie<'static>],
) -> Result<HttpResponse, PageError> {
    let mut res = match txn {
        Some((id, mut t)) => {
            let authorizer = authz::authorizer(state);
            authorizer
                .authenticated(&mut t, session.id, session.auth_time)
                .await?;
            match authz::proceed(req, state, &id, &t, Some((session, user))).await {
                Ok(res) => res,
                Err(e) => actix_web::ResponseError::error_response(&e),
            }
        }
        None => see_other("/account", StatusCode::SEE_OTHER).finish(),
    };
    // The new session's cookies go with whatever comes next.
    for c in cookies {
        let _ = res.add_cookie(c);
    }
    Ok(res)
}

/// The second sign-in step's page: a code, or one of the person's passkeys. `token`'s
/// cookie, when it has one, is set with it (the pending session's, after a password).
pub(crate) fn mfa_step_page(
    state: &AppState,
    token: csrf::Csrf,
    txn: Option<&str>,
    error: Option<&'static str>,
    status: StatusCode,
) -> HttpResponse {
    let page = LoginMfaPage {
        csrf: &token.token,
        txn,
        error,
        passkeys: state.passkeys.is_some(),
    };
    let mut b = page_builder(status);
    if let Some(c) = token.new_cookie {
        b.cookie(c);
    }
    with_script(render(b, &page), page.passkeys)
}

const BAD_CODE: &str = "That code did not work. Check your app and try again.";
const TOO_MANY_CODES: &str = "Too many wrong codes. Please wait a few minutes and try again.";
const EXPIRED: &str = "Your sign-in took too long. Please sign in again.";

/// The second sign-in step: a TOTP code (or a recovery code) for a pending session.
pub async fn mfa_post(
    req: HttpRequest,
    CsrfForm(form): CsrfForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let txn = authz::carried(&state, &req, &form).await?;
    let for_page = txn.as_ref().map(|(id, t)| (id.as_str(), &t.request));
    let token = csrf::ensure(&state, &req);
    let now = state.clock.now();
    let Some(cookie) = session::cookie_token(&req, state.settings.secure_cookies()) else {
        return Ok(login_page(
            &req,
            &state,
            for_page,
            Some(EXPIRED),
            StatusCode::OK,
        ));
    };
    let hash = crate::secret::hash(&cookie);
    let pending = state
        .db
        .run(move |conn| sessions::find_pending(conn, &hash, now))
        .await?;
    let Some(pending) = pending else {
        return Ok(login_page(
            &req,
            &state,
            for_page,
            Some(EXPIRED),
            StatusCode::OK,
        ));
    };
    let mfa_page = |token: csrf::Csrf, error: Option<&'static str>, status: StatusCode| {
        mfa_step_page(&state, token, for_page.map(|(id, _)| id), error, status)
    };
    let code = form.get("code").unwrap_or("").to_string();
    let keys = state.data_keys.clone();
    let (ip, ua) = origin::origin(&req, &state.settings.trusted_proxies);
    let (uid, sid) = (pending.user_id, pending.id);
    let refusal = Event::new("signin.throttled", "failure")
        .user(uid)
        .from_addr(ip.clone(), ua.clone())
        .detail("limit", "second_factor");
    // Signed in now: the session gets a new token (the privilege changed).
    let (new_hash, new_cookie) = session::new_token(&state, &pending, now);
    let stored_hash = new_hash.clone();
    let outcome = state
        .db
        .run(move |conn| {
            guard::second_factor(conn, uid, now, |conn| {
                write_transaction(conn, |conn| {
                    let Some(factor) =
                        factor::check(conn, &keys, uid, &code, Options::SIGN_IN, now)?
                    else {
                        let e = Event::new("signin.failure", "failure")
                            .user(uid)
                            .from_addr(ip, ua)
                            .detail("reason", "bad_second_factor");
                        trail::record(conn, &e, now)?;
                        return Ok(None);
                    };
                    if !sessions::complete_mfa(
                        conn,
                        sid,
                        &stored_hash,
                        SignInMethod::PasswordAndCode,
                        now,
                    )? {
                        return Ok(None);
                    }
                    let Some(user) = users::find(conn, uid)? else {
                        return Ok(None);
                    };
                    if factor == Factor::Recovery {
                        let e = Event::new("mfa.recovery_code_used", "success")
                            .user(uid)
                            .from_addr(ip.clone(), ua.clone());
                        trail::record(conn, &e, now)?;
                    }
                    let e = Event::new("signin.success", "success")
                        .user(uid)
                        .from_addr(ip, ua)
                        .detail("second_factor", factor.as_str());
                    trail::record(conn, &e, now)?;
                    Ok(Some(user))
                })
            })
        })
        .await?;
    let user = match outcome {
        Checked::Passed(user) => user,
        Checked::Failed => return Ok(mfa_page(token, Some(BAD_CODE), StatusCode::OK)),
        Checked::TooMany(wait) => {
            // In the trail as password refusals are: once per person and window.
            let key = format!("mfa:{uid}");
            crate::audit::record_refusal_once(&state.db, key, guard::WINDOW, refusal, now).await;
            let res = mfa_page(token, Some(TOO_MANY_CODES), StatusCode::TOO_MANY_REQUESTS);
            return Ok(super::too_many(res, wait));
        }
    };
    let session = Session {
        token_hash: new_hash,
        auth_time: now,
        last_seen_at: now,
        mfa_pending: false,
        amr: SignInMethod::PasswordAndCode,
        ..pending
    };
    let device = device::issue(&state.device_key, &user, state.settings.secure_cookies());
    signed_in(&req, &state, txn, session, user, &[new_cookie, device]).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn from(addr: &str) -> String {
        let req = TestRequest::default()
            .peer_addr(addr.parse().unwrap())
            .to_http_request();
        limits::address_key(&req, &[])
    }

    #[test]
    fn ipv6_callers_are_throttled_by_their_64() {
        assert_eq!(from("[2001:db8:1:2:aaaa::1]:5000"), "2001:db8:1:2::/64");
        assert_eq!(from("[2001:db8:1:2:bbbb::9]:6000"), "2001:db8:1:2::/64");
        assert_ne!(from("[2001:db8:1:3::1]:1"), "2001:db8:1:2::/64");
        assert_eq!(from("192.0.2.1:1"), "192.0.2.1");
    }
}
