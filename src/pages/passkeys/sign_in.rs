//! `POST /login/passkey`: signing in with a passkey, either on its own (no username:
//! the passkey says whose it is) or as the step after a password instead of a code.
//! The page's script fills in the ceremony and the authenticator's answer and posts the
//! form, so the authorization request it belongs to carries on as after a password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{Purpose, pending_session, relying_party, take};
use crate::domain::signin::{KeyStorage, SignInMethod};
use crate::mfa::passkeys::{self, Refused, RelyingParty, Used};
use crate::oauth::authorize::transaction::Transaction;
use crate::pages::authorize::{self as authz, login_page};
use crate::pages::extract::CsrfForm;
use crate::pages::login::{mfa_step_page, signed_in};
use crate::pages::{PageError, csrf, device, session};
use crate::state::AppState;
use crate::store::audit::{self as trail, Event};
use crate::store::db::write_transaction;
use crate::store::id::Id;
use crate::store::passkeys::{self as store, PasskeyRow};
use crate::store::sessions::{self, Session};
use crate::store::users::{self, User};
use crate::web::origin;

const DID_NOT_WORK: &str = "That passkey did not work. Try again, or sign in with your password.";
const EXPIRED: &str = "Your sign-in took too long. Please sign in again.";

pub async fn passkey_post(
    req: HttpRequest,
    CsrfForm(form): CsrfForm,
    state: web::Data<AppState>,
) -> Result<HttpResponse, PageError> {
    let txn = authz::carried(&state, &req, &form).await?;
    let ceremony = form.get("ceremony").unwrap_or("").to_string();
    let answer = form.get("credential").unwrap_or("").to_string();
    let second = form.get("step") == Some("second");
    let Some(rp) = relying_party(&state) else {
        let for_page = txn.as_ref().map(|(id, t)| (id.as_str(), &t.request));
        return Ok(login_page(
            &req,
            &state,
            for_page,
            Some(DID_NOT_WORK),
            StatusCode::BAD_REQUEST,
        ));
    };
    if second {
        second_step(&req, &state, rp, txn, &ceremony, &answer).await
    } else {
        on_its_own(&req, &state, rp, txn, &ceremony, &answer).await
    }
}

/// A passkey on its own: it names its person.
async fn on_its_own(
    req: &HttpRequest,
    state: &AppState,
    rp: &RelyingParty,
    mut txn: Option<(String, Transaction)>,
    ceremony: &str,
    answer: &str,
) -> Result<HttpResponse, PageError> {
    let refuse = |txn: &Option<(String, Transaction)>, message| {
        let for_page = txn.as_ref().map(|(id, t)| (id.as_str(), &t.request));
        Ok(login_page(
            req,
            state,
            for_page,
            Some(message),
            StatusCode::BAD_REQUEST,
        ))
    };
    let Some(c) = take(state, req, ceremony, Purpose::SignIn).await? else {
        return refuse(&txn, EXPIRED);
    };
    let Ok((claimed, credential)) = rp.identify(answer) else {
        return refuse(&txn, DID_NOT_WORK);
    };
    let found = state
        .db
        .run(move |conn| store::by_credential(conn, &credential))
        .await?
        .filter(|row| row.user_id.0 == claimed);
    let Some(row) = found else {
        failed(state, req, None, "unknown_passkey").await;
        return refuse(&txn, DID_NOT_WORK);
    };
    let checked = rp.finish_discoverable(answer, &c.state, &row);
    let Some((used, user)) = record(state, req, &row, checked, None).await? else {
        return refuse(&txn, DID_NOT_WORK);
    };
    let method = SignInMethod::Passkey(KeyStorage::from_backup_eligible(used.backup_eligible));
    let (session, cookie) = session::start(state, req, user.id, false, method).await?;
    if let Some((_, t)) = &mut txn {
        authz::authorizer(state).signing_in(t, session.id).await?;
    }
    let device = device::issue(&state.device_key, &user, state.settings.secure_cookies());
    signed_in(req, state, txn, session, user, &[cookie, device]).await
}

