//! Changing one's own password on the security page: the current password (and a code,
//! with two-factor sign-in on) as the re-authentication, checked and throttled as at
//! sign-in; the new one twice, held to the same strength rule as `user create`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::SignedInForm;
use super::limits;
use super::security::show_with_password;
use super::session::new_token;
use super::templates::PasswordNote;
use super::{PageError, csrf, too_many};
use crate::accounts::Actor;
use crate::accounts::users::{Ended, OwnPasswordChange, change_own_password};
use crate::domain::signin::SignInMethod;
use crate::mfa::factor::{self, Options};
use crate::mfa::guard::{self, Checked, Proof};
use crate::password;
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::db::write_transaction;
use crate::store::users::User;
use crate::web::origin;

/// Whether `new` may be `user`'s password (`password::acceptable`, with their username,
/// email and name known to a guesser), judged off the worker thread: the estimate is
/// CPU work, like the hashing that follows.
pub(super) async fn strong_enough(user: &User, new: &str) -> Result<Result<(), String>, PageError> {
    let (username, email, name) = (user.username.clone(), user.email.clone(), user.name.clone());
    let candidate = new.to_string();
    web::block(move || {
        let known = password::Known {
            username: &username,
            email: email.as_deref(),
            name: name.as_deref(),
        };
        password::acceptable(&candidate, &known)
    })
    .await
    .map_err(|_| PageError::Unavailable)
}

/// The password form's fields (ids in security.html), for tying a refusal to one.
const CURRENT: &str = "current-password";
const NEW: &str = "new-password";
const AGAIN: &str = "new-password-again";
const CODE: &str = "password-code";

pub async fn password_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    // The form is its own re-authentication: the current password (checked and
    // throttled as at sign-in) and, with two-factor sign-in on, a current code (checked
    // and throttled as everywhere). A separate confirmation step would have to carry the
    // passwords through a page, which we never do.
    let token = csrf::ensure(&state, &req);
    let user = &f.user;
    let say = |field: &'static str, text: String| PasswordNote {
        ok: false,
        text,
        field,
    };
    let current = f.form.get("current_password").unwrap_or("").to_string();
    let new = f.form.get("new_password").unwrap_or("").to_string();
    let again = f.form.get("new_password_again").unwrap_or("");
    let refused = |note: PasswordNote, status: StatusCode| {
        show_with_password(&state, user, token.clone(), note, status)
    };
    if current.is_empty() || new.is_empty() {
        let note = say(
            if current.is_empty() { CURRENT } else { NEW },
            "Enter your current password and the new one twice.".into(),
        );
        return refused(note, StatusCode::BAD_REQUEST).await;
    }
    if new != again {
        let note = say(AGAIN, "The two new passwords differ.".into());
        return refused(note, StatusCode::BAD_REQUEST).await;
    }
    if new == current {
        let note = say(
            NEW,
            "The new password is your current one: choose another.".into(),
        );
        return refused(note, StatusCode::BAD_REQUEST).await;
    }
    if let Err(why) = strong_enough(user, &new).await? {
        let note = say(NEW, format!("That password is not strong enough. {why}"));
        return refused(note, StatusCode::BAD_REQUEST).await;
    }
    let (ip, user_agent) = origin::origin(&req, &state.settings.trusted_proxies);
    match limits::password(&state, &req, &user.username, current, None).await? {
        Checked::Passed(u) if u.id == user.id => {}
        Checked::TooMany(wait) => {
            let note = say(
                CURRENT,
                "Too many wrong passwords. Please wait a few minutes.".into(),
            );
            return Ok(too_many(
                refused(note, StatusCode::TOO_MANY_REQUESTS).await?,
                wait,
            ));
        }
        _ => {
            let (uid, now) = (user.id, state.clock.now());
            let e = Event::new("user.password_change_failed", "failure")
                .user(uid)
                .from_addr(ip, user_agent)
                .detail("reason", "wrong current password");
            state
                .db
                .run(move |conn| audit::record(conn, &e, now))
                .await?;
            let note = say(CURRENT, "Your current password is not right.".into());
            return refused(note, StatusCode::BAD_REQUEST).await;
        }
    }
    // argon2 off the worker thread.
    let hash = web::block(move || password::hash(&new))
        .await
        .map_err(|_| PageError::Unavailable)?
        .map_err(|_| PageError::Unavailable)?;
    let sign_out_others = f.form.get("sign_out_others").is_some();
    let revoke_tokens = f.form.get("revoke_tokens").is_some();
    let (uid, session, now) = (user.id, f.session.id, state.clock.now());
    let (session_hash, session_cookie) = new_token(&state, &f.session, now);
    let presented = f.session.token_hash.clone();
    let by = Actor::Person { ip, user_agent };
    let code = f.form.get("code").unwrap_or("").to_string();
    let keys = state.data_keys.clone();
    let outcome = state
        .db
        .run(move |conn| {
            let enrolled = factor::enabled(conn, uid)?;
            // The form checks the current password, and a code when enrolled: the
            // session counts as signed in now, that way.
            let method = match enrolled {
                true => SignInMethod::PasswordAndCode,
                false => SignInMethod::Password,
            };
            let change = |conn: &mut crate::store::AnyConnection| {
                let change = OwnPasswordChange {
                    hash: &hash,
                    session,
                    presented_token_hash: &presented,
                    session_token_hash: &session_hash,
                    method,
                    sign_out_others,
                    revoke_tokens,
                };
                change_own_password(conn, uid, &change, &by, now)
            };
            if enrolled {
                guard::with_second_factor(
                    conn,
                    &keys,
                    uid,
                    Proof::Code(code),
                    Options::APP_CODE,
                    now,
                    change,
                )
            } else {
                write_transaction(conn, change).map(Checked::Passed)
            }
        })
        .await?;
    let ended = match outcome {
        Checked::Passed(Some(ended)) => ended,
        Checked::Passed(None) => {
            // Another change sent with this session went through first (a double
            // submit), or the session ended meanwhile.
            let note = say(
                CURRENT,
                "The form was sent again before the first change finished: this one changed \
                 nothing. Reload the page to see where things stand."
                    .into(),
            );
            return refused(note, StatusCode::CONFLICT).await;
        }
        Checked::TooMany(wait) => {
            let note = say(
                CODE,
                "Too many wrong codes. Please wait a few minutes.".into(),
            );
            return Ok(too_many(
                refused(note, StatusCode::TOO_MANY_REQUESTS).await?,
                wait,
            ));
        }
        Checked::Failed => {
            let note = say(
                CODE,
                "Enter a current code from your authenticator app.".into(),
            );
            return refused(note, StatusCode::BAD_REQUEST).await;
        }
    };
    let text = changed_note(&ended, sign_out_others, revoke_tokens);
    let mut page = show_with_password(
        &state,
        user,
        token,
        PasswordNote {
            ok: true,
            text,
            field: "",
        },
        StatusCode::OK,
    )
    .await?;
    page.add_cookie(&session_cookie)
        .map_err(|_| PageError::Unavailable)?;
    Ok(page)
}

/// What the page says after a change: exactly what ended, and nothing that did not.
fn changed_note(ended: &Ended, sign_out_others: bool, revoke_tokens: bool) -> String {
    let mut text = "Your password is changed.".to_string();
    if sign_out_others {
        text += &format!(
            " {} other session(s) and {} app sign-in(s) were ended.",
            ended.sessions, ended.families
        );
    }
    if revoke_tokens {
        text += &format!(" {} API token(s) were revoked.", ended.tokens);
    } else {
        text += " Your API tokens still work.";
    }
    text
}
