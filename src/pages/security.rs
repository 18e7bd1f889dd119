//! Two-factor sign-in (TOTP, RFC 6238): enrol with a QR code or a typed key, confirm
//! with a code, receive recovery codes once; new recovery codes, or turning it off,
//! with a current code. Every change here needs a recent sign-in (`sudo`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::{SignedIn, SignedInForm};
use super::sudo::{self, Action, Window};
use super::templates::{
    Enrolment, FieldError, Layout, PasskeyLine, PasswordNote, RecoveryCodesPage, SecurityPage,
};
use super::when::when;
use super::{PageError, csrf, render_with, with_script};
use crate::accounts::Actor;
use crate::mfa::factor::{self, Options};
use crate::mfa::guard::{self, Checked, Proof};
use crate::mfa::{qr, recovery, sealing, totp as otp};
use crate::secret;
use crate::state::AppState;
use crate::store::AnyConnection;
use crate::store::audit::{self, Event};
use crate::store::users::User;
use crate::store::{passkeys, totp};
use crate::web::origin;

const RECOVERY_CODES: usize = 10;

const ENROL: Action = Action {
    path: "/account/security/enroll",
    purpose: "set up two-factor sign-in",
    window: Window::Factors,
};
const CONFIRM: Action = Action {
    path: "/account/security/confirm",
    purpose: "turn on two-factor sign-in",
    window: Window::Factors,
};
const DISABLE: Action = Action {
    path: "/account/security/disable",
    purpose: "turn off two-factor sign-in",
    window: Window::Factors,
};
const NEW_RECOVERY: Action = Action {
    path: "/account/security/recovery-codes",
    purpose: "make new recovery codes",
    window: Window::Factors,
};

const BAD_CODE: &str = "That code did not work, or was already used.";
const TOO_MANY: &str = "Too many wrong codes. Please wait a few minutes.";

/// What the page says besides its lists: an enrolment in progress, and the message of
/// the form that was just sent.
#[derive(Default)]
pub struct Notes {
    pub enrolment: Option<Enrolment>,
    pub error: Option<FieldError>,
    pub password: Option<PasswordNote>,
    pub passkey: Option<PasswordNote>,
}

/// The page after a password change or its refusal.
pub async fn show_with_password(
    state: &AppState,
    user: &User,
    token: csrf::Csrf,
    note: PasswordNote,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let notes = Notes {
        password: Some(note),
        ..Notes::default()
    };
    render_page(state, user, token, notes, status).await
}

async fn show(
    state: &AppState,
    user: &User,
    token: csrf::Csrf,
    enrolment: Option<Enrolment>,
    error: Option<FieldError>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let notes = Notes {
        enrolment,
        error,
        ..Notes::default()
    };
    render_page(state, user, token, notes, status).await
}

pub async fn render_page(
    state: &AppState,
    user: &User,
    token: csrf::Csrf,
    notes: Notes,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let uid = user.id;
    let (enabled, left, keys) = state
        .db
        .run(move |conn| {
            Ok((
                factor::enabled(conn, uid)?,
                totp::recovery_codes_left(conn, uid)?,
                passkeys::of_user(conn, uid)?,
            ))
        })
        .await?;
    let now = state.clock.now();
    let lines = state.passkeys.is_some().then(|| {
        keys.into_iter()
            .map(|k| PasskeyLine {
                id: k.id.to_string(),
                name: k.name,
                created: when(k.created_at, now),
                last_used: k.last_used_at.map(|t| when(t, now)),
                synced: k.backup_eligible,
            })
            .collect()
    });
    let page = SecurityPage {
        layout: Layout::new(user, "security", &token.token),
        csrf: &token.token,
        enabled,
        recovery_left: left,
        enrolment: notes.enrolment,
        error: notes.error,
        password: notes.password,
        passkeys: lines,
        passkey_note: notes.passkey,
    };
    let script = page.passkeys.is_some();
    Ok(with_script(
        render_with(token.new_cookie, status, &page),
        script,
    ))
}

