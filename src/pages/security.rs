//! Two-factor sign-in (TOTP, RFC 6238): enrol with a QR code or a typed key, confirm
//! with a code, receive recovery codes once; turn it off with a current code.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::second_factor;
use super::templates::{Enrolment, RecoveryCodesPage, SecurityPage};
use super::{csrf, render_with, signed_in, signed_in_form, unavailable_page};
use crate::mfa::{qr, recovery, totp as otp};
use crate::secret;
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::db::write_transaction;
use crate::store::totp;
use crate::store::users::User;

const RECOVERY_CODES: usize = 10;

async fn show(
    req: &HttpRequest,
    state: &AppState,
    user: &User,
    enrolment: Option<Enrolment>,
    error: Option<&'static str>,
) -> HttpResponse {
    let uid = user.id;
    let Ok((enabled, left)) = state
        .db(move |conn| {
            Ok((
                second_factor::enabled(conn, uid)?,
                totp::recovery_codes_left(conn, uid)?,
            ))
        })
        .await
    else {
        return unavailable_page();
    };
    let csrf::Csrf { token, new_cookie } = csrf::ensure(req, state.settings.secure_cookies());
    let page = SecurityPage {
        csrf: &token,
        enabled,
        recovery_left: left,
        enrolment,
        error,
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render_with(new_cookie, status, &page)
}

pub async fn security_get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match signed_in(&state, &req).await {
        Ok((_, user)) => show(&req, &state, &user, None, None).await,
        Err(res) => res,
    }
}

fn enrolment_for(state: &AppState, user: &User, secret: &[u8]) -> Enrolment {
    let issuer = url::Url::parse(&state.issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "Portcullis".into());
    let uri = otp::otpauth_uri(&issuer, &user.username, secret);
    Enrolment {
        qr_svg: qr::svg(&uri, "QR code for your authenticator app").unwrap_or_default(),
        secret_base32: otp::base32(secret),
        otpauth_uri: uri,
    }
}

/// Start an enrolment: a new secret, sealed at rest, shown to the person once here.
pub async fn enroll_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let user = match signed_in_form(&state, &req, payload).await {
        Ok((_, user)) => user,
        Err(res) => return res,
    };
    let secret = otp::generate_secret();
    let Ok(sealed) = state.data_keys.seal(&secret) else {
        return unavailable_page();
    };
    let uid = user.id;
    let now = state.clock.now();
    let started = state
        .db(move |conn| {
            if second_factor::enabled(conn, uid)? {
                return Ok(false);
            }
            totp::begin(conn, uid, &sealed, now)?;
            Ok(true)
        })
        .await;
    match started {
        Ok(true) => {
            show(
                &req,
                &state,
                &user,
                Some(enrolment_for(&state, &user, &secret)),
                None,
            )
            .await
        }
        Ok(false) => show(&req, &state, &user, None, None).await,
        Err(_) => unavailable_page(),
    }
}

/// Finish the enrolment with a valid code; hand out recovery codes once.
pub async fn confirm_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (form, user) = match signed_in_form(&state, &req, payload).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let code = form.get("code").unwrap_or("").to_string();
    let now = state.clock.now();
    let key = format!("mfa:{}", user.id);
    if state.mfa_by_user.check(&key, now).is_err() {
        return show(
            &req,
            &state,
            &user,
            None,
            Some("Too many wrong codes. Please wait a few minutes."),
        )
        .await;
    }
    let keys = state.data_keys.clone();
    let uid = user.id;
    let (ip, ua) = crate::audit::origin(&req);
    let codes = recovery::generate(RECOVERY_CODES);
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| recovery::normalize(c))
        .map(|c| secret::hash(&c))
        .collect();
    let done = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                if second_factor::check(conn, &keys, uid, &code, false, false, now)?.is_none() {
                    return Ok(false);
                }
                totp::enable(conn, uid, now)?;
                totp::replace_recovery_codes(conn, uid, &hashes, now)?;
                audit::record(
                    conn,
                    &Event::new("mfa.enrolled", "success")
                        .user(uid)
                        .from_addr(ip, ua),
                    now,
                )?;
                Ok(true)
            })
        })
        .await;
    match done {
        Ok(true) => {
            state.mfa_by_user.reset(&key);
            let token = csrf::ensure(&req, state.settings.secure_cookies());
            render_with(
                token.new_cookie,
                StatusCode::OK,
                &RecoveryCodesPage { codes },
            )
        }
        Ok(false) => {
            state.mfa_by_user.fail(&key, now);
            // Show the same secret again so the person can retry without rescanning.
            let uid = user.id;
            let Ok(Some(t)) = state.db(move |conn| totp::find(conn, uid)).await else {
                return show(&req, &state, &user, None, Some("That code did not work.")).await;
            };
            let enrolment = state
                .data_keys
                .open(&t.secret_sealed)
                .map(|s| enrolment_for(&state, &user, &s));
            show(
                &req,
                &state,
                &user,
                enrolment,
                Some("That code did not work. Check the time on your phone and try again."),
            )
            .await
        }
        Err(_) => unavailable_page(),
    }
}

/// Turning two-factor off needs a current code from the app.
pub async fn disable_post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (form, user) = match signed_in_form(&state, &req, payload).await {
        Ok(f) => f,
        Err(res) => return res,
    };
    let code = form.get("code").unwrap_or("").to_string();
    let now = state.clock.now();
    let key = format!("mfa:{}", user.id);
    if state.mfa_by_user.check(&key, now).is_err() {
        return show(
            &req,
            &state,
            &user,
            None,
            Some("Too many wrong codes. Please wait a few minutes."),
        )
        .await;
    }
    let keys = state.data_keys.clone();
    let uid = user.id;
    let (ip, ua) = crate::audit::origin(&req);
    let done = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                if second_factor::check(conn, &keys, uid, &code, false, true, now)?.is_none() {
                    return Ok(false);
                }
                totp::disable(conn, uid)?;
                audit::record(
                    conn,
                    &Event::new("mfa.disabled", "success")
                        .user(uid)
                        .from_addr(ip, ua),
                    now,
                )?;
                Ok(true)
            })
        })
        .await;
    match done {
        Ok(true) => show(&req, &state, &user, None, None).await,
        Ok(false) => {
            state.mfa_by_user.fail(&key, now);
            show(&req, &state, &user, None, Some("That code did not work.")).await
        }
        Err(_) => unavailable_page(),
    }
}
