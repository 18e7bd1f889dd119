//! The sign-in page: GET shows the form, POST checks the password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::limits::{self, Checked};
use super::templates::LoginMfaPage;
use super::{
    csrf, device, error_page, page_builder, render, second_factor, see_other, session, sudo,
    unavailable_page,
};
use crate::endpoints::authorize::{self as authz, login_page, login_page_with};
use crate::endpoints::form;
use crate::oauth::authorize::Params;
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::db::write_transaction;
use crate::store::sessions::{self, Session};
use crate::store::users;

/// Same message for an unknown user and a wrong password: nothing to enumerate.
const BAD_CREDENTIALS: &str = "Incorrect username or password.";
const TOO_MANY: &str = "Too many failed attempts. Please wait a few minutes and try again.";

pub async fn login_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match session::current(&state, &req).await {
        Ok(Some(_)) => see_other("/account", StatusCode::SEE_OTHER).finish(),
        Ok(None) => login_page(&req, &state, None, None, StatusCode::OK),
        Err(_) => unavailable_page(),
    }
}

pub async fn login_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match form::read(&req, payload).await {
        Ok(f) => f,
        Err(e) => return super::unreadable_form(&e),
    };
    if !csrf::verify(&state, &req, form.get("csrf")) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Please try again",
            "This form expired or did not come from this site. Go back, reload the page and sign in again.",
        );
    }
    // The authorization request this sign-in belongs to, validated again from scratch.
    let areq = match form.get("authz") {
        Some(a) => match authz::validate(&state, Params::parse(a)).await {
            Ok(r) => Some(r),
            Err(res) => return res,
        },
        None => None,
    };
    let username = form.get("username").unwrap_or("").trim().to_string();
    let pw = form.get("password").unwrap_or("").to_string();
    let token = csrf::ensure(&state, &req);
    if username.is_empty() || pw.is_empty() || pw.len() > 4096 {
        return login_page_with(
            token,
            areq.as_ref(),
            Some(BAD_CREDENTIALS),
            StatusCode::OK,
            username,
        );
    }
    let user = match limits::password(&state, &req, &username, pw).await {
        Ok(Checked::Passed(u)) => u,
        Ok(Checked::TooMany(wait)) => {
            let res = login_page_with(
                token,
                areq.as_ref(),
                Some(TOO_MANY),
                StatusCode::TOO_MANY_REQUESTS,
                username,
            );
            return sudo::too_many(res, wait);
        }
        Ok(Checked::Failed) => {
            let (ip, ua) = crate::audit::origin(&req);
            state
                .audit(
                    Event::new("signin.failure", "failure")
                        .from_addr(ip, ua)
                        .detail("username", username.clone())
                        .detail("reason", "bad_credentials"),
                )
                .await;
            return login_page_with(
                token,
                areq.as_ref(),
                Some(BAD_CREDENTIALS),
                StatusCode::OK,
                username,
            );
        }
        Err(_) => return unavailable_page(),
    };
    let uid = user.id;
    let Ok(needs_mfa) = state
        .db(move |conn| second_factor::enabled(conn, uid))
        .await
    else {
        return unavailable_page();
    };
    let (session, cookie) = match session::start(&state, &req, user.id, needs_mfa).await {
        Ok(s) => s,
        Err(_) => return unavailable_page(),
    };
    if needs_mfa {
        // The password was right; the session stays pending until the second factor.
        // Its form is bound to the pending session this response starts.
        let csrf = csrf::for_session(&state, &session.token_hash);
        let page = LoginMfaPage {
            csrf: &csrf,
            authz: form.get("authz").map(str::to_string),
            error: None,
        };
        let mut b = page_builder(StatusCode::OK);
        b.cookie(cookie);
        return render(b, &page);
    }
    let (ip, ua) = crate::audit::origin(&req);
    state
        .audit(
            Event::new("signin.success", "success")
                .user(user.id)
                .from_addr(ip, ua)
                .detail("second_factor", false),
        )
        .await;
    let device = device::issue(
        &state.device_key,
        &user.username,
        state.settings.secure_cookies(),
    );
    let mut res = match areq {
        Some(areq) => {
            authz::proceed(
                &req,
                &state,
                areq,
                Some((session, user)),
                true,
                StatusCode::SEE_OTHER,
            )
            .await
        }
        None => see_other("/account", StatusCode::SEE_OTHER).finish(),
    };
    let _ = res.add_cookie(&cookie);
    let _ = res.add_cookie(&device);
    res
}

const BAD_CODE: &str = "That code did not work. Check your app and try again.";
const TOO_MANY_CODES: &str = "Too many wrong codes. Please wait a few minutes and try again.";

