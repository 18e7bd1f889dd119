//! Two-factor sign-in (TOTP, RFC 6238): enrol with a QR code or a typed key, confirm
//! with a code, receive recovery codes once; new recovery codes, or turning it off,
//! with a current code. Every change here needs a recent sign-in (`sudo`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{SignedIn, SignedInForm};
use super::sudo::{self, Action};
use super::templates::{Enrolment, RecoveryCodesPage, SecurityPage};
use super::{PageError, csrf, render_with};
use crate::mfa::factor::{self, Options};
use crate::mfa::guard::{self, Checked, Proof};
use crate::mfa::{qr, recovery, totp as otp};
use crate::secret;
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::totp;
use crate::store::users::User;
use crate::web::origin;

const RECOVERY_CODES: usize = 10;

const ENROL: Action = Action {
    path: "/account/security/enroll",
    purpose: "set up two-factor sign-in",
};
const CONFIRM: Action = Action {
    path: "/account/security/confirm",
    purpose: "turn on two-factor sign-in",
};
const DISABLE: Action = Action {
    path: "/account/security/disable",
    purpose: "turn off two-factor sign-in",
};
const NEW_RECOVERY: Action = Action {
    path: "/account/security/recovery-codes",
    purpose: "make new recovery codes",
};

const BAD_CODE: &str = "That code did not work, or was already used.";
const TOO_MANY: &str = "Too many wrong codes. Please wait a few minutes.";

async fn show(
    state: &AppState,
    user: &User,
    token: csrf::Csrf,
    enrolment: Option<Enrolment>,
    error: Option<&'static str>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let uid = user.id;
    let (enabled, left) = state
        .db
        .run(move |conn| {
            Ok((
                factor::enabled(conn, uid)?,
                totp::recovery_codes_left(conn, uid)?,
            ))
        })
        .await?;
    let page = SecurityPage {
        csrf: &token.token,
        enabled,
        recovery_left: left,
        enrolment,
        error,
    };
    Ok(render_with(token.new_cookie, status, &page))
}

