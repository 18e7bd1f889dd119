//! Changing one's own password on the security page: the current password and the new
//! one twice, behind re-authentication, the current one checked and throttled as at
//! sign-in, the new one held to the same strength rule as `user create`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::extract::SignedInForm;
use super::limits;
use super::security::{PasswordNote, show_with_password};
use super::sudo::{self, Action};
use super::{PageError, too_many};
use crate::accounts::Actor;
use crate::accounts::users::change_own_password;
use crate::mfa::guard::Checked;
use crate::password;
use crate::state::AppState;
use crate::store::audit::{self, Event};
use crate::store::db::write_transaction;
use crate::web::origin;

const CHANGE: Action = Action {
    path: "/account/security/password",
    purpose: "change your password",
};

pub async fn password_post(
    req: HttpRequest,
    state: web::Data<AppState>,
    f: SignedInForm,
) -> Result<HttpResponse, PageError> {
    let sudo = sudo::require(&state, &req, &f, &CHANGE).await?;
    let token = sudo.csrf(&state, &req);
    let user = &f.user;
    let say = |text: String| PasswordNote { ok: false, text };
    let current = f.form.get("current_password").unwrap_or("").to_string();
    let new = f.form.get("new_password").unwrap_or("").to_string();
    let again = f.form.get("new_password_again").unwrap_or("");
    let refused = |note: PasswordNote, status: StatusCode| {
        show_with_password(&state, user, token.clone(), note, status)
    };
    if current.is_empty() || new.is_empty() {
        let note = say("Enter your current password and the new one twice.".into());
        return Ok(sudo.finish(refused(note, StatusCode::BAD_REQUEST).await?));
    }
    if new != again {
        let note = say("The two new passwords differ.".into());
        return Ok(sudo.finish(refused(note, StatusCode::BAD_REQUEST).await?));
    }
    let inputs: Vec<&str> = [
        Some(user.username.as_str()),
        user.email.as_deref(),
        user.name.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let Err(why) = password::acceptable(&new, &inputs) {
        let note = say(format!("That password is not strong enough. {why}"));
        return Ok(sudo.finish(refused(note, StatusCode::BAD_REQUEST).await?));
    }
    let (ip, user_agent) = origin::origin(&req, &state.settings.trusted_proxies);
    match limits::password(&state, &req, &user.username, current).await? {
        Checked::Passed(u) if u.id == user.id => {}
        Checked::TooMany(wait) => {
            let note = say("Too many wrong passwords. Please wait a few minutes.".into());
            let res = refused(note, StatusCode::TOO_MANY_REQUESTS).await?;
            return Ok(sudo.finish(too_many(res, wait)));
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
            let note = say("Your current password is not right.".into());
            return Ok(sudo.finish(refused(note, StatusCode::BAD_REQUEST).await?));
        }
    }
    // argon2 off the worker thread.
    let hash = web::block(move || password::hash(&new))
        .await
        .map_err(|_| PageError::Unavailable)?
        .map_err(|_| PageError::Unavailable)?;
    let sign_out_others = f.form.get("sign_out_others").is_some();
    let (uid, session, now) = (user.id, f.session.id, state.clock.now());
    let by = Actor::Person { ip, user_agent };
    let ended = state
        .db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                change_own_password(conn, uid, &hash, session, sign_out_others, &by, now)
            })
        })
        .await?;
    let text = if sign_out_others {
        format!(
            "Your password is changed. {} other session(s) and {} app sign-in(s) were ended.",
            ended.sessions, ended.families
        )
    } else {
        "Your password is changed.".to_string()
    };
    let res = show_with_password(
        &state,
        user,
        token,
        PasswordNote { ok: true, text },
        StatusCode::OK,
    )
    .await?;
    Ok(sudo.finish(res))
}