/// The page again after a refused change: 400, or 429 with `Retry-After`.
async fn refused(
    state: &AppState,
    user: &User,
    token: csrf::Csrf,
    enrolment: Option<Enrolment>,
    checked: Checked<()>,
    field: &'static str,
) -> Result<HttpResponse, PageError> {
    match checked {
        Checked::TooMany(wait) => Ok(super::too_many(
            show(
                state,
                user,
                token,
                enrolment,
                Some(FieldError::new(field, TOO_MANY)),
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
                Some(FieldError::new(field, BAD_CODE)),
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
    sealing::open(&state.data_keys, uid, &t.secret_sealed).map(|s| enrolment_for(state, user, &s))
}

/// Ten new recovery codes to show once, and the hashes to store.
fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    let codes = recovery::generate(RECOVERY_CODES);
    let hashes = codes
        .iter()
        .filter_map(|c| recovery::normalize(c))
        .map(|c| secret::hash(&c))
        .collect();
    (codes, hashes)
}

/// Make a change to the person's second factor once a code proves it (within the
/// person's limit on codes): `change` runs in the transaction that spends the code and
/// gets the event stamp of who asked.
async fn with_code(
    state: &AppState,
    req: &HttpRequest,
    user: &User,
    proof: Proof,
    opts: Options,
    change: impl FnOnce(&mut AnyConnection, &Actor, i64) -> diesel::QueryResult<()> + Send + 'static,
) -> Result<Checked<()>, PageError> {
    let (now, keys, uid) = (state.clock.now(), state.data_keys.clone(), user.id);
    let (ip, user_agent) = origin::origin(req, &state.settings.trusted_proxies);
    let by = Actor::Person { ip, user_agent };
    Ok(state
        .db
        .run(move |conn| {
            guard::with_second_factor(conn, &keys, uid, proof, opts, now, |conn| {
                change(conn, &by, now)
            })
        })
        .await?)
}

/// How a request to start an enrolment ended.
enum Started {
    Yes,
    /// Two-factor sign-in is on already.
    AlreadyOn,
    /// Another request of the person started one at the same moment.
    Raced,
}

const RACED: &str = "Two-factor set-up was started twice at the same moment (another tab?), and this one was dropped. Start it again from this page.";

/// Start an enrolment: a new secret, sealed at rest, shown to the person once here.
pub async fn enroll_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let sudo = sudo::require(&state, &req, &f, &ENROL).await?;
    let token = sudo.csrf(&state, &req);
    let secret = otp::generate_secret();
    let (uid, now) = (f.user.id, state.clock.now());
    let sealed =
        sealing::seal(&state.data_keys, uid, &secret).map_err(|_| PageError::Unavailable)?;
    let started = state
        .db
        .run(move |conn| {
            if factor::enabled(conn, uid)? {
                return Ok(Started::AlreadyOn);
            }
            Ok(match totp::begin(conn, uid, &sealed, now)? {
                true => Started::Yes,
                false => Started::Raced,
            })
        })
        .await?;
    let page = match started {
        Started::Yes => {
            let enrolment = enrolment_for(&state, &f.user, &secret);
            show(
                &state,
                &f.user,
                token,
                Some(enrolment),
                None,
                StatusCode::OK,
            )
            .await?
        }
        Started::AlreadyOn => show(&state, &f.user, token, None, None, StatusCode::OK).await?,
        Started::Raced => {
            let why = FieldError::new("enrolment", RACED);
            show(
                &state,
                &f.user,
                token,
                None,
                Some(why),
                StatusCode::CONFLICT,
            )
            .await?
        }
    };
    Ok(sudo.finish(page))
}

/// Finish the enrolment with a valid code; hand out recovery codes once.
pub async fn confirm_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    // The pending secret is shown again when a code fails: only to a recent sign-in.
    let sudo = sudo::require(&state, &req, &f, &CONFIRM).await?;
    let token = sudo.csrf(&state, &req);
    let user = &f.user;
    let Some(code) = f.form.get("code").map(str::to_string) else {
        // Back from re-authenticating (codes are never carried through that page).
        let enrolment = pending_enrolment(&state, user).await;
        let page = show(&state, user, token, enrolment, None, StatusCode::OK).await?;
        return Ok(sudo.finish(page));
    };
    let (codes, hashes) = new_recovery_codes();
    let uid = user.id;
    let done = with_code(
        &state,
        &req,
        user,
        Proof::Code(code),
        Options::CONFIRM_ENROLMENT,
        move |conn, by, now| {
            totp::enable(conn, uid, now)?;
            totp::replace_recovery_codes(conn, uid, &hashes, now)?;
            audit::record(
                conn,
                &by.stamp(Event::new("mfa.enrolled", "success").user(uid)),
                now,
            )
        },
    )
    .await?;
    let res = match done {
        Checked::Passed(()) => render_with(
            token.new_cookie,
            StatusCode::OK,
            &RecoveryCodesPage { codes },
        ),
        failed => {
            // Show the same secret again so the person can retry without rescanning.
            let enrolment = pending_enrolment(&state, user).await;
            refused(&state, user, token, enrolment, failed, "code").await?
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
    let sudo = sudo::require(&state, &req, &f, &DISABLE).await?;
    let token = sudo.csrf(&state, &req);
    let uid = f.user.id;
    let done = with_code(
        &state,
        &req,
        &f.user,
        sudo.proof(&f.form),
        Options::APP_CODE,
        move |conn, by, now| {
            totp::disable(conn, uid)?;
            audit::record(
                conn,
                &by.stamp(Event::new("mfa.disabled", "success").user(uid)),
                now,
            )
        },
    )
    .await?;
    let res = match done {
        Checked::Passed(()) => show(&state, &f.user, token, None, None, StatusCode::OK).await?,
        failed => refused(&state, &f.user, token, None, failed, "code").await?,
    };
    Ok(sudo.finish(res))
}

/// New recovery codes (the old ones stop working), shown once; needs a current code.
pub async fn recovery_codes_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let sudo = sudo::require(&state, &req, &f, &NEW_RECOVERY).await?;
    let token = sudo.csrf(&state, &req);
    let (codes, hashes) = new_recovery_codes();
    let uid = f.user.id;
    let done = with_code(
        &state,
        &req,
        &f.user,
        sudo.proof(&f.form),
        Options::APP_CODE,
        move |conn, by, now| {
            totp::replace_recovery_codes(conn, uid, &hashes, now)?;
            let e = Event::new("mfa.recovery_codes_replaced", "success").user(uid);
            audit::record(conn, &by.stamp(e), now)
        },
    )
    .await?;
    let res = match done {
        Checked::Passed(()) => render_with(
            token.new_cookie,
            StatusCode::OK,
            &RecoveryCodesPage { codes },
        ),
        failed => refused(&state, &f.user, token, None, failed, "recovery-code").await?,
    };
    Ok(sudo.finish(res))
}