/// The page again after a refused change: 400, or 429 with `Retry-After`.
async fn refused(
    state: &AppState,
    user: &User,
    token: csrf::Csrf,
    enrolment: Option<Enrolment>,
    checked: Checked<()>,
) -> Result<HttpResponse, PageError> {
    match checked {
        Checked::TooMany(wait) => Ok(sudo::too_many(
            show(
                state,
                user,
                token,
                enrolment,
                Some(TOO_MANY),
                StatusCode::TOO_MANY_REQUESTS,
            )
            .await?,
            wait,
        )),
        _ => {
            show(
                state,
                user,
                token,
                enrolment,
                Some(BAD_CODE),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

pub async fn security_get(
    req: HttpRequest,
    state: web::Data<AppState>,
    me: SignedIn,
) -> Result<HttpResponse, PageError> {
    let token = csrf::ensure(&state, &req);
    show(&state, &me.user, token, None, None, StatusCode::OK).await
}

fn enrolment_for(state: &AppState, user: &User, secret: &[u8]) -> Enrolment {
    let issuer = url::Url::parse(&state.issuer.id)
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

/// The enrolment waiting for its confirming code, shown again.
async fn pending_enrolment(state: &AppState, user: &User) -> Option<Enrolment> {
    let uid = user.id;
    let t = state
        .db
        .run(move |conn| totp::find(conn, uid))
        .await
        .ok()??;
    if t.enabled_at.is_some() {
        return None;
    }
    state
        .data_keys
        .open(&t.secret_sealed)
        .map(|s| enrolment_for(state, user, &s))
}

/// Start an enrolment: a new secret, sealed at rest, shown to the person once here.
pub async fn enroll_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm {
        form,
        session,
        user,
    } = f;
    let sudo = match sudo::require(&state, &req, &session, &user, &form, &ENROL).await {
        Ok(s) => s,
        Err(page) => return Ok(page),
    };
    let token = sudo.csrf(&state, &req);
    let secret = otp::generate_secret();
    let sealed = state
        .data_keys
        .seal(&secret)
        .map_err(|_| PageError::Unavailable)?;
    let uid = user.id;
    let now = state.clock.now();
    let started = state
        .db
        .run(move |conn| {
            if factor::enabled(conn, uid)? {
                return Ok(false);
            }
            totp::begin(conn, uid, &sealed, now)?;
            Ok(true)
        })
        .await?;
    let enrolment = started.then(|| enrolment_for(&state, &user, &secret));
    Ok(sudo.finish(show(&state, &user, token, enrolment, None, StatusCode::OK).await?))
}

/// Finish the enrolment with a valid code; hand out recovery codes once.
pub async fn confirm_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm {
        form,
        session,
        user,
    } = f;
    // The pending secret is shown again when a code fails: only to a recent sign-in.
    let sudo = match sudo::require(&state, &req, &session, &user, &form, &CONFIRM).await {
        Ok(s) => s,
        Err(page) => return Ok(page),
    };
    let token = sudo.csrf(&state, &req);
    let Some(code) = form.get("code").map(str::to_string) else {
        // Back from re-authenticating (codes are never carried through that page).
        let enrolment = pending_enrolment(&state, &user).await;
        return Ok(sudo.finish(show(&state, &user, token, enrolment, None, StatusCode::OK).await?));
    };
    let now = state.clock.now();
    let keys = state.data_keys.clone();
    let uid = user.id;
    let (ip, ua) = origin::origin(&req, &state.settings.trusted_proxies);
    let codes = recovery::generate(RECOVERY_CODES);
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| recovery::normalize(c))
        .map(|c| secret::hash(&c))
        .collect();
    let done = state
        .db
        .run(move |conn| {
            let proof = Proof::Code(code);
            guard::with_second_factor(
                conn,
                &keys,
                uid,
                proof,
                Options::CONFIRM_ENROLMENT,
                now,
                |conn| {
                    totp::enable(conn, uid, now)?;
                    totp::replace_recovery_codes(conn, uid, &hashes, now)?;
                    let e = Event::new("mfa.enrolled", "success")
                        .user(uid)
                        .from_addr(ip, ua);
                    audit::record(conn, &e, now)
                },
            )
        })
        .await;
    let res = match done? {
        Checked::Passed(()) => render_with(
            token.new_cookie,
            StatusCode::OK,
            &RecoveryCodesPage { codes },
        ),
        failed => {
            // Show the same secret again so the person can retry without rescanning.
            let enrolment = pending_enrolment(&state, &user).await;
            refused(&state, &user, token, enrolment, failed).await?
        }
    };
    Ok(sudo.finish(res))
}

/// Turning two-factor off needs a current code from the app.
pub async fn disable_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm {
        form,
        session,
        user,
    } = f;
    let sudo = match sudo::require(&state, &req, &session, &user, &form, &DISABLE).await {
        Ok(s) => s,
        Err(page) => return Ok(page),
    };
    let token = sudo.csrf(&state, &req);
    let proof = sudo.proof(&form);
    let now = state.clock.now();
    let keys = state.data_keys.clone();
    let uid = user.id;
    let (ip, ua) = origin::origin(&req, &state.settings.trusted_proxies);
    let done = state
        .db
        .run(move |conn| {
            guard::with_second_factor(conn, &keys, uid, proof, Options::APP_CODE, now, |conn| {
                totp::disable(conn, uid)?;
                let e = Event::new("mfa.disabled", "success")
                    .user(uid)
                    .from_addr(ip, ua);
                audit::record(conn, &e, now)
            })
        })
        .await;
    let res = match done? {
        Checked::Passed(()) => show(&state, &user, token, None, None, StatusCode::OK).await?,
        failed => refused(&state, &user, token, None, failed).await?,
    };
    Ok(sudo.finish(res))
}

/// New recovery codes (the old ones stop working), shown once; needs a current code.
pub async fn recovery_codes_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let SignedInForm {
        form,
        session,
        user,
    } = f;
    let sudo = match sudo::require(&state, &req, &session, &user, &form, &NEW_RECOVERY).await {
        Ok(s) => s,
        Err(page) => return Ok(page),
    };
    let token = sudo.csrf(&state, &req);
    let proof = sudo.proof(&form);
    let now = state.clock.now();
    let keys = state.data_keys.clone();
    let uid = user.id;
    let (ip, ua) = origin::origin(&req, &state.settings.trusted_proxies);
    let codes = recovery::generate(RECOVERY_CODES);
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|c| recovery::normalize(c))
        .map(|c| secret::hash(&c))
        .collect();
    let done = state
        .db
        .run(move |conn| {
            guard::with_second_factor(conn, &keys, uid, proof, Options::APP_CODE, now, |conn| {
                totp::replace_recovery_codes(conn, uid, &hashes, now)?;
                let e = Event::new("mfa.recovery_codes_replaced", "success")
                    .user(uid)
                    .from_addr(ip, ua);
                audit::record(conn, &e, now)
            })
        })
        .await;
    let res = match done? {
        Checked::Passed(()) => render_with(
            token.new_cookie,
            StatusCode::OK,
            &RecoveryCodesPage { codes },
        ),
        failed => refused(&state, &user, token, None, failed).await?,
    };
    Ok(sudo.finish(res))
}