/// A passkey instead of a code, after a password: it must be the same person's.
async fn second_step(
    req: &HttpRequest,
    state: &AppState,
    rp: &RelyingParty,
    txn: Option<(String, Transaction)>,
    ceremony: &str,
    answer: &str,
) -> Result<HttpResponse, PageError> {
    let Some(pending) = pending_session(state, req).await? else {
        let for_page = txn.as_ref().map(|(id, t)| (id.as_str(), &t.request));
        return Ok(login_page(
            req,
            state,
            for_page,
            Some(EXPIRED),
            StatusCode::OK,
        ));
    };
    let refuse = |txn: &Option<(String, Transaction)>| {
        let token = csrf::ensure(state, req);
        let id = txn.as_ref().map(|(id, _)| id.as_str());
        Ok(mfa_step_page(
            state,
            token,
            id,
            Some(DID_NOT_WORK),
            StatusCode::BAD_REQUEST,
        ))
    };
    let c = take(state, req, ceremony, Purpose::SecondStep)
        .await?
        .filter(|c| c.session_id == Some(pending.id));
    let (Some(c), Ok(credential)) = (c, passkeys::credential_of(answer)) else {
        return refuse(&txn);
    };
    let uid = pending.user_id;
    let found = state
        .db
        .run(move |conn| store::by_credential(conn, &credential))
        .await?
        .filter(|row| row.user_id == uid);
    let Some(row) = found else {
        failed(state, req, Some(uid), "unknown_passkey").await;
        return refuse(&txn);
    };
    let checked = rp.finish_for(answer, &c.state, &row);
    let now = state.clock.now();
    let (new_hash, new_cookie) = session::new_token(state, &pending, now);
    let completion = Some((pending.id, new_hash.clone()));
    let Some((used, user)) = record(state, req, &row, checked, completion).await? else {
        return refuse(&txn);
    };
    let method =
        SignInMethod::PasswordAndPasskey(KeyStorage::from_backup_eligible(used.backup_eligible));
    let session = Session {
        token_hash: new_hash,
        auth_time: now,
        last_seen_at: now,
        mfa_pending: false,
        amr: method,
        ..pending
    };
    let device = device::issue(&state.device_key, &user, state.settings.secure_cookies());
    signed_in(req, state, txn, session, user, &[new_cookie, device]).await
}

/// Record a checked assertion: the passkey's use (its counter must move forward, checked
/// in the same statement that writes it), the sign-in event, and, for a second step,
/// the pending session's completion (`completion`: its id and new token hash). None when
/// the assertion was refused, or the counter shows a clone or a replay (audited).
async fn record(
    state: &AppState,
    req: &HttpRequest,
    row: &PasskeyRow,
    checked: Result<Used, Refused>,
    completion: Option<(Id, String)>,
) -> Result<Option<(Used, User)>, PageError> {
    let used = match checked {
        Ok(used) => used,
        Err(Refused::CounterWentBack) => {
            counter_went_back(state, req, row).await;
            return Ok(None);
        }
        Err(e) => {
            crate::metrics::passkey("failure");
            tracing::info!(error = %e, "passkey assertion refused");
            failed(state, req, Some(row.user_id), "bad_passkey").await;
            return Ok(None);
        }
    };
    let (ip, ua) = origin::origin(req, &state.settings.trusted_proxies);
    let (id, uid, now) = (row.id, row.user_id, state.clock.now());
    let second_step = completion.is_some();
    let storage = KeyStorage::from_backup_eligible(used.backup_eligible);
    let method = if second_step {
        SignInMethod::PasswordAndPasskey(storage)
    } else {
        SignInMethod::Passkey(storage)
    };
    let success = Event::new("signin.success", "success")
        .user(uid)
        .from_addr(ip, ua)
        .detail("method", "passkey")
        .detail("second_factor", if second_step { "passkey" } else { "" })
        .detail("passkey", row.name.clone());
    let (json, count, backed_up) = (used.passkey_json.clone(), used.sign_count, used.backed_up);
    let outcome = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                if !store::record_use(conn, id, &json, count, backed_up, now)? {
                    return Ok(Err(true));
                }
                if let Some((sid, hash)) = &completion
                    && !sessions::complete_mfa(conn, *sid, hash, method, now)?
                {
                    return Ok(Err(false));
                }
                let Some(user) = users::find(conn, uid)? else {
                    return Ok(Err(false));
                };
                trail::record(conn, &success, now)?;
                Ok(Ok(user))
            })
        })
        .await?;
    match outcome {
        Ok(user) => {
            crate::metrics::passkey("success");
            Ok(Some((used, user)))
        }
        Err(true) => {
            counter_went_back(state, req, row).await;
            Ok(None)
        }
        Err(false) => Ok(None),
    }
}

async fn failed(state: &AppState, req: &HttpRequest, user: Option<Id>, reason: &'static str) {
    let (ip, ua) = origin::origin(req, &state.settings.trusted_proxies);
    let mut e = Event::new("signin.failure", "failure")
        .from_addr(ip, ua)
        .detail("reason", reason);
    if let Some(u) = user {
        e = e.user(u);
    }
    crate::audit::record(&state.db, e, state.clock.now()).await;
}

/// WebAuthn L3 §7.2 step 22: a signature counter that does not move forward may mean a
/// cloned authenticator. The sign-in is refused and the person's trail says so.
async fn counter_went_back(state: &AppState, req: &HttpRequest, row: &PasskeyRow) {
    crate::metrics::passkey("counter_went_back");
    tracing::warn!(user = %row.user_id, passkey = %row.id, "passkey signature counter did not move forward");
    let (ip, ua) = origin::origin(req, &state.settings.trusted_proxies);
    let e = Event::new("passkey.counter_went_back", "failure")
        .user(row.user_id)
        .from_addr(ip, ua)
        .detail("passkey", row.name.clone())
        .detail("stored_counter", row.sign_count);
    crate::audit::record(&state.db, e, state.clock.now()).await;
}