/// The second sign-in step: a TOTP code (or a recovery code) for a pending session.
pub async fn mfa_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let form = match form::read(&req, payload).await {
        Ok(f) => f,
        Err(e) => return super::unreadable_form(&e),
    };
    if !csrf::verify(&state, &req, form.get("csrf")) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Please try again",
            "This form expired or did not come from this site. Go back, reload the page and sign in again.",
        );
    }
    let areq = match form.get("authz") {
        Some(a) => match authz::validate(&state, Params::parse(a)).await {
            Ok(r) => Some(r),
            Err(res) => return res,
        },
        None => None,
    };
    let token = csrf::ensure(&state, &req);
    let now = state.clock.now();
    let Some(cookie) = session::cookie_token(&req, state.settings.secure_cookies()) else {
        return login_page(&req, &state, areq.as_ref(), Some(EXPIRED), StatusCode::OK);
    };
    let hash = crate::secret::hash(&cookie);
    let Ok(pending) = state
        .db(move |conn| sessions::find_pending(conn, &hash, now))
        .await
    else {
        return unavailable_page();
    };
    let Some(pending) = pending else {
        return login_page(&req, &state, areq.as_ref(), Some(EXPIRED), StatusCode::OK);
    };
    let mfa_page = |token: csrf::Csrf, error: Option<&'static str>, status: StatusCode| {
        let page = LoginMfaPage {
            csrf: &token.token,
            authz: form.get("authz").map(str::to_string),
            error,
        };
        let mut b = page_builder(status);
        if let Some(c) = token.new_cookie {
            b.cookie(c);
        }
        render(b, &page)
    };
    let code = form.get("code").unwrap_or("").to_string();
    let keys = state.data_keys.clone();
    let (ip, ua) = crate::audit::origin(&req);
    let (uid, sid) = (pending.user_id, pending.id);
    // Signed in now: the session gets a new token (the privilege changed).
    let (new_hash, new_cookie) = session::new_token(&state, &pending, now);
    let stored_hash = new_hash.clone();
    let outcome = state
        .db(move |conn| {
            limits::second_factor(conn, uid, now, |conn| {
                write_transaction(conn, |conn| {
                    let opts = second_factor::Options::SIGN_IN;
                    let Some(factor) = second_factor::check(conn, &keys, uid, &code, opts, now)?
                    else {
                        let e = Event::new("signin.failure", "failure")
                            .user(uid)
                            .from_addr(ip, ua)
                            .detail("reason", "bad_second_factor");
                        audit::record(conn, &e, now)?;
                        return Ok(None);
                    };
                    if !sessions::complete_mfa(conn, sid, &stored_hash, now)? {
                        return Ok(None);
                    }
                    let Some(user) = users::find(conn, uid)? else {
                        return Ok(None);
                    };
                    if factor == second_factor::Factor::Recovery {
                        let e = Event::new("mfa.recovery_code_used", "success")
                            .user(uid)
                            .from_addr(ip.clone(), ua.clone());
                        audit::record(conn, &e, now)?;
                    }
                    let e = Event::new("signin.success", "success")
                        .user(uid)
                        .from_addr(ip, ua)
                        .detail("second_factor", factor.as_str());
                    audit::record(conn, &e, now)?;
                    Ok(Some(user))
                })
            })
        })
        .await;
    let user = match outcome {
        Ok(Checked::Passed(user)) => user,
        Ok(Checked::Failed) => return mfa_page(token, Some(BAD_CODE), StatusCode::OK),
        Ok(Checked::TooMany(wait)) => {
            let res = mfa_page(token, Some(TOO_MANY_CODES), StatusCode::TOO_MANY_REQUESTS);
            return sudo::too_many(res, wait);
        }
        Err(_) => return unavailable_page(),
    };
    let session = Session {
        token_hash: new_hash,
        auth_time: now,
        last_seen_at: now,
        mfa_pending: false,
        ..pending
    };
    let device = device::issue(
        &state.device_key,
        &user.username,
        state.settings.secure_cookies(),
    );
    let mut res = match areq {
        Some(areq) => {
            authz::proceed(
                &req,
                &state,
                areq,
                Some((session, user)),
                true,
                StatusCode::SEE_OTHER,
            )
            .await
        }
        None => see_other("/account", StatusCode::SEE_OTHER).finish(),
    };
    let _ = res.add_cookie(&new_cookie);
    let _ = res.add_cookie(&device);
    res
}

const EXPIRED: &str = "Your sign-in took too long. Please sign in again.";

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn from(addr: &str) -> String {
        let req = TestRequest::default()
            .peer_addr(addr.parse().unwrap())
            .to_http_request();
        limits::address_key(&req)
    }

    #[test]
    fn ipv6_callers_are_throttled_by_their_64() {
        assert_eq!(from("[2001:db8:1:2:aaaa::1]:5000"), "2001:db8:1:2::/64");
        assert_eq!(from("[2001:db8:1:2:bbbb::9]:6000"), "2001:db8:1:2::/64");
        assert_ne!(from("[2001:db8:1:3::1]:1"), "2001:db8:1:2::/64");
        assert_eq!(from("192.0.2.1:1"), "192.0.2.1");
    }
}
